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

# bytes.translate for the samples: `,[t,"v"]` -> `,,t,v\n` (quotes deleted). Bytes that cannot be
# part of a number become "x", which the CSV reader refuses: pretty-printing whitespace, nested
# objects, escapes, and (since the CSV reader reads no quotes) brackets or commas inside strings
# are caught by the position checks in _samples.
_NUMBER_BYTES = b"0123456789.eE+-NaInf"
_TRANSLATE = bytes(
    {ord("["): ord(","), ord(","): ord(","), ord("]"): ord("\n")}.get(
        byte, byte if byte in _NUMBER_BYTES else ord("x")
    )
    for byte in range(256)
)

_QUOTE, _COMMA, _OPEN, _CLOSE = b'"'[0], b","[0], b"["[0], b"]"[0]


def _pandas_before(major: int, minor: int) -> bool:
    version = pd.__version__.split(".")
    try:
        return (int(version[0]), int(version[1])) < (major, minor)
    except (IndexError, ValueError):
        return False


# pandas < 3.1 rounds some decimals to a neighbouring float unless asked for round_trip (which 3.1
# deprecates: its one parser rounds correctly). Python's float() rounds correctly.
_CSV_PRECISION: dict[str, Any] = (
    {"float_precision": "round_trip"} if _pandas_before(3, 1) else {}
)


class _Layout(NamedTuple):
    """Where the parts of a body are."""

    result_type: str
    labels: list[dict[str, str]]
    #: [start, end) of each series' samples, `[t,"v"],...,[t,"v"]`.
    spans: list[tuple[int, int]]
    #: The body with the result array emptied, for json.loads.
    envelope_bytes: bytes


def _fast(body: bytes, fmt: FrameFormat) -> BodyFrame:
    layout = _layout(body)
    try:
        envelope = json.loads(layout.envelope_bytes, object_pairs_hook=_unique_members)
    except ValueError as exc:  # not JSON around the result: truncated, or not what we think
        raise _Unrecognised from exc
    if not isinstance(envelope, dict):
        raise _Unrecognised
    data = envelope.get("data")
    if not (
        envelope.get("status") == "success"
        and isinstance(data, dict)
        and data.get("resultType") == layout.result_type
        and data.get("result") == []
    ):
        raise _Unrecognised
    del data["result"]
    if not layout.labels:
        empty = frames.frame_from_data({"resultType": layout.result_type, "result": []}, fmt)
        return BodyFrame(empty, envelope)
    timestamps, values, counts = _samples(body, layout.spans)
    if fmt == "wide":
        return BodyFrame(_wide(layout.labels, timestamps, values, counts), envelope)
    return BodyFrame(frames._tidy(_series(layout.labels, timestamps, values, counts)), envelope)


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # A repeated member (json.loads keeps the last) could hide a second "data" or "result".
    members = dict(pairs)
    if len(members) != len(pairs):
        raise _Unrecognised
    return members


def _layout(body: bytes) -> _Layout:
    """Find the series in a compact answer, parsing each ``metric`` object with json.loads."""
    head = _HEAD.match(body)
    if head is None:
        raise _Unrecognised
    result_type = head["type"].decode()
    # Matrix: `},"values":[[t,"v"],...,[t,"v"]]}`; vector: `},"value":[t,"v"]}`.
    samples_key, samples_end = (
        (b'},"values":[', b"]]}") if result_type == "matrix" else (b'},"value":', b"]}")
    )
    labels: list[dict[str, str]] = []
    spans: list[tuple[int, int]] = []
    position = head.end()
    if body[position : position + 1] == b"]":
        return _Layout(result_type, labels, spans, body)
    while True:
        if not body.startswith(b'{"metric":{', position):
            raise _Unrecognised
        metric_start = position + len(b'{"metric":')
        # Not fooled by a label value: inside a JSON string every '"' is escaped, so the bytes
        # `},"values":[` cannot occur there; if they belong to a later series, the slice holds
        # more than one object and json.loads refuses it.
        metric_end = body.find(samples_key, metric_start) + 1
        if metric_end <= 0:
            raise _Unrecognised
        labels.append(_metric(body[metric_start:metric_end]))
        start = metric_end + len(samples_key) - 1
        if body[start] != _OPEN:  # includes a series without samples, which servers never send
            raise _Unrecognised
        # The first `]]}` (`]}` for a vector) ends the samples unless a sample holds something
        # else than numbers in strings: then _samples finds a byte out of place.
        end = body.find(samples_end, start) + 1
        if end <= 0:
            raise _Unrecognised
        spans.append((start, end))
        position = end + len(samples_end) - 1
        follows = body[position : position + 1]
        if follows == b"]":
            break
        if follows != b",":
            raise _Unrecognised
        position += 1
    # The envelope without the samples: `..."result":[` + `]...`.
    return _Layout(result_type, labels, spans, body[: head.end()] + body[position:])


