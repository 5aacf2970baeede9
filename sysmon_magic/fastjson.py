"""The bytes of a ``/query`` or ``/query_range`` answer -> DataFrame, without a Python object per sample.

``json.loads`` of a 1,000 x 1,000 matrix builds about four million Python objects, and the garbage
collector's passes over them cost more than the parsing. This module avoids building them. Every
Prometheus-compatible server we know of (Prometheus 2.x and 3.x, VictoriaMetrics, Thanos, Mimir)
writes a query answer in one compact layout::

    {"status":"success","data":{"resultType":"matrix","result":[
        {"metric":{"__name__":"up","job":"node"},"values":[[1435781430.781,"1"],...]},...]},...}

(without the line break). :func:`frame_from_body` finds the structure of that layout with byte
searches, parses the small parts (the envelope around ``result``, each series' ``metric``) with
:func:`json.loads`, and the samples of all series in one call to pandas' C CSV reader. One
``bytes.translate`` turns the samples' ``,[t,"v"]`` into the CSV line ``,,t,v``.

A body in any other shape takes the plain path, :func:`json.loads` and
:func:`~sysmon_magic.frames.frame_from_data`: pretty-printed or reordered JSON, native
histograms, scalars and strings, error envelopes, a sample that is not ``[number, "string"]``.
Checks on the positions of the structural bytes make sure the fast path never reads such a body
differently; both paths give identical frames (``tests/test_fastjson.py`` checks it on random
answers).
"""

from __future__ import annotations

import bisect
import io
import json
import re
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from . import frames
from .errors import SysmonUsageError
from .frames import FrameFormat

__all__ = ["BodyFrame", "frame_from_body"]

#: Smaller bodies take the plain path: below this, the CSV reader's fixed cost exceeds the gain.
FAST_PATH_MIN_BYTES = 32_768


class BodyFrame(NamedTuple):
    """What :func:`frame_from_body` found in a body."""

    #: The result as a DataFrame: None unless the envelope is ``status: success`` with ``data``.
    frame: pd.DataFrame | None
    #: The JSON body without ``data.result`` (status, data.resultType, warnings, infos, errorType,
    #: error, and whatever else the server sent); None if the body is not JSON at all.
    envelope: Any


def frame_from_body(body: bytes, fmt: FrameFormat = "tidy") -> BodyFrame:
    """Read the body of a ``/query`` or ``/query_range`` answer: its frame and its envelope.

    Parameters
    ----------
    body
        The HTTP response body, as received.
    fmt
        ``"tidy"`` or ``"wide"``, as in :func:`~sysmon_magic.frames.frame_from_data`.

    Returns
    -------
    BodyFrame
        ``frame`` is the result converted exactly as ``frame_from_data(envelope["data"], fmt)``
        would convert it; it is None when the body is not a successful Prometheus answer, whose
        envelope the caller then reads (``status``, ``errorType``, ``error``).

    Raises
    ------
    SysmonUsageError
        ``fmt`` is not tidy or wide, or native histograms are asked for in the wide format.
    ResponseFormatError
        A successful envelope whose ``data`` does not have the shape of a query result.
    """
    if fmt not in ("tidy", "wide"):
        raise SysmonUsageError(f"Unknown format {fmt!r}: use tidy or wide.")
    if len(body) >= FAST_PATH_MIN_BYTES:
        try:
            return _fast(body, fmt)
        except _Unrecognised:
            pass
    return _plain(body, fmt)


def _plain(body: bytes, fmt: FrameFormat) -> BodyFrame:
    try:
        envelope = json.loads(body)
    except ValueError:  # not JSON, or not UTF-8
        return BodyFrame(None, None)
    if not (isinstance(envelope, dict) and envelope.get("status") == "success"):
        return BodyFrame(None, envelope)
    if "data" not in envelope:
        return BodyFrame(None, envelope)
    data = envelope["data"]
    frame = frames.frame_from_data(data, fmt)
    # Same envelope as the fast path's, which never decodes the result.
    envelope["data"] = {key: value for key, value in data.items() if key != "result"}
    return BodyFrame(frame, envelope)


class _Unrecognised(Exception):
    """The body is not in the layout the fast path reads: take the plain path."""


# The members before "result": no nested values and no escapes, so that the match stays in step
# with the JSON structure. Prometheus writes resultType first; VictoriaMetrics adds isPartial.
_SCALAR = rb'(?:"[^"\\]*"|true|false|null|-?[0-9][0-9.eE+-]*)'
_MEMBER = rb'"[^"\\]*":' + _SCALAR + rb","
_HEAD = re.compile(
    rb"\{(?:" + _MEMBER + rb')*"data":\{"resultType":"(?P<type>matrix|vector)",'
    rb"(?:" + _MEMBER + rb')*"result":\['
)

