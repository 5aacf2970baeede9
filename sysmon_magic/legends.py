"""Which labels name a result's series: in legends, in the explorer's pickers, in titles.

Pure: label sets in, names out. A default legend uses the fewest labels that tell the series apart
(:func:`distinguishing_labels`), a picker every label that varies less those that vary one-to-one
with another (:func:`informative_labels`); ``legend=`` takes Grafana's ``legendFormat`` forms.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "AUTO_LEGEND",
    "distinguishing_labels",
    "informative_labels",
    "legend_grid",
    "legend_names",
    "series_labels",
    "series_name",
    "varying_labels",
]

_LEGEND_FIELD = re.compile(r"\{\{\s*(.+?)\s*\}\}")  # as Grafana reads {{ label }}
_FIGURE_CHARACTERS = 130  # legend characters that fit across a 10-inch figure at 8 points
#: Legend forms as in Grafana: "__auto" and "" (the full series name).
AUTO_LEGEND = "__auto"
# Labels whose combinations are tried exhaustively for the shortest legend; past this, greedily.
_EXHAUSTIVE_LABELS = 12


def series_labels(columns: pd.Index) -> list[dict[str, str]]:
    """Each wide column's labels, without the empty ones (a label the series does not have)."""
    names = [str(name) for name in columns.names]
    return [
        {
            name: str(value)
            for name, value in zip(names, key if isinstance(key, tuple) else (key,), strict=True)
            if str(value) != ""
        }
        for key in columns
    ]


def varying_labels(label_sets: Sequence[Mapping[str, str]]) -> list[str]:
    """The labels whose values differ between the series, in the order they first appear."""
    names = dict.fromkeys(name for labels in label_sets for name in labels)
    return [n for n in names if len({labels.get(n, "") for labels in label_sets}) > 1]


def _length(label_sets: Sequence[Mapping[str, str]], name: str) -> int:
    return sum(len(labels.get(name, "")) for labels in label_sets)


def informative_labels(label_sets: Sequence[Mapping[str, str]]) -> list[str]:
    """The labels worth a picker: those that vary, less those that vary one-to-one with another
    kept label (the service's ``openmetrics_id`` with ``instance``: the shorter is kept)."""
    kept: list[str] = []
    for name in sorted(varying_labels(label_sets), key=lambda n: _length(label_sets, n)):
        values = {labels.get(name, "") for labels in label_sets}
        if not any(
            len({(ls.get(name, ""), ls.get(other, "")) for ls in label_sets})
            == len(values)
            == len({ls.get(other, "") for ls in label_sets})
            for other in kept
        ):
            kept.append(name)
    order = list(dict.fromkeys(n for labels in label_sets for n in labels))
    return sorted(kept, key=order.index)


def distinguishing_labels(label_sets: Sequence[Mapping[str, str]]) -> list[str]:
    """The smallest set of labels whose values tell the series apart (the shortest names when
    several sets are as small), in the series' label order."""
    varying = varying_labels(label_sets)
    everything = len({tuple(sorted(labels.items())) for labels in label_sets})

    def tells_apart(chosen: Sequence[str]) -> bool:
        keys = {tuple(labels.get(n, "") for n in chosen) for labels in label_sets}
        return len(keys) == everything

    if len(varying) <= _EXHAUSTIVE_LABELS:
        for size in range(1, len(varying) + 1):
            fits = [c for c in itertools.combinations(varying, size) if tells_apart(c)]
            if fits:
                return list(min(fits, key=lambda c: sum(_length(label_sets, n) for n in c)))
        return varying
    chosen: list[str] = []  # greedily: the label that splits the series most, then the next
    while not tells_apart(chosen) and len(chosen) < len(varying):
        rest = [n for n in varying if n not in chosen]
        chosen.append(
            max(
                rest,
                key=lambda n: (
                    len({tuple(ls.get(m, "") for m in [*chosen, n]) for ls in label_sets}),
                    -_length(label_sets, n),
                ),
            )
        )
    return [n for n in varying if n in chosen]


def legend_names(
    columns: pd.Index, legend: str | None = None, query: str | None = None
) -> list[str]:
    """Series names (wide columns), as Grafana names them for a ``legendFormat``.

    ``None``: the values of the fewest labels that tell the series apart (a single series is
    named by its query). ``"{{instance}} {{mode}}"``: the template, a missing label empty.
    ``""``: the full series name, ``metric{label="value", ...}``. ``"__auto"``: the one label's
    value when every series has just that one label, else the full name. A series without labels
    is named by its query.
    """
    label_sets = series_labels(columns)
    expression = " ".join((query or "").split())
    if legend is None:
        if len(label_sets) == 1:
            return [expression or series_name(label_sets[0])]
        shown = distinguishing_labels(label_sets)
        if len(shown) == 1:
            (only,) = shown
            return [labels.get(only, f"(no {only})") for labels in label_sets]
        return [", ".join(f"{n}={ls[n]}" for n in shown if n in ls) for ls in label_sets]
    if legend == AUTO_LEGEND:
        names = {n for labels in label_sets for n in labels if n != "__name__"}
        if len(names) == 1 and all(len(labels) == 1 for labels in label_sets):
            (only,) = names
            return [labels[only] for labels in label_sets]
        return [series_name(labels) or expression for labels in label_sets]
    if legend == "":
        return [series_name(labels) or expression for labels in label_sets]

    def filled(labels: Mapping[str, str]) -> str:
        return _LEGEND_FIELD.sub(lambda field: labels.get(field.group(1), ""), legend)

    return [filled(labels) for labels in label_sets]


def series_name(labels: Mapping[str, str]) -> str:
    """Prometheus' name of a series, ``metric{a="1", b="2"}``; ``""`` for one without labels."""
    name = labels.get("__name__", "")
    pairs = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
    return f"{name}{{{pairs}}}" if pairs else name


def legend_grid(names: Sequence[str]) -> tuple[int, list[int]]:
    """Columns of the legend under a plot, and each row's height in text lines.

    matplotlib fills a legend column by column, so row ``r`` holds entries ``r``, ``r + rows``...
    """
    lines = [name.count("\n") + 1 for name in names]
    widest = max((len(line) for name in names for line in name.split("\n")), default=1)
    columns = max(1, min(len(names), _FIGURE_CHARACTERS // (widest + 6), 6))
    rows = math.ceil(len(names) / columns) if names else 0
    return columns, [max(lines[r::rows]) for r in range(rows)]
