"""The magics' options: their parsers, and how a magic line splits into options and PromQL.

Pure (no IPython): the magics in :mod:`sysmon_magic.magics` take their parsers from here, and
tests read them on literals. Option combinations that mean nothing (``--explain --plot``) are
refused by the parser, with one line that says what to do, rather than silently ignored.
"""

from __future__ import annotations

import argparse
import keyword
import re
from collections.abc import Iterable, Sequence
from typing import Any

from .errors import SysmonUsageError

__all__ = [
    "ALERT",
    "CONNECT",
    "DASHBOARD",
    "LABELS",
    "METADATA",
    "PROMQL",
    "SERIES",
    "OptionParser",
    "check_identifier",
    "magic_terms",
    "parse_assignments",
    "split_options",
    "unquote",
]


class _MagicHelp(argparse.RawDescriptionHelpFormatter):
    """``%magic?`` help as plain text: the magic's docstring as written, under "usage: %magic"."""

    def add_usage(self, usage: Any, actions: Any, groups: Any, prefix: Any = "usage: %") -> None:
        super().add_usage(usage, actions, groups, prefix)


class OptionParser(argparse.ArgumentParser):
    """A magic's options, whose errors are one-line usage errors: argparse would exit.

    :meth:`refuse` declares options that cannot go together; :meth:`parse_args` refuses them.
    """

    def __init__(self, prog: str) -> None:
        super().__init__(prog=prog, add_help=False, formatter_class=_MagicHelp)
        self.by_flag: dict[str, argparse.Action] = {}
        self.refusals: list[tuple[str, tuple[str, ...], str]] = []

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        action = super().add_argument(*args, **kwargs)
        self.by_flag.update(dict.fromkeys(action.option_strings, action))
        return action

    def refuse(self, flag: str, others: Sequence[str], advice: str) -> None:
        """Refuse ``flag`` with any of ``others``, saying ``advice`` ({other} names the other)."""
        unknown = [f for f in (flag, *others) if f not in self.by_flag]
        assert not unknown, f"not options of {self.prog}: {unknown}"
        self.refusals.append((flag, tuple(others), advice))

    def parse_args(self, args: Any = None, namespace: Any = None) -> Any:
        parsed = super().parse_args(args, namespace)
        for flag, others, advice in self.refusals:
            if not self._given(parsed, flag):
                continue
            for other in others:
                if self._given(parsed, other):
                    raise SysmonUsageError(advice.format(flag=flag, other=other))
        return parsed

    def _given(self, parsed: argparse.Namespace, flag: str) -> bool:
        action = self.by_flag[flag]
        return getattr(parsed, action.dest) != action.default

    def error(self, message: str) -> Any:  # argparse would print the usage and exit
        raise SysmonUsageError(message)


def split_options(line: str, parser: OptionParser) -> tuple[list[str], str]:
    """Separate a magic line into the parser's option tokens and the rest (PromQL), verbatim.

    Shell-style splitting would strip the quotes of ``{job="x"}``, so the line is scanned
    instead: a token that starts a word at the top level (outside quotes and brackets) and is
    one of ``parser``'s option strings is an option, with its value if it takes one; everything
    else is kept as written. ``--`` ends the options (for a query that starts with ``-``).
    """
    arity = {option: action.nargs != 0 for option, action in parser.by_flag.items()}
    options: list[str] = []
    rest: list[str] = []
    position = 0
    while position < len(line):
        if line[position].isspace():
            rest.append(line[position])
            position += 1
            continue
        word_end = _word_end(line, position)
        word = line[position:word_end]
        if word == "--":
            rest.append(line[word_end:])
            break
        option = word.split("=", 1)[0]
        if option not in arity:
            rest.append(word)
            position = word_end
            continue
        options.append(word)
        position = word_end
        if arity[option] and "=" not in word:
            while position < len(line) and line[position].isspace():
                position += 1
            if position < len(line):
                value_end = _word_end(line, position)
                options.append(unquote(line[position:value_end]))
                position = value_end
    return options, "".join(rest).strip()


