"""Drawing a panel: a time series or graph panel as lines, a stat, gauge or bar gauge panel as a
bar per series with its value, each with the panel's unit, legends and min/max."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..frames import NOT_LABELS

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ..units import Unit
    from .panels import Panel

__all__ = ["panel_unit", "plot_lines", "plot_values"]


def panel_unit(panel: Panel, exprs: Sequence[str]) -> tuple[str | None, str]:
    """The Grafana unit id a plot uses, and a note when the panel's is not known here.

    The panel's unit if known; none (plain numbers, with a note) if the panel names one that
    is not; with no unit set, the unit of the expanded queries' results when all agree.
    """
    from .. import units

    if panel.unit is not None:
        if units.unit_from_grafana(panel.unit) is not None:
            return panel.unit, ""
        return None, f"unit {panel.unit!r} is not known here: plain numbers"
    found = {units.unit_of(expr) for expr in exprs}
    only = found.pop() if len(found) == 1 else None
    return (only.grafana_id if only is not None else None), ""


def plot_lines(panel: Panel, frame: pd.DataFrame, ax: Axes | None) -> Axes:
    from ..plotting import MAX_DISTINCT_SERIES, as_wide, legend_names, plot

    info = frame.attrs["grafana"]
    columns: list[pd.DataFrame] = []
    several = len(info["queries"]) > 1
    for query in info["queries"]:
        part = frame[frame["ref_id"] == query["ref_id"]] if several else frame
        part = part.drop(columns=["ref_id"], errors="ignore").dropna(axis=1, how="all")
        for column in part.columns:  # another target's labels are no series of this one
            if isinstance(part[column].dtype, pd.CategoricalDtype):
                part[column] = part[column].cat.remove_unused_categories()
        wide = as_wide(part)
        if wide.shape[1] == 0:
            continue
        names = legend_names(wide.columns, query["legend"], query["expr"])
        if several and query["legend"] is None:
            names = [f"{query['ref_id']}: {name}" for name in names]
        wide.columns = pd.MultiIndex.from_arrays([_unique(names)], names=["legend"])
        columns.append(wide)
    wide = pd.concat(columns, axis=1).sort_index() if columns else pd.DataFrame()
    if wide.shape[1] and wide.columns.duplicated().any():
        wide.columns = pd.MultiIndex.from_arrays(
            [_unique(list(wide.columns.get_level_values(0)))], names=["legend"]
        )
    unit, note = panel_unit(panel, [q["expr"] for q in info["queries"]])
    first = info["queries"][0]
    wide.attrs["promql"] = {"start": first["start"], "end": first["end"]}
    ax = plot(
        wide,
        ax=ax,
        legend="{{legend}}",
        title=panel.shown_title,
        timezone=panel.dashboard.timezone,
        max_series=min(panel.dashboard.max_series, MAX_DISTINCT_SERIES),
        query="",
        unit=unit,
        limits=panel.limits,
    )
    for line in ax.get_lines():
        if np.isfinite(np.asarray(line.get_ydata(), dtype=float)).sum() == 1:
            line.set_marker("o")  # an instant target's value, or a lone sample
    if note:
        ax.set_ylabel(note, fontsize=8, color="#a33")
    return ax


def plot_values(panel: Panel, frame: pd.DataFrame, ax: Axes | None) -> Axes:
    import matplotlib.ticker as mticker

    from .. import units
    from ..plotting import legend_names, value_formatter

    info = frame.attrs["grafana"]
    names: list[str] = []
    values: list[float] = []
    several = len(info["queries"]) > 1
    for query in info["queries"]:
        part = frame[frame["ref_id"] == query["ref_id"]] if several else frame
        labels = [c for c in part.columns if c not in (*NOT_LABELS, "ref_id")]
        labels = [c for c in labels if part[c].notna().any()]
        if not len(part):
            continue
        keys = pd.MultiIndex.from_frame(part[labels].astype(object).fillna("")) if labels else None
        columns = keys if keys is not None else pd.MultiIndex.from_tuples([("{}",)] * len(part))
        found = legend_names(columns, query["legend"], query["expr"])
        if query["legend"] is None and len(part) == 1:
            found = [query["ref_id"] if several else panel.shown_title]  # not the whole query
        elif several and query["legend"] is None:
            found = [f"{query['ref_id']}: {name}" for name in found]
        names += found
        values += [float(v) for v in part["value"]]
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(10, 0.5 + 0.35 * max(len(names), 1)), layout="constrained")
    unit_id, note = panel_unit(panel, [q["expr"] for q in info["queries"]])
    unit: Unit | None = units.unit_from_grafana(unit_id) if unit_id else None
    ax.set_title(panel.shown_title, loc="left", fontsize=10)
    if not names:
        ax.text(0.5, 0.5, "No data", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return ax
    finite = [abs(v) for v in values if math.isfinite(v)]
    largest = max(finite, default=0.0)
    written = value_formatter(unit, largest) if unit is not None else _plain
    positions = np.arange(len(names))[::-1]
    ax.barh(positions, [v if math.isfinite(v) else 0.0 for v in values], color="#1f77b4")
    ax.set_yticks(positions, names, fontsize=8)
    for position, value in zip(positions, values, strict=True):
        text = written(value, None) if math.isfinite(value) else "no value"
        ax.annotate(
            text, (0, position), xytext=(4, 0), textcoords="offset points",
            va="center", fontsize=8, color="white" if math.isfinite(value) else "#666",
        )  # fmt: skip
    low, high = panel.limits
    if low is not None or high is not None:
        ax.set_xlim(low, high)
    if unit is not None:
        ax.xaxis.set_major_formatter(mticker.FuncFormatter(written))
    ax.set_xlabel(note or (unit.label if unit is not None else ""), fontsize=8)
    ax.grid(True, axis="x", alpha=0.3)
    return ax


def _unique(names: Sequence[str]) -> list[str]:
    """Legend names made distinct (a legend format can give two series one name)."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out


def _plain(value: float, _position: float | None = None) -> str:
    return f"{value:.3g}" if abs(value) < 1e4 else f"{value:,.0f}"
