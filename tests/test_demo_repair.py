"""The demo cache repairs itself: each kind of damage, then a start, as a user runs it.

Each case damages a copy of a healthy cache (built once for the module, 10-20 s) in a directory of
its own, given as ``XDG_CACHE_HOME``, so the shared demo server other tests use is never touched;
then it runs ``sysmon-magic demo --detach`` in a subprocess, as a user would. The cases run at the
same time: those that rebuild the data spend ~6 s of CPU each, and every start waits ~5 s, idle,
for Prometheus' first scrape. Each test then checks its case: the one line that says what was
repaired (or the one error line that names ``--reset``), no traceback, the demo data served, and,
after ``--stop``, no Prometheus left on that cache, by pid.

Every command runs with an ``http_proxy`` that nothing answers: the demo's readiness checks are
loopback requests and must not go through it.
"""

from __future__ import annotations

import concurrent.futures
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from sysmon_magic import demo
from sysmon_magic.demo import data

pytestmark = pytest.mark.skipif(
    not (shutil.which("prometheus") and shutil.which("promtool")) or not Path("/proc").is_dir(),
    reason="needs prometheus/promtool (apt-get install prometheus) and /proc to find their pids",
)

ROOT = Path(__file__).resolve().parents[1]
DEMO_DIR = f"sysmon-magic/demo-{data.fingerprint()}"  # under XDG_CACHE_HOME
PID = re.compile(r"\(pid (\d+),")
URL = re.compile(r"Demo Prometheus: (\S+)")
REBUILT = r"sysmon-magic: the cached demo data are damaged \({}\); rebuilding them \(about 20 s\)\."
RESET_HINT = "`sysmon-magic demo --reset` deletes the cached data and state for a clean start"


@dataclass
class Run:
    """One case: its cache, and what its (last) ``sysmon-magic demo`` printed."""

    home: Path
    returncode: int = 0
    stdout: str = ""
    stderr: str = ""
    #: What the case's own steps found out (pids of servers started before the damage, ...).
    notes: dict[str, str] = field(default_factory=dict)
    #: A process that holds a private demo server of this cache until its stdin closes.
    holder: subprocess.Popen[str] | None = None
    #: The exception that stopped the case's steps, if one did (the test says it).
    failure: BaseException | None = None

    @property
    def demo_dir(self) -> Path:
        return self.home / DEMO_DIR

    @property
    def block(self) -> Path:
        (block,) = (self.demo_dir / "blocks").iterdir()
        return block

    def pid(self) -> int:
        match = PID.search(self.stdout)
        assert match, self.stdout + self.stderr
        return int(match.group(1))

    def url(self) -> str:
        match = URL.search(self.stdout)
        assert match, self.stdout + self.stderr
        return match.group(1)


def environment(home: Path, **extra: str) -> dict[str, str]:
    """For a subprocess on the cache in ``home``, behind a proxy that nothing answers."""
    dead = "http://127.0.0.1:9"
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "XDG_CACHE_HOME": str(home),
        "http_proxy": dead,
        "HTTP_PROXY": dead,
        **extra,
    }


def cli(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``sysmon-magic demo ARGS`` on the cache in ``home``, as a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "sysmon_magic.cli", "demo", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=environment(home, **env),
    )


def start(run: Run, **env: str) -> Run:
    done = cli(run.home, "--detach", **env)
    run.returncode, run.stdout, run.stderr = done.returncode, done.stdout, done.stderr
    return run


def prometheus_pids(home: Path) -> set[int]:
    """Pids of the Prometheus processes whose TSDB is under ``home`` (zombies have no cmdline)."""
    prefix = b"--storage.tsdb.path=" + os.fsencode(home)
    pids = set()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue  # exited meanwhile
        if any(arg.startswith(prefix) for arg in args):
            pids.add(int(cmdline.parent.name))
    return pids


def hosts(url: str) -> str:
    """What ``count(node_uname_info)`` at the data's end gives: "6" with the demo data."""
    answer = requests.get(
        f"{url}/api/v1/query",
        params={"query": "count(node_uname_info)", "time": str(demo.DEMO_END)},
        timeout=30,
    ).json()
    assert answer["status"] == "success", answer
    return str(answer["data"]["result"][0]["value"][1]) if answer["data"]["result"] else "0"


def cut(path: Path) -> None:
    """Truncate ``path`` to half its size, as a full disk or a crash mid-copy leaves it."""
    with open(path, "r+b") as f:
        f.truncate(path.stat().st_size // 2)


# --- the cases: each damages its copy and starts (the slow part), all at once ---------------------


def index_cut_short(run: Run) -> Run:
    """Two starts at once: one rebuilds, the other waits for the lock and reuses its server."""
    cut(run.block / "index")
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        first, second = pool.map(lambda _: start(Run(run.home)), range(2))
    run.notes.update(first=first.stdout, second=second.stdout)
    run.returncode = first.returncode or second.returncode
    run.stdout, run.stderr = first.stdout, first.stderr + second.stderr
    return run


def chunks_cut_short(run: Run) -> Run:
    cut(run.block / "chunks" / "000001")
    return start(run)


def empty_meta_json(run: Run) -> Run:
    (run.block / "meta.json").write_text("")
    return start(run)


def emptied_blocks(run: Run) -> Run:
    """While another process's private server runs on links to the block that goes."""
    code = (
        "import sys\n"
        "from sysmon_magic import demo\n"
        "s = demo.start(reuse=False)\n"
        "print(s.pid, s.url, flush=True)\n"
        "sys.stdin.read()\n"
    )
    run.holder = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=environment(run.home),
    )
    assert run.holder.stdout is not None
    pid, url = run.holder.stdout.readline().split()
    run.notes.update(private_pid=pid, private_url=url, block=run.block.name)
    shutil.rmtree(run.block)
    return start(run)