# bytes.translate for the samples: `,[t,"v"]` -> `,t,v\n` (brackets and quotes deleted). Bytes
# that cannot be part of a number become "x", which the CSV reader refuses: pretty-printing
# whitespace, nested objects, escapes. The checks in _samples catch the rest.
_NUMBER_BYTES = b"0123456789.eE+-NaInf"
_TRANSLATE = bytes(
    {ord(","): ord(","), ord("]"): ord("\n")}.get(
        byte, byte if byte in _NUMBER_BYTES else ord("x")
    )
    for byte in range(256)
)
_DELETE = b'["'

_QUOTE, _COMMA, _OPEN, _CLOSE, _BRACE = b'",[]}'


def _pandas_before(major: int, minor: int) -> bool:
    version = pd.__version__.split(".")
    try:
        return (int(version[0]), int(version[1])) < (major, minor)
    except (IndexError, ValueError):
        return False


# pandas < 3.1 rounds some decimals to a neighbouring float unless asked for round_trip (which 3.1
# deprecates: its one parser rounds correctly). Python's float() rounds correctly.
_CSV_PRECISION: dict[str, Any] = {"float_precision": "round_trip"} if _pandas_before(3, 1) else {}


class _Layout(NamedTuple):
    """Where the parts of a compact answer are."""

    result_type: str
    labels: list[dict[str, str]]
    #: [start, end) of each series' samples in the body, `[t,"v"],...,[t,"v"]`.
    spans: list[tuple[int, int]]
    #: The position of the `]` that ends each sample, all series in a row.
    sample_ends: np.ndarray
    #: Samples per series.
    counts: np.ndarray
    #: The body with the result array emptied, for json.loads.
    envelope_bytes: bytes


def _fast(body: bytes, fmt: FrameFormat) -> BodyFrame:
    layout = _layout(body)
    envelope = _envelope(layout)
    if not layout.labels:
        empty = frames.frame_from_data({"resultType": layout.result_type, "result": []}, fmt)
        return BodyFrame(empty, envelope)
    timestamps, values = _samples(body, layout)
    if fmt == "wide":
        return BodyFrame(_wide(layout.labels, timestamps, values, layout.counts), envelope)
    return BodyFrame(_tidy(layout.labels, timestamps, values, layout.counts), envelope)


def _layout(body: bytes) -> _Layout:
    """Find the series of a compact answer; parse their ``metric`` objects with json.loads."""
    head = _HEAD.match(body)
    if head is None:
        raise _Unrecognised
    matrix = head["type"] == b"matrix"
    # Matrix: `{"metric":{...},"values":[[t,"v"],...,[t,"v"]]}`; vector: `...,"value":[t,"v"]}`.
    samples_key, after_samples = (b'},"values":[', 2) if matrix else (b'},"value":', 1)
    raw = np.frombuffer(body, dtype=np.uint8)
    is_close = raw == _CLOSE
    closes = np.flatnonzero(is_close)
    # Where samples may end: the `]` of `]]}` (`]}` for a vector). The same bytes in a label value
    # lie before the samples of their series, so the first one after a series' first sample is
    # its last sample's end -- or, if a sample holds something else than numbers in strings, a
    # byte the checks in _samples find out of place.
    if matrix:
        ends = np.flatnonzero(is_close[:-2] & is_close[1:-1])
        ends = ends[raw[ends + 2] == _BRACE]
    else:
        ends = np.flatnonzero(is_close[:-1] & (raw[1:] == _BRACE))
    series_ends = ends.tolist()
    labels: list[dict[str, str]] = []
    spans: list[tuple[int, int]] = []
    position, found = head.end(), 0
    while body[position : position + 1] != b"]":
        if labels:
            if body[position : position + 1] != b",":
                raise _Unrecognised
            position += 1
        if not body.startswith(b'{"metric":{', position):
            raise _Unrecognised
        metric_start = position + len(b'{"metric":')
        # Inside a JSON string every '"' is escaped, so `},"values":[` cannot occur in a label
        # value; if it belongs to a later series, the slice holds more than one object and
        # json.loads refuses it.
        metric_end = body.find(samples_key, metric_start) + 1
        if metric_end <= 0:
            raise _Unrecognised
        labels.append(_metric(body[metric_start:metric_end]))
        start = metric_end + len(samples_key) - 1
        if body[start] != _OPEN:  # also a series without samples, which servers never send
            raise _Unrecognised
        found = bisect.bisect_left(series_ends, start, found)
        if found == len(series_ends):
            raise _Unrecognised
        end = series_ends[found] + 1
        spans.append((start, end))
        position = end + after_samples
    # Samples per series, and where each sample ends: every `]` inside the spans.
    lows = np.searchsorted(closes, [start for start, _ in spans])
    counts = np.searchsorted(closes, [end for _, end in spans]) - lows
    firsts = np.cumsum(counts) - counts
    sample_ends = closes[np.arange(counts.sum()) + np.repeat(lows - firsts, counts)]
    return _Layout(
        head["type"].decode(),
        labels,
        spans,
        sample_ends,
        counts,
        # `..."result":[` + `]...`: what surrounds the result, for json.loads.
        body[: head.end()] + body[position:],
    )


