"""--explain's sentences, label counts, metadata and match groups: pure functions on literals,
then the whole tree against the demo Prometheus."""

from __future__ import annotations

import promql_parser
import pytest

from sysmon_magic import Client
from sysmon_magic.errors import SysmonUsageError
from sysmon_magic.explain import (
    binary_meaning,
    explain,
    label_counts,
    match_groups,
    shown,
    syntax_error,
)

INCIDENT = 1793858400.0  # 2026-11-05T06:00:00Z, web-03 thrashing


def meaning(query: str) -> str:
    return binary_meaning(promql_parser.parse(query))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            "node_memory_MemTotal_bytes / 2^30",
            "Divides each series' value by 2 ^ 30; every series is kept, without its metric name.",
        ),
        ("2 ^ 30", "Raises 2 to the power of 30: a number."),
        (
            "1 - node_load1",
            "Subtracts each series' value from 1; every series is kept, without its metric name.",
        ),
        (
            "100 * node_load1",
            "Multiplies each series' value by 100; every series is kept, without its metric name.",
        ),
        (
            "1 < node_load1",
            "Keeps the series whose value is > 1 (a filter: values and labels, metric name "
            "included, are unchanged).",
        ),
        (
            "node_load1 > bool 1",
            "1 for each series where value > 1, 0 where not: bool keeps every series, without "
            "its metric name.",
        ),
        (
            "a / on (instance) b",
            "Divides each left series' value by that of the right series with the same "
            "instance. The result keeps only instance (one-to-one matching with on).",
        ),
        (
            "a - ignoring (code) b",
            "Subtracts that of the right series with the same labels apart from code from each "
            "left series' value. The result has the left series' labels without code, without "
            "the metric name.",
        ),
        (
            "node_load1 * on (instance) group_left (release) node_uname_info",
            "Multiplies each left series' value by that of the right series with the same "
            "instance. Many-to-one (group_left): several left series may share one right "
            "series; the result keeps the left series' labels, without the metric name, and "
            "copies release from the right side.",
        ),
        (
            "a > b",
            "Keeps the left series whose value is > that of the right series with the same "
            "labels. The result has the left series' labels.",
        ),
        (
            "a unless on (instance) b",
            "Keeps the left series that have no right series with the same instance; values "
            "and labels are the series' own.",
        ),
    ],
)
def test_binary_operators_say_what_they_do(query, expected):
    assert meaning(query) == expected


def test_count_values_names_its_new_label():
    (node, *_) = explain('count_values("load", round(node_load1))').nodes
    assert node.meaning == (
        "Counts how many series have each distinct value: one result per value, which goes into "
        "a new label load; the result's value is the count."
    )


def test_topk_and_label_replace_keep_the_metric_name_in_their_sentences():
    topk = explain("topk(3, node_load1)").nodes[0].meaning
    replace = explain('label_replace(node_load1, "h", "$1", "instance", "(.*):.*")').nodes[0]
    assert topk == "Keeps the 3 largest of the series, labels and metric name kept."
    assert "metric name is kept" in replace.meaning


def test_the_query_is_shown_without_the_parsers_empty_braces():
    parsed = promql_parser.parse('sum(node_load1) + label_replace(up, "x", "{}", "", "")')
    assert shown(parsed) == 'sum(node_load1) + label_replace(up, "x", "{}", "", "")'


def test_label_counts_count_distinct_values_and_rank_the_top_ones():
    counts = label_counts(
        [{"instance": "a", "code": "200"}, {"instance": "b", "code": "200"}, {"instance": "a"}]
    )
    assert [(c.name, c.distinct, c.top) for c in counts] == [
        ("code", 1, [("200", 2)]),
        ("instance", 2, [("a", 2), ("b", 1)]),
    ]


LEFT = [
    {"__name__": "cpu", "instance": "a", "mode": "user"},
    {"__name__": "cpu", "instance": "a", "mode": "idle"},
    {"__name__": "cpu", "instance": "b", "mode": "user"},
]
RIGHT = [{"__name__": "load", "instance": "a"}, {"__name__": "load", "instance": "c"}]


def test_match_groups_find_pairs_and_lonely_series():
    matching = match_groups(LEFT[:1] + LEFT[2:], RIGHT, on=["instance"])
    assert [(g.signature, g.status) for g in matching.groups] == [
        ({"instance": "a"}, "paired"),
        ({"instance": "b"}, "no partner on the right"),
        ({"instance": "c"}, "no partner on the left"),
    ]
    assert matching.diagnosis is None
    assert matching.summary == (
        "3 match groups: 1 paired (1 left with 1 right series), 0 with too many series on one "
        "side; 1 left and 1 right series found no partner (dropped from the result)."
    )


def test_several_left_series_in_one_to_one_matching_suggest_group_left():
    matching = match_groups(LEFT, RIGHT, on=["instance"])
    assert matching.groups[0].status == "several on the left"
    assert matching.groups[1].status == "no partner on the right"  # b alone: no error
    assert matching.fixes == [
        "if each right series should serve several left ones, allow it with group_left() "
        "(many-to-one)",
        "aggregate the left side to one series per group: sum by (instance) (...)",
        "match on more labels, so that each group holds one series per side (they differ in mode)",
    ]


def test_group_left_needs_one_right_series_per_group():
    right = [*RIGHT, {"__name__": "load", "instance": "a", "job": "x"}]
    matching = match_groups(LEFT, right, on=["instance"], card="many-to-one")
    assert matching.groups[0].status == "several on the right"
    assert "group_left" not in " ".join(matching.fixes)


