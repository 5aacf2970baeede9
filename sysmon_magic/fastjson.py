"""A query answer's bytes -> DataFrame, without a Python object per sample.

``json.loads`` of a 1,000 x 1,000 matrix builds about four million Python objects, and the
garbage collector's passes over them cost more than the parsing. This module builds none.
Prometheus (2.x, 3.x), VictoriaMetrics, Thanos and Mimir all write a query answer in one compact
layout::

    {"status":"success","data":{"resultType":"matrix","result":[
    {"metric":{"__name__":"up","job":"node"},"values":[[1435781430.781,"1"],...]},...]},...}

(without the line breaks). :func:`frame_from_body` finds the series with byte searches, parses
the small parts (the envelope around ``result``, the ``metric`` objects) with :func:`json.loads`,
and all samples with the C reader of ``samples.c``, which holds no lock while it reads, so that
windows fetched in parallel convert on every core. Where the package was built without a C
compiler, pandas' C CSV reader stands in (:data:`ENGINE`), reading a chunk of about 256 KiB at a
time after ``bytes.translate`` has turned every ``,[t,"v"]`` of the chunk into the CSV line
``,t,v``. On two cores or more, two threads share the samples.

Any other body takes the plain path, :func:`json.loads` and
:func:`~sysmon_magic.frames.frame_from_data`: pretty-printed or reordered JSON, native
histograms, scalars and strings, errors, a sample that is not ``[number, "string"]`` (nor valid
JSON: ``[1,-"4"]``). Checks on the positions and counts of the structural bytes make sure the
fast path never reads such a body differently: both paths give identical frames, or the same
error (``tests/test_fastjson.py`` checks it on random answers, and on every one-byte edit of
some samples).
"""

from __future__ import annotations

import bisect
import contextlib
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from . import frames
from .errors import SysmonUsageError
from .frames import FrameFormat

try:
    from . import samples as native_samples  # samples.c, built where a C compiler was at hand
except ImportError:  # pragma: no cover - a build without a compiler: the CSV reader stands in
    native_samples = None  # type: ignore[assignment]

__all__ = ["BodyFrame", "BodyRuns", "frame_from_body", "runs_from_body"]

#: Smaller bodies take the plain path, which is faster for them.
FAST_PATH_MIN_BYTES = 65_536
#: From this many bytes of samples on, two threads parse them (given two cores or more).
PARALLEL_MIN_BYTES = 2_000_000
#: What reads the samples: ``"native"``, the C reader of ``samples.c``, which holds no lock
#: while it parses (so windows fetched in parallel convert on every core), or ``"csv"``, pandas'
#: CSV reader, where the package was built without a C compiler. Both read exactly what
#: json.loads reads (tests/test_fastjson.py runs each).
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
            return _fast(body, fmt)
        except _Unrecognised:
            pass
    return _plain(body, fmt)


def runs_from_body(body: bytes) -> BodyRuns:
    """Read the body of a ``/query`` or ``/query_range`` answer as :func:`frame_from_body`
    does, up to its series: what the windows of a range query are merged as.

    Raises ResponseFormatError as :func:`frame_from_body` does.
    """
    if len(body) >= FAST_PATH_MIN_BYTES:
        try:
            return _fast_runs(body)
        except _Unrecognised:
            pass
    envelope, data = _plain_data(body)
    return BodyRuns(None if data is None else frames.runs_from_data(data), envelope)


def _plain(body: bytes, fmt: FrameFormat) -> BodyFrame:
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


class _Unrecognised(Exception):
    """The body is not in the layout the fast path reads: take the plain path."""


# Up to the result: members without nested values or escapes, so that the match stays in step
# with the JSON structure. VictoriaMetrics adds "isPartial" before "data".
_SCALAR = rb'(?:"[^"\\]*"|true|false|null|-?[0-9][0-9.eE+-]*)'
_MEMBER = rb'"[^"\\]*":' + _SCALAR + rb","
_HEAD = re.compile(
    rb"\{(?:" + _MEMBER + rb')*"data":\{"resultType":"(?P<type>matrix|vector)",'
    rb"(?:" + _MEMBER + rb')*"result":\['
)

# For bytes.translate: `,[t,"v"]` -> `,t,v\n`, brackets and quotes deleted. A byte that is not
# part of a number becomes "x", which the CSV reader refuses: whitespace, a nested object, an
# escape. _to_csv checks everything else.
_NUMBER_BYTES = b"0123456789.eE+-NaInf"
_TRANSLATE = bytes(
    {ord(","): ord(","), ord("]"): ord("\n")}.get(byte, byte if byte in _NUMBER_BYTES else ord("x"))
    for byte in range(256)
)
_DELETE = b'["'

