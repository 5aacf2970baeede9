"""Durations, times, automatic steps and range checks: pure functions, with ``now`` passed in.

Durations follow Prometheus (``90s``, ``5m``, ``1h30m``, ``7d``, ``500ms``); a plain number is
seconds. Times are RFC 3339, unix seconds, ``now`` or ``now-6h`` / ``now+1h``. Everything is float
unix seconds, as the Prometheus API takes them. Times and durations are refused where a pandas
DataFrame cannot hold them (int64 nanoseconds: 1677-09-21 to 2262-04-11, spans up to 292 years).
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import SysmonUsageError

__all__ = [
    "EARLIEST_TIME",
    "LATEST_TIME",
    "MAX_DURATION",
    "MAX_POINTS_PER_SERIES",
    "MIN_DURATION",
    "NICE_STEPS",
    "PROMETHEUS_MAX_POINTS",
    "auto_step",
    "check_points",
    "format_duration",
    "format_time",
    "parse_duration",
    "parse_time",
    "parse_zone",
    "resolve_span",
    "resolve_window",
    "smallest_step",
    "split_range",
]

#: Prometheus refuses a range query with more points per series than this (plus one).
MAX_POINTS_PER_SERIES = 11_000
#: The most points per series one range query gets from Prometheus: its 11,000 steps count the
#: intervals, ``(end - start) / step``. VictoriaMetrics counts the points themselves: 30,000.
PROMETHEUS_MAX_POINTS = MAX_POINTS_PER_SERIES + 1
#: A longer range is fetched as at most this many windows (of 11,001 points from Prometheus:
#: 1.1 M per series).
MAX_SPLIT_WINDOWS = 100

_UNIT_SECONDS = {
    "y": 365 * 86400,
    "w": 7 * 86400,
    "d": 86400,
    "h": 3600,
    "m": 60,
    "s": 1,
    "ms": 0.001,
}
# Units in the order Prometheus requires them; ``ms`` must be tried before ``m``.
_DURATION_RE = re.compile(
    r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$"
)
_DURATION_UNITS = ("y", "w", "d", "h", "m", "s", "ms")

#: Steps an automatic step is rounded up to, in seconds (1s ... 1d), as dashboards do.
NICE_STEPS: tuple[int, ...] = (
    1, 2, 5, 10, 15, 30,
    60, 120, 300, 600, 900, 1800,
    3600, 7200, 10800, 21600, 43200, 86400,
)  # fmt: skip

#: The first and last whole seconds of pandas' datetime64[ns], 1677-09-21T00:12:44Z and
#: 2262-04-11T23:47:16Z: a time outside cannot be in a DataFrame (and Prometheus wraps some
#: around: asked for 2286, it answers with 1702).
LATEST_TIME = 2**63 // 10**9
EARLIEST_TIME = -LATEST_TIME
#: The longest duration, 106751d23h47m16s (about 292 years): pandas' longest Timedelta, and
#: about the longest wait Python's threads take (threading.TIMEOUT_MAX).
MAX_DURATION = LATEST_TIME
#: The shortest duration: Prometheus' times have milliseconds, no finer.
MIN_DURATION = 0.001

_RELATIVE_RE = re.compile(r"^now\s*(?:([+-])\s*(\S+))?$")


def parse_duration(text: str) -> float:
    """Parse a Prometheus duration (``1h30m``, ``500ms``) or plain seconds into seconds."""
    value = text.strip()
    try:
        seconds = float(value)
    except ValueError:
        match = _DURATION_RE.match(value)
        if not value or match is None:
            raise SysmonUsageError(
                f"Cannot read duration {text!r}: use a Prometheus duration such as 90s, 5m, "
                "1h30m or 7d, or a number of seconds."
            ) from None
        seconds = sum(
            int(amount) * _UNIT_SECONDS[unit]
            for amount, unit in zip(match.groups(), _DURATION_UNITS, strict=True)
            if amount
        )
    if not math.isfinite(seconds) or seconds <= 0:
        raise SysmonUsageError(f"Duration {text!r} must be positive, e.g. 5m.")
    if seconds < MIN_DURATION:
        raise SysmonUsageError(
            f"Duration {text!r} is shorter than 1ms, the finest time Prometheus keeps."
        )
    if seconds > MAX_DURATION:
        raise SysmonUsageError(
            f"Duration {text!r} is too long: at most {format_duration(MAX_DURATION)} "
            "(about 292 years)."
        )
    return seconds


def format_duration(seconds: float) -> str:
    """Format seconds as the shortest Prometheus duration (``5400`` -> ``1h30m``)."""
    millis = round(seconds * 1000)
    if millis <= 0:
        return "0s"
    parts = []
    for unit in ("d", "h", "m", "s"):
        size = int(_UNIT_SECONDS[unit] * 1000)
        amount, millis = divmod(millis, size)
        if amount:
            parts.append(f"{amount}{unit}")
    if millis:
        parts.append(f"{millis}ms")
    return "".join(parts)


def parse_time(text: str | float | int | datetime, now: float) -> float:
    """Parse a time (RFC 3339, unix seconds, ``now``, ``now-6h``) into unix seconds.

    A time a DataFrame cannot hold (before 1677-09-21 or after 2262-04-11) is refused, a number
    that is a millisecond epoch with the seconds to use: Prometheus would read it as a date
    thousands of years out.
    """
    if isinstance(text, datetime):
        moment = text if text.tzinfo else text.replace(tzinfo=timezone.utc)
        return _checked_time(moment.timestamp(), str(text))
    if isinstance(text, (int, float)):
        return _checked_time(float(text), str(text), number=True)
    value = text.strip()
    relative = _RELATIVE_RE.match(value)
    if relative:
        sign, offset = relative.groups()
        if sign is None:
            return now
        delta = parse_duration(offset)
        return _checked_time(now - delta if sign == "-" else now + delta, text)
    try:
        epoch = float(value)
    except ValueError:
        pass
    else:
        return _checked_time(epoch, value, number=True)
    try:
        # fromisoformat reads "Z" only from Python 3.11 on.
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise SysmonUsageError(
            f"Cannot read time {text!r}: use RFC 3339 (2026-11-05T14:00:00Z), unix seconds, "
            "now, or now-6h."
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return _checked_time(moment.timestamp(), text)


def _checked_time(seconds: float, text: str, *, number: bool = False) -> float:
    """``seconds`` if a DataFrame can hold it; ``number``: ``text`` is a number, not a date."""
    if not math.isfinite(seconds):
        raise SysmonUsageError(f"Time {text!r} is not a valid unix time in seconds.")
    if seconds < EARLIEST_TIME:
        raise SysmonUsageError(
            f"Time {text!r} is before {format_time(EARLIEST_TIME)}, the earliest time a pandas "
            "DataFrame can hold."
        )
    if seconds > LATEST_TIME:
        message = (
            f"Time {text!r} is after {format_time(LATEST_TIME)}, the latest time a pandas "
            "DataFrame can hold"
        )
        if number and seconds / 1000 <= LATEST_TIME:
            message += (
                f"; read as milliseconds since the epoch it is {format_time(seconds / 1000)}: "
                f"then use {seconds / 1000:.3f}, as Prometheus takes seconds"
            )
        raise SysmonUsageError(message + ".")
    return seconds


def parse_zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (``UTC``, ``Asia/Seoul``)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "Asia" is a directory
        raise SysmonUsageError(
            f"Unknown time zone {name!r}: use an IANA name such as UTC or Asia/Seoul."
        ) from None


def format_time(seconds: float) -> str:
    """Format unix seconds as RFC 3339 in UTC, with milliseconds only when there are any."""
    moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
    spec = "seconds" if moment.microsecond == 0 else "milliseconds"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")


def auto_step(range_seconds: float, max_points: int, min_step: float = 0.0) -> float:
    """Choose a step: ``range / max_points`` rounded up to a nice value, within Prometheus' limit.

    Never below ``min_step``, the data's scrape interval (Grafana's "min interval"): a finer step
    only repeats each sample (a 5 s step on 60 s data returns 12 copies of every one).
    """
    if max_points <= 0:
        raise SysmonUsageError("max_points must be a positive number of points.")
    wanted = max(range_seconds / min(max_points, MAX_POINTS_PER_SERIES), 1.0)
    for step in NICE_STEPS:
        if step >= wanted:
            return float(max(step, min_step))
    # Longer than 1000 days at a 1d step: whole days keep the points under the limit.
    return float(max(math.ceil(wanted / 86400) * 86400, min_step))


def smallest_step(range_seconds: float, max_points: int = MAX_POINTS_PER_SERIES) -> float:
    """The smallest step, in whole milliseconds, that keeps a range within ``max_points``."""
    return math.ceil(range_seconds / max_points * 1000) / 1000


def check_points(
    start: float, end: float, step: float, max_points: int = MAX_POINTS_PER_SERIES
) -> None:
    """Refuse a range with more than ``max_points`` steps per series, saying which step works."""
    if end < start:
        raise SysmonUsageError(
            f"The window ends ({format_time(end)}) before it starts ({format_time(start)})."
        )
    if (end - start) / step > max_points:
        points = math.floor((end - start) / step) + 1
        raise SysmonUsageError(
            f"Step {format_duration(step)} gives {points:,} points per series over "
            f"{format_duration(end - start)}; at most {max_points + 1:,} can be fetched. Use a "
            f"step of {format_duration(smallest_step(end - start, max_points))} or more "
            "(step=), or a shorter range."
        )


def split_range(
    start: float, end: float, step: float, max_points_per_series: int = PROMETHEUS_MAX_POINTS
) -> list[tuple[float, float]]:
    """Step-aligned windows of at most ``max_points_per_series`` points (the server's limit:
    Prometheus 11,001, VictoriaMetrics 30,000) that together hold every point once.

    The points of a range query are ``start + k * step`` for ``k = 0 .. K``; with ``n`` points
    per window, window ``i`` holds ``k`` from ``i * n`` on, so no timestamp is fetched twice or
    skipped at a seam.
    """
    per_window = max_points_per_series
    check_points(start, end, step, MAX_SPLIT_WINDOWS * per_window - 1)
    last = math.floor((end - start) / step + 1e-9)  # K; the epsilon absorbs float noise
    return [
        (start + first * step, start + min(first + per_window - 1, last) * step)
        for first in range(0, last + 1, per_window)
    ]


def resolve_span(
    *,
    now: float,
    default_range: float,
    range_seconds: float | None = None,
    start: str | float | None = None,
    end: str | float | None = None,
) -> tuple[float, float]:
    """Turn a range before ``end`` (``now`` if None), or ``start``/``end``, or neither (the
    default range) into a window."""
    if range_seconds is not None and start is not None:
        raise SysmonUsageError("Give either range_seconds= or start=, not both.")
    end_s = now if end is None else parse_time(end, now)
    if start is not None:
        start_s = parse_time(start, now)
    else:
        if end is not None and range_seconds is None:
            raise SysmonUsageError("end= needs start= or range_seconds=.")
        start_s = end_s - (default_range if range_seconds is None else range_seconds)
        _check_start(start_s, end_s)
    if end_s < start_s:
        raise SysmonUsageError(
            f"The window ends ({format_time(end_s)}) before it starts ({format_time(start_s)})."
        )
    return start_s, end_s


def _check_start(start: float, end: float) -> None:
    """Refuse a window, given as a range before its end, that starts before a DataFrame can hold."""
    if start < EARLIEST_TIME:
        raise SysmonUsageError(
            f"A window of {format_duration(end - start)} up to {format_time(end)} starts before "
            f"{format_time(EARLIEST_TIME)}, the earliest time a pandas DataFrame can hold: use a "
            "shorter range."
        )


def resolve_window(
    *,
    now: float,
    default_range: float,
    max_points: int,
    range_seconds: float | None = None,
    start: str | float | None = None,
    end: str | float | None = None,
    step: float | None = None,
    min_step: float = 0.0,
    max_points_per_series: int = PROMETHEUS_MAX_POINTS,
) -> tuple[float, float, float]:
    """Turn the options of a range query into an absolute ``(start, end, step)``.

    An automatic step is never below ``min_step`` (the scrape interval). With a relative window
    (no ``start``) and an automatic step, the window is moved back to end on a multiple of the
    step, so re-running a cell later keeps the same grid of timestamps.
    """
    start_s, end_s = resolve_span(
        now=now, default_range=default_range, range_seconds=range_seconds, start=start, end=end
    )
    chosen = step if step is not None else auto_step(end_s - start_s, max_points, min_step)
    if step is None and start is None:
        shift = end_s - math.floor(end_s / chosen) * chosen
        start_s, end_s = start_s - shift, end_s - shift
        _check_start(start_s, end_s)
    # Refuses what even a split into the server's windows cannot fetch.
    split_range(start_s, end_s, chosen, max_points_per_series)
    return start_s, end_s, chosen
