"""``plot(frame) -> Axes``: a query's result as lines that can be told apart, in true units.

- Units come from the whole expression (:mod:`~sysmon_magic.units`): ``rate(x_bytes_total[5m])
  * 8`` is bits per second. When the unit cannot be known, the axis shows none, never a guess;
  ``unit=`` takes one of Grafana's unit ids instead.
- Every drawn series has its own colour and line style (10 colours x 4 styles), and the legend
  under the plot names exactly the drawn series, wrapped, never cut. Default names use the
  smallest set of labels that tells the series apart; ``legend=`` takes Grafana's forms.
- Past ``max_series`` series the ones with the largest values are drawn, and the plot says how
  many of how many; a result with no data draws its window with "No data" on it.
- ``events=`` marks moments (a deploy, an outage) with labelled dotted lines; ``log=True`` draws
  the values on a log scale (a p99 beside healthy hosts), and says how many values it cannot draw.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, cast
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from .errors import SysmonUsageError
from .frames import to_wide
from .legends import (
    AUTO_LEGEND,
    distinguishing_labels,
    informative_labels,
    legend_grid,
    legend_names,
)
from .provenance import Provenance
from .timeparse import parse_zone

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .units import Unit

# The legend helpers stay importable from here, where they were first published.
__all__ = [
    "AUTO_LEGEND",
    "MAX_DISTINCT_SERIES",
    "distinguishing_labels",
    "event_times",
    "informative_labels",
    "legend_grid",
    "legend_height",
    "legend_names",
    "plot",
    "unit_for",
    "value_formatter",
]

# matplotlib's default colours; each is drawn solid first, then dashed, dotted, dash-dotted.
_COLOURS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip
_STYLES: tuple[Literal["-", "--", ":", "-."], ...] = ("-", "--", ":", "-.")
#: Plots draw at most this many series: beyond it two would share a colour and a line style.
MAX_DISTINCT_SERIES = len(_COLOURS) * len(_STYLES)

_LEGEND_FONT_POINTS = 8
_LEGEND_WRAP = 60  # characters per legend line; longer names wrap, they are never cut
# The legend sits this far below the axes: under the tick labels and the time axis' label.
_LEGEND_OFFSET_POINTS = 34


def unit_for(frame: pd.DataFrame, query: str | None = None, unit: str | None = None) -> Unit | None:
    """The unit of a result: Grafana's ``unit`` id if given, else the expression's, else none."""
    from . import units  # here: it parses with promql-parser, not needed to load the magics

    if unit is not None:
        chosen = units.unit_from_grafana(unit)
        if chosen is None:
            raise SysmonUsageError(
                f"Unknown unit {unit!r}: use one of Grafana's unit ids, e.g. "
                f"{', '.join(units.GRAFANA_UNIT_IDS[:12])} (all: sysmon_magic.units.GRAFANA_UNIT_IDS)."
            )
        return chosen
    if query:
        return units.unit_of(query)
    names = _column_values(frame, "__name__")
    return units.unit_of(names[0]) if len(names) == 1 else None


def legend_height(ax: Axes) -> float:
    """Inches the legend under ``ax`` (from :func:`plot`) takes below the axes' labels."""
    legend = ax.get_legend()
    if legend is None:
        return 0.0
    _, rows = legend_grid([text.get_text() for text in legend.get_texts()])
    line = _LEGEND_FONT_POINTS * 1.25 / 72
    return sum(rows) * line + len(rows) * 0.05 + 0.1


