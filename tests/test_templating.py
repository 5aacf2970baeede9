"""Template variables and Grafana macros, on literals."""

import re

import promql_parser
import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from sysmon_magic.errors import SysmonUsageError
from sysmon_magic.promql import escape_regex
from sysmon_magic.templating import Verbatim, expand, grafana_macros, rate_interval, references


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


def test_grafana_macros_with_a_query_interval_and_a_window():
    macros = grafana_macros(
        range_seconds=3600, step=60, scrape_interval=15, interval=20, start=1000.5, end=4600.5
    )
    assert macros["__interval"] == "1m"
    assert macros["__rate_interval"] == "1m" and macros["__rate_interval_ms"] == "60000"
    assert (macros["__from"], macros["__to"]) == ("1000500", "4600500")


def test_references_lists_each_name_once():
    query = 'rate(x{a="$a", b=~"${b:csv}"}[$__rate_interval]) + [[a]] + $$c + label_replace($1)'
    assert references(query) == ["a", "b", "__rate_interval"]


def test_a_verbatim_value_ignores_the_format_but_not_the_string():
    values = {"all": Verbatim(".*"), "odd": Verbatim('a"b')}
    assert expand('x{a=~"${all:regex}", b=~"$all"} or ${all:csv}', values) == (
        'x{a=~".*", b=~".*"} or .*'
    )
    assert expand('x{a=~"$odd"}', values) == 'x{a=~"a\\"b"}'  # escaped for the string


def test_rate_interval():
    assert rate_interval(15, 60) == 240
    assert rate_interval(600, 60) == 660


# --- Grafana's variable formats ---------------------------------------------------------------
# Expected texts are those of Grafana's docs ("Advanced variable format options") and of its
# format registry's tests (grafana/scenes formatRegistry.test.ts), outside any PromQL string.

SERVERS = ["test1", "test2"]


@pytest.mark.parametrize(
    ("reference", "single", "multi"),
    [
        ("$v", "test1", "(test1|test2)"),  # Prometheus' default: a multi value is a regex
        ("${v}", "test1", "(test1|test2)"),
        ("[[v]]", "test1", "(test1|test2)"),
        ("${v:regex}", "test1", "(test1|test2)"),
        ("${v:pipe}", "test1", "test1|test2"),
        ("${v:csv}", "test1", "test1,test2"),
        ("[[v:csv]]", "test1", "test1,test2"),
        ("${v:raw}", "test1", "test1,test2"),
        ("${v:doublequote}", '"test1"', '"test1","test2"'),
        ("${v:singlequote}", "'test1'", "'test1','test2'"),
        ("${v:json}", "test1", '["test1","test2"]'),
        ("${v:text}", "test1", "test1 + test2"),
        ("${v:join}", "test1", "test1,test2"),
        ("${v:join: | }", "test1", "test1 | test2"),
    ],
)
def test_formats_of_single_and_multi_values(reference, single, multi):
    assert expand(reference, {"v": "test1"}) == single
    assert expand(reference, {"v": SERVERS}) == multi
    assert expand(reference, {"v": ("test1", "test2")}) == multi
    assert expand(reference, {"v": {"test2", "test1"}}) == multi  # a set, sorted


def test_a_set_of_mixed_types_is_sorted_by_its_texts():
    # Sorting {"a", 1} itself is a TypeError; {1, "1"} has one text twice.
    assert expand("$v", {"v": {"a", 1}}) == "(1|a)"
    assert expand("$v", {"v": {1, "1", 2.5}}) == "(1|2\\.5)"


def test_formats_escape_as_grafana_does():
    assert expand("${v:regex}", {"v": "test."}) == "test\\."
    assert expand("${v:regex}", {"v": ["test.", "test2"]}) == "(test\\.|test2)"
    assert expand("${v:regex}", {"v": ["test."]}) == "test\\."
    assert expand("$v", {"v": ["test.1", "test2"]}) == "(test\\.1|test2)"
    assert expand("$v", {"v": "test.1"}) == "test.1"  # a single value is not a multi value
    assert expand("${v:pipe}", {"v": ["test1.", "test2"]}) == "test1.|test2"  # not escaped
    assert expand("${v:doublequote}", {"v": ["test", 'test"2']}) == '"test","test\\"2"'
    assert expand("${v:singlequote}", {"v": ["test", "test'2"]}) == "'test','test\\'2'"
    assert expand("${v:raw}", {"v": '#Æ³"Ä1"#!'}) == '#Æ³"Ä1"#!'
    assert expand("${v:raw}", {"v": [12, 13]}) == "12,13"


def test_quoting_formats_write_promql_string_literals():
    # Grafana escapes only the quote; a backslash must be escaped too, or PromQL refuses it.
    query = expand('label_join(up, "to", ",", ${v:doublequote})', {"v": ["job", 'a\\b"c']})
    assert query == 'label_join(up, "to", ",", "job","a\\\\b\\"c")'
    assert [arg.val for arg in promql_parser.parse(query).args[3:]] == ["job", 'a\\b"c']
    assert expand("sum by (${v:csv}) (up)", {"v": ["instance", "job"]}) == (
        "sum by (instance,job) (up)"
    )


