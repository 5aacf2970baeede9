"""Deterministic demo data: one week of node_exporter-style metrics from six hosts.

The data imitate what NHN Cloud System Monitoring collects: node_exporter metrics scraped every
60 s, plus a web service's request counter and latency histogram, with the labels the service adds
(``instance``, ``job``, ``openmetrics_id``). They follow a daily rhythm in Korean time (UTC+9) with a
weekend dip, carry seeded noise, one application restart (a counter reset) and one scripted
incident. Everything is a pure function of the constants below: the same bytes on every run.

Window
    One sample every :data:`STEP` = 60 s at ``DEMO_START, DEMO_START + 60, ..., DEMO_END``, both
    ends included (10,081 samples per series), where

    * :data:`DEMO_START` = 1793577600 = 2026-11-02T00:00:00Z (a Monday, 09:00 KST),
    * :data:`DEMO_END`   = 1794182400 = 2026-11-09T00:00:00Z (a Monday, 09:00 KST).

    Only the incident host misses two samples while it reboots (see below).

Hosts and labels
    ``web-01`` .. ``web-04``, ``db-01``, ``batch-01``. Node metrics carry ``job="node"`` and
    ``instance="<host>:9100"``; the web service's metrics (on the web hosts only) carry
    ``job="api"`` and ``instance="<host>:8080"``, as a separate exporter port would. Every series
    carries ``openmetrics_id`` (:data:`OPENMETRICS_IDS`, one uuid5 per host), which is therefore the
    label that joins a host's node and api series.

The incident (Thursday 2026-11-05, all times UTC)
    At :data:`INCIDENT_LEAK_START` (00:30, 09:30 KST) a deploy starts leaking memory on
    :data:`INCIDENT_HOST` (``web-03``): ``node_memory_MemAvailable_bytes`` falls for six hours. From
    :data:`INCIDENT_ERRORS_START` (05:45) the host thrashes: latency climbs and 500/503 responses
    burst. The kernel's OOM handling takes the host down after the sample at
    :data:`INCIDENT_LAST_SAMPLE` (06:31); the samples at 06:32 and 06:33
    (:data:`INCIDENT_MISSING_SAMPLES`) do not exist; the host booted at
    :data:`INCIDENT_BOOT_TIME` and is scraped again from :data:`INCIDENT_RESTART` (06:34). All its
    counters restart near zero there, ``node_boot_time_seconds`` changes and MemAvailable is back.

The other counter reset
    The api service on :data:`APP_RESTART_HOST` (``web-02``) is redeployed at
    :data:`APP_RESTART_TIME` (Tuesday 05:30 UTC): its ``http_*`` counters restart; its node
    metrics do not.

Exactly known values (use them in tests; times are multiples of 60 s)
    * ``sum by (instance, cpu) (increase(node_cpu_seconds_total[5m]))`` is exactly ``300.0``
      (:data:`KNOWN_CPU_INCREASE_5M`) at every whole minute from ``DEMO_START + 5m``, except on
      web-03 within 5 minutes after its reboot: each CPU's modes add up to exactly 60 s per
      minute, in multiples of 1/64 s, which subtract and add without rounding.
      ``sum by (instance, cpu) (rate(node_cpu_seconds_total[5m]))`` is then ``1.0``
      (:data:`KNOWN_CPU_RATE_SUM`) up to one or two units in the last place: Prometheus 2.42
      multiplies each mode's increase by the rounded ``1/300``, so some minutes read
      ``1.0000000000000002`` (compare with a tolerance of 1e-12).
    * ``sum by (instance, cpu) (node_cpu_seconds_total) == time() - node_boot_time_seconds``
      exactly, for every sample.
    * ``http_requests_total{handler="/healthz"}`` grows by exactly 6 per minute (a load balancer
      checks every 10 s) on every web host while its service runs: ``increase(...[5m]) == 30``
      and ``rate(...[5m]) == 0.1`` (:data:`KNOWN_HEALTHZ_RATE`; ``30 * (1/300)`` happens to
      round to the double ``0.1``) at every minute on ``web-01`` and ``web-04`` after the first
      five; its value on ``web-01`` is ``KNOWN_HEALTHZ_WEB01_AT_START + 6 * (t - DEMO_START) / 60``.
    * ``node_memory_MemTotal_bytes`` per host: :data:`MEM_TOTAL_BYTES`; the ``node_uname_info``
      labels per host: :data:`UNAME_INFO`; boot times before the incident: :data:`BOOT_TIMES`.
    * :data:`KNOWN_QUIET_TIME` is a minute far from every reset, for instant queries.

Randomness comes from :func:`numpy.random.default_rng` with fixed seeds, and only through
``Generator.random()`` (uniform doubles from PCG64, unchanged since NumPy 1.17; NumPy promises
no such stability for its other distributions), from which normal and Poisson draws are derived
here. Every emitted value is an integer number of small units (a byte, 1/64 s, a millisecond,
0.01 of load) rounded from the floats, so a last-bit difference in ``exp``/``log`` between CPUs
or NumPy versions practically never changes the output.

NumPy is imported inside the functions that need it, so that importing this module (for its
constants) stays cheap.
"""

from __future__ import annotations

import functools
import hashlib
import math
import uuid
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    FloatArray = NDArray[np.floating[Any]]
    IntArray = NDArray[np.int64]

