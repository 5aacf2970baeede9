"""Template variables and Grafana macros, on literals."""

import pytest

from sysmon_magic.errors import SysmonUsageError
from sysmon_magic.templating import expand, grafana_macros, rate_interval


def test_variables_bare_and_braced():
    variables = {"job": "node", "host": "web-01:9100"}
    query = 'up{job="$job", instance="${host}"}'
    assert expand(query, variables) == 'up{job="node", instance="web-01:9100"}'


def test_braces_and_regex_anchors_are_left_alone():
    query = 'rate(x{path=~"^/api$", code!~"5.."}[5m]) > 0'
    assert expand(query, {}) == query


def test_double_dollar_is_a_literal_dollar():
    assert expand('x{a=~"b$$job"}', {"job": "no"}) == 'x{a=~"b$job"}'


def test_lists_become_escaped_alternations():
    assert expand('x{i=~"$hosts"}', {"hosts": ["web-01:9100", "a.b"]}) == (
        'x{i=~"(web-01:9100|a\\\\.b)"}'
    )
    assert expand('x{i=~"$h"}', {"h": ["only"]}) == 'x{i=~"only"}'
    with pytest.raises(SysmonUsageError, match="empty list"):
        expand("$h", {"h": []})


def test_undefined_variables_are_named():
    with pytest.raises(SysmonUsageError, match=r"\$nope, \$other"):
        expand("$nope + ${other} + $nope", {})


def test_grafana_macros():
    macros = grafana_macros(range_seconds=6 * 3600, step=30, scrape_interval=60)
    assert macros["__range"] == "6h"
    assert macros["__range_s"] == "21600"
    assert macros["__interval"] == "30s"
    assert macros["__interval_ms"] == "30000"
    assert macros["__rate_interval"] == "4m"  # max(30 + 60, 4 * 60)
    query = "rate(x[$__rate_interval]) * $__range_s / ${__interval_ms}"
    assert expand(query, {"__range": "shadowed"}, macros) == "rate(x[4m]) * 21600 / 30000"


def test_rate_interval():
    assert rate_interval(15, 60) == 240
    assert rate_interval(600, 60) == 660
