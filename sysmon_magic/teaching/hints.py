"""Hints for the course's checks: from the numbers, and from the shape of the learner's query.

:mod:`.feedback` finds *what* differs between two results; this module guesses *why*, and says
nothing when it cannot tell. A hint that names a wrong cause is worse than none: a factor of
613,637 between two values means nothing, so only factors with a meaning (60, 100, 300, 3600, 8,
1000, 1024ⁿ) are named. The query's shape comes from the client-side parser (``promql_parser``),
never from matching text, so ``on(instance)`` inside a string is not mistaken for matching.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..explain import is_scalar, shown

__all__ = [
    "ABSENT_FOUND_SAMPLES",
    "QueryShape",
    "binary_sides",
    "empty_binary_hint",
    "shape_of",
    "value_hint",
]

# A whole factor between two values, and what it usually means.
_FACTOR_HINTS: Mapping[int, str] = {
    8: "bits vs bytes? A byte is 8 bits (`node_network_*_bytes_total` counts bytes).",
    60: "per second vs per minute? `rate()` is per second; `increase()` the total over its window.",
    100: "a percentage vs a fraction? The expected result is on the other scale.",
    300: "per second vs per 5 minutes? `rate(x[5m])` is per second, `increase(x[5m])` per window.",
    1000: "seconds vs milliseconds (or bytes vs kB)? Prometheus measures time in seconds.",
    3600: "per second vs per hour? `rate()` is per second; `increase(x[1h])` the hour's total.",
    1024: "bytes vs KiB? 1 KiB is 1024 bytes.",
    1024**2: "bytes vs MiB? `/ 2^20` turns bytes into MiB.",
    1024**3: "bytes vs GiB? `/ 2^30` turns bytes into GiB.",
    1024**4: "bytes vs TiB? `/ 2^40` turns bytes into TiB.",
}

# Two results whose ratio is this close to a whole factor differ by that factor, not by chance.
_FACTOR_RTOL = 1e-6


def value_hint(yours: Any, expected: Any, *, counting: bool = False) -> str:
    """Why ``yours`` may differ from ``expected``, or "" when the numbers do not say.

    ``counting``: the learner's query counts series (``count``), so a whole factor between two
    counts is how many series each thing has, whatever the factor.
    """
    if not (isinstance(yours, float) and isinstance(expected, float)):
        return ""
    if math.isnan(yours):
        return "Yours is NaN, which usually comes from 0/0 (a rate of nothing divided by another)."
    if math.isinf(yours) and math.isfinite(expected):
        return (
            "Yours is infinite: a division by zero, or `histogram_quantile()` with φ above 1 "
            "(the 90th percentile is 0.9, not 90)?"
        )
    if not math.isfinite(yours) or not math.isfinite(expected) or expected == 0 or yours == 0:
        return ""
    if math.isclose(yours, 1 - expected, rel_tol=1e-9, abs_tol=1e-12):
        return "Yours is 1 minus the expected value: the complement (used vs available)?"
    ratio = yours / expected
    if math.isclose(ratio, -1, rel_tol=1e-9):
        return "Yours has the opposite sign: are the operands of `-` swapped?"
    factor = abs(ratio) if abs(ratio) >= 1 else 1 / abs(ratio)
    whole = round(factor)
    if whole < 2 or not math.isclose(factor, whole, rel_tol=_FACTOR_RTOL):
        return ""
    bigger = "larger" if abs(ratio) > 1 else "smaller"
    if counting and _is_count(yours) and _is_count(expected) and abs(ratio) > 1:
        return (
            f"Your count is {whole} times the expected one: does each thing have several series "
            "(one per mode, per CPU, per status code)? Count the series of one of them."
        )
    why = _FACTOR_HINTS.get(whole)
    return f"Yours is {whole} times {bigger} than expected: {why}" if why else ""


def _is_count(value: float) -> bool:
    return value == int(value) and 0 < abs(value) < 100_000


# -- the shape of a query --------------------------------------------------------------------


@dataclass(frozen=True)
class QueryShape:
    """What a query's syntax tree says about its result, for the hints that need it."""

    #: ``on (...)``/``ignoring (...)`` of one-to-one operations, as written (``on (instance)``).
    one_to_one_matching: tuple[str, ...] = ()
    #: The top-level function is ``absent()`` or ``absent_over_time()``.
    absent: bool = False
    #: A comparison with ``bool`` somewhere (it keeps every series, valued 0 or 1).
    uses_bool: bool = False
    #: The query is a range vector (a selector with ``[5m]``, or a subquery).
    range_vector: bool = False
    #: ``rate()`` (or ``irate``/``increase``) of a subquery of a ``sum``: the sum's resets.
    rate_of_sum: bool = False
    #: The functions and aggregation operators the query uses, by name.
    functions: frozenset[str] = frozenset()

    @property
    def counting(self) -> bool:
        return "count" in self.functions


