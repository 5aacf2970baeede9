"""The explorer's static picture in a saved notebook's HTML export, offline (review ux.md, 7).

A notebook with a ``%%promql --explore`` cell runs in a fresh kernel (nbclient, which saves the
widget state in the notebook, as JupyterLab's "save widget state" does) and is exported with
nbconvert's ``HTMLExporter`` and its default template, as ``jupyter nbconvert --to html`` does.
The exported cell must show the explorer's PNG as a plain ``<img>`` with a ``data:`` URL, so that
the page shows it without a network: nbconvert's page loads the widget manager from a CDN
(unpkg), and offline a widget view draws nothing.

nbconvert shows one mimetype per output, and a widget view before anything else whenever the
notebook's widget state holds its model (``WidgetsDataTypeFilter``), so a PNG in the same bundle
as the widget view is never shown there. The picture is checked as the page's markup holds it;
the page itself is not run in a browser here.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import nbformat
from bs4 import BeautifulSoup
from nbclient import NotebookClient
from nbconvert import HTMLExporter

from sysmon_magic import demo

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DATA_URL = "data:image/png;base64,"
QUERY = 'sum by (instance) (rate(node_cpu_seconds_total{mode="user"}[5m]))'
CELL_TIMEOUT = 120  # seconds; the first run may start the demo Prometheus
# Variables that switch the extension's behaviour: the kernel must query the demo server live.
SYSMON_ENV = ("SYSMON_REPLAY", "SYSMON_DEMO_GATEWAY", "SYSMON_APPKEY")


def _executed_notebook(directory: Path) -> tuple[Path, str]:
    """Write and run the notebook; return its path and the id of the explorer's cell."""
    explore = nbformat.v4.new_code_cell(f"%%promql --range 6h --explore\n{QUERY}")
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("%load_ext sysmon_magic"),
            nbformat.v4.new_code_cell("%sysmon_connect demo"),
            explore,
            # The bytes the explorer drew, to compare with the picture in the page.
            nbformat.v4.new_code_cell("import hashlib\nprint(hashlib.sha256(_.png).hexdigest())"),
        ]
    )
    env = {name: value for name, value in os.environ.items() if name not in SYSMON_ENV}
    client = NotebookClient(
        nb, timeout=CELL_TIMEOUT, resources={"metadata": {"path": str(directory)}}
    )
    client.execute(env=env)
    path = directory / "explore.ipynb"
    nbformat.write(nb, path)
    return path, explore.id


def test_html_export_shows_the_explorer_png_without_network(
    demo_server: demo.DemoServer, tmp_path: Path
) -> None:
    path, cell_id = _executed_notebook(tmp_path)
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if c.get("id") == cell_id)
    drawn_sha256 = nb.cells[-1].outputs[-1]["text"].strip()

    # The live widget is still published, and its state saved: the case that hid the PNG.
    state = nb.metadata["widgets"][WIDGET_STATE]["state"]
    views = [out.data[WIDGET_VIEW] for out in cell.outputs if WIDGET_VIEW in out.get("data", {})]
    assert len(views) == 1, f"the explorer's cell should publish one widget view: {views}"
    assert views[0]["model_id"] in state, "the notebook should hold the explorer's widget state"

    saved = [
        base64.b64decode(out.data["image/png"])
        for out in cell.outputs
        if "image/png" in out.get("data", {})
    ]
    assert saved, "the explorer's cell saved no image/png at all"
    assert all(png.startswith(PNG_SIGNATURE) for png in saved)

    html, _ = HTMLExporter().from_filename(str(path))  # `jupyter nbconvert --to html`
    page = BeautifulSoup(html, "html.parser")
    exported_cell = page.find(id=f"cell-id={cell_id}")
    assert exported_cell is not None, f"no cell with id {cell_id} in the exported HTML"
    outputs = exported_cell.select(".jp-Cell-outputWrapper")
    assert len(outputs) == 1, "the explorer's cell has no output area in the exported HTML"
    # Markup, not script text: BeautifulSoup finds no <img> inside a <script>.
    images = [img for img in outputs[0].find_all("img") if img.get("src", "").startswith(DATA_URL)]
    assert len(images) == 1, (
        f"the exported cell shows {len(images)} data:image/png pictures, not 1; its output "
        f"types: {[sorted(out.get('data', {})) or out.output_type for out in cell.outputs]}; "
        f"widget views in the page (drawn by the widget manager from a CDN, blank offline): "
        f"{len(outputs[0].find_all('script', type=WIDGET_VIEW))}"
    )
    picture = base64.b64decode(images[0]["src"][len(DATA_URL) :])
    assert picture.startswith(PNG_SIGNATURE), "the picture is not a PNG"
    assert picture in saved, "the picture is not the PNG saved in the notebook's output"
    assert hashlib.sha256(picture).hexdigest() == drawn_sha256, (
        "the picture is not the explorer's plot (Explorer.png)"
    )
    for element in [images[0], *images[0].parents]:
        style = (element.get("style") or "").replace(" ", "").lower()
        assert not element.has_attr("hidden") and "display:none" not in style, (
            f"the picture is hidden in the page by {element.name} {element.attrs}"
        )
