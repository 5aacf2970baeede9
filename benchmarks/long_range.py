"""Long ranges: 30 days at a 60 s step for 100 series, through a proxy adding 100 ms per request.

The split query's windows fetched in parallel (the client's default, 4 at a time) against the
same windows fetched one after another (max_parallel=1), in one run; target ratio <= 0.5.

The data are a real month: 100 series (25 hosts x 4 CPU modes) with a sample every 60 s for 30
days, backfilled once with promtool into ``<cache>/bench-month-<version>/`` (~30 s the first time)
and served by a Prometheus of its own on a free loopback port. The query is the plain selector a
user pulling a month of per-minute data sends. (The demo holds one week; a month made of it with
``offset`` copies joined by ``or`` measured Prometheus evaluating ``or`` at every step instead.)

Prometheus runs on the same cores as the client here, unlike a real remote server, so the CPU
time of both bounds what parallel fetching can gain: the script measures them (from /proc) and
prints that bound, ``(CPU of Prometheus + CPU of the client) / cores + one latency``, as a ratio
to the same baseline.

    python benchmarks/long_range.py
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import BinaryIO
from urllib.request import urlopen

import numpy as np

from sysmon_magic import Client, demo
from sysmon_magic.demo.prometheus import PrometheusProcess, backfill, http_body, launch, locked
from sysmon_magic.demo.server import cache_root
from sysmon_magic.timeparse import split_range

LATENCY = 0.100
ROUNDS = 3
STEP = 60
END = demo.DEMO_END
START = END - 30 * 86400
MONTH_VERSION = 1
MONTH_QUERY = "bench_cpu_usage_ratio"


def write_month(out: BinaryIO) -> None:
    """The month as OpenMetrics text: 25 hosts x 4 modes, a gauge every 60 s for 30 days."""
    rng = np.random.default_rng(MONTH_VERSION)
    times = np.arange(START, END + 1, STEP)
    day = (times % 86400) / 86400 * 2 * np.pi
    out.write(f"# TYPE {MONTH_QUERY} gauge\n".encode())
    for host in range(25):
        for mode in ("user", "system", "iowait", "idle"):
            values = np.clip(0.3 + 0.2 * np.sin(day + host) + rng.normal(0, 0.05, len(times)), 0, 1)
            labels = f'{MONTH_QUERY}{{instance="host-{host:02d}:9100",mode="{mode}"}}'
            lines = (f"{labels} {v:.4f} {t}\n" for v, t in zip(values, times, strict=True))
            out.write("".join(lines).encode())
    out.write(b"# EOF\n")


def month_blocks() -> Path:
    """The month's TSDB blocks, backfilled on first use (as the demo's are) and cached."""
    directory = cache_root() / f"bench-month-{MONTH_VERSION}"
    directory.mkdir(parents=True, exist_ok=True)
    with locked(directory / "lock"):
        if not (directory / "blocks").is_dir():
            backfill(directory, write_month)
    return directory / "blocks"


class MonthServer:
    """Prometheus on a hard-linked copy of the month's blocks, in a temporary directory."""

    def __enter__(self) -> MonthServer:
        self._dir = tempfile.TemporaryDirectory()
        self.prometheus: PrometheusProcess = launch(month_blocks(), Path(self._dir.name))
        self.url, self.pid = self.prometheus.url, self.prometheus.pid
        deadline = time.monotonic() + 120
        while http_body(f"{self.url}/api/v1/query?query=count({MONTH_QUERY})&time={END}") is None:
            if time.monotonic() > deadline or self.prometheus.process.poll() is not None:
                raise RuntimeError("the month's Prometheus did not start")
            time.sleep(0.2)
        return self

    def __exit__(self, *exc: object) -> None:
        self.prometheus.terminate()
        self._dir.cleanup()


def serve_proxy(upstream: str, ports: multiprocessing.Queue[int]) -> None:
    """Forward GETs to ``upstream`` after LATENCY, streaming the answer (runs in its own process)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep(LATENCY)  # a distant region, as seen from a notebook
            with urlopen(upstream + self.path, timeout=120) as answer:
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                if length := answer.headers.get("Content-Length"):
                    self.send_header("Content-Length", length)
                self.end_headers()  # without a length (chunked upstream): HTTP/1.0, to the close
                shutil.copyfileobj(answer, self.wfile, 1 << 20)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ports.put(server.server_address[1])
    server.serve_forever()


@contextlib.contextmanager
def latency_proxy(upstream: str) -> Iterator[str]:
    """The proxy in a process of its own: its copying must not take the client's GIL."""
    context = multiprocessing.get_context("spawn")
    ports: multiprocessing.Queue[int] = context.Queue()
    process = context.Process(target=serve_proxy, args=(upstream, ports), daemon=True)
    process.start()
    try:
        yield f"http://127.0.0.1:{ports.get(timeout=60)}"
    finally:
        process.terminate()
        process.join()


def timed(client: Client, query: str) -> float:
    started = time.perf_counter()
    client.query_range(query, START, END, STEP)
    return time.perf_counter() - started


def check(client: Client) -> None:
    """The month is all there: 100 series, every minute of 30 days."""
    frame = client.query_range(MONTH_QUERY, START, END, STEP)
    assert len(frame) == 100 * (30 * 1440 + 1), len(frame)
    assert len(frame[["instance", "mode"]].drop_duplicates()) == 100


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    windows = len(split_range(START, END, STEP))
    cores = os.cpu_count() or 1
    with (
        MonthServer() as server,
        latency_proxy(server.url) as url,
        Client(url, now=END) as parallel,
        Client(url, now=END, max_parallel=1) as serial,
    ):
        check(parallel)  # and warm Prometheus' caches for both
        server_cpu, client_cpu = cpu_seconds(server.pid), time.process_time()
        fast = statistics.median(timed(parallel, MONTH_QUERY) for _ in range(ROUNDS))
        server_cpu = (cpu_seconds(server.pid) - server_cpu) / ROUNDS
        client_cpu = (time.process_time() - client_cpu) / ROUNDS
        slow = statistics.median(timed(serial, MONTH_QUERY) for _ in range(ROUNDS))
    bound = (server_cpu + client_cpu) / cores + LATENCY
    print(f"{'measure':52} {'median':>9} {'baseline':>9} {'ratio':>6}  target")
    print(
        f"{f'30 d at 60 s, 100 series, {windows} windows, +100 ms':52} {fast:8.2f}s {slow:8.2f}s "
        f"{fast / slow:6.2f}  <= 0.5 (baseline: one window at a time)"
    )
    print(
        f"{f'  bound: CPU {server_cpu:.2f} s Prometheus + {client_cpu:.2f} s client / {cores}':52} "
        f"{bound:8.2f}s {slow:8.2f}s {bound / slow:6.2f}  (the least the parallel fetch can take)"
    )


if __name__ == "__main__":
    main()
