"""Grafana dashboards in notebooks: open one, resolve its variables against a connection, and get
every panel as a DataFrame or a plot; or write one from results.

:meth:`Dashboard.load` reads a dashboard's JSON (Grafana's export, or the API's
``{"dashboard": ...}``), then resolves its variables in dependency order, as Grafana does: a
``query`` variable asks the connection (``label_values``, ``label_names``, ``metrics``,
``query_result``, or a series selector), takes its ``regex``'s matches and sorts them; ``custom``,
``constant``, ``interval``, ``textbox`` and ``datasource`` variables need no server. Multi-value
variables hold lists, and ``All`` is Grafana's ``$__all``: every value, or the ``allValue`` as
written. Where the server has no values, the value saved in the JSON (``current``) is kept.

Each :class:`Panel` (rows and collapsed rows' panels included) turns its visible targets into
queries as Grafana's Prometheus data source does: the step from the window, ``maxDataPoints``,
the panel's ``interval`` and the target's min step (:func:`step_for`), the window aligned to the
step, ``$__interval``, ``$__rate_interval``, ``$__range``, the variables and their formats
expanded by :mod:`~sysmon_magic.templating`, and ``instant`` targets evaluated at the window's
end. Time series and graph panels draw lines; stat, gauge and bar gauge panels reduce each
series to one value (``lastNotNull`` unless the panel says otherwise); table panels are instant
tables. Other panel types are listed as not drawn, never an error.

:func:`to_dashboard` goes the other way: results of ``%%promql`` (their queries, windows, steps,
legends and units) become a dashboard in Grafana's current schema, which gives the same frames
when it is opened again.
"""

from __future__ import annotations

