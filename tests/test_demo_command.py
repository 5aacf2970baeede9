"""The README's first command, ``bash scripts/demo.sh``, end to end, as a user in a terminal runs it.

The real script runs as a subprocess, in its own process group, with a pseudo-terminal as its
standard input (as in a terminal: JupyterLab treats Ctrl-C differently without one). It gets:

- its own cache directory (``XDG_CACHE_HOME``), so that it starts its own demo Prometheus, and
  its Ctrl-C stops that one and never the shared server that other tests use meanwhile; the
  first start there generates and backfills the data (about 10 s);
- throw-away Jupyter config, data, runtime, settings and workspace directories, so that nothing
  of the user's own setup counts, and JupyterLab's runtime file gives away its pid;
- ``SYSMON_SKIP_PIP=1``: pytest runs from .venv, so ``setup.sh`` has nothing to install (and
  reinstalling the package would pull it from under the tests running alongside);
- ``JUPYTER_PORT=0``: JupyterLab listens on a port the OS picks free.

Then the test checks what a user sees: the printed URL opens JupyterLab (token included) on the
tour, without the news prompt; a kernel started through that server's REST API and driven over
its websocket runs ``%load_ext sysmon_magic``, ``%sysmon_connect demo`` and a ``%promql`` query
on the script's demo server; and one SIGINT to the process group (Ctrl-C) stops JupyterLab, the
kernel and the demo Prometheus, by their pids.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import pty
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from tornado.websocket import WebSocketClientConnection, websocket_connect

ROOT = Path(__file__).resolve().parents[1]
TOUR = "00-tour.ipynb"  # the server is rooted at notebooks/

START_TIMEOUT = 180.0  # setup.sh, a first backfill and JupyterLab's start, on two slow cores
KERNEL_TIMEOUT = 120.0  # a kernel starting, importing pandas and matplotlib, and querying
STOP_TIMEOUT = 60.0  # JupyterLab shutting its kernel down, then the demo server stopping

LAB_URL = re.compile(r"(http://127\.0\.0\.1:\d+)/lab/tree/00-tour\.ipynb\?token=(\w+)")
DEMO_LINE = re.compile(r"Demo Prometheus: (http://127\.0\.0\.1:\d+/prometheus)\s+\(pid (\d+),")
NEWS_PLUGIN = "@jupyterlab/apputils-extension:announcements"

# What a user types first, in one cell each; the last prints what the test checks.
CELLS = [
    "%load_ext sysmon_magic",
    "%sysmon_connect demo",
    "df = %promql --instant count(node_uname_info)",
    (
        "import json, os\n"
        "from sysmon_magic import demo\n"
        "print(json.dumps({'hosts': int(df['value'].iloc[0]), 'kernel_pid': os.getpid(),"
        " 'demo_pid': demo.running().pid}))"
    ),
]


# Still running when Ctrl-C comes, in a kernel that takes a moment to exit (as one that cleans
# up does): the demo server must outlive it, whatever the kernel does on its way out.
BUSY_CELL = "import atexit, time\natexit.register(time.sleep, 2)\ntime.sleep(600)"


@dataclass
class Script:
    """``bash scripts/demo.sh`` running, and everything it printed so far."""

    process: subprocess.Popen[bytes]
    lines: list[str] = field(default_factory=list)
    #: Processes outside its process group (the kernel) to kill if the test fails half-way.
    strays: set[int] = field(default_factory=set)

    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, pattern: re.Pattern[str], timeout: float) -> re.Match[str]:
        """The first match of ``pattern`` in a printed line, waiting for it if need be."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if match := pattern.search(line):
                    return match
            if self.process.poll() is not None:
                pytest.fail(
                    f"demo.sh exited with {self.process.returncode} before printing "
                    f"{pattern.pattern!r}:\n{self.output()[-4000:]}"
                )
            time.sleep(0.1)
        pytest.fail(f"demo.sh printed no {pattern.pattern!r} in {timeout:.0f} s:\n{self.output()}")


