"""Prometheus and promtool as tools: backfill blocks, launch a server on them (or on none, to
scrape), wait for it, stop it.

Nothing here knows the demo's data: :mod:`.server` builds the demo on these, and a benchmark or a
test can serve data of its own the same way (``benchmarks/long_range.py`` serves a month). Also
the small process, file and HTTP helpers they share: pids that may have been recycled, an fcntl
lock between processes, hard-linked copies, loopback requests that no proxy sees.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from ..errors import DemoError

__all__ = [
    "PROMETHEUS_ENV",
    "PROMTOOL_ENV",
    "PrometheusProcess",
    "backfill",
    "binary",
    "free_port",
    "http_body",
    "launch",
    "link_tree",
    "locked",
    "terminate",
]

PROMETHEUS_ENV = "SYSMON_PROMETHEUS_BIN"
PROMTOOL_ENV = "SYSMON_PROMTOOL_BIN"
# promtool cuts blocks at multiples of the largest standard block range (2h x 3^k) that fits this
# duration. The default, 2 h, makes 85 blocks and re-reads the whole text for each: ~5 min. 24h
# gives 18 h blocks: ~45 s. 486 h (20.25 days) holds the demo's week in one aligned range, so the
# text is read twice: ~11 s. Prometheus itself accepts blocks up to 31 days (10 % of retention).
BLOCK_DURATION = "486h"
LOCK_TIMEOUT = 600.0  # another process generating the data
STOP_TIMEOUT = 10.0  # SIGTERM, then SIGKILL

INSTALL_HINT = (
    "Install Prometheus: `sudo apt-get install prometheus` on Debian/Ubuntu, or download it from "
    "https://prometheus.io/download/ and put `prometheus` and `promtool` on PATH (or set "
    f"{PROMETHEUS_ENV} and {PROMTOOL_ENV} to their paths)."
)
if sys.platform == "win32":  # pragma: no cover
    INSTALL_HINT += " The demo server is tested on Linux and macOS only."


def backfill(
    directory: Path,
    write: Callable[[BinaryIO], object],
    promtool: str | None = None,
    *,
    what: str = "the data",
) -> Path:
    """Write OpenMetrics text (``write(out)``) and turn it into ``directory/blocks``, atomically.

    Call it under :func:`locked` when other processes may backfill the same directory. Returns
    the blocks' directory, for :func:`launch`. ``what`` names the data in an error.
    """
    promtool = promtool or binary("promtool", PROMTOOL_ENV)
    # Under the lock, any temporary directory left is from a process that died mid-way.
    for stale in directory.glob(".tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = directory / f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        text = tmp / "demo.om"
        with open(text, "wb", buffering=1 << 20) as out:
            write(out)
        cmd = [
            promtool,
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            "--quiet",
            f"--max-block-duration={BLOCK_DURATION}",
            str(text),
            str(tmp / "blocks"),
        ]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            said = tail(result.stderr or result.stdout)
            raise DemoError(
                f"promtool could not backfill {what} (exit {result.returncode})"
                + (f": {said}" if said else "")
            )
        text.unlink()
        # rename() is atomic: other processes see no blocks or all of them.
        os.rename(tmp / "blocks", directory / "blocks")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return directory / "blocks"


@dataclass
class PrometheusProcess:
    """A Prometheus that :func:`launch` started; ``url`` is its API root (before ``/api/v1``)."""

    url: str
    port: int
    run_dir: Path
    log_file: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def terminate(self) -> None:
        """SIGTERM, then SIGKILL after :data:`STOP_TIMEOUT`; waits for it to exit."""
        terminate(self.pid, self.process, self.run_dir)

    def wait_until(
        self, condition: Callable[[], bool], timeout: float, failure: str, poll: float = 0.1
    ) -> float:
        """Seconds until ``condition()`` holds, checked every ``poll`` seconds.

        Raises :class:`DemoError` with the log's tail if Prometheus exits first, and
        ``f"{failure} within {timeout} s"`` if ``timeout`` passes.
        """
        started = time.monotonic()
        while True:
            if (status := self.process.poll()) is not None:
                said = tail(self.log_file.read_text(errors="replace"))
                raise DemoError(f"prometheus exited with status {status}: {said}")
            if condition():
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise DemoError(f"{failure} within {timeout:.0f} s.")
            time.sleep(poll)


def launch(
    blocks: Path | None,
    run_dir: Path,
    *,
    port: int | None = None,
    config: str = "global:\n  scrape_interval: 1h\n",
    route_prefix: str = "",
    args: Sequence[str] = (),
    prometheus: str | None = None,
) -> PrometheusProcess:
    """Start Prometheus on hard links of ``blocks`` in ``run_dir/tsdb``, on a loopback port.

    The blocks themselves are never written to: Prometheus' WAL, lock and the series it scrapes
    go to ``run_dir``, made once (a launch again in the same ``run_dir`` reuses its ``tsdb``).
    ``blocks=None`` starts on an empty TSDB, for a Prometheus that only holds what it scrapes.
    ``config`` is the text of its ``prometheus.yml``; ``port`` by default a free one; ``args``
    more command-line flags. Does not wait: the caller knows what "ready" means for its data
    (:meth:`PrometheusProcess.wait_until` waits for it).
    Its output goes to ``run_dir/prometheus.log``.
    """
    tsdb = run_dir / "tsdb"
    if not tsdb.is_dir():
        tsdb.mkdir(parents=True)
        for block in blocks.iterdir() if blocks is not None else ():
            link_tree(block, tsdb / block.name)
    chosen = port if port is not None else free_port()
    config_file = run_dir / "prometheus.yml"
    config_file.write_text(config)
    url = f"http://127.0.0.1:{chosen}{route_prefix}"
    prefix = [f"--web.route-prefix={route_prefix}", f"--web.external-url={url}"]
    cmd = [
        prometheus or binary("prometheus", PROMETHEUS_ENV),
        f"--web.listen-address=127.0.0.1:{chosen}",
        *(prefix if route_prefix else []),
        *args,
        f"--config.file={config_file}",
        f"--storage.tsdb.path={tsdb}",
        # Retention counts back from the newest block: fixed-date data would be deleted.
        "--storage.tsdb.retention.time=100y",
    ]
    log_file = run_dir / "prometheus.log"
    with open(log_file, "ab") as log:
        # Own session: a Ctrl-C in the terminal reaches us, and we stop Prometheus cleanly.
        process = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return PrometheusProcess(url, chosen, run_dir, log_file, process)


def binary(name: str, env: str) -> str:
    configured = os.environ.get(env)
    if configured:
        if not (os.path.isfile(configured) and os.access(configured, os.X_OK)):
            raise DemoError(f"{env}={configured} is not an executable file. {INSTALL_HINT}")
        return configured
    found = shutil.which(name)
    if found is None:
        raise DemoError(f"The demo server needs `{name}`, which is not on PATH. {INSTALL_HINT}")
    return found


def read_pid(path: Path) -> int | None:
    """The pid written in ``path``, or None (absent, damaged, a directory)."""
    try:
        return as_pid(path.read_text().strip())
    except OSError:
        return None


def as_pid(text: str) -> int | None:
    """``text`` as a positive pid, or None: 0 or -1 would make kill() signal a group or all."""
    return int(text) if text.isascii() and text.isdigit() and int(text) > 0 else None


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, killed but not yet reaped by its parent, does not)."""
    if pid <= 0:  # kill() would signal a process group, or every process: never ours
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (macOS): trust kill()
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def runs_in(pid: int, run_dir: Path | None) -> bool:
    """Whether ``pid`` is the Prometheus of ``run_dir``, not a process that recycled its pid."""
    if run_dir is None:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return alive(pid)  # no /proc (macOS): the pid file and state are all we have
    return f"--storage.tsdb.path={run_dir / 'tsdb'}".encode() in cmdline


