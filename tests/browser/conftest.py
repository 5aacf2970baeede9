"""A headless JupyterLab and Debian's Chromium (driven by Playwright) for the browser tests.

The server runs from the same Python as pytest, on a free loopback port with a random token, in
throw-away Jupyter config/data/runtime/settings/workspace directories so that nothing from the
developer's own setup (kernels, extensions, open tabs, the news prompt) leaks into the test. It
is stopped by its own PID at the end of the session. The browser is Debian's ``chromium``:
``playwright install`` cannot download browsers on these machines.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from sysmon_magic import demo

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

# nbval (`pytest tests --nbval notebooks`) would otherwise collect the test notebook and run it
# without a browser; it is an input of the browser test, not a test of its own.
collect_ignore = ["explore.ipynb"]

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
NOTEBOOK = HERE / "explore.ipynb"
#: Screenshots and the server log; `test-artifacts/` is git-ignored and kept after the run.
ARTIFACTS = REPO / "test-artifacts" / "browser"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # we run as root in a container
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

SERVER_START_TIMEOUT = 120.0  # 2 slow cores: importing jupyter_server and the lab extensions
SERVER_STOP_TIMEOUT = 20.0


def _in_ci() -> bool:
    return os.environ.get("CI") == "true"


def _missing(reason: str) -> None:
    """Skip on a developer's machine without the browser tooling; fail in CI, where it must be."""
    if _in_ci():
        pytest.fail(f"{reason} (CI=true: the browser test must run; see scripts/setup.sh)")
    pytest.skip(f"{reason}: install it with scripts/setup.sh test")


@dataclass
class JupyterLab:
    """A running JupyterLab server: its URL, token and the directory it serves."""

    url: str  # http://127.0.0.1:PORT, no trailing slash
    token: str
    root_dir: Path
    log_file: Path
    process: subprocess.Popen[bytes]

    def api(self, method: str, path: str, timeout: float = 30.0) -> Any:
        """Call the server's REST API (``path`` like ``/api/sessions``); decoded JSON or None."""
        request = urllib.request.Request(
            self.url + path,
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else None

    def lab_url(self, notebook: str) -> str:
        # `reset` starts from an empty workspace, whatever an earlier test left open.
        return f"{self.url}/lab/tree/{notebook}?reset&token={self.token}"

    def shutdown_kernels(self) -> None:
        """Shut down every session and kernel: kernels outlive page reloads and closed tabs."""
        for session in self.api("GET", "/api/sessions"):
            self.api("DELETE", f"/api/sessions/{session['id']}")
        for kernel in self.api("GET", "/api/kernels"):
            self.api("DELETE", f"/api/kernels/{kernel['id']}")

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _write_lab_settings(settings_dir: Path) -> None:
    """User settings that keep the page quiet and offline.

    Without ``fetchNews``, JupyterLab 4.6 pops up "Would you like to get notified about official
    Jupyter news?", a toast that can cover the notebook. ``--LabApp.news_url=None`` does not
    hide it (measured): it only turns the server's news feed off. This setting does.
    """
    notification = (
        settings_dir / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    )
    notification.parent.mkdir(parents=True, exist_ok=True)
    notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server by its own PID: SIGTERM (it shuts its kernels down), then SIGKILL."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(SERVER_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(SERVER_STOP_TIMEOUT)


def _start_lab(base: Path) -> JupyterLab:
    root_dir = base / "root"
    root_dir.mkdir()
    settings_dir = base / "lab-settings"
    _write_lab_settings(settings_dir)
    env = dict(os.environ)
    env.update(
        {
            "JUPYTER_CONFIG_DIR": str(base / "config"),
            "JUPYTER_DATA_DIR": str(base / "data"),
            "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
            "JUPYTERLAB_SETTINGS_DIR": str(settings_dir),
            "JUPYTERLAB_WORKSPACES_DIR": str(base / "workspaces"),
            "IPYTHONDIR": str(base / "ipython"),  # no profile or startup files of the user's
            # `jupyter lab` finds `jupyter-lab` on PATH: make it this venv's, and the kernel's too.
            "PATH": sysconfig.get_path("scripts") + os.pathsep + env.get("PATH", os.defpath),
        }
    )
    # The kernel must use the inline backend, as in a user's JupyterLab, not a test suite's Agg.
    env.pop("MPLBACKEND", None)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log_file = ARTIFACTS / "jupyterlab.log"
    token = secrets.token_hex(24)
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",  # the port we checked, or fail: never a surprise one
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root_dir}",
        # CI and these containers run as root; the server refuses that unless told.
        "--ServerApp.allow_root=True",
        "--ServerApp.terminals_enabled=False",  # not needed: one less thing to start
        # Offline: the server fetches no news feed and checks for no update (the news *prompt*
        # is the settings' business, see _write_lab_settings).
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            command,
            env=env,
            cwd=base,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    lab = JupyterLab(f"http://127.0.0.1:{port}", token, root_dir, log_file, process)
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while True:
        if process.poll() is not None:
            raise RuntimeError(
                f"jupyter lab exited with {process.returncode} while starting; "
                f"log {log_file}:\n{lab.log_tail()}"
            )
        try:
            lab.api("GET", "/api/status", timeout=5)
            return lab
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            _stop(process)
            raise RuntimeError(
                f"jupyter lab did not answer /api/status within {SERVER_START_TIMEOUT:.0f} s; "
                f"log {log_file}:\n{lab.log_tail()}"
            )
        time.sleep(0.25)


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} is not installed (Debian package `chromium`)")
    return CHROMIUM


