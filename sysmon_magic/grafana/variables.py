"""Resolving a dashboard's variables, as Grafana does: in dependency order, a ``query`` variable
asked of the connection (``label_values``, ``label_names``, ``metrics``, ``query_result``, or a
series selector), its ``regex``'s matches taken and sorted; ``custom``, ``constant``,
``interval``, ``textbox`` and ``datasource`` variables need no server. Where the server has no
values, the value saved in the JSON (``current``) is kept."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import QueryError, SysmonUsageError
from ..frames import NOT_LABELS
from ..templating import expand, grafana_macros, references
from ..timeparse import format_duration, parse_duration
from .model import ALL, Variable
from .timing import GRAFANA_SCRAPE_INTERVAL, round_interval

if TYPE_CHECKING:
    from ..query_client import QueryClient
    from .dashboard import Dashboard

__all__ = ["dependency_order", "js_regex", "resolve_variable", "variable_references"]

# Grafana's classic variable queries (its Prometheus data source's metricFindQuery).
_LABEL_VALUES = re.compile(r"^label_values\((?:(.+),\s*)?([a-zA-Z_$][a-zA-Z0-9_]*)\)\s*$", re.S)
_LABEL_NAMES = re.compile(r"^label_names\((.*)\)\s*$", re.S)
_METRICS = re.compile(r"^metrics\((.+)\)\s*$", re.S)
_QUERY_RESULT = re.compile(r"^query_result\((.+)\)\s*$", re.S)
# A custom variable's options: commas separate them (``\,`` is a comma in one); "text : value".
_CUSTOM_ITEM = re.compile(r"(?:\\,|[^,])+")
_CUSTOM_PAIR = re.compile(r"^\s*(.+)\s:\s(.+)$")


def variable_references(variable: Variable) -> list[str]:
    return [name for name in references(variable.query + " " + variable.regex)]


def dependency_order(variables: Mapping[str, Variable]) -> list[str]:
    """The variables in an order where each comes after those its query uses (Grafana's
    order); among independent ones, the dashboard's. A cycle is refused."""
    order: list[str] = []
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            cycle = " -> ".join(f"${n}" for n in [*path[path.index(name) :], name])
            raise SysmonUsageError(f"The dashboard's variables depend on each other: {cycle}.")
        state[name] = "visiting"
        for other in variable_references(variables[name]):
            if other in variables and other != name:
                visit(other, [*path, name])
        state[name] = "done"
        order.append(name)

    for name in variables:
        visit(name, [])
    return order


def resolve_variable(dashboard: Dashboard, variable: Variable) -> None:
    """Find the variable's options (asking the server for a query variable) and keep what is
    chosen if it is still there; else the first option, as Grafana does."""
    if variable.type == "adhoc":  # filters, not values: nothing to ask the server
        variable.pending = False
        return
    first, last = dashboard.window()
    try:
        variable.options = _options(dashboard, variable, first, last)
        variable.note = ""
    except (QueryError, SysmonUsageError) as exc:  # Grafana shows the dashboard all the same
        variable.options, variable.note = [], f"its query failed: {exc}"
    if variable.include_all:
        variable.options.insert(0, ("All", ALL))
    values = [value for _, value in variable.options]
    texts = {text: value for text, value in variable.options}
    chosen = [texts.get(v, v) for v in variable.current]
    asked, variable.pending = variable.pending, False
    if variable.type == "datasource":
        variable.current = values[:1]
        return
    if not values or variable.type == "textbox":
        if not variable.current and variable.type == "textbox":
            variable.current = [variable.query]
        if not values and variable.type != "textbox" and not variable.note:
            variable.note = (
                "no values on the server: the value saved in the dashboard"
                if variable.current
                else "no values on the server, and none saved in the dashboard"
            )
        return
    kept = [v for v in chosen if v in values]
    if asked and len(kept) != len(chosen):
        # A value asked for (--var, a dropdown, set()) must exist: a typo would empty every panel.
        missing = ", ".join(v for v in chosen if v not in values)
        real = [v for v in values if v != ALL]
        more = f" (and {len(real) - 12:,} more)" if len(real) > 12 else ""
        raise SysmonUsageError(
            f"${variable.name} has no value {missing}: its values are {', '.join(real[:12])}{more}."
        )
    variable.current = (kept or values[:1]) if variable.multi else (kept or values)[:1]


def _options(
    dashboard: Dashboard, variable: Variable, start: float, end: float
) -> list[tuple[str, str]]:
    kind = variable.type
    if kind == "custom":
        return _custom_options(variable.query)
    if kind == "constant":
        return [(variable.query, variable.query)]
    if kind == "textbox":
        return []
    if kind == "datasource":
        name = dashboard.client.name
        return [(name, name)]
    if kind == "interval":
        options = [
            (text.strip(), text.strip()) for text in variable.query.split(",") if text.strip()
        ]
        if variable.auto is not None:
            count, minimum = variable.auto
            value = max(round_interval((end - start) / count), parse_duration(minimum))
            options.insert(0, ("auto", format_duration(value)))
        return options
    if kind != "query":
        return [(v, v) for v in variable.saved]  # groupby, ...: not resolved here
    macros = grafana_macros(
        range_seconds=end - start,
        step=dashboard.client.scrape_interval or GRAFANA_SCRAPE_INTERVAL,
        scrape_interval=dashboard.client.scrape_interval or GRAFANA_SCRAPE_INTERVAL,
        start=start,
        end=end,
    )
    values = {**dashboard.values}
    query = expand(variable.query, values, macros).strip()
    found = _query_values(dashboard.client, query, start, end)
    regex = expand(variable.regex, values, macros) if variable.regex else ""
    return _sorted(_extracted(found, regex, variable.name), variable.sort)