def _run_in_own_loop(coroutine: Any) -> Any:
    """Run a coroutine to the end in a thread of its own: an event loop may already be running in
    this one (Playwright's sync API keeps one for the browser tests of the same session)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs; a zombie (exited, not reaped yet) does not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


# Loopback servers only: never through a proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _get(url: str, token: str | None = None, timeout: float = 30.0) -> tuple[int, bytes]:
    headers = {"Authorization": f"token {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)
    with _OPENER.open(request, timeout=timeout) as response:
        return response.status, response.read()


def _post(url: str, token: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
    )
    with _OPENER.open(request, timeout=60) as response:
        return json.load(response)


class Kernel:
    """A kernel driven over the Jupyter server's websocket, as JupyterLab drives it."""

    def __init__(self, connection: WebSocketClientConnection) -> None:
        self.connection = connection
        self.session = uuid.uuid4().hex

    async def _send(self, code: str) -> str:
        msg_id = uuid.uuid4().hex
        header = {"msg_id": msg_id, "msg_type": "execute_request", "session": self.session}
        message = {
            "header": {**header, "username": "test", "version": "5.3", "date": ""},
            "parent_header": {},
            "metadata": {},
            "content": {"code": code, "silent": False, "store_history": True},
            "buffers": [],
            "channel": "shell",
        }
        await self.connection.write_message(json.dumps(message))
        return msg_id

    async def _replies(self, msg_id: str) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """(type, content) of each message in answer to ``msg_id``."""
        while True:
            raw = await asyncio.wait_for(self.connection.read_message(), KERNEL_TIMEOUT)
            assert raw is not None, "the server closed the kernel's websocket"
            message = json.loads(raw if isinstance(raw, str) else raw.decode())
            if message.get("parent_header", {}).get("msg_id") == msg_id:
                yield message["msg_type"], message["content"]

    async def run(self, code: str) -> str:
        """Run ``code``; its text output. Fails with the traceback if it raised."""
        msg_id = await self._send(code)
        text, reply, idle = [], None, False
        async for kind, content in self._replies(msg_id):
            if kind == "stream":
                text.append(content["text"])
            elif kind in ("execute_result", "display_data"):
                text.append(content["data"].get("text/plain", ""))
            elif kind == "error":
                text.append("\n".join(content["traceback"]))
            elif kind == "execute_reply":
                reply = content
            elif kind == "status" and content["execution_state"] == "idle":
                idle = True
            if reply is not None and idle:
                break
        output = "".join(text)
        assert reply is not None and reply["status"] == "ok", f"{code!r} failed:\n{output}"
        return output

    async def start(self, code: str) -> None:
        """Start running ``code``, and return while it runs."""
        msg_id = await self._send(code)
        async for kind, _ in self._replies(msg_id):
            if kind == "execute_input":
                return


async def _in_kernel(ws_url: str, token: str) -> list[str]:
    """Run ``CELLS`` (their outputs are returned), then leave ``BUSY_CELL`` running."""
    connection = await asyncio.wait_for(websocket_connect(f"{ws_url}?token={token}"), 30)
    try:
        kernel = Kernel(connection)
        outputs = [await kernel.run(code) for code in CELLS]
        await kernel.start(BUSY_CELL)
        return outputs
    finally:
        connection.close()


@pytest.fixture
def demo_script(tmp_path: Path) -> Iterator[Script]:
    """``bash scripts/demo.sh`` as from a terminal; anything it leaves is killed by pid after."""
    env = {
        **os.environ,
        "SYSMON_SKIP_PIP": "1",
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "JUPYTER_PORT": "0",
        "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"),
        "JUPYTER_DATA_DIR": str(tmp_path / "jupyter-data"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "jupyter-runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "lab-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "lab-workspaces"),
        "IPYTHONDIR": str(tmp_path / "ipython"),
    }
    for name in ("JUPYTER_CONFIG_PATH", "MPLBACKEND", "VIRTUAL_ENV"):
        env.pop(name, None)
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        ["bash", "scripts/demo.sh"],
        cwd=ROOT,
        env=env,
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, as a terminal's foreground job has
    )
    os.close(terminal)
    script = Script(process)

    def read() -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            script.lines.append(raw.decode(errors="replace").rstrip("\n"))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        yield script
    finally:
        # After a failure: what the script started, by pid (the demo Prometheus and the kernel
        # run in sessions of their own, out of reach of a signal to the script's group).
        pids = {int(p) for p in re.findall(r"\(pid (\d+),", script.output())}
        pids |= set(_runtime_pids(tmp_path / "jupyter-runtime")) | script.strays
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        for pid in pids:
            if _started_by_this_test(pid, tmp_path):  # not a recycled pid
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        process.wait(30)
        reader.join(10)
        os.close(controller)
        sys.stdout.write(script.output()[-3000:] + "\n")  # shown by pytest on a failure


