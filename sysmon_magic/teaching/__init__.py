"""The course's self-checks: ``exercise(expected, time=...)`` binds a check, learners call it.

- :mod:`.exercises` runs the learner's answer and the expected query through a connection
  (:class:`Exercise`, ``exercise``, :func:`check`);
- :mod:`.feedback` compares two results (:func:`compare`, :class:`Feedback`), :mod:`.results`
  reads a result frame as series, and :mod:`.hints` guesses why two results differ. These three
  are pure: no client, no IPython.
"""

from __future__ import annotations

from .exercises import Answer, Exercise, check, exercise
from .feedback import ATOL, RTOL, Feedback, compare

__all__ = ["ATOL", "RTOL", "Answer", "Exercise", "Feedback", "check", "compare", "exercise"]