def _custom_options(query: str) -> list[tuple[str, str]]:
    options = []
    for item in _CUSTOM_ITEM.findall(query):
        text = item.replace("\\,", ",")
        pair = _CUSTOM_PAIR.match(text)
        if pair:
            options.append((pair[1].strip(), pair[2].strip()))
        elif text.strip():
            options.append((text.strip(), text.strip()))
    return options


def _query_values(client: QueryClient, query: str, start: float, end: float) -> list[str]:
    """What a query variable's query finds: label values, label names, metric names, query
    results or series, written as Grafana writes them."""
    if match := _LABEL_VALUES.match(query):
        selector, label = match[1], match[2]
        return client.label_values(label, selector.strip() if selector else None, start, end)
    if match := _LABEL_NAMES.match(query):
        selector = match[1].strip()
        return client.labels(selector or None, start, end)
    if match := _METRICS.match(query):
        pattern = js_regex(match[1].strip(), anchored=False)
        return [n for n in client.label_values("__name__", None, start, end) if pattern.search(n)]
    if match := _QUERY_RESULT.match(query):
        return _result_texts(client.query(match[1].strip(), end))
    series = client.series(query, start, end)
    return [_series_text({str(k): v for k, v in row.items()}) for row in series.to_dict("records")]


def _result_texts(frame: pd.DataFrame) -> list[str]:
    """An instant result as Grafana's query_result() writes it: ``name{labels} value ms``."""
    texts = []
    labels = [c for c in frame.columns if c not in NOT_LABELS]
    for row in frame.to_dict("records"):
        text = _series_text({k: row[k] for k in labels})
        moment = pd.Timestamp(row["timestamp"]).timestamp() if "timestamp" in row else 0
        texts.append(f"{text} {_go_float(float(row['value']))} {round(moment * 1000)}")
    return texts


def _series_text(labels: Mapping[str, Any]) -> str:
    present = {k: str(v) for k, v in labels.items() if isinstance(v, str) and v != ""}
    name = present.pop("__name__", "")
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(present.items())) + "}"


def _go_float(value: float) -> str:
    """A float as Prometheus writes sample values (Go's shortest ``'f'`` form)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return np.format_float_positional(value, trim="-")


def js_regex(text: str, *, anchored: bool = True) -> re.Pattern[str]:
    """A JavaScript regex as Grafana reads a variable's: ``/pattern/flags``, or a bare pattern
    (which must then match the whole text, unless ``anchored`` is false)."""
    flags = 0
    literal = re.fullmatch(r"/(.*)/([gimsuy]*)", text, re.S)
    if literal:
        pattern, letters = literal[1], literal[2]
        flags |= re.I if "i" in letters else 0
        flags |= re.M if "m" in letters else 0
        flags |= re.S if "s" in letters else 0
    else:
        pattern = f"^(?:{text})$" if anchored else text
    # JavaScript's named groups, (?<name>...), are Python's (?P<name>...).
    pattern = re.sub(r"\(\?<(?=[A-Za-z_])", "(?P<", pattern)
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise SysmonUsageError(f"Cannot read the regex {text!r}: {exc}.") from None


def _extracted(found: list[str], regex: str, name: str) -> list[tuple[str, str]]:
    """Grafana's regex extraction: keep matching values, as their ``value``/``text`` groups,
    their first group, or themselves; with the ``g`` flag, every match's first group."""
    if not regex:
        return list(dict.fromkeys((v, v) for v in found))
    pattern = js_regex(regex)
    every = bool(re.fullmatch(r"/.*/[a-z]*g[a-z]*", regex, re.S))
    options: list[tuple[str, str]] = []
    for item in found:
        matches = (
            list(pattern.finditer(item)) if every else [m for m in [pattern.search(item)] if m]
        )
        if not matches:
            continue
        named = [m for m in matches if m.groupdict().get("value") or m.groupdict().get("text")]
        if named:
            groups = named[0].groupdict()
            value = groups.get("value") or groups.get("text")
            text = groups.get("text") or groups.get("value")
            options.append((str(text), str(value)))
        elif len(matches) > 1 and matches[0].groups():
            options += [(m[1], m[1]) for m in matches if m.groups() and m[1] is not None]
        elif matches[0].groups() and matches[0][1] is not None:
            options.append((matches[0][1], matches[0][1]))
        elif not matches[0].groups():
            options.append((item, item))
    unique: dict[str, tuple[str, str]] = {}
    for text, value in options:
        unique.setdefault(value, (text, value))
    return list(unique.values())


def _sorted(options: list[tuple[str, str]], sort: int) -> list[tuple[str, str]]:
    """Grafana's variable sort: 1/2 alphabetical, 3/4 by the first number, 5/6 alphabetical
    ignoring case, 7/8 natural; even numbers descending; 0 as found."""
    kind, descending = math.ceil(sort / 2), sort % 2 == 0
    if sort <= 0 or kind > 4:
        return options
    keys: dict[int, Any] = {
        1: lambda o: o[0],
        2: lambda o: int(m[1]) if (m := re.match(r".*?(\d+)", o[0])) else -1,
        3: lambda o: o[0].lower(),
        4: lambda o: [int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", o[0])],
    }
    return sorted(options, key=keys[kind], reverse=descending)
