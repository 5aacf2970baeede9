"""Grafana dashboards read without a server: steps, variables that need no queries, panels,
rows, targets, units, macros and formats, on literal dashboards."""

from __future__ import annotations

import pytest

from sysmon_magic import Client
from sysmon_magic.errors import SysmonUsageError
from sysmon_magic.grafana import (
    ALL,
    Dashboard,
    Target,
    round_interval,
    step_for,
)
from sysmon_magic.grafana.adhoc import add_filters, parse_filters

NOW = 1794182400.0  # 2026-11-09T00:00:00Z


@pytest.fixture
def offline() -> Client:
    """A client that is never asked anything: these dashboards have no query variables."""
    return Client("http://127.0.0.1:9", name="offline", now=NOW, scrape_interval=60)


def dashboard(client, *, variables=(), panels=(), time=None, chosen=None, **extra) -> Dashboard:
    data = {
        "title": "literal",
        "templating": {"list": list(variables)},
        "panels": list(panels),
        "time": time or {"from": "now-6h", "to": "now"},
        **extra,
    }
    return Dashboard(data, client, chosen)


def timeseries(title, *targets, **extra):
    return {"type": "timeseries", "title": title, "targets": list(targets), **extra}


def test_round_interval_is_grafanas():
    assert round_interval(21.6) == 20
    assert round_interval(14.4) == 15
    assert round_interval(80) == 60
    assert round_interval(100) == 120
    assert round_interval(0.005) == 0.01
    assert round_interval(5 * 86400) == 86400
    assert round_interval(3 * 365 * 86400) == 365 * 86400


def test_step_for_follows_grafanas_prometheus_data_source():
    six_hours = 6 * 3600
    # range / points = 21.6 s; the 60 s scrape interval is the floor.
    assert step_for(
        range_seconds=six_hours, max_data_points=1000, min_interval=None, min_step=None,
        scrape_interval=60,
    ) == (60, 60)  # fmt: skip
    # No scrape interval known: 21.6 s rounds to 20 s.
    assert step_for(
        range_seconds=six_hours, max_data_points=1000, min_interval=None, min_step=None
    ) == (20, 20)
    # A target's min step wins when the computed one is finer; an interval factor multiplies.
    assert step_for(
        range_seconds=six_hours, max_data_points=1000, min_interval=None, min_step=300,
        interval_factor=2,
    )[0] == 600  # fmt: skip
    # 30 days at 100,000 points: the safe resolution (11,000 steps) makes it 5 m, not 30 s.
    assert (
        step_for(
            range_seconds=30 * 86400, max_data_points=100_000, min_interval=None, min_step=None
        )[0]
        == 300
    )


def test_variables_that_need_no_server(offline):
    dash = dashboard(
        offline,
        variables=[
            {"name": "mode", "type": "custom", "query": "user, system,idle,a\\,b", "multi": True,
             "current": {"value": ["system", "idle"]}},
            {"name": "size", "type": "custom", "query": "Small : 1,Large : 10",
             "current": {"text": "Large", "value": "10"}},
            {"name": "factor", "type": "constant", "query": "100", "hide": 2},
            {"name": "window", "type": "interval", "query": "1m,5m,1h", "auto": True,
             "auto_count": 30, "auto_min": "2m", "current": {"value": "nope"}},
            {"name": "filter", "type": "textbox", "query": "node"},
            {"name": "ds", "type": "datasource", "query": "prometheus"},
            {"name": "env", "type": "custom", "query": "prod,dev", "includeAll": True,
             "allValue": ".+", "current": {"value": "$__all"}},
            {"name": "region", "type": "custom", "query": "kr1,kr2", "includeAll": True,
             "multi": True, "current": {"value": ["$__all"]}},
        ],
    )  # fmt: skip
    assert dash.variable("mode").options == [
        ("user", "user"), ("system", "system"), ("idle", "idle"), ("a,b", "a,b")
    ]  # fmt: skip
    assert dash.variables == {
        "mode": ["system", "idle"],
        "size": "10",
        "factor": "100",
        "window": "10m",  # the saved value is gone: the first option, auto: 6 h / 30, rounded
        "filter": "node",
        "ds": "offline",
        "env": ".+",
        "region": ["kr1", "kr2"],
    }
    assert dash.variable("env").current == [ALL]
    dash.set("size", "Small")  # by its text
    assert dash.variables["size"] == "1"
    dash.set("window", "1h")
    assert dash.variables["window"] == "1h"
    with pytest.raises(SysmonUsageError, match=r"\$mode has no value busy: its values are user"):
        dash.set("mode", ["busy", "user"])
    assert dash.variables["mode"] == ["system", "idle"]  # unchanged
    with pytest.raises(SysmonUsageError, match="takes one value, not 2"):
        dash.set("size", ["1", "10"])
    with pytest.raises(SysmonUsageError, match="has no All option"):
        dash.set("mode", "All")
    with pytest.raises(SysmonUsageError, match="no variable 'nope'"):
        dash.set("nope", "1")


