"""The course's live scrape: a real Prometheus marks a series stale at the first failed scrape
(what backfilled demo data cannot show), and everything it started stops with it."""

from __future__ import annotations

import os
import time

import pytest

from sysmon_magic.demo.live import METRIC, LiveScrape
from sysmon_magic.errors import DemoError


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) counts as stopped.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(") ")[1][0] != "Z"


def test_a_failed_scrape_makes_the_series_vanish_at_once():
    started = time.monotonic()
    with LiveScrape() as live:
        assert live.query(METRIC)["value"].tolist() == [21.5]
        assert live.query('up{job="live"}')["value"].tolist() == [1.0]
        assert live.query(f"absent({METRIC})").empty
        live.stop_target()
        # Gone at the next scrape (1 s), far sooner than the 5-minute lookback would allow.
        assert live.wait_until_gone(METRIC) < 10
        assert live.query('up{job="live"}')["value"].tolist() == [0.0]
        assert live.query(f"absent({METRIC})")["value"].tolist() == [1.0]
        # A range vector skips the marker and keeps the samples before it.
        assert live.query(f"last_over_time({METRIC}[1m])")["value"].tolist() == [21.5]
        pid, work = live.pid, live.directory
        assert pid is not None and alive(pid)
    assert not alive(pid)
    assert not work.exists()
    assert time.monotonic() - started < 60


def test_a_query_before_start_says_what_to_do():
    live = LiveScrape()
    with pytest.raises(DemoError, match=r"Start the live scrape first"):
        live.query(METRIC)
    live.close()


def test_a_missing_prometheus_is_one_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("SYSMON_PROMETHEUS_BIN", raising=False)
    live = LiveScrape()
    with pytest.raises(DemoError, match="apt-get install prometheus"):
        live.start()
    live.close()


def test_a_scrape_that_failed_to_start_is_not_started_again(monkeypatch, tmp_path):
    # A second start used to launch a Prometheus that nothing would ever stop.
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("SYSMON_PROMETHEUS_BIN", raising=False)
    live = LiveScrape()
    with pytest.raises(DemoError):
        live.start()
    monkeypatch.undo()
    with pytest.raises(DemoError, match="started before: make a new one"):
        live.start()
