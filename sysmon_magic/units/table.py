"""The units values are shown in: Grafana's ids, axis labels, and the steps of an axis."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from .quantities import (
    BYTE_RATE,
    BYTES,
    COUNT,
    NAME_UNITS,
    RATIO,
    SECONDS,
    TIMESTAMP,
    Measure,
    Timestamp,
)

__all__ = ["BY_QUANTITY", "GRAFANA_UNIT_IDS", "Unit", "unit_from_grafana"]


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


# Each family's base unit as a quantity; None: plain numbers, which have no unit to derive.
_FAMILIES: dict[str, Measure | Timestamp | None] = {
    "number": None,
    "count": COUNT,
    "per_second": COUNT.per(SECONDS),
    "percent": RATIO.scaled(Fraction(100)),
    "bytes": BYTES,
    "decbytes": BYTES,
    "bytes_per_second": BYTE_RATE,
    "decbytes_per_second": BYTE_RATE,
    "bits": BYTES.scaled(Fraction(8)),
    "binbits": BYTES.scaled(Fraction(8)),
    "bits_per_second": BYTE_RATE.scaled(Fraction(8)),
    "binbits_per_second": BYTE_RATE.scaled(Fraction(8)),
    "seconds": SECONDS,
    "timestamp": TIMESTAMP,
    "celsius": NAME_UNITS["celsius"],
    "volts": NAME_UNITS["volts"],
    "amperes": NAME_UNITS["amperes"],
    "joules": NAME_UNITS["joules"],
    "watts": NAME_UNITS["watts"],
    "grams": NAME_UNITS["grams"],
    "meters": NAME_UNITS["meters"],
    "hertz": NAME_UNITS["hertz"],
}


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
) -> tuple[dict[str, Unit], dict[Measure | Timestamp, Unit]]:
    """The units of ``rows`` by Grafana id, and by the quantity an expression must have."""
    by_id: dict[str, Unit] = {}
    by_quantity: dict[Measure | Timestamp, Unit] = {}
    for grafana_id, label, family, symbol, size in rows:
        unit = Unit(grafana_id, label, family, float(1 / Fraction(size)), symbol)
        by_id.setdefault(grafana_id, unit)
        base = _FAMILIES[family]
        if isinstance(base, Measure):
            by_quantity.setdefault(base.scaled(1 / Fraction(size)), unit)
        elif base is not None:  # the timestamp: one unit, of size 1
            by_quantity.setdefault(base, unit)
    return by_id, by_quantity


_BY_ID, BY_QUANTITY = _indexed(_ROWS)  # BY_QUANTITY: what unit_of answers

GRAFANA_UNIT_IDS: tuple[str, ...] = (*_BY_ID, *_ALIASES)
"""Every id ``unit_from_grafana`` knows: Grafana's, and ``us`` and Greek ``μs`` for ``µs``."""


def unit_from_grafana(unit_id: str) -> Unit | None:
    """The unit of a Grafana unit id (``percent``, ``bytes``, ``Bps``...); None if unknown.

    Grafana's ``bytes`` and ``binBps`` are binary (KiB), ``decbytes``, ``Bps`` and ``bps`` SI
    (kB, MB/s, Mbit/s); ``none`` and ``short`` are plain numbers, without a label.
    """
    unit_id = unit_id.strip()
    return _BY_ID.get(_ALIASES.get(unit_id, unit_id))
