"""How a binary operator's two vectors match: Prometheus' match groups, and the fix to try.

Pure: label sets in (a probe's result, or literals in the tests), a :class:`Matching` out. A group
is the series of both sides that share one match signature; groups with no partner, or with
several series where Prometheus allows one, are what ``--explain`` reports.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "SET_OPERATORS",
    "Cardinality",
    "MatchGroup",
    "Matching",
    "labels_text",
    "match_groups",
    "matching_of",
]

Cardinality = Literal["one-to-one", "many-to-one", "one-to-many", "many-to-many"]
#: The set operators: their matching is many-to-many, and no value is computed.
SET_OPERATORS = frozenset({"and", "or", "unless"})


@dataclass
class MatchGroup:
    """The series of both sides of a binary operator that share one match signature."""

    signature: dict[str, str]
    left: list[dict[str, str]]
    right: list[dict[str, str]]
    #: paired, no partner on the right, no partner on the left, several on the left / right
    status: str

    @property
    def problem(self) -> bool:
        return self.status.startswith("several")


@dataclass
class Matching:
    """How a binary operator's two vectors matched: its groups, and what to do about them."""

    groups: list[MatchGroup]
    summary: str
    diagnosis: str | None = None
    fixes: list[str] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for group in self.groups if group.status == status)


def _signature(
    labels: Mapping[str, str], on: Sequence[str] | None, ignoring: Sequence[str]
) -> tuple[tuple[str, str], ...]:
    """Prometheus' match signature: the ``on`` labels, or all but ``ignoring`` and the name."""
    if on is not None:
        return tuple((name, labels.get(name, "")) for name in sorted(on))
    dropped = {"__name__", *ignoring}
    return tuple(sorted((k, v) for k, v in labels.items() if k not in dropped and v != ""))


def match_groups(
    left: Sequence[Mapping[str, str]],
    right: Sequence[Mapping[str, str]],
    *,
    on: Sequence[str] | None = None,
    ignoring: Sequence[str] = (),
    card: Cardinality = "one-to-one",
    op: str = "/",
) -> Matching:
    """Group two vectors' label sets as Prometheus matches them, and say what went wrong.

    ``on`` (a list, possibly empty, for ``on(...)``) or ``ignoring`` choose the labels of the
    signature; ``card`` is the matching's cardinality (``and``/``or``/``unless`` are
    many-to-many). A group whose "one" side holds several series is an error in Prometheus
    (``several on the right`` for one-to-one and ``group_left``); so are several series on the
    "many" side of a one-to-one match, once they have a partner.
    """
    groups: dict[tuple[tuple[str, str], ...], MatchGroup] = {}
    for side, sets in (("left", left), ("right", right)):
        for labels in sets:
            key = _signature(labels, on, ignoring)
            group = groups.setdefault(key, MatchGroup(dict(key), [], [], ""))
            getattr(group, side).append(dict(labels))
    for group in groups.values():
        group.status = _status(group, card)
    return _judge(list(groups.values()), left, right, on, ignoring, card, op)


def _status(group: MatchGroup, card: Cardinality) -> str:
    lefts, rights = len(group.left), len(group.right)
    if card != "many-to-many":
        one_side = "left" if card == "one-to-many" else "right"
        if len(getattr(group, one_side)) > 1:  # Prometheus refuses this even with no partner
            return f"several on the {one_side}"
        if card == "one-to-one" and lefts > 1 and rights:
            return "several on the left"
    if lefts and rights:
        return "paired"
    return "no partner on the right" if lefts else "no partner on the left"


