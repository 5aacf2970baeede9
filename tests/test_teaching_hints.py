"""The checks name the real cause of a wrong answer: each hint on literal frames, with the
learner's query text where the cause is in the query (the review's tries, issue 14 §3)."""

from __future__ import annotations

import pandas as pd
import pytest

from sysmon_magic.teaching import compare
from sysmon_magic.teaching.hints import binary_sides, empty_binary_hint, shape_of, value_hint

T = pd.Timestamp("2026-11-04T03:00:00Z")
HOSTS = ("batch-01", "db-01", "web-01")


def frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    """A tidy frame: one row per sample, ``timestamp`` defaulting to T."""
    return pd.DataFrame([{"timestamp": T, **row} for row in rows])


def node(host: str, value: float, **labels: str) -> dict[str, object]:
    return {
        "instance": f"{host}:9100",
        "job": "node",
        "openmetrics_id": host,
        **labels,
        "value": value,
    }


# -- a range vector for an instant exercise ---------------------------------------------------


def test_a_range_vector_is_named_as_such():
    window = [T - pd.Timedelta(minutes=m) for m in range(6)]
    mine = frame([{**node("db-01", 1.0), "timestamp": t} for t in window])
    feedback = compare(mine, frame([node("db-01", 1.0)]))
    assert feedback.message == (
        "Not yet: your query returns a range vector (up to 6 samples per series, from the window "
        "before the evaluation time); the exercise asks for one value per series."
    )
    assert "drop it for the newest sample" in feedback.details[0]
    assert "Evaluate at the exercise's time" not in str(feedback)


def test_samples_later_than_the_exercise_are_not_a_range_vector():
    later = [T + pd.Timedelta(minutes=m) for m in range(2)]
    mine = frame([{**node("db-01", 1.0), "timestamp": t} for t in later])
    assert "other times" in compare(mine, frame([node("db-01", 1.0)])).message


# -- labels: on/ignoring, absent --------------------------------------------------------------


def test_on_in_one_to_one_matching_is_the_cause_of_missing_labels():
    expected = frame([node(h, 0.2) for h in HOSTS])
    mine = frame([{"instance": f"{h}:9100", "value": 0.2} for h in HOSTS])
    query = "1 - node_memory_MemAvailable_bytes / on (instance) node_memory_MemTotal_bytes"
    feedback = compare(mine, expected, query=query)
    assert feedback.message.startswith(
        "Not yet: your result lacks `job`, `openmetrics_id` because of `on (instance)`: in "
        "one-to-one matching the result keeps only the `on` labels"
    )
    assert "aggregate" not in feedback.message
    ignoring = compare(
        frame([{"instance": f"{h}:9100", "openmetrics_id": h, "value": 0.2} for h in HOSTS]),
        expected,
        query="1 - a / ignoring (job) b",
    )
    assert "because of `ignoring (job)`" in ignoring.message


def test_group_left_or_a_set_operator_is_not_blamed():
    expected = frame([node(h, 0.2, release="5.15") for h in HOSTS])
    mine = frame([node(h, 0.2) for h in HOSTS])
    for query in ("node_load1 * on (instance) group_left node_uname_info", "a and on (x) b"):
        assert "did you aggregate it away?" in compare(mine, expected, query=query).message


def test_absent_labels_come_from_its_equality_matchers():
    expected = frame([{"instance": "web-03:9100", "value": 1.0}])
    for mine, query in [
        (
            [{"instance": "web-03:9100", "job": "node", "value": 1.0}],
            'absent_over_time(node_load1{instance="web-03:9100", job="node"}[1m])',
        ),
        ([{"value": 1.0}], 'absent_over_time(node_load1{instance=~"web-03.*"}[1m])'),
    ]:
        feedback = compare(frame(mine), expected, query=query)
        assert "`absent()` and `absent_over_time()` label their 1 with the selector's `=` " in (
            feedback.message
        )
        assert "group_left" not in feedback.message and "without (" not in feedback.message


# -- series: bool ------------------------------------------------------------------------------


def test_bool_keeping_every_series_is_named():
    expected = frame([{"instance": "web-03:8080", "value": 1.55}])
    mine = frame([{"instance": f"web-0{i}:8080", "value": float(i == 3)} for i in range(1, 5)])
    feedback = compare(mine, expected, query="histogram_quantile(0.99, x) > bool 1")
    assert feedback.details[0].startswith(
        "Your values are all 0 or 1: `bool` keeps every series, with 1 where the comparison holds"
    )
    # Without bool in the query the generic hint stays: 0/1 values alone prove nothing.
    plain = compare(mine, expected, query="up")
    assert plain.details[0].startswith("Too many: is a matcher")


# -- values --------------------------------------------------------------------------------------