def _metric(text: bytes) -> dict[str, str]:
    try:
        labels = json.loads(text)
    except ValueError as exc:
        raise _Unrecognised from exc
    if type(labels) is not dict or not all(type(v) is str for v in labels.values()):
        raise _Unrecognised
    return labels


def _samples(body: bytes, spans: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Timestamps, values and samples per series of all series, parsed in one pass."""
    view = memoryview(body)
    # `,[t,"v"],[t,"v"],...`: one line per sample, all series in a row.
    text = b",".join([b"", *(view[start:end] for start, end in spans)])
    raw = np.frombuffer(text, dtype=np.uint8)
    closes = np.flatnonzero(raw == _CLOSE)
    lines = len(closes)
    # Every line is `,[` ... `"]`: it starts a sample array and ends with a string.
    if not (
        text.startswith(b",[")
        and closes[-1] == len(text) - 1
        and (raw[closes - 1] == _QUOTE).all()
        and (raw[closes[:-1] + 1] == _COMMA).all()
        and (raw[closes[:-1] + 2] == _OPEN).all()
    ):
        raise _Unrecognised
    csv = text.translate(_TRANSLATE, b'"')
    # Exactly two quotes and, once translated, three commas a line: `,,t,v` with v the string.
    # With the checks above, this leaves `,[number or string,"string"]` as the only line that
    # passes (the CSV reader refuses empty and non-numeric fields).
    if len(text) - len(csv) != 2 * lines or csv.count(b",") != 3 * lines:
        raise _Unrecognised
    try:
        table = pd.read_csv(
            io.BytesIO(csv),
            header=None,
            names=["_", "__", "t", "v"],
            usecols=["t", "v"],
            dtype=np.float64,
            na_values=["NaN"],
            keep_default_na=False,
            skip_blank_lines=False,
            engine="c",
            **_CSV_PRECISION,
        )
    except (ValueError, OverflowError) as exc:  # ParserError and EmptyDataError are ValueErrors
        raise _Unrecognised from exc
    if len(table) != lines:
        raise _Unrecognised
    # Samples per series: the line ends (`]`) inside each series' stretch of the text.
    ends = np.cumsum([end - start + 1 for start, end in spans])
    counts = np.diff(np.searchsorted(closes, ends), prepend=0)
    return table["t"].to_numpy(), table["v"].to_numpy(), counts


def _series(
    labels: list[dict[str, str]], timestamps: np.ndarray, values: np.ndarray, counts: np.ndarray
) -> list[frames._Series]:
    bounds = np.concatenate([[0], np.cumsum(counts)]).tolist()
    return [
        frames._Series(label_set, timestamps[a:b], values[a:b], [])
        for label_set, a, b in zip(labels, bounds[:-1], bounds[1:], strict=True)
    ]


def _wide(
    labels: list[dict[str, str]], timestamps: np.ndarray, values: np.ndarray, counts: np.ndarray
) -> pd.DataFrame:
    """The wide frame; fast when every series has the same timestamps, as range queries do."""
    first = timestamps[: counts[0]]
    same_grid = (
        (counts == counts[0]).all()
        and (np.diff(first) > 0).all()
        and (timestamps.reshape(len(counts), -1) == first).all()
    )
    if not same_grid:
        return frames._wide(_series(labels, timestamps, values, counts))
    names = frames.label_columns(labels)
    if names:
        columns = pd.MultiIndex.from_tuples(
            [tuple(s.get(name, "") for name in names) for s in labels], names=names
        )
    else:
        columns = pd.MultiIndex.from_tuples(
            [("{}",)] * len(labels), names=[frames.NO_LABELS_LEVEL]
        )
    index = frames._timestamps(first).rename("timestamp")
    return pd.DataFrame(values.reshape(len(counts), -1).T, index=index, columns=columns)
