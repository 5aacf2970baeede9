"""Other engines on the same path (issue 12 §7): tenant headers through a header-checking proxy
in front of the demo Prometheus, secret headers that never show, engine parameters, the
per-connection point limit, and VictoriaMetrics' ``isPartial`` (tests/test_victoriametrics.py
has the same against the real VictoriaMetrics)."""

from __future__ import annotations

import json
import re
import traceback
from collections.abc import Iterator
from http.client import HTTPConnection
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from IPython.core.error import UsageError

from sysmon_magic import AuthError, Client, SysmonError, SysmonUsageError, demo
from sysmon_magic.envelope import PARTIAL_WARNING, Raw, Reader
from sysmon_magic.frames_bytes import FAST_PATH_MIN_BYTES
from sysmon_magic.recording import FORMAT, Recording
from sysmon_magic.timeparse import PROMETHEUS_MAX_POINTS, split_range
from sysmon_magic.transport import Secret
from tests.conftest import sysmon_magics
from tests.faults import serving
from tests.test_client import Literal
from tests.test_magics import run

TENANT = {"X-Scope-OrgID": "team-a"}
#: A secret header's value; tests search every output for it.
CANARY_TOKEN = "Bearer canary-token-5e8b1c9d7a3f2046"
AT = "--instant --time 2026-11-08T12:00:00Z"


