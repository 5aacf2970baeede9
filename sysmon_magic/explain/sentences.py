"""One plain sentence per node of a PromQL parse tree, as ``--explain`` shows it.

Pure: ``promql_parser`` expressions in, text out (no server). The sentences say what Prometheus
does, scalars and label matching included: ``1 < v`` keeps the series whose value is over 1,
``/ on (a) group_left (b)`` keeps the left labels and copies ``b``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, NamedTuple

from .matching import SET_OPERATORS, Cardinality, matching_of

__all__ = ["Described", "binary_meaning", "describe", "is_scalar", "shown"]

_FUNCTIONS = {
    "rate": "Per-second average rate of increase of each counter over the range, corrected for resets.",
    "irate": "Per-second rate from the last two samples of each counter in the range: spiky, instant.",
    "increase": "How much each counter grew over the range, corrected for resets and extrapolated to the range's edges.",
    "delta": "Difference between the first and last value of each gauge over the range, extrapolated to its edges.",
    "idelta": "Difference between the last two samples of each gauge in the range.",
    "deriv": "Per-second derivative of each gauge over the range (least-squares).",
    "resets": "How many times each counter went down in the range (one count per series).",
    "changes": "How many times each series changed value in the range.",
    "histogram_quantile": "Estimates a quantile from cumulative histogram buckets (the le label: at most that value).",
    "histogram_fraction": "Estimates the fraction of observations between two values, from native histograms.",
    "histogram_count": "The number of observations of each native histogram.",
    "histogram_sum": "The sum of observations of each native histogram.",
    "histogram_avg": "The average observation of each native histogram.",
    "histogram_stddev": "The standard deviation of the observations of each native histogram.",
    "histogram_stdvar": "The variance of the observations of each native histogram.",
    "predict_linear": "Predicts each series' value that far ahead, from a linear fit over the range.",
    "holt_winters": "Smooths each gauge over the range (double exponential smoothing).",
    "double_exponential_smoothing": "Smooths each gauge over the range (double exponential smoothing).",
    "absent": "One series of value 1 if the selector matches nothing, labelled by its = matchers (for alerts).",
    "absent_over_time": "One series of value 1 if the selector had no sample in the range, labelled by its = matchers.",
    "abs": "Absolute value of each sample.",
    "ceil": "Rounds each value up to an integer.",
    "floor": "Rounds each value down to an integer.",
    "round": "Rounds each value to the nearest multiple (default 1).",
    "sqrt": "Square root of each value.",
    "exp": "e to the power of each value.",
    "ln": "Natural logarithm of each value.",
    "log2": "Base-2 logarithm of each value.",
    "log10": "Base-10 logarithm of each value.",
    "sgn": "The sign of each value: 1, 0 or -1.",
    "clamp": "Limits each value to between the minimum and the maximum.",
    "clamp_min": "Raises each value to at least the minimum.",
    "clamp_max": "Lowers each value to at most the maximum.",
    "label_replace": "Writes a label from a regex match on another label; the metric name is kept.",
    "label_join": "Joins several labels' values into a new label; the metric name is kept.",
    "vector": "Turns a number into one series without labels.",
    "scalar": "Turns a single series into a number (NaN if there is not exactly one).",
    "time": "The evaluation time, in unix seconds.",
    "timestamp": "The timestamp of each series' sample, in unix seconds.",
    "minute": "The minute of the hour (UTC) of each value, read as a unix time (default: now).",
    "hour": "The hour of the day (UTC) of each value, read as a unix time (default: now).",
    "day_of_week": "The day of the week (0 = Sunday, UTC) of each value read as a unix time (default: now).",
    "day_of_month": "The day of the month (UTC) of each value read as a unix time (default: now).",
    "day_of_year": "The day of the year (UTC) of each value read as a unix time (default: now).",
    "days_in_month": "The number of days in the month (UTC) of each value read as a unix time.",
    "month": "The month (1-12, UTC) of each value read as a unix time (default: now).",
    "year": "The year (UTC) of each value read as a unix time (default: now).",
    "sort": "Sorts series by value, ascending; labels and metric name kept.",
    "sort_desc": "Sorts series by value, descending; labels and metric name kept.",
    "sort_by_label": "Sorts series by the values of the given labels.",
    "sort_by_label_desc": "Sorts series by the values of the given labels, descending.",
    "pi": "The number pi.",
    "deg": "Converts each value from radians to degrees.",
    "rad": "Converts each value from degrees to radians.",
    "info": "Adds the labels of matching info metrics (target_info) to each series.",
}
_OVER_TIME = "{what} of each series' samples over the range."
_OVER_TIME_WHAT = {
    "avg": "Average",
    "min": "Minimum",
    "max": "Maximum",
    "sum": "Sum",
    "count": "Number",
    "last": "Last value",
    "first": "First value",
    "quantile": "Quantile",
    "stddev": "Standard deviation",
    "stdvar": "Variance",
    "mad": "Median absolute deviation",
    "present": "1 for each series with any sample",
}
_AGGREGATIONS = {
    "sum": "Adds up",
    "avg": "Averages",
    "min": "Takes the minimum of",
    "max": "Takes the maximum of",
    "count": "Counts",
    "group": "Groups (value 1)",
    "stddev": "Takes the standard deviation of",
    "stdvar": "Takes the variance of",
    "topk": "Keeps the {param} largest of",
    "bottomk": "Keeps the {param} smallest of",
    "limitk": "Keeps {param} of",
    "limit_ratio": "Keeps a {param} share of",
    "quantile": "Takes the {param} quantile of",
}
# How each arithmetic operator reads, with its left operand {l} and right operand {r}.
_ARITHMETIC = {
    "+": "Adds {r} to {l}",
    "-": "Subtracts {r} from {l}",
    "*": "Multiplies {l} by {r}",
    "/": "Divides {l} by {r}",
    "%": "Takes the remainder of {l} divided by {r}",
    "^": "Raises {l} to the power of {r}",
    "atan2": "Takes atan2 of {l} and {r}",
}
_COMMUTATIVE = frozenset({"+", "*"})
_COMPARISONS = frozenset({"==", "!=", ">", "<", ">=", "<="})
_MIRRORED = {">": "<", "<": ">", ">=": "<=", "<=": ">=", "==": "==", "!=": "!="}


class Described(NamedTuple):
    """What :func:`describe` says of one node of a parse tree."""

    expr: Any  # the node without its parentheses
    kind: str
    meaning: str
    probe: str | None  # the instant query that counts its series; None for numbers and strings
    children: Sequence[Any] = ()


def describe(expr: Any) -> Described:
    """One node of ``promql_parser``'s tree: its kind, its sentence, its probe, its children."""
    import promql_parser as pp

    while isinstance(expr, pp.ParenExpr):
        expr = expr.expr
    text = shown(expr)

    def node(kind: str, meaning: str, probe: str | None, children: Sequence[Any] = ()) -> Described:
        return Described(expr, kind, meaning, probe, children)

    if isinstance(expr, pp.VectorSelector):
        return node("selector", _selector_meaning(expr), text)
    if isinstance(expr, pp.MatrixSelector):
        meaning = f"The samples of the last {_duration(expr.range)} of each selected series."
        return node("range selector", meaning, f"last_over_time({text})", [expr.vector_selector])
    if isinstance(expr, pp.SubqueryExpr):
        step = f" every {_duration(expr.step)}" if expr.step else " at the default resolution"
        meaning = (
            f"Runs the inner query{step} over the last {_duration(expr.range)} (a subquery): "
            "each step looks back for a sample as an instant query does, so gaps are filled."
        )
        return node("subquery", meaning, f"last_over_time({text})", [expr.expr])
    if isinstance(expr, pp.Call):
        return node("function", _function_meaning(expr.func.name), _probe_of(expr), expr.args)
    if isinstance(expr, pp.AggregateExpr):
        children = [expr.param, expr.expr] if expr.param is not None else [expr.expr]
        return node("aggregation", _aggregation_meaning(expr), text, children)
    if isinstance(expr, pp.BinaryExpr):
        return node("binary operator", binary_meaning(expr), _probe_of(expr), [expr.lhs, expr.rhs])
    if isinstance(expr, pp.UnaryExpr):
        what = "the number" if is_scalar(expr.expr) else "every value"
        return node("negation", f"Negates {what}.", _probe_of(expr), [expr.expr])
    if isinstance(expr, pp.NumberLiteral):
        return node("number", f"The number {text}.", None)
    if isinstance(expr, pp.StringLiteral):
        return node("string", "A string argument.", None)
    return node(type(expr).__name__, "", text)  # a node kind this version does not know