def shape_of(query: str | None) -> QueryShape:
    """The shape of ``query``; an empty shape if there is none or it does not parse."""
    top = _parsed(query)
    if top is None:
        return QueryShape()
    import promql_parser as pp

    matching, functions, uses_bool, rate_of_sum = [], set(), False, False
    for node in _walk(top):
        if isinstance(node, pp.Call):
            functions.add(node.func.name)
            rate_of_sum = rate_of_sum or _is_rate_of_sum(node)
        if isinstance(node, pp.AggregateExpr):
            functions.add(str(node.op))
        if isinstance(node, pp.BinaryExpr) and node.modifier is not None:
            uses_bool = uses_bool or bool(node.modifier.return_bool)
            written = _one_to_one_matching(node)
            if written:
                matching.append(written)
    return QueryShape(
        one_to_one_matching=tuple(matching),
        absent=isinstance(top, pp.Call) and top.func.name in ("absent", "absent_over_time"),
        uses_bool=uses_bool,
        rate_of_sum=rate_of_sum,
        range_vector=isinstance(top, (pp.MatrixSelector, pp.SubqueryExpr)),
        functions=frozenset(functions),
    )


def _is_rate_of_sum(call: Any) -> bool:
    import promql_parser as pp

    if call.func.name not in ("rate", "irate", "increase") or not call.args:
        return False
    inner = call.args[0]
    if not isinstance(inner, pp.SubqueryExpr):
        return False
    inner = inner.expr
    while isinstance(inner, pp.ParenExpr):
        inner = inner.expr
    return isinstance(inner, pp.AggregateExpr) and str(inner.op) == "sum"


def _parsed(query: str | None) -> Any:
    if not query:
        return None
    import promql_parser as pp

    try:
        expr = pp.parse(query)
    except ValueError:
        return None
    while isinstance(expr, pp.ParenExpr):
        expr = expr.expr
    return expr


def _walk(expr: Any) -> Iterator[Any]:
    import promql_parser as pp

    yield expr
    if isinstance(expr, pp.BinaryExpr):
        children: Sequence[Any] = (expr.lhs, expr.rhs)
    elif isinstance(expr, pp.Call):
        children = expr.args
    elif isinstance(expr, pp.AggregateExpr):
        children = (expr.expr,) if expr.param is None else (expr.param, expr.expr)
    elif isinstance(expr, (pp.ParenExpr, pp.SubqueryExpr, pp.UnaryExpr)):
        children = (expr.expr,)
    elif isinstance(expr, pp.MatrixSelector):
        children = (expr.vector_selector,)
    else:
        children = ()
    for child in children:
        yield from _walk(child)


_SET_OPERATORS = ("and", "or", "unless")


def _one_to_one_matching(expr: Any) -> str:
    """``on (a, b)`` or ``ignoring (c)`` of a one-to-one vector operation, else ""."""
    modifier = expr.modifier
    if modifier.matching is None or str(expr.op) in _SET_OPERATORS:
        return ""
    if not str(modifier.card).endswith("OneToOne"):
        return ""
    word = "on" if str(modifier.matching.type).endswith("Include") else "ignoring"
    return f"{word} ({', '.join(modifier.matching.labels)})"


# -- label and series hints ------------------------------------------------------------------


def missing_labels_hint(shape: QueryShape, names: frozenset[str]) -> str:
    """Why a result lacks the labels ``names``, from the query's shape; "" if it does not say."""
    listed = ", ".join(f"`{n}`" for n in sorted(names))
    if shape.absent:
        return absent_hint(listed)
    if "vector" in shape.functions:
        return (
            f"your result lacks {listed}: `vector(...)` makes one series with no labels, and "
            "`unless`/`or` keep the labels of the side each series comes from. "
            "`absent_over_time()` labels its 1 from the selector's `=` matchers."
        )
    if shape.one_to_one_matching:
        written = shape.one_to_one_matching[0]
        return (
            f"your result lacks {listed} because of `{written}`: in one-to-one matching the "
            "result keeps only the `on` labels (or loses the `ignoring` ones). Match on all "
            "labels (no `on`/`ignoring`) when both sides have the same ones, or add "
            "`group_left` to keep the left side's labels."
        )
    return ""


# A function the learner used where the exercise uses another, and what tells them apart.
_SWAPPED_FUNCTIONS: tuple[tuple[str, str, str], ...] = (
    (
        "irate",
        "rate",
        "`irate()` uses only the last two samples of the window; `rate()` averages over all of it.",
    ),
    (
        "delta",
        "increase",
        "`delta()` is for gauges: it takes a counter's reset for a huge drop, "
        "where `increase()` counts on from zero.",
    ),
    ("deriv", "rate", "`deriv()` fits a line through a gauge; a counter's growth is `rate()`."),
    (
        "quantile",
        "histogram_quantile",
        "`quantile()` ranks series; the percentile of a "
        "histogram's buckets is `histogram_quantile()`.",
    ),
)


