"""Expand Grafana's template syntax in a query: ``$var``, ``${var}``, ``${var:format}``, the old
``[[var]]`` / ``[[var:format]]``, and the macros ``$__range``, ``$__interval``, ``$__rate_interval``
(and their ``_ms`` / ``_s`` forms, ``$__from``, ``$__to``).

Dashboard queries paste as they are; ``$$`` is a literal ``$``. Nothing else in the query is
touched: ``{job="x"}`` is PromQL, never a Python expression.

A value is formatted in two steps. First, as Grafana's Prometheus data source does, the format
turns it into text: by default a ``str`` stays as it is (a regex, if used with ``=~``) and a list
becomes the alternation ``(a|b)`` of regex-escaped values; ``${var:csv}`` joins with commas, and so
on, as Grafana's format registry does. Then the text is written as the place it lands needs: inside a ``"..."``
or ``'...'`` PromQL string, backslashes, quotes and newlines are escaped, so every value gives valid
PromQL that matches exactly that value (Grafana writes ``${var:regex}`` with single backslashes,
which Prometheus refuses inside ``"..."``: grafana/grafana#40634); outside strings, and with ``:raw``, the text goes in as
it is. A list where ``label="..."`` or ``label!="..."`` expects one value is refused.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import SysmonUsageError
from .promql import escape_string, regex_literal
from .timeparse import format_duration

__all__ = ["Verbatim", "expand", "grafana_macros", "rate_interval", "references"]

#: A variable's value as the formats see it: a ``str`` is a single value, a list a multi value.
Value = str | list[str]


class Verbatim(str):
    """A value that every format leaves as it is: Grafana's custom "All" value (``.*``).

    Grafana writes a variable's ``allValue`` into the query unformatted, whichever format the
    reference asks for; here it is still escaped as the PromQL string it lands in needs.
    """


# ``$$`` (escape), ``${name}``, ``${name:format}``, ``$name``, ``[[name]]``, ``[[name:format]]``:
# Grafana's own grammar (scenes' VARIABLE_REGEX), except that a name starts with a letter or
# ``_``, so label_replace's ``$1`` / ``${1}`` and a trailing ``"foo$"`` stay as written.
_REFERENCE_RE = re.compile(
    r"\$(?:(?P<dollar>\$)"
    r"|\{(?P<braced>[A-Za-z_]\w*)(?P<path>\.[^:}]*)?(?::(?P<braced_format>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_]\w*))"
    r"|\[\[(?P<old>[A-Za-z_]\w*)(?::(?P<old_format>\w+))?\]\]"
)
# PromQL's strings and comments, as its lexer reads them: a ``"`` inside a comment or a
# backtick string does not open a string. A newline ends a quoted string (Prometheus refuses it).
_LITERAL_RE = re.compile(r'"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'|`[^`]*`|#[^\n]*')
# What makes a string the value of a label matcher: an operator just before it. ``==``, ``<=``
# and ``>=`` never take a string, so a lone ``=`` is a matcher's.
_MATCHER_RE = re.compile(r"(?:(?P<label>[A-Za-z_]\w*)\s*)?(?P<op>=~|!~|!=|(?<![=!<>])=)\s*$")


@dataclass(frozen=True)
class _Place:
    """Where a reference sits: in which kind of PromQL string, and after which matcher."""

    quote: str | None = None  # '"', "'" or "`"; None outside strings (and in comments)
    operator: str | None = None  # "=", "!=", "=~" or "!~" when the string is a matcher's value
    label: str | None = None


def rate_interval(step: float, scrape_interval: float) -> float:
    """Grafana's ``$__rate_interval``: ``max(step + scrape interval, 4 x scrape interval)``."""
    return max(step + scrape_interval, 4 * scrape_interval)


def grafana_macros(
    *,
    range_seconds: float,
    step: float,
    scrape_interval: float,
    interval: float | None = None,
    start: float | None = None,
    end: float | None = None,
) -> dict[str, str]:
    """The values of Grafana's global macros for a window and a step.

    ``interval`` is the query interval ``$__rate_interval`` adds the scrape interval to
    (Grafana's frontend interval; default: the step). With ``start`` and ``end``, also
    ``$__from`` and ``$__to`` (milliseconds, as Grafana gives them).
    """
    rate = rate_interval(step if interval is None else interval, scrape_interval)
    macros = {
        "__range": format_duration(range_seconds),
        "__range_s": str(round(range_seconds)),
        "__range_ms": str(round(range_seconds * 1000)),
        "__interval": format_duration(step),
        "__interval_ms": str(round(step * 1000)),
        "__rate_interval": format_duration(rate),
        "__rate_interval_ms": str(round(rate * 1000)),
    }
    if start is not None and end is not None:
        macros["__from"], macros["__to"] = str(round(start * 1000)), str(round(end * 1000))
    return macros


