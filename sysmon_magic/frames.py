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
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from .errors import ResponseFormatError, SysmonUsageError
from .timeparse import EARLIEST_TIME, LATEST_TIME, format_time

__all__ = [
    "FrameFormat",
    "concat_windows",
    "frame_from_data",
    "label_categorical",
    "label_columns",
    "metadata_frame",
    "series_columns",
    "series_frame",
    "tidy_frame",
    "timestamp_index",
    "wide_frame",
]

FrameFormat = Literal["tidy", "wide"]

#: Columns of a tidy frame that are not labels.
NOT_LABELS = ("timestamp", "value", "count", "sum", "buckets")

#: The level name used for the columns of a wide frame whose series carry no labels at all.
NO_LABELS_LEVEL = "series"


def frame_from_data(data: Mapping[str, Any], fmt: FrameFormat = "tidy") -> pd.DataFrame:
    """Convert the ``data`` member of a query or query_range answer into a DataFrame."""
    if fmt not in ("tidy", "wide"):
        raise SysmonUsageError(f"Unknown format {fmt!r}: use tidy or wide.")
    try:
        result_type = data["resultType"]
        result = data["result"]
        if result_type in ("matrix", "vector"):
            series = [_Series.read(item, result_type) for item in result]
            return _tidy(series) if fmt == "tidy" else _wide(series)
        if result_type in ("scalar", "string"):
            timestamp, raw = result
            value: Any = float(raw) if result_type == "scalar" else str(raw)
            frame = pd.DataFrame({"timestamp": timestamp_index(np.array([float(timestamp)]))})
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


class _Series:
    """One series of a vector or matrix, its samples already as numpy arrays."""

    __slots__ = ("histograms", "labels", "timestamps", "values")

    def __init__(
        self,
        labels: dict[str, str],
        timestamps: np.ndarray,
        values: np.ndarray,
        histograms: list[tuple[float, dict[str, Any]]],
    ) -> None:
        self.labels = labels
        self.timestamps = timestamps
        self.values = values
        self.histograms = histograms

    @classmethod
    def read(cls, item: Mapping[str, Any], result_type: str) -> _Series:
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
        return cls(labels, timestamps, values, [(float(t), h) for t, h in histograms])


def timestamp_index(seconds: np.ndarray) -> pd.DatetimeIndex:
    """UTC timestamps of whole (int64) or fractional (float64) seconds since the epoch.

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
    # A view, not a conversion: a third of the time of astype + tz_localize + as_unit.
    return pd.DatetimeIndex(nanos.view("datetime64[ns]"), dtype="datetime64[ns, UTC]")


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
    ``label_sets[i]`` and the next ``counts[i]`` of ``timestamps`` (seconds) and ``values``."""
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
        and (np.diff(first) > 0).all()
        and (timestamps.reshape(len(counts), -1) == first).all()
    ):
        # Every series at the same times (a range query's usual answer): no grid to build.
        table = values.reshape(len(counts), -1).T
        index = timestamp_index(first).rename("timestamp")
        return pd.DataFrame(table, index=index, columns=columns, copy=True)
    grid = np.unique(timestamps)
    table = np.full((len(grid), len(counts)), np.nan)
    bounds = np.concatenate([[0], np.cumsum(counts)]).tolist()
    for column, (a, b) in enumerate(itertools.pairwise(bounds)):
        table[np.searchsorted(grid, timestamps[a:b]), column] = values[a:b]
    return pd.DataFrame(table, index=timestamp_index(grid).rename("timestamp"), columns=columns)


def _tidy(series: Sequence[_Series]) -> pd.DataFrame:
    histogram_parts: list[_HistogramPart] | None = None
    if any(s.histograms for s in series):
        merged = [_merge_histograms(s) for s in series]
        series = [s for s, _ in merged]
        histogram_parts = [part for _, parts in merged for part in parts]
    frame = tidy_frame(*_runs(series))
    if histogram_parts is not None:
        frame["count"] = np.array([p[0] for p in histogram_parts], dtype=np.float64)
        frame["sum"] = np.array([p[1] for p in histogram_parts], dtype=np.float64)
        frame["buckets"] = pd.Series([p[2] for p in histogram_parts], dtype=object)
    return frame


# (count, sum, buckets) of one row; a float sample's row has NaN, NaN, ().
_HistogramPart = tuple[float, float, tuple[tuple[int, float, float, float], ...]]


