"""The local demo: a real Prometheus with one deterministic week of NHN-style monitoring data.

>>> from sysmon_magic import demo
>>> server = demo.start()  # doctest: +SKIP
>>> server.url, server.now  # doctest: +SKIP
('http://127.0.0.1:40213/prometheus', 1794182400.0)

The data (:mod:`sysmon_magic.demo.data`) span :data:`DEMO_START` to :data:`DEMO_END` (both
included, one sample a minute) and tell a story: a memory leak on :data:`INCIDENT_HOST` that ends
in an OOM reboot, an application restart on :data:`APP_RESTART_HOST`, daily and weekly rhythms.
The ``KNOWN_*`` constants are values queries return exactly, for tests and teaching.

Importing this package is cheap: NumPy and the generator load only when data are needed.
"""

from __future__ import annotations

from .data import (
    APP_RESTART_HOST,
    APP_RESTART_TIME,
    BOOT_TIMES,
    DEMO_END,
    DEMO_START,
    HOSTS,
    INCIDENT_BOOT_TIME,
    INCIDENT_ERRORS_START,
    INCIDENT_HOST,
    INCIDENT_LAST_SAMPLE,
    INCIDENT_LEAK_START,
    INCIDENT_MISSING_SAMPLES,
    INCIDENT_RESTART,
    KNOWN_CPU_INCREASE_5M,
    KNOWN_CPU_RATE_SUM,
    KNOWN_HEALTHZ_RATE,
    KNOWN_HEALTHZ_WEB01_AT_START,
    KNOWN_QUIET_TIME,
    MEM_TOTAL_BYTES,
    OPENMETRICS_IDS,
    STEP,
    UNAME_INFO,
    WEB_HOSTS,
)
from .server import DemoServer, reset, running, start, stop

__all__ = [
    "APP_RESTART_HOST",
    "APP_RESTART_TIME",
    "BOOT_TIMES",
    "DEMO_END",
    "DEMO_START",
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
    "OPENMETRICS_IDS",
    "STEP",
    "UNAME_INFO",
    "WEB_HOSTS",
    "DemoServer",
    "reset",
    "running",
    "start",
    "stop",
]