_COMMA, _OPEN, _CLOSE, _QUOTE, _MINUS, _DOT = b',[]"-.'
_ZERO = np.uint8(ord("0"))


def _pandas_before(major: int, minor: int) -> bool:
    try:
        return tuple(int(part) for part in pd.__version__.split(".")[:2]) < (major, minor)
    except ValueError:
        return False


# Before 3.1, pandas' default float parser rounds some decimals to a neighbouring float;
# "round_trip" (deprecated in 3.1, whose one parser rounds correctly) agrees with float().
_CSV_PRECISION: dict[str, Any] = {"float_precision": "round_trip"} if _pandas_before(3, 1) else {}


class _Layout(NamedTuple):
    """Where the parts of a compact answer are."""

    result_type: str
    labels: list[dict[str, str]]
    #: [start, end) of each series' samples in the body: `[t,"v"],...,[t,"v"]`.
    spans: list[tuple[int, int]]
    #: `..."result":[` + `]...`: the body without the samples, for json.loads.
    envelope_bytes: bytes


def _fast(body: bytes, fmt: FrameFormat) -> BodyFrame:
    runs, envelope = _fast_runs(body)
    assert runs is not None
    return BodyFrame(frames.frame_from_runs(runs, fmt), envelope)


def _fast_runs(body: bytes) -> BodyRuns:
    layout = _layout(body)
    envelope = _envelope(layout)
    if not layout.labels:
        empty = frames.Runs([], np.empty(0), np.empty(0), np.empty(0, dtype=np.int64))
        return BodyRuns(empty, envelope)
    timestamps, values, counts = _samples(body, layout.spans)
    if not (timestamps.min() > -9e9 and timestamps.max() < 9e9):
        # NaN, or near the ends of datetime64[ns] (1677 and 2262): let the plain path judge.
        raise _Unrecognised
    return BodyRuns(frames.Runs(layout.labels, timestamps, values, counts), envelope)


def _layout(body: bytes) -> _Layout:
    """Find the series of a compact answer and parse their ``metric`` objects."""
    head = _HEAD.match(body)
    if head is None:
        raise _Unrecognised
    # Matrix: `{"metric":{...},"values":[[t,"v"],...,[t,"v"]]}`; vector: `...,"value":[t,"v"]}`.
    if head["type"] == b"matrix":
        samples_key, next_series, last_series = b'},"values":[', b']]},{"metric":{', b"]]}]"
    else:
        samples_key, next_series, last_series = b'},"value":', b']},{"metric":{', b"]}]"
    metrics: list[bytes] = []
    spans: list[tuple[int, int]] = []
    position = head.end()
    while body[position : position + 1] != b"]":
        if not body.startswith(b'{"metric":{', position):
            raise _Unrecognised
        metric_start = position + len(b'{"metric":')
        # Every '"' inside a JSON string is escaped, so the bytes searched for here cannot be
        # part of a label value. Should a series lack samples or have other members, these
        # searches overshoot into another series: then the metric holds more than one object,
        # which _metrics refuses, or the samples hold a byte out of place, which _samples finds.
        metric_end = body.find(samples_key, metric_start) + 1
        if metric_end <= 0:
            raise _Unrecognised
        metrics.append(body[metric_start:metric_end])
        start = metric_end + len(samples_key) - 1
        # A slice, not an index: the body may end right here.
        if body[start : start + 1] != b"[":  # also a series without samples, as servers never send
            raise _Unrecognised
        # A search for this many bytes skips ahead (several GB/s), unlike one for a `]`.
        end = body.find(next_series, start) + 1
        if end > 0:
            position = end + len(next_series) - len(b'{"metric":{') - 1
        else:
            end = body.find(last_series, start) + 1
            if end <= 0:
                raise _Unrecognised
            position = end + len(last_series) - 2
        spans.append((start, end))
    return _Layout(
        head["type"].decode(),
        _metrics(metrics),
        spans,
        body[: head.end()] + body[position:],
    )


def _metrics(texts: list[bytes]) -> list[dict[str, str]]:
    """Parse the ``metric`` objects in one json.loads call (one call per series costs more)."""
    try:
        labels = json.loads(b"[" + b",".join(texts) + b"]")
    except ValueError as exc:
        raise _Unrecognised from exc
    # Each text starts with `{` and ends with `}`: any of them that is not one object (with
    # strings as values) shows as another count of objects or as a value that is not a string.
    if len(labels) != len(texts) or not all(
        type(label_set) is dict and all(type(value) is str for value in label_set.values())
        for label_set in labels
    ):
        raise _Unrecognised
    return labels