__all__ = [
    "APP_RESTART_HOST",
    "APP_RESTART_TIME",
    "BOOT_TIMES",
    "DEMO_END",
    "DEMO_START",
    "GENERATOR_VERSION",
    "HOSTS",
    "INCIDENT_BOOT_TIME",
    "INCIDENT_ERRORS_START",
    "INCIDENT_HOST",
    "INCIDENT_LAST_SAMPLE",
    "INCIDENT_LEAK_START",
    "INCIDENT_MISSING_SAMPLES",
    "INCIDENT_RESTART",
    "KNOWN_CPU_INCREASE_5M",
    "KNOWN_CPU_RATE_SUM",
    "KNOWN_HEALTHZ_RATE",
    "KNOWN_HEALTHZ_WEB01_AT_START",
    "KNOWN_QUIET_TIME",
    "MEM_TOTAL_BYTES",
    "METADATA",
    "N_SAMPLES",
    "OPENMETRICS_IDS",
    "STEP",
    "UNAME_INFO",
    "WEB_HOSTS",
    "MetricInfo",
    "api_instance",
    "clear_cache",
    "fingerprint",
    "iter_series",
    "metadata_exposition",
    "node_instance",
    "series_count",
    "timestamps",
    "write_openmetrics",
]

# Bump when the data change in a way the source hash would not show (it hashes this file anyway).
GENERATOR_VERSION = 1
SEED = 20261102

STEP = 60
DEMO_START = 1793577600  # 2026-11-02T00:00:00Z, Monday
DEMO_END = 1794182400  # 2026-11-09T00:00:00Z, included
N_SAMPLES = (DEMO_END - DEMO_START) // STEP + 1  # 10081

# Users live in Korea: the daily curve and the weekend follow KST.
TZ_OFFSET = 9 * 3600

HOSTS = ("web-01", "web-02", "web-03", "web-04", "db-01", "batch-01")
WEB_HOSTS = HOSTS[:4]
NODE_JOB = "node"
API_JOB = "api"

_ID_NAMESPACE = uuid.UUID("6f1c2a4e-2b8d-5c3e-9a71-0d4e5f6a7b8c")
OPENMETRICS_IDS: Mapping[str, str] = {h: str(uuid.uuid5(_ID_NAMESPACE, h)) for h in HOSTS}

# MemTotal is reported in kB by the kernel, hence multiples of 1024 a little under the nominal size.
MEM_TOTAL_BYTES: Mapping[str, int] = {
    "web-01": 8_007_938_048,
    "web-02": 8_007_938_048,
    "web-03": 8_007_938_048,
    "web-04": 8_007_938_048,
    "db-01": 33_564_848_128,
    "batch-01": 16_542_142_464,
}

BOOT_TIMES: Mapping[str, int] = {
    "web-01": 1792012447,  # 2026-10-14T21:14:07Z
    "web-02": 1792013092,
    "web-03": 1792013701,
    "web-04": 1792014355,
    "db-01": 1789295518,  # 2026-09-13, the database is rebooted least
    "batch-01": 1793096461,  # 2026-10-27
}

_ROCKY8 = {
    "release": "4.18.0-553.16.1.el8_10.x86_64",
    "version": "#1 SMP Thu Aug 8 17:47:08 UTC 2024",
}
_CENTOS7 = {
    "release": "3.10.0-1127.19.1.el7.x86_64",
    "version": "#1 SMP Tue Aug 25 17:23:54 UTC 2020",
}
_UBUNTU = {
    "release": "5.15.0-122-generic",
    "version": "#132-Ubuntu SMP Thu Aug 29 13:45:52 UTC 2024",
}
UNAME_INFO: Mapping[str, Mapping[str, str]] = {
    h: {
        "domainname": "(none)",
        "machine": "x86_64",
        "nodename": h,
        "sysname": "Linux",
        **(_CENTOS7 if h == "db-01" else _UBUNTU if h == "batch-01" else _ROCKY8),
    }
    for h in HOSTS
}

# (mountpoint, device, fstype, size in bytes)
_FILESYSTEMS: Mapping[str, tuple[tuple[str, str, str, int], ...]] = {
    **{h: (("/", "/dev/vda1", "xfs", 53_660_876_800),) for h in WEB_HOSTS},
    "db-01": (
        ("/", "/dev/vda1", "xfs", 53_660_876_800),
        ("/data", "/dev/vdb1", "xfs", 536_606_752_768),
    ),
    "batch-01": (
        ("/", "/dev/vda1", "xfs", 107_321_753_600),
        ("/data", "/dev/vdb", "ext4", 210_304_475_136),
    ),
}

INCIDENT_HOST = "web-03"
INCIDENT_LEAK_START = 1793838600  # 2026-11-05T00:30:00Z
INCIDENT_ERRORS_START = 1793857500  # 2026-11-05T05:45:00Z
INCIDENT_LAST_SAMPLE = 1793860260  # 2026-11-05T06:31:00Z, last sample before the host went down
INCIDENT_MISSING_SAMPLES = (1793860320, 1793860380)  # 06:32 and 06:33 are absent
INCIDENT_BOOT_TIME = 1793860377  # 2026-11-05T06:32:57Z, node_boot_time_seconds afterwards
INCIDENT_RESTART = 1793860440  # 2026-11-05T06:34:00Z, first sample after the reboot

APP_RESTART_HOST = "web-02"
APP_RESTART_TIME = 1793683800  # 2026-11-03T05:30:00Z: first sample of the redeployed service

KNOWN_CPU_RATE_SUM = 1.0
KNOWN_CPU_INCREASE_5M = 300.0
KNOWN_HEALTHZ_PER_MINUTE = 6
KNOWN_HEALTHZ_RATE = 0.1  # what Prometheus 2.42 computes for rate(...[5m]): 30 * (1/300)
KNOWN_QUIET_TIME = 1793761200  # 2026-11-04T03:00:00Z (Wednesday 12:00 KST)

# The api service starts this long after its host boots.
_APP_START_DELAY = 45
# healthz counted since the service started (DEMO_START - boot - delay = 1565108 s = 26085 min).
KNOWN_HEALTHZ_WEB01_AT_START = KNOWN_HEALTHZ_PER_MINUTE * (
    (DEMO_START - BOOT_TIMES["web-01"] - _APP_START_DELAY) // 60
)


def node_instance(host: str) -> str:
    """The ``instance`` label of a host's node_exporter series (``web-01:9100``)."""
    return f"{host}:9100"


def api_instance(host: str) -> str:
    """The ``instance`` label of a web host's api series (``web-01:8080``)."""
    return f"{host}:8080"


