"""A Grafana dashboard whose variables are resolved against a connection: its panels, its time
range, choosing values, and its display."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..errors import SysmonError, SysmonUsageError
from ..templating import expand
from ..timeparse import format_time, parse_duration, parse_time
from .adhoc import Filter, parse_filters
from .model import ALL, Variable, as_mapping, read_variables
from .panels import Panel
from .timing import grafana_duration, grafana_time
from .variables import dependency_order, resolve_variable, variable_references

if TYPE_CHECKING:
    from ..query_client import QueryClient

__all__ = ["Dashboard"]


class Dashboard:
    """A Grafana dashboard whose variables are resolved against a connection.

    Parameters
    ----------
    data
        The dashboard's JSON (a dict), as Grafana exports it or as its API gives it.
    client
        The connection its queries and variable queries go to.
    variables
        Values to choose, as Grafana's ``var-NAME=VALUE`` in a URL: ``{"node": "web-01:9100"}``,
        a list for a multi-value variable, ``"All"`` for All.
    max_points
        Points per series when a panel sets no ``maxDataPoints`` (Grafana uses the panel's
        width in pixels); default: the client's ``max_points``.
    timezone, max_series
        For plots, as for :func:`~sysmon_magic.plot`.

    Examples
    --------
    >>> dash = Dashboard.load("node-exporter.json", client, {"job": "node"})  # doctest: +SKIP
    >>> dash.panel("Memory used").frame(range="6h")
    """

    def __init__(
        self,
        data: Mapping[str, Any],
        client: QueryClient,
        variables: Mapping[str, str | Sequence[str]] | None = None,
        *,
        source: str | None = None,
        max_points: int | None = None,
        timezone: str = "UTC",
        max_series: int = 30,
    ) -> None:
        if isinstance(data.get("dashboard"), Mapping):  # the API's {"dashboard": ..., "meta": ...}
            data = data["dashboard"]
        if not isinstance(data.get("panels", data.get("rows")), list):
            raise SysmonUsageError(
                f"{source or 'This JSON'} is not a Grafana dashboard: it has no panels list."
            )
        self.data = data
        self.client = client
        self.source = source
        self.title = str(data.get("title") or "")
        self.uid = data.get("uid")
        self.max_points = max_points or client.max_points
        self.timezone = timezone
        self.max_series = max_series
        time = as_mapping(data.get("time"))
        self.time = (str(time.get("from") or "now-6h"), str(time.get("to") or "now"))
        self._variables = read_variables(data)
        self._order = dependency_order(self._variables)
        self.panels: list[Panel] = []
        for name, value in (variables or {}).items():
            self._choose(name, value)
        self._resolve(list(self._variables))
        self._build_panels()

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        client: QueryClient,
        variables: Mapping[str, str | Sequence[str]] | None = None,
        **options: Any,
    ) -> Dashboard:
        """Read a dashboard's JSON file and resolve its variables against ``client``."""
        try:
            with open(path, encoding="utf-8") as file:
                data = json.load(file)
        except FileNotFoundError:
            raise SysmonUsageError(f"No dashboard file at {os.fspath(path)!r}.") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SysmonUsageError(f"Cannot read {os.fspath(path)!r} as JSON: {exc}.") from None
        if not isinstance(data, Mapping):
            raise SysmonUsageError(f"{os.fspath(path)!r} is not a Grafana dashboard.")
        return cls(data, client, variables, source=os.fspath(path), **options)

    # -- variables -----------------------------------------------------------------------------

    @property
    def variables(self) -> dict[str, str | list[str]]:
        """Each variable's value, as it goes into queries: a ``str``, or a list (multi, All)."""
        return {name: variable.value for name, variable in self._variables.items()}

    @property
    def filters(self) -> list[Filter]:
        """The ad-hoc filters (of every ``adhoc`` variable) added to every selector."""
        return [f for v in self._variables.values() if v.type == "adhoc" for f in v.filters]

    @property
    def values(self) -> dict[str, Any]:
        """The values queries are expanded with (:attr:`variables`, ``$__dashboard``)."""
        return {"__dashboard": self.title, **self.variables}

    def variable(self, name: str) -> Variable:
        """The variable ``name``: its options, what is chosen, and how it was found."""
        try:
            return self._variables[name]
        except KeyError:
            known = ", ".join(self._variables) or "none"
            raise SysmonUsageError(
                f"The dashboard has no variable {name!r} (variables: {known})."
            ) from None

    def set(self, name: str, value: str | Sequence[str]) -> None:
        """Choose a variable's value (``"All"`` for All) and resolve the variables that use it.

        A value the variable does not have is refused, and nothing changes. An ``adhoc``
        variable takes filters: ``'instance="web-03:9100", mode=~"user|system"'`` or a list of
        them (``""``: none). Repeated panels are repeated again for the new values.
        """
        before = {
            n: (list(v.current), list(v.options), v.note, list(v.filters))
            for n, v in self._variables.items()
        }
        try:
            self._choose(name, value)
            self._resolve(self._dependents(name))
        except SysmonError:
            for other, (current, options, note, filters) in before.items():
                variable = self._variables[other]
                variable.current, variable.options, variable.note = current, options, note
                variable.filters, variable.pending = filters, False
            raise
        self._build_panels()

    def _choose(self, name: str, value: str | Sequence[str]) -> None:
        variable = self.variable(name)
        if variable.type == "adhoc":
            variable.filters = parse_filters(value, name)
            return
        wanted = [value] if isinstance(value, str) else [str(v) for v in value]
        if not wanted:
            raise SysmonUsageError(f"Give ${name} at least one value.")
        if len(wanted) > 1 and not variable.multi:
            raise SysmonUsageError(f"${name} takes one value, not {len(wanted)}.")
        if any(v in ("All", ALL) for v in wanted):
            if not variable.include_all:
                raise SysmonUsageError(f"${name} has no All option: choose its values.")
            wanted = [ALL]
        variable.current, variable.pending = wanted, True

    def _dependents(self, name: str) -> list[str]:
        """``name`` and the variables that use it, directly or through others, in order."""
        affected = {name}
        for other in self._order:
            if set(variable_references(self._variables[other])) & affected:
                affected.add(other)
        return [other for other in self._order if other in affected]

    def _resolve(self, names: Iterable[str]) -> None:
        wanted = set(names)
        for name in self._order:
            if name in wanted:
                resolve_variable(self, self._variables[name])

    # -- time --------------------------------------------------------------------------------

    def window(
        self,
        range: str | None = None,
        *,
        start: Any = None,
        end: Any = None,
        panel: Panel | None = None,
    ) -> tuple[float, float]:
        """A window in unix seconds: the dashboard's time range (a panel's relative time and
        time shift applied), ``range`` ending where that ends, or ``start``/``end``."""
        now = self.client.now()
        if range is not None and start is not None:
            raise SysmonUsageError("Give either range= or start=/end=, not both.")
        if panel is not None and panel.time_from and range is None and start is None:
            last = now
            first = last - parse_duration(grafana_duration(panel.time_from))
        else:
            first, last = (
                grafana_time(text, now, end=side)
                for text, side in zip(self.time, (False, True), strict=True)
            )
        if panel is not None and panel.time_shift and start is None and end is None:
            shift = parse_duration(grafana_duration(panel.time_shift))
            first, last = first - shift, last - shift
        if end is not None:
            last = parse_time(end, now)
        if range is not None:
            first = last - parse_duration(range)
        elif start is not None:
            first = parse_time(start, now)
        if last < first:
            raise SysmonUsageError(
                f"The window ends ({format_time(last)}) before it starts ({format_time(first)})."
            )
        return first, last

    # -- panels -----------------------------------------------------------------------------

    def panel(self, title: str) -> Panel:
        """The panel with this title (as written, or with its variables filled in)."""
        found = [p for p in self.panels if title in (p.title, p.shown_title)]
        if len(found) == 1:
            return found[0]
        if found:
            copies = [f"${n}={v}" for p in found for n, v in p.repeated.items()]
            where = (
                f"repeated for {', '.join(copies)}"
                if copies
                else f"in rows {', '.join(repr(p.row) for p in found)}"
            )
            raise SysmonUsageError(
                f"{len(found)} panels are titled {title!r} ({where}): pick one from .panels."
            )
        close = [p.title for p in self.panels if title.lower() in p.title.lower()]
        hint = f" Did you mean {', '.join(map(repr, close[:5]))}?" if close else ""
        raise SysmonUsageError(f"No panel titled {title!r} in {self.title!r}.{hint}")

    def _build_panels(self) -> None:
        """(Re)build the panel list, repeated panels and rows once per value of their variable.
        A panel built before for the same JSON, row and value is kept: the same object."""
        known = {(id(p.data), p.row, tuple(p.repeated.items())): p for p in self.panels}
        panels = []
        for item, row, repeated in self._layout():
            key = (id(item), row, tuple(repeated.items()))
            panels.append(known.get(key) or Panel(self, item, row, repeated))
        self.panels = panels

    def _layout(self) -> Iterator[tuple[Mapping[str, Any], str | None, dict[str, str]]]:
        """Every panel as ``(JSON, row title, repeated value)``, rows opened: a collapsed row
        holds its panels, an open one is followed by them, the old schema's ``rows`` hold theirs.
        Copies of repeats that an older Grafana saved (``repeatPanelId``, ``repeatRowId``) are
        left out: the repeats are made here again, from the variables' values now."""
        sections: list[tuple[Mapping[str, Any] | None, list[Any]]] = []
        for old_row in self.data.get("rows") or []:
            if isinstance(old_row, Mapping):
                sections.append((old_row, list(old_row.get("panels") or [])))
        sections.append((None, []))
        for item in self.data.get("panels") or []:
            if isinstance(item, Mapping) and item.get("type") == "row":
                sections.append((item, list(item.get("panels") or [])))
            else:
                sections[-1][1].append(item)
        for row, items in sections:
            if row is not None and row.get("repeatRowId"):
                continue
            for scope in self._copies(row, {}) if row is not None else [{}]:
                title = self._titled(str(row.get("title") or ""), scope) if row else None
                for item in items:
                    if isinstance(item, Mapping) and not item.get("repeatPanelId"):
                        for repeated in self._copies(item, scope):
                            yield item, title or None, repeated

    def _copies(self, item: Mapping[str, Any], scope: dict[str, str]) -> list[dict[str, str]]:
        """The values a panel or row is repeated for, each as its own scope: one copy per value
        chosen (every value for All); one copy, as written, when it repeats for no variable."""
        name = str(item.get("repeat") or "")
        variable = self._variables.get(name)
        if variable is None or name in scope or variable.type == "adhoc":
            return [scope]
        chosen = variable.values if variable.current == [ALL] else list(variable.current)
        return [{**scope, name: value} for value in chosen] or [scope]

    def _titled(self, title: str, scope: Mapping[str, str]) -> str:
        if "$" not in title:
            return title
        try:
            return expand(title, {**self.values, **scope})
        except SysmonError:
            return title

    def summary(self) -> pd.DataFrame:
        """A row per panel: row, title (variables filled in), type, unit, targets, and how it is
        drawn (or why not)."""
        return pd.DataFrame(
            [
                {
                    "row": p.row,
                    "title": p.shown_title,
                    "type": p.type,
                    "unit": p.unit,
                    "targets": len(p.visible_targets),
                    "drawn": p.drawn or f"not drawn: {p.reason}",
                }
                for p in self.panels
            ]
        )

    # -- display -----------------------------------------------------------------------------

    @property
    def view(self) -> Any:
        """The widget (built on first use): variables as dropdowns, panels as a list, a plot."""
        if getattr(self, "_view", None) is None:
            from .view import DashboardView

            self._view = DashboardView(self)
        return self._view

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = dict(self.view.widget._repr_mimebundle_(**kwargs) or {})
        bundle["text/plain"] = repr(self)
        return bundle

    def __repr__(self) -> str:
        drawn = sum(p.drawn is not None for p in self.panels)
        lines = [
            f"<Dashboard {self.title!r}: {len(self.panels)} panels ({drawn} drawn), "
            f"{self.time[0]} to {self.time[1]}, on {self.client.name}>"
        ]
        for name, value in self.variables.items():
            shown = value if isinstance(value, str) else ", ".join(value)
            if self._variables[name].current == [ALL]:
                shown = f"All ({shown})"
            lines.append(f"  ${name} = {shown}")
        return "\n".join(lines)