class TenantProxy:
    """Forwards to an API root the requests that carry every header of ``required``; answers the
    others 401 with Mimir's text, followed by what it got of those headers, as a debugging
    gateway might (so that a message made from that body must be scrubbed). ``seen``: each
    request's path (with its query string) and headers."""

    def __init__(self, upstream: str) -> None:
        self.required: dict[str, str] = dict(TENANT)
        self.seen: list[tuple[str, dict[str, str]]] = []
        parts = urlsplit(upstream)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = dict(self.headers)
                proxy.seen.append((self.path, headers))
                if any(self.headers.get(k) != v for k, v in proxy.required.items()):
                    got = "; ".join(f"{k}={self.headers.get(k)}" for k in proxy.required)
                    self._send(401, f"no org id (got {got})\n".encode(), "text/plain")
                    return
                forwarded = {k: v for k, v in headers.items() if k.lower() not in ("host",)}
                upstream = HTTPConnection(parts.hostname, parts.port, timeout=60)
                try:
                    upstream.request(self.command, parts.path + self.path, body, forwarded)
                    answer = upstream.getresponse()
                    self._send(answer.status, answer.read(), "application/json")
                finally:
                    upstream.close()

            do_POST = do_GET

            def _send(self, status: int, body: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def params(self, endpoint: str) -> list[dict[str, list[str]]]:
        """The query strings of the requests seen to ``/api/v1/<endpoint>``."""
        return [
            parse_qs(urlsplit(path).query)
            for path, _ in self.seen
            if urlsplit(path).path == f"/api/v1/{endpoint}"
        ]


@pytest.fixture
def proxy(demo_server) -> Iterator[TenantProxy]:
    tenant = TenantProxy(demo_server.url)
    with serving(tenant.httpd):
        yield tenant


def one_line_error(shell, line: str, capsys) -> str:
    """The error a cell with ``line`` shows: asserted to be one UsageError line, no traceback."""
    result = shell.run_cell(line)
    assert isinstance(result.error_in_exec, UsageError), result.error_in_exec
    err = capsys.readouterr().err
    assert err.startswith("UsageError: ") and err.count("\n") == 1 and "Traceback" not in err
    return err


# -- tenants ---------------------------------------------------------------------------------


def test_a_tenant_header_reaches_the_server_and_is_shown(shell, proxy, capsys):
    run(shell, f"sysmon_connect --url {proxy.url} --name mimir --header 'X-Scope-OrgID: team-a'")
    frame = run(shell, f"promql {AT} count(node_uname_info)")
    assert frame["value"].tolist() == [6.0]
    assert all(headers.get("X-Scope-OrgID") == "team-a" for _, headers in proxy.seen)
    out = capsys.readouterr().out
    assert f"mimir ({proxy.url}) · X-Scope-OrgID: team-a · at 2026-11-08T12:00:00Z" in out
    assert frame.attrs["promql"]["headers"] == TENANT
    listing = run(shell, "sysmon_connect")
    assert listing[["name", "headers", "params"]].values.tolist() == [
        ["mimir", "X-Scope-OrgID: team-a", ""]
    ]


def test_without_the_tenant_the_error_is_one_line(shell, proxy, capsys):
    err = one_line_error(shell, f"%sysmon_connect --url {proxy.url}", capsys)
    assert f"{proxy.url.removeprefix('http://')} refused the request (HTTP 401: 'no org id" in err
    assert "X-Scope-OrgID" in err  # the advice names the header
    err = one_line_error(
        shell, f"%sysmon_connect --url {proxy.url} --header 'X-Scope-OrgID: team-b'", capsys
    )
    assert "HTTP 401" in err
    assert sysmon_magics(shell).connections == {}


def walk(value: object, depth: int = 3) -> str:
    """The reprs of an object and, to ``depth``, of every attribute of sysmon_magic's objects in
    it: what a debugger, ``vars()`` or a traceback with locals shows."""
    text = repr(value)
    if depth and type(value).__module__.startswith("sysmon_magic") and hasattr(value, "__dict__"):
        for attribute in vars(value).values():
            text += walk(attribute, depth - 1)
    if depth and isinstance(value, dict | list | tuple):
        for item in value.values() if isinstance(value, dict) else value:
            text += walk(item, depth - 1)
    return text


def assert_no_token(*texts: object) -> None:
    for text in texts:
        assert CANARY_TOKEN.split()[1] not in str(text)
        assert CANARY_TOKEN[-5:] not in str(text)


def test_a_secret_header_never_shows(shell, proxy, monkeypatch, capsys, tmp_path):
    proxy.required["Authorization"] = CANARY_TOKEN
    monkeypatch.setenv("TEAM_TOKEN", CANARY_TOKEN + "\n")  # as $(cat token.txt) leaves it
    path = tmp_path / "tenant.promql.json"
    run(
        shell,
        f"sysmon_connect --url {proxy.url} --name mimir --header 'X-Scope-OrgID: team-a' "
        f"--header-env Authorization=TEAM_TOKEN --record {path}",
    )
    assert proxy.seen[-1][1]["Authorization"] == CANARY_TOKEN  # sent whole, newline removed
    frames = [
        run(shell, f"promql {AT} count(node_uname_info)"),
        run(shell, "promql --start 2026-11-08T00:00:00Z --end 2026-11-08T01:00:00Z node_load1"),
    ]
    listing = run(shell, "sysmon_connect")
    assert listing["headers"].tolist() == ["X-Scope-OrgID: team-a, Authorization: ****"]
    client = sysmon_magics(shell).connections["mimir"].client
    printed = capsys.readouterr()
    # The server refuses the next request and echoes the headers it got, the secret one too.
    proxy.required["X-Scope-OrgID"] = "team-b"
    error = one_line_error(shell, f"%promql {AT} up", capsys)
    assert "****" in error
    with pytest.raises(SysmonError) as caught:
        client.query("up", 1794182400)
    shown = "".join(
        traceback.TracebackException.from_exception(caught.value, capture_locals=True).format()
    )
    shown += "".join(
        repr(value)
        for frame, _ in traceback.walk_tb(caught.value.__traceback__)
        for value in frame.f_locals.values()
    )
    assert_no_token(
        error,
        str(caught.value),
        shown,
        printed,
        listing.to_string(),
        [frame.attrs for frame in frames],
        walk(client),
        walk(sysmon_magics(shell).connections),
        path.read_text(),
    )


def test_headers_and_params_reach_the_server(proxy):
    proxy.required["Authorization"] = CANARY_TOKEN
    with Client(
        proxy.url,
        headers=TENANT,
        secret_headers={"Authorization": CANARY_TOKEN},
        params={"dedup": "false"},
    ) as client:
        assert client.query("count(node_uname_info)", demo.DEMO_END)["value"].tolist() == [6.0]
        client.labels(start=demo.DEMO_END - 3600, end=demo.DEMO_END)
        assert client.headers == TENANT and client.secret_header_names == ["Authorization"]
    (query, headers), (labels, _) = proxy.seen
    assert headers["X-Scope-OrgID"] == "team-a" and headers["Authorization"] == CANARY_TOKEN
    assert headers["User-Agent"].startswith("sysmon-magic/")
    assert parse_qs(urlsplit(query).query)["dedup"] == ["false"]
    assert "dedup" not in labels  # engine parameters go with queries only


def test_a_refusal_when_no_appkey_was_sent_asks_for_a_tenant(proxy):
    with Client(proxy.url) as client, pytest.raises(AuthError) as caught:
        client.query("up", demo.DEMO_END)
    assert re.match(
        r"127\.0\.0\.1:\d+ refused the request \(HTTP 401: 'no org id", str(caught.value)
    )
    assert "X-Scope-OrgID" in str(caught.value) and "appkey was rejected" not in str(caught.value)


def test_a_secret_header_goes_only_over_https_or_to_loopback():
    secret = {"THANOS-TENANT": "team-a"}
    with pytest.raises(SysmonUsageError, match=r"secret header THANOS-TENANT over plain http to"):
        Client("http://10.0.0.5:9090", secret_headers=secret)
    Client("https://thanos.example/", secret_headers=secret)
    Client("http://127.0.0.1:9090", secret_headers=secret)
    Client("http://10.0.0.5:9090", headers=secret)  # a plain header is not protected


@pytest.mark.parametrize(
    ("headers", "words"),
    [
        ({"X Scope": "a"}, "cannot be an HTTP header name"),
        ({"X-Scope-OrgID:": "a"}, "cannot be an HTTP header name"),
        ({"": "a"}, "cannot be an HTTP header name"),
        ({"Tenant-Ü": "a"}, "cannot be an HTTP header name"),
        ({"X-Scope-OrgID": "team\na"}, r"a line break in its value \(character 5\)"),
        ({"X-Scope-OrgID": "t\u00e9am"}, r"U\+00E9 LATIN SMALL LETTER E WITH ACUTE"),
        ({"X-Scope-OrgID": " \n"}, "has an empty value"),
        ({"X-Scope-OrgID": 7}, "needs a string value, not int"),
        ({"x-tc-app-key": "k"}, "it carries the appkey"),
        ({"Host": "elsewhere"}, "names the server of the URL"),
        ({"Content-Length": "1"}, "the HTTP client sets it"),
        ({"Accept-Encoding": "br"}, "compress= decides"),
        ({"Authorization": "Bearer x"}, "carries a credential: give it in secret_headers="),
        ({"Cookie": "session=x"}, "carries a credential"),
        ({"X-Scope-OrgID": "a", "x-scope-orgid": "b"}, "given twice"),
    ],
)
def test_headers_http_cannot_carry_or_the_client_owns_are_one_line(headers, words):
    with pytest.raises(SysmonUsageError, match=words) as caught:
        Client("http://127.0.0.1:9090", headers=headers)
    assert "\n" not in str(caught.value)


def test_a_bad_secret_header_value_is_never_quoted():
    for value in ("s3cr3t-value\x00x", "s3cr3t-value\u2014x", "s3cr3t-value\r\nx"):
        with pytest.raises(SysmonUsageError, match="secret header Authorization has") as caught:
            Client("http://127.0.0.1:9090", secret_headers={"Authorization": value})
        assert "s3cr3t" not in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(SysmonUsageError, match="given twice"):
        Client("http://127.0.0.1:9090", headers=TENANT, secret_headers={"X-SCOPE-ORGID": "b"})


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ("--header X-Scope-OrgID", r"--header takes 'NAME: VALUE'"),
        ("--header ': team-a'", r"--header takes 'NAME: VALUE'"),
        ("--header 'X: a' --header 'X: b'", "The header X is given twice"),
        ("--header-env 'Authorization: Bearer s3cr3t'", "--header-env takes NAME=VAR"),
        ("--header-env 'Authorization=Bearer s3cr3t'", "--header-env takes NAME=VAR"),
        ("--header-env Authorization=NOT_SET_ANYWHERE", r"\$NOT_SET_ANYWHERE is not set"),
        ("--param dedup", "--param takes NAME=VALUE"),
        ("--param step=1m", "The parameter step cannot be given"),
        ("--param a=1 --param a=2", "The parameter a is given twice"),
        ("--max-points 0", "(max_points_per_series=|--max-points) is the most points"),
        ("--max-points many", "invalid int value"),
    ],
)
def test_bad_engine_options_are_one_line(shell, demo_server, capsys, options, words):
    err = one_line_error(shell, f"%sysmon_connect --url {demo_server.url} {options}", capsys)
    assert re.search(words, err), err
    assert "s3cr3t" not in err


