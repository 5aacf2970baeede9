"""A local Prometheus serving the demo data, under ``/prometheus`` like NHN Cloud's API.

:func:`start` generates the data once (:mod:`.data`), backfills them with ``promtool`` into a cache
directory, and runs ``prometheus`` on a free loopback port. Later calls, from this or any other
process, reuse the running server; a new server on cached blocks starts in a few seconds. The
server stays up while any process that called :func:`start` lives (or until :func:`stop`), and
the last one to exit stops it by its pid, unless one asked for ``detach=True``.

Cache layout (``$XDG_CACHE_HOME/sysmon-magic`` or ``~/.cache/sysmon-magic`` by default)::

    demo-<fingerprint>/       one per generator version: a change of the data makes a new one
        lock                  fcntl lock held while generating, starting or stopping
        blocks/<ULID>/        the backfilled TSDB block, never written to after creation
        runs/<kind>-<pid>-<n>/  one per server: tsdb/ (hard links to the block), config, log,
                              users/<pid> (processes using it), detached (if so)
        state.json            pid, port and URL of the shared server

Each server runs on its own ``runs/<name>/tsdb`` so that Prometheus' WAL, lock file and the
series it scrapes itself never touch the pristine block, and a fresh server starts clean.

Repairs: a new server is ready only once an instant query at the data's end finds the demo hosts
and reads the newest chunk of every series. If Prometheus cannot open the blocks (a cut index, an
empty chunk file), or that query fails ("cannot populate chunk") or finds nothing (an unreadable
``meta.json`` makes Prometheus skip the block; an emptied ``blocks/``), :func:`start` rebuilds the
blocks once and says so in one line. A ``state.json`` that is not one it wrote, or a ``lock`` that
is a directory, is replaced, also in one line. What cannot be repaired is one :class:`DemoError`
naming ``sysmon-magic demo --reset`` (:func:`reset`), which deletes the cached data and state.

Metadata: backfilled blocks hold samples only; Prometheus learns HELP/TYPE only by scraping. The
server therefore scrapes a ``# HELP``/``# TYPE``-only text that it serves itself as a console
template (``/prometheus/consoles/demo_metadata.txt``). That scrape also writes the usual ``up``
and ``scrape_*`` series of ``job="demo-metadata"``, at wall-clock time, far from the demo window;
queries with explicit times inside the window never see them.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import shutil
import subprocess
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from ..errors import DemoError
from . import data
from .prometheus import (
    PROMETHEUS_ENV,
    PROMTOOL_ENV,
    alive,
    as_pid,
    backfill,
    binary,
    free_port,
    http_answer,
    http_body,
    launch,
    locked,
    one_line_errors,
    read_pid,
    remove,
    report,
    runs_in,
    tail,
    terminate,
)

# PROMETHEUS_ENV and PROMTOOL_ENV are .prometheus', importable from here as before.
__all__ = [
    "PROMETHEUS_ENV",
    "PROMTOOL_ENV",
    "DemoServer",
    "cache_root",
    "reset",
    "running",
    "start",
    "stop",
    "version_dir",
]

ROUTE_PREFIX = "/prometheus"

METADATA_FILE = "demo_metadata.txt"
METADATA_JOB = "demo-metadata"
# Scrape often: the first scrape comes after a fixed offset within one interval, and start()
# waits for it. The scraped text is a few hundred bytes with no samples.
METADATA_SCRAPE_INTERVAL = "1s"

START_TIMEOUT = 120.0  # Prometheus opening its TSDB and answering

# The readiness probe, an instant query at the data's end (~5 ms). It reads the newest chunk of
# every series, and a chunk file cut short anywhere loses the newest chunk of the series stored
# last, so any cut fails it ("cannot populate chunk"); its node_uname_info count tells whether
# Prometheus loaded the block at all (it skips one whose meta.json it cannot read, and serves 0
# series without an error).
_DATA_PROBE = 'count by (__name__) ({__name__=~".+"})'
_RESET_HINT = "`sysmon-magic demo --reset` deletes the cached data and state for a clean start"
# `msg="..."` and `err="..."` in a line of Prometheus' logfmt, where values escape their quotes.
_LOGGED = re.compile(r'\b(msg|err)="((?:[^"\\]|\\.)*)"')


@dataclass
class DemoServer:
    """A running demo Prometheus, as one process uses it.

    ``url`` is the API root, before ``/api/v1`` (``http://127.0.0.1:PORT/prometheus``); ``now`` is
    the demo clock (:data:`~sysmon_magic.demo.data.DEMO_END`) to pass wherever "now" is meant, as
    the data end there. ``started_here`` tells whether this call launched the process.

    A shared server stays up while any process uses it: :meth:`stop` (also called on leaving a
    ``with`` block and at interpreter exit) lets go of it, and the last process to let go stops
    it, unless it was started or reused with ``detach=True``. A private server
    (``reuse=False``) stops with its handle.
    """

    url: str
    pid: int
    port: int
    started_here: bool
    log_file: Path
    now: float = float(data.DEMO_END)
    _run_dir: Path | None = field(default=None, repr=False, compare=False)
    _demo_dir: Path | None = field(default=None, repr=False, compare=False)
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)
    _shared: bool = field(default=True, repr=False, compare=False)
    _released: bool = field(default=False, repr=False, compare=False)

    def stop(self) -> None:
        """Let go of the server: stop it unless another process uses it or it is detached."""
        if self._released:
            return
        self._released = True
        atexit.unregister(self.stop)
        if self._shared:
            _release(self)
        else:
            terminate(self.pid, self._process, self._run_dir)
            if self._run_dir is not None:
                shutil.rmtree(self._run_dir, ignore_errors=True)

    def is_alive(self) -> bool:
        """Whether the server process still runs."""
        return alive(self.pid)

    def __enter__(self) -> DemoServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/sysmon-magic``, or ``~/.cache/sysmon-magic``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sysmon-magic"


def start(
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    reuse: bool = True,
    port: int | None = None,
    detach: bool = False,
) -> DemoServer:
    """Start the demo Prometheus, or reuse the one already running.

    Parameters
    ----------
    cache_dir
        Where generated blocks, logs and state live; default :func:`cache_root`.
    reuse
        Share one server among all processes (a kernel, a CLI, test workers), starting it if
        none runs. With ``False``, start a private server on its own copy of the data, which no
        one else sees and which stops with this handle.
    port
        Listen on this loopback port when starting (a running server keeps its port).
    detach
        Keep the shared server running after every user has gone (until
        ``sysmon-magic demo --stop`` or :func:`stop`).

    Returns
    -------
    DemoServer
        ``url`` is the API root (append ``/api/v1/query``), ``now`` the demo clock.

    Raises
    ------
    DemoError
        ``prometheus``/``promtool`` are missing (the message says how to install them), or
        backfilling or starting failed (the message quotes the log), or the cached data are
        still unreadable after rebuilding them (the message names ``sysmon-magic demo --reset``).

    Notes
    -----
    The first call generates ~410 MB of OpenMetrics text (deleted afterwards) and backfills it
    into a 6 MB block: about 20 s. Starting Prometheus on that block then takes ~6 s, most of
    it waiting for the first scrape that fills ``/api/v1/metadata``; reusing a running server
    takes milliseconds. Damaged cached data are rebuilt (another 20 s), and a damaged
    ``state.json`` or ``lock`` replaced, each with one line on standard error.

    Examples
    --------
    >>> from sysmon_magic import demo
    >>> with demo.start() as server:  # doctest: +SKIP
    ...     requests.get(server.url + "/api/v1/query",
    ...                  params={"query": "node_load1", "time": server.now})
    """
    if detach and not reuse:
        raise ValueError("detach=True keeps a shared server running: it needs reuse=True")
    prometheus = binary("prometheus", PROMETHEUS_ENV)
    promtool = binary("promtool", PROMTOOL_ENV)
    demo_dir = version_dir(cache_dir)
    # What the cache's files can throw (permissions, a file where a directory belongs): one line.
    with one_line_errors("could not start the demo server", _RESET_HINT):
        demo_dir.mkdir(parents=True, exist_ok=True)
        with locked(demo_dir / "lock"):
            server = None
            if reuse:
                _discard_damaged_state(demo_dir)
                server = _running_server(demo_dir)
            if server is None:
                if reuse:
                    _stop_unresponsive(demo_dir)
                if not (demo_dir / "blocks").is_dir():
                    _remove_old_versions(demo_dir)
                    backfill(demo_dir, data.write_openmetrics, promtool, what="the demo data")
                _remove_stale_runs(demo_dir)
                if reuse:
                    _retire_orphans(demo_dir)
                server = _launch_repairing(prometheus, promtool, demo_dir, reuse, port)
                server._shared = reuse
                if reuse:
                    _write_state(demo_dir, server)
            if reuse:
                _acquire(server, detach)
    if not detach:
        atexit.register(server.stop)
    return server


def running(cache_dir: str | os.PathLike[str] | None = None) -> DemoServer | None:
    """The shared demo server if one is running, for a look (its ``stop()`` does nothing)."""
    demo_dir = version_dir(cache_dir)
    server = _running_server(demo_dir) if demo_dir.is_dir() else None
    if server is not None:
        server._released = True
    return server


def stop(cache_dir: str | os.PathLike[str] | None = None) -> bool:
    """Stop the shared demo server now, whoever uses it; False if none was running."""
    demo_dir = version_dir(cache_dir)
    if not demo_dir.is_dir():
        return False
    with one_line_errors("could not stop the demo server"), locked(demo_dir / "lock"):
        return _stop_shared(demo_dir)


def reset(cache_dir: str | os.PathLike[str] | None = None) -> bool:
    """Stop the shared demo server and delete the cached data and state: the next start rebuilds.

    Servers that other processes started privately keep their run directories (and run on their
    own links to the data). Returns whether a shared server was stopped.
    """
    demo_dir = version_dir(cache_dir)
    if not demo_dir.is_dir():
        return False
    with one_line_errors(f"could not delete the demo cache in {demo_dir}"):
        with locked(demo_dir / "lock"):
            stopped = _stop_shared(demo_dir)
            for leftover in (demo_dir / "blocks", *demo_dir.glob(".tmp-*")):
                remove(leftover)
            _remove_stale_runs(demo_dir)
        return stopped


def _stop_shared(demo_dir: Path) -> bool:
    """Stop every shared server of ``demo_dir`` (under the lock), and forget it."""
    servers = _live_shared_runs(demo_dir)
    for pid, run_dir in servers:
        terminate(pid, None, run_dir)
    for state in (demo_dir / "state.json", *demo_dir.glob("state.json.*")):
        remove(state)
    return bool(servers)


# --- sharing: which processes use the shared server ---------------------------------------------

# Handles this process holds on each shared server (by run directory): the process stays
# registered as a user until its last handle lets go.
_HANDLES: dict[Path, int] = {}


def _acquire(server: DemoServer, detach: bool) -> None:
    """Register this process as a user of the shared server (under the lock)."""
    assert server._run_dir is not None
    if detach:
        (server._run_dir / "detached").touch()
        server._released = True  # a detached server outlives its handles
        return
    users = server._run_dir / "users"
    users.mkdir(exist_ok=True)
    (users / str(os.getpid())).touch()
    _HANDLES[server._run_dir] = _HANDLES.get(server._run_dir, 0) + 1


def _release(server: DemoServer) -> None:
    """Let go of the shared server; stop it if no live process uses it and it is not detached."""
    run_dir, demo_dir = server._run_dir, server._demo_dir
    if run_dir is None or demo_dir is None:
        return
    _HANDLES[run_dir] = _HANDLES.get(run_dir, 1) - 1
    if _HANDLES[run_dir] > 0:
        return
    del _HANDLES[run_dir]
    if not demo_dir.is_dir():
        return  # the cache was deleted: nothing left to coordinate (or to run)
    with locked(demo_dir / "lock"):
        users = run_dir / "users"
        with contextlib.suppress(FileNotFoundError):
            (users / str(os.getpid())).unlink()
        if (run_dir / "detached").exists() or not run_dir.is_dir():
            return
        for user in users.iterdir() if users.is_dir() else ():
            pid = as_pid(user.name)
            if pid is not None and alive(pid):
                return  # still in use
            user.unlink()  # a user that died without letting go
        state = _read_state(demo_dir)
        if state is not None and state.get("pid") == server.pid:
            (demo_dir / "state.json").unlink()
        terminate(server.pid, server._process, run_dir)


def version_dir(cache_dir: str | os.PathLike[str] | None) -> Path:
    """The directory of this generator version's data and servers."""
    root = Path(cache_dir) if cache_dir is not None else cache_root()
    return root / f"demo-{data.fingerprint()}"


# --- running Prometheus ---------------------------------------------------------------------------


class _DamagedData(DemoError):
    """Prometheus cannot read the cached blocks, or finds no demo data in them."""

    def __init__(self, reason: str, log_file: Path) -> None:
        super().__init__(f"the cached demo data are damaged: {reason} (log: {log_file})")
        self.reason = reason


def _launch_repairing(
    prometheus: str, promtool: str, demo_dir: Path, reuse: bool, port: int | None
) -> DemoServer:
    """Launch on the cached blocks; if Prometheus finds them damaged, rebuild them once."""
    try:
        return _launch(prometheus, demo_dir, _new_run_dir(demo_dir, reuse), port)
    except _DamagedData as exc:
        report(f"the cached demo data are damaged ({exc.reason}); rebuilding them (about 20 s).")
    # Every server runs on its own hard links (or copies) of the blocks: deleting the damaged
    # ones removes no file that a server of another process still reads.
    remove(demo_dir / "blocks")
    try:
        backfill(demo_dir, data.write_openmetrics, promtool, what="the demo data")
        return _launch(prometheus, demo_dir, _new_run_dir(demo_dir, reuse), port)
    except DemoError as exc:
        raise DemoError(f"{exc}; rebuilding the demo data did not help ({_RESET_HINT})") from None


def _new_run_dir(demo_dir: Path, reuse: bool) -> Path:
    """A new directory per server: an old one may still be in use by a hung process."""
    kind = "shared" if reuse else "private"
    return demo_dir / "runs" / f"{kind}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _launch(prometheus: str, demo_dir: Path, run_dir: Path, port: int | None) -> DemoServer:
    """Start Prometheus in ``run_dir`` and wait for the demo data; retry on a port taken."""
    consoles = run_dir / "consoles"
    consoles.mkdir(parents=True)
    (consoles / METADATA_FILE).write_text(data.metadata_exposition())
    console_flags = [f"--web.console.templates={consoles}", f"--web.console.libraries={consoles}"]
    attempts = 1 if port is not None else 3
    last_error = ""
    for _ in range(attempts):
        chosen = port if port is not None else free_port()
        started = launch(
            demo_dir / "blocks",
            run_dir,
            port=chosen,
            config=_config(chosen),
            route_prefix=ROUTE_PREFIX,
            args=console_flags,
            prometheus=prometheus,
        )
        (run_dir / "pid").write_text(str(started.pid))
        server = DemoServer(
            url=started.url,
            pid=started.pid,
            port=chosen,
            started_here=True,
            log_file=started.log_file,
            _run_dir=run_dir,
            _demo_dir=demo_dir,
            _process=started.process,
        )
        try:
            _wait_ready(server, started.process)
            return server
        except _DamagedData:
            started.terminate()
            raise
        except DemoError as exc:
            started.terminate()
            last_error = str(exc)
            if "address already in use" not in tail(started.log_file.read_text(errors="replace")):
                break
    raise DemoError(last_error)


def _config(port: int) -> str:
    """A config whose only scrape is the metadata text (Prometheus scraping itself)."""
    return (
        "# Generated by sysmon_magic.demo: the demo data are backfilled, not scraped.\n"
        "global:\n"
        f"  scrape_interval: {METADATA_SCRAPE_INTERVAL}\n"
        "scrape_configs:\n"
        f"  - job_name: {METADATA_JOB}\n"
        f"    metrics_path: {ROUTE_PREFIX}/consoles/{METADATA_FILE}\n"
        "    static_configs:\n"
        f"      - targets: ['127.0.0.1:{port}']\n"
    )


def _wait_ready(server: DemoServer, process: subprocess.Popen[bytes]) -> None:
    """Until the API serves the demo data and ``/api/v1/metadata`` holds the demo metrics.

    Raises :class:`_DamagedData` if Prometheus cannot open the blocks or the data probe fails.
    """
    deadline = time.monotonic() + START_TIMEOUT
    metadata = f"{server.url}/api/v1/metadata?metric=node_cpu_seconds_total"
    data_seen = False
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = server.log_file.read_text(errors="replace")
            if "opening storage failed" in log:  # Prometheus' words for a block it cannot read
                reason = _logged_error(log) or "Prometheus cannot open them"
                raise _DamagedData(reason, server.log_file)
            raise DemoError(
                f"prometheus exited with status {process.returncode} while starting: "
                f"{tail(log)} (log: {server.log_file})"
            )
        # The data first: they answer as soon as the TSDB is open, the metadata only after the
        # first scrape, seconds later; a damaged block is known without waiting for that.
        data_seen = data_seen or _serves_data(server)
        body = http_body(metadata) if data_seen else None
        if body is not None and json.loads(body).get("data"):
            return
        time.sleep(0.1)
    raise DemoError(
        f"prometheus did not answer within {START_TIMEOUT:.0f} s on {server.url} "
        f"(log: {server.log_file})"
    )


def _serves_data(server: DemoServer) -> bool:
    """Whether the data probe finds the demo data; False while Prometheus cannot answer yet.

    Raises :class:`_DamagedData` when it answers that it cannot read them or holds none.
    """
    query = urllib.parse.urlencode({"query": _DATA_PROBE, "time": data.DEMO_END})
    answer = http_answer(f"{server.url}/api/v1/query?{query}")
    if answer is None or answer[0] not in (200, 422):  # not listening, or opening its TSDB (503)
        return False
    status, body = answer
    try:
        parsed = json.loads(body)
        if status == 422:  # an execution error: a chunk it cannot read
            reason = f"Prometheus cannot read them: {parsed['error']}"
        else:
            hosts = sum(
                int(r["value"][1])
                for r in parsed["data"]["result"]
                if r["metric"].get("__name__") == "node_uname_info"
            )
            if hosts == len(data.HOSTS):
                return True
            reason = f"Prometheus found {hosts} of the {len(data.HOSTS)} demo hosts in them"
            logged = _logged_error(server.log_file.read_text(errors="replace"))
            reason += f"; its log says: {logged}" if logged else ""
    # Not Prometheus' JSON: another server answering on a port that Prometheus then finds taken.
    except (ValueError, KeyError, TypeError, IndexError, AttributeError):
        return False
    raise _DamagedData(reason, server.log_file)


def _logged_error(log: str) -> str | None:
    """The message and error of the last ``level=error`` line of a Prometheus log."""
    for line in reversed(log.splitlines()):
        if "level=error" in line:
            fields = dict(_LOGGED.findall(line))
            text = ": ".join(fields[k].replace('\\"', '"') for k in ("msg", "err") if k in fields)
            return text or None
    return None


def _running_server(demo_dir: Path) -> DemoServer | None:
    """The shared server from ``state.json`` if its process lives and answers as ours."""
    state = _read_state(demo_dir)
    if state is None:
        return None
    pid, url = state["pid"], state["url"]
    if not alive(pid):
        return None
    # A recycled pid or someone else's server on the port would not run on our directory.
    try:
        answer = json.loads(http_body(f"{url}/api/v1/status/flags") or b"{}")
    except ValueError:
        return None
    flags = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(flags, dict) or flags.get("storage.tsdb.path") != state["tsdb"]:
        return None
    return DemoServer(
        url=url,
        pid=pid,
        port=state["port"],
        started_here=False,
        log_file=Path(state["log_file"]),
        _run_dir=Path(state["tsdb"]).parent,
        _demo_dir=demo_dir,
    )


def _stop_unresponsive(demo_dir: Path) -> None:
    """Terminate a shared server that lives but does not answer (it would hold its port)."""
    state = _read_state(demo_dir)
    if state is not None:
        terminate(state["pid"], None, Path(state["tsdb"]).parent)


def _live_shared_runs(demo_dir: Path) -> list[tuple[int, Path]]:
    """``(pid, run directory)`` of each shared server of ``demo_dir`` whose Prometheus runs."""
    found = []
    for run_dir in sorted((demo_dir / "runs").glob("shared-*")):
        pid = read_pid(run_dir / "pid")
        if pid is not None and runs_in(pid, run_dir):
            found.append((pid, run_dir))
    return found


def _retire_orphans(demo_dir: Path) -> None:
    """Stop shared servers that no ``state.json`` names any more (it was damaged or deleted).

    Under the lock, before a new shared server starts: no process can find them again, not even
    ``--stop``. One that a live process still uses keeps serving it, and now stops when the last
    user lets go, even if it was started detached.
    """
    for pid, run_dir in _live_shared_runs(demo_dir):
        users = run_dir / "users"
        user_pids = [as_pid(user.name) for user in users.iterdir()] if users.is_dir() else []
        if any(user is not None and alive(user) for user in user_pids):
            remove(run_dir / "detached")
        else:
            terminate(pid, None, run_dir)
            report(f"stopped demo server pid {pid}, which no state.json named any more.")


def _write_state(demo_dir: Path, server: DemoServer) -> None:
    assert server._run_dir is not None
    state = {
        "pid": server.pid,
        "port": server.port,
        "url": server.url,
        "tsdb": str(server._run_dir / "tsdb"),
        "log_file": str(server.log_file),
        "started_at": time.time(),
    }
    tmp = demo_dir / f"state.json.{os.getpid()}"
    tmp.write_text(json.dumps(state, indent=2) + "\n")
    os.replace(tmp, demo_dir / "state.json")


# What _write_state writes and readers rely on, by type.
_STATE_FIELDS = {"pid": int, "port": int, "url": str, "tsdb": str, "log_file": str}


def _load_state(path: Path) -> dict[str, Any]:
    """The state in ``path``; ValueError says what is wrong with it (OSError if unreadable)."""
    state = json.loads(path.read_text())
    if not isinstance(state, dict):
        raise ValueError("not a JSON object")
    for key, kind in _STATE_FIELDS.items():
        value = state.get(key)
        if kind is int:  # bool is an int to isinstance(); a pid of 0 or -1 signals a group, or all
            valid = isinstance(value, int) and not isinstance(value, bool) and value > 0
        else:
            valid = isinstance(value, str) and value != ""
        if not valid:
            raise ValueError(f"no valid {key!r}")
    return state


def _read_state(demo_dir: Path) -> dict[str, Any] | None:
    """The shared server's state, or None if there is none or it is damaged."""
    try:
        return _load_state(demo_dir / "state.json")
    except (OSError, ValueError):
        return None


def _discard_damaged_state(demo_dir: Path) -> None:
    """Delete a ``state.json`` that is not one we wrote (cut short, edited), saying so."""
    path = demo_dir / "state.json"
    try:
        _load_state(path)
    except FileNotFoundError:
        return
    except (OSError, ValueError) as exc:
        remove(path)
        report(f"ignored a damaged {path} ({exc}); the new server rewrites it.")


def _remove_old_versions(demo_dir: Path) -> None:
    """Delete the data of other generator versions, unless a server still runs on them."""
    for other in demo_dir.parent.glob("demo-*"):
        if other == demo_dir or not other.is_dir():
            continue
        try:
            with locked(other / "lock", timeout=0.0):  # someone generating or starting there
                pids = []
                for pid_file in other.glob("runs/*/pid"):
                    with contextlib.suppress(OSError, ValueError):
                        pids.append(int(pid_file.read_text()))
                if not any(alive(pid) for pid in pids):
                    shutil.rmtree(other, ignore_errors=True)
        except (DemoError, OSError):
            continue


def _remove_stale_runs(demo_dir: Path) -> None:
    """Delete run directories whose Prometheus is gone (killed, or its starter crashed)."""
    runs = demo_dir / "runs"
    if not runs.is_dir():
        return
    for run in runs.iterdir():
        pid = read_pid(run / "pid")
        if pid is None or not alive(pid):
            shutil.rmtree(run, ignore_errors=True)
