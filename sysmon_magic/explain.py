"""``%%promql --explain``: a query's tree, each node in one plain sentence, with live probes.

Like the Prometheus UI's Explain tab: the query is parsed on the client (``promql-parser``),
then every sub-expression that yields series is run as an instant query. Each node shows its
series count and time, its label names with their number of distinct values (the most common
values on hover), a selector its metric's TYPE and HELP (``/api/v1/metadata``), and a binary
operator between two vectors its match groups: which left and right series paired up, which
found no partner, which groups hold too many series, and the fix to try. Range selectors and
subqueries are probed as ``last_over_time(...)``, which is cheap and counts the same series.

The server is the authority on syntax (``promql-parser`` lags Prometheus): a query the client
cannot parse is sent whole; if the server refuses it too, the error keeps the server's
position (line and column).
"""

from __future__ import annotations

import html
import re
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .errors import QueryError, SysmonError, SysmonUsageError

if TYPE_CHECKING:
    import pandas as pd

    from .query_client import QueryClient

__all__ = [
    "Explanation",
    "LabelCount",
    "MatchGroup",
    "Matching",
    "Node",
    "explain",
    "label_counts",
    "match_groups",
    "parse",
]

Cardinality = Literal["one-to-one", "many-to-one", "one-to-many", "many-to-many"]

