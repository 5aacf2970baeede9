"""The incident report is a template: papermill runs it with other parameters (another host and
window of the demo data) against the demo Prometheus, and its computed numbers follow them.

The numbers it prints are checked against the same ratios asked of Prometheus directly, so a
report that kept a number from the saved run, or read the wrong host, fails here.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nbformat
import papermill
import pytest
import requests

from sysmon_magic import demo

REPORT = Path(__file__).resolve().parents[1] / "notebooks" / "incident-report.ipynb"
OTHER = {
    "host": "web-01",
    "start": "2026-11-03T05:00:00Z",
    "end": "2026-11-03T06:00:00Z",
    "timezone": "Europe/Berlin",
    "events": {"2026-11-03T05:30:00Z": "half-time"},
    "recording": "web-01.promql.json",
}
# The line the report prints after checking its share against a direct query.
ERRORS_LINE = re.compile(
    r"(?P<host>\S+)'s 5xx: (?P<errors>[\d,]+), (?P<ratio>[\d.]+)% of its requests, "
    r"(?P<share>[\d.]+)% of the tier's; the whole tier's 5xx ratio is (?P<tier>[\d.]+)%"
)


def instant(url: str, expr: str, time: str) -> float:
    answer = requests.get(f"{url}/api/v1/query", params={"query": expr, "time": time}, timeout=30)
    answer.raise_for_status()
    (sample,) = answer.json()["data"]["result"]
    return float(sample["value"][1])


def text_of(nb: nbformat.NotebookNode) -> str:
    """Every stream and text/plain or text/markdown output of the executed notebook."""
    parts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            data = output.get("data", {})
            parts.append(data.get("text/markdown", "") + data.get("text/plain", ""))
    return "\n".join(parts)


def run_report(directory: Path, parameters: dict[str, object]) -> nbformat.NotebookNode:
    shutil.copy(REPORT, directory)
    out = directory / "out.ipynb"
    papermill.execute_notebook(
        str(directory / REPORT.name), str(out), parameters=parameters, cwd=str(directory),
        kernel_name="python3", progress_bar=False,
    )  # fmt: skip
    return nbformat.read(out, as_version=4)


def test_the_parameters_cell_is_papermills() -> None:
    nb = nbformat.read(REPORT, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    names = set(re.findall(r"^(\w+) = ", tagged[0].source, re.M))
    assert {"host", "tier", "start", "end", "timezone", "memory_floor", "events"} <= names
    # The queries read the parameters: none names the saved run's host or window itself.
    queries = [c.source for c in nb.cells if c.cell_type == "code" and "%promql" in c.source]
    assert queries and not [q for q in queries if "web-03" in q or "2026-11" in q]


def test_papermill_runs_the_report_for_another_host_and_window(
    demo_server: demo.DemoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("SYSMON_REPLAY", "SYSMON_DEMO_GATEWAY", "SYSMON_APPKEY"):
        monkeypatch.delenv(name, raising=False)  # live, against the demo server
    nb = run_report(tmp_path, OTHER)
    text = text_of(nb)
    line = ERRORS_LINE.search(text)
    assert line is not None and line["host"] == "web-01", text

    url, end, window = demo_server.url, OTHER["end"], "60m"
    host_5xx = f'sum(increase(http_requests_total{{instance=~"web-01:.*", code=~"5.."}}[{window}]))'
    host_all = f'sum(increase(http_requests_total{{instance=~"web-01:.*"}}[{window}]))'
    tier_all = f'sum(increase(http_requests_total{{instance=~"web-.*"}}[{window}]))'
    tier_5xx = f'sum(increase(http_requests_total{{instance=~"web-.*", code=~"5.."}}[{window}]))'
    errors = instant(url, host_5xx, end)
    assert line["errors"] == f"{errors:,.0f}"
    assert line["ratio"] == f"{100 * errors / instant(url, host_all, end):.2f}"
    assert line["share"] == f"{100 * errors / instant(url, tier_all, end):.2f}"
    assert line["tier"] == f"{100 * instant(url, tier_5xx, end) / instant(url, tier_all, end):.2f}"
    # Another run than the saved one: web-03's 3,804 errors and 1.60 % are not these.
    assert (line["errors"], line["share"]) != ("3,804", "1.60")

    leak = -instant(url, 'deriv(node_memory_MemAvailable_bytes{instance="web-01:9100"}[6h])', end)
    summary = next(
        o["data"]["text/markdown"]
        for c in nb.cells
        for o in c.get("outputs", [])
        if "text/markdown" in o.get("data", {})
    )
    assert f"`web-01` lost {leak * 3600 / 2**20:,.0f} MiB/h over the 6h before {end}" in summary
    # The alert (for: 10m) never fires for web-01 in its window: a computed "never", not a time.
    assert f"with `for: 10m` never fired before {end}." in summary
    assert "plots in Europe/Berlin (UTC+01:00)" in text
    assert "the saved run's checks skipped" in text
    recorded = json.loads((tmp_path / OTHER["recording"]).read_text())
    assert recorded  # the answers went to the file named by the parameter


def test_papermill_with_the_default_parameters_reproduces_the_saved_numbers(
    demo_server: demo.DemoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("SYSMON_REPLAY", "SYSMON_DEMO_GATEWAY", "SYSMON_APPKEY"):
        monkeypatch.delenv(name, raising=False)
    text = text_of(run_report(tmp_path, {}))
    assert "web-03's 5xx: 3,804, 6.38% of its requests, 1.60% of the tier's;" in text
    assert "the whole tier's 5xx ratio is 1.66%" in text
    assert "checked the saved run's numbers" in text  # its assertion cell ran and passed