import json
import math
import os
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from .errors import QueryError, SysmonError, SysmonUsageError
from .frames import NOT_LABELS
from .templating import Verbatim, expand, grafana_macros, references
from .timeparse import (
    MAX_POINTS_PER_SERIES,
    format_duration,
    format_time,
    parse_duration,
    parse_time,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from .query_client import QueryClient
    from .units import Unit

__all__ = [
    "ALL",
    "Dashboard",
    "Panel",
    "PanelQuery",
    "Target",
    "Variable",
    "parse_assignments",
    "round_interval",
    "step_for",
    "to_dashboard",
]

#: Grafana's value of the "All" option of a variable.
ALL = "$__all"
#: The dashboard schema :func:`to_dashboard` writes (Grafana 11 and 12).
SCHEMA_VERSION = 41
# Grafana's Prometheus data source: a scrape interval it assumes when none is configured.
_GRAFANA_SCRAPE_INTERVAL = 15.0
# Panels drawn as lines, as one value per series, and as a table.
_LINES = frozenset({"timeseries", "graph"})
_VALUES = frozenset({"stat", "gauge", "bargauge", "singlestat"})
_TABLES = frozenset({"table", "table-old"})
Drawing = Literal["lines", "values", "table"]

# Grafana's "nice" intervals (gtime.RoundInterval): an interval up to the first number (ms)
# becomes the second.
_ROUNDED_MS = (
    (15, 10), (35, 20), (75, 50), (150, 100), (350, 200), (750, 500), (1_500, 1_000),
    (3_500, 2_000), (7_500, 5_000), (12_500, 10_000), (17_500, 15_000), (25_000, 20_000),
    (45_000, 30_000), (90_000, 60_000), (210_000, 120_000), (450_000, 300_000),
    (750_000, 600_000), (1_050_000, 900_000), (1_500_000, 1_200_000), (2_700_000, 1_800_000),
    (5_400_000, 3_600_000), (9_000_000, 7_200_000), (16_200_000, 10_800_000),
    (32_400_000, 21_600_000), (86_400_000, 43_200_000), (172_800_000, 86_400_000),
    (604_800_000, 86_400_000), (1_814_400_000, 604_800_000), (3_628_799_999, 2_592_000_000),
)  # fmt: skip
_YEAR_MS = 31_536_000_000

# Grafana's classic variable queries (its Prometheus data source's metricFindQuery).
_LABEL_VALUES = re.compile(r"^label_values\((?:(.+),\s*)?([a-zA-Z_$][a-zA-Z0-9_]*)\)\s*$", re.S)
_LABEL_NAMES = re.compile(r"^label_names\((.*)\)\s*$", re.S)
_METRICS = re.compile(r"^metrics\((.+)\)\s*$", re.S)
_QUERY_RESULT = re.compile(r"^query_result\((.+)\)\s*$", re.S)
# A custom variable's options: commas separate them (``\,`` is a comma in one); "text : value".
_CUSTOM_ITEM = re.compile(r"(?:\\,|[^,])+")
_CUSTOM_PAIR = re.compile(r"^\s*(.+)\s:\s(.+)$")
# Grafana's relative times: now, now-6h, now-1d/d (rounded to the day).
_RELATIVE = re.compile(r"^now(?:\s*-\s*(\d+)\s*([smhdwMy]))?(?:/([smhd]))?$")
# Old single stat panels name their reducer differently.
_SINGLESTAT_CALCS = {
    "current": "lastNotNull",
    "avg": "mean",
    "total": "sum",
    "min": "min",
    "max": "max",
    "first": "firstNotNull",
    "range": "range",
    "diff": "diff",
}


def _first_finite(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite[0]) if finite.size else math.nan


def _last_finite(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite[-1]) if finite.size else math.nan


def _finite(values: np.ndarray) -> np.ndarray:
    return values[np.isfinite(values)]


# Grafana's reducers (reduceOptions.calcs) that a stat, gauge or bar gauge panel may ask for.
_REDUCERS: dict[str, Any] = {
    "lastNotNull": _last_finite,
    "last": lambda v: float(v[-1]) if v.size else math.nan,
    "firstNotNull": _first_finite,
    "first": lambda v: float(v[0]) if v.size else math.nan,
    "mean": lambda v: float(_finite(v).mean()) if _finite(v).size else math.nan,
    "min": lambda v: float(_finite(v).min()) if _finite(v).size else math.nan,
    "max": lambda v: float(_finite(v).max()) if _finite(v).size else math.nan,
    "sum": lambda v: float(_finite(v).sum()),
    "count": lambda v: float(v.size),
    "range": lambda v: float(np.ptp(_finite(v))) if _finite(v).size else math.nan,
    "diff": lambda v: _last_finite(v) - _first_finite(v),
}


def round_interval(seconds: float) -> float:
    """Grafana's rounding of a computed interval to a nice one (21.6 s -> 20 s, 80 s -> 1 m)."""
    millis = seconds * 1000
    for limit, rounded in _ROUNDED_MS:
        if millis <= limit:
            return rounded / 1000
    return _YEAR_MS / 1000


def step_for(
    *,
    range_seconds: float,
    max_data_points: int,
    min_interval: float | None,
    min_step: float | None,
    interval_factor: int = 1,
    scrape_interval: float | None = None,
) -> tuple[float, float]:
    """The step Grafana's Prometheus data source sends for a target, and its query interval.

    ``min_interval`` is the panel's "Min interval" (else the data source's scrape interval),
    ``min_step`` the target's "Min step" (``interval``). The query interval, ``range /
    max_data_points`` rounded and never below ``min_interval``, is what ``$__rate_interval``
    adds the scrape interval to; the step is ``range / max_data_points``, at least the target's
    min step (else the query interval), rounded, at least Prometheus' safe ``range / 11000``, times
    the interval factor. Returns ``(step, query interval)`` in seconds.
    """
    low = min_interval if min_interval is not None else (scrape_interval or 0.001)
    query_interval = max(round_interval(range_seconds / max_data_points), low)
    floor = min_step if min_step is not None else query_interval
    calculated = range_seconds / max_data_points
    step = floor if calculated < floor else round_interval(calculated)
    safe = round_interval(range_seconds / MAX_POINTS_PER_SERIES)
    return max(step, safe) * max(interval_factor, 1), query_interval


# -- the model --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One query of a panel, as the dashboard gives it (before its variables are expanded)."""

    expr: str
    legend: str | None  # legendFormat; None when the target has none
    instant: bool
    hidden: bool
    ref_id: str
    interval: str | None  # the target's "Min step"
    interval_factor: int = 1

    @classmethod
    def from_json(cls, item: Mapping[str, Any], number: int) -> Target:
        """A target from its JSON; ``number`` names it when it has no ``refId`` (A, B, ...)."""
        interval = str(item.get("interval") or "").strip() or None
        factor = item.get("intervalFactor") or 1
        return cls(
            expr=str(item.get("expr") or ""),
            legend=item["legendFormat"] if isinstance(item.get("legendFormat"), str) else None,
            instant=bool(item.get("instant")) and not item.get("range"),
            hidden=bool(item.get("hide")),
            ref_id=str(item.get("refId") or _ref_id(number)),
            interval=interval,
            interval_factor=int(factor) if isinstance(factor, int | float) else 1,
        )


@dataclass(frozen=True)
class PanelQuery:
    """A query a panel sends: the expression with every variable and macro expanded."""

    ref_id: str
    expr: str
    instant: bool
    start: float
    end: float
    step: float  # for an instant query, the step its $__interval was computed with
    legend: str | None


@dataclass
class Variable:
    """A dashboard variable: its definition, its options once resolved, and what is chosen."""

    name: str
    type: str
    label: str
    query: str
    regex: str = ""
    multi: bool = False
    include_all: bool = False
    all_value: str | None = None
    sort: int = 0
    hidden: bool = False
    options: list[tuple[str, str]] = field(default_factory=list)  # (text, value)
    current: list[str] = field(default_factory=list)  # values; [ALL] for All
    note: str = ""  # how the value was found when not from the server's options
    saved: list[str] = field(default_factory=list)  # the value saved in the JSON
    auto: tuple[int, str] | None = None  # an interval variable's auto: (count, min)
    pending: bool = field(default=False, repr=False)  # chosen, not yet checked against options

    @property
    def value(self) -> str | list[str]:
        """What the variable puts into a query: one value, a list, or the All value."""
        if self.current == [ALL]:
            if self.all_value is not None:
                return Verbatim(self.all_value)
            return [value for _, value in self.options if value != ALL]
        if self.multi:
            return list(self.current)
        return self.current[0] if self.current else ""

    @property
    def values(self) -> list[str]:
        """The values the variable can take (without All)."""
        return [value for _, value in self.options if value != ALL]


class Panel:
    """One panel of a dashboard: its title, type, unit and targets; its frames and plots.

    Attributes
    ----------
    title, type, unit, targets
        As in the JSON: ``unit`` is ``fieldConfig.defaults.unit`` (a graph panel's left y
        axis format), ``None`` when the panel sets none.
    row
        The title of the row the panel is in, or ``None``.
    drawn
        How :meth:`plot` draws it: ``"lines"``, ``"values"`` (one per series), ``"table"``
        (shown as a table: :meth:`frame`), or ``None``: not drawn, and ``reason`` says why.
    limits
        The panel's ``(min, max)`` for the value axis.
    """

    def __init__(self, dashboard: Dashboard, data: Mapping[str, Any], row: str | None) -> None:
        self.dashboard = dashboard
        self.data = data
        self.row = row
        self.id = data.get("id")
        self.title = str(data.get("title") or "")
        self.type = str(data.get("type") or "")
        defaults = _mapping(_mapping(data.get("fieldConfig")).get("defaults"))
        yaxes = data.get("yaxes") if isinstance(data.get("yaxes"), list) else []
        left = _mapping(yaxes[0]) if yaxes else {}
        unit = defaults.get("unit") or left.get("format") or data.get("format")
        self.unit: str | None = str(unit) if unit else None
        self.limits: tuple[float | None, float | None] = (
            _number_or_none(defaults.get("min", left.get("min"))),
            _number_or_none(defaults.get("max", left.get("max"))),
        )
        self.interval = str(data.get("interval") or "").strip() or None
        points = data.get("maxDataPoints")
        self.max_data_points = (
            int(points) if isinstance(points, int | float) and points > 0 else None
        )
        self.time_from = str(data.get("timeFrom") or "").strip() or None
        self.time_shift = str(data.get("timeShift") or "").strip() or None
        listed = data.get("targets")
        raw_targets: list[Any] = listed if isinstance(listed, list) else []
        self.targets = [
            Target.from_json(item, number)
            for number, item in enumerate(raw_targets)
            if isinstance(item, Mapping) and _is_prometheus(item.get("datasource"))
        ]
        self.calc = self._calc()
        self.drawn, self.reason = self._drawing(len(raw_targets))

    # -- what the panel is ---------------------------------------------------------------------

    def _calc(self) -> str:
        if self.type == "singlestat":
            return _SINGLESTAT_CALCS.get(str(self.data.get("valueName") or "avg"), "")
        reduce = _mapping(_mapping(self.data.get("options")).get("reduceOptions"))
        calcs = reduce.get("calcs")
        return str(calcs[0]) if isinstance(calcs, list) and calcs else "lastNotNull"

    def _drawing(self, raw_targets: int) -> tuple[Drawing | None, str]:
        if "libraryPanel" in self.data and not self.targets:
            return None, "a library panel: its queries are not in this JSON"
        if not _is_prometheus(self.data.get("datasource")):
            return None, f"its data source is {_datasource_type(self.data.get('datasource'))}"
        if not any(target.expr for target in self.targets):
            if raw_targets:
                return None, "none of its queries is a Prometheus expression"
            return None, "it has no queries"
        if not self.visible_targets:
            return None, "every query is hidden"
        if self.type in _LINES:
            return "lines", ""
        if self.type in _VALUES:
            if self.calc not in _REDUCERS:
                return None, f"its reducer {self.calc!r} is not one of {', '.join(_REDUCERS)}"
            return "values", ""
        if self.type in _TABLES:
            return "table", ""
        return None, f"{self.type or 'untyped'} panels are not drawn"

    @property
    def visible_targets(self) -> list[Target]:
        """The targets that run: not hidden, with an expression."""
        return [target for target in self.targets if target.expr and not target.hidden]

    @property
    def shown_title(self) -> str:
        """The title with the dashboard's variables filled in (``CPU of $node`` -> ``CPU of
        web-01:9100``), or as written where it cannot be."""
        try:
            return expand(self.title, self.dashboard.values) if "$" in self.title else self.title
        except SysmonError:
            return self.title

    # -- queries and frames ----------------------------------------------------------------

    def queries(
        self,
        range: str | None = None,
        *,
        start: Any = None,
        end: Any = None,
        step: float | str | None = None,
    ) -> list[PanelQuery]:
        """The queries this panel sends for a window, expanded, with their steps and windows.

        The window is the dashboard's time range (or this panel's relative time), ``range``
        (``"6h"``) ending where that range ends, or ``start``/``end``; ``step`` overrides the
        step Grafana would choose (:func:`step_for`).
        """
        self._check_queries()
        first, last = self.dashboard.window(range, start=start, end=end, panel=self)
        span = last - first
        dashboard = self.dashboard
        scrape = dashboard.client.scrape_interval
        out = []
        for target in self.visible_targets:
            if step is not None:
                chosen = parse_duration(step) if isinstance(step, str) else float(step)
                query_interval = chosen
            else:
                chosen, query_interval = step_for(
                    range_seconds=span,
                    max_data_points=self.max_data_points or dashboard.max_points,
                    min_interval=_interval_seconds(self.interval, dashboard.values),
                    min_step=_interval_seconds(target.interval, dashboard.values),
                    interval_factor=target.interval_factor,
                    scrape_interval=scrape,
                )
            # $__rate_interval adds the target's min step, else the data source's scrape
            # interval (Grafana assumes 15 s when none is configured).
            rate_scrape = (
                _interval_seconds(target.interval, dashboard.values)
                or scrape
                or _GRAFANA_SCRAPE_INTERVAL
            )
            instant = target.instant or self.drawn == "table"
            # Grafana aligns a range query's window to its step (as Prometheus' cache wants).
            aligned = (first, last) if instant else _aligned(first, last, chosen)
            macros = grafana_macros(
                range_seconds=span,
                step=chosen,
                scrape_interval=rate_scrape,
                interval=query_interval,
                start=first,
                end=last,
            )
            expr = _expand_for(self, target, dashboard.values, macros)
            out.append(PanelQuery(target.ref_id, expr, instant, *aligned, chosen, target.legend))
        return out

    def frame(
        self,
        range: str | None = None,
        *,
        start: Any = None,
        end: Any = None,
        step: float | str | None = None,
    ) -> pd.DataFrame:
        """The panel's data as a tidy DataFrame; a ``ref_id`` column when several targets run.

        Time series (and other) panels: a row per sample (instant targets: one per series).
        Stat, gauge and bar gauge panels: a row per series with its reduced ``value``, and a
        table panel: its targets' instant results. Window and step as :meth:`queries`.
        """
        client = self.dashboard.client
        parts: list[tuple[PanelQuery, pd.DataFrame]] = []
        for query in self.queries(range, start=start, end=end, step=step):
            if query.instant:
                frame = client.query(query.expr, query.end)
            else:
                frame = client.query_range(query.expr, query.start, query.end, query.step)
            if self.drawn == "values":
                frame = _reduced(frame, self.calc)
            parts.append((query, frame))
        result = _combined(parts)
        result.attrs["grafana"] = {
            "dashboard": self.dashboard.title,
            "title": self.shown_title,
            "type": self.type,
            "unit": self.unit,
            "limits": list(self.limits),
            "calc": self.calc if self.drawn == "values" else None,
            "queries": [
                {
                    "ref_id": q.ref_id,
                    "expr": q.expr,
                    "legend": q.legend,
                    "instant": q.instant,
                    "start": q.start,
                    "end": q.end,
                    "step": q.step,
                }
                for q, _ in parts
            ],
        }
        return result

    def plot(
        self,
        range: str | None = None,
        *,
        start: Any = None,
        end: Any = None,
        step: float | str | None = None,
        ax: Axes | None = None,
    ) -> Axes:
        """Draw the panel, with its unit, legends and min/max, and return the Axes.

        Time series and graph panels: a line per series (a lone point is marked). Stat, gauge and
        bar gauge panels: a bar per series with its value. Table panels and types that are not
        drawn raise an error that says what to use instead.
        """
        if self.drawn is None:
            raise SysmonUsageError(
                f"Panel {self.title!r} is not drawn: {self.reason}. "
                + ("Its data: .frame()." if self.visible_targets else "")
            )
        if self.drawn == "table":
            raise SysmonUsageError(
                f"Panel {self.title!r} is a table: .frame() gives it as a DataFrame."
            )
        frame = self.frame(range, start=start, end=end, step=step)
        if self.drawn == "values":
            return self._plot_values(frame, ax)
        return self._plot_lines(frame, ax)

    def _unit(self, exprs: Sequence[str]) -> tuple[str | None, str]:
        """The Grafana unit id a plot uses, and a note when the panel's is not known here.

        The panel's unit if known; none (plain numbers, with a note) if the panel names one that
        is not; with no unit set, the unit of the expanded queries' results when all agree.
        """
        from . import units

        if self.unit is not None:
            if units.unit_from_grafana(self.unit) is not None:
                return self.unit, ""
            return None, f"unit {self.unit!r} is not known here: plain numbers"
        found = {units.unit_of(expr) for expr in exprs}
        only = found.pop() if len(found) == 1 else None
        return (only.grafana_id if only is not None else None), ""

    def _plot_lines(self, frame: pd.DataFrame, ax: Axes | None) -> Axes:
        from .plotting import MAX_DISTINCT_SERIES, as_wide, legend_names, plot

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
        unit, note = self._unit([q["expr"] for q in info["queries"]])
        first = info["queries"][0]
        wide.attrs["promql"] = {"start": first["start"], "end": first["end"]}
        ax = plot(
            wide,
            ax=ax,
            legend="{{legend}}",
            title=self.shown_title,
            timezone=self.dashboard.timezone,
            max_series=min(self.dashboard.max_series, MAX_DISTINCT_SERIES),
            query="",
            unit=unit,
            limits=self.limits,
        )
        for line in ax.get_lines():
            if np.isfinite(np.asarray(line.get_ydata(), dtype=float)).sum() == 1:
                line.set_marker("o")  # an instant target's value, or a lone sample
        if note:
            ax.set_ylabel(note, fontsize=8, color="#a33")
        return ax

    def _plot_values(self, frame: pd.DataFrame, ax: Axes | None) -> Axes:
        import matplotlib.ticker as mticker

        from . import units
        from .plotting import legend_names, value_formatter

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
            keys = (
                pd.MultiIndex.from_frame(part[labels].astype(object).fillna("")) if labels else None
            )
            columns = keys if keys is not None else pd.MultiIndex.from_tuples([("{}",)] * len(part))
            found = legend_names(columns, query["legend"], query["expr"])
            if query["legend"] is None and len(part) == 1:
                found = [query["ref_id"] if several else self.shown_title]  # not the whole query
            elif several and query["legend"] is None:
                found = [f"{query['ref_id']}: {name}" for name in found]
            names += found
            values += [float(v) for v in part["value"]]
        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots(
                figsize=(10, 0.5 + 0.35 * max(len(names), 1)), layout="constrained"
            )
        unit_id, note = self._unit([q["expr"] for q in info["queries"]])
        unit: Unit | None = units.unit_from_grafana(unit_id) if unit_id else None
        ax.set_title(self.shown_title, loc="left", fontsize=10)
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
        low, high = self.limits
        if low is not None or high is not None:
            ax.set_xlim(low, high)
        if unit is not None:
            ax.xaxis.set_major_formatter(mticker.FuncFormatter(written))
        ax.set_xlabel(note or (unit.label if unit is not None else ""), fontsize=8)
        ax.grid(True, axis="x", alpha=0.3)
        return ax

    def _check_queries(self) -> None:
        if not self.visible_targets:
            raise SysmonUsageError(f"Panel {self.title!r} has no query to run: {self.reason}.")

    def __repr__(self) -> str:
        how = self.drawn or f"not drawn: {self.reason}"
        return f"<Panel {self.title!r} ({self.type}, {how})>"


class Dashboard:
    """A Grafana dashboard whose variables are resolved against a connection.

    Parameters
    ----------
    data
        The dashboard's JSON (a dict), as Grafana exports it or as its API gives it.
    client
        The connection its queries and variable queries go to.
    variables
        Values to choose, as Grafana's ``var-NAME=VALUE`` in a URL: ``{"node": "web-01:9100"}``,
        a list for a multi-value variable, ``"All"`` for All.
    max_points
        Points per series when a panel sets no ``maxDataPoints`` (Grafana uses the panel's
        width in pixels); default: the client's ``max_points``.
    timezone, max_series
        For plots, as for :func:`~sysmon_magic.plot`.

    Examples
    --------
    >>> dash = Dashboard.load("node-exporter.json", client, {"job": "node"})  # doctest: +SKIP
    >>> dash.panel("Memory used").frame(range="6h")
    """

    def __init__(
        self,
        data: Mapping[str, Any],
        client: QueryClient,
        variables: Mapping[str, str | Sequence[str]] | None = None,
        *,
        source: str | None = None,
        max_points: int | None = None,
        timezone: str = "UTC",
        max_series: int = 30,
    ) -> None:
        if isinstance(data.get("dashboard"), Mapping):  # the API's {"dashboard": ..., "meta": ...}
            data = data["dashboard"]
        if not isinstance(data.get("panels", data.get("rows")), list):
            raise SysmonUsageError(
                f"{source or 'This JSON'} is not a Grafana dashboard: it has no panels list."
            )
        self.data = data
        self.client = client
        self.source = source
        self.title = str(data.get("title") or "")
        self.uid = data.get("uid")
        self.max_points = max_points or client.max_points
        self.timezone = timezone
        self.max_series = max_series
        time = _mapping(data.get("time"))
        self.time = (str(time.get("from") or "now-6h"), str(time.get("to") or "now"))
        self._variables = _variables(data)
        self._order = _dependency_order(self._variables)
        self.panels: list[Panel] = list(_panels(self, data))
        for name, value in (variables or {}).items():
            self._choose(name, value)
        self._resolve(list(self._variables))

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        client: QueryClient,
        variables: Mapping[str, str | Sequence[str]] | None = None,
        **options: Any,
    ) -> Dashboard:
        """Read a dashboard's JSON file and resolve its variables against ``client``."""
        try:
            with open(path, encoding="utf-8") as file:
                data = json.load(file)
        except FileNotFoundError:
            raise SysmonUsageError(f"No dashboard file at {os.fspath(path)!r}.") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SysmonUsageError(f"Cannot read {os.fspath(path)!r} as JSON: {exc}.") from None
        if not isinstance(data, Mapping):
            raise SysmonUsageError(f"{os.fspath(path)!r} is not a Grafana dashboard.")
        return cls(data, client, variables, source=os.fspath(path), **options)

    # -- variables -----------------------------------------------------------------------------

    @property
    def variables(self) -> dict[str, str | list[str]]:
        """Each variable's value, as it goes into queries: a ``str``, or a list (multi, All)."""
        return {name: variable.value for name, variable in self._variables.items()}

    @property
    def values(self) -> dict[str, Any]:
        """The values queries are expanded with (:attr:`variables`, ``$__dashboard``)."""
        return {"__dashboard": self.title, **self.variables}

    def variable(self, name: str) -> Variable:
        """The variable ``name``: its options, what is chosen, and how it was found."""
        try:
            return self._variables[name]
        except KeyError:
            known = ", ".join(self._variables) or "none"
            raise SysmonUsageError(
                f"The dashboard has no variable {name!r} (variables: {known})."
            ) from None

    def set(self, name: str, value: str | Sequence[str]) -> None:
        """Choose a variable's value (``"All"`` for All) and resolve the variables that use it.

        A value the variable does not have is refused, and nothing changes.
        """
        before = {n: (list(v.current), list(v.options), v.note) for n, v in self._variables.items()}
        try:
            self._choose(name, value)
            self._resolve(self._dependents(name))
        except SysmonError:
            for other, (current, options, note) in before.items():
                variable = self._variables[other]
                variable.current, variable.options, variable.note = current, options, note
                variable.pending = False
            raise

    def _choose(self, name: str, value: str | Sequence[str]) -> None:
        variable = self.variable(name)
        wanted = [value] if isinstance(value, str) else [str(v) for v in value]
        if not wanted:
            raise SysmonUsageError(f"Give ${name} at least one value.")
        if len(wanted) > 1 and not variable.multi:
            raise SysmonUsageError(f"${name} takes one value, not {len(wanted)}.")
        if any(v in ("All", ALL) for v in wanted):
            if not variable.include_all:
                raise SysmonUsageError(f"${name} has no All option: choose its values.")
            wanted = [ALL]
        variable.current, variable.pending = wanted, True

    def _dependents(self, name: str) -> list[str]:
        """``name`` and the variables that use it, directly or through others, in order."""
        affected = {name}
        for other in self._order:
            if set(_variable_references(self._variables[other])) & affected:
                affected.add(other)
        return [other for other in self._order if other in affected]

    def _resolve(self, names: Iterable[str]) -> None:
        wanted = set(names)
        for name in self._order:
            if name in wanted:
                _resolve_variable(self, self._variables[name])

    # -- time --------------------------------------------------------------------------------

    def window(
        self,
        range: str | None = None,
        *,
        start: Any = None,
        end: Any = None,
        panel: Panel | None = None,
    ) -> tuple[float, float]:
        """A window in unix seconds: the dashboard's time range (a panel's relative time and
        time shift applied), ``range`` ending where that ends, or ``start``/``end``."""
        now = self.client.now()
        if range is not None and start is not None:
            raise SysmonUsageError("Give either range= or start=/end=, not both.")
        if panel is not None and panel.time_from and range is None and start is None:
            last = now
            first = last - parse_duration(_grafana_duration(panel.time_from))
        else:
            first, last = (
                _grafana_time(text, now, end=side)
                for text, side in zip(self.time, (False, True), strict=True)
            )
        if panel is not None and panel.time_shift and start is None and end is None:
            shift = parse_duration(_grafana_duration(panel.time_shift))
            first, last = first - shift, last - shift
        if end is not None:
            last = parse_time(end, now)
        if range is not None:
            first = last - parse_duration(range)
        elif start is not None:
            first = parse_time(start, now)
        if last < first:
            raise SysmonUsageError(
                f"The window ends ({format_time(last)}) before it starts ({format_time(first)})."
            )
        return first, last

    # -- panels -----------------------------------------------------------------------------

    def panel(self, title: str) -> Panel:
        """The panel with this title (as written, or with its variables filled in)."""
        found = [p for p in self.panels if title in (p.title, p.shown_title)]
        if len(found) == 1:
            return found[0]
        if found:
            rows = ", ".join(repr(p.row) for p in found)
            raise SysmonUsageError(
                f"{len(found)} panels are titled {title!r} (in rows {rows}): pick one from .panels."
            )
        close = [p.title for p in self.panels if title.lower() in p.title.lower()]
        hint = f" Did you mean {', '.join(map(repr, close[:5]))}?" if close else ""
        raise SysmonUsageError(f"No panel titled {title!r} in {self.title!r}.{hint}")

    def summary(self) -> pd.DataFrame:
        """A row per panel: row, title (variables filled in), type, unit, targets, and how it is
        drawn (or why not)."""
        return pd.DataFrame(
            [
                {
                    "row": p.row,
                    "title": p.shown_title,
                    "type": p.type,
                    "unit": p.unit,
                    "targets": len(p.visible_targets),
                    "drawn": p.drawn or f"not drawn: {p.reason}",
                }
                for p in self.panels
            ]
        )

    # -- display -----------------------------------------------------------------------------

    @property
    def view(self) -> Any:
        """The widget (built on first use): variables as dropdowns, panels as a list, a plot."""
        if getattr(self, "_view", None) is None:
            from .grafana_view import DashboardView

            self._view = DashboardView(self)
        return self._view

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = dict(self.view.widget._repr_mimebundle_(**kwargs) or {})
        bundle["text/plain"] = repr(self)
        return bundle

    def __repr__(self) -> str:
        drawn = sum(p.drawn is not None for p in self.panels)
        lines = [
            f"<Dashboard {self.title!r}: {len(self.panels)} panels ({drawn} drawn), "
            f"{self.time[0]} to {self.time[1]}, on {self.client.name}>"
        ]
        for name, value in self.variables.items():
            shown = value if isinstance(value, str) else ", ".join(value)
            if self._variables[name].current == [ALL]:
                shown = f"All ({shown})"
            lines.append(f"  ${name} = {shown}")
        return "\n".join(lines)


