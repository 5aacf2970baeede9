"""Response bytes -> DataFrame: the fast path against prometheus-api-client and orjson (issue 7).

Two matrix answers, built deterministically in the compact layout Prometheus sends: 1,000 series
x 1,000 points (~22 MiB) and 100 series x 11,000 points (the most one range query returns). For
each, in one run and with the garbage collector on, as users run:

* (a) ``json.loads`` + ``prometheus_api_client.MetricRangeDataFrame``, the popular client;
* (b) ``orjson.loads`` alone, which only builds the Python objects;
* (c) ``sysmon_magic.fastjson.frame_from_body``, tidy and wide.

It prints the median of a few runs of each, the ratios (targets: (c) at least 25 times faster
than (a), at most 0.25 of (b)), and the memory of each result per sample (targets: tidy 16
bytes plus one code per label column, wide 9). Runs of (b) and (c) alternate, so that a busy
machine slows them alike.

    pip install -e '.[bench]'   # orjson, prometheus-api-client
    python benchmarks/conversion.py
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import orjson
import pandas as pd
from prometheus_api_client import MetricRangeDataFrame

from sysmon_magic.fastjson import frame_from_body

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


def median_seconds(runs: int, *calls: Callable[[], Any]) -> list[float]:
    """Median wall time of each call, the calls run in turn ``runs`` times (after one warm-up)."""
    times: list[list[float]] = [[] for _ in calls]
    for call in calls:
        call()
    for _ in range(runs):
        for spent, call in zip(times, calls, strict=True):
            started = time.perf_counter()
            call()
            spent.append(time.perf_counter() - started)
    return [statistics.median(spent) for spent in times]


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
    (slow,) = median_seconds(SLOW_RUNS, lambda: client_frame(body))
    parse, tidy, wide = median_seconds(
        RUNS,
        lambda: orjson.loads(body),
        lambda: frame_from_body(body, "tidy"),
        lambda: frame_from_body(body, "wide"),
    )
    tidy_frame, wide_frame = (
        frame_from_body(body, "tidy").frame,
        frame_from_body(body, "wide").frame,
    )
    assert tidy_frame is not None and wide_frame is not None
    labels = len(tidy_frame.columns) - 2
    print(f"  {'':40} {'median':>9}  {'vs (a)':>14}  {'vs (b) orjson':>14}  {'bytes/sample':>12}")
    print(f"  {'(a) json.loads + MetricRangeDataFrame':40} {slow * 1e3:7.0f}ms  {'':14}  {'':14}  {per_sample(client, samples):12.1f}")  # fmt: skip
    print(f"  {'(b) orjson.loads':40} {parse * 1e3:7.0f}ms")
    for name, spent, frame, target in (
        ("tidy", tidy, tidy_frame, f"<= {16 + labels} (16 + {labels} labels)"),
        ("wide", wide, wide_frame, "<= 9"),
    ):
        print(
            f"  {'(c) fastjson.frame_from_body, ' + name:40} {spent * 1e3:7.0f}ms  "
            f"{slow / spent:6.1f}x faster  {spent / parse:8.2f} of it  "
            f"{per_sample(frame, samples):12.1f}  {target}"
        )
    print("  targets: (c) >= 25x faster than (a), <= 0.25 of (b)")


def main() -> None:
    cpu = platform.processor() or platform.machine()
    with (
        open("/proc/cpuinfo", encoding="utf-8")
        if os.path.exists("/proc/cpuinfo")
        else open(os.devnull, encoding="utf-8") as info
    ):
        names = [line.split(":", 1)[1].strip() for line in info if line.startswith("model name")]
    print(
        f"machine: {os.cpu_count()} CPUs ({names[0] if names else cpu}), "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"pandas {pd.__version__}, numpy {np.__version__}, orjson {orjson.__version__}"
    )
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}", file=sys.stdout)
    measure(1_000, 1_000)
    measure(100, 11_000)


if __name__ == "__main__":
    main()
