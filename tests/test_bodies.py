"""bodies.gunzip on literals: gzip members, cut streams, bombs, trailing bytes."""

from __future__ import annotations

import gzip
import random
import zlib
from collections.abc import Iterator
from unittest import mock

import pytest
import requests

from sysmon_magic import bodies
from sysmon_magic.bodies import TooLarge, gunzip
from sysmon_magic.buffers import BufferPool


@pytest.fixture(autouse=True, params=["installed", "zlib"])
def inflater(request: pytest.FixtureRequest) -> Iterator[str]:
    """Every test here runs with what the package inflates with (ISA-L where installed) and
    with zlib, its fallback: both read gzip alike."""
    if request.param == "zlib":
        with mock.patch.object(bodies, "inflate", zlib):
            yield "zlib"
    else:
        yield bodies.inflate.__name__


def test_isal_inflates_where_it_is_installed(inflater):
    if inflater == "zlib":
        pytest.skip("the fallback's own run")
    isal = pytest.importorskip("isal.isal_zlib")
    assert bodies.inflate is isal


def test_one_member_and_several_read_as_urllib3_reads_them():
    assert gunzip(gzip.compress(b'{"a":1}'), 100) == b'{"a":1}'
    assert gunzip(gzip.compress(b'{"a":') + gzip.compress(b"1}"), 100) == b'{"a":1}'
    assert gunzip(b"", 100) == b""


def test_a_cut_stream_gives_what_it_holds_and_bytes_after_the_last_member_are_dropped():
    packed = gzip.compress(b"x" * 1000, compresslevel=0)
    cut = gunzip(packed[: len(packed) // 2], 10_000)
    assert 0 < len(cut) < 1000 and cut == b"x" * len(cut)
    assert gunzip(gzip.compress(b"ok") + b"\0\0 trailing", 100) == b"ok"


def test_the_limit_holds_across_members_and_a_body_that_is_no_gzip_is_named():
    two = gzip.compress(b"0" * 60) + gzip.compress(b"0" * 60)
    assert gunzip(two, 120) == b"0" * 120
    with pytest.raises(TooLarge):
        gunzip(two, 119)
    with pytest.raises(requests.exceptions.ContentDecodingError, match="incorrect header check"):
        gunzip(b'{"status":"success"}', 100)


def test_isal_and_zlib_read_every_damaged_stream_alike():
    # ISA-L takes some damaged streams for streams cut short, and ignores reserved header flags:
    # zlib judges those, so that 3,000 edited streams give what zlib alone gives.
    if bodies.inflate is zlib:
        pytest.skip("zlib alone: nothing to compare")
    rng = random.Random(3)
    base = gzip.compress(b'{"status":"success","data":{}}' * 20)

    def read(packed: bytes, limit: int, inflater: object) -> object:
        with mock.patch.object(bodies, "inflate", inflater):
            try:
                return gunzip(packed, limit)
            except (TooLarge, requests.exceptions.ContentDecodingError) as exc:
                return type(exc), str(exc)

    isal = bodies.inflate
    for n in range(3000):
        packed = bytearray(base + (gzip.compress(b"tail" * 10) if n % 3 == 0 else b""))
        for _ in range(rng.randint(1, 2)):
            packed[rng.randrange(len(packed))] = rng.randrange(256)
        limit = rng.choice([10**6, 300])
        assert read(bytes(packed), limit, isal) == read(bytes(packed), limit, zlib), n


def test_large_bodies_of_several_members_read_whole_in_pieces():
    # Megabytes, so that ISA-L's reader inflates them a piece at a time, and grows its buffer
    # past the size the last member declares.
    rng = random.Random(5)
    first = b"".join(b'[%d,"%f"],' % (t, rng.random()) for t in range(150_000))
    second = first[: len(first) // 3]
    packed = gzip.compress(first) + gzip.compress(second)
    assert gunzip(packed, 10**8) == first + second
    assert gunzip(packed, len(first + second)) == first + second
    with pytest.raises(TooLarge):
        gunzip(packed, len(first + second) - 1)
    assert gunzip(packed + b"\0trailing", 10**8) == first + second
    cut = gunzip(packed[: len(packed) // 2], 10**8)
    assert 0 < len(cut) < len(first) and first.startswith(cut)


def test_a_trailer_that_claims_gigabytes_takes_no_more_than_deflate_can_give(monkeypatch):
    # The gzip trailer's size is the server's word: a 30-byte body claiming 4 GB must not be
    # given a buffer of the limit (four windows at once would take 4 GiB).
    sizes: list[int] = []

    class Recording(BufferPool):
        def take(self, size: int) -> bytearray:
            sizes.append(size)
            return super().take(size)

    monkeypatch.setattr(bodies, "POOL", Recording())
    packed = bytearray(gzip.compress(b"{}"))
    packed[-4:] = (2**32 - 1).to_bytes(4, "little")
    with pytest.raises(requests.exceptions.ContentDecodingError):
        gunzip(bytes(packed), 1 << 30)
    assert max(sizes, default=0) <= 1032 * len(packed) + 64
