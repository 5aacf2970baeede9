"""The dimension algebra behind :func:`~sysmon_magic.units.unit_of` (the package docstring says
what a measure, a timestamp and a number are)."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import TypeAlias

__all__ = [
    "BYTES",
    "BYTE_RATE",
    "COUNT",
    "NAME_UNITS",
    "RATIO",
    "SECONDS",
    "TIMESTAMP",
    "Dimensions",
    "Measure",
    "Number",
    "Quantity",
    "Timestamp",
    "measure",
]

Dimensions: TypeAlias = tuple[tuple[str, int], ...]  # sorted (dimension, non-zero exponent)


def combined(first: Dimensions, second: Dimensions, sign: int) -> Dimensions:
    exponents = dict(first)
    for name, exponent in second:
        exponents[name] = exponents.get(name, 0) + sign * exponent
    return tuple(sorted((name, exponent) for name, exponent in exponents.items() if exponent))


@dataclass(frozen=True)
class Measure:
    """scale x a product of base dimensions; ``counted``: a number of things (requests, cores)."""

    dimensions: Dimensions = ()
    scale: Fraction = Fraction(1)
    counted: bool = False

    def scaled(self, factor: Fraction) -> Measure:
        return Measure(self.dimensions, self.scale * factor, self.counted)

    def times(self, other: Measure) -> Measure:
        return Measure(
            combined(self.dimensions, other.dimensions, 1),
            self.scale * other.scale,
            self.counted or other.counted,
        )

    def per(self, other: Measure) -> Measure:
        # A count in the divisor makes an average per item (seconds per request is seconds);
        # a count over a count is a ratio.
        return Measure(
            combined(self.dimensions, other.dimensions, -1),
            self.scale / other.scale,
            self.counted and not other.counted,
        )


@dataclass(frozen=True)
class Timestamp:
    """A point in time, in unix seconds."""


@dataclass(frozen=True)
class Number:
    """A plain number; ``value`` None for an ``_info`` metric (its value is 1, by convention)."""

    value: Fraction | None


Quantity: TypeAlias = "Measure | Timestamp | Number"


def measure(counted: bool = False, **exponents: int) -> Measure:
    return Measure(combined((), tuple(exponents.items()), 1), Fraction(1), counted)


RATIO = measure()
COUNT = measure(counted=True)
SECONDS = measure(seconds=1)
BYTES = measure(bytes=1)
BYTE_RATE = measure(bytes=1, seconds=-1)
TIMESTAMP = Timestamp()

# What a metric name's last word says (after _total, _sum or _bucket is taken off).
NAME_UNITS: dict[str, Measure] = {
    "bytes": BYTES,
    "seconds": SECONDS,
    "ratio": RATIO,
    "celsius": measure(celsius=1),
    "volts": measure(volts=1),
    "amperes": measure(amperes=1),
    "joules": measure(joules=1),
    "watts": measure(joules=1, seconds=-1),
    "grams": measure(grams=1),
    "meters": measure(meters=1),
    "hertz": measure(seconds=-1),
}
