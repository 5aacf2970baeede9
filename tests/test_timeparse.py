"""Durations, times, automatic steps and the point limit, on literals."""

from datetime import datetime, timezone

import numpy as np
import pytest

from sysmon_magic.errors import SysmonUsageError
from sysmon_magic.timeparse import (
    auto_step,
    check_points,
    format_duration,
    format_time,
    parse_duration,
    parse_time,
    resolve_span,
    resolve_window,
    smallest_step,
    split_range,
)

NOW = 1_793_923_200.0  # 2026-11-06T00:00:00Z


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("5m", 300),
        ("1h30m", 5400),
        ("7d", 604800),
        ("2w", 1209600),
        ("1y", 31536000),
        ("500ms", 0.5),
        ("1m30s500ms", 90.5),
        ("15", 15),
        ("0.5", 0.5),
        (" 1h ", 3600),
    ],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "m5", "1h1d", "5 m", "-5m", "0s", "abc", "nan", "inf", "-3"])
def test_parse_duration_refuses(text):
    with pytest.raises(SysmonUsageError, match=r"(?i)duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(5400, "1h30m"), (0.5, "500ms"), (86400, "1d"), (90061.5, "1d1h1m1s500ms"), (60, "1m")],
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("now-6h", NOW - 6 * 3600),
        ("now - 90s", NOW - 90),
        ("now+1h", NOW + 3600),
        ("2026-11-05T14:00:00Z", 1793887200.0),
        ("2026-11-05T23:00:00+09:00", 1793887200.0),
        ("2026-11-05T14:00:00", 1793887200.0),
        ("2026-11-05T14:00:00.250Z", 1793887200.25),
        ("1793887200", 1793887200.0),
        ("1793887200.5", 1793887200.5),
        (1793887200, 1793887200.0),
        (datetime(2026, 11, 5, 14, tzinfo=timezone.utc), 1793887200.0),
    ],
)
def test_parse_time(text, expected):
    assert parse_time(text, NOW) == expected


def test_millisecond_epoch_is_refused_with_the_seconds_to_use():
    with pytest.raises(SysmonUsageError, match=r"milliseconds.*1793887200\.000"):
        parse_time("1793887200000", NOW)


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01", "now-", "now-6x", "-5"])
def test_parse_time_refuses(text):
    with pytest.raises(SysmonUsageError):
        parse_time(text, NOW)


def test_format_time():
    assert format_time(1793887200.0) == "2026-11-05T14:00:00Z"
    assert format_time(1793887200.25) == "2026-11-05T14:00:00.250Z"


@pytest.mark.parametrize(
    ("range_seconds", "max_points", "step"),
    [
        (3600, 1000, 5),  # 3.6 s rounds up to 5 s
        (3600, 3600, 1),
        (6 * 3600, 1000, 30),  # 21.6 s -> 30 s
        (86400, 1000, 120),  # 86.4 s -> 2 m
        (7 * 86400, 1000, 900),  # 604.8 s -> 15 m
        (30 * 86400, 1000, 3600),
        (365 * 86400, 1000, 43200),
        (60, 1000, 1),  # never below 1 s
    ],
)
def test_auto_step_rounds_up_to_a_nice_value(range_seconds, max_points, step):
    assert auto_step(range_seconds, max_points) == step


@pytest.mark.parametrize(
    ("range_seconds", "scrape_interval", "step"),
    [
        (3600, 60, 60),  # 5 s would return 12 copies of each 60 s sample
        (3600, 15, 15),
        (3600, 20, 20),  # the interval itself, not rounded to a nice step
        (86400, 60, 120),  # the nice step is coarser: kept
        (3 * 86400 * 1000, 60, 86400 * 3),  # past a day per point: whole days
    ],
)
def test_auto_step_is_never_finer_than_the_scrape_interval(range_seconds, scrape_interval, step):
    assert auto_step(range_seconds, 1000, scrape_interval) == step


def test_resolve_window_aligns_to_a_step_floored_by_the_scrape_interval():
    start, end, step = resolve_window(
        now=NOW + 30, default_range=3600, max_points=1000, min_step=60
    )
    assert (start, end, step) == (NOW - 3600, NOW, 60)
    # An explicit step is the user's: the floor is only for the automatic one.
    assert resolve_window(now=NOW, default_range=3600, max_points=1000, step=5, min_step=60)[2] == 5


def test_auto_step_never_exceeds_the_point_limit():
    for max_points in (1000, 11_000, 50_000):
        for days in (1, 400, 30_000):
            step = auto_step(days * 86400, max_points)
            assert days * 86400 / step <= 11_000


def test_check_points_accepts_exactly_the_limit_and_names_the_smallest_step():
    check_points(0, 11_000, 1)  # Prometheus accepts 11,000 intervals (11,001 points)
    with pytest.raises(SysmonUsageError, match=r"11,002 points.*--step 1s1ms or more"):
        check_points(0, 11_001, 1)
    assert smallest_step(86400) == 7.855
    check_points(0, 86400, smallest_step(86400))


@pytest.mark.parametrize(
    ("start", "end", "step"),
    [(0, 11_000, 1), (0, 11_001, 1), (0, 40_320 * 15, 15), (7, 100_000.5, 2.5), (0, 0, 60)],
)
def test_split_range_windows_hold_every_point_once(start, end, step):
    windows = split_range(start, end, step)
    points = [t for a, b in windows for t in np.arange(a, b + step / 2, step)]
    expected = np.arange(start, end + 1e-9, step)
    assert np.allclose(points, expected) and len(points) == len(expected)
    assert all((b - a) / step <= 11_000 for a, b in windows)  # each one Prometheus accepts
    assert all(round((a - start) / step, 6).is_integer() for a, _ in windows)  # on the grid


def test_split_range_refuses_more_than_a_hundred_windows():
    with pytest.raises(SysmonUsageError, match=r"at most 1,100,100 can be fetched"):
        split_range(0, 2_000_000, 1)


def test_resolve_window_default_is_aligned_to_the_step():
    start, end, step = resolve_window(now=NOW + 3.5, default_range=3600, max_points=1000)
    assert (start, end, step) == (NOW - 3600, NOW, 5)


def test_resolve_window_explicit_bounds_are_kept():
    start, end, step = resolve_window(
        now=NOW, default_range=3600, max_points=1000, start="now-2h", end="now-1h", step=60
    )
    assert (start, end, step) == (NOW - 7200, NOW - 3600, 60)


def test_resolve_window_range_with_explicit_step_is_not_moved():
    start, end, step = resolve_window(
        now=NOW + 7, default_range=3600, max_points=1000, range_seconds=600, step=60
    )
    assert (start, end, step) == (NOW + 7 - 600, NOW + 7, 60)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"range_seconds": 60, "start": "now-1h"}, "not both"),
        ({"end": "now-1h"}, "--end needs"),
        ({"start": "now", "end": "now-1h"}, "before it starts"),
    ],
)
def test_resolve_span_refuses(options, message):
    with pytest.raises(SysmonUsageError, match=message):
        resolve_span(now=NOW, default_range=3600, **options)
