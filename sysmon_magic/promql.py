"""PromQL as text, without a parser: find the metric a query is about, add label matchers.

Enough for units, names and the explorer's "selection as PromQL"; strings and ``{...}`` are
blanked before scanning, so label values never look like metric names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

__all__ = [
    "FUNCTIONS",
    "KEYWORDS",
    "add_matchers",
    "escape_regex",
    "escape_string",
    "metric_names",
    "orders_its_result",
    "regex_literal",
    "selectors",
]

# A name not glued to a preceding word character (so the "m" of "5m" is not one).
_IDENTIFIER = re.compile(r"(?<![\w:.])[A-Za-z_:][\w:]*")
_STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_BRACES = re.compile(r"\{[^{}]*\}")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*$")
# RE2's special characters: each gets a backslash to match itself.
_REGEX_SPECIAL = re.compile(r"[\\.+*?()|\[\]{}^$]")
# What a PromQL string quoted with " or ' cannot hold as it is. A newline ends it; the other
# quote needs no escape, and Prometheus refuses one (\' inside "...", \" inside '...').
_STRING_ESCAPES = {
    quote: str.maketrans({"\\": "\\\\", quote: "\\" + quote, "\n": "\\n"}) for quote in "\"'"
}
#: PromQL functions and aggregation operators (Prometheus 2.x/3.x, experimental ones included).
FUNCTIONS = tuple(
    sorted(
        """abs absent absent_over_time acos acosh asin asinh atan atanh avg avg_over_time bottomk
        ceil changes clamp clamp_max clamp_min cos cosh count count_over_time count_values
        day_of_month day_of_week day_of_year days_in_month deg delta deriv
        double_exponential_smoothing exp first_over_time floor group histogram_avg
        histogram_count histogram_fraction histogram_quantile histogram_stddev histogram_stdvar
        histogram_sum holt_winters hour idelta increase info irate label_join label_replace
        last_over_time limit_ratio limitk ln log10 log2 mad_over_time max max_over_time min
        min_over_time minute month pi predict_linear present_over_time quantile
        quantile_over_time rad rate resets round scalar sgn sin sinh sort sort_by_label
        sort_by_label_desc sort_desc sqrt stddev stddev_over_time stdvar stdvar_over_time sum
        sum_over_time tan tanh time timestamp topk ts_of_last_over_time ts_of_max_over_time
        ts_of_min_over_time vector year""".split()  # noqa: SIM905
    )
)
#: Functions whose result order is the point (Prometheus returns other instant results in any
#: order); limitk and the rest keep the order of their argument.
ORDERING_FUNCTIONS = ("bottomk", "sort", "sort_by_label", "sort_by_label_desc", "sort_desc", "topk")
_ORDERING = re.compile(rf"\b(?:{'|'.join(ORDERING_FUNCTIONS)})\s*\(")
#: PromQL's keywords: grouping, vector matching, modifiers.
KEYWORDS = ("bool", "by", "group_left", "group_right", "ignoring", "offset", "on", "without")
# Words of PromQL that look like metric names: functions and aggregations, keywords, the
# set and atan2 operators, the number literals and the @ modifier's start() and end().
_NOT_METRICS = frozenset(
    (*FUNCTIONS, *KEYWORDS, "and", "or", "unless", "atan2", "inf", "nan", "start", "end")
)


def _blank(query: str) -> str:
    """The query with strings blanked (same length), so positions still index the query."""
    return _STRING.sub(lambda m: " " * len(m.group(0)), query)


def _inside_grouping(bare: str, position: int) -> bool:
    """Whether ``position`` is inside ``by (...)``, ``on (...)`` and kin."""
    opening = bare.rfind("(", 0, position)
    if opening < bare.rfind(")", 0, position):
        return False
    return bool(_GROUPING.search(bare[:opening]))


def selectors(query: str) -> list[tuple[int, int, int | None]]:
    """The vector selectors of a query: ``(start, end, brace)`` spans, where ``brace`` is the
    position of the closing ``}`` when the selector has one."""
    bare = _blank(query)
    found: list[tuple[int, int, int | None]] = []
    position = 0
    while position < len(bare):
        name = _IDENTIFIER.match(bare, position)
        if name:
            end = name.end()
            after = end + len(bare[end:]) - len(bare[end:].lstrip())
            if (
                name.group(0) in _NOT_METRICS
                or bare.startswith("(", after)  # a function call
                or _inside_grouping(bare, position)  # a label name in by (...)
            ):
                position = end
                continue
            braces = _BRACES.match(bare, after)
            if braces:
                found.append((position, braces.end(), braces.end() - 1))
            else:
                found.append((position, end, None))
            position = braces.end() if braces else end
        elif bare[position] == "{" and (braces := _BRACES.match(bare, position)):
            found.append((position, braces.end(), braces.end() - 1))  # {job="x"}: no name
            position = braces.end()
        else:
            position += 1
    return found


def orders_its_result(query: str) -> bool:
    """Whether a query orders its result itself (``sort``, ``topk`` ...), so that its rows keep
    the order they came in."""
    return _ORDERING.search(_blank(query)) is not None


def metric_names(query: str) -> list[str]:
    """The metrics a query selects by name, each once, in the order they appear."""
    names = (query[start:end].split("{")[0].strip() for start, end, _ in selectors(query))
    return list(dict.fromkeys(name for name in names if name))


def regex_literal(value: str) -> str:
    """A regex (RE2) that matches exactly ``value``."""
    return _REGEX_SPECIAL.sub(r"\\\g<0>", value)


def escape_string(text: str, quote: str = '"') -> str:
    """``text`` as the inside of a PromQL string quoted with ``quote`` (``"`` or ``'``)."""
    return text.translate(_STRING_ESCAPES[quote])


def escape_regex(value: str) -> str:
    """A value as an RE2 literal inside a PromQL double-quoted string."""
    return escape_string(regex_literal(value))


def add_matchers(query: str, chosen: Mapping[str, Sequence[str]]) -> str:
    """Add ``label=~"a|b"`` (or ``label="a"``) to every vector selector of the query."""
    terms = []
    for label, values in chosen.items():
        if len(values) == 1:
            terms.append(f'{label}="{escape_string(values[0])}"')
        elif values:
            terms.append(f'{label}=~"{"|".join(escape_regex(v) for v in values)}"')
    if not terms:
        return query
    added = ", ".join(terms)
    pieces = []
    last = 0
    for start, end, brace in selectors(query):
        if brace is None:
            pieces.append(query[last:end] + "{" + added + "}")
        else:
            inside = query[start:brace]
            separator = "" if inside.rstrip().endswith(("{", ",")) else ", "
            pieces.append(query[last:brace] + separator + added + "}")
        last = end
    pieces.append(query[last:])
    return "".join(pieces)
