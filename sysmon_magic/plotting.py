"""``plot(frame) -> Axes``: a query's result as lines, with readable units, time and legends.

Units come from the metric's name as Prometheus' naming conventions promise (``_bytes``,
``_seconds``, ``_ratio``, a ``rate()`` of a ``_total`` counter); legends follow Grafana (a
``{{label}}`` template, or the labels that differ between series); past ``max_series`` series the
ones with the largest values are drawn and the rest counted, so a 5,000-series answer stays fast.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from . import promql_text
from .errors import SysmonUsageError
from .frames import NOT_LABELS

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["Unit", "as_wide", "legend_names", "plot", "unit_for"]

_LEGEND_FIELD = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
# A name not glued to a preceding word character (so the "m" of "5m" is not one).
_RATE_FUNCTIONS = re.compile(r"\b(?:rate|irate|deriv)\s*\(")


@dataclass(frozen=True)
class Unit:
    """How a y axis shows values: each value is divided by ``scale`` and suffixed ``symbol``."""

    scale: float
    symbol: str
    label: str

    def format(self, value: float) -> str:
        shown = value / self.scale
        text = f"{shown:.3g}" if abs(shown) < 1e4 else f"{shown:,.0f}"
        return f"{text} {self.symbol}".rstrip()


def metric_name(frame: pd.DataFrame, query: str | None = None) -> str | None:
    """The metric a result is about: its single ``__name__``, else the first one in the query."""
    names = _column_values(frame, "__name__")
    if len(names) == 1:
        return names[0]
    return promql_text.metric_name(query) if query else None


def unit_for(frame: pd.DataFrame, query: str | None = None) -> Unit:
    """Choose the y axis's unit from the metric name and the size of the values."""
    name = metric_name(frame, query) or ""
    # A quantile of rates is a value of the histogram's own unit, not a rate.
    per_second = bool(query and _RATE_FUNCTIONS.search(query) and "histogram_quantile" not in query)
    if query and _is_ratio(query):
        return Unit(1, "", "")  # a metric divided by another: the unit cancels out
    # histogram_quantile over x_seconds_bucket is in seconds; a bucket counter is not "_total".
    base = name.removesuffix("_total").removesuffix("_bucket")
    largest = _largest(frame)
    if base.endswith("_bytes"):
        return _binary_unit(largest, per_second)
    if base.endswith("_seconds"):
        if per_second:
            return Unit(1, "", "seconds per second")
        return _time_unit(largest)
    if base.endswith("_ratio"):
        return Unit(0.01, "%", "percent")
    if per_second and name.endswith("_total"):
        return Unit(1, "/s", "per second")
    return Unit(1, "", "")


def _is_ratio(query: str) -> bool:
    """Whether the query divides one selection by another (a ratio: no unit)."""
    bare = promql_text.blank_strings_and_matchers(query)
    return "/" in bare and len(promql_text.selectors(query)) >= 2


def _binary_unit(largest: float, per_second: bool) -> Unit:
    suffix = "/s" if per_second else ""
    for power, symbol in ((4, "TiB"), (3, "GiB"), (2, "MiB"), (1, "KiB")):
        if largest >= 1024**power:
            return Unit(
                1024**power, symbol + suffix, "bytes" + (" per second" if per_second else "")
            )
    return Unit(1, "B" + suffix, "bytes" + (" per second" if per_second else ""))


def _time_unit(largest: float) -> Unit:
    if largest < 1:
        return Unit(0.001, "ms", "duration")
    if largest < 180:
        return Unit(1, "s", "duration")
    if largest < 3 * 3600:
        return Unit(60, "min", "duration")
    return Unit(3600, "h", "duration")


def as_wide(frame: pd.DataFrame) -> pd.DataFrame:
    """A result frame (tidy or wide) as wide: a time index x a column per series."""
    if "timestamp" not in frame.columns:
        return frame
    if "value" not in frame.columns:
        raise SysmonUsageError("Cannot plot this frame: it has no value column.")
    labels = [c for c in frame.columns if c not in NOT_LABELS]
    if not labels:
        wide = frame.set_index("timestamp")[["value"]]
        wide.columns = pd.MultiIndex.from_tuples([("{}",)], names=["series"])
        return wide
    keyed = frame[["timestamp", *labels, "value"]].copy()
    for label in labels:  # a series without the label: "" so that it keeps its own column
        keyed[label] = keyed[label].astype(object).fillna("")
    wide = keyed.set_index(["timestamp", *labels])["value"].unstack(labels)
    if not isinstance(wide.columns, pd.MultiIndex):
        wide.columns = pd.MultiIndex.from_arrays([wide.columns], names=labels)
    return wide


def legend_names(
    columns: pd.Index, legend: str | None = None, query: str | None = None
) -> list[str]:
    """Series names (wide columns): a Grafana ``{{label}}`` template, else the labels that differ."""
    names = [str(name) for name in columns.names]
    label_sets = [
        dict(zip(names, key if isinstance(key, tuple) else (key,), strict=True)) for key in columns
    ]
    if legend:

        def fill(labels: dict[str, Any]) -> str:
            return _LEGEND_FIELD.sub(lambda m: str(labels.get(m.group(1), "")), legend)

        return [fill(labels) for labels in label_sets]
    if len(label_sets) == 1:
        return [_shorten(" ".join((query or "").split())) or _selector(label_sets[0])]
    differing = [n for n in names if len({ls.get(n, "") for ls in label_sets}) > 1]
    if len(differing) == 1:
        only = differing[0]
        return [str(ls[only]) or f"(no {only})" for ls in label_sets]
    return [", ".join(f"{n}={ls[n]}" for n in differing if ls[n] != "") for ls in label_sets]


