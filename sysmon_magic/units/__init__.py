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

# The algebra (quantities.py), the table of units (table.py) and the walk of the parse tree
# (tree.py) are modules of their own; the public names are the package's.
from .table import GRAFANA_UNIT_IDS, Unit, unit_from_grafana
from .tree import unit_of

__all__ = ["GRAFANA_UNIT_IDS", "Unit", "unit_from_grafana", "unit_of"]
