"""The client with the server taken away: a split range, and one answer end to end (issue 12 §2).

A server in a process of its own holds Prometheus ``query_range`` answers in memory, built before
anything is timed (100 series x up to 11,001 points, ~24 MB of compact JSON a window, written
as Prometheus writes it), waits a set latency after reading a request, then writes the whole
answer with one ``sendall``. Serving costs it almost no CPU, so every second measured is the
client's; the script prints the server's CPU time (from /proc) to show it. The answer's framing
is chosen per URL, each as measured from Prometheus 2.42 on this machine:

* ``Content-Length``: the plain baseline;
* ``chunked``: what Prometheus sends an uncompressed answer as: one chunk of the whole body;
* ``gzip``: what it sends when the client asks for gzip (as it does from a distant region):
  the compressed body in 2 KiB chunks.

1. **Split range**: ``Client(url, max_parallel=4).query_range`` of 30 days at 60 s (4 windows:
   11,001 + 11,001 + 11,001 + 10,198 points), the server waiting 100 ms a request, against the
   same with ``max_parallel=1`` (one window after another), in turns; target: <= 0.40 of it.
   Then Content-Length again with the pool of buffers keeping nothing (``sysmon_magic/buffers.py``:
   every body and window's arrays in fresh memory), to show what keeping them gains.
   Beside it: the client's CPU time (and how much of it the kernel's), the server's, and the
   parts of the query measured alone (a window's transfer, the 4 reads of the answers into
   arrays, their merge and the frame built from it),
   which bound what any transport can gain.
2. **One window end to end**: ``client.query_range`` of one 11,001-point window with no latency,
   against the sum of its parts each measured alone in the same run: the raw transfer (one GET
   on a socket, read into a preallocated buffer of the Content-Length) and the conversion
   (``frames_bytes.frame_from_body``); target: <= 1.15 of the sum. Then whether two conversions
   overlap in two threads (the C reader of samples lets go of the GIL; finding the series and
   building the frame hold it): that decides whether windows' conversions share two cores.
3. **Real Prometheus**: ``benchmarks/long_range.py``, the same split range from a Prometheus
   backfilled with a month, is run at the end (``--no-prometheus`` skips it).

Every figure is the median of a few runs after a warm-up; the figure and its baseline run in
turns, so that a busy machine slows both alike. Everything listens on 127.0.0.1, on free ports;
the server is stopped by its PID at the end, on Ctrl-C and on errors too.

    python benchmarks/transport.py [--runs 7] [--no-prometheus]
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import math
import multiprocessing
import os
import platform
import re
import resource
import signal
import socket
import statistics
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import numpy as np
import pandas as pd
import requests
import urllib3

from sysmon_magic import Client, bodies, buffers, frames, frames_bytes
from sysmon_magic.frames import concat_runs, frame_from_runs
from sysmon_magic.frames_bytes import frame_from_body, runs_from_body
from sysmon_magic.timeparse import split_range

SERIES = 100
STEP = 60
END = 1_793_923_200  # 2026-11-06T00:00:00Z
START = END - 30 * 86400  # 43,201 points: 4 windows
LATENCY_MS = 100
QUERY = "node_cpu_seconds_total"
MODES = ("user", "system", "iowait", "idle")
MAX_POINTS = 11_001  # per series, as Prometheus allows ((end - start) / step <= 11,000)
# Prometheus 2.42 writes a gzip answer through a 2 KiB buffer, each flush one chunk (measured).
GZIP_CHUNK = 2048
FRAMINGS = {
    "length": "Content-Length",
    "chunked": "chunked, 1 chunk (Prometheus)",
    "gzip": "gzip, 2 KiB chunks (Prometheus)",
}
Window = tuple[float, float]
WIDTH = 42  # of the first column


# --- the server (in its own process) -------------------------------------------------------------


def number(seconds: float) -> str:
    """A timestamp as Prometheus writes it: whole seconds bare, else up to 3 decimals."""
    if seconds == int(seconds):
        return str(int(seconds))
    return f"{seconds:.3f}".rstrip("0")


def matrix_body(start: float, end: float, step: float) -> bytes:
    """A query_range answer in Prometheus' compact layout: node_cpu_seconds_total-like counters.

    In the style of benchmarks/conversion.py: counters with two decimals (a few hundred CPU
    seconds, so that a window is the ~24 MB that Prometheus sent for the month of long_range.py),
    five labels a series. Values are written as Go's ``strconv.FormatFloat(v, 'f', -1, 64)``
    does (``100``, not ``100.0``).
    """
    points = math.floor((end - start) / step + 1e-9) + 1
    rng = np.random.default_rng(int(start))
    stamps = [f"[{number(start + k * step)}," for k in range(points)]
    result = []
    for i in range(SERIES):
        counter = rng.uniform(100, 500) + np.cumsum(rng.uniform(0, 0.06, points))
        values = np.round(counter, 2).tolist()
        metric = json.dumps(
            {
                "__name__": QUERY,
                "cpu": str(i % 8),
                "instance": f"host-{i // 32:02d}:9100",
                "job": "node",
                "mode": MODES[i // 8 % 4],
            },
            separators=(",", ":"),
        )
        samples = ",".join(
            [f'{s}"{v!r}"]'.replace('.0"]', '"]') for s, v in zip(stamps, values, strict=True)]
        )
        result.append(f'{{"metric":{metric},"values":[{samples}]}}')
    text = '{"status":"success","data":{"resultType":"matrix","result":[' + ",".join(result)
    return (text + "]}}").encode()


def http_response(body: bytes, framing: str, status: str = "200 OK") -> bytes:
    """Status line, headers and body as one buffer, written with one sendall."""
    head = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
    if framing in ("length", "gzip-length"):
        if framing == "gzip-length":
            head += "Content-Encoding: gzip\r\n"
        return f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body
    size = len(body) if framing == "chunked" else GZIP_CHUNK
    if framing == "gzip":
        head += "Content-Encoding: gzip\r\n"
    chunks = [
        b"%x\r\n%b\r\n" % (len(body[at : at + size]), body[at : at + size])
        for at in range(0, len(body), size)
    ]
    return f"{head}Transfer-Encoding: chunked\r\n\r\n".encode() + b"".join(chunks) + b"0\r\n\r\n"


class Answers:
    """Every answer the server gives, built once (those of the windows it is told of, at start)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bodies: dict[tuple[Window, float], bytes] = {}
        self._responses: dict[tuple[Window, float, str], bytes] = {}

    def response(self, window: Window, step: float, framing: str) -> bytes:
        with self._lock:  # a window not built at start is built once, whoever asks first
            key = (window, step, framing)
            if key not in self._responses:
                body = self._bodies.get((window, step)) or matrix_body(*window, step)
                self._bodies[window, step] = body
                if framing.startswith("gzip"):
                    # Level 6 is Go's and Prometheus' default; the size is what a distant
                    # region's client receives.
                    body = gzip.compress(body, compresslevel=6, mtime=0)
                self._responses[key] = http_response(body, framing)
            return self._responses[key]

    def sizes(self, step: float) -> list[int]:
        return [len(body) for (_, s), body in self._bodies.items() if s == step]


