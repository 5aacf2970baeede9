"""The API's parameters, as a :class:`~sysmon_magic.client.Client` writes and checks them.

Pure, apart from the endpoints: how seconds, steps and timeouts are written in a request, how
long a request may take when the server has its own ``timeout``, how selectors become
``match[]`` values, and which engine parameters (``params=``) a client may be given and which
endpoints take them. Tests use :func:`format_seconds` to write a window's time as the client
sends it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .errors import SysmonUsageError
from .timeparse import format_duration, parse_duration

__all__ = [
    "ENGINE_ENDPOINTS",
    "as_matchers",
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
