"""The same checks against VictoriaMetrics 1.79, a second Prometheus-compatible engine.

Its documented differences, as they show here:
- errors are HTTP 422 (or 400) with ``errorType`` "422"/"bad_data": we treat it as opaque;
- ``rate()`` does not extrapolate to the window's edges (it uses the sample before the window):
  on exact per-minute counters it gives the same 1.0 per CPU;
- ``/series`` without a window covers only the last 5 minutes: we always send a window;
- ``/metadata`` is a stub that answers no metrics;
- NaN samples are dropped (none in the demo data);
- it stores values as decimals of about 12 significant digits, so a rate computed from counters near
  3.6e6 agrees with the exact 1.0 to ~1e-8, not to the last bit as Prometheus' does.
"""

from __future__ import annotations

import pandas as pd
import pytest

from sysmon_magic import Client, QueryError
from sysmon_magic.demo import data
from tests.servers import VM_START, victoria_metrics
from tests.test_magics import run


@pytest.fixture(scope="module")
def vm() -> Client:
    with victoria_metrics() as url, Client(url, name="vm", now=data.DEMO_END) as client:
        yield client


def test_query_range_known_rate(vm):
    frame = vm.query_range(
        "sum by (instance, cpu) (rate(node_cpu_seconds_total[5m]))", "now-1h", "now", "1m"
    )
    assert frame["instance"].nunique() == 6 and frame["cpu"].nunique() == 2
    assert len(frame) == 12 * 61
    assert frame["value"].to_numpy() == pytest.approx(1.0, abs=1e-7)


def test_query_instant(vm):
    frame = vm.query("count(node_uname_info)")
    assert frame["value"].tolist() == [6.0]
    wide = vm.query_range("node_load1", "now-10m", "now", "1m", fmt="wide")
    assert wide.shape == (11, 6) and "instance" in wide.columns.names


def test_series_labels_and_values(vm):
    series = vm.series("node_uname_info", VM_START, "now")
    assert len(series) == 6 and "nodename" in series.columns
    assert {"instance", "job", "openmetrics_id"} <= set(vm.labels(start=VM_START, end="now"))
    hosts = vm.label_values("instance", "node_load1", VM_START, "now")
    assert hosts == sorted(data.node_instance(h) for h in data.HOSTS)


def test_metadata_is_a_stub(vm):
    assert list(vm.metadata().columns) == ["metric", "type", "help", "unit"]


def test_errors_are_query_errors_with_the_servers_message(vm):
    with pytest.raises(QueryError) as caught:
        vm.query("sum(rate(x[5m])")
    assert caught.value.status in (400, 422)
    assert "unparsed data" in caught.value.server_message or "cannot parse" in str(caught.value)


# -- issue 12 §7: the per-connection point limit, engine parameters -------------------------------

DAY_AT_1S = ('node_load1{instance="web-01:9100"}', "now-1d", "now", "1s")  # 86,401 points


def test_its_limit_of_30000_points_means_fewer_windows_and_the_same_frame(vm):
    counts: dict[int, int] = {}
    frames = {}
    for limit in (11_000, 30_000):
        with Client(vm.base_url, now=data.DEMO_END, max_points_per_series=limit) as client:
            frames[limit] = client.query_range(
                *DAY_AT_1S, progress=lambda done, total, n=limit: counts.__setitem__(n, total)
            )
    assert counts == {11_000: 8, 30_000: 3}
    assert len(frames[30_000]) == 86_401 and frames[30_000]["timestamp"].is_unique
    pd.testing.assert_frame_equal(frames[11_000], frames[30_000])
    # One point more than its limit in one window is refused: 30,000 counts points, not steps.
    with (
        Client(vm.base_url, now=data.DEMO_END, max_points_per_series=30_001) as client,
        pytest.raises(QueryError, match="too many points"),
    ):
        client.query_range(*DAY_AT_1S)


def test_engine_params_reach_it_and_are_honoured(vm, shell, capsys):
    # extra_label adds a matcher to every selector on the server: one instance of six.
    run(
        shell,
        f"sysmon_connect --url {vm.base_url} --name vm --now 2026-11-09T00:00:00Z "
        "--scrape-interval 60s --max-points 30000 --param extra_label=instance=web-01:9100 "
        "--param nocache=1",
    )
    frame = run(shell, "promql --instant count(node_uname_info)")
    assert frame["value"].tolist() == [1.0]
    assert frame.attrs["promql"]["params"] == {
        "extra_label": "instance=web-01:9100",
        "nocache": "1",
    }
    assert "· extra_label=instance=web-01:9100 · nocache=1 · " in capsys.readouterr().out
    # A day at 1s: three windows of VictoriaMetrics' 30,000 points, each with the parameters.
    frame = run(shell, "promql --range 1d --step 1s", "node_load1")
    assert frame["instance"].unique().tolist() == ["web-01:9100"] and len(frame) == 86_401
    assert "Fetching 3 windows" in capsys.readouterr().err
