"""A query answer's bytes -> DataFrame, without a Python object per sample.

``json.loads`` of a 1,000 x 1,000 matrix builds about four million Python objects, and the
garbage collector's passes over them cost more than the parsing. This module builds none.
Prometheus (2.x, 3.x), VictoriaMetrics, Thanos and Mimir all write a query answer in one compact
layout::

    {"status":"success","data":{"resultType":"matrix","result":[
    {"metric":{"__name__":"up","job":"node"},"values":[[1435781430.781,"1"],...]},...]},...}

(without the line breaks). :func:`frame_from_body` matches the envelope up to ``result``; the C
reader of ``samples.c`` then reads the series in one pass over the bytes, noting where each
``metric`` object lies and reading every sample, with no lock held, so that windows fetched in
parallel convert on every core. The small parts (the envelope around ``result``, the ``metric``
objects) go through :func:`json.loads`. Where the package was built without a C compiler, byte
searches find the series and pandas' C CSV reader reads the samples (:data:`ENGINE`,
:mod:`~sysmon_magic.csv_samples`). On two cores or more, two threads share a large body.

Any other body takes the plain path, :func:`json.loads` and
:func:`~sysmon_magic.frames.frame_from_data`: pretty-printed or reordered JSON, native
histograms, scalars and strings, errors, a sample that is not ``[number, "string"]`` (nor valid
JSON: ``[1,-"4"]``). Checks on the positions and counts of the structural bytes make sure the
fast path never reads such a body differently: both paths give identical frames, or the same
error (``tests/test_frames_bytes.py`` checks it on random answers, and on every one-byte edit of
some samples).
"""

from __future__ import annotations

import bisect
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from . import csv_samples, frames
from .buffers import BufferPool
from .csv_samples import NotCompact
from .errors import ResponseFormatError, SysmonUsageError
from .frames import FrameFormat
from .timeparse import LATEST_TIME

try:
    from . import samples as native_samples  # samples.c, built where a C compiler was at hand
except ImportError:  # pragma: no cover - a build without a compiler: the CSV reader stands in
    native_samples = None  # type: ignore[assignment]

__all__ = [
    "BodyFrame",
    "BodyRuns",
    "NotCompact",
    "fast_frame_from_body",
    "frame_from_body",
    "plain_frame_from_body",
    "runs_from_body",
]

#: Smaller bodies take the plain path, which is faster for them.
FAST_PATH_MIN_BYTES = 65_536
#: From this many bytes of samples on, two threads parse them (given two cores or more).
PARALLEL_MIN_BYTES = 2_000_000
#: What reads the samples: ``"native"``, the C reader of ``samples.c``, which holds no lock
#: while it parses (so windows fetched in parallel convert on every core), or ``"csv"``, pandas'
#: CSV reader, where the package was built without a C compiler. Both read exactly what
#: json.loads reads (tests/test_frames_bytes.py runs each).
ENGINE: Literal["native", "csv"] = "native" if native_samples is not None else "csv"


class BodyFrame(NamedTuple):
    """What :func:`frame_from_body` found in a body."""

    #: The result as a DataFrame; None unless the envelope is ``status: success`` with ``data``.
    frame: pd.DataFrame | None
    #: The JSON body without ``data.result`` (status, data.resultType, warnings, infos,
    #: errorType, error, and whatever else the server sent); None if the body is not JSON.
    envelope: Any


class BodyRuns(NamedTuple):
    """What :func:`runs_from_body` found in a body."""

    #: The series of a vector or matrix; None unless the envelope is ``status: success`` with
    #: the ``data`` of a vector or matrix.
    runs: frames.Runs | None
    #: As :attr:`BodyFrame.envelope`.
    envelope: Any


def frame_from_body(body: bytes, fmt: FrameFormat = "tidy") -> BodyFrame:
    """Read the body of a ``/query`` or ``/query_range`` answer: its frame and its envelope.

    Parameters
    ----------
    body
        The HTTP response body, as received.
    fmt
        ``"tidy"`` or ``"wide"``, as for :func:`~sysmon_magic.frames.frame_from_data`.

    Returns
    -------
    BodyFrame
        ``(frame, envelope)``. ``frame`` is ``frame_from_data(envelope["data"], fmt)``, computed
        without decoding the samples; it is None when the body is not JSON (``envelope`` None
        too), not a successful answer (read ``envelope["status"]``, ``["errorType"]``,
        ``["error"]``), or has no ``data``.

    Raises
    ------
    SysmonUsageError
        ``fmt`` is neither tidy nor wide, or native histograms are asked for in the wide format.
    ResponseFormatError
        A successful answer whose ``data`` does not have the shape of a query result.
    """
    if fmt not in ("tidy", "wide"):
        raise SysmonUsageError(f"Unknown format {fmt!r}: use tidy or wide.")
    if len(body) >= FAST_PATH_MIN_BYTES:
        try:
            return fast_frame_from_body(body, fmt)
        except NotCompact:
            pass
    return plain_frame_from_body(body, fmt)