# --- metadata ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricInfo:
    """HELP, TYPE and unit of one metric, named as Prometheus names it (``..._total``)."""

    name: str
    type: str  # counter, gauge or histogram
    help: str
    unit: str = ""

    @property
    def family(self) -> str:
        """The OpenMetrics family name: a counter's name without ``_total``."""
        if self.type == "counter" and self.name.endswith("_total"):
            return self.name[: -len("_total")]
        return self.name


# node_exporter's own HELP strings, so that /api/v1/metadata reads like the real thing.
METADATA: Mapping[str, MetricInfo] = {
    m.name: m
    for m in (
        MetricInfo("node_boot_time_seconds", "gauge", "Node boot time, in unixtime.", "seconds"),
        MetricInfo(
            "node_cpu_seconds_total", "counter", "Seconds the CPUs spent in each mode.", "seconds"
        ),
        MetricInfo(
            "node_filesystem_avail_bytes",
            "gauge",
            "Filesystem space available to non-root users in bytes.",
            "bytes",
        ),
        MetricInfo("node_filesystem_size_bytes", "gauge", "Filesystem size in bytes.", "bytes"),
        MetricInfo("node_load1", "gauge", "1m load average."),
        MetricInfo("node_load15", "gauge", "15m load average."),
        MetricInfo("node_load5", "gauge", "5m load average."),
        MetricInfo(
            "node_memory_MemAvailable_bytes",
            "gauge",
            "Memory information field MemAvailable_bytes.",
            "bytes",
        ),
        MetricInfo(
            "node_memory_MemTotal_bytes",
            "gauge",
            "Memory information field MemTotal_bytes.",
            "bytes",
        ),
        MetricInfo(
            "node_network_receive_bytes_total",
            "counter",
            "Network device statistic receive_bytes.",
            "bytes",
        ),
        MetricInfo(
            "node_network_transmit_bytes_total",
            "counter",
            "Network device statistic transmit_bytes.",
            "bytes",
        ),
        MetricInfo(
            "node_uname_info",
            "gauge",
            "Labeled system information as provided by the uname system call.",
        ),
        MetricInfo(
            "http_requests_total",
            "counter",
            "Total number of HTTP requests by handler, method and status code.",
        ),
        MetricInfo(
            "http_request_duration_seconds",
            "histogram",
            "Latency of HTTP requests to the API handlers.",
            "seconds",
        ),
    )
}

HISTOGRAM_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def metadata_exposition() -> str:
    """``# HELP``/``# TYPE`` lines for every demo metric, in Prometheus text format, no samples.

    Prometheus learns metadata only from scrapes; scraping this text fills ``/api/v1/metadata``.
    """
    lines = []
    for m in METADATA.values():
        lines.append(f"# HELP {m.name} {_escape_help(m.help)}")
        lines.append(f"# TYPE {m.name} {m.type}")
    return "\n".join(lines) + "\n"


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def fingerprint() -> str:
    """A short hash of this generator (its source and constants): a cache key for its output."""
    h = hashlib.sha256()
    h.update(f"{GENERATOR_VERSION}:{SEED}:{DEMO_START}:{DEMO_END}:{STEP}\n".encode())
    h.update(Path(__file__).read_bytes())
    return h.hexdigest()[:16]


# --- series -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Series:
    """One series: its value at sample ``i`` is ``numer[i] / base**exp``, exactly as written.

    Base 10 gives short decimals (loads, milliseconds); base 2 gives binary fractions, which
    rate() divides exactly (CPU seconds), written out in full as decimals.
    """

    name: str
    labels: tuple[tuple[str, str], ...]  # sorted, without __name__
    numer: IntArray
    exp: int
    index: NDArray[np.intp] | None  # positions on the time grid; None means every minute
    base: int = 10

    def present_numer(self) -> IntArray:
        """``numer`` at the samples that exist."""
        return self.numer if self.index is None else self.numer[self.index]

    def decimal_parts(self) -> tuple[IntArray, IntArray, int]:
        """``(integer part, fractional digits as an integer, number of fractional digits)``."""
        numer = self.present_numer()
        if self.base == 2:
            # k/2**e == k*5**e/10**e: a binary fraction has exactly e decimal digits.
            int_part = numer >> self.exp
            return int_part, (numer - (int_part << self.exp)) * 5**self.exp, self.exp
        int_part, frac = divmod(numer, 10**self.exp)
        return int_part, frac, self.exp


def timestamps() -> IntArray:
    """The time grid: unix seconds from DEMO_START to DEMO_END inclusive, every 60 s."""
    import numpy as np

    return np.arange(DEMO_START, DEMO_END + 1, STEP, dtype=np.int64)


def iter_series() -> Iterator[tuple[dict[str, str], IntArray, FloatArray]]:
    """Yield ``(labels with __name__, unix-second timestamps, values)`` for every series.

    Values are the doubles Prometheus stores after parsing the OpenMetrics text: ``numer / 10**d``
    is a correctly rounded division, the same double ``strtod`` makes of the decimal string (and
    ``numer / 2**e`` is exact).
    """
    grid = timestamps()
    for s in _build():
        ts = grid if s.index is None else grid[s.index]
        values = s.present_numer() / float(s.base**s.exp)
        yield {"__name__": s.name, **dict(s.labels)}, ts, values


def series_count() -> int:
    """How many series the demo data hold."""
    return len(_build())


def clear_cache() -> None:
    """Let go of the generated series (about 20 MB): the next use generates them again."""
    _build.cache_clear()


class _Writer(Protocol):
    def write(self, data: bytes, /) -> object: ...