# -- reading the JSON ---------------------------------------------------------------------------


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _number_or_none(value: Any) -> float | None:
    if isinstance(value, bool) or value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _ref_id(number: int) -> str:
    """Grafana's names for targets without one: A, B, ..., Z, AA, AB ..."""
    name = ""
    number += 1
    while number:
        number, rest = divmod(number - 1, 26)
        name = chr(ord("A") + rest) + name
    return name


def _datasource_type(datasource: Any) -> str:
    if isinstance(datasource, Mapping):
        return str(datasource.get("type") or datasource.get("uid") or "unknown")
    return str(datasource)


def _is_prometheus(datasource: Any) -> bool:
    """Whether queries to ``datasource`` are PromQL: Prometheus, a variable, or the default."""
    if datasource is None or datasource == "-- Mixed --":
        return True  # the default data source; a mixed panel's targets each name theirs
    if isinstance(datasource, str):
        return not datasource.startswith("-- ")  # a name, or a ${variable}: not -- Dashboard --
    if isinstance(datasource, Mapping):
        kind = str(datasource.get("type") or "")
        uid = str(datasource.get("uid") or "")
        return kind in ("", "prometheus") or kind.startswith("$") or uid == "-- Mixed --"
    return False


def _panels(dashboard: Dashboard, data: Mapping[str, Any]) -> Iterable[Panel]:
    """Every panel, rows opened: a collapsed row holds its panels, an open one is followed by
    them; the old schema's ``rows`` hold theirs."""
    for old_row in data.get("rows") or []:
        if isinstance(old_row, Mapping):
            for item in old_row.get("panels") or []:
                if isinstance(item, Mapping):
                    yield Panel(dashboard, item, str(old_row.get("title") or "") or None)
    row: str | None = None
    for item in data.get("panels") or []:
        if not isinstance(item, Mapping):
            continue
        if item.get("type") == "row":
            row = str(item.get("title") or "") or None
            for inner in item.get("panels") or []:
                if isinstance(inner, Mapping):
                    yield Panel(dashboard, inner, row)
            continue
        yield Panel(dashboard, item, row)