def runs_from_body(
    body: bytes, *, threads: int | None = None, pool: BufferPool | None = None
) -> BodyRuns:
    """Read the body of a ``/query`` or ``/query_range`` answer as :func:`frame_from_body`
    does, up to its series: what the windows of a range query are merged as.

    ``threads``: how many threads may share a large body's samples (given as many cores; None:
    two). A window read while other windows are read in parallel takes 1: the windows already
    keep the cores busy, and halves would only add their joining. With a ``pool`` (a window
    that is to be merged, so its arrays are not the frame's), the times and values are read
    into its buffers, which ``runs.buffers`` names, to be given back once merged.

    Raises ResponseFormatError as :func:`frame_from_body` does.
    """
    if len(body) >= FAST_PATH_MIN_BYTES:
        try:
            return _fast_runs(body, 2 if threads is None else threads, pool)
        except NotCompact:
            pass
    envelope, data = _plain_data(body)
    return BodyRuns(None if data is None else frames.runs_from_data(data), envelope)


def plain_frame_from_body(body: bytes, fmt: FrameFormat) -> BodyFrame:
    """:func:`frame_from_body` by the plain path alone (json.loads), whatever the body's size."""
    envelope, data = _plain_data(body)
    return BodyFrame(None if data is None else frames.frame_from_data(data, fmt), envelope)


def _plain_data(body: bytes) -> tuple[Any, Any]:
    """json.loads: the envelope (without ``data.result``) and the ``data`` of a success."""
    try:
        envelope = json.loads(body)
    except ValueError:  # not JSON, or not UTF-8
        return None, None
    if not (isinstance(envelope, dict) and envelope.get("status") == "success"):
        return envelope, None
    if "data" not in envelope:
        return envelope, None
    data = envelope["data"]
    # The same envelope as the fast path's, which never decodes the result.
    if isinstance(data, dict):
        envelope["data"] = {key: value for key, value in data.items() if key != "result"}
    return envelope, data


# A metric object up to its first `}` outside strings; none nested (labels are flat).
_FLAT_OBJECT = re.compile(rb'\{(?:[^"{}\[\]]|"(?:[^"\\]|\\.)*")*\}', re.DOTALL)

# Up to the result: members without nested values or escapes, so that the match stays in step
# with the JSON structure. VictoriaMetrics adds "isPartial" before "data".
_SCALAR = rb'(?:"[^"\\]*"|true|false|null|-?[0-9][0-9.eE+-]*)'
_MEMBER = rb'"[^"\\]*":' + _SCALAR + rb","
_HEAD = re.compile(
    rb"\{(?:" + _MEMBER + rb')*"data":\{"resultType":"(?P<type>matrix|vector)",'
    rb"(?:" + _MEMBER + rb')*"result":\['
)


class _Layout(NamedTuple):
    """Where the parts of a compact answer are (as the CSV reader needs them)."""

    labels: list[dict[str, str]]
    #: [start, end) of each series' samples in the body: `[t,"v"],...,[t,"v"]`.
    spans: list[tuple[int, int]]
    #: `..."result":[` + `]...`: the body without the samples, for json.loads.
    envelope_bytes: bytes


def fast_frame_from_body(body: bytes, fmt: FrameFormat) -> BodyFrame:
    """:func:`frame_from_body` by the fast path alone, whatever the body's size; raises
    :class:`NotCompact` for a body it cannot read exactly as the plain path does."""
    runs, envelope = _fast_runs(body, 2, None)
    assert runs is not None
    return BodyFrame(frames.frame_from_runs(runs, fmt), envelope)


def _fast_runs(body: bytes, threads: int, pool: BufferPool | None) -> BodyRuns:
    head = _HEAD.match(body)
    if head is None:
        raise NotCompact
    buffers: tuple[bytearray, ...] = ()
    if ENGINE == "native":
        labels, (times, values, counts), position, buffers = _scan(body, head, threads, pool)
        envelope_bytes = body[: head.end()] + body[position:]
    else:
        layout = _layout(body, head)
        labels, envelope_bytes = layout.labels, layout.envelope_bytes
        times, values, counts = _samples(body, layout.spans, threads)
        if head["type"] == b"vector" and (counts != 1).any():
            raise NotCompact  # `"value":[t,"v"],[t,"v"]` is no JSON (the C reader refuses it)
    envelope = _envelope(head["type"].decode(), envelope_bytes)
    return BodyRuns(frames.Runs(labels, times, values, counts, buffers=buffers), envelope)


