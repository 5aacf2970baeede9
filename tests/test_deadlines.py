"""Every request is bounded: a total deadline, a size limit, Ctrl-C and failures that cut off the
windows in flight, samples outside a window dropped, and the appkey kept from proxies and from
tracebacks that show locals. Against real servers on loopback that misbehave on purpose."""

from __future__ import annotations

import _thread
import http.client
import threading
import time
import traceback
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from IPython.core.error import UsageError

from sysmon_magic import Client, DeadlineError, ResponseTooLargeError, SysmonError
from sysmon_magic.errors import SysmonUsageError
from sysmon_magic.recording import Recording
from tests.conftest import CANARY_APPKEY, sysmon_magics
from tests.faults import RANGE_END, FaultServer, serving
from tests.test_magics import run

# A range of 4 windows at a 1 s step: 44,004 points per series, split at 11,001.
SPLIT = ("up", RANGE_END - 44_003, RANGE_END, 1)


@pytest.fixture
def faults() -> Iterator[FaultServer]:
    with FaultServer().running() as server:
        yield server


def elapsed(started: float) -> float:
    return time.monotonic() - started


def interrupt_after(seconds: float) -> threading.Timer:
    """Ctrl-C, as a user presses it: a KeyboardInterrupt in the main thread."""
    timer = threading.Timer(seconds, _thread.interrupt_main)
    timer.start()
    return timer


def client_threads_left(within: float = 5.0) -> set[threading.Thread]:
    """The client's threads (window fetchers, deadline watchdogs) still alive once they have had
    ``within`` s to end. (The fault server's own threads may still sleep on.)"""
    deadline = time.monotonic() + within
    while True:
        left = {
            t
            for t in threading.enumerate()
            if t.is_alive()
            and (t.name.startswith("ThreadPoolExecutor") or isinstance(t, threading.Timer))
        }
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


# -- a total deadline ---------------------------------------------------------------------------


@pytest.mark.parametrize("step", ["trickle:0.5", "trickle-head:0.5"])
def test_a_trickling_answer_ends_near_the_timeout(faults, step):
    # At 2 bytes a second the answer would take minutes; each byte comes well within any read
    # timeout, so only a deadline for the whole answer ends it.
    faults.plan = [step]
    started = time.monotonic()
    with Client(faults.url, timeout=3) as client, pytest.raises(DeadlineError) as caught:
        client.query("up", RANGE_END)
    assert 2.5 < elapsed(started) < 10
    assert caught.value.timeout == 3
    assert str(caught.value).startswith(f"127.0.0.1:{faults.url.rsplit(':', 1)[1]} did not answer")


def test_connecting_to_a_trickling_server_ends_near_the_timeout(shell, faults, capsys):
    sysmon_magics(shell).timeout = "3s"
    faults.plan = ["trickle-head:0.5"] * 5
    started = time.monotonic()
    # %sysmon_connect has no --timeout: the message names the setting.
    with pytest.raises(UsageError, match=r"within 3s: .*raise %config SysmonMagics\.timeout\.$"):
        run(shell, f"sysmon_connect --url {faults.url}")
    assert elapsed(started) < 10


# -- a size limit -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "how"),
    [
        ("endless", "is larger"),
        ("gzip-endless", "is larger"),  # chunked gzip, read raw: bounded by its framing's size
        ("huge", "declares 1,000,000,000,000 bytes, more"),
    ],
)
def test_an_answer_past_the_size_limit_is_refused(faults, step, how):
    faults.plan = [step]
    with (
        Client(faults.url, max_response_bytes=4 << 20, timeout=30, compress=True) as client,
        pytest.raises(ResponseTooLargeError) as caught,
    ):
        client.query("up", RANGE_END)
    assert caught.value.limit == 4 << 20
    assert f" {how} than max_response_bytes=4,194,304 (4 MiB)" in str(caught.value)


def test_a_gzip_bomb_is_refused_by_its_decompressed_size(faults):
    faults.plan = ["bomb:64"]  # ~64 KB on the wire, 64 MiB inflated
    with (
        Client(faults.url, max_response_bytes=8 << 20, compress=True) as client,
        pytest.raises(ResponseTooLargeError, match="is larger than max_response_bytes"),
    ):
        client.query("up", RANGE_END)


def test_the_magic_names_the_option_that_raises_the_limit(shell, faults):
    run(shell, f"sysmon_connect --url {faults.url}")
    sysmon_magics(shell).max_response_mb = 4
    faults.plan = ["endless"]
    with pytest.raises(UsageError, match=r"or raise %config SysmonMagics\.max_response_mb"):
        run(shell, "promql --instant up")
    sysmon_magics(shell).max_response_mb = 1024


