"""Every check() try of the course review (shared/reviews/learning.md, 223 tries, lessons 1 to 8),
and the tries written with lessons 9 onwards, against the lessons' own exercises on the demo Prometheus: each gets the right verdict, and no feedback falls
back on a cause that the review found wrong ("a different range", the regex-anchoring hint for a
binary operation)."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from sysmon_magic.client import Client
from sysmon_magic.teaching import check
from sysmon_magic.teaching.hints import binary_sides

ROOT = Path(__file__).parent.parent
TRIES = json.loads((ROOT / "tests" / "teaching_tries.json").read_text())


def lesson_exercises() -> dict[tuple[int, int], tuple[str, dict[str, object]]]:
    """``(lesson, n) -> (expected, window)``, read from each lesson's setup cell."""
    found: dict[tuple[int, int], tuple[str, dict[str, object]]] = {}
    for path in sorted((ROOT / "notebooks" / "course").glob("[0-9][0-9]-*.ipynb")):
        lesson = int(path.name[:2])
        setup = nbformat.read(path, as_version=4).cells[2].source
        names: dict[str, object] = {}

        def exercise(expected: str, **window: object) -> tuple[str, dict[str, object]]:
            return expected, window

        code = setup.replace("from sysmon_magic.teaching import exercise", "")
        exec(code, {"exercise": exercise}, names)  # the lessons' own setup cell
        for name, value in names.items():
            if name.startswith("check_"):
                found[(lesson, int(name.removeprefix("check_")))] = value  # type: ignore[assignment]
    return found


@pytest.fixture(scope="module")
def client(demo_server):
    with Client(demo_server.url, now=demo_server.now) as connected:
        yield connected


@pytest.fixture(scope="module")
def exercises():
    return lesson_exercises()


def test_the_tries_cover_every_exercise(exercises):
    assert {(t["lesson"], t["exercise"]) for t in TRIES} == set(exercises)


@pytest.mark.parametrize("lesson", sorted({t["lesson"] for t in TRIES}))
def test_the_reviews_tries_get_the_right_verdict(client, exercises, lesson):
    wrong = []
    for attempt in (t for t in TRIES if t["lesson"] == lesson):
        expected, window = exercises[(lesson, attempt["exercise"])]
        feedback = check(attempt["answer"], expected, connection=client, **window)
        text = str(feedback)
        verdict = "pass" if feedback else "reject"
        problems = []
        if verdict != attempt["verdict"]:
            problems.append(f"{verdict}, not {attempt['verdict']}")
        if "cause" in attempt and attempt["cause"] not in text:
            problems.append(f"no {attempt['cause']!r}")
        if "a different range" in text:
            problems.append("the catch-all factor hint")
        if "regex must match" in text and binary_sides(attempt["answer"]) is not None:
            problems.append("the regex hint for a binary operation")
        if problems:
            wrong.append(f"ex {attempt['exercise']} {attempt['answer']!r}: {problems}\n{text}")
    assert not wrong, "\n\n".join(wrong)
