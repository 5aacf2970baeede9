"""--explain, completions and --show-query through a real shell against the demo server."""

from __future__ import annotations

import pytest
from IPython.core.completer import provisionalcompleter
from IPython.core.error import UsageError

from sysmon_magic.completion import FUNCTIONS
from sysmon_magic.explain import explain
from tests.conftest import sysmon_magics
from tests.test_magics import run

QUERY = 'sum by (instance) (rate(http_requests_total{code=~"5.."}[5m])) > 0.1'


def test_explain_tree_meanings_and_series_counts(connected):
    explanation = run(connected, "promql --explain --time 2026-11-05T06:00:00Z", QUERY)
    rows = [(n.depth, n.kind, n.series) for n in explanation.nodes]
    assert rows == [
        (0, "binary operator", 1),  # only web-03 is above 0.1 errors/s then
        (1, "aggregation", 4),
        (2, "function", 16),  # 4 web hosts x codes 500, 503 x 2 handlers
        (3, "range selector", 16),
        (4, "selector", 16),
        (1, "number", None),
    ]
    assert explanation.nodes[1].meaning == (
        "Adds up the series per distinct instance, dropping every other label."
    )
    assert explanation.nodes[3].probe == 'last_over_time(http_requests_total{code=~"5.."}[5m])'
    assert "matches '5..'" in explanation.nodes[4].meaning
    assert "<table>" in explanation._repr_html_() and "aggregation" in repr(explanation)


def test_explain_syntax_errors_keep_the_servers_position(shell, gateway, canary_env):
    sysmon_magics(shell).region_urls = {"kr1": gateway.url}
    run(shell, "sysmon_connect kr1")
    gateway.requests.clear()  # a bounded log: its length alone stops changing once full
    with pytest.raises(
        UsageError,
        match=r"^PromQL syntax error at line 1, column 16: unclosed left parenthesis: "
        r"sum\(rate\(x\[5m\]\)⟨here⟩$",
    ):
        run(shell, "promql --explain", "sum(rate(x[5m])")
    # The server is the authority on syntax: the query was asked once, whole, and nothing else.
    assert [path for _, path in gateway.requests] == ["/prometheus/api/v1/query"]


def test_the_servers_message_shows_when_it_disagrees(demo_server):
    from sysmon_magic import Client

    with Client(demo_server.url, now=demo_server.now) as client:
        # Valid syntax for the parser, refused by Prometheus 2.42 (no such function there).
        explanation = explain("limitk(2, node_load1)", client)
    assert explanation.nodes[0].error == (
        'Bad query: invalid parameter "query": 1:1: parse error: unknown function with name '
        '"limitk"'
    )


def completions(shell, text: str) -> list[tuple[str, str]]:
    with provisionalcompleter():
        found = shell.Completer.completions(text, len(text))
        return [(c.text, c.type) for c in found]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("%%promql\nrate(node_cpu_sec", [("node_cpu_seconds_total", "metric")]),
        ("%%promql --range 1h\nsum by (inst", [("instance", "label")]),
        ("%%promql\nnode_cpu_seconds_total{mo", [("mode", "label")]),
        ('%%promql\nnode_cpu_seconds_total{mode="us', [("user", "value")]),
        ("df = %promql histogram_qu", [("histogram_quantile", "function")]),
        ("%promql node_uname_info{sysname=~'L", [("Linux", "value")]),  # PromQL's other quotes
    ],
)
def test_completions_through_the_shell(connected, text, expected):
    assert completions(connected, text) == expected


def test_label_values_are_narrowed_to_the_metric(connected):
    offered = completions(connected, '%%promql\nhttp_requests_total{instance="')
    assert [name for name, _ in offered] == [f"web-0{i}:8080" for i in range(1, 5)]


def test_function_names_complete_too(connected):
    offered = completions(connected, "%%promql\nsum(rat")
    assert ("rate", "function") in offered and "rate" in FUNCTIONS


def test_show_query_displays_the_templated_query(connected, monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", shown.append)
    connected.user_ns["t_host"] = "web-01:9100"
    run(connected, "promql --instant --show-query", 'node_load1{instance="$t_host"}')
    (query,) = shown
    assert repr(query) == 'node_load1{instance="web-01:9100"}'
    assert "<span" in query._repr_html_()
