"""An :class:`~sysmon_magic.explain.Explanation` as text (its repr) and as an HTML table."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from .matching import Matching, labels_text

if TYPE_CHECKING:
    from . import Explanation, LabelCount, Node

__all__ = ["SHOWN_GROUPS", "explanation_html", "explanation_text"]

#: Match groups listed per binary operator (problems first); the counts cover them all.
SHOWN_GROUPS = 10


def explanation_text(explanation: Explanation) -> str:
    """The tree indented, a node a line, with its details under it."""
    lines = [f"Explain {explanation.query}" + (f" at {explanation.at}" if explanation.at else "")]
    for node in explanation.nodes:
        indent = "  " * node.depth
        lines.append(f"{indent}{node.promql}  [{node.kind}] {node.meaning}{_result(node)}")
        details = [node.metadata] if node.metadata else []
        if node.labels:
            details.append("labels: " + ", ".join(map(str, node.labels)))
        details += [f"warning: {warning}" for warning in node.warnings]
        if node.matching is not None:
            details += _matching_lines(node.matching)
        lines += [f"{indent}    {detail}" for detail in details]
    return "\n".join(lines)


def explanation_html(explanation: Explanation) -> str:
    """A table, a node a row, indented by depth; a label's top values on hover."""
    rows = "".join(_html_row(node) for node in explanation.nodes)
    return (
        "<table><thead><tr><th>expression</th><th>kind</th><th>what it does</th>"
        f"<th>series</th><th>labels (distinct values)</th></tr></thead><tbody>{rows}"
        "</tbody></table>"
    )


def _result(node: Node) -> str:
    if node.error:
        return f" · error: {node.error}"
    if node.series is None:
        return ""
    return f" · {node.series:,} series in {round((node.seconds or 0) * 1000)} ms"


def _matching_lines(matching: Matching) -> list[str]:
    lines = [matching.summary]
    if matching.diagnosis:
        lines.append(matching.diagnosis)
    lines += [f"fix: {fix}" for fix in matching.fixes]
    problems = sorted(matching.groups, key=lambda g: (not g.problem, g.status != "paired"))
    for group in problems[:SHOWN_GROUPS]:
        lines.append(
            f"  {labels_text(group.signature)}: {len(group.left)} left, "
            f"{len(group.right)} right · {group.status}"
        )
    if len(matching.groups) > SHOWN_GROUPS:
        lines.append(f"  ... {len(matching.groups) - SHOWN_GROUPS} more groups")
    return lines


def _html_row(node: Node) -> str:
    meaning = html.escape(node.meaning)
    if node.metadata:
        meaning += f"<br><small>{html.escape(node.metadata)}</small>"
    for warning in node.warnings:
        meaning += f"<br><small style='color:#a33'>⚠ {html.escape(warning)}</small>"
    if node.matching is not None:
        meaning += "<br><small>" + "<br>".join(
            html.escape(line) for line in _matching_lines(node.matching)
        )
        meaning += "</small>"
    labels = ", ".join(
        f"<span title='{html.escape(_top_text(label))}'>{html.escape(str(label))}</span>"
        for label in node.labels
    )
    return (
        "<tr>"
        f"<td style='text-align:left;padding-left:{0.5 + 1.5 * node.depth}em'>"
        f"<code>{html.escape(node.promql)}</code></td>"
        f"<td style='text-align:left'>{node.kind}</td>"
        f"<td style='text-align:left'>{meaning}</td>"
        f"<td style='text-align:right'>{html.escape(_result(node).strip(' ·'))}</td>"
        f"<td style='text-align:left'>{labels}</td>"
        "</tr>"
    )


def _top_text(label: LabelCount) -> str:
    return ", ".join(f"{value} ({count})" for value, count in label.top)
