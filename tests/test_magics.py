"""Every magic and option through a real InteractiveShell, against the real demo Prometheus,
directly and through the NHN-style gateway."""

from __future__ import annotations

import getpass
import math
import socket

import pandas as pd
import pytest
from IPython.core.error import UsageError

from sysmon_magic import demo
from tests.conftest import CANARY_APPKEY, FORBIDDEN_APPKEY, sysmon_magics

CPU_PER_CORE = "sum by (instance, cpu) (rate(node_cpu_seconds_total[5m]))"


def run(shell, line: str, cell: str | None = None):
    """Run a magic the way a cell does and return its value (UsageError propagates)."""
    name, _, rest = line.partition(" ")
    if cell is None:
        return shell.run_line_magic(name, rest)
    return shell.run_cell_magic(name, rest, cell)


@pytest.fixture
def via_gateway(shell, gateway, canary_env):
    sysmon_magics(shell).region_urls = {"kr1": gateway.url}
    run(shell, "sysmon_connect kr1")
    return shell


def assert_no_canary(*texts: object) -> None:
    for text in texts:
        assert CANARY_APPKEY not in str(text)
        assert CANARY_APPKEY[-5:] not in str(text)  # never more than the last 4 characters


# -- %sysmon_connect -------------------------------------------------------------------------


def test_connect_demo_pins_the_clock_at_the_end_of_the_data(shell, demo_server, capsys):
    run(shell, "sysmon_connect demo")
    assert capsys.readouterr().out == (
        "Connected 'demo' to the local demo server; its clock is pinned at 2026-11-09T00:00:00Z.\n"
    )
    listing = run(shell, "sysmon_connect")
    assert listing[["name", "current", "appkey", "clock"]].values.tolist() == [
        ["demo", True, "(none)", "2026-11-09T00:00:00Z"]
    ]


def test_connect_region_through_the_gateway_masks_the_appkey(shell, gateway, canary_env, capsys):
    sysmon_magics(shell).region_urls = {"kr1": gateway.url}
    run(shell, "sysmon_connect kr1")
    out = capsys.readouterr().out
    assert out == f"Connected 'kr1' to {gateway.url}/prometheus with appkey ****4068.\n"
    listing = run(shell, "sysmon_connect")
    assert listing["appkey"].tolist() == ["****4068"]
    assert_no_canary(out, listing.to_string(), repr(sysmon_magics(shell).connections))


def test_connect_with_another_variable_and_named_connections(shell, gateway, monkeypatch, capsys):
    monkeypatch.setenv("MY_KEY", CANARY_APPKEY)
    sysmon_magics(shell).region_urls = {"kr2": gateway.url, "kr1": gateway.url}
    run(shell, "sysmon_connect kr2 --appkey-env MY_KEY --name prod")
    run(shell, "sysmon_connect demo")
    listing = run(shell, "sysmon_connect")
    assert listing["name"].tolist() == ["prod", "demo"]
    assert listing["current"].tolist() == [False, True]
    frame = run(shell, "promql --conn prod --instant --time 2026-11-08T12:00:00Z node_load1")
    assert frame.attrs["promql"]["source"] == "prod"
    assert len(frame) == 6
    assert_no_canary(capsys.readouterr(), listing.to_string())


def test_connect_prompts_for_the_appkey_when_no_variable_is_set(shell, gateway, monkeypatch):
    prompts = []
    monkeypatch.setattr(getpass, "getpass", lambda prompt: prompts.append(prompt) or CANARY_APPKEY)
    sysmon_magics(shell).region_urls = {"kr1": gateway.url}
    run(shell, "sysmon_connect kr1")
    assert prompts == ["Appkey for kr1 (console: URL & Appkey): "]


def test_connect_without_any_appkey_says_where_to_put_it(shell, monkeypatch):
    monkeypatch.setattr(getpass, "getpass", lambda prompt: "")
    with pytest.raises(UsageError, match=r"No appkey: set \$SYSMON_APPKEY"):
        run(shell, "sysmon_connect kr1")
    with pytest.raises(UsageError, match=r"\$NOPE is not set"):
        run(shell, "sysmon_connect kr1 --appkey-env NOPE")


