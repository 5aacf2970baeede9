"""The unit of a PromQL expression's result, derived from its parse tree.

A metric's name says its unit (Prometheus' naming conventions: ``_bytes``, ``_seconds``,
``_total``...), and every function and operator above it changes that unit in a known way:
``rate()`` divides by seconds, ``count()`` makes a count, ``* 8`` turns bytes into bits, a
quotient of like units is a ratio. This module computes that with a small dimension algebra:

- a *measure* is a product of base dimensions (bytes, seconds, celsius, volts, amperes, joules,
  grams, meters) with integer exponents, times a scale k (value = k x value in base units: bits
  are bytes with k=8, milliseconds seconds with k=1000, percent a ratio with k=100); a measure
  may be *counted* (events, requests, cores: ``count()``, a ``_total`` without a unit);
- a *timestamp* is a point in time (``time()``, ``node_boot_time_seconds``); two of them
  subtract to seconds;
- a *number* is a literal (or ``vector(c)``), or an ``_info`` metric whose value is 1.

Multiplying or dividing by a literal is accepted only when it lands on a known unit (a
conversion: ``* 8``, ``/ 1024``, ``* 100``); any other factor, and every rule that does not
apply, makes the unit unknown: ``unit_of`` answers None rather than a wrong unit.

Each :class:`Unit` names the Grafana unit id that shows its values (Grafana's ``bytes`` is
binary, ``Bps``/``bps`` are SI; ids Grafana lacks are written ``suffix:<symbol>``, which
Grafana accepts), an axis label in plain English, its family and factor, and ``ticks()``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, TypeAlias

__all__ = ["GRAFANA_UNIT_IDS", "Unit", "unit_from_grafana", "unit_of"]


@dataclass(frozen=True)
class Unit:
    """A unit of values: Grafana's id for it, an axis label, its family and size in that family.

    ``base`` is the family (``bytes``, ``decbytes``, ``bytes_per_second``, ``bits``,
    ``bits_per_second``, ``seconds``, ``percent``, ``count``, ``per_second``, ``timestamp``,
    ``celsius``, ``number``...); a value divided by ``factor`` is in the family's base unit
    (KiB: factor 1/1024; ms: 1000; a 0-1 ratio is the percent family with factor 0.01).
    ``symbol`` is how one value of this unit is written (empty for counts and plain numbers).
    """

    grafana_id: str
    label: str
    base: str
    factor: float
    symbol: str

    def ticks(self, largest: float) -> tuple[float, str]:
        """``(scale, symbol)`` for an axis up to ``largest``: a tick shows ``value / scale`` symbol.

        Bytes step in binary prefixes (B, KiB, MiB...), SI bytes and bits in SI ones (kB,
        Mbit/s), durations from ns to days, ratios as percent; other units keep their symbol.
        A timestamp's scale is 1: a plot shows those as dates.
        """
        steps = _STEPS.get(self.base)
        if steps is None:
            return 1.0, self.symbol
        in_base = abs(largest) / self.factor
        # Nothing to size by (an empty or all-zero axis): the family's own base unit.
        size, symbol = next(step for step in steps if step[0] == 1)
        if math.isfinite(in_base):
            for step_size, step_symbol in steps:
                if step_size <= in_base:
                    size, symbol = step_size, step_symbol
        return size * self.factor, symbol


def _prefixed(symbol: str, base: int, prefixes: tuple[str, ...]) -> tuple[tuple[float, str], ...]:
    return tuple((float(base**power), prefix + symbol) for power, prefix in enumerate(prefixes))


_IEC = ("", "Ki", "Mi", "Gi", "Ti", "Pi")
_SI = ("", "k", "M", "G", "T", "P")
# The steps an axis of each family may be shown in: (size in the family's base unit, symbol).
_STEPS: dict[str, tuple[tuple[float, str], ...]] = {
    "bytes": _prefixed("B", 1024, _IEC),
    "decbytes": _prefixed("B", 1000, _SI),
    "bytes_per_second": _prefixed("B/s", 1024, _IEC),
    "decbytes_per_second": _prefixed("B/s", 1000, _SI),
    "bits": _prefixed("bit", 1000, _SI),
    "binbits": _prefixed("bit", 1024, _IEC),
    "bits_per_second": _prefixed("bit/s", 1000, _SI),
    "binbits_per_second": _prefixed("bit/s", 1024, _IEC),
    "seconds": (
        (1e-9, "ns"),
        (1e-6, "µs"),
        (1e-3, "ms"),
        (1.0, "s"),
        (60.0, "min"),
        (3600.0, "h"),
        (86400.0, "d"),
    ),
    "percent": ((1.0, "%"),),
}


# -- the algebra ------------------------------------------------------------------------------

_Dimensions: TypeAlias = tuple[tuple[str, int], ...]  # sorted (dimension, non-zero exponent)


def _combined(first: _Dimensions, second: _Dimensions, sign: int) -> _Dimensions:
    exponents = dict(first)
    for name, exponent in second:
        exponents[name] = exponents.get(name, 0) + sign * exponent
    return tuple(sorted((name, exponent) for name, exponent in exponents.items() if exponent))


@dataclass(frozen=True)
class _Measure:
    """scale x a product of base dimensions; ``counted``: a number of things (requests, cores)."""

    dimensions: _Dimensions = ()
    scale: Fraction = Fraction(1)
    counted: bool = False

    def scaled(self, factor: Fraction) -> _Measure:
        return _Measure(self.dimensions, self.scale * factor, self.counted)

    def times(self, other: _Measure) -> _Measure:
        return _Measure(
            _combined(self.dimensions, other.dimensions, 1),
            self.scale * other.scale,
            self.counted or other.counted,
        )

    def per(self, other: _Measure) -> _Measure:
        # A count in the divisor makes an average per item (seconds per request is seconds);
        # a count over a count is a ratio.
        return _Measure(
            _combined(self.dimensions, other.dimensions, -1),
            self.scale / other.scale,
            self.counted and not other.counted,
        )


@dataclass(frozen=True)
class _Timestamp:
    """A point in time, in unix seconds."""


@dataclass(frozen=True)
class _Number:
    """A plain number; ``value`` None for an ``_info`` metric (its value is 1, by convention)."""

    value: Fraction | None


_Quantity: TypeAlias = "_Measure | _Timestamp | _Number"


def _measure(counted: bool = False, **exponents: int) -> _Measure:
    return _Measure(_combined((), tuple(exponents.items()), 1), Fraction(1), counted)


_RATIO = _measure()
_COUNT = _measure(counted=True)
_SECONDS = _measure(seconds=1)
_BYTES = _measure(bytes=1)
_BYTE_RATE = _measure(bytes=1, seconds=-1)
_TIMESTAMP = _Timestamp()

# What a metric name's last word says (after _total, _sum or _bucket is taken off).
_NAME_UNITS: dict[str, _Measure] = {
    "bytes": _BYTES,
    "seconds": _SECONDS,
    "ratio": _RATIO,
    "celsius": _measure(celsius=1),
    "volts": _measure(volts=1),
    "amperes": _measure(amperes=1),
    "joules": _measure(joules=1),
    "watts": _measure(joules=1, seconds=-1),
    "grams": _measure(grams=1),
    "meters": _measure(meters=1),
    "hertz": _measure(seconds=-1),
}

# Each family's base unit as a quantity; None: plain numbers, which have no unit to derive.
_FAMILIES: dict[str, _Measure | _Timestamp | None] = {
    "number": None,
    "count": _COUNT,
    "per_second": _COUNT.per(_SECONDS),
    "percent": _RATIO.scaled(Fraction(100)),
    "bytes": _BYTES,
    "decbytes": _BYTES,
    "bytes_per_second": _BYTE_RATE,
    "decbytes_per_second": _BYTE_RATE,
    "bits": _BYTES.scaled(Fraction(8)),
    "binbits": _BYTES.scaled(Fraction(8)),
    "bits_per_second": _BYTE_RATE.scaled(Fraction(8)),
    "binbits_per_second": _BYTE_RATE.scaled(Fraction(8)),
    "seconds": _SECONDS,
    "timestamp": _TIMESTAMP,
    "celsius": _NAME_UNITS["celsius"],
    "volts": _NAME_UNITS["volts"],
    "amperes": _NAME_UNITS["amperes"],
    "joules": _NAME_UNITS["joules"],
    "watts": _NAME_UNITS["watts"],
    "grams": _NAME_UNITS["grams"],
    "meters": _NAME_UNITS["meters"],
    "hertz": _NAME_UNITS["hertz"],
}

# -- the table of known units -----------------------------------------------------------------

_KIBI, _MEBI, _GIBI, _TEBI = 1024, 1024**2, 1024**3, 1024**4
_KILO, _MEGA, _GIGA, _TERA = 10**3, 10**6, 10**9, 10**12
# (Grafana id, axis label, family, symbol, size: how many of the family's base unit one is).
# The first row of a quantity is the one ``unit_of`` answers; a later row of the same quantity
# (SI and IEC twins, names of request rates) is reached only by its id. By id, the first row
# wins too: ``short`` and ``none`` are plain numbers, although a count is shown as ``short``.
_ROWS: tuple[tuple[str, str, str, str, int | Fraction], ...] = (
    ("none", "", "number", "", 1),
    ("short", "", "number", "", 1),
    ("short", "count", "count", "", 1),
    ("cps", "per second", "per_second", "/s", 1),
    ("cpm", "per minute", "per_second", "/min", Fraction(1, 60)),
    ("suffix:/h", "per hour", "per_second", "/h", Fraction(1, 3600)),
    ("reqps", "requests per second", "per_second", "req/s", 1),
    ("ops", "operations per second", "per_second", "ops/s", 1),
    ("rps", "reads per second", "per_second", "reads/s", 1),
    ("wps", "writes per second", "per_second", "writes/s", 1),
    ("iops", "I/O operations per second", "per_second", "io/s", 1),
    ("percentunit", "percent", "percent", "", 100),
    ("percent", "percent", "percent", "%", 1),
    ("bytes", "bytes", "bytes", "B", 1),
    ("kbytes", "bytes", "bytes", "KiB", _KIBI),
    ("mbytes", "bytes", "bytes", "MiB", _MEBI),
    ("gbytes", "bytes", "bytes", "GiB", _GIBI),
    ("tbytes", "bytes", "bytes", "TiB", _TEBI),
    ("decbytes", "bytes", "decbytes", "B", 1),
    ("deckbytes", "bytes", "decbytes", "kB", _KILO),
    ("decmbytes", "bytes", "decbytes", "MB", _MEGA),
    ("decgbytes", "bytes", "decbytes", "GB", _GIGA),
    ("dectbytes", "bytes", "decbytes", "TB", _TERA),
    ("binBps", "bytes per second", "bytes_per_second", "B/s", 1),
    ("KiBs", "bytes per second", "bytes_per_second", "KiB/s", _KIBI),
    ("MiBs", "bytes per second", "bytes_per_second", "MiB/s", _MEBI),
    ("GiBs", "bytes per second", "bytes_per_second", "GiB/s", _GIBI),
    ("TiBs", "bytes per second", "bytes_per_second", "TiB/s", _TEBI),
    ("Bps", "bytes per second", "decbytes_per_second", "B/s", 1),
    ("KBs", "bytes per second", "decbytes_per_second", "kB/s", _KILO),
    ("MBs", "bytes per second", "decbytes_per_second", "MB/s", _MEGA),
    ("GBs", "bytes per second", "decbytes_per_second", "GB/s", _GIGA),
    ("TBs", "bytes per second", "decbytes_per_second", "TB/s", _TERA),
    # Bits count in SI prefixes (a 1 Gbit/s link), so a derived bit is Grafana's decbits.
    ("decbits", "bits", "bits", "bit", 1),
    ("suffix:kbit", "bits", "bits", "kbit", _KILO),
    ("suffix:Mbit", "bits", "bits", "Mbit", _MEGA),
    ("suffix:Gbit", "bits", "bits", "Gbit", _GIGA),
    ("bits", "bits", "binbits", "bit", 1),
    ("bps", "bits per second", "bits_per_second", "bit/s", 1),
    ("Kbits", "bits per second", "bits_per_second", "kbit/s", _KILO),
    ("Mbits", "bits per second", "bits_per_second", "Mbit/s", _MEGA),
    ("Gbits", "bits per second", "bits_per_second", "Gbit/s", _GIGA),
    ("Tbits", "bits per second", "bits_per_second", "Tbit/s", _TERA),
    ("binbps", "bits per second", "binbits_per_second", "bit/s", 1),
    ("s", "duration", "seconds", "s", 1),
    ("ms", "duration", "seconds", "ms", Fraction(1, _KILO)),
    ("µs", "duration", "seconds", "µs", Fraction(1, _MEGA)),
    ("ns", "duration", "seconds", "ns", Fraction(1, _GIGA)),
    ("m", "duration", "seconds", "min", 60),
    ("h", "duration", "seconds", "h", 3600),
    ("d", "duration", "seconds", "d", 86400),
    ("dateTimeAsIso", "time", "timestamp", "", 1),
    ("celsius", "temperature", "celsius", "°C", 1),
    ("volt", "voltage", "volts", "V", 1),
    ("amp", "current", "amperes", "A", 1),
    ("watt", "power", "watts", "W", 1),
    ("joule", "energy", "joules", "J", 1),
    ("hertz", "frequency", "hertz", "Hz", 1),
    ("massg", "mass", "grams", "g", 1),
    ("lengthm", "length", "meters", "m", 1),
)
# Spellings of Grafana ids that people type: Grafana's own µs is the micro sign.
_ALIASES = {"us": "µs", "μs": "µs"}  # the second is the Greek mu, which looks the same


def _indexed(
    rows: tuple[tuple[str, str, str, str, int | Fraction], ...],
) -> tuple[dict[str, Unit], dict[_Measure | _Timestamp, Unit]]:
    """The units of ``rows`` by Grafana id, and by the quantity an expression must have."""
    by_id: dict[str, Unit] = {}
    by_quantity: dict[_Measure | _Timestamp, Unit] = {}
    for grafana_id, label, family, symbol, size in rows:
        unit = Unit(grafana_id, label, family, float(1 / Fraction(size)), symbol)
        by_id.setdefault(grafana_id, unit)
        base = _FAMILIES[family]
        if isinstance(base, _Measure):
            by_quantity.setdefault(base.scaled(1 / Fraction(size)), unit)
        elif base is not None:  # the timestamp: one unit, of size 1
            by_quantity.setdefault(base, unit)
    return by_id, by_quantity


_BY_ID, _BY_QUANTITY = _indexed(_ROWS)

GRAFANA_UNIT_IDS: tuple[str, ...] = (*_BY_ID, *_ALIASES)
"""Every id ``unit_from_grafana`` knows: Grafana's, and ``us`` and Greek ``μs`` for ``µs``."""