_FUNCTIONS = {
    "rate": "Per-second average rate of increase of each counter over the range, corrected for resets.",
    "irate": "Per-second rate from the last two samples of each counter in the range: spiky, instant.",
    "increase": "How much each counter grew over the range, corrected for resets and extrapolated to the range's edges.",
    "delta": "Difference between the first and last value of each gauge over the range, extrapolated to its edges.",
    "idelta": "Difference between the last two samples of each gauge in the range.",
    "deriv": "Per-second derivative of each gauge over the range (least-squares).",
    "resets": "How many times each counter went down in the range (one count per series).",
    "changes": "How many times each series changed value in the range.",
    "histogram_quantile": "Estimates a quantile from cumulative histogram buckets (the le label: at most that value).",
    "histogram_fraction": "Estimates the fraction of observations between two values, from native histograms.",
    "histogram_count": "The number of observations of each native histogram.",
    "histogram_sum": "The sum of observations of each native histogram.",
    "histogram_avg": "The average observation of each native histogram.",
    "histogram_stddev": "The standard deviation of the observations of each native histogram.",
    "histogram_stdvar": "The variance of the observations of each native histogram.",
    "predict_linear": "Predicts each series' value that far ahead, from a linear fit over the range.",
    "holt_winters": "Smooths each gauge over the range (double exponential smoothing).",
    "double_exponential_smoothing": "Smooths each gauge over the range (double exponential smoothing).",
    "absent": "One series of value 1 if the selector matches nothing, labelled by its = matchers (for alerts).",
    "absent_over_time": "One series of value 1 if the selector had no sample in the range, labelled by its = matchers.",
    "abs": "Absolute value of each sample.",
    "ceil": "Rounds each value up to an integer.",
    "floor": "Rounds each value down to an integer.",
    "round": "Rounds each value to the nearest multiple (default 1).",
    "sqrt": "Square root of each value.",
    "exp": "e to the power of each value.",
    "ln": "Natural logarithm of each value.",
    "log2": "Base-2 logarithm of each value.",
    "log10": "Base-10 logarithm of each value.",
    "sgn": "The sign of each value: 1, 0 or -1.",
    "clamp": "Limits each value to between the minimum and the maximum.",
    "clamp_min": "Raises each value to at least the minimum.",
    "clamp_max": "Lowers each value to at most the maximum.",
    "label_replace": "Writes a label from a regex match on another label; the metric name is kept.",
    "label_join": "Joins several labels' values into a new label; the metric name is kept.",
    "vector": "Turns a number into one series without labels.",
    "scalar": "Turns a single series into a number (NaN if there is not exactly one).",
    "time": "The evaluation time, in unix seconds.",
    "timestamp": "The timestamp of each series' sample, in unix seconds.",
    "minute": "The minute of the hour (UTC) of each value, read as a unix time (default: now).",
    "hour": "The hour of the day (UTC) of each value, read as a unix time (default: now).",
    "day_of_week": "The day of the week (0 = Sunday, UTC) of each value read as a unix time (default: now).",
    "day_of_month": "The day of the month (UTC) of each value read as a unix time (default: now).",
    "day_of_year": "The day of the year (UTC) of each value read as a unix time (default: now).",
    "days_in_month": "The number of days in the month (UTC) of each value read as a unix time.",
    "month": "The month (1-12, UTC) of each value read as a unix time (default: now).",
    "year": "The year (UTC) of each value read as a unix time (default: now).",
    "sort": "Sorts series by value, ascending; labels and metric name kept.",
    "sort_desc": "Sorts series by value, descending; labels and metric name kept.",
    "sort_by_label": "Sorts series by the values of the given labels.",
    "sort_by_label_desc": "Sorts series by the values of the given labels, descending.",
    "pi": "The number pi.",
    "deg": "Converts each value from radians to degrees.",
    "rad": "Converts each value from degrees to radians.",
    "info": "Adds the labels of matching info metrics (target_info) to each series.",
}
_OVER_TIME = "{what} of each series' samples over the range."
_OVER_TIME_WHAT = {
    "avg": "Average",
    "min": "Minimum",
    "max": "Maximum",
    "sum": "Sum",
    "count": "Number",
    "last": "Last value",
    "first": "First value",
    "quantile": "Quantile",
    "stddev": "Standard deviation",
    "stdvar": "Variance",
    "mad": "Median absolute deviation",
    "present": "1 for each series with any sample",
}
_AGGREGATIONS = {
    "sum": "Adds up",
    "avg": "Averages",
    "min": "Takes the minimum of",
    "max": "Takes the maximum of",
    "count": "Counts",
    "group": "Groups (value 1)",
    "stddev": "Takes the standard deviation of",
    "stdvar": "Takes the variance of",
    "topk": "Keeps the {param} largest of",
    "bottomk": "Keeps the {param} smallest of",
    "limitk": "Keeps {param} of",
    "limit_ratio": "Keeps a {param} share of",
    "quantile": "Takes the {param} quantile of",
}
# How each arithmetic operator reads, with its left operand {l} and right operand {r}.
_ARITHMETIC = {
    "+": "Adds {r} to {l}",
    "-": "Subtracts {r} from {l}",
    "*": "Multiplies {l} by {r}",
    "/": "Divides {l} by {r}",
    "%": "Takes the remainder of {l} divided by {r}",
    "^": "Raises {l} to the power of {r}",
    "atan2": "Takes atan2 of {l} and {r}",
}
_COMMUTATIVE = frozenset({"+", "*"})
_COMPARISONS = frozenset({"==", "!=", ">", "<", ">=", "<="})
_MIRRORED = {">": "<", "<": ">", ">=": "<=", "<=": ">=", "==": "==", "!=": "!="}
_SET_OPERATORS = frozenset({"and", "or", "unless"})
#: Top values shown per label (on hover in a notebook).
TOP_VALUES = 5
#: Match groups listed per binary operator (problems first); the counts cover them all.
SHOWN_GROUPS = 10


@dataclass
class LabelCount:
    """One label of a node's result: how many distinct values, and the most common ones."""

    name: str
    distinct: int
    top: list[tuple[str, int]]

    def __str__(self) -> str:
        return f"{self.name} ({self.distinct})"


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