def _word_end(line: str, start: int) -> int:
    """End of the word at ``start``: the next whitespace outside quotes and brackets."""
    depth = 0
    quote = ""
    position = start
    while position < len(line):
        char = line[position]
        if quote:
            if char == "\\":
                position += 1
            elif char == quote:
                quote = ""
        elif char in "\"'`":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth = max(depth - 1, 0)
        elif char.isspace() and depth == 0:
            break
        position += 1
    return min(position, len(line))


def unquote(value: str) -> str:
    """``value`` without one pair of surrounding quotes, if it has them."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def check_identifier(name: str) -> str:
    """``name`` if it can be a Python variable (``-o NAME``); else a usage error."""
    # A keyword (-o if) is an identifier no code can name: the result would be out of reach.
    if not name.isidentifier() or keyword.iskeyword(name):
        raise SysmonUsageError(f"-o needs a Python variable name, not {name!r}.")
    return name


def parse_assignments(items: Iterable[str]) -> dict[str, str | list[str]]:
    """%promql_dashboard's ``--var``: ``["node=web-01:9100", "mode=user", "mode=system"]`` as
    ``{"node": ..., "mode": [...]}``; a name given twice takes a list, as Grafana's
    ``var-mode=user&var-mode=system``."""
    found: dict[str, list[str]] = {}
    for item in items:
        name, equals, value = item.partition("=")
        name = name.strip().removeprefix("var-").removeprefix("$")
        if not equals or not name:
            raise SysmonUsageError(
                f"--var takes NAME=VALUE (e.g. --var node=web-01:9100), not {item!r}."
            )
        found.setdefault(name, []).append(value)
    return {name: values[0] if len(values) == 1 else values for name, values in found.items()}


# The library's messages name its parameters (timeout=); in a notebook they are options.
_NAMED = r"(?=[\s,.;:)]|$)"
# A parameter named without a value ("raise timeout=."), never a label matcher (start="a").
_MAGIC_TERMS = (
    (
        re.compile(r"max_response_bytes=[\d,]+ \(([\d,.]+) MiB\)"),
        r"SysmonMagics.max_response_mb = \1",
    ),
    (re.compile(r"\bmax_response_bytes="), "%config SysmonMagics.max_response_mb"),
    (re.compile(rf"\btimeout={_NAMED}"), "--timeout"),
    (re.compile(r"\bcompress=False\b"), "--no-compress"),
    (re.compile(rf"\bsecret_headers={_NAMED}"), "--header-env NAME=VAR"),
    (re.compile(rf"\bheaders={_NAMED}"), "--header"),
    (re.compile(rf"\bparams={_NAMED}"), "--param"),
    (re.compile(r"\bmax_points_per_series="), "--max-points"),
    (re.compile(rf"\bstep={_NAMED}"), "--step"),
    (re.compile(rf"\brange_seconds={_NAMED}"), "--range"),
    (re.compile(rf"\bstart={_NAMED}"), "--start"),
    (re.compile(rf"\bend={_NAMED}"), "--end"),
    (re.compile(rf"\bbase_url={_NAMED}"), "--url"),
    (re.compile(rf"\bappkey={_NAMED}"), "$SYSMON_APPKEY (or --appkey-env VAR)"),
    (re.compile(rf"\bvariables={_NAMED}"), "--var NAME=VALUE"),
    (re.compile(r'\bfmt="(tidy|wide)"'), r"--format \1"),
    (re.compile(r"\brecording=Recording\.for_writing\('((?:[^'\\]|\\.)*)'\)"), r"--record \1"),
    (re.compile(rf"\brecording={_NAMED}"), "--record"),
)


def magic_terms(message: str, parser: OptionParser | None = None) -> str:
    """A library message in the terms of the magics: ``--timeout`` for ``timeout=``, or the
    setting where ``parser``'s magic has no ``--timeout`` (``%sysmon_connect``)."""
    for pattern, replacement in _MAGIC_TERMS:
        if replacement == "--timeout" and parser is not None and replacement not in parser.by_flag:
            replacement = "%config SysmonMagics.timeout"
        message = pattern.sub(replacement, message)
    return message


# -- the parsers: one per magic; the magic's docstring becomes its description -----------------