def unit_from_grafana(unit_id: str) -> Unit | None:
    """The unit of a Grafana unit id (``percent``, ``bytes``, ``Bps``...); None if unknown.

    Grafana's ``bytes`` and ``binBps`` are binary (KiB), ``decbytes``, ``Bps`` and ``bps`` SI
    (kB, MB/s, Mbit/s); ``none`` and ``short`` are plain numbers, without a label.
    """
    unit_id = unit_id.strip()
    return _BY_ID.get(_ALIASES.get(unit_id, unit_id))


# -- from the parse tree ----------------------------------------------------------------------


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
    if isinstance(quantity, (_Measure, _Timestamp)):
        return _BY_QUANTITY.get(quantity)
    return None  # unknown, or a plain number: nothing to label


def _quantity(expr: Any) -> _Quantity | None:
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
        if isinstance(inner, _Number) and inner.value is not None:
            return _Number(-inner.value)
        return None if isinstance(inner, _Timestamp) else inner  # -time() is no time
    if isinstance(expr, pp.Call):
        return _call(expr.func.name, expr.args)
    if isinstance(expr, pp.AggregateExpr):
        return _aggregate(str(expr.op), expr.expr)
    if isinstance(expr, pp.BinaryExpr):
        returns_bool = bool(expr.modifier and expr.modifier.return_bool)
        return _binary(str(expr.op), _quantity(expr.lhs), _quantity(expr.rhs), returns_bool)
    return None  # a string, or a node kind newer than this module


