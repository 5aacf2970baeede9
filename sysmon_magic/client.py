"""``Client``: the Prometheus HTTP API of NHN Cloud System Monitoring, or of any Prometheus.

Every request goes through one funnel, :meth:`Client._call`, which picks GET or a form-encoded
POST, sends the appkey header, reads the Prometheus envelope and turns every failure into a typed
:mod:`~sysmon_magic.errors` exception with a one-line message. Results come back as DataFrames.
"""

from __future__ import annotations

import ipaddress
import json
import math
import os
import re
import time
import unicodedata
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, NamedTuple, TypeVar
from urllib.parse import urlencode, urlsplit

import pandas as pd
import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from . import frames
from .errors import (
    APIError,
    AuthError,
    QueryError,
    ResponseFormatError,
    SysmonError,
    SysmonUsageError,
    TransportError,
)
from .recording import Recording
from .regions import SCRAPE_INTERVAL, region_api_root
from .timeparse import (
    auto_step,
    format_duration,
    format_time,
    parse_duration,
    parse_time,
    split_range,
)

__all__ = ["APPKEY_HEADER", "Client", "TimeLike", "mask_secret"]

APPKEY_HEADER = "X-TC-APP-KEY"
TimeLike = str | float | int | datetime

# Above this many characters of URL a query goes as a form-encoded POST: proxies and servers
# commonly cap request lines at 4-8 KiB, and Prometheus reads POST bodies only as forms.
_MAX_GET_URL = 2000
_BODY_START_CHARS = 120
_BODY_ATTEMPTS = 2
_Part = TypeVar("_Part")
# Functions whose result order is the point; other instant results are put in label order.
_ORDERING = re.compile(r"\b(?:sort|sort_desc|sort_by_label|sort_by_label_desc|topk|bottomk)\s*\(")
# Reasons that mean the server went away mid-answer: worth one more try.
_CUT_OFF = frozenset({"connection reset", "connection closed by the server"})
_USER_AGENT = "sysmon-magic/0.1"
# What a gateway's status means, told instead of "is the URL the API root?" when its body is not
# Prometheus JSON: the status says more about the cause than the body does.
_GATEWAY_ADVICE = {
    413: "the request is too large: shorten the query or narrow the selector",
    429: "too many requests: wait a moment and run it again",
    502: "the gateway could not reach the server: try again shortly",
    503: "the service is unavailable: try again shortly",
    504: "the gateway timed out: narrow the query (shorter range, larger step)",
}
# Bytes of a broken body quoted around the place where it breaks.
_EXCERPT_BYTES = 24
# What may be left at the end of a body cut inside a number or a literal (json reports the place
# where the token starts): `-`, `1.`, `1e+` (json has read the `1`), `tr`, `nul`, `-Infin`.
_PARTIAL_TOKEN = re.compile(
    r"-?(?:\.[0-9]*)?(?:[eE][-+]?[0-9]*)?"
    r"|t(?:ru?)?|f(?:a(?:ls?)?)?|n(?:ul?)?|Na?|-?I(?:n(?:f(?:i(?:n(?:i(?:ty?)?)?)?)?)?)?"
)
# Scrape intervals seen in practice; a measured one is rounded to the nearest.
_USUAL_INTERVALS = (
    1.0,
    2.0,
    5.0,
    10.0,
    15.0,
    20.0,
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
    900.0,
    1800.0,
    3600.0,
)


def mask_secret(secret: str | None) -> str:
    """Show at most the last 4 characters of a secret, and none of a short one."""
    if not secret:
        return "(none)"
    return "****" + secret[-4:] if len(secret) >= 16 else "****"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _checked_appkey(appkey: str | None) -> str | None:
    """The appkey without surrounding whitespace; refused if what is left cannot be one.

    A key pasted from a file or set from ``$(cat key.txt)`` often keeps its newline, which
    requests refuses as a header value (and reports as a connection failure). Inside the key, a
    space or control character is a paste error, and a non-ASCII character (an em dash, a
    zero-width space) cannot travel in an HTTP header at all. The messages never quote the key.
    """
    if not appkey:
        return None
    key = appkey.strip()
    if not key:
        raise SysmonUsageError(
            "The appkey is blank (only whitespace): copy it again from the console (Compute > "
            "System Monitoring > URL & Appkey)."
        )
    for char in key:
        if "!" <= char <= "~":  # printable ASCII, as appkeys are
            continue
        if char == " ":
            kind = "a space"
        elif char == "\t":
            kind = "a tab"
        elif char in "\r\n":
            kind = "a line break"
        elif ord(char) < 0x80:
            kind = f"a control character (U+{ord(char):04X})"
        else:
            name = unicodedata.name(char, "")
            kind = f"a non-ASCII character (U+{ord(char):04X}{' ' + name if name else ''})"
        raise SysmonUsageError(
            f"The appkey has {kind} inside it, which no appkey has: copy it again from the "
            "console (Compute > System Monitoring > URL & Appkey), as one word."
        )
    return key


