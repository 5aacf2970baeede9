"""Plots: units, legends that tell series apart, styles, time zones, the series cap and empty
results, checked on what is drawn."""

import itertools

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from sysmon_magic.errors import SysmonUsageError
from sysmon_magic.frames import frame_from_data, to_wide
from sysmon_magic.plotting import (
    distinguishing_labels,
    informative_labels,
    legend_height,
    legend_names,
    plot,
    unit_for,
    value_formatter,
)
from sysmon_magic.units import unit_from_grafana

T0 = 1793923200  # 2026-11-06T00:00:00Z


def matrix(name: str, n_series: int, values=None, extra=None, query=None) -> pd.DataFrame:
    result = [
        {
            "metric": {"__name__": name, "instance": f"web-{i:02d}:9100", **(extra or {})},
            "values": [[T0 + 60 * k, str(values[i][k] if values else i + k)] for k in range(3)],
        }
        for i in range(n_series)
    ]
    frame = frame_from_data({"resultType": "matrix", "result": result})
    frame.attrs["promql"] = {"query": query or name, "start": T0, "end": T0 + 120, "step": 60}
    return frame


def axes() -> Figure:
    figure = Figure()
    FigureCanvasAgg(figure)
    return figure.add_subplot()


def legend_texts(ax) -> list[str]:
    legend = ax.get_legend()
    return [text.get_text() for text in legend.get_texts()] if legend else []


def tick_labels(ax) -> list[str]:
    ax.get_figure().canvas.draw()
    return [t.get_text() for t in ax.get_yticklabels() if t.get_text()]


# -- units -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "largest", "label", "suffix"),
    [
        ("node_memory_MemAvailable_bytes", 3 * 1024**3, "bytes", "GiB"),
        ("rate(node_network_receive_bytes_total[5m]) * 8", 48.8e6, "bits per second", "Mbit/s"),
        ('100 * (1 - avg(rate(node_cpu_seconds_total{mode="idle"}[5m])))', 42, "percent", "%"),
        ("http_request_duration_seconds", 0.25, "duration", "ms"),
    ],
)
def test_the_axis_shows_the_unit_of_the_whole_expression(query, largest, label, suffix):
    frame = matrix("x", 1, values=[[largest / 2, largest, largest / 3]], query=query)
    ax = plot(frame, ax=axes())
    assert ax.get_ylabel() == label
    assert all(text.endswith(suffix) for text in tick_labels(ax)), tick_labels(ax)


def test_points_in_time_are_shown_as_dates():
    boot = [[1793860377, 1793860377, 1793860377]]
    frame = matrix("node_boot_time_seconds", 1, values=boot)
    ax = plot(frame, ax=axes(), timezone="Asia/Seoul")
    assert ax.get_ylabel() == "time"
    assert any(t.startswith("2026-11-05 15:") for t in tick_labels(ax)), tick_labels(ax)


def test_an_unknown_unit_shows_none_rather_than_a_guess():
    # A core count: count() of series is a count, whatever the metric's unit.
    frame = matrix(
        "x", 1, values=[[2, 2, 2]], query="count(count(node_cpu_seconds_total) by (cpu))"
    )
    ax = plot(frame, ax=axes())
    assert ax.get_ylabel() == "count" and not any(t.endswith(" s") for t in tick_labels(ax))
    frame = matrix("node_load1", 1, values=[[0.5, 1.5, 2.5]])
    ax = plot(frame, ax=axes())
    assert ax.get_ylabel() == "" and all(t.replace(".", "").isdigit() for t in tick_labels(ax))


def test_a_grafana_unit_id_overrides_the_expression():
    frame = matrix("x", 1, values=[[10, 20, 30]], query="x")
    ax = plot(frame, ax=axes(), unit="percent")
    assert ax.get_ylabel() == "percent" and tick_labels(ax)[-1].endswith("%")
    assert unit_for(frame, "x", "bytes").label == "bytes"
    with pytest.raises(SysmonUsageError, match=r"Unknown unit 'furlongs'.*percent"):
        plot(frame, ax=axes(), unit="furlongs")


def test_limits_fix_the_value_axis_and_its_ticks_stay_inside():
    frame = matrix("x", 1, values=[[0.2, 0.4, 0.3]], query="x")
    ax = plot(frame, ax=axes(), unit="percentunit", limits=(0, 1))
    assert ax.get_ylim() == (0, 1)
    assert tick_labels(ax)[0] == "0 %" and tick_labels(ax)[-1] == "100 %"
    ax = plot(frame, ax=axes(), limits=(0, None))
    assert ax.get_ylim()[0] == 0 and 0.4 <= ax.get_ylim()[1] < 0.5


