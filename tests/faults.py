"""A server on a real loopback socket that misbehaves on demand, one planned answer per request.

Each request takes the next step of ``plan``; when the plan runs out it answers a good envelope:
a one-series vector to ``/query``, a matrix big enough for the byte-level fast path to
``/query_range``. Steps: an HTTP status with NHN's or an HTML body, ``429:<seconds>`` with
Retry-After, ``reset`` (headers, half the body, then the socket closed), ``slow:<seconds>``.

Bodies that end early although the transfer ends cleanly (half the good body, or its first
``<bytes>`` given as ``truncated:<bytes>``): ``truncated`` (Content-Length says the short length),
``chunked-cut`` (chunked, with its last chunk), ``close-cut`` (no length: read until the server
closes, as HTTP/1.0 does).
``badbyte:<hex>`` puts that byte (default ``ff``, not UTF-8) in the middle of the good body.
Compressed answers, sent whatever the client asked for, as a misbehaving server or proxy would:
``gzip`` (a good one), ``gzip-bad`` (plain JSON labelled gzip), ``gzip-cut`` (half the stream).
Good answers framed as Prometheus frames them: ``chunked``, ``gzip-chunked`` (2 KiB chunks);
``gzip-chunked-odd`` (chunks of 1 to 3,000 bytes, with chunk extensions and a trailer, as HTTP
allows), ``gzip-chunked-noend`` (the same, closed after the last chunk without the empty line
that ends the trailers, which http.client accepts). Chunked gzip that breaks its framing: ``gzip-chunked-cut`` (the connection closed in
the middle of a chunk), ``gzip-chunked-bad`` (a size line that is no hex number).

Answers that never end, or take forever: ``trickle:<seconds>`` (the good answer, a byte every
<seconds>), ``trickle-head:<seconds>`` (even its status line and headers a byte at a time),
``endless`` (a chunked body that never ends; ``gzip-endless``, the same labelled gzip, in 2 KiB
chunks of a stream that never ends), ``huge`` (a Content-Length of a terabyte),
``bomb:<MiB>`` (a small gzip body that inflates to <MiB> of zeros). ``early:<steps>`` answers a
range query with samples from <steps> steps before the window asked for (as a buggy engine).
"""

from __future__ import annotations

import functools
import gzip
import json
import random
import socket
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

GOOD: dict[str, object] = {
    "status": "success",
    "data": {
        "resultType": "vector",
        "result": [{"metric": {"instance": "a"}, "value": [1793923200, "42"]}],
    },
}
# Range answers: 120 series of 61 samples, a minute apart, ending at RANGE_END: about 160 KB of
# JSON, so frames_bytes reads it from the bytes, and half of it is still beyond its 64 KiB minimum.
RANGE_END = 1793923200
RANGE_SERIES = 120
RANGE: dict[str, object] = {
    "status": "success",
    "data": {
        "resultType": "matrix",
        "result": [
            {
                "metric": {"__name__": "up", "instance": f"host-{n:02d}:9100", "job": "node"},
                "values": [[RANGE_END - 3600 + 60 * i, f"{n + i / 100:g}"] for i in range(61)],
            }
            for n in range(RANGE_SERIES)
        ],
    },
}
HTML_502 = b"<html><head><title>502 Bad Gateway</title></head><body><h1>502</h1>nginx</body></html>"


@contextmanager
def serving(httpd: ThreadingHTTPServer) -> Iterator[ThreadingHTTPServer]:
    """Serve in a thread for the duration of a ``with`` block, then close the socket."""
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()


def nhn(code: int, message: str) -> bytes:
    return json.dumps(
        {"header": {"isSuccessful": False, "resultCode": code, "resultMessage": message}}
    ).encode()