def test_connect_to_any_prometheus_by_url(shell, demo_server, capsys):
    run(shell, f"sysmon_connect --url {demo_server.url}")
    frame = run(shell, "promql --instant --time 2026-11-08T12:00:00Z count(node_uname_info)")
    assert frame["value"].tolist() == [6.0]


def test_compress_asks_for_gzip_even_through_a_loopback_tunnel(shell, demo_server):
    run(shell, f"sysmon_connect --url {demo_server.url} --name tunnel --compress")
    magics = sysmon_magics(shell)
    assert magics.connections["tunnel"].client.compress
    frame = run(shell, "promql --instant --time 2026-11-08T12:00:00Z count(node_uname_info)")
    assert frame["value"].tolist() == [6.0]  # and the gzip answer reads as well
    run(shell, f"sysmon_connect --url {demo_server.url} --name local")
    assert not magics.connections["local"].client.compress


def test_rejected_appkey_is_a_short_message(shell, gateway, monkeypatch):
    sysmon_magics(shell).region_urls = {"kr1": gateway.url}
    monkeypatch.setenv("SYSMON_APPKEY", "wrong-appkey-wrong-appkey")
    with pytest.raises(
        UsageError, match=r"appkey was rejected .*HTTP 401.*URL & Appkey.*--appkey-env VAR"
    ):
        run(shell, "sysmon_connect kr1")
    monkeypatch.setenv("SYSMON_APPKEY", FORBIDDEN_APPKEY)
    with pytest.raises(UsageError, match=r"not accessible with this appkey \(HTTP 403"):
        run(shell, "sysmon_connect kr1")
    assert sysmon_magics(shell).connections == {}  # nothing half-connected


def test_unknown_region_lists_the_regions(shell):
    with pytest.raises(
        UsageError, match=r"Unknown region 'kr9'.*kr1.*kr2.*us1.*jp1.*gov.*give --url for"
    ):
        run(shell, "sysmon_connect kr9")


def test_unreachable_host_names_the_host(shell):
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(
        UsageError, match=rf"Cannot connect to 127.0.0.1:{port} \(connection refused\)"
    ):
        run(shell, f"sysmon_connect --url http://127.0.0.1:{port}")


def test_appkey_never_goes_over_plain_http_to_another_host(shell, canary_env):
    sysmon_magics(shell).region_urls = {"kr1": "http://example.invalid"}
    with pytest.raises(UsageError, match="plain http"):
        run(shell, "sysmon_connect kr1")


def test_errors_in_a_cell_are_one_line_not_a_traceback(shell, capsys):
    result = shell.run_cell("%promql up")
    assert isinstance(result.error_in_exec, UsageError)
    err = capsys.readouterr().err
    assert "UsageError: Not connected: run %sysmon_connect" in err
    assert "Traceback" not in err


# -- %%promql / %promql ----------------------------------------------------------------------


