"""Prometheus response data -> pandas DataFrames.

Two shapes (the README's DataFrame contract):

* **tidy** (default): a row per sample; ``timestamp`` (UTC), a column per label (categorical),
  ``value`` (float64). Native histogram samples add ``count``, ``sum`` and ``buckets`` columns
  (``buckets`` holds a tuple of ``(boundary_rule, lower, upper, count)`` per sample, as the API
  sends them) and have ``value`` NaN.
* **wide**: a UTC DatetimeIndex x a column per series; the columns are a MultiIndex of the
  series' label values whose level names are the label names.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from .errors import ResponseFormatError, SysmonUsageError
from .timeparse import EARLIEST_TIME, LATEST_TIME, format_time

__all__ = [
    "FrameFormat",
    "Runs",
    "concat_runs",
    "frame_from_data",
    "frame_from_runs",
    "label_categorical",
    "label_columns",
    "metadata_frame",
    "runs_from_data",
    "runs_within",
    "series_columns",
    "series_frame",
    "tidy_frame",
    "timestamp_index",
    "to_tidy",
    "to_wide",
    "utc_times",
    "wide_frame",
]

FrameFormat = Literal["tidy", "wide"]

#: Columns of a tidy frame that are not labels.
NOT_LABELS = ("timestamp", "value", "count", "sum", "buckets")

#: The level name used for the columns of a wide frame whose series carry no labels at all.
NO_LABELS_LEVEL = "series"

# (count, sum, buckets) of one row; a float sample's row has NaN, NaN, ().
HistogramPart = tuple[float, float, tuple[tuple[int, float, float, float], ...]]


class Runs(NamedTuple):
    """The series of a vector or matrix as runs of samples, before they become a frame: series
    ``i`` has labels ``labels[i]`` and the next ``counts[i]`` of ``timestamps`` (UTC,
    ``datetime64[ns]``, as :func:`utc_times` makes them) and ``values``. Both readers of an
    answer give these, and the windows of a range query are merged as these
    (:func:`concat_runs`), not as frames. The times are checked and converted as each answer is
    read, in the window's own thread: the frame views them, with no pass of its own."""

    labels: list[dict[str, str]]
    timestamps: np.ndarray
    values: np.ndarray
    counts: np.ndarray
    #: Native histograms: each row's (count, sum, buckets), None when there are none at all.
    histograms: list[HistogramPart] | None = None
    #: The pooled bytearrays that ``timestamps`` and ``values`` view (a window read to be
    #: merged): given back to :data:`~sysmon_magic.buffers.POOL` once merged.
    buffers: tuple[bytearray, ...] = ()


def frame_from_data(data: Mapping[str, Any], fmt: FrameFormat = "tidy") -> pd.DataFrame:
    """Convert the ``data`` member of a query or query_range answer into a DataFrame."""
    if fmt not in ("tidy", "wide"):
        raise SysmonUsageError(f"Unknown format {fmt!r}: use tidy or wide.")
    try:
        result_type = data["resultType"]
        result = data["result"]
        if result_type in ("matrix", "vector"):
            return frame_from_runs(_read_runs(result, result_type), fmt)
        if result_type in ("scalar", "string"):
            timestamp, raw = result
            value: Any = float(raw) if result_type == "scalar" else str(raw)
            times = utc_times(np.array([float(timestamp)]))
            frame = pd.DataFrame({"timestamp": timestamp_index(times)})
            frame["value"] = pd.Series(
                [value], dtype="float64" if result_type == "scalar" else object
            )
            return frame.set_index("timestamp") if fmt == "wide" else frame
    except SysmonUsageError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise ResponseFormatError(
            f"The server's answer does not have the shape of a Prometheus result ({exc!r})."
        ) from None
    raise ResponseFormatError(f"Unknown result type {result_type!r} in the server's answer.")


def label_columns(label_sets: Sequence[Mapping[str, str]]) -> list[str]:
    """All label names of some series: ``__name__`` first, then sorted."""
    names = set().union(*label_sets) if label_sets else set()
    return sorted(names, key=lambda name: (name != "__name__", name))


class _Series(NamedTuple):
    """One series of a vector or matrix, its samples already as numpy arrays."""

    labels: dict[str, str]
    timestamps: np.ndarray  # seconds, float64
    values: np.ndarray
    histograms: list[tuple[float, dict[str, Any]]]


