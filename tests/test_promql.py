"""Finding selectors and adding matchers in PromQL text, on literals."""

import pytest

from sysmon_magic.promql import add_matchers, escape_regex, metric_names, orders_its_result


@pytest.mark.parametrize(
    ("query", "name"),
    [
        (
            'sum by (instance) (rate(node_cpu_seconds_total{mode!="idle"}[5m]))',
            "node_cpu_seconds_total",
        ),
        (
            "node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes",
            "node_memory_MemAvailable_bytes",
        ),
        ("histogram_quantile(0.9, sum by (le) (rate(x_bucket[5m])))", "x_bucket"),
        ("rate(x[5m] offset 1h)", "x"),
        ("sum(up) by (job) > bool 0", "up"),
        ('{job="node"}', None),
        ("vector(1) + scalar(time())", None),
        ('label_replace(up, "dst", "$1", "src", "(.*)")', "up"),
    ],
)
def test_the_first_metric_a_query_names(query, name):
    assert (metric_names(query) or [None])[0] == name


def test_every_metric_a_query_names_once():
    assert metric_names("rate(a_total[5m]) / rate(b_total[5m]) + a_total") == ["a_total", "b_total"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            'sum by (instance) (rate(cpu{mode=~"user|system"}[5m]))',
            'sum by (instance) (rate(cpu{mode=~"user|system", instance="web-03:9100"}[5m]))',
        ),
        (
            "a / on (instance) b",
            'a{instance="web-03:9100"} / on (instance) b{instance="web-03:9100"}',
        ),
        ('{job="x"}', '{job="x", instance="web-03:9100"}'),
        ("up{}", 'up{instance="web-03:9100"}'),
        ("count(up) by (instance)", 'count(up{instance="web-03:9100"}) by (instance)'),
        ('x{a="{b}"}', 'x{a="{b}", instance="web-03:9100"}'),
    ],
)
def test_add_one_matcher_to_every_selector(query, expected):
    assert add_matchers(query, {"instance": ["web-03:9100"]}) == expected


def test_several_values_become_an_escaped_regex():
    query = add_matchers("up", {"instance": ["a.b:1", "c"], "job": []})
    assert query == 'up{instance=~"a\\\\.b:1|c"}'
    assert add_matchers("up", {}) == "up"


def test_escape_regex():
    assert escape_regex('a.b(c)"d') == 'a\\\\.b\\\\(c\\\\)\\"d'


def test_a_query_that_orders_its_result_is_known_by_its_functions():
    assert orders_its_result("sort_desc(rate(x[5m]))")
    assert orders_its_result("topk (3, up)")
    assert not orders_its_result("sum by (job) (up)")
    assert not orders_its_result('up{job="sort(x)"}')  # in a string: a label value