def error_response(status: str, error_type: str, error: str) -> bytes:
    envelope = {"status": "error", "errorType": error_type, "error": error}
    return http_response(json.dumps(envelope).encode(), "length", status)


def answer(answers: Answers, method: str, target: str, form: bytes, accept: str) -> bytes:
    """The answer to one request for ``/<latency ms>/<framing>/api/v1/query_range``."""
    url = urlsplit(target)
    found = re.fullmatch(r"/(\d+)/([a-z-]+)/api/v1/query_range", url.path)
    if not found or found[2] not in (*FRAMINGS, "gzip-length"):
        return error_response("404 Not Found", "not_found", f"no such path: {url.path}")
    latency, framing = int(found[1]) / 1000, found[2]
    params = parse_qs(url.query if method == "GET" else form.decode("ascii"))
    time.sleep(latency)  # a distant region, as seen from a notebook: no CPU spent
    try:
        start, end, step = (float(params[name][0]) for name in ("start", "end", "step"))
    except (KeyError, ValueError):
        return error_response("400 Bad Request", "bad_data", "start, end and step are needed")
    if (end - start) / step > MAX_POINTS - 1:
        return error_response(
            "400 Bad Request",
            "bad_data",
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the "
            "query resolution (?step=XX)",
        )
    if framing == "gzip" and "gzip" not in accept:
        framing = "chunked"  # what Prometheus does for a client that does not ask for gzip
    return answers.response((start, end), step, framing)