def test_a_count_of_too_many_series_says_so():
    expected = frame([{"instance": "batch-01:9100", "value": 2.0}])
    mine = frame([{"instance": "batch-01:9100", "value": 16.0}])
    counted = compare(mine, expected, query="count by (instance) (node_cpu_seconds_total)")
    assert counted.details[-1].startswith("Your count is 8 times the expected one")
    # The same numbers from a sum are not a count: 8 is then bits vs bytes, or chance.
    summed = compare(mine, expected, query="sum by (instance) (x)")
    assert summed.details[-1].startswith("Yours is 8 times larger than expected: bits vs bytes?")


def test_value_hint_ignores_tiny_inexact_ratios():
    assert value_hint(60.0 * (1 + 1e-4), 1.0) == ""
    assert value_hint(0.0, 1.0) == ""


# -- an empty binary operation -------------------------------------------------------------------


def test_binary_sides_of_a_query():
    assert binary_sides("sum by (instance, code) (x) / sum by (instance) (x)") == (
        "sum by (instance, code)(x)",
        "/",
        "sum by (instance)(x)",
        False,
        False,
    )
    assert binary_sides("predict_linear(m[1h], 4) < 0")[1:] == ("<", "0", False, True)
    assert binary_sides("rate(x[5m])") is None
    assert binary_sides("not ( valid") is None


def test_no_label_sets_matched():
    hint = empty_binary_hint(
        "/", (16, frozenset({"code", "instance"})), (4, frozenset({"instance"})), None
    )
    assert hint.startswith(
        "Both sides return series (16 on the left, 4 on the right), but no label sets matched"
    )
    assert "Left labels: `code`, `instance`; right labels: `instance`." in hint
    assert "regex" not in hint


def test_a_filter_that_dropped_everything_shows_the_values():
    hint = empty_binary_hint(">", (4, frozenset({"instance"})), None, (0.39, 1.55444))
    assert hint.startswith(
        "The filter `>` dropped every series: before it, the values ran from 0.39 to 1.55444."
    )
    assert "in the right unit" in hint


def test_an_empty_side_is_named():
    hint = empty_binary_hint("/", (3, frozenset({"a"})), (0, frozenset()), None)
    assert hint.startswith("The right side of `/` returns no series")
    assert empty_binary_hint("unless", (3, frozenset()), (3, frozenset()), None) == ""


@pytest.mark.parametrize(
    ("query", "field", "value"),
    [
        ("a / on (instance) b", "one_to_one_matching", ("on (instance)",)),
        ("a / on (instance) group_left b", "one_to_one_matching", ()),
        ('absent(x{a="b"})', "absent", True),
        ('sum(absent(x{a="b"}))', "absent", False),
        ("x > bool 1", "uses_bool", True),
        ("x[5m]", "range_vector", True),
        ("rate(x[5m])", "range_vector", False),
        ("count by (i) (x)", "counting", True),
        ('x{a="on (y)"}', "one_to_one_matching", ()),
    ],
)
def test_query_shapes(query, field, value):
    assert getattr(shape_of(query), field) == value


def test_a_function_swapped_for_another_is_named():
    mine = frame([{"instance": "web-01:8080", "value": 0.0666667}])
    expected = frame([{"instance": "web-01:8080", "value": 0.0333333}])
    feedback = compare(
        mine,
        expected,
        query="max_over_time(irate(x[5m])[1d:1m])",
        expected_query="max_over_time(rate(x[5m])[1d:1m])",
    )
    assert feedback.details[-1].startswith("Is `irate()` the function you mean?")
    averaged = compare(
        mine,
        expected,
        query="avg(histogram_quantile(0.9, sum by (le, instance) (b)))",
        expected_query="histogram_quantile(0.9, sum by (le) (b))",
    )
    assert averaged.details[-1].startswith("An average of percentiles is not a percentile")


# -- the review's tries, against the real demo Prometheus ---------------------------------------

AT = "2026-11-04T03:00:00Z"
BUCKETS = "rate(http_request_duration_seconds_bucket[5m])"
MEMORY = "1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes"
ABSENT = 'absent_over_time(node_load1{instance="web-03:9100"}[1m])'
P99 = f"histogram_quantile(0.99, sum by (le, instance) ({BUCKETS}))"
FORECAST = "predict_linear(node_memory_MemAvailable_bytes[1h], 4 * 3600)"
SHARE = "sum by (instance, code) (rate(http_requests_total[5m]))"
TOTAL = "sum by (instance) (rate(http_requests_total[5m]))"


@pytest.fixture(scope="module")
def client(demo_server):
    from sysmon_magic.client import Client

    with Client(demo_server.url, now=demo_server.now) as connected:
        yield connected


