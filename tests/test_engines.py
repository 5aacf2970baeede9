"""Other engines on the same path (issue 12 §7): the server's point limit in split_range,
VictoriaMetrics' ``isPartial``, and every secret scrubbed from what a server says."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from sysmon_magic import Client, SysmonError, SysmonUsageError, demo
from sysmon_magic.envelope import PARTIAL_WARNING, Raw, Reader
from sysmon_magic.fastjson import FAST_PATH_MIN_BYTES
from sysmon_magic.timeparse import split_range
from sysmon_magic.transport import Secret
from tests.test_client import Literal
from tests.test_magics import run

# -- the points-per-series limit -------------------------------------------------------------


DAY = (demo.DEMO_END - 86400, demo.DEMO_END)


def test_split_range_takes_the_servers_limit():
    assert len(split_range(*DAY, 1)) == 8  # 86,401 points, at Prometheus' 11,001
    windows = split_range(*DAY, 1, 30_000)  # VictoriaMetrics'
    assert windows == [
        (DAY[0], DAY[0] + 29_999),
        (DAY[0] + 30_000, DAY[0] + 59_999),
        (DAY[0] + 60_000, DAY[1]),
    ]
    with pytest.raises(SysmonUsageError, match="at most 3,000,000 can be fetched"):
        split_range(0, 3_000_000, 1, 30_000)  # a hundred windows of 30,000, and one point more


# -- VictoriaMetrics' isPartial ----------------------------------------------------------------


@pytest.fixture(scope="module")
def literal() -> Iterator[Literal]:
    with Literal().running() as server:
        yield server


def partial_matrix(series: int, partial: bool) -> bytes:
    """A range answer as VictoriaMetrics writes it: compact, ``isPartial`` before ``data``."""
    result = [
        {
            "metric": {"__name__": "up", "instance": f"host-{n:03d}:9100"},
            "values": [[1793923200 + 60 * i, "1"] for i in range(61)],
        }
        for n in range(series)
    ]
    answer = {
        "status": "success",
        "isPartial": partial,
        "data": {"resultType": "matrix", "result": result},
    }
    return json.dumps(answer, separators=(",", ":")).encode()


@pytest.mark.parametrize("series", [1, 120])  # the plain path, and the fast one (160 KB)
def test_is_partial_becomes_a_warning(literal, series):
    with Client(literal.url) as client:
        literal.answer(200, partial_matrix(series, True))
        # The plain path, or the byte-level one, which hands over the envelope it parsed.
        assert (len(literal.body) >= FAST_PATH_MIN_BYTES) == (series > 1)
        frame = client.query_range("up", 1793923200, 1793926800, 60)
        assert len(frame) == 61 * series
        assert frame.attrs["promql"]["warnings"] == [PARTIAL_WARNING]
        literal.answer(200, partial_matrix(series, False))
        assert (
            client.query_range("up", 1793923200, 1793926800, 60).attrs["promql"]["warnings"] == []
        )


def test_the_magic_shows_is_partial_as_it_shows_warnings(shell, literal, capsys):
    literal.answer(200, partial_matrix(1, True))
    run(shell, f"sysmon_connect --url {literal.url} --scrape-interval 60s")
    run(shell, "promql --start 1793923200 --end 1793926800 --step 60", "up")
    assert f"Server: {PARTIAL_WARNING}\n" in capsys.readouterr().err


# -- scrubbing several secrets ---------------------------------------------------------------


def test_every_secret_is_scrubbed_from_what_the_server_says():
    appkey, tenant = "appkey-0123456789abcdef", "tenant-fedcba9876543210"
    reader = Reader("h:1", Secret(appkey), secrets=[Secret(tenant), Secret("cdef-tenant")])
    assert reader.scrub(f"{appkey} and {tenant}; abcdef-tenant-x") == "**** and ****; ab****-x"
    # Cut off, broken, an error envelope: each message shows the body's end or an excerpt.
    for body in (
        f'{{"status":"error","errorType":"{tenant}","error":"{appkey} {tenant}"}}',
        f'{{"status":"success","data":"{tenant}{appkey}',
        f'{{"status":"success","data":"{appkey}\x01{tenant}"}}',
    ):
        with pytest.raises(SysmonError) as caught:
            reader.answer(Raw(200, {}, body.encode(), "http://h:1/api/v1/query"))
        message = str(caught.value)
        for secret in (appkey, tenant):
            assert all(secret[at : at + 5] not in message for at in range(len(secret) - 4))