def _sysmon_connect_options() -> OptionParser:
    """%sysmon_connect [target] [options]."""
    parser = OptionParser("sysmon_connect")
    parser.add_argument("target", nargs="?", help="a region (kr1, kr2, us1, jp1, gov) or demo")
    parser.add_argument("--url", help="any Prometheus-compatible API root, the part before /api/v1")
    parser.add_argument("--appkey-env", metavar="VAR", help="read the appkey from this variable")
    parser.add_argument(
        "--appkey", metavar="KEY", help="the appkey itself (saved with the notebook: avoid)"
    )
    parser.add_argument(
        "--ca-bundle", metavar="PATH", help="trust this CA bundle for TLS (private CAs)"
    )
    parser.add_argument(
        "--insecure", action="store_true", help="do not verify TLS certificates (warns)"
    )
    parser.add_argument(
        "--compress",
        action="store_true",
        help="ask for gzip even from 127.0.0.1 (a tunnel to a distant server)",
    )
    parser.add_argument(
        "--no-compress",
        action="store_true",
        help="never ask for gzip (a proxy that damages compressed answers)",
    )
    parser.add_argument(
        "--header",
        action="append",
        metavar="'NAME: VALUE'",
        help="send this header with every request, e.g. a tenant: 'X-Scope-OrgID: team-a' "
        "(repeatable; shown with the connection and under results)",
    )
    parser.add_argument(
        "--header-env",
        action="append",
        metavar="NAME=VAR",
        help="send header NAME with the value of $VAR, kept secret as the appkey is (repeatable)",
    )
    parser.add_argument(
        "--param",
        action="append",
        metavar="NAME=VALUE",
        help="an engine parameter sent with every query, e.g. dedup=false, nocache=1 (repeatable)",
    )
    parser.add_argument(
        "--max-points",
        dest="max_points_per_series",
        type=int,
        metavar="N",
        help="the most points per series the server returns for one range query (default "
        "11001, Prometheus' 11,000 steps; VictoriaMetrics: 30000): longer ranges are split into "
        "windows of N points",
    )
    parser.add_argument(
        "--scrape-interval",
        metavar="DUR",
        help="the data's sample interval (default: 60s for regions and demo, else measured)",
    )
    parser.add_argument(
        "--name", help="name of the connection (default: the region, demo or the host)"
    )
    parser.add_argument("--now", metavar="T", help="pin the clock: now, now-6h and --range read it")
    parser.add_argument(
        "--record", metavar="FILE", help="answer live and record every exchange in FILE"
    )
    parser.add_argument(
        "--replay", metavar="FILE", help="answer from a recording: no network, no appkey"
    )
    return parser


CONNECT = _sysmon_connect_options()


def _query_options(parser: OptionParser) -> None:
    """The connection and time limit of the query magics."""
    parser.add_argument(
        "--conn", metavar="NAME", help="use this connection instead of the current one"
    )
    parser.add_argument("--timeout", metavar="DUR", help="server-side and client-side time limit")


def _promql_options() -> OptionParser:
    """%%promql / %promql [options] [query]."""
    parser = OptionParser("promql")
    parser.add_argument("query", nargs="*", help="PromQL (line form); in a cell, the cell's body")
    parser.add_argument("--range", dest="range_", metavar="DUR", help="window ending now, e.g. 6h")
    parser.add_argument("--start", metavar="T", help="window start: RFC 3339, unix seconds, now-6h")
    parser.add_argument("--end", metavar="T", help="window end (default: now)")
    parser.add_argument("--step", metavar="DUR", help="resolution (default: automatic)")
    parser.add_argument("--instant", action="store_true", help="evaluate at one time (--time)")
    parser.add_argument("--time", metavar="T", help="time of an instant query (default: now)")
    parser.add_argument(
        "-o", "--output", metavar="NAME", help="store the DataFrame in NAME, show a summary"
    )
    parser.add_argument(
        "--format", choices=["tidy", "wide"], help="tidy (a row per sample) or wide"
    )
    _query_options(parser)
    parser.add_argument("--plot", action="store_true", help="also draw the result (matplotlib)")
    parser.add_argument(
        "--legend",
        metavar="FORMAT",
        help="legend as Grafana's: '{{instance}} {{mode}}', __auto, or '' (full series names)",
    )
    parser.add_argument(
        "--unit", metavar="ID", help="y axis unit, a Grafana unit id: percent, bytes, bps"
    )
    parser.add_argument(
        "--events", metavar="NAME", help="mark the events of NAME, {time: label}, on --plot"
    )
    parser.add_argument("--log", action="store_true", help="--plot on a log scale (a p99, say)")
    parser.add_argument("--explore", action="store_true", help="label pickers + time slider + plot")
    parser.add_argument(
        "--explain", action="store_true", help="the query's tree, with series per node"
    )
    parser.add_argument(
        "--show-query", action="store_true", help="show the query as sent, highlighted"
    )
    parser.refuse("--instant", ["--start", "--end"], "--instant takes --time, not --start/--end.")
    for other in ("--plot", "--explore", "--format"):
        parser.refuse(
            "--explain",
            [other],
            "--explain shows the query's tree, not a result: drop {other}, or run the query "
            "again without --explain.",
        )
    parser.refuse("--explore", ["--plot"], "--explore draws the result itself: drop --plot.")
    return parser


