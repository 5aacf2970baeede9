"""Reading an answer's body: whole, in large pieces, decompressed, and never past a size limit.

Bodies are read straight into one buffer where http.client allows it (no piece copied, no second
buffer of the whole body), else a megabyte at a time (not requests' 10 KB), so that windows
fetched in parallel do not queue for the interpreter lock. Past ``limit`` bytes, compressed or
decompressed, reading stops with :class:`TooLarge` (an endless body, a gzip bomb), which the
transport turns into a :class:`~sysmon_magic.errors.ResponseTooLargeError` naming the limit.
"""

from __future__ import annotations

import http.client
import types
import zlib
from typing import TYPE_CHECKING, Any

import requests
import urllib3

if TYPE_CHECKING:
    from .watchdog import Watch

__all__ = ["TooLarge", "gunzip", "read_body"]

#: What inflates gzip answers: Intel's ISA-L, 2-3x as fast as zlib, where it is installed
#: (its wheels cover the usual platforms), else zlib; the same results (tests/test_bodies.py runs both).
inflate: types.ModuleType
try:
    from isal import isal_zlib as inflate
except ImportError:  # pragma: no cover - elsewhere, zlib
    inflate = zlib

# A body is read this much at a time: each read releases the interpreter lock for its recv.
_PIECE = 1 << 20
#: The first buffer of a body of unknown length (chunked), small for the many small answers; it
#: grows to what is left of the chunk being read, or doubles.
_FIRST_BUFFER = 256 << 10


class TooLarge(Exception):
    """The body passed the limit; ``how`` says how: "is larger", "declares N bytes, more"."""

    def __init__(self, how: str) -> None:
        super().__init__(how)
        self.how = how


def read_body(response: requests.Response, watch: Watch, limit: int) -> bytes:
    """The whole body, decompressed, in large pieces; refused past the size limit."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"declares {int(declared):,} bytes, more")
    stream = response.raw
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    fp = getattr(stream, "_fp", None)  # http.client's response, under urllib3's
    if encoding in ("", "identity", "gzip") and hasattr(fp, "readinto"):
        # http.client's readinto undoes chunked framing itself (Prometheus' way to send an
        # answer), so both framings land in one buffer, unjoined; a gzipped one is then
        # inflated in one call (which lets go of the GIL), not 1 MB at a time.
        body = _read_into(fp, int(declared) if declared.isdigit() else None, watch, limit)
        return gunzip(body, limit) if encoding == "gzip" else body
    pieces: list[bytes] = []
    size = 0
    while True:
        piece = _read_piece(stream)
        if not piece:
            break
        size += len(piece)
        if size > limit or stream.tell() > limit:
            raise TooLarge("is larger")  # an endless body, or a gzip bomb
        pieces.append(piece)
        if watch.expired or watch.cancelled:  # a session of the caller's: between reads
            raise requests.exceptions.ConnectionError("aborted")
    return b"".join(pieces)


def _read_into(fp: Any, length: int | None, watch: Watch, limit: int) -> bytes:
    """A body read straight from the socket into one buffer: of its Content-Length, or
    (chunked) grown as its chunks announce their sizes, up to the size limit. No piece is
    copied, and no second buffer of the whole body is made (fresh memory is dear: a 24 MB
    answer joined from pieces took twice as long as the transfer)."""
    buffer = bytearray(length if length is not None else min(_FIRST_BUFFER, limit + 1))
    view = memoryview(buffer)
    done = 0
    while True:
        if done == len(buffer):
            if length is not None:
                break
            if done > limit:
                raise TooLarge("is larger")  # an endless body
            # Doubled, or, if more, room for what is left of the chunk being read (http.client
            # knows; an uncompressed Prometheus answer is one chunk) and one byte, whose read
            # finds the end: a 24 MB answer in one step.
            left = getattr(fp, "chunk_left", None)
            wanted = max(2 * done, done + left + 1 if isinstance(left, int) else 0)
            view.release()
            # A new buffer, not extend(bytes(...)): that would fault in the pages of a zeroed
            # copy and then those of the grown buffer, twice the fresh memory (dear here).
            grown = bytearray(min(wanted, limit + 1))
            grown[:done] = buffer
            buffer, view = grown, memoryview(grown)
        try:
            read = fp.readinto(view[done : done + _PIECE * 8])
        except (OSError, http.client.HTTPException) as exc:  # shut by the watch, reset, cut
            raise requests.exceptions.ChunkedEncodingError(exc) from None
        if not read:
            if length is not None:
                raise requests.exceptions.ChunkedEncodingError(
                    f"the body ended after {done:,} of its {length:,} bytes"
                )
            break
        done += read
        if watch.expired or watch.cancelled:  # a session of the caller's: between reads
            raise requests.exceptions.ConnectionError("aborted")
    view.release()
    del buffer[done:]  # in place: the unused end of a grown buffer is given back
    return buffer  # type: ignore[return-value]  # a bytearray reads as bytes do


def gunzip(packed: bytes, limit: int) -> bytes:
    """A gzip body inflated, up to the size limit (a gzip bomb stops there). A stream cut
    short gives what it holds, as urllib3 does: the JSON is then what is found short. Several
    gzip members follow one another, as urllib3 reads them; bytes after the last that are no
    gzip member are dropped, as urllib3 drops them."""
    pieces: list[bytes] = []
    size, rest = 0, packed
    while rest:
        try:
            piece, inflater = _inflate_member(rest, limit + 1 - size)
        except zlib.error as exc:
            if pieces:  # what follows the last member
                break
            raise requests.exceptions.ContentDecodingError(
                f"Received response with content-encoding: gzip, but failed to decode it. ({exc})"
            ) from None
        size += len(piece)
        if size > limit:
            raise TooLarge("is larger")  # decompressed: a gzip bomb
        pieces.append(piece)
        rest = inflater.unused_data if inflater.eof else b""
    return pieces[0] if len(pieces) == 1 else b"".join(pieces)


def _inflate_member(packed: bytes, room: int) -> tuple[bytes, Any]:
    """The first gzip member of ``packed`` inflated, up to ``room`` bytes, and its inflater
    (``eof``, ``unused_data``); raises zlib.error.

    ISA-L inflates; zlib judges whatever ISA-L does not finish cleanly (a stream cut short or
    damaged, which ISA-L may take for one cut short; reserved header flags, which it ignores), so
    that results and errors are zlib's, as urllib3's are.
    """
    if inflate is not zlib and not (len(packed) > 3 and packed[3] & 0xE0):
        inflater = inflate.decompressobj(wbits=31)
        try:
            piece = inflater.decompress(packed, room)
        except inflate.error:
            pass
        else:
            if inflater.eof or len(piece) >= room:  # whole and checked, or past the limit
                return piece, inflater
    inflater = zlib.decompressobj(wbits=31)
    return inflater.decompress(packed, room), inflater


def _read_piece(stream: Any) -> bytes:
    """The next piece of a body, with urllib3's errors as requests' (as its iter_content has
    them), so that one classification names them all."""
    try:
        return bytes(stream.read(_PIECE, decode_content=True))
    except urllib3.exceptions.ProtocolError as exc:  # reset, or ended early (IncompleteRead)
        raise requests.exceptions.ChunkedEncodingError(exc) from None
    except urllib3.exceptions.DecodeError as exc:
        raise requests.exceptions.ContentDecodingError(exc) from None
    except urllib3.exceptions.ReadTimeoutError as exc:
        raise requests.exceptions.ReadTimeout(exc) from None
    except urllib3.exceptions.SSLError as exc:
        raise requests.exceptions.SSLError(exc) from None