def test_macros_in_every_form():
    macros = {"__range": "6h", "__interval": "30s"}
    query = "rate(x[$__range]) + rate(x[${__range}]) + rate(x[[[__interval]]]) ${__range:raw}"
    assert expand(query, {}, macros) == "rate(x[6h]) + rate(x[6h]) + rate(x[30s]) 6h"


def test_other_dollars_and_brackets_stay_as_written():
    query = 'label_replace(up, "dst", "$1-${1}", "src", "([[:alpha:]]+).*") # costs $5'
    assert expand(query, {}) == query


def test_unknown_formats_name_the_formats_that_exist():
    with pytest.raises(
        SysmonUsageError, match=r"\$\{v:nope\}: unknown variable format 'nope'"
    ) as e:
        expand('x{a=~"${v:nope}"}', {"v": SERVERS})
    assert "\n" not in str(e.value)
    for name in ("csv", "doublequote", "join", "json", "pipe", "raw", "regex", "singlequote"):
        assert name in str(e.value)
    with pytest.raises(SysmonUsageError, match=r"unknown variable format 'Regex'"):
        expand("[[v:Regex]]", {"v": "a"})


@pytest.mark.parametrize(
    ("name", "purpose"),
    [
        ("glob", "Graphite"),
        ("lucene", "Elasticsearch"),
        ("sqlstring", "SQL"),
        ("distributed", "OpenTSDB"),
        ("percentencode", "URLs"),
        ("queryparam", "URL query parameters"),
        ("html", "HTML"),
        ("date", "dates"),
    ],
)
def test_formats_for_other_data_sources_are_refused(name, purpose):
    with pytest.raises(SysmonUsageError, match=rf"{name} format is for {purpose}.*, not PromQL"):
        expand(f"${{v:{name}}}", {"v": SERVERS})


def test_format_arguments_and_field_paths_are_refused():
    with pytest.raises(SysmonUsageError, match="csv format takes no argument"):
        expand("${v:csv:x}", {"v": SERVERS})
    with pytest.raises(SysmonUsageError, match="field paths"):
        expand("${v.text}", {"v": SERVERS})


def test_a_multi_value_after_equals_is_refused():
    with pytest.raises(SysmonUsageError) as e:
        expand('up{instance="$hosts"}', {"hosts": ["a:9100", "b:9100"]})
    assert str(e.value) == (
        '$hosts holds 2 values, but instance="..." compares with one string: '
        'write instance=~"$hosts" to match any of them.'
    )
    with pytest.raises(SysmonUsageError, match=r'write job!~"\$\{j:regex\}" to match none'):
        expand('up{job != "${j:regex}"}', {"j": ["a", "b"]})
    with pytest.raises(SysmonUsageError, match=r"label='\.\.\.' .* label=~'\[\[j:pipe\]\]'"):
        expand("up{'job'='[[j:pipe]]'}", {"j": ["a", "b"]})  # a quoted (UTF-8) label name


def test_one_value_after_equals_matches_as_itself():
    assert expand('up{i="$h"}', {"h": ["a.b:9100"]}) == 'up{i="a.b:9100"}'
    assert expand('up{i!="$h"}', {"h": ["a.b"]}) == 'up{i!="a.b"}'
    assert expand('up{i=~"$h"}', {"h": ["a.b"]}) == 'up{i=~"a\\\\.b"}'  # a regex: escaped
    # An explicit format is what was asked for, even after "=".
    assert expand('up{i="${h:csv}"}', {"h": ["a", "b"]}) == 'up{i="a,b"}'


def test_values_in_strings_are_escaped_as_the_string_needs():
    assert expand('up{f="$p"}', {"p": 'C:\\x "y"'}) == 'up{f="C:\\\\x \\"y\\""}'
    assert expand("up{f='$p'}", {"p": 'it\'s "ok"'}) == "up{f='it\\'s \"ok\"'}"
    assert expand('up{f="$p"}', {"p": "two\nlines"}) == 'up{f="two\\nlines"}'
    assert expand("up{f=~`$p`}", {"p": ["a.b", 'c"d']}) == 'up{f=~`(a\\.b|c"d)`}'
    assert expand('up{f=~"${p:pipe}"}', {"p": ["a\\d+", "b"]}) == 'up{f=~"a\\\\d+|b"}'
    # raw is the escape hatch: exactly as given.
    assert expand('up{f="${p:raw}"}', {"p": 'x\\"y'}) == 'up{f="x\\"y"}'
    with pytest.raises(SysmonUsageError, match="backtick"):
        expand("up{f=~`$p`}", {"p": "a`b"})


def test_comments_and_other_strings_do_not_mislead_the_matcher():
    query = 'up{job=~"$j"} # a "quote $j\nor up{x="$one"}'
    assert expand(query, {"j": ["a.b", "c"], "one": ["x"]}) == (
        'up{job=~"(a\\\\.b|c)"} # a "quote (a\\.b|c)\nor up{x="x"}'
    )
    # A string that is no matcher's value (a function's argument) takes the default regex.
    query = 'label_replace(up{a!~\'$j\'}, "to", "$1", "from", "($j)")'
    assert expand(query, {"j": ["a", "b"]}) == (
        'label_replace(up{a!~\'(a|b)\'}, "to", "$1", "from", "((a|b))")'
    )