PROMQL = _promql_options()


def _promql_alert_options() -> OptionParser:
    """%%promql_alert [options], the rule's expr in the cell."""
    parser = OptionParser("promql_alert")
    parser.add_argument(
        "--for", dest="for_", metavar="DUR", default="0s", help="the rule's for: (0s)"
    )
    parser.add_argument(
        "--keep-firing-for", metavar="DUR", default="0s", help="the rule's keep_firing_for:"
    )
    parser.add_argument(
        "--every", metavar="DUR", help="evaluation interval (default: the scrape interval)"
    )
    parser.add_argument("--range", dest="range_", metavar="DUR", help="window ending now, e.g. 7d")
    parser.add_argument("--start", metavar="T", help="window start (the first evaluation)")
    parser.add_argument("--end", metavar="T", help="window end (default: now)")
    parser.add_argument(
        "-o", "--output", metavar="NAME", help="store the alerts in NAME, show a summary"
    )
    parser.add_argument(
        "--plot", action="store_true", help="shade pending and firing over the expression"
    )
    parser.add_argument("--legend", metavar="FORMAT", help="legend of --plot, as in %%promql")
    parser.add_argument("--events", metavar="NAME", help="mark the events of NAME on --plot")
    _query_options(parser)
    return parser


ALERT = _promql_alert_options()


def _window_options(parser: OptionParser) -> OptionParser:
    """The window and connection options of the metadata magics."""
    parser.add_argument(
        "--range", dest="range_", metavar="DUR", help="window ending now (default 1h)"
    )
    parser.add_argument("--start", metavar="T", help="window start")
    parser.add_argument("--end", metavar="T", help="window end (default: now)")
    parser.add_argument("--conn", metavar="NAME", help="use this connection")
    return parser


SERIES = OptionParser("promql_series")
SERIES.add_argument("selector", nargs="*", help='series selector, e.g. up{job="node"}')
_window_options(SERIES)

LABELS = OptionParser("promql_labels")
LABELS.add_argument("label", nargs="*", help="a label name: list its values (default: list names)")
LABELS.add_argument("--match", metavar="SELECTOR", help="only series matching this selector")
_window_options(LABELS)


def _promql_metadata_options() -> OptionParser:
    """%promql_metadata [--conn NAME] [metric]."""
    parser = OptionParser("promql_metadata")
    parser.add_argument("metric", nargs="*", help="one metric name (default: all)")
    parser.add_argument("--conn", metavar="NAME", help="use this connection")
    return parser


METADATA = _promql_metadata_options()


def _promql_dashboard_options() -> OptionParser:
    """%promql_dashboard PATH [--var NAME=VALUE]."""
    parser = OptionParser("promql_dashboard")
    parser.add_argument("path", nargs="*", help="the dashboard's JSON file (Grafana's export)")
    parser.add_argument(
        "--var", action="append", default=[], metavar="NAME=VALUE", help="choose a value"
    )
    parser.add_argument("--conn", metavar="NAME", help="use this connection")
    return parser


DASHBOARD = _promql_dashboard_options()
