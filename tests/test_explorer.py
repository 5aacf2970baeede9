"""The explorer's logic without a browser: set picker and slider values, check what is drawn,
the summary, the query, and that a range change re-queries the real demo Prometheus."""

from __future__ import annotations

import matplotlib.dates as mdates
import pandas as pd
import pytest

from sysmon_magic import Client, demo
from sysmon_magic.explorer import Explorer, explore
from sysmon_magic.frames import frame_from_data

QUERY = 'sum by (instance, mode) (rate(node_cpu_seconds_total{mode=~"user|system"}[5m]))'


@pytest.fixture
def client(demo_server) -> Client:
    with Client(demo_server.url, name="demo", now=demo_server.now) as c:
        yield c


@pytest.fixture
def explorer(client) -> Explorer:
    frame = client.query_range(QUERY, "now-6h", "now")
    return Explorer(frame, client=client)


def drawn(explorer: Explorer) -> dict[str, pd.DatetimeIndex]:
    """Label -> the x data (UTC times) of each line in the figure last drawn."""
    lines = explorer.figure.axes[0].get_lines()
    # The explorer's zone is UTC: the lines' wall-clock date numbers are UTC times.
    return {
        line.get_label(): pd.DatetimeIndex(mdates.num2date(line.get_xdata())).round("ms")
        for line in lines
    }


def test_initial_state(explorer):
    assert set(explorer.pickers) == {"instance", "mode"}  # the labels that differ
    assert explorer.pickers["instance"].options == tuple(
        sorted(demo.data.node_instance(h) for h in demo.HOSTS)
    )
    assert len(explorer.figure.axes[0].get_lines()) == 12
    summary = explorer.summary.value
    assert summary.startswith("12 / 12 series shown, 8,652 samples, ")
    assert "2026-11-08T18:00:00Z to 2026-11-09T00:00:00Z, step 30s" in summary
    assert explorer.query == QUERY
    assert explorer.png.startswith(b"\x89PNG") and bytes(explorer.image.value) == explorer.png


def test_picking_filters_the_series_and_the_query(explorer):
    explorer.pickers["instance"].value = ("web-03:9100",)
    assert sorted(drawn(explorer)) == ["system", "user"]
    assert explorer.summary.value.startswith("2 / 12 series shown, 1,442 samples")
    assert explorer.query == (
        'sum by (instance, mode) (rate(node_cpu_seconds_total{mode=~"user|system", '
        'instance="web-03:9100"}[5m]))'
    )
    explorer.pickers["mode"].value = ("user",)
    assert len(drawn(explorer)) == 1
    frame = explorer.frame
    assert set(frame["instance"]) == {"web-03:9100"} and set(frame["mode"]) == {"user"}
    assert frame.attrs["promql"]["query"] == explorer.query


def test_the_slider_zooms_the_plot(explorer):
    first_png = explorer.png
    explorer.slider.index = (200, 399)
    start, end = explorer.window
    assert end == pd.Timestamp("2026-11-09T00:00:00Z")
    assert start > pd.Timestamp("2026-11-08T20:30:00Z")
    for times in drawn(explorer).values():
        assert (times.min(), times.max()) == (start, end)
    assert explorer.frame["timestamp"].min() == start
    assert f"{start.isoformat().replace('+00:00', 'Z')} to 2026-11-09T00:00:00Z" in (
        explorer.summary.value
    )
    assert explorer.png != first_png


def test_a_range_re_queries_with_an_automatic_step(explorer):
    explorer.pickers["instance"].value = ("web-03:9100",)
    explorer.ranges["24h"].click()
    info = explorer.result.attrs["promql"]
    assert (info["start"], info["end"], info["step"]) == (demo.DEMO_END - 86400, demo.DEMO_END, 120)
    assert explorer.pickers["instance"].value == ("web-03:9100",)  # the selection survives
    assert explorer.summary.value.startswith("2 / 12 series shown, 1,442 samples")
    assert "2026-11-08T00:00:00Z to 2026-11-09T00:00:00Z, step 2m" in explorer.summary.value


def test_errors_in_callbacks_are_shown_in_the_widget(client):
    frame = client.query_range("node_load1", "now-1h", "now")
    explorer = Explorer(frame, client=client)
    explorer.original_query = "sum(node_load1"  # the server will refuse it
    explorer.ranges["1h"].click()
    assert "Bad query" in explorer.summary.value


def test_explore_a_query_and_show_a_static_image(client):
    explorer = explore("node_load1", client=client)
    bundle = explorer._repr_mimebundle_()
    assert bundle["image/png"] == explorer.png
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/plain"] == "<Explorer: 6 series of 'node_load1'>"


