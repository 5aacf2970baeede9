"""The demo data generator (unit tests on its output) and the demo server (on a real Prometheus)."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests

from sysmon_magic import demo
from sysmon_magic.demo import data, server
from sysmon_magic.errors import DemoError

Series = tuple[dict[str, str], np.ndarray, np.ndarray]


@pytest.fixture(scope="module")
def series() -> list[Series]:
    return list(data.iter_series())


def select(series: list[Series], name: str, **labels: str) -> list[Series]:
    return [
        s
        for s in series
        if s[0]["__name__"] == name and all(s[0][k] == v for k, v in labels.items())
    ]


def one(series: list[Series], name: str, **labels: str) -> Series:
    (found,) = select(series, name, **labels)
    return found


class _Recorder:
    """A write target keeping a hash and a sample of the text, not 400 MB of it.

    ``write_openmetrics`` writes one family header or one whole series per call.
    """

    def __init__(self) -> None:
        self.sha = hashlib.sha256()
        self.size = 0
        self.written = 0
        self.series_blocks = 0
        self.chunks: list[bytes] = []  # a sample of the series' blocks, for parsing
        self.has_cr = False
        self.last = b""

    def write(self, chunk: bytes) -> None:
        self.sha.update(chunk)
        self.size += len(chunk)
        self.has_cr = self.has_cr or b"\r" in chunk
        self.last = chunk
        if not chunk.startswith(b"#"):
            self.series_blocks += 1
            if self.series_blocks % 9 == 1:  # keep some, not 400 MB
                self.chunks.append(chunk)


# --- the generator ------------------------------------------------------------------------------


def test_window_constants() -> None:
    utc = dt.timezone.utc
    assert dt.datetime.fromtimestamp(demo.DEMO_START, utc) == dt.datetime(2026, 11, 2, tzinfo=utc)
    assert dt.datetime.fromtimestamp(demo.DEMO_END, utc) == dt.datetime(2026, 11, 9, tzinfo=utc)
    grid = data.timestamps()
    assert grid[0] == demo.DEMO_START and grid[-1] == demo.DEMO_END
    assert len(grid) == data.N_SAMPLES == 10081
    assert (np.diff(grid) == 60).all() and (grid % 60 == 0).all()


@pytest.fixture(scope="module")
def openmetrics() -> _Recorder:
    recorder = _Recorder()
    recorder.written = data.write_openmetrics(recorder)
    return recorder


def test_openmetrics_text_is_deterministic_and_well_formed(openmetrics: _Recorder) -> None:
    data.clear_cache()  # generate everything again, not from the cache
    again = _Recorder()
    data.write_openmetrics(again)
    assert openmetrics.sha.hexdigest() == again.sha.hexdigest()
    assert openmetrics.written == openmetrics.size > 300e6
    assert openmetrics.last == b"# EOF\n"
    assert not openmetrics.has_cr
    assert openmetrics.series_blocks == data.series_count()


def test_openmetrics_lines_round_trip_exactly(openmetrics: _Recorder, series: list[Series]) -> None:
    by_labels = {_key(labels): (ts, values) for labels, ts, values in series}
    line = re.compile(rb"^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\} (\S+) (\d+)$")
    for chunk in openmetrics.chunks:
        rows = [line.match(row) for row in chunk.rstrip(b"\n").split(b"\n")]
        assert all(rows)
        name, labels = rows[0][1].decode(), rows[0][2].decode()
        parsed = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', labels))
        ts, values = by_labels[_key({"__name__": name, **parsed})]
        assert all(row[1] == rows[0][1] and row[2] == rows[0][2] for row in rows)
        assert [int(row[4]) for row in rows] == ts.tolist()  # in time order
        assert [float(row[3]) for row in rows] == values.tolist()  # exactly


def _key(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


def test_series_and_labels(series: list[Series]) -> None:
    assert len(series) == data.series_count()
    names = {labels["__name__"] for labels, _, _ in series}
    families = {name.removesuffix(s) for name in names for s in ("_bucket", "_sum", "_count")}
    assert set(data.METADATA) <= names | families
    for labels, ts, values in series:
        host = labels["instance"].split(":")[0]
        assert labels["openmetrics_id"] == demo.OPENMETRICS_IDS[host]
        assert labels["job"] == ("api" if labels["instance"].endswith(":8080") else "node")
        assert (np.diff(ts) > 0).all()
        assert np.isfinite(values).all() and (values >= 0).all()
    assert len(select(series, "node_cpu_seconds_total")) == 6 * 2 * 8
    for host in demo.HOSTS:
        uname = one(series, "node_uname_info", instance=data.node_instance(host))
        assert {k: v for k, v in uname[0].items() if k in demo.UNAME_INFO[host]} == dict(
            demo.UNAME_INFO[host]
        )
        total = one(series, "node_memory_MemTotal_bytes", instance=data.node_instance(host))
        assert (total[2] == demo.MEM_TOTAL_BYTES[host]).all()
    assert len(set(demo.OPENMETRICS_IDS.values())) == len(demo.HOSTS)


def test_cpu_modes_add_up_to_one_cpu(series: list[Series]) -> None:
    for host in demo.HOSTS:
        boot = one(series, "node_boot_time_seconds", instance=data.node_instance(host))[2]
        for cpu in "01":
            modes = select(
                series, "node_cpu_seconds_total", instance=data.node_instance(host), cpu=cpu
            )
            ts = modes[0][1]
            total = sum(values for _, _, values in modes)
            assert (total == ts - boot).all()  # exactly: the values are binary fractions
            consecutive = np.diff(ts) == 60
            assert (np.diff(total)[consecutive] == 60).all()
            # increase(...[5m]) at a whole minute, summed over the modes: exactly 300 s in every
            # window without a gap or a reset (binary fractions subtract and add exactly).
            full = (ts[5:] - ts[:-5] == 300) & (total[5:] - total[:-5] == 300)
            assert full.sum() >= len(ts) - 5 - (10 if host == demo.INCIDENT_HOST else 0)
            summed = np.zeros(full.sum())
            for _, _, values in modes:
                summed += (values[5:] - values[:-5])[full]
            assert (summed == demo.KNOWN_CPU_INCREASE_5M).all()


def test_histogram_buckets_are_cumulative(series: list[Series]) -> None:
    for host in demo.WEB_HOSTS:
        buckets = select(
            series, "http_request_duration_seconds_bucket", instance=data.api_instance(host)
        )
        bounds = [float(labels["le"]) for labels, _, _ in buckets]
        assert bounds == sorted(bounds) and bounds[-1] == float("inf") and len(bounds) == 12
        counts = np.vstack([values for _, _, values in buckets])
        assert (np.diff(counts, axis=0) >= 0).all()  # monotone in le at every sample
        count = one(series, "http_request_duration_seconds_count", instance=data.api_instance(host))
        assert (count[2] == counts[-1]).all()
        # Monotone in time except where the service restarted.
        restarts = {
            demo.APP_RESTART_HOST: demo.APP_RESTART_TIME,
            demo.INCIDENT_HOST: demo.INCIDENT_RESTART,
        }
        ts = buckets[0][1]
        falls = ts[1:][(np.diff(counts, axis=1) < 0).any(axis=0)]
        assert falls.tolist() == ([restarts[host]] if host in restarts else [])


def test_incident(series: list[Series]) -> None:
    node, api = data.node_instance(demo.INCIDENT_HOST), data.api_instance(demo.INCIDENT_HOST)
    _, ts, available = one(series, "node_memory_MemAvailable_bytes", instance=node)
    total = demo.MEM_TOTAL_BYTES[demo.INCIDENT_HOST]
    assert set(demo.INCIDENT_MISSING_SAMPLES).isdisjoint(ts.tolist())
    assert len(ts) == data.N_SAMPLES - 2
    at = {t: i for i, t in enumerate(ts.tolist())}
    before_leak = available[at[demo.INCIDENT_LEAK_START]]
    at_crash = available[at[demo.INCIDENT_LAST_SAMPLE]]
    after = available[at[demo.INCIDENT_RESTART]]
    assert before_leak > 0.4 * total and at_crash < 0.03 * total and after > 0.5 * total
    # The leak is steady: lower every hour from its start to the crash.
    hourly = available[at[demo.INCIDENT_LEAK_START] : at[demo.INCIDENT_LAST_SAMPLE] + 1 : 60]
    assert (np.diff(hourly) < 0).all()

    _, _, boot = one(series, "node_boot_time_seconds", instance=node)
    assert boot[at[demo.INCIDENT_LAST_SAMPLE]] == demo.BOOT_TIMES[demo.INCIDENT_HOST]
    assert boot[at[demo.INCIDENT_RESTART]] == demo.INCIDENT_BOOT_TIME

    # 5xx burst before the restart, on that host only.
    def errors(instance: str, start: int, end: int) -> float:
        total = 0.0
        for code in ("500", "503"):
            for _, t, v in select(series, "http_requests_total", instance=instance, code=code):
                total += v[t == end][0] - v[t == start][0]
        return total

    window = (demo.INCIDENT_ERRORS_START, demo.INCIDENT_LAST_SAMPLE)
    assert errors(api, *window) > 20 * errors(data.api_instance("web-01"), *window) > 0
    # Every counter of the host restarts near zero.
    for labels, t, v in series:
        if labels["instance"] in (node, api) and labels["__name__"].endswith(("_total", "_count")):
            i = np.searchsorted(t, demo.INCIDENT_RESTART)
            assert v[i] < v[i - 1], labels


def test_app_restart_resets_only_the_services_counters(series: list[Series]) -> None:
    host = demo.APP_RESTART_HOST
    for labels, ts, values in series:
        if not labels["instance"].startswith(host) or not labels["__name__"].endswith("_total"):
            continue
        i = int(np.searchsorted(ts, demo.APP_RESTART_TIME))
        assert ts[i] == demo.APP_RESTART_TIME
        if labels["job"] == "api":
            assert values[i] < values[i - 1], labels
        else:
            assert values[i] >= values[i - 1], labels


def test_known_healthz_counter(series: list[Series]) -> None:
    labels = {"instance": "web-01:8080", "handler": "/healthz", "code": "200", "method": "GET"}
    _, ts, values = one(series, "http_requests_total", **labels)
    expected = demo.KNOWN_HEALTHZ_WEB01_AT_START + 6 * (ts - demo.DEMO_START) // 60
    assert (values == expected).all()
    assert (values[5:] - values[:-5]) / 300 == pytest.approx(demo.KNOWN_HEALTHZ_RATE, abs=0)


def test_metadata_exposition() -> None:
    text = data.metadata_exposition()
    assert "# TYPE node_cpu_seconds_total counter\n" in text
    assert "# TYPE http_request_duration_seconds histogram\n" in text
    assert all(line.startswith(("# HELP ", "# TYPE ")) for line in text.splitlines())
    assert data.METADATA["node_cpu_seconds_total"].family == "node_cpu_seconds"


def test_importing_the_package_is_cheap() -> None:
    code = "import sys, sysmon_magic.demo; sys.exit('numpy' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_missing_binaries_say_how_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(server.PROMETHEUS_ENV, str(tmp_path / "nope"))
    with pytest.raises(DemoError, match="apt-get install prometheus"):
        demo.start(cache_dir=tmp_path)
    monkeypatch.delenv(server.PROMETHEUS_ENV)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DemoError, match="SYSMON_PROMETHEUS_BIN"):
        demo.start(cache_dir=tmp_path)


# --- the server ---------------------------------------------------------------------------------

needs_prometheus = pytest.mark.skipif(
    not (shutil.which("prometheus") and shutil.which("promtool")),
    reason="prometheus/promtool not installed (apt-get install prometheus)",
)


def query(url: str, expr: str, time: float) -> list[dict[str, object]]:
    answer = requests.get(f"{url}/api/v1/query", params={"query": expr, "time": time}, timeout=30)
    answer.raise_for_status()
    result: list[dict[str, object]] = answer.json()["data"]["result"]
    return result


@needs_prometheus
def test_server_answers_known_cpu_values(demo_server: demo.DemoServer) -> None:
    assert demo_server.url.endswith("/prometheus") and demo_server.now == demo.DEMO_END
    rate = "sum by (instance, cpu) (rate(node_cpu_seconds_total[5m]))"
    result = query(demo_server.url, rate, demo.KNOWN_QUIET_TIME)
    assert len(result) == 12
    assert [float(r["value"][1]) for r in result] == pytest.approx([1.0] * 12, abs=1e-12)
    # Over the whole week, every minute, outside the reboot: increases sum to exactly 300 s.
    increase = "sum by (instance, cpu) (increase(node_cpu_seconds_total[5m]))"
    for expr, expected in ((increase, demo.KNOWN_CPU_INCREASE_5M), (rate, demo.KNOWN_CPU_RATE_SUM)):
        answer = requests.get(
            f"{demo_server.url}/api/v1/query_range",
            params={
                "query": expr,
                "start": demo.DEMO_START + 300,
                "end": demo.DEMO_END,
                "step": 60,
            },
            timeout=60,
        ).json()["data"]["result"]
        assert len(answer) == 12
        for r in answer:
            points = np.array(r["values"], dtype=float)
            if r["metric"]["instance"] == data.node_instance(demo.INCIDENT_HOST):
                after_reboot = (points[:, 0] >= demo.INCIDENT_LAST_SAMPLE) & (
                    points[:, 0] < demo.INCIDENT_RESTART + 300
                )
                points = points[~after_reboot]
            assert len(points) > 10000
            if expr == increase:
                assert (points[:, 1] == expected).all()
            else:
                assert points[:, 1] == pytest.approx(expected, abs=1e-12)


@needs_prometheus
def test_server_known_values(demo_server: demo.DemoServer) -> None:
    url, t = demo_server.url, demo.KNOWN_QUIET_TIME
    healthz = 'rate(http_requests_total{instance="web-01:8080", handler="/healthz"}[5m])'
    assert [float(r["value"][1]) for r in query(url, healthz, t)] == [demo.KNOWN_HEALTHZ_RATE]
    value = query(url, 'http_requests_total{instance="web-01:8080", handler="/healthz"}', t)
    at_t = demo.KNOWN_HEALTHZ_WEB01_AT_START + 6 * (t - demo.DEMO_START) // 60
    assert value[0]["value"][1] == str(at_t)
    totals = {
        r["metric"]["instance"]: float(r["value"][1])
        for r in query(url, "node_memory_MemTotal_bytes", t)
    }
    assert totals == {data.node_instance(h): float(v) for h, v in demo.MEM_TOTAL_BYTES.items()}
    reboots = query(url, "changes(node_boot_time_seconds[7d]) > 0", demo_server.now)
    assert [r["metric"]["instance"] for r in reboots] == [data.node_instance(demo.INCIDENT_HOST)]
    resets = query(url, 'resets(http_requests_total{handler="/healthz"}[7d]) > 0', demo_server.now)
    assert sorted(r["metric"]["instance"] for r in resets) == [
        data.api_instance(demo.APP_RESTART_HOST),
        data.api_instance(demo.INCIDENT_HOST),
    ]


@needs_prometheus
def test_server_metadata(demo_server: demo.DemoServer) -> None:
    answer = requests.get(f"{demo_server.url}/api/v1/metadata", timeout=30).json()["data"]
    assert answer["node_cpu_seconds_total"][0]["type"] == "counter"
    assert answer["http_request_duration_seconds"][0]["type"] == "histogram"
    assert answer["node_load1"][0]["help"] == "1m load average."


@needs_prometheus
def test_second_start_reuses_the_server(demo_server: demo.DemoServer) -> None:
    again = demo.start()
    assert (again.url, again.pid) == (demo_server.url, demo_server.pid)
    assert not again.started_here
    assert demo.running() == again
    again.stop()  # the session's handle still uses it
    assert demo_server.is_alive()


@needs_prometheus
def test_private_server_is_stopped_on_exit(demo_server: demo.DemoServer) -> None:
    with demo.start(reuse=False) as private:
        assert private.started_here and private.url != demo_server.url
        assert query(private.url, "count(node_uname_info)", private.now)[0]["value"][1] == "6"
    assert not private.is_alive()
    assert demo_server.is_alive()


@pytest.fixture
def cache_with_blocks(tmp_path: Path, demo_server: demo.DemoServer) -> Iterator[Path]:
    """A fresh cache directory holding the generated blocks (skips the 20 s generation)."""
    source = server.version_dir(None) / "blocks"
    shutil.copytree(source, server.version_dir(tmp_path) / "blocks")
    yield tmp_path
    server.stop(cache_dir=tmp_path)


@needs_prometheus
def test_the_last_user_stops_the_shared_server(cache_with_blocks: Path) -> None:
    code = (
        "import sys; from sysmon_magic import demo\n"
        f"s = demo.start(cache_dir={str(cache_with_blocks)!r})\n"
        "print(s.pid, s.started_here, flush=True); sys.stdin.read()\n"
    )
    starter = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert starter.stdout is not None and starter.stdin is not None
    pid, started_here = starter.stdout.readline().split()
    assert started_here == "True"
    user = demo.start(cache_dir=cache_with_blocks)
    assert (str(user.pid), user.started_here) == (pid, False)
    starter.stdin.close()  # the starter exits: the server stays up for us
    assert starter.wait(timeout=60) == 0
    assert user.is_alive()
    assert query(user.url, "count(node_uname_info)", user.now)[0]["value"][1] == "6"
    user.stop()  # the last user lets go: the server stops
    assert not user.is_alive()
    assert demo.running(cache_dir=cache_with_blocks) is None


@needs_prometheus
def test_concurrent_cli_starts_share_one_server(cache_with_blocks: Path) -> None:
    cmd = [sys.executable, "-m", "sysmon_magic.cli", "demo", "--detach", "--cache-dir"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    runs = [
        subprocess.Popen([*cmd, str(cache_with_blocks)], stdout=subprocess.PIPE, text=True, env=env)
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=120)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0]
    pids = {re.search(r"\(pid (\d+)", out).group(1) for out in outputs}
    assert len(pids) == 1, outputs
    shared = demo.running(cache_dir=cache_with_blocks)
    assert shared is not None and str(shared.pid) in pids

    from sysmon_magic.cli import main

    assert main(["demo", "--stop", "--cache-dir", str(cache_with_blocks)]) == 0
    assert not shared.is_alive()
    assert demo.running(cache_dir=cache_with_blocks) is None