@pytest.fixture(scope="session")
def jupyter_lab(chromium: Path, demo_server: demo.DemoServer) -> Iterator[JupyterLab]:
    """JupyterLab on a free loopback port, serving a temporary copy of the test notebook.

    Depends on ``demo_server`` so that the demo data are generated (a slow first time) before any
    kernel asks for them, and the shared demo Prometheus stays up while kernels come and go; on
    ``chromium`` so that a machine without the browser skips before starting anything.
    """
    # Screenshots of an earlier run (a failure's above all) must not pass for this run's.
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="sysmon-jupyterlab-") as tmp:
        lab = _start_lab(Path(tmp))
        try:
            yield lab
        finally:
            # If the server is gone already, its kernels went with it.
            with contextlib.suppress(urllib.error.URLError, OSError):
                lab.shutdown_kernels()
            _stop(lab.process)


@pytest.fixture(scope="session")
def browser(chromium: Path) -> Iterator[Browser]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright for Python is not installed (pip package `playwright`)")
    with sync_playwright() as playwright:
        # Playwright's own Chromium build cannot be downloaded here: use Debian's.
        browser = playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


_CALL_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Remember whether a test's body failed, for ``notebook_page`` to keep a screenshot."""
    report = yield
    if report.when == "call":
        item.stash[_CALL_FAILED] = report.failed
    return report


@pytest.fixture
def notebook_page(
    request: pytest.FixtureRequest, jupyter_lab: JupyterLab, browser: Browser
) -> Iterator[Page]:
    """A fresh page and a fresh copy of the test notebook, with no kernel left from before.

    Kernels survive page reloads and closed tabs, so every test starts and ends without any.
    A failed test leaves a screenshot of the whole page in the artifacts.
    """
    from playwright.sync_api import Error as PlaywrightError

    jupyter_lab.shutdown_kernels()
    # JupyterLab may have autosaved outputs into the copy: each test starts from the original.
    shutil.copyfile(NOTEBOOK, jupyter_lab.root_dir / NOTEBOOK.name)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        yield page
    finally:
        if request.node.stash.get(_CALL_FAILED, False):
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            # A crashed page cannot be shot: the assertion message has to do.
            with contextlib.suppress(PlaywrightError):
                page.screenshot(path=ARTIFACTS / f"failed-{request.node.name}.png")
        context.close()
        jupyter_lab.shutdown_kernels()
