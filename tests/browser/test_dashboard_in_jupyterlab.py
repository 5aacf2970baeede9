"""Issue 16's dashboard widget in a real JupyterLab, in Debian's Chromium.

Opens ``tests/dashboards/hosts.json`` with ``%promql_dashboard`` on the demo server, then works
the widget as a user does: chooses another host in the ``Host`` dropdown (its dependent
``Instance`` must re-resolve to that host's instance, and the plot be redrawn), and picks another
panel in the list (its plot must appear in place of the first). Screenshots of the cell's output
go to ``test-artifacts/browser/``.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import time
from pathlib import Path

import pytest

from .conftest import ARTIFACTS, JupyterLab

try:
    from playwright.sync_api import Locator, Page, expect
except ImportError:
    if os.environ.get("CI") == "true":
        raise
    pytest.skip(
        "Playwright for Python is not installed: scripts/setup.sh test", allow_module_level=True
    )

pytestmark = pytest.mark.browser

KERNEL_TIMEOUT_MS = 120_000
WIDGET_TIMEOUT_MS = 180_000
REDRAW_TIMEOUT_MS = 60_000
KERNEL_IDLE = re.compile(r"^(?!No Kernel).+ \| Idle$")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DASHBOARD = Path(__file__).resolve().parent.parent / "dashboards" / "hosts.json"
NOTEBOOK_NAME = "dashboard.ipynb"


def write_notebook(path: Path) -> None:
    """The notebook the test runs: the extension, the demo connection, the dashboard."""
    sources = [
        "%load_ext sysmon_magic",
        "%sysmon_connect demo",
        "dash = %promql_dashboard hosts.json\ndash",
    ]
    cells = [
        {"cell_type": "code", "execution_count": None, "id": f"cell-{n}", "metadata": {},
         "outputs": [], "source": source}
        for n, source in enumerate(sources)
    ]  # fmt: skip
    notebook = {
        "cells": cells,
        "metadata": {
            "kernelspec": {
                "display_name": "Python 3 (ipykernel)",
                "language": "python",
                "name": "python3",
            },
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(notebook, indent=1))


def expect_kernel_idle(page: Page, timeout_ms: float) -> None:
    """The status bar says the kernel is started, connected and idle (see the explorer test)."""
    expect(page.locator(".jp-StatusBar-TextItem", has_text=KERNEL_IDLE)).to_have_count(
        1, timeout=timeout_ms
    )


def shown_png(widget: Locator) -> bytes:
    """The PNG the widget's image shows, fetched by the page from the ``<img>``'s own URL."""
    img = widget.locator("img")
    expect(img).to_have_count(1, timeout=REDRAW_TIMEOUT_MS)
    expect(img).to_be_visible(timeout=REDRAW_TIMEOUT_MS)
    encoded = img.evaluate(
        """async (img) => {
            const bytes = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
            let text = "";
            for (const byte of bytes) text += String.fromCharCode(byte);
            return btoa(text);
        }"""
    )
    png = base64.b64decode(encoded)
    assert png.startswith(PNG_SIGNATURE), f"the panel's image is not a PNG: {png[:16]!r}"
    return png


def settled_png(page: Page, widget: Locator, old: bytes) -> bytes:
    """Wait until the kernel is idle and the image has stayed the same for a second; it must
    differ from ``old``."""
    deadline = time.monotonic() + REDRAW_TIMEOUT_MS / 1000
    last, since = b"", time.monotonic()
    while True:
        expect_kernel_idle(page, REDRAW_TIMEOUT_MS)
        png = shown_png(widget)
        if png != last:
            last, since = png, time.monotonic()
        elif time.monotonic() - since >= 1.0 and png != old:
            return png
        assert time.monotonic() < deadline, "the panel's image was not redrawn"
        page.wait_for_timeout(200)


def dropdown(widget: Locator, label: str) -> Locator:
    return (
        widget.locator(".widget-dropdown")
        .filter(has=widget.page.locator(".widget-label", has_text=re.compile(rf"^{label}$")))
        .locator("select")
    )


def test_dashboard_dropdown_and_panel_list_redraw(
    jupyter_lab: JupyterLab, notebook_page: Page
) -> None:
    page = notebook_page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(DASHBOARD, jupyter_lab.root_dir / "hosts.json")
    write_notebook(jupyter_lab.root_dir / NOTEBOOK_NAME)
    page.goto(jupyter_lab.lab_url(NOTEBOOK_NAME))
    expect_kernel_idle(page, KERNEL_TIMEOUT_MS)
    page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
    page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').click()

    widget = page.locator(".sysmon-dashboard")
    expect(widget).to_be_visible(timeout=WIDGET_TIMEOUT_MS)
    expect_kernel_idle(page, REDRAW_TIMEOUT_MS)
    output = page.locator(".jp-CodeCell", has=widget).locator(".jp-Cell-outputArea")
    host, instance = dropdown(widget, "Host"), dropdown(widget, "Instance")
    expect(host).to_have_value("web-03")
    expect(instance).to_have_value("web-03:9100")
    panels = widget.locator(".widget-select select")
    expect(panels.locator("option:checked")).to_have_text("Overview / CPU busy")
    first = shown_png(widget)
    output.screenshot(path=ARTIFACTS / "dashboard-01-initial.png")

    # 1. Another host: its dependent, Instance, re-resolves; the panel is drawn for it.
    host.select_option("db-01")
    expect(instance).to_have_value("db-01:9100", timeout=REDRAW_TIMEOUT_MS)
    expect(instance.locator("option")).to_have_text(["db-01:9100"])
    redrawn = settled_png(page, widget, first)
    output.screenshot(path=ARTIFACTS / "dashboard-02-host-db-01.png")

    # 2. Another panel: its plot appears in place of the first.
    panels.select_option(label="Overview / Memory used (values)")
    memory = settled_png(page, widget, redrawn)
    assert memory != first
    output.screenshot(path=ARTIFACTS / "dashboard-03-memory-used.png")
    errors = widget.locator('[data-mime-type="application/vnd.jupyter.stderr"]')
    assert errors.count() == 0, errors.all_inner_texts()
