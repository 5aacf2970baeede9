"""A dashboard's panels: what each is (its type, unit, targets, how it is drawn), the queries it
sends as Grafana's Prometheus data source does, and its data as one tidy DataFrame."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from ..errors import SysmonError, SysmonUsageError
from ..frames import NOT_LABELS
from ..templating import expand, grafana_macros, references
from ..timeparse import parse_duration
from .adhoc import add_filters
from .drawing import plot_lines, plot_values
from .model import PanelQuery, Target, as_mapping, datasource_type, is_prometheus, number_or_none
from .overrides import override_unit, read_overrides
from .timing import GRAFANA_SCRAPE_INTERVAL, aligned, interval_seconds, step_for

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from .dashboard import Dashboard

__all__ = ["Drawing", "Panel"]

# Panels drawn as lines, as one value per series, and as a table.
_LINES = frozenset({"timeseries", "graph"})
_VALUES = frozenset({"stat", "gauge", "bargauge", "singlestat"})
_TABLES = frozenset({"table", "table-old"})
Drawing = Literal["lines", "values", "table"]

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
    repeat, repeated
        The variable the panel is repeated for (``repeat`` in the JSON, the panel's or its
        row's), and this copy's value of it: ``{"node": "web-01:9100"}``, else ``{}``.
    overrides
        The unit overrides of ``fieldConfig.overrides``: :meth:`unit_for` gives a series' unit.
    """

    def __init__(
        self,
        dashboard: Dashboard,
        data: Mapping[str, Any],
        row: str | None,
        repeated: Mapping[str, str] | None = None,
    ) -> None:
        self.dashboard = dashboard
        self.data = data
        self.row = row
        self.repeat = str(data.get("repeat") or "") or None
        self.repeated: dict[str, str] = dict(repeated or {})
        self.id = data.get("id")
        self.title = str(data.get("title") or "")
        self.type = str(data.get("type") or "")
        field_config = as_mapping(data.get("fieldConfig"))
        defaults = as_mapping(field_config.get("defaults"))
        self.overrides = read_overrides(field_config.get("overrides"))
        yaxes = data.get("yaxes") if isinstance(data.get("yaxes"), list) else []
        left = as_mapping(yaxes[0]) if yaxes else {}
        unit = defaults.get("unit") or left.get("format") or data.get("format")
        self.unit: str | None = str(unit) if unit else None
        self.limits: tuple[float | None, float | None] = (
            number_or_none(defaults.get("min", left.get("min"))),
            number_or_none(defaults.get("max", left.get("max"))),
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
            if isinstance(item, Mapping) and is_prometheus(item.get("datasource"))
        ]
        self.calc = self._calc()
        self.drawn, self.reason = self._drawing(len(raw_targets))

    # -- what the panel is ---------------------------------------------------------------------

    def _calc(self) -> str:
        if self.type == "singlestat":
            return _SINGLESTAT_CALCS.get(str(self.data.get("valueName") or "avg"), "")
        reduce = as_mapping(as_mapping(self.data.get("options")).get("reduceOptions"))
        calcs = reduce.get("calcs")
        return str(calcs[0]) if isinstance(calcs, list) and calcs else "lastNotNull"

    def _drawing(self, raw_targets: int) -> tuple[Drawing | None, str]:
        if "libraryPanel" in self.data and not self.targets:
            return None, "a library panel: its queries are not in this JSON"
        if not is_prometheus(self.data.get("datasource")):
            return None, f"its data source is {datasource_type(self.data.get('datasource'))}"
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
    def values(self) -> dict[str, Any]:
        """What the panel's queries and title are expanded with: the dashboard's values, and a
        repeated panel's own value of its variable."""
        return {**self.dashboard.values, **self.repeated}

    @property
    def shown_title(self) -> str:
        """The title with the dashboard's variables filled in (``CPU of $node`` -> ``CPU of
        web-01:9100``; a repeated panel's with its own value), or as written where it cannot be."""
        try:
            return expand(self.title, self.values) if "$" in self.title else self.title
        except SysmonError:
            return self.title

    def unit_for(self, name: str | Sequence[str], ref_id: str | None = None) -> str | None:
        """The unit of the series shown as ``name`` (its legend, or ``metric{labels}``) of the
        target ``ref_id``: the last override that matches it, else the panel's unit."""
        return override_unit(self.overrides, name, ref_id, self.values) or self.unit

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
        values = self.values
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
                    min_interval=interval_seconds(self.interval, values),
                    min_step=interval_seconds(target.interval, values),
                    interval_factor=target.interval_factor,
                    scrape_interval=scrape,
                )
            # $__rate_interval adds the target's min step, else the data source's scrape
            # interval (Grafana assumes 15 s when none is configured).
            rate_scrape = (
                interval_seconds(target.interval, values) or scrape or GRAFANA_SCRAPE_INTERVAL
            )
            instant = target.instant or self.drawn == "table"
            # Grafana aligns a range query's window to its step (as Prometheus' cache wants).
            window = (first, last) if instant else aligned(first, last, chosen)
            macros = grafana_macros(
                range_seconds=span,
                step=chosen,
                scrape_interval=rate_scrape,
                interval=query_interval,
                start=first,
                end=last,
            )
            # Ad-hoc filters go into every selector once the variables are in (as Grafana does).
            expr = add_filters(_expand_for(self, target, values, macros), dashboard.filters)
            out.append(PanelQuery(target.ref_id, expr, instant, *window, chosen, target.legend))
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
            "overrides": [override.as_json() for override in self.overrides],
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
            return plot_values(self, frame, ax)
        return plot_lines(self, frame, ax)

    def _check_queries(self) -> None:
        if not self.visible_targets:
            raise SysmonUsageError(f"Panel {self.title!r} has no query to run: {self.reason}.")

    def __repr__(self) -> str:
        how = self.drawn or f"not drawn: {self.reason}"
        return f"<Panel {self.title!r} ({self.type}, {how})>"


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
                "does not define: give it a value in variables=."
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
