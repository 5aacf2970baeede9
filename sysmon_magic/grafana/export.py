"""Writing a dashboard from results: :func:`to_dashboard` turns ``%%promql`` frames, explorers and
panels' frames into Grafana's current JSON schema, with their queries, windows, steps, legends
and units, so that :class:`~sysmon_magic.grafana.Dashboard` gives the same frames again."""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..errors import SysmonUsageError
from ..timeparse import MAX_POINTS_PER_SERIES, format_duration, format_time
from .timing import aligned

__all__ = ["SCHEMA_VERSION", "to_dashboard"]

#: The dashboard schema :func:`to_dashboard` writes (Grafana 11 and 12).
SCHEMA_VERSION = 41


@dataclass
class _Chart:
    title: str
    type: str
    unit: str | None
    limits: tuple[float | None, float | None]
    calc: str | None
    queries: list[dict[str, Any]]  # ref_id, expr, legend, instant, start, end, step
    overrides: list[dict[str, Any]] = field(default_factory=list)  # a panel's, as in its JSON


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
    units (``--unit``, else the query's own; a panel's frame: its unit overrides too) and steps
    are kept, and the dashboard's time range is the first result's window, so that :class:`Dashboard` gives the same frames again. With
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
    from ..explorer import Explorer

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
            overrides=[dict(o) for o in grafana.get("overrides") or []],
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
        from .. import units

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
    elif aligned(start, end, step) != (start, end):
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
        "fieldConfig": {"defaults": defaults, "overrides": chart.overrides},
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