@dataclass
class Node:
    """One sub-expression: its PromQL, kind, meaning, depth, and what a probe found."""

    promql: str
    kind: str
    meaning: str
    depth: int
    probe: str | None  # the instant query that counts its series; None for numbers and strings
    series: int | None = None
    seconds: float | None = None
    error: str | None = None
    labels: list[LabelCount] = field(default_factory=list)
    #: a selector's metric: "counter: Total HTTP requests." from the server's metadata
    metadata: str | None = None
    warnings: list[str] = field(default_factory=list)
    matching: Matching | None = None
    expr: Any = field(default=None, repr=False)
    children: list[Node] = field(default_factory=list, repr=False)
    frame: pd.DataFrame | None = field(default=None, repr=False)


class Explanation:
    """The explained tree of a query; shown as a table in notebooks, as text elsewhere."""

    def __init__(self, query: str, nodes: list[Node], at: str | None = None) -> None:
        self.query = query
        self.nodes = nodes
        self.at = at

    def __repr__(self) -> str:
        lines = [f"Explain {self.query}" + (f" at {self.at}" if self.at else "")]
        for node in self.nodes:
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

    def _repr_html_(self) -> str:
        rows = "".join(_html_row(node) for node in self.nodes)
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
            f"  {_labels_text(group.signature)}: {len(group.left)} left, "
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


def _labels_text(labels: Mapping[str, str]) -> str:
    return "{" + ", ".join(f'{name}="{value}"' for name, value in labels.items()) + "}"


# -- parsing -----------------------------------------------------------------------------------

_POSITION = re.compile(r"(\d+):(\d+): parse error: (.*)")


def parse(query: str) -> Any:
    """Parse PromQL on the client; a syntax error is a one-line ``SysmonUsageError``."""
    import promql_parser

    try:
        return promql_parser.parse(query)
    except ValueError as exc:
        raise SysmonUsageError(f"PromQL syntax error: {exc}.") from None


def syntax_error(query: str, server_message: str) -> SysmonUsageError | None:
    """The one-line error for the server's ``1:16: parse error: ...``, with its position shown
    in the query (``⟨here⟩``); ``None`` if the message is not a syntax error."""
    found = _POSITION.search(server_message)
    if found is None:
        return None
    line, column, message = int(found[1]), int(found[2]), found[3]
    lines = query.splitlines() or [""]
    text = lines[min(line, len(lines)) - 1]
    cut = min(max(column - 1, 0), len(text))
    excerpt = f"{text[:cut][-40:]}⟨here⟩{text[cut:][:20]}"
    return SysmonUsageError(
        f"PromQL syntax error at line {line}, column {column}: {message}: {excerpt}"
    )


# -- explaining --------------------------------------------------------------------------------


def explain(
    query: str, client: QueryClient | None = None, time_: float | None = None
) -> Explanation:
    """Explain ``query``; with a ``client``, probe every sub-expression at ``time_``.

    Raises
    ------
    SysmonUsageError
        A syntax error: the server's, with its position, when there is a server to ask.
    """
    import promql_parser

    try:
        tree = promql_parser.parse(query)
    except ValueError as exc:
        if client is None:
            raise SysmonUsageError(f"PromQL syntax error: {exc}.") from None
        return _unparsed(query, str(exc), client, time_)
    root = _build(tree, 0)
    nodes = list(_flatten(root))
    if client is None:
        return Explanation(query, nodes)
    from .timeparse import format_time

    at = client.now() if time_ is None else time_
    for node in nodes:
        if node.probe is not None:
            _probe(node, client, at)
    metadata = _Metadata(client)
    for node in nodes:
        _annotate(node, metadata)
    return Explanation(query, nodes, format_time(at))


def _unparsed(query: str, reason: str, client: QueryClient, time_: float | None) -> Explanation:
    """A query ``promql-parser`` refuses: the server decides, and gives a position if wrong."""
    from .timeparse import format_time

    at = client.now() if time_ is None else time_
    node = Node(
        query,
        "query",
        f"promql-parser cannot split this query ({reason}), but the server runs it: shown whole.",
        0,
        query,
    )
    try:
        _probe(node, client, at, raise_errors=True)
    except QueryError as exc:
        error = syntax_error(query, exc.server_message)
        if error is not None:
            raise error from None
        node.error = str(exc)
    return Explanation(query, [node], format_time(at))