def handle(connection: socket.socket, answers: Answers) -> None:
    """Answer the requests of one (keep-alive) connection."""
    with connection, contextlib.suppress(ConnectionError):  # a client that hung up is gone
        pending = b""
        while True:
            while b"\r\n\r\n" not in pending:
                data = connection.recv(65536)
                if not data:
                    return
                pending += data
            head, _, pending = pending.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {
                name.strip().lower(): value.strip()
                for name, _, value in (line.partition(":") for line in lines[1:])
            }
            length = int(headers.get("content-length", "0"))  # a POST's form
            while len(pending) < length:
                pending += connection.recv(65536)
            form, pending = pending[:length], pending[length:]
            reply = answer(answers, method, target, form, headers.get("accept-encoding", ""))
            connection.sendall(reply)
            if headers.get("connection", "").lower() == "close":
                return


def serve(windows: Sequence[Window], step: float, ready: Any, parent: int) -> None:
    """Build the windows' answers, report the port, and serve until stopped (in its own process)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it stops us by PID
    started = time.perf_counter()
    answers = Answers()
    for window in windows:
        for framing in (*FRAMINGS, "gzip-length"):
            answers.response(window, step, framing)
    listener = socket.create_server(("127.0.0.1", 0), backlog=64)
    ready.put((listener.getsockname()[1], answers.sizes(step), time.perf_counter() - started))

    def orphaned() -> None:  # a parent killed outright cannot stop us: end with it
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=orphaned, daemon=True).start()
    while True:
        connection, _ = listener.accept()
        threading.Thread(target=handle, args=(connection, answers), daemon=True).start()


@dataclass(frozen=True)
class Server:
    port: int
    pid: int
    sizes: list[int]
    build_seconds: float

    def url(self, latency_ms: int, framing: str) -> str:
        return f"http://127.0.0.1:{self.port}/{latency_ms}/{framing}"


@contextlib.contextmanager
def zero_cpu_server(windows: Sequence[Window], step: float) -> Iterator[Server]:
    """The server in a process of its own (its sends must not take the client's GIL or core)."""
    context = multiprocessing.get_context("spawn")
    ready: Any = context.Queue()
    process = context.Process(target=serve, args=(windows, step, ready, os.getpid()), daemon=True)
    process.start()
    try:
        assert process.pid is not None
        port, sizes, seconds = ready.get(timeout=300)
        yield Server(port, process.pid, sizes, seconds)
    finally:
        if process.pid is not None and process.is_alive():
            os.kill(process.pid, signal.SIGTERM)
            process.join(10)
            if process.is_alive():
                os.kill(process.pid, signal.SIGKILL)
                process.join()


# --- measuring ------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, all its threads (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Runs:
    """Wall and CPU seconds of the runs of one call."""

    wall: list[float]
    cpu: list[float]  # this process, all threads: the client's cost
    system: list[float]  # of which in the kernel: copies from sockets, faulting in fresh memory
    server_cpu: float = 0.0  # all runs together: /proc counts in ticks of 10 ms

    @property
    def median(self) -> float:
        return statistics.median(self.wall)

    @property
    def median_cpu(self) -> float:
        return statistics.median(self.cpu)

    @property
    def median_system(self) -> float:
        return statistics.median(self.system)


def in_turns(runs: int, server: Server, *calls: Callable[[], object]) -> list[Runs]:
    """Time each call ``runs`` times, the calls in turn, after one warm-up of each."""
    for call in calls:
        call()
    spent = [Runs([], [], []) for _ in calls]
    for _ in range(runs):
        for times, call in zip(spent, calls, strict=True):
            server_cpu = cpu_seconds(server.pid)
            system = resource.getrusage(resource.RUSAGE_SELF).ru_stime
            wall, cpu = time.perf_counter(), time.process_time()
            call()
            times.wall.append(time.perf_counter() - wall)
            times.cpu.append(time.process_time() - cpu)
            times.system.append(resource.getrusage(resource.RUSAGE_SELF).ru_stime - system)
            times.server_cpu += cpu_seconds(server.pid) - server_cpu
    for times in spent:
        times.server_cpu /= runs
    return spent


def raw_get(port: int, path: str, encoding: str = "identity") -> bytearray:
    """The least a client can do: one GET, the body read into a buffer of its Content-Length.

    The buffer is new for each answer, as any client's must be: fresh memory costs page faults,
    a real part of a body's cost here (~2-3 us a 4 KiB page, more with threads faulting at once).
    """
    with socket.create_connection(("127.0.0.1", port)) as sock:
        request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: {encoding}\r\n"
        sock.sendall(f"{request}Connection: close\r\n\r\n".encode())
        pending = b""
        while b"\r\n\r\n" not in pending:
            pending += sock.recv(65536)
        head, _, rest = pending.partition(b"\r\n\r\n")
        found = re.search(rb"\r\ncontent-length: *(\d+)", head, re.IGNORECASE)
        assert found, head
        body = bytearray(int(found[1]))
        view = memoryview(body)
        view[: len(rest)] = rest
        got = len(rest)
        while got < len(body):
            read = sock.recv_into(view[got:])
            if not read:
                raise ConnectionError(f"the server closed after {got} of {len(body)} bytes")
            got += read
    return body


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:5.0f}ms"


