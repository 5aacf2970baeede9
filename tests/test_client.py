"""The client's request funnel against a literal HTTP server on a real loopback socket: answers
that a healthy Prometheus never gives (warnings, gateway pages, redirects, NHN envelopes)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sysmon_magic import APIError, AuthError, Client, ResponseFormatError, SysmonUsageError
from sysmon_magic.client import mask_secret
from tests.faults import serving

SECRET = "literal-appkey-1234567890abcdef"


class Literal:
    """A server that answers every request with ``status``, ``headers`` and ``body``."""

    def __init__(self) -> None:
        self.status = 200
        self.headers: dict[str, str] = {"Content-Type": "application/json"}
        self.body = b""
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        literal = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                literal.seen.append((self.command, self.path, dict(self.headers)))
                self.send_response(literal.status)
                for name, value in literal.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(literal.body)))
                self.end_headers()
                self.wfile.write(literal.body)

            do_POST = do_GET

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    @contextmanager
    def running(self) -> Iterator[Literal]:
        """Serve in a thread for the duration of a ``with`` block."""
        with serving(self.server):
            yield self

    def answer(self, status: int, body: object, **headers: str) -> None:
        self.status = status
        self.body = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.headers = {"Content-Type": "application/json", **headers}


@pytest.fixture(scope="module")
def literal() -> Iterator[Literal]:
    with Literal().running() as server:
        yield server


@pytest.fixture
def client(literal: Literal) -> Iterator[Client]:
    with Client(literal.url, SECRET, now=1793923200.0) as c:
        yield c


def test_warnings_and_infos_reach_the_frame(client, literal):
    literal.answer(
        200,
        {
            "status": "success",
            "data": {"resultType": "vector", "result": []},
            "warnings": [f"partial response: one store down ({SECRET})"],
            "infos": ["PromQL info: metric might not be a counter"],
        },
    )
    frame = client.query("x")
    assert frame.attrs["promql"]["warnings"] == ["partial response: one store down (****)"]
    assert frame.attrs["promql"]["infos"] == ["PromQL info: metric might not be a counter"]


def test_the_appkey_travels_only_in_its_header(client, literal):
    literal.answer(200, {"status": "success", "data": []})
    client.labels()
    _, path, headers = literal.seen[-1]
    assert headers["X-TC-APP-KEY"] == SECRET
    assert SECRET not in path


def test_no_compression_asked_of_a_loopback_server_gzip_of_others(client, literal):
    literal.answer(200, {"status": "success", "data": []})
    client.labels()
    assert literal.seen[-1][2]["Accept-Encoding"] == "identity"
    assert Client("https://kr1-prometheus.api.nhncloudservice.com").compress
    assert not Client("http://localhost:9090").compress
    assert Client("http://127.0.0.1:9090", compress=True).compress  # a tunnel


def test_an_html_error_page_names_the_status_and_the_start_of_the_body(client, literal):
    page = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    literal.answer(502, page, **{"Content-Type": "text/html"})
    with pytest.raises(ResponseFormatError) as caught:
        client.query("x")
    message = str(caught.value)
    assert message.startswith(f"HTTP 502 from {client.host} is not a Prometheus answer")
    assert "<title>502 Bad Gateway</title>" in message
    assert caught.value.status == 502 and "\n" not in message


def test_a_json_body_that_is_not_an_envelope(client, literal):
    literal.answer(200, {"hello": "world"})
    with pytest.raises(ResponseFormatError, match="the part before /api/v1"):
        client.query("x")


@pytest.mark.parametrize(
    ("status", "words"), [(401, "appkey was rejected"), (403, "not accessible")]
)
def test_nhn_auth_envelopes(client, literal, status, words):
    literal.answer(
        status,
        {"header": {"isSuccessful": False, "resultCode": -1, "resultMessage": f"bad key {SECRET}"}},
    )
    with pytest.raises(AuthError, match=words) as caught:
        client.query("x")
    assert SECRET not in str(caught.value) and "bad key ****" in str(caught.value)


def test_a_redirect_to_another_host_is_refused_and_names_both(client, literal):
    literal.answer(302, b"", Location="https://elsewhere.example/prometheus/api/v1/query")
    with pytest.raises(
        APIError, match=r"127\.0\.0\.1:\d+ redirected the request to elsewhere\.example"
    ):
        client.query("x")


def test_the_appkey_is_never_in_a_repr():
    client = Client("https://kr1-api-sysmon.cloud.toast.com/prometheus", SECRET, name="kr1")
    assert SECRET not in repr(client) and "****cdef" in repr(client)
    assert SECRET[-5:] not in repr(client) + str(vars(client))


def test_credentials_in_a_url_are_refused_without_echoing_them():
    with pytest.raises(SysmonUsageError, match="Remove the user name and password") as caught:
        Client("https://me:hunter2@kr1-api-sysmon.cloud.toast.com/prometheus")
    assert "hunter2" not in str(caught.value)


def test_plain_http_with_a_key_only_to_loopback():
    Client("http://localhost:9090", SECRET)
    Client("http://[::1]:9090", SECRET)
    with pytest.raises(SysmonUsageError, match=r"plain http to 10\.0\.0\.5"):
        Client("http://10.0.0.5:9090", SECRET)
    Client("http://10.0.0.5:9090")  # no key, nothing to protect


def test_mask_secret():
    assert mask_secret(None) == "(none)"
    assert mask_secret("short") == "****"
    assert mask_secret(SECRET) == "****cdef"


def test_instant_results_come_in_label_order_unless_the_query_orders_them(client, literal):
    result = [
        {"metric": {"instance": name}, "value": [1793923200, value]}
        for name, value in (("c", "1"), ("a", "3"), ("b", "2"))
    ]
    literal.answer(200, {"status": "success", "data": {"resultType": "vector", "result": result}})
    assert client.query("x")["instance"].tolist() == ["a", "b", "c"]
    assert client.query("sort_desc(x)")["instance"].tolist() == ["c", "a", "b"]  # as sent


# -- bodies that are broken JSON, and bodies that are no JSON at all --------------------------

# Non-ASCII labels, escapes and special values: byte offsets and character offsets differ.
VARIED = json.dumps(
    {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [
                {
                    "metric": {"host": "서버-1", "note": 'a"b\u00e9\\', "emoji": "\U0001f600"},
                    "values": [
                        [1793923200, "NaN"],
                        [1793923260.5, "-1.5e-05"],
                        [1793923320, "+Inf"],
                    ],
                }
            ],
        },
        "warnings": ["partial", True, None, -1.25e10],
    },
    separators=(",", ":"),
    ensure_ascii=False,
).encode()


@pytest.mark.parametrize("endpoint", ["query", "query_range"])
def test_every_cut_of_an_answer_says_where_it_stops(client, literal, endpoint):
    ask = getattr(client, endpoint)
    args = ("x",) if endpoint == "query" else ("x", 1793923200, 1793923320, 60)
    for length in range(1, len(VARIED)):
        literal.answer(200, VARIED[:length])
        with pytest.raises(ResponseFormatError) as caught:
            ask(*args)
        message = str(caught.value)
        assert message.startswith(f"The answer from {client.host} was cut off at byte {length} ")
        assert "\n" not in message and "API root" not in message


@pytest.mark.parametrize("endpoint", ["query", "query_range"])
def test_a_wrong_byte_anywhere_is_named_by_its_offset(client, literal, endpoint):
    ask = getattr(client, endpoint)
    args = ("x",) if endpoint == "query" else ("x", 1793923200, 1793923320, 60)
    # A control character is invalid anywhere in JSON, inside strings too (0xff: not UTF-8).
    for offset in range(1, len(VARIED) + 1):
        for bad in (b"\x01", b"\xff"):
            literal.answer(200, VARIED[:offset] + bad + VARIED[offset:])
            with pytest.raises(ResponseFormatError) as caught:
                ask(*args)
            message = str(caught.value)
            found = re.match(
                rf"The answer from {re.escape(client.host)} is not valid JSON at byte (\d+) \(",
                message,
            )
            assert found, message
            # What breaks is named by its first byte: the byte itself between tokens, else the
            # character, escape or number it broke (`\u00e9`, `1.5e-05`), up to 3 bytes before.
            named = int(found.group(1))
            assert offset - 3 <= named <= offset
            if VARIED[offset - 1 : offset] in (b"{", b"[", b",", b":"):
                assert named == offset
            assert "\n" not in message and "API root" not in message


def test_the_cut_shows_how_the_answer_ends(client, literal):
    # The example of issue 11: a matrix cut inside a member's name, with a matching length.
    body = b'{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"val'
    literal.answer(200, body)
    with pytest.raises(ResponseFormatError) as caught:
        client.query_range("x", 1793923200, 1793923320, 60)
    assert str(caught.value).startswith(
        f"The answer from {client.host} was cut off at byte 77 (it ends "
        """...'sult":[{"metric":{},"val'): the transfer ended normally, but the JSON stops"""
    )
    assert caught.value.status == 200 and caught.value.body_start == body.decode()


def test_a_broken_answer_under_an_error_status_names_the_status(client, literal):
    literal.answer(500, b'{"status":"error","errorType":"internal","error":"sto')
    with pytest.raises(
        ResponseFormatError, match=r"from 127\.0\.0\.1:\d+ \(HTTP 500\) was cut off"
    ):
        client.query("x")


@pytest.mark.parametrize(
    "body",
    [
        b"<html><body><h1>Welcome to nginx!</h1></body></html>",
        b"404 page not found",  # Prometheus' answer to a path it does not serve
        b'"a JSON string"',
        b"",
    ],
)
def test_a_body_that_is_not_json_at_all_asks_about_the_url(client, literal, body):
    literal.answer(200, body, **{"Content-Type": "text/html"})
    with pytest.raises(ResponseFormatError) as caught:
        client.query("x")
    assert str(caught.value).startswith(f"HTTP 200 from {client.host} is not a Prometheus answer")
    assert "(is the URL the API root, the part before /api/v1?)" in str(caught.value)


@pytest.mark.parametrize("where", range(0, 60, 3))
def test_an_excerpt_never_shows_the_appkey(client, literal, where):
    # The key sits `where` bytes before the break: inside the excerpt, across its edge, or beyond.
    before = b'{"status":"error","errorType":"x","error":"' + SECRET.encode() + b"z" * where
    for body in (before, before + b'",;}', before + b"\xff"):
        literal.answer(200, body)
        with pytest.raises(ResponseFormatError) as caught:
            client.query("x")
        message = str(caught.value)
        assert all(SECRET[at : at + 5] not in message for at in range(len(SECRET) - 4)), message