_EMPTY_BRACES = re.compile(r'("(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`)|\{\}')


def shown(expr: Any) -> str:
    """The parser's text of a node, without the ``{}`` it adds to every bare selector."""
    return _EMPTY_BRACES.sub(lambda m: m[1] or "", str(expr))


def is_scalar(expr: Any) -> bool:
    """Whether an expression yields a number rather than series (no matching applies to it)."""
    import promql_parser as pp

    while isinstance(expr, pp.ParenExpr):
        expr = expr.expr
    if isinstance(expr, pp.NumberLiteral):
        return True
    if isinstance(expr, pp.Call):
        return str(expr.func.return_type) == "ValueType.Scalar"
    if isinstance(expr, pp.UnaryExpr):
        return is_scalar(expr.expr)
    if isinstance(expr, pp.BinaryExpr):
        return is_scalar(expr.lhs) and is_scalar(expr.rhs)
    return False


def _probe_of(expr: Any) -> str | None:
    """Probe an expression only if it yields series (a scalar result has no series to count)."""
    return None if is_scalar(expr) else shown(expr)


def _duration(value: Any) -> str:
    from ..timeparse import format_duration

    return format_duration(value.total_seconds())


def _selector_meaning(expr: Any) -> str:
    matchers = [f"{m.name} {_MATCH[str(m.op)]} {m.value!r}" for m in expr.matchers.matchers]
    what = f"the series named {expr.name}" if expr.name else "every series"
    where = f" whose {', '.join(matchers)}" if matchers else ""
    extra = ""
    if expr.offset:
        extra += f", as they were {_duration(expr.offset)} earlier"
    if expr.at:
        extra += f", at the fixed time {str(expr.at).removeprefix('@ ')}"
    return (
        f"Selects {what}{where}{extra}: the latest sample of each within the lookback "
        "(5 minutes by default), unless the series went stale."
    )


