"""HTTP: the session, the appkey, retries, and a deadline and a size limit on every answer.

:class:`HTTPTransport` sends one API request and returns the whole answer as a
:class:`~sysmon_magic.envelope.Raw` (status, headers, decompressed body), or raises a typed
:mod:`~sysmon_magic.errors` exception. What it guarantees:

- **A total deadline** (``timeout``), not only one per read: a watchdog shuts the connection's
  socket when it passes, so a server that trickles its headers or body ends in a
  :class:`~sysmon_magic.errors.DeadlineError` near the timeout (a read timeout alone bounds each
  read, and a 1 byte/s server held a 5 s query for minutes).
- **A size limit** (``max_response_bytes``, compressed and decompressed): an endless body ends in
  a :class:`~sysmon_magic.errors.ResponseTooLargeError` naming the limit, not a ``MemoryError``.
- **Cancellation**: a :class:`Cancel` shared by the windows of one query aborts those in flight
  at once (Ctrl-C during a split query returns within about a second).
- **Retries** of what is worth another try: a connection refused or reset, 429/502/503/504
  (``Retry-After`` honoured, capped), a body cut off; with jittered backoff, within the deadline.
- **The appkey** travels only in its header, over https or to a loopback address, never through
  a proxy in clear: loopback requests bypass proxies from the environment; https goes through
  one only as a CONNECT tunnel, which carries the TLS session, not the header. In memory it is a
  :class:`Secret`, and as a header value a ``str`` whose ``repr`` is masked, so that no
  traceback that shows locals (``pytest -l``, ``%xmode Verbose``) shows the key. Secret headers
  (a tenant, a bearer token: ``secret_headers``) are held and sent the same way; plain ones
  (``headers``, checked by :func:`checked_headers`) are sent as they are.
- Bodies are read in large pieces (a megabyte at a time, not requests' 10 KB), so that windows
  fetched in parallel do not queue for the interpreter lock.
"""

from __future__ import annotations

import dataclasses
import random
import re
import threading
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlencode, urlsplit

import requests
import urllib3

from .bodies import TooLarge, read_body, read_to_its_end
from .credentials import (
    APPKEY_HEADER,
    Secret,
    checked_appkey,
    checked_headers,
    is_loopback,
    mask_secret,
)
from .envelope import Answer, Raw
from .errors import (
    DeadlineError,
    ResponseFormatError,
    ResponseTooLargeError,
    TransportError,
)
from .watchdog import Cancel, Cancelled, Expired, Watch, default_session

# The secrets and their checks are credentials.py's, the deadline and cancellation watchdog.py's;
# their names stay importable from here.
__all__ = [
    "APPKEY_HEADER",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "Cancel",
    "Cancelled",
    "HTTPTransport",
    "Request",
    "Secret",
    "Transport",
    "checked_appkey",
    "checked_headers",
    "is_loopback",
    "mask_secret",
]

#: The largest answer read, compressed or not: a month of 100 per-minute series is ~100 MB.
DEFAULT_MAX_RESPONSE_BYTES = 1 << 30
USER_AGENT = "sysmon-magic/0.1"

# Above this many characters of URL a query goes as a form-encoded POST: proxies and servers
# commonly cap request lines at 4-8 KiB, and Prometheus reads POST bodies only as forms.
_MAX_GET_URL = 2000
_RETRY_STATUSES = frozenset({429, 502, 503, 504})
_ATTEMPTS = 4  # one try and three retries, as urllib3's Retry(total=3) did
_CUT_OFF_ATTEMPTS = 2  # a body cut off is tried once more
_MAX_RETRY_AFTER = 20.0  # a server may ask to wait; the whole request stays within its deadline
_BACKOFF = 0.5  # seconds before the first retry, doubled each time, jittered
_BACKOFF_MAX = 8.0
# Reasons that mean the server went away mid-answer: worth one more try.
_CUT_OFF = frozenset({"connection reset", "connection closed by the server"})


@dataclass(frozen=True)
class Request:
    """One API request: ``/api/v1/<endpoint>`` with its parameters."""

    endpoint: str
    params: tuple[tuple[str, str], ...]
    #: Seconds for the whole answer: connecting, waiting, reading, retrying.
    timeout: float
    #: Endpoints that take no POST (``/label/.../values``, ``/metadata``).
    get_only: bool = False


class Transport(Protocol):
    """Where answers come from: HTTP, or a recording (``recording.py``)."""

    #: True when answers come from a recording, not a server.
    replays: bool

    def send(self, request: Request, cancel: Cancel | None = None) -> Raw | Answer:
        """The answer to ``request``: as read (``Raw``) or already parsed (``Answer``)."""

    def close(self) -> None:
        """Release connections."""


