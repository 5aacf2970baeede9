"""The comparison behind the course's checks: two results in, a :class:`Feedback` out.

:func:`compare` reports the most fundamental difference first, because each one makes the next
meaningless: the kind of result (a range vector for an instant exercise), label names, which
series, sample times, then values. Given the learner's query text too, it names causes that only
the query shows (``on (...)`` in a one-to-one match, ``absent()``'s labels, ``bool``); the hints
themselves are in :mod:`.hints`. :mod:`.exercises` runs the queries and calls this. Pure: no
client, no IPython.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..timeparse import format_time
from . import hints
from .results import Namer, Result, SeriesKey, read_result

__all__ = ["ATOL", "RTOL", "Feedback", "compare", "not_yet"]

# Series listed by name in a feedback; more would bury the point.
_MAX_LISTED = 3

#: Default tolerances: equivalent formulations (``rate(x[5m]) * 300`` vs ``increase(x[5m])``)
#: differ in the last bits of a double, never by a part in a billion.
RTOL = 1e-9
ATOL = 1e-12

# -- feedback --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Feedback:
    """The verdict of a check: ``bool(feedback)`` is whether the answer is correct.

    ``message`` is the one thing to fix first (or "Correct! ..."); ``details`` are further facts
    and hints, one sentence each. Inline code is written between backticks, shown as code in HTML.
    """

    correct: bool
    message: str
    details: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return self.correct

    def __str__(self) -> str:
        mark = "✔" if self.correct else "✘"
        return "\n".join([f"{mark} {self.message}", *(f"  - {d}" for d in self.details)])

    def __repr__(self) -> str:
        # The text form is what a notebook shows as text/plain: the feedback itself, not a dataclass.
        return str(self)

    def _repr_html_(self) -> str:
        color, background, mark = (
            ("#2e7d32", "#edf7ed", "✔") if self.correct else ("#b26a00", "#fff4e5", "✘")
        )
        items = "".join(f"<li>{_html_text(d)}</li>" for d in self.details)
        listing = f'<ul style="margin:4px 0 0 0">{items}</ul>' if items else ""
        return (
            f'<div style="border-left:4px solid {color};background:{background};'
            f'padding:6px 12px;margin:2px 0">'
            f'<span style="color:{color};font-weight:bold">{mark}</span> '
            f"{_html_text(self.message)}{listing}</div>"
        )


def _html_text(text: str) -> str:
    """Escape ``text`` and show `backticked` parts as code."""
    parts = html.escape(text, quote=False).split("`")
    # Odd-numbered parts were between backticks.
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def not_yet(message: str, *details: str) -> Feedback:
    return Feedback(False, f"Not yet: {message}", tuple(d for d in details if d))


def _code_list(names: Iterable[str]) -> str:
    return ", ".join(f"`{n}`" for n in sorted(names))


def _plural(n: int, word: str) -> str:
    # "series" is its own plural.
    return f"{n} {word}" if n == 1 or word.endswith("s") else f"{n} {word}s"


def _number(value: Any, other: Any = None) -> str:
    """``value`` with 6 significant digits, or more when needed to tell it from ``other``."""
    if not isinstance(value, float):  # numpy's float64 is a float too
        return str(value)
    value = float(value)
    for digits in (6, 10):
        text = f"{value:.{digits}g}"
        if not isinstance(other, float) or text != f"{float(other):.{digits}g}":
            return text
    return repr(value)


# -- the comparison --------------------------------------------------------------------------


def compare(
    answer: pd.DataFrame,
    expected: pd.DataFrame,
    *,
    query: str | None = None,
    expected_query: str | None = None,
    rtol: float = RTOL,
    atol: float = ATOL,
) -> Feedback:
    """Compare a learner's result with the expected one; the first difference is the message.

    Differences are reported from the most to the least fundamental, because each one makes the
    next meaningless: a range vector where one value per series is expected, label names (the
    shape of the result), then which series, then sample times, then values (equal within
    ``rtol``/``atol``; NaN equals NaN). ``query``, the learner's PromQL if known, lets the
    feedback name causes that only the query shows; with ``expected_query`` too, a function
    used in place of another (``irate`` for ``rate``).
    """
    mine, reference = read_result(answer), read_result(expected)
    shape, reference_shape = hints.shape_of(query), hints.shape_of(expected_query)
    swapped = hints.function_hint(shape, reference_shape) if query else ""
    if not mine.series and reference.series:
        return not_yet(
            "your query returned no series; the expected result has "
            f"{_plural(len(reference.series), 'series')}.",
            hints.ABSENT_FOUND_SAMPLES
            if shape.absent
            else "An empty result is not an error, so nothing says why: check the metric name "
            "and each matcher (label values are case-sensitive, and a `=~` regex must match the "
            "whole value: `web.*`, not `web`), then what each function returns when it finds "
            "nothing.",
        )
    if mine.series and not reference.series:
        return not_yet(
            f"your result has {_plural(len(mine.series), 'series')}; the expected result is empty.",
            "An alert-style query returns nothing while all is well: is a filter such as "
            "`> 0.05` missing?",
        )
    # Not `a or b or c`: an incorrect Feedback is falsy.
    for step in (
        lambda: _compare_kind(mine, reference),
        lambda: _compare_labels(mine, reference, shape),
        lambda: _compare_series(mine, reference, shape),
        lambda: _compare_samples(mine, reference, shape, swapped, rtol, atol),
    ):
        feedback = step()
        if feedback is not None:
            return feedback
    if shape.rate_of_sum and not reference_shape.rate_of_sum:
        # The one wrong formulation that can give the right numbers: while no counter in a sum
        # resets alone (a host's counters all restart together), the rate of the sum is right.
        return not_yet(
            "your numbers match here, but only by luck: `rate()` of a sum takes any one "
            "counter's reset for a reset of the whole sum, and counts nearly all of it as new.",
            "Take `rate()` of each counter first, then `sum` the rates: `sum by (...) (rate(...))`.",
        )
    return _correct(reference)


def _correct(reference: Result) -> Feedback:
    if len(reference.series) == 1:
        (samples,) = reference.series.values()
        if len(samples) == 1:
            return Feedback(True, f"Correct! The value is {_number(samples.iloc[0])}.")
    if len(reference.series) == 1:
        return Feedback(True, "Correct! Your series matches the expected result.")
    return Feedback(
        True, f"Correct! Your {len(reference.series)} series match the expected result."
    )


def _compare_kind(mine: Result, reference: Result) -> Feedback | None:
    """A range vector (several samples per series) handed in for an instant exercise."""
    times = reference.timestamps
    if len(times) != 1 or any(len(s) != 1 for s in reference.series.values()):
        return None
    (at,) = times
    most = max(len(s) for s in mine.series.values())
    if most < 2 or any(t > at for t in mine.timestamps):
        return None
    return not_yet(
        f"your query returns a range vector (up to {most} samples per series, from the window "
        "before the evaluation time); the exercise asks for one value per series.",
        "A duration in brackets (`[5m]`) after a selector picks every sample of the window: "
        "drop it for the newest sample, or hand the window to a function that makes one value "
        "of it, such as `rate()` or `max_over_time()`.",
    )


def _compare_labels(mine: Result, reference: Result, shape: hints.QueryShape) -> Feedback | None:
    extra = mine.label_names - reference.label_names
    missing = reference.label_names - mine.label_names
    if not extra and not missing:
        return None
    keep = sorted(reference.label_names - {"__name__"})
    lacking, keeping = missing - {"__name__"}, extra - {"__name__", "le"}
    # Most telling first: a cause the query shows (`absent()`, `on` in one-to-one matching);
    # then a missing label, which is what the exercise asks for; `le` and the metric name have
    # causes of their own that a generic "aggregate it away" would hide.
    found = []
    if shape.absent and (lacking or keeping):
        found.append(hints.absent_hint(_code_list(lacking | keeping)))
        lacking = keeping = frozenset()
    elif lacking and hints.missing_labels_hint(shape, lacking):
        found.append(hints.missing_labels_hint(shape, lacking))
        lacking = frozenset()
    if lacking:
        found.append(
            f"your result lacks the {_label_word(lacking)} {_code_list(lacking)}: did you "
            f"aggregate {_them(lacking)} away? Keep {_them(lacking)} in `by (...)`, or bring "
            f"{_them(lacking)} in from another metric with `group_left (...)`."
        )
    if "le" in extra:
        found.append(
            "your result keeps the label `le`, the histogram's bucket bounds: "
            "`histogram_quantile()` turns the buckets (summed `by (le, ...)`) into one value."
        )
    if keeping:
        how = (
            f"list what to keep with `by ({', '.join(keep)})`"
            if keep
            else "aggregate everything, with no `by`"
        )
        found.append(
            f"your result keeps the {_label_word(keeping)} {_code_list(keeping)}, which the "
            f"expected result does not have: aggregate {_them(keeping)} away with "
            f"`without ({', '.join(sorted(keeping))})`, or {how}."
        )
    if "__name__" in extra:
        found.append(
            "your result still carries the metric name (`__name__`), while the expected one is "
            "computed from the samples: arithmetic, aggregations and most functions (`rate()`, "
            "`max_over_time()`) drop the name."
        )
    if "__name__" in missing:
        found.append(
            "the expected result keeps the metric name (`__name__`): a plain selector, a filter "
            "such as `> 1`, `topk()`/`bottomk()`, `sort()`, `label_replace()` and "
            "`last_over_time()` keep it, while arithmetic, aggregations and most functions "
            "drop it."
        )
    shapes = f"Yours: {_shape(mine)}; expected: {_shape(reference)}."
    return not_yet(found[0], *(_capitalized(h) for h in found[1:]), shapes)


def _shape(result: Result) -> str:
    count = _plural(len(result.series), "series")
    if not result.label_names:
        return f"{count} with no labels"
    return f"{count} labelled {_code_list(result.label_names)}"


def _capitalized(text: str) -> str:
    return text[:1].upper() + text[1:]


def _label_word(names: frozenset[str]) -> str:
    return "label" if len(names) == 1 else "labels"


def _them(names: frozenset[str]) -> str:
    return "it" if len(names) == 1 else "them"


def _compare_series(mine: Result, reference: Result, shape: hints.QueryShape) -> Feedback | None:
    namer = Namer([*mine.series, *reference.series])
    missing = [k for k in reference.series if k not in mine.series]
    extra = [k for k in mine.series if k not in reference.series]
    if not missing and not extra:
        return None
    n_mine, n_ref = len(mine.series), len(reference.series)
    if n_mine == n_ref:
        message = f"your result has the right number of series ({n_mine}), but not the same ones."
        hint = "Compare the label values below: a matcher on the wrong value?"
    else:
        message = (
            f"your result has {_plural(n_mine, 'series')}; "
            f"the expected result has {_plural(n_ref, 'series')}."
        )
        values = [v for series in mine.series.values() for v in series]
        hint = (
            hints.bool_hint(shape, values)
            or "Too many: is a matcher, or a filter such as `> 0.01`, missing?"
            if n_mine > n_ref
            else "Too few: is a matcher too strict, or a filter dropping series?"
        )
    return not_yet(
        message,
        hint,
        _listing("Missing", missing, namer),
        _listing("Not expected", extra, namer),
    )


def _listing(what: str, keys: list[SeriesKey], namer: Namer) -> str:
    if not keys:
        return ""
    names = sorted(namer(k) for k in keys)
    shown = ", ".join(f"`{n}`" for n in names[:_MAX_LISTED])
    more = f" and {len(names) - _MAX_LISTED} more" if len(names) > _MAX_LISTED else ""
    return f"{what}: {shown}{more}."


def _compare_samples(
    mine: Result,
    reference: Result,
    shape: hints.QueryShape,
    swapped: str,
    rtol: float,
    atol: float,
) -> Feedback | None:
    namer = Namer(reference.series)
    for key, expected in sorted(reference.series.items()):
        yours = mine.series[key]
        if not yours.index.equals(expected.index):
            only_yours = yours.index.difference(expected.index)
            only_expected = expected.index.difference(yours.index)
            counts = (
                f" ({len(yours)} vs {len(expected)} samples)" if len(yours) != len(expected) else ""
            )
            if only_yours.empty and len(yours):
                # Same grid, some steps missing: the query returned nothing there, not 0.
                return not_yet(
                    f"your `{namer(key)}` has gaps: no sample at {len(only_expected)} of the "
                    f"expected {len(expected)} times.",
                    _first_time("Missing at", only_expected),
                    "At those times your query returned nothing; an empty result is not 0 "
                    "(`... or on () vector(0)` fills it in).",
                )
            return not_yet(
                f"your samples of `{namer(key)}` are at other times than the expected "
                f"ones{counts}.",
                _first_time("Missing at", only_expected),
                _first_time("Not expected at", only_yours),
                "Evaluate at the exercise's time or window (`--time`, `--start`/`--end`, `--step`).",
            )
    differing = []
    for key, expected in sorted(reference.series.items()):
        where = _first_difference(mine.series[key], expected, rtol, atol)
        if where is not None:
            differing.append((key, where))
    if not differing:
        return None
    key, timestamp = differing[0]
    yours, expected = mine.series[key][timestamp], reference.series[key][timestamp]
    at = f" at {_time_text(timestamp)}" if len(reference.timestamps) > 1 else ""
    # A result without labels (a sum of everything, a scalar) has no name worth showing.
    which = f" for `{namer(key)}`" if key else ""
    return not_yet(
        f"wrong value{which}{at}: yours is {_number(yours, expected)}, "
        f"expected {_number(expected, yours)}.",
        f"Values differ in {len(differing)} of {_plural(len(reference.series), 'series')}."
        if len(reference.series) > 1
        else "",
        hints.value_hint(yours, expected, counting=shape.counting) or swapped,
    )


def _first_time(what: str, times: pd.Index) -> str:
    if len(times) == 0:
        return ""
    more = f" and {len(times) - 1} more" if len(times) > 1 else ""
    return f"{what} {_time_text(times[0])}{more}."


def _time_text(timestamp: Any) -> str:
    if isinstance(timestamp, pd.Timestamp):
        return format_time(timestamp.timestamp())
    return str(timestamp)


def _first_difference(yours: pd.Series, expected: pd.Series, rtol: float, atol: float) -> Any:
    """The first timestamp whose values differ, or None."""
    a, b = yours.to_numpy(), expected.to_numpy()
    if a.dtype.kind == "f" and b.dtype.kind == "f":
        same = np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=True)
    else:  # string results
        same = np.array([x == y for x, y in zip(a, b, strict=True)], dtype=bool)
    if same.all():
        return None
    return expected.index[int(np.argmin(same))]