# -- cutting off the windows in flight ------------------------------------------------------------


@pytest.mark.parametrize("step", ["slow:20", "trickle:0.5"])
def test_ctrl_c_during_a_split_query_returns_at_once(faults, step):
    faults.plan = [step] * 4
    with Client(faults.url, timeout=60, max_parallel=4) as client:
        started = time.monotonic()
        interrupt_after(1.0)
        with pytest.raises(KeyboardInterrupt):
            client.query_range(*SPLIT)
        assert elapsed(started) < 4  # the windows would take 20 s or minutes
    assert client_threads_left() == set()  # no window is left running


def test_an_interrupt_from_the_progress_callback_cuts_off_the_rest(faults):
    faults.plan = ["ok", "slow:20", "slow:20", "slow:20"]

    def progress(done: int, total: int) -> None:
        raise KeyboardInterrupt

    started = time.monotonic()
    with Client(faults.url, max_parallel=4) as client, pytest.raises(KeyboardInterrupt):
        client.query_range(*SPLIT, progress=progress)
    assert elapsed(started) < 4


def test_a_failed_window_cuts_off_the_others(faults):
    faults.plan = ["500", "slow:20", "slow:20", "slow:20"]
    started = time.monotonic()
    with Client(faults.url, max_parallel=4) as client, pytest.raises(SysmonError) as caught:
        client.query_range(*SPLIT)
    assert elapsed(started) < 4
    assert "failed, so nothing is returned: The server could not run the query" in str(caught.value)


# -- windows are checked --------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["tidy", "wide"])
def test_samples_outside_a_window_are_dropped_live_and_replayed_alike(faults, tmp_path, fmt):
    faults.plan = ["early:10"] * 4
    recording = Recording(tmp_path / "early.promql.json")
    with Client(faults.url, recording=recording) as client:
        live = client.query_range(*SPLIT, fmt=fmt)
    replayed = Client.from_recording(tmp_path / "early.promql.json").query_range(*SPLIT, fmt=fmt)
    if fmt == "tidy":
        assert not live.duplicated(["timestamp", "i"]).any()
        assert len(live) == 44_004
    else:
        assert live.index.is_unique and live.index.is_monotonic_increasing
        assert len(live) == 44_004
    (warning,) = live.attrs["promql"]["warnings"]  # one for the query, not one per window
    assert warning.startswith("40 samples outside the windows asked for were dropped")
    assert live.equals(replayed)


# -- the appkey ------------------------------------------------------------------------------------


class _CountingProxy:
    """An HTTP proxy that only counts what it is sent (and answers 502)."""

    def __init__(self) -> None:
        proxy = self
        self.seen: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                proxy.seen.append(self.headers.get("X-TC-APP-KEY") or "")
                self.send_response(502)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"


def test_a_loopback_server_is_reached_directly_never_through_a_proxy(faults, monkeypatch):
    proxy = _CountingProxy()
    with serving(proxy.httpd):
        for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "all_proxy", "ALL_PROXY"):
            monkeypatch.setenv(name, proxy.url)
        monkeypatch.delenv("no_proxy", raising=False)
        monkeypatch.delenv("NO_PROXY", raising=False)
        with Client(faults.url, CANARY_APPKEY) as client:
            assert client.query("up", RANGE_END)["value"].tolist() == [42.0]
    assert proxy.seen == [] and faults.appkeys == [CANARY_APPKEY]


@pytest.mark.parametrize("step", ["reset", "trickle:0.5", "gzip-bad", "endless", "huge"])
def test_no_traceback_shows_the_appkey_even_with_its_locals(faults, step):
    faults.plan = [step] * 4
    with (
        Client(faults.url, CANARY_APPKEY, timeout=2, max_response_bytes=1 << 20) as client,
        pytest.raises(SysmonError) as caught,
    ):
        client.query("up", RANGE_END)
    error = caught.value
    shown = "".join(
        traceback.TracebackException.from_exception(error, capture_locals=True).format()
    )
    # What pytest -l and %xmode Verbose print too: every local of every frame, with repr.
    frames = traceback.walk_tb(error.__traceback__)
    shown += "".join(repr(value) for frame, _ in frames for value in frame.f_locals.values())
    assert CANARY_APPKEY not in shown and CANARY_APPKEY[-5:] not in shown


def test_wire_debugging_is_the_one_thing_that_prints_the_header(faults, capsys):
    # As the README says: http.client's debuglevel prints request headers, appkey included.
    http.client.HTTPConnection.debuglevel = 1
    try:
        with Client(faults.url, CANARY_APPKEY) as client:
            client.query("up", RANGE_END)
    finally:
        http.client.HTTPConnection.debuglevel = 0
    assert CANARY_APPKEY in capsys.readouterr().out