@pytest.mark.parametrize(
    ("expected", "time", "answer", "first_words"),
    [
        (
            'node_cpu_seconds_total{instance="db-01:9100", mode!="idle"}',
            AT,
            'node_cpu_seconds_total{instance="db-01:9100", mode!="idle"}[5m]',
            "Not yet: your query returns a range vector (up to 6 samples per series",
        ),
        (
            MEMORY,
            AT,
            MEMORY.replace("/", "/ on (instance)"),
            "Not yet: your result lacks `job`, `openmetrics_id` because of `on (instance)`",
        ),
        (
            ABSENT,
            "2026-11-05T06:33:00Z",
            ABSENT.replace('"}', '", job="node"}'),
            "Not yet: the labels differ (`job`): `absent()` and `absent_over_time()` label",
        ),
        (
            ABSENT,
            "2026-11-05T06:33:00Z",
            ABSENT.replace('="web-03:9100"', '=~"web-03.*"'),
            "Not yet: the labels differ (`instance`): `absent()`",
        ),
        (f"{P99} > 1", "2026-11-05T06:00:00Z", f"{P99} > bool 1", "Not yet: your result has 4"),
        (f"{FORECAST} < 0", "2026-11-05T04:00:00Z", f"{FORECAST} < bool 0", "Not yet: your"),
        (
            'increase(node_network_receive_bytes_total{instance="db-01:9100"}[1h])',
            AT,
            'increase(node_network_receive_bytes_total{instance="db-01:9100"}[1h]) / 2^20',
            "Not yet: wrong value",
        ),
    ],
)
def test_the_reviews_tries_get_the_real_cause(client, expected, time, answer, first_words):
    from sysmon_magic.teaching import check

    feedback = check(answer, expected, time=time, connection=client)
    assert not feedback
    assert feedback.message.startswith(first_words)
    text = str(feedback)
    assert "did you aggregate" not in text
    assert "a different range" not in text
    if "bool" in answer:
        assert "`bool` keeps every series" in feedback.details[0]
    if "2^20" in answer:
        assert "bytes vs MiB?" in feedback.details[-1]


@pytest.mark.parametrize(
    ("expected", "time", "answer", "hint"),
    [
        (
            f"{SHARE} / ignoring (code) group_left {TOTAL}",
            AT,
            f"{SHARE} / {TOTAL}",
            "Both sides return series (16 on the left, 4 on the right), but no label sets "
            "matched: `/` pairs series with exactly the same labels. Left labels: `code`, "
            "`instance`; right labels: `instance`.",
        ),
        (
            f"{P99} > 1",
            "2026-11-05T06:00:00Z",
            f"{P99} > 1000",
            "The filter `>` dropped every series: before it, the values ran from 0.432583 to "
            "1.55444.",
        ),
        (
            f"{FORECAST} < 0",
            "2026-11-05T04:00:00Z",
            FORECAST.replace("4 * 3600", "4") + " < 0",
            "The filter `<` dropped every series",
        ),
    ],
)
def test_an_empty_binary_operation_says_why(client, expected, time, answer, hint):
    from sysmon_magic.teaching import check

    feedback = check(answer, expected, time=time, connection=client)
    assert feedback.message.startswith("Not yet: your query returned no series")
    assert feedback.details[0].startswith(hint)
    assert "regex" not in str(feedback)


def test_a_rate_of_a_sum_is_named():
    feedback = compare(
        frame([{"value": 196243.26}]),
        frame([{"value": 85.336667}]),
        query="rate(sum(http_requests_total)[5m:1m])",
        expected_query="sum(rate(http_requests_total[5m]))",
    )
    assert feedback.details[-1].startswith("Yours takes `rate()` of a sum")
    assert shape_of("rate((sum by (i) (x))[5m:])").rate_of_sum
    assert not shape_of("sum(rate(x[5m]))").rate_of_sum


def test_an_empty_absent_says_its_selector_found_a_sample():
    expected = frame([{"instance": "web-03:9100", "value": 1.0}])
    feedback = compare(
        frame([]).reindex(columns=["timestamp", "value"]),
        expected,
        query='absent_over_time(node_load1{instance="web-03:9100"}[2m])',
    )
    assert feedback.details == (
        "`absent()` and `absent_over_time()` return nothing when their selector finds a sample: "
        "`absent_over_time(v[d])` finds one anywhere in its window (is it longer than the gap?), "
        "and `absent(v)` finds one up to 5 minutes back through the lookback, on data without "
        "staleness markers such as the demo's.",
    )


def test_a_rate_of_a_sum_that_happens_to_match_is_still_wrong():
    result = frame([{"instance": "web-02:8080", "value": 18.85}])
    feedback = compare(
        result,
        result,
        query="rate(sum by (instance) (http_requests_total)[5m:1m])",
        expected_query="sum by (instance) (rate(http_requests_total[5m]))",
    )
    assert not feedback
    assert feedback.message.startswith("Not yet: your numbers match here, but only by luck")
    assert compare(result, result, query="sum by (instance) (rate(x[5m]))")
