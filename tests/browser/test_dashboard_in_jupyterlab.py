"""Issue 16's dashboard widget in a real JupyterLab, in Debian's Chromium.

Opens ``tests/dashboards/hosts.json`` with ``%promql_dashboard`` on the demo server, then works
the widget as a user does: chooses another host in the ``Host`` dropdown (its dependent
``Instance`` must re-resolve to that host's instance, and the plot be redrawn), and picks another
panel in the list (its plot must appear in place of the first). Screenshots of the cell's output
go to ``test-artifacts/browser/``.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from . import conftest as helpers

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

expect, pytestmark = helpers.browser_module()  # no Playwright: skipped (in CI: failed)

DASHBOARD = Path(__file__).resolve().parent.parent / "dashboards" / "hosts.json"
NOTEBOOK_NAME = "dashboard.ipynb"
#: The notebook the test runs: the extension, the demo connection, the dashboard.
CELLS = [
    "%load_ext sysmon_magic",
    "%sysmon_connect demo",
    "dash = %promql_dashboard hosts.json\ndash",
]


def shown_png(widget: Locator) -> bytes:
    """The PNG the widget's image shows."""
    img = widget.locator("img")
    expect(img).to_be_visible(timeout=helpers.REDRAW_TIMEOUT_MS)
    return helpers.image_png(img, "the panel's image")


def settled_png(page: Page, widget: Locator, old: bytes) -> bytes:
    """The image once the kernel is idle and it has stayed the same for a second; it must
    differ from ``old``."""
    return helpers.settled(
        page,
        lambda: shown_png(widget),
        lambda png: "the panel's image was not redrawn",
        done=lambda png: png != old,
    )


def dropdown(widget: Locator, label: str) -> Locator:
    return (
        widget.locator(".widget-dropdown")
        .filter(has=widget.page.locator(".widget-label", has_text=re.compile(rf"^{label}$")))
        .locator("select")
    )


def test_dashboard_dropdown_and_panel_list_redraw(
    jupyter_lab: helpers.JupyterLab, notebook_page: Page
) -> None:
    page = notebook_page
    shutil.copyfile(DASHBOARD, jupyter_lab.root_dir / "hosts.json")
    helpers.write_notebook(jupyter_lab.root_dir / NOTEBOOK_NAME, CELLS)
    helpers.open_notebook(page, jupyter_lab.lab_url(NOTEBOOK_NAME))
    helpers.run_all_cells(page)

    widget = page.locator(".sysmon-dashboard")
    expect(widget).to_be_visible(timeout=helpers.WIDGET_TIMEOUT_MS)
    helpers.expect_kernel_idle(page, helpers.REDRAW_TIMEOUT_MS)
    output = page.locator(".jp-CodeCell", has=widget).locator(".jp-Cell-outputArea")
    host, instance = dropdown(widget, "Host"), dropdown(widget, "Instance")
    expect(host).to_have_value("web-03")
    expect(instance).to_have_value("web-03:9100")
    panels = widget.locator(".widget-select select")
    expect(panels.locator("option:checked")).to_have_text("Overview / CPU busy")
    first = shown_png(widget)
    output.screenshot(path=helpers.ARTIFACTS / "dashboard-01-initial.png")

    # 1. Another host: its dependent, Instance, re-resolves; the panel is drawn for it.
    host.select_option("db-01")
    expect(instance).to_have_value("db-01:9100", timeout=helpers.REDRAW_TIMEOUT_MS)
    expect(instance.locator("option")).to_have_text(["db-01:9100"])
    redrawn = settled_png(page, widget, first)
    output.screenshot(path=helpers.ARTIFACTS / "dashboard-02-host-db-01.png")

    # 2. Another panel: its plot appears in place of the first.
    panels.select_option(label="Overview / Memory used (values)")
    memory = settled_png(page, widget, redrawn)
    assert memory != first
    output.screenshot(path=helpers.ARTIFACTS / "dashboard-03-memory-used.png")
    errors = widget.locator('[data-mime-type="application/vnd.jupyter.stderr"]')
    assert errors.count() == 0, errors.all_inner_texts()
