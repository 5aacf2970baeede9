"""``%%promql --explain``: a query's tree, each node in one plain sentence, with live probes.

Like the Prometheus UI's Explain tab: the query is parsed on the client (``promql-parser``), so a
syntax error is reported before anything is sent; then every sub-expression that yields series
is run as an instant query, and its series count and time are shown. Range selectors and
subqueries are probed as ``last_over_time(...)``, which is cheap and counts the same series.
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import SysmonError, SysmonUsageError

if TYPE_CHECKING:
    from .client import Client

__all__ = ["Explanation", "Node", "explain", "parse"]

_FUNCTIONS = {
    "rate": "Per-second average rate of increase of each counter over the range, corrected for resets.",
    "irate": "Per-second rate from the last two samples of each counter in the range: spiky, instant.",
    "increase": "How much each counter grew over the range, corrected for resets.",
    "delta": "Difference between the first and last value of each gauge over the range.",
    "deriv": "Per-second derivative of each gauge over the range (least-squares).",
    "resets": "How many times each counter reset (went down) in the range.",
    "changes": "How many times each series changed value in the range.",
    "histogram_quantile": "Estimates a quantile from cumulative histogram buckets (the le label).",
    "predict_linear": "Predicts each series' value that far ahead, from a linear fit over the range.",
    "absent": "Returns one series of value 1 if the selector matches nothing (for alerts).",
    "absent_over_time": "Returns 1 if the selector had no sample at all in the range.",
    "abs": "Absolute value of each sample.",
    "clamp_min": "Raises each value to at least the minimum.",
    "clamp_max": "Lowers each value to at most the maximum.",
    "label_replace": "Writes a new label from a regex match on another label.",
    "label_join": "Joins several labels' values into a new label.",
    "vector": "Turns a number into a series without labels.",
    "scalar": "Turns a single series into a number (NaN if there is not exactly one).",
    "time": "The evaluation time, in unix seconds.",
    "timestamp": "The timestamp of each series' sample.",
    "sort": "Sorts series by value, ascending.",
    "sort_desc": "Sorts series by value, descending.",
    "round": "Rounds each value to the nearest multiple (default 1).",
}
_OVER_TIME = "{what} of each series' samples over the range."
_OVER_TIME_WHAT = {
    "avg": "Average",
    "min": "Minimum",
    "max": "Maximum",
    "sum": "Sum",
    "count": "Number",
    "last": "Last value",
    "quantile": "Quantile",
    "stddev": "Standard deviation",
    "stdvar": "Variance",
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
    "quantile": "Takes the {param} quantile of",
    "count_values": "Counts series per distinct value of",
}
_OPERATORS = {
    "+": "Adds",
    "-": "Subtracts",
    "*": "Multiplies",
    "/": "Divides",
    "%": "Takes the remainder of",
    "^": "Raises to a power",
    "atan2": "Takes atan2 of",
}
_SET_OPERATORS = {
    "and": "Keeps the left series that have a match on the right",
    "or": "Takes all left series, plus the right series without a match on the left",
    "unless": "Keeps the left series that have no match on the right",
}


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


class Explanation:
    """The explained tree of a query; shown as a table in notebooks, as text elsewhere."""

    def __init__(self, query: str, nodes: list[Node], at: str | None = None) -> None:
        self.query = query
        self.nodes = nodes
        self.at = at

    def __repr__(self) -> str:
        lines = [f"Explain {self.query}" + (f" at {self.at}" if self.at else "")]
        for node in self.nodes:
            lines.append(
                f"{'  ' * node.depth}{node.promql}  [{node.kind}] {node.meaning}{_result(node)}"
            )
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(
            "<tr>"
            f"<td style='text-align:left;padding-left:{0.5 + 1.5 * n.depth}em'>"
            f"<code>{html.escape(n.promql)}</code></td>"
            f"<td style='text-align:left'>{n.kind}</td>"
            f"<td style='text-align:left'>{html.escape(n.meaning)}</td>"
            f"<td style='text-align:right'>{html.escape(_result(n).strip(' ·'))}</td>"
            "</tr>"
            for n in self.nodes
        )
        return (
            "<table><thead><tr><th>expression</th><th>kind</th><th>what it does</th>"
            f"<th>series</th></tr></thead><tbody>{rows}</tbody></table>"
        )


def _result(node: Node) -> str:
    if node.error:
        return f" · error: {node.error}"
    if node.series is None:
        return ""
    return f" · {node.series:,} series in {round((node.seconds or 0) * 1000)} ms"


def parse(query: str) -> Any:
    """Parse PromQL on the client; a syntax error is a one-line ``SysmonUsageError``."""
    import promql_parser

    try:
        return promql_parser.parse(query)
    except ValueError as exc:
        raise SysmonUsageError(f"PromQL syntax error: {exc} (nothing was sent).") from None


def explain(query: str, client: Client | None = None, time_: float | None = None) -> Explanation:
    """Explain ``query``; with a ``client``, probe every sub-expression at ``time_``."""
    nodes = list(_walk(parse(query), 0))
    if client is not None:
        at = client.now() if time_ is None else time_
        for node in nodes:
            if node.probe is not None:
                _probe(node, client, at)
        from .timeparse import format_time

        return Explanation(query, nodes, format_time(at))
    return Explanation(query, nodes)


def _probe(node: Node, client: Client, at: float) -> None:
    started = time.perf_counter()
    try:
        frame = client.query(node.probe or node.promql, at)
    except SysmonError as exc:
        node.error = str(exc)
        return
    node.seconds = time.perf_counter() - started
    node.series = len(frame)


def _walk(expr: Any, depth: int) -> Iterator[Node]:
    import promql_parser as pp

    text = str(expr)
    if isinstance(expr, pp.VectorSelector):
        yield Node(text, "selector", _selector_meaning(expr), depth, text)
    elif isinstance(expr, pp.MatrixSelector):
        meaning = f"The samples of the last {_duration(expr.range)} of each selected series."
        yield Node(text, "range selector", meaning, depth, f"last_over_time({text})")
        yield from _walk(expr.vector_selector, depth + 1)
    elif isinstance(expr, pp.SubqueryExpr):
        step = f" every {_duration(expr.step)}" if expr.step else " at the default resolution"
        meaning = f"Runs the inner query{step} over the last {_duration(expr.range)} (a subquery)."
        yield Node(text, "subquery", meaning, depth, f"last_over_time({text})")
        yield from _walk(expr.expr, depth + 1)
    elif isinstance(expr, pp.Call):
        yield Node(text, "function", _function_meaning(expr.func.name), depth, _probe_of(expr))
        for argument in expr.args:
            yield from _walk(argument, depth + 1)
    elif isinstance(expr, pp.AggregateExpr):
        yield Node(text, "aggregation", _aggregation_meaning(expr), depth, text)
        if expr.param is not None:
            yield from _walk(expr.param, depth + 1)
        yield from _walk(expr.expr, depth + 1)
    elif isinstance(expr, pp.BinaryExpr):
        yield Node(text, "binary operator", _binary_meaning(expr), depth, _probe_of(expr))
        yield from _walk(expr.lhs, depth + 1)
        yield from _walk(expr.rhs, depth + 1)
    elif isinstance(expr, pp.ParenExpr):
        yield from _walk(expr.expr, depth)
    elif isinstance(expr, pp.UnaryExpr):
        yield Node(text, "negation", "Negates every value.", depth, _probe_of(expr))
        yield from _walk(expr.expr, depth + 1)
    elif isinstance(expr, pp.NumberLiteral):
        yield Node(text, "number", f"The number {text}.", depth, None)
    elif isinstance(expr, pp.StringLiteral):
        yield Node(text, "string", "A string argument.", depth, None)
    else:  # a node kind this version does not know: still shown
        yield Node(text, type(expr).__name__, "", depth, text)


def _probe_of(expr: Any) -> str | None:
    """Probe an expression only if it yields series (a scalar result has no series to count)."""
    import promql_parser as pp

    value_type = getattr(getattr(expr, "func", None), "return_type", None)
    if value_type is not None and str(value_type) == "ValueType.Scalar":
        return None
    if isinstance(expr, pp.BinaryExpr) and all(
        isinstance(side, pp.NumberLiteral) for side in (expr.lhs, expr.rhs)
    ):
        return None
    return str(expr)


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
    return f"Selects {what}{where}{extra} (their latest sample within the lookback)."


_MATCH = {
    "MatchOp.Equal": "is",
    "MatchOp.NotEqual": "is not",
    "MatchOp.Re": "matches",
    "MatchOp.NotRe": "does not match",
}


def _function_meaning(name: str) -> str:
    if name.endswith("_over_time") and name.removesuffix("_over_time") in _OVER_TIME_WHAT:
        return _OVER_TIME.format(what=_OVER_TIME_WHAT[name.removesuffix("_over_time")])
    return _FUNCTIONS.get(name, f"Applies {name}() to its arguments.")


def _aggregation_meaning(expr: Any) -> str:
    op = str(expr.op)
    verb = _AGGREGATIONS.get(op, f"Aggregates ({op})").format(param=expr.param)
    modifier = expr.modifier
    if op in ("topk", "bottomk", "limitk"):  # these keep the series and their labels
        groups = f" per distinct {', '.join(modifier.labels)}" if modifier else ""
        return f"{verb} the series{groups}, labels kept."
    if modifier is None:
        return f"{verb} all series into one, dropping every label."
    labels = ", ".join(modifier.labels)
    if str(modifier.type).endswith("Without"):
        return f"{verb} the series, dropping {labels}: one result per set of the other labels."
    return f"{verb} the series per distinct {labels}, dropping every other label."


def _binary_meaning(expr: Any) -> str:
    op = str(expr.op)
    modifier = expr.modifier
    matching = ""
    if modifier is not None and modifier.matching is not None:
        matching = f", matching series {modifier.matching}"
        if (
            modifier.card is not None
            and "ToOne" in str(modifier.card)
            and "Many" in str(modifier.card)
        ):
            matching += " (many-to-one: group_left)"
        elif modifier.card is not None and "OneToMany" in str(modifier.card):
            matching += " (one-to-many: group_right)"
    if op in _SET_OPERATORS:
        return f"{_SET_OPERATORS[op]}{matching or ' (same labels)'}."
    if op in _OPERATORS:
        return f"{_OPERATORS[op]} left by right for each pair of series with the same labels{matching}."
    if modifier is not None and modifier.return_bool:
        return f"Compares left {op} right: 1 where true, 0 where false{matching}."
    return f"Keeps the left series whose value is {op} the right{matching}."