def window_path(latency_ms: int, framing: str, window: Window) -> str:
    params = {"query": QUERY, "start": number(window[0]), "end": number(window[1]), "step": STEP}
    return f"/{latency_ms}/{framing}/api/v1/query_range?{urlencode(params)}"


def points(window: Window) -> int:
    return math.floor((window[1] - window[0]) / STEP + 1e-9) + 1


def check(frame: pd.DataFrame, windows: Sequence[Window]) -> None:
    """What is timed must be right: every series, every point once."""
    expected = SERIES * sum(points(w) for w in windows)
    assert len(frame) == expected, (len(frame), expected)
    assert not frame.duplicated(["timestamp", "instance", "cpu", "mode"]).any()


def split_range_figures(server: Server, windows: Sequence[Window], runs: int) -> None:
    cores = os.cpu_count() or 1
    latency = LATENCY_MS / 1000
    print(
        f"\n1. split range: 30 d at {STEP} s, {SERIES} series, {len(windows)} windows "
        f"({' + '.join(f'{points(w):,}' for w in windows)} points), the server waiting "
        f"{LATENCY_MS} ms a request"
    )
    print(f"   {'answers as':{WIDTH}} {'parallel':>8} {'1 by 1':>8} {'ratio':>5}  target")
    serial_median: dict[str, float] = {}
    # Last, as a baseline: the same without the pool of buffers, every body and window's
    # arrays in fresh memory (sysmon_magic/buffers.py).
    cases = [(framing, label, True) for framing, label in FRAMINGS.items()]
    cases.append(("length", "Content-Length, fresh memory (no pool)", False))
    for framing, label, pooled in cases:
        url, gzipped = server.url(LATENCY_MS, framing), framing == "gzip"
        with (
            kept_buffers(pooled),
            Client(url, max_parallel=4, compress=gzipped) as parallel,
            Client(url, max_parallel=1, compress=gzipped) as serial,
        ):
            check(parallel.query_range(QUERY, START, END, STEP), windows)
            fast, slow = in_turns(
                runs,
                server,
                lambda c=parallel: c.query_range(QUERY, START, END, STEP),  # type: ignore[misc]
                lambda c=serial: c.query_range(QUERY, START, END, STEP),  # type: ignore[misc]
            )
        serial_median.setdefault(framing, slow.median)
        print(
            f"   {label:{WIDTH}} {fast.median:7.2f}s {slow.median:7.2f}s "
            f"{fast.median / slow.median:5.2f}  <= 0.40 (baseline: max_parallel=1)"
        )
        # As in long_range.py: with the client's CPU spread over every core, plus one latency.
        bound = (fast.median_cpu + fast.server_cpu) / cores + latency
        print(
            f"   {'':4}CPU: client {fast.median_cpu:.2f} s ({fast.median_system:.2f} s of it in the "
            f"kernel), one by one {slow.median_cpu:.2f} s ({slow.median_system:.2f} s); server "
            f"{fast.server_cpu:.3f} s ({slow.server_cpu:.3f} s)"
        )
        print(
            f"   {'':4}bound: {LATENCY_MS} ms + CPU of both / {cores} cores = {bound:.2f} s, "
            f"{bound / slow.median:.2f} of one by one"
        )
    # The parts of a split query, each alone: what the client cannot avoid, whatever its
    # transport. The reads overlap in threads only where they let go of the GIL (see the GIL
    # figure below) and the merge starts after the last window: together they bound what
    # fetching in parallel can gain.
    paths = [window_path(0, "length", window) for window in windows]
    bodies = [bytes(raw_get(server.port, path)) for path in paths]
    parts = [found for body in bodies if (found := runs_from_body(body).runs) is not None]
    transfer, conversions, merge = in_turns(
        runs,
        server,
        lambda: raw_get(server.port, paths[0]),
        lambda: [runs_from_body(body) for body in bodies],
        lambda: merged_frame(parts),
    )
    # With a perfect transport: in parallel, one latency, then the reads as the windows arrive
    # (one after another, or spread over every core: their CPU time / cores); one by one,
    # every window's latency and transfer too.
    one_by_one = len(windows) * (latency + transfer.median) + conversions.median + merge.median
    print(
        f"   parts alone: a window's raw transfer {ms(transfer.median).strip()}, the "
        f"{len(windows)} reads into arrays {ms(conversions.median).strip()} (CPU "
        f"{ms(conversions.median_cpu).strip()}), their merge and the frame "
        f"(frames.concat_runs + frame_from_runs) {ms(merge.median).strip()}"
    )
    for how, reads in (
        ("reads one after another", conversions.median),
        (f"reads spread over {cores} cores", conversions.median_cpu / cores),
    ):
        floor = latency + transfer.median + reads + merge.median
        print(
            f"   perfect transport, {how}: {LATENCY_MS} ms + transfer + reads + merge = "
            f"{floor:.2f} s, one by one {one_by_one:.2f} s: {floor / one_by_one:.2f}"
        )
    print(f"   (measured one by one, Content-Length: {serial_median['length']:.2f} s)")