def test_many_values_get_a_text_filter():
    result = [
        {"metric": {"instance": f"host-{i:02d}"}, "values": [[1793923200, str(i)]]}
        for i in range(20)
    ]
    explorer = Explorer(frame_from_data({"resultType": "matrix", "result": result}))
    text, picker = explorer.filters["instance"], explorer.pickers["instance"]
    # The classes as the widget sends them to the page (ipywidgets has add_class, no reader).
    assert "sysmon-filter" in text.get_state("_dom_classes")["_dom_classes"]
    assert len(picker.options) == 20
    text.value = "host-1"
    assert picker.options == tuple(f"host-{i}" for i in range(10, 20))
    picker.value = ("host-12",)
    text.value = "host-0"
    assert "host-12" in picker.options  # a picked value never disappears from the list
    assert all(b.disabled for b in explorer.ranges.values())  # no client, nothing to re-query


def test_a_pick_matching_nothing_shows_an_empty_plot_not_the_last_one():
    result = [
        {"metric": {"a": "1", "b": "x"}, "values": [[1793923200, "5e9"], [1793923260, "6e9"]]},
        {"metric": {"a": "2", "b": "y"}, "values": [[1793923200, "1"], [1793923260, "2"]]},
    ]
    frame = frame_from_data({"resultType": "matrix", "result": result})
    frame.attrs["promql"] = {"query": "x_bytes"}
    explorer = Explorer(frame)
    axes = explorer.figure.axes[0]
    assert axes.get_ylim()[1] > 5e9 and axes.get_yticks().size
    assert list(explorer.pickers) == ["a"]  # b varies one-to-one with a: it adds nothing
    explorer.all_labels.value = True
    explorer.pickers["a"].value = ("1",)
    explorer.pickers["b"].value = ("y",)  # {a="1", b="y"} does not exist
    assert not axes.get_lines() and [t.get_text() for t in axes.texts] == ["No series selected"]
    assert (axes.get_xlim(), axes.get_ylim()) == ((0, 1), (0, 1))
    assert not len(axes.get_xticks()) and not len(axes.get_yticks())
    explorer.pickers["a"].value = ("2",)
    assert len(axes.get_lines()) == 1 and axes.get_ylim()[1] < 3 and axes.get_yticks().size


def test_pressing_the_active_range_again_resets_the_zoom(explorer):
    assert explorer.ranges["6h"].button_style == "info"  # the window it was made with
    explorer.slider.index = (200, 399)
    assert explorer.zoomed
    explorer.ranges["6h"].click()
    assert not explorer.zoomed
    assert explorer.window == (
        pd.Timestamp("2026-11-08T18:00:00Z"),
        pd.Timestamp("2026-11-09T00:00:00Z"),
    )
    assert explorer.result.attrs["promql"]["step"] == 30  # no re-query: the same result


def test_the_slider_labels_read_as_a_window_while_dragging(explorer):
    labels = [label for label, _ in explorer.slider.options]
    # The readout joins the two ends with "-": spaces keep "Nov 08 18:00 - Nov 09 00:00" legible.
    assert labels[0] == " Nov 08 18:00 " and labels[-1] == " Nov 09 00:00 "
    assert explorer.slider.readout


def test_pickers_leave_out_labels_that_add_nothing(client):
    explorer = explore("node_load1", client=client)
    # job is constant; openmetrics_id varies one-to-one with instance.
    assert list(explorer.pickers) == ["instance"]
    assert explorer.all_labels.layout.display == ""
    explorer.pickers["instance"].value = ("web-01:9100",)
    explorer.all_labels.value = True
    assert list(explorer.pickers) == ["instance", "openmetrics_id"]
    assert explorer.pickers["instance"].value == ("web-01:9100",)  # the pick survives
    assert explorer.summary.value.startswith("1 / 6 series shown")
    axes = explorer.figure.axes[0]
    assert axes.get_legend() is None  # one series: named in the title, not a legend
    assert axes.get_title(loc="left") == 'node_load1{instance="web-01:9100"}'  # what it shows


def test_a_capped_plot_and_the_summary_agree():
    result = [
        {"metric": {"instance": f"host-{i:02d}"}, "values": [[1793923200, str(i)]]}
        for i in range(40)
    ]
    explorer = Explorer(frame_from_data({"resultType": "matrix", "result": result}), max_series=30)
    axes = explorer.figure.axes[0]
    assert len(axes.get_lines()) == 30
    assert "Showing 30 of 40 series" in axes.texts[0].get_text()
    assert explorer.summary.value.startswith(
        "30 / 40 series shown (those with the largest values), "
    )
    explorer.pickers["instance"].value = tuple(f"host-{i:02d}" for i in range(35))
    assert explorer.summary.value.startswith("30 / 40 series shown (the largest of 35 picked), ")
    assert len(axes.get_legend().get_texts()) == 30


def test_an_empty_result_says_no_series_over_the_window_asked_for(client):
    frame = client.query_range("node_lod1", "now-6h", "now")
    explorer = Explorer(frame, client=client)
    assert explorer.summary.value.startswith("no series, 0 samples, ")
    assert "2026-11-08T18:00:00Z to 2026-11-09T00:00:00Z" in explorer.summary.value
    axes = explorer.figure.axes[0]
    assert [t.get_text() for t in axes.texts] == ["No data"]
    assert mdates.num2date(axes.get_xlim()[0]) == pd.Timestamp("2026-11-08T18:00:00Z")
