"""Repeated panels and rows, per-series unit overrides and ad-hoc filters, each from a dashboard
written for it (tests/dashboards/), against the real demo Prometheus."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pandas as pd
import pytest
from IPython.core.error import UsageError

from sysmon_magic import Client, demo
from sysmon_magic.errors import SysmonUsageError
from sysmon_magic.grafana import Dashboard, to_dashboard
from tests.test_magics import run

matplotlib.use("Agg")

DASHBOARDS = Path(__file__).parent / "dashboards"
END = float(demo.DEMO_END)
SIX_HOURS = (END - 6 * 3600, END)
WEB01 = 'instance="web-01:9100"'


@pytest.fixture
def client(demo_server) -> Client:
    with Client(demo_server.url, name="demo", now=demo_server.now, scrape_interval=60) as c:
        yield c


def same(frame: pd.DataFrame, direct: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        frame.reset_index(drop=True), direct.reset_index(drop=True), check_categorical=False
    )


# -- repeat ---------------------------------------------------------------------------------------


def test_a_panel_is_repeated_per_chosen_value_with_its_value_in_title_and_queries(client):
    dash = Dashboard.load(DASHBOARDS / "repeat.json", client)
    assert dash.variables["host"] == ["web-01", "db-01"]  # as saved, in that order
    loads = [p for p in dash.panels if p.repeat == "host"]
    assert [p.shown_title for p in loads] == ["Load on web-01", "Load on db-01"]
    assert [p.repeated for p in loads] == [{"host": "web-01"}, {"host": "db-01"}]
    # The copy an older Grafana saved (repeatPanelId) is not a panel of its own.
    assert not any("web-99" in p.shown_title for p in dash.panels)
    db = dash.panel("Load on db-01")
    assert [q.expr for q in db.queries()] == ['node_load1{instance="db-01:9100"}']
    same(db.frame(), client.query_range('node_load1{instance="db-01:9100"}', *SIX_HOURS, 60))
    assert db.plot().get_title(loc="left") == "Load on db-01"

    dash.set("host", "web-03")  # one value: one panel, the same object where it stays
    assert [p.shown_title for p in dash.panels if p.repeat == "host"] == ["Load on web-03"]
    dash.set("host", "All")  # every value, as the variable lists them (sorted)
    assert [p.repeated["host"] for p in dash.panels if p.repeat == "host"] == sorted(demo.HOSTS)
    same_panel = dash.panel("Load on web-02")
    dash.set("mode", ["user"])
    assert dash.panel("Load on web-02") is same_panel


def test_a_row_is_repeated_with_its_panels(client):
    dash = Dashboard.load(DASHBOARDS / "repeat.json", client)
    rows = [(p.row, p.shown_title) for p in dash.panels if p.row]
    assert rows == [
        (f"CPU {mode}", title)
        for mode in ("user", "system", "idle")  # All: every value of $mode
        for title in (f"CPU in {mode}", "Series")
    ]
    system = dash.panel("CPU in system")
    expr = 'sum(rate(node_cpu_seconds_total{job="node", mode="system"}[5m]))'
    same(system.frame(), client.query_range(expr, *SIX_HOURS, 60))
    counts = [p.frame()["value"].tolist() for p in dash.panels if p.title == "Series"]
    direct = client.query('count(node_cpu_seconds_total{job="node", mode="idle"})', END)
    assert counts[2] == direct["value"].tolist()
    with pytest.raises(SysmonUsageError, match=r"3 panels are titled 'Series' \(repeated for "):
        dash.panel("Series")


def test_the_widget_lists_the_repeats_of_the_values_chosen(client):
    dash = Dashboard.load(DASHBOARDS / "repeat.json", client)
    view = dash.view
    assert view.panel is dash.panel("Load on web-01")
    view.controls["host"].value = ("web-02", "web-04")
    labels = [label for label, _ in view.panels.options]
    assert labels[:2] == ["Load on web-02", "Load on web-04"]
    assert view.panel is dash.panel("Load on web-02")  # web-01 is gone: the first drawn panel
    assert view.png.startswith(b"\x89PNG")


# -- unit overrides ---------------------------------------------------------------------------------


def test_overrides_give_series_their_own_unit_and_axis(client):
    dash = Dashboard.load(DASHBOARDS / "overrides.json", client)
    panel = dash.panel("CPU, memory and traffic")
    assert panel.unit_for("available") == "bytes"  # byName
    assert panel.unit_for("total") == "bytes"  # byRegexp: a bare pattern, the whole name
    assert panel.unit_for("totally") == "bytes" and panel.unit_for("subtotal") == "percentunit"
    assert panel.unit_for("eth0 in", "D") == "bps"  # byFrameRefID
    assert panel.unit_for("cpu web-01:9100", "A") == "percentunit"  # the panel's own
    frame = panel.frame()
    memory = f"node_memory_MemAvailable_bytes{{{WEB01}}}"
    direct = client.query_range(memory, *SIX_HOURS, 60)
    # The data are as sent: the units are only how they are drawn.
    same(frame[frame["ref_id"] == "B"][direct.columns], direct)
    ax = panel.plot()
    axes = {a.get_ylabel(): [line.get_label() for line in a.get_lines()] for a in ax.figure.axes}
    assert axes == {
        "percent": ["cpu web-01:9100"],
        "bytes": ["available", "total"],
        "bits per second": ["eth0 in"],
    }
    assert ax.get_ylabel() == "percent"  # the panel's unit stays on the left
    ax.figure.canvas.draw()
    right = next(a for a in ax.figure.axes if a.get_ylabel() == "bytes")
    assert all(t.get_text().endswith(" GiB") for t in right.get_yticklabels() if t.get_text())
    assert ax.get_ylim()[1] < 1  # CPU's fraction, not the bytes' scale


def test_overrides_write_each_value_of_a_stat_panel_in_its_unit(client):
    dash = Dashboard.load(DASHBOARDS / "overrides.json", client)
    stat = dash.panel("Memory now")
    assert stat.unit_for("available") == "bytes"  # /avail/: anywhere in the name
    values = stat.frame()
    ax = stat.plot()
    available = values[values["ref_id"] == "A"]["value"].iloc[0]
    used = values[values["ref_id"] == "B"]["value"].iloc[0]
    assert [t.get_text() for t in ax.texts] == [f"{available / 2**30:.3g} GiB", f"{used:.3g} %"]
    assert ax.get_xlabel() == "each value in its own unit"


def test_overrides_are_written_back_by_to_dashboard(client, tmp_path):
    panel = Dashboard.load(DASHBOARDS / "overrides.json", client).panel("Memory now")
    written = to_dashboard([panel.frame()], title="again", path=tmp_path / "again.json")
    assert written["panels"][0]["fieldConfig"]["overrides"] == [
        {
            "matcher": {"id": "byRegexp", "options": "/avail/"},
            "properties": [{"id": "unit", "value": "bytes"}],
        }
    ]
    again = Dashboard.load(tmp_path / "again.json", client).panel("Memory now")
    assert again.unit_for("available") == "bytes"
    same(again.frame(), panel.frame())


# -- ad-hoc filters ---------------------------------------------------------------------------------


def test_adhoc_filters_go_into_every_selector(client):
    dash = Dashboard.load(DASHBOARDS / "adhoc.json", client)
    assert dash.variables["filters"] == ['job="node"'] and dash.filters == [("job", "=", "node")]
    queries = {p.title: p.queries()[0].expr for p in dash.panels}
    assert queries == {
        "Load": 'sum by (instance) (node_load1{job="node"})',
        "Memory available": 'node_memory_MemAvailable_bytes{job="node"} / on (instance) '
        'node_memory_MemTotal_bytes{instance=~"web.*", job="node"}',
        "Requests": 'sum(rate(http_requests_total{job="node"}[5m]))',
    }
    load = dash.panel("Load")
    same(load.frame(), client.query_range(queries["Load"], *SIX_HOURS, 60))
    assert dash.panel("Requests").frame().empty  # the requests are job="api": filtered out

    dash.set("filters", 'instance=~"web-0[12]:9100", job="node"')
    assert sorted(load.frame()["instance"].unique()) == ["web-01:9100", "web-02:9100"]
    dash.set("filters", "")  # no filter: the queries as written
    assert dash.panel("Requests").queries()[0].expr == "sum(rate(http_requests_total[5m]))"
    assert not dash.panel("Requests").frame().empty
    with pytest.raises(SysmonUsageError, match=r"uses '<', which PromQL selectors do not have"):
        dash.set("filters", "cpu|<|3")
    assert dash.filters == []  # nothing changed


def test_adhoc_filters_from_the_magic_and_the_widget(connected, client):
    path = DASHBOARDS / "adhoc.json"
    dash = run(connected, f"promql_dashboard {path} --var filters=instance|=|db-01:9100")
    assert dash.filters == [("instance", "=", "db-01:9100")]
    assert dash.panel("Load").frame()["instance"].unique().tolist() == ["db-01:9100"]
    with pytest.raises(UsageError, match=r'^\$filters takes filters as label="value"'):
        run(connected, f"promql_dashboard {path} --var filters=a,,b")
    view = dash.view
    assert view.controls["filters"].value == 'instance="db-01:9100"'
    first = view.png
    view.controls["filters"].value = 'instance="web-04:9100"'
    assert dash.filters == [("instance", "=", "web-04:9100")] and view.png != first
    view.controls["filters"].value = "instance"  # not a filter: said, and nothing changes
    assert "takes filters as" in view.message.value
    assert view.controls["filters"].value == 'instance="web-04:9100"'
