"""Response data -> DataFrames, on literal responses as Prometheus sends them."""

import math
from unittest import mock

import numpy as np
import pandas as pd
import pytest

from sysmon_magic import frames
from sysmon_magic.errors import ResponseFormatError, SysmonUsageError
from sysmon_magic.frames import (
    concat_runs,
    frame_from_data,
    frame_from_runs,
    metadata_frame,
    runs_from_data,
    runs_within,
    series_frame,
    timestamp_index,
    utc_times,
)


def concat_windows(parts: list[dict], fmt: str) -> pd.DataFrame:
    """What the client does with the windows of a range query: merge their series, then one frame."""
    return frame_from_runs(concat_runs([runs_from_data(p) for p in parts]), fmt)  # type: ignore[arg-type,misc]


MATRIX = {
    "resultType": "matrix",
    "result": [
        {
            "metric": {"__name__": "up", "instance": "a:9100", "job": "node"},
            "values": [[1793923140, "1"], [1793923200, "NaN"]],
        },
        {
            "metric": {"__name__": "up", "instance": "b:9100", "job": "node", "zone": "z1"},
            "values": [[1793923200.123, "+Inf"], [1793923260, "-Inf"], [1793923320, "2.5e-3"]],
        },
    ],
}


def test_tidy_matrix():
    frame = frame_from_data(MATRIX)
    assert list(frame.columns) == ["timestamp", "__name__", "instance", "job", "zone", "value"]
    assert str(frame["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert frame["timestamp"].iloc[2] == pd.Timestamp("2026-11-06T00:00:00.123Z")
    assert frame["value"].dtype == np.float64
    values = frame["value"].tolist()
    assert values[0] == 1 and math.isnan(values[1])
    assert values[2:] == [math.inf, -math.inf, 0.0025]
    assert frame["instance"].tolist() == ["a:9100", "a:9100", "b:9100", "b:9100", "b:9100"]
    assert frame["zone"].isna().tolist() == [True, True, False, False, False]
    assert isinstance(frame["instance"].dtype, pd.CategoricalDtype)


def test_wide_matrix():
    frame = frame_from_data(MATRIX, "wide")
    assert frame.columns.names == ["__name__", "instance", "job", "zone"]
    assert list(frame.columns) == [("up", "a:9100", "node", ""), ("up", "b:9100", "node", "z1")]
    assert frame.index.name == "timestamp"
    assert len(frame.index) == 5  # the union of both series' timestamps
    assert frame.loc[pd.Timestamp("2026-11-05T23:59:00Z"), ("up", "a:9100", "node", "")] == 1
    assert frame[("up", "b:9100", "node", "z1")].isna().sum() == 2


def test_vector_one_row_per_series():
    data = {
        "resultType": "vector",
        "result": [
            {"metric": {"job": "a"}, "value": [1793923200, "3"]},
            {"metric": {"job": "b"}, "value": [1793923200, "4"]},
        ],
    }
    frame = frame_from_data(data)
    assert frame[["job", "value"]].astype({"job": str}).values.tolist() == [["a", 3.0], ["b", 4.0]]
    wide = frame_from_data(data, "wide")
    assert wide.shape == (1, 2)


def test_series_without_labels():
    data = {"resultType": "vector", "result": [{"metric": {}, "value": [1793923200, "7"]}]}
    assert list(frame_from_data(data).columns) == ["timestamp", "value"]
    wide = frame_from_data(data, "wide")
    assert wide.columns.names == ["series"] and wide.iloc[0, 0] == 7


def test_scalar_and_string():
    scalar = frame_from_data({"resultType": "scalar", "result": [1793923200, "42"]})
    assert scalar.to_dict("list") == {
        "timestamp": [pd.Timestamp("2026-11-06T00:00:00Z")],
        "value": [42.0],
    }
    string = frame_from_data({"resultType": "string", "result": [1793923200, "hello"]})
    assert string["value"].tolist() == ["hello"]


@pytest.mark.parametrize("result_type", ["matrix", "vector"])
def test_empty_result_has_the_columns(result_type):
    frame = frame_from_data({"resultType": result_type, "result": []})
    assert list(frame.columns) == ["timestamp", "value"] and len(frame) == 0
    assert str(frame["timestamp"].dtype) == "datetime64[ns, UTC]"
    wide = frame_from_data({"resultType": result_type, "result": []}, "wide")
    assert wide.shape == (0, 0)


# As Prometheus 2.4x sends native histograms (recorded from a server with them enabled).
HISTOGRAM_MATRIX = {
    "resultType": "matrix",
    "result": [
        {
            "metric": {"__name__": "rpc_duration_seconds", "job": "api"},
            "histograms": [
                [
                    1793923140,
                    {
                        "count": "10",
                        "sum": "1.5",
                        "buckets": [[0, "0.0625", "0.125", "4"], [0, "0.125", "0.25", "6"]],
                    },
                ],
                [
                    1793923200,
                    {"count": "12", "sum": "1.75", "buckets": [[3, "-0.001", "0.001", "2"]]},
                ],
            ],
        }
    ],
}


def test_native_histograms_tidy():
    frame = frame_from_data(HISTOGRAM_MATRIX)
    assert list(frame.columns) == [
        "timestamp", "__name__", "job", "value", "count", "sum", "buckets"
    ]  # fmt: skip
    assert frame["count"].tolist() == [10.0, 12.0]
    assert frame["sum"].tolist() == [1.5, 1.75]
    assert frame["value"].isna().all()
    assert frame["buckets"].iloc[0] == ((0, 0.0625, 0.125, 4.0), (0, 0.125, 0.25, 6.0))
    assert frame["buckets"].iloc[1] == ((3, -0.001, 0.001, 2.0),)


def test_native_histogram_instant_and_mixed_with_floats():
    data = {
        "resultType": "vector",
        "result": [
            {"metric": {"job": "a"}, "histogram": [1793923200, {"count": "1", "sum": "2"}]},
            {"metric": {"job": "b"}, "value": [1793923200, "5"]},
        ],
    }
    frame = frame_from_data(data)
    assert frame["count"].tolist()[0] == 1.0 and math.isnan(frame["count"].tolist()[1])
    assert frame["value"].tolist()[1] == 5.0
    assert frame["buckets"].tolist() == [(), ()]


def test_native_histograms_do_not_fit_wide():
    with pytest.raises(SysmonUsageError, match="tidy"):
        frame_from_data(HISTOGRAM_MATRIX, "wide")


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"resultType": "matrix"},
        {"resultType": "matrix", "result": [{"metric": {}, "values": [[1, "x"]]}]},
        {"resultType": "matrix", "result": [{"metric": {}, "values": [[1]]}]},
        {"resultType": "vector", "result": "nope"},
        {"resultType": "scalar", "result": [1]},
        {"resultType": "weird", "result": []},
    ],
)
def test_malformed_data_is_a_response_format_error(data):
    with pytest.raises(ResponseFormatError):
        frame_from_data(data)


