"""Issue 3's explorer in a real JupyterLab, in Debian's Chromium.

Runs ``explore.ipynb`` (``%%promql --range 6h --explore`` on the demo server: 6 instances x 2
modes), then works the widget as a user does: picks one instance in the ``instance`` picker and
drags the lower handle of the time slider, asserting each time that the plot image was redrawn
and the summary line says what is shown. Screenshots of the cell's output area go to
``test-artifacts/browser/``.
"""

from __future__ import annotations

import base64
import os
import re
import time
from datetime import datetime, timedelta

import pytest

from .conftest import ARTIFACTS, NOTEBOOK, JupyterLab

try:
    from playwright.sync_api import Locator, Page, expect
except ImportError:
    # Same rule as for the browser (conftest): a developer may lack it, CI must not.
    if os.environ.get("CI") == "true":
        raise
    pytest.skip(
        "Playwright for Python is not installed: scripts/setup.sh test", allow_module_level=True
    )

pytestmark = pytest.mark.browser

# Generous: on CI's two cores, the first run starts a kernel, imports pandas and matplotlib,
# may start the demo Prometheus, and renders the widget.
KERNEL_TIMEOUT_MS = 120_000
WIDGET_TIMEOUT_MS = 180_000
REDRAW_TIMEOUT_MS = 60_000