def _variables(data: Mapping[str, Any]) -> dict[str, Variable]:
    found: dict[str, Variable] = {}
    for item in _mapping(data.get("templating")).get("list") or []:
        if not isinstance(item, Mapping) or not item.get("name"):
            continue
        query = item.get("query")
        if isinstance(query, Mapping):  # newer Grafana: {"query": "...", "refId": ...}
            query = query.get("query") or item.get("definition") or ""
        current = _mapping(item.get("current")).get("value")
        saved = (
            [str(v) for v in current]
            if isinstance(current, list)
            else ([str(current)] if current not in (None, "") else [])
        )
        auto = None
        if item.get("type") == "interval" and item.get("auto"):
            auto = (int(item.get("auto_count") or 30), str(item.get("auto_min") or "10s"))
        all_value = item.get("allValue")
        found[str(item["name"])] = Variable(
            name=str(item["name"]),
            type=str(item.get("type") or "query"),
            label=str(item.get("label") or item["name"]),
            query=str(query or ""),
            regex=str(item.get("regex") or ""),
            multi=bool(item.get("multi")),
            include_all=bool(item.get("includeAll")),
            all_value=str(all_value) if all_value not in (None, "") else None,
            sort=int(item.get("sort") or 0),
            hidden=item.get("hide") == 2,
            current=list(saved),
            saved=saved,
            auto=auto,
        )
    return found


