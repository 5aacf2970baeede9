"""Per-series units: a panel's ``fieldConfig.overrides`` that set ``unit`` for the series a matcher
picks, as Grafana's field matchers do.

``byName`` matches a series' display name (its legend, else ``metric{labels}``), ``byNames`` any of
a list (or, with ``mode: exclude``, all but them), ``byRegexp`` (Grafana's id; ``byRegex`` is read
too) a regex on it (a bare pattern matches the whole name, ``/pattern/flags`` anywhere in it), and
``byFrameRefID`` every series of one target. Later overrides win over earlier ones. Other matchers
(``byType``, ``byValue``...) and properties other than ``unit`` are not applied: they are listed in
:attr:`Override.applied` as false.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import SysmonError
from ..templating import expand
from .model import as_mapping
from .variables import js_regex

__all__ = ["MATCHERS", "Override", "override_unit", "read_overrides"]

#: The matchers applied here; ``byRegex`` is how some dashboards write Grafana's ``byRegexp``.
MATCHERS = ("byName", "byNames", "byRegexp", "byRegex", "byFrameRefID")


@dataclass(frozen=True)
class Override:
    """One override of a panel: its matcher, the matcher's options and the unit it sets."""

    matcher: str
    options: Any
    unit: str

    @property
    def applied(self) -> bool:
        """Whether this matcher is one applied here (:data:`MATCHERS`)."""
        return self.matcher in MATCHERS

    def matches(self, names: Sequence[str], ref_id: str | None, values: Mapping[str, Any]) -> bool:
        """Whether the series shown as any of ``names``, of the target ``ref_id``, is picked."""
        if self.matcher == "byFrameRefID":
            return ref_id is not None and str(self.options) == ref_id
        if self.matcher == "byName":
            return _expanded(str(self.options), values) in names
        if self.matcher == "byNames":
            options = as_mapping(self.options)
            listed = options.get("names")
            wanted = (
                {_expanded(str(n), values) for n in listed} if isinstance(listed, list) else set()
            )
            found = any(name in wanted for name in names)
            return not found if options.get("mode") == "exclude" else found
        if self.matcher in ("byRegexp", "byRegex"):
            try:
                pattern = js_regex(_expanded(str(self.options), values))
            except SysmonError:
                return False  # as Grafana: a regex that does not compile matches nothing
            return any(pattern.search(name) for name in names)
        return False

    def as_json(self) -> dict[str, Any]:
        """The override as Grafana writes it."""
        return {
            "matcher": {"id": self.matcher, "options": self.options},
            "properties": [{"id": "unit", "value": self.unit}],
        }


def _expanded(text: str, values: Mapping[str, Any]) -> str:
    # Grafana interpolates variables in a matcher's options (a repeated panel's own value too).
    if "$" not in text:
        return text
    try:
        return expand(text, values)
    except SysmonError:
        return text


def read_overrides(listed: Any) -> list[Override]:
    """The overrides of ``fieldConfig.overrides`` that set a unit, in order."""
    found = []
    for item in listed if isinstance(listed, list) else []:
        matcher = as_mapping(as_mapping(item).get("matcher"))
        properties = as_mapping(item).get("properties")
        for prop in properties if isinstance(properties, list) else []:
            prop = as_mapping(prop)
            if prop.get("id") == "unit" and isinstance(prop.get("value"), str) and prop["value"]:
                found.append(
                    Override(str(matcher.get("id") or ""), matcher.get("options"), prop["value"])
                )
    return found


def override_unit(
    overrides: Sequence[Override],
    name: str | Sequence[str],
    ref_id: str | None,
    values: Mapping[str, Any],
) -> str | None:
    """The unit the last matching override gives the series shown as ``name``, else ``None``."""
    names = [name] if isinstance(name, str) else list(name)
    unit = None
    for override in overrides:
        if override.matches(names, ref_id, values):
            unit = override.unit
    return unit
