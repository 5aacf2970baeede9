"""Alert backtesting: when would an alerting rule have fired over a past window?

:func:`backtest` evaluates an alert expression as Prometheus' rule manager does
(``rules/alerting.go``): at every evaluation interval, each series of the result is an alert,
labelled by the series' labels without ``__name__``. A new alert is *pending* from the first
evaluation that returns its series (``active_at``); it *fires* at the first evaluation at least
``for`` after that (at once with ``for: 0``); when its series is missing from a result, a pending
alert is dropped and a firing one resolves, unless ``keep_firing_for`` holds it: it then keeps
firing until an evaluation ``keep_firing_for`` or more after the first one that missed it, and a
return of the series before then continues the same alert. A series that comes back after its
alert ended starts a new one.

The evaluations are one range query (a range query at step ``every`` evaluates the expression
exactly as an instant query at each step does), so a week at one minute costs one request per
11,000 steps. The first evaluation is the window's start: an alert that was already true then
counts from there (``active_at`` is the start), as a rule manager started at that time would.

:func:`episodes` is the state machine alone, on the evaluation times at which each series was
returned (pure, tested on literals); :func:`draw` shades the pending and firing periods over the
expression.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .errors import SysmonUsageError
from .timeparse import format_duration, format_time, parse_duration

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .plotting import Events
    from .query_client import QueryClient, TimeLike

__all__ = ["Episode", "backtest", "describe", "draw", "episodes", "figure", "firing_at", "frame_of"]

#: The columns of a backtest's frame after the series' labels.
TIME_COLUMNS = ("active_at", "firing_at", "resolved_at")

LabelKey = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Episode:
    """One alert from its first true evaluation to its end (times in unix seconds).

    ``firing_at`` is ``None`` for an alert that never fired; ``resolved_at`` is when a firing
    alert resolved, or when a pending one was dropped; ``None`` if it was still active at the
    window's end.
    """

    labels: LabelKey
    active_at: float
    firing_at: float | None
    resolved_at: float | None


def _seconds(value: float | str, name: str) -> float:
    if isinstance(value, str) and re.fullmatch(r"\s*0+(?:ms|s|m|h|d|w|y)?\s*", value):
        return 0.0  # a rule's "for: 0s"; parse_duration takes only steps, which are positive
    seconds = parse_duration(value) if isinstance(value, str) else float(value)
    if not seconds >= 0:
        raise SysmonUsageError(f"{name}= must be a duration of 0 or more, not {value!r}.")
    return seconds


def episodes(
    present: Mapping[LabelKey, Sequence[float]],
    times: Sequence[float],
    *,
    for_: float = 0.0,
    keep_firing_for: float = 0.0,
) -> list[Episode]:
    """The alert episodes of each series, from the evaluation ``times`` at which it was returned.

    ``present`` maps each series' labels to the times (a subset of ``times``) at which the alert
    expression returned it. Follows Prometheus' ``AlertingRule.Eval``: see the module docstring.
    Times are compared in whole milliseconds, as Prometheus does.
    """
    grid = [round(t * 1000) for t in times]
    for_ms, keep_ms = round(for_ * 1000), round(keep_firing_for * 1000)
    found: list[Episode] = []
    for labels, when in present.items():
        true_at = {round(t * 1000) for t in when}
        active: int | None = None  # this episode's active_at, while pending or firing
        fired: int | None = None
        missing_since: int | None = None  # KeepFiringSince
        for t in grid:
            if t in true_at:
                missing_since = None
                if active is None:
                    active, fired = t, None
            elif active is not None:
                if fired is not None and keep_ms > 0:
                    missing_since = t if missing_since is None else missing_since
                    if t - missing_since < keep_ms:
                        continue  # kept firing
                found.append(Episode(labels, active / 1000, _s(fired), t / 1000))
                active = fired = missing_since = None
                continue
            else:
                continue
            if fired is None and t - active >= for_ms:
                fired = t
        if active is not None:
            found.append(Episode(labels, active / 1000, _s(fired), None))
    return sorted(found, key=lambda e: (e.active_at, e.labels))


def _s(milliseconds: int | None) -> float | None:
    return None if milliseconds is None else milliseconds / 1000


def backtest(
    client: QueryClient,
    expr: str,
    *,
    for_: float | str = 0.0,
    keep_firing_for: float | str = 0.0,
    every: float | str | None = None,
    start: TimeLike,
    end: TimeLike | None = None,
    timeout: float | None = None,
) -> pd.DataFrame:
    """Evaluate an alerting rule's ``expr`` over a past window; a row per alert episode.

    Parameters
    ----------
    client
        Where the data are.
    expr
        The rule's ``expr:``, e.g. ``predict_linear(node_memory_MemAvailable_bytes[1h], 4*3600) < 0``.
    for_, keep_firing_for
        The rule's ``for:`` and ``keep_firing_for:`` (seconds or ``"10m"``).
    every
        The evaluation interval (``evaluation_interval``); default: the connection's scrape
        interval, measured if it is not known.
    start, end
        The window; the first evaluation is at ``start``, the others every ``every`` up to
        ``end`` (default: now).

    Returns
    -------
    pandas.DataFrame
        A column per label of the alerts' series, then ``active_at`` (the first true
        evaluation), ``firing_at`` (the first evaluation at least ``for`` later; NaT if it never
        fired) and ``resolved_at`` (when it resolved, or a pending alert was dropped; NaT if
        still active at the end), as UTC timestamps, ordered by ``active_at``.
        ``attrs["alert"]`` holds the rule and window; ``attrs["promql"]`` the query's provenance.

    Examples
    --------
    >>> backtest(client, 'node_load1 > 2', for_="5m", start="2026-11-05T00:00:00Z",
    ...          end="2026-11-06T00:00:00Z")  # doctest: +SKIP
    """
    hold, keep = _seconds(for_, "for_"), _seconds(keep_firing_for, "keep_firing_for")
    step = _interval(client, every)
    start_s = _time(client, start)
    end_s = client.now() if end is None else _time(client, end)
    if end_s < start_s:
        raise SysmonUsageError(
            f"The window ends ({format_time(end_s)}) before it starts ({format_time(start_s)})."
        )
    frame = client.query_range(expr, start_s, end_s, step, timeout=timeout)
    count = int(np.floor((end_s - start_s) / step + 1e-9)) + 1
    times = [start_s + i * step for i in range(count)]
    found = episodes(_presence(frame, expr), times, for_=hold, keep_firing_for=keep)
    result = frame_of(found)
    result.attrs["promql"] = frame.attrs.get("promql", {})
    result.attrs["alert"] = {
        "expr": expr,
        "for": hold,
        "keep_firing_for": keep,
        "every": step,
        "start": start_s,
        "end": end_s,
        "evaluations": count,
    }
    return result


def _time(client: QueryClient, value: TimeLike) -> float:
    from .timeparse import parse_time

    return parse_time(value, client.now())


def _interval(client: QueryClient, every: float | str | None) -> float:
    if every is not None:
        step = _seconds(every, "every")
        if step <= 0:
            raise SysmonUsageError("every= must be longer than 0, e.g. every='1m'.")
        return step
    if client.scrape_interval is None:
        client.scrape_interval = client.measure_scrape_interval()
    if client.scrape_interval is None:
        raise SysmonUsageError(
            "The evaluation interval is unknown (no samples to measure the scrape interval "
            "from): give every=, e.g. every='1m'."
        )
    return client.scrape_interval


def _presence(frame: pd.DataFrame, expr: str) -> dict[LabelKey, list[float]]:
    """Each alert's labels (a series' labels without ``__name__``) and the times it was true."""
    names = [c for c in frame.columns if c not in ("timestamp", "value", "__name__")]
    seconds = frame["timestamp"].to_numpy(dtype="datetime64[ns]").astype(np.int64) / 1e9
    present: dict[LabelKey, list[float]] = {}
    metrics: dict[tuple[LabelKey, float], str] = {}
    columns = [frame[name].to_numpy(dtype=object) for name in names]
    metric_names = frame["__name__"].to_numpy(dtype=object) if "__name__" in frame.columns else None
    for row, at in enumerate(seconds):
        key = tuple(
            (name, str(column[row]))
            for name, column in zip(names, columns, strict=True)
            if not pd.isna(column[row])
        )
        if metric_names is not None:  # Prometheus refuses two series that differ only by name
            name = str(metric_names[row])
            other = metrics.setdefault((key, float(at)), name)
            if other != name:
                raise SysmonUsageError(
                    f"{expr!r} returns {other} and {name} with the same labels {_text(key)}: "
                    "Prometheus refuses such an alert (the same labelset after dropping the "
                    "metric name). Add a label, e.g. with label_replace()."
                )
        present.setdefault(key, []).append(float(at))
    return present


def _text(labels: LabelKey) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in labels) + "}"


def frame_of(found: Sequence[Episode]) -> pd.DataFrame:
    """Episodes as a backtest's frame: a column per label, then the three times (UTC)."""
    names = sorted({name for episode in found for name, _ in episode.labels})
    rows: list[list[Any]] = []
    for episode in found:
        labels = dict(episode.labels)
        rows.append(
            [labels.get(name) for name in names]
            + [episode.active_at, episode.firing_at, episode.resolved_at]
        )
    frame = pd.DataFrame(rows, columns=[*names, *TIME_COLUMNS])
    for column in TIME_COLUMNS:
        frame[column] = pd.to_datetime(frame[column].astype(float), unit="s", utc=True)
    return frame


