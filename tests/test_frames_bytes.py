"""The fast path from response bytes to a frame gives exactly the plain path's frame.

The plain path is ``json.loads`` + ``frames.frame_from_data``. Property tests compare both on random
answers (random labels and values, every JSON style) and on answers bent out of Prometheus' shape;
unit tests pin literal bodies, which path they take, and the memory of the result.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from sysmon_magic import frames_bytes
from sysmon_magic.errors import ResponseFormatError, SysmonUsageError
from sysmon_magic.frames import frame_from_data
from sysmon_magic.frames_bytes import frame_from_body

# Quick by default; HYPOTHESIS_PROFILE=long for a deeper run.
EXAMPLES = 2_000 if os.environ.get("HYPOTHESIS_PROFILE") == "long" else 200


@pytest.fixture(
    autouse=True,
    scope="module",
    params=["native", "csv"] if frames_bytes.native_samples is not None else ["csv"],
)
def engine(request: pytest.FixtureRequest) -> Iterator[str]:
    """Every test here runs with each reader of samples: the C one and pandas' CSV reader."""
    with mock.patch.object(frames_bytes, "ENGINE", request.param):
        yield request.param


def test_the_c_reader_is_built_where_a_compiler_is_at_hand() -> None:
    # setup.py builds it as optional: a broken samples.c would otherwise pass unnoticed.
    if shutil.which(os.environ.get("CC", "cc")) is None:
        pytest.skip("no C compiler: the package was built without the C reader")
    assert frames_bytes.native_samples is not None


@contextmanager
def any_size(parallel: bool = True) -> Iterator[None]:
    """Let small bodies take the fast path too, and (unless told not to) parse in two threads."""
    with (
        mock.patch.object(frames_bytes, "FAST_PATH_MIN_BYTES", 0),
        mock.patch.object(frames_bytes, "PARALLEL_MIN_BYTES", 0 if parallel else 2**62),
    ):
        yield


def compact(answer: Any) -> bytes:
    return json.dumps(answer, separators=(",", ":"), ensure_ascii=False).encode()


def plain(body: bytes, fmt: str) -> pd.DataFrame:
    """The straightforward conversion, the reference."""
    return frame_from_data(json.loads(body)["data"], fmt)  # type: ignore[arg-type]


def fast(body: bytes, fmt: str, parallel: bool = True) -> pd.DataFrame:
    """The fast path, which must recognise the body."""
    with any_size(parallel):
        frame = frames_bytes.fast_frame_from_body(body, fmt).frame  # type: ignore[arg-type]
    assert frame is not None
    return frame