def test_a_cycle_between_variables_is_refused(offline):
    with pytest.raises(SysmonUsageError, match=r"\$a -> \$b -> \$a"):
        dashboard(
            offline,
            variables=[
                {"name": "a", "type": "query", "query": 'label_values(up{x="$b"}, job)'},
                {"name": "b", "type": "query", "query": 'label_values(up{x="$a"}, job)'},
            ],
        )


def test_panels_rows_targets_and_units(offline):
    dash = dashboard(
        offline,
        panels=[
            timeseries("top", {"expr": "up", "refId": "A"}, fieldConfig={"defaults": {"unit": "s"}}),
            {"type": "row", "title": "Open row", "collapsed": False, "panels": []},
            {"type": "stat", "title": "in open row", "targets": [{"expr": "up", "instant": True}]},
            {"type": "row", "title": "Closed row", "collapsed": True, "panels": [
                {"type": "graph", "title": "old graph", "yaxes": [{"format": "bytes", "min": "0"}],
                 "targets": [{"expr": "a", "legendFormat": "{{x}}", "refId": "A", "interval": ">2m"},
                             {"expr": "b", "hide": True, "refId": "B"},
                             {"expr": "c", "legendFormat": "", "refId": "C"}]},
                {"type": "text", "title": "notes"},
                {"type": "heatmap", "title": "heat", "targets": [{"expr": "h"}]},
                {"type": "table", "title": "logs", "datasource": {"type": "loki", "uid": "x"},
                 "targets": [{"expr": "{job=\"x\"}"}]},
                {"type": "timeseries", "title": "mixed", "datasource": {"uid": "-- Mixed --"},
                 "targets": [{"expr": "up", "datasource": {"type": "prometheus"}},
                             {"expr": "up", "datasource": {"type": "loki"}}]},
                {"type": "timeseries", "title": "library", "libraryPanel": {"uid": "u"}},
                {"type": "gauge", "title": "odd reducer", "targets": [{"expr": "up"}],
                 "options": {"reduceOptions": {"calcs": ["percentChangeColor"]}}},
                {"type": "timeseries", "title": "all hidden", "targets": [{"expr": "up", "hide": True}]},
            ]},
        ],
    )  # fmt: skip
    rows = [(p.row, p.title, p.type, p.unit, p.drawn) for p in dash.panels]
    assert rows == [
        (None, "top", "timeseries", "s", "lines"),
        ("Open row", "in open row", "stat", None, "values"),
        ("Closed row", "old graph", "graph", "bytes", "lines"),
        ("Closed row", "notes", "text", None, None),
        ("Closed row", "heat", "heatmap", None, None),
        ("Closed row", "logs", "table", None, None),
        ("Closed row", "mixed", "timeseries", None, "lines"),
        ("Closed row", "library", "timeseries", None, None),
        ("Closed row", "odd reducer", "gauge", None, None),
        ("Closed row", "all hidden", "timeseries", None, None),
    ]
    reasons = {p.title: p.reason for p in dash.panels if p.drawn is None}
    assert reasons == {
        "notes": "it has no queries",
        "heat": "heatmap panels are not drawn",
        "logs": "its data source is loki",
        "library": "a library panel: its queries are not in this JSON",
        "odd reducer": "its reducer 'percentChangeColor' is not one of lastNotNull, last, "
        "firstNotNull, first, mean, min, max, sum, count, range, diff",
        "all hidden": "every query is hidden",
    }
    graph = dash.panel("old graph")
    assert graph.limits == (0.0, None)
    assert graph.targets == [
        Target("a", "{{x}}", False, False, "A", ">2m"),
        Target("b", None, False, True, "B", None),
        Target("c", "", False, False, "C", None),
    ]
    assert [t.ref_id for t in graph.visible_targets] == ["A", "C"]
    assert dash.panel("in open row").targets[0].instant
    assert len(dash.panel("mixed").targets) == 1  # its Loki target is not PromQL
    assert [q.step for q in graph.queries()] == [120, 60]  # A's min step is 2m
    with pytest.raises(SysmonUsageError, match="is not drawn: heatmap panels are not drawn"):
        dash.panel("heat").plot()
    with pytest.raises(SysmonUsageError, match="has no query to run: it has no queries"):
        dash.panel("notes").frame()
    with pytest.raises(SysmonUsageError, match=r"No panel titled 'Top'.*Did you mean 'top'"):
        dash.panel("Top")
    summary = dash.summary()
    assert list(summary.columns) == ["row", "title", "type", "unit", "targets", "drawn"]
    assert summary["drawn"].tolist()[3] == "not drawn: it has no queries"


