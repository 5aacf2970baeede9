"""Self-checks for PromQL exercises: run the learner's answer and the expected query, say what differs.

A lesson binds each exercise to its reference query and evaluation time; the learner only ever
calls the bound check with a query string or a frame from ``%%promql -o NAME``::

    check_1 = exercise("sum by (instance) (rate(http_requests_total[5m]))",
                       time="2026-11-04T03:00:00Z")
    check_1("rate(http_requests_total[5m])")
    # Not yet: your result keeps the labels `code`, `handler`, ... aggregate them away ...

The comparison is on results, never on the query's text, so every correct formulation passes;
the text only helps name the cause of a difference. :func:`~.feedback.compare` is the pure part
(two frames in, :class:`~.feedback.Feedback` out); this module runs the queries through a
connection (by default the notebook's current ``%sysmon_connect``, found by
:func:`~sysmon_magic.connections.current_client`) first.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass, replace
from typing import TYPE_CHECKING, Any, TypeAlias

import pandas as pd

from ..errors import APIError, SysmonUsageError
from ..frames import NOT_LABELS
from ..provenance import Provenance
from ..timeparse import format_time, parse_duration, parse_time
from . import hints
from .feedback import ATOL, RTOL, Feedback, compare, not_yet

if TYPE_CHECKING:
    from ..query_client import QueryClient, TimeLike

__all__ = ["Answer", "Exercise", "check", "exercise"]

#: What a learner hands in: PromQL text, or the DataFrame a ``%%promql`` cell returned.
Answer: TypeAlias = str | pd.DataFrame


@dataclass(frozen=True, repr=False)
class Exercise:
    """An exercise's check, bound to its reference query and window: call it with an answer.

    ``check_1 = exercise("...", time="2026-11-04T03:00:00Z")`` in a lesson; the learner calls
    ``check_1("their query")`` or ``check_1(their_frame)`` and gets a :class:`Feedback`.

    Both queries run as instant queries at ``time`` (default: the connection's now), or as range
    queries from ``start`` to ``end`` (every ``step``, default automatic) when those are given,
    through ``connection`` (a :class:`~sysmon_magic.Client` or a connection name; default: the
    current ``%sysmon_connect``). Values are equal within ``rtol``/``atol``.
    """

    expected: str
    _: KW_ONLY
    time: TimeLike | None = None
    start: TimeLike | None = None
    end: TimeLike | None = None
    step: float | str | None = None
    connection: QueryClient | str | None = None
    rtol: float = RTOL
    atol: float = ATOL

    def __post_init__(self) -> None:
        # Fail here, in the lesson's setup, rather than in the learner's first check.
        start, end = self.start, self.end
        if (start is None) != (end is None) or (self.time is not None and start is not None):
            raise SysmonUsageError("An exercise takes time=, or start= and end= (and step=).")
        if not self.expected.strip():
            raise SysmonUsageError("An exercise needs its expected query.")
        object.__setattr__(self, "expected", self.expected.strip())  # frozen: set once, here

    def __repr__(self) -> str:
        if self.start is not None:
            step = f" every {self.step}" if self.step is not None else ""
            where = f"from {self.start} to {self.end}{step}"
        else:
            where = f"at {self.time}" if self.time is not None else "now"
        # Not the expected query: that is the exercise's solution.
        return (
            f"<exercise evaluated {where}: call it with your query (a string) or the frame of "
            "your %%promql -o NAME cell>"
        )

    def __call__(self, answer: Answer) -> Feedback:
        """Check ``answer``: PromQL text, or the frame of your ``%%promql -o NAME`` cell.

        A frame evaluated at another time or window is re-run from its query there, with a
        note, because the verdict is about the query. A query the server refuses is feedback,
        not an exception; an ``expected`` query that fails raises (the lesson is wrong).
        """
        if not isinstance(answer, (str, pd.DataFrame)):
            raise SysmonUsageError(
                f"check() takes a PromQL string or a DataFrame, not {type(answer).__name__}."
            )
        client = _client(self.connection)
        window = _Window.resolve(client, self)
        expected, rtol, atol = self.expected, self.rtol, self.atol
        note = ""
        if isinstance(answer, str):
            query = answer.strip()
            if not query:
                return not_yet("the answer is empty: write a PromQL query.")
        else:
            provenance = Provenance.of(answer)
            if window.step is None and window.matches(provenance):
                # The exercise leaves the step free: judge the frame at the step it was drawn with.
                window = replace(window, step=provenance.step)
            if not provenance.query or window.matches(provenance):
                reference = window.run(client, expected)
                return compare(answer, reference, query=provenance.query, rtol=rtol, atol=atol)
            query = provenance.query
            note = (
                f"Your frame was evaluated elsewhere; the exercise is {window.describe()}, so "
                "your query was run there."
            )
        reference = window.run(client, expected)
        try:
            mine = window.run(client, query)
        except APIError as exc:
            return not_yet(f"your query did not run. {exc}", note)
        feedback = compare(
            mine, reference, query=query, expected_query=expected, rtol=rtol, atol=atol
        )
        if mine.empty and not reference.empty:
            why = _why_empty(client, window, query)
            if why:
                feedback = not_yet(feedback.message.removeprefix("Not yet: "), why)
        if note:
            return Feedback(feedback.correct, feedback.message, (*feedback.details, note))
        return feedback


#: ``exercise(expected, time=...)``, as lessons write it: the :class:`Exercise` itself.
exercise = Exercise


def check(answer: Answer, expected: str, **options: Any) -> Feedback:
    """Run ``answer`` (PromQL or a ``%%promql`` frame) and ``expected``, and compare the results.

    ``options`` are :class:`Exercise`'s (``time``, ``start``/``end``/``step``, ``connection``,
    ``rtol``, ``atol``): ``check(answer, expected, **options)`` is
    ``Exercise(expected, **options)(answer)``.
    """
    return Exercise(expected, **options)(answer)


# -- running the queries ---------------------------------------------------------------------


def _client(connection: QueryClient | str | None) -> QueryClient:
    """The client to query: the one given, or a connection of the notebook's ``%sysmon_connect``."""
    if connection is None or isinstance(connection, str):
        from ..connections import current_client  # the IPython glue, only when it is needed

        return current_client(connection)
    return connection


