"""Plots: units, legends, time zones and the series cap, checked on the lines drawn."""

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from sysmon_magic.errors import SysmonUsageError
from sysmon_magic.frames import frame_from_data
from sysmon_magic.plotting import as_wide, legend_names, plot, unit_for


def matrix(name: str, n_series: int, values=None, extra=None) -> pd.DataFrame:
    result = [
        {
            "metric": {"__name__": name, "instance": f"web-{i:02d}:9100", **(extra or {})},
            "values": [
                [1793923200 + 60 * k, str(values[i][k] if values else i + k)] for k in range(3)
            ],
        }
        for i in range(n_series)
    ]
    frame = frame_from_data({"resultType": "matrix", "result": result})
    frame.attrs["promql"] = {"query": name}
    return frame


def axes() -> Figure:
    figure = Figure()
    FigureCanvasAgg(figure)
    return figure.add_subplot()


@pytest.mark.parametrize(
    ("name", "query", "largest", "symbol"),
    [
        ("node_memory_MemAvailable_bytes", None, 3 * 1024**3, "GiB"),
        ("node_memory_MemAvailable_bytes", None, 5 * 1024**2, "MiB"),
        (
            "node_network_receive_bytes_total",
            "rate(node_network_receive_bytes_total[5m])",
            2048,
            "KiB/s",
        ),
        ("http_request_duration_seconds", None, 0.25, "ms"),
        ("http_request_duration_seconds", None, 30, "s"),
        ("http_request_duration_seconds", None, 900, "min"),
        ("disk_used_ratio", None, 0.5, "%"),
        ("http_requests_total", "rate(http_requests_total[5m])", 3, "/s"),
        ("node_load1", None, 3, ""),
    ],
)
def test_units_from_the_metric_name(name, query, largest, symbol):
    frame = pd.DataFrame({"__name__": [name], "value": [largest]})
    assert unit_for(frame, query).symbol == symbol


def test_unit_format():
    unit = unit_for(pd.DataFrame({"__name__": ["x_bytes"], "value": [3 * 1024**3]}))
    assert unit.format(1.5 * 1024**3) == "1.5 GiB"


def test_one_line_per_series_with_the_differing_label_as_legend():
    frame = matrix("node_load1", 3)
    ax = plot(frame, ax=axes())
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["web-00:9100", "web-01:9100", "web-02:9100"]
    assert list(lines[1].get_ydata()) == [1.0, 2.0, 3.0]
    assert ax.get_xlabel() == "time (UTC)"


def test_grafana_legend_template():
    frame = matrix("node_load1", 2, extra={"mode": "idle"})
    ax = plot(frame, ax=axes(), legend="{{instance}} {{mode}} {{missing}}")
    assert [line.get_label() for line in ax.get_lines()] == [
        "web-00:9100 idle ",
        "web-01:9100 idle ",
    ]


def test_a_single_series_is_named_by_its_query():
    frame = matrix("node_load1", 1)
    frame.attrs["promql"]["query"] = "max(node_load1)"
    ax = plot(frame, ax=axes())
    assert ax.get_lines()[0].get_label() == "max(node_load1)"


def test_time_axis_in_the_chosen_zone():
    ax = plot(matrix("node_load1", 1), ax=axes(), timezone="Asia/Seoul")
    first = mdates.num2date(ax.get_lines()[0].get_xdata()[0]).replace(tzinfo=None)
    assert first == pd.Timestamp("2026-11-06T09:00:00")  # 00:00 UTC = 09:00 KST
    assert ax.get_xlabel() == "time (Asia/Seoul)"
    with pytest.raises(SysmonUsageError, match="time zone"):
        plot(matrix("node_load1", 1), ax=axes(), timezone="Mars/Olympus")


def test_many_series_draw_the_largest_and_say_how_many_were_left_out():
    values = [[i, i, i] for i in range(5000)]
    frame = matrix("node_load1", 5000, values=values)
    ax = plot(frame, ax=axes(), max_series=30)
    assert len(ax.get_lines()) == 30
    assert min(line.get_ydata()[0] for line in ax.get_lines()) == 4970
    assert "Showing 30 of 5,000 series" in ax.texts[0].get_text()


def test_as_wide_keeps_series_missing_a_label_apart():
    frame = frame_from_data(
        {
            "resultType": "matrix",
            "result": [
                {"metric": {"a": "1"}, "values": [[1793923200, "1"]]},
                {"metric": {"a": "1", "b": "2"}, "values": [[1793923200, "2"]]},
            ],
        }
    )
    wide = as_wide(frame)
    assert list(wide.columns) == [("1", ""), ("1", "2")]
    assert legend_names(wide.columns) == ["(no b)", "2"]
    assert np.array_equal(wide.to_numpy(), [[1.0, 2.0]])


@pytest.mark.parametrize(
    ("query", "symbol"),
    [
        ("node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes", ""),  # a ratio
        ("histogram_quantile(0.99, sum by (le) (rate(x_seconds_bucket[5m])))", "ms"),
        ('sum(rate(x_bytes_total{path="/a/b"}[5m]))', "B/s"),  # "/" inside a string is no ratio
    ],
)
def test_units_of_ratios_and_quantiles(query, symbol):
    assert unit_for(pd.DataFrame({"value": [0.5]}), query).symbol == symbol


def test_binary_ticks_fall_on_round_numbers_of_the_unit():
    gib = 1024**3
    frame = matrix("node_memory_MemAvailable_bytes", 1, values=[[0.9 * gib, 2.6 * gib, 4.7 * gib]])
    ax = plot(frame, ax=axes())
    shown = [tick / gib for tick in ax.get_yticks()]
    assert all(float(t * 2).is_integer() for t in shown), shown  # 1, 1.5, 2 ... GiB
