"""The pool of buffers: what it keeps, what it never keeps, and that reuse changes no answer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sysmon_magic import Client, buffers, demo
from sysmon_magic.buffers import MIN_BYTES, BufferPool

pytestmark = pytest.mark.skipif(
    buffers.native_samples is None, reason="built without a C compiler: nothing is kept"
)

MB = 1 << 20


def test_a_taken_buffer_has_the_length_asked_for():
    pool = BufferPool()
    for size in (0, 10, MIN_BYTES - 1, MIN_BYTES, 3 * MB + 5):
        assert len(pool.take(size)) == size


def test_growing_keeps_what_was_used_and_gives_the_old_buffer_back():
    pool = BufferPool()
    small = pool.take(2 * MB)
    small[:3] = b"abc"
    grown = pool.grow(small, 5 * MB, 3)
    assert len(grown) == 5 * MB and grown[:3] == b"abc"
    assert pool.take(2 * MB) is small


def test_a_given_buffer_is_taken_again_at_a_size_that_fits_it():
    pool = BufferPool()
    buffer = pool.take(4 * MB)
    pool.give(buffer)
    assert pool.kept_bytes == buffer.__alloc__()
    again = pool.take(3 * MB)  # within its memory and at least half of it: kept, not copied
    assert again is buffer and len(again) == 3 * MB
    assert pool.kept_bytes == 0
    pool.give(again)
    assert pool.take(4 * MB) is buffer  # grown back within its memory, without a copy


def test_a_buffer_too_small_or_far_too_large_is_not_taken():
    pool = BufferPool()
    buffer = pool.take(4 * MB)
    pool.give(buffer)
    assert pool.take(5 * MB) is not buffer  # does not fit
    assert pool.take(MIN_BYTES) is not buffer  # would hold 4 MB for 1: a new one instead
    assert pool.take(4 * MB) is buffer


def test_the_smallest_that_fits_is_taken():
    pool = BufferPool()
    large, small = pool.take(7 * MB), pool.take(4 * MB)
    pool.give(large, small)
    assert pool.take(4 * MB) is small
    assert pool.take(4 * MB) is large


def test_what_is_still_read_small_or_not_a_bytearray_is_not_kept():
    pool = BufferPool()
    viewed = pool.take(2 * MB)
    array = np.frombuffer(viewed, np.int64)
    view = memoryview(pool.take(2 * MB))
    pool.give(viewed, view.obj, bytearray(MIN_BYTES - 1), bytes(2 * MB))  # type: ignore[arg-type]
    assert pool.kept_bytes == 0
    del array
    pool.give(viewed)
    assert pool.take(2 * MB) is viewed


def test_a_buffer_is_kept_once_however_often_given():
    pool = BufferPool()
    buffer = pool.take(2 * MB)
    pool.give(buffer, buffer)
    pool.give(buffer)
    assert pool.kept_bytes == buffer.__alloc__()


def test_past_its_limit_the_oldest_go_and_a_larger_one_is_never_kept():
    pool = BufferPool(keep_bytes=10 * MB)
    first, second, third = (pool.take(4 * MB) for _ in range(3))
    pool.give(first, second, third)
    assert pool.kept_bytes <= 10 * MB
    assert pool.take(4 * MB) is second and pool.take(4 * MB) is third
    assert pool.take(4 * MB) is not first
    pool.give(pool.take(11 * MB))
    assert pool.kept_bytes == 0


def test_the_shared_pool_keeps_at_most_512_mib():
    assert buffers.POOL.keep_bytes == buffers.KEEP_BYTES == 512 << 20  # as the README says


def test_clear_gives_everything_back():
    pool = BufferPool()
    pool.give(pool.take(2 * MB), pool.take(3 * MB))
    pool.clear()
    assert pool.kept_bytes == 0


# A week at 15 s of every CPU series: 4 windows of a few MB each, all read into the pool.
CPUS = "node_cpu_seconds_total"


def test_frames_are_the_same_and_stay_the_same_when_buffers_are_reused(demo_server):
    buffers.POOL.clear()
    with Client(demo_server.url, now=demo_server.now, max_parallel=2) as client:
        first = client.query_range(CPUS, demo.DEMO_START, demo.DEMO_END, "15s")
        kept = buffers.POOL.kept_bytes
        # Bodies and the windows' arrays came back: more than the 4 bodies alone.
        assert kept > 4 * MIN_BYTES
        snapshot = first.copy(deep=True)
        # Other values, a minute earlier, into the same memory (had it been kept too, the pool
        # would now hold about twice as much).
        other = client.query_range(f"{CPUS} offset 1m", demo.DEMO_START, demo.DEMO_END, "15s")
        assert buffers.POOL.kept_bytes < 1.5 * kept
        assert not other["value"].equals(first["value"])
        # ... changed nothing of the first frame: no frame views a pooled buffer.
        pd.testing.assert_frame_equal(first, snapshot)
        again = client.query_range(CPUS, demo.DEMO_START, demo.DEMO_END, "15s")
        pd.testing.assert_frame_equal(again, snapshot)
        one_window = client.query(CPUS, demo.DEMO_END)
        assert one_window.equals(client.query(CPUS, demo.DEMO_END))
    assert buffers.POOL.kept_bytes == 0  # closing the client gave the memory back


def test_a_body_not_from_the_clients_own_transport_is_never_kept(demo_server):
    from sysmon_magic.transport import HTTPTransport

    class Keeping(HTTPTransport):
        """A transport of a user's that keeps what it read: its bodies must stay as read."""

        def send(self, request, cancel=None):  # type: ignore[no-untyped-def]
            reply = super().send(request, cancel)
            self.replies.append(reply)
            return reply

    transport = Keeping(demo_server.url, None)
    transport.replies = []  # type: ignore[attr-defined]
    buffers.POOL.clear()
    with Client(demo_server.url, now=demo_server.now, transport=transport) as client:
        client.query_range(CPUS, demo.DEMO_START, demo.DEMO_END, "15s")
        bodies = [bytes(reply.body) for reply in transport.replies]  # type: ignore[attr-defined]
        assert all(len(body) > MIN_BYTES for body in bodies)
        # Other answers of about the same sizes: had the first bodies been kept, these would
        # have been read into them.
        client.query_range(f"{CPUS} offset 1m", demo.DEMO_START, demo.DEMO_END, "15s")
        assert [bytes(r.body) for r in transport.replies[: len(bodies)]] == bodies  # type: ignore[attr-defined]