class _JSONFault(NamedTuple):
    """Where and how a body that starts as JSON stops being JSON."""

    #: True: the body ends before its JSON is complete; False: a byte in it is wrong.
    cut: bool
    #: The byte offset of the fault (for a cut body, its length).
    at: int
    reason: str


def _json_fault(body: bytes) -> _JSONFault | None:
    """How a body that json cannot read is broken; None if it is not JSON at all (or is JSON).

    Only a body that starts with ``{`` or ``[`` counts as broken JSON: an HTML page or a gateway's
    plain text is no JSON at all, which points to a wrong URL rather than to a damaged answer.
    """
    if body.lstrip()[:1] not in (b"{", b"["):
        return None
    try:
        text = body.decode("utf-8")  # what JSON over HTTP must be, and what Prometheus sends
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data":  # cut in the middle of a character
            return _JSONFault(True, len(body), "in the middle of a character")
        byte = body[exc.start]
        if exc.reason == "invalid start byte":
            return _JSONFault(False, exc.start, f"byte 0x{byte:02x} is not UTF-8")
        # The decoder names where the broken character starts, not the byte that broke it.
        return _JSONFault(
            False, exc.start, f"the character that starts with byte 0x{byte:02x} is not UTF-8"
        )
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        rest = text[exc.pos :].rstrip()
        # json names a string that never ends by where it starts, a cut \uXXXX escape by its
        # `u`, and a cut number or literal by where the token starts: all run to the end.
        # ("Extra data" is a complete value followed by more: never a cut.)
        if exc.msg.startswith("Extra data"):
            pass
        elif (
            exc.msg.startswith("Unterminated string")
            or (exc.msg.startswith("Invalid \\uXXXX") and re.fullmatch(r"u[0-9a-fA-F]{0,4}", rest))
            or _PARTIAL_TOKEN.fullmatch(rest)
        ):
            return _JSONFault(True, len(body), exc.msg)
        return _JSONFault(False, len(text[: exc.pos].encode("utf-8")), exc.msg)
    return None


class _Secret:
    """A string that shows itself masked wherever it is printed: repr, str, vars(), debuggers."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"<secret {mask_secret(self._value)}>"

    __str__ = __repr__

    def __reduce__(self) -> str:
        raise TypeError("An appkey is not pickled: it stays in this process's memory.")


class _BoundedRetry(Retry):
    """urllib3's Retry, with the wait a server may ask for (``Retry-After``) capped, so that the
    whole of a request's retries stays within about a minute."""

    MAX_RETRY_AFTER = 20.0

    def get_retry_after(self, response: Any) -> float | None:
        wait = super().get_retry_after(response)
        return None if wait is None else min(wait, self.MAX_RETRY_AFTER)

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: TracebackType | None = None,
    ) -> _BoundedRetry:
        if isinstance(error, urllib3.exceptions.SSLError):
            # A certificate that failed verification fails again: say so now, not in 3 s.
            raise urllib3.exceptions.MaxRetryError(_pool, url, error)
        return super().increment(method, url, response, error, _pool, _stacktrace)


@dataclass(frozen=True)
class _Answer:
    """The useful part of a successful Prometheus envelope."""

    data: Any
    warnings: list[str] = field(default_factory=list)
    infos: list[str] = field(default_factory=list)
    elapsed: float = 0.0