class FaultServer:
    """Serve ``plan`` steps, then good answers; ``requests`` counts what arrived."""

    def __init__(self) -> None:
        self.plan: list[str] = []
        self.requests = 0
        self.connections = 0  # TCP connections accepted: a client keeps one for its requests
        #: The X-TC-APP-KEY header of each request, as it arrived.
        self.appkeys: list[str | None] = []
        self.good: dict[str, object] = GOOD
        #: The good answer to /query_range (a test may put a larger one here, or its bytes).
        self.range: dict[str, object] | bytes = RANGE
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:  # once a connection
                super().setup()
                server.connections += 1

            def do_GET(self) -> None:
                server.requests += 1
                server.appkeys.append(self.headers.get("X-TC-APP-KEY"))
                step = server.plan.pop(0) if server.plan else "ok"
                server.perform(self, step)

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.do_GET()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        # A client that gave up on a slow answer makes the write fail: expected here, not news.
        self.httpd.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @contextmanager
    def running(self) -> Iterator[FaultServer]:
        with serving(self.httpd):
            yield self

    def good_body(self, path: str) -> bytes:
        """The good answer to a request for ``path``, in Prometheus' compact layout."""
        if "/query_range" in path and isinstance(self.range, bytes):
            return self.range
        answer = self.range if "/query_range" in path else self.good
        return json.dumps(answer, separators=(",", ":")).encode()

    def perform(self, handler: BaseHTTPRequestHandler, step: str) -> None:
        kind, _, argument = step.partition(":")
        good = self.good_body(handler.path)
        # The cut bodies: the first <argument> bytes of the good one, or half of it.
        cut = kind in ("truncated", "chunked-cut", "close-cut")
        short = good[: int(argument) if cut and argument else len(good) // 2]
        if kind == "ok":
            self.send(handler, 200, good)
        elif kind == "html":
            self.send(handler, 502, HTML_502, "text/html")
        elif kind in ("401", "403"):
            self.send(handler, int(kind), nhn(-int(kind), "appkey rejected"))
        elif kind == "429":
            self.send(handler, 429, b"Too Many Requests", "text/plain", {"Retry-After": argument})
        elif kind == "reset":
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(good)))
            handler.end_headers()
            handler.wfile.write(good[: len(good) // 2])
            handler.wfile.flush()
            # SO_LINGER 0: close with a RST, as a crashing proxy would.
            handler.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
            handler.connection.close()
            handler.close_connection = True
        elif kind == "slow":
            time.sleep(float(argument))
            self.send(handler, 200, good)
        elif kind == "truncated":
            self.send(handler, 200, short)
        elif kind == "chunked-cut":
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Transfer-Encoding", "chunked")
            handler.end_headers()
            for at in range(0, len(short), 4096):
                chunk = short[at : at + 4096]
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            handler.wfile.write(b"0\r\n\r\n")  # the last chunk: the transfer itself is whole
        elif kind == "close-cut":
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Connection", "close")
            handler.end_headers()
            handler.wfile.write(short)
            handler.close_connection = True  # the end of the body is the end of the connection
        elif kind == "badbyte":
            middle = len(good) // 2
            bad = bytes.fromhex(argument or "ff")
            self.send(handler, 200, good[:middle] + bad + good[middle + 1 :])
        elif kind == "gzip":
            self.send(handler, 200, gzip.compress(good), headers={"Content-Encoding": "gzip"})
        elif kind in ("chunked", "gzip-chunked"):
            # As Prometheus sends answers: chunked; gzipped ones in 2 KiB chunks.
            body, size = (gzip.compress(good), 2048) if kind == "gzip-chunked" else (good, 65536)
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            if kind == "gzip-chunked":
                handler.send_header("Content-Encoding", "gzip")
            handler.send_header("Transfer-Encoding", "chunked")
            handler.end_headers()
            for at in range(0, len(body), size):
                chunk = body[at : at + size]
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            handler.wfile.write(b"0\r\n\r\n")
        elif kind in (
            "gzip-chunked-odd",
            "gzip-chunked-cut",
            "gzip-chunked-bad",
            "gzip-chunked-noend",
        ):
            packed = gzip.compress(good)
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Encoding", "gzip")
            handler.send_header("Transfer-Encoding", "chunked")
            handler.end_headers()
            at, size = 0, 1
            while at < len(packed):
                chunk = packed[at : at + size]
                if kind == "gzip-chunked-cut" and at > len(packed) // 2:
                    handler.wfile.write(b"%x\r\n%s" % (len(chunk), chunk[: len(chunk) // 2]))
                    handler.close_connection = True
                    return
                if kind == "gzip-chunked-bad" and at > len(packed) // 2:
                    handler.wfile.write(b"zz\r\n%s\r\n" % chunk)
                    handler.close_connection = True
                    return
                handler.wfile.write(b"%x;n=%d\r\n%s\r\n" % (len(chunk), at, chunk))
                at, size = at + len(chunk), size * 7 % 3001 + 1
            if kind == "gzip-chunked-noend":  # closed before the empty line after the last chunk
                handler.wfile.write(b"0\r\n")
                handler.close_connection = True
                return
            handler.wfile.write(b"0\r\nX-Checksum: none\r\n\r\n")
        elif kind == "gzip-endless":
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Encoding", "gzip")
            handler.send_header("Transfer-Encoding", "chunked")
            handler.end_headers()
            stream, noise = zlib.compressobj(wbits=31), random.Random(0)
            with _until_the_client_leaves():
                while True:  # 2 KiB that do not compress, a chunk each
                    chunk = stream.compress(noise.randbytes(2048)) + stream.flush(zlib.Z_SYNC_FLUSH)
                    handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        elif kind == "gzip-bad":
            self.send(handler, 200, good, headers={"Content-Encoding": "gzip"})
        elif kind == "gzip-cut":
            packed = gzip.compress(good)
            self.send(
                handler, 200, packed[: len(packed) // 2], headers={"Content-Encoding": "gzip"}
            )
        elif kind == "trickle":
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(good)))
            handler.end_headers()
            self.trickle(handler, good, float(argument or 1))
        elif kind == "trickle-head":
            # The whole answer, status line and headers too, a byte at a time.
            handler.close_connection = True
            self.trickle(handler, _response_bytes(200, good), float(argument or 1))
        elif kind == "endless":
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Transfer-Encoding", "chunked")
            handler.end_headers()
            chunk = b"[" * 65536
            with _until_the_client_leaves():
                while True:
                    handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        elif kind == "huge":
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(10**12))
            handler.end_headers()
            with _until_the_client_leaves():
                handler.wfile.write(good)
                time.sleep(30)
        elif kind == "bomb":
            packed = _zeros_gzip(int(argument or 64))
            self.send(handler, 200, packed, headers={"Content-Encoding": "gzip"})
        elif kind == "early":
            self.send(handler, 200, _early_matrix(handler.path, int(argument or 10)))
        elif kind == "500":
            body = {"status": "error", "errorType": "internal", "error": "storage failure"}
            self.send(handler, 500, json.dumps(body).encode())
        else:  # a bare status: 413, 502, 503, 504 as a gateway answers them
            self.send(handler, int(kind), f"{kind} {step}".encode(), "text/plain")

    @staticmethod
    def trickle(handler: BaseHTTPRequestHandler, data: bytes, every: float) -> None:
        """Write ``data`` a byte at a time, until it is all sent or the client has gone."""
        handler.close_connection = True
        with _until_the_client_leaves():
            for byte in data:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
                time.sleep(every)

    @staticmethod
    def send(
        handler: BaseHTTPRequestHandler,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)


class FailingWindowProxy:
    """Forward to an upstream API root, but answer 503 to range queries starting at ``fail_start``.

    A real proxy on a loopback socket, to fail exactly one window of a split range query.
    """

    def __init__(self, upstream: str, fail_start: str) -> None:
        from urllib.parse import parse_qs, urlsplit
        from urllib.request import urlopen

        proxy = self
        self.failed = 0

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                if query.get("start") == [fail_start]:
                    proxy.failed += 1
                    FaultServer.send(self, 503, b"503 Service Unavailable", "text/plain")
                    return
                with urlopen(upstream + self.path, timeout=60) as answer:
                    FaultServer.send(self, answer.status, answer.read())

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @contextmanager
    def running(self) -> Iterator[FailingWindowProxy]:
        with serving(self.httpd):
            yield self


@contextmanager
def _until_the_client_leaves() -> Iterator[None]:
    """Write until the client closes the connection (a write then fails): how these end."""
    with suppress(BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
        yield


def _response_bytes(status: int, body: bytes) -> bytes:
    """A whole HTTP/1.1 answer as bytes: status line, headers and body."""
    head = (
        f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


@functools.cache
def _zeros_gzip(mebibytes: int) -> bytes:
    return gzip.compress(b"0" * (mebibytes << 20), compresslevel=9)


def _early_matrix(path: str, steps: int) -> bytes:
    """A range answer whose samples start ``steps`` steps before the ``start`` asked for."""
    query = parse_qs(urlsplit(path).query)
    start, end, step = (float(query[name][0]) for name in ("start", "end", "step"))
    count = round((end - start) / step) + 1 + steps
    values = [[start + (i - steps) * step, f"{i}"] for i in range(count)]
    answer = {
        "status": "success",
        "data": {"resultType": "matrix", "result": [{"metric": {"i": "a"}, "values": values}]},
    }
    return json.dumps(answer, separators=(",", ":")).encode()