@contextlib.contextmanager
def kept_buffers(keep: bool) -> Iterator[None]:
    """The pool of buffers as it is (``keep``), or keeping nothing."""
    kept = buffers.POOL.keep_bytes
    buffers.POOL.keep_bytes = kept if keep else 0
    try:
        yield
    finally:
        buffers.POOL.keep_bytes = kept
        buffers.POOL.clear()


def merged_frame(parts: Sequence[frames.Runs]) -> pd.DataFrame:
    """What the client does once the windows are in: one merge, then the frame."""
    return frame_from_runs(concat_runs(parts), "tidy")


def one_window_figures(server: Server, window: Window, runs: int) -> bytes:
    """Figure 2; returns the body, for the GIL figure."""
    identity = window_path(0, "length", window)
    compressed = window_path(0, "gzip-length", window)
    body = bytes(raw_get(server.port, identity))
    packed = bytes(raw_get(server.port, compressed, "gzip"))
    print(
        f"\n2. one window end to end: {points(window):,} points x {SERIES} series, "
        f"{len(body) / 2**20:.1f} MiB ({len(packed) / 2**20:.1f} MiB gzipped), no latency"
    )
    clients = {
        framing: Client(server.url(0, framing), compress=framing == "gzip") for framing in FRAMINGS
    }
    for client in clients.values():
        check(client.query_range(QUERY, *window, STEP), [window])
    peer = requests.Session()
    with contextlib.ExitStack() as stack, peer:
        for client in clients.values():
            stack.enter_context(client)
        transfer, transfer_gz, gunzip, conversion, peer_read, *e2e = in_turns(
            runs,
            server,
            lambda: raw_get(server.port, identity),
            lambda: raw_get(server.port, compressed, "gzip"),
            # As the client inflates (ISA-L where installed, into a kept buffer), alone.
            lambda: buffers.POOL.give(bodies.gunzip(packed, 1 << 30)),  # type: ignore[arg-type]
            lambda: frame_from_body(body, "tidy"),
            # What a plain requests client pays to read the same answer (a peer, for reference).
            lambda: (
                peer.get(
                    f"http://127.0.0.1:{server.port}{identity}",
                    headers={"Accept-Encoding": "identity"},
                ).content
            ),
            *(
                lambda c=client: c.query_range(QUERY, *window, STEP)  # type: ignore[misc]
                for client in clients.values()
            ),
        )
    base = transfer.median + conversion.median
    base_gz = transfer_gz.median + gunzip.median + conversion.median
    print(f"   {'measure':{WIDTH}} {'median':>7} {'(CPU)':>7} {'baseline':>8} {'ratio':>5}  target")
    for label, figure in (
        ("raw transfer alone (socket, recv_into)", transfer),
        ("  the same, gzipped (Content-Length)", transfer_gz),
        (f"  gunzip alone (bodies.gunzip, {bodies.inflate.__name__})", gunzip),
        ("conversion alone (frame_from_body)", conversion),
        ("requests' .content alone (a peer)", peer_read),
    ):
        print(f"   {label:{WIDTH}} {ms(figure.median)} {ms(figure.median_cpu)}")
    for (framing, label), figure in zip(FRAMINGS.items(), e2e, strict=True):
        baseline = base_gz if framing == "gzip" else base
        parts = "transfer + gunzip + conversion" if framing == "gzip" else "transfer + conversion"
        print(
            f"   {'end to end, ' + label:{WIDTH}} {ms(figure.median)} {ms(figure.median_cpu)} "
            f"{ms(baseline):>8} {figure.median / baseline:5.2f}  <= 1.15 (baseline: {parts})"
        )
    print(f"   server CPU: {max(f.server_cpu for f in e2e) * 1e3:.0f} ms an end-to-end run at most")
    return body


