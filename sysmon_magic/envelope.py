"""Bytes -> a Prometheus (or NHN Cloud) answer, or a typed error with a one-line message.

Pure: :class:`Reader` turns a :class:`Raw` HTTP answer (status, headers, body, as the transport
read it) into an :class:`Answer` (the envelope's ``data``, ``warnings``, ``infos``), or raises:

- 3xx: :class:`~sysmon_magic.errors.APIError` (redirects are never followed: the appkey stays
  with the host the user chose); 401/403: :class:`~sysmon_magic.errors.AuthError`, with NHN's
  ``resultMessage`` when the body has one;
- a Prometheus error envelope: :class:`~sysmon_magic.errors.QueryError`;
- anything else: :class:`~sysmon_magic.errors.ResponseFormatError`, which says whether the body
  was cut off (at byte N), broken (at byte N) or not JSON at all (then: is the URL the API
  root?), and quotes its start.

Every text that came from the server is scrubbed of the secrets sent (the appkey, secret
headers) before it is shown. VictoriaMetrics' ``isPartial: true`` becomes a warning.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, AnyStr, NamedTuple, Protocol
from urllib.parse import urlsplit

from .errors import APIError, AuthError, QueryError, ResponseFormatError


class Secret(Protocol):
    """What the reader needs of a secret (``transport.Secret`` is one): its value, to scrub."""

    def reveal(self) -> str: ...


__all__ = ["PARTIAL_WARNING", "Answer", "Raw", "Reader", "strings"]

_BODY_START_CHARS = 120
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
# Bytes of a broken body quoted around the place where it breaks.
_EXCERPT_BYTES = 24
# What may be left at the end of a body cut inside a number or a literal (json reports the place
# where the token starts): `-`, `1.`, `1e+` (json has read the `1`), `tr`, `nul`, `-Infin`.
_PARTIAL_TOKEN = re.compile(
    r"-?(?:\.[0-9]*)?(?:[eE][-+]?[0-9]*)?"
    r"|t(?:ru?)?|f(?:a(?:ls?)?)?|n(?:ul?)?|Na?|-?I(?:n(?:f(?:i(?:n(?:i(?:ty?)?)?)?)?)?)?"
)
#: VictoriaMetrics' ``"isPartial": true`` (cluster: a vmstorage node did not answer), said as
#: Prometheus says its warnings: the answer is not an error, but it may miss series.
PARTIAL_WARNING = (
    "The answer is partial (isPartial): some of the server's storage nodes did not answer, so "
    "series or samples may be missing. Run it again, or ask whoever runs the server."
)
#: What a gateway's status means, told instead of "is the URL the API root?" when its body is not
#: Prometheus JSON: the status says more about the cause than the body does.
GATEWAY_ADVICE = {
    413: "the request is too large: shorten the query or narrow the selector",
    429: "too many requests: wait a moment and run it again",
    502: "the gateway could not reach the server: try again shortly",
    503: "the service is unavailable: try again shortly",
    504: "the gateway timed out: narrow the query (shorter range, larger step)",
}


@dataclass(frozen=True)
class Raw:
    """An HTTP answer as the transport read it: whole, decompressed."""

    status: int
    headers: Mapping[str, str]  # names in lower case
    #: Not in the repr: a traceback that shows locals would print megabytes of it, and whatever
    #: the server echoed of a secret (the messages made from it are scrubbed; it is not).
    body: bytes = field(repr=False)
    url: str
    elapsed: float = 0.0
    #: Whether the request asked for a compressed answer (advice differs when it did not).
    compression_asked: bool = False


@dataclass(frozen=True)
class Answer:
    """The useful part of a successful Prometheus envelope."""

    data: Any
    warnings: list[str] = field(default_factory=list)
    infos: list[str] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def result_type(self) -> Any:
        """The data's ``resultType`` (``matrix``, ``vector`` ...); None for data without one."""
        return self.data.get("resultType") if isinstance(self.data, dict) else None


class _JSONFault(NamedTuple):
    """Where and how a body that starts as JSON stops being JSON."""

    #: True: the body ends before its JSON is complete; False: a byte in it is wrong.
    cut: bool
    #: The byte offset of the fault (for a cut body, its length).
    at: int
    reason: str


