"""Property tests: whatever a user types or a server sends, only documented errors come out.

Magics run end to end through a real shell against an empty recording, so every query that
gets past parsing, templating and time resolution ends in a clean "not in the recording"
error, with no network involved.
"""

from __future__ import annotations

import contextlib
import json

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from IPython.core.error import UsageError

from sysmon_magic.envelope import Raw, Reader
from sysmon_magic.errors import APIError, SysmonUsageError
from sysmon_magic.frames import concat_runs, frame_from_data, frame_from_runs, runs_from_data
from sysmon_magic.recording import Recording
from sysmon_magic.transport import Secret

OPTIONS = st.sampled_from(
    ["--range", "--start", "--end", "--step", "--instant", "--time", "-o", "--format", "--conn",
     "--timeout", "--plot", "--legend", "--", "-x", "--range=", "now", "now-6h", "5m", "1h30m",
     "2026-11-05T00:00:00Z", "1793923200000", "0", "-1", "tidy", "wide", "x", "{", "}", '"', "'"]
)  # fmt: skip
PROMQL_CHARS = st.sampled_from([*"${}()[]\"'`=~!,.:-+*/ \n\tabcxyz_019", "ü", "한", "💥", "\\"])


@pytest.fixture
def offline(shell, tmp_path):
    """The shell connected to an empty recording: queries end in ReplayMissError, offline."""
    path = tmp_path / "empty.promql.json"
    Recording(path, {"name": "empty", "now": 1794182400.0}).save()
    shell.run_line_magic("sysmon_connect", f"--replay {path}")
    return shell


@given(words=st.lists(OPTIONS | st.text(max_size=8), max_size=8))
def test_any_magic_line_is_a_frame_or_a_usage_error(offline, words):
    with contextlib.suppress(UsageError):
        offline.run_line_magic("promql", " ".join(words))


@given(
    body=st.text(PROMQL_CHARS, max_size=60),
    options=st.sampled_from(["", "--instant", "--range 1h"]),
)
def test_any_cell_body_is_a_frame_or_a_usage_error(offline, body, options):
    offline.user_ns["x"] = "value"
    with contextlib.suppress(UsageError):
        offline.run_cell_magic("promql", options, body)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
ENVELOPE = st.fixed_dictionaries(
    {"status": st.sampled_from(["success", "error", "weird"])},
    optional={
        "data": st.fixed_dictionaries(
            {"resultType": st.sampled_from(["matrix", "vector", "scalar", "string", "nope"])},
            optional={"result": JSON},
        )
        | JSON,
        "errorType": JSON,
        "error": JSON,
        "warnings": JSON,
        "infos": JSON,
    },
)


# One client for every example: only its envelope reading is exercised, no socket is opened.
READER = Reader("127.0.0.1:9", Secret("property-appkey-0123456789"))


@given(
    body=st.one_of(
        ENVELOPE.map(lambda e: json.dumps(e).encode()),
        st.binary(max_size=200),  # not JSON, not even UTF-8
        JSON.map(lambda j: json.dumps(j).encode()),
    ),
    status=st.sampled_from([200, 400, 401, 403, 413, 422, 429, 500, 502, 503, 504]),
    fmt=st.sampled_from(["tidy", "wide"]),
)
def test_any_response_is_data_or_a_documented_error(body, status, fmt):
    with contextlib.suppress(APIError, SysmonUsageError):
        answer = READER.answer(Raw(status, {}, body, "http://127.0.0.1:9/api/v1/query"))
        frame_from_data(answer.data, fmt)


# -- split range queries: the windows' frames merge into the frame of one answer ----------------

_LABEL_SETS = st.fixed_dictionaries(
    {"instance": st.sampled_from(["a:9100", "b:9100", "c:9100"])},
    optional={"mode": st.sampled_from(["idle", "user"]), "zone": st.sampled_from(["z1", "z2"])},
)


# Each example builds and merges DataFrames (~30 ms): a tenth of the profile's examples.
@settings(max_examples=max(settings.default.max_examples // 10, 10))
@given(
    windows=st.lists(
        st.lists(_LABEL_SETS, max_size=5, unique_by=lambda labels: tuple(sorted(labels.items()))),
        min_size=1,
        max_size=4,
    ),
    fmt=st.sampled_from(["tidy", "wide"]),
)
def test_windows_merge_like_the_replayed_answer(windows, fmt):
    """concat_runs (live, the windows' series merged as arrays) gives the frame a recording
    gives when replayed (the windows' answers merged first), rows, order and dtypes alike."""
    answers = []
    for number, label_sets in enumerate(windows):
        result = [
            {"metric": labels, "values": [[1000 * number + t, str(t + i)] for t in range(3)]}
            for i, labels in enumerate(label_sets)
        ]
        answers.append({"resultType": "matrix", "result": result})
    merged = frame_from_runs(concat_runs([runs_from_data(answer) for answer in answers]), fmt)  # type: ignore[misc]
    replayed = frame_from_data(_one_answer(answers), fmt)
    if merged.empty and replayed.empty:
        return  # an empty wide frame's column levels depend on the path; no series either way
    pd.testing.assert_frame_equal(merged, replayed)


def _one_answer(parts: list[dict]) -> dict:
    """The answer one request for the whole range gives: each series' samples joined, the
    series in Prometheus' order (by their sorted label pairs)."""
    merged: dict[tuple[tuple[str, str], ...], dict] = {}
    for part in parts:
        for series in part["result"]:
            key = tuple(sorted(series["metric"].items()))
            merged.setdefault(key, {"metric": series["metric"], "values": []})
            merged[key]["values"].extend(series["values"])
    return {"resultType": "matrix", "result": [merged[key] for key in sorted(merged)]}
