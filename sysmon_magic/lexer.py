"""A Pygments lexer for PromQL as Prometheus parses it, for ``--show-query``.

Pygments' own ``PromQLLexer`` marks valid PromQL as errors: the ``:`` of a subquery
(``[6h:30s]``), metric names with colons (recording rules: ``job:requests:rate5m``), compound
durations (``1h30m``), ``@``, exponents, and the functions added since Prometheus 2.20. This
one follows the grammar of Prometheus' own parser (promql/parser/lex.go): it draws as an error
only what Prometheus would refuse to tokenize.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import (
    Comment,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Whitespace,
)

from .promql import FUNCTIONS, KEYWORDS

__all__ = ["PromQLLexer"]

_AGGREGATIONS = (
    "avg", "bottomk", "count", "count_values", "group", "limit_ratio", "limitk", "max", "min",
    "quantile", "stddev", "stdvar", "sum", "topk",
)  # fmt: skip
_DURATION = r"(?:\d+(?:ms|[smhdwy]))+"
_NUMBER = r"(?i:0x[0-9a-f]+|(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?|inf|nan)\b"
_STRING = r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`'
# A template variable left in a query ($__rate_interval, ${hosts:regex}, [[var]]).
_VARIABLE = r"\$\$|\$\{[^}]*\}|\$\w+|\[\[[^\]]*\]\]"


class PromQLLexer(RegexLexer):
    """PromQL: functions, aggregations, keywords, durations, label matchers and subqueries."""

    name = "PromQL"
    aliases: ClassVar[list[str]] = ["promql"]

    tokens: ClassVar[dict[str, list[Any]]] = {
        "root": [
            (r"\s+", Whitespace),
            (r"#.*$", Comment.Single),
            (_VARIABLE, Name.Variable),
            (_STRING, String),
            (words(KEYWORDS, suffix=r"\b"), Keyword),
            (words(("and", "or", "unless", "atan2"), suffix=r"\b"), Operator.Word),
            (words(_AGGREGATIONS, suffix=r"\b(?=\s*(?:\(|by\b|without\b))"), Keyword),
            (words(FUNCTIONS, suffix=r"\b(?=\s*\()"), Name.Function),
            (
                r"(start|end)(\s*)(\()(\s*)(\))",
                bygroups(Name.Function, Whitespace, Punctuation, Whitespace, Punctuation),
            ),
            (_DURATION + r"\b", Number),  # after offset, and in duration arithmetic
            (_NUMBER, Number),
            (r"[a-zA-Z_:][a-zA-Z0-9_:]*", Name.Variable),  # metric or label names
            (r"==|!=|>=|<=|=~|!~|[-+*/%^<>@]", Operator),
            (r"[(),]", Punctuation),
            (r"\{", Punctuation, "matchers"),
            (r"\[", Punctuation, "range"),
        ],
        "matchers": [
            (r"\s+", Whitespace),
            (r"\}", Punctuation, "#pop"),
            (_VARIABLE, Name.Variable),
            (_STRING, String),  # a value, or a quoted (UTF-8) label name
            (r"[a-zA-Z_][a-zA-Z0-9_]*", Name.Label),
            (r"=~|!~|!=|=", Operator),
            (r",", Punctuation),
        ],
        # [5m], [6h:30s], [1h:], Prometheus 3's [5m+1m] and [step()], or templated [$__range].
        "range": [
            (r"\s+", Whitespace),
            (r"\]", Punctuation, "#pop"),
            (_VARIABLE, Name.Variable),
            (_DURATION, Number),
            (_NUMBER, Number),
            (r":", Punctuation),
            (r"[a-zA-Z_][a-zA-Z0-9_]*", Name.Function),
            (r"[-+*/%^()]", Operator),
        ],
    }