def test_old_schema_rows_and_the_api_envelope(offline):
    data = {
        "dashboard": {
            "title": "old",
            "rows": [{"title": "r1", "panels": [{"type": "graph", "title": "g", "targets": [{"expr": "up"}]}]}],
        }
    }  # fmt: skip
    dash = Dashboard(data, offline)
    assert [(p.row, p.title, p.targets[0].ref_id) for p in dash.panels] == [("r1", "g", "A")]
    with pytest.raises(SysmonUsageError, match="not a Grafana dashboard"):
        Dashboard({"title": "x"}, offline)


def test_macros_formats_and_windows(offline):
    dash = dashboard(
        offline,
        variables=[
            {"name": "mode", "type": "custom", "query": "user,system", "multi": True,
             "current": {"value": ["user", "system"]}},
            {"name": "host", "type": "custom", "query": "web-01,web.02", "includeAll": True,
             "current": {"value": "$__all"}},
            {"name": "any", "type": "custom", "query": "a,b", "includeAll": True,
             "allValue": ".*", "current": {"value": "$__all"}},
            {"name": "one", "type": "textbox", "query": 'say "hi"'},
        ],
        panels=[
            timeseries("formats", {"expr": 'x{mode=~"$mode", h=~"${host:regex}", a=~"[[any]]"} '
                                           '+ on() group_left count_values("m", vector(${mode:csv}))'}),
            timeseries("strings", {"expr": 'label_replace(up, "x", "$one", "", "") '
                                           '+ ${mode:doublequote}'}),
            timeseries("macros", {"expr": "rate(x[$__rate_interval]) + $__interval_ms + $__range_s "
                                          "+ ${__range} + $__from + $__to + $__interval",
                                  "interval": "5m"}, maxDataPoints=100),
            timeseries("relative", {"expr": "up"}, timeFrom="1h", timeShift="1d"),
            timeseries("undefined", {"expr": "up{x=\"$nope\"}"}),
        ],
    )  # fmt: skip
    (formats,) = dash.panel("formats").queries()
    assert formats.expr == (
        'x{mode=~"(user|system)", h=~"(web-01|web\\\\.02)", a=~".*"} '
        '+ on() group_left count_values("m", vector(user,system))'
    )
    (strings,) = dash.panel("strings").queries()
    assert strings.expr == 'label_replace(up, "x", "say \\"hi\\"", "", "") + "user","system"'
    (macros,) = dash.panel("macros").queries()
    # 6 h / 100 points = 216 s, below the target's min step of 5 m: the step is 5 m. The rate
    # interval is max(query interval + min step, 4 x min step), the query interval 216 s rounded.
    start, end = NOW - 6 * 3600, NOW
    assert (macros.start, macros.end, macros.step) == (start, end, 300)
    assert macros.expr == (
        f"rate(x[20m]) + 300000 + 21600 + 6h + {int(start * 1000)} + {int(end * 1000)} + 5m"
    )
    (relative,) = dash.panel("relative").queries()
    assert (relative.start, relative.end) == (NOW - 86400 - 3600, NOW - 86400)
    (ranged,) = dash.panel("formats").queries(range="1h", step="30s")
    assert (ranged.start, ranged.end, ranged.step) == (NOW - 3600, NOW, 30)
    with pytest.raises(SysmonUsageError, match=r"'undefined' \(A\) uses \$nope, which the dash"):
        dash.panel("undefined").queries()