def function_hint(mine: QueryShape, expected: QueryShape) -> str:
    """A hint when the learner's functions differ from the exercise's in a telling way."""
    if mine.rate_of_sum and not expected.rate_of_sum:
        return (
            "Yours takes `rate()` of a sum: when any one counter in the sum resets, the sum "
            "drops, and `rate()` takes that for a reset of the whole sum. Take `rate()` of each "
            "counter first, then `sum` the rates."
        )
    for theirs, wanted, why in _SWAPPED_FUNCTIONS:
        used = theirs in mine.functions and theirs not in expected.functions
        if used and wanted in expected.functions:
            return f"Is `{theirs}()` the function you mean? {why}"
    averaged = {"histogram_quantile", "avg"} <= mine.functions
    if averaged and "avg" not in expected.functions:
        return (
            "An average of percentiles is not a percentile: sum the buckets `by (le)` "
            "first, then take `histogram_quantile()` once."
        )
    return ""


#: Why ``absent()``/``absent_over_time()`` returned nothing.
ABSENT_FOUND_SAMPLES = (
    "`absent()` and `absent_over_time()` return nothing when their selector finds a sample: "
    "`absent_over_time(v[d])` finds one anywhere in its window (is it longer than the gap?), "
    "and `absent(v)` finds one up to 5 minutes back through the lookback, on data without "
    "staleness markers such as the demo's."
)


def absent_hint(listed: str) -> str:
    return (
        f"the labels differ ({listed}): `absent()` and `absent_over_time()` label their 1 with "
        'the selector\'s `=` matchers only: `{instance="web-03:9100"}` gives `instance`, a regex '
        '(`=~`) gives no label, and each further `=` matcher (`job="node"`) adds one. Write '
        "exactly the `=` matchers whose labels the alert should carry."
    )


def bool_hint(shape: QueryShape, values: Sequence[Any]) -> str:
    """The hint for too many series, all 0 or 1, when ``bool`` kept every series."""
    zero_or_one = all(isinstance(v, float) and v in (0.0, 1.0) for v in values)
    if not zero_or_one or not shape.uses_bool:
        return ""
    return (
        "Your values are all 0 or 1: `bool` keeps every series, with 1 where the comparison "
        "holds and 0 where it does not. Drop `bool` to filter: `> 1` keeps only the series "
        "above 1, with their values."
    )


# -- an empty binary operation ---------------------------------------------------------------


def binary_sides(query: str) -> tuple[str, str, str, bool, bool] | None:
    """``(left, operator, right, left_is_scalar, right_is_scalar)`` of a top-level binary
    operation, as PromQL text; ``None`` for any other query."""
    import promql_parser as pp

    top = _parsed(query)
    if not isinstance(top, pp.BinaryExpr):
        return None
    return shown(top.lhs), str(top.op), shown(top.rhs), is_scalar(top.lhs), is_scalar(top.rhs)


_COMPARISONS = ("==", "!=", ">", "<", ">=", "<=")


def empty_binary_hint(
    operator: str,
    left: tuple[int, frozenset[str]] | None,
    right: tuple[int, frozenset[str]] | None,
    values: tuple[float, float] | None,
) -> str:
    """Why a binary operation returned nothing, from its sides' results.

    ``left``/``right`` are each side's series count and label names (``None`` for a number);
    ``values`` the smallest and largest value of the series side when the other is a number.
    """
    for name, side in (("left", left), ("right", right)):
        if side is not None and side[0] == 0:
            return (
                f"The {name} side of `{operator}` returns no series, so neither does the "
                f"operation: run the {name} side alone and fix it first."
            )
    if left is None or right is None:
        if operator in _COMPARISONS and values is not None:
            low, high = values
            return (
                f"The filter `{operator}` dropped every series: before it, the values ran from "
                f"{low:.6g} to {high:.6g}. Is the threshold right, and in the right unit "
                "(seconds, bytes, a fraction rather than a percentage), and so is every number "
                "in the query (a duration in seconds: 4 hours is `4 * 3600`)?"
            )
        return ""
    if operator == "unless":  # nothing left when every left series has a partner: no mystery
        return ""
    if operator != "and":
        left_names = ", ".join(f"`{n}`" for n in sorted(left[1])) or "none"
        right_names = ", ".join(f"`{n}`" for n in sorted(right[1])) or "none"
        return (
            f"Both sides return series ({left[0]} on the left, {right[0]} on the right), but no "
            "label sets matched: `" + operator + "` pairs series with exactly the same labels. "
            f"Left labels: {left_names}; right labels: {right_names}. Say which labels must "
            "agree with `on (...)` or `ignoring (...)` (and `group_left` when several left "
            "series share one on the right)."
        )
    return (
        f"Both sides return series ({left[0]} on the left, {right[0]} on the right), but "
        f"`{operator}` found no left series with a partner of the same labels on the right: "
        "say which labels must agree with `on (...)`."
    )