@dataclass(frozen=True)
class _Window:
    """Where an exercise is evaluated: at ``time``, or from ``start`` to ``end`` every ``step``."""

    time: float | None = None
    start: float | None = None
    end: float | None = None
    step: float | None = None

    @classmethod
    def resolve(cls, client: QueryClient, bound: Exercise) -> _Window:
        """The exercise's times in seconds, relative ones (``now-1h``) read on the client's clock."""
        now = client.now()
        if bound.start is not None and bound.end is not None:
            step = bound.step
            seconds = parse_duration(step) if isinstance(step, str) else step
            start, end = parse_time(bound.start, now), parse_time(bound.end, now)
            return cls(start=start, end=end, step=seconds)
        return cls(time=parse_time(bound.time if bound.time is not None else now, now))

    def run(self, client: QueryClient, query: str) -> pd.DataFrame:
        if self.start is not None and self.end is not None:
            return client.query_range(query, self.start, self.end, self.step)
        return client.query(query, self.time)

    def matches(self, provenance: Provenance) -> bool:
        """Whether a frame's provenance says it was evaluated at this window."""
        if self.start is not None:
            step_ok = self.step is None or provenance.step == self.step
            return provenance.start == self.start and provenance.end == self.end and step_ok
        return provenance.time == self.time

    def describe(self) -> str:
        if self.start is not None and self.end is not None:
            step = f" every {self.step:g} s" if self.step is not None else ""
            return f"from {format_time(self.start)} to {format_time(self.end)}{step}"
        return f"at {format_time(self.time)}" if self.time is not None else "now"


def _why_empty(client: QueryClient, window: _Window, query: str) -> str:
    """Why a binary operation returned nothing, from running each of its sides; "" otherwise."""
    sides = hints.binary_sides(query)
    if sides is None:
        return ""
    left_text, operator, right_text, left_scalar, right_scalar = sides
    try:
        left = None if left_scalar else window.run(client, left_text)
        right = None if right_scalar else window.run(client, right_text)
    except APIError:
        return ""
    values = None
    vector = left if left is not None else right
    if (left is None) != (right is None) and vector is not None and not vector.empty:
        numbers = pd.to_numeric(vector["value"], errors="coerce").dropna()
        if not numbers.empty:
            values = (float(numbers.min()), float(numbers.max()))
    return hints.empty_binary_hint(operator, _summary(left), _summary(right), values)


def _summary(frame: pd.DataFrame | None) -> tuple[int, frozenset[str]] | None:
    """A side's number of series and label names (``None`` for a number)."""
    if frame is None:
        return None
    if frame.empty:
        return 0, frozenset()
    labels = [str(c) for c in frame.columns if c not in NOT_LABELS]
    series = frame[labels].astype(object).drop_duplicates() if labels else frame.iloc[:1]
    names = frozenset(n for n in labels if n != "__name__" and frame[n].notna().any())
    return len(series), names