_MATCH = {
    "MatchOp.Equal": "is",
    "MatchOp.NotEqual": "is not",
    "MatchOp.Re": "matches",
    "MatchOp.NotRe": "does not match",
}


def _function_meaning(name: str) -> str:
    if name.endswith("_over_time") and name.removesuffix("_over_time") in _OVER_TIME_WHAT:
        return _OVER_TIME.format(what=_OVER_TIME_WHAT[name.removesuffix("_over_time")])
    return _FUNCTIONS.get(name, f"The function {name}() (see the Prometheus documentation).")


def _grouping(modifier: Any) -> tuple[str, str]:
    """(" per distinct a, b" | ", dropping a", what is left of the labels)."""
    if modifier is None:
        return "", "dropping every label"
    labels = ", ".join(modifier.labels)
    if str(modifier.type).endswith("Without"):
        return f", dropping {labels}", "one result per set of the other labels"
    return f" per distinct {labels}", "dropping every other label"


def _aggregation_meaning(expr: Any) -> str:
    op = str(expr.op)
    modifier = expr.modifier
    groups, rest = _grouping(modifier)
    if op == "count_values":
        label = str(expr.param).strip("\"'`")
        return (
            f"Counts how many series have each distinct value{groups}: one result per value, "
            f"which goes into a new label {label}; the result's value is the count."
        )
    verb = _AGGREGATIONS.get(op, f"Aggregates ({op})").format(param=shown(expr.param))
    if op in ("topk", "bottomk", "limitk", "limit_ratio"):  # these keep series and labels
        return f"{verb} the series{groups}, labels and metric name kept."
    if modifier is None:
        return f"{verb} all series into one, dropping every label."
    if str(modifier.type).endswith("Without"):
        return f"{verb} the series{groups}: {rest}."
    return f"{verb} the series{groups}, {rest}."