def _read_series(item: Mapping[str, Any], result_type: str) -> _Series:
    labels = {str(k): str(v) for k, v in item.get("metric", {}).items()}
    if result_type == "vector":
        pairs = [item["value"]] if "value" in item else []
        histograms = [item["histogram"]] if "histogram" in item else []
    else:
        pairs = item.get("values", [])
        histograms = item.get("histograms", [])
    timestamps = np.fromiter((float(p[0]) for p in pairs), np.float64, len(pairs))
    # numpy reads Prometheus' "NaN", "+Inf" and "-Inf" strings as floats.
    values = np.array([p[1] for p in pairs], dtype=np.float64).reshape(len(pairs))
    return _Series(labels, timestamps, values, [(float(t), h) for t, h in histograms])


def utc_times(seconds: np.ndarray) -> np.ndarray:
    """Times (``datetime64[ns]``, UTC) of whole (int64) or fractional (float64) seconds since the
    epoch, as :class:`Runs` hold them.

    Prometheus timestamps have millisecond precision: fractional seconds are rounded to it,
    which removes float noise. Raises ResponseFormatError for a time a DataFrame cannot hold.
    """
    # NaN or a time past 2262 would overflow the int64 cast silently (NaT, or a wrapped date).
    if len(seconds) and not (seconds.min() >= EARLIEST_TIME and seconds.max() <= LATEST_TIME):
        raise ResponseFormatError(
            "The server's answer holds a timestamp a DataFrame cannot hold (before "
            f"{format_time(EARLIEST_TIME)}, after {format_time(LATEST_TIME)}, or not a number)."
        )
    if seconds.dtype.kind == "i":
        nanos = seconds * 1_000_000_000
    else:
        nanos = np.round(seconds * 1000).astype(np.int64) * 1_000_000
    return nanos.view("datetime64[ns]")


def timestamp_index(times: np.ndarray) -> pd.DatetimeIndex:
    """The UTC index of some times as :func:`utc_times` gives them, sharing their memory."""
    if times.dtype != np.dtype("datetime64[ns]"):
        raise TypeError(
            f"timestamp_index takes datetime64[ns] times (utc_times), not {times.dtype}"
        )
    # As int64 nanoseconds, which pandas takes as UTC already: datetime64 values would be
    # localized to UTC, a copy of 35 MB for a month of 100 series at 60 s.
    return pd.DatetimeIndex(times.view(np.int64), dtype="datetime64[ns, UTC]", copy=False)


def label_categorical(per_series: Sequence[str | None], counts: np.ndarray) -> pd.Categorical:
    """One label's column of a tidy frame: each series' value (None: it lacks the label)
    repeated for its ``counts`` samples, as a categorical of the sorted values."""
    categories = sorted({value for value in per_series if value is not None})
    code = {value: number for number, value in enumerate(categories)}
    # pandas' own choice of code width, which from_codes would apply anyway: repeated at that
    # width rather than at int64, the codes take a few bytes of memory traffic instead of 16.
    width = np.int8 if len(categories) < 127 else np.int16 if len(categories) < 32767 else np.int32
    codes = np.array([-1 if value is None else code[value] for value in per_series], dtype=width)
    return pd.Categorical.from_codes(
        np.repeat(codes, counts), categories=pd.Index(categories, dtype=object)
    )


def tidy_frame(
    label_sets: Sequence[Mapping[str, str]],
    timestamps: np.ndarray,
    values: np.ndarray,
    counts: np.ndarray,
) -> pd.DataFrame:
    """The tidy frame of series given as runs of samples: series ``i`` has labels
    ``label_sets[i]`` and the next ``counts[i]`` of ``timestamps`` (as :class:`Runs` hold them)
    and ``values``."""
    columns: dict[str, Any] = {"timestamp": timestamp_index(timestamps)}
    for name in label_columns(label_sets):
        columns[name] = label_categorical([labels.get(name) for labels in label_sets], counts)
    # A read-only array (a view of a CSV reader's table, under pandas' copy-on-write) is copied,
    # so that the frame can be written to; the other columns are new arrays, which the
    # constructor would copy for nothing.
    columns["value"] = values if values.flags.writeable else values.copy()
    return pd.DataFrame(columns, copy=False)