# -- server text is scrubbed everywhere it is shown --------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "headers"),
    [
        (422, {"status": "error", "errorType": f"bad_{CANARY_APPKEY}", "error": "x"}, {}),
        (302, b"", {"Location": f"http://{CANARY_APPKEY}@127.0.0.2:9/"}),
        (502, f"<html>proxy saw {CANARY_APPKEY}</html>".encode("utf-16"), {}),
        (502, f"<html>proxy saw {CANARY_APPKEY}</html>".encode("utf-16-le"), {}),
        (502, f"<html>proxy saw {CANARY_APPKEY}</html>".encode("utf-32"), {}),
        (502, f"<html>proxy saw {CANARY_APPKEY.upper()}</html>".encode(), {}),
        (422, {"status": "error", "errorType": "x", "error": CANARY_APPKEY.upper()}, {}),
    ],
)
def test_server_text_never_shows_the_appkey(status, body, headers):
    from tests.test_client import Literal

    with Literal().running() as server:
        server.answer(status, body, **headers)
        with Client(server.url, CANARY_APPKEY) as client, pytest.raises(SysmonError) as caught:
            client.query("up", RANGE_END)
    # As a reader sees it: NULs (or their escapes) between the characters hide nothing.
    shown = f"{caught.value} {vars(caught.value)}".replace("\\x00", "").replace("\x00", "")
    assert CANARY_APPKEY not in shown.lower() and "****" in shown


def test_the_demo_gateway_holds_no_appkey_to_copy(demo_server):
    from sysmon_magic.demo.gateway import Gateway

    with Gateway(demo_server.url, [CANARY_APPKEY]) as gateway:
        assert CANARY_APPKEY not in repr(vars(gateway))


def test_connect_options_are_read_as_a_shell_reads_them(shell, faults):
    run(shell, f"sysmon_connect --url '{faults.url}' --appkey '{CANARY_APPKEY}' --name \"a b\"")
    run(shell, "promql --instant up")
    assert faults.appkeys[-1] == CANARY_APPKEY  # the quotes are not part of the key
    assert "a b" in sysmon_magics(shell).connections
    with pytest.raises(UsageError, match="close the quote"):
        run(shell, "sysmon_connect --url 'http://127.0.0.1:9")


def _shown_with_locals(error: BaseException | None) -> str:
    """What a traceback that prints every local shows of the package's frames, in ``error`` and
    the errors it chains (the test's own frames hold the key it passed, of course)."""
    shown = ""
    while error is not None:
        shown += "".join(
            repr(value)
            for frame, _ in traceback.walk_tb(error.__traceback__)
            if "/sysmon_magic/" in frame.f_code.co_filename
            for value in frame.f_locals.values()
        )
        error = error.__cause__ or error.__context__
    return shown


@pytest.mark.parametrize(
    ("url", "appkey"),
    [
        ("http://example.invalid", CANARY_APPKEY),  # refused: plain http elsewhere than loopback
        ("http://127.0.0.1:9", f"{CANARY_APPKEY} x"),  # refused: a space inside
    ],
)
def test_a_refused_connection_holds_no_appkey_in_its_locals(url, appkey):
    with pytest.raises(SysmonError) as caught:
        Client(url, appkey)
    assert CANARY_APPKEY not in _shown_with_locals(caught.value)


def test_no_local_holds_a_secret_header_or_a_region_client_s_appkey():
    # secret_headers stayed in Client.__init__'s frame, and for_region held the appkey plain.
    with pytest.raises(SysmonError) as caught:
        Client(
            "http://example.invalid", secret_headers={"Authorization": f"Bearer {CANARY_APPKEY}"}
        )
    assert CANARY_APPKEY not in _shown_with_locals(caught.value)
    with pytest.raises(SysmonError) as caught:
        Client.for_region("xx9", CANARY_APPKEY)
    assert CANARY_APPKEY not in _shown_with_locals(caught.value)


def test_a_refused_url_never_shows_its_password():
    for url in ("https://bob:hunter2@example.com:99999/p", "https://bob:hun@ter2@[::1/p"):
        with pytest.raises(SysmonUsageError) as caught:
            Client(url)
        assert not any(part in str(caught.value) for part in ("bob", "hun", "ter2"))


def test_the_magic_holds_no_appkey_in_its_locals(shell, canary_env):
    sysmon_magics(shell).region_urls = {"kr1": "http://example.invalid"}
    with pytest.raises(UsageError) as caught:
        run(shell, "sysmon_connect kr1")
    assert CANARY_APPKEY not in _shown_with_locals(caught.value)