def gil_figure(server: Server, body: bytes, runs: int) -> None:
    """Do two conversions in two threads overlap? That says whether windows' can, on 2 cores."""

    def two_threads() -> None:
        threads = [threading.Thread(target=frame_from_body, args=(body, "tidy")) for _ in "ab"]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def convert() -> None:
        frame_from_body(body, "tidy")

    print(
        "\n   do conversions overlap in threads? (1x one: fully, as on two cores; 2x: not at all)"
    )
    split = frames_bytes.PARALLEL_MIN_BYTES
    for label, limit in (
        ("each as a window alone (2 threads)", split),
        ("each as windows in parallel (1 thread)", 2**62),
    ):
        # The module's own threshold: above it a conversion splits its samples over 2 threads.
        frames_bytes.PARALLEL_MIN_BYTES = limit
        try:
            one, two = in_turns(runs, server, convert, two_threads)
        finally:
            frames_bytes.PARALLEL_MIN_BYTES = split
        print(
            f"   {'2 conversions in 2 threads, ' + label:{WIDTH}} {ms(two.median)} "
            f"{ms(two.median_cpu)} {ms(one.median):>8} {two.median / one.median:5.2f}  "
            f"(baseline: one conversion, CPU {ms(one.median_cpu).strip()})"
        )


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as info:
        cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    return (
        f"machine: {os.cpu_count()} CPUs ({cpu}), {platform.platform()}, "
        f"{platform.python_implementation()} {platform.python_version()}, requests "
        f"{requests.__version__}, urllib3 {urllib3.__version__}, pandas {pd.__version__}"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs of each figure")
    parser.add_argument(
        "--no-prometheus", action="store_true", help="skip benchmarks/long_range.py"
    )
    args = parser.parse_args(argv)
    windows = split_range(START, END, STEP)
    print(machine())
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    with zero_cpu_server(windows, STEP) as server:
        print(
            f"server: pid {server.pid}, port {server.port}; {len(windows)} answers of "
            f"{', '.join(f'{size / 2**20:.1f}' for size in server.sizes)} MiB built in "
            f"{server.build_seconds:.1f} s, before timing; medians of {args.runs} runs after a "
            "warm-up, figure and baseline in turns"
        )
        split_range_figures(server, windows, args.runs)
        body = one_window_figures(server, windows[0], args.runs)
        gil_figure(server, body, args.runs)
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if args.no_prometheus:
        print("\n3. real Prometheus: python benchmarks/long_range.py")
    else:
        import long_range  # benchmarks/ is on the path: this script's own folder

        print("\n3. real Prometheus, through a proxy adding 100 ms (benchmarks/long_range.py)")
        long_range.main()


if __name__ == "__main__":
    main()