class Reader:
    """Reads the answers of one host, scrubbing its secrets from what it shows.

    ``appkey`` is the appkey sent, if any (it decides what a 401 or 403 is said to mean);
    ``secrets`` are the other secrets sent (secret headers): all are scrubbed alike.
    """

    def __init__(
        self, host: str, appkey: Secret | None = None, *, secrets: Iterable[Secret] = ()
    ) -> None:
        self.host = host
        self._appkey = appkey
        self._secrets = [secret for secret in (appkey, *secrets) if secret is not None]

    def scrub(self, text: str) -> str:
        """``text`` (from the server) with every copy of a secret replaced by ``****``."""
        shown, cursor = "", 0
        # In any case: a proxy that echoes headers upper-cased shows the key all the same.
        # (Secrets are ASCII, and ASCII-only lowering keeps every index where it was.)
        keys = [s.reveal().lower() for s in self._secrets]
        for first, after in _spans(text.translate(_ASCII_LOWER), keys, 0, len(text)):
            shown += text[cursor:first] + "****"
            cursor = after
        return shown + text[cursor:]

    def answer(self, raw: Raw) -> Answer:
        """The envelope's data, warnings and infos; a typed error for anything else."""
        status = raw.status
        if 300 <= status < 400:
            target = urlsplit(raw.headers.get("location", "")).netloc or self.host
            raise APIError(
                f"{self.host} redirected the request to {self.scrub(target)} (HTTP {status}); "
                "sysmon-magic does not follow redirects, so the appkey stays with the host you "
                "chose: connect to the final URL directly.",
                status=status,
                url=raw.url,
            )
        if status in (401, 403) and self._appkey is None:
            # No appkey sent: the server wants another credential, or a tenant (Mimir and Cortex
            # answer 401 "no org id" without X-Scope-OrgID), which its own message names.
            said = self._nhn_message(raw.body) or (
                f": {start!r}" if (start := self.body_start(raw.body)) else ""
            )
            raise AuthError(
                f"{self.host} refused the request (HTTP {status}{said}): it wants a tenant or "
                "a credential: give it in headers= (a tenant, such as X-Scope-OrgID for Mimir "
                "and Cortex or THANOS-TENANT for Thanos) or secret_headers=, or give an appkey.",
                status=status,
                url=raw.url,
            )
        if status == 401:
            raise AuthError(
                f"The appkey was rejected by {self.host} (HTTP 401{self._nhn_message(raw.body)}): "
                "copy it from the console (Compute > System Monitoring > URL & Appkey) into "
                "appkey=.",
                status=status,
                url=raw.url,
            )
        if status == 403:
            raise AuthError(
                f"The project is not accessible with this appkey (HTTP 403 from {self.host}"
                f"{self._nhn_message(raw.body)}): check that the appkey belongs to the project "
                "you want and that System Monitoring is enabled for it.",
                status=status,
                url=raw.url,
            )
        try:
            envelope = json.loads(raw.body)
        except ValueError:
            # A gateway's status explains its broken body better than the body does.
            fault = None if status in GATEWAY_ADVICE else json_fault(raw.body)
            if fault is not None:
                raise self._broken_json(fault, raw) from None
            envelope = None
        return self.envelope_answer(envelope, raw)

    def envelope_answer(self, envelope: Any, raw: Raw) -> Answer:
        """An already parsed envelope (the fast path parses its own) as an answer or an error."""
        if not isinstance(envelope, dict) or envelope.get("status") not in ("success", "error"):
            raise self._not_prometheus(raw)
        if envelope["status"] == "error":
            raise self._query_error(envelope, raw)
        if "data" not in envelope:
            raise self._not_prometheus(raw)
        warnings = self.messages(envelope.get("warnings"))
        if envelope.get("isPartial") is True:
            warnings.append(PARTIAL_WARNING)
        return Answer(
            data=envelope["data"],
            warnings=warnings,
            infos=self.messages(envelope.get("infos")),
            elapsed=raw.elapsed,
        )

    def messages(self, value: Any) -> list[str]:
        """Server warnings or infos as strings, whatever shape a server sent them in."""
        if not value:
            return []
        items = value if isinstance(value, list) else [value]
        return [self.scrub(str(item)) for item in items]

    def body_start(self, body: bytes) -> str:
        """The start of a body, on one line and without secrets, to show in a message."""
        # NULs dropped: a page in UTF-32 (or any encoding not recognised as such) shows a key
        # as c\x00\x00\x00a..., where no scrub would find it.
        start = self.scrub(" ".join(_text(body[:1000]).replace("\x00", "").split()))
        return start[:_BODY_START_CHARS] + ("..." if len(start) > _BODY_START_CHARS else "")

    def _nhn_message(self, body: bytes) -> str:
        """``: <resultMessage>`` from an NHN Cloud error envelope, if the body is one."""
        try:
            message = json.loads(body)["header"]["resultMessage"]
        except (ValueError, KeyError, TypeError):
            return ""
        return f": {self.scrub(str(message))[:_BODY_START_CHARS]}" if message else ""

    def _excerpt(self, body: bytes, start: int, end: int) -> str:
        """``body[start:end]`` quoted on one line, without secrets (``...`` if not the start)."""
        while start < end and body[start] & 0xC0 == 0x80:
            start += 1  # begin at a whole character, not in the middle of one
        # Every copy of a secret that overlaps the excerpt, also one that straddles an edge (of
        # which a plain scrub of the excerpt would leave a piece), becomes ****. Secrets are
        # printable ASCII (transport.checked_appkey, checked_headers): their bytes are the same.
        keys = [secret.reveal().encode().lower() for secret in self._secrets]
        # Lowered around the excerpt only (as far as a key reaches past it), not a whole body
        # of up to max_response_bytes for a few dozen bytes.
        reach = max(map(len, keys), default=1) - 1
        low = max(0, start - reach)
        near = body[low : end + reach].lower()
        text, cursor = "", start
        for first, after in _spans(near, keys, start - low, end - low):
            text += body[cursor : max(cursor, low + first)].decode("utf-8", "replace") + "****"
            cursor = low + after
        text += body[cursor:end].decode("utf-8", "replace")
        return ("..." if start > 0 else "") + repr(text)

    def _broken_json(self, fault: _JSONFault, raw: Raw) -> ResponseFormatError:
        """The one-line reason for an answer whose JSON ends early or has a wrong byte in it."""
        status, body = raw.status, raw.body
        where = f"{self.host}" + ("" if status == 200 else f" (HTTP {status})")
        encoding = raw.headers.get("content-encoding", "identity").strip().lower()
        compressed = encoding not in ("", "identity")
        if fault.cut:
            tail = self._excerpt(body, max(0, fault.at - _EXCERPT_BYTES), fault.at)
            # Advice to turn compression off only if it was asked for: else it is off already.
            uncompressed = compressed and raw.compression_asked
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
            message, status=status, url=raw.url, body_start=self.body_start(body)
        )

    def _not_prometheus(self, raw: Raw) -> ResponseFormatError:
        start = self.body_start(raw.body)
        advice = GATEWAY_ADVICE.get(raw.status, "is the URL the API root, the part before /api/v1?")
        shown = f": {start!r}" if start else " (empty body)"
        return ResponseFormatError(
            f"HTTP {raw.status} from {self.host} is not a Prometheus answer ({advice}){shown}",
            status=raw.status,
            url=raw.url,
            body_start=start,
        )

    def _query_error(self, envelope: Mapping[str, Any], raw: Raw) -> QueryError:
        # errorType is the server's text too: a server (or a proxy) may echo anything in it.
        error_type = self.scrub(str(envelope.get("errorType", "")))
        server_message = self.scrub(str(envelope.get("error", "")))
        if error_type == "bad_data":
            message = f"Bad query: {server_message}"
        elif error_type == "timeout":
            message = (
                f"The query timed out on the server ({server_message}): narrow it (a shorter "
                "range, a larger step, fewer series) or raise timeout=."
            )
        elif error_type == "canceled":
            message = f"The server canceled the query ({server_message}): run it again."
        else:
            message = (
                f"The server could not run the query ({error_type or raw.status}): {server_message}"
            )
        return QueryError(
            message,
            error_type=error_type,
            server_message=server_message,
            status=raw.status,
            url=raw.url,
        )