def _judge(
    groups: list[MatchGroup],
    left: Sequence[Mapping[str, str]],
    right: Sequence[Mapping[str, str]],
    on: Sequence[str] | None,
    ignoring: Sequence[str],
    card: Cardinality,
    op: str,
) -> Matching:
    paired = [g for g in groups if g.status == "paired"]
    lonely_left = sum(len(g.left) for g in groups if g.status == "no partner on the right")
    lonely_right = sum(len(g.right) for g in groups if g.status == "no partner on the left")
    several = [g for g in groups if g.problem]
    summary = (
        f"{len(groups)} match groups: {len(paired)} paired"
        f" ({sum(len(g.left) for g in paired)} left with {sum(len(g.right) for g in paired)} "
        f"right series), {len(several)} with too many series on one side; {lonely_left} left "
        f"and {lonely_right} right series found no partner"
    )
    if op == "or":
        summary += " (the right ones are added to the result)"
    elif op == "unless":
        summary += " (the left ones are the result)"
    elif lonely_left or lonely_right:
        summary += " (dropped from the result)"
    matching = Matching(groups, summary + ".")
    by = ", ".join(on) if on else "..."
    if several:
        side = "left" if several[0].status.endswith("left") else "right"
        matching.diagnosis = (
            f"{len(several)} match groups have several series on the {side}, e.g. "
            f"{labels_text(several[0].signature)}: Prometheus refuses this (many-to-many "
            "matching is not allowed)."
        )
        if card == "one-to-one":
            other = "group_left()" if side == "left" else "group_right()"
            matching.fixes.append(
                f"if each {'right' if side == 'left' else 'left'} series should serve several "
                f"{side} ones, allow it with {other} ({'many-to-one' if side == 'left' else 'one-to-many'})"
            )
        matching.fixes.append(
            f"aggregate the {side} side to one series per group: sum by ({by}) (...)"
        )
        matching.fixes.append(
            "match on more labels, so that each group holds one series per side"
            + _distinguishing(several[0], side)
        )
    elif not paired and left and right and op != "or":
        matching.diagnosis = "No left series found a partner on the right: no label set matched."
        matching.fixes += _pairing_fixes(left, right, on, ignoring)
    return matching


def _distinguishing(group: MatchGroup, side: str) -> str:
    series = getattr(group, side)
    names = sorted(
        name
        for name in {n for labels in series for n in labels} - {"__name__"}
        if len({labels.get(name) for labels in series}) > 1
    )
    return f" (they differ in {', '.join(names)})" if names else ""


def _pairing_fixes(
    left: Sequence[Mapping[str, str]],
    right: Sequence[Mapping[str, str]],
    on: Sequence[str] | None,
    ignoring: Sequence[str],
) -> list[str]:
    """What would make the two sides meet: labels in common whose values overlap."""

    def values(sets: Sequence[Mapping[str, str]]) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for labels in sets:
            for name, value in labels.items():
                if name != "__name__":
                    found.setdefault(name, set()).add(value)
        return found

    lefts, rights = values(left), values(right)
    shared = sorted(set(lefts) & set(rights))
    overlapping = [name for name in shared if lefts[name] & rights[name]]
    differing = [name for name in shared if not lefts[name] & rights[name]]
    fixes = [
        f"{name} never has the same value on both sides (left {min(lefts[name])!r}, right "
        f"{min(rights[name])!r}): leave it out of the match"
        for name in differing[:3]
    ]
    if not overlapping:
        fixes.append(
            "no label has a value in common on both sides: are these the series you meant?"
        )
        return fixes
    if not differing and on is None:
        extra = sorted(set(lefts) ^ set(rights))
        fixes.append(f"the sides' labels differ: try ignoring ({', '.join(extra)})")
        return fixes
    # on (the shared labels): would that pair them one to one, or need a group modifier?
    trial = match_groups(left, right, on=overlapping, card="one-to-one")
    several = [g.status for g in trial.groups if g.problem]
    modifier = ""
    if several and all(status.endswith("left") for status in several):
        modifier = " group_left"
    elif several and all(status.endswith("right") for status in several):
        modifier = " group_right"
    fixes.append(
        f"match on the labels whose values the sides share: on ({', '.join(overlapping)})"
        + modifier
    )
    return fixes


def matching_of(expr: Any) -> tuple[list[str] | None, list[str], Cardinality]:
    """``on``, ``ignoring`` and the cardinality of a binary expression."""
    modifier = expr.modifier
    on: list[str] | None = None
    ignoring: list[str] = []
    if modifier is not None and modifier.matching is not None:
        labels = list(modifier.matching.labels)
        if str(modifier.matching.type).endswith("Include"):
            on = labels
        else:
            ignoring = labels
    if str(expr.op) in SET_OPERATORS:
        return on, ignoring, "many-to-many"
    card = str(modifier.card) if modifier is not None else ""
    if card.endswith("ManyToOne"):
        return on, ignoring, "many-to-one"
    if card.endswith("OneToMany"):
        return on, ignoring, "one-to-many"
    return on, ignoring, "one-to-one"


def labels_text(labels: Mapping[str, str]) -> str:
    """A label set as PromQL writes it: ``{a="1", b="2"}``."""
    return "{" + ", ".join(f'{name}="{value}"' for name, value in labels.items()) + "}"
