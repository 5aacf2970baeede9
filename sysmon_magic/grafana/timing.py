"""Time in a Grafana dashboard: its nice intervals, the step its Prometheus data source sends,
the window aligned to that step, and the dashboard's own times (``now-6h``, ``now-1d/d``)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from ..errors import SysmonError, SysmonUsageError
from ..templating import expand
from ..timeparse import MAX_POINTS_PER_SERIES, parse_duration, parse_time

__all__ = [
    "GRAFANA_SCRAPE_INTERVAL",
    "aligned",
    "grafana_duration",
    "grafana_time",
    "interval_seconds",
    "round_interval",
    "step_for",
]

#: Grafana's Prometheus data source: a scrape interval it assumes when none is configured.
GRAFANA_SCRAPE_INTERVAL = 15.0

# Grafana's "nice" intervals (gtime.RoundInterval): an interval up to the first number (ms)
# becomes the second.
_ROUNDED_MS = (
    (15, 10), (35, 20), (75, 50), (150, 100), (350, 200), (750, 500), (1_500, 1_000),
    (3_500, 2_000), (7_500, 5_000), (12_500, 10_000), (17_500, 15_000), (25_000, 20_000),
    (45_000, 30_000), (90_000, 60_000), (210_000, 120_000), (450_000, 300_000),
    (750_000, 600_000), (1_050_000, 900_000), (1_500_000, 1_200_000), (2_700_000, 1_800_000),
    (5_400_000, 3_600_000), (9_000_000, 7_200_000), (16_200_000, 10_800_000),
    (32_400_000, 21_600_000), (86_400_000, 43_200_000), (172_800_000, 86_400_000),
    (604_800_000, 86_400_000), (1_814_400_000, 604_800_000), (3_628_799_999, 2_592_000_000),
)  # fmt: skip
_YEAR_MS = 31_536_000_000

# Grafana's relative times: now, now-6h, now-1d/d (rounded to the day).
_RELATIVE = re.compile(r"^now(?:\s*-\s*(\d+)\s*([smhdwMy]))?(?:/([smhd]))?$")


def round_interval(seconds: float) -> float:
    """Grafana's rounding of a computed interval to a nice one (21.6 s -> 20 s, 80 s -> 1 m)."""
    millis = seconds * 1000
    for limit, rounded in _ROUNDED_MS:
        if millis <= limit:
            return rounded / 1000
    return _YEAR_MS / 1000


def step_for(
    *,
    range_seconds: float,
    max_data_points: int,
    min_interval: float | None,
    min_step: float | None,
    interval_factor: int = 1,
    scrape_interval: float | None = None,
) -> tuple[float, float]:
    """The step Grafana's Prometheus data source sends for a target, and its query interval.

    ``min_interval`` is the panel's "Min interval" (else the data source's scrape interval),
    ``min_step`` the target's "Min step" (``interval``). The query interval, ``range /
    max_data_points`` rounded and never below ``min_interval``, is what ``$__rate_interval``
    adds the scrape interval to; the step is ``range / max_data_points``, at least the target's
    min step (else the query interval), rounded, at least Prometheus' safe ``range / 11000``, times
    the interval factor. Returns ``(step, query interval)`` in seconds.
    """
    low = min_interval if min_interval is not None else (scrape_interval or 0.001)
    query_interval = max(round_interval(range_seconds / max_data_points), low)
    floor = min_step if min_step is not None else query_interval
    calculated = range_seconds / max_data_points
    step = floor if calculated < floor else round_interval(calculated)
    safe = round_interval(range_seconds / MAX_POINTS_PER_SERIES)
    return max(step, safe) * max(interval_factor, 1), query_interval


def aligned(start: float, end: float, step: float) -> tuple[float, float]:
    """Start and end rounded down to a multiple of the step, as Grafana sends them."""
    return math.floor(start / step) * step, math.floor(end / step) * step


def interval_seconds(text: str | None, values: Mapping[str, Any]) -> float | None:
    """A panel's min interval or a target's min step in seconds: ``1m``, ``>30s``, ``$var``;
    None when unset or a macro ($__interval: the computed one is used)."""
    if not text:
        return None
    if text.strip("${}").startswith("__"):
        return None
    try:
        written = expand(text, values).strip().lstrip("<>").rstrip()
        return parse_duration(written) if written else None
    except SysmonError:
        return None


def grafana_duration(text: str) -> str:
    """A panel's ``timeFrom``/``timeShift`` (``1h``, ``now-1h``, ``7d``) as a duration."""
    return text.strip().removeprefix("now-")


def grafana_time(text: str, now: float, *, end: bool) -> float:
    """A dashboard time: ``now``, ``now-6h``, ``now-1d/d`` (UTC), RFC 3339, or milliseconds."""
    text = text.strip()
    relative = _RELATIVE.match(text)
    if relative:
        amount, unit, rounding = relative.groups()
        moment = now
        if amount:
            moment -= parse_duration(
                {"M": f"{int(amount) * 30}d", "y": f"{int(amount) * 365}d"}.get(unit, amount + unit)
            )
        if rounding:
            size = parse_duration("1" + rounding)
            moment = math.floor(moment / size) * size + (size if end else 0)
        return moment
    if text.isdigit():
        return int(text) / 1000  # Grafana's URLs and old dashboards: epoch milliseconds
    try:
        return parse_time(text, now)
    except SysmonUsageError:
        raise SysmonUsageError(
            f"Cannot read the dashboard's time {text!r}: give now, now-6h, now-1d/d, an RFC 3339 "
            "time or epoch milliseconds."
        ) from None
