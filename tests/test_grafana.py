"""Grafana dashboards against the real demo Prometheus: variable chains resolved from the server,
panels' frames equal to the same queries sent directly, plots with the panels' units, the widget,
the magic, and a dashboard written from results that gives the same frames when reopened."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import matplotlib
import pandas as pd
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from sysmon_magic import Client, demo
from sysmon_magic.errors import SysmonUsageError
from sysmon_magic.explorer import Explorer
from sysmon_magic.grafana import ALL, SCHEMA_VERSION, Dashboard, to_dashboard
from tests.test_magics import run

matplotlib.use("Agg")

DASHBOARDS = Path(__file__).parent / "dashboards"
END = float(demo.DEMO_END)
SIX_HOURS = (END - 6 * 3600, END)
WEB03 = {"job": "node", "nodename": "web-03", "node": "web-03:9100"}


@pytest.fixture
def client(demo_server) -> Client:
    with Client(demo_server.url, name="demo", now=demo_server.now, scrape_interval=60) as c:
        yield c


@pytest.fixture
def hosts(client) -> Dashboard:
    return Dashboard.load(DASHBOARDS / "hosts.json", client)


def same(frame: pd.DataFrame, direct: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        frame.reset_index(drop=True), direct.reset_index(drop=True), check_categorical=False
    )


# -- variables ------------------------------------------------------------------------------------


def test_a_chain_resolves_in_dependency_order(hosts):
    # Listed node, job, nodename: resolved job -> nodename -> node; nodename's saved value kept.
    assert hosts.variables == {"ds": "demo", **WEB03}
    assert hosts.variable("nodename").values == sorted(demo.HOSTS)  # sort 1: alphabetical
    assert hosts.variable("node").values == ["web-03:9100"]


def test_choosing_a_value_resolves_its_dependents(hosts, client):
    hosts.set("nodename", "db-01")
    assert hosts.variables["node"] == "db-01:9100"
    (query,) = hosts.panel("CPU busy").queries()
    assert 'instance="db-01:9100"' in query.expr
    with pytest.raises(SysmonUsageError, match=r"\$nodename has no value db-9: its values are bat"):
        hosts.set("nodename", "db-9")
    assert hosts.variables["node"] == "db-01:9100"  # nothing changed
    chosen = Dashboard.load(DASHBOARDS / "hosts.json", client, {"nodename": "batch-01"})
    assert chosen.variables["node"] == "batch-01:9100"


def test_query_variables_of_every_kind(client):
    dash = Dashboard.load(DASHBOARDS / "variables.json", client)
    instances = sorted(demo.data.node_instance(h) for h in demo.HOSTS)
    assert dash.variable("instance").options == [("All", ALL)] + [(i, i) for i in instances]
    assert dash.variables["instance"] == instances  # All, no allValue: every value
    assert dash.variables["web"] == ".*"  # All with an allValue: the allValue, as written
    assert dash.variable("web").values == ["web-01", "web-02", "web-03", "web-04"]  # regex group
    assert dash.variables["metric"] == "node_memory_MemAvailable_bytes"  # metrics(), sorted
    assert dash.variable("metric").values == [
        "node_memory_MemAvailable_bytes",
        "node_memory_MemTotal_bytes",
    ]
    assert dash.variable("labels").values == client.labels(None, *dash.window())
    # query_result(topk(2, ...)) over the dashboard's range, each instance taken by the regex.
    assert dash.variable("busiest").values == ["web-04:9100", "web-03:9100"]
    # No such metric: the value saved in the dashboard, and a note that says so.
    nothing = dash.variable("nothing")
    assert (nothing.options, dash.variables["nothing"]) == ([], "saved-value")
    assert nothing.note == "no values on the server: the value saved in the dashboard"
    # A named group: the number of each web host, sorted numerically, descending.
    assert dash.variable("hostnum").values == ["04", "03", "02", "01"]
    assert dash.variable("jobs").values == ["api", "node"]  # label_values(label)
    # A selector: its series, as name{labels}; the g flag takes every match of each.
    assert dash.variable("unamelabels").values == [
        "domainname", "instance", "job", "machine", "nodename", "openmetrics_id", "release",
        "sysname", "version",
    ]  # fmt: skip


# -- panels ---------------------------------------------------------------------------------------


def test_time_series_panels_give_the_frames_of_the_same_queries(hosts, client):
    cpu = hosts.panel("CPU busy")
    expr = (
        '1 - avg by (instance) (rate(node_cpu_seconds_total{instance="web-03:9100", '
        'mode="idle"}[4m]))'
    )  # $__rate_interval: max(60 s + 60 s, 4 x 60 s)
    assert [(q.expr, q.start, q.end, q.step) for q in cpu.queries()] == [(expr, *SIX_HOURS, 60)]
    same(cpu.frame(), client.query_range(expr, *SIX_HOURS, 60))
    # range= ends where the dashboard's time range ends; step= overrides.
    same(cpu.frame(range="1h", step="30s"), client.query_range(expr, END - 3600, END, 30))


def test_several_targets_get_a_ref_id_and_hidden_ones_are_skipped(hosts, client):
    traffic = hosts.panel("Traffic on web-03")  # the title as shown, variables filled in
    assert traffic is hosts.panel("Traffic on $nodename")
    frame = traffic.frame()
    assert frame["ref_id"].unique().tolist() == ["A", "B"]  # C is hidden
    for ref_id, direction in (("A", "receive"), ("B", "transmit")):
        expr = f'rate(node_network_{direction}_bytes_total{{instance="web-03:9100"}}[4m]) * 8'
        part = frame[frame["ref_id"] == ref_id].drop(columns="ref_id")
        same(part, client.query_range(expr, *SIX_HOURS, 60))


def test_instant_targets_min_step_and_legends(hosts, client):
    load = hosts.panel("Load")
    frame = load.frame()
    expected_range = client.query_range('node_load1{instance="web-03:9100"}', *SIX_HOURS, 120)
    same(frame[frame["ref_id"] == "A"].drop(columns="ref_id"), expected_range)
    instant = frame[frame["ref_id"] == "B"].drop(columns="ref_id").dropna(axis=1, how="all")
    same(instant, client.query('node_load15{instance="web-03:9100"}', END))
    ax = load.plot()
    labels = [line.get_label() for line in ax.get_lines()]  # __auto: the full names here
    assert [label.split("{")[0] for label in labels] == ["node_load1", "node_load15"]
    assert [line.get_marker() for line in ax.get_lines()] == ["None", "o"]  # the instant point
    assert ax.get_ylim()[0] == 0  # the graph's y axis min


def test_stat_gauge_and_table_panels(hosts, client):
    uptime = hosts.panel("Uptime")  # stat, instant target
    direct = client.query('time() - node_boot_time_seconds{instance="web-03:9100"}', END)
    same(uptime.frame(), direct.drop(columns="timestamp"))
    memory = hosts.panel("Memory used")  # gauge, range target: its last value
    expr = (
        '100 * (1 - node_memory_MemAvailable_bytes{instance="web-03:9100"} / '
        'node_memory_MemTotal_bytes{instance="web-03:9100"})'
    )
    series = client.query_range(expr, *SIX_HOURS, 60)
    reduced = memory.frame()
    assert reduced["value"].tolist() == [series["value"].iloc[-1]]
    assert reduced.drop(columns="value").astype(str).to_dict("records") == [
        series.drop(columns=["timestamp", "value"]).astype(str).iloc[0].to_dict()
    ]
    ax = memory.plot()
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Memory used"]
    assert ax.get_xlim() == (0, 100)  # the gauge's min and max
    assert ax.texts[0].get_text() == f"{series['value'].iloc[-1]:.3g} %"
    table = hosts.panel("Filesystems")
    same(table.frame(), client.query('node_filesystem_avail_bytes{instance="web-03:9100"}', END))
    with pytest.raises(SysmonUsageError, match=r"is a table: \.frame"):
        table.plot()


def test_units_on_the_plot(hosts):
    cpu = hosts.panel("CPU busy").plot()
    assert cpu.get_ylabel() == "percent" and cpu.get_ylim() == (0, 1)
    assert cpu.get_yticklabels()[-1].get_text() == "100 %"
    assert cpu.get_title(loc="left") == "CPU busy"
    traffic = hosts.panel("Traffic on web-03").plot()
    assert traffic.get_ylabel() == "bits per second"
    assert [line.get_label() for line in traffic.get_lines()] == ["in eth0", "out eth0"]
    packets = hosts.panel("Packets").plot()  # "pps" is no unit known here: plain numbers
    assert packets.get_ylabel() == "unit 'pps' is not known here: plain numbers"
    assert not any(" " in t.get_text() for t in packets.get_yticklabels())


def test_variables_and_formats_reach_the_server(client):
    dash = Dashboard.load(DASHBOARDS / "variables.json", client)
    start, end = 1793836800, 1793858400  # the dashboard's absolute time range
    queries = {p.title: p.queries()[0] for p in dash.panels}
    assert queries["Web hosts"].expr == 'node_load5{instance=~".*:9100"}'
    assert queries["Old syntax"].expr.startswith('node_load1{job="node", instance=~"(batch-01')
    assert queries["Modes, pipe and factor"].expr == (
        'sum by (mode) (rate(node_cpu_seconds_total{mode=~"user|system"}[5m])) * 100'
    )
    cpu = dash.panel("CPU by mode")
    direct = client.query_range(cpu.queries()[0].expr, start, end, 60)
    same(cpu.frame(), direct)
    assert sorted(direct["mode"].unique()) == ["system", "user"]
    stat = dash.panel("Available memory (node_memory_MemAvailable_bytes)").frame()
    series = client.query_range("sum(node_memory_MemAvailable_bytes) / 10", start, end, 60)
    assert stat["value"].tolist() == [series["value"].max()]  # calcs: max
    busiest = dash.panel("Busiest").frame()
    assert busiest["instance"].tolist() == ["web-03:9100", "web-04:9100"]
    macros = dash.panel("Macros")
    assert macros.queries()[0].step == 300 and set(macros.frame()["value"]) == {300.0}


# -- the widget and the magic -----------------------------------------------------------------------


def test_the_widget_follows_the_dropdowns(hosts):
    view = hosts.view
    assert list(view.controls) == ["node", "job", "nodename"]  # not the data source
    assert view.panel is hosts.panel("CPU busy") and view.png.startswith(b"\x89PNG")
    first = view.png
    view.controls["nodename"].value = "db-01"
    assert hosts.variables["node"] == "db-01:9100"
    assert view.controls["node"].options == (("db-01:9100", "db-01:9100"),)
    assert view.png != first  # drawn again for db-01
    view.panels.value = hosts.panels.index(hosts.panel("Filesystems"))
    assert "<table" in view.table.value and "/data" in view.table.value
    view.panels.value = hosts.panels.index(hosts.panel("Share"))
    assert view.message.value == "Share: not drawn, piechart panels are not drawn."
    view.panels.value = hosts.panels.index(hosts.panel("Uptime"))
    assert view.image.layout.display is None and view.png.startswith(b"\x89PNG")
    view.range.value = "1h"
    bundle, _ = InteractiveShell.instance().display_formatter.format(hosts)
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/plain"].startswith("<Dashboard 'Hosts (sysmon-magic tests)': 10 panels")


def test_the_magic(connected):
    path = DASHBOARDS / "hosts.json"
    dash = run(connected, f"promql_dashboard {path} --var nodename=db-01")
    assert isinstance(dash, Dashboard) and dash.variables["node"] == "db-01:9100"
    assert dash.client.name == "demo"
    with pytest.raises(UsageError, match=r"^\$nodename has no value nope: its values are"):
        run(connected, f"promql_dashboard {path} --var nodename=nope")
    with pytest.raises(UsageError, match=r"No dashboard file at 'missing\.json'"):
        run(connected, "promql_dashboard missing.json")
    with pytest.raises(UsageError, match="--var takes NAME=VALUE"):
        run(connected, f"promql_dashboard {path} --var nodename")
    with pytest.raises(UsageError, match="No connection named 'nope'"):
        run(connected, f"promql_dashboard {path} --conn nope")


# -- writing a dashboard ------------------------------------------------------------------------------


def test_results_written_as_a_dashboard_give_the_same_frames(connected, client, tmp_path):
    window = "--start 2026-11-05T00:00:00Z --end 2026-11-05T06:00:00Z"
    load = run(connected, f"promql {window} --legend {{{{instance}}}} --unit short", "node_load1")
    memory = run(connected, f"promql {window}", "node_memory_MemAvailable_bytes{job='node'}")
    errors = run(
        connected,
        "promql --instant --time 2026-11-05T06:00:00Z",
        'sum by (instance) (rate(http_requests_total{code=~"5.."}[5m]))',
    )
    explorer = Explorer(memory, client=client)
    explorer.pickers["instance"].value = ("web-03:9100",)
    traffic = Dashboard.load(DASHBOARDS / "hosts.json", client).panel("Traffic on web-03")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        written = to_dashboard(
            {"Load": load, "Memory": memory, "Errors": errors, "web-03": explorer},
            title="Incident",
            path=tmp_path / "incident.json",
        )
        to_dashboard([traffic.frame(range="1h")], title="traffic", path=tmp_path / "traffic.json")
    assert [str(w.message) for w in caught] == []  # same windows, aligned: nothing is lost
    assert json.loads((tmp_path / "incident.json").read_text()) == written
    assert written["schemaVersion"] == SCHEMA_VERSION
    assert written["time"] == {"from": "2026-11-05T00:00:00.000Z", "to": "2026-11-05T06:00:00.000Z"}
    panels = {p["title"]: p for p in written["panels"]}
    assert panels["Load"]["targets"][0]["legendFormat"] == "{{instance}}"
    assert panels["Load"]["fieldConfig"]["defaults"]["unit"] == "short"
    assert panels["Memory"]["fieldConfig"]["defaults"]["unit"] == "bytes"  # the query's own
    assert panels["Errors"]["type"] == "table" and panels["Errors"]["targets"][0]["instant"]
    assert panels["web-03"]["targets"][0]["expr"] == (
        "node_memory_MemAvailable_bytes{job='node', instance=\"web-03:9100\"}"
    )

    reopened = run(connected, f"promql_dashboard {tmp_path / 'incident.json'}")
    same(reopened.panel("Load").frame(), load)
    same(reopened.panel("Memory").frame(), memory)
    same(reopened.panel("Errors").frame(), errors)
    same(reopened.panel("web-03").frame(), explorer.frame)
    assert reopened.panel("Load").unit == "short"
    again = Dashboard.load(tmp_path / "traffic.json", client).panel("Traffic on web-03")
    same(again.frame(), traffic.frame(range="1h"))
    assert [t.legend for t in again.targets] == ["in {{device}}", "out {{device}}"]
    assert again.unit == "bps"


def test_writing_says_what_grafana_would_show_differently(client):
    six = client.query_range("node_load1", "2026-11-05T00:00:00Z", "2026-11-05T06:00:00Z", 60)
    one = client.query_range("node_load5", "2026-11-05T05:00:00Z", "2026-11-05T06:00:30Z", 60)
    with pytest.warns(UserWarning, match=r"'node_load5' covers 2026-11-05T05:00:00Z to 2026-11-0"):
        to_dashboard([six, one], title="t")
    fine = client.query_range('node_load1{instance="web-01:9100"}', "now-7d", "now", 30)
    with pytest.warns(UserWarning, match=r"step of 30s, finer than Grafana sends for 7d"):
        to_dashboard([fine], title="t")
    with pytest.raises(SysmonUsageError, match="Item 1 is a str"):
        to_dashboard(["node_load1"], title="t")
    with pytest.raises(SysmonUsageError, match="Item 1 has no query"):
        to_dashboard([pd.DataFrame()], title="t")