def test_dashboard_times(offline):
    def window(time):
        return dashboard(offline, time=time).window()

    assert window({"from": "now-1d/d", "to": "now-1d/d"}) == (NOW - 86400, NOW)
    assert window({"from": "2026-11-05T00:00:00.000Z", "to": "1793858400000"}) == (
        1793836800,
        1793858400,
    )
    with pytest.raises(SysmonUsageError, match="Cannot read the dashboard's time 'yesterday'"):
        window({"from": "yesterday", "to": "now"})


def test_adhoc_filters_are_read_and_added_to_every_selector():
    assert parse_filters('instance="web-01:9100", mode=~"user|system"', "f") == [
        ("instance", "=", "web-01:9100"),
        ("mode", "=~", "user|system"),
    ]
    assert parse_filters(["job|=|node", "code!~5..", "path='a,b'"], "f") == [
        ("job", "=", "node"),
        ("code", "!~", "5.."),
        ("path", "=", "a,b"),  # a comma inside quotes is the value's
    ]
    assert parse_filters("", "f") == []
    with pytest.raises(SysmonUsageError, match=r"'<', which PromQL selectors do not have"):
        parse_filters("cpu|<|3", "f")
    with pytest.raises(SysmonUsageError, match=r"'1x' is not a label name"):
        parse_filters("1x|=|3", "f")
    job = [("job", "=", "node")]
    assert add_filters("rate(up[5m]) / on (instance) up", job) == (
        'rate(up{job="node"}[5m]) / on (instance) up{job="node"}'
    )  # not the label name in on (...)
    assert add_filters('{__name__="up"} + sum by (job) (x{a="b"})', job) == (
        '{__name__="up", job="node"} + sum by (job) (x{a="b", job="node"})'
    )
    assert add_filters('up{job="node"}', job) == 'up{job="node"}'  # there already: once
    assert add_filters('label_replace(up, "x", "$1", "y", "(.*)")', [("q", "=", 'say "hi"')]) == (
        'label_replace(up{q="say \\"hi\\""}, "x", "$1", "y", "(.*)")'
    )
    assert add_filters("sum(up)", []) == "sum(up)"


def test_repeats_without_a_server(offline):
    dash = dashboard(
        offline,
        variables=[
            {
                "name": "dc",
                "type": "custom",
                "query": "kr1,kr2,jp1",
                "multi": True,
                "includeAll": True,
                "current": {"value": ["kr2", "jp1"]},
            },
        ],
        panels=[
            timeseries("Up in $dc", {"expr": 'up{dc="$dc"}'}, repeat="dc"),
            timeseries("Up in kr1", {"expr": "up"}, repeatPanelId=1),  # a saved copy
            timeseries("Not repeated", {"expr": "up"}, repeat="nosuchvariable"),
        ],
    )
    assert [p.shown_title for p in dash.panels] == ["Up in kr2", "Up in jp1", "Not repeated"]
    assert dash.panel("Up in jp1").queries()[0].expr == 'up{dc="jp1"}'
    dash.set("dc", "All")
    assert [p.repeated for p in dash.panels[:3]] == [{"dc": "kr1"}, {"dc": "kr2"}, {"dc": "jp1"}]
