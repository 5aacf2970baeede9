"""Reproducible reports: the incident report replays offline to its saved live outputs, records
deterministically and exports every table and plot to HTML; and no notebook leaks the appkey.

The plain nbval run of ``notebooks/`` in the README's test command is the live run of the report
(its saved outputs against the demo server); these tests add the replayed run, the recording, the
HTML export and the secret canary. Every notebook runs on a copy in a temporary directory, so that
no test touches a tracked file.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbconvert import HTMLExporter

from sysmon_magic import demo
from tests.conftest import CANARY_APPKEY

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
REPORT = NOTEBOOKS / "incident-report.ipynb"
RECORDING = NOTEBOOKS / "incident-report.promql.json"
SANITIZE = REPO / "tests" / "nbval-sanitize.cfg"
ALL_NOTEBOOKS = sorted(
    path for path in NOTEBOOKS.rglob("*.ipynb") if ".ipynb_checkpoints" not in path.parts
)

# Variables that switch the extension's behaviour; each run sets the ones it needs.
SYSMON_ENV = ("SYSMON_REPLAY", "SYSMON_DEMO_GATEWAY", "SYSMON_APPKEY")
CELL_TIMEOUT = 120  # seconds per cell; the slowest cell here takes a few


def kernel_env(**values: str) -> dict[str, str]:
    """This process's environment without the extension's switches, plus ``values``."""
    env = {k: v for k, v in os.environ.items() if k not in SYSMON_ENV}
    env.update(values)
    return env


def execute(
    notebook: Path, env: Mapping[str, str], log: Path | None = None
) -> nbformat.NotebookNode:
    """Run ``notebook`` in a fresh kernel, with its directory as the working directory.

    A cell that raises fails the run unless it is tagged ``raises-exception`` (which nbval
    honours too), so that a notebook cannot pass by failing early. The kernel's stdout and
    stderr go to ``log`` when given.
    """
    nb = nbformat.read(notebook, as_version=4)
    client = NotebookClient(
        nb, timeout=CELL_TIMEOUT, resources={"metadata": {"path": str(notebook.parent)}}
    )
    if log is None:
        client.execute(env=dict(env))
    else:
        with open(log, "wb") as out:
            client.execute(env=dict(env), stdout=out, stderr=out)
    return nb


def outputs(nb: nbformat.NotebookNode) -> Iterator[tuple[nbformat.NotebookNode, dict]]:
    """Every (code cell, output) pair."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            for output in cell.get("outputs", []):
                yield cell, output


def _tight(html: str) -> str:
    # nbconvert re-serializes output HTML: same elements and text, different indentation.
    return re.sub(r">\s+<", "><", html)


@pytest.fixture(scope="module")
def live_report(demo_server: demo.DemoServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report executed live against the demo server on a copy without its recording; returns
    the copy's directory, which holds the executed notebook and the recording the run wrote."""
    directory = tmp_path_factory.mktemp("live-report")
    shutil.copy(REPORT, directory)
    nb = execute(directory / REPORT.name, kernel_env())
    nbformat.write(nb, directory / REPORT.name)
    return directory


def test_report_replays_offline_to_its_saved_outputs(tmp_path: Path) -> None:
    shutil.copy(REPORT, tmp_path)
    shutil.copy(RECORDING, tmp_path)
    # No network for the kernel: every HTTP request goes to a proxy on the discard port, which
    # refuses it (NO_PROXY unset, so not even loopback is exempt), and the demo server cannot
    # start. A query the recording lacks or a live call would fail its cell.
    env = kernel_env(
        SYSMON_REPLAY="1",
        SYSMON_PROMETHEUS_BIN="/nonexistent",
        HTTP_PROXY="http://127.0.0.1:9",
        HTTPS_PROXY="http://127.0.0.1:9",
        http_proxy="http://127.0.0.1:9",
        https_proxy="http://127.0.0.1:9",
    )
    for name in ("NO_PROXY", "no_proxy"):
        env.pop(name, None)
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "--nbval",  # strict: every output of every cell is compared, not only marked ones
        f"--nbval-sanitize-with={SANITIZE}",
        f"--nbval-cell-timeout={CELL_TIMEOUT}",
        "-q",
        REPORT.name,
    ]
    run = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    report = run.stdout + run.stderr
    assert run.returncode == 0, report
    code_cells = [c for c in nbformat.read(REPORT, as_version=4).cells if c.cell_type == "code"]
    assert f"{len(code_cells)} passed" in report, report  # nbval checked each cell
    assert (tmp_path / RECORDING.name).read_bytes() == RECORDING.read_bytes()  # replay only reads


def test_a_live_run_records_exactly_the_committed_recording(live_report: Path) -> None:
    recorded = live_report / RECORDING.name
    assert recorded.exists(), "the live run wrote no recording beside the notebook (cwd?)"
    # Same bytes: a re-run of the report must not change the committed file (a diff would mean
    # the questions or the answers changed).
    assert recorded.read_bytes() == RECORDING.read_bytes()