def _separators(head: re.Match[bytes]) -> tuple[bytes, bytes, bytes]:
    """The bytes between a series' metric and samples, between two series, after the last."""
    # Matrix: `{"metric":{...},"values":[[t,"v"],...,[t,"v"]]}`; vector: `...,"value":[t,"v"]}`.
    if head["type"] == b"matrix":
        return b'},"values":[', b']]},{"metric":{', b"]]}]"
    return b'},"value":', b']},{"metric":{', b"]}]"


class _Scanned(NamedTuple):
    """What the C reader read of some series."""

    metrics: np.ndarray  # [start, end) of each series' metric object
    times: np.ndarray  # datetime64[ns]
    values: np.ndarray
    counts: np.ndarray
    position: int  # where it stopped: the next series, or the `]` that ends the result
    buffer: bytearray | None  # the pooled buffer that times and values view


def _scan(
    body: bytes, head: re.Match[bytes], threads: int, pool: BufferPool | None
) -> tuple[
    list[dict[str, str]], tuple[np.ndarray, np.ndarray, np.ndarray], int, tuple[bytearray, ...]
]:
    """Labels, (times, values, counts), the end of the result and the pooled buffers that
    times and values view, by the C reader's one pass."""
    begin = head.end()
    halves = [(begin, -1)]
    if threads > 1 and len(body) - begin >= PARALLEL_MIN_BYTES and (os.cpu_count() or 1) > 1:
        # The second thread starts at a series near the middle: these bytes, outside strings
        # (whose '"' are escaped), are only ever where one series ends and the next begins.
        _, next_series, _ = _separators(head)
        middle = body.find(next_series, begin + (len(body) - begin) // 2)
        if middle > 0:
            split = middle + len(next_series) - len(b'{"metric":{')
            halves = [(begin, split), (split, -1)]
    vector = head["type"] == b"vector"
    if len(halves) == 1:
        parts = [_scan_native(body, begin, -1, vector, pool)]
    else:
        with ThreadPoolExecutor(2, thread_name_prefix="sysmon-frames_bytes") as threads_pool:
            parts = list(
                threads_pool.map(
                    lambda half: _scan_native(body, half[0], half[1], vector, pool), halves
                )
            )
    metrics = [body[a:b] for part in parts for a, b in part.metrics.tolist()]
    position = parts[-1].position
    if len(parts) == 1:
        part = parts[0]
        buffers = () if part.buffer is None else (part.buffer,)
        return _metrics(metrics), (part.times, part.values, part.counts), position, buffers
    columns = (
        np.concatenate([part.times for part in parts]),
        np.concatenate([part.values for part in parts]),
        np.concatenate([part.counts for part in parts]),
    )
    if pool is not None:  # the halves are joined: their buffers can be read into again
        spent = [part.buffer for part in parts if part.buffer is not None]
        del parts
        pool.give(*spent)
    return _metrics(metrics), columns, position, ()


def _scan_native(
    body: bytes, begin: int, stop: int, vector: bool, pool: BufferPool | None
) -> _Scanned:
    """The series from ``begin`` up to ``stop`` (-1: the end of the result), by the C reader;
    the times and values into a buffer of the ``pool`` if one is given."""
    assert native_samples is not None
    # Room for every sample and series: no sample is shorter than `[0,"0"],`, no series than
    # `{"metric":{},"value":[0,"0"]},`. Pages of it never written to cost no memory, and the
    # arrays shrink to what was read (counting first would take a pass of its own).
    size = (len(body) if stop < 0 else stop) - begin
    room, series_room = size // 8 + 1, size // 29 + 1
    buffer = None
    if pool is None:
        nanos = np.empty(room, dtype=np.int64)
        values = np.empty(room, dtype=np.float64)
    else:  # both in one buffer, viewed: it goes back to the pool once the window is merged
        buffer = pool.take(16 * room)
        nanos = np.frombuffer(buffer, np.int64, room)
        values = np.frombuffer(buffer, np.float64, room, offset=8 * room)
    counts = np.empty(series_room, dtype=np.int64)
    metrics = np.empty((series_room, 2), dtype=np.int64)
    # The reader refuses times past those frames.utc_times accepts (the plain path's error),
    # and a first half that does not end exactly where the second begins.
    found = native_samples.scan(
        body, begin, stop, vector, LATEST_TIME * 1000, nanos, values, counts, metrics
    )
    if found is None:  # not the compact layout after all: the plain path judges
        raise NotCompact
    series, samples, position = found
    if buffer is None:  # in place: nothing else refers to them yet
        nanos.resize(samples, refcheck=False)
        values.resize(samples, refcheck=False)
    else:
        nanos, values = nanos[:samples], values[:samples]
    counts.resize(series, refcheck=False)
    metrics.resize((series, 2), refcheck=False)
    return _Scanned(metrics, nanos.view("datetime64[ns]"), values, counts, position, buffer)


def _layout(body: bytes, head: re.Match[bytes]) -> _Layout:
    """Find the series of a compact answer and parse their ``metric`` objects (for the CSV
    reader; the C reader finds them in its one pass)."""
    samples_key, next_series, last_series = _separators(head)
    metrics: list[bytes] = []
    spans: list[tuple[int, int]] = []
    position = head.end()
    while body[position : position + 1] != b"]":
        if not body.startswith(b'{"metric":{', position):
            raise NotCompact
        metric_start = position + len(b'{"metric":')
        # The object ends at its first `}` outside strings (as the C reader finds it), and the
        # samples' key must follow: a label value cannot end it early.
        flat = _FLAT_OBJECT.match(body, metric_start)
        if flat is None or not body.startswith(samples_key, flat.end() - 1):
            raise NotCompact
        metric_end = flat.end()
        metrics.append(body[metric_start:metric_end])
        start = metric_end + len(samples_key) - 1
        # A slice, not an index: the body may end right here.
        if body[start : start + 1] != b"[":  # also a series without samples, as servers never send
            raise NotCompact
        # A search for this many bytes skips ahead (several GB/s), unlike one for a `]`.
        end = body.find(next_series, start) + 1
        if end > 0:
            position = end + len(next_series) - len(b'{"metric":{') - 1
        else:
            end = body.find(last_series, start) + 1
            if end <= 0:
                raise NotCompact
            position = end + len(last_series) - 2
        spans.append((start, end))
    return _Layout(
        _metrics(metrics),
        spans,
        body[: head.end()] + body[position:],
    )


def _metrics(texts: list[bytes]) -> list[dict[str, str]]:
    """Parse the ``metric`` objects in one json.loads call (one call per series costs more)."""
    if not texts:
        return []
    try:
        labels = json.loads(b"[" + b",".join(texts) + b"]")
    except ValueError as exc:
        raise NotCompact from exc
    # Each text starts with `{` and ends with `}`: any of them that is not one object (with
    # strings as values) shows as another count of objects or as a value that is not a string.
    if len(labels) != len(texts) or not all(
        type(label_set) is dict and all(type(value) is str for value in label_set.values())
        for label_set in labels
    ):
        raise NotCompact
    return labels


def _envelope(result_type: str, envelope_bytes: bytes) -> dict[str, Any]:
    """The answer around the result (``..."result":[`` + ``]...``), checked to be the
    ``result_type`` answer the layout found."""
    try:
        envelope = json.loads(envelope_bytes, object_pairs_hook=_unique_members)
    except ValueError as exc:  # truncated, or not JSON after all
        raise NotCompact from exc
    data = envelope.get("data") if isinstance(envelope, dict) else None
    if not (
        isinstance(data, dict)
        and envelope.get("status") == "success"
        and data.get("resultType") == result_type
        and data.get("result") == []
    ):
        raise NotCompact
    del data["result"]
    return envelope


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads keeps the last of repeated members: a second "data" or "result" would win.
    members = dict(pairs)
    if len(members) != len(pairs):
        raise NotCompact
    return members


def _samples(
    body: bytes, spans: list[tuple[int, int]], threads: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Times (datetime64[ns]) and values of all samples, all series in a row, and samples per
    series, by pandas' CSV reader. A time a DataFrame cannot hold raises NotCompact: the plain
    path's error names it."""
    if not spans:
        return np.empty(0, "datetime64[ns]"), np.empty(0), np.empty(0, dtype=np.int64)
    # bytes.translate holds the GIL, but one half's translation of a chunk overlaps the other's
    # reading: with a second core idle, two threads take about 70% of the time.
    halves = [spans]
    size = spans[-1][1] - spans[0][0]
    if threads > 1 and size >= PARALLEL_MIN_BYTES and len(spans) > 1 and (os.cpu_count() or 1) > 1:
        middle = bisect.bisect_left(spans, (spans[0][0] + size // 2, 0), 1, len(spans) - 1)
        halves = [spans[:middle], spans[middle:]]
    if len(halves) == 1:
        return _read_csv(body, spans)
    with ThreadPoolExecutor(2, thread_name_prefix="sysmon-frames_bytes") as pool:
        (t1, v1, c1), (t2, v2, c2) = pool.map(lambda half: _read_csv(body, half), halves)
    return np.concatenate([t1, t2]), np.concatenate([v1, v2]), np.concatenate([c1, c2])


def _read_csv(
    body: bytes, spans: list[tuple[int, int]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parse the samples of some series with pandas' CSV reader: times, values, counts."""
    seconds, values, counts = csv_samples.read_samples(body, spans)
    try:
        return frames.utc_times(seconds), values, counts
    except ResponseFormatError:
        raise NotCompact from None