def _probe(node: Node, client: QueryClient, at: float, *, raise_errors: bool = False) -> None:
    started = time.perf_counter()
    try:
        frame = client.query(node.probe or node.promql, at)
    except SysmonError as exc:
        if raise_errors:
            raise
        node.error = str(exc)
        return
    node.seconds = time.perf_counter() - started
    node.series = len(frame)
    node.frame = frame
    node.labels = label_counts(_label_sets(frame))


def label_counts(label_sets: Sequence[Mapping[str, str]]) -> list[LabelCount]:
    """Each label name of a result with its number of distinct values and its top values."""
    values: dict[str, Counter[str]] = {}
    for labels in label_sets:
        for name, value in labels.items():
            values.setdefault(name, Counter())[value] += 1
    return [
        LabelCount(name, len(counts), counts.most_common(TOP_VALUES))
        for name, counts in sorted(values.items())
    ]


def _label_sets(frame: pd.DataFrame) -> list[dict[str, str]]:
    """The label set of each row of an instant result (missing labels left out)."""
    import pandas as pd

    names = [c for c in frame.columns if c not in ("timestamp", "value")]
    return [
        {name: str(value) for name, value in zip(names, row, strict=True) if not pd.isna(value)}
        for row in frame[names].itertuples(index=False, name=None)
    ]


class _Metadata:
    """The server's TYPE and HELP of metrics, asked once per metric."""

    def __init__(self, client: QueryClient) -> None:
        self.client = client
        self.known: dict[str, tuple[str, str] | None] = {}

    def of(self, metric: str) -> tuple[str, str] | None:
        if metric not in self.known:
            try:
                rows = self.client.metadata(metric)
            except SysmonError:  # metadata is a help, never a reason to fail
                rows = None
            if rows is None or rows.empty:
                self.known[metric] = None
            else:
                self.known[metric] = (str(rows["type"].iloc[0]), str(rows["help"].iloc[0]))
        return self.known[metric]


_COUNTER_FUNCTIONS = frozenset({"rate", "irate", "increase", "resets"})
_GAUGE_FUNCTIONS = frozenset({"delta", "idelta", "deriv", "predict_linear", "holt_winters"})


def _annotate(node: Node, metadata: _Metadata) -> None:
    """Metadata of selectors, warnings that teach, match groups of binary operators."""
    import promql_parser as pp

    expr = node.expr
    if isinstance(expr, pp.VectorSelector) and expr.name:
        known = metadata.of(expr.name)
        if known is not None:
            kind, help_text = known
            node.metadata = f"{expr.name} is a {kind}: {help_text}"
    elif isinstance(expr, pp.Call):
        name = expr.func.name
        selector = _selector_in(expr.args[0]) if expr.args else None
        if selector is not None and selector.name:
            known = metadata.of(selector.name)
            metric_type = known[0] if known else None
            if name in _COUNTER_FUNCTIONS and metric_type == "gauge":
                node.warnings.append(
                    f"{selector.name} is a gauge: {name}() is for counters; "
                    "deriv() or delta() measure how a gauge changes."
                )
            elif name in _GAUGE_FUNCTIONS and metric_type == "counter":
                node.warnings.append(
                    f"{selector.name} is a counter: {name}() does not handle its resets; "
                    "use rate() or increase()."
                )
        if name == "histogram_quantile" and len(node.children) > 1:
            buckets = node.children[1]
            if buckets.series and not any(label.name == "le" for label in buckets.labels):
                node.warnings.append(
                    "its argument has no le label, so there are no buckets to read: keep le "
                    "in the aggregation, e.g. sum by (le) (rate(x_bucket[5m]))."
                )
    elif isinstance(expr, pp.BinaryExpr) and len(node.children) == 2:
        left, right = node.children
        if left.frame is not None and right.frame is not None:
            on, ignoring, card = _matching_of(expr)
            node.matching = match_groups(
                _label_sets(left.frame),
                _label_sets(right.frame),
                on=on,
                ignoring=ignoring,
                card=card,
                op=str(expr.op),
            )