def test_unknown_format():
    with pytest.raises(SysmonUsageError, match="tidy or wide"):
        frame_from_data(MATRIX, "long")  # type: ignore[arg-type]


def test_series_frame():
    frame = series_frame([{"__name__": "up", "job": "a"}, {"__name__": "up", "job": "b", "x": "1"}])
    assert list(frame.columns) == ["__name__", "job", "x"]
    assert frame["job"].tolist() == ["a", "b"]
    assert frame["x"].isna().tolist() == [True, False]
    assert list(series_frame([]).columns) == []


def test_metadata_frame():
    frame = metadata_frame(
        {
            "up": [{"type": "gauge", "help": "Up.", "unit": ""}],
            "a_total": [{"type": "counter", "help": "A.", "unit": ""}],
        }
    )
    assert frame.values.tolist() == [["a_total", "counter", "A.", ""], ["up", "gauge", "Up.", ""]]
    assert list(metadata_frame({}).columns) == ["metric", "type", "help", "unit"]


def test_windows_of_a_series_without_labels_merge_in_time_order():
    def window(*samples):
        result = [{"metric": {}, "values": [[t, str(t)] for t in samples]}] if samples else []
        return {"resultType": "matrix", "result": result}

    merged = concat_windows([window(1, 2), window(), window(3)], "tidy")
    assert list(merged.columns) == ["timestamp", "value"]
    assert merged["value"].tolist() == [1.0, 2.0, 3.0]
    assert str(merged["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert concat_windows([window(), window()], "tidy").dtypes.equals(
        frame_from_data(window()).dtypes
    )


def test_windows_with_and_without_histogram_samples_merge_like_one_answer():
    floats = {"metric": {"job": "api"}, "values": [[1793923020, "1"], [1793923080, "2"]]}
    histograms = {
        "metric": {"job": "api"},
        "histograms": HISTOGRAM_MATRIX["result"][0]["histograms"],
    }
    merged = concat_windows(
        [{"resultType": "matrix", "result": [part]} for part in (floats, histograms)], "tidy"
    )
    one = frame_from_data({"resultType": "matrix", "result": [{**floats, **histograms}]})
    pd.testing.assert_frame_equal(merged, one)
    assert merged["buckets"].tolist()[:2] == [(), ()]


def test_wide_windows_of_a_label_less_series_and_labelled_ones_merge_like_one_answer():
    def wide(*series):
        result = [{"metric": labels, "values": values} for labels, values in series]
        return {"resultType": "matrix", "result": result}

    first = wide(({}, [[60, "1"]]))  # only the label-less series: its level is "series"
    second = wide(({}, [[120, "2"]]), ({"a": "1"}, [[120, "3"]]))
    one = frame_from_data(wide(({}, [[60, "1"], [120, "2"]]), ({"a": "1"}, [[120, "3"]])), "wide")
    pd.testing.assert_frame_equal(concat_windows([first, second], "wide"), one)


def test_samples_outside_a_window_are_dropped_and_counted_per_series():
    runs = runs_from_data(
        {
            "resultType": "matrix",
            "result": [
                {"metric": {"a": "1"}, "values": [[59.999, "0"], [60, "1"], [120.3, "2"]]},
                {"metric": {"a": "2"}, "values": []},
                {"metric": {"a": "3"}, "values": [[180, "3"], [181, "4"]]},
            ],
        }
    )
    assert runs is not None
    # 60.0004 and 180.0004: bounds summed from fractional steps, a rounding error off.
    kept, dropped = runs_within(runs, 60.0004, 180.0004)
    assert dropped == 2
    assert kept.counts.tolist() == [2, 0, 1]
    assert kept.values.tolist() == [1.0, 2.0, 3.0]
    assert runs_within(kept, 60, 180) == (kept, 0)


def test_the_time_index_is_a_view_of_the_times_not_a_copy():
    # The frame of a month of 100 series would otherwise copy 35 MB after the last window.
    times = utc_times(np.array([1_793_923_200, 1_793_923_260]))
    index = timestamp_index(times)
    assert np.shares_memory(index.asi8, times)
    assert index.tz is not None and str(index[1]) == "2026-11-06 00:01:00+00:00"
    merged = concat_runs([runs_from_data(MATRIX), runs_from_data(MATRIX)])  # type: ignore[list-item]
    frame = frame_from_runs(merged)
    assert np.shares_memory(frame["timestamp"].array.asi8, merged.timestamps)


def test_the_time_index_takes_times_not_seconds():
    # It views its input's bits: seconds would read as nanoseconds, silently.
    with pytest.raises(TypeError, match="datetime64"):
        timestamp_index(np.array([1.7e9]))


def test_a_merge_joins_the_same_in_two_threads_as_in_one():
    # Past GATHER_IN_TWO_MIN_SAMPLES the values are joined on another thread meanwhile.
    def matrix(*series):
        result = [{"metric": labels, "values": values} for labels, values in series]
        return {"resultType": "matrix", "result": result}

    first = matrix(({"a": "1"}, [[60, "1"], [120, "2"]]), ({"a": "2"}, [[60, "3"]]))
    second = matrix(({"a": "2"}, [[180, "4"]]), ({"a": "1"}, [[180, "5"], [240, "6"]]))
    parts = [runs_from_data(first), runs_from_data(second)]
    one = concat_runs(parts)  # type: ignore[arg-type]
    with mock.patch.object(frames, "GATHER_IN_TWO_MIN_SAMPLES", 0):
        two = concat_runs(parts)  # type: ignore[arg-type]
    assert one.values.tolist() == two.values.tolist() == [1.0, 2.0, 5.0, 6.0, 3.0, 4.0]
    assert (one.timestamps == two.timestamps).all() and two.timestamps.dtype == "M8[ns]"
    assert one.counts.tolist() == two.counts.tolist() == [4, 2]