# -- engine parameters -----------------------------------------------------------------------


def test_params_go_with_queries_into_provenance_and_the_recording(shell, proxy, capsys, tmp_path):
    path = tmp_path / "thanos.promql.json"
    run(
        shell,
        f"sysmon_connect --url {proxy.url} --name thanos --header 'X-Scope-OrgID: team-a' "
        f"--param partial_response=false --param dedup=true --record {path}",
    )
    cells = [
        ("promql --start 2026-11-08T00:00:00Z --end 2026-11-08T01:00:00Z", "node_load1"),
        (f"promql {AT}", "count(node_uname_info)"),
    ]
    live = [run(shell, line, cell) for line, cell in cells]
    for endpoint in ("query", "query_range"):
        sent = proxy.params(endpoint)
        assert sent and all(
            p["partial_response"] == ["false"] and p["dedup"] == ["true"] for p in sent
        )
    assert all("dedup" not in p for p in proxy.params("label/__name__/values"))
    shown = f"thanos ({proxy.url}) · X-Scope-OrgID: team-a · dedup=true · partial_response=false · "
    assert capsys.readouterr().out.count(shown) == 2
    listing = run(shell, "sysmon_connect")
    assert listing["params"].tolist() == ["dedup=true, partial_response=false"]  # by name
    document = json.loads(path.read_text())
    assert document["connection"]["params"] == {"partial_response": "false", "dedup": "true"}
    assert document["connection"]["headers"] == TENANT
    keyed = [dict(e["request"]["params"]) for e in document["exchanges"]]
    assert all(p["dedup"] == "true" for p in keyed if "query" in p)
    # Offline, the replay asks with the same parameters (they are in the keys) and says so.
    asked = len(proxy.seen)
    run(shell, f"sysmon_connect --replay {path}")
    replayed = [run(shell, line, cell) for line, cell in cells]
    assert len(proxy.seen) == asked
    for one, other in zip(live, replayed, strict=True):
        assert one.equals(other)
        assert {**one.attrs["promql"], "elapsed": 0, "replayed": True} == other.attrs["promql"]
    out = capsys.readouterr().out
    assert out.count(shown) == 2 and out.count(" · replayed\n") == 2