def _metric(text: bytes) -> dict[str, str]:
    try:
        labels = json.loads(text)
    except ValueError as exc:
        raise _Unrecognised from exc
    if type(labels) is not dict or not all(type(value) is str for value in labels.values()):
        raise _Unrecognised
    return labels


def _envelope(layout: _Layout) -> dict[str, Any]:
    """The answer around the result, checked to be what the layout promised."""
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


def _samples(body: bytes, layout: _Layout) -> tuple[np.ndarray, np.ndarray]:
    """Timestamps and values of all samples, all series in a row, parsed in one pass."""
    raw = np.frombuffer(body, dtype=np.uint8)
    ends, lines = layout.sample_ends, len(layout.sample_ends)
    # Each sample is `[`...`"]` (ends with a string), followed by `,[` unless it is its series'
    # last: its samples' span ends right after it.
    followed = (raw[ends + 1] == _COMMA) & (raw[ends + 2] == _OPEN)
    followed[np.cumsum(layout.counts) - 1] = True
    if not (followed.all() and (raw[ends - 1] == _QUOTE).all()):
        raise _Unrecognised
    view = memoryview(body)
    text = b",".join([b"", *(view[start:end] for start, end in layout.spans)])
    csv = text.translate(_TRANSLATE, _DELETE)
    # Each line is `,[`...`"]`. If exactly one more `[` or `"` a line was deleted and exactly one
    # more comma a line remains, valid JSON leaves one form, `,[number or string,"string"]`: the
    # CSV reader refuses the empty and non-numeric fields of any other (and "x").
    if (
        len(text) - len(csv) != 3 * lines
        or np.count_nonzero(np.frombuffer(csv, dtype=np.uint8) == _COMMA) != 2 * lines
    ):
        raise _Unrecognised
    try:
        table = pd.read_csv(
            io.BytesIO(csv),
            header=None,
            names=["", "t", "v"],
            usecols=["t", "v"],
            dtype=np.float64,
            na_values={"v": ["NaN"]},
            keep_default_na=False,
            skip_blank_lines=False,
            engine="c",
            **_CSV_PRECISION,
        )
    except (ValueError, OverflowError) as exc:  # ParserError and EmptyDataError are ValueErrors
        raise _Unrecognised from exc
    if len(table) != lines:
        raise _Unrecognised
    return table["t"].to_numpy(), table["v"].to_numpy()


def _tidy(
    labels: list[dict[str, str]], timestamps: np.ndarray, values: np.ndarray, counts: np.ndarray
) -> pd.DataFrame:
    """The tidy frame, as :func:`frames.frame_from_data` builds it."""
    columns: dict[str, Any] = {"timestamp": frames._timestamps(timestamps)}
    for name in frames.label_columns(labels):
        columns[name] = _label_column([label_set.get(name) for label_set in labels], counts)
    columns["value"] = values
    return pd.DataFrame(columns)


def _label_column(per_series: list[str | None], counts: np.ndarray) -> pd.Categorical:
    categories = sorted({value for value in per_series if value is not None})
    code = {value: code for code, value in enumerate(categories)}
    # pandas' own choice of code width (which from_codes applies anyway): repeating the codes at
    # that width is 8 times less memory to write than at int64.
    width = np.int8 if len(categories) < 127 else np.int16 if len(categories) < 32767 else np.int32
    codes = np.array([-1 if value is None else code[value] for value in per_series], dtype=width)
    return pd.Categorical.from_codes(
        np.repeat(codes, counts), categories=pd.Index(categories, dtype=object)
    )


def _wide(
    labels: list[dict[str, str]], timestamps: np.ndarray, values: np.ndarray, counts: np.ndarray
) -> pd.DataFrame:
    """The wide frame; without a sort when all series have the same timestamps (range queries)."""
    first = timestamps[: counts[0]]
    if not (
        (counts == counts[0]).all()
        and (np.diff(first) > 0).all()
        and (timestamps.reshape(len(counts), -1) == first).all()
    ):
        bounds = np.concatenate([[0], np.cumsum(counts)]).tolist()
        return frames._wide(
            [
                frames._Series(label_set, timestamps[a:b], values[a:b], [])
                for label_set, a, b in zip(labels, bounds[:-1], bounds[1:], strict=True)
            ]
        )
    names = frames.label_columns(labels)
    if names:
        columns = pd.MultiIndex.from_tuples(
            [tuple(label_set.get(name, "") for name in names) for label_set in labels], names=names
        )
    else:
        columns = pd.MultiIndex.from_tuples(
            [("{}",)] * len(labels), names=[frames.NO_LABELS_LEVEL]
        )
    index = frames._timestamps(first).rename("timestamp")
    return pd.DataFrame(values.reshape(len(counts), -1).T, index=index, columns=columns)