def test_html_export_shows_every_table_and_plot(live_report: Path) -> None:
    nb = nbformat.read(live_report / REPORT.name, as_version=4)
    page = _tight(HTMLExporter().from_notebook_node(nb)[0])
    tables = [
        table
        for _, output in outputs(nb)
        for table in re.findall(
            r"<table.*?</table>", output.get("data", {}).get("text/html", ""), re.S
        )
    ]
    images = [o["data"]["image/png"] for _, o in outputs(nb) if "image/png" in o.get("data", {})]
    plot_cells = [c for c in nb.cells if c.cell_type == "code" and "--plot" in c.source]
    assert tables and plot_cells
    for cell in plot_cells:  # --plot must leave a static PNG, not just "<Figure size ...>"
        assert any("image/png" in o.get("data", {}) for o in cell.outputs), cell.source
    assert len(images) >= len(plot_cells)
    for table in tables:
        assert _tight(table) in page
    for image in images:
        assert f'src="data:image/png;base64,{image.replace(chr(10), "")}"' in page


_DEMO_CONNECT = re.compile(r"^(%sysmon_connect\s+demo\b.*)$", re.M)


def record_every_connection(nb: nbformat.NotebookNode) -> list[str]:
    """Make each ``%sysmon_connect demo`` of ``nb`` record, so that every notebook's exchanges
    through the gateway are written to a file that gets searched; return the files' names.

    A connection that already records keeps its file. The clock is pinned at the demo's, which
    is what an unrecorded demo connection uses.
    """

    def add_record(match: re.Match[str]) -> str:
        line = match.group(1)
        if "--replay" in line or "--record" in line:
            return line
        line += f" --record canary-{len(added)}.promql.json"
        added.append(line)
        return line if "--now" in line else f"{line} --now {demo.DEMO_END}"

    added: list[str] = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = _DEMO_CONNECT.sub(add_record, cell.source)
    sources = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    names = re.findall(r"^%sysmon_connect\s+demo\b.*--record[ =](\S+)", sources, re.M)
    # A name in a variable ($recording) is made at run time, under TMPDIR: searched all the same;
    # unless a cell assigns it a literal, as the incident report's parameters cell does.
    literals = dict(re.findall(r'^(\w+) = "([^"\n]+)"', sources, re.M))
    return [
        literals.get(name[1:], "") if name.startswith("$") else name
        for name in names
        if not name.startswith("{") and (not name.startswith("$") or name[1:] in literals)
    ]


def _files(root: Path) -> Iterator[Path]:
    return (path for path in root.rglob("*") if path.is_file())


@pytest.mark.parametrize(
    "notebook", ALL_NOTEBOOKS, ids=[str(p.relative_to(NOTEBOOKS)) for p in ALL_NOTEBOOKS]
)
def test_no_notebook_leaks_the_appkey(
    notebook: Path, demo_server: demo.DemoServer, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    copy = work / notebook.relative_to(NOTEBOOKS)
    copy.parent.mkdir(parents=True)
    # The notebook alone: every recording in the directory is written by this run.
    original = nbformat.read(notebook, as_version=4)
    recordings = record_every_connection(original)
    nbformat.write(original, copy)
    # The dashboards a notebook opens are part of it (they hold queries, never a key).
    for dashboard in notebook.parent.glob("*.dashboard.json"):
        shutil.copy(dashboard, copy.parent)
    # Through the NHN-style gateway, which checks the canary appkey. A fresh IPython profile:
    # no user startup file can add output or hide it.
    # TMPDIR inside the searched folder: files a notebook writes to a temporary place count too.
    (work / "tmp").mkdir()
    env = kernel_env(
        SYSMON_DEMO_GATEWAY="1",
        SYSMON_APPKEY=CANARY_APPKEY,
        IPYTHONDIR=str(work / ".ipython"),
        TMPDIR=str(work / "tmp"),
    )
    nb = execute(copy, env, log=work / "kernel.log")
    nbformat.write(nb, copy)
    copy.with_suffix(".html").write_text(HTMLExporter().from_notebook_node(nb)[0])

    if recordings:
        # It really went through the gateway with the canary: the masked appkey is shown...
        assert f"with appkey ****{CANARY_APPKEY[-4:]}" in copy.read_text()
    for name in recordings:  # ...and the exchanges were recorded.
        assert (copy.parent / name).stat().st_size > 0, f"--record {name} wrote nothing"

    # The demo server's run directories (logs, config, state), not their TSDB data.
    runs = demo_server.log_file.parents[1]
    server_files = [p for p in runs.glob("*/*") if p.is_file()] + [
        p for p in runs.parent.glob("*") if p.is_file()
    ]
    searched = [*_files(work), *server_files]
    assert any(p.suffix == ".html" for p in searched) and server_files
    leaks = [
        f"{needle!r} in {path}"
        for path in searched
        for needle in (CANARY_APPKEY, CANARY_APPKEY[-5:])
        if needle.encode() in path.read_bytes()
    ]
    assert leaks == []