def firing_at(alerts: pd.DataFrame, moment: TimeLike) -> pd.DataFrame:
    """The alerts of a backtest that were firing at ``moment`` (what Prometheus would show)."""
    from .timeparse import parse_time

    at = pd.Timestamp(parse_time(moment, 0.0), unit="s", tz="UTC")
    fired = alerts["firing_at"].notna() & (alerts["firing_at"] <= at)
    not_yet_resolved = alerts["resolved_at"].isna() | (alerts["resolved_at"] > at)
    return alerts[fired & not_yet_resolved]


def describe(alerts: pd.DataFrame) -> str:
    """One line: how many episodes, how many fired, and the rule and window evaluated."""
    rule = alerts.attrs.get("alert", {})
    fired = int(alerts["firing_at"].notna().sum()) if len(alerts) else 0
    labels = alerts.drop(columns=list(TIME_COLUMNS))
    series = len(labels.drop_duplicates()) if len(labels.columns) else min(len(alerts), 1)
    what = (
        f"{len(alerts)} alert episode{'s' * (len(alerts) != 1)} ({fired} fired) of {series} series"
    )
    if not rule:
        return what
    keep = (
        f", keep_firing_for {format_duration(rule['keep_firing_for'])}"
        if rule["keep_firing_for"]
        else ""
    )
    return (
        f"{what} · for {format_duration(rule['for'])}{keep} · evaluated every "
        f"{format_duration(rule['every'])}, {rule['evaluations']:,} times from "
        f"{format_time(rule['start'])} to {format_time(rule['end'])}"
    )


