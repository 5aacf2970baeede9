"""An NHN Cloud-style API gateway in front of a real Prometheus, for tests and the demo.

It behaves as the service's documented edge does: it requires ``X-TC-APP-KEY`` and answers 401
(missing or unknown appkey) or 403 (appkey of a project without access) with NHN's
``{"header": {"isSuccessful": false, ...}}`` body, serves only the documented endpoints and
methods under ``/prometheus``, and forwards the rest to the upstream Prometheus without the key.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import re
import threading
from collections import deque
from collections.abc import Collection
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

__all__ = ["Gateway"]

APPKEY_HEADER = "X-TC-APP-KEY"
#: How many requests :attr:`Gateway.requests` keeps.
REQUEST_LOG_SIZE = 1000

# The service's documented endpoints and methods (API guide, "사용 가능한 endpoint").
_ROUTES: tuple[tuple[re.Pattern[str], frozenset[str]], ...] = (
    (
        re.compile(r"^/prometheus/api/v1/(query|query_range|series|labels)$"),
        frozenset({"GET", "POST"}),
    ),
    (re.compile(r"^/prometheus/api/v1/label/[A-Za-z_][A-Za-z0-9_]*/values$"), frozenset({"GET"})),
    (re.compile(r"^/prometheus/api/v1/metadata$"), frozenset({"GET"})),
)
# Hop-by-hop headers are the gateway's own business, never forwarded.
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}


def _nhn_error(code: int, message: str) -> bytes:
    body = {"header": {"isSuccessful": False, "resultCode": code, "resultMessage": message}}
    return json.dumps(body).encode()


class Gateway:
    """A gateway on a free 127.0.0.1 port; ``url`` is the base URL a region would have.

    ``upstream`` is the upstream Prometheus's API root (``http://127.0.0.1:9090/prometheus``).
    ``appkeys`` are accepted; ``forbidden`` appkeys are known but see 403.
    """

    def __init__(
        self,
        upstream: str,
        appkeys: Collection[str],
        forbidden: Collection[str] = (),
        *,
        port: int = 0,
    ) -> None:
        parts = urlsplit(upstream.rstrip("/"))
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"The gateway forwards to http://host:port/path, not {upstream!r}.")
        self._upstream_host = parts.hostname
        self._upstream_port = parts.port or 80
        self._upstream_path = parts.path
        # Digests, not the keys: vars(gateway) and a debugger show nothing to copy.
        self._appkeys = frozenset(map(_digest, appkeys))
        self._forbidden = frozenset(map(_digest, forbidden))
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None
        #: (method, path) of the latest requests, without query strings or headers, for tests to
        #: read; bounded, as a gateway left running for a day must not grow without end.
        self.requests: deque[tuple[str, str]] = deque(maxlen=REQUEST_LOG_SIZE)

    @property
    def url(self) -> str:
        """The gateway's base URL, as a region's (the API root is ``url + "/prometheus"``)."""
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}"

    def start(self) -> Gateway:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Gateway:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"Gateway({self.url!r})"

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                gateway._handle(self)

            def do_POST(self) -> None:
                gateway._handle(self)

            def do_PUT(self) -> None:
                gateway._handle(self)

            def do_DELETE(self) -> None:
                gateway._handle(self)

            def log_message(self, format: str, *args: object) -> None:
                pass  # quiet: request lines would clutter test output

        return Handler

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        path, _, query = request.path.partition("?")
        self.requests.append((request.command, path))
        appkey = request.headers.get(APPKEY_HEADER)
        digest = _digest(appkey) if appkey else ""
        if digest not in self._appkeys and digest not in self._forbidden:
            self._send(request, 401, _nhn_error(-1, "Unauthorized: invalid appkey"))
            return
        if digest in self._forbidden:
            self._send(request, 403, _nhn_error(-2, "Forbidden: no permission for this project"))
            return
        methods = next((m for pattern, m in _ROUTES if pattern.match(path)), None)
        if methods is None:
            self._send(request, 404, _nhn_error(-404, "Not found"))
            return
        if request.command not in methods:
            self._send(request, 405, _nhn_error(-405, "Method not allowed"))
            return
        self._forward(request, path, query, body)

    def _forward(self, request: BaseHTTPRequestHandler, path: str, query: str, body: bytes) -> None:
        upstream_path = self._upstream_path + path.removeprefix("/prometheus")
        if query:
            upstream_path += "?" + query
        headers = {
            name: value
            for name, value in request.headers.items()
            if name.lower() not in _HOP_BY_HOP
            and name.lower() not in ("host", APPKEY_HEADER.lower())
        }
        connection = http.client.HTTPConnection(
            self._upstream_host, self._upstream_port, timeout=300
        )
        try:
            connection.request(request.command, upstream_path, body=body or None, headers=headers)
            response = connection.getresponse()
            payload = response.read()
        except OSError:
            self._send(request, 502, _nhn_error(-502, "Bad gateway"))
            return
        finally:
            connection.close()
        passed = {
            name: value
            for name, value in response.getheaders()
            if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length"
        }
        self._send(request, response.status, payload, passed)

    @staticmethod
    def _send(
        request: BaseHTTPRequestHandler,
        status: int,
        body: bytes,
        headers: dict[str, str] | None = None,
    ) -> None:
        request.send_response(status)
        for name, value in (headers or {"Content-Type": "application/json"}).items():
            request.send_header(name, value)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)


def main(argv: list[str] | None = None) -> int:
    """``python -m sysmon_magic.demo.gateway --upstream URL``: run a gateway in the foreground."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--upstream", required=True, help="upstream API root, e.g. http://127.0.0.1:9090/prometheus"
    )
    parser.add_argument(
        "--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)"
    )
    parser.add_argument(
        "--appkey-env", default="SYSMON_APPKEY", help="variable holding the accepted appkey"
    )
    args = parser.parse_args(argv)
    appkey = os.environ.get(args.appkey_env)
    if not appkey:
        parser.error(f"set ${args.appkey_env} to the appkey the gateway should accept")
    gateway = Gateway(args.upstream, [appkey], port=args.port)
    print(f"NHN-style gateway on {gateway.url} -> {args.upstream}", flush=True)
    try:
        gateway._server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        gateway.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


def _digest(appkey: str) -> str:
    return hashlib.sha256(appkey.encode("utf-8", "surrogateescape")).hexdigest()