def _selector_in(expr: Any) -> Any:
    import promql_parser as pp

    while isinstance(expr, pp.ParenExpr | pp.SubqueryExpr):
        expr = expr.expr
    if isinstance(expr, pp.MatrixSelector):
        return expr.vector_selector
    return expr if isinstance(expr, pp.VectorSelector) else None


# -- match groups --------------------------------------------------------------------------------


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
            f"{_labels_text(several[0].signature)}: Prometheus refuses this (many-to-many "
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


def _matching_of(expr: Any) -> tuple[list[str] | None, list[str], Cardinality]:
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
    if str(expr.op) in _SET_OPERATORS:
        return on, ignoring, "many-to-many"
    card = str(modifier.card) if modifier is not None else ""
    if card.endswith("ManyToOne"):
        return on, ignoring, "many-to-one"
    if card.endswith("OneToMany"):
        return on, ignoring, "one-to-many"
    return on, ignoring, "one-to-one"


# -- the tree and its sentences ----------------------------------------------------------------

_EMPTY_BRACES = re.compile(r'("(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`)|\{\}')


def shown(expr: Any) -> str:
    """The parser's text of a node, without the ``{}`` it adds to every bare selector."""
    return _EMPTY_BRACES.sub(lambda m: m[1] or "", str(expr))


def _flatten(node: Node) -> Iterator[Node]:
    yield node
    for child in node.children:
        yield from _flatten(child)


def _build(expr: Any, depth: int) -> Node:
    import promql_parser as pp

    while isinstance(expr, pp.ParenExpr):
        expr = expr.expr
    text = shown(expr)

    def node(kind: str, meaning: str, probe: str | None, children: Sequence[Any] = ()) -> Node:
        built = Node(text, kind, meaning, depth, probe, expr=expr)
        built.children = [_build(child, depth + 1) for child in children]
        return built

    if isinstance(expr, pp.VectorSelector):
        return node("selector", _selector_meaning(expr), text)
    if isinstance(expr, pp.MatrixSelector):
        meaning = f"The samples of the last {_duration(expr.range)} of each selected series."
        return node("range selector", meaning, f"last_over_time({text})", [expr.vector_selector])
    if isinstance(expr, pp.SubqueryExpr):
        step = f" every {_duration(expr.step)}" if expr.step else " at the default resolution"
        meaning = (
            f"Runs the inner query{step} over the last {_duration(expr.range)} (a subquery): "
            "each step looks back for a sample as an instant query does, so gaps are filled."
        )
        return node("subquery", meaning, f"last_over_time({text})", [expr.expr])
    if isinstance(expr, pp.Call):
        return node("function", _function_meaning(expr.func.name), _probe_of(expr), expr.args)
    if isinstance(expr, pp.AggregateExpr):
        children = [expr.param, expr.expr] if expr.param is not None else [expr.expr]
        return node("aggregation", _aggregation_meaning(expr), text, children)
    if isinstance(expr, pp.BinaryExpr):
        return node("binary operator", binary_meaning(expr), _probe_of(expr), [expr.lhs, expr.rhs])
    if isinstance(expr, pp.UnaryExpr):
        what = "the number" if is_scalar(expr.expr) else "every value"
        return node("negation", f"Negates {what}.", _probe_of(expr), [expr.expr])
    if isinstance(expr, pp.NumberLiteral):
        return node("number", f"The number {text}.", None)
    if isinstance(expr, pp.StringLiteral):
        return node("string", "A string argument.", None)
    return node(type(expr).__name__, "", text)  # a node kind this version does not know


