"""The API's parameters as a :class:`~sysmon_magic.client.Client` writes them, and the
arguments that decide them, checked.

Pure (nothing here sends a request): how seconds, steps and timeouts are written in a
request, how long a request may take when the server has its own ``timeout``, how selectors
become ``match[]`` values; and, checked when a client is made, the API root URL (no
credentials in it, secrets only over https or to a loopback address), the engine parameters
(``params=``, and which endpoints take them) and the server's point limit. Tests use :func:`format_seconds` to
write a window's time as the client sends it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from .credentials import is_loopback
from .errors import SysmonUsageError
from .timeparse import format_duration, parse_duration

__all__ = [
    "ENGINE_ENDPOINTS",
    "as_matchers",
    "checked_base_url",
    "checked_max_points",
    "checked_params",
    "format_seconds",
    "request_deadline",
    "step_seconds",
    "timeout_param",
]

# Endpoints that take the engine parameters (``params=``).
ENGINE_ENDPOINTS = frozenset({"query", "query_range"})
# Parameters the client sets on those endpoints itself.
_OWN_PARAMS = frozenset({"query", "time", "start", "end", "step", "timeout"})


def format_seconds(value: float) -> str:
    """Format seconds for the API: no exponent, no needless decimals, millisecond precision."""
    return f"{value:.3f}".rstrip("0").rstrip(".")


def step_seconds(step: float | str) -> float:
    """A step in seconds, given as seconds or as a duration (``"1m"``)."""
    return parse_duration(step) if isinstance(step, str) else float(step)


def timeout_param(timeout: float | None) -> list[tuple[str, str]]:
    """The server's own ``timeout`` parameter, if one is given."""
    return [("timeout", format_duration(timeout))] if timeout is not None else []


def request_deadline(timeout: float | None, default: float) -> float:
    """How long a request may take: ``default``, or the server's ``timeout`` and a margin."""
    # Give the server its own timeout plus a margin to report it, rather than cutting it off.
    return default if timeout is None else timeout + 5.0


def checked_params(params: Mapping[str, str] | None) -> dict[str, str]:
    """Engine parameters, checked: string names and values, none the client sets itself."""
    if not isinstance(params, Mapping | None):  # e.g. from a recording edited by hand
        raise SysmonUsageError(
            f"params= takes names and values (a dict), not a {type(params).__name__}."
        )
    checked: dict[str, str] = {}
    for name, value in (params or {}).items():
        if not isinstance(name, str) or not name.strip():
            raise SysmonUsageError(f"{name!r} cannot be a parameter name: give a word, e.g. dedup.")
        if name in _OWN_PARAMS:
            raise SysmonUsageError(
                f"The parameter {name} cannot be given in params=: the client sets it for each "
                "request, from the query's own arguments."
            )
        if not isinstance(value, str):
            raise SysmonUsageError(
                f"The parameter {name} needs a string value ({name}={str(value).lower()!r}?), "
                f"not {type(value).__name__}: it is sent as text, as written."
            )
        checked[name] = value
    return checked


def as_matchers(match: str | Iterable[str] | None) -> list[str]:
    """The ``match[]`` values of one selector, several, or none."""
    if match is None:
        return []
    return [match] if isinstance(match, str) else list(match)


def checked_base_url(base_url: str, secret_sent: str | None) -> tuple[str, str]:
    """An API root URL, checked, and its host (``host[:port]``).

    ``secret_sent`` names what secret requests carry (``"the appkey"``), or is None: a secret
    is sent only over https or to a loopback address.
    """
    # Without a user name and password, which the URL may hold (refused below).
    shown = re.sub(r"(?<=//)[^/]*@", "", base_url.strip())
    unusable = SysmonUsageError(
        f"Cannot use {shown!r} as a Prometheus API URL: give http(s)://host[:port][/path], "
        "the part before /api/v1."
    )
    try:
        parts = urlsplit(base_url.strip())
        hostname = parts.hostname
        parts.port  # noqa: B018 - checked here, not by four retries of "Cannot connect"
    except ValueError:  # "http://[::1": a bracket that never closes; a port not in 0-65535
        raise unusable from None
    if parts.scheme not in ("http", "https") or not hostname:
        raise unusable
    if parts.username or parts.password:
        # A URL is shown and recorded (provenance, listings, recordings): no secret in it.
        raise SysmonUsageError(
            f"Remove the user name and password from the URL of {hostname}: URLs are "
            "shown and recorded; the appkey travels in its header instead."
        )
    if secret_sent and parts.scheme != "https" and not is_loopback(hostname):
        raise SysmonUsageError(
            f"Refusing to send {secret_sent} over plain http to {hostname}: use https "
            "(plain http is allowed only to 127.0.0.1 / localhost)."
        )
    return base_url.strip().rstrip("/"), parts.netloc


def checked_max_points(max_points_per_series: int) -> int:
    """The most points per series a server returns, checked: a positive whole number."""
    if isinstance(max_points_per_series, bool) or not (
        isinstance(max_points_per_series, int) and max_points_per_series > 0
    ):
        raise SysmonUsageError(
            f"max_points_per_series= is the most points per series the server returns, a "
            f"positive whole number (Prometheus 11001, VictoriaMetrics 30000), not "
            f"{max_points_per_series!r}."
        )
    return max_points_per_series
