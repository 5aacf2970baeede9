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

from .buffers import POOL, native_samples

if TYPE_CHECKING:
    from .watchdog import Watch

__all__ = ["TooLarge", "gunzip", "read_body", "read_to_its_end"]

#: What inflates gzip answers: Intel's ISA-L, 2-3x as fast as zlib, where it is installed
#: (its wheels cover the usual platforms), else zlib; the same results (tests/test_bodies.py runs both).
inflate: types.ModuleType
try:
    from isal import igzip_lib
    from isal import isal_zlib as inflate

    # Its stub calls the class an instance.
    _ISAL_ERROR: type[Exception] = igzip_lib.IsalError  # type: ignore[assignment]
except ImportError:  # pragma: no cover - elsewhere, zlib
    inflate = zlib

# A body is read this much at a time: each read releases the interpreter lock for its recv.
_PIECE = 1 << 20
#: samples.dechunk's state among the trailer lines after the last chunk.
_IN_TRAILERS = -3
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
    fp: Any = getattr(stream, "_fp", None)  # http.client's response, under urllib3's
    if encoding == "gzip" and getattr(fp, "chunked", False) and _can_read_raw(fp):
        # Prometheus writes gzip in 2 KiB chunks, which http.client would read one by one in
        # a Python loop (6.5 ms for a 5 MB answer, holding the GIL): read raw, undone in C.
        body = _read_chunked_raw(fp, watch, limit)
    elif encoding in ("", "identity", "gzip") and hasattr(fp, "readinto"):
        # http.client's readinto undoes chunked framing itself (Prometheus' way to send an
        # uncompressed answer: one chunk), so both framings land in one buffer, unjoined.
        body = _read_into(fp, int(declared) if declared.isdigit() else None, watch, limit)
    else:
        body = None
    if body is not None:
        # A gzipped body is then inflated whole (ISA-L lets go of the GIL), not 1 MB at a time.
        if encoding != "gzip":
            return body
        inflated = gunzip(body, limit)
        POOL.give(body)  # the compressed bytes: read here, inflated, seen by nothing else
        return inflated
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


def read_to_its_end(response: requests.Response) -> bool:
    """Whether the body was read to its last byte, on a connection the server keeps open: then
    that connection can carry the next request (no new TCP and TLS handshake)."""
    fp = getattr(response.raw, "_fp", None)
    return fp is not None and fp.isclosed() and not getattr(fp, "will_close", True)


def _can_read_raw(fp: Any) -> bool:
    """Whether http.client has read none of a chunked body yet, from a buffered reader over
    the socket: then the body can be read raw, under its framing."""
    stream = getattr(fp, "fp", None)
    return (
        native_samples is not None
        and getattr(fp, "chunk_left", 0) is None
        and hasattr(stream, "read1")
        and hasattr(getattr(stream, "raw", None), "readinto")
    )


def _read_chunked_raw(fp: Any, watch: Watch, limit: int) -> bytes:
    """A chunked body read raw from the socket's stream under http.client's response ``fp``, in
    large pieces, its framing undone in place as it arrives by the C reader
    (``samples.dechunk``), up to the size limit."""
    assert native_samples is not None
    buffer = POOL.take(_FIRST_BUFFER)
    view = memoryview(buffer)
    # First what http.client's buffered reader holds (reading the headers may have taken some
    # of the body, or all of it), then straight from the socket: the reader's readinto1 would,
    # after copying what it holds, wait for more that may never come.
    try:
        held = fp.fp.read1(len(buffer))  # all it holds (its buffer is smaller), or one recv
    except (OSError, ValueError) as exc:  # shut by the watch, reset
        raise requests.exceptions.ChunkedEncodingError(exc) from None
    view[: len(held)] = held
    socket = fp.fp.raw
    # Framing and all: bounded too (a body of 1-byte chunks is 6 times its size, no more).
    raw_limit, raw_read = 8 * (limit + 1), len(held)
    cap = limit + limit // 4 + _FIRST_BUFFER  # room for a body at the limit and its framing
    # buffer[start:write] is the body so far (-1, -1 before its first chunk), buffer[read:end]
    # raw bytes not yet parsed.
    read, end = 0, len(held)
    start = write = -1
    left, finished = -1, False
    while not finished:
        if end == len(buffer):
            view.release()
            kept = write if start >= 0 else 0  # where the body so far ends
            if read - kept > len(buffer) // 8 or (read > kept and len(buffer) >= cap):
                # Framing parsed away: the bytes not yet parsed move down onto the body.
                buffer[kept : kept + end - read] = buffer[read:end]
                end, read = kept + end - read, kept
            elif len(buffer) >= cap:
                raise TooLarge("is larger")  # an endless body
            else:
                buffer = POOL.grow(buffer, min(2 * len(buffer), cap), end)
            view = memoryview(buffer)
        if not held:  # else what the reader held is parsed first: it may be the whole body
            try:
                got = socket.readinto(view[end : end + _PIECE * 8])
            except (OSError, ValueError) as exc:  # shut by the watch, reset
                raise requests.exceptions.ChunkedEncodingError(exc) from None
            if not got and left == _IN_TRAILERS:
                # Closed after the last chunk, before the empty line that ends the trailers:
                # http.client takes the body as whole too (the connection is not reused).
                break
            if not got:
                raise requests.exceptions.ChunkedEncodingError(
                    "the body ended before its last chunk"
                )
            end += got
            raw_read += got
            if raw_read > raw_limit:
                raise TooLarge("is larger")  # framing without end: endless trailers, extensions
        held = b""
        try:
            read, start, write, left, finished = native_samples.dechunk(
                buffer, read, end, start, write, left
            )
        except ValueError as exc:  # malformed framing
            raise requests.exceptions.ChunkedEncodingError(exc) from None
        if start >= 0 and write - start > limit:
            raise TooLarge("is larger")  # an endless body
        if watch.expired or watch.cancelled:  # a session of the caller's: between reads
            raise requests.exceptions.ConnectionError("aborted")
    view.release()
    if finished and read == end:
        # Read to its last byte: done, as http.client is when it reads a body whole, so that
        # the connection can carry the next request.
        fp.close()
    if start < 0:  # no chunk before the last: an empty body
        start = write = 0
    del buffer[write:]  # the next moves the bytearray's start, not its bytes
    del buffer[:start]
    return buffer  # type: ignore[return-value]  # a bytearray reads as bytes do