def _variable_references(variable: Variable) -> list[str]:
    return [name for name in references(variable.query + " " + variable.regex)]


def _dependency_order(variables: Mapping[str, Variable]) -> list[str]:
    """The variables in an order where each comes after those its query uses (Grafana's
    order); among independent ones, the dashboard's. A cycle is refused."""
    order: list[str] = []
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            cycle = " -> ".join(f"${n}" for n in [*path[path.index(name) :], name])
            raise SysmonUsageError(f"The dashboard's variables depend on each other: {cycle}.")
        state[name] = "visiting"
        for other in _variable_references(variables[name]):
            if other in variables and other != name:
                visit(other, [*path, name])
        state[name] = "done"
        order.append(name)

    for name in variables:
        visit(name, [])
    return order


# -- resolving variables ------------------------------------------------------------------------


def _resolve_variable(dashboard: Dashboard, variable: Variable) -> None:
    """Find the variable's options (asking the server for a query variable) and keep what is
    chosen if it is still there; else the first option, as Grafana does."""
    first, last = dashboard.window()
    try:
        variable.options = _options(dashboard, variable, first, last)
        variable.note = ""
    except (QueryError, SysmonUsageError) as exc:  # Grafana shows the dashboard all the same
        variable.options, variable.note = [], f"its query failed: {exc}"
    if variable.include_all:
        variable.options.insert(0, ("All", ALL))
    values = [value for _, value in variable.options]
    texts = {text: value for text, value in variable.options}
    chosen = [texts.get(v, v) for v in variable.current]
    asked, variable.pending = variable.pending, False
    if variable.type == "datasource":
        variable.current = values[:1]
        return
    if not values or variable.type == "textbox":
        if not variable.current and variable.type == "textbox":
            variable.current = [variable.query]
        if not values and variable.type != "textbox" and not variable.note:
            variable.note = (
                "no values on the server: the value saved in the dashboard"
                if variable.current
                else "no values on the server, and none saved in the dashboard"
            )
        return
    kept = [v for v in chosen if v in values]
    if asked and len(kept) != len(chosen):
        # A value asked for (--var, a dropdown, set()) must exist: a typo would empty every panel.
        missing = ", ".join(v for v in chosen if v not in values)
        real = [v for v in values if v != ALL]
        more = f" (and {len(real) - 12:,} more)" if len(real) > 12 else ""
        raise SysmonUsageError(
            f"${variable.name} has no value {missing}: its values are {', '.join(real[:12])}{more}."
        )
    variable.current = (kept or values[:1]) if variable.multi else (kept or values)[:1]


