"""Record and replay: through the shell against the gateway, then offline; and the file format."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import requests
from IPython.core.error import UsageError

from sysmon_magic.errors import SysmonUsageError
from sysmon_magic.recording import FORMAT, Recording
from tests.conftest import CANARY_APPKEY, sysmon_magics
from tests.test_magics import run

NAMES = "label/__name__/values"
CELLS = [
    (
        "promql --range 6h --step 5m",
        "sum by (instance) (rate(node_network_receive_bytes_total[5m]))",
    ),
    ("promql --instant --format wide", 'node_memory_MemAvailable_bytes{instance="web-03:9100"}'),
    ("promql --start 2026-11-05T05:00:00Z --end 2026-11-05T07:00:00Z", 'up{job="nope"}'),
    ("promql_series node_uname_info --range 1d", None),
    ("promql_labels instance --match node_load1", None),
    ("promql_metadata node_load1", None),
]


def run_report(shell) -> list[object]:
    return [run(shell, line, cell) for line, cell in CELLS]


def same(live: object, replayed: object) -> None:
    if isinstance(live, pd.DataFrame):
        pd.testing.assert_frame_equal(live, replayed)
        differing = {"elapsed", "replayed"}
        strip = {k: v for k, v in live.attrs.get("promql", {}).items() if k not in differing}
        assert strip == {
            k: v for k, v in replayed.attrs.get("promql", {}).items() if k not in differing
        }
    else:
        assert live == replayed


@pytest.fixture
def recorded(shell, gateway, canary_env, tmp_path):
    """A report run live through the gateway with --record; returns (live results, file)."""
    sysmon_magics(shell).region_urls = {"kr1": gateway.url}
    path = tmp_path / "incident.promql.json"
    run(shell, f"sysmon_connect kr1 --record {path} --now 2026-11-09T00:00:00Z")
    return run_report(shell), path


def test_replay_gives_the_same_answers_offline(shell, recorded, gateway, monkeypatch, capsys):
    live, path = recorded
    monkeypatch.delenv("SYSMON_APPKEY")

    def no_network(*args, **kwargs):
        raise AssertionError("a replaying client must not touch the network")

    monkeypatch.setattr(requests.Session, "request", no_network)
    run(shell, f"sysmon_connect --replay {path}")
    # Described as it was recorded (the live connect line); each result's provenance says so.
    assert capsys.readouterr().out == (
        f"Connected 'kr1' to {gateway.url}/prometheus; its clock is pinned at "
        "2026-11-09T00:00:00Z.\n"
    )
    for before, after in zip(live, run_report(shell), strict=True):
        same(before, after)


def test_a_notebook_switched_to_replay_needs_no_appkey(shell, recorded, monkeypatch):
    live, path = recorded
    monkeypatch.delenv("SYSMON_APPKEY")
    sysmon_magics(shell).replay = True
    try:
        run(shell, f"sysmon_connect kr1 --record {path} --now 2026-11-09T00:00:00Z")
        same(live[0], run(shell, *CELLS[0]))
    finally:
        sysmon_magics(shell).replay = False


def test_a_query_the_recording_lacks_is_named_with_its_window(shell, recorded):
    _, path = recorded
    run(shell, f"sysmon_connect --replay {path}")
    with pytest.raises(UsageError) as caught:
        run(shell, "promql --range 1h node_load1")
    assert str(caught.value) == (
        f"The recording {path.name} holds no answer for query_range 'node_load1' from "
        "2026-11-08T23:00:00Z to 2026-11-09T00:00:00Z step 1m: run the notebook live with "
        "--record to add it."
    )


def test_the_recording_is_deterministic_and_holds_no_secret(shell, recorded, tmp_path, gateway):
    _, path = recorded
    again = tmp_path / "again.promql.json"
    run(shell, f"sysmon_connect kr1 --record {again} --now 2026-11-09T00:00:00Z")
    run_report(shell)
    text = path.read_text()
    assert again.read_bytes() == path.read_bytes()
    assert CANARY_APPKEY not in text and CANARY_APPKEY[-5:] not in text
    assert "X-TC-APP-KEY".lower() not in text.lower()
    document = json.loads(text)
    assert document["format"] == FORMAT
    assert document["connection"] == {
        "name": "kr1",
        "now": 1794182400.0,
        "scrape_interval": 60.0,  # a replay chooses the same automatic steps
        "source": f"{gateway.url}/prometheus",
    }
    # The health check is not recorded. The lookups behind an empty result's "did you mean" are:
    # a replay prints the same line.
    lookups = [e for e in document["exchanges"] if e["request"]["endpoint"] == NAMES]
    assert len(document["exchanges"]) - len(lookups) == len(CELLS)
    assert len(lookups) == 2  # the metric names, and whether "up" has series in the window
    assert text.count("\n") > 12  # a line per series: diffs stay readable


def test_compact_encoding_round_trips_exactly(tmp_path):
    data = {
        "resultType": "matrix",
        "result": [
            {"metric": {"a": "1"}, "values": [[1.5, "1"], [61.5, "NaN"], [121.5, "+Inf"]]},
            {"metric": {"a": "2"}, "values": [[1.001, "2"], [2.5, "3"]]},
            {"metric": {"a": "3"}, "values": [[7, "1"], [8, "2"], [10, "3"]]},  # a gap
            {"metric": {"a": "4"}, "histograms": [[1, {"count": "1", "sum": "2"}]]},
        ],
    }
    path, params = tmp_path / "compact.promql.json", [("query", "x"), ("step", "60")]
    Recording(path).store("query_range", params, data, [], [])
    (exchange,) = json.loads(path.read_text())["exchanges"]
    encoded = exchange["data"]
    assert encoded["result"][0] == {
        "metric": {"a": "1"},
        "start_ms": 1500,
        "step_ms": 60000,
        "values": ["1", "NaN", "+Inf"],
    }
    assert encoded["result"][2]["timestamps_ms"] == [7000, 8000, 10000]
    assert Recording.load(path).answer("query_range", params) == (data, [], [])


def test_loading_refuses_what_is_not_a_recording(tmp_path):
    with pytest.raises(SysmonUsageError, match="No recording at"):
        Recording.load(tmp_path / "missing.json")
    (tmp_path / "other.json").write_text('{"format": "something else"}')
    with pytest.raises(SysmonUsageError, match="not a sysmon-magic recording"):
        Recording.load(tmp_path / "other.json")


def test_a_missing_recording_names_the_option_that_records_it(shell, tmp_path):
    path = tmp_path / "missing.promql.json"
    with pytest.raises(UsageError) as caught:
        run(shell, f"sysmon_connect --replay {path}")
    assert str(caught.value) == f"No recording at {path}: record it first with --record {path}."
    with pytest.raises(SysmonUsageError) as caught:
        Recording.load(path)  # the library names its own parameter
    assert str(caught.value).endswith(f"with recording=Recording.for_writing('{path}').")
