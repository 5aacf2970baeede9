"""A query result as the course's checks compare it: series by label set, each its samples.

:func:`read_result` reads a tidy or wide frame from ``%%promql`` (or a :class:`~sysmon_magic.Client`)
into a :class:`Result`; :class:`Namer` names its series briefly but uniquely for a feedback.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..errors import SysmonUsageError
from ..frames import NOT_LABELS, to_tidy

__all__ = ["Namer", "Result", "SeriesKey", "read_result", "series_name"]

#: A series' label set, sorted as the frame's columns are.
SeriesKey = tuple[tuple[str, str], ...]


@dataclass
class Result:
    """A frame as series: label set -> samples (timestamp -> value), and the label names used."""

    series: dict[SeriesKey, pd.Series]
    label_names: frozenset[str]

    @property
    def timestamps(self) -> set[pd.Timestamp]:
        return {t for s in self.series.values() for t in s.index}


def read_result(frame: pd.DataFrame) -> Result:
    frame = to_tidy(frame)
    if "value" not in frame.columns or "timestamp" not in frame.columns:
        raise SysmonUsageError(
            "check() takes PromQL or a frame from %%promql (with `timestamp` and `value` columns)."
        )
    labels = [str(c) for c in frame.columns if c not in NOT_LABELS]
    samples: dict[SeriesKey, list[tuple[Any, Any]]] = {}
    label_rows = frame[labels].astype(object).itertuples(index=False, name=None)
    for row, timestamp, value in zip(label_rows, frame["timestamp"], frame["value"], strict=True):
        # A tidy frame has a column per label of any series; NaN marks the ones a row lacks.
        key = tuple((n, str(v)) for n, v in zip(labels, row, strict=True) if not pd.isna(v))
        samples.setdefault(key, []).append((timestamp, value))
    series = {
        key: pd.Series([v for _, v in pairs], index=[t for t, _ in pairs]).sort_index()
        for key, pairs in samples.items()
    }
    names = frozenset(name for key in series for name, _ in key)
    return Result(series, names)


def series_name(key: SeriesKey) -> str:
    """``name{a="b", c="d"}``, as Prometheus writes a series."""
    labels = dict(key)
    name = labels.pop("__name__", "")
    inner = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{name}{{{inner}}}"


class Namer:
    """Names series by the labels that tell them apart, so that a feedback stays readable.

    A label with the same value in every series (``job="node"``) says nothing, and one that only
    mirrors a label already shown (``openmetrics_id`` next to ``instance``) adds length, not
    information; ``…`` marks what was left out. Names stay unique: a left-out label either never
    varies or follows one that is shown.
    """

    def __init__(self, keys: Iterable[SeriesKey]) -> None:
        rows = [dict(k) for k in keys]
        names = sorted({n for row in rows for n in row})
        self.shown: list[str] = []
        for name in names:
            if len({row.get(name, "") for row in rows}) < 2:
                continue
            if not any(_mirrors(rows, shown, name) for shown in self.shown):
                self.shown.append(name)

    def __call__(self, key: SeriesKey) -> str:
        if not self.shown:  # one series, or all alike: nothing to tell apart, show it whole
            return series_name(key)
        kept = tuple((n, v) for n, v in key if n in self.shown)
        name = series_name(kept)
        if len(kept) == len(key):
            return name
        return f"{name[:-1]}, …}}" if not name.endswith("{}") else f"{name[:-1]}…}}"


def _mirrors(rows: list[dict[str, str]], a: str, b: str) -> bool:
    """Whether labels ``a`` and ``b`` determine each other across ``rows``."""
    pairs = {(row.get(a, ""), row.get(b, "")) for row in rows}
    return len(pairs) == len({x for x, _ in pairs}) == len({y for _, y in pairs})
