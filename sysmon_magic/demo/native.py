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
by its own pid, the target's thread, the temporary directory. It is a
:class:`~sysmon_magic.demo.live.LiveScrape` of another target, and has its other methods too.
"""

from __future__ import annotations

import struct

from .live import LiveScrape

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


class NativeHistogramScrape(LiveScrape):
    """The target in this process and a private Prometheus scraping it, native histograms on."""

    job = "native"
    probe = f"histogram_count({METRIC})"
    content_type = CONTENT_TYPE
    flags = ("--enable-feature=native-histograms",)

    def exposition(self) -> bytes:
        return exposition()