def test_no_pairs_at_all_points_at_the_labels_whose_values_differ():
    left = [{"instance": "web-01:8080", "job": "api", "id": "1"}]
    right = [{"instance": "web-01:9100", "job": "node", "id": "1"}]
    matching = match_groups(left, right)
    assert (
        matching.diagnosis == "No left series found a partner on the right: no label set matched."
    )
    assert matching.fixes == [
        "instance never has the same value on both sides (left 'web-01:8080', right "
        "'web-01:9100'): leave it out of the match",
        "job never has the same value on both sides (left 'api', right 'node'): leave it out of "
        "the match",
        "match on the labels whose values the sides share: on (id)",
    ]


def test_set_operators_match_many_to_many():
    matching = match_groups(LEFT, RIGHT, on=["instance"], card="many-to-many", op="and")
    assert matching.groups[0].status == "paired" and matching.diagnosis is None


def test_a_server_syntax_error_keeps_its_position():
    error = syntax_error(
        'node_load1{instance="a"', 'invalid parameter "query": 1:24: parse error: unexpected end'
    )
    assert str(error) == (
        'PromQL syntax error at line 1, column 24: unexpected end: node_load1{instance="a"⟨here⟩'
    )
    assert syntax_error("x", "execution: many-to-many") is None


def test_without_a_server_a_syntax_error_is_the_parsers():
    with pytest.raises(SysmonUsageError, match=r"^PromQL syntax error: unclosed left parenthesis"):
        explain("sum(rate(x[5m])")


# -- against the demo Prometheus -------------------------------------------------------------


@pytest.fixture
def client(demo_server):
    with Client(demo_server.url, now=demo_server.now) as connected:
        yield connected


def test_each_node_lists_its_labels_with_their_distinct_values(client):
    nodes = explain(
        'sum by (instance, code) (rate(http_requests_total{code=~"5.."}[5m]))', client, INCIDENT
    ).nodes
    assert [str(label) for label in nodes[0].labels] == ["code (2)", "instance (4)"]
    selector = nodes[-1]
    assert [str(label) for label in selector.labels] == [
        "__name__ (1)",
        "code (2)",
        "handler (2)",
        "instance (4)",
        "job (1)",
        "method (2)",
        "openmetrics_id (4)",
    ]
    code = next(label for label in selector.labels if label.name == "code")
    assert code.top == [("500", 8), ("503", 8)]
    assert (
        "<span title='500 (8), 503 (8)'>code (2)</span>"
        in explain('http_requests_total{code=~"5.."}', client, INCIDENT)._repr_html_()
    )


def test_selectors_show_the_metrics_type_and_help(client):
    (node,) = explain("http_requests_total", client, INCIDENT).nodes
    assert node.metadata == (
        "http_requests_total is a counter: Total number of HTTP requests by handler, method and "
        "status code."
    )
    assert "is a counter" in repr(explain("http_requests_total", client, INCIDENT))


def test_rate_of_a_gauge_and_quantiles_without_le_are_warned_about(client):
    rate = explain("rate(node_load1[5m])", client, INCIDENT).nodes[0]
    assert rate.warnings == [
        "node_load1 is a gauge: rate() is for counters; deriv() or delta() measure how a gauge "
        "changes."
    ]
    quantile = explain(
        "histogram_quantile(0.9, sum(rate(http_request_duration_seconds_bucket[5m])))",
        client,
        INCIDENT,
    ).nodes[0]
    assert quantile.series == 0 and "no le label" in quantile.warnings[0]


def test_group_left_pairs_every_host_and_copies_release(client):
    node = explain(
        "node_load1 * on (instance) group_left (release) node_uname_info", client, INCIDENT
    ).nodes[0]
    assert node.matching is not None
    assert node.matching.count("paired") == 6 and node.matching.diagnosis is None
    assert "release" in {label.name for label in node.labels}  # copied, as the sentence says


def test_a_join_with_no_match_names_the_label_that_would_join(client):
    node = explain("http_requests_total / node_load1", client, INCIDENT).nodes[0]
    assert node.series == 0 and node.matching is not None
    assert node.matching.fixes[-1] == (
        "match on the labels whose values the sides share: on (openmetrics_id) group_left"
    )
    # ... and that fix really joins them: every request series finds its host's load.
    fixed = explain(
        "http_requests_total / on (openmetrics_id) group_left node_load1", client, INCIDENT
    ).nodes[0]
    assert fixed.error is None and fixed.series == 32 and fixed.matching.count("paired") == 4


def test_the_many_to_many_error_is_explained_by_its_match_groups(client):
    node = explain("node_cpu_seconds_total / on (instance) node_load1", client, INCIDENT).nodes[0]
    assert "many-to-one matching must be explicit" in (node.error or "")
    assert node.matching is not None and node.matching.count("several on the left") == 6
    assert node.matching.fixes[0].endswith("allow it with group_left() (many-to-one)")
    grouped = explain(
        "node_cpu_seconds_total / on (instance) group_left node_load1", client, INCIDENT
    ).nodes[0]
    assert grouped.error is None and grouped.series == 96  # the fix the explanation offered


def test_a_query_only_the_client_parser_refuses_is_run_whole(client):
    # promql-parser lags Prometheus: it does not know 2.42's holt_winters(); the server does.
    (node,) = explain("holt_winters(node_load1[1h], 0.5, 0.5)", client, INCIDENT).nodes
    assert node.kind == "query" and node.series == 6 and node.error is None
    assert node.meaning.startswith("promql-parser cannot split this query (unknown function")


def test_a_real_syntax_error_takes_the_servers_position(client):
    with pytest.raises(
        SysmonUsageError,
        match=r'^PromQL syntax error at line 1, column 7: unexpected identifier "world": '
        r"hello ⟨here⟩world$",
    ):
        explain("hello world", client, INCIDENT)