def _number(value: float) -> _Number | None:
    if not math.isfinite(value):
        return None
    # Through its shortest decimal, so that 0.01 is exactly 1/100 and lands on a unit.
    return _Number(Fraction(repr(value)))


def _selector_name(expr: Any) -> str | None:
    import promql_parser as pp

    if expr.name:
        return str(expr.name)
    for matcher in expr.matchers.matchers:
        if matcher.name == "__name__" and matcher.op == pp.MatchOp.Equal:
            return str(matcher.value)
    return None  # no name, or a regex of names: several metrics, perhaps of several units


def _name_unit(stem: str) -> _Measure | None:
    return _NAME_UNITS.get(stem.rsplit("_", 1)[-1])


def _metric_quantity(name: str) -> _Quantity | None:
    """What a metric's name says its values are, by Prometheus' naming conventions."""
    if name.endswith("_info"):
        return _Number(None)
    if name.endswith("_created"):
        return _TIMESTAMP
    if name.endswith(("_count", "_bucket")):  # observations counted (by a histogram's bucket)
        return _COUNT
    if name.endswith("_sum"):
        return _name_unit(name.removesuffix("_sum"))
    if name.endswith("_total"):
        return _name_unit(name.removesuffix("_total")) or _COUNT
    if name.endswith(("_time_seconds", "_timestamp_seconds")):  # node_boot_time_seconds
        return _TIMESTAMP
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


