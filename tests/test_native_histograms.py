"""The native-histogram live scrape: a real Prometheus 2.42 stores the hand-encoded protobuf
histogram, and its functions answer what the buckets say."""

from __future__ import annotations

from pathlib import Path

import pytest

from sysmon_magic.demo.native import COUNTS, METRIC, NativeHistogramScrape, exposition


def test_the_exposition_is_one_length_delimited_message():
    body = exposition()
    length, shift, at = 0, 0, 0
    while True:  # the varint length prefix, then exactly that many bytes of MetricFamily
        length |= (body[at] & 0x7F) << shift
        shift, at = shift + 7, at + 1
        if not body[at - 1] & 0x80:
            break
    assert len(body) == at + length
    assert METRIC.encode() in body


@pytest.fixture(scope="module")
def live():
    with NativeHistogramScrape() as scrape:
        yield scrape


def test_prometheus_stores_the_native_histogram(live):
    frame = live.query(METRIC)
    assert frame["count"].tolist() == [2 + sum(COUNTS)] and frame["sum"].tolist() == [23.5]
    assert frame["buckets"][0][1:] == (
        (0, 0.03125, 0.0625, 5.0), (0, 0.0625, 0.125, 20.0), (0, 0.125, 0.25, 40.0),
        (0, 0.25, 0.5, 25.0), (0, 0.5, 1.0, 8.0), (0, 1.0, 2.0, 2.0),
    )  # fmt: skip
    assert frame["buckets"][0][0] == (3, -0.001, 0.001, 2.0)  # the zero bucket, closed


def test_the_histogram_functions(live):
    def value(query: str) -> float:
        return float(live.query(query)["value"][0])

    assert value(f"histogram_count({METRIC})") == 102
    assert value(f"histogram_sum({METRIC})") == 23.5
    assert value(f"histogram_quantile(0.9, {METRIC})") == pytest.approx(
        0.498
    )  # linear in (0.25, 0.5]
    assert value(f"histogram_fraction(0, 0.25, {METRIC})") == pytest.approx(67 / 102)


def test_close_stops_prometheus_by_its_pid():
    scrape = NativeHistogramScrape().start()
    pid = scrape.pid
    scrape.close()
    assert pid is not None and not Path(f"/proc/{pid}").exists()
