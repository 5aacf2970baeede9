"""Response bytes -> DataFrame: the fast path against prometheus-api-client and orjson (issue 7).

Two matrix answers, built deterministically in the compact layout Prometheus sends: 1,000 series
x 1,000 points (~22 MiB) and 100 series x 11,000 points (the most one range query returns). For
each, in one run and with the garbage collector on, as users run:

* (a) ``json.loads`` + ``prometheus_api_client.MetricRangeDataFrame``, the popular client;
* (b) ``orjson.loads`` alone, which only builds the Python objects;
* (c) ``sysmon_magic.frames_bytes.frame_from_body``, tidy and wide.

It prints the median wall time of a few runs of each (and of CPU time, all threads: the cost on
one core, whatever else the machine does), the ratios (targets: (c) at least 25 times faster
than (a), at most 0.25 of (b)), and the memory of each result per sample (targets: tidy 16
bytes plus one code per label column, wide 9). Runs of (b) and (c) alternate, so that a busy
machine slows them alike. (c) is checked against the plain path's frames first.

    pip install -e '.[bench]'   # orjson, prometheus-api-client
    python benchmarks/conversion.py
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import orjson
import pandas as pd
from prometheus_api_client import MetricRangeDataFrame

from sysmon_magic.frames import frame_from_data
from sysmon_magic.frames_bytes import frame_from_body

RUNS, SLOW_RUNS = 7, 3
START, STEP = 1_793_923_140, 60  # 2026-11-05T23:59:00Z, one point a minute
MODES = ("user", "system", "iowait", "idle")


def answer(series: int, points: int) -> bytes:
    """A query_range answer: node_cpu_seconds_total-like counters, values with two decimals."""
    rng = np.random.default_rng(series * points)
    times = (START + STEP * np.arange(points)).tolist()
    result = []
    for i in range(series):
        counter = np.round(np.cumsum(rng.uniform(0, 2, points)) + 1000 * i, 2)
        labels = {
            "__name__": "node_cpu_seconds_total",
            "cpu": str(i % 8),
            "instance": f"host-{i // 32:02d}:9100",
            "job": "node",
            "mode": MODES[i // 8 % 4],
        }
        values = [[t, repr(v)] for t, v in zip(times, counter.tolist(), strict=True)]
        result.append({"metric": labels, "values": values})
    envelope = {"status": "success", "data": {"resultType": "matrix", "result": result}}
    return json.dumps(envelope, separators=(",", ":")).encode()


def medians(runs: int, *calls: Callable[[], Any]) -> list[tuple[float, float]]:
    """Median wall and CPU seconds of each call (all threads), the calls run in turn ``runs`` times.

    CPU time shows the cost on one core, whatever else the machine runs at the time.
    """
    spent: list[list[tuple[float, float]]] = [[] for _ in calls]
    for call in calls:
        call()  # warm-up
    for _ in range(runs):
        for times, call in zip(spent, calls, strict=True):
            wall, cpu = time.perf_counter(), time.process_time()
            call()
            times.append((time.perf_counter() - wall, time.process_time() - cpu))
    return [
        (statistics.median(w for w, _ in times), statistics.median(c for _, c in times))
        for times in spent
    ]


def per_sample(frame: pd.DataFrame, samples: int) -> float:
    return float(frame.memory_usage(deep=True).sum()) / samples


def client_frame(body: bytes) -> pd.DataFrame:
    return MetricRangeDataFrame(json.loads(body)["data"]["result"])


def measure(series: int, points: int) -> None:
    body = answer(series, points)
    samples = series * points
    print(f"\nmatrix, {series:,} series x {points:,} points: {len(body) / 2**20:.1f} MiB")
    try:
        client = client_frame(body)
    except Exception as exc:  # say so, rather than skip: the input shape is ours to fix
        print(f"  prometheus-api-client failed on this answer: {exc!r}")
        raise
    tidy_frame, wide_frame = (frame_from_body(body, fmt).frame for fmt in ("tidy", "wide"))
    # What is timed must be right: the frames of the plain path, json.loads + frame_from_data.
    data = json.loads(body)["data"]
    pd.testing.assert_frame_equal(tidy_frame, frame_from_data(data, "tidy"), check_exact=True)
    pd.testing.assert_frame_equal(wide_frame, frame_from_data(data, "wide"), check_exact=True)
    del data
    ((slow, slow_cpu),) = medians(SLOW_RUNS, lambda: client_frame(body))
    (parse, parse_cpu), *fast = medians(
        RUNS,
        lambda: orjson.loads(body),
        lambda: frame_from_body(body, "tidy"),
        lambda: frame_from_body(body, "wide"),
    )
    labels = len(tidy_frame.columns) - 2
    print(f"  {'':38} {'wall':>7} {'(CPU)':>7}  {'vs (a)':>13} {'vs (b)':>6}  {'bytes/sample':>12}")
    print(
        f"  {'(a) json.loads + MetricRangeDataFrame':38} {slow * 1e3:5.0f}ms {slow_cpu * 1e3:5.0f}ms"
        f"  {'':13} {'':6}  {per_sample(client, samples):12.1f}"
    )
    print(f"  {'(b) orjson.loads':38} {parse * 1e3:5.0f}ms {parse_cpu * 1e3:5.0f}ms")
    for name, (wall, cpu), frame, target in (
        ("tidy", fast[0], tidy_frame, f"<= {16 + labels} (16 + {labels} labels)"),
        ("wide", fast[1], wide_frame, "<= 9"),
    ):
        print(
            f"  {'(c) frames_bytes.frame_from_body, ' + name:38} {wall * 1e3:5.0f}ms {cpu * 1e3:5.0f}ms"
            f"  {slow / wall:5.1f}x faster {wall / parse:6.2f}  {per_sample(frame, samples):12.1f}"
            f"  {target}"
        )
    print(
        "  targets: (c) >= 25x faster than (a), <= 0.25 of (b); ratios of wall time "
        f"(of CPU time: {slow_cpu / fast[0][1]:.1f}x and {fast[0][1] / parse_cpu:.2f} for tidy)"
    )


def main() -> None:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as info:
        cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    gc.enable()  # as users run: the collector's passes are part of the cost of Python objects
    print(
        f"machine: {os.cpu_count()} CPUs ({cpu}), "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"pandas {pd.__version__}, numpy {np.__version__}, orjson {orjson.__version__}"
    )
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    measure(1_000, 1_000)
    measure(100, 11_000)


if __name__ == "__main__":
    main()
