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

import re
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import QueryError, SysmonError, SysmonUsageError
from .matching import Cardinality, MatchGroup, Matching, match_groups, matching_of
from .render import SHOWN_GROUPS, explanation_html, explanation_text
from .sentences import binary_meaning, describe, is_scalar, shown

if TYPE_CHECKING:
    import pandas as pd

    from ..query_client import QueryClient

# The sentences (sentences.py), the match groups (matching.py) and the rendering (render.py) are
# modules of their own; their public names stay importable from here, where they were published.
__all__ = [
    "SHOWN_GROUPS",
    "TOP_VALUES",
    "Cardinality",
    "Explanation",
    "LabelCount",
    "MatchGroup",
    "Matching",
    "Node",
    "binary_meaning",
    "explain",
    "is_scalar",
    "label_counts",
    "match_groups",
    "parse",
    "shown",
    "syntax_error",
]

#: Top values shown per label (on hover in a notebook).
TOP_VALUES = 5


@dataclass
class LabelCount:
    """One label of a node's result: how many distinct values, and the most common ones."""

    name: str
    distinct: int
    top: list[tuple[str, int]]

    def __str__(self) -> str:
        return f"{self.name} ({self.distinct})"


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
        return explanation_text(self)

    def _repr_html_(self) -> str:
        return explanation_html(self)


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
    from ..timeparse import format_time

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
    from ..timeparse import format_time

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
            on, ignoring, card = matching_of(expr)
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


def _flatten(node: Node) -> Iterator[Node]:
    yield node
    for child in node.children:
        yield from _flatten(child)


def _build(expr: Any, depth: int) -> Node:
    described = describe(expr)
    built = Node(
        shown(described.expr),
        described.kind,
        described.meaning,
        depth,
        described.probe,
        expr=described.expr,
    )
    built.children = [_build(child, depth + 1) for child in described.children]
    return built