def plot(
    frame: pd.DataFrame,
    ax: Axes | None = None,
    legend: str | None = None,
    *,
    title: str | None = None,
    timezone: str = "UTC",
    max_series: int = 30,
    query: str | None = None,
) -> Axes:
    """Draw a query result as one line per series and return the Axes.

    Parameters
    ----------
    frame
        A tidy or wide result frame (from ``%%promql`` or :class:`~sysmon_magic.Client`).
    ax
        Draw into these Axes; by default a new pyplot figure.
    legend
        Grafana's legend template, e.g. ``"{{instance}} {{mode}}"``; default: the labels that
        differ between series (a single series is named by its query).
    timezone
        IANA zone for the time axis (``"Asia/Seoul"``); default UTC.
    max_series
        Draw at most this many series: those with the largest values; the rest are counted.
    query
        The PromQL, for units and names; default ``frame.attrs["promql"]["query"]``.

    Examples
    --------
    >>> df = %promql rate(node_network_receive_bytes_total[5m])  # doctest: +SKIP
    >>> sysmon_magic.plot(df, legend="{{instance}} {{device}}", timezone="Asia/Seoul")
    """
    zone = _zone(timezone)
    query = query or frame.attrs.get("promql", {}).get("query")
    wide = as_wide(frame)
    total = wide.shape[1]
    if total > max_series:
        largest = np.nan_to_num(wide.to_numpy(dtype=float), nan=-np.inf).max(axis=0)
        keep = np.sort(np.argsort(-largest, kind="stable")[:max_series])
        wide = wide.iloc[:, keep]
    unit = unit_for(frame, query)
    names = legend_names(wide.columns, legend, query)

    import matplotlib.dates as mdates
    import matplotlib.ticker as mticker

    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(10, 3.6), layout="constrained")
    # Wall-clock times in the zone, as matplotlib's date numbers: no tz handling, and converted
    # once here rather than once per line by matplotlib's units machinery.
    times = mdates.date2num(pd.DatetimeIndex(wide.index).tz_convert(zone).tz_localize(None))
    values = wide.to_numpy(dtype=float)
    # One call for all lines (a column each). Bevel joins: at 1.2 px they look the same as round
    # ones, and noisy lines (a join at every point) draw 10 % faster.
    lines = ax.plot(times, values, linewidth=1.2, solid_joinstyle="bevel") if names else []
    for line, name in zip(lines, names, strict=True):
        line.set_label(_shorten(name, 45))
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.yaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _pos: unit.format(v)))
    if unit.scale not in (1, 0.01):
        # Ticks at round numbers of the shown unit (1 GiB, 2 GiB), not of the raw one.
        ax.autoscale_view()
        low, high = ax.get_ylim()
        nice = mticker.MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10])
        ticks = np.asarray(nice.tick_values(low / unit.scale, high / unit.scale)) * unit.scale
        ax.yaxis.set_major_locator(mticker.FixedLocator(ticks.tolist()))
        ax.set_ylim(low, high)
    else:  # Axes drawn into again (the explorer's) may hold the fixed ticks of an earlier unit
        ax.yaxis.set_major_locator(mticker.AutoLocator())
    ax.set_xlabel(f"time ({timezone})")
    if unit.label:
        ax.set_ylabel(unit.label)
    ax.grid(True, alpha=0.3)
    if title is not None:
        ax.set_title(title, loc="left", fontsize=10)
    if total > max_series:
        ax.text(
            0.0,
            1.02,
            f"Showing {max_series} of {total:,} series (those with the largest values): narrow "
            "the query with a label matcher, or topk().",
            transform=ax.transAxes,
            fontsize=8,
            color="#a33",
        )
    if 1 < len(names) <= 12 or (len(names) > 12 and legend):
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    elif len(names) == 1:
        ax.set_title(names[0], loc="left", fontsize=9, family="monospace")
    return ax


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SysmonUsageError(
            f"Unknown time zone {name!r}: use an IANA name such as UTC or Asia/Seoul."
        ) from None


def _largest(frame: pd.DataFrame) -> float:
    values = frame["value"] if "value" in frame.columns else frame
    array = np.abs(np.asarray(values, dtype=float))
    array = array[np.isfinite(array)]
    return float(array.max()) if array.size else 0.0


def _column_values(frame: pd.DataFrame, name: str) -> list[str]:
    if name in frame.columns:
        return [str(v) for v in pd.unique(frame[name].dropna())]
    if isinstance(frame.columns, pd.MultiIndex) and name in frame.columns.names:
        return [str(v) for v in frame.columns.unique(level=name)]
    return []


def _selector(labels: dict[str, Any]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in labels.items() if v != "") + "}"


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