def test_known_rate_over_the_default_window(connected):
    frame = run(connected, "promql", CPU_PER_CORE)
    info = frame.attrs["promql"]
    assert info["end"] == demo.DEMO_END and info["start"] == demo.DEMO_END - 3600
    assert info["step"] == 60  # 1h / 1000 points is 5 s, but the data has a sample a minute
    assert info["result_type"] == "matrix" and info["source"] == "demo"
    assert list(frame.columns) == ["timestamp", "cpu", "instance", "value"]
    assert frame["instance"].nunique() == 6 and frame["cpu"].nunique() == 2
    assert len(frame) == 12 * 61
    assert frame["value"].to_numpy() == pytest.approx(1.0, abs=1e-9)
    assert str(frame["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert frame["timestamp"].max() == pd.Timestamp("2026-11-09T00:00:00Z")


def test_wide_format_and_explicit_window(connected):
    frame = run(
        connected,
        "promql --start 2026-11-08T00:00:00Z --end 2026-11-08T01:00:00Z --step 1m --format wide",
        CPU_PER_CORE,
    )
    assert frame.shape == (61, 12)
    assert frame.columns.names == ["cpu", "instance"]
    assert frame.index[0] == pd.Timestamp("2026-11-08T00:00:00Z")
    assert frame.to_numpy() == pytest.approx(1.0, abs=1e-9)


def test_instant_query_one_row_per_series(connected):
    frame = run(connected, "promql --instant", 'node_uname_info{job="node"}')
    assert len(frame) == 6 and frame.attrs["promql"]["time"] == demo.DEMO_END
    assert {"nodename", "release", "sysname", "openmetrics_id"} <= set(frame.columns)
    at = run(connected, "promql --instant --time now-1d count(node_uname_info)")
    assert at.attrs["promql"]["time"] == demo.DEMO_END - 86400 and at["value"].tolist() == [6.0]


def test_line_form_returns_the_frame_and_output_stores_it(connected, capsys):
    frame = run(connected, "promql --range 12h count by (job) (node_load1)")
    assert frame.attrs["promql"]["step"] == 60  # 43.2 s rounds up to 1m
    capsys.readouterr()
    assert run(connected, "promql -o t_cpu --range 10m", CPU_PER_CORE) is None
    out = capsys.readouterr().out
    assert out.startswith(
        "t_cpu: demo (the local demo server) · 2026-11-08T23:50:00Z to 2026-11-09T00:00:00Z · "
        "step 1m · 12 series, 132 samples · live, "
    )
    assert len(connected.user_ns["t_cpu"]) == 132


def test_templating_from_the_namespace_and_grafana_macros(connected):
    connected.user_ns["t_mode"] = "idle"
    connected.user_ns["job"] = "IPython must not expand {job}"
    frame = run(
        connected,
        "promql --range 1h --step 1m",
        'sum by (job) (rate(node_cpu_seconds_total{job="node", mode="$t_mode"}[$__rate_interval]))',
    )
    query = frame.attrs["promql"]["query"]
    assert query == 'sum by (job) (rate(node_cpu_seconds_total{job="node", mode="idle"}[4m]))'
    del connected.user_ns["job"]


class Counted:
    """A template variable that counts how often the query is templated."""

    def __init__(self) -> None:
        self.reads = 0

    def __str__(self) -> str:
        self.reads += 1
        return "node"


@pytest.mark.parametrize(
    "line",
    [
        "promql --range 10m --show-query",
        "promql --instant --show-query",
        "promql --explain --show-query --time 2026-11-08T12:00:00Z",
    ],
)
def test_every_mode_templates_the_query_once(connected, line, monkeypatch):
    # Each mode once repeated "template the query, then show it" on a branch of its own.
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", shown.append)
    connected.user_ns["t_job"] = counted = Counted()
    run(connected, line, 'count(node_load1{job="$t_job"})')
    assert counted.reads == 1
    assert [repr(query) for query in shown] == ['count(node_load1{job="node"})']


def test_long_queries_go_as_form_posts(via_gateway, gateway):
    padding = "|".join(f"not-a-host-{i}" for i in range(200))
    query = f'count(node_uname_info{{instance=~"web-01:9100|{padding}"}})'
    assert len(query) > 2000
    gateway.requests.clear()
    frame = run(via_gateway, "promql --instant --time 2026-11-08T12:00:00Z", query)
    assert frame["value"].tolist() == [1.0]
    assert list(gateway.requests) == [("POST", "/prometheus/api/v1/query")]


def test_bad_promql_shows_the_servers_positioned_message(connected):
    with pytest.raises(UsageError, match=r"Bad query: .*1:\d+: parse error"):
        run(connected, "promql", "sum(rate(x[5m])")


def test_a_step_too_small_names_the_smallest_that_works(connected):
    # Up to 100 windows of 11,001 points are fetched (split); beyond that, a clear refusal.
    with pytest.raises(UsageError, match=r"2,592,001 points.*step of 2s357ms or more \(--step\)"):
        run(connected, "promql --range 30d --step 1s up")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("promql --format long up", "invalid choice"),
        ("promql --range 6hours up", "duration"),
        ("promql --start 1793923200000 up", "milliseconds"),
        ("promql --instant --start now-1h up", "--instant takes --time"),
        ("promql --range 1h --start now-1h up", "Give either --range or --start, not both"),
        ("promql --end now up", "--end needs --start or --range"),
        ("promql -o 1x up", "Python variable name"),
        ("promql --conn nope up", "No connection named 'nope'"),
        ("promql ", "No query"),
        ("promql $undefined_thing", r"Undefined template variable \$undefined_thing"),
    ],
)
def test_bad_options_are_usage_errors(connected, line, message):
    with pytest.raises(UsageError, match=message):
        run(connected, line)