def _started_by_this_test(pid: int, tmp_path: Path) -> bool:
    """Whether ``pid`` has this test's directories in its command line or environment."""
    try:
        proc = Path(f"/proc/{pid}")
        return (
            str(tmp_path).encode()
            in (proc / "cmdline").read_bytes() + (proc / "environ").read_bytes()
        )
    except OSError:
        return False


def _runtime_pids(runtime_dir: Path) -> list[int]:
    """The pids of the Jupyter servers whose runtime files are in ``runtime_dir``."""
    pids = []
    for info in runtime_dir.glob("jpserver-*.json"):
        with contextlib.suppress(OSError, ValueError, KeyError):
            pids.append(int(json.loads(info.read_text())["pid"]))
    return pids


def test_demo_command_serves_the_tour_and_ctrl_c_stops_everything(
    demo_script: Script, tmp_path: Path
):
    started = time.monotonic()
    url, token = demo_script.wait_for(LAB_URL, START_TIMEOUT).groups()
    demo_url, demo_pid = demo_script.wait_for(DEMO_LINE, START_TIMEOUT).groups()
    ready = time.monotonic() - started

    # The printed URL answers, with its token, and opens the tour without the news prompt.
    status, page = _get(f"{url}/lab/tree/{TOUR}?token={token}")
    assert status == 200
    config = re.search(rb'id="jupyter-config-data"[^>]*>(.*?)</script>', page, re.S)
    assert config, "no page config in the lab page"
    page_config = json.loads(config.group(1))
    assert page_config["treePath"] == TOUR
    assert NEWS_PLUGIN in page_config["disabledExtensions"]
    assert json.loads(_get(f"{url}/api/status", token)[1])["started"]
    tour = json.loads(_get(f"{url}/api/contents/{TOUR}?content=1", token)[1])
    assert tour["type"] == "notebook"
    assert "A tour of sysmon-magic" in "".join(tour["content"]["cells"][0]["source"])
    (lab_pid,) = _runtime_pids(tmp_path / "jupyter-runtime")

    # A kernel for the tour, as JupyterLab starts one when the notebook opens.
    session = _post(
        f"{url}/api/sessions",
        token,
        {"path": TOUR, "type": "notebook", "name": TOUR, "kernel": {"name": "python3"}},
    )
    channels = f"{url.replace('http', 'ws', 1)}/api/kernels/{session['kernel']['id']}/channels"
    outputs = _run_in_own_loop(_in_kernel(channels, token))
    assert "Connected 'demo' to the local demo server" in outputs[1], outputs
    assert "1 series, 1 sample" in outputs[2], outputs
    answer = json.loads(outputs[-1].strip().splitlines()[-1])
    assert answer["hosts"] == 6, outputs
    # The kernel queried the script's own demo server, not another one.
    assert answer["demo_pid"] == int(demo_pid)
    kernel_pid = answer["kernel_pid"]
    demo_script.strays.add(kernel_pid)
    queried = time.monotonic() - started

    # Ctrl-C, the kernel still busy: SIGINT to the script's process group, as a terminal sends
    # it. Once is enough.
    os.killpg(demo_script.process.pid, signal.SIGINT)
    try:
        returncode = demo_script.process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(
            f"demo.sh still runs {STOP_TIMEOUT:.0f} s after Ctrl-C:\n{demo_script.output()}"
        )
    stopped = time.monotonic() - started
    time.sleep(0.5)  # the reader thread catches up with the last lines
    left = {
        name: pid
        for name, pid in (("JupyterLab", lab_pid), ("kernel", kernel_pid), ("demo", int(demo_pid)))
        if _alive(pid)
    }
    assert not left, f"still running after Ctrl-C: {left}\n{demo_script.output()[-3000:]}"
    assert returncode == 0, demo_script.output()[-3000:]
    assert "Stopped the demo server." in demo_script.output()
    with pytest.raises(OSError):
        _OPENER.open(f"{demo_url}/api/v1/status/buildinfo", timeout=5)
    print(f"ready {ready:.1f} s, queried {queried:.1f} s, stopped {stopped:.1f} s")