def _merge_histograms(s: _Series) -> tuple[_Series, list[_HistogramPart]]:
    """Merge a series' float and histogram samples into time-ordered rows."""
    no_histogram: _HistogramPart = (np.nan, np.nan, ())
    rows: list[tuple[float, float, _HistogramPart]] = [
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


def _wide(series: Sequence[_Series]) -> pd.DataFrame:
    if any(s.histograms for s in series):
        raise SysmonUsageError(
            "Native histogram samples do not fit the wide format: use --format tidy, "
            "or query histogram_count()/histogram_sum()/histogram_quantile() of them."
        )
    return wide_frame(*_runs(series))


def _runs(
    series: Sequence[_Series],
) -> tuple[list[dict[str, str]], np.ndarray, np.ndarray, np.ndarray]:
    """Series as the builders take them: label sets, all samples in a row, samples a series."""
    counts = np.array([len(s.timestamps) for s in series], dtype=np.int64)
    timestamps = np.concatenate([s.timestamps for s in series]) if series else np.empty(0)
    values = np.concatenate([s.values for s in series]) if series else np.empty(0)
    return [s.labels for s in series], timestamps, values, counts


def concat_windows(parts: Sequence[pd.DataFrame], fmt: FrameFormat) -> pd.DataFrame:
    """One frame from the frames of consecutive windows of a range query (same shape as one)."""
    if fmt == "wide":
        # A window without data has no columns to align (and an index level of its own).
        with_data = [p for p in parts if p.shape[1]] or list(parts[:1])
        names = label_columns([dict.fromkeys(map(str, p.columns.names), "") for p in with_data])
        if len(names) > 1 and NO_LABELS_LEVEL in names:
            # A window of only label-less series names its level "series"; in one answer with
            # labelled series too, such a series has "" for every label.
            names.remove(NO_LABELS_LEVEL)
        wide = pd.concat([_with_levels(p, names) for p in with_data], axis=0)
        series = [dict(zip(names, map(str, column), strict=True)) for column in wide.columns]
        return wide.iloc[:, _prometheus_order(series)]
    labels = label_columns([{c: "" for c in p.columns if c not in NOT_LABELS} for p in parts])
    histogram = [c for c in ("count", "sum", "buckets") if any(c in p.columns for p in parts)]
    # Label columns share one dtype, the union of the windows' values in order: recoding a
    # window's categorical to it maps its few codes, where rebuilding it would hash every row.
    dtypes = {
        name: pd.CategoricalDtype(
            pd.Index(sorted(set().union(*(_label_values(p, name) for p in parts))), dtype=object)
        )
        for name in labels
    }
    names = ["timestamp", *labels, "value", *histogram]
    windows = [_window_arrays(part, names, dtypes) for part in parts if len(part)]
    if not windows:
        return parts[0].reindex(columns=names) if parts else pd.DataFrame(columns=names)
    # Series by series in Prometheus' order, as one answer lists them. Each window holds a block
    # of rows per series, in time order: whole blocks are put in order and copied as slices,
    # where sorting the rows would move each of them through an index.
    starts, ends, keys, numbers = [], [], [], []
    for number, columns in enumerate(windows):
        rows = len(columns["value"])
        changes = np.zeros(rows, dtype=bool)
        changes[0] = True
        for name in labels:  # column by column: numpy is slow along a short axis
            changes[1:] |= columns[name][1:] != columns[name][:-1]
        first = np.flatnonzero(changes)
        starts.append(first)
        ends.append(np.append(first[1:], rows))
        label_codes = np.array([columns[name][first] for name in labels], dtype=np.int64)
        keys.append(label_codes.reshape(len(labels), len(first)).T)
        numbers.append(np.full(len(first), number))
    key = np.concatenate(keys)
    window = np.concatenate(numbers)
    if labels:
        distinct, of_block = np.unique(key, axis=0, return_inverse=True)
        label_sets = [
            {
                name: dtypes[name].categories[code]
                for name, code in zip(labels, row, strict=True)
                if code >= 0
            }
            for row in distinct.tolist()
        ]
        rank = np.empty(len(distinct), dtype=np.int64)
        rank[_prometheus_order(label_sets)] = np.arange(len(distinct))
        order = np.lexsort([window, rank[of_block.reshape(-1)]])  # by series, then by time
    else:
        order = np.argsort(window, kind="stable")
    slices = list(
        zip(window[order], np.concatenate(starts)[order], np.concatenate(ends)[order], strict=True)
    )
    merged: dict[str, Any] = {}
    for name in names:
        column = np.concatenate([windows[w][name][a:b] for w, a, b in slices])
        if name in labels:
            merged[name] = pd.Categorical.from_codes(column, dtype=dtypes[name])
        elif name == "timestamp":
            merged[name] = pd.DatetimeIndex(column).tz_localize("UTC")
        else:
            merged[name] = column
    return pd.DataFrame(merged)


def _prometheus_order(label_sets: Sequence[Mapping[str, str]]) -> list[int]:
    """Positions of series in the order Prometheus lists them (and a replayed recording does):
    by their (name, value) pairs sorted by name; "" is a missing label."""
    keys = [tuple(sorted((k, v) for k, v in labels.items() if v != "")) for labels in label_sets]
    return sorted(range(len(keys)), key=keys.__getitem__)


def _window_arrays(
    part: pd.DataFrame, names: list[str], dtypes: dict[str, pd.CategoricalDtype]
) -> dict[str, np.ndarray]:
    """A window's columns as numpy arrays: timestamps in UTC, labels as codes of ``dtypes``."""
    arrays: dict[str, np.ndarray] = {}
    for name in names:
        if name in dtypes:
            arrays[name] = (
                part[name].astype(dtypes[name]).cat.codes.to_numpy()
                if name in part.columns
                else np.full(len(part), -1, dtype=np.int8)
            )
        elif name == "timestamp":
            arrays[name] = part[name].dt.tz_convert(None).to_numpy()
        elif name in part.columns:
            arrays[name] = part[name].to_numpy()
        elif name == "buckets":
            arrays[name] = np.empty(len(part), dtype=object)
            arrays[name].fill(())  # np.array([()] * n) would be n x 0, not n empty tuples
        else:
            arrays[name] = np.full(len(part), np.nan)
    return arrays


def _with_levels(wide: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """A wide frame whose columns have the levels ``names``; a label it lacks is "", as in one
    answer where some series lack a label."""
    if list(wide.columns.names) == names:
        return wide
    levels = [
        wide.columns.get_level_values(name)
        if name in wide.columns.names and name != NO_LABELS_LEVEL
        else [""] * wide.shape[1]
        for name in names
    ]
    return wide.set_axis(pd.MultiIndex.from_arrays(levels, names=names), axis=1)


def _label_values(part: pd.DataFrame, name: str) -> set[str]:
    if name not in part.columns:
        return set()
    column = part[name]
    if isinstance(column.dtype, pd.CategoricalDtype):
        return set(column.cat.categories)
    return set(column.dropna().unique())


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
