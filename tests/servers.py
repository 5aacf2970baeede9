"""VictoriaMetrics for the compatibility tests: started on a free loopback port, loaded with the
last day of the demo data, stopped by its own PID."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from sysmon_magic.demo import data

VICTORIA_METRICS = "/usr/bin/victoria-metrics"
#: The compatibility tests load this window of the demo data (the last day).
VM_START = data.DEMO_END - 86400


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _import_lines() -> Iterator[bytes]:
    for labels, timestamps, values in data.iter_series():
        keep = timestamps >= VM_START
        if keep.any():
            record = {
                "metric": labels,
                "values": values[keep].tolist(),
                "timestamps": (timestamps[keep] * 1000).tolist(),  # VictoriaMetrics: milliseconds
            }
            yield json.dumps(record).encode() + b"\n"


@contextmanager
def victoria_metrics() -> Iterator[str]:
    """Run VictoriaMetrics with the demo's last day; yield its API root (the part before /api/v1)."""
    if not Path(VICTORIA_METRICS).exists():
        raise RuntimeError("victoria-metrics is not installed: apt-get install victoria-metrics")
    storage = Path(tempfile.mkdtemp(prefix="sysmon-vm-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            VICTORIA_METRICS,
            f"-httpListenAddr=127.0.0.1:{port}",
            f"-storageDataPath={storage}",
            "-retentionPeriod=100y",  # fixed-date data from the past must not be dropped
            "-search.disableCache",
            "-search.latencyOffset=0s",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(storage / "log.txt").open("wb"),
    )
    try:
        _wait_ready(url, process)
        answer = requests.post(f"{url}/api/v1/import", data=b"".join(_import_lines()), timeout=120)
        answer.raise_for_status()
        requests.get(f"{url}/internal/force_flush", timeout=60).raise_for_status()
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(storage, ignore_errors=True)


def _wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"victoria-metrics exited with {process.returncode}")
        try:
            if requests.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise RuntimeError("victoria-metrics did not become ready within 30 s")