def references(query: str) -> list[str]:
    """The names of the variables and macros ``query`` refers to, once each, in order."""
    names = (
        match["braced"] or match["bare"] or match["old"]
        for match in _REFERENCE_RE.finditer(query)
        if not match["dollar"]
    )
    return list(dict.fromkeys(names))


def expand(
    query: str, variables: Mapping[str, Any], macros: Mapping[str, str] | None = None
) -> str:
    """Replace template references with values from ``macros`` first, then ``variables``.

    ``$name``, ``${name}`` and ``[[name]]`` take Grafana's default format for Prometheus: a
    ``str`` (or a number) is one value, put in as it is; a list, tuple, set (sorted) or array
    is a multi value, the regex ``(a|b)`` of its escaped values, to use with ``=~``.
    ``${name:format}`` and ``[[name:format]]`` take one of Grafana's formats: ``regex``,
    ``pipe``, ``csv``, ``join`` (``${name:join:sep}``), ``raw``, ``json``, ``doublequote``,
    ``singlequote``, ``text``. Inside a PromQL string, the result is escaped as that string
    needs (except ``raw``).

    Raises
    ------
    SysmonUsageError
        An undefined variable, an empty list, a format that does not exist or is not for
        PromQL, or a multi value after ``=`` / ``!=``.
    """
    macros = macros or {}
    missing: list[str] = []
    strings = _strings(query)
    starts = [start for start, _, _ in strings]

    def substitute(match: re.Match[str]) -> str:
        if match["dollar"]:
            return "$"
        name = match["braced"] or match["bare"] or match["old"]
        if match["path"]:
            raise SysmonUsageError(
                f"{match[0]}: field paths (${{var.field}}) are not supported; write ${{{name}}}."
            )
        if name in macros:
            value: Any = macros[name]
        elif name in variables:
            value = variables[name]
        else:
            missing.append(name)
            return match[0]
        index = bisect.bisect_right(starts, match.start()) - 1
        place = strings[index][2] if index >= 0 and match.end() <= strings[index][1] else _Place()
        spec = match["braced_format"] if match["braced"] else match["old_format"]
        return _render(match[0], _as_value(value), spec, place)

    expanded = _REFERENCE_RE.sub(substitute, query)
    if missing:
        names = ", ".join(f"${name}" for name in dict.fromkeys(missing))
        raise SysmonUsageError(
            f"Undefined template variable {names}: assign it in Python first "
            "(or write $$ for a literal $)."
        )
    return expanded


def _strings(query: str) -> list[tuple[int, int, _Place]]:
    """The spans of the query's strings, in order, each with its quote and its matcher."""
    found: list[tuple[int, int, _Place]] = []
    previous_end = 0
    for literal in _LITERAL_RE.finditer(query):
        quote = literal[0][0]
        if quote != "#":
            # Only the text since the previous string or comment can hold this one's operator.
            matcher = _MATCHER_RE.search(query, previous_end, literal.start())
            place = _Place(quote, matcher["op"], matcher["label"]) if matcher else _Place(quote)
            found.append((literal.start(), literal.end(), place))
        previous_end = literal.end()
    return found


def _as_value(value: Any) -> Value:
    """A variable's value as a ``str`` (single) or a list of ``str`` (multi)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (set, frozenset)):
        # A set has no order: give it one, of its items' texts (its items may not compare:
        # {"a", 1}); and distinct texts, as its items are ({1, "1"}).
        return sorted({str(item) for item in value})
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value]
    # numpy arrays, pandas Series and Index (``df.instance.unique()``): their str() is no value.
    tolist = getattr(value, "tolist", None)
    if callable(tolist) and isinstance(listed := tolist(), list):
        return [str(item) for item in listed]
    return str(value)


def _render(reference: str, value: Value, spec: str | None, place: _Place) -> str:
    """The text that replaces ``reference``, formatted by ``spec`` and written for ``place``."""
    if isinstance(value, Verbatim):
        return _write_in_string(reference, value, place.quote)
    if isinstance(value, list) and not value:
        raise SysmonUsageError(
            f"{reference}: the template variable holds an empty list: give it at least one value."
        )
    if spec is None:
        text = _default_format(reference, value, place)
    else:
        name, *args = spec.split(":")  # ${name:join:sep}: arguments follow the format's name
        formatter = _formatter(reference, name, args)
        if name in ("regex", "pipe"):
            _refuse_alternation_after_equals(reference, value, place)
        text = formatter(value, args)
        if name == "raw":  # the escape hatch: exactly as given, even inside a string
            return text
    return _write_in_string(reference, text, place.quote)


def _default_format(reference: str, value: Value, place: _Place) -> str:
    """Grafana's Prometheus default: a single value as it is, a multi value as a regex."""
    if isinstance(value, str):
        return value
    if place.operator in ("=", "!=") and len(value) == 1:
        return value[0]  # one value matches as itself; its regex escape would not
    _refuse_alternation_after_equals(reference, value, place)
    return _regex(value, [])


