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
"""

from __future__ import annotations

import http.server
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
import weakref
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from ..errors import DemoError
from .server import PROMETHEUS_ENV

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


class _Target(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = EXPOSITION.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # one line per scrape would flood the notebook


class LiveScrape:
    """A scrape target in this process and a private Prometheus scraping it every ``interval``."""

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self.url = ""  # the API root, once started
        self._work = Path(tempfile.mkdtemp(prefix="sysmon-live-"))
        self._target: http.server.ThreadingHTTPServer | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._client: Client | None = None
        self._finalizer = weakref.finalize(self, _clean_up, [None], self._work)

    def start(self) -> LiveScrape:
        """Serve the target, start Prometheus, and wait for its first scrape (at most a minute)."""
        prometheus = os.environ.get(PROMETHEUS_ENV) or shutil.which("prometheus")
        if not prometheus:
            raise DemoError(
                "The live scrape needs Prometheus: `sudo apt-get install prometheus` on "
                f"Debian/Ubuntu, or set {PROMETHEUS_ENV} to its path."
            )
        self._target = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Target)
        threading.Thread(target=self._target.serve_forever, daemon=True).start()
        target_port = self._target.server_address[1]
        port = _free_port()
        config = self._work / "prometheus.yml"
        config.write_text(
            "global:\n"
            f"  scrape_interval: {self.interval:g}s\n"
            f"  scrape_timeout: {self.interval:g}s\n"
            "scrape_configs:\n"
            f"  - job_name: {JOB}\n"
            "    static_configs:\n"
            f"      - targets: ['127.0.0.1:{target_port}']\n"
        )
        with open(self._work / "prometheus.log", "wb") as log:
            self._process = subprocess.Popen(
                [
                    prometheus,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={self._work / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._finalizer.detach()
        self._finalizer = weakref.finalize(self, _clean_up, [self._process], self._work)
        self.url = f"http://127.0.0.1:{port}"
        self._wait(lambda: _ready(self.url), "Prometheus did not start")
        self.wait_until_present(METRIC)
        return self

    @property
    def pid(self) -> int | None:
        """The live Prometheus' process id, once started."""
        return self._process.pid if self._process is not None else None

    @property
    def directory(self) -> Path:
        """The temporary directory (config, TSDB, log), deleted by :meth:`close`."""
        return self._work

    @property
    def client(self) -> Client:
        """A :class:`~sysmon_magic.Client` of the live Prometheus (its "now" is the wall clock)."""
        if self._client is None:
            if not self.url:
                raise DemoError("Start the live scrape first: LiveScrape().start().")
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
        return self._wait(lambda: not self.query(promql).empty, f"{promql} did not appear")

    def wait_until_gone(self, promql: str) -> float:
        """Seconds until an instant query now returns no series (at most :data:`TIMEOUT`)."""
        return self._wait(lambda: self.query(promql).empty, f"{promql} did not vanish")

    def _wait(self, condition: Callable[[], bool], failure: str) -> float:
        started = time.monotonic()
        while time.monotonic() - started < TIMEOUT:
            if self._process is not None and self._process.poll() is not None:
                log = (self._work / "prometheus.log").read_text(errors="replace")
                raise DemoError(f"Prometheus exited while starting: {log.strip()[-300:]}")
            if condition():
                return time.monotonic() - started
            time.sleep(self.interval / 10)
        raise DemoError(f"{failure} within {TIMEOUT:.0f} s.")

    def close(self) -> None:
        """Stop the target and Prometheus, and delete the temporary directory."""
        self.stop_target()
        if self._client is not None:
            self._client.close()
            self._client = None
        self._finalizer()

    def __enter__(self) -> LiveScrape:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _clean_up(processes: list[subprocess.Popen[bytes] | None], work: Path) -> None:
    """Stop Prometheus by its own pid (SIGTERM, then SIGKILL) and remove its directory."""
    for process in processes:
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    shutil.rmtree(work, ignore_errors=True)


def _ready(url: str) -> bool:
    # No proxy: the environment's HTTP proxy must not see a loopback request.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{url}/-/ready", timeout=1) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
