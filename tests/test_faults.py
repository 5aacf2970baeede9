"""Faults from a real loopback server: the client returns correct data after retrying, or one
typed error whose one-line message names the cause and what to do; never a partial result."""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Iterator
from unittest import mock

import pandas as pd
import pytest
from IPython.core.error import UsageError

from sysmon_magic import (
    AuthError,
    Client,
    DeadlineError,
    QueryError,
    ResponseFormatError,
    SysmonError,
    SysmonUsageError,
    TransportError,
    bodies,
)
from sysmon_magic.frames import frame_from_data
from tests.faults import RANGE_END, RANGE_SERIES, FaultServer
from tests.test_magics import run


@pytest.fixture
def faults() -> Iterator[FaultServer]:
    with FaultServer().running() as server:
        yield server


@pytest.fixture
def client(faults: FaultServer) -> Iterator[Client]:
    # Time for three retries and their backoff within one request's deadline.
    with Client(faults.url, "fault-appkey-0123456789abcdef", timeout=15.0) as c:
        yield c


def good(frame) -> None:
    assert frame["value"].tolist() == [42.0] and frame["instance"].tolist() == ["a"]


@pytest.mark.parametrize(
    "steps", [["502"], ["503", "503"], ["504"], ["html"], ["502", "504", "503"]]
)
def test_gateway_errors_are_retried(faults, client, steps):
    faults.plan = list(steps)
    good(client.query("up", 1793923200))
    assert faults.requests == len(steps) + 1


@pytest.mark.parametrize(
    ("status", "advice"),
    [
        ("502", "the gateway could not reach the server: try again shortly"),
        ("503", "the service is unavailable: try again shortly"),
        ("504", "the gateway timed out: narrow the query"),
    ],
)
def test_gateway_errors_that_persist_say_so(faults, client, status, advice):
    faults.plan = [status] * 10
    with pytest.raises(ResponseFormatError) as caught:
        client.query("up", 1793923200)
    assert faults.requests == 4  # the first try and three retries, within seconds
    assert str(caught.value).startswith(f"HTTP {status} from 127.0.0.1:")
    assert advice in str(caught.value) and "\n" not in str(caught.value)


def test_too_many_requests_honours_retry_after(faults, client):
    faults.plan = ["429:1"]
    started = time.monotonic()
    good(client.query("up", 1793923200))
    assert time.monotonic() - started >= 0.9  # it waited as asked before trying again
    faults.plan = ["429:1"] * 10
    with pytest.raises(ResponseFormatError, match=r"HTTP 429 .*too many requests: wait a moment"):
        client.query("up", 1793923200)


def test_an_internal_error_is_not_retried(faults, client):
    faults.plan = ["500"]
    with pytest.raises(QueryError, match=r"could not run the query \(internal\): storage failure"):
        client.query("up", 1793923200)
    assert faults.requests == 1


def test_a_connection_reset_mid_body_is_retried_once(faults, client):
    faults.plan = ["reset"]
    good(client.query("up", 1793923200))
    faults.plan = ["reset", "reset"]
    with pytest.raises(TransportError, match="broke off in the middle of the answer"):
        client.query("up", 1793923200)


def test_a_response_slower_than_the_timeout(faults):
    faults.plan = ["slow:4"]
    with (
        Client(faults.url, timeout=2.0) as client,
        pytest.raises(DeadlineError, match=r"did not answer within 2s: narrow the query"),
    ):
        client.query("up", 1793923200)


def test_truncated_json_is_not_a_partial_result(faults, client):
    faults.plan = ["truncated"]
    with pytest.raises(ResponseFormatError, match=r"was cut off at byte \d+ \(it ends"):
        client.query("up", 1793923200)


@pytest.mark.parametrize(("status", "error"), [("401", "rejected"), ("403", "not accessible")])
def test_nhn_auth_errors_are_not_retried(faults, client, status, error):
    faults.plan = [status]
    with pytest.raises(AuthError, match=error):
        client.query("up", 1793923200)
    assert faults.requests == 1


def test_a_request_too_large(faults, client):
    faults.plan = ["413"]
    with pytest.raises(ResponseFormatError, match="the request is too large: shorten the query"):
        client.query("up", 1793923200)
    assert faults.requests == 1