def series_columns(label_sets: Sequence[Mapping[str, str]]) -> pd.MultiIndex:
    """The columns of a wide frame: a level per label name, a column per series."""
    names = label_columns(label_sets)
    if not names:
        return pd.MultiIndex.from_tuples([("{}",)] * len(label_sets), names=[NO_LABELS_LEVEL])
    return pd.MultiIndex.from_tuples(
        [tuple(labels.get(name, "") for name in names) for labels in label_sets], names=names
    )


def wide_frame(
    label_sets: Sequence[Mapping[str, str]],
    timestamps: np.ndarray,
    values: np.ndarray,
    counts: np.ndarray,
) -> pd.DataFrame:
    """The wide frame of series given as runs of samples, as for :func:`tidy_frame`."""
    columns = series_columns(label_sets)
    first = timestamps[: counts[0]] if len(counts) else timestamps
    if (
        len(counts)
        and (counts == counts[0]).all()
        and (np.diff(first.view(np.int64)) > 0).all()
        and (timestamps.reshape(len(counts), -1) == first).all()
    ):
        # Every series at the same times (a range query's usual answer): no grid to build.
        table = values.reshape(len(counts), -1).T
        # A copy: a view would keep every series' times alive for the index's sake.
        index = timestamp_index(first.copy()).rename("timestamp")
        return pd.DataFrame(table, index=index, columns=columns, copy=True)
    grid = np.unique(timestamps)
    table = np.full((len(grid), len(counts)), np.nan)
    bounds = np.concatenate([[0], np.cumsum(counts)]).tolist()
    for column, (a, b) in enumerate(itertools.pairwise(bounds)):
        table[np.searchsorted(grid, timestamps[a:b]), column] = values[a:b]
    return pd.DataFrame(table, index=timestamp_index(grid).rename("timestamp"), columns=columns)


def runs_from_data(data: Mapping[str, Any]) -> Runs | None:
    """The series of the ``data`` of a vector or matrix answer; None for a scalar or string."""
    try:
        if data["resultType"] not in ("matrix", "vector"):
            return None
        return _read_runs(data["result"], data["resultType"])
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise ResponseFormatError(
            f"The server's answer does not have the shape of a Prometheus result ({exc!r})."
        ) from None


def frame_from_runs(runs: Runs, fmt: FrameFormat = "tidy") -> pd.DataFrame:
    """The tidy or wide frame of some series."""
    if fmt == "wide":
        if runs.histograms is not None:
            raise SysmonUsageError(
                'Native histogram samples do not fit the wide format: use fmt="tidy", '
                "or query histogram_count()/histogram_sum()/histogram_quantile() of them."
            )
        return wide_frame(runs.labels, runs.timestamps, runs.values, runs.counts)
    frame = tidy_frame(runs.labels, runs.timestamps, runs.values, runs.counts)
    if runs.histograms is not None:
        parts = runs.histograms
        frame["count"] = np.array([p[0] for p in parts], dtype=np.float64)
        frame["sum"] = np.array([p[1] for p in parts], dtype=np.float64)
        frame["buckets"] = pd.Series([p[2] for p in parts], dtype=object)
    return frame


def _read_runs(result: Sequence[Mapping[str, Any]], result_type: str) -> Runs:
    series = [_read_series(item, result_type) for item in result]
    histograms: list[HistogramPart] | None = None
    if any(s.histograms for s in series):
        merged = [_merge_histograms(s) for s in series]
        series = [s for s, _ in merged]
        histograms = [part for _, parts in merged for part in parts]
    counts = np.array([len(s.timestamps) for s in series], dtype=np.int64)
    seconds = np.concatenate([s.timestamps for s in series]) if series else np.empty(0)
    values = np.concatenate([s.values for s in series]) if series else np.empty(0)
    return Runs([s.labels for s in series], utc_times(seconds), values, counts, histograms)