def is_scalar(expr: Any) -> bool:
    """Whether an expression yields a number rather than series (no matching applies to it)."""
    import promql_parser as pp

    while isinstance(expr, pp.ParenExpr):
        expr = expr.expr
    if isinstance(expr, pp.NumberLiteral):
        return True
    if isinstance(expr, pp.Call):
        return str(expr.func.return_type) == "ValueType.Scalar"
    if isinstance(expr, pp.UnaryExpr):
        return is_scalar(expr.expr)
    if isinstance(expr, pp.BinaryExpr):
        return is_scalar(expr.lhs) and is_scalar(expr.rhs)
    return False


def _probe_of(expr: Any) -> str | None:
    """Probe an expression only if it yields series (a scalar result has no series to count)."""
    return None if is_scalar(expr) else shown(expr)


def _duration(value: Any) -> str:
    from .timeparse import format_duration

    return format_duration(value.total_seconds())


def _selector_meaning(expr: Any) -> str:
    matchers = [f"{m.name} {_MATCH[str(m.op)]} {m.value!r}" for m in expr.matchers.matchers]
    what = f"the series named {expr.name}" if expr.name else "every series"
    where = f" whose {', '.join(matchers)}" if matchers else ""
    extra = ""
    if expr.offset:
        extra += f", as they were {_duration(expr.offset)} earlier"
    if expr.at:
        extra += f", at the fixed time {str(expr.at).removeprefix('@ ')}"
    return (
        f"Selects {what}{where}{extra}: the latest sample of each within the lookback "
        "(5 minutes by default), unless the series went stale."
    )


_MATCH = {
    "MatchOp.Equal": "is",
    "MatchOp.NotEqual": "is not",
    "MatchOp.Re": "matches",
    "MatchOp.NotRe": "does not match",
}


def _function_meaning(name: str) -> str:
    if name.endswith("_over_time") and name.removesuffix("_over_time") in _OVER_TIME_WHAT:
        return _OVER_TIME.format(what=_OVER_TIME_WHAT[name.removesuffix("_over_time")])
    return _FUNCTIONS.get(name, f"The function {name}() (see the Prometheus documentation).")


def _grouping(modifier: Any) -> tuple[str, str]:
    """(" per distinct a, b" | ", dropping a", what is left of the labels)."""
    if modifier is None:
        return "", "dropping every label"
    labels = ", ".join(modifier.labels)
    if str(modifier.type).endswith("Without"):
        return f", dropping {labels}", "one result per set of the other labels"
    return f" per distinct {labels}", "dropping every other label"


def _aggregation_meaning(expr: Any) -> str:
    op = str(expr.op)
    modifier = expr.modifier
    groups, rest = _grouping(modifier)
    if op == "count_values":
        label = str(expr.param).strip("\"'`")
        return (
            f"Counts how many series have each distinct value{groups}: one result per value, "
            f"which goes into a new label {label}; the result's value is the count."
        )
    verb = _AGGREGATIONS.get(op, f"Aggregates ({op})").format(param=shown(expr.param))
    if op in ("topk", "bottomk", "limitk", "limit_ratio"):  # these keep series and labels
        return f"{verb} the series{groups}, labels and metric name kept."
    if modifier is None:
        return f"{verb} all series into one, dropping every label."
    if str(modifier.type).endswith("Without"):
        return f"{verb} the series{groups}: {rest}."
    return f"{verb} the series{groups}, {rest}."