@pytest.mark.parametrize(
    "step",
    [
        "500",
        "html",
        "truncated",
        "401",
        "413",
        "slow:4",
        "reset",
        "badbyte",
        "gzip-bad",
        "gzip-cut",
    ],
)
def test_each_fault_is_one_short_line_in_the_notebook(shell, faults, step, capsys):
    shell.run_line_magic("config", "SysmonMagics.timeout = '2s'")
    run(shell, f"sysmon_connect --url {faults.url}")
    faults.plan = [step] * 10
    result = shell.run_cell("%promql --instant up")
    assert isinstance(result.error_in_exec, UsageError)
    err = capsys.readouterr().err
    assert err.startswith("UsageError: ") and err.count("\n") == 1 and "Traceback" not in err


# -- good answers of each kind, and what the tests below share ------------------------------

WHEN = {"query": ("up", 1793923200), "query_range": ("up", RANGE_END - 3600, RANGE_END, 60)}


def ask(client: Client, endpoint: str):
    """``client.query`` or ``client.query_range`` (the byte-level fast path) of the fault server."""
    return getattr(client, endpoint)(*WHEN[endpoint])


def good_for(faults: FaultServer, endpoint: str) -> bytes:
    return faults.good_body(f"/api/v1/{endpoint}")


def one_line(exc: BaseException) -> str:
    message = str(exc)
    assert "\n" not in message and "API root" not in message
    return message


@pytest.mark.parametrize("endpoint", ["query", "query_range"])
def test_good_answers_from_the_fault_server(faults, client, endpoint):
    faults.plan = ["ok", "gzip"]  # gzip although the client asked a loopback server for identity
    for _ in faults.plan[:]:
        frame = ask(client, endpoint)
        assert len(frame) == (1 if endpoint == "query" else RANGE_SERIES * 61)


# -- an appkey with a newline, or something that is no appkey ---------------------------------

KEY = "7f3e9c2b5d1a4068bc5e"  # nothing in it is English, so no part of it is in a message


@pytest.mark.parametrize("pasted", [f"{KEY}\n", f"{KEY}\r\n", f"  {KEY}\t", f"\n{KEY} \n"])
def test_an_appkey_loses_the_whitespace_around_it(faults, pasted):
    with Client(faults.url, pasted) as client:
        good(client.query("up", 1793923200))
        assert client.masked_appkey == "****bc5e"
    assert faults.appkeys == [KEY]


@pytest.mark.parametrize(
    ("inside", "kind"),
    [
        (" ", "a space"),
        ("\t", "a tab"),
        ("\n", "a line break"),
        ("\r\nX-Injected: 1\r\n", "a line break"),
        ("\x00", "a control character (U+0000)"),
        ("\x7f", "a control character (U+007F)"),
        ("\u2014", "a non-ASCII character (U+2014 EM DASH)"),
        ("\u200b", "a non-ASCII character (U+200B ZERO WIDTH SPACE)"),
        ("\u00e9", "a non-ASCII character (U+00E9 LATIN SMALL LETTER E WITH ACUTE)"),
    ],
)
def test_an_appkey_with_something_inside_is_refused_without_showing_it(faults, inside, kind):
    key = KEY[:12] + inside + KEY[12:]
    with pytest.raises(SysmonUsageError) as caught:
        Client(faults.url, key)
    message = one_line(caught.value)
    assert message.startswith(f"The appkey has {kind} inside it")
    assert all(KEY[at : at + 4] not in message for at in range(len(KEY) - 3))
    assert faults.requests == 0  # refused before anything was sent


def test_a_blank_appkey_is_refused(faults):
    with pytest.raises(SysmonUsageError, match=r"The appkey is blank \(only whitespace\)"):
        Client(faults.url, " \n")


def test_a_pasted_appkey_in_the_notebook(shell, faults, monkeypatch, capsys):
    monkeypatch.setenv("T_KEY", f"{KEY}\n")  # as $(cat key.txt) would leave it
    run(shell, f"sysmon_connect --url {faults.url} --appkey-env T_KEY")
    assert run(shell, "promql --instant --time 1793923200 up")["value"].tolist() == [42.0]
    assert set(faults.appkeys) == {KEY}
    monkeypatch.setenv("T_KEY", f"{KEY[:12]}\u2014{KEY[12:]}")  # an em dash pasted in the middle
    result = shell.run_cell(f"%sysmon_connect --url {faults.url} --appkey-env T_KEY")
    assert isinstance(result.error_in_exec, UsageError)
    err = capsys.readouterr().err
    assert err.startswith("UsageError: The appkey has a non-ASCII character (U+2014 EM DASH)")
    assert err.count("\n") == 1 and KEY[-5:] not in err


