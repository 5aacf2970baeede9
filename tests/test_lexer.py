"""--show-query's PromQL lexer: no valid PromQL is drawn as an error, on every query the tour,
the course and the incident report send, and on the forms Pygments' own lexer gets wrong."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import promql_parser
import pytest
from pygments.token import Error, Keyword, Name, Number, Punctuation

from sysmon_magic.lexer import PromQLLexer
from sysmon_magic.magics import SysmonMagics, split_options

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
_VARIABLE = re.compile(r"\$\{[^}]*\}|\$\w+")


def _queries_of(code: str) -> list[str]:
    """The PromQL a code cell sends: %%promql bodies, %promql lines, exercise solutions."""
    parser = SysmonMagics.promql.parser  # type: ignore[attr-defined]
    if code.startswith("%%promql"):
        return [code.split("\n", 1)[1]] if "\n" in code else []
    found = []
    for line in code.splitlines():
        if "%promql " in line:
            _, query = split_options(line.split("%promql ", 1)[1], parser)
            found.append(query)
    if "%" not in code:
        for node in ast.walk(ast.parse(code)):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and re.fullmatch(r"exercise|check_\d+", node.func.id)
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.append(node.args[0].value)
    return found


def _corpus() -> list[str]:
    queries = []
    for path in sorted(NOTEBOOKS.rglob("*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] == "code":
                queries += _queries_of("".join(cell["source"]).strip())
    return list(dict.fromkeys(q.strip() for q in queries if q.strip()))


def _valid(query: str) -> bool:
    try:
        promql_parser.parse(_VARIABLE.sub("5m", query))
    except ValueError:
        return False
    return True


CORPUS = _corpus()


def errors(query: str) -> list[str]:
    return [text for token, text in PromQLLexer().get_tokens(query) if token in Error]


def test_the_corpus_is_the_notebooks_queries():
    assert len(CORPUS) > 100  # the tour, eight lessons and the report
    assert sum(_valid(q) for q in CORPUS) > 100


@pytest.mark.parametrize("query", [q for q in CORPUS if _valid(q)])
def test_no_query_of_the_notebooks_is_drawn_with_an_error(query):
    assert errors(query) == []


@pytest.mark.parametrize(
    "query",
    [
        "max_over_time(rate(x_total[5m])[6h:30s])",  # the subquery colon
        "rate(x_total[1h:])",
        "job:http_requests:rate5m",  # recording-rule names
        "rate(x_total[1h30m] offset -5m)",
        "x @ end()",
        "x @ 1793860260.5",
        "x > 1e9 or x < 0x10",
        "x == Inf or x != NaN",
        "sort_by_label(x, `instance`)",
        "histogram_avg(rate(x[5m])) / on() group_left() vector(2)",
        'label_replace(up, "host", "$1", "instance", "(.*):.*")',
        "double_exponential_smoothing(x[1h], 0.5, 0.5)",
        '{"some.label"="a", __name__=~"node_.+"}',
        "rate(x[$__rate_interval]) * ${factor}",
    ],
)
def test_forms_pygments_own_lexer_draws_as_errors(query):
    assert _valid(query) or "$" in query or "@ end" in query
    assert errors(query) == []


def test_invalid_characters_are_still_errors():
    assert errors("sum(x) ! 2") == ["!"]


def test_tokens_have_the_classes_of_their_roles():
    tokens = [(t, v) for t, v in PromQLLexer().get_tokens('sum by (le) (rate(a{b="c"}[5m:1m]))')]
    kinds = {v: t for t, v in tokens}
    assert kinds["sum"] in Keyword and kinds["by"] in Keyword
    assert kinds["rate"] in Name.Function and kinds["b"] in Name.Label
    assert kinds["5m"] in Number and kinds[":"] in Punctuation
