"""The samples of a compact query answer -> arrays, with pandas' C CSV reader.

The fallback of :mod:`~sysmon_magic.frames_bytes` where the package was built without a C compiler
(and so without ``samples.c``): pandas' CSV reader reads the samples a chunk of about 256 KiB at a
time, after ``bytes.translate`` has turned every ``,[t,"v"]`` of the chunk into the CSV line
``,t,v``. Checks on the positions and counts of the structural bytes make sure it never reads
samples differently from json.loads: anything else raises :class:`NotCompact`.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["NotCompact", "read_samples"]


class NotCompact(Exception):
    """The body is not in the compact layout the fast path reads: take the plain path."""


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


def read_samples(
    body: bytes, spans: list[tuple[int, int]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parse the samples of some series with pandas' CSV reader: timestamps, values, counts."""
    # Integer timestamps (the usual: steps of whole seconds) parse faster as such, and exactly.
    first = spans[0][0] + 1
    if body[first : body.find(b",", first)].lstrip(b"-").isdigit():
        with contextlib.suppress(NotCompact):
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

    Anything else raises NotCompact, for the CSV reader reads more than JSON does: `,[1,-"4"]`
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
        raise NotCompact
    csv = text.translate(_TRANSLATE, _DELETE)
    # And none of JSON's structure elsewhere: the brackets and quotes deleted, and the commas,
    # add up to these (a `]` elsewhere would start a line of its own, which the row count finds).
    if (
        len(text) - len(csv) != 3 * lines
        or np.count_nonzero(np.frombuffer(csv, dtype=np.uint8) == _COMMA) != 2 * lines
    ):
        raise NotCompact
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
        raise NotCompact
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
        raise NotCompact from exc
    if len(table) != chunks.counts.sum():
        raise NotCompact
    return table["t"].to_numpy(), table["v"].to_numpy(), chunks.counts