def write_openmetrics(out: _Writer) -> int:
    """Write all series as OpenMetrics text (for ``promtool tsdb create-blocks-from openmetrics``).

    Families appear in :data:`METADATA` order with ``# HELP``/``# TYPE``/``# UNIT``; each series'
    samples follow one another in time order (promtool accepts histogram series one after the
    other, though strict OpenMetrics would interleave their points by time). Timestamps are in
    seconds, lines end in LF, the text ends with ``# EOF``. Returns the number of bytes written.
    """
    import numpy as np

    ts_cols = _digit_matrix(timestamps())
    # " <timestamp>\n" per sample, as fixed-width byte rows.
    ts_rows = np.empty((ts_cols.shape[0], ts_cols.shape[1] + 2), np.uint8)
    ts_rows[:, 0] = ord(" ")
    ts_rows[:, 1:-1] = ts_cols
    ts_rows[:, -1] = ord("\n")

    by_family: dict[str, list[_Series]] = {}
    for s in _build():
        by_family.setdefault(_family_of(s.name), []).append(s)
    written = 0
    for info in METADATA.values():
        head = f"# HELP {info.family} {_escape_help(info.help)}\n# TYPE {info.family} {info.type}\n"
        if info.unit:
            head += f"# UNIT {info.family} {info.unit}\n"
        written += _write(out, head.encode())
        for s in by_family.get(info.family, []):
            labels = ",".join(f'{k}="{_escape_label(v)}"' for k, v in s.labels)
            prefix = f"{s.name}{{{labels}}} ".encode()
            rows = ts_rows if s.index is None else ts_rows[s.index]
            written += _write(out, _format_lines(prefix, *s.decimal_parts(), rows))
    return written + _write(out, b"# EOF\n")


def _write(out: _Writer, data: bytes) -> int:
    out.write(data)
    return len(data)


def _family_of(sample_name: str) -> str:
    if sample_name in METADATA:
        return METADATA[sample_name].family
    for suffix in ("_bucket", "_sum", "_count"):
        base = sample_name.removesuffix(suffix)
        if base != sample_name and base in METADATA:
            return base
    raise KeyError(sample_name)


def _digit_matrix(values: IntArray) -> NDArray[np.uint8]:
    """Fixed-width ASCII digits of non-negative integers, left-padded with NUL bytes."""
    import numpy as np

    width = len(str(int(values.max()))) if len(values) else 1
    out = np.zeros((len(values), width), np.uint8)
    x = values.astype(np.int64, copy=True)
    for j in range(width):
        digit = (x % 10 + 48).astype(np.uint8)
        # The units digit always exists (a zero is "0"); higher ones only below the number.
        out[:, width - 1 - j] = digit if j == 0 else np.where(x > 0, digit, 0)
        x //= 10
    return out