# -- drawing -------------------------------------------------------------------------------------

_PENDING = "#f2c14e"
_FIRING = "#d1495b"


def _threshold(expr: str) -> tuple[str, float] | None:
    """``(vector side, threshold)`` of ``vector > 3`` or ``3 < vector``; else ``None``."""
    import promql_parser as pp

    from .explain import is_scalar, shown

    try:
        tree: Any = pp.parse(expr)
    except ValueError:
        return None
    while isinstance(tree, pp.ParenExpr):
        tree = tree.expr
    comparison = isinstance(tree, pp.BinaryExpr) and str(tree.op) in ("<", ">", "<=", ">=")
    if not comparison or (tree.modifier is not None and tree.modifier.return_bool):
        return None
    for vector, number in ((tree.lhs, tree.rhs), (tree.rhs, tree.lhs)):
        if isinstance(number, pp.NumberLiteral) and not is_scalar(vector):
            return shown(vector), float(number.val)
    return None


def draw(
    client: QueryClient,
    alerts: pd.DataFrame,
    ax: Axes,
    *,
    timezone: str = "UTC",
    legend: str | None = None,
    max_series: int = 30,
    events: Events | None = None,
) -> Axes:
    """Plot a backtest's expression over its window and shade each alert's pending (amber) and
    firing (red) periods. A comparison with a number (``x < 0``) is drawn as its left side with
    the threshold as a dashed line, so that the values that did not alert show too."""
    from .plotting import plot

    rule = alerts.attrs["alert"]
    split = _threshold(rule["expr"])
    query = split[0] if split else rule["expr"]
    values = client.query_range(query, rule["start"], rule["end"], rule["every"])
    plot(values, ax=ax, legend=legend, timezone=timezone, max_series=max_series, events=events)
    if split:
        ax.axhline(split[1], color="#555", linestyle="--", linewidth=0.9)
    import matplotlib.dates as mdates

    from .timeparse import parse_zone

    zone = parse_zone(timezone)
    end = pd.Timestamp(rule["end"], unit="s", tz="UTC")

    def x(moment: pd.Timestamp) -> float:
        return float(mdates.date2num(moment.tz_convert(zone).tz_localize(None)))

    for active, fired, resolved in zip(
        alerts["active_at"], alerts["firing_at"], alerts["resolved_at"], strict=True
    ):
        stop = end if pd.isna(resolved) else pd.Timestamp(resolved)
        pending_end = stop if pd.isna(fired) else pd.Timestamp(fired)
        if pending_end > active:
            ax.axvspan(x(active), x(pending_end), color=_PENDING, alpha=0.25, linewidth=0)
        if not pd.isna(fired):
            ax.axvspan(x(pending_end), x(stop), color=_FIRING, alpha=0.25, linewidth=0)
    ax.set_title(
        f"{rule['expr']}  ·  pending (amber), firing (red)",
        loc="left",
        fontsize=9,
        family="monospace",
    )
    return ax


def figure(
    client: QueryClient, alerts: pd.DataFrame, *, timezone: str = "UTC", **options: Any
) -> Figure:
    """A standalone figure of :func:`draw` (no pyplot state), sized for a notebook."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from .plotting import legend_height

    drawn = Figure(figsize=(10, 3.6), layout="constrained")
    FigureCanvasAgg(drawn)
    ax = draw(client, alerts, drawn.add_subplot(), timezone=timezone, **options)
    drawn.set_figheight(drawn.get_figheight() + legend_height(ax))
    return drawn