def terminate(pid: int, process: subprocess.Popen[bytes] | None, run_dir: Path | None) -> None:
    """SIGTERM, wait, then SIGKILL: Prometheus closes its TSDB cleanly on SIGTERM.

    Without a :class:`subprocess.Popen` (another process started it), the pid is signalled only
    if it still runs Prometheus on ``run_dir``.
    """
    if process is not None:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return
    if not runs_in(pid, run_dir):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while alive(pid):
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            break
        time.sleep(0.05)


@contextlib.contextmanager
def locked(path: Path, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """An exclusive fcntl lock: one process generates and starts, the others wait, then reuse."""
    try:
        import fcntl
    except ImportError:  # Windows: no Prometheus packaging to speak of; run unlocked
        yield
        return
    if path.is_dir():
        # No process can hold a lock that is a directory (opening it fails): none relies on it.
        with contextlib.suppress(OSError):  # another process may have just replaced it
            shutil.rmtree(path)
        report(f"{path} was a directory, not a lock file; replaced it.")
    with open(path, "a") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise DemoError(
                        f"another process has held {path} for {timeout:.0f} s; "
                        "if none is generating the demo data, delete the file"
                    ) from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def link_tree(src: Path, dst: Path) -> None:
    """Copy a block as hard links (instant, no space); copy where links are impossible."""
    dst.mkdir()
    for item in src.iterdir():
        if item.is_dir():
            link_tree(item, dst / item.name)
        else:
            try:
                os.link(item, dst / item.name)
            except OSError:
                shutil.copy2(item, dst / item.name)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# Loopback only: an http_proxy in the environment would otherwise receive these requests too.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_answer(url: str) -> tuple[int, bytes] | None:
    """The status and body of an answer, or None (not listening yet, no answer in time)."""
    try:
        with _OPENER.open(url, timeout=2.0) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()
    except (urllib.error.URLError, OSError, ValueError):
        return None


def http_body(url: str) -> bytes | None:
    """The body of a 200 answer, or None (not listening yet, starting up, error)."""
    answer = http_answer(url)
    return answer[1] if answer is not None and answer[0] == 200 else None


def remove(path: Path) -> None:
    """Delete a file or a directory tree, if there."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def report(message: str) -> None:
    """Say what was repaired, in one line: on stderr, where a notebook shows it too."""
    print(f"sysmon-magic: {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def one_line_errors(doing: str, hint: str = "") -> Iterator[None]:
    """Turn what the cache's files throw into one DemoError line."""
    try:
        yield
    except OSError as exc:
        raise DemoError(f"{doing}: {exc}" + (f" ({hint})" if hint else "")) from exc


def tail(text: str, lines: int = 5) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])