# -- bodies that arrive whole but are not what they should be ------------------------------


@pytest.mark.parametrize("endpoint", ["query", "query_range"])
@pytest.mark.parametrize("compress", [None, True])
def test_a_body_that_is_not_the_gzip_it_claims(faults, endpoint, compress):
    with Client(faults.url, "fault-appkey-0123456789abcdef", compress=compress) as client:
        faults.plan = ["gzip-bad"]
        with pytest.raises(ResponseFormatError) as caught:
            ask(client, endpoint)
    message = one_line(caught.value)
    assert "Cannot connect" not in message and "(gzip: incorrect header check)" in message
    if compress:  # gzip was asked for, so a proxy that rewrote the body is the likely cause
        assert message.startswith(f"The answer from {client.host} could not be decompressed")
        assert message.endswith("or connect with compress=False to ask for uncompressed answers.")
    else:  # a loopback server is asked for identity: this one sent gzip all the same
        assert message.startswith(f"{client.host} sent a gzip answer although none was asked for")
    assert faults.requests == 1


@pytest.mark.parametrize("endpoint", ["query", "query_range"])
@pytest.mark.parametrize("step", ["truncated", "chunked-cut", "close-cut"])
def test_an_answer_cut_short_says_where(faults, client, endpoint, step):
    faults.plan = [step]
    with pytest.raises(ResponseFormatError) as caught:
        ask(client, endpoint)
    length = len(good_for(faults, endpoint)) // 2
    assert one_line(caught.value).startswith(
        f"The answer from {client.host} was cut off at byte {length} (it ends ..."
    )
    assert "the transfer ended normally, but the JSON stops before" in str(caught.value)
    assert faults.requests == 1  # the same server would cut the same answer: not retried


@pytest.mark.parametrize("endpoint", ["query", "query_range"])
@pytest.mark.parametrize(
    ("step", "reason"),
    [("badbyte", "byte 0xff is not UTF-8"), ("badbyte:01", "")],  # \x01: a control character
)
def test_a_wrong_byte_in_the_middle_says_where(faults, client, endpoint, step, reason):
    faults.plan = [step]
    with pytest.raises(ResponseFormatError) as caught:
        ask(client, endpoint)
    middle = len(good_for(faults, endpoint)) // 2
    message = one_line(caught.value)
    assert message.startswith(f"The answer from {client.host} is not valid JSON at byte {middle} (")
    assert reason in message and "up to and including that byte: ..." in message
    assert message.endswith("report it to whoever runs the server.")


@pytest.mark.parametrize("endpoint", ["query", "query_range"])
@pytest.mark.parametrize("compress", [None, True])
def test_a_gzip_stream_cut_short(faults, endpoint, compress):
    # urllib3 does not notice a gzip stream that stops early: the JSON it gave is what is short.
    with Client(faults.url, compress=compress) as client:
        faults.plan = ["gzip-cut"]
        with pytest.raises(ResponseFormatError) as caught:
            ask(client, endpoint)
    message = one_line(caught.value)
    assert re.match(
        rf"The answer from {re.escape(client.host)} was cut off at byte \d+ of its decompressed "
        r"gzip body \(it ends ",
        message,
    )
    # Turning compression off is advice only where it was on: a loopback server is asked for none.
    assert message.endswith(
        "fewer series), or connect with compress=False." if compress else "fewer series)."
    )


# -- the same faults, as a notebook user sees them -------------------------------------------

NOTEBOOK_QUERIES = {
    "query": "%promql --instant --time 1793923200 up",
    "query_range": f"%promql --start {RANGE_END - 3600} --end {RANGE_END} --step 1m up",
}


