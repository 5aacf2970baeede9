"""What a report template needs from the magics, through a shell on the demo server: option
values from the notebook's variables, event marks and a log scale on --plot."""

from __future__ import annotations

import pandas as pd
import pytest
from IPython.core.error import UsageError

from tests.test_magics import run


def test_option_values_take_the_notebooks_variables(connected):
    connected.user_ns.update(t_at="2026-11-05T06:31:00Z", t_host="web-03")
    frame = run(
        connected,
        "promql --instant --time $t_at",
        'node_boot_time_seconds{instance="$t_host:9100"}',
    )
    assert frame["timestamp"].tolist() == [pd.Timestamp("2026-11-05T06:31:00Z")]
    with pytest.raises(UsageError, match=r"Undefined template variable \$t_nowhere"):
        run(connected, "promql --instant --time $t_nowhere", "up")


def test_plot_marks_events_and_draws_a_log_scale(connected, monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", shown.append)
    connected.user_ns["t_events"] = {
        "2026-11-05T05:45:00Z": "errors start",
        "2026-11-05T06:31:00Z": "crash",
    }
    run(
        connected,
        "promql --start 2026-11-05T05:00:00Z --end 2026-11-05T07:00:00Z --step 1m --plot --log "
        "--events t_events -o t_p99",
        "histogram_quantile(0.99, sum by (le, instance) (rate(http_request_duration_seconds_bucket[5m])))",
    )
    (image,) = shown
    ax = image.figure.axes[0]
    assert repr(image) == "<plot: 4 series>"  # the two marks are not series
    assert ax.get_yscale() == "log"
    assert [t.get_text() for t in ax.texts] == ["errors start", "crash"]
    with pytest.raises(UsageError, match="--events t_none: no variable 't_none'"):
        run(connected, "promql --range 1h --plot --events t_none", "up")