def binary_meaning(expr: Any) -> str:
    """One sentence for a binary operator: what it computes and which labels the result has."""
    op = str(expr.op)
    modifier = expr.modifier
    returns_bool = modifier is not None and modifier.return_bool
    left_scalar, right_scalar = is_scalar(expr.lhs), is_scalar(expr.rhs)
    if left_scalar and right_scalar:
        return _scalar_meaning(op, shown(expr.lhs), shown(expr.rhs))
    if left_scalar or right_scalar:
        number = shown(expr.lhs if left_scalar else expr.rhs)
        return _vector_scalar_meaning(op, number, left_scalar, returns_bool)
    on, ignoring, card = _matching_of(expr)
    partner = _partner(on, ignoring)
    if op in _SET_OPERATORS:
        sentence = {
            "and": f"Keeps the left series that have a right series {partner}",
            "or": f"Takes every left series, plus the right series with no left series {partner}",
            "unless": f"Keeps the left series that have no right series {partner}",
        }[op]
        return f"{sentence}; values and labels are the series' own."
    if op in _COMPARISONS:
        if returns_bool:
            what = (
                f"Compares each left value with the right series' {partner}: 1 where left {op} "
                "right, 0 where not (bool keeps every matched pair)"
            )
        else:
            what = f"Keeps the left series whose value is {op} that of the right series {partner}"
    else:
        what = _ARITHMETIC[op].format(
            l="each left series' value", r=f"that of the right series {partner}"
        )
    return f"{what}. {_result_labels(expr, on, ignoring, card, op, returns_bool)}"


def _partner(on: Sequence[str] | None, ignoring: Sequence[str]) -> str:
    if on is not None:
        return f"with the same {', '.join(on)}" if on else "(any: on() matches all)"
    if ignoring:
        return f"with the same labels apart from {', '.join(ignoring)}"
    return "with the same labels"


def _result_labels(
    expr: Any,
    on: Sequence[str] | None,
    ignoring: Sequence[str],
    card: Cardinality,
    op: str,
    returns_bool: bool,
) -> str:
    """Which labels a vector-vector arithmetic or comparison result has, as Prometheus builds them."""
    name_dropped = op not in _COMPARISONS or returns_bool
    name = ", without the metric name" if name_dropped else ""
    if card == "one-to-one":
        if on is not None:
            kept = ", ".join(on) if on else "no label at all"
            return f"The result keeps only {kept} (one-to-one matching with on)."
        if ignoring:
            return f"The result has the left series' labels without {', '.join(ignoring)}{name}."
        return f"The result has the left series' labels{name}."
    many, one = ("left", "right") if card == "many-to-one" else ("right", "left")
    group = "group_left" if card == "many-to-one" else "group_right"
    copied = list(expr.modifier.group_labels or []) if expr.modifier is not None else []
    copies = f", and copies {', '.join(copied)} from the {one} side" if copied else ""
    return (
        f"{card.capitalize()} ({group}): several {many} series may share one {one} series; the "
        f"result keeps the {many} series' labels{name}{copies}."
    )


def _scalar_meaning(op: str, left: str, right: str) -> str:
    if op in _ARITHMETIC:
        return f"{_ARITHMETIC[op].format(l=left, r=right)}: a number."
    return f"1 if {left} {op} {right}, else 0: a number."


def _vector_scalar_meaning(op: str, number: str, number_left: bool, returns_bool: bool) -> str:
    value = "each series' value"
    if op in _ARITHMETIC:
        if number_left and op not in _COMMUTATIVE:
            sentence = _ARITHMETIC[op].format(l=number, r=value)
        else:
            sentence = _ARITHMETIC[op].format(l=value, r=number)
        return f"{sentence}; every series is kept, without its metric name."
    # "1 < v" keeps the series whose value is > 1: read the comparison from the series' side.
    series_op = _MIRRORED[op] if number_left else op
    written = f"{number} {op} value" if number_left else f"value {op} {number}"
    if returns_bool:
        return (
            f"1 for each series where {written}, 0 where not: bool keeps every series, "
            "without its metric name."
        )
    return (
        f"Keeps the series whose value is {series_op} {number} (a filter: values and labels, "
        "metric name included, are unchanged)."
    )