def state_empty_object(run: Run) -> Run:
    (run.demo_dir / "state.json").write_text("{}")
    return start(run)


def state_pid_not_a_number(run: Run) -> Run:
    (run.demo_dir / "state.json").write_text('{"pid": "abc"}')
    return start(run)


def state_cut_short_under_a_detached_server(run: Run) -> Run:
    first = start(Run(run.home))
    assert first.returncode == 0, first.stderr
    run.notes["lost"] = str(first.pid())
    cut(run.demo_dir / "state.json")
    return start(run)


def lock_is_a_directory(run: Run) -> Run:
    lock = run.demo_dir / "lock"
    lock.unlink(missing_ok=True)
    lock.mkdir()
    (lock / "stray").touch()
    return start(run)


def rebuilding_does_not_help(run: Run) -> Run:
    """A promtool that "backfills" a block Prometheus skips: the rebuilt data are damaged too."""
    bad = run.home / "bad" / run.block.name  # a block's name, or Prometheus would not look
    shutil.copytree(run.block, bad)
    (bad / "meta.json").write_text("")
    (run.block / "meta.json").write_text("")
    fake = run.home / "promtool"
    fake.write_text(f'#!/bin/sh\nfor out; do :; done\nmkdir -p "$out" && cp -R {bad} "$out/"\n')
    fake.chmod(0o755)
    return start(run, SYSMON_PROMTOOL_BIN=str(fake))


def reset_with_a_server_running(run: Run) -> Run:
    first = start(Run(run.home))
    assert first.returncode == 0, first.stderr
    done = cli(run.home, "--reset")
    run.returncode, run.stdout, run.stderr = done.returncode, done.stdout, done.stderr
    return run


CASES: list[Callable[[Run], Run]] = [
    index_cut_short,
    chunks_cut_short,
    empty_meta_json,
    emptied_blocks,
    state_empty_object,
    state_pid_not_a_number,
    state_cut_short_under_a_detached_server,
    lock_is_a_directory,
    rebuilding_does_not_help,
    reset_with_a_server_running,
]