def _format_lines(
    prefix: bytes, int_part: IntArray, frac: IntArray, decimals: int, ts_rows: NDArray[np.uint8]
) -> bytes:
    """``prefix + value + " ts\\n"`` for each sample, built as one byte matrix.

    Each row is padded with NUL bytes where a value is shorter than the widest; dropping the NULs
    at the end turns the matrix into the text. This formats ~3 M samples in about a second, where
    per-sample Python string formatting takes several.
    """
    import numpy as np

    if (int_part < 0).any():
        raise ValueError("demo values are never negative")
    int_cols = _digit_matrix(int_part)
    frac_width = decimals + 1 if decimals else 0
    p, wi = len(prefix), int_cols.shape[1]
    m = np.zeros((len(int_part), p + wi + frac_width + ts_rows.shape[1]), np.uint8)
    m[:, :p] = np.frombuffer(prefix, np.uint8)
    m[:, p : p + wi] = int_cols
    if decimals:
        # ".5" rather than ".500000": a fractional digit is written while any digit after it is set.
        m[:, p + wi] = np.where(frac > 0, ord("."), 0)
        for k in range(decimals):
            rest = frac % 10 ** (decimals - k)
            digit = (frac // 10 ** (decimals - 1 - k)) % 10 + 48
            m[:, p + wi + 1 + k] = np.where(rest > 0, digit, 0)
    m[:, p + wi + frac_width :] = ts_rows
    flat = m.ravel()
    return flat[flat != 0].tobytes()


# --- random helpers: uniforms only, transformed here --------------------------------------------


def _stream(*key: str) -> np.random.Generator:
    """An independent, reproducible random stream for one component (order of use is irrelevant)."""
    import numpy as np

    return np.random.default_rng([SEED, *(zlib.crc32(k.encode()) for k in key)])


def _normal(gen: np.random.Generator, n: int) -> FloatArray:
    """Standard normal draws by Box-Muller from ``Generator.random`` (stable across NumPy)."""
    import numpy as np

    u1 = 1.0 - gen.random(n)  # in (0, 1]: log is finite
    u2 = gen.random(n)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def _smooth(gen: np.random.Generator, n: int, tau: float) -> FloatArray:
    """Unit-variance noise correlated over about ``tau`` minutes (white noise, exp-smoothed)."""
    import numpy as np

    taps = int(5 * tau) + 1
    kernel = np.exp(-np.arange(taps) / tau)
    kernel /= np.sqrt((kernel**2).sum())
    return np.convolve(_normal(gen, n + taps - 1), kernel, mode="valid")


def _poisson(gen: np.random.Generator, lam: FloatArray) -> IntArray:
    """Poisson counts: inverse CDF for small means, a rounded normal for large ones."""
    import numpy as np

    lam = np.asarray(lam, dtype=np.float64)
    u = gen.random(lam.shape)
    z = _normal(gen, lam.size).reshape(lam.shape)
    out = np.maximum(0.0, np.floor(lam + np.sqrt(lam) * z + 0.5)).astype(np.int64)
    small = lam <= 30.0
    lam_s, u_s = lam[small], u[small]
    k = np.zeros(lam_s.shape, np.int64)
    p = np.exp(-lam_s)
    cdf = p.copy()
    for i in range(1, 200):
        more = u_s > cdf
        if not more.any():
            break
        k += more
        p = p * lam_s / i
        cdf += p
    out[small] = k
    return out


def _round_random(gen: np.random.Generator, x: FloatArray) -> IntArray:
    """Round to an integer, up with probability equal to the fraction: unbiased on average."""
    import numpy as np

    return np.floor(x + gen.random(np.shape(x))).astype(np.int64)


def _counter(
    increments: IntArray, start: int, resets: tuple[tuple[int, int], ...] = ()
) -> IntArray:
    """Cumulative counter: ``start`` at index 0, then ``+ increments[i]``; restarts at resets.

    ``resets`` holds ``(index, value)``: the counter reads ``value`` at ``index`` (what the new
    process counted since it started) and grows from there.
    """
    import numpy as np

    v = np.cumsum(increments, dtype=np.int64)
    v += start - v[0]
    for i, value in resets:
        v[i:] += value - v[i]
    return v


# --- the scenario -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Clock:
    t: IntArray  # unix seconds
    hour: FloatArray  # KST hour of day, 0..24
    weekend: NDArray[np.bool_]  # Saturday or Sunday in KST

    def index(self, t: int) -> int:
        """Position of the sample at unix time ``t``."""
        return (t - DEMO_START) // STEP

    def between(self, start: int, end: int) -> FloatArray:
        """0 before ``start``, rising linearly to 1 at ``end``, then 1."""
        import numpy as np

        return np.clip((self.t - start) / (end - start), 0.0, 1.0)


def _clock() -> _Clock:
    t = timestamps()
    local = t + TZ_OFFSET
    # 1970-01-01 was a Thursday: weekday 0 = Monday.
    weekday = (local // 86400 + 3) % 7
    return _Clock(t=t, hour=(local % 86400) / 3600.0, weekend=weekday >= 5)


def _bump(hour: FloatArray, center: float, width: float) -> FloatArray:
    import numpy as np

    d = (hour - center + 12.0) % 24.0 - 12.0
    return np.exp(-0.5 * (d / width) ** 2)


def _traffic(clock: _Clock) -> FloatArray:
    """Users' activity, 0..~1: lunch and afternoon peaks, an evening peak, a quiet night."""
    import numpy as np

    h = clock.hour
    weekday = (
        0.06 + 0.45 * _bump(h, 11.5, 1.8) + 0.7 * _bump(h, 15.0, 2.5) + 0.9 * _bump(h, 21.0, 2.0)
    )
    weekend = 0.06 + 0.35 * _bump(h, 13.0, 3.0) + 0.55 * _bump(h, 21.5, 2.3)
    shape = np.where(clock.weekend, weekend, weekday)
    noise = 1.0 + 0.06 * _smooth(_stream("traffic"), len(h), 20.0)
    return np.clip(shape * noise, 0.02, None)


def _batch_job(clock: _Clock) -> FloatArray:
    """batch-01's nightly job, 0..1: starts 02:00 KST, runs 80-110 minutes."""
    import numpy as np

    gen = _stream("batch-job")
    active = np.zeros(len(clock.t))
    day_starts = np.arange(DEMO_START - 86400, DEMO_END + 1, 86400) + 17 * 3600  # 02:00 KST
    durations = 80 + 30 * gen.random(len(day_starts))
    for start, minutes in zip(day_starts, durations, strict=True):
        # Ramps of ~5 minutes at both ends: the job spawns and drains its workers.
        up = np.clip((clock.t - start) / 300.0, 0.0, 1.0)
        down = np.clip((start + minutes * 60 - clock.t) / 300.0, 0.0, 1.0)
        active = np.maximum(active, np.minimum(up, down))
    return active


@dataclass
class _Host:
    """Per-host activity the metrics are derived from, one value per minute."""

    name: str
    busy: FloatArray  # CPU busy fraction (not idle, not iowait, not steal) of each CPU
    iowait: FloatArray
    system_share: FloatArray  # share of busy time spent in the kernel
    nice_share: FloatArray  # share of busy time spent niced
    requests: IntArray | None  # api requests per minute (web hosts)
    net_rx: FloatArray  # bytes per minute
    net_tx: FloatArray
    leak: FloatArray  # 0..1, memory lost to the leak (incident host only)
    thrash: FloatArray  # 0..1, memory-pressure slowdown before the crash (incident host only)
    present: NDArray[np.intp] | None  # sample positions (None = all)
    boot_reset: int | None  # sample index where the host came back after a reboot


@functools.lru_cache(maxsize=1)
def _build() -> tuple[_Series, ...]:
    """Every series of the scenario (cached: ~20 MB of integers)."""
    import numpy as np

    clock = _clock()
    n = len(clock.t)
    zero = np.zeros(n)
    traffic = _traffic(clock)
    job = _batch_job(clock)
    before_crash = clock.t <= INCIDENT_LAST_SAMPLE
    leak = clock.between(INCIDENT_LEAK_START, INCIDENT_LAST_SAMPLE) * before_crash
    thrash = clock.between(INCIDENT_ERRORS_START, INCIDENT_LAST_SAMPLE) ** 2 * before_crash

    hosts: dict[str, _Host] = {}
    http: dict[str, list[_Series]] = {}
    for k, host in enumerate(WEB_HOSTS):
        incident = host == INCIDENT_HOST
        h_thrash = thrash if incident else zero
        # The load balancer spreads users evenly, give or take a few percent.
        share = 1.0 + 0.04 * (k - 1.5) / 1.5 + 0.03 * _smooth(_stream("share", host), n, 30.0)
        http[host], requests = _http_series(clock, host, 1500.0 * traffic * share, h_thrash)
        busy = 0.03 + 0.55 * requests / 1500.0 + 0.01 * _smooth(_stream("busy", host), n, 5.0)
        hosts[host] = _Host(
            name=host,
            busy=busy + 0.45 * h_thrash,
            iowait=0.003 + 0.002 * traffic + 0.08 * h_thrash,
            system_share=0.22 + 0.45 * h_thrash,  # reclaiming memory is kernel time
            nice_share=np.full(n, 0.002),
            requests=requests,
            net_rx=requests * 950.0 + 120e3,
            net_tx=requests * 14_500.0 + 90e3,
            leak=leak if incident else zero,
            thrash=h_thrash,
            present=_present(clock, host),
            boot_reset=clock.index(INCIDENT_RESTART) if incident else None,
        )
    load = sum((h.requests for h in hosts.values() if h.requests is not None), zero) / 6000.0
    hosts["db-01"] = _Host(
        name="db-01",
        busy=0.05 + 0.30 * load + 0.25 * job + 0.01 * _smooth(_stream("busy", "db-01"), n, 5.0),
        iowait=0.02 + 0.06 * load + 0.10 * job,
        system_share=np.full(n, 0.18),
        nice_share=np.full(n, 0.0),
        requests=None,
        net_rx=load * 4.2e6 + 2e6 * job + 150e3,
        net_tx=load * 31e6 + 60e6 * job + 150e3,
        leak=zero,
        thrash=zero,
        present=None,
        boot_reset=None,
    )
    hosts["batch-01"] = _Host(
        name="batch-01",
        busy=0.015 + 0.85 * job + 0.01 * _smooth(_stream("busy", "batch-01"), n, 5.0),
        iowait=0.002 + 0.05 * job,
        system_share=np.full(n, 0.12),
        nice_share=0.02 + 0.75 * job,  # the job runs under `nice`
        requests=None,
        net_rx=60e6 * job + 40e3,
        net_tx=2.5e6 * job + 30e3,
        leak=zero,
        thrash=zero,
        present=None,
        boot_reset=None,
    )

    for h in hosts.values():
        h.busy = np.clip(h.busy, 0.002, 0.95)  # noise must not make a CPU less than idle
    series: list[_Series] = []
    for host in HOSTS:
        series += _node_series(clock, hosts[host], traffic, job)
    for host in WEB_HOSTS:
        series += http[host]
    for host in WEB_HOSTS:
        series += _histogram_series(clock, hosts[host])
    return tuple(series)


def _node_labels(host: str, **extra: str) -> tuple[tuple[str, str], ...]:
    labels = {
        "instance": node_instance(host),
        "job": NODE_JOB,
        "openmetrics_id": OPENMETRICS_IDS[host],
    }
    return tuple(sorted({**labels, **extra}.items()))


def _api_labels(host: str, **extra: str) -> tuple[tuple[str, str], ...]:
    labels = {
        "instance": api_instance(host),
        "job": API_JOB,
        "openmetrics_id": OPENMETRICS_IDS[host],
    }
    return tuple(sorted({**labels, **extra}.items()))


_CPU_MODES = ("idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user")
# CPU seconds are kept in units of 1/64 s (the kernel counts 1/100 s): binary fractions keep
# sums and differences exact, and print as at most six decimals.
_CPU_EXP = 6


def _node_series(clock: _Clock, h: _Host, traffic: FloatArray, job: FloatArray) -> list[_Series]:
    """The node_exporter series of one host."""
    import numpy as np

    n = len(clock.t)
    boot = BOOT_TIMES[h.name]
    out: list[_Series] = []

    def add(
        name: str,
        numer: IntArray,
        labels: Mapping[str, str] | None = None,
        exp: int = 0,
        base: int = 10,
    ) -> None:
        series_labels = _node_labels(h.name, **(labels or {}))
        out.append(_Series(name, series_labels, numer, exp, h.present, base))

    # Boot time: changes when the host comes back.
    boot_times = np.full(n, boot, np.int64)
    if h.boot_reset is not None:
        boot_times[h.boot_reset :] = INCIDENT_BOOT_TIME
    add("node_boot_time_seconds", boot_times)

    # CPU: for each CPU, the modes share exactly 60 s per minute.
    unit = 1 << _CPU_EXP
    per_minute = 60 * unit
    for cpu in range(2):
        gen = _stream("cpu", h.name, str(cpu))
        steal = 0.002 + 0.004 * traffic  # noisy neighbours are busy when everyone is
        busy = np.clip(h.busy * (1.0 + 0.08 * _normal(gen, n)), 0.002, 0.97 - h.iowait - steal)
        softirq = 0.045 if h.requests is not None else 0.02  # network interrupts on web hosts
        shares = {
            "user": busy * (1.0 - h.system_share - h.nice_share - softirq - 0.015),
            "system": busy * h.system_share,
            "nice": busy * h.nice_share,
            "softirq": busy * softirq,
            "irq": busy * 0.015,
            "steal": steal,
            "iowait": h.iowait,
        }
        ticks = {
            m: _round_random(gen, np.clip(f, 0.0, 1.0) * per_minute) for m, f in shares.items()
        }
        busy_ticks = sum(ticks.values(), np.zeros(n, np.int64))
        if (busy_ticks > per_minute).any():
            raise AssertionError("CPU shares exceed one CPU")
        ticks["idle"] = per_minute - busy_ticks

        mean_shares = {m: float(ticks[m].mean()) / per_minute for m in shares}
        starts = _cpu_since_boot(DEMO_START - boot, mean_shares)
        resets: dict[str, tuple[tuple[int, int], ...]] = {m: () for m in _CPU_MODES}
        if h.boot_reset is not None:
            # Booting is mostly disk and kernel work.
            mix = {"user": 0.18, "system": 0.22, "iowait": 0.12, "softirq": 0.01, "irq": 0.01}
            after_boot = _cpu_since_boot(INCIDENT_RESTART - INCIDENT_BOOT_TIME, mix)
            resets = {m: ((h.boot_reset, after_boot[m]),) for m in _CPU_MODES}
        for mode in _CPU_MODES:
            numer = _counter(ticks[mode], starts[mode], resets[mode])
            add("node_cpu_seconds_total", numer, {"cpu": str(cpu), "mode": mode}, _CPU_EXP, base=2)

    # Filesystems: logs and data grow, logrotate or cleanup frees space.
    for mountpoint, device, fstype, size in _FILESYSTEMS[h.name]:
        gen = _stream("fs", h.name, mountpoint)
        used = _filesystem_used(clock, h, mountpoint, size, job, gen)
        avail = (size - used) // 4096 * 4096
        fs = {"device": device, "fstype": fstype, "mountpoint": mountpoint}
        add("node_filesystem_avail_bytes", avail, fs)
        add("node_filesystem_size_bytes", np.full(n, size, np.int64), fs)

    # Load averages: exponentially damped run-queue length, as the kernel computes them.
    gen = _stream("load", h.name)
    runnable = 2.0 * (h.busy + h.iowait) * (1.0 + 0.6 * h.busy**2) + 0.15 * np.abs(_normal(gen, n))
    for minutes, name in ((1, "node_load1"), (5, "node_load5"), (15, "node_load15")):
        load = _damped(runnable, math.exp(-1.0 / minutes), h.boot_reset)
        add(name, np.floor(load * 100 + 0.5).astype(np.int64), exp=2)

    # Memory.
    total = MEM_TOTAL_BYTES[h.name]
    gen = _stream("mem", h.name)
    noise = 0.006 * _smooth(gen, n, 15.0)
    if h.requests is not None:
        frac = 0.60 - 0.10 * traffic + noise
        if h.boot_reset is not None:
            # The leak eats what was available (accelerating), leaving ~1.5 % at the crash...
            frac = frac - (frac - 0.015) * h.leak**1.4 - 0.01 * h.thrash
            # ...and after the reboot the page cache is empty: more is available, for a while.
            since = np.clip((clock.t - INCIDENT_RESTART) / 3600.0, 0.0, None)
            after = clock.t >= INCIDENT_RESTART
            frac = np.where(after, 0.60 - 0.10 * traffic + noise + 0.12 * np.exp(-since), frac)
    elif h.name == "db-01":
        frac = 0.21 - 0.03 * traffic + noise  # the buffer pool holds most of it
    else:
        frac = 0.78 - 0.45 * job + noise
    available = (np.clip(frac, 0.005, 0.95) * total).astype(np.int64) // 1024 * 1024  # kB
    add("node_memory_MemAvailable_bytes", available)
    add("node_memory_MemTotal_bytes", np.full(n, total, np.int64))

    # Network: byte counters since boot.
    gen = _stream("net", h.name)
    for direction, rate in (("receive", h.net_rx), ("transmit", h.net_tx)):
        inc = _round_random(gen, rate * (1.0 + 0.05 * _normal(gen, n)).clip(0.5))
        start = int(float(inc.mean()) * (DEMO_START - boot) / 60)
        net_resets: tuple[tuple[int, int], ...] = ()
        if h.boot_reset is not None:
            # Since boot: DHCP, package checks, the first requests.
            net_resets = ((h.boot_reset, 3_400_000 + int(inc[h.boot_reset])),)
        counter = _counter(inc, start, net_resets)
        add(f"node_network_{direction}_bytes_total", counter, {"device": "eth0"})

    add("node_uname_info", np.ones(n, np.int64), UNAME_INFO[h.name])
    return out


def _cpu_since_boot(seconds: int, shares: Mapping[str, float]) -> dict[str, int]:
    """CPU counters (in 1/64 s) after ``seconds`` of uptime spent as ``shares``; idle: the rest."""
    busy = {
        m: int(seconds * (1 << _CPU_EXP) * shares.get(m, 0.0)) for m in _CPU_MODES if m != "idle"
    }
    return {**busy, "idle": seconds * (1 << _CPU_EXP) - sum(busy.values())}


def _damped(x: FloatArray, decay: float, reset: int | None) -> FloatArray:
    """``y[i] = y[i-1] * decay + x[i] * (1 - decay)``, from zero again after a reboot."""
    import numpy as np

    y = np.empty_like(x)
    acc = float(x[0])
    for i, v in enumerate(x.tolist()):  # 10k steps: plain floats are faster than NumPy scalars
        if i == reset:
            acc = 0.0
        acc = acc * decay + v * (1.0 - decay)
        y[i] = acc
    return y


def _filesystem_used(
    clock: _Clock, h: _Host, mountpoint: str, size: int, job: FloatArray, gen: np.random.Generator
) -> IntArray:
    """Used bytes of one filesystem over time."""
    import numpy as np

    n = len(clock.t)
    jitter = 1.0 + 0.2 * gen.random(n)
    if mountpoint == "/" and h.requests is not None:
        # Access logs grow with traffic; logrotate compresses them at 00:00 KST (15:00 UTC).
        growth = (h.requests * 310.0 + 25_000.0) * jitter
        base = 0.34 * size
    elif mountpoint == "/data" and h.name == "db-01":
        growth = (h.busy * 4.0e6 + 3.0e5) * jitter  # rows arrive with the traffic
        return (0.61 * size + np.cumsum(growth)).astype(np.int64)
    elif mountpoint == "/data":
        # The nightly job writes today's export and deletes yesterday's when it finishes.
        growth = job * 2.2e8 * jitter
        used = 0.22 * size + np.cumsum(growth)
        starts = np.flatnonzero((job[:-1] == 0) & (job[1:] > 0)) + 1
        ends = np.flatnonzero((job[:-1] > 0) & (job[1:] == 0)) + 1
        written = [growth[a:b].sum() for a, b in zip(starts, ends, strict=True)]
        for i, end in enumerate(ends):
            used[end:] -= written[max(i - 1, 0)]  # before the window: about today's size
        return used.astype(np.int64)
    else:
        growth = (2_000.0 + 40_000.0 * h.busy) * jitter
        base = 0.28 * size
    used = base + np.cumsum(growth)
    rotations = np.flatnonzero((clock.t - 15 * 3600) % 86400 == 0)
    for r in rotations:
        # Compression frees ~85 % of what was written since the previous rotation.
        used[r:] -= 0.85 * growth[max(0, r - 1440) : r].sum()
    return used.astype(np.int64)


_HTTP_ROUTES = (
    ("/api/products", "GET", 0.68),
    ("/api/orders", "POST", 0.32),
)


def _http_series(
    clock: _Clock, host: str, lam: FloatArray, thrash: FloatArray
) -> tuple[list[_Series], IntArray]:
    """``http_requests_total`` series of one web host, and its api requests per minute."""
    import numpy as np

    n = len(clock.t)
    gen = _stream("http", host)
    error_500 = 0.0004 + 0.05 * thrash
    error_503 = 0.0002 + 0.15 * thrash
    counts: dict[tuple[str, str, str], IntArray] = {}
    for handler, method, share in _HTTP_ROUTES:
        base = lam * share
        not_found = 0.008 if method == "GET" else 0.0
        counts[(handler, method, "200")] = _poisson(
            gen, base * (1.0 - not_found - error_500 - error_503)
        )
        if not_found:
            counts[(handler, method, "404")] = _poisson(gen, base * not_found)
        counts[(handler, method, "500")] = _poisson(gen, base * error_500)
        counts[(handler, method, "503")] = _poisson(gen, base * error_503)
    api_requests = sum(counts.values(), np.zeros(n, np.int64))
    counts[("/healthz", "GET", "200")] = np.full(n, KNOWN_HEALTHZ_PER_MINUTE, np.int64)

    reset_at = _app_reset(clock, host)
    uptime_minutes = (DEMO_START - BOOT_TIMES[host] - _APP_START_DELAY) // 60
    present = _present(clock, host)
    out = []
    for (handler, method, code), inc in sorted(counts.items()):
        if handler == "/healthz":
            start = KNOWN_HEALTHZ_PER_MINUTE * uptime_minutes
        else:
            start = int(float(inc.mean()) * uptime_minutes)
        resets = tuple((i, int(inc[i]) * part // 60) for i, part in reset_at)
        labels = _api_labels(host, code=code, handler=handler, method=method)
        out.append(_Series("http_requests_total", labels, _counter(inc, start, resets), 0, present))
    return out, api_requests


def _app_reset(clock: _Clock, host: str) -> tuple[tuple[int, int], ...]:
    """``(index, seconds the new process has run at that sample)`` for the api service's restarts."""
    if host == APP_RESTART_HOST:
        return ((clock.index(APP_RESTART_TIME), 20),)
    if host == INCIDENT_HOST:
        return (
            (
                clock.index(INCIDENT_RESTART),
                INCIDENT_RESTART - INCIDENT_BOOT_TIME - _APP_START_DELAY,
            ),
        )
    return ()


def _present(clock: _Clock, host: str) -> NDArray[np.intp] | None:
    import numpy as np

    if host != INCIDENT_HOST:
        return None
    missing = [clock.index(t) for t in INCIDENT_MISSING_SAMPLES]
    return np.setdiff1d(np.arange(len(clock.t)), missing).astype(np.intp)


def _histogram_series(clock: _Clock, h: _Host) -> list[_Series]:
    """``http_request_duration_seconds`` (classic buckets) of one web host's api requests."""
    import numpy as np

    assert h.requests is not None
    n = len(clock.t)
    gen = _stream("latency", h.name)
    requests = h.requests
    # Log-logistic latencies: a median of 35-60 ms growing with load, a slow 2 % tail (cache
    # misses) of 150-400 ms, both ten times slower and the tail much fatter when thrashing.
    load = requests / 1500.0
    thrash = h.thrash
    median = (
        0.035 * (1.0 + 0.7 * load) * np.exp(0.08 * _smooth(gen, n, 10.0)) * (1.0 + 9.0 * thrash)
    )
    slow_median = 0.15 * (1.0 + 1.6 * load**2) * (1.0 + 12.0 * thrash)
    slow_share = 0.02 + 0.3 * thrash
    edges = np.asarray(HISTOGRAM_BUCKETS)[:, None]
    cdf = (1.0 - slow_share) / (1.0 + (edges / median) ** -3.2) + slow_share / (
        1.0 + (edges / slow_median) ** -2.2
    )
    # The same uniform for every bucket of a minute keeps the counts cumulative (monotone in le).
    cumulative = np.minimum(np.floor(requests * cdf + gen.random(n)).astype(np.int64), requests)
    per_bucket = np.diff(
        np.vstack([np.zeros((1, n), np.int64), cumulative, requests[None, :]]), axis=0
    )
    # Each bucket's requests at about its geometric middle; beyond 10 s, at 12 s.
    middles = np.sqrt(np.r_[0.002, HISTOGRAM_BUCKETS] * np.r_[HISTOGRAM_BUCKETS, 14.4])
    sum_ms = _round_random(
        gen, (per_bucket * middles[:, None] * 1000.0).sum(axis=0) * (0.9 + 0.2 * gen.random(n))
    )

    reset_at = _app_reset(clock, h.name)
    uptime_minutes = (DEMO_START - BOOT_TIMES[h.name] - _APP_START_DELAY) // 60

    def counter(inc: IntArray) -> IntArray:
        start = int(float(inc.mean()) * uptime_minutes)
        return _counter(inc, start, tuple((i, int(inc[i]) * part // 60) for i, part in reset_at))

    out = []
    name = "http_request_duration_seconds"
    for le, inc in zip((*HISTOGRAM_BUCKETS, math.inf), (*cumulative, requests), strict=True):
        labels = _api_labels(h.name, le=_format_le(le))
        out.append(_Series(f"{name}_bucket", labels, counter(inc), 0, h.present))
    out.append(_Series(f"{name}_sum", _api_labels(h.name), counter(sum_ms), 3, h.present))
    out.append(_Series(f"{name}_count", _api_labels(h.name), counter(requests), 0, h.present))
    return out


def _format_le(le: float) -> str:
    """OpenMetrics' canonical bucket bounds: ``0.005``, ``1.0``, ``+Inf``."""
    return "+Inf" if math.isinf(le) else repr(float(le))