class Client:
    """A connection to a Prometheus-compatible HTTP API.

    Parameters
    ----------
    base_url
        The API root, the part before ``/api/v1``: ``https://kr1-api-sysmon.cloud.toast.com/prometheus``
        or ``http://127.0.0.1:9090``.
    appkey
        The NHN Cloud project appkey, sent as the ``X-TC-APP-KEY`` header; ``None`` for a server
        without authentication. It is sent only over https, or over http to a loopback address.
    name
        What results name as their source (``frame.attrs["promql"]["source"]``); default: the URL.
    now
        Pin the clock (unix seconds) that ``now``, ``now-6h`` and default windows are read against,
        for reports that must give the same answer every day.
    timeout
        Seconds to wait for an answer (the read timeout); ``connect_timeout`` for the connection.
    max_points
        Target points per series when a range query's step is chosen automatically.
    max_parallel
        How many windows of a long range query are fetched at once.
    scrape_interval
        Seconds between the data's samples (60 for NHN Cloud); an automatic step is never finer
        (a finer one only repeats samples). ``None``: unknown, no floor;
        :meth:`measure_scrape_interval` can find it.
    verify
        TLS verification: ``True`` (default), the path of a CA bundle, or ``False`` (unsafe).
    compress
        Ask for compressed answers. Default: yes, except from a loopback address, where gzip
        costs the server more than it saves; say ``True`` for a tunnel (``ssh -L``,
        ``kubectl port-forward``) to a distant server.
    session
        A ``requests.Session`` to send through (retries, proxies and TLS settings are then yours).
    recording, replaying
        A :class:`~sysmon_magic.recording.Recording` that stores every exchange, or, with
        ``replaying=True``, answers them instead of the server (see :meth:`from_recording`).

    Examples
    --------
    >>> client = Client.for_region("kr1", appkey=os.environ["SYSMON_APPKEY"])  # doctest: +SKIP
    >>> client.query_range('rate(node_cpu_seconds_total{mode="user"}[5m])', "now-6h", "now")
    """

    def __init__(
        self,
        base_url: str,
        appkey: str | None = None,
        *,
        name: str | None = None,
        now: float | None = None,
        timeout: float = 60.0,
        connect_timeout: float = 5.0,
        max_points: int = 1000,
        max_parallel: int = 4,
        scrape_interval: float | None = None,
        verify: bool | str = True,
        compress: bool | None = None,
        session: requests.Session | None = None,
        recording: Recording | None = None,
        replaying: bool = False,
    ) -> None:
        appkey = _checked_appkey(appkey)
        parts = urlsplit(base_url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SysmonUsageError(
                f"Cannot use {base_url!r} as a Prometheus API URL: give http(s)://host[:port][/path], "
                "the part before /api/v1."
            )
        if parts.username or parts.password:
            # A URL is shown and recorded (provenance, listings, recordings): no secret in it.
            raise SysmonUsageError(
                f"Remove the user name and password from the URL of {parts.hostname}: URLs are "
                "shown and recorded; the appkey travels in its header instead."
            )
        if appkey and parts.scheme != "https" and not _is_loopback(parts.hostname):
            raise SysmonUsageError(
                f"Refusing to send the appkey over plain http to {parts.hostname}: use https "
                "(plain http is allowed only to 127.0.0.1 / localhost)."
            )
        self.base_url = base_url.strip().rstrip("/")
        self.host = parts.netloc
        self.name = name or self.base_url
        self.pinned_now = now
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.max_points = max_points
        self.max_parallel = max_parallel
        self.scrape_interval = scrape_interval
        self.verify = verify
        self._appkey = _Secret(appkey) if appkey else None
        # gzip saves bandwidth that a loopback connection does not lack; compressing a month of
        # samples (~100 MB of JSON) costs the local server seconds, four times the query itself.
        if compress is None:
            compress = not _is_loopback(parts.hostname or "")
        self._encoding = requests.utils.DEFAULT_ACCEPT_ENCODING if compress else "identity"
        self._session = session or self._default_session()
        self._owns_session = session is None
        self.recording = recording
        self.replaying = replaying and recording is not None
        if recording is not None and not self.replaying:
            recording.connection = {
                **recording.connection,
                "name": self.name,
                "now": self.pinned_now,
                "scrape_interval": self.scrape_interval,
            }

    @classmethod
    def for_region(
        cls,
        region: str,
        appkey: str | None = None,
        *,
        overrides: Mapping[str, str] | None = None,
        **options: Any,
    ) -> Client:
        """A client for an NHN Cloud region (kr1, kr2, us1, jp1, gov)."""
        options["name"] = options.get("name") or region.strip().lower()
        options["scrape_interval"] = options.get("scrape_interval") or SCRAPE_INTERVAL
        return cls(region_api_root(region, overrides), appkey, **options)

    @classmethod
    def from_recording(cls, path: str | os.PathLike[str], **options: Any) -> Client:
        """A client that answers from a recording: no network, no appkey, the recorded clock."""
        recording = Recording.load(path)
        info = recording.connection
        options.setdefault("name", info.get("name") or "replay")
        options.setdefault("now", recording.now)
        options.setdefault("scrape_interval", info.get("scrape_interval"))
        # A loopback placeholder: a replaying client never opens a connection.
        return cls("http://127.0.0.1/replay", recording=recording, replaying=True, **options)

    @staticmethod
    def _default_session() -> requests.Session:
        session = requests.Session()
        retry = _BoundedRetry(
            total=3,
            connect=3,
            read=0,  # a read timeout has already cost the full timeout: do not multiply it
            status=3,
            redirect=0,
            status_forcelist=(429, 502, 503, 504),
            allowed_methods=frozenset({"GET", "POST"}),  # every call here is a read
            backoff_factor=0.5,
            backoff_max=8,
            backoff_jitter=0.5,  # clients retrying in step would hit a throttled gateway together
            respect_retry_after_header=True,
            raise_on_status=False,
            raise_on_redirect=False,
        )
        adapter = HTTPAdapter(max_retries=retry)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    # -- plumbing --------------------------------------------------------------------------

    @property
    def masked_appkey(self) -> str:
        """The appkey as it may be shown: at most its last 4 characters."""
        return mask_secret(self._appkey.reveal() if self._appkey else None)

    @property
    def has_appkey(self) -> bool:
        """Whether requests carry an appkey."""
        return self._appkey is not None

    def now(self) -> float:
        """The client's clock: the pinned time if there is one, else the wall clock."""
        return time.time() if self.pinned_now is None else self.pinned_now

    def close(self) -> None:
        """Close the HTTP session if this client created it."""
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self.base_url!r}, name={self.name!r}, appkey={self.masked_appkey!r})"

    def _scrub(self, text: str) -> str:
        """Remove the appkey from text that came from elsewhere (a server's message)."""
        return text.replace(self._appkey.reveal(), "****") if self._appkey else text

    def _call(
        self,
        endpoint: str,
        params: Sequence[tuple[str, str]],
        *,
        timeout: float | None = None,
        get_only: bool = False,
    ) -> _Answer:
        """Answer one API request: from the recording when replaying, else over HTTP."""
        if self.recording is not None and self.replaying:
            data, warnings, infos = self.recording.answer(endpoint, params)
            return _Answer(data, warnings, infos, elapsed=0.0)
        answer = self._fetch(endpoint, params, timeout=timeout, get_only=get_only)
        if self.recording is not None:
            self.recording.store(endpoint, params, answer.data, answer.warnings, answer.infos)
        return answer

    def _fetch(
        self,
        endpoint: str,
        params: Sequence[tuple[str, str]],
        *,
        timeout: float | None,
        get_only: bool,
    ) -> _Answer:
        """Send one API request and return the envelope's data, or raise a typed error."""
        return self._read_envelope(*self._send(endpoint, params, timeout, get_only))

    def _send(
        self,
        endpoint: str,
        params: Sequence[tuple[str, str]],
        timeout: float | None,
        get_only: bool,
    ) -> tuple[requests.Response, bytes, str, float]:
        """Send one API request: the response, its whole body, the URL and the time it took."""
        url = f"{self.base_url}/api/v1/{endpoint}"
        headers = {
            "User-Agent": _USER_AGENT,
            "Accept": "application/json",
            "Accept-Encoding": self._encoding,
        }
        if self._appkey:
            headers[APPKEY_HEADER] = self._appkey.reveal()
        read_timeout = self.timeout if timeout is None else timeout
        use_get = get_only or len(url) + 1 + len(urlencode(params)) <= _MAX_GET_URL
        started = time.perf_counter()
        # urllib3 retries what fails before an answer; an answer cut off in its body is retried
        # here (Retry cannot express it: the body is read after urllib3 has returned).
        for attempt in range(_BODY_ATTEMPTS):
            try:
                with warnings.catch_warnings():
                    if self.verify is False:  # the user was warned once, when connecting
                        warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
                    response = self._session.request(
                        "GET" if use_get else "POST",
                        url,
                        params=params if use_get else None,
                        data=None if use_get else list(params),
                        headers=headers,
                        timeout=(self.connect_timeout, read_timeout),
                        allow_redirects=False,  # the appkey must never follow a redirect elsewhere
                        verify=self.verify,
                    )
                body = response.content
                break
            except requests.exceptions.ChunkedEncodingError:
                if attempt + 1 == _BODY_ATTEMPTS:
                    raise self._cut_off() from None
            except requests.exceptions.ContentDecodingError as exc:
                # The answer arrived whole but its bytes are not what Content-Encoding says:
                # a second try gets the same bytes, and "Cannot connect" would be untrue.
                raise self._undecodable(exc, url) from None
            except requests.exceptions.RequestException as exc:
                if _connection_reason(exc) not in _CUT_OFF or attempt + 1 == _BODY_ATTEMPTS:
                    raise self._transport_error(exc, read_timeout) from None
        return response, body, url, time.perf_counter() - started

    def _cut_off(self) -> TransportError:
        return TransportError(
            f"The connection to {self.host} broke off in the middle of the answer, twice: run "
            "it again; if it keeps happening, narrow the query.",
            host=self.host,
        )

    def _undecodable(
        self, exc: requests.exceptions.ContentDecodingError, url: str
    ) -> ResponseFormatError:
        """The one-line reason for an answer whose compressed body cannot be decompressed."""
        text = str(exc)
        # requests says "Received response with content-encoding: gzip, but failed to decode
        # it.", then zlib's or brotli's reason ("... while decompressing data: incorrect header
        # check"); both are worth showing, neither is promised, so fall back quietly.
        found = re.search(r"content-encoding: ([\w.-]+)", text)
        encoding = found.group(1) if found else "compressed"
        found = re.search(r"decompressing data: ([^'\"()]+)", text)
        reason = f": {found.group(1).strip()}" if found else ""
        if self._encoding == "identity":
            message = (
                f"{self.host} sent a {encoding} answer although none was asked for, and it cannot "
                f"be decompressed ({encoding}{reason}): the server or a proxy in front of it is "
                "damaging answers; report it to whoever runs them."
            )
        else:
            message = (
                f"The answer from {self.host} could not be decompressed ({encoding}{reason}): "
                "a proxy in between probably altered it; run it again, or connect with "
                "compress=False to ask for uncompressed answers."
            )
        # No status: requests decodes the body before it hands over the response.
        return ResponseFormatError(message, url=url)

    def _transport_error(
        self, exc: requests.exceptions.RequestException, read_timeout: float
    ) -> TransportError:
        """The one-line reason for a request that got no complete answer."""
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            message = (
                f"No connection to {self.host} within {self.connect_timeout:g}s: check the "
                "address, your network or VPN, and that the server is up."
            )
        elif isinstance(exc, requests.exceptions.ReadTimeout) or isinstance(
            # With read retries used up, requests reports a read timeout as a ConnectionError.
            getattr(exc.args[0] if exc.args else None, "reason", None),
            urllib3.exceptions.ReadTimeoutError,
        ):
            message = (
                f"{self.host} did not answer within {read_timeout:g}s: narrow the query (a "
                "shorter range, a larger step, fewer series) or raise --timeout."
            )
        else:
            message = (
                f"Cannot connect to {self.host} ({_connection_reason(exc)}): check the URL or "
                "region, your network or VPN, and that the server is running."
            )
        return TransportError(message, host=self.host)

    def _read_envelope(
        self, response: requests.Response, body: bytes, url: str, elapsed: float
    ) -> _Answer:
        status = response.status_code
        if 300 <= status < 400:
            target = urlsplit(response.headers.get("Location", "")).netloc or self.host
            raise APIError(
                f"{self.host} redirected the request to {target} (HTTP {status}); sysmon-magic "
                "does not follow redirects, so the appkey stays with the host you chose: connect "
                "to the final URL directly.",
                status=status,
                url=url,
            )
        if status == 401:
            raise AuthError(
                f"The appkey was rejected by {self.host} (HTTP 401{self._nhn_message(body)}): copy "
                "it from the console (Compute > System Monitoring > URL & Appkey) into "
                "$SYSMON_APPKEY, or name another variable with --appkey-env.",
                status=status,
                url=url,
            )
        if status == 403:
            raise AuthError(
                f"The project is not accessible with this appkey (HTTP 403 from {self.host}"
                f"{self._nhn_message(body)}): check that the appkey belongs to the project you "
                "want and that System Monitoring is enabled for it.",
                status=status,
                url=url,
            )
        try:
            envelope = json.loads(body)
        except ValueError:
            # A gateway's status explains its broken body better than the body does.
            fault = None if status in _GATEWAY_ADVICE else _json_fault(body)
            if fault is not None:
                raise self._broken_json(fault, response, body, url) from None
            envelope = None
        if not isinstance(envelope, dict) or envelope.get("status") not in ("success", "error"):
            raise self._not_prometheus(status, body, url)
        if envelope["status"] == "error":
            raise self._query_error(envelope, status, url)
        if "data" not in envelope:
            raise self._not_prometheus(status, body, url)
        return _Answer(
            data=envelope["data"],
            warnings=self._messages(envelope.get("warnings")),
            infos=self._messages(envelope.get("infos")),
            elapsed=elapsed,
        )

    def _messages(self, value: Any) -> list[str]:
        """Server warnings or infos as strings, whatever shape a server sent them in."""
        if not value:
            return []
        items = value if isinstance(value, list) else [value]
        return [self._scrub(str(item)) for item in items]

    def _nhn_message(self, body: bytes) -> str:
        """``: <resultMessage>`` from an NHN Cloud error envelope, if the body is one."""
        try:
            message = json.loads(body)["header"]["resultMessage"]
        except (ValueError, KeyError, TypeError):
            return ""
        return f": {self._scrub(str(message))[:_BODY_START_CHARS]}" if message else ""

    def _body_start(self, body: bytes) -> str:
        """The start of a body, on one line and without the appkey, to show in a message."""
        start = self._scrub(" ".join(body[:1000].decode("utf-8", "replace").split()))
        return start[:_BODY_START_CHARS] + ("..." if len(start) > _BODY_START_CHARS else "")

    def _excerpt(self, body: bytes, start: int, end: int) -> str:
        """``body[start:end]`` quoted on one line, without the appkey (``...`` if not the start)."""
        while start < end and body[start] & 0xC0 == 0x80:
            start += 1  # begin at a whole character, not in the middle of one
        text, cursor = "", start
        if self._appkey:
            # Every copy of the key that overlaps the excerpt, also one that straddles an edge
            # (of which a plain scrub of the excerpt would leave a piece), becomes ****.
            key = self._appkey.reveal().encode()  # printable ASCII: see _checked_appkey
            at = body.find(key, max(0, start - len(key) + 1), end + len(key) - 1)
            while at != -1 and at < end:
                text += body[cursor : max(cursor, at)].decode("utf-8", "replace") + "****"
                cursor = at + len(key)
                at = body.find(key, cursor, end + len(key) - 1)
        text += body[cursor:end].decode("utf-8", "replace")
        return ("..." if start > 0 else "") + repr(text)

    def _broken_json(
        self, fault: _JSONFault, response: requests.Response, body: bytes, url: str
    ) -> ResponseFormatError:
        """The one-line reason for an answer whose JSON ends early or has a wrong byte in it."""
        status = response.status_code
        where = f"{self.host}" + ("" if status == 200 else f" (HTTP {status})")
        encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
        compressed = encoding not in ("", "identity")
        if fault.cut:
            tail = self._excerpt(body, max(0, fault.at - _EXCERPT_BYTES), fault.at)
            # Advice to turn compression off only if it was asked for: else it is off already.
            uncompressed = compressed and self._encoding != "identity"
            message = (
                f"The answer from {where} was cut off at byte {fault.at}"
                + (f" of its decompressed {encoding} body" if compressed else "")
                + f" (it ends {tail}): the transfer ended normally, but the JSON stops before it "
                "is complete. Run it again; if it keeps happening, the server or a proxy in front "
                "of it is ending answers early: narrow the query (a shorter range, a larger step, "
                "fewer series)" + (", or connect with compress=False" if uncompressed else "") + "."
            )
        else:
            upto = self._excerpt(body, max(0, fault.at - _EXCERPT_BYTES), fault.at + 1)
            message = (
                f"The answer from {where} is not valid JSON at byte {fault.at} ({fault.reason}; "
                f"up to and including that byte: {upto}): the server or a proxy in front of it "
                "sent a damaged answer. Run it again; if it keeps happening, report it to "
                "whoever runs the server."
            )
        return ResponseFormatError(
            message, status=status, url=url, body_start=self._body_start(body)
        )

    def _not_prometheus(self, status: int, body: bytes, url: str) -> ResponseFormatError:
        start = self._body_start(body)
        advice = _GATEWAY_ADVICE.get(status, "is the URL the API root, the part before /api/v1?")
        shown = f": {start!r}" if start else " (empty body)"
        return ResponseFormatError(
            f"HTTP {status} from {self.host} is not a Prometheus answer ({advice}){shown}",
            status=status,
            url=url,
            body_start=start,
        )

    def _query_error(self, envelope: Mapping[str, Any], status: int, url: str) -> QueryError:
        error_type = str(envelope.get("errorType", ""))
        server_message = self._scrub(str(envelope.get("error", "")))
        if error_type == "bad_data":
            message = f"Bad query: {server_message}"
        elif error_type == "timeout":
            message = (
                f"The query timed out on the server ({server_message}): narrow it (a shorter "
                "range, a larger step, fewer series) or raise --timeout."
            )
        elif error_type == "canceled":
            message = f"The server canceled the query ({server_message}): run it again."
        else:
            message = (
                f"The server could not run the query ({error_type or status}): {server_message}"
            )
        return QueryError(
            message,
            error_type=error_type,
            server_message=server_message,
            status=status,
            url=url,
        )

    def _time(self, value: TimeLike) -> float:
        return parse_time(value, self.now())

    def _provenance(self, answer: _Answer, **window: Any) -> dict[str, Any]:
        return {
            **window,
            "warnings": answer.warnings,
            "infos": answer.infos,
            "source": self.name,
            "elapsed": round(answer.elapsed, 3),
            "replayed": self.replaying,
        }

    # -- endpoints -------------------------------------------------------------------------

    def query(
        self,
        promql: str,
        time: TimeLike | None = None,
        *,
        timeout: float | None = None,
        fmt: frames.FrameFormat = "tidy",
    ) -> pd.DataFrame:
        """Evaluate an instant query at ``time`` (default: now); a row per series.

        Rows come in the order of their labels unless the query orders them (``sort``, ``topk``
        ...): Prometheus returns some instant results in a different order each time.
        """
        at = self.now() if time is None else self._time(time)
        params = [("query", promql), ("time", _number(at))]
        params += _timeout_param(timeout)
        answer = self._call("query", params, timeout=_read_timeout(timeout, self.timeout))
        data = answer.data
        if not _ORDERING.search(promql):
            data = _by_labels(data)
        frame = frames.frame_from_data(data, fmt)
        frame.attrs["promql"] = self._provenance(
            answer, query=promql, time=at, result_type=answer.data.get("resultType")
        )
        return frame

    def query_range(
        self,
        promql: str,
        start: TimeLike,
        end: TimeLike | None = None,
        step: float | str | None = None,
        *,
        timeout: float | None = None,
        fmt: frames.FrameFormat = "tidy",
        progress: Callable[[int, int], None] | None = None,
    ) -> pd.DataFrame:
        """Evaluate a range query; ``step`` (seconds or ``"1m"``) is chosen if not given.

        More than 11,001 points per series are fetched as step-aligned windows, ``max_parallel``
        at a time, and merged; ``progress(done, total)`` hears of each window. If a window still
        fails after its retries, the whole query fails with an error that names the window.
        """
        start_s = self._time(start)
        end_s = self.now() if end is None else self._time(end)
        step_s = (
            _step_seconds(step)
            if step is not None
            else auto_step(end_s - start_s, self.max_points, self.scrape_interval or 0.0)
        )
        windows = split_range(start_s, end_s, step_s)
        read_timeout = _read_timeout(timeout, self.timeout)

        def fetch(window: tuple[float, float]) -> _Answer:
            params = [
                ("query", promql),
                ("start", _number(window[0])),
                ("end", _number(window[1])),
                ("step", _number(step_s)),
                *_timeout_param(timeout),
            ]
            return self._call("query_range", params, timeout=read_timeout)

        if self.recording is None:
            # Straight from the bytes (no Python object per sample), each window in its thread.
            def fast(window: tuple[float, float]) -> tuple[pd.DataFrame, _Answer]:
                return self._fast_range(promql, window, step_s, timeout, fmt)

            if len(windows) == 1:
                frame, answer = fast(windows[0])
            else:
                parts = self._fetch_windows(windows, fast, progress)
                frame = frames.concat_windows([f for f, _ in parts], fmt)
                answer = _Answer(
                    data={"resultType": "matrix"},
                    warnings=list(dict.fromkeys(w for _, a in parts for w in a.warnings)),
                    infos=list(dict.fromkeys(i for _, a in parts for i in a.infos)),
                    elapsed=max(a.elapsed for _, a in parts),
                )
        else:
            # Recording or replaying (the recording keeps parsed data), or several windows.
            if len(windows) == 1:
                answer = fetch(windows[0])
            else:
                answers = self._fetch_windows(windows, fetch, progress)
                answer = _Answer(
                    data=_merge_matrices([a.data for a in answers]),
                    warnings=list(dict.fromkeys(w for a in answers for w in a.warnings)),
                    infos=list(dict.fromkeys(i for a in answers for i in a.infos)),
                    elapsed=max(a.elapsed for a in answers),
                )
            frame = frames.frame_from_data(answer.data, fmt)
        frame.attrs["promql"] = self._provenance(
            answer,
            query=promql,
            start=start_s,
            end=end_s,
            step=step_s,
            result_type=answer.data.get("resultType"),
        )
        return frame

    def _fast_range(
        self,
        promql: str,
        window: tuple[float, float],
        step: float,
        timeout: float | None,
        fmt: frames.FrameFormat,
    ) -> tuple[pd.DataFrame, _Answer]:
        """One range query converted by :mod:`~sysmon_magic.fastjson` from the raw body."""
        from .fastjson import frame_from_body

        params = [
            ("query", promql),
            ("start", _number(window[0])),
            ("end", _number(window[1])),
            ("step", _number(step)),
            *_timeout_param(timeout),
        ]
        sent = self._send("query_range", params, _read_timeout(timeout, self.timeout), False)
        response, body, _, elapsed = sent
        found = frame_from_body(body, fmt) if response.status_code == 200 else None
        if found is None or found.frame is None or not isinstance(found.envelope, dict):
            # Not a plain success: the envelope reader names what it is (or it is data after all).
            answer = self._read_envelope(*sent)
            return frames.frame_from_data(answer.data, fmt), answer
        envelope = found.envelope
        answer = _Answer(
            data=envelope.get("data", {}),
            warnings=self._messages(envelope.get("warnings")),
            infos=self._messages(envelope.get("infos")),
            elapsed=elapsed,
        )
        return found.frame, answer

    def _fetch_windows(
        self,
        windows: Sequence[tuple[float, float]],
        fetch: Callable[[tuple[float, float]], _Part],
        progress: Callable[[int, int], None] | None,
    ) -> list[_Part]:
        """Fetch windows in parallel: all of them, in order, or an error naming the one that failed."""
        results: list[_Part | None] = [None] * len(windows)
        with ThreadPoolExecutor(max_workers=max(1, self.max_parallel)) as pool:
            futures = {pool.submit(fetch, window): n for n, window in enumerate(windows)}
            try:
                for done, future in enumerate(as_completed(futures), start=1):
                    n = futures[future]
                    try:
                        results[n] = future.result()
                    except SysmonError as exc:
                        start, end = windows[n]
                        exc.args = (
                            f"Window {n + 1} of {len(windows)} ({format_time(start)} to "
                            f"{format_time(end)}) failed, so nothing is returned: {exc}",
                        )
                        raise
                    if progress is not None:
                        progress(done, len(windows))
            finally:
                for future in futures:
                    future.cancel()  # after a failure, do not start the windows still queued
        return [r for r in results if r is not None]

    def series(
        self,
        match: str | Iterable[str],
        start: TimeLike | None = None,
        end: TimeLike | None = None,
    ) -> pd.DataFrame:
        """The series matching one or more selectors: a row per series, a column per label."""
        params = [("match[]", m) for m in _matchers(match)] + self._window(start, end)
        answer = self._call("series", params)
        frame = frames.series_frame(answer.data)
        frame.attrs["promql"] = self._provenance(answer, match=_matchers(match))
        return frame

    def labels(
        self,
        match: str | Iterable[str] | None = None,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
    ) -> list[str]:
        """All label names (of the series matching ``match``, if given)."""
        params = [("match[]", m) for m in _matchers(match)] + self._window(start, end)
        return _strings(self._call("labels", params).data, "labels")

    def label_values(
        self,
        name: str,
        match: str | Iterable[str] | None = None,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
    ) -> list[str]:
        """All values of the label ``name`` (of the series matching ``match``, if given)."""
        if not name or "/" in name:
            raise SysmonUsageError(f"{name!r} is not a label name.")
        params = [("match[]", m) for m in _matchers(match)] + self._window(start, end)
        answer = self._call(f"label/{name}/values", params, get_only=True)
        return _strings(answer.data, "label values")

    def metadata(self, metric: str | None = None) -> pd.DataFrame:
        """Type, help and unit of every metric (or of one): columns metric, type, help, unit."""
        params = [("metric", metric)] if metric else []
        answer = self._call("metadata", params, get_only=True)
        return frames.metadata_frame(answer.data)

    def check(self) -> float:
        """Check that the server answers and accepts the appkey; return the round trip in seconds."""
        # Straight to the server: a health check is not part of what a recording replays.
        params = [("query", "1"), ("time", _number(self.now()))]
        return self._fetch("query", params, timeout=None, get_only=False).elapsed

    def measure_scrape_interval(self) -> float | None:
        """The data's sample interval, measured: ``None`` if there are no samples to measure.

        Counts the samples that each series of ``up`` (every scraping Prometheus has it; else
        the server's first metric) has in the last hour, among the series that already had one
        an hour ago (a younger series would count fewer), takes the median, and rounds
        ``3600 / count`` to the nearest usual interval; a server younger than an hour is
        measured over the last 10 minutes, or the last one. Not recorded: a replay reads the
        interval from the recording's connection.
        """
        now = self.now()
        at = _number(now)
        metrics = ["up"]
        names = self._fetch(
            "label/__name__/values",
            [("start", _number(now - 3600)), ("end", at)],
            timeout=None,
            get_only=True,
        )
        metrics += [name for name in _strings(names.data, "metric names")[:1] if name != "up"]
        for metric in metrics:
            for window in (3600, 600, 60):
                span = format_duration(window)
                query = (
                    f"quantile(0.5, count_over_time({metric}[{span}]) and {metric} offset {span})"
                )
                answer = self._fetch(
                    "query", [("query", query), ("time", at)], timeout=None, get_only=False
                )
                result = answer.data.get("result") if isinstance(answer.data, dict) else None
                count = float(result[0]["value"][1]) if result else 0.0
                if count >= 4:  # enough samples for the count's +-1 not to matter
                    seconds = window / count
                    return min(_USUAL_INTERVALS, key=lambda usual: abs(math.log(usual / seconds)))
        return None

    def _window(self, start: TimeLike | None, end: TimeLike | None) -> list[tuple[str, str]]:
        params = []
        if start is not None:
            params.append(("start", _number(self._time(start))))
        if end is not None:
            params.append(("end", _number(self._time(end))))
        return params


