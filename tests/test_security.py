"""TLS verification, a CA bundle, --insecure, and an appkey typed into a cell.

A real HTTPS server on 127.0.0.1 with a self-signed certificate made by openssl for the test."""

from __future__ import annotations

import json
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from IPython.core.error import UsageError

from tests.conftest import CANARY_APPKEY, sysmon_magics
from tests.test_magics import assert_no_canary, run

ANSWER = json.dumps(
    {"status": "success", "data": {"resultType": "scalar", "result": [1793923200, "1"]}}
).encode()


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(ANSWER)))
        self.end_headers()
        self.wfile.write(ANSWER)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def https(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """An HTTPS API on 127.0.0.1 whose certificate no system CA trusts; yields (url, cert)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}", cert
    server.shutdown()
    server.server_close()


def test_tls_is_verified_by_default(shell, https, canary_env):
    url, _ = https
    with pytest.raises(UsageError, match=r"\(TLS certificate not trusted\)"):
        run(shell, f"sysmon_connect --url {url} --appkey-env SYSMON_APPKEY")


def test_a_ca_bundle_makes_a_private_ca_trusted(shell, https, canary_env, capsys):
    url, cert = https
    run(shell, f"sysmon_connect --url {url} --appkey-env SYSMON_APPKEY --ca-bundle {cert}")
    assert run(shell, "promql --instant 1")["value"].tolist() == [1.0]
    assert capsys.readouterr().err == ""
    with pytest.raises(UsageError, match=r"No CA bundle at /nope\.pem"):
        run(shell, f"sysmon_connect --url {url} --ca-bundle /nope.pem")


def test_insecure_works_but_warns(shell, https, canary_env, capsys):
    url, _ = https
    run(shell, f"sysmon_connect --url {url} --appkey-env SYSMON_APPKEY --insecure")
    run(shell, "promql --instant 1")
    err = capsys.readouterr().err
    assert err.startswith("Warning: TLS certificates are not verified (--insecure)")
    assert err.count("\n") == 1  # one warning, not one per request


def test_a_literal_appkey_works_but_warns(shell, gateway, capsys):
    sysmon_magics(shell).region_urls = {"kr1": gateway.url}
    run(shell, f"sysmon_connect kr1 --appkey {CANARY_APPKEY}")
    captured = capsys.readouterr()
    assert captured.err.startswith(
        "Warning: an appkey typed into a cell is saved with the notebook"
    )
    assert "with appkey ****4068" in captured.out
    assert_no_canary(captured.out, captured.err, run(shell, "sysmon_connect").to_string())