def _merge_histograms(s: _Series) -> tuple[_Series, list[HistogramPart]]:
    """Merge a series' float and histogram samples into time-ordered rows."""
    no_histogram: HistogramPart = (np.nan, np.nan, ())
    rows: list[tuple[float, float, HistogramPart]] = [
        (t, v, no_histogram) for t, v in zip(s.timestamps.tolist(), s.values.tolist(), strict=True)
    ]
    for t, histogram in s.histograms:
        buckets = tuple(
            (int(rule), float(lower), float(upper), float(count))
            for rule, lower, upper, count in histogram.get("buckets", [])
        )
        rows.append((t, np.nan, (float(histogram["count"]), float(histogram["sum"]), buckets)))
    rows.sort(key=lambda row: row[0])
    timestamps = np.array([r[0] for r in rows], dtype=np.float64)
    values = np.array([r[1] for r in rows], dtype=np.float64)
    return _Series(s.labels, timestamps, values, []), [r[2] for r in rows]


def runs_within(runs: Runs, first: float, last: float) -> tuple[Runs, int]:
    """The samples of ``runs`` from ``first`` to ``last`` (seconds, both included, to the
    millisecond of Prometheus' timestamps), and how many others there were: a window's answer
    holds no others unless the server erred."""
    # Half a millisecond either side: a bound summed from fractional steps may lie a rounding
    # error past the sample that the server, which keeps milliseconds, puts on it.
    low = round(first * 1000) * 1_000_000 - 500_000
    high = round(last * 1000) * 1_000_000 + 500_000
    stamps = runs.timestamps.view(np.int64)
    if not len(stamps) or (stamps.min() >= low and stamps.max() <= high):
        return runs, 0  # the usual case: two passes over the times, no copy of them
    keep = (stamps >= low) & (stamps <= high)
    kept_before = np.concatenate([[0], np.cumsum(keep)])
    bounds = np.concatenate([[0], np.cumsum(runs.counts)])
    histograms = runs.histograms
    if histograms is not None:
        histograms = [part for part, kept in zip(histograms, keep.tolist(), strict=True) if kept]
    kept = Runs(
        runs.labels,
        runs.timestamps[keep],
        runs.values[keep],
        (kept_before[bounds[1:]] - kept_before[bounds[:-1]]).astype(np.int64),
        histograms,
    )
    return kept, len(stamps) - len(kept.timestamps)


def concat_runs(parts: Sequence[Runs]) -> Runs:
    """One answer's series from those of consecutive windows of a range query: each series'
    samples joined in window order, the series in Prometheus' order, as one answer lists them."""
    by_labels: dict[tuple[tuple[str, str], ...], list[tuple[int, int, int]]] = {}
    label_sets: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}
    for number, part in enumerate(parts):
        bounds = np.concatenate([[0], np.cumsum(part.counts)]).tolist()
        for index, labels in enumerate(part.labels):
            key = tuple(sorted(labels.items()))
            label_sets.setdefault(key, labels)
            by_labels.setdefault(key, []).append((number, bounds[index], bounds[index + 1]))
    keys = list(by_labels)
    order = [keys[i] for i in _prometheus_order([label_sets[key] for key in keys])]
    slices = [piece for key in order for piece in by_labels[key]]
    counts = np.array([sum(b - a for _, a, b in by_labels[key]) for key in order], np.int64)
    histograms = None
    if any(part.histograms is not None for part in parts):
        no_histogram: HistogramPart = (np.nan, np.nan, ())
        histograms = [
            row
            for w, a, b in slices
            for row in (
                parts[w].histograms[a:b]  # type: ignore[index]
                if parts[w].histograms is not None
                else [no_histogram] * (b - a)
            )
        ]
    times, values = _gather(
        [parts[w].timestamps[a:b] for w, a, b in slices],
        [parts[w].values[a:b] for w, a, b in slices],
    )
    return Runs([label_sets[key] for key in order], times, values, counts, histograms)


#: From this many samples on, a merge copies times and values in two threads (given two cores).
GATHER_IN_TWO_MIN_SAMPLES = 1_000_000