def _by_labels(data: Any) -> Any:
    """An instant vector's series sorted by their labels (anything else as it came)."""
    if not isinstance(data, dict) or data.get("resultType") != "vector":
        return data
    try:
        ordered = sorted(data["result"], key=lambda s: sorted(s["metric"].items()))
    except (KeyError, TypeError, AttributeError):
        return data  # malformed: the conversion reports it
    return {**data, "result": ordered}


def _merge_matrices(parts: Sequence[Any]) -> dict[str, Any]:
    """One matrix from the windows' matrices, in time order: each series' samples joined."""
    merged: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}
    for part in parts:
        if not isinstance(part, dict) or part.get("resultType") != "matrix":
            raise ResponseFormatError("A window of a split range query did not answer a matrix.")
        for series in part.get("result", []):
            key = tuple(sorted(series.get("metric", {}).items()))
            into = merged.setdefault(key, {"metric": series.get("metric", {})})
            for member in ("values", "histograms"):
                if member in series:
                    into.setdefault(member, []).extend(series[member])
    return {"resultType": "matrix", "result": [merged[key] for key in sorted(merged)]}


def _number(value: float) -> str:
    """Format seconds for the API: no exponent, no needless decimals, millisecond precision."""
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _step_seconds(step: float | str) -> float:
    return parse_duration(step) if isinstance(step, str) else float(step)


