"""A server on a real loopback socket that misbehaves on demand, one planned answer per request.

Each request takes the next step of ``plan``; when the plan runs out it answers a good envelope.
Steps: an HTTP status with NHN's or an HTML body, ``429:<seconds>`` with Retry-After, ``reset``
(headers, half the body, then the socket closed), ``slow:<seconds>``, ``truncated`` JSON.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GOOD = {
    "status": "success",
    "data": {
        "resultType": "vector",
        "result": [{"metric": {"instance": "a"}, "value": [1793923200, "42"]}],
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
        self.good: dict[str, object] = GOOD
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                server.requests += 1
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
        self.httpd.handle_error = lambda request, address: None  # type: ignore[method-assign]
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @contextmanager
    def running(self) -> Iterator[FaultServer]:
        with serving(self.httpd):
            yield self

    def perform(self, handler: BaseHTTPRequestHandler, step: str) -> None:
        kind, _, argument = step.partition(":")
        good = json.dumps(self.good).encode()
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
            self.send(handler, 200, good[: len(good) // 2])
        elif kind == "500":
            body = {"status": "error", "errorType": "internal", "error": "storage failure"}
            self.send(handler, 500, json.dumps(body).encode())
        else:  # a bare status: 413, 502, 503, 504 as a gateway answers them
            self.send(handler, int(kind), f"{kind} {step}".encode(), "text/plain")

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
