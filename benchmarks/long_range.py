"""Long ranges: 30 days at a 60 s step for 100 series, through a proxy adding 100 ms per request.

The split query's windows fetched in parallel (the client's default, 4 at a time) against the
same windows fetched one after another (max_parallel=1), in one run; target ratio <= 0.5.

    python benchmarks/long_range.py
"""

from __future__ import annotations

import statistics
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.request import urlopen

from sysmon_magic import Client, demo
from sysmon_magic.timeparse import split_range

LATENCY = 0.100
# 96 CPU series and 4 memory series: 100. The demo holds one week; the same week offset by -7, -14,
# 21 and 28 days fills every window of the 30 days with data, as a real month would.
QUERY = " or ".join(
    f'node_cpu_seconds_total{shift} or node_memory_MemTotal_bytes{{instance=~"web-.*"}}{shift}'
    for shift in ["", " offset -7d", " offset -14d", " offset -21d", " offset -28d"]
)
ROUNDS = 3


def latency_proxy(upstream: str) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep(LATENCY)  # a distant region, as seen from a notebook
            with urlopen(upstream + self.path, timeout=120) as answer:
                body = answer.read()
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def timed(client: Client, start: float, end: float) -> float:
    started = time.perf_counter()
    frame = client.query_range(QUERY, start, end, 60)
    elapsed = time.perf_counter() - started
    assert frame.attrs["promql"]["result_type"] == "matrix" and len(frame) > 0
    return elapsed


def main() -> None:
    server = demo.start()
    proxy, url = latency_proxy(server.url)
    end = server.now
    start = end - 30 * 86400
    windows = len(split_range(start, end, 60))
    with Client(url, now=end) as parallel, Client(url, now=end, max_parallel=1) as serial:
        timed(parallel, start, end)  # warm Prometheus' caches for both
        fast = statistics.median(timed(parallel, start, end) for _ in range(ROUNDS))
        slow = statistics.median(timed(serial, start, end) for _ in range(ROUNDS))
    proxy.shutdown()
    print(f"{'measure':52} {'median':>9} {'baseline':>9} {'ratio':>6}  target")
    print(
        f"{f'30 d at 60 s, 100 series, {windows} windows, +100 ms':52} {fast:8.2f}s "
        f"{slow:8.2f}s {fast / slow:6.2f}  <= 0.5 (baseline: one window at a time)"
    )


if __name__ == "__main__":
    main()
