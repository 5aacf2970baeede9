"""The course's self-check: feedback for each kind of difference on literal frames, and one run
through a real InteractiveShell against the demo server."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from sysmon_magic import demo
from sysmon_magic.errors import SysmonUsageError
from sysmon_magic.frames import to_tidy, to_wide
from sysmon_magic.teaching import Exercise, Feedback, check, compare, exercise

T = pd.Timestamp("2026-11-04T03:00:00Z")
T2 = T + pd.Timedelta("1min")


def tidy(*series: dict[str, object], times: list[pd.Timestamp] | None = None) -> pd.DataFrame:
    """A tidy frame like the client's: a row per (series, time); ``value`` may be a list per time.

    Labels are categorical columns, a label a series lacks is NaN, as in frames.py.
    """
    times = times or [T]
    rows = []
    for labels in series:
        values = labels["value"]
        values = values if isinstance(values, list) else [values]
        for timestamp, value in zip(times, values, strict=True):
            rows.append(
                {
                    "timestamp": timestamp,
                    **{k: v for k, v in labels.items() if k != "value"},
                    "value": value,
                }
            )
    frame = pd.DataFrame(rows, columns=None if rows else ["timestamp", "value"])
    for column in frame.columns:
        if column not in ("timestamp", "value"):
            frame[column] = frame[column].astype("category")
    return frame


def web(host: str, value: object, **labels: str) -> dict[str, object]:
    return {"instance": f"{host}:8080", **labels, "value": value}


PER_INSTANCE = tidy(web("web-01", 19.5), web("web-02", 21.0))


# -- correct ---------------------------------------------------------------------------------


def test_the_same_result_is_correct_whatever_the_row_order():
    feedback = compare(PER_INSTANCE.iloc[::-1], PER_INSTANCE)
    assert feedback
    assert feedback.correct
    assert feedback.message == "Correct! Your 2 series match the expected result."
    assert str(feedback) == "✔ Correct! Your 2 series match the expected result."


def test_a_single_value_is_named():
    one = tidy({"value": 0.1})
    assert compare(one, one).message == "Correct! The value is 0.1."


def test_values_within_the_tolerance_and_nan_match():
    expected = tidy(web("web-01", 1.0), web("web-02", math.nan))
    assert compare(tidy(web("web-01", 1.0000000000000002), web("web-02", math.nan)), expected)
    assert not compare(tidy(web("web-01", 1.001), web("web-02", math.nan)), expected)


def test_both_empty_is_correct():
    empty = tidy()
    assert compare(empty, empty)


# -- labels ----------------------------------------------------------------------------------


def test_extra_labels_suggest_without_and_by():
    answer = tidy(
        web("web-01", 19.0, code="200", handler="/a"), web("web-02", 0.5, code="500", handler="/a")
    )
    feedback = compare(answer, PER_INSTANCE)
    assert not feedback
    assert feedback.message == (
        "Not yet: your result keeps the labels `code`, `handler`, which the expected result does "
        "not have: aggregate them away with `without (code, handler)`, or list what to keep with "
        "`by (instance)`."
    )
    assert feedback.details == (
        "Yours: 2 series labelled `code`, `handler`, `instance`; expected: 2 series labelled "
        "`instance`.",
    )


def test_extra_labels_when_everything_should_be_aggregated():
    feedback = compare(PER_INSTANCE, tidy({"value": 40.5}))
    assert "`without (instance)`" in feedback.message
    assert "aggregate everything, with no `by`" in feedback.message
    assert (
        feedback.details[-1]
        == "Yours: 2 series labelled `instance`; expected: 1 series with no labels."
    )


def test_a_kept_metric_name_says_functions_drop_it():
    answer = tidy(
        {"__name__": "http_requests_total", **web("web-01", 19.5)},
        {"__name__": "http_requests_total", **web("web-02", 21.0)},
    )
    feedback = compare(answer, PER_INSTANCE)
    assert feedback.message.startswith(
        "Not yet: your result still carries the metric name (`__name__`)"
    )
    assert "`rate()`" in feedback.message


def test_a_missing_metric_name_says_what_keeps_it():
    expected = tidy({"__name__": "node_load1", "instance": "db-01:9100", "value": 2.0})
    feedback = compare(tidy({"instance": "db-01:9100", "value": 2.0}), expected)
    assert "the expected result keeps the metric name" in feedback.message
    assert "`> 1`" in feedback.message


def test_a_missing_label_suggests_by_or_group_left():
    feedback = compare(tidy({"value": 40.5}), PER_INSTANCE)
    assert feedback.message == (
        "Not yet: your result lacks the label `instance`: did you aggregate it away? Keep it in "
        "`by (...)`, or bring it in from another metric with `group_left (...)`."
    )


def test_a_missing_label_comes_before_the_metric_name():
    # `node_load1` where `node_load1 * on (instance) group_left (release) node_uname_info` is due.
    answer = tidy({"__name__": "node_load1", "instance": "a", "value": 1.0})
    feedback = compare(answer, tidy({"instance": "a", "release": "6.1", "value": 1.0}))
    assert feedback.message.startswith("Not yet: your result lacks the label `release`")
    assert feedback.details[0].startswith("Your result still carries the metric name")


def test_a_kept_le_label_points_at_histogram_quantile():
    answer = tidy({"le": "0.1", "value": 5.0}, {"le": "+Inf", "value": 6.0})
    feedback = compare(answer, tidy({"value": 0.08}))
    assert "`le`, the histogram's bucket bounds" in feedback.message
    assert "`histogram_quantile()`" in feedback.message


def test_a_label_only_some_series_have_counts():
    # A tidy frame gives every series every label column; NaN means "not this series".
    answer = tidy(web("web-01", 1.0), {"instance": "web-02:8080", "code": "500", "value": 2.0})
    expected = tidy(web("web-01", 1.0), web("web-02", 2.0))
    assert "keeps the label `code`" in compare(answer, expected).message


# -- series ----------------------------------------------------------------------------------


def test_no_series_at_all():
    feedback = compare(tidy(), PER_INSTANCE)
    assert (
        feedback.message
        == "Not yet: your query returned no series; the expected result has 2 series."
    )
    assert "a `=~` regex must match the whole value" in feedback.details[0]


def test_series_where_none_are_expected():
    feedback = compare(PER_INSTANCE, tidy())
    assert feedback.message == "Not yet: your result has 2 series; the expected result is empty."
    assert "`> 0.05`" in feedback.details[0]


def test_too_many_series_are_listed():
    hosts = [web(f"web-0{i}", float(i)) for i in range(1, 7)]
    feedback = compare(tidy(*hosts), tidy(*hosts[:2]))
    assert (
        feedback.message == "Not yet: your result has 6 series; the expected result has 2 series."
    )
    assert feedback.details == (
        "Too many: is a matcher, or a filter such as `> 0.01`, missing?",
        'Not expected: `{instance="web-03:8080"}`, `{instance="web-04:8080"}`, '
        '`{instance="web-05:8080"}` and 1 more.',
    )


def test_too_few_series():
    feedback = compare(tidy(web("web-02", 21.0)), PER_INSTANCE)
    assert (
        feedback.message == "Not yet: your result has 1 series; the expected result has 2 series."
    )
    assert feedback.details == (
        "Too few: is a matcher too strict, or a filter dropping series?",
        'Missing: `{instance="web-01:8080"}`.',
    )


def test_the_right_number_of_other_series():
    feedback = compare(tidy(web("web-01", 19.5), web("web-03", 21.0)), PER_INSTANCE)
    assert feedback.message == (
        "Not yet: your result has the right number of series (2), but not the same ones."
    )
    assert feedback.details[1:] == (
        'Missing: `{instance="web-02:8080"}`.',
        'Not expected: `{instance="web-03:8080"}`.',
    )


def test_series_are_named_by_the_labels_that_tell_them_apart():
    def node(name: str, host: str, mode: str) -> dict[str, object]:
        # openmetrics_id follows instance one to one: showing both would say nothing more.
        labels = {"__name__": name, "instance": f"{host}:9100", "openmetrics_id": f"id-{host}"}
        return {**labels, "job": "node", "mode": mode, "value": 1.0}

    expected = tidy(node("cpu", "db-01", "user"))
    answer = tidy(
        node("cpu", "db-01", "user"), node("cpu", "db-01", "idle"), node("cpu", "web-01", "idle")
    )
    assert compare(answer, expected).details[1] == (
        'Not expected: `{instance="db-01:9100", mode="idle", …}`, '
        '`{instance="web-01:9100", mode="idle", …}`.'
    )
    other_metric = compare(tidy(node("load", "db-01", "user")), expected)
    assert other_metric.details[1:] == (
        "Missing: `cpu{…}`.",
        "Not expected: `load{…}`.",
    )


def test_a_lone_series_is_named_in_full():
    feedback = compare(
        tidy({"__name__": "up", "job": "node", "value": 0.0}),
        tidy({"__name__": "up", "job": "node", "value": 1.0}),
    )
    assert feedback.message == 'Not yet: wrong value for `up{job="node"}`: yours is 0, expected 1.'


# -- samples and values ----------------------------------------------------------------------


def test_samples_at_other_times():
    later = T + pd.Timedelta(minutes=5)
    feedback = compare(tidy(web("web-01", 1.0), times=[later]), tidy(web("web-01", 1.0)))
    assert feedback.message == (
        'Not yet: your samples of `{instance="web-01:8080"}` are at other times than the '
        "expected ones."
    )
    assert feedback.details[:2] == (
        "Missing at 2026-11-04T03:00:00Z.",
        "Not expected at 2026-11-04T03:05:00Z.",
    )


def test_samples_missing_at_some_steps_are_gaps_not_other_times():
    later = T + pd.Timedelta(minutes=5)
    feedback = compare(
        tidy({"value": 1.0}, times=[T]), tidy({"value": [1.0, 0.0]}, times=[T, later])
    )
    assert (
        feedback.message == "Not yet: your `{}` has gaps: no sample at 1 of the expected 2 times."
    )
    assert feedback.details == (
        "Missing at 2026-11-04T03:05:00Z.",
        "At those times your query returned nothing; an empty result is not 0 "
        "(`... or on () vector(0)` fills it in).",
    )


def test_a_wrong_value_names_the_series_and_both_values():
    feedback = compare(tidy(web("web-01", 19.5), web("web-02", 20.0)), PER_INSTANCE)
    assert feedback.message == (
        'Not yet: wrong value for `{instance="web-02:8080"}`: yours is 20, expected 21.'
    )
    assert feedback.details == ("Values differ in 1 of 2 series.",)


def test_close_values_get_enough_digits_to_differ():
    feedback = compare(tidy({"value": 0.1000001}), tidy({"value": 0.1}))
    assert feedback.message == "Not yet: wrong value: yours is 0.1000001, expected 0.1."


def test_a_wrong_value_in_a_range_names_the_time():
    times = [T, T + pd.Timedelta(minutes=1)]
    feedback = compare(
        tidy(web("web-01", [1.0, 3.0]), times=times), tidy(web("web-01", [1.0, 2.0]), times=times)
    )
    assert feedback.message == (
        'Not yet: wrong value for `{instance="web-01:8080"}` at 2026-11-04T03:01:00Z: '
        "yours is 3, expected 2."
    )


@pytest.mark.parametrize(
    ("yours", "expected", "hint"),
    [
        (60.0, 1.0, "Yours is 60 times larger than expected: per second vs per minute?"),
        (1.0, 3600.0, "Yours is 3600 times smaller than expected: per second vs per hour?"),
        (50.0, 0.5, "Yours is 100 times larger than expected: a percentage vs a fraction?"),
        (8.0, 1.0, "Yours is 8 times larger than expected: bits vs bytes?"),
        (2.0**20, 1.0, "Yours is 1048576 times larger than expected: bytes vs MiB?"),
        (1.0, 1024.0**3, "Yours is 1073741824 times smaller than expected: bytes vs GiB?"),
        (0.25, 250.0, "Yours is 1000 times smaller than expected: seconds vs milliseconds"),
        (math.inf, 0.16, "Yours is infinite: a division by zero, or `histogram_quantile()`"),
        (0.25, 0.75, "Yours is 1 minus the expected value: the complement (used vs available)?"),
        (-3.0, 3.0, "Yours has the opposite sign: are the operands of `-` swapped?"),
        (math.nan, 3.0, "Yours is NaN, which usually comes from 0/0"),
        (1.3, 1.0, None),
        # Whole factors that mean nothing get no hint: chance, or far too large to tell.
        (7.0, 1.0, None),
        (2.0, 1.0, None),  # irate twice rate: no "a different range?"
        (1.0, 356.0, None),  # resets() = 1 against increase() = 356
        (3.57077e9 * 4.6327, 0.215859 * 4.6327, None),
        (16542142464.0, 1.0, None),
        (1227270.0, 2.0, None),
    ],
)
def test_value_hints(yours, expected, hint):
    feedback = compare(tidy({"value": yours}), tidy({"value": expected}))
    assert not feedback
    if hint is None:
        assert feedback.details == ()
    else:
        assert feedback.details[-1].startswith(hint)


def test_a_wide_frame_is_read_as_its_series():
    index = pd.DatetimeIndex([T], name="timestamp")
    columns = pd.MultiIndex.from_tuples(
        [("web-01:8080", ""), ("web-02:8080", "500")], names=["instance", "code"]
    )
    wide = pd.DataFrame([[19.5, 21.0]], index=index, columns=columns)
    expected = tidy(web("web-01", 19.5), {"instance": "web-02:8080", "code": "500", "value": 21.0})
    assert compare(wide, expected)
    no_labels = pd.DataFrame(
        [[0.1]], index=index, columns=pd.MultiIndex.from_tuples([("{}",)], names=["series"])
    )
    assert compare(no_labels, tidy({"value": 0.1}))


def test_a_wide_scalar_is_read_as_one_value():
    scalar = pd.DataFrame({"value": [0.5]}, index=pd.DatetimeIndex([T], name="timestamp"))
    assert compare(scalar, tidy({"value": 0.5})).message == "Correct! The value is 0.5."


def test_a_frame_without_values_is_refused():
    with pytest.raises(SysmonUsageError, match="with `timestamp` and `value` columns"):
        compare(pd.DataFrame({"instance": ["a"]}), PER_INSTANCE)


# -- Feedback and exercise -------------------------------------------------------------------


def test_feedback_text_and_html():
    feedback = Feedback(False, "Not yet: use `a<b`.", ("first & second",))
    assert str(feedback) == repr(feedback) == "✘ Not yet: use `a<b`.\n  - first & second"
    markup = feedback._repr_html_()
    assert "<code>a&lt;b</code>" in markup
    assert "<li>first &amp; second</li>" in markup
    assert "#b26a00" in markup  # amber for "not yet"
    assert "#2e7d32" in Feedback(True, "Correct!")._repr_html_()


def test_an_exercise_does_not_give_its_solution_away():
    bound = exercise("secret_metric_name", time="2026-11-04T03:00:00Z")
    assert "secret" not in repr(bound)
    assert repr(bound).startswith("<exercise evaluated at 2026-11-04T03:00:00Z")
    ranged = exercise("secret", start="2026-11-04T00:00:00Z", end="2026-11-04T03:00:00Z", step="5m")
    assert "from 2026-11-04T00:00:00Z to 2026-11-04T03:00:00Z every 5m" in repr(ranged)


@pytest.mark.parametrize(
    "kwargs",
    [{"start": "now-1h"}, {"time": "now", "start": "now-1h", "end": "now"}, {"end": "now"}],
)
def test_an_exercise_takes_a_time_or_a_window(kwargs):
    with pytest.raises(SysmonUsageError, match="time=, or start= and end="):
        exercise("up", **kwargs)
    with pytest.raises(SysmonUsageError, match="needs its expected query"):
        exercise("  ")


def test_check_refuses_other_answers():
    with pytest.raises(SysmonUsageError, match="takes a PromQL string or a DataFrame, not int"):
        check(42, "up")  # type: ignore[arg-type]


def test_check_is_an_exercise_called_once():
    # One definition of the options: check() validates them as exercise() does.
    with pytest.raises(SysmonUsageError, match="time=, or start= and end="):
        check("up", "up", start="now-1h")
    with pytest.raises(TypeError, match="lookback"):
        check("up", "up", lookback="5m")
    # The expected query stripped once, in the one definition.
    assert exercise(" up ", start="now-1h", end="now", step="1m") == Exercise(
        "up", start="now-1h", end="now", step="1m"
    )


def test_a_result_goes_wide_and_back_to_tidy():
    answer = tidy(web("web-01", [1.0, 2.0]), web("web-02", [3.0, 4.0], code="500"), times=[T, T2])
    back = to_tidy(to_wide(answer))
    assert compare(back, answer)
    assert back.loc[back["instance"] == "web-01:8080", "code"].isna().all()


# -- through a real shell, against the demo server -------------------------------------------

AT = "2026-11-04T03:00:00Z"
PER_HOST = "sum by (instance) (rate(http_requests_total[5m]))"


def test_check_through_a_shell_against_the_demo(shell, demo_server):
    shell.run_line_magic("sysmon_connect", "demo")
    check_1 = exercise(PER_HOST, time=AT)

    assert check_1(PER_HOST.replace("rate(", "increase(") + " / 300")  # another formulation
    assert check_1("rate(http_requests_total[5m])").message.startswith(
        "Not yet: your result keeps the labels `code`, `handler`, `job`, `method`, `openmetrics_id`"
    )
    assert check_1("sum(rate(http_requests_total[5m]))").message.startswith(
        "Not yet: your result lacks the label `instance`"
    )
    refused = check_1("sum by (instance) (rate(http_requests_total[5m])")
    assert not refused
    assert refused.message.startswith("Not yet: your query did not run. Bad query:")

    # The learner's frame from a %%promql cell, at the exercise's time and at another one.
    shell.run_cell_magic("promql", f"--instant --time {AT} -o t_answer", PER_HOST)
    assert check_1(shell.user_ns["t_answer"]).details == ()
    shell.run_cell_magic("promql", "--instant --time 2026-11-05T06:00:00Z -o t_elsewhere", PER_HOST)
    moved = check_1(shell.user_ns["t_elsewhere"])
    assert moved
    assert moved.details == (
        "Your frame was evaluated elsewhere; the exercise is at 2026-11-04T03:00:00Z, so your "
        "query was run there.",
    )

    # The known exact value: the load balancer's health checks, 6 a minute.
    healthz = exercise(
        'rate(http_requests_total{handler="/healthz", instance="web-01:8080"}[5m])', time=AT
    )
    assert healthz(
        'increase(http_requests_total{handler="/healthz", instance="web-01:8080"}[5m]) / 300'
    ).message == (f"Correct! The value is {demo.KNOWN_HEALTHZ_RATE}.")


def test_a_range_exercise_through_a_shell(shell, demo_server):
    shell.run_line_magic("sysmon_connect", "demo")
    window = {"start": "2026-11-05T06:00:00Z", "end": "2026-11-05T07:00:00Z", "step": "1m"}
    check_2 = exercise('node_load1{instance="web-03:9100"}', **window)
    shell.run_cell_magic(
        "promql",
        "--start 2026-11-05T06:00:00Z --end 2026-11-05T07:00:00Z --step 1m -o t_load",
        'node_load1{instance=~"web-03.*"}',
    )
    assert check_2(shell.user_ns["t_load"]).details == ()
    # With no step in the exercise, a frame is judged at the step it was drawn with.
    free_step = exercise(
        'node_load1{instance="web-03:9100"}', start=window["start"], end=window["end"]
    )
    shell.run_cell_magic(
        "promql",
        f"--start {window['start']} --end {window['end']} --step 5m -o t_coarse",
        'node_load1{instance=~"web-03.*"}',
    )
    coarse = free_step(shell.user_ns["t_coarse"])
    assert coarse.message == "Correct! Your series matches the expected result."
    assert coarse.details == ()
    shifted = check_2('node_load1{instance="web-03:9100"} offset 1m')
    assert shifted.message.startswith(
        'Not yet: wrong value for `node_load1{instance="web-03:9100", job="node", openmetrics_id='
    )
    assert " at 2026-11-05T06:0" in shifted.message


def test_check_needs_a_connection(shell):
    with pytest.raises(SysmonUsageError, match="Not connected"):
        exercise("up", time=AT)("up")