def test_cell_line_holds_only_options(connected):
    with pytest.raises(UsageError, match="put the query in the cell's body"):
        run(connected, "promql --range 1h up", "up")


def test_timeout_is_sent_to_prometheus(connected):
    frame = run(connected, "promql --instant --timeout 30s vector(1)")
    assert frame["value"].tolist() == [1.0]


def test_empty_result_is_an_empty_frame_and_one_line(connected, capsys):
    frame = run(connected, "promql", 'node_load1{job="does-not-exist"}')
    assert len(frame) == 0 and list(frame.columns) == ["timestamp", "value"]
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == (
        "No series: the query matched nothing from 2026-11-08T23:00:00Z to 2026-11-09T00:00:00Z."
    )


def test_a_misspelled_metric_gets_the_closest_names(connected, capsys):
    frame = run(connected, "promql --range 1h --plot -o t_typo", "rate(node_cpu_second_total[5m])")
    assert frame is None and len(connected.user_ns["t_typo"]) == 0
    assert capsys.readouterr().out.splitlines()[-2:] == [
        "No series: the query matched nothing from 2026-11-08T23:00:00Z to "
        "2026-11-09T00:00:00Z. There is no metric node_cpu_second_total on demo in that window: "
        "did you mean "
        "node_cpu_seconds_total?",
        "<plot: no data>",
    ]
    run(connected, "promql --instant --time 2026-11-05T06:00:00Z", "nothing_like_any_metric_xyz")
    assert capsys.readouterr().out.splitlines()[-1] == (
        "No series: the query matched nothing at 2026-11-05T06:00:00Z. There is no metric "
        "nothing_like_any_metric_xyz on demo at that time."
    )


def test_an_existing_metric_is_not_called_missing(connected, capsys):
    run(
        connected,
        "promql --start 2026-11-02T00:00:00Z --end 2026-11-02T01:00:00Z",
        "node_load1 > 100",
    )
    assert capsys.readouterr().out.splitlines()[-1].endswith("to 2026-11-02T01:00:00Z.")


def test_scalar_and_string_results(connected):
    scalar = run(connected, "promql --instant scalar(count(node_uname_info))")
    assert scalar["value"].tolist() == [6.0]
    string = run(connected, 'promql --instant "hello"')
    assert string["value"].tolist() == ["hello"]


def test_nan_and_inf_values(connected):
    frame = run(connected, "promql --instant vector(0) / vector(0) or vector(1) / vector(0)")
    assert math.isnan(frame["value"].iloc[0])
    frame = run(connected, "promql --instant -vector(1) / vector(0)")
    assert frame["value"].tolist() == [-math.inf]