TOTAL_SERIES = 12
PICKED_INSTANCE = "web-03:9100"
WINDOW = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) to (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")
KERNEL_IDLE = re.compile(r"^(?!No Kernel).+ \| Idle$")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _window(summary: str) -> tuple[datetime, datetime]:
    match = WINDOW.search(summary)
    assert match, f"no 'START to END' window in the summary {summary!r}"
    start, end = (datetime.fromisoformat(t.replace("Z", "+00:00")) for t in match.groups())
    return start, end


def _outputs_text(page: Page) -> str:
    """Every output of the notebook as text, to say why the widget did not show up."""
    texts = page.locator(".jp-Notebook .jp-OutputArea-output").all_inner_texts()
    return "\n---\n".join(t.strip()[:2000] for t in texts) or "(no outputs at all)"


def _expect_kernel_idle(page: Page, timeout_ms: float) -> None:
    """Wait until the notebook's kernel is started, connected and idle.

    Not the toolbar's execution indicator: in JupyterLab 4.6 it says ``data-status="idle"`` before
    any kernel exists, and Run All in that moment opens a "Select Kernel" dialog instead of
    running. The status bar says "No Kernel | Initializing", then "Python 3 (ipykernel) |
    Initializing", "| Connecting", "| Unknown" and at last "Python 3 (ipykernel) | Idle".
    """
    expect(
        page.locator(".jp-StatusBar-TextItem", has_text=KERNEL_IDLE),
        "the notebook's kernel did not become idle (status bar)",
    ).to_have_count(1, timeout=timeout_ms)


def _run_all_cells(page: Page) -> None:
    """Run > Run All Cells, through the menu bar as a user would."""
    page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
    # By command id: "Restart Kernel and Run All Cells..." also contains the words.
    page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').click()


def _plot_png(explorer: Locator) -> bytes:
    """The PNG the plot shows, fetched by the page from the ``<img>``'s own URL.

    Compared by content, not by ``src``: an ipywidgets ``Image`` shows a fresh ``blob:`` URL
    on every update (even for the same bytes), an ``Output`` a ``data:`` URL; ``fetch`` reads both.
    """
    img = explorer.locator(".sysmon-plot img")
    expect(img, "the plot should hold exactly one image").to_have_count(
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
    assert png.startswith(PNG_SIGNATURE), f"the plot is not a PNG: {png[:16]!r}"
    return png


def _wait_for_redraw(
    page: Page, explorer: Locator, old_png: bytes, summary: re.Pattern[str]
) -> tuple[bytes, str]:
    """Wait until the summary matches and plot and summary have settled; return both.

    A drag or a fast sequence of changes can send several updates, and the kernel redraws for
    each: reading too early would see a half-way state. So wait until the kernel is idle and
    nothing changed for a second, then check that the image differs from ``old_png``.
    """
    summary_box = explorer.locator(".sysmon-summary")
    expect(summary_box).to_have_text(summary, timeout=REDRAW_TIMEOUT_MS)
    deadline = time.monotonic() + REDRAW_TIMEOUT_MS / 1000
    last: tuple[bytes, str] | None = None
    since = time.monotonic()
    while True:
        _expect_kernel_idle(page, REDRAW_TIMEOUT_MS)
        state = (_plot_png(explorer), summary_box.inner_text())
        if state != last:
            last, since = state, time.monotonic()
        elif time.monotonic() - since >= 1.0:
            break
        assert time.monotonic() < deadline, f"the plot kept changing; summary {state[1]!r}"
        page.wait_for_timeout(200)
    _assert_no_errors(explorer)
    assert last is not None
    png, text = last
    assert summary.search(text), f"the summary settled on {text!r}"
    assert png != old_png, f"the plot image did not change; summary {text!r}"
    return png, text


def _assert_no_errors(explorer: Locator) -> None:
    """The explorer shows callback exceptions in its own output: there must be none."""
    errors = explorer.locator('[data-mime-type="application/vnd.jupyter.stderr"]')
    assert errors.count() == 0, "the explorer shows an error:\n" + "\n".join(
        errors.all_inner_texts()
    )


def test_explorer_picker_and_slider_redraw_the_plot(
    jupyter_lab: JupyterLab, notebook_page: Page
) -> None:
    page = notebook_page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.goto(jupyter_lab.lab_url(NOTEBOOK.name))

    _expect_kernel_idle(page, KERNEL_TIMEOUT_MS)
    _run_all_cells(page)

    explorer = page.locator(".sysmon-explorer")
    try:
        expect(explorer).to_be_visible(timeout=WIDGET_TIMEOUT_MS)
        expect(explorer.locator(".sysmon-summary")).to_have_text(
            re.compile(rf"\b{TOTAL_SERIES} / {TOTAL_SERIES} series shown"),
            timeout=REDRAW_TIMEOUT_MS,
        )
    except AssertionError as error:
        raise AssertionError(
            f"the explorer widget did not render; notebook outputs:\n{_outputs_text(page)}"
        ) from error
    # Run All has finished once the kernel is idle again; only then is the first state final.
    _expect_kernel_idle(page, REDRAW_TIMEOUT_MS)
    _assert_no_errors(explorer)
    # The cell's own output area (not the page: JupyterLab scrolls the notebook internally).
    output = page.locator(".jp-CodeCell", has=explorer).locator(".jp-Cell-outputArea")

    # The static picture published for saved notebooks is there, and hidden while live.
    static = page.locator(".jp-CodeCell", has=explorer).locator(
        ".jp-OutputArea-child:has(> .jp-RenderedImage)"
    )
    expect(static).to_have_count(1)
    expect(static).to_be_hidden()

    # 1. The first state: all 12 series over the whole 6 h window.
    output.screenshot(path=ARTIFACTS / "01-initial.png")
    initial_png = _plot_png(explorer)
    initial_summary = explorer.locator(".sysmon-summary").inner_text()
    initial_start, initial_end = _window(initial_summary)
    assert initial_end - initial_start >= timedelta(hours=5.9), initial_summary

    # 2. Pick one instance: 2 series (its user and system CPU) remain.
    picker = explorer.locator(".sysmon-picker").filter(
        has=page.locator(".widget-label", has_text=re.compile(r"^instance$"))
    )
    expect(picker).to_have_count(1)
    picker.locator("select").select_option(PICKED_INSTANCE)
    picked_png, picked_summary = _wait_for_redraw(
        page, explorer, initial_png, re.compile(rf"^\s*2 / {TOTAL_SERIES} series shown")
    )
    assert _window(picked_summary) == (initial_start, initial_end), picked_summary
    # The pick stays marked when the picker loses focus (browsers grey it out by default).
    explorer.locator(".sysmon-summary").click()
    picked = picker.locator("option:checked")
    expect(picked).to_have_text(PICKED_INSTANCE)
    marked = picked.evaluate(
        "(option) => [getComputedStyle(option).backgroundImage, getComputedStyle(option).color]"
    )
    assert "linear-gradient" in marked[0] and marked[1] == "rgb(255, 255, 255)", marked
    output.screenshot(path=ARTIFACTS / "02-picked.png")

    # 3. Zoom: drag the slider's lower handle about half-way along its track. The pick stays.
    slider = explorer.locator(".sysmon-time-slider")
    handle = slider.locator(".noUi-handle-lower")
    track = slider.locator(".noUi-target")
    handle.scroll_into_view_if_needed()
    handle_box, track_box = handle.bounding_box(), track.bounding_box()
    assert handle_box and track_box, "the time slider is not laid out"
    y = handle_box["y"] + handle_box["height"] / 2
    page.mouse.move(handle_box["x"] + handle_box["width"] / 2, y)
    readout = slider.locator(".widget-readout")
    before_drag = readout.inner_text()
    page.mouse.down()
    page.mouse.move(track_box["x"] + track_box["width"] * 0.5, y, steps=10)
    # While the handle is held, the readout already says the window it will select.
    during_drag = readout.inner_text()
    assert re.fullmatch(r"\s*\w{3} \d\d \d\d:\d\d - \w{3} \d\d \d\d:\d\d\s*", during_drag), (
        during_drag
    )
    assert during_drag != before_drag, during_drag
    output.screenshot(path=ARTIFACTS / "03-mid-drag.png")
    page.mouse.up()
    _, zoomed_summary = _wait_for_redraw(
        page, explorer, picked_png, re.compile(rf"^\s*2 / {TOTAL_SERIES} series shown")
    )
    zoomed_start, zoomed_end = _window(zoomed_summary)
    assert initial_start < zoomed_start < zoomed_end, zoomed_summary
    assert zoomed_end == initial_end, f"only the lower handle moved: {zoomed_summary}"
    assert zoomed_end - zoomed_start < timedelta(hours=5), f"not zoomed in: {zoomed_summary}"
    output.screenshot(path=ARTIFACTS / "04-zoomed.png")

    # 4. The active range button (the cell's 6h) again: the zoom resets, with no re-query.
    active = explorer.locator(".sysmon-range .sysmon-range-active")
    expect(active).to_have_text("6h")
    zoomed_png = _plot_png(explorer)
    active.click()
    _, reset_summary = _wait_for_redraw(
        page, explorer, zoomed_png, re.compile(rf"^\s*2 / {TOTAL_SERIES} series shown")
    )
    assert _window(reset_summary) == (initial_start, initial_end), reset_summary
    output.screenshot(path=ARTIFACTS / "05-zoom-reset.png")
