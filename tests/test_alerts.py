"""Alert backtesting: the rule manager's state machine on literals, the report's rule on the demo
data, ``%%promql_alert`` through a shell, and agreement with ``promtool test rules``.

The promtool tests load the same synthetic series into a private Prometheus (backfilled with
promtool) and into a promtool unit test, evaluate each rule with :func:`backtest` and write the
alerts it says are firing at every evaluation as the test's expected alerts: promtool, which runs
Prometheus' own rule manager, must pass the test.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests
from IPython.core.error import UsageError

from sysmon_magic import Client
from sysmon_magic.alerts import backtest, describe, episodes, firing_at, frame_of
from sysmon_magic.errors import SysmonUsageError
from tests.servers import free_port
from tests.test_magics import run

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
A = (("instance", "a"),)
B = (("instance", "b"),)
MINUTES = [60.0 * m for m in range(12)]


def at(*minutes: int) -> list[float]:
    return [60.0 * m for m in minutes]


def spans(found) -> list[tuple[float, float | None, float | None]]:
    """(active_at, firing_at, resolved_at) in minutes."""
    minutes = [None if t is None else t / 60 for e in found for t in (e.firing_at, e.resolved_at)]
    return [(e.active_at / 60, *minutes[2 * i : 2 * i + 2]) for i, e in enumerate(found)]


def test_for_zero_fires_at_the_first_true_evaluation_and_resolves_at_the_first_false():
    found = episodes({A: at(2, 3, 4)}, MINUTES)
    assert spans(found) == [(2, 2, 5)]


def test_for_holds_an_alert_pending_and_a_gap_drops_it():
    found = episodes({A: at(1, 2, 3, 5, 6, 7, 8)}, MINUTES, for_=180)
    # pending 1-3 (2 min < 3 min), dropped at 4; again from 5, fires at 8 (3 min later).
    assert spans(found) == [(1, None, 4), (5, 8, 9)]


def test_keep_firing_for_bridges_short_gaps_and_ends_after_its_time():
    found = episodes({A: at(1, 2, 4, 5)}, MINUTES, keep_firing_for=120)
    # Missing at 3 (kept), back at 4; missing from 6: kept at 7 (1 min < 2), resolved at 8.
    assert spans(found) == [(1, 1, 8)]
    assert spans(episodes({A: at(1)}, MINUTES, keep_firing_for=60)) == [(1, 1, 3)]


def test_keep_firing_for_does_not_hold_a_pending_alert():
    assert spans(episodes({A: at(1, 2)}, MINUTES, for_=300, keep_firing_for=600)) == [(1, None, 3)]


def test_an_alert_still_active_at_the_end_has_no_resolution():
    found = episodes({A: at(9, 10, 11), B: at(0)}, MINUTES, for_=60)
    alerts = frame_of(found)
    assert describe(alerts) == "2 alert episodes (1 fired) of 2 series"
    assert describe(frame_of(episodes({(): at(1), (("x", "y"),): []}, MINUTES))) == (
        "1 alert episode (1 fired) of 1 series"
    )
    assert spans(found) == [(0, None, 1), (9, 10, None)]
    assert [e.labels for e in found] == [B, A]


# -- on the demo data ------------------------------------------------------------------------

FORECAST = 'predict_linear(node_memory_MemAvailable_bytes{instance=~"web-.*"}[1h], 4 * 3600) < 0'
WEEK = {"start": "2026-11-02T01:00:00Z", "end": "2026-11-09T00:00:00Z"}


@pytest.fixture
def client(demo_server):
    with Client(demo_server.url, now=demo_server.now, scrape_interval=60) as connected:
        yield connected


def test_the_reports_forecast_rule_fires_once_for_the_incident(client):
    alerts = backtest(client, FORECAST, **WEEK)
    assert alerts[["instance", *alerts.columns[-3:]]].to_dict("records") == [
        {
            "instance": "web-03:9100",
            "active_at": pd.Timestamp("2026-11-05T03:19:00Z"),
            "firing_at": pd.Timestamp("2026-11-05T03:19:00Z"),
            "resolved_at": pd.Timestamp("2026-11-05T06:35:00Z"),
        }
    ]
    assert describe(alerts) == (
        "1 alert episode (1 fired) of 1 series · for 0s · evaluated every 1m, 10,021 times "
        "from 2026-11-02T01:00:00Z to 2026-11-09T00:00:00Z"
    )
    assert len(firing_at(alerts, "2026-11-05T06:00:00Z")) == 1
    assert firing_at(alerts, "2026-11-05T06:35:00Z").empty


def test_for_and_keep_firing_for_move_the_firing_and_resolution(client):
    alerts = backtest(client, FORECAST, for_="10m", keep_firing_for="15m", **WEEK)
    (row,) = alerts.to_dict("records")
    assert row["active_at"] == pd.Timestamp("2026-11-05T03:19:00Z")
    assert row["firing_at"] == pd.Timestamp("2026-11-05T03:29:00Z")
    assert row["resolved_at"] == pd.Timestamp("2026-11-05T06:50:00Z")


def test_the_evaluation_interval_defaults_to_the_scrape_interval(client):
    alerts = backtest(client, FORECAST, start="2026-11-05T03:00:00Z", end="2026-11-05T04:00:00Z")
    assert alerts.attrs["alert"]["every"] == 60 and alerts.attrs["alert"]["evaluations"] == 61
    coarse = backtest(
        client, FORECAST, every="7m", start="2026-11-05T03:00:00Z", end="2026-11-05T04:00:00Z"
    )
    assert coarse["active_at"].tolist() == [pd.Timestamp("2026-11-05T03:21:00Z")]


def test_bad_durations_are_refused(client):
    with pytest.raises(SysmonUsageError, match="every= must be longer than 0"):
        backtest(client, FORECAST, every=0, **WEEK)
    with pytest.raises(SysmonUsageError, match="for_= must be a duration of 0 or more"):
        backtest(client, FORECAST, for_=-60, **WEEK)


def test_two_series_that_differ_only_by_name_are_refused_as_prometheus_does(client):
    with pytest.raises(SysmonUsageError, match="the same labelset after dropping the metric name"):
        backtest(
            client,
            '{__name__=~"node_load1|node_load5", instance="db-01:9100"}',
            start="2026-11-05T03:00:00Z",
            end="2026-11-05T03:10:00Z",
        )


def test_the_magic_returns_the_alerts_and_plots_them(connected, capsys):
    connected.user_ns["t_tier"] = "web-.*"
    alerts = run(
        connected,
        "promql_alert --for 10m --start 2026-11-05T00:00:00Z --end 2026-11-06T00:00:00Z",
        'predict_linear(node_memory_MemAvailable_bytes{instance=~"$t_tier"}[1h], 4 * 3600) < 0',
    )
    assert alerts["firing_at"].tolist() == [pd.Timestamp("2026-11-05T03:29:00Z")]
    run(
        connected,
        "promql_alert --for 10m --start 2026-11-05T00:00:00Z --end 2026-11-06T00:00:00Z "
        "--plot -o t_alerts",
        FORECAST,
    )
    out = capsys.readouterr().out
    assert "t_alerts: 1 alert episode (1 fired) of 1 series · for 10m" in out
    assert connected.user_ns["t_alerts"].equals(alerts)
    with pytest.raises(UsageError, match="cell body is empty"):
        run(connected, "promql_alert --for 5m", "")
    with pytest.raises(UsageError, match=r"^Cannot read duration"):
        run(connected, "promql_alert --for soon --range 1h", FORECAST)


# -- agreement with promtool test rules ------------------------------------------------------

T0 = 1767225600.0  # 2026-01-01T00:00:00Z: promtool's time 0
SAMPLE = 30  # seconds between samples; the rules are evaluated every minute
SAMPLES = 241  # two hours


def synthetic_series() -> dict[tuple[str, str], list[float | None]]:
    """Flapping gauges and uneven counters, with a short gap (bridged by the 5-minute lookback)
    and a long one (the series vanishes); ``None`` is a missing sample."""
    rng = np.random.default_rng(14)
    series: dict[tuple[str, str], list[float | None]] = {}
    for host in "abcd":
        level = np.round(5 + np.cumsum(rng.random(SAMPLES) - 0.5) + 2 * rng.random(SAMPLES), 2)
        hits = np.cumsum(rng.integers(0, 80, SAMPLES))
        values: list[float | None] = [float(v) for v in level]
        counts: list[float | None] = [float(v) for v in hits]
        if host == "c":
            for i in (*range(40, 44), *range(100, 125)):  # 2 minutes, then 12.5 minutes
                values[i] = counts[i] = None
        series[("level", host)] = values
        series[("hits_total", host)] = counts
    return series


RULES = [
    ("level > 5", 0, 0),
    ("level > 5", 180, 0),
    ("level > 5", 120, 240),
    ("rate(hits_total[2m]) > 1.4", 60, 120),
    ("avg(level) > 5.2", 120, 0),
    ("max by (host) (level) > 6 unless level < 4", 0, 90),
]


@contextmanager
def prometheus_with(series: dict[tuple[str, str], list[float | None]]) -> Iterator[str]:
    """A private Prometheus holding ``series`` (backfilled); yields its API root."""
    work = Path(tempfile.mkdtemp(prefix="sysmon-alerts-"))
    lines = []
    for name in sorted({name for name, _ in series}):
        lines.append(f"# TYPE {name} {'counter' if name.endswith('_total') else 'gauge'}")
        for (metric, host), values in sorted(series.items()):
            if metric == name:
                lines += [
                    f'{name}{{host="{host}"}} {value} {T0 + i * SAMPLE:.0f}'
                    for i, value in enumerate(values)
                    if value is not None
                ]
    (work / "data.om").write_text("\n".join([*lines, "# EOF", ""]))
    subprocess.run(
        [PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", work / "data.om", work / "tsdb"],
        check=True,
        capture_output=True,
    )
    (work / "prometheus.yml").write_text("scrape_configs: []\n")
    port = free_port()
    with open(work / "log", "wb") as log:
        process = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={work / 'prometheus.yml'}",
                f"--storage.tsdb.path={work / 'tsdb'}",
                "--storage.tsdb.retention.time=100y",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=log,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        while True:  # ready, or dead: never a timed assertion
            if process.poll() is not None:
                raise RuntimeError((work / "log").read_text()[-2000:])
            try:
                if requests.get(f"{url}/-/ready", timeout=5).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait()
        shutil.rmtree(work, ignore_errors=True)


def promtool_test(
    series: dict[tuple[str, str], list[float | None]],
    expected: list[tuple[str, float, float, dict[float, list[dict[str, str]]]]],
    work: Path,
) -> subprocess.CompletedProcess[str]:
    """Run ``promtool test rules`` on ``series`` with, per rule, the alerts expected to fire
    at each evaluation (minutes since T0)."""
    import json

    rules = [
        {
            "alert": f"Rule{number}",
            "expr": expr,
            "for": f"{hold:.0f}s",
            "keep_firing_for": f"{keep:.0f}s",
        }
        for number, (expr, hold, keep, _) in enumerate(expected)
    ]
    # JSON is YAML: no YAML library is needed to write these files.
    (work / "rules.yml").write_text(json.dumps({"groups": [{"name": "backtest", "rules": rules}]}))
    input_series = [
        {
            "series": f'{name}{{host="{host}"}}',
            "values": " ".join("_" if v is None else repr(v) for v in values),
        }
        for (name, host), values in sorted(series.items())
    ]
    tests = [
        {
            "eval_time": f"{minute:.0f}m",
            "alertname": f"Rule{number}",
            "exp_alerts": [{"exp_labels": labels} for labels in firing],
        }
        for number, (*_, firing_by_minute) in enumerate(expected)
        for minute, firing in sorted(firing_by_minute.items())
    ]
    test_file = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {"interval": f"{SAMPLE}s", "input_series": input_series, "alert_rule_test": tests}
        ],
    }
    (work / "test.yml").write_text(json.dumps(test_file))
    return subprocess.run(
        [PROMTOOL, "test", "rules", "test.yml"], cwd=work, capture_output=True, text=True
    )


@pytest.fixture(scope="module")
def synthetic():
    series = synthetic_series()
    with prometheus_with(series) as url, Client(url, now=T0 + 3 * 3600) as connected:
        yield series, connected


def expectations(client, rules, every: int = 60):
    """Each rule with the alerts :func:`backtest` says fire at every evaluation of two hours."""
    end = T0 + (SAMPLES - 1) * SAMPLE
    expected = []
    for expr, hold, keep in rules:
        alerts = backtest(
            client, expr, for_=hold, keep_firing_for=keep, every=every, start=T0, end=end
        )
        labels = [c for c in alerts.columns if c not in ("active_at", "firing_at", "resolved_at")]
        by_minute = {}
        for minute in range(0, int((end - T0) // 60) + 1):
            firing = firing_at(alerts, T0 + 60 * minute)
            by_minute[minute] = [
                {k: v for k, v in row.items() if isinstance(v, str)}
                for row in firing[labels].to_dict("records")
            ]
        expected.append((expr, hold, keep, by_minute))
    return expected


def test_backtests_agree_with_promtool_at_every_evaluation(synthetic, tmp_path):
    series, client = synthetic
    expected = expectations(client, RULES)
    # The rules do alert, flap and resolve here: the comparison is not of empty lists.
    firing_counts = [sum(map(len, by_minute.values())) for *_, by_minute in expected]
    assert all(count > 10 for count in firing_counts), firing_counts
    result = promtool_test(series, expected, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == 1


def test_promtool_catches_a_backtest_that_ignores_for(synthetic, tmp_path):
    series, client = synthetic
    (rule,) = expectations(client, [("level > 5", 0, 0)])
    wrong = [("level > 5", 180.0, 0.0, rule[3])]  # expectations of for: 0, rule of for: 3m
    result = promtool_test(series, wrong, tmp_path)
    assert result.returncode != 0 and "FAILED" in result.stdout + result.stderr