def _envelope(layout: _Layout) -> dict[str, Any]:
    """The answer around the result, checked to be what the layout found."""
    try:
        envelope = json.loads(layout.envelope_bytes, object_pairs_hook=_unique_members)
    except ValueError as exc:  # truncated, or not JSON after all
        raise _Unrecognised from exc
    data = envelope.get("data") if isinstance(envelope, dict) else None
    if not (
        isinstance(data, dict)
        and envelope.get("status") == "success"
        and data.get("resultType") == layout.result_type
        and data.get("result") == []
    ):
        raise _Unrecognised
    del data["result"]
    return envelope


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads keeps the last of repeated members: a second "data" or "result" would win.
    members = dict(pairs)
    if len(members) != len(pairs):
        raise _Unrecognised
    return members


def _samples(
    body: bytes, spans: list[tuple[int, int]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Timestamps and values of all samples, all series in a row, and samples per series."""
    # Both readers let go of the GIL (the CSV one in part: bytes.translate holds it, but one
    # half's translation of a chunk overlaps the other's reading), so two threads share the
    # series: with a second core idle, in half the time (the CSV reader: in about 70%).
    read = _read_native if ENGINE == "native" else _read_samples
    halves = [spans]
    size = spans[-1][1] - spans[0][0]
    if size >= PARALLEL_MIN_BYTES and len(spans) > 1 and (os.cpu_count() or 1) > 1:
        middle = bisect.bisect_left(spans, (spans[0][0] + size // 2, 0), 1, len(spans) - 1)
        halves = [spans[:middle], spans[middle:]]
    if len(halves) == 1:
        return read(body, spans)
    with ThreadPoolExecutor(2, thread_name_prefix="sysmon-fastjson") as pool:
        (t1, v1, c1), (t2, v2, c2) = pool.map(lambda half: read(body, half), halves)
    if t1.dtype != t2.dtype:  # one half has fractional seconds
        t1, t2 = t1.astype(np.float64), t2.astype(np.float64)
    return np.concatenate([t1, t2]), np.concatenate([v1, v2]), np.concatenate([c1, c2])


def _read_native(
    body: bytes, spans: list[tuple[int, int]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parse the samples of some series with the C reader: timestamps, values, counts."""
    assert native_samples is not None
    # Room for every sample: none is shorter than `[0,"0"],`. Pages of it never written to
    # cost no memory, and the arrays shrink to the samples read (counting them first, with
    # bytes.count, would take most of the time the parsing takes, and hold the GIL).
    room = sum((end - start + 1) // 8 for start, end in spans)
    millis = np.empty(room, dtype=np.int64)
    values = np.empty(room, dtype=np.float64)
    counts = np.empty(len(spans), dtype=np.int64)
    read = native_samples.parse(body, np.array(spans, dtype=np.int64), millis, values, counts)
    if read is None:  # not the compact layout after all: the plain path judges
        raise _Unrecognised
    total, fractional = read
    millis.resize(total, refcheck=False)  # in place: nothing else refers to them yet
    values.resize(total, refcheck=False)
    # Seconds as the CSV reader gives them, whole (int64) unless some have a fraction; dividing
    # milliseconds is exact after the rounding to milliseconds that frames.timestamp_index does.
    seconds = millis / 1000 if fractional else millis // 1000
    return seconds, values, counts


def _read_samples(
    body: bytes, spans: list[tuple[int, int]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parse the samples of some series with pandas' CSV reader: timestamps, values, counts."""
    # Integer timestamps (the usual: steps of whole seconds) parse faster as such, and exactly.
    first = spans[0][0] + 1
    if body[first : body.find(b",", first)].lstrip(b"-").isdigit():
        with contextlib.suppress(_Unrecognised):
            return _read_csv(_Chunks(body, spans), np.int64)
    return _read_csv(_Chunks(body, spans), np.float64)


class _Chunks:
    """The samples of some series as CSV, translated and checked a chunk at a time.

    pandas' CSV reader calls :meth:`read` for about 256 KiB at a time. Each chunk is built,
    checked, translated and parsed while it is in the CPU's cache, without a copy of all the
    samples (twice: joined, then translated) in memory; and the work that holds the GIL
    (``bytes.join``, ``bytes.translate``) comes in small pieces, which the other thread's reader
    interleaves with its own.
    """

    def __init__(self, body: bytes, spans: list[tuple[int, int]]) -> None:
        self._body = body
        self._view = memoryview(body)
        self._spans = spans
        self._index = 0  # the series being read
        self._position = spans[0][0]  # where in it
        #: Samples per series, counted as they are read.
        self.counts = np.zeros(len(spans), dtype=np.int64)

    def read(self, size: int = -1) -> bytes:
        """The next whole samples, about ``size`` bytes of them, as CSV lines; b"" at the end."""
        room = size if size > 0 else 2**62
        # `,[t,"v"],...,[t,"v"]`: the rest of the current series up to a sample's end (the last
        # `]` that fits, or the first one at all), then whole series while they fit.
        pieces: list[bytes | memoryview] = []
        ends: list[int] = []  # where each series' piece ends in the chunk
        series: list[int] = []  # and which series it is
        length = 0
        while room > 0 and self._index < len(self._spans):
            start, end = self._spans[self._index]
            position = self._position
            if position == start:
                pieces.append(b",")  # the separator a series' first sample lacks
                length += 1
            stop = end
            if end - position > room:
                stop = self._body.rfind(b"]", position, position + room) + 1
                if stop <= position:  # a sample longer than the room
                    stop = self._body.find(b"]", position, end) + 1
            pieces.append(self._view[position:stop])
            length += stop - position
            room -= stop - position
            ends.append(length)
            series.append(self._index)
            if stop < end:
                self._position = stop
                break
            self._index += 1
            if self._index < len(self._spans):
                self._position = self._spans[self._index][0]
        if not pieces:
            return b""
        text = b"".join(pieces)
        csv, closes = _to_csv(text)
        # Samples per series: the `]` before the end of each series' piece.
        self.counts[series] += np.diff(np.searchsorted(closes, ends), prepend=0)
        return csv


def _to_csv(text: bytes) -> tuple[bytes, np.ndarray]:
    """``text`` as CSV lines, and where each sample ends in it (its `]`), if every sample is
    `,[t,"v"]` as JSON writes it.

    Anything else raises _Unrecognised, for the CSV reader reads more than JSON does: `,[1,-"4"]`
    as `,1,-4`, a timestamp `05`, `+5`, `.5`, `5.` or `Inf`, a sample with a third element (whose
    field it drops). What these checks leave it refuses: a value that is empty or no number, and
    every byte translated to "x".
    """
    data = np.frombuffer(text, dtype=np.uint8)
    quotes = np.flatnonzero(data == _QUOTE)
    lines = len(quotes) // 2
    opening, closes = quotes[0::2], quotes[1::2] + 1
    # Each sample is `,[`, a timestamp, `,"`, a value, `"]`, right after the one before.
    if not (
        lines
        and len(quotes) == 2 * lines
        and text.startswith(b",[")
        and closes[-1] == len(text) - 1
        and (data[closes] == _CLOSE).all()
        and (data[closes[:-1] + 1] == _COMMA).all()
        and (data[closes[:-1] + 2] == _OPEN).all()
        and (data[opening - 1] == _COMMA).all()
    ):
        raise _Unrecognised
    csv = text.translate(_TRANSLATE, _DELETE)
    # And none of JSON's structure elsewhere: the brackets and quotes deleted, and the commas,
    # add up to these (a `]` elsewhere would start a line of its own, which the row count finds).
    if (
        len(text) - len(csv) != 3 * lines
        or np.count_nonzero(np.frombuffer(csv, dtype=np.uint8) == _COMMA) != 2 * lines
    ):
        raise _Unrecognised
    # The timestamps. Of what the CSV reader takes as a number (in the bytes that are not "x":
    # `[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?`, "Inf", "NaN"; as an int64 too, if its
    # value is whole), a JSON number starts with a digit, or a minus and a digit; has no leading
    # zero; and no dot without a digit after it (`5.`, `5.e3`: looked for in values too, which
    # servers never write so, and then take the plain path). One ending in e, + or - the CSV
    # reader refuses.
    first = np.concatenate(([2], closes[:-1] + 3))
    first += data[first] == _MINUS
    if not (
        _is_digit(data[first]).all()
        and not ((data[first] == _ZERO) & _is_digit(data[first + 1])).any()
        and not ((data[:-1] == _DOT) & ~_is_digit(data[1:])).any()
    ):
        raise _Unrecognised
    return csv, closes


def _is_digit(codes: np.ndarray) -> np.ndarray:
    return codes - _ZERO < 10  # uint8 wraps around below "0"


def _read_csv(
    chunks: _Chunks, timestamp_type: type[np.integer] | type[np.floating]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    try:
        table = pd.read_csv(
            chunks,  # type: ignore[call-overload]  # pandas takes any object with read()
            header=None,
            names=["", "t", "v"],
            usecols=["t", "v"],
            dtype={"t": timestamp_type, "v": np.float64},
            na_values={"v": ["NaN"]},
            keep_default_na=False,
            skip_blank_lines=False,
            engine="c",
            **_CSV_PRECISION,
        )
    except (ValueError, OverflowError) as exc:  # ParserError and EmptyDataError are ValueErrors
        raise _Unrecognised from exc
    if len(table) != chunks.counts.sum():
        raise _Unrecognised
    return table["t"].to_numpy(), table["v"].to_numpy(), chunks.counts
