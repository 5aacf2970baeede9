"""Ad-hoc filters: a dashboard's ``adhoc`` variables hold label filters (``instance = web-03:9100``)
that Grafana's Prometheus data source adds to every selector of every panel's queries.

A filter is written as in PromQL (``instance="web-03:9100"``, ``mode=~"user|system"``; quotes may be
left out), or as in a Grafana URL (``var-filters=instance|=|web-03:9100``). The operators are
PromQL's: ``=``, ``!=``, ``=~`` and ``!~``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from ..errors import SysmonUsageError
from ..promql import escape_string, selectors

__all__ = ["Filter", "add_filters", "filter_text", "parse_filters", "read_filters"]

#: One filter: ``(label, operator, value)``.
Filter = tuple[str, str, str]
OPERATORS = ("=", "!=", "=~", "!~")
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
# label op value, the value quoted ("...", '...') or bare up to the next comma.
_WRITTEN = re.compile(
    r"""\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|[^,]*?)\s*(?:,|$)"""
)
_URL = re.compile(r"^([^|]+)\|(=~|!~|!=|=|[<>])\|(.*)$", re.S)


def filter_text(item: Filter) -> str:
    """A filter as the matcher it adds: ``instance="web-03:9100"``."""
    label, operator, value = item
    return f'{label}{operator}"{escape_string(value)}"'


def _checked(label: str, operator: str, value: str, name: str) -> Filter:
    if not _LABEL.fullmatch(label):
        raise SysmonUsageError(f"${name}: {label!r} is not a label name a filter can use.")
    if operator not in OPERATORS:
        raise SysmonUsageError(
            f"${name}: the filter {label} {operator} {value} uses {operator!r}, which PromQL "
            f"selectors do not have: use one of {', '.join(OPERATORS)}."
        )
    return label, operator, value


def _unquoted(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m[1], m[1]), value[1:-1])
    return value


def parse_filters(value: str | Sequence[str], name: str) -> list[Filter]:
    """Filters as given to ``set()``, ``--var`` or the widget: one text of comma-separated
    matchers, or a list with one filter per item. An empty text is no filter."""
    items = [value] if isinstance(value, str) else list(value)
    found: list[Filter] = []
    for item in items:
        if not item.strip():
            continue
        url = _URL.match(item.strip())
        if url:
            found.append(_checked(url[1].strip(), url[2], url[3], name))
            continue
        position, text = 0, item.strip()
        while position < len(text):
            match = _WRITTEN.match(text, position)
            if not match or match.end() == position:
                raise SysmonUsageError(
                    f'${name} takes filters as label="value" (=, !=, =~, !~), separated by '
                    f"commas, or Grafana's label|=|value: not {item!r}."
                )
            found.append(_checked(match[1], match[2], _unquoted(match[3]), name))
            position = match.end()
    return found


def read_filters(listed: Any, name: str) -> list[Filter]:
    """The filters saved in an ``adhoc`` variable's JSON (``filters``: key, operator, value)."""
    found = []
    for item in listed if isinstance(listed, list) else []:
        if isinstance(item, dict) and item.get("key"):
            operator = str(item.get("operator") or "=")
            found.append(_checked(str(item["key"]), operator, str(item.get("value") or ""), name))
    return found


def add_filters(expr: str, filters: Iterable[Filter]) -> str:
    """``expr`` with the filters' matchers in every vector selector (``up`` ->
    ``up{instance="web-03:9100"}``); a selector that has one of them already keeps it once."""
    terms = [filter_text(f) for f in filters]
    if not terms:
        return expr
    pieces = []
    last = 0
    for start, end, brace in selectors(expr):
        if brace is None:
            pieces.append(expr[last:end] + "{" + ", ".join(terms) + "}")
        else:
            inside = expr[start:brace]
            present = {re.sub(r"\s+", "", t) for t in inside.split("{", 1)[-1].split(",")}
            added = [t for t in terms if t not in present]
            if not added:
                pieces.append(expr[last:end])
            else:
                separator = "" if inside.rstrip().endswith(("{", ",")) else ", "
                pieces.append(expr[last:brace] + separator + ", ".join(added) + "}")
        last = end
    pieces.append(expr[last:])
    return "".join(pieces)