def _timeout_param(timeout: float | None) -> list[tuple[str, str]]:
    return [("timeout", format_duration(timeout))] if timeout is not None else []


def _read_timeout(timeout: float | None, default: float) -> float:
    # Give the server its own timeout plus a margin to report it, rather than cutting it off.
    return default if timeout is None else timeout + 5.0


def _matchers(match: str | Iterable[str] | None) -> list[str]:
    if match is None:
        return []
    return [match] if isinstance(match, str) else list(match)


def _strings(data: Any, what: str) -> list[str]:
    if not isinstance(data, list) or not all(isinstance(item, str) for item in data):
        raise ResponseFormatError(f"The server's {what} are not a list of strings.")
    return data


def _connection_reason(exc: requests.exceptions.RequestException) -> str:
    text = str(exc)
    for needle, reason in (
        ("Connection refused", "connection refused"),
        ("Name or service not known", "unknown host name"),
        ("nodename nor servname", "unknown host name"),
        ("Temporary failure in name resolution", "host name lookup failed"),
        ("Connection reset", "connection reset"),
        ("RemoteDisconnected", "connection closed by the server"),
        ("Network is unreachable", "network unreachable"),
        ("CERTIFICATE_VERIFY_FAILED", "TLS certificate not trusted"),
        ("SSLError", "TLS error"),
    ):
        if needle in text:
            return reason
    return type(exc).__name__