@pytest.fixture(scope="module")
def healthy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ``XDG_CACHE_HOME`` holding a healthy cache: the data generated and backfilled."""
    home = tmp_path_factory.mktemp("healthy")
    with demo.start(cache_dir=home / "sysmon-magic", reuse=False):
        pass
    return home


@pytest.fixture(scope="module")
def runs(healthy: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Run]]:
    """Every case, run at once, each on its own copy of the healthy cache; by case name."""
    base = tmp_path_factory.mktemp("cases")
    todo = {}
    for case in CASES:
        home = base / case.__name__
        shutil.copytree(healthy, home, symlinks=True)
        todo[case.__name__] = (case, Run(home))
    with concurrent.futures.ThreadPoolExecutor(len(todo)) as pool:
        for future in [pool.submit(run_case, case, run) for case, run in todo.values()]:
            future.result()
    yield {name: run for name, (_, run) in todo.items()}
    for _, run in todo.values():  # whatever a failed test left running
        if run.holder is not None:
            run.holder.kill()
            run.holder.wait()
        cli(run.home, "--stop")
        for pid in prometheus_pids(run.home):
            os.kill(pid, signal.SIGKILL)


def run_case(case: Callable[[Run], Run], run: Run) -> None:
    try:
        case(run)
    except Exception as exc:  # one case's failure is its own test's, not every test's
        run.failure = exc


def stop_and_check_nothing_is_left(run: Run) -> None:
    stopped = cli(run.home, "--stop")
    assert (stopped.returncode, stopped.stderr) == (0, ""), stopped.stderr
    assert prometheus_pids(run.home) == set()


def check_repaired(run: Run, said: str) -> re.Match[str]:
    """The start succeeded, said ``said`` (all it said), and serves the demo data, alone."""
    if run.failure is not None:
        raise run.failure
    assert run.returncode == 0, run.stderr
    said_here = re.fullmatch(said, run.stderr.strip())
    assert said_here, run.stderr  # one line per repair, and no traceback
    assert hosts(run.url()) == "6"
    assert (run.demo_dir / "state.json").is_file() and (run.demo_dir / "lock").is_file()
    return said_here


STATE_IGNORED = (
    r"sysmon-magic: ignored a damaged \S+/state\.json \({}\); the new server rewrites it\."
)
# What each start says on stderr, all of it: one line per repair, and no traceback.
SAID: dict[Callable[[Run], Run], str] = {
    chunks_cut_short: REBUILT.format(r"Prometheus cannot read them: cannot populate chunk \d+ .*"),
    empty_meta_json: REBUILT.format(
        r"Prometheus found 0 of the 6 demo hosts in them; its log says: "
        r"Failed to read meta\.json .*: unexpected end of JSON input"
    ),
    state_empty_object: STATE_IGNORED.format(r"no valid 'pid'"),
    state_pid_not_a_number: STATE_IGNORED.format(r"no valid 'pid'"),
    state_cut_short_under_a_detached_server: STATE_IGNORED.format(r".+")
    + r"\nsysmon-magic: stopped demo server pid (?P<lost>\d+), which no state\.json named any more\.",
    lock_is_a_directory: r"sysmon-magic: \S+/lock was a directory, not a lock file; replaced it\.",
}


@pytest.mark.parametrize("case", list(SAID), ids=lambda case: case.__name__)
def test_a_start_repairs_the_damage_and_says_so(
    runs: dict[str, Run], case: Callable[[Run], Run]
) -> None:
    run = runs[case.__name__]
    said = check_repaired(run, SAID[case])
    if "lost" in run.notes:  # the server the damaged state.json described is gone
        assert said["lost"] == run.notes["lost"]
    assert prometheus_pids(run.home) == {run.pid()}  # a failed first try left nothing either
    stop_and_check_nothing_is_left(run)


def test_a_cut_index_is_rebuilt_once_for_two_starts_at_once(runs: dict[str, Run]) -> None:
    run = runs[index_cut_short.__name__]
    check_repaired(run, REBUILT.format(r"opening storage failed: .*: invalid checksum"))
    assert PID.findall(run.notes["first"]) == PID.findall(run.notes["second"])
    assert prometheus_pids(run.home) == {run.pid()}
    stop_and_check_nothing_is_left(run)


def test_emptied_blocks_are_rebuilt_leaving_a_running_server_its_data(
    runs: dict[str, Run],
) -> None:
    run = runs[emptied_blocks.__name__]
    check_repaired(run, REBUILT.format(r"Prometheus found 0 of the 6 demo hosts in them"))
    private = int(run.notes["private_pid"])
    assert prometheus_pids(run.home) == {run.pid(), private}
    # The private server still has its own links to the block that blocks/ lost, and serves it.
    (private_run,) = (run.demo_dir / "runs").glob("private-*")
    assert (private_run / "tsdb" / run.notes["block"] / "chunks" / "000001").is_file()
    assert hosts(run.notes["private_url"]) == "6"
    assert run.holder is not None and run.holder.stdin is not None
    run.holder.stdin.close()  # its process exits, stopping it
    assert run.holder.wait(timeout=60) == 0
    stop_and_check_nothing_is_left(run)


def test_when_rebuilding_does_not_help_one_line_names_reset(runs: dict[str, Run]) -> None:
    run = runs[rebuilding_does_not_help.__name__]
    if run.failure is not None:
        raise run.failure
    assert run.returncode == 1
    notice, error = run.stderr.strip().split("\n")
    assert re.fullmatch(REBUILT.format(r"Prometheus found 0 of the 6 demo hosts in .*"), notice)
    assert error.startswith("sysmon-magic: the cached demo data are damaged: Prometheus found 0 ")
    assert re.search(r"\(log: \S+/prometheus\.log\)", error), error
    assert error.endswith(f"rebuilding the demo data did not help ({RESET_HINT})")
    assert prometheus_pids(run.home) == set()


def test_reset_stops_the_server_and_deletes_data_and_state(runs: dict[str, Run]) -> None:
    run = runs[reset_with_a_server_running.__name__]
    if run.failure is not None:
        raise run.failure
    assert (run.returncode, run.stderr) == (0, "")
    assert run.stdout.splitlines() == [
        "Stopped the demo server.",
        "Deleted the cached demo data and state: the next start rebuilds them (about 20 s).",
    ]
    assert prometheus_pids(run.home) == set()
    assert sorted(p.name for p in run.demo_dir.iterdir()) == ["lock", "runs"]
    assert list((run.demo_dir / "runs").iterdir()) == []


def test_the_magic_shows_an_unrepairable_cache_in_one_line(
    healthy: Path,
    tmp_path: Path,
    shell: InteractiveShell,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = Run(tmp_path / "home")
    shutil.copytree(healthy, run.home, symlinks=True)
    (run.block / "meta.json").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(run.home))
    monkeypatch.setenv("SYSMON_PROMTOOL_BIN", "/bin/false")  # a rebuild that fails
    with pytest.raises(UsageError) as raised:
        shell.run_line_magic("sysmon_connect", "demo")
    assert str(raised.value) == (
        "promtool could not backfill the demo data (exit 1); "
        f"rebuilding the demo data did not help ({RESET_HINT})"
    )
    notice = REBUILT.format(r"Prometheus found 0 of the 6 demo hosts in them; its log says: .*")
    assert re.fullmatch(notice, capsys.readouterr().err.strip())
    assert prometheus_pids(run.home) == set()