@pytest.mark.parametrize("endpoint", ["query", "query_range"])
@pytest.mark.parametrize(
    ("step", "words"),
    [
        ("truncated", "was cut off at byte"),
        ("chunked-cut", "was cut off at byte"),
        ("close-cut", "was cut off at byte"),
        ("badbyte", "is not valid JSON at byte"),
        ("gzip-bad", "sent a gzip answer although none was asked for, and it cannot be"),
        ("gzip-cut", "of its decompressed gzip body"),
    ],
)
def test_a_damaged_answer_in_the_notebook(shell, faults, endpoint, step, words, capsys):
    run(shell, f"sysmon_connect --url {faults.url}")
    faults.plan = [step] * 10
    result = shell.run_cell(NOTEBOOK_QUERIES[endpoint])
    assert isinstance(result.error_in_exec, UsageError)
    err = capsys.readouterr().err
    assert err.startswith("UsageError: ") and err.count("\n") == 1
    assert words in err and "API root" not in err and "Cannot connect" not in err


@pytest.fixture(scope="module")
def large_answer() -> tuple[bytes, pd.DataFrame]:
    """A 20 MB range answer (past the first buffer of a chunked body, which must grow)
    and its frame as the plain path reads it."""
    samples = ",".join(f'[{RANGE_END - 60 * 3000 + 60 * i},"{i / 7:.6f}"]' for i in range(3001))
    result = ",".join(
        f'{{"metric":{{"__name__":"up","instance":"host-{n:03d}:9100"}},"values":[{samples}]}}'
        for n in range(300)
    )
    body = f'{{"status":"success","data":{{"resultType":"matrix","result":[{result}]}}}}'.encode()
    return body, frame_from_data(json.loads(body)["data"])


@pytest.mark.parametrize(
    "step", ["ok", "chunked", "gzip-chunked", "gzip-chunked-odd", "gzip-chunked-noend"]
)
def test_a_large_answer_reads_the_same_however_it_is_framed(faults, large_answer, step):
    body, expected = large_answer
    faults.range = body
    faults.plan = [step]
    native = bodies.native_samples
    dechunk = mock.Mock(wraps=native.dechunk if native is not None else None)
    with (
        Client(faults.url, compress=step.startswith("gzip")) as client,
        mock.patch.object(native, "dechunk", dechunk) if native else contextlib.nullcontext(),
    ):
        got = client.query_range("up", RANGE_END - 60 * 3000, RANGE_END, 60)
    assert len(body) > 20_000_000 and faults.requests == 1
    pd.testing.assert_frame_equal(got, expected)
    # Chunked gzip is read raw, its framing undone in C; the rest through http.client.
    assert bool(dechunk.call_count) == (step.startswith("gzip-chunked") and native is not None)


@pytest.mark.parametrize(
    ("step", "words"),
    [
        # The framing of a chunked gzip body, read raw and undone in C: broken as http.client
        # would find it broken, named as it would be.
        ("gzip-chunked-cut", "broke off in the middle of the answer"),
        ("gzip-chunked-bad", "broke off in the middle of the answer"),
    ],
)
def test_a_chunked_gzip_answer_with_broken_framing(faults, large_answer, step, words):
    faults.range = large_answer[0]
    faults.plan = [step, step]  # retried once, as a connection broken off is
    with (
        Client(faults.url, compress=True) as client,
        pytest.raises(TransportError, match=words),
    ):
        client.query_range("up", RANGE_END - 60 * 3000, RANGE_END, 60)
    assert faults.requests == 2


@pytest.mark.parametrize("step", ["ok", "chunked", "gzip-chunked", "gzip-chunked-odd"])
def test_queries_one_after_another_share_one_connection(faults, step):
    # An answer read to its end leaves the connection for the next request: no new TCP (and,
    # to a region, TLS) handshake each query. Chunked gzip is read raw: the same.
    faults.plan = [step] * 3
    with Client(faults.url, compress=step.startswith("gzip")) as client:
        for _ in range(3):
            good(client.query("up", 1793923200))
    assert faults.requests == 3 and faults.connections == 1


@pytest.mark.parametrize(
    ("steps", "connections"),
    [
        (["reset", "ok", "ok"], 2),  # reset: the retry and the next query on a new one
        (["endless", "ok"], 2),  # refused past the limit, the body left unread: closed
        (["close-cut", "ok"], 2),  # the server closed it after its answer
    ],
)
def test_a_connection_is_given_up_after_a_fault(faults, steps, connections):
    faults.plan = list(steps)
    with Client(faults.url, max_response_bytes=4 << 20) as client:
        for _ in range(2):
            with contextlib.suppress(SysmonError):
                client.query("up", 1793923200)
    assert faults.connections == connections and not faults.plan