def _read_into(fp: Any, length: int | None, watch: Watch, limit: int) -> bytes:
    """A body read straight from the socket into one buffer: of its Content-Length, or
    (chunked) grown as its chunks announce their sizes, up to the size limit. No piece is
    copied, and no second buffer of the whole body is made (fresh memory is dear: a 24 MB
    answer joined from pieces took twice as long as the transfer)."""
    # Large buffers come from the pool: kept memory, not fresh (see the buffers module).
    buffer = POOL.take(length if length is not None else min(_FIRST_BUFFER, limit + 1))
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
            buffer = POOL.grow(buffer, min(wanted, limit + 1), done)
            view = memoryview(buffer)
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
    if inflate is not zlib:
        whole = _gunzip_whole(packed, limit)
        if whole is not None:
            return whole  # type: ignore[return-value]  # a bytearray reads as bytes do
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


def _gunzip_whole(packed: bytes, limit: int) -> bytearray | None:
    """A gzip body whose every member is whole and checked, inflated by ISA-L a megabyte at
    a time into one buffer of the pool, sized from the last member's trailer (its size mod
    2**32: the body's, when it is the only one); None for anything else (damaged, cut short,
    reserved header flags, trailing bytes), which :func:`gunzip` then reads as zlib does.

    Inflated whole, the answer would be a new bytes object in fresh memory, joined from
    pieces: a 24 MB answer's pages took as long as inflating it, with windows in parallel."""
    declared = int.from_bytes(packed[-4:], "little") if len(packed) >= 18 else 0
    # The trailer is the server's word: never more than deflate can inflate to (1,032 x).
    out = POOL.take(min(declared + 1, 1032 * len(packed) + 64, limit + 1))
    done, rest = 0, packed
    while rest:
        if rest[:2] != b"\x1f\x8b" or (len(rest) > 3 and rest[3] & 0xE0):
            POOL.give(out)
            return None  # trailing bytes, no gzip, or flags ISA-L would ignore: zlib judges
        inflater = igzip_lib.IgzipDecompressor(flag=igzip_lib.DECOMP_GZIP)
        data = rest
        while not inflater.eof:
            if done == len(out):
                if done > limit:
                    raise TooLarge("is larger")  # decompressed: a gzip bomb
                out = POOL.grow(out, min(max(2 * done, _PIECE), limit + 1), done)
            try:
                piece = inflater.decompress(data, min(len(out) - done, _PIECE))
            except _ISAL_ERROR:
                POOL.give(out)
                return None  # damaged: zlib says how
            data = b""
            if not piece and inflater.needs_input:
                POOL.give(out)
                return None  # cut short: zlib gives what it holds
            out[done : done + len(piece)] = piece
            done += len(piece)
        rest = inflater.unused_data
    if done > limit:  # the buffer holds one byte more than the limit: to see it passed
        raise TooLarge("is larger")
    del out[done:]
    return out


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