def test_value_formatter_writes_values_in_the_unit():
    gib = 1024**3
    shown = value_formatter(unit_from_grafana("bytes"), 4 * gib)
    assert shown(1.5 * gib, None) == "1.5 GiB"
    assert value_formatter(unit_from_grafana("percentunit"), 0.5)(0.25, None) == "25 %"


def test_binary_ticks_fall_on_round_numbers_of_the_unit():
    gib = 1024**3
    frame = matrix("node_memory_MemAvailable_bytes", 1, values=[[0.9 * gib, 2.6 * gib, 4.7 * gib]])
    ax = plot(frame, ax=axes())
    shown = [tick / gib for tick in ax.get_yticks()]
    assert all(float(t * 2).is_integer() for t in shown), shown  # 1, 1.5, 2 ... GiB


# -- lines and legends -----------------------------------------------------------------------


def test_one_line_per_series_with_the_differing_label_as_legend():
    frame = matrix("node_load1", 3)
    ax = plot(frame, ax=axes())
    assert legend_texts(ax) == ["web-00:9100", "web-01:9100", "web-02:9100"]
    assert [line.get_label() for line in ax.get_lines()] == legend_texts(ax)
    assert list(ax.get_lines()[1].get_ydata()) == [1.0, 2.0, 3.0]
    assert ax.get_xlabel() == "time (UTC)"


def test_no_two_drawn_series_share_colour_and_line_style():
    frame = matrix("node_load1", 40)
    lines = plot(frame, ax=axes(), max_series=40).get_lines()
    styles = {(line.get_color(), line.get_linestyle()) for line in lines}
    assert len(lines) == 40 and len(styles) == 40
    with pytest.raises(SysmonUsageError, match="1 to 40"):
        plot(frame, ax=axes(), max_series=41)


def test_the_legend_names_exactly_the_drawn_series_and_is_never_cut():
    long = "a-very-long-label-value-" * 4
    frame = matrix("node_load1", 12, extra={"path": long})
    frame["path"] = frame["path"].astype(str) + frame["instance"].astype(str)
    ax = plot(frame, ax=axes(), legend="{{path}}")
    texts = legend_texts(ax)
    assert len(texts) == 12 and not any("…" in t for t in texts)
    assert all(t.replace("\n", "").startswith(long) for t in texts)  # wrapped, whole
    assert legend_height(ax) > 0


def test_a_pyplot_figure_grows_to_hold_its_legend():
    small = plot(matrix("node_load1", 2)).get_figure()
    large = plot(matrix("node_load1", 40), max_series=40).get_figure()
    assert large.get_figheight() > small.get_figheight() > 3.6


def test_labels_that_add_nothing_are_left_out_of_names():
    # openmetrics_id varies one-to-one with instance, job is constant: instance and mode suffice.
    label_sets = [
        {"instance": f"h{i}", "openmetrics_id": f"{i:08d}-uuid-uuid", "job": "node", "mode": m}
        for i, m in itertools.product(range(3), ["user", "system"])
    ]
    assert distinguishing_labels(label_sets) == ["instance", "mode"]
    assert informative_labels(label_sets) == ["instance", "mode"]
    columns = pd.MultiIndex.from_tuples(
        [tuple(ls.values()) for ls in label_sets], names=list(label_sets[0])
    )
    assert legend_names(columns)[:2] == ["instance=h0, mode=user", "instance=h0, mode=system"]


def test_a_label_that_depends_on_another_still_gets_a_picker():
    # job follows from instance but not the other way round: a picker for "all web" is useful.
    label_sets = [
        {"instance": "a", "job": "web"},
        {"instance": "b", "job": "web"},
        {"instance": "c", "job": "db"},
    ]
    assert informative_labels(label_sets) == ["instance", "job"]
    assert distinguishing_labels(label_sets) == ["instance"]


@pytest.mark.parametrize(
    ("legend", "names"),
    [
        ("{{instance}} {{mode}} {{missing}}", ["web-00:9100 idle ", "web-01:9100 idle "]),
        ("{{ instance }}", ["web-00:9100", "web-01:9100"]),
        (
            "",
            [
                'node_load1{instance="web-00:9100", mode="idle"}',
                'node_load1{instance="web-01:9100", mode="idle"}',
            ],
        ),
        (
            "__auto",
            [
                'node_load1{instance="web-00:9100", mode="idle"}',
                'node_load1{instance="web-01:9100", mode="idle"}',
            ],
        ),
    ],
)
def test_grafana_legend_forms(legend, names):
    frame = matrix("node_load1", 2, extra={"mode": "idle"})
    assert legend_texts(plot(frame, ax=axes(), legend=legend)) == names


