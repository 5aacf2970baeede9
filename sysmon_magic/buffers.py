"""Large buffers kept for the next answer: fresh memory costs more than reading into it.

A large answer's body, and the arrays each window of a split range query is read into, live
only until the frame is built, and are tens of MB each. Fresh memory for them is dear: the
kernel zeroes and maps every page as it is first written, and takes it back when it is freed,
so that the next query pays again (on the 2-core VMs this project is measured on, a third of a
parallel query's CPU time; ``benchmarks/transport.py`` prints the split range with and without
the pool).

:data:`POOL` keeps such bytearrays, up to :data:`KEEP_BYTES`, for the next ones to be read
into. A buffer is given back only where nothing else can read it: a body once the funnel has
read its series (it came from the client's own transport, which keeps no reference to it), a
window's arrays once they are merged and no view of them is alive (:func:`samples.exported`).
``Client.close()`` gives the kept memory back to the system.
"""

from __future__ import annotations

import threading

try:
    from . import samples as native_samples  # samples.c: sets a bytearray's length in place
except ImportError:  # pragma: no cover - a build without a compiler: nothing is kept
    native_samples = None  # type: ignore[assignment]

__all__ = ["KEEP_BYTES", "MIN_BYTES", "POOL", "BufferPool"]

#: Smaller buffers are not kept: malloc hands them out from memory it already has.
MIN_BYTES = 1 << 20
#: At most this much is kept (allocated; pages of it never written to take no memory): the
#: bodies and arrays of a 4-window query of 100 series x 11,000 points are ~290 MB.
KEEP_BYTES = 512 << 20


class BufferPool:
    """Bytearrays kept to be read into again; safe to share between threads."""

    def __init__(self, keep_bytes: int = KEEP_BYTES) -> None:
        self.keep_bytes = keep_bytes
        self._kept: list[bytearray] = []  # oldest first
        self._lock = threading.Lock()

    def take(self, size: int) -> bytearray:
        """A bytearray ``size`` bytes long, to be read into, its bytes undefined until written
        (an earlier answer's, or none): a kept one where one fits, else a new one, not zeroed,
        so that its pages cost memory only once written."""
        if size < MIN_BYTES or native_samples is None:
            return bytearray(size)
        with self._lock:
            # A bytearray keeps its memory when set to at least half of it (else it shrinks).
            fits = [b for b in self._kept if size < b.__alloc__() <= 2 * size]
            if fits:
                buffer = min(fits, key=bytearray.__alloc__)
                self._kept.remove(buffer)
                native_samples.set_length(buffer, size)
                return buffer
        buffer = bytearray()
        native_samples.set_length(buffer, size)  # malloc'd, not written
        return buffer

    def grow(self, buffer: bytearray, size: int, used: int) -> bytearray:
        """A buffer ``size`` bytes long that starts with the first ``used`` bytes of
        ``buffer``, which is given back (copied, not extended: extending would fault in the
        pages of a copy and then those of the grown buffer, twice the fresh memory)."""
        grown = self.take(size)
        grown[:used] = memoryview(buffer)[:used]
        self.give(buffer)
        return grown

    def give(self, *spent: bytearray | bytes) -> None:
        """Keep bytearrays that nothing reads any more, for the next :meth:`take`; the caller
        promises that nothing else refers to them. Others (small, viewed, bytes) are left to
        be freed."""
        if native_samples is None:  # pragma: no cover - no C helper to reuse them with
            return
        for buffer in spent:
            if (
                type(buffer) is not bytearray
                or len(buffer) < MIN_BYTES
                or buffer.__alloc__() > self.keep_bytes
                or native_samples.exported(buffer)  # an array or memoryview still reads it
            ):
                continue
            with self._lock:
                if any(kept is buffer for kept in self._kept):
                    continue
                self._kept.append(buffer)
                while self.kept_bytes > self.keep_bytes:
                    self._kept.pop(0)

    @property
    def kept_bytes(self) -> int:
        """How much memory the kept buffers hold (allocated)."""
        return sum(buffer.__alloc__() for buffer in self._kept)

    def clear(self) -> None:
        """Give the kept buffers' memory back to the system."""
        with self._lock:
            self._kept.clear()


#: The buffers every client reads large bodies and windows into.
POOL = BufferPool()