def _options(
    dashboard: Dashboard, variable: Variable, start: float, end: float
) -> list[tuple[str, str]]:
    kind = variable.type
    if kind == "custom":
        return _custom_options(variable.query)
    if kind == "constant":
        return [(variable.query, variable.query)]
    if kind == "textbox":
        return []
    if kind == "datasource":
        name = dashboard.client.name
        return [(name, name)]
    if kind == "interval":
        options = [
            (text.strip(), text.strip()) for text in variable.query.split(",") if text.strip()
        ]
        if variable.auto is not None:
            count, minimum = variable.auto
            value = max(round_interval((end - start) / count), parse_duration(minimum))
            options.insert(0, ("auto", format_duration(value)))
        return options
    if kind != "query":
        return [(v, v) for v in variable.saved]  # adhoc, groupby, ...: not resolved here
    macros = grafana_macros(
        range_seconds=end - start,
        step=dashboard.client.scrape_interval or _GRAFANA_SCRAPE_INTERVAL,
        scrape_interval=dashboard.client.scrape_interval or _GRAFANA_SCRAPE_INTERVAL,
        start=start,
        end=end,
    )
    values = {**dashboard.values}
    query = expand(variable.query, values, macros).strip()
    found = _query_values(dashboard.client, query, start, end)
    regex = expand(variable.regex, values, macros) if variable.regex else ""
    return _sorted(_extracted(found, regex, variable.name), variable.sort)


def _custom_options(query: str) -> list[tuple[str, str]]:
    options = []
    for item in _CUSTOM_ITEM.findall(query):
        text = item.replace("\\,", ",")
        pair = _CUSTOM_PAIR.match(text)
        if pair:
            options.append((pair[1].strip(), pair[2].strip()))
        elif text.strip():
            options.append((text.strip(), text.strip()))
    return options


def _query_values(client: QueryClient, query: str, start: float, end: float) -> list[str]:
    """What a query variable's query finds: label values, label names, metric names, query
    results or series, written as Grafana writes them."""
    if match := _LABEL_VALUES.match(query):
        selector, label = match[1], match[2]
        return client.label_values(label, selector.strip() if selector else None, start, end)
    if match := _LABEL_NAMES.match(query):
        selector = match[1].strip()
        return client.labels(selector or None, start, end)
    if match := _METRICS.match(query):
        pattern = _js_regex(match[1].strip(), anchored=False)
        return [n for n in client.label_values("__name__", None, start, end) if pattern.search(n)]
    if match := _QUERY_RESULT.match(query):
        return _result_texts(client.query(match[1].strip(), end))
    series = client.series(query, start, end)
    return [_series_text({str(k): v for k, v in row.items()}) for row in series.to_dict("records")]


def _result_texts(frame: pd.DataFrame) -> list[str]:
    """An instant result as Grafana's query_result() writes it: ``name{labels} value ms``."""
    texts = []
    labels = [c for c in frame.columns if c not in NOT_LABELS]
    for row in frame.to_dict("records"):
        text = _series_text({k: row[k] for k in labels})
        moment = pd.Timestamp(row["timestamp"]).timestamp() if "timestamp" in row else 0
        texts.append(f"{text} {_go_float(float(row['value']))} {round(moment * 1000)}")
    return texts


def _series_text(labels: Mapping[str, Any]) -> str:
    present = {k: str(v) for k, v in labels.items() if isinstance(v, str) and v != ""}
    name = present.pop("__name__", "")
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(present.items())) + "}"


def _go_float(value: float) -> str:
    """A float as Prometheus writes sample values (Go's shortest ``'f'`` form)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return np.format_float_positional(value, trim="-")


def _js_regex(text: str, *, anchored: bool = True) -> re.Pattern[str]:
    """A JavaScript regex as Grafana reads a variable's: ``/pattern/flags``, or a bare pattern
    (which must then match the whole text, unless ``anchored`` is false)."""
    flags = 0
    literal = re.fullmatch(r"/(.*)/([gimsuy]*)", text, re.S)
    if literal:
        pattern, letters = literal[1], literal[2]
        flags |= re.I if "i" in letters else 0
        flags |= re.M if "m" in letters else 0
        flags |= re.S if "s" in letters else 0
    else:
        pattern = f"^(?:{text})$" if anchored else text
    # JavaScript's named groups, (?<name>...), are Python's (?P<name>...).
    pattern = re.sub(r"\(\?<(?=[A-Za-z_])", "(?P<", pattern)
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise SysmonUsageError(f"Cannot read the regex {text!r}: {exc}.") from None


def _extracted(found: list[str], regex: str, name: str) -> list[tuple[str, str]]:
    """Grafana's regex extraction: keep matching values, as their ``value``/``text`` groups,
    their first group, or themselves; with the ``g`` flag, every match's first group."""
    if not regex:
        return list(dict.fromkeys((v, v) for v in found))
    pattern = _js_regex(regex)
    every = bool(re.fullmatch(r"/.*/[a-z]*g[a-z]*", regex, re.S))
    options: list[tuple[str, str]] = []
    for item in found:
        matches = (
            list(pattern.finditer(item)) if every else [m for m in [pattern.search(item)] if m]
        )
        if not matches:
            continue
        named = [m for m in matches if m.groupdict().get("value") or m.groupdict().get("text")]
        if named:
            groups = named[0].groupdict()
            value = groups.get("value") or groups.get("text")
            text = groups.get("text") or groups.get("value")
            options.append((str(text), str(value)))
        elif len(matches) > 1 and matches[0].groups():
            options += [(m[1], m[1]) for m in matches if m.groups() and m[1] is not None]
        elif matches[0].groups() and matches[0][1] is not None:
            options.append((matches[0][1], matches[0][1]))
        elif not matches[0].groups():
            options.append((item, item))
    unique: dict[str, tuple[str, str]] = {}
    for text, value in options:
        unique.setdefault(value, (text, value))
    return list(unique.values())