def plot(
    frame: pd.DataFrame,
    ax: Axes | None = None,
    legend: str | None = None,
    *,
    title: str | None = None,
    timezone: str = "UTC",
    max_series: int = 30,
    query: str | None = None,
    unit: str | None = None,
    limits: tuple[float | None, float | None] = (None, None),
    events: Events | None = None,
    log: bool = False,
) -> Axes:
    """Draw a query result as one line per series and return the Axes.

    Parameters
    ----------
    frame
        A tidy or wide result frame (from ``%%promql`` or :class:`~sysmon_magic.Client`).
    ax
        Draw into these Axes; by default a new pyplot figure (which grows to fit the legend).
    legend
        Grafana's legend format: ``"{{instance}} {{mode}}"``, ``"__auto"`` or ``""``; default:
        the values of the fewest labels that tell the series apart.
    timezone
        IANA zone for the time axis (``"Asia/Seoul"``); default UTC.
    max_series
        Draw at most this many series (at most 40, so that no two look alike): those with the
        largest values; the plot says how many were drawn of how many.
    query
        The PromQL, for units and names; default ``frame.attrs["promql"]["query"]``.
    unit
        One of Grafana's unit ids (``"percent"``, ``"bytes"``, ``"bps"``, ...) for the y axis;
        default: the unit of the query's result, or none when it cannot be known.
    limits
        The y axis' ``(min, max)`` in the values' own unit (a Grafana panel's min and max);
        ``None`` for either end: fitted to the data.
    events
        Moments to mark, ``{time: label}`` or ``[(time, label), ...]``; a time is RFC 3339, unix
        seconds or a ``datetime``. Events outside the plotted window are left out.
    log
        A logarithmic value axis; values of 0 or less cannot be drawn on it, and the plot says
        how many there were.

    Examples
    --------
    >>> df = %promql rate(node_network_receive_bytes_total[5m])  # doctest: +SKIP
    >>> sysmon_magic.plot(df, legend="{{instance}} {{device}}", timezone="Asia/Seoul",
    ...                   events={"2026-11-05T06:31:00Z": "crash"})
    """
    if not 1 <= max_series <= MAX_DISTINCT_SERIES:
        raise SysmonUsageError(
            f"max_series must be 1 to {MAX_DISTINCT_SERIES}: beyond that, two lines would share "
            "a colour and a line style. Narrow the query (a matcher, topk()) instead."
        )
    zone = parse_zone(timezone)
    asked = Provenance.of(frame)
    query = query or asked.query
    wide = to_wide(frame)
    total = wide.shape[1]
    if total > max_series:
        largest = np.nan_to_num(wide.to_numpy(dtype=float), nan=-np.inf).max(axis=0)
        keep = np.sort(np.argsort(-largest, kind="stable")[:max_series])
        wide = wide.iloc[:, keep]
    shown_unit = unit_for(frame, query, unit)
    created = ax is None
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(10, 3.6), layout="constrained")
    values = wide.to_numpy(dtype=float)
    if not np.isfinite(values).any():
        _draw_no_data(ax, asked, zone, timezone)
        return ax

    import matplotlib.dates as mdates

    # Wall-clock times in the zone, as matplotlib's date numbers: no tz handling, and converted
    # once here rather than once per line by matplotlib's units machinery.
    times = mdates.date2num(pd.DatetimeIndex(wide.index).tz_convert(zone).tz_localize(None))
    # One call for all lines (a column each). Bevel joins: at 1.2 px they look the same as round
    # ones, and noisy lines (a join at every point) draw 10 % faster.
    lines = ax.plot(times, values, linewidth=1.2, solid_joinstyle="bevel")
    for number, line in enumerate(lines):
        line.set_color(_COLOURS[number % len(_COLOURS)])
        line.set_linestyle(_STYLES[number // len(_COLOURS)])
    _time_axis(ax, timezone)
    if log:
        ax.set_yscale("log")
    _value_axis(ax, shown_unit, values, zone, limits, log=log)
    ax.grid(True, alpha=0.3)
    if events:
        _mark_events(ax, events, zone, (float(times.min()), float(times.max())))
    notes = []
    if title is not None:
        ax.set_title(title, loc="left", fontsize=10)
    if total > max_series:
        notes.append(
            f"Showing {max_series} of {total:,} series (those with the largest values): narrow "
            "the query with a label matcher, or topk()."
        )
    hidden = int((values[np.isfinite(values)] <= 0).sum()) if log else 0
    if hidden:
        values_are = "value of 0 or less is" if hidden == 1 else "values of 0 or less are"
        notes.append(f"{hidden:,} {values_are} not drawn on the log scale.")
    if notes:
        ax.text(0.0, 1.02, " ".join(notes), transform=ax.transAxes, fontsize=8, color="#a33")
    names = legend_names(wide.columns, legend, query)
    for line, name in zip(lines, names, strict=True):
        line.set_label(name)  # for get_label(); the legend below gets its labels explicitly
    if len(lines) == 1 and legend is None:
        ax.set_title(textwrap.fill(names[0], 110), loc="left", fontsize=9, family="monospace")
    else:
        _legend_below(ax, lines, names)
        if created:
            figure = cast("Figure", ax.get_figure())
            figure.set_figheight(figure.get_figheight() + legend_height(ax))
    return ax


def _legend_below(ax: Axes, lines: Sequence[Any], names: Sequence[str]) -> None:
    from matplotlib.transforms import offset_copy

    wrapped = [
        textwrap.fill(name, _LEGEND_WRAP) if len(name) > _LEGEND_WRAP else name for name in names
    ]
    columns, _ = legend_grid(wrapped)
    figure = cast("Figure", ax.get_figure())
    placement: dict[str, Any] = {
        "loc": "upper left",
        "bbox_to_anchor": (0.0, 0.0),
        "bbox_transform": offset_copy(
            ax.transAxes, figure, y=-_LEGEND_OFFSET_POINTS, units="points"
        ),
        "ncols": columns,
        "fontsize": _LEGEND_FONT_POINTS,
        "frameon": False,
        "borderaxespad": 0.0,
        "handlelength": 2.6,  # long enough to show a dash-dot pattern
        "columnspacing": 1.5,
    }
    # Explicit labels: matplotlib leaves out of a legend any label starting with "_".
    ax.legend(list(lines), wrapped, **placement)


def _time_axis(ax: Axes, timezone: str) -> None:
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_xlabel(f"time ({timezone})")


def value_formatter(unit: Unit, largest: float) -> Callable[[float, float | None], str]:
    """How values up to ``largest`` are written in ``unit``: ``2.5 GiB``, ``120 ms``, ``45 %``."""
    scale, symbol = unit.ticks(largest)

    def shown(value: float, _position: float | None = None) -> str:
        number = value / scale
        text = f"{number:.3g}" if abs(number) < 1e4 else f"{number:,.0f}"
        return f"{text} {symbol}".rstrip()

    return shown


#: Events: ``{time: label}`` or ``[(time, label), ...]``.
Events = Mapping[Any, str] | Sequence[tuple[Any, str]]


def event_times(events: Events) -> list[tuple[float, str]]:
    """Events as ``(unix seconds, label)``, in time order."""
    from .timeparse import parse_time

    pairs = list(events.items()) if isinstance(events, Mapping) else list(events)
    try:
        return sorted((parse_time(moment, 0.0), str(label)) for moment, label in pairs)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, SysmonUsageError):
            raise
        raise SysmonUsageError(
            "events= takes {time: label} or [(time, label), ...], e.g. "
            '{"2026-11-05T06:31:00Z": "crash"}.'
        ) from None


def _mark_events(ax: Axes, events: Events, zone: ZoneInfo, span: tuple[float, float]) -> None:
    import matplotlib.dates as mdates

    for seconds, label in event_times(events):
        moment = pd.Timestamp(seconds, unit="s", tz="UTC").tz_convert(zone).tz_localize(None)
        x = float(mdates.date2num(moment))
        if not span[0] <= x <= span[1]:
            continue
        ax.axvline(x, color="#333", linestyle=":", linewidth=1.0, zorder=1.5)
        ax.annotate(
            label,
            xy=(x, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(-2, -3),
            textcoords="offset points",
            rotation=90,
            ha="right",
            va="top",
            fontsize=7,
            color="#333",
        )


def _value_axis(
    ax: Axes,
    unit: Unit | None,
    values: np.ndarray,
    zone: ZoneInfo,
    limits: tuple[float | None, float | None] = (None, None),
    *,
    log: bool = False,
) -> None:
    import matplotlib.ticker as mticker

    finite = np.abs(values[np.isfinite(values)])
    largest = float(finite.max()) if finite.size else 0.0
    if limits != (None, None):
        ax.autoscale_view()
        ax.set_ylim(*limits)  # before the ticks, which are placed within the limits
    if unit is None:
        if not log:  # a log axis keeps its own locator and formatter
            ax.yaxis.set_major_locator(mticker.AutoLocator())
            ax.yaxis.set_major_formatter(mticker.ScalarFormatter())
        ax.set_ylabel("log scale" if log else "")
        return
    if unit.base == "timestamp":  # points in time (node_boot_time_seconds): show them as dates
        times = values[np.isfinite(values)]
        if times.size and times.max() - times.min() < 60:  # one moment: an hour around it
            ax.set_ylim(times.min() - 1800, times.max() + 1800)
        ax.yaxis.set_major_locator(mticker.MaxNLocator(nbins=5))
        ax.yaxis.set_major_formatter(
            mticker.FuncFormatter(
                lambda value, _position: f"{pd.Timestamp(value, unit='s', tz=zone):%Y-%m-%d %H:%M}"
            )
        )
        ax.set_ylabel(unit.label)
        return
    scale, _ = unit.ticks(largest)
    ax.yaxis.set_major_formatter(mticker.FuncFormatter(value_formatter(unit, largest)))
    if log:  # decades, and 2 and 5 between them: 0.1 s, 0.2 s, 0.5 s, 1 s
        ax.yaxis.set_major_locator(mticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_minor_formatter(mticker.NullFormatter())
        ax.set_ylabel(f"{unit.label} (log scale)")
        return
    # Ticks at round numbers of the shown unit (1 GiB, 2 GiB), not of the raw one.
    ax.autoscale_view()
    low, high = ax.get_ylim()
    nice = mticker.MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10])
    ticks = np.asarray(nice.tick_values(low / scale, high / scale)) * scale
    ax.yaxis.set_major_locator(mticker.FixedLocator(ticks.tolist()))
    ax.set_ylim(low, high)
    ax.set_ylabel(unit.label)


def _draw_no_data(ax: Axes, asked: Provenance, zone: ZoneInfo, timezone: str) -> None:
    """The queried window with "No data" on it (not matplotlib's 1970 and a +-0.04 axis)."""
    import matplotlib.dates as mdates
    import matplotlib.ticker as mticker

    first: float | None
    last: float | None
    if asked.start is not None and asked.end is not None:
        first, last = float(asked.start), float(asked.end)
    elif asked.time is not None:
        first, last = float(asked.time) - 300, float(asked.time) + 300
    else:
        first = last = None
    if first is not None and last is not None and last > first:
        window = pd.to_datetime([first, last], unit="s", utc=True).tz_convert(zone)
        ax.set_xlim(*mdates.date2num(window.tz_localize(None)))
        _time_axis(ax, timezone)
    else:
        ax.xaxis.set_major_locator(mticker.NullLocator())
    ax.yaxis.set_major_locator(mticker.NullLocator())
    ax.yaxis.set_major_formatter(mticker.NullFormatter())
    ax.set_ylim(0, 1)
    ax.text(0.5, 0.5, "No data", ha="center", va="center", transform=ax.transAxes, color="#666")


def _column_values(frame: pd.DataFrame, name: str) -> list[str]:
    if name in frame.columns:
        return [str(v) for v in pd.unique(frame[name].dropna())]
    if isinstance(frame.columns, pd.MultiIndex) and name in frame.columns.names:
        return [str(v) for v in frame.columns.unique(level=name)]
    return []
