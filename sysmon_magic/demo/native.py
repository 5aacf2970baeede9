"""A live scrape of a native histogram, for teaching: the demo's backfilled week cannot hold one.

Prometheus 2.42 stores native (sparse, exponential-bucket) histograms only from a scrape in the
protobuf exposition format, with ``--enable-feature=native-histograms``; the demo's blocks are
written by ``promtool`` from OpenMetrics text, which has no native histograms. This module serves
one fixed native histogram from the notebook's process, in protobuf (encoded here: no protobuf
library is needed for four message types), and starts a private Prometheus that scrapes it every
second on 127.0.0.1::

    with NativeHistogramScrape() as live:
        live.query("histogram_count(demo_request_duration_seconds)")   # 102

The histogram never changes, so every query answers the same on every run. Everything started
stops with :meth:`NativeHistogramScrape.close` (also on leaving the ``with`` block): Prometheus
by its own pid, the target's thread, the temporary directory.
"""

from __future__ import annotations

import http.server
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import weakref
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from ..errors import DemoError
from .server import PROMETHEUS_ENV

if TYPE_CHECKING:
    import pandas as pd

    from ..client import Client

__all__ = ["METRIC", "NativeHistogramScrape", "exposition"]

METRIC = "demo_request_duration_seconds"
#: Schema 0: bucket ``i`` holds the observations in (2^(i-1), 2^i]. These are buckets -4 to 1,
#: (1/32, 1/16] to (1, 2], plus 2 observations in the zero bucket [-0.001, 0.001].
SCHEMA, ZERO_THRESHOLD, ZERO_COUNT = 0, 0.001, 2
FIRST_BUCKET, COUNTS = -4, (5, 20, 40, 25, 8, 2)
SUM = 23.5
CONTENT_TYPE = (
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
)
TIMEOUT = 60.0


# -- the protobuf encoding (io.prometheus.client's metrics.proto), just what one histogram needs --


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _zigzag(n: int) -> int:  # sint32/sint64
    return (n << 1) ^ (n >> 63)


def _field(number: int, payload: bytes) -> bytes:  # length-delimited
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _uint(number: int, n: int) -> bytes:
    return _varint(number << 3) + _varint(n)


def _double(number: int, x: float) -> bytes:
    return _varint(number << 3 | 1) + struct.pack("<d", x)


def exposition() -> bytes:
    """The target's whole answer: one MetricFamily of type HISTOGRAM, length-delimited."""
    deltas = [b - a for a, b in zip((0, *COUNTS), COUNTS, strict=False)]  # counts as deltas
    span = _uint(1, _zigzag(FIRST_BUCKET)) + _uint(2, len(COUNTS))
    histogram = (
        _uint(1, ZERO_COUNT + sum(COUNTS))  # sample_count
        + _double(2, SUM)  # sample_sum
        + _uint(5, _zigzag(SCHEMA))
        + _double(6, ZERO_THRESHOLD)
        + _uint(7, ZERO_COUNT)
        + _field(12, span)  # positive_span
        + _field(13, b"".join(_varint(_zigzag(d)) for d in deltas))  # positive_delta, packed
    )
    label = _field(1, b"handler") + _field(2, b"/api/orders")
    metric = _field(1, label) + _field(7, histogram)
    family = (
        _field(1, METRIC.encode())
        + _field(2, b"Request latency, as a native histogram.")
        + _uint(3, 4)  # type: HISTOGRAM
        + _field(4, metric)
    )
    return _varint(len(family)) + family


class _Target(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = exposition()
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # a scrape a second would flood the notebook's output


class NativeHistogramScrape:
    """The target in this process and a private Prometheus scraping it, native histograms on."""

    def __init__(self) -> None:
        self.url = ""
        self._work = Path(tempfile.mkdtemp(prefix="sysmon-native-"))
        self._target: http.server.ThreadingHTTPServer | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._client: Client | None = None

    def start(self) -> NativeHistogramScrape:
        """Serve the target, start Prometheus, wait for the first scrape (at most a minute)."""
        prometheus = os.environ.get(PROMETHEUS_ENV) or shutil.which("prometheus")
        if not prometheus:
            raise DemoError(
                "Native histograms need Prometheus: `sudo apt-get install prometheus` on "
                f"Debian/Ubuntu, or set {PROMETHEUS_ENV} to its path."
            )
        self._target = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Target)
        threading.Thread(target=self._target.serve_forever, daemon=True).start()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        config = self._work / "prometheus.yml"
        config.write_text(
            "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
            "scrape_configs:\n"
            "  - job_name: native\n"
            f"    static_configs: [{{targets: ['127.0.0.1:{self._target.server_address[1]}']}}]\n"
        )
        with open(self._work / "prometheus.log", "wb") as log:
            self._process = subprocess.Popen(
                [
                    prometheus,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={self._work / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--enable-feature=native-histograms",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        # Stopped at interpreter exit too, if a notebook cell fails before its close().
        weakref.finalize(self, _stop, self._process)
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + TIMEOUT
        while not self._scraped():
            if time.monotonic() > deadline or self._process.poll() is not None:
                self.close()
                raise DemoError(f"Prometheus scraped no native histogram within {TIMEOUT:g} s.")
            time.sleep(0.2)
        return self

    def _scraped(self) -> bool:
        try:
            return not self.query(f"histogram_count({METRIC})").empty
        except Exception:  # not listening yet
            return False

    @property
    def pid(self) -> int | None:
        """The private Prometheus' process id, once started."""
        return self._process.pid if self._process is not None else None

    @property
    def client(self) -> Client:
        if self._client is None:
            from ..client import Client

            self._client = Client(self.url)
        return self._client

    def query(self, promql: str) -> pd.DataFrame:
        """An instant query now."""
        return self.client.query(promql)

    def close(self) -> None:
        """Stop Prometheus (by its pid), the target, and remove the temporary directory."""
        if self._process is not None:
            _stop(self._process)
        if self._target is not None:
            self._target.shutdown()
            self._target.server_close()
        if self._client is not None:
            self._client.close()
        shutil.rmtree(self._work, ignore_errors=True)

    def __enter__(self) -> NativeHistogramScrape:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the private Prometheus by its own pid, if it still runs."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
