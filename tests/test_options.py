"""How magic lines split into options and PromQL, on literals."""

import pytest
from IPython.core.error import UsageError

from sysmon_magic.magics import SysmonMagics, split_options

PROMQL = SysmonMagics.promql.parser
LABELS = SysmonMagics.promql_labels.parser


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
    with pytest.raises(UsageError, match="invalid choice"):
        PROMQL.parse_args(options)
