"""Where a result came from: the typed view of ``frame.attrs["promql"]`` and the texts about it.

The client stores provenance as a plain dict in ``attrs`` (pandas copies attrs with every frame,
and a dict of plain values survives that and pickling); :class:`Provenance` is the typed record
it is written and read through. :func:`describe_window` is the one formatter of "a window and
its step, or an instant": the provenance line, the ``-o`` summary, the empty-result line and the
recording's "no answer for ..." all say a window its way.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .errors import SysmonError
from .timeparse import format_duration, format_time, parse_zone

if TYPE_CHECKING:
    import pandas as pd

    from .completion import Names

__all__ = [
    "Provenance",
    "describe_window",
    "no_series_line",
    "provenance_line",
    "series_count",
    "summarize",
    "summarize_size",
]


@dataclass(frozen=True)
class Provenance:
    """What asked for a result and how it was answered (``frame.attrs["promql"]``).

    A range query has ``start``, ``end`` and ``step``; an instant query ``time``; a metadata
    answer neither. Times are unix seconds, durations seconds.
    """

    query: str | None = None
    start: float | None = None
    end: float | None = None
    step: float | None = None
    time: float | None = None
    source: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    infos: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    replayed: bool = False
    result_type: str | None = None
    match: list[str] | None = None
    legend: str | None = None
    unit: str | None = None

    @classmethod
    def of(cls, frame: pd.DataFrame) -> Provenance:
        """The provenance of a result frame (empty for a frame the client did not make)."""
        return cls.from_attrs(frame.attrs.get("promql", {}))

    @classmethod
    def from_attrs(cls, info: dict[str, Any]) -> Provenance:
        """The record from the dict the client stores; keys it does not know are left out."""
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in info.items() if key in known})

    def to_attrs(self) -> dict[str, Any]:
        """The dict stored in ``attrs["promql"]``: what is unset (None) is left out."""
        values = ((f.name, getattr(self, f.name)) for f in fields(self))
        return {name: value for name, value in values if value is not None}

    @property
    def is_range(self) -> bool:
        return self.start is not None and self.end is not None


def describe_window(
    provenance: Provenance, *, timezone: str = "UTC", sep: str = ", ", step: bool = True
) -> str:
    """``START to END{sep}step STEP`` for a range, ``at TIME`` for an instant, else "".

    Times are RFC 3339 in UTC; with another ``timezone`` the window is given in it too, in
    brackets. ``step=False`` leaves the step out.
    """
    if provenance.is_range:
        assert provenance.start is not None and provenance.end is not None
        text = f"{format_time(provenance.start)} to {format_time(provenance.end)}"
        if timezone != "UTC":
            zone = parse_zone(timezone)
            local = [datetime.fromtimestamp(t, zone) for t in (provenance.start, provenance.end)]
            text += f" ({local[0]:%Y-%m-%d %H:%M} to {local[1]:%Y-%m-%d %H:%M} {timezone})"
        if step and provenance.step is not None:
            text += f"{sep}step {format_duration(provenance.step)}"
        return text
    if provenance.time is not None:
        return f"at {format_time(provenance.time)}"
    return ""


def series_count(frame: pd.DataFrame) -> int:
    """How many series a tidy or wide result holds."""
    import pandas as pd

    if isinstance(frame.columns, pd.MultiIndex):
        return int(frame.shape[1])
    from .frames import NOT_LABELS

    labels = [c for c in frame.columns if c not in NOT_LABELS]
    if not len(frame):
        return 0
    return len(frame.drop_duplicates(subset=labels)) if labels else 1


def summarize_size(frame: pd.DataFrame) -> str:
    """``N series, M samples`` of a tidy or wide result."""
    import pandas as pd

    if isinstance(frame.columns, pd.MultiIndex):
        samples = int(frame.notna().to_numpy().sum())
    else:
        samples = len(frame)
    return f"{series_count(frame):,} series, {samples:,} sample{'' if samples == 1 else 's'}"


def summarize(frame: pd.DataFrame) -> str:
    """One line about a result: series, samples, window and step."""
    window = describe_window(Provenance.of(frame))
    return "; ".join([summarize_size(frame), *([window] if window else [])])


def provenance_line(frame: pd.DataFrame, name: str, where: str, *, timezone: str = "UTC") -> str:
    """Where a result came from: connection, window (UTC and local), step, size, live/replayed.

    ``name`` is the connection's name and ``where`` how its source is described.
    """
    provenance = Provenance.of(frame)
    parts = [f"{name} ({where})"]
    # What else decided the answer: a tenant header, engine parameters (never a secret).
    parts += [f"{header}: {value}" for header, value in provenance.headers.items()]
    parts += [f"{param}={value}" for param, value in provenance.params.items()]
    window = describe_window(provenance, timezone=timezone, sep=" · ")
    parts += [window] if window else []
    parts.append(summarize_size(frame))
    parts.append("replayed" if provenance.replayed else f"live, {provenance.elapsed:.2f} s")
    return " · ".join(parts)


def no_series_line(query: str, frame: pd.DataFrame, names: Names, source: str, now: float) -> str:
    """The line that says a result is empty, and which of its metrics ``source`` lacks.

    ``names`` are the connection's (completion's cache); ``now`` its clock, for an instant
    query that says no time.
    """
    from .completion import unknown_metrics

    provenance = Provenance.of(frame)
    if provenance.start is not None and provenance.end is not None:
        start, end = provenance.start, provenance.end
        when = f"from {describe_window(provenance, step=False)}"
        then = "in that window"
    else:
        end = now if provenance.time is None else provenance.time
        start = end - 300  # Prometheus' lookback: an instant query sees the last 5 minutes
        when, then = f"at {format_time(end)}", "at that time"
    line = f"No series: the query matched nothing {when}."
    try:
        missing = unknown_metrics(query, names, start, end)
    except SysmonError:
        return line  # the names could not be listed: say what is known
    for name, close in missing.items():
        line += f" There is no metric {name} on {source} {then}"
        line += f": did you mean {' or '.join(close)}?" if close else "."
    return line