def test_auto_legend_with_one_label_and_without_labels():
    one = pd.MultiIndex.from_tuples([("a",), ("b",)], names=["instance"])
    assert legend_names(one, "__auto") == ["a", "b"]
    assert legend_names(pd.MultiIndex.from_tuples([("",)], names=["x"]), "__auto", "sum(up)") == [
        "sum(up)"
    ]


def test_legend_labels_starting_with_an_underscore_are_shown():
    frame = matrix("node_load1", 2)
    ax = plot(frame, ax=axes(), legend="_{{instance}}")
    assert legend_texts(ax) == ["_web-00:9100", "_web-01:9100"]


def test_a_single_series_is_named_by_its_query():
    frame = matrix("node_load1", 1, query="max(node_load1)")
    ax = plot(frame, ax=axes())
    assert ax.get_lines()[0].get_label() == "max(node_load1)"
    assert ax.get_title(loc="left") == "max(node_load1)"


def test_to_wide_keeps_series_missing_a_label_apart():
    frame = frame_from_data(
        {
            "resultType": "matrix",
            "result": [
                {"metric": {"a": "1"}, "values": [[T0, "1"]]},
                {"metric": {"a": "1", "b": "2"}, "values": [[T0, "2"]]},
            ],
        }
    )
    wide = to_wide(frame)
    assert list(wide.columns) == [("1", ""), ("1", "2")]
    assert legend_names(wide.columns) == ["(no b)", "2"]
    assert np.array_equal(wide.to_numpy(), [[1.0, 2.0]])


# -- time, caps, empty results ---------------------------------------------------------------


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
    assert len(ax.get_lines()) == 30 and len(legend_texts(ax)) == 30
    assert min(line.get_ydata()[0] for line in ax.get_lines()) == 4970
    assert "Showing 30 of 5,000 series" in ax.texts[0].get_text()


@pytest.mark.parametrize("fmt", ["tidy", "wide"])
def test_an_empty_result_shows_its_window_with_no_data(fmt):
    frame = frame_from_data({"resultType": "matrix", "result": []}, fmt)
    frame.attrs["promql"] = {"query": "nope", "start": T0, "end": T0 + 3600, "step": 60}
    ax = plot(frame, ax=axes())
    low, high = (mdates.num2date(x) for x in ax.get_xlim())
    assert (low.isoformat(), high.isoformat()) == (
        "2026-11-06T00:00:00+00:00",
        "2026-11-06T01:00:00+00:00",
    )
    assert [t.get_text() for t in ax.texts] == ["No data"]
    assert not ax.get_lines() and not len(ax.get_yticks())


# -- events and log scale ----------------------------------------------------------------------


def test_events_in_the_window_are_marked_with_their_labels():
    events = {T0 + 60: "deploy", "2026-11-06T00:02:00Z": "crash", T0 + 3600: "after the window"}
    ax = plot(matrix("node_load1", 2), ax=axes(), events=events, timezone="Asia/Seoul")
    marks = [
        line
        for line in ax.get_lines()
        if line.get_linestyle() == ":" and line.get_color() == "#333"
    ]
    assert [mdates.num2date(m.get_xdata()[0]).replace(tzinfo=None) for m in marks] == [
        pd.Timestamp("2026-11-06T09:01:00"),  # in the plot's zone, as the lines are
        pd.Timestamp("2026-11-06T09:02:00"),
    ]
    assert [text.get_text() for text in ax.texts] == ["deploy", "crash"]


def test_events_in_another_form_are_refused_with_the_form_to_use():
    with pytest.raises(SysmonUsageError, match=r"events= takes \{time: label\}"):
        plot(matrix("node_load1", 1), ax=axes(), events=[T0])


def test_a_log_scale_shows_small_and_large_values_and_counts_what_it_cannot_draw():
    frame = matrix(
        "http_request_duration_seconds",
        2,
        values=[[0.4, 0.45, 0.42], [0.0, 2.5, 10.0]],
        query="histogram_quantile(0.99, x)",
    )
    ax = plot(frame, ax=axes(), log=True, unit="s")
    assert ax.get_yscale() == "log" and ax.get_ylabel().endswith("(log scale)")
    assert "1 value of 0 or less is not drawn on the log scale." in ax.texts[0].get_text()
    assert {"0.5 s", "1 s", "10 s"} <= set(tick_labels(ax))