def test_show_query_draws_a_subquery_without_an_error_token(connected, monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", shown.append)
    query = "max_over_time(rate(node_cpu_seconds_total[5m])[6h:30s])"
    run(connected, "promql --instant --show-query -o t_q", query)
    (highlighted,) = shown
    html = highlighted._repr_html_()
    assert "[6h:30s]" not in html and "30s" in html  # tokens, each in its span
    assert "#FF0000" not in html.upper()  # Pygments draws Error tokens in a red box


# -- the scrape interval ---------------------------------------------------------------------


def test_regions_and_the_demo_sample_every_minute(via_gateway, shell):
    assert sysmon_magics(shell).connections["kr1"].client.scrape_interval == 60
    run(shell, "sysmon_connect demo")
    assert sysmon_magics(shell).connections["demo"].client.scrape_interval == 60
    frame = run(shell, "promql --range 1h --step 15s", "node_load1")  # explicit: the user's
    assert frame.attrs["promql"]["step"] == 15


def test_a_url_connection_measures_its_scrape_interval(shell, demo_server, capsys):
    run(shell, f"sysmon_connect --url {demo_server.url} --now 2026-11-09T00:00:00Z --name m")
    assert capsys.readouterr().out.endswith("; samples every 1m (measured).\n")
    frame = run(shell, "promql --range 1h", "rate(node_load1[$__rate_interval])")
    assert frame.attrs["promql"]["step"] == 60
    assert frame.attrs["promql"]["query"] == "rate(node_load1[4m])"  # 4 x the interval


def test_a_given_scrape_interval_is_used_and_an_unknown_one_said(shell, demo_server, capsys):
    run(
        shell,
        f"sysmon_connect --url {demo_server.url} --now 2026-11-09T00:00:00Z --scrape-interval 2m",
    )
    assert (
        sysmon_magics(shell).connections[demo_server.url.split("/")[2]].client.scrape_interval
        == 120
    )
    frame = run(shell, "promql --range 1h", "node_load1")
    assert frame.attrs["promql"]["step"] == 120
    capsys.readouterr()
    run(shell, f"sysmon_connect --url {demo_server.url} --now 2020-01-01T00:00:00Z --name old")
    assert capsys.readouterr().out.endswith(
        "; scrape interval unknown (no recent samples to measure it from), 15s assumed: give "
        "--scrape-interval.\n"
    )


def test_a_recording_keeps_the_scrape_interval_for_its_replay(shell, demo_server, tmp_path):
    path = tmp_path / "r.promql.json"
    run(shell, f"sysmon_connect --url {demo_server.url} --now 2026-11-09T00:00:00Z --record {path}")
    live = run(shell, "promql --range 1h node_load1")
    run(shell, f"sysmon_connect --replay {path} --name again")
    assert sysmon_magics(shell).connections["again"].client.scrape_interval == 60
    assert run(shell, "promql --range 1h node_load1").equals(live)


# -- metadata magics -------------------------------------------------------------------------


def test_series(connected):
    frame = run(connected, "promql_series node_uname_info --range 1d")
    assert len(frame) == 6
    assert list(frame.columns[:1]) == ["__name__"]
    assert {"domainname", "machine", "nodename", "release", "sysname", "version"} <= set(frame)


def test_labels_and_label_values(connected):
    names = run(connected, "promql_labels")
    assert {"__name__", "instance", "job", "openmetrics_id", "cpu", "mode"} <= set(names)
    hosts = run(connected, 'promql_labels instance --match node_load1{job="node"}')
    assert len(hosts) == 6 and all(h.endswith(":9100") for h in hosts)
    modes = run(connected, "promql_labels mode")
    assert "idle" in modes and "user" in modes


def test_metadata(connected):
    frame = run(connected, "promql_metadata node_cpu_seconds_total")
    assert frame[["metric", "type"]].values.tolist() == [["node_cpu_seconds_total", "counter"]]
    everything = run(connected, "promql_metadata")
    assert {"node_memory_MemAvailable_bytes", "http_requests_total"} <= set(everything["metric"])


def test_help_and_config(shell, capsys):
    shell.run_line_magic("config", "SysmonMagics")
    out = capsys.readouterr().out
    for option in ("default_range", "max_points", "region_urls", "max_plot_series", "timeout"):
        assert option in out
    doc = sysmon_magics(shell).promql.__doc__
    assert "--range DUR" in doc and "Examples" in doc and "$__rate_interval" in doc
    for magic in ("promql", "sysmon_connect", "promql_series", "promql_labels"):
        help_text = getattr(sysmon_magics(shell), magic).__doc__
        assert "::" not in help_text and "``" not in help_text, magic  # no raw reST in %magic?


def test_max_plot_series_is_checked_when_set(shell):
    from traitlets import TraitError

    with pytest.raises(TraitError, match="1 to 40"):
        sysmon_magics(shell).max_plot_series = 41


def test_gateway_serves_only_the_documented_endpoints(gateway):
    import requests

    headers = {"X-TC-APP-KEY": CANARY_APPKEY}
    base = gateway.url + "/prometheus/api/v1"
    assert requests.get(f"{base}/query?query=1", headers=headers).status_code == 200
    assert requests.get(f"{base}/status/buildinfo", headers=headers).status_code == 404
    assert requests.post(f"{base}/metadata", headers=headers).status_code == 405
    answer = requests.get(f"{base}/labels")
    assert answer.status_code == 401
    assert answer.json()["header"]["isSuccessful"] is False


# -- plots and the explorer ------------------------------------------------------------------


def test_plot_draws_and_still_returns_the_frame(connected, monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", shown.append)
    sysmon_magics(connected).timezone = "Asia/Seoul"
    try:
        frame = run(connected, "promql --range 1h --plot --legend '{{instance}}!'", "node_load1")
    finally:
        sysmon_magics(connected).timezone = "UTC"
    assert isinstance(frame, pd.DataFrame) and frame["instance"].nunique() == 6
    (image,) = shown
    assert image._repr_png_().startswith(b"\x89PNG") and repr(image) == "<plot: 6 series>"
    ax = image.figure.axes[0]
    assert [line.get_label() for line in ax.get_lines()] == [
        f"{demo.data.node_instance(h)}!" for h in sorted(demo.HOSTS)
    ]
    assert ax.get_xlabel() == "time (Asia/Seoul)"
    import matplotlib.dates as mdates

    last = mdates.num2date(ax.get_lines()[0].get_xdata()[-1])  # wall-clock time in Seoul
    assert last.replace(tzinfo=None) == pd.Timestamp("2026-11-09T09:00")


def test_plot_with_o_shows_the_line_about_the_frame_first(connected, monkeypatch, capsys):
    import IPython.display

    order = []
    monkeypatch.setattr(IPython.display, "display", lambda image: order.append(repr(image)))
    monkeypatch.setattr("builtins.print", lambda *a, **k: order.append(" ".join(map(str, a))))
    assert run(connected, "promql --range 1h --plot -o load", "node_load1") is None
    assert [line.split(":")[0] for line in order] == ["load", "<plot"]
    assert connected.user_ns["load"]["instance"].nunique() == 6


def test_explore_returns_the_explorer_and_o_stores_it(connected, capsys):
    from sysmon_magic.explorer import Explorer

    explorer = run(connected, "promql --range 6h --explore", "node_load1")
    assert isinstance(explorer, Explorer)
    assert explorer.summary.value.startswith("6 / 6 series shown")
    shown = run(connected, "promql --explore -o t_explorer node_load1")
    assert shown is connected.user_ns["t_explorer"]  # stored, and still shown
    assert isinstance(shown, Explorer)
    out = capsys.readouterr().out
    assert "t_explorer: demo (the local demo server) · " in out and "6 series, 366 samples" in out


def test_server_warnings_are_shown(shell, capsys):
    from tests.test_client import Literal

    server = Literal()
    with server.running():
        server.answer(
            200, {"status": "success", "data": {"resultType": "scalar", "result": [1, "1"]}}
        )
        run(shell, f"sysmon_connect --url {server.url}")
        server.answer(
            200,
            {
                "status": "success",
                "data": {"resultType": "vector", "result": []},
                "warnings": ["partial response: store 2 unreachable"],
            },
        )
        run(shell, "promql --instant x")
    assert "Server: partial response: store 2 unreachable" in capsys.readouterr().err


def test_the_demo_behind_a_gateway_uses_the_appkey(shell, demo_server, canary_env, capsys):
    magics = sysmon_magics(shell)
    magics.demo_gateway = True
    try:
        run(shell, "sysmon_connect demo")
        frame = run(shell, "promql --instant count(node_uname_info)")
        assert frame["value"].tolist() == [6.0]
        gateway = magics.connections.gateway
        assert gateway is not None and gateway.requests[-1] == ("GET", "/prometheus/api/v1/query")
    finally:
        magics.demo_gateway = False
        magics.connections.clear()  # and the gateway with them
    out = capsys.readouterr().out
    assert "through an NHN-style gateway with appkey ****4068" in out
    assert_no_canary(out)
