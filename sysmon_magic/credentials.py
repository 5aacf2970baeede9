"""The appkey and other secrets: held masked, checked before they travel, never shown.

A :class:`Secret` shows itself masked in every repr, str and traceback, and refuses pickling; as
a header value it is a ``str`` whose ``repr`` is masked. :func:`checked_appkey` and
:func:`checked_headers` refuse, in one line that quotes no secret, what would fail later inside
requests or http.client. Pure: no HTTP here (``requests`` is slow to import, and a connection
made from a notebook needs a :class:`Secret` before any request).
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Mapping

from .errors import SysmonUsageError

__all__ = [
    "APPKEY_HEADER",
    "Secret",
    "checked_appkey",
    "checked_headers",
    "is_loopback",
    "mask_secret",
]

APPKEY_HEADER = "X-TC-APP-KEY"


def mask_secret(secret: str | None) -> str:
    """Show at most the last 4 characters of a secret, and none of a short one."""
    if not secret:
        return "(none)"
    return "****" + secret[-4:] if len(secret) >= 16 else "****"


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) is this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def checked_appkey(appkey: str | Secret | None) -> Secret | None:
    """The appkey as a :class:`Secret`, without surrounding whitespace; refused if what is
    left cannot be one.

    A key pasted from a file or set from ``$(cat key.txt)`` often keeps its newline, which
    requests refuses as a header value (and reports as a connection failure). Inside the key, a
    space or control character is a paste error, and a non-ASCII character (an em dash, a
    zero-width space) cannot travel in an HTTP header at all. The messages never quote the key,
    and no frame of a traceback holds it as text once this has begun: a traceback that prints
    locals (``pytest -l``, ``%xmode Verbose``) shows the secret masked.
    """
    secret = appkey if isinstance(appkey, Secret) else Secret(appkey) if appkey else None
    del appkey
    if secret is None:
        return None
    return secret.stripped_appkey()


def _kind_of(char: str) -> str:
    """What a character that does not belong is, named without showing the text around it."""
    if char == " ":
        return "a space"
    if char == "\t":
        return "a tab"
    if char in "\r\n":
        return "a line break"
    if ord(char) < 0x80:
        return f"a control character (U+{ord(char):04X})"
    name = unicodedata.name(char, "")
    return f"a non-ASCII character (U+{ord(char):04X}{' ' + name if name else ''})"


# RFC 9110's token: what a header name may be made of.
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_SENT_BY_HTTP = "the HTTP client sets it for each request itself"
#: Headers the transport sets, and why a value of the caller's would break the request.
_OWN_HEADERS: Mapping[str, str] = {
    APPKEY_HEADER.lower(): "it carries the appkey: give the appkey itself, which is then kept "
    "masked and off plain http",
    "accept-encoding": "compress= decides whether answers come compressed",
    "accept": "answers are read as JSON, which is what it asks for",
    "host": "it names the server of the URL: connect to the URL you mean",
    **dict.fromkeys(
        (
            "content-length",
            "content-type",
            "transfer-encoding",
            "connection",
            "keep-alive",
            "te",
            "trailer",
            "upgrade",
            "expect",
        ),
        _SENT_BY_HTTP,
    ),
}
#: Headers that carry credentials: a plain header is shown in listings and provenance.
_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


def checked_headers(
    headers: Mapping[str, str] | None = None, secret_headers: Mapping[str, str] | None = None
) -> tuple[dict[str, str], dict[str, Secret]]:
    """Extra request headers, checked: ``(headers, secret_headers)`` as the transport sends them.

    A name must be an HTTP token and a value printable ASCII (spaces inside allowed; whitespace
    around it, such as a newline kept from a file, is removed): anything else fails in requests
    or http.client as a traceback, or reaches servers that read it differently. The headers the
    transport sets itself are refused, as is a name given twice (in any case) and a credential
    (``Authorization``, ``Cookie``) among the plain ones, which are shown wherever the connection
    is. Messages never quote a secret value.
    """
    plain: dict[str, str] = {}
    secret: dict[str, Secret] = {}
    seen: set[str] = set()
    for given, is_secret in ((headers, False), (secret_headers, True)):
        if not isinstance(given, Mapping | None):  # e.g. from a recording edited by hand
            what = "secret_headers=" if is_secret else "headers="
            raise SysmonUsageError(
                f"{what} takes names and values (a dict), not a {type(given).__name__}."
            )
        for name, value in (given or {}).items():
            name = _checked_header_name(name)
            if name.lower() in seen:
                raise SysmonUsageError(f"The header {name} is given twice: give it once.")
            seen.add(name.lower())
            if name.lower() in _CREDENTIAL_HEADERS and not is_secret:
                raise SysmonUsageError(
                    f"The header {name} carries a credential: give it in secret_headers=, which "
                    "are never shown or recorded; headers= are shown with the connection and "
                    "under every result."
                )
            if is_secret:
                secret[name] = Secret(_checked_header_value(name, value, secret=True))
            else:
                plain[name] = _checked_header_value(name, value, secret=False)
    return plain, secret


def _checked_header_name(name: object) -> str:
    text = name.strip() if isinstance(name, str) else name
    if not isinstance(text, str) or not _HEADER_NAME.fullmatch(text):
        raise SysmonUsageError(
            f"{name!r} cannot be an HTTP header name: a name is letters, digits and - (no "
            "spaces, colons or other punctuation than !#$%&'*+.^_`|~)."
        )
    reason = _OWN_HEADERS.get(text.lower())
    if reason is not None:
        raise SysmonUsageError(f"The header {text} cannot be set: {reason}.")
    return text


def _checked_header_value(name: str, value: object, *, secret: bool) -> str:
    what = f"The {'secret ' if secret else ''}header {name}"
    if not isinstance(value, str):
        raise SysmonUsageError(f"{what} needs a string value, not {type(value).__name__}.")
    text = value.strip(" \t\r\n")
    if not text:
        raise SysmonUsageError(f"{what} has an empty value.")
    for position, char in enumerate(text, start=1):
        if " " <= char <= "~" or char == "\t":
            continue
        raise SysmonUsageError(
            f"{what} has {_kind_of(char)} in its value (character {position}), which an HTTP "
            "header cannot carry: headers are ASCII, on one line."
        )
    return text


class Secret:
    """A string that shows itself masked wherever it is printed: repr, str, vars(), debuggers."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def stripped_appkey(self) -> Secret:
        """This secret without surrounding whitespace, checked to be an appkey (see
        :func:`checked_appkey`); its locals hold one character at most."""
        if not self._value.strip():
            raise SysmonUsageError(
                "The appkey is blank (only whitespace): copy it again from the console (Compute "
                "> System Monitoring > URL & Appkey)."
            )
        for char in self._value.strip():
            if "!" <= char <= "~":  # printable ASCII, as appkeys are
                continue
            raise SysmonUsageError(
                f"The appkey has {_kind_of(char)} inside it, which no appkey has: copy it again "
                "from the console (Compute > System Monitoring > URL & Appkey), as one word."
            )
        return Secret(self._value.strip())

    def header(self) -> str:
        """The value for the header: sent as itself, shown masked in any frame's locals."""
        return _MaskedStr(self._value)

    def __repr__(self) -> str:
        return f"<secret {mask_secret(self._value)}>"

    __str__ = __repr__

    def __reduce__(self) -> str:
        raise TypeError("A secret is not pickled: it stays in this process's memory.")


class _MaskedStr(str):
    """A header value that http.client sends as is, and that ``repr`` shows masked."""

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(mask_secret(str.__str__(self)))
