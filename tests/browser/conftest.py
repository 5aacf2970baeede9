"""A headless JupyterLab and Debian's Chromium (driven by Playwright) for the browser tests.

The server runs from the same Python as pytest, on a free loopback port with a random token, in
throw-away Jupyter config/data/runtime/settings/workspace directories so that nothing from the
developer's own setup (kernels, extensions, open tabs, the news prompt) leaks into the test. It
is stopped by its own PID at the end of the session. The browser is Debian's ``chromium``:
``playwright install`` cannot download browsers on these machines.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from sysmon_magic import demo

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

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

# Generous: on CI's two cores, the first run starts a kernel, imports pandas and matplotlib,
# may start the demo Prometheus, and renders the widget.
KERNEL_TIMEOUT_MS = 120_000
WIDGET_TIMEOUT_MS = 180_000
REDRAW_TIMEOUT_MS = 60_000
KERNEL_IDLE = re.compile(r"^(?!No Kernel).+ \| Idle$")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: What ipykernel saves in a notebook: the editor learns from it that cells are IPython.
IPYTHON = {"name": "python", "codemirror_mode": {"name": "ipython"}}


def _in_ci() -> bool:
    return os.environ.get("CI") == "true"


def _missing(reason: str) -> None:
    """Skip on a developer's machine without the browser tooling; fail in CI, where it must be.

    Called from a fixture it skips the test; at a test module's import, the whole module.
    """
    if _in_ci():
        pytest.fail(f"{reason} (CI=true: the browser test must run; see scripts/setup.sh)")
    pytest.skip(f"{reason}: install it with scripts/setup.sh test", allow_module_level=True)


def playwright_api() -> ModuleType:
    """``playwright.sync_api``, for a test module to call at import (it skips the module
    without Playwright, as :func:`_missing` says)."""
    try:
        from playwright import sync_api
    except ImportError:
        _missing("Playwright for Python is not installed (pip package `playwright`)")
    return sync_api


def browser_module() -> tuple[Any, pytest.MarkDecorator]:
    """What every browser test module begins with: Playwright's ``expect`` (calling this at
    import skips the module without Playwright, and fails it in CI) and its ``pytestmark``."""
    return playwright_api().expect, pytest.mark.browser


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
    with playwright_api().sync_playwright() as playwright:
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
            # A crashed page cannot be shot: the assertion message has to do.
            with contextlib.suppress(PlaywrightError):
                page.screenshot(path=ARTIFACTS / f"failed-{request.node.name}.png")
        context.close()
        jupyter_lab.shutdown_kernels()


# -- what the tests do on a page -------------------------------------------------------------


def write_notebook(path: Path, sources: Sequence[str], language_info: object = IPYTHON) -> None:
    """A notebook of code cells with ``sources``, for the python3 kernel; ``language_info=None``
    saves none (as a notebook never run), else it is saved as given."""
    cells = [
        {"cell_type": "code", "execution_count": None, "id": f"cell-{n}", "metadata": {},
         "outputs": [], "source": source}
        for n, source in enumerate(sources)
    ]  # fmt: skip
    metadata: dict[str, object] = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
    }
    if language_info is not None:
        metadata["language_info"] = language_info
    notebook = {"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(notebook, indent=1))


def expect_kernel_idle(page: Page, timeout_ms: float = KERNEL_TIMEOUT_MS) -> None:
    """Wait until the notebook's kernel is started, connected and idle.

    Not the toolbar's execution indicator: in JupyterLab 4.6 it says ``data-status="idle"`` before
    any kernel exists, and Run All in that moment opens a "Select Kernel" dialog instead of
    running. The status bar says "No Kernel | Initializing", then "Python 3 (ipykernel) |
    Initializing", "| Connecting", "| Unknown" and at last "Python 3 (ipykernel) | Idle".
    """
    playwright_api().expect(
        page.locator(".jp-StatusBar-TextItem", has_text=KERNEL_IDLE),
        "the notebook's kernel did not become idle (status bar)",
    ).to_have_count(1, timeout=timeout_ms)


def open_notebook(page: Page, url: str) -> None:
    """Open the notebook at ``url`` and wait until its kernel is idle."""
    page.goto(url)
    expect_kernel_idle(page)


def run_all_cells(page: Page) -> None:
    """Run > Run All Cells, through the menu bar as a user would."""
    page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
    # By command id: "Restart Kernel and Run All Cells..." also contains the words.
    page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').click()


def image_png(img: Locator, what: str) -> bytes:
    """The PNG that the one ``<img>`` of ``img`` shows, fetched by the page from its own URL.

    Compared by content, not by ``src``: an ipywidgets ``Image`` shows a fresh ``blob:`` URL
    on every update (even for the same bytes), an ``Output`` a ``data:`` URL; ``fetch`` reads both.
    """
    playwright_api().expect(img, f"{what} should be exactly one image").to_have_count(
        1, timeout=REDRAW_TIMEOUT_MS
    )
    encoded = img.evaluate(
        """async (img) => {
            const bytes = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
            let text = "";
            for (const byte of bytes) text += String.fromCharCode(byte);
            return btoa(text);
        }"""
    )
    png = base64.b64decode(encoded)
    assert png.startswith(PNG_SIGNATURE), f"{what} is not a PNG: {png[:16]!r}"
    return png


_State = TypeVar("_State")


def settled(
    page: Page,
    read: Callable[[], _State],
    failure: Callable[[_State], str],
    done: Callable[[_State], bool] = lambda state: True,
) -> _State:
    """What ``read()`` says once the kernel is idle and it has stayed the same for a second (and
    ``done`` holds of it), within :data:`REDRAW_TIMEOUT_MS`; else fail with ``failure(state)``.

    A drag or a fast sequence of changes can send several updates, and the kernel redraws for
    each: reading too early would see a half-way state.
    """
    deadline = time.monotonic() + REDRAW_TIMEOUT_MS / 1000
    last: _State | None = None
    since = time.monotonic()
    while True:
        expect_kernel_idle(page, REDRAW_TIMEOUT_MS)
        state = read()
        if state != last:
            last, since = state, time.monotonic()
        elif time.monotonic() - since >= 1.0 and done(state):
            return state
        assert time.monotonic() < deadline, failure(state)
        page.wait_for_timeout(200)