def _refuse_alternation_after_equals(reference: str, value: Value, place: _Place) -> None:
    """A multi value after ``=`` or ``!=`` would silently match nothing: say so."""
    if place.operator in ("=", "!=") and isinstance(value, list) and len(value) > 1:
        regex_operator, meaning = ("=~", "any") if place.operator == "=" else ("!~", "none")
        label, quote = place.label or "label", place.quote or '"'
        raise SysmonUsageError(
            f"{reference} holds {len(value)} values, but {label}{place.operator}{quote}...{quote} "
            f"compares with one string: write {label}{regex_operator}{quote}{reference}{quote} "
            f"to match {meaning} of them."
        )


def _write_in_string(reference: str, text: str, quote: str | None) -> str:
    """``text`` as the PromQL string it lands in needs it written (as it is outside strings)."""
    if quote is None:
        return text
    if quote == "`":
        if "`" in text:  # a raw string has no escapes at all
            raise SysmonUsageError(
                f"{reference} holds a backtick, which a `...` string cannot hold: "
                'write the string in double quotes ("...").'
            )
        return text
    return escape_string(text, quote)


# --- the formats, as Grafana's format registry (grafana/scenes formatRegistry.ts) gives them ---


def _regex(value: Value, args: list[str]) -> str:
    if isinstance(value, str):
        return regex_literal(value)
    escaped = [regex_literal(item) for item in value]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def _joined(separator: str) -> Callable[[Value, list[str]], str]:
    return lambda value, args: value if isinstance(value, str) else separator.join(value)


def _join(value: Value, args: list[str]) -> str:
    return _joined(args[0] if args else ",")(value, args)


def _json(value: Value, args: list[str]) -> str:
    # Grafana leaves a single value as it is, and writes a list as compact JSON.
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _quoted(quote: str) -> Callable[[Value, list[str]], str]:
    # Each value a PromQL string literal (``label_join(..., ${labels:doublequote})``): Grafana
    # escapes only the quote; the backslash and newline are escaped too, or PromQL refuses them.
    def format_quoted(value: Value, args: list[str]) -> str:
        items = [value] if isinstance(value, str) else value
        return ",".join(quote + escape_string(item, quote) + quote for item in items)

    return format_quoted


_FORMATTERS: dict[str, Callable[[Value, list[str]], str]] = {
    "csv": _joined(","),
    "doublequote": _quoted('"'),
    "join": _join,
    "json": _json,
    "pipe": _joined("|"),
    "raw": _joined(","),  # JavaScript's String(array)
    "regex": _regex,
    "singlequote": _quoted("'"),
    "text": _joined(" + "),  # a Python value is its own text
}
_TAKES_ARGUMENT = frozenset({"join"})
# Grafana's other formats, and what they are for: their output is never PromQL.
_NOT_FOR_PROMQL = {
    "customqueryparam": "URL query parameters",
    "date": "dates (of $__from and $__to)",
    "distributed": "OpenTSDB",
    "glob": "Graphite",
    "html": "HTML",
    "lucene": "Elasticsearch (Lucene)",
    "percentencode": "URLs",
    "queryparam": "URL query parameters",
    "sqlstring": "SQL",
    "uriencode": "URLs",
}


def _formatter(reference: str, name: str, args: list[str]) -> Callable[[Value, list[str]], str]:
    known = ", ".join(_FORMATTERS)
    if name in _NOT_FOR_PROMQL:
        raise SysmonUsageError(
            f"{reference}: Grafana's {name} format is for {_NOT_FOR_PROMQL[name]}, not PromQL; "
            f"the formats are {known}."
        )
    if name not in _FORMATTERS:
        raise SysmonUsageError(
            f"{reference}: unknown variable format {name!r}; the formats are {known}."
        )
    if args and name not in _TAKES_ARGUMENT:
        raise SysmonUsageError(f"{reference}: the {name} format takes no argument.")
    return _FORMATTERS[name]
