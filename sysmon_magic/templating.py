"""Expand ``$var`` / ``${var}`` and Grafana's ``$__range``, ``$__interval``, ``$__rate_interval``.

Dashboard queries paste as they are; ``$$`` is a literal ``$``. Nothing else in the query is
touched: ``{job="x"}`` is PromQL, never a Python expression.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from .errors import SysmonUsageError
from .timeparse import format_duration

__all__ = ["expand", "grafana_macros", "rate_interval"]

# ``$$`` (escape), ``${name}`` or ``$name``; a ``$`` followed by anything else (``"foo$"``) stays.
# RE2's special characters; each gets a backslash, itself escaped inside a PromQL string.
_REGEX_SPECIAL = re.compile(r"[\\.+*?()|\[\]{}^$]")
_VARIABLE_RE = re.compile(r"\$(?:(\$)|\{([A-Za-z_]\w*)\}|([A-Za-z_]\w*))")


def rate_interval(step: float, scrape_interval: float) -> float:
    """Grafana's ``$__rate_interval``: ``max(step + scrape interval, 4 x scrape interval)``."""
    return max(step + scrape_interval, 4 * scrape_interval)


def grafana_macros(*, range_seconds: float, step: float, scrape_interval: float) -> dict[str, str]:
    """The values of Grafana's global macros for a window and a step."""
    return {
        "__range": format_duration(range_seconds),
        "__range_s": str(round(range_seconds)),
        "__range_ms": str(round(range_seconds * 1000)),
        "__interval": format_duration(step),
        "__interval_ms": str(round(step * 1000)),
        "__rate_interval": format_duration(rate_interval(step, scrape_interval)),
    }


def expand(
    query: str, variables: Mapping[str, Any], macros: Mapping[str, str] | None = None
) -> str:
    """Replace ``$name`` and ``${name}`` with values from ``macros`` first, then ``variables``.

    A list, tuple or set becomes a regex alternation ``(a|b)`` of regex-escaped values, as
    Grafana formats multi-value variables for Prometheus, to use with ``=~``.
    """
    macros = macros or {}
    missing: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        escaped, braced, bare = match.groups()
        if escaped:
            return "$"
        name = braced or bare
        if name in macros:
            return macros[name]
        if name in variables:
            return _format_value(variables[name])
        missing.append(name)
        return match.group(0)

    expanded = _VARIABLE_RE.sub(substitute, query)
    if missing:
        names = ", ".join(f"${name}" for name in dict.fromkeys(missing))
        raise SysmonUsageError(
            f"Undefined template variable {names}: assign it in Python first "
            "(or write $$ for a literal $)."
        )
    return expanded


def _format_value(value: Any) -> str:
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value) if isinstance(value, (set, frozenset)) else value
        return _alternation(str(item) for item in items)
    return str(value)


def _alternation(values: Iterable[str]) -> str:
    escaped = [_REGEX_SPECIAL.sub(r"\\\\\g<0>", value) for value in values]
    if not escaped:
        raise SysmonUsageError(
            "A template variable holds an empty list: give it at least one value."
        )
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"