def _call(name: str, args: list[Any]) -> _Quantity | None:
    if name in _TIMESTAMPS:
        return _TIMESTAMP
    if name in _COUNTING:
        return _COUNT
    if name == "histogram_fraction":
        return _RATIO
    if name in _HISTOGRAM_FUNCTIONS:
        return _histogram(name, args[-1])
    if not args:
        return None
    if name in _PER_SECOND:
        counter = _quantity(args[0])
        return counter.per(_SECONDS) if isinstance(counter, _Measure) else None
    if name in _KEEPING:
        return _quantity(args[_SERIES_ARGUMENT.get(name, 0)])
    return None  # exp, ln, sqrt, hour(), absent(), stdvar_over_time...: no unit survives


def _histogram(name: str, argument: Any) -> _Quantity | None:
    source = _histogram_source(argument, per_second=False)
    if source is None:
        return None
    observed, per_second = source
    if name == "histogram_count":
        counted: _Measure | None = _COUNT
    elif name == "histogram_sum":
        counted = observed
    else:  # a quantile, mean or deviation of observations: a rate changes counts, not values
        return observed
    if counted is None or not per_second:
        return counted
    return counted.per(_SECONDS)


def _histogram_source(expr: Any, per_second: bool) -> tuple[_Measure | None, bool] | None:
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


