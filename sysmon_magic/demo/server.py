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
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from ..errors import DemoError
from . import data
from .prometheus import (
    PROMETHEUS_ENV,
    PROMTOOL_ENV,
    alive,
    as_pid,
    backfill,
    binary,
    http_body,
    locked,
    one_line_errors,
    read_pid,
    remove,
    report,
    runs_in,
    terminate,
)
from .startup import RESET_HINT, launch_repairing
from .state import discard_damaged_state, read_state, write_state

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
    with one_line_errors("could not start the demo server", RESET_HINT):
        demo_dir.mkdir(parents=True, exist_ok=True)
        with locked(demo_dir / "lock"):
            server = None
            if reuse:
                discard_damaged_state(demo_dir)
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
                started = launch_repairing(prometheus, promtool, demo_dir, reuse, port)
                server = DemoServer(
                    url=started.url,
                    pid=started.pid,
                    port=started.port,
                    started_here=True,
                    log_file=started.log_file,
                    _run_dir=started.run_dir,
                    _demo_dir=demo_dir,
                    _process=started.process,
                    _shared=reuse,
                )
                if reuse:
                    write_state(demo_dir, started)
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
        state = read_state(demo_dir)
        if state is not None and state.get("pid") == server.pid:
            (demo_dir / "state.json").unlink()
        terminate(server.pid, server._process, run_dir)


def version_dir(cache_dir: str | os.PathLike[str] | None) -> Path:
    """The directory of this generator version's data and servers."""
    root = Path(cache_dir) if cache_dir is not None else cache_root()
    return root / f"demo-{data.fingerprint()}"


def _running_server(demo_dir: Path) -> DemoServer | None:
    """The shared server from ``state.json`` if its process lives and answers as ours."""
    state = read_state(demo_dir)
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
    state = read_state(demo_dir)
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
