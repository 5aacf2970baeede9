"""The unit of a PromQL expression, from its parse tree: what each function and operator does to
the units of its arguments."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

from .quantities import (
    COUNT,
    NAME_UNITS,
    RATIO,
    SECONDS,
    TIMESTAMP,
    Measure,
    Number,
    Quantity,
    Timestamp,
)
from .table import BY_QUANTITY, Unit

__all__ = ["unit_of"]


def unit_of(query: str) -> Unit | None:
    """The unit of ``query``'s result, or None when it cannot be known.

    Examples
    --------
    >>> unit_of("rate(node_network_receive_bytes_total[5m]) * 8").grafana_id
    'bps'
    >>> unit_of('100 * (1 - avg(rate(node_cpu_seconds_total{mode="idle"}[5m])))').label
    'percent'
    >>> unit_of("node_load1") is None
    True
    """
    import promql_parser

    try:
        tree = promql_parser.parse(query)
    except ValueError:  # promql-parser lags Prometheus: its refusal says nothing about the unit
        return None
    try:
        quantity = _quantity(tree)
    except RecursionError:  # nested deeper than Python's stack (thousands of parentheses)
        return None
    if isinstance(quantity, (Measure, Timestamp)):
        return BY_QUANTITY.get(quantity)
    return None  # unknown, or a plain number: nothing to label


def _quantity(expr: Any) -> Quantity | None:
    """The quantity of a parsed expression; None when unknown."""
    import promql_parser as pp

    if isinstance(expr, pp.NumberLiteral):
        return _number(expr.val)
    if isinstance(expr, pp.VectorSelector):
        name = _selector_name(expr)
        return None if name is None else _metric_quantity(name)
    if isinstance(expr, pp.MatrixSelector):
        return _quantity(expr.vector_selector)
    if isinstance(expr, (pp.ParenExpr, pp.SubqueryExpr)):
        return _quantity(expr.expr)
    if isinstance(expr, pp.UnaryExpr):  # a minus: the values flip, their unit stays
        inner = _quantity(expr.expr)
        if isinstance(inner, Number) and inner.value is not None:
            return Number(-inner.value)
        return None if isinstance(inner, Timestamp) else inner  # -time() is no time
    if isinstance(expr, pp.Call):
        return _call(expr.func.name, expr.args)
    if isinstance(expr, pp.AggregateExpr):
        return _aggregate(str(expr.op), expr.expr)
    if isinstance(expr, pp.BinaryExpr):
        returns_bool = bool(expr.modifier and expr.modifier.return_bool)
        return _binary(str(expr.op), _quantity(expr.lhs), _quantity(expr.rhs), returns_bool)
    return None  # a string, or a node kind newer than this module


def _number(value: float) -> Number | None:
    if not math.isfinite(value):
        return None
    # Through its shortest decimal, so that 0.01 is exactly 1/100 and lands on a unit.
    return Number(Fraction(repr(value)))


def _selector_name(expr: Any) -> str | None:
    import promql_parser as pp

    if expr.name:
        return str(expr.name)
    for matcher in expr.matchers.matchers:
        if matcher.name == "__name__" and matcher.op == pp.MatchOp.Equal:
            return str(matcher.value)
    return None  # no name, or a regex of names: several metrics, perhaps of several units


def _name_unit(stem: str) -> Measure | None:
    return NAME_UNITS.get(stem.rsplit("_", 1)[-1])


def _metric_quantity(name: str) -> Quantity | None:
    """What a metric's name says its values are, by Prometheus' naming conventions."""
    if name.endswith("_info"):
        return Number(None)
    if name.endswith("_created"):
        return TIMESTAMP
    if name.endswith(("_count", "_bucket")):  # observations counted (by a histogram's bucket)
        return COUNT
    if name.endswith("_sum"):
        return _name_unit(name.removesuffix("_sum"))
    if name.endswith("_total"):
        return _name_unit(name.removesuffix("_total")) or COUNT
    if name.endswith(("_time_seconds", "_timestamp_seconds")):  # node_boot_time_seconds
        return TIMESTAMP
    return _name_unit(name)


# Functions by what they do to their argument's unit.
_PER_SECOND = frozenset({"rate", "irate", "deriv"})
_COUNTING = frozenset({"count_over_time", "changes", "resets"})
_TIMESTAMPS = frozenset({"time", "timestamp"})
_KEEPING = frozenset(
    """abs ceil floor round clamp clamp_min clamp_max sort sort_desc sort_by_label
    sort_by_label_desc label_replace label_join predict_linear holt_winters
    double_exponential_smoothing increase delta idelta last_over_time first_over_time
    avg_over_time min_over_time max_over_time sum_over_time quantile_over_time
    stddev_over_time mad_over_time scalar vector""".split()  # noqa: SIM905 (a word list reads better)
)
# Where the series is among the arguments, when not first (the first is the quantile).
_SERIES_ARGUMENT = {"quantile_over_time": 1}
_HISTOGRAM_FUNCTIONS = frozenset(
    {
        "histogram_quantile",
        "histogram_avg",
        "histogram_stddev",
        "histogram_sum",
        "histogram_count",
        "histogram_fraction",
    }
)


def _call(name: str, args: list[Any]) -> Quantity | None:
    if name in _TIMESTAMPS:
        return TIMESTAMP
    if name in _COUNTING:
        return COUNT
    if name == "histogram_fraction":
        return RATIO
    if name in _HISTOGRAM_FUNCTIONS:
        return _histogram(name, args[-1])
    if not args:
        return None
    if name in _PER_SECOND:
        counter = _quantity(args[0])
        return counter.per(SECONDS) if isinstance(counter, Measure) else None
    if name in _KEEPING:
        return _quantity(args[_SERIES_ARGUMENT.get(name, 0)])
    return None  # exp, ln, sqrt, hour(), absent(), stdvar_over_time...: no unit survives


def _histogram(name: str, argument: Any) -> Quantity | None:
    source = _histogram_source(argument, per_second=False)
    if source is None:
        return None
    observed, per_second = source
    if name == "histogram_count":
        counted: Measure | None = COUNT
    elif name == "histogram_sum":
        counted = observed
    else:  # a quantile, mean or deviation of observations: a rate changes counts, not values
        return observed
    if counted is None or not per_second:
        return counted
    return counted.per(SECONDS)


def _histogram_source(expr: Any, per_second: bool) -> tuple[Measure | None, bool] | None:
    """The observed unit of the histogram under ``expr``, and whether it was made a rate.

    Only the shapes of histogram queries are followed (``rate``, ``sum by (le)``, a range,
    parentheses), down to the ``_bucket`` series or native histogram they read.
    """
    import promql_parser as pp

    if isinstance(expr, (pp.ParenExpr, pp.SubqueryExpr)):
        return _histogram_source(expr.expr, per_second)
    if isinstance(expr, pp.MatrixSelector):
        return _histogram_source(expr.vector_selector, per_second)
    if isinstance(expr, pp.AggregateExpr) and str(expr.op) == "sum":
        return _histogram_source(expr.expr, per_second)
    if isinstance(expr, pp.Call) and expr.func.name in ("rate", "irate", "increase"):
        return _histogram_source(expr.args[0], per_second or expr.func.name != "increase")
    if isinstance(expr, pp.VectorSelector):
        name = _selector_name(expr)
        return (None if name is None else _name_unit(name.removesuffix("_bucket"))), per_second
    return None


# Aggregations whose result is one of the values they aggregate, or of the same unit.
_AGGREGATIONS_KEEPING = frozenset(
    {"sum", "avg", "min", "max", "topk", "bottomk", "quantile", "stddev", "limitk", "limit_ratio"}
)


def _aggregate(op: str, inner: Any) -> Quantity | None:
    if op in _AGGREGATIONS_KEEPING:
        return _quantity(inner)
    if op in ("count", "count_values"):
        return COUNT
    return None  # group (always 1), stdvar (a squared unit)


_COMPARISONS = frozenset({"==", "!=", ">", "<", ">=", "<="})


def _binary(
    op: str, left: Quantity | None, right: Quantity | None, returns_bool: bool
) -> Quantity | None:
    left_value, right_value = _constant(left), _constant(right)
    if left_value is not None and right_value is not None:
        return _folded(op, left_value, right_value)
    if op in _COMPARISONS:
        if returns_bool:
            return None  # 0 or 1: a truth, not a value of either side
        return right if left_value is not None else left  # a filter: the series' values pass
    if op in ("and", "unless"):
        return left
    if op == "or":
        if isinstance(right, Number):  # x or vector(0)
            return left
        if isinstance(left, Number):
            return right
        return left if left == right else None
    if op == "%":
        return left
    if left is None or right is None:
        return None
    if op in ("+", "-"):
        return _sum(op, left, right)
    if op == "*":
        return _product(left, right)
    if op == "/":
        return _quotient(left, right)
    return None  # ^ and atan2


def _constant(quantity: Quantity | None) -> Fraction | None:
    return quantity.value if isinstance(quantity, Number) else None


def _folded(op: str, left: Fraction, right: Fraction) -> Number | None:
    """Arithmetic on two numbers (``1024 ^ 3``), so that the result can convert a unit."""
    if op == "+":
        return Number(left + right)
    if op == "-":
        return Number(left - right)
    if op == "*":
        return Number(left * right)
    if op == "/" and right != 0:
        return Number(left / right)
    # A small whole power only: a big one would take long to compute exactly, for no unit.
    if op == "^" and right.denominator == 1 and abs(right) <= 64 and (left != 0 or right >= 0):
        return Number(left ** int(right))
    return None


def _sum(op: str, left: Quantity, right: Quantity) -> Quantity | None:
    if isinstance(right, Number):  # x + c, and 1 - ratio, 100 - percent, timestamp - 60
        return left
    if isinstance(left, Number):
        # c + x keeps x's unit; c - timestamp is no time.
        return None if op == "-" and isinstance(right, Timestamp) else right
    if isinstance(left, Timestamp) and isinstance(right, Timestamp):
        return SECONDS if op == "-" else None
    if isinstance(left, Timestamp):
        return left if right == SECONDS else None
    if isinstance(right, Timestamp):
        return right if op == "+" and left == SECONDS else None
    return left if left == right else None


def _product(left: Quantity, right: Quantity) -> Quantity | None:
    if isinstance(left, Number):
        left, right = right, left
    if isinstance(right, Number):
        return left if right.value is None else _converted(left, right.value)
    if isinstance(left, Measure) and isinstance(right, Measure):
        return left.times(right)
    return None  # a timestamp times a series


def _quotient(left: Quantity, right: Quantity) -> Quantity | None:
    if isinstance(right, Number):
        if right.value is None:
            return left
        return None if right.value == 0 else _converted(left, 1 / right.value)
    if isinstance(left, Number):
        if left.value not in (None, 1):
            return None  # 2 / x: a factor that no unit absorbs
        left = RATIO  # 1 / x: x's dimensions inverted
    if isinstance(left, Measure) and isinstance(right, Measure):
        return left.per(right)
    return None  # a timestamp divided, or divided by


def _converted(quantity: Quantity, factor: Fraction) -> Quantity | None:
    """``quantity`` times ``factor``, if that is a conversion to a known unit (bytes x 8)."""
    # A sign flips the values, not their unit (Grafana's mirrored "transmit" series: * -8).
    if abs(factor) == 1:
        return quantity
    if not isinstance(quantity, Measure):
        return None
    converted = quantity.scaled(abs(factor))
    return converted if converted in BY_QUANTITY else None