def _gather(times: list[np.ndarray], values: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Join the pieces of the times and of the values, each into one array."""
    if not times:
        return np.empty(0, "datetime64[ns]"), np.empty(0)
    if sum(map(len, times)) < GATHER_IN_TWO_MIN_SAMPLES or (os.cpu_count() or 1) < 2:
        return np.concatenate(times), np.concatenate(values)
    # numpy lets go of the GIL while it copies, so the values are joined on the other core
    # meanwhile: the merge runs after the last window, with nothing else to overlap it.
    with ThreadPoolExecutor(1, thread_name_prefix="sysmon-merge") as pool:
        joined_values = pool.submit(np.concatenate, values)
        return np.concatenate(times), joined_values.result()


def _prometheus_order(label_sets: Sequence[Mapping[str, str]]) -> list[int]:
    """Positions of series in the order Prometheus lists them (and a replayed recording does):
    by their (name, value) pairs sorted by name; "" is a missing label."""
    keys = [tuple(sorted((k, v) for k, v in labels.items() if v != "")) for labels in label_sets]
    return sorted(range(len(keys)), key=keys.__getitem__)


def series_frame(label_sets: Sequence[Mapping[str, str]]) -> pd.DataFrame:
    """The answer of ``/series``: a row per series, a column per label (missing labels: NaN)."""
    try:
        names = label_columns(label_sets)
        return pd.DataFrame.from_records(
            [{name: labels.get(name) for name in names} for labels in label_sets], columns=names
        )
    except (TypeError, AttributeError) as exc:
        raise ResponseFormatError(
            f"The /series answer is not a list of label sets ({exc!r})."
        ) from None


def metadata_frame(metadata: Mapping[str, Sequence[Mapping[str, str]]]) -> pd.DataFrame:
    """The answer of ``/metadata``: a row per metric and distinct (type, help, unit)."""
    try:
        rows = [
            (metric, entry.get("type", ""), entry.get("help", ""), entry.get("unit", ""))
            for metric, entries in sorted(metadata.items())
            for entry in entries
        ]
    except (TypeError, AttributeError) as exc:
        raise ResponseFormatError(
            f"The /metadata answer has an unexpected shape ({exc!r})."
        ) from None
    return pd.DataFrame(rows, columns=["metric", "type", "help", "unit"])


# -- one shape from the other ----------------------------------------------------------------
# What takes a result in either shape (plots, the explorer, dashboards, the course's checks)
# converts it here, so that the two shapes have one definition.


def to_wide(frame: pd.DataFrame) -> pd.DataFrame:
    """A result frame (tidy or wide) as wide: a time index x a column per series."""
    if "timestamp" not in frame.columns:
        return frame
    if "value" not in frame.columns:
        raise SysmonUsageError("Not a result frame: it has a timestamp column but no value column.")
    labels = [c for c in frame.columns if c not in NOT_LABELS]
    if not labels:
        wide = frame.set_index("timestamp")[["value"]]
        wide.columns = pd.MultiIndex.from_tuples([("{}",)] * wide.shape[1], names=[NO_LABELS_LEVEL])
        return wide if len(frame) else wide.iloc[:, :0]
    keyed = frame[["timestamp", *labels, "value"]].copy()
    for label in labels:  # a series without the label: "" so that it keeps its own column
        keyed[label] = keyed[label].astype(object).fillna("")
    wide = keyed.set_index(["timestamp", *labels])["value"].unstack(labels)
    if not isinstance(wide.columns, pd.MultiIndex):
        wide.columns = pd.MultiIndex.from_arrays([wide.columns], names=labels)
    return wide


def to_tidy(frame: pd.DataFrame) -> pd.DataFrame:
    """A wide frame (``--format wide``) back in tidy form; a tidy frame as is.

    A wide frame cannot tell a NaN sample from a missing one; both are dropped.
    """
    if "value" in frame.columns and frame.index.name == "timestamp":
        return frame.reset_index()  # a scalar in wide form: its time is the index
    if "value" in frame.columns or not isinstance(frame.index, pd.DatetimeIndex):
        return frame
    names = [str(n) for n in frame.columns.names]
    no_labels = names == [NO_LABELS_LEVEL] and all(c in ("{}", ("{}",)) for c in frame.columns)
    pieces = []
    for column in frame.columns:
        values = frame[column].dropna()
        piece = pd.DataFrame({"timestamp": values.index, "value": values.to_numpy()})
        if not no_labels:
            label_values = column if isinstance(column, tuple) else (column,)
            for name, value in zip(names, label_values, strict=True):
                if value != "":  # "" marks a label this series does not have
                    piece[name] = value
        pieces.append(piece)
    if not pieces:
        return pd.DataFrame({"timestamp": [], "value": []})
    return pd.concat(pieces, ignore_index=True)