class HTTPTransport:
    """Answers over HTTP(S) from one API root.

    Parameters
    ----------
    base_url
        The API root, the part before ``/api/v1``.
    appkey
        Sent as the ``X-TC-APP-KEY`` header when given.
    verify
        TLS verification: ``True``, a CA bundle's path, or ``False``.
    connect_timeout
        Seconds to open a connection (within the request's own deadline).
    compress
        Ask for gzip; ``None``: except from a loopback address.
    max_response_bytes
        The largest answer read, compressed or decompressed.
    session
        A ``requests.Session`` to send through. Its adapters are its own: a deadline then ends
        a request between reads, not in the middle of one.
    headers, secret_headers
        More headers for every request, as :func:`checked_headers` returns them.
    """

    replays = False

    def __init__(
        self,
        base_url: str,
        appkey: Secret | None = None,
        *,
        verify: bool | str = True,
        connect_timeout: float = 5.0,
        compress: bool | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        session: requests.Session | None = None,
        headers: Mapping[str, str] | None = None,
        secret_headers: Mapping[str, Secret] | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        self.base_url = base_url.rstrip("/")
        self.host = parts.netloc
        self.verify = verify
        self.connect_timeout = connect_timeout
        self.max_response_bytes = max_response_bytes
        self._appkey = appkey
        self._headers = dict(headers or {})
        self._secret_headers = dict(secret_headers or {})
        self._loopback = is_loopback(parts.hostname or "")
        # gzip saves bandwidth that a loopback connection does not lack; compressing a month of
        # samples (~100 MB of JSON) costs the local server seconds, four times the query itself.
        self.compress = (not self._loopback) if compress is None else compress
        self._session = session or default_session()
        self._owns_session = session is None

    def close(self) -> None:
        if self._owns_session:
            self._session.close()

    def send(self, request: Request, cancel: Cancel | None = None) -> Raw:
        """The whole answer to ``request``, retried where that may help, within its timeout."""
        url = f"{self.base_url}/api/v1/{request.endpoint}"
        use_get = request.get_only or len(url) + 1 + len(urlencode(request.params)) <= _MAX_GET_URL
        started = time.monotonic()
        deadline = started + request.timeout
        cut_offs = 0
        for attempt in range(_ATTEMPTS):
            wait = _backoff(attempt)
            try:
                raw = self._attempt(request, url, use_get, deadline, cancel)
            except _Retryable as retry:
                if retry.cut_off:
                    cut_offs += 1
                if attempt + 1 == _ATTEMPTS or cut_offs >= _CUT_OFF_ATTEMPTS:
                    raise retry.error from None
                error: TransportError | None = retry.error
            else:
                if raw.status not in _RETRY_STATUSES or attempt + 1 == _ATTEMPTS:
                    return _with_elapsed(raw, time.monotonic() - started)
                error = None
                wait = _retry_after(raw.headers.get("retry-after"), wait)
            if time.monotonic() + wait >= deadline:
                # No time for another try: what there is now is the answer.
                if error is not None:
                    raise error
                return _with_elapsed(raw, time.monotonic() - started)
            if (cancel.wait(wait) if cancel is not None else _sleep(wait)) or _cancelled(cancel):
                raise Cancelled
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _attempt(
        self,
        request: Request,
        url: str,
        use_get: bool,
        deadline: float,
        cancel: Cancel | None,
    ) -> Raw:
        headers = {
            "Accept": "application/json",
            "Accept-Encoding": requests.utils.DEFAULT_ACCEPT_ENCODING
            if self.compress
            else "identity",
            **self._headers,
            **{name: secret.header() for name, secret in self._secret_headers.items()},
        }
        if not any(name.lower() == "user-agent" for name in headers):  # a gateway may want its own
            headers["User-Agent"] = USER_AGENT
        if self._appkey is not None:
            headers[APPKEY_HEADER] = self._appkey.header()
        remaining = min(deadline - time.monotonic(), threading.TIMEOUT_MAX)
        if remaining <= 0:
            raise self._deadline(request.timeout)
        with Watch(deadline, cancel) as watch:
            try:
                with warnings.catch_warnings():
                    if self.verify is False:  # the user was warned once, when connecting
                        warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
                    response = self._session.request(
                        "GET" if use_get else "POST",
                        url,
                        params=list(request.params) if use_get else None,
                        data=None if use_get else list(request.params),
                        headers=headers,
                        timeout=(min(self.connect_timeout, remaining), remaining),
                        allow_redirects=False,  # the appkey must never follow a redirect elsewhere
                        verify=self.verify,
                        stream=True,
                        # A loopback server is reached directly, never through a proxy from the
                        # environment (which would see the appkey in clear).
                        proxies=dict(_NO_PROXY) if self._loopback else None,
                    )
                reusable = False
                try:
                    body = read_body(response, watch, self.max_response_bytes)
                    reusable = read_to_its_end(response)
                except TooLarge as exc:
                    raise self._too_large(exc.how) from None
                finally:
                    if reusable and watch.detach():
                        # Kept open for the next request, as requests keeps a connection whose
                        # answer was read whole: no new TCP and TLS handshake for each query.
                        response.raw.release_conn()
                    else:
                        response.close()  # the connection too: a body left unread, a fault
            except requests.exceptions.RequestException as exc:
                if watch.cancelled:
                    raise Cancelled from None
                if watch.expired:
                    raise self._deadline(request.timeout) from None
                raise self._classify(exc, request.timeout) from None
            except Expired:
                raise self._deadline(request.timeout) from None
            except (OSError, urllib3.exceptions.HTTPError):
                # A socket shut by the watch can surface as a bare OSError or urllib3 error.
                if watch.cancelled:
                    raise Cancelled from None
                if watch.expired:
                    raise self._deadline(request.timeout) from None
                raise
        return Raw(
            status=response.status_code,
            headers={name.lower(): value for name, value in response.headers.items()},
            body=body,
            url=url,
            compression_asked=self.compress,
        )

    def _too_large(self, how: str) -> ResponseTooLargeError:
        limit = self.max_response_bytes
        return ResponseTooLargeError(
            f"The answer from {self.host} {how} than max_response_bytes={limit:,} "
            f"({limit / 2**20:,.0f} MiB): narrow the query (a shorter range, a larger step, fewer "
            "series), or raise max_response_bytes=.",
            limit=limit,
        )

    def _deadline(self, timeout: float) -> DeadlineError:
        return DeadlineError(
            f"{self.host} did not answer within {timeout:g}s: narrow the query (a shorter "
            "range, a larger step, fewer series) or raise timeout=.",
            host=self.host,
            timeout=timeout,
        )

    def _classify(
        self, exc: requests.exceptions.RequestException, timeout: float
    ) -> _Retryable | TransportError | ResponseFormatError:
        """The typed error for a request that got no complete answer, or one worth retrying."""
        if isinstance(exc, requests.exceptions.ContentDecodingError):
            # The answer arrived whole but its bytes are not what Content-Encoding says: a
            # second try gets the same bytes, and "Cannot connect" would be untrue.
            return self._undecodable(exc)
        if isinstance(exc, requests.exceptions.ChunkedEncodingError):
            return _Retryable(self._cut_off(), cut_off=True)
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return _Retryable(
                TransportError(
                    f"No connection to {self.host} within {self.connect_timeout:g}s: check the "
                    "address, your network or VPN, and that the server is up.",
                    host=self.host,
                )
            )
        if isinstance(exc, requests.exceptions.ReadTimeout) or isinstance(
            getattr(exc.args[0] if exc.args else None, "reason", None),
            urllib3.exceptions.ReadTimeoutError,
        ):
            # A read timeout has already cost the whole timeout: not retried.
            return self._deadline(timeout)
        reason = _connection_reason(exc)
        error = TransportError(
            f"Cannot connect to {self.host} ({reason}): check the URL or region, your network "
            "or VPN, and that the server is running.",
            host=self.host,
        )
        if reason in _CUT_OFF:
            return _Retryable(self._cut_off(), cut_off=True)
        if reason.startswith("TLS"):
            return error  # a certificate that failed verification fails again
        return _Retryable(error)

    def _cut_off(self) -> TransportError:
        return TransportError(
            f"The connection to {self.host} broke off in the middle of the answer, twice: run "
            "it again; if it keeps happening, narrow the query.",
            host=self.host,
        )

    def _undecodable(self, exc: requests.exceptions.ContentDecodingError) -> ResponseFormatError:
        """The one-line reason for an answer whose compressed body cannot be decompressed."""
        text = str(exc)
        # requests says "Received response with content-encoding: gzip, but failed to decode
        # it.", then zlib's or brotli's reason ("... while decompressing data: incorrect header
        # check"); both are worth showing, neither is promised, so fall back quietly.
        found = re.search(r"content-encoding: ([\w.-]+)", text)
        encoding = found.group(1) if found else "compressed"
        found = re.search(r"decompressing data: ([^'\"()]+)", text)
        reason = f": {found.group(1).strip()}" if found else ""
        if not self.compress:
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
        return ResponseFormatError(message)


class _Retryable(Exception):
    """A failed attempt that another may fix; ``error`` is raised if none does."""

    def __init__(self, error: TransportError, *, cut_off: bool = False) -> None:
        super().__init__(str(error))
        self.error = error
        self.cut_off = cut_off


# Every scheme mapped to no proxy: requests then never takes one from the environment.
_NO_PROXY: Mapping[str, str] = {"http": "", "https": "", "all": ""}


def _backoff(attempt: int) -> float:
    """Seconds before retry ``attempt + 1``: doubling, jittered so that clients retrying in step
    do not hit a throttled gateway together."""
    return min(_BACKOFF * 2**attempt, _BACKOFF_MAX) * (0.5 + random.random())


def _retry_after(value: str | None, default: float) -> float:
    """A ``Retry-After`` in seconds (capped); the backoff when it is absent or a date."""
    try:
        return min(max(float(value or ""), 0.0), _MAX_RETRY_AFTER)
    except ValueError:
        return default


def _sleep(seconds: float) -> bool:
    time.sleep(seconds)
    return False


def _cancelled(cancel: Cancel | None) -> bool:
    return cancel is not None and cancel.cancelled


def _with_elapsed(raw: Raw, elapsed: float) -> Raw:
    return dataclasses.replace(raw, elapsed=elapsed)


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
