"""Durations, times, automatic steps and the point limit, on literals."""

from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest

from sysmon_magic.errors import SysmonUsageError
from sysmon_magic.timeparse import (
    EARLIEST_TIME,
    LATEST_TIME,
    MAX_DURATION,
    auto_step,
    check_points,
    format_duration,
    format_time,
    parse_duration,
    parse_time,
    parse_zone,
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


@pytest.mark.parametrize("text", ["1000y", "10000000000", "1e308", "100000y", "106751d23h47m17s"])
def test_a_duration_longer_than_pandas_holds_is_refused(text):
    # 1e308 and 1000y were OverflowErrors as steps and timeouts; 100000y as a range said that
    # its start "is not a valid unix time".
    with pytest.raises(SysmonUsageError, match=r"too long: at most 106751d23h47m16s"):
        parse_duration(text)
    assert parse_duration("106751d23h47m16s") == MAX_DURATION
    assert pd.Timedelta(seconds=MAX_DURATION) <= pd.Timedelta.max


@pytest.mark.parametrize("text", ["1e-300", "0.0001", "0.0009"])
def test_a_duration_below_a_millisecond_is_refused(text):
    # A step of 1e-300 was "Step 0s gives 3,600,000,...,000 points".
    with pytest.raises(SysmonUsageError, match=r"shorter than 1ms"):
        parse_duration(text)
    assert parse_duration("0.001") == parse_duration("1ms") == 0.001


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
        ("-5", -5.0),  # 1969-12-31T23:59:55Z, as Prometheus reads it
        ("1969-12-31T00:00:00Z", -86400.0),
        ("1677-09-21T00:12:44Z", EARLIEST_TIME),
        ("2262-04-11T23:47:16Z", LATEST_TIME),
        ("now-200y", NOW - 200 * 365 * 86400),
        (1793887200, 1793887200.0),
        (datetime(2026, 11, 5, 14, tzinfo=timezone.utc), 1793887200.0),
    ],
)
def test_parse_time(text, expected):
    assert parse_time(text, NOW) == expected


def test_millisecond_epoch_is_refused_with_the_seconds_to_use():
    with pytest.raises(SysmonUsageError) as caught:
        parse_time("1793887200000", NOW)
    assert str(caught.value) == (
        "Time '1793887200000' is after 2262-04-11T23:47:16Z, the latest time a pandas DataFrame "
        "can hold; read as milliseconds since the epoch it is 2026-11-05T14:00:00Z: then use "
        "1793887200.000, as Prometheus takes seconds."
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # Accepted: Prometheus wrapped it around, and the frame showed 1702.
        ("1e10", r"^Time '1e10' is after 2262-04-11T23:47:16Z.*milliseconds.*1970-04-26T17:46:40Z"),
        # Refused as "looks like milliseconds", which it does not.
        ("9999-12-31T23:59:59Z", r"^Time '9999-12-31T23:59:59Z' is after 2262-04-11T23:47:16Z, the latest time a pandas DataFrame can hold\.$"),
        ("1e16", r"^Time '1e16' is after 2262-04-11T23:47:16Z, the latest time a pandas DataFrame can hold\.$"),
        ("2262-04-11T23:47:17Z", r"after 2262-04-11T23:47:16Z"),
        ("now+250y", r"^Time 'now\+250y' is after"),
        ("1677-09-21T00:12:43Z", r"before 1677-09-21T00:12:44Z, the earliest time a pandas DataFrame"),
        ("-1e10", r"^Time '-1e10' is before 1677-09-21T00:12:44Z"),
        ("1500-01-01", r"before 1677"),
        ("nan", r"not a valid unix time"),
    ],
)  # fmt: skip
def test_times_a_dataframe_cannot_hold_are_refused_saying_so(text, message):
    with pytest.raises(SysmonUsageError, match=message):
        parse_time(text, NOW)


def test_a_datetime_a_dataframe_cannot_hold_is_refused():
    with pytest.raises(SysmonUsageError, match="after 2262"):
        parse_time(datetime(2300, 1, 1), NOW)


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01", "now-", "now-6x", "--5"])
def test_parse_time_refuses(text):
    with pytest.raises(SysmonUsageError):
        parse_time(text, NOW)


def test_a_window_that_starts_before_1677_is_refused_saying_so():
    with pytest.raises(SysmonUsageError) as caught:
        resolve_span(now=NOW, default_range=3600, range_seconds=100 * 86400 * 365, end="1700-01-01")
    assert str(caught.value) == (
        "A window of 36500d up to 1700-01-01T00:00:00Z starts before 1677-09-21T00:12:44Z, the "
        "earliest time a pandas DataFrame can hold: use a shorter range."
    )
    # Nor may the alignment to the step move it there.
    with pytest.raises(SysmonUsageError, match="starts before 1677"):
        resolve_window(now=EARLIEST_TIME + 3600.5, default_range=3600, max_points=1000)


def test_parse_zone():
    assert str(parse_zone("Asia/Seoul")) == "Asia/Seoul"
    for name in ("Mars/Olympus", "Asia", "", "../etc", "/etc/localtime", "utc"):
        with pytest.raises(SysmonUsageError, match=f"Unknown time zone {name!r}"):
            parse_zone(name)


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
    with pytest.raises(SysmonUsageError, match=r"11,002 points.*step of 1s1ms or more \(step=\)"):
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
        ({"end": "now-1h"}, "end= needs start= or range_seconds="),
        ({"start": "now", "end": "now-1h"}, "before it starts"),
    ],
)
def test_resolve_span_refuses(options, message):
    with pytest.raises(SysmonUsageError, match=message):
        resolve_span(now=NOW, default_range=3600, **options)
