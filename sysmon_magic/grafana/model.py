"""A Grafana dashboard's JSON as this package reads it: targets, variables, the queries a panel
sends, and the helpers that read loosely typed JSON (a field may be missing, null or of another
type in dashboards from older Grafanas)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..templating import Verbatim
from .adhoc import Filter, filter_text, read_filters

__all__ = [
    "ALL",
    "PanelQuery",
    "Target",
    "Variable",
    "as_mapping",
    "datasource_type",
    "is_prometheus",
    "number_or_none",
    "read_variables",
]

#: Grafana's value of the "All" option of a variable.
ALL = "$__all"


@dataclass(frozen=True)
class Target:
    """One query of a panel, as the dashboard gives it (before its variables are expanded)."""

    expr: str
    legend: str | None  # legendFormat; None when the target has none
    instant: bool
    hidden: bool
    ref_id: str
    interval: str | None  # the target's "Min step"
    interval_factor: int = 1

    @classmethod
    def from_json(cls, item: Mapping[str, Any], number: int) -> Target:
        """A target from its JSON; ``number`` names it when it has no ``refId`` (A, B, ...)."""
        interval = str(item.get("interval") or "").strip() or None
        factor = item.get("intervalFactor") or 1
        return cls(
            expr=str(item.get("expr") or ""),
            legend=item["legendFormat"] if isinstance(item.get("legendFormat"), str) else None,
            instant=bool(item.get("instant")) and not item.get("range"),
            hidden=bool(item.get("hide")),
            ref_id=str(item.get("refId") or _ref_id(number)),
            interval=interval,
            interval_factor=int(factor) if isinstance(factor, int | float) else 1,
        )


@dataclass(frozen=True)
class PanelQuery:
    """A query a panel sends: the expression with every variable and macro expanded."""

    ref_id: str
    expr: str
    instant: bool
    start: float
    end: float
    step: float  # for an instant query, the step its $__interval was computed with
    legend: str | None


@dataclass
class Variable:
    """A dashboard variable: its definition, its options once resolved, and what is chosen."""

    name: str
    type: str
    label: str
    query: str
    regex: str = ""
    multi: bool = False
    include_all: bool = False
    all_value: str | None = None
    sort: int = 0
    hidden: bool = False
    options: list[tuple[str, str]] = field(default_factory=list)  # (text, value)
    current: list[str] = field(default_factory=list)  # values; [ALL] for All
    note: str = ""  # how the value was found when not from the server's options
    saved: list[str] = field(default_factory=list)  # the value saved in the JSON
    auto: tuple[int, str] | None = None  # an interval variable's auto: (count, min)
    pending: bool = field(default=False, repr=False)  # chosen, not yet checked against options
    filters: list[Filter] = field(default_factory=list)  # an adhoc variable's

    @property
    def value(self) -> str | list[str]:
        """What the variable puts into a query: one value, a list, or the All value (an adhoc
        variable: its filters as matchers, ``['instance="web-03:9100"']``)."""
        if self.type == "adhoc":
            return [filter_text(f) for f in self.filters]
        if self.current == [ALL]:
            if self.all_value is not None:
                return Verbatim(self.all_value)
            return [value for _, value in self.options if value != ALL]
        if self.multi:
            return list(self.current)
        return self.current[0] if self.current else ""

    @property
    def values(self) -> list[str]:
        """The values the variable can take (without All)."""
        return [value for _, value in self.options if value != ALL]


def as_mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def number_or_none(value: Any) -> float | None:
    if isinstance(value, bool) or value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _ref_id(number: int) -> str:
    """Grafana's names for targets without one: A, B, ..., Z, AA, AB ..."""
    name = ""
    number += 1
    while number:
        number, rest = divmod(number - 1, 26)
        name = chr(ord("A") + rest) + name
    return name


def datasource_type(datasource: Any) -> str:
    if isinstance(datasource, Mapping):
        return str(datasource.get("type") or datasource.get("uid") or "unknown")
    return str(datasource)


def is_prometheus(datasource: Any) -> bool:
    """Whether queries to ``datasource`` are PromQL: Prometheus, a variable, or the default."""
    if datasource is None or datasource == "-- Mixed --":
        return True  # the default data source; a mixed panel's targets each name theirs
    if isinstance(datasource, str):
        return not datasource.startswith("-- ")  # a name, or a ${variable}: not -- Dashboard --
    if isinstance(datasource, Mapping):
        kind = str(datasource.get("type") or "")
        uid = str(datasource.get("uid") or "")
        return kind in ("", "prometheus") or kind.startswith("$") or uid == "-- Mixed --"
    return False


def read_variables(data: Mapping[str, Any]) -> dict[str, Variable]:
    found: dict[str, Variable] = {}
    for item in as_mapping(data.get("templating")).get("list") or []:
        if not isinstance(item, Mapping) or not item.get("name"):
            continue
        query = item.get("query")
        if isinstance(query, Mapping):  # newer Grafana: {"query": "...", "refId": ...}
            query = query.get("query") or item.get("definition") or ""
        current = as_mapping(item.get("current")).get("value")
        saved = (
            [str(v) for v in current]
            if isinstance(current, list)
            else ([str(current)] if current not in (None, "") else [])
        )
        auto = None
        if item.get("type") == "interval" and item.get("auto"):
            auto = (int(item.get("auto_count") or 30), str(item.get("auto_min") or "10s"))
        all_value = item.get("allValue")
        kind = str(item.get("type") or "query")
        filters = read_filters(item.get("filters"), str(item["name"])) if kind == "adhoc" else []
        found[str(item["name"])] = Variable(
            name=str(item["name"]),
            type=kind,
            label=str(item.get("label") or item["name"]),
            query=str(query or ""),
            regex=str(item.get("regex") or ""),
            multi=bool(item.get("multi")),
            include_all=bool(item.get("includeAll")),
            all_value=str(all_value) if all_value not in (None, "") else None,
            sort=int(item.get("sort") or 0),
            hidden=item.get("hide") == 2,
            current=list(saved),
            saved=saved,
            auto=auto,
            filters=filters,
        )
    return found