def _aggregate(op: str, inner: Any) -> _Quantity | None:
    if op in _AGGREGATIONS_KEEPING:
        return _quantity(inner)
    if op in ("count", "count_values"):
        return _COUNT
    return None  # group (always 1), stdvar (a squared unit)


_COMPARISONS = frozenset({"==", "!=", ">", "<", ">=", "<="})


def _binary(
    op: str, left: _Quantity | None, right: _Quantity | None, returns_bool: bool
) -> _Quantity | None:
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
        if isinstance(right, _Number):  # x or vector(0)
            return left
        if isinstance(left, _Number):
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


def _constant(quantity: _Quantity | None) -> Fraction | None:
    return quantity.value if isinstance(quantity, _Number) else None


def _folded(op: str, left: Fraction, right: Fraction) -> _Number | None:
    """Arithmetic on two numbers (``1024 ^ 3``), so that the result can convert a unit."""
    if op == "+":
        return _Number(left + right)
    if op == "-":
        return _Number(left - right)
    if op == "*":
        return _Number(left * right)
    if op == "/" and right != 0:
        return _Number(left / right)
    # A small whole power only: a big one would take long to compute exactly, for no unit.
    if op == "^" and right.denominator == 1 and abs(right) <= 64 and (left != 0 or right >= 0):
        return _Number(left ** int(right))
    return None


def _sum(op: str, left: _Quantity, right: _Quantity) -> _Quantity | None:
    if isinstance(right, _Number):  # x + c, and 1 - ratio, 100 - percent, timestamp - 60
        return left
    if isinstance(left, _Number):
        # c + x keeps x's unit; c - timestamp is no time.
        return None if op == "-" and isinstance(right, _Timestamp) else right
    if isinstance(left, _Timestamp) and isinstance(right, _Timestamp):
        return _SECONDS if op == "-" else None
    if isinstance(left, _Timestamp):
        return left if right == _SECONDS else None
    if isinstance(right, _Timestamp):
        return right if op == "+" and left == _SECONDS else None
    return left if left == right else None


def _product(left: _Quantity, right: _Quantity) -> _Quantity | None:
    if isinstance(left, _Number):
        left, right = right, left
    if isinstance(right, _Number):
        return left if right.value is None else _converted(left, right.value)
    if isinstance(left, _Measure) and isinstance(right, _Measure):
        return left.times(right)
    return None  # a timestamp times a series


def _quotient(left: _Quantity, right: _Quantity) -> _Quantity | None:
    if isinstance(right, _Number):
        if right.value is None:
            return left
        return None if right.value == 0 else _converted(left, 1 / right.value)
    if isinstance(left, _Number):
        if left.value not in (None, 1):
            return None  # 2 / x: a factor that no unit absorbs
        left = _RATIO  # 1 / x: x's dimensions inverted
    if isinstance(left, _Measure) and isinstance(right, _Measure):
        return left.per(right)
    return None  # a timestamp divided, or divided by


def _converted(quantity: _Quantity, factor: Fraction) -> _Quantity | None:
    """``quantity`` times ``factor``, if that is a conversion to a known unit (bytes x 8)."""
    # A sign flips the values, not their unit (Grafana's mirrored "transmit" series: * -8).
    if abs(factor) == 1:
        return quantity
    if not isinstance(quantity, _Measure):
        return None
    converted = quantity.scaled(abs(factor))
    return converted if converted in _BY_QUANTITY else None
