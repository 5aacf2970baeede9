"""Long ranges against the real demo Prometheus: split into windows, fetched in parallel, merged
with no duplicated or missing timestamp at the seams; one failing window fails the query."""

from __future__ import annotations

from unittest import mock

import pandas as pd
import pytest
from IPython.core.error import UsageError

from sysmon_magic import Client, ResponseFormatError, buffers, demo, frames_bytes
from sysmon_magic.buffers import BufferPool
from sysmon_magic.params import format_seconds
from sysmon_magic.timeparse import split_range
from tests.conftest import sysmon_magics
from tests.faults import FailingWindowProxy
from tests.test_magics import run

QUERY = 'node_load1{instance="web-01:9100"}'


@pytest.fixture
def client(demo_server):
    with Client(demo_server.url, now=demo_server.now, max_parallel=3) as c:
        yield c


def test_a_week_at_15s_is_fetched_in_windows_and_merged(client):
    calls = []
    frame = client.query_range(
        QUERY, demo.DEMO_START, demo.DEMO_END, "15s", progress=lambda *a: calls.append(a)
    )
    assert len(split_range(demo.DEMO_START, demo.DEMO_END, 15)) == 4
    assert sorted(calls) == [(1, 4), (2, 4), (3, 4), (4, 4)]
    expected = pd.date_range("2026-11-02", "2026-11-09", freq="15s", tz="UTC")
    assert frame["timestamp"].is_unique and frame["timestamp"].is_monotonic_increasing
    assert pd.DatetimeIndex(frame["timestamp"]).equals(expected.as_unit("ns"))
    # The samples at the seams are the same as a query that needs no split gives.
    minute = client.query_range(QUERY, demo.DEMO_START, demo.DEMO_END, "60s")
    joined = frame.merge(minute, on="timestamp", suffixes=("", "_minute"))
    assert len(joined) == 10_081 and (joined["value"] == joined["value_minute"]).all()


def test_one_failing_window_fails_the_whole_query_and_names_it(demo_server):
    windows = split_range(demo.DEMO_START, demo.DEMO_END, 15)
    second = windows[1][0]
    proxy = FailingWindowProxy(demo_server.url, format_seconds(second))
    with (
        proxy.running(),
        Client(proxy.url, now=demo_server.now) as client,
        pytest.raises(ResponseFormatError) as caught,
    ):
        client.query_range(QUERY, demo.DEMO_START, demo.DEMO_END, "15s")
    assert str(caught.value).startswith(
        "Window 2 of 4 (2026-11-03T21:50:15Z to 2026-11-05T19:40:15Z) failed, so nothing is "
        "returned: HTTP 503 from 127.0.0.1:"
    )
    assert proxy.failed == 4  # it was retried (three times) before the query gave up


def test_the_magic_splits_and_says_so_once(connected, capsys):
    # The connection was made with the default, 4: a later change of the option is not its own.
    sysmon_magics(connected).max_parallel = 2
    try:
        frame = run(
            connected,
            "promql --start 2026-11-02T00:00:00Z --end 2026-11-09T00:00:00Z --step 15s",
            QUERY,
        )
    finally:
        sysmon_magics(connected).max_parallel = 4
    assert len(frame) == 40_321
    assert "Fetching 4 windows, 4 at a time.\n" in capsys.readouterr().err


def test_beyond_a_hundred_windows_the_magic_refuses(connected):
    with pytest.raises(UsageError, match=r"step of 2s357ms or more \(--step\)"):
        run(connected, "promql --range 30d --step 1s up")


def test_windows_merge_to_the_same_frame_as_the_plain_path(client, demo_server, tmp_path):
    """Fast per-window frames, concatenated, equal the parsed-and-merged path (a recording)."""
    from sysmon_magic.recording import Recording

    query = 'node_cpu_seconds_total{instance=~"web-0[12].*", mode=~"user|idle"}'
    fast = client.query_range(query, demo.DEMO_START, demo.DEMO_END, "15s")
    recording = Recording(tmp_path / "r.json")
    with Client(demo_server.url, now=demo_server.now, recording=recording) as plain_client:
        plain = plain_client.query_range(query, demo.DEMO_START, demo.DEMO_END, "15s")
    pd.testing.assert_frame_equal(fast, plain)
    wide_fast = client.query_range(query, demo.DEMO_START, demo.DEMO_END, "15s", fmt="wide")
    with Client(demo_server.url, now=demo_server.now, recording=recording) as plain_client:
        wide_plain = plain_client.query_range(
            query, demo.DEMO_START, demo.DEMO_END, "15s", fmt="wide"
        )
    pd.testing.assert_frame_equal(wide_fast, wide_plain)


def test_windows_fetched_in_parallel_are_read_one_thread_each(demo_server):
    # Two threads a window would only add the joining of halves: the windows fill the cores.
    # Windows to be merged are read into pooled buffers (their arrays are not the frame's).
    read = frames_bytes.runs_from_body
    seen: list[tuple[int | None, bool]] = []

    def spy(
        body: bytes, threads: int | None = None, pool: BufferPool | None = None
    ) -> frames_bytes.BodyRuns:
        seen.append((threads, pool is buffers.POOL))
        return read(body, threads=threads, pool=pool)

    # None: as many threads as frames_bytes finds worth it, for a window read alone.
    for parallel, expected in ((3, [(1, True)] * 4), (1, [(None, True)] * 4)):
        seen.clear()
        with (
            Client(demo_server.url, now=demo_server.now, max_parallel=parallel) as c,
            mock.patch.object(frames_bytes, "runs_from_body", spy),
        ):
            c.query_range(QUERY, demo.DEMO_START, demo.DEMO_END, "15s")
        assert seen == expected
