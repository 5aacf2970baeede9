"""A live scrape, for teaching staleness: a target served by this process and a real Prometheus
scraping it every second, both on 127.0.0.1.

The demo's week is backfilled (``promtool`` blocks), and backfilled samples carry no staleness
markers: a series that stops there stays visible to instant queries for the 5-minute lookback. A
Prometheus that scrapes knows when a series ends: a failed scrape, or a series missing from one,
writes a staleness marker, and instant queries find nothing from then on. This module shows the
difference for real, in seconds::

    with LiveScrape() as live:        # the target answers; Prometheus scrapes it every second
        live.query("demo_temperature_celsius")   # one series
        live.stop_target()            # the target goes away: the next scrape fails
        live.wait_until_gone("demo_temperature_celsius")
        live.query('up{job="live"}')  # 0

Everything it starts stops with :meth:`LiveScrape.close` (also on leaving the ``with`` block and at
interpreter exit): Prometheus by its own pid, the target's thread, the temporary directory.
:class:`~sysmon_magic.demo.native.NativeHistogramScrape` is the same with another target: a
subclass names what it serves (:meth:`LiveScrape.exposition`, ``content_type``), the series
:meth:`LiveScrape.start` waits for (``probe``) and Prometheus' extra ``flags``.
"""

from __future__ import annotations

import http.server
import shutil
import tempfile
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar

from ..errors import DemoError
from .prometheus import PrometheusProcess, http_body, launch

if TYPE_CHECKING:
    import pandas as pd

    from ..client import Client

__all__ = ["METRIC", "LiveScrape"]

#: The one series the target serves.
METRIC = "demo_temperature_celsius"
#: The target's whole answer: a gauge with a fixed value, so that outputs are the same every run.
EXPOSITION = (
    f"# HELP {METRIC} A made-up room temperature, served by the notebook's own process.\n"
    f"# TYPE {METRIC} gauge\n"
    f'{METRIC}{{room="lab"}} 21.5\n'
)
JOB = "live"
#: How long to wait for Prometheus to start, or for a series to appear or vanish.
TIMEOUT = 60.0

_Scrape = TypeVar("_Scrape", bound="LiveScrape")  # start() and `with` give the subclass back


def _handler(body: bytes, content_type: str) -> type[http.server.BaseHTTPRequestHandler]:
    """A request handler that answers every GET with ``body``."""

    class Target(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # one line per scrape would flood the notebook

    return Target


class LiveScrape:
    """A scrape target in this process and a private Prometheus scraping it every ``interval``."""

    #: The scrape job's name: ``up{job="live"}``.
    job = JOB
    #: What :meth:`start` waits for: an instant query that returns series once a scrape stored.
    probe = METRIC
    #: The Content-Type of :meth:`exposition`: the Prometheus text format.
    content_type = "text/plain; version=0.0.4"
    #: More command-line flags for Prometheus.
    flags: tuple[str, ...] = ()

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self.url = ""  # the API root, once started
        self._work = Path(tempfile.mkdtemp(prefix=f"sysmon-{self.job}-"))
        self._target: http.server.ThreadingHTTPServer | None = None
        self._prometheus: list[PrometheusProcess] = []  # filled by start(), for the finalizer
        self._client: Client | None = None
        self._finalizer = weakref.finalize(self, _clean_up, self._prometheus, self._work)

    def exposition(self) -> bytes:
        """The target's whole answer, the same at every scrape."""
        return EXPOSITION.encode()

    def start(self: _Scrape) -> _Scrape:
        """Serve the target, start Prometheus, and wait until it is ready and has scraped the
        target (at most a minute each).

        On failure everything started is stopped again. A scrape starts once: make a new one to
        start again (its directory and finalizer belong to its first Prometheus).
        """
        if self._prometheus or not self._finalizer.alive:
            raise DemoError(f"This {type(self).__name__} was started before: make a new one.")
        self._target = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), _handler(self.exposition(), self.content_type)
        )
        threading.Thread(target=self._target.serve_forever, daemon=True).start()
        config = (
            "global:\n"
            f"  scrape_interval: {self.interval:g}s\n"
            f"  scrape_timeout: {self.interval:g}s\n"
            "scrape_configs:\n"
            f"  - job_name: {self.job}\n"
            "    static_configs:\n"
            f"      - targets: ['127.0.0.1:{self._target.server_address[1]}']\n"
        )
        try:
            prometheus = launch(None, self._work, config=config, args=self.flags)
            self._prometheus.append(prometheus)
            self.url = prometheus.url
            ready = f"{self.url}/-/ready"
            prometheus.wait_until(
                lambda: http_body(ready) is not None, TIMEOUT, "Prometheus did not start"
            )
            self.wait_until_present(self.probe)
        except BaseException:
            self.close()
            raise
        return self

    @property
    def pid(self) -> int | None:
        """The live Prometheus' process id, once started."""
        return self._prometheus[0].pid if self._prometheus else None

    @property
    def directory(self) -> Path:
        """The temporary directory (config, TSDB, log), deleted by :meth:`close`."""
        return self._work

    @property
    def client(self) -> Client:
        """A :class:`~sysmon_magic.Client` of the live Prometheus (its "now" is the wall clock)."""
        if self._client is None:
            self._running()
            from ..client import Client

            self._client = Client(self.url)
        return self._client

    def query(self, promql: str) -> pd.DataFrame:
        """An instant query now."""
        return self.client.query(promql)

    def stop_target(self) -> None:
        """Stop serving: from the next scrape on, Prometheus finds nobody at the target's port."""
        if self._target is not None:
            self._target.shutdown()
            self._target.server_close()
            self._target = None

    def wait_until_present(self, promql: str) -> float:
        """Seconds until an instant query now returns series (at most :data:`TIMEOUT`)."""
        return self._wait_until(lambda: not self.query(promql).empty, f"{promql} did not appear")

    def wait_until_gone(self, promql: str) -> float:
        """Seconds until an instant query now returns no series (at most :data:`TIMEOUT`)."""
        return self._wait_until(lambda: self.query(promql).empty, f"{promql} did not vanish")

    def _wait_until(self, condition: Callable[[], bool], failure: str) -> float:
        return self._running().wait_until(condition, TIMEOUT, failure, self.interval / 10)

    def _running(self) -> PrometheusProcess:
        if not self._prometheus:
            raise DemoError(f"Start the live scrape first: {type(self).__name__}().start().")
        return self._prometheus[0]

    def close(self) -> None:
        """Stop the target and Prometheus, and delete the temporary directory."""
        self.stop_target()
        if self._client is not None:
            self._client.close()
            self._client = None
        self._finalizer()

    def __enter__(self: _Scrape) -> _Scrape:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _clean_up(prometheus: list[PrometheusProcess], work: Path) -> None:
    """Stop Prometheus by its own pid (SIGTERM, then SIGKILL) and remove its directory."""
    for process in prometheus:
        process.terminate()
    shutil.rmtree(work, ignore_errors=True)