def _spans(
    haystack: AnyStr, needles: Iterable[AnyStr], start: int, end: int
) -> list[tuple[int, int]]:
    """Where the needles lie in ``haystack[start:end]``, also across its edges: in order, and
    overlapping copies (of one secret, or of two that share characters) merged into one."""
    found = []
    for needle in needles:
        at = haystack.find(needle, max(0, start - len(needle) + 1), end + len(needle) - 1)
        while needle and at != -1 and at < end:
            found.append((at, at + len(needle)))
            at = haystack.find(needle, at + 1, end + len(needle) - 1)
    merged: list[tuple[int, int]] = []
    for first, after in sorted(found):
        if merged and first < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], after))
        else:
            merged.append((first, after))
    return merged


def json_fault(body: bytes) -> _JSONFault | None:
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


def strings(data: Any, what: str) -> list[str]:
    """``data`` if it is a list of strings (label names, values), else a typed error."""
    if not isinstance(data, list) or not all(isinstance(item, str) for item in data):
        raise ResponseFormatError(f"The server's {what} are not a list of strings.")
    return data


def _text(body: bytes) -> str:
    """A body's start as text, in the encoding it looks written in.

    A UTF-16 page (some Windows proxies write their error pages so) decoded as UTF-8 reads as
    ``c\\x00a\\x00...``, in which a scrub would not find the appkey.
    """
    if body[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return body.decode("utf-16", "replace")
    if len(body) >= 4 and body[1:4:2] == b"\x00\x00" and body[0] and body[2]:
        return body.decode("utf-16-le", "replace")
    if len(body) >= 4 and body[0:4:2] == b"\x00\x00" and body[1] and body[3]:
        return body.decode("utf-16-be", "replace")
    return body.decode("utf-8", "replace")