def binary_meaning(expr: Any) -> str:
    """One sentence for a binary operator: what it computes and which labels the result has."""
    op = str(expr.op)
    modifier = expr.modifier
    returns_bool = modifier is not None and modifier.return_bool
    left_scalar, right_scalar = is_scalar(expr.lhs), is_scalar(expr.rhs)
    if left_scalar and right_scalar:
        return _scalar_meaning(op, shown(expr.lhs), shown(expr.rhs))
    if left_scalar or right_scalar:
        number = shown(expr.lhs if left_scalar else expr.rhs)
        return _vector_scalar_meaning(op, number, left_scalar, returns_bool)
    on, ignoring, card = matching_of(expr)
    partner = _partner(on, ignoring)
    if op in SET_OPERATORS:
        sentence = {
            "and": f"Keeps the left series that have a right series {partner}",
            "or": f"Takes every left series, plus the right series with no left series {partner}",
            "unless": f"Keeps the left series that have no right series {partner}",
        }[op]
        return f"{sentence}; values and labels are the series' own."
    if op in _COMPARISONS:
        if returns_bool:
            what = (
                f"Compares each left value with the right series' {partner}: 1 where left {op} "
                "right, 0 where not (bool keeps every matched pair)"
            )
        else:
            what = f"Keeps the left series whose value is {op} that of the right series {partner}"
    else:
        what = _ARITHMETIC[op].format(
            l="each left series' value", r=f"that of the right series {partner}"
        )
    return f"{what}. {_result_labels(expr, on, ignoring, card, op, returns_bool)}"


def _partner(on: Sequence[str] | None, ignoring: Sequence[str]) -> str:
    if on is not None:
        return f"with the same {', '.join(on)}" if on else "(any: on() matches all)"
    if ignoring:
        return f"with the same labels apart from {', '.join(ignoring)}"
    return "with the same labels"


def _result_labels(
    expr: Any,
    on: Sequence[str] | None,
    ignoring: Sequence[str],
    card: Cardinality,
    op: str,
    returns_bool: bool,
) -> str:
    """Which labels a vector-vector arithmetic or comparison result has, as Prometheus builds them."""
    name_dropped = op not in _COMPARISONS or returns_bool
    name = ", without the metric name" if name_dropped else ""
    if card == "one-to-one":
        if on is not None:
            kept = ", ".join(on) if on else "no label at all"
            return f"The result keeps only {kept} (one-to-one matching with on)."
        if ignoring:
            return f"The result has the left series' labels without {', '.join(ignoring)}{name}."
        return f"The result has the left series' labels{name}."
    many, one = ("left", "right") if card == "many-to-one" else ("right", "left")
    group = "group_left" if card == "many-to-one" else "group_right"
    copied = list(expr.modifier.group_labels or []) if expr.modifier is not None else []
    copies = f", and copies {', '.join(copied)} from the {one} side" if copied else ""
    return (
        f"{card.capitalize()} ({group}): several {many} series may share one {one} series; the "
        f"result keeps the {many} series' labels{name}{copies}."
    )


def _scalar_meaning(op: str, left: str, right: str) -> str:
    if op in _ARITHMETIC:
        return f"{_ARITHMETIC[op].format(l=left, r=right)}: a number."
    return f"1 if {left} {op} {right}, else 0: a number."


def _vector_scalar_meaning(op: str, number: str, number_left: bool, returns_bool: bool) -> str:
    value = "each series' value"
    if op in _ARITHMETIC:
        if number_left and op not in _COMMUTATIVE:
            sentence = _ARITHMETIC[op].format(l=number, r=value)
        else:
            sentence = _ARITHMETIC[op].format(l=value, r=number)
        return f"{sentence}; every series is kept, without its metric name."
    # "1 < v" keeps the series whose value is > 1: read the comparison from the series' side.
    series_op = _MIRRORED[op] if number_left else op
    written = f"{number} {op} value" if number_left else f"value {op} {number}"
    if returns_bool:
        return (
            f"1 for each series where {written}, 0 where not: bool keeps every series, "
            "without its metric name."
        )
    return (
        f"Keeps the series whose value is {series_op} {number} (a filter: values and labels, "
        "metric name included, are unchanged)."
    )