def _sorted(options: list[tuple[str, str]], sort: int) -> list[tuple[str, str]]:
    """Grafana's variable sort: 1/2 alphabetical, 3/4 by the first number, 5/6 alphabetical
    ignoring case, 7/8 natural; even numbers descending; 0 as found."""
    kind, descending = math.ceil(sort / 2), sort % 2 == 0
    if sort <= 0 or kind > 4:
        return options
    keys: dict[int, Any] = {
        1: lambda o: o[0],
        2: lambda o: int(m[1]) if (m := re.match(r".*?(\d+)", o[0])) else -1,
        3: lambda o: o[0].lower(),
        4: lambda o: [int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", o[0])],
    }
    return sorted(options, key=keys[kind], reverse=descending)


def _interval_seconds(text: str | None, values: Mapping[str, Any]) -> float | None:
    """A panel's min interval or a target's min step in seconds: ``1m``, ``>30s``, ``$var``;
    None when unset or a macro ($__interval: the computed one is used)."""
    if not text:
        return None
    if text.strip("${}").startswith("__"):
        return None
    try:
        written = expand(text, values).strip().lstrip("<>").rstrip()
        return parse_duration(written) if written else None
    except SysmonError:
        return None


def _grafana_duration(text: str) -> str:
    """A panel's ``timeFrom``/``timeShift`` (``1h``, ``now-1h``, ``7d``) as a duration."""
    return text.strip().removeprefix("now-")


def _grafana_time(text: str, now: float, *, end: bool) -> float:
    """A dashboard time: ``now``, ``now-6h``, ``now-1d/d`` (UTC), RFC 3339, or milliseconds."""
    text = text.strip()
    relative = _RELATIVE.match(text)
    if relative:
        amount, unit, rounding = relative.groups()
        moment = now
        if amount:
            moment -= parse_duration(
                {"M": f"{int(amount) * 30}d", "y": f"{int(amount) * 365}d"}.get(unit, amount + unit)
            )
        if rounding:
            size = parse_duration("1" + rounding)
            moment = math.floor(moment / size) * size + (size if end else 0)
        return moment
    if text.isdigit():
        return int(text) / 1000  # Grafana's URLs and old dashboards: epoch milliseconds
    try:
        return parse_time(text, now)
    except SysmonUsageError:
        raise SysmonUsageError(
            f"Cannot read the dashboard's time {text!r}: give now, now-6h, now-1d/d, an RFC 3339 "
            "time or epoch milliseconds."
        ) from None


# -- running panels -----------------------------------------------------------------------------


def _aligned(start: float, end: float, step: float) -> tuple[float, float]:
    """Start and end rounded down to a multiple of the step, as Grafana sends them."""
    return math.floor(start / step) * step, math.floor(end / step) * step


def _expand_for(
    panel: Panel, target: Target, values: Mapping[str, Any], macros: Mapping[str, str]
) -> str:
    try:
        return expand(target.expr, values, macros)
    except SysmonUsageError as exc:
        missing = [n for n in references(target.expr) if n not in values and n not in macros]
        if missing:
            names = ", ".join(f"${n}" for n in missing)
            raise SysmonUsageError(
                f"Panel {panel.title!r} ({target.ref_id}) uses {names}, which the dashboard "
                "does not define: give it with --var NAME=VALUE (variables= in Python)."
            ) from None
        raise SysmonUsageError(f"Panel {panel.title!r} ({target.ref_id}): {exc}") from None


def _reduced(frame: pd.DataFrame, calc: str) -> pd.DataFrame:
    """A row per series with one value, as a stat panel reduces its series."""
    labels = [c for c in frame.columns if c not in NOT_LABELS]
    reducer = _REDUCERS[calc]
    if not len(frame):
        return frame.drop(columns=["timestamp"], errors="ignore")
    if not labels:
        return pd.DataFrame({"value": [reducer(frame["value"].to_numpy(dtype=float))]})
    keyed = frame[[*labels, "value"]].copy()
    for label in labels:
        keyed[label] = keyed[label].astype(object).fillna("")
    rows = [
        {**dict(zip(labels, key if isinstance(key, tuple) else (key,), strict=True)),
         "value": reducer(group["value"].to_numpy(dtype=float))}
        for key, group in keyed.groupby(labels, sort=True, dropna=False)
    ]  # fmt: skip
    reduced = pd.DataFrame(rows, columns=[*labels, "value"])
    for label in labels:  # categorical, as the labels of every tidy frame; "" was "no label"
        reduced[label] = pd.Categorical([v if v != "" else None for v in reduced[label]])
    return reduced


def _combined(parts: Sequence[tuple[PanelQuery, pd.DataFrame]]) -> pd.DataFrame:
    """One target's frame as it is; several, one under another with a ``ref_id`` column."""
    if len(parts) == 1:
        ((_, frame),) = parts
        return frame
    frames = []
    categorical = set()
    for query, frame in parts:
        tagged = frame.copy()
        tagged.insert(0, "ref_id", query.ref_id)
        for column in tagged.columns:
            if isinstance(tagged[column].dtype, pd.CategoricalDtype):
                categorical.add(column)  # labels stay categorical, as in every tidy frame
                tagged[column] = tagged[column].astype(object)
        frames.append(tagged)
    combined = pd.concat(frames, ignore_index=True)
    for column in ["ref_id", *sorted(categorical)]:
        combined[column] = combined[column].astype("category")
    combined.attrs = {}
    return combined


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


def parse_assignments(items: Iterable[str]) -> dict[str, str | list[str]]:
    """``["node=web-01:9100", "mode=user", "mode=system"]`` as ``{"node": ..., "mode": [...]}``:
    a name given twice takes a list, as Grafana's ``var-mode=user&var-mode=system``."""
    found: dict[str, list[str]] = {}
    for item in items:
        name, equals, value = item.partition("=")
        name = name.strip().removeprefix("var-").removeprefix("$")
        if not equals or not name:
            raise SysmonUsageError(
                f"--var takes NAME=VALUE (e.g. --var node=web-01:9100), not {item!r}."
            )
        found.setdefault(name, []).append(value)
    return {name: values[0] if len(values) == 1 else values for name, values in found.items()}


# -- writing a dashboard ------------------------------------------------------------------------


@dataclass
class _Chart:
    title: str
    type: str
    unit: str | None
    limits: tuple[float | None, float | None]
    calc: str | None
    queries: list[dict[str, Any]]  # ref_id, expr, legend, instant, start, end, step


def to_dashboard(
    items: Sequence[Any] | Mapping[str, Any],
    title: str,
    *,
    path: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """A Grafana dashboard (its current JSON schema) of results: a panel per result.

    Each item is a frame from ``%%promql`` / :class:`~sysmon_magic.Client`, an
    :class:`~sysmon_magic.explorer.Explorer` (its picks and zoom), or a panel's frame; a mapping
    names the panels (``{"Memory": frame}``), else each is titled by its query. A range result
    becomes a time series panel, an instant one a table; their queries, legends (``--legend``),
    units (``--unit``, else the query's own) and steps are kept, and the dashboard's time range is
    the first result's window, so that :class:`Dashboard` gives the same frames again. With
    ``path``, the JSON is also written there.
    """
    named = list(items.items()) if isinstance(items, Mapping) else [(None, i) for i in items]
    if not named:
        raise SysmonUsageError("to_dashboard() needs at least one result.")
    charts = [_chart(item, name, number) for number, (name, item) in enumerate(named, 1)]
    first = charts[0].queries[0]
    start, end = first["start"], first["end"]
    for chart in charts:
        for query in chart.queries:
            _warn_if_not_kept(chart, query, start, end)
    dashboard = {
        "annotations": {"list": []},
        "description": "Written by sysmon-magic from notebook results.",
        "editable": True,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "links": [],
        "panels": [_panel_json(chart, number) for number, chart in enumerate(charts)],
        "refresh": "",
        "schemaVersion": SCHEMA_VERSION,
        "tags": ["sysmon-magic"],
        "templating": {
            "list": [
                {
                    "current": {},
                    "hide": 0,
                    "includeAll": False,
                    "label": "Data source",
                    "multi": False,
                    "name": "datasource",
                    "options": [],
                    "query": "prometheus",
                    "refresh": 1,
                    "regex": "",
                    "type": "datasource",
                }
            ]
        },
        "time": {"from": _iso(start), "to": _iso(end)},
        "timepicker": {},
        "timezone": "utc",
        "title": title,
        "version": 1,
        "weekStart": "",
    }
    if path is not None:
        with open(path, "w", encoding="utf-8") as file:
            json.dump(dashboard, file, indent=2, ensure_ascii=False)
            file.write("\n")
    return dashboard


def _chart(item: Any, name: str | None, number: int) -> _Chart:
    from .explorer import Explorer

    legend: str | None = None
    unit: str | None = None
    if isinstance(item, Explorer):
        frame = item.frame
        legend, unit = item.legend, item.unit
        info = dict(frame.attrs.get("promql", {}))
        if item.zoomed:
            first, last = item.window
            info["start"], info["end"] = first.timestamp(), last.timestamp()
    elif isinstance(item, pd.DataFrame):
        frame = item
        info = dict(frame.attrs.get("promql", {}))
        legend, unit = info.get("legend"), info.get("unit")
    else:
        raise SysmonUsageError(
            f"Item {number} is a {type(item).__name__}: give frames from %%promql (or Client) "
            "and explorers."
        )
    grafana = frame.attrs.get("grafana")
    if isinstance(grafana, Mapping):  # a panel's frame: its panel again
        return _Chart(
            title=name or str(grafana["title"]),
            type=str(grafana["type"]),
            unit=grafana.get("unit"),
            limits=tuple(grafana.get("limits") or (None, None)),  # type: ignore[arg-type]
            calc=grafana.get("calc"),
            queries=[dict(q) for q in grafana["queries"]],
        )
    query = info.get("query")
    if not isinstance(query, str) or not query:
        raise SysmonUsageError(
            f"Item {number} has no query in its attrs: give frames from %%promql (or Client)."
        )
    instant = "start" not in info
    if instant and "time" not in info:
        raise SysmonUsageError(f"Item {number} has neither a window nor a time in its attrs.")
    if unit is None:
        from . import units

        derived = units.unit_of(query)
        unit = derived.grafana_id if derived is not None else None
    at = float(info["time"]) if instant else float(info["end"])
    return _Chart(
        title=name or _short(query),
        type="table" if instant else "timeseries",
        unit=unit,
        limits=(None, None),
        calc=None,
        queries=[
            {
                "ref_id": "A",
                "expr": query,
                "legend": legend,
                "instant": instant,
                "start": at - 3600 if instant else float(info["start"]),
                "end": at,
                "step": None if instant else float(info["step"]),
            }
        ],
    )


def _warn_if_not_kept(chart: _Chart, query: Mapping[str, Any], start: float, end: float) -> None:
    """Say when Grafana would not show a result as it was: another window or a coarser step."""
    where = f"Panel {chart.title!r}"
    if query["instant"]:
        if query["end"] != end:
            warnings.warn(
                f"{where} was evaluated at {format_time(query['end'])}; the dashboard evaluates it "
                f"at the end of its time range, {format_time(end)}.",
                stacklevel=3,
            )
        return
    if (query["start"], query["end"]) != (start, end):
        warnings.warn(
            f"{where} covers {format_time(query['start'])} to {format_time(query['end'])}; the "
            f"dashboard shows it over its time range, {format_time(start)} to {format_time(end)}.",
            stacklevel=3,
        )
    step = query["step"]
    if (end - start) / step > MAX_POINTS_PER_SERIES:
        warnings.warn(
            f"{where} has a step of {format_duration(step)}, finer than Grafana sends for "
            f"{format_duration(end - start)} (at most {MAX_POINTS_PER_SERIES:,} steps).",
            stacklevel=3,
        )
    elif _aligned(start, end, step) != (start, end):
        warnings.warn(
            f"{where}: Grafana aligns the window to the step ({format_duration(step)}), so the "
            f"dashboard's points fall on multiples of it.",
            stacklevel=3,
        )


def _panel_json(chart: _Chart, number: int) -> dict[str, Any]:
    datasource = {"type": "prometheus", "uid": "${datasource}"}
    targets = []
    points = 0
    for query in chart.queries:
        target: dict[str, Any] = {
            "datasource": datasource,
            "editorMode": "code",
            "expr": query["expr"],
            "instant": bool(query["instant"]),
            "range": not query["instant"],
            "refId": query["ref_id"],
        }
        if query["legend"] is not None:
            target["legendFormat"] = query["legend"]
        if query["step"] is not None and not query["instant"]:
            # The step as the target's min step, and enough points that Grafana's own step is
            # never coarser: it then sends exactly this step.
            target["interval"] = format_duration(query["step"])
            points = max(points, math.ceil((query["end"] - query["start"]) / query["step"]) + 1)
        if chart.type == "table":
            target["format"] = "table"
        targets.append(target)
    defaults: dict[str, Any] = {}
    if chart.unit:
        defaults["unit"] = chart.unit
    low, high = chart.limits
    if low is not None:
        defaults["min"] = low
    if high is not None:
        defaults["max"] = high
    panel: dict[str, Any] = {
        "datasource": datasource,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "gridPos": {"h": 8, "w": 24, "x": 0, "y": number * 8},
        "id": number + 1,
        "targets": targets,
        "title": chart.title,
        "type": chart.type,
    }
    if points:
        panel["maxDataPoints"] = points
    if chart.type == "timeseries":
        panel["options"] = {
            "legend": {
                "calcs": [],
                "displayMode": "list",
                "placement": "bottom",
                "showLegend": True,
            },
            "tooltip": {"mode": "multi", "sort": "none"},
        }
    elif chart.calc is not None:
        panel["options"] = {"reduceOptions": {"calcs": [chart.calc], "fields": "", "values": False}}
    return panel


def _iso(seconds: float) -> str:
    """An absolute dashboard time as Grafana writes one: ``2026-11-05T06:00:00.000Z``."""
    return (
        pd.Timestamp(round(seconds * 1000), unit="ms", tz="UTC").strftime("%Y-%m-%dT%H:%M:%S.%f")[
            :-3
        ]
        + "Z"
    )


def _short(query: str) -> str:
    text = " ".join(query.split())
    return text if len(text) <= 80 else text[:77] + "..."