def test_params_the_client_sets_or_that_are_not_text_are_refused():
    for name in ("query", "time", "start", "end", "step", "timeout"):
        with pytest.raises(SysmonUsageError, match=f"The parameter {name} cannot be given"):
            Client("http://127.0.0.1:9090", params={name: "1"})
    with pytest.raises(SysmonUsageError, match=r"nocache='1'\?\), not int"):
        Client("http://127.0.0.1:9090", params={"nocache": 1})
    with pytest.raises(SysmonUsageError, match=r"dedup='true'\?\), not bool"):
        Client("http://127.0.0.1:9090", params={"dedup": True})


# -- the points-per-series limit -------------------------------------------------------------


DAY = (demo.DEMO_END - 86400, demo.DEMO_END)


def test_split_range_takes_the_servers_limit():
    assert len(split_range(*DAY, 1)) == 8  # 86,401 points, at Prometheus' 11,001
    windows = split_range(*DAY, 1, 30_000)  # VictoriaMetrics'
    assert windows == [
        (DAY[0], DAY[0] + 29_999),
        (DAY[0] + 30_000, DAY[0] + 59_999),
        (DAY[0] + 60_000, DAY[1]),
    ]
    with pytest.raises(SysmonUsageError, match="at most 3,000,000 can be fetched"):
        split_range(0, 3_000_000, 1, 30_000)  # a hundred windows of 30,000, and one point more


def test_the_limit_sets_the_windows_and_a_replay_keeps_it(demo_server, tmp_path):
    for wrong in (0, -1, True, 2.5):
        with pytest.raises(SysmonUsageError, match="max_points_per_series="):
            Client(demo_server.url, max_points_per_series=wrong)
    assert Client(demo_server.url).max_points_per_series == PROMETHEUS_MAX_POINTS
    # A lower limit than Prometheus' own: a replay must split as the recording did, or miss.
    path = tmp_path / "r.json"
    query = 'node_load1{instance="web-01:9100"}'
    options = {"now": demo_server.now, "max_points_per_series": 5_000}
    with Client(demo_server.url, recording=Recording(path), **options) as client:
        windows = []
        live = client.query_range(query, *DAY, 10, progress=lambda d, t: windows.append(t))
    assert windows[-1] == 2
    assert json.loads(path.read_text())["connection"]["max_points_per_series"] == 5_000
    with Client.from_recording(path) as replay:
        assert replay.max_points_per_series == 5_000
        assert replay.query_range(query, *DAY, 10).equals(live)


