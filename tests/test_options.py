"""How magic lines split into options and PromQL, and which options go together, on literals."""

import pytest

from sysmon_magic.errors import SysmonUsageError
from sysmon_magic.lineparse import (
    CONNECT,
    LABELS,
    PROMQL,
    magic_terms,
    parse_assignments,
    split_options,
)


@pytest.mark.parametrize(
    ("line", "options", "query"),
    [
        ("up", [], "up"),
        ('--range 6h rate(x{job="a b"}[5m])', ["--range", "6h"], 'rate(x{job="a b"}[5m])'),
        (
            'sum(rate(x{a="--range"}[5m])) --step 1m',
            ["--step", "1m"],
            'sum(rate(x{a="--range"}[5m]))',
        ),
        ("--instant -o df up", ["--instant", "-o", "df"], "up"),
        ("--range=6h up", ["--range=6h"], "up"),
        ('--start "2026-11-05 12:00" up', ["--start", "2026-11-05 12:00"], "up"),
        ("up - -1", [], "up - -1"),
        ("-- -up", [], "-up"),
        ("--format wide  a  /  b ", ["--format", "wide"], "a  /  b"),
        ("x{a='--step'} and y", [], "x{a='--step'} and y"),
        ('x{a="quote \\" --step"}', [], 'x{a="quote \\" --step"}'),
        ("", [], ""),
    ],
)
def test_split_promql_line(line, options, query):
    assert split_options(line, PROMQL) == (options, query)


def test_a_match_selector_keeps_its_quotes():
    line = 'instance --match {job="node", mode=~"a b"}'
    assert split_options(line, LABELS) == (["--match", '{job="node", mode=~"a b"}'], "instance")
    assert split_options("--match '{job=\"node\"}'", LABELS) == (["--match", '{job="node"}'], "")


def test_options_that_do_not_parse_are_usage_errors():
    options, _ = split_options("--format long up", PROMQL)
    with pytest.raises(SysmonUsageError, match="invalid choice"):
        PROMQL.parse_args(options)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("--explain --plot", "--explain shows the query's tree, not a result: drop --plot,"),
        ("--explain --explore", "--explain shows the query's tree, not a result: drop --explore"),
        ("--format wide --explain", "not a result: drop --format, or run the query again"),
        ("--instant --start now-1h", "--instant takes --time, not --start/--end."),
        ("--end now --instant", "--instant takes --time, not --start/--end."),
        ("--explore --plot", "--explore draws the result itself: drop --plot."),
    ],
)
def test_options_that_cannot_go_together_are_refused_in_one_line(options, message):
    with pytest.raises(SysmonUsageError) as caught:
        PROMQL.parse_args(options.split())
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_options_that_go_together_are_taken():
    taken = PROMQL.parse_args(["--explain", "--time", "now", "--show-query", "--instant"])
    assert taken.explain and taken.instant and taken.time == "now"
    assert PROMQL.parse_args(["--plot", "--format", "wide", "--range", "6h"]).format == "wide"


@pytest.mark.parametrize(
    ("library", "magic"),
    [
        ("Use a step of 2s or more (step=), or a shorter range.", "(--step), or a shorter"),
        ("Give either range_seconds= or start=, not both.", "Give either --range or --start,"),
        ("end= needs start= or range_seconds=.", "--end needs --start or --range."),
        ("Regions: kr1; or give base_url= for any Prometheus API.", "or give --url for any"),
        ("copy it into appkey=.", "copy it into $SYSMON_APPKEY (or --appkey-env VAR)."),
        ("give it a value in variables=.", "give it a value in --var NAME=VALUE."),
        ("did not answer: raise timeout=.", "did not answer: raise --timeout."),
        ("record it with recording=Recording.for_writing('/a b/r.json').", "with --record /a b/r."),
        ("run the notebook live with recording= to add it.", "live with --record to add it."),
        ('do not fit the wide format: use fmt="tidy", or', "wide format: use --format tidy, or"),
    ],
)
def test_the_magics_say_the_flag_where_the_library_names_a_parameter(library, magic):
    assert magic in magic_terms(library, PROMQL)


def test_a_label_matcher_in_a_message_is_not_a_parameter():
    message = 'Bad query: x{start="a", step="1", timeout="5", params="a"} at end=5'
    assert magic_terms(message, PROMQL) == message
    # %sysmon_connect has no --timeout: its deadline message names the setting.
    assert magic_terms("raise timeout=.", CONNECT) == "raise %config SysmonMagics.timeout."


def test_parse_assignments_takes_repeated_names_as_lists():
    assert parse_assignments(["node=web-01:9100", "mode=user", "var-mode=system", "q=a=b"]) == {
        "node": "web-01:9100",
        "mode": ["user", "system"],
        "q": "a=b",
    }
    with pytest.raises(SysmonUsageError, match="--var takes NAME=VALUE"):
        parse_assignments(["node"])
