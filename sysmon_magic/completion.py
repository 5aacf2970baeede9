"""Tab completion for PromQL: what to offer at the cursor, and where the names come from.

Pure logic plus a small per-connection cache; the IPython side (a Matcher API v2 function) is
in :mod:`sysmon_magic.magics`. Names come from the connection: metric names from
``/label/__name__/values``, label names from ``/labels``, values from ``/label/<name>/values``,
each narrowed to the metric being written when there is one, and cached for ``ttl`` seconds.
"""

from __future__ import annotations

import difflib
import re
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from .errors import SysmonError
from .promql import FUNCTIONS, KEYWORDS, metric_names

if TYPE_CHECKING:
    from .query_client import QueryClient

__all__ = ["FUNCTIONS", "Names", "complete", "complete_cell", "unknown_metrics"]


# A label matcher whose quoted value is still open at the cursor ("...", '...' or `...`).
_STRING_VALUE = re.compile(r"([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)\s*([\"'`])((?:(?!\2)[^\\]|\\.)*)$")
_OPEN_BRACE = re.compile(r"([A-Za-z_:][\w:]*)?\s*\{([^{}]*)$")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)$")
_PARTIAL = re.compile(r"[A-Za-z_:][\w:]*$")


class Names:
    """Metric, label and value names of one connection, cached for ``ttl`` seconds."""

    def __init__(self, client: QueryClient, *, ttl: float = 60.0, window: float = 6 * 3600) -> None:
        self.client = client
        self.ttl = ttl
        self.window = window
        self._cache: dict[tuple[str, str | None], tuple[float, list[str]]] = {}

    def _cached(self, key: tuple[str, str | None], fetch: Callable[[], list[str]]) -> list[str]:
        hit = self._cache.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        values = fetch()
        self._cache[key] = (time.monotonic() + self.ttl, values)
        return values

    def _bounds(self) -> tuple[float, float]:
        now = self.client.now()
        return now - self.window, now

    def metrics(self) -> list[str]:
        return self._cached(
            ("metrics", None), lambda: self.client.label_values("__name__", None, *self._bounds())
        )

    def labels(self, metric: str | None) -> list[str]:
        return self._cached(
            ("labels", metric),
            lambda: [
                name for name in self.client.labels(metric, *self._bounds()) if name != "__name__"
            ],
        )

    def values(self, label: str, metric: str | None) -> list[str]:
        return self._cached(
            (f"values:{label}", metric),
            lambda: self.client.label_values(label, metric, *self._bounds()),
        )


def unknown_metrics(query: str, names: Names, start: float, end: float) -> dict[str, list[str]]:
    """The metrics ``query`` names that have no series from ``start`` to ``end``, each with the
    closest names the server knows (at most three, most alike first)."""
    known = names.metrics()
    missing = {}
    for name in metric_names(query):
        if name in known or names.client.label_values("__name__", name, start, end):
            continue  # known, or not in the last hours but there in the query's window
        missing[name] = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    return missing


def complete(text: str, names: Names) -> tuple[str, list[tuple[str, str]]]:
    """What to offer for PromQL ``text`` that ends at the cursor.

    Returns the fragment being completed (a suffix of ``text``) and ``(completion, type)``
    pairs whose texts start with it; type is ``metric``, ``label``, ``value``, ``function`` or
    ``keyword``.
    """
    value = _STRING_VALUE.search(text)
    brace = _OPEN_BRACE.search(text)
    if value and brace and brace.end() == len(text):
        label, partial = value.group(1), value.group(3)
        return partial, _starting(partial, names.values(label, brace.group(1)), "value")
    partial_match = _PARTIAL.search(text)
    partial = partial_match.group(0) if partial_match else ""
    if brace:
        return partial, _starting(partial, names.labels(brace.group(1)), "label")
    if _GROUPING.search(text):
        return partial, _starting(partial, names.labels(None), "label")
    if not partial:
        return "", []
    return partial, [
        *_starting(partial, names.metrics(), "metric"),
        *_starting(partial, FUNCTIONS, "function"),
        *_starting(partial, KEYWORDS, "keyword"),
    ]


def _starting(prefix: str, candidates: Iterable[str], kind: str) -> list[tuple[str, str]]:
    return [(name, kind) for name in candidates if name.startswith(prefix)]


def complete_cell(
    full_text: str, cursor_line: int, text_until_cursor: str, names: Names | None
) -> tuple[str, list[tuple[str, str]]] | None:
    """What to offer in a %%promql cell's body or after %promql: the fragment and the offers.

    None when the cursor is in neither, or there is no connection (``names`` is None). It never
    raises: names that cannot be listed offer nothing.
    """
    lines = full_text.split("\n")
    if lines and lines[0].lstrip().startswith("%%promql") and cursor_line > 0:
        text = "\n".join([*lines[1:cursor_line], text_until_cursor])
    else:
        start = text_until_cursor.find("%promql ")
        if start < 0:
            return None
        text = text_until_cursor[start + len("%promql ") :]
    if names is None:
        return None
    try:
        return complete(text, names)
    except SysmonError:
        return "", []  # a completion must never raise; offer nothing instead
