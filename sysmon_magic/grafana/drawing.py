"""Drawing a panel: a time series or graph panel as lines, a stat, gauge or bar gauge panel as a
bar per series with its value, each with the panel's unit, legends and min/max."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..frames import NOT_LABELS
from .overrides import override_unit

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
    from ..frames import to_wide
    from ..plotting import MAX_DISTINCT_SERIES, legend_names, plot

    info = frame.attrs["grafana"]
    columns: list[pd.DataFrame] = []
    matched: list[str | None] = []  # each column's unit from the panel's overrides, if any
    several = len(info["queries"]) > 1
    for query in info["queries"]:
        part = frame[frame["ref_id"] == query["ref_id"]] if several else frame
        part = part.drop(columns=["ref_id"], errors="ignore").dropna(axis=1, how="all")
        for column in part.columns:  # another target's labels are no series of this one
            if isinstance(part[column].dtype, pd.CategoricalDtype):
                part[column] = part[column].cat.remove_unused_categories()
        wide = to_wide(part)
        if wide.shape[1] == 0:
            continue
        names = legend_names(wide.columns, query["legend"], query["expr"])
        full = legend_names(wide.columns, "", query["expr"])  # metric{labels}
        matched += [
            override_unit(panel.overrides, [name, whole], query["ref_id"], panel.values)
            for name, whole in zip(names, full, strict=True)
        ]
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
    groups: dict[str | None, list[str]] = {}  # unit -> the legends of its series
    for name, override in zip(wide.columns.get_level_values(0), matched, strict=True):
        groups.setdefault(override or unit, []).append(name)
    main = unit if unit in groups or not groups else next(iter(groups))
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
        unit=_known(main),
        limits=panel.limits,
    )
    for line in ax.get_lines():
        if np.isfinite(np.asarray(line.get_ydata(), dtype=float)).sum() == 1:
            line.set_marker("o")  # an instant target's value, or a lone sample
    if len(groups) > 1:
        _axes_per_unit(ax, groups, main, panel.limits)
    elif main != unit and _known(main) is None:
        note = f"unit {main!r} is not known here: plain numbers"
    if note and main == unit:
        ax.set_ylabel(note, fontsize=8, color="#a33")
    return ax


def _known(unit_id: str | None) -> str | None:
    """A unit id the plots know, else ``None`` (plain numbers)."""
    from .. import units

    return unit_id if unit_id is not None and units.unit_from_grafana(unit_id) else None


def _axes_per_unit(
    ax: Axes,
    groups: dict[str | None, list[str]],
    main: str | None,
    limits: tuple[float | None, float | None],
) -> None:
    """Series whose unit an override changes on an axis of their own at the right, one per
    unit, as Grafana does; the panel's own unit (and min/max) stays on the left."""
    lines = {line.get_label(): line for line in ax.get_lines()}
    for number, (unit_id, names) in enumerate((u, n) for u, n in groups.items() if u != main):
        twin = ax.twinx()
        if number:  # a third unit and more: each axis further right
            twin.spines.right.set_position(("axes", 1 + 0.12 * number))
        moved = [lines[name] for name in names if name in lines]  # drawn (max_series)
        for line in moved:
            line.remove()
            line.set_transform(twin.transData)
            twin.add_line(line)
        _unit_axis(twin, unit_id, moved, (None, None))
    _unit_axis(ax, main, list(ax.get_lines()), limits)


def _unit_axis(
    ax: Axes, unit_id: str | None, lines: Sequence[Any], limits: tuple[float | None, float | None]
) -> None:
    """The value axis of ``lines`` in ``unit_id``: fitted to them, ticks at round numbers of
    the unit shown (1 GiB, 2 GiB), labelled with the unit; plain numbers for no unit."""
    import matplotlib.ticker as mticker

    from .. import units
    from ..plotting import value_formatter

    ax.relim()
    ax.set_autoscaley_on(True)  # plot() fixed the limits for all the lines it drew
    ax.autoscale_view(scalex=False)
    if limits != (None, None):
        ax.set_ylim(*limits)
    unit = units.unit_from_grafana(unit_id) if unit_id else None
    if unit is None:
        ax.yaxis.set_major_locator(mticker.AutoLocator())
        ax.yaxis.set_major_formatter(mticker.ScalarFormatter())
        ax.set_ylabel(f"unit {unit_id!r} is not known here: plain numbers" if unit_id else "")
        return
    values = np.concatenate(
        [np.asarray(line.get_ydata(), dtype=float) for line in lines] or [np.zeros(0)]
    )
    finite = np.abs(values[np.isfinite(values)])
    largest = float(finite.max()) if finite.size else 0.0
    scale, _ = unit.ticks(largest)
    ax.yaxis.set_major_formatter(mticker.FuncFormatter(value_formatter(unit, largest)))
    low, high = ax.get_ylim()
    nice = mticker.MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10])
    ticks = np.asarray(nice.tick_values(low / scale, high / scale)) * scale
    ax.yaxis.set_major_locator(mticker.FixedLocator(ticks.tolist()))
    ax.set_ylim(low, high)
    ax.set_ylabel(unit.label)


def plot_values(panel: Panel, frame: pd.DataFrame, ax: Axes | None) -> Axes:
    import matplotlib.ticker as mticker

    from .. import units
    from ..plotting import legend_names, value_formatter

    info = frame.attrs["grafana"]
    names: list[str] = []
    values: list[float] = []
    matched: list[str | None] = []  # each value's unit from the panel's overrides, if any
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
        full = legend_names(columns, "", query["expr"])
        matched += [
            override_unit(panel.overrides, [name, whole], query["ref_id"], panel.values)
            for name, whole in zip(found, full, strict=True)
        ]
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
    # Each value in its own unit (an override's, else the panel's), scaled with those it shares
    # it with: 512 MiB next to 12 %.
    shown = [_known(m) if m else unit_id for m in matched]
    writers: dict[str | None, Any] = {}
    for each in set(shown):
        finite = [
            abs(v) for v, u in zip(values, shown, strict=True) if u == each and math.isfinite(v)
        ]
        known = units.unit_from_grafana(each) if each else None
        writers[each] = value_formatter(known, max(finite, default=0.0)) if known else _plain
    written = writers.get(unit_id, _plain)
    positions = np.arange(len(names))[::-1]
    ax.barh(positions, [v if math.isfinite(v) else 0.0 for v in values], color="#1f77b4")
    ax.set_yticks(positions, names, fontsize=8)
    for position, value, each in zip(positions, values, shown, strict=True):
        text = writers[each](value, None) if math.isfinite(value) else "no value"
        ax.annotate(
            text, (0, position), xytext=(4, 0), textcoords="offset points",
            va="center", fontsize=8, color="white" if math.isfinite(value) else "#666",
        )  # fmt: skip
    low, high = panel.limits
    if low is not None or high is not None:
        ax.set_xlim(low, high)
    mixed = len(set(shown)) > 1
    if unit is not None and not mixed:
        ax.xaxis.set_major_formatter(mticker.FuncFormatter(written))
    label = "each value in its own unit" if mixed else (unit.label if unit is not None else "")
    ax.set_xlabel(note or label, fontsize=8)
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