def test_arrays_are_multi_values():
    numpy = pytest.importorskip("numpy")
    assert expand('up{i=~"$h"}', {"h": numpy.array(["a.b", "c"])}) == 'up{i=~"(a\\\\.b|c)"}'
    assert expand("topk($k, up)", {"k": numpy.int64(3)}) == "topk(3, up)"


# --- valid PromQL that matches exactly the values ---------------------------------------------


def matcher_value(query: str) -> str:
    """The value of the first label matcher, as Prometheus' grammar unquotes it."""
    return promql_parser.parse(query).matchers.matchers[0].value


def test_quotes_and_dots_in_a_multi_value_give_valid_promql():
    # Once broken: the " was not escaped, and the escaper disagreed with escape_regex.
    query = expand('up{job=~"$j"}', {"j": ['a"b', "c.d"]})
    assert query == 'up{job=~"(a\\"b|c\\\\.d)"}'
    regex = matcher_value(query)
    assert regex == '(a"b|c\\.d)'
    assert re.fullmatch(regex, 'a"b') and re.fullmatch(regex, "c.d")
    assert not re.fullmatch(regex, "cxd")
    # The explorer's add_matchers escapes with escape_regex: both write the same PromQL.
    for value in ['a"b', "c.d"]:
        assert expand('x{l=~"${v:regex}"}', {"v": value}) == f'x{{l=~"{escape_regex(value)}"}}'


_AWKWARD = st.text(
    alphabet=st.sampled_from("ab.\"'\\\n|()[]{}^$*+?`#:=~-/ é") | st.characters(codec="utf-8"),
    max_size=8,
)


@given(values=st.lists(_AWKWARD, min_size=1, max_size=4), other=_AWKWARD)
def test_properties_a_multi_value_matches_exactly_its_values(values, other):
    for template in ('up{l=~"$v"}', "up{l=~'$v'}", 'up{l=~"${v:regex}"}'):
        regex = matcher_value(expand(template, {"v": values}))
        assert all(re.fullmatch(regex, value) for value in values)
        assert (re.fullmatch(regex, other) is not None) == (other in values)


@pytest.mark.parametrize("value", ["C:\\temp", "two\nlines"])
def test_escape_regex_agrees_on_backslashes_and_newlines(value):
    assert expand('x{l=~"${v:regex}"}', {"v": value}) == f'x{{l=~"{escape_regex(value)}"}}'


@given(value=_AWKWARD)
def test_properties_a_single_value_is_itself_in_any_string(value):
    for template in ('up{l="$v"}', "up{l='$v'}", 'up{l!="${v}"}', 'up{l="[[v]]"}'):
        assert matcher_value(expand(template, {"v": value})) == value
    assert matcher_value(expand('up{l="$v"}', {"v": [value]})) == value
    literal = promql_parser.parse(expand('label_join(up, "a", ${v:doublequote})', {"v": value}))
    assert literal.args[2].val == value


# --- against the real Prometheus --------------------------------------------------------------


def count(demo_server, template: str, variables: dict[str, object]) -> int:
    """``count(...)`` of the expanded query, evaluated by the demo Prometheus."""
    answer = requests.get(
        f"{demo_server.url}/api/v1/query",
        params={"query": f"count({expand(template, variables)})", "time": demo_server.now},
        timeout=30,
    )
    answer.raise_for_status()
    result = answer.json()["data"]["result"]
    return int(result[0]["value"][1]) if result else 0


def test_prometheus_matches_exactly_the_listed_values(demo_server):
    hosts = {"hosts": ["web-01:9100", "db-01:9100"]}
    assert count(demo_server, 'node_load1{instance=~"$hosts"}', hosts) == 2
    assert count(demo_server, "node_load1{instance!~'$hosts'}", hosts) == 4
    releases = ["5.15.0-122-generic", "3.10.0-1127.19.1.el7.x86_64"]  # dots, escaped
    for template in ('node_uname_info{release=~"$r"}', "node_uname_info{release=~`${r:regex}`}"):
        assert count(demo_server, template, {"r": releases}) == 2
    assert count(demo_server, 'node_uname_info{domainname=~"$d"}', {"d": ["(none)", "x"]}) == 6


def test_prometheus_sees_escaped_metacharacters_as_literals(demo_server):
    # "." where the release has "-": as an escaped literal it matches nothing; with :pipe the
    # values are regexes, and it matches the one release.
    look_alike = {"r": ["5.15.0.122.generic", "none"]}
    assert count(demo_server, 'node_uname_info{release=~"$r"}', look_alike) == 0
    assert count(demo_server, 'node_uname_info{release=~"${r:pipe}"}', look_alike) == 1
    assert count(demo_server, 'node_load1{instance="$h"}', {"h": ["db-01:9100"]}) == 1