def assert_identical(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    # assert_frame_equal takes any NaN for any NaN and 0.0 for -0.0: compare the bits too.
    floats = expected.select_dtypes("float64").columns
    assert np.array_equal(
        got[floats].to_numpy().view(np.int64), expected[floats].to_numpy().view(np.int64)
    )


def matrix(*series: tuple[dict[str, str], list[list[Any]]], **envelope: Any) -> dict[str, Any]:
    result = [{"metric": labels, "values": values} for labels, values in series]
    return {"status": "success", "data": {"resultType": "matrix", "result": result}, **envelope}


# -- random answers ------------------------------------------------------------------------------

TRICKY = ['"', "\\", ",", "[", "]", "{", "}", ":", "]]}", '"values":[', '},"values":[[', "\n", "é", "한", "💥", "\x00", "\u2028"]  # fmt: skip
TEXT = st.lists(st.text(max_size=3) | st.sampled_from(TRICKY), max_size=4).map("".join)
NAMES = st.sampled_from(["__name__", "job", "instance", "le", "mode"]) | TEXT
LABELS = st.dictionaries(NAMES, TEXT, max_size=4)


def prometheus_float(value: float) -> str:
    """How Prometheus writes a sample value (strconv.FormatFloat, 'e' for tiny or huge)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value != 0 and not 1e-6 <= abs(value) < 1e21:
        return repr(value)
    return np.format_float_positional(value, unique=True, trim="-")


VALUES = st.one_of(
    st.floats().map(prometheus_float),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.floats(allow_nan=False, allow_infinity=False).map("{:.17g}".format),
    st.integers(-(10**25), 10**25).map(str),
    st.sampled_from(["NaN", "+Inf", "-Inf", "0", "-0", "1e-07", "1E5", "5e-324", "1e400", "0.1"]),
)
# Unix milliseconds, written as Prometheus does: whole seconds, else seconds with a fraction.
MILLIS = st.integers(-(10**12), 4 * 10**12)


def seconds(millis: int) -> int | float:
    return millis // 1000 if millis % 1000 == 0 else millis / 1000


@st.composite
def answers(draw: st.DrawFn) -> dict[str, Any]:
    vector = draw(st.booleans())
    label_sets = draw(st.lists(LABELS, max_size=6))
    shared = sorted(draw(st.sets(MILLIS, min_size=1, max_size=1 if vector else 12)))
    result = []
    for labels in label_sets:
        times = (
            shared
            if vector or draw(st.booleans())
            else sorted(draw(st.sets(MILLIS, min_size=1, max_size=12)))
        )
        samples = [[seconds(t), draw(VALUES)] for t in times]
        if vector:
            result.append({"metric": labels, "value": samples[0]})
        else:
            result.append({"metric": labels, "values": samples})
    data = {"resultType": "vector" if vector else "matrix", "result": result}
    answer: dict[str, Any] = {"status": "success"}
    if draw(st.booleans()):
        answer["isPartial"] = False  # VictoriaMetrics
    answer["data"] = data
    if draw(st.booleans()):
        answer["warnings"] = draw(st.lists(TEXT, max_size=2))
    if draw(st.booleans()):
        answer["infos"] = draw(st.lists(TEXT, max_size=2))
    if draw(st.booleans()):
        answer["stats"] = {"seriesFetched": str(len(result)), "executionTimeMsec": 3}
    return answer


@settings(max_examples=EXAMPLES)
@given(
    answer=answers(),
    fmt=st.sampled_from(["tidy", "wide"]),
    ascii_only=st.booleans(),
    parallel=st.booleans(),
)
def test_fast_path_reads_every_prometheus_answer_like_the_plain_path(
    answer, fmt, ascii_only, parallel
):
    body = json.dumps(answer, separators=(",", ":"), ensure_ascii=ascii_only).encode()
    with any_size(parallel):
        got, envelope = frames_bytes.fast_frame_from_body(body, fmt)
    assert_identical(got, plain(body, fmt))
    del answer["data"]["result"]
    assert envelope == answer


@settings(max_examples=EXAMPLES)
@given(
    answer=answers(),
    fmt=st.sampled_from(["tidy", "wide"]),
    style=st.sampled_from([{}, {"indent": 1}, {"separators": (",", ":"), "sort_keys": True}]),
)
def test_other_json_styles_give_the_same_frame(answer, fmt, style):
    body = json.dumps(answer, **style).encode()
    with any_size():
        got, _ = frame_from_body(body, fmt)
    assert_identical(got, plain(body, fmt))


def bend(answer: dict[str, Any], how: str, at: int) -> None:
    """Change one detail of an answer, to a shape a Prometheus server does not send."""
    result = answer["data"]["result"]
    # Rather a late sample: pandas refuses an odd first line for reasons of its own.
    item = result[-1 - at % len(result)] if result else {"metric": {}, "values": [[1, "1"]]}
    key = "values" if "values" in item else "value"
    samples = item[key] if key == "values" else [item[key]]
    sample = samples[-1 - at % len(samples)] if samples else [1, "1"]
    if how == "number value":
        sample[1] = float(sample[1]) if sample[1] not in ("NaN", "+Inf", "-Inf") else 0.5
    elif how == "string timestamp":
        sample[0] = str(sample[0])
    elif how == "extra element":
        sample.append("7")
    elif how == "short sample":
        del sample[1:]
    elif how == "empty sample":
        del sample[:]
    elif how == "bare element":
        samples.insert(at % (len(samples) + 1), 5)
    elif how == "value with a comma":
        sample[1] = "1,5"
    elif how == "value with a bracket":
        sample[1] = "[1"
    elif how == "value with a space":
        sample[1] = " 1"
    elif how == "non-string label":
        item["metric"]["x"] = 1
    elif how == "no samples":
        item[key] = []
    elif how == "histograms":
        item["histograms"] = [[1, {"count": "1", "sum": "1", "buckets": [[0, "0", "1", "1"]]}]]
    elif how == "key order":
        item["metric"] = item.pop("metric")
    elif how == "stats inside data":
        answer["data"]["stats"] = {"timings": {"evalTotalTime": 0.1}}
    elif how == "warnings first":
        answer["warnings"] = ["w"]
        answer["data"] = answer.pop("data")
    elif how == "resultType last":
        answer["data"]["resultType"] = answer["data"].pop("resultType")
    elif how == "scalar":
        answer["data"] = {"resultType": "scalar", "result": [1, "2"]}
    elif how == "error":
        answer.update(status="error", errorType="bad_data", error="parse error")
    if not result:
        result.append(item)


BENDS = ["number value", "string timestamp", "extra element", "short sample", "empty sample", "bare element", "value with a comma", "value with a bracket", "value with a space", "non-string label", "no samples", "histograms", "key order", "stats inside data", "warnings first", "resultType last", "scalar", "error"]  # fmt: skip


@settings(max_examples=EXAMPLES)
@given(
    answer=answers(),
    how=st.sampled_from(BENDS),
    at=st.integers(0, 100),
    fmt=st.sampled_from(["tidy", "wide"]),
)
def test_answers_of_another_shape_never_read_differently(answer, how, at, fmt):
    bend(answer, how, at)
    body = compact(answer)
    try:
        expected: Any = plain(body, fmt) if answer["status"] == "success" else None
    except (ResponseFormatError, SysmonUsageError) as exc:
        expected = type(exc)
    try:
        with any_size():
            got: Any = frame_from_body(body, fmt).frame
    except (ResponseFormatError, SysmonUsageError) as exc:
        got = type(exc)
    try:
        frames_bytes.fast_frame_from_body(body, fmt)
        event("fast path")
    except frames_bytes.NotCompact:
        event("plain path")
    except (ResponseFormatError, SysmonUsageError):
        event("error")
    if isinstance(expected, pd.DataFrame):
        assert_identical(got, expected)
    else:
        assert got is expected


# -- bodies that are not JSON --------------------------------------------------------------------


def outcome(read: Callable[[], frames_bytes.BodyFrame]) -> Any:
    """What reading a body gives: ``(frame, envelope)``, or the type of the error it raises."""
    try:
        return read()
    except (ResponseFormatError, SysmonUsageError) as exc:
        return type(exc)


def assert_read_alike(body: bytes, fmt: str) -> None:
    """frame_from_body, the fast path allowed at any size, gives what the plain path gives."""
    expected = outcome(lambda: frames_bytes.plain_frame_from_body(body, fmt))  # type: ignore[arg-type]
    with any_size(parallel=False):
        got = outcome(lambda: frame_from_body(body, fmt))  # type: ignore[arg-type]
    if isinstance(expected, frames_bytes.BodyFrame) and expected.frame is not None:
        assert isinstance(got, frames_bytes.BodyFrame) and got.frame is not None
        assert_identical(got.frame, expected.frame)
        assert got.envelope == expected.envelope
    else:
        assert not (isinstance(got, frames_bytes.BodyFrame) and got.frame is not None), body
        assert got == expected


# Bytes whose place in a sample matters: to JSON, to the CSV reader, or to both.
EDIT_BYTES = b'-+.,"[]{}: 0eE5NIx\\'


def one_byte_edits(body: bytes, start: int, end: int) -> set[bytes]:
    """Every body one byte inserted, replaced or deleted in ``body[start:end]`` makes."""
    edits: set[bytes] = set()
    for at in range(start, end + 1):
        edits.update(body[:at] + bytes([byte]) + body[at:] for byte in EDIT_BYTES)
        if at < end:
            edits.update(body[:at] + bytes([byte]) + body[at + 1 :] for byte in EDIT_BYTES)
            edits.add(body[:at] + body[at + 1 :])
    return edits


@pytest.mark.parametrize(
    "samples",
    [
        '"values":[[1,"2"],[30,"-4.5"]]',
        '"values":[[1.5,"2"],[30.25,"1e-07"]]',
        '"value":[1.5,"+Inf"]',
    ],
    ids=["whole seconds", "fractions", "vector"],
)
def test_every_one_byte_edit_of_samples_reads_like_the_plain_path_or_not_at_all(samples):
    # Such an edit found `[1,-"4.0"]`, which the CSV reader took for -4.0 where json.loads
    # refuses the body.
    result_type = "vector" if 'value"' in samples else "matrix"
    body = (
        f'{{"status":"success","data":{{"resultType":"{result_type}","result":['
        f'{{"metric":{{"a":"b"}},{samples}}},{{"metric":{{}},{samples}}}]}}}}'
    ).encode()
    start = body.index(samples.encode())
    for edited in one_byte_edits(body, start, start + len(samples)):
        assert_read_alike(edited, "tidy")


@st.composite
def edited_answers(draw: st.DrawFn) -> bytes:
    """A random answer with a few bytes inserted, replaced or deleted after its envelope."""
    body = bytearray(compact(draw(answers())))
    result = body.index(b'"result":[')
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(result, len(body)))
        byte = draw(st.sampled_from(EDIT_BYTES))
        how = draw(st.sampled_from(["insert", "replace", "delete", "cut"]))
        if how == "insert":
            body[at:at] = bytes([byte])
        elif how == "cut":
            del body[at:]
        elif at < len(body):
            body[at : at + 1] = bytes([byte]) if how == "replace" else b""
    return bytes(body)


@settings(max_examples=EXAMPLES)
@given(body=edited_answers(), fmt=st.sampled_from(["tidy", "wide"]))
def test_edited_answers_read_like_the_plain_path_or_not_at_all(body, fmt):
    assert_read_alike(body, fmt)


def test_a_body_cut_right_after_a_sample_key_is_not_json():
    # Cut after `"value":`, the fast path indexed past the body's end (an IndexError).
    vector = {"resultType": "vector", "result": [{"metric": {"i": str(i)}, "value": [1, "2"]} for i in range(3000)]}  # fmt: skip
    body = compact({"status": "success", "data": vector})
    assert len(body) >= frames_bytes.FAST_PATH_MIN_BYTES
    key = b'"value":'
    for cut in (body.index(key) + len(key), body.rindex(key) + len(key), len(body) - 1):
        assert frame_from_body(body[:cut]) == (None, None)


# -- literal bodies ------------------------------------------------------------------------------

TRICKY_LABELS = {
    "__name__": "up",
    "job": 'node "x", [y]',
    "path": '},"values":[[1,"2"]]}]}',
    "note": "a]]}b\\",
    "city": "서울",
}
MATRIX = matrix(
    (TRICKY_LABELS, [[1793923140, "1"], [1793923200.5, "NaN"], [1793923260, "+Inf"]]),
    ({"__name__": "up", "zone": "z1"}, [[1793923140, "-Inf"], [1793923200.5, "1e-07"]]),
    warnings=["PromQL info: metric might not be a counter"],
)


@pytest.mark.parametrize("fmt", ["tidy", "wide"])
def test_a_prometheus_body_with_tricky_labels_takes_the_fast_path(fmt):
    body = compact(MATRIX)
    assert_identical(fast(body, fmt), plain(body, fmt))


def test_tidy_columns_values_and_envelope():
    with any_size():
        frame, envelope = frame_from_body(compact(MATRIX))
    assert list(frame.columns) == ["timestamp", "__name__", "city", "job", "note", "path", "zone", "value"]  # fmt: skip
    assert frame["job"].iloc[0] == 'node "x", [y]'
    assert frame["path"].iloc[0] == '},"values":[[1,"2"]]}]}'
    assert frame["timestamp"].iloc[1] == pd.Timestamp("2026-11-06T00:00:00.500Z")
    assert frame["value"].tolist()[2:4] == [math.inf, -math.inf]
    assert envelope == {
        "status": "success",
        "data": {"resultType": "matrix"},
        "warnings": ["PromQL info: metric might not be a counter"],
    }


# As Prometheus 2.42 wrote them for the demo data (abridged): milliseconds as ".500".
PROMETHEUS_BODY = (
    b'{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"cpu":"0",'
    b'"instance":"batch-01:9100","job":"node","mode":"idle"},"values":[[1793578200.500,'
    b'"0.9925130208333334"],[1793578800.500,"NaN"],[1793579400.500,"0.9816406249999999"]]},'
    b'{"metric":{"cpu":"1","instance":"batch-01:9100","job":"node","mode":"idle"},"values":'
    b'[[1793578200.500,"+Inf"],[1793578800.500,"-Inf"],[1793579400.500,"1e-07"]]}]},'
    b'"infos":["PromQL info: metric might not be a counter"]}'
)


@pytest.mark.parametrize("fmt", ["tidy", "wide"])
@pytest.mark.parametrize("parallel", [False, True])
def test_prometheus_bytes(fmt, parallel):
    assert_identical(fast(PROMETHEUS_BODY, fmt, parallel), plain(PROMETHEUS_BODY, fmt))


def test_victoriametrics_extras_and_a_vector():
    answer = {
        "status": "success",
        "isPartial": False,
        "data": {
            "resultType": "vector",
            "result": [
                {"metric": {"job": "a"}, "value": [1793923200.123, "3"]},
                {"metric": {}, "value": [1793923200.123, "4"]},
            ],
        },
        "stats": {"seriesFetched": "2", "executionTimeMsec": 0},
    }
    body = compact(answer)
    for fmt in ("tidy", "wide"):
        assert_identical(fast(body, fmt), plain(body, fmt))
    assert frames_bytes.fast_frame_from_body(body, "tidy").envelope["stats"] == answer["stats"]


def test_empty_result():
    body = b'{"status":"success","data":{"resultType":"matrix","result":[]}}'
    assert list(fast(body, "tidy").columns) == ["timestamp", "value"]
    assert_identical(fast(body, "wide"), plain(body, "wide"))


def test_fractional_and_negative_timestamps():
    body = compact(matrix(({"a": "b"}, [[-1.5, "1"], [0, "2"], [0.001, "3"], [1e9, "4"]])))
    frame = fast(body, "tidy")
    assert_identical(frame, plain(body, "tidy"))
    assert frame["timestamp"].iloc[0] == pd.Timestamp("1969-12-31T23:59:58.5Z")


@pytest.mark.parametrize(
    "times",
    [[[1, 2], [1, 2]], [[2, 1], [2, 1]], [[1, 2], [1, 3]], [[1, 1], [1, 1]], [[1], [1, 2]]],
    ids=["same", "unsorted", "different", "repeated", "longer"],
)
def test_wide_grids(times):
    body = compact(
        matrix(*(({"s": str(i)}, [[t, str(t)] for t in ts]) for i, ts in enumerate(times)))
    )
    assert_identical(fast(body, "wide"), plain(body, "wide"))


@pytest.mark.parametrize("fmt", ["tidy", "wide"])
@pytest.mark.parametrize("grid", ["shared", "own"])
def test_timestamps_beyond_datetime64_ns_fail_as_on_the_plain_path(fmt, grid):
    # The year 2286. Series on a grid of their own took the wide path's sort, which raised
    # pandas' OutOfBoundsDatetime rather than the plain path's ResponseFormatError.
    other = [[1, "1"], [1e10, "2"]] if grid == "shared" else [[2, "1"]]
    body = compact(matrix(({"a": "b"}, [[1, "1"], [1e10, "2"]]), ({"a": "c"}, other)))
    with pytest.raises(ResponseFormatError, match="cannot hold"):
        plain(body, fmt)
    with pytest.raises(ResponseFormatError, match="cannot hold"), any_size():
        frame_from_body(body, fmt)  # type: ignore[arg-type]


EMPTY_DATA = b'"data":{"resultType":"matrix","result":[]}'
OTHER_SHAPES = ["indent", "spaces", "key order", "extra", "number", "no samples", "cut", "comma", "bracket", "bare", "-0", "two data", "two results", "-\"4.0\"", "05", "+5", ".5", "5.", "5.e3", "Inf", "1,\"2\"\"", "[[", "third", "1e", "1-", "] in a value"]  # fmt: skip
# A sample that is not JSON, where the plain path refuses the body, and the CSV reader would
# read it anyway (`[1,-"4.0"]` as -4.0).
BROKEN_SAMPLE = compact(matrix(({"a": "b"}, [[1, "2"], [3, "X"]])))


@pytest.mark.parametrize(
    "body",
    [
        json.dumps(MATRIX, indent=2).encode(),  # pretty-printed
        json.dumps(MATRIX).encode(),  # json.dumps' default ", " and ": "
        compact({**MATRIX, "data": {"result": [], "resultType": "matrix"}}),  # key order
        compact(matrix(({"a": "b"}, [[1, "1", "extra"]]))),
        compact(matrix(({"a": "b"}, [[1, 2.5]]))),  # a number instead of a string
        compact(matrix(({"a": "b"}, []))),
        b'{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1"]]}',
        # Each of these passes all checks but one, and would read wrong without it:
        compact(matrix(({"a": "b"}, [[1, "2"], [3, "4,5"]]))),  # a comma in a value
        compact(matrix(({"a": "b"}, [[1, "2"], [3, "4[5"]]))),  # a bracket in a value
        compact(matrix(({"a": "b"}, [[1, "2"], 5, ["6"]]))),  # `5,["6"]` looks like `[5,"6"]`
        compact(matrix(({"a": "b"}, [["1", "2"], [3, -0]]))),  # -0 is 0.0 for json.loads
        compact(matrix(({"a": "b"}, [[1, "2"]]))).replace(b"}}", b"}," + EMPTY_DATA + b"}"),
        compact(matrix(({"a": "b"}, [[1, "2"]]))).replace(b"]}}", b'],"result":[]}}'),
        BROKEN_SAMPLE.replace(b'3,"X"', b'3,-"4.0"'),
        BROKEN_SAMPLE.replace(b'3,"X"', b'05,"4"'),
        BROKEN_SAMPLE.replace(b'3,"X"', b'+5,"4"'),
        BROKEN_SAMPLE.replace(b'3,"X"', b'.5,"4"'),
        BROKEN_SAMPLE.replace(b'3,"X"', b'5.,"4"'),
        BROKEN_SAMPLE.replace(b'3,"X"', b'5.e3,"4"'),
        BROKEN_SAMPLE.replace(b'3,"X"', b'Inf,"4"'),
        BROKEN_SAMPLE.replace(b'3,"X"', b'3,"4""'),  # a quote more here, one less below
        BROKEN_SAMPLE.replace(b'3,"X"', b'[3,"4"').replace(b'[1,"2"]', b'1,"2"]'),
        BROKEN_SAMPLE.replace(b'3,"X"', b'3,"4","5"'),
        # Each of these the CSV reader refuses: no check of its own needed.
        BROKEN_SAMPLE.replace(b'3,"X"', b'1e,"4"'),
        BROKEN_SAMPLE.replace(b'3,"X"', b'1-,"4"'),
        BROKEN_SAMPLE.replace(b'3,"X"', b'3,"4]5"'),
    ],
    ids=OTHER_SHAPES,
)
def test_other_shapes_take_the_plain_path(body):
    with pytest.raises(frames_bytes.NotCompact), any_size():
        frames_bytes.fast_frame_from_body(body, "tidy")


def test_native_histograms_take_the_plain_path():
    answer = matrix(({"a": "b"}, [[1, "1"]]))
    answer["data"]["result"][0]["histograms"] = [[2, {"count": "3", "sum": "4", "buckets": []}]]
    with any_size():
        frame, _ = frame_from_body(compact(answer))
        assert frame["count"].tolist()[1] == 3
        with pytest.raises(SysmonUsageError, match="wide"):
            frame_from_body(compact(answer), "wide")


def test_errors_and_other_envelopes():
    error = b'{"status":"error","errorType":"bad_data","error":"parse error: unexpected \\"}\\""}'
    assert frame_from_body(error) == (None, json.loads(error))
    assert frame_from_body(b"<html>Bad Gateway</html>") == (None, None)
    assert frame_from_body(b'{"status":"success"}') == (None, {"status": "success"})
    assert frame_from_body(b'{"header":{"isSuccessful":false}}').frame is None
    scalar, envelope = frame_from_body(b'{"status":"success","data":{"resultType":"scalar","result":[1,"2"]}}')  # fmt: skip
    assert scalar["value"].tolist() == [2.0]
    assert envelope == {"status": "success", "data": {"resultType": "scalar"}}
    with pytest.raises(ResponseFormatError):
        frame_from_body(b'{"status":"success","data":[1,2]}')
    with pytest.raises(SysmonUsageError, match="tidy or wide"):
        frame_from_body(compact(MATRIX), "long")  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["nan", "-nan", "+NaN", "inf", "-inf", "Inf", "+inf", "NaNa", "InfInf", "1e", "e5", ".5", "5.", "+.5", "-0", "00012", "1e+5", "1E-5", "--1", "1e5.5", "0x10", "1_000", "\u0661"])  # fmt: skip
def test_odd_value_strings_read_like_the_plain_path_or_not_at_all(value):
    body = compact(matrix(({"a": "b"}, [[1, "1"], [2, value]])))
    try:
        expected: Any = plain(body, "tidy")
    except ResponseFormatError:
        expected = ResponseFormatError
    try:
        got: Any = fast(body, "tidy")
    except frames_bytes.NotCompact:
        return
    assert expected is not ResponseFormatError
    assert_identical(got, expected)


# Decimals where a reader that is not correctly rounded goes wrong: more digits than a double
# holds, mantissas either side of 2**53, powers of ten past 1e22, subnormals, overflow.
HARD_DECIMALS = ["9007199254740993", "9007199254740992.5", "0.1", "0.30000000000000004", "2.2250738585072011e-308", "2.2250738585072012e-308", "4.9e-324", "2e-324", "1e-400", "1.7976931348623157e308", "1.7976931348623159e308", "1e400", "123456789012345678901234567890", "0.000000000000000000000000001234", "1e23", "8.41e21", "5e-20", "3.0000000000000001", "1.00000000000000011102230246251565404236316680908203125", "-0", "-0.0", "00012", "1E-5", "1e+5"]  # fmt: skip


@given(
    st.lists(
        st.one_of(
            st.sampled_from(HARD_DECIMALS),
            st.floats(allow_nan=False, allow_infinity=False).map(repr),
            st.builds(
                "{}{}.{}e{}".format,
                st.sampled_from(["", "-"]),
                st.integers(0, 10**20),
                st.integers(0, 10**25),
                st.integers(-330, 310),
            ),
        ),
        min_size=1,
        max_size=50,
    )
)
@settings(max_examples=EXAMPLES, deadline=None)
def test_every_decimal_reads_as_float_reads_it(values):
    body = compact(matrix(({"a": "b"}, [[k, v] for k, v in enumerate(values)])))
    assert_identical(fast(body, "tidy"), plain(body, "tidy"))
    got = fast(body, "tidy")["value"].to_numpy()
    assert (
        got.view(np.int64).tolist() == np.array([float(v) for v in values]).view(np.int64).tolist()
    )


def big_answer(series: int, points: int) -> bytes:
    rng = np.random.default_rng(0)
    result = [
        {
            "metric": {
                "__name__": "m",
                "instance": f"host-{i % 150}",
                "job": "node",
                "cpu": str(i % 8),
            },
            "values": [
                [1793923140 + 60 * j, repr(float(v))] for j, v in enumerate(rng.normal(size=points))
            ],
        }
        for i in range(series)
    ]
    return compact({"status": "success", "data": {"resultType": "matrix", "result": result}})


def test_large_bodies_take_the_fast_path_and_stay_small():
    body = big_answer(200, 300)
    assert len(body) > frames_bytes.PARALLEL_MIN_BYTES
    with mock.patch.object(
        frames_bytes, "plain_frame_from_body", side_effect=AssertionError("plain path taken")
    ):
        tidy, _ = frame_from_body(body)
        wide, _ = frame_from_body(body, "wide")
    assert_identical(tidy, plain(body, "tidy"))
    assert_identical(wide, plain(body, "wide"))
    samples = 200 * 300
    # 8 bytes of time and 8 of value, 1 byte a label (int8 codes, below 127 values) and 2 for
    # "instance" (150 values, int16); categories and index are a few bytes spread over all rows.
    assert [tidy[name].cat.codes.dtype.itemsize for name in ("__name__", "cpu", "instance", "job")] == [1, 1, 2, 1]  # fmt: skip
    assert tidy.memory_usage(index=False).sum() / samples < 16 + 5 + 0.5
    assert wide.memory_usage().sum() / samples < 9


@pytest.mark.parametrize("parallel", [True, False])
def test_frames_can_be_written_to(parallel):
    # The fast path hands the CSV reader's arrays on without copies where it can: never a
    # read-only one, which the plain path's frames never have.
    body = big_answer(20, 30)
    for fmt in ("tidy", "wide"):
        frame = fast(body, fmt, parallel)
        frame.iloc[0, -1] = 5.0
        frame.iloc[0, 0] = frame.iloc[1, 0]
        assert frame.iloc[0, -1] == 5.0


# -- found by a review: bodies crafted to make the fast path read what json.loads does not ------


@pytest.mark.parametrize("zeros", [99_999, 99_990])
def test_a_huge_exponent_after_many_zeros_reads_as_float_reads_it(zeros):
    # The exponent's digits stop counting at 100,000; the zeros used to bring the scale back
    # into the exact range, and 0.000...1e1000000 read as 1.0, not inf.
    value = "0." + "0" * zeros + "1e1000000"
    assert_read_alike(compact(matrix(({"a": "b"}, [[1, value]]))), "tidy")


def test_a_label_value_cannot_end_its_metric_object_early():
    # Not JSON, but the two metric texts a search for `},"values":[` cut out of it joined into
    # valid JSON: `[{"a":"},{"},{"job":"x"}]`.
    body = (
        b'{"status":"success","data":{"resultType":"matrix","result":['
        b'{"metric":{"a":"},"values":[[1,"1"]]},'
        b'{"metric":{"},{"job":"x"},"values":[[2,"2"]]}]}}'
    )
    assert_read_alike(body, "tidy")
    with any_size():
        assert frame_from_body(body).frame is None


def test_a_vector_series_with_two_samples_is_no_json():
    body = (
        b'{"status":"success","data":{"resultType":"vector","result":['
        b'{"metric":{"a":"b"},"value":[1,"1"],[2,"2"]}]}}'
    )
    assert_read_alike(body, "tidy")