def test_the_magic_takes_the_limit_per_connection(shell, demo_server):
    run(shell, f"sysmon_connect --url {demo_server.url} --name small --max-points 5000")
    run(shell, f"sysmon_connect --url {demo_server.url} --name default")
    listing = run(shell, "sysmon_connect")
    assert listing["max points per series"].tolist() == [5_000, PROMETHEUS_MAX_POINTS]


@pytest.mark.parametrize(
    "connection",
    [
        {"params": ["dedup", "true"]},
        {"headers": "X-Scope-OrgID: a"},
        {"max_points_per_series": "30k"},
    ],
)
def test_a_recording_with_malformed_engine_options_is_one_line(tmp_path, connection):
    path = tmp_path / "edited.promql.json"
    path.write_text(json.dumps({"format": FORMAT, "connection": connection, "exchanges": []}))
    with pytest.raises(SysmonUsageError) as caught:
        Client.from_recording(path)
    assert "\n" not in str(caught.value)


# -- VictoriaMetrics' isPartial ----------------------------------------------------------------


@pytest.fixture(scope="module")
def literal() -> Iterator[Literal]:
    with Literal().running() as server:
        yield server


def partial_matrix(series: int, partial: bool) -> bytes:
    """A range answer as VictoriaMetrics writes it: compact, ``isPartial`` before ``data``."""
    result = [
        {
            "metric": {"__name__": "up", "instance": f"host-{n:03d}:9100"},
            "values": [[1793923200 + 60 * i, "1"] for i in range(61)],
        }
        for n in range(series)
    ]
    answer = {
        "status": "success",
        "isPartial": partial,
        "data": {"resultType": "matrix", "result": result},
    }
    return json.dumps(answer, separators=(",", ":")).encode()


@pytest.mark.parametrize("series", [1, 120])  # the plain path, and the fast one (160 KB)
def test_is_partial_becomes_a_warning(literal, series):
    with Client(literal.url) as client:
        literal.answer(200, partial_matrix(series, True))
        # The plain path, or the byte-level one, which hands over the envelope it parsed.
        assert (len(literal.body) >= FAST_PATH_MIN_BYTES) == (series > 1)
        frame = client.query_range("up", 1793923200, 1793926800, 60)
        assert len(frame) == 61 * series
        assert frame.attrs["promql"]["warnings"] == [PARTIAL_WARNING]
        literal.answer(200, partial_matrix(series, False))
        assert (
            client.query_range("up", 1793923200, 1793926800, 60).attrs["promql"]["warnings"] == []
        )


def test_the_magic_shows_is_partial_as_it_shows_warnings(shell, literal, capsys):
    literal.answer(200, partial_matrix(1, True))
    run(shell, f"sysmon_connect --url {literal.url} --scrape-interval 60s")
    run(shell, "promql --start 1793923200 --end 1793926800 --step 60", "up")
    assert f"Server: {PARTIAL_WARNING}\n" in capsys.readouterr().err


# -- scrubbing several secrets ---------------------------------------------------------------


def test_every_secret_is_scrubbed_from_what_the_server_says():
    appkey, tenant = "appkey-0123456789abcdef", "tenant-fedcba9876543210"
    reader = Reader("h:1", Secret(appkey), secrets=[Secret(tenant), Secret("cdef-tenant")])
    assert reader.scrub(f"{appkey} and {tenant}; abcdef-tenant-x") == "**** and ****; ab****-x"
    # Cut off, broken, an error envelope: each message shows the body's end or an excerpt.
    for body in (
        f'{{"status":"error","errorType":"{tenant}","error":"{appkey} {tenant}"}}',
        f'{{"status":"success","data":"{tenant}{appkey}',
        f'{{"status":"success","data":"{appkey}\x01{tenant}"}}',
    ):
        with pytest.raises(SysmonError) as caught:
            reader.answer(Raw(200, {}, body.encode(), "http://h:1/api/v1/query"))
        message = str(caught.value)
        for secret in (appkey, tenant):
            assert all(secret[at : at + 5] not in message for at in range(len(secret) - 4))
