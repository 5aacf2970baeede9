"""Issue 3's explorer in a real JupyterLab, in Debian's Chromium.

Runs ``explore.ipynb`` (``%%promql --range 6h --explore`` on the demo server: 6 instances x 2
modes), then works the widget as a user does: picks one instance in the ``instance`` picker and
drags the lower handle of the time slider, asserting each time that the plot image was redrawn
and the summary line says what is shown. Screenshots of the cell's output area go to
``test-artifacts/browser/``.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from . import conftest as helpers

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

expect, pytestmark = helpers.browser_module()  # no Playwright: skipped (in CI: failed)

TOTAL_SERIES = 12
PICKED_INSTANCE = "web-03:9100"
WINDOW = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) to (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")


def _window(summary: str) -> tuple[datetime, datetime]:
    match = WINDOW.search(summary)
    assert match, f"no 'START to END' window in the summary {summary!r}"
    start, end = (datetime.fromisoformat(t.replace("Z", "+00:00")) for t in match.groups())
    return start, end


def _outputs_text(page: Page) -> str:
    """Every output of the notebook as text, to say why the widget did not show up."""
    texts = page.locator(".jp-Notebook .jp-OutputArea-output").all_inner_texts()
    return "\n---\n".join(t.strip()[:2000] for t in texts) or "(no outputs at all)"


def _plot_png(explorer: Locator) -> bytes:
    return helpers.image_png(explorer.locator(".sysmon-plot img"), "the plot")


def _wait_for_redraw(
    page: Page, explorer: Locator, old_png: bytes, summary: re.Pattern[str]
) -> tuple[bytes, str]:
    """Wait until the summary matches and plot and summary have settled; return both.

    Settled: the kernel idle and nothing changed for a second. Then the image must differ from
    ``old_png``.
    """
    summary_box = explorer.locator(".sysmon-summary")
    expect(summary_box).to_have_text(summary, timeout=helpers.REDRAW_TIMEOUT_MS)
    png, text = helpers.settled(
        page,
        lambda: (_plot_png(explorer), summary_box.inner_text()),
        lambda state: f"the plot kept changing; summary {state[1]!r}",
    )
    _assert_no_errors(explorer)
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
    jupyter_lab: helpers.JupyterLab, notebook_page: Page
) -> None:
    page = notebook_page
    helpers.open_notebook(page, jupyter_lab.lab_url(helpers.NOTEBOOK.name))
    helpers.run_all_cells(page)

    explorer = page.locator(".sysmon-explorer")
    try:
        expect(explorer).to_be_visible(timeout=helpers.WIDGET_TIMEOUT_MS)
        expect(explorer.locator(".sysmon-summary")).to_have_text(
            re.compile(rf"\b{TOTAL_SERIES} / {TOTAL_SERIES} series shown"),
            timeout=helpers.REDRAW_TIMEOUT_MS,
        )
    except AssertionError as error:
        raise AssertionError(
            f"the explorer widget did not render; notebook outputs:\n{_outputs_text(page)}"
        ) from error
    # Run All has finished once the kernel is idle again; only then is the first state final.
    helpers.expect_kernel_idle(page, helpers.REDRAW_TIMEOUT_MS)
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
    output.screenshot(path=helpers.ARTIFACTS / "01-initial.png")
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
    output.screenshot(path=helpers.ARTIFACTS / "02-picked.png")

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
    output.screenshot(path=helpers.ARTIFACTS / "03-mid-drag.png")
    page.mouse.up()
    _, zoomed_summary = _wait_for_redraw(
        page, explorer, picked_png, re.compile(rf"^\s*2 / {TOTAL_SERIES} series shown")
    )
    zoomed_start, zoomed_end = _window(zoomed_summary)
    assert initial_start < zoomed_start < zoomed_end, zoomed_summary
    assert zoomed_end == initial_end, f"only the lower handle moved: {zoomed_summary}"
    assert zoomed_end - zoomed_start < timedelta(hours=5), f"not zoomed in: {zoomed_summary}"
    output.screenshot(path=helpers.ARTIFACTS / "04-zoomed.png")

    # 4. The active range button (the cell's 6h) again: the zoom resets, with no re-query.
    active = explorer.locator(".sysmon-range .sysmon-range-active")
    expect(active).to_have_text("6h")
    zoomed_png = _plot_png(explorer)
    active.click()
    _, reset_summary = _wait_for_redraw(
        page, explorer, zoomed_png, re.compile(rf"^\s*2 / {TOTAL_SERIES} series shown")
    )
    assert _window(reset_summary) == (initial_start, initial_end), reset_summary
    output.screenshot(path=helpers.ARTIFACTS / "05-zoom-reset.png")
