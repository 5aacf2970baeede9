"""IPython glue: ``%sysmon_connect``, ``%%promql`` / ``%promql`` and the metadata magics.

Thin on purpose: options are parsed here, the window is resolved once per cell, the query is
templated, and the :class:`~sysmon_magic.client.Client` does the rest. Every
:class:`~sysmon_magic.errors.SysmonError` becomes a ``UsageError``, which IPython shows as one
short line instead of a traceback.
"""

from __future__ import annotations

import functools
import getpass
import math
import os
import re
import shlex
import sys
import time
from argparse import ArgumentParser, Namespace
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import urlsplit

import pandas as pd
from IPython.core.error import StdinNotImplementedError, UsageError
from IPython.core.magic import (
    Magics,
    cell_magic,
    line_cell_magic,
    line_magic,
    magics_class,
    no_var_expand,
)
from IPython.core.magic_arguments import MagicHelpFormatter, argument, kwds, magic_arguments
from traitlets import Bool, Dict, Enum, Int, TraitError, Unicode, validate

from .errors import SysmonError, SysmonUsageError
from .plotting import MAX_DISTINCT_SERIES
from .provenance import Provenance, describe_window, provenance_line, series_count, summarize
from .regions import REGIONS, region_api_root
from .templating import expand, grafana_macros
from .timeparse import (
    auto_step,
    format_duration,
    format_time,
    parse_duration,
    parse_time,
    parse_zone,
    resolve_span,
    resolve_window,
)

if TYPE_CHECKING:
    from .client import Client
    from .frames import FrameFormat
    from .transport import Secret

__all__ = ["SysmonMagics", "split_options"]

_Magic = TypeVar("_Magic", bound=Callable[..., Any])

#: The scrape interval of a connection that has none and gives nothing to measure: Grafana's
#: default for a Prometheus data source.
ASSUMED_SCRAPE_INTERVAL = 15.0


class _PlainHelp(MagicHelpFormatter):
    """%magic? help as plain text: IPython's own formatter puts reST's "::" before the usage."""

    def add_usage(self, usage: Any, actions: Any, groups: Any, prefix: Any = "usage: %") -> None:
        super().add_usage(usage, actions, groups, prefix)


def _usage_errors(method: _Magic) -> _Magic:
    """Show library errors as IPython's one-line ``UsageError`` instead of a traceback."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except SysmonError as exc:
            raise UsageError(magic_terms(str(exc))) from exc

    return wrapper  # type: ignore[return-value]


# The library's messages name its parameters (timeout=); in a notebook they are options.
_MAGIC_TERMS = (
    (
        re.compile(r"max_response_bytes=[\d,]+ \(([\d,.]+) MiB\)"),
        r"SysmonMagics.max_response_mb = \1",
    ),
    (re.compile(r"\bmax_response_bytes="), "%config SysmonMagics.max_response_mb"),
    (re.compile(r"\btimeout="), "--timeout"),
    (re.compile(r"\bcompress=False\b"), "--no-compress"),
    (re.compile(r"\bsecret_headers="), "--header-env NAME=VAR"),
    (re.compile(r"\bheaders="), "--header"),
    (re.compile(r"\bparams="), "--param"),
    (re.compile(r"\bmax_points_per_series="), "--max-points"),
)


def magic_terms(message: str) -> str:
    """A library message in the terms of the magics: ``--timeout`` for ``timeout=``."""
    for pattern, replacement in _MAGIC_TERMS:
        message = pattern.sub(replacement, message)
    return message


def split_options(line: str, parser: ArgumentParser) -> tuple[list[str], str]:
    """Separate a magic line into the parser's option tokens and the rest (PromQL), verbatim.

    Shell-style splitting would strip the quotes of ``{job="x"}``, so the line is scanned
    instead: a token that starts a word at the top level (outside quotes and brackets) and is
    one of ``parser``'s option strings is an option, with its value if it takes one; everything
    else is kept as written. ``--`` ends the options (for a query that starts with ``-``).
    """
    arity = {
        option: action.nargs != 0 for action in parser._actions for option in action.option_strings
    }
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
                options.append(_unquote(line[position:value_end]))
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


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _check_identifier(name: str) -> str:
    if not name.isidentifier():
        raise SysmonUsageError(f"-o needs a Python variable name, not {name!r}.")
    return name


@magics_class
class SysmonMagics(Magics):
    """Magics for Prometheus-compatible APIs: NHN Cloud System Monitoring, any Prometheus, a demo."""

    default_range = Unicode(
        "1h", help="Window of a range query when neither --range nor --start is given."
    ).tag(config=True)
    max_points = Int(
        1000, help="Points per series an automatic step aims at (the step is rounded up)."
    ).tag(config=True)
    default_format = Enum(
        ["tidy", "wide"], "tidy", help="Shape of result DataFrames when --format is not given."
    ).tag(config=True)
    max_response_mb = Int(
        1024, help="The largest answer read, in MiB (compressed or not); past it, an error."
    ).tag(config=True)
    timeout = Unicode("60s", help="How long to wait for an answer (--timeout overrides).").tag(
        config=True
    )
    appkey_env = Unicode(
        "SYSMON_APPKEY", help="Environment variable read for the appkey of a region connection."
    ).tag(config=True)
    timezone = Unicode(
        "UTC", help="IANA time zone of plots' time axes and the explorer, e.g. Asia/Seoul."
    ).tag(config=True)
    max_plot_series = Int(
        30,
        help=f"Plots draw at most this many series (those with the largest values), at most "
        f"{MAX_DISTINCT_SERIES}: beyond that two lines would look alike.",
    ).tag(config=True)
    replay = Bool(
        os.environ.get("SYSMON_REPLAY", "").lower() in ("1", "true", "yes"),
        help="Answer every %sysmon_connect ... --record FILE from FILE (default: $SYSMON_REPLAY).",
    ).tag(config=True)
    demo_gateway = Bool(
        os.environ.get("SYSMON_DEMO_GATEWAY", "").lower() in ("1", "true", "yes"),
        help="Put an NHN-style gateway that checks the appkey in front of the demo server "
        "(default: $SYSMON_DEMO_GATEWAY); the appkey is read as for a region.",
    ).tag(config=True)
    provenance = Bool(
        True, help="Print a provenance line (source, window, step, counts, live/replayed)."
    ).tag(config=True)
    max_parallel = Int(
        4,
        help="Windows of a long range query (past the server's points per series) fetched at once.",
    ).tag(config=True)
    region_urls = Dict(
        {}, help='Base URLs that replace a region\'s, e.g. {"kr1": "http://127.0.0.1:8080"}.'
    ).tag(config=True)

    @validate("max_response_mb")
    def _valid_max_response_mb(self, proposal: dict[str, Any]) -> int:
        value = int(proposal["value"])
        if value < 1:
            raise TraitError("max_response_mb must be at least 1 (MiB).")
        return value

    @validate("max_plot_series")
    def _valid_max_plot_series(self, proposal: dict[str, Any]) -> int:
        value = int(proposal["value"])
        if not 1 <= value <= MAX_DISTINCT_SERIES:
            raise TraitError(
                f"max_plot_series must be 1 to {MAX_DISTINCT_SERIES}: beyond that, two lines "
                "would share a colour and a line style."
            )
        return value

    # Refused when set, so that a bad value is one line at %config, not an error at every query.
    @validate("default_range", "timeout")
    def _valid_duration(self, proposal: dict[str, Any]) -> str:
        value: str = proposal["value"]
        try:
            parse_duration(value)
        except SysmonUsageError as exc:
            raise TraitError(f"{proposal['trait'].name}: {exc}") from None
        return value

    @validate("timezone")
    def _valid_timezone(self, proposal: dict[str, Any]) -> str:
        value: str = proposal["value"]
        try:
            parse_zone(value)
        except SysmonUsageError as exc:
            raise TraitError(f"timezone: {exc}") from None
        return value

    @validate("region_urls")
    def _valid_region_urls(self, proposal: dict[str, Any]) -> dict[str, str]:
        urls = proposal["value"]
        for code, url in urls.items():
            if not (isinstance(code, str) and isinstance(url, str)):
                raise TraitError(
                    f"region_urls maps region codes to base URLs as strings, e.g. "
                    f'{{"kr1": "http://127.0.0.1:8080"}}; not {code!r}: {url!r}.'
                )
        # Regions are looked up in lower case: "KR1" would never be used.
        return {code.strip().lower(): url for code, url in urls.items()}

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self.connections: dict[str, Client] = {}
        self._where: dict[str, str] = {}  # connection name -> how to describe its source
        self._gateway: Any = None  # the demo's gateway, when demo_gateway asks for one
        self._names: dict[str, Any] = {}  # connection name -> completion.Names (its cache)
        self.current: str | None = None
        if shell is not None:
            self._register(shell)

    # -- lifecycle (storemagic's shape: the instance registers and unregisters itself) ----

    def _register(self, shell: Any) -> None:
        # Magics.__init__ has put it in shell.configurables (for %config SysmonMagics) already.
        from IPython.core.completer import context_matcher

        @context_matcher(identifier="sysmon_magic.promql")
        def complete(context: Any) -> Any:
            return self.complete_promql(context)

        self._matcher = complete
        shell.Completer.custom_matchers.append(complete)
        # By name: importing the explorer (and ipywidgets) waits until an explorer is shown.
        shell.display_formatter.ipython_display_formatter.for_type_by_name(
            "sysmon_magic.explorer", "Explorer", show_explorer
        )

    def close(self) -> None:
        """Close the connections and the demo's gateway; take back all the shell was given."""
        for client in self.connections.values():
            client.close()
        self.connections.clear()
        self.current = None
        if self._gateway is not None:
            self._gateway.stop()
            self._gateway = None
        shell: Any = self.shell
        if shell is None:
            return
        if self in shell.configurables:
            shell.configurables.remove(self)
        matchers = shell.Completer.custom_matchers
        if getattr(self, "_matcher", None) in matchers:
            matchers.remove(self._matcher)
        formatter = shell.display_formatter.ipython_display_formatter
        formatter.pop("sysmon_magic.explorer.Explorer", None)

    @classmethod
    def unload(cls, shell: Any) -> None:
        """``%unload_ext``: close every instance registered in ``shell``."""
        for magics in [c for c in shell.configurables if isinstance(c, cls)]:
            magics.close()

    # -- connections -----------------------------------------------------------------------

    @magic_arguments()
    @kwds(formatter_class=_PlainHelp)
    @argument("target", nargs="?", help="a region (kr1, kr2, us1, jp1, gov) or demo")
    @argument("--url", help="any Prometheus-compatible API root, the part before /api/v1")
    @argument("--appkey-env", metavar="VAR", help="read the appkey from this variable")
    @argument("--appkey", metavar="KEY", help="the appkey itself (saved with the notebook: avoid)")
    @argument("--ca-bundle", metavar="PATH", help="trust this CA bundle for TLS (private CAs)")
    @argument("--insecure", action="store_true", help="do not verify TLS certificates (warns)")
    @argument(
        "--compress",
        action="store_true",
        help="ask for gzip even from 127.0.0.1 (a tunnel to a distant server)",
    )
    @argument(
        "--no-compress",
        action="store_true",
        help="never ask for gzip (a proxy that damages compressed answers)",
    )
    @argument(
        "--header",
        action="append",
        metavar="'NAME: VALUE'",
        help="send this header with every request, e.g. a tenant: 'X-Scope-OrgID: team-a' "
        "(repeatable; shown with the connection and under results)",
    )
    @argument(
        "--header-env",
        action="append",
        metavar="NAME=VAR",
        help="send header NAME with the value of $VAR, kept secret as the appkey is (repeatable)",
    )
    @argument(
        "--param",
        action="append",
        metavar="NAME=VALUE",
        help="an engine parameter sent with every query, e.g. dedup=false, nocache=1 (repeatable)",
    )
    @argument(
        "--max-points",
        dest="max_points_per_series",
        type=int,
        metavar="N",
        help="the most points per series the server returns for one range query (default "
        "11001, Prometheus' 11,000 steps; VictoriaMetrics: 30000): longer ranges are split into "
        "windows of N points",
    )
    @argument(
        "--scrape-interval",
        metavar="DUR",
        help="the data's sample interval (default: 60s for regions and demo, else measured)",
    )
    @argument("--name", help="name of the connection (default: the region, demo or the host)")
    @argument("--now", metavar="T", help="pin the clock: now, now-6h and --range read it")
    @argument("--record", metavar="FILE", help="answer live and record every exchange in FILE")
    @argument("--replay", metavar="FILE", help="answer from a recording: no network, no appkey")
    @line_magic
    @_usage_errors
    def sysmon_connect(self, line: str) -> pd.DataFrame | None:
        """Connect to NHN Cloud System Monitoring, a Prometheus, or the local demo server.

        Without arguments, list the connections (the appkey masked). The last connection made
        is the current one; %%promql --conn NAME uses another.

        Examples
        --------
            %sysmon_connect kr1                       # appkey from $SYSMON_APPKEY, else a prompt
            %sysmon_connect kr2 --appkey-env MY_KEY   # appkey from $MY_KEY
            %sysmon_connect --url http://127.0.0.1:9090   # any Prometheus (API root)
            %sysmon_connect --url http://127.0.0.1:9090 --scrape-interval 15s
            %sysmon_connect demo                      # the local demo server with sample data
            %sysmon_connect kr1 --name prod           # a named connection
            %sysmon_connect kr1 --record incident.promql.json --now 2026-11-05T08:00:00Z
            %sysmon_connect --replay incident.promql.json   # the same answers, offline
            %sysmon_connect                           # list connections

        The scrape interval (the data's sample interval) is the floor of every automatic step
        and feeds $__rate_interval: 60s for the regions and the demo; for --url it is
        --scrape-interval, else measured from the samples of `up` in the last hour, else
        Grafana's default, 15s.

        With --record the clock is pinned (--now, or the minute of connecting), so that
        re-running the report asks the same questions; SysmonMagics.replay (default from
        $SYSMON_REPLAY) turns every --record FILE of a notebook into --replay FILE.
        """
        # Split as a shell does: --appkey 'KEY' is KEY, --name "a b" is a b.
        try:
            words = shlex.split(line)
        except ValueError as exc:
            raise SysmonUsageError(f"Cannot read the options ({exc}): close the quote.") from None
        args = self.sysmon_connect.parser.parse_args(words)
        if args.target is None and args.url is None and args.replay is None:
            return self._connections_frame()
        if args.target is not None and args.url is not None:
            raise SysmonUsageError("Give a region (or demo) or --url, not both.")
        if args.record and args.replay:
            raise SysmonUsageError("Give --record (live) or --replay (offline), not both.")
        replay = args.replay or (args.record if self.replay else None)
        if replay is not None:
            given = [
                flag
                for flag, value in (
                    ("--header", args.header),
                    ("--header-env", args.header_env),
                    ("--param", args.param),
                    ("--max-points", args.max_points_per_series),
                )
                if value
            ]
            if given:  # a replay asks what was recorded: these would change nothing, silently
                raise SysmonUsageError(
                    f"A replay answers as recorded: {', '.join(given)} cannot change it; drop "
                    "them, or record again with them."
                )
            from .client import Client  # here, not at load: requests is slow to import

            client = Client.from_recording(replay, timeout=parse_duration(self.timeout))
            if args.scrape_interval:
                client.scrape_interval = parse_duration(args.scrape_interval)
            if args.name:
                client.name = args.name
            assert client.recording is not None
            # Described as when it was recorded: a replayed report reads as the live one did;
            # each result's provenance line ends in "replayed" instead of "live".
            where = client.recording.connection.get("source") or f"the recording {replay}"
            self._remember(client, where)
            return None
        client, where = self._new_client(args)
        if client.recording is not None:
            client.recording.connection["source"] = where
        client.check()  # fail now, with a clear reason, rather than at the first query
        interval_note = ""
        if client.scrape_interval is None:
            interval_note = self._find_scrape_interval(client)
        self._remember(client, where, interval_note)
        return None

    @staticmethod
    def _find_scrape_interval(client: Client) -> str:
        """Measure a connection's scrape interval (or assume Grafana's); say which it is."""
        try:
            measured = client.measure_scrape_interval()
        except SysmonError:  # a server that answers queries but not these: still usable
            measured = None
        client.scrape_interval = measured or ASSUMED_SCRAPE_INTERVAL
        if client.recording is not None:  # a replay must choose the same steps
            client.recording.connection["scrape_interval"] = client.scrape_interval
        interval = format_duration(client.scrape_interval)
        if measured is None:
            return (
                f"; scrape interval unknown (no recent samples to measure it from), "
                f"{interval} assumed: give --scrape-interval"
            )
        return f"; samples every {interval} (measured)"

    def _new_client(self, args: Namespace) -> tuple[Client, str]:
        """A client for the arguments, and how to describe where it points."""
        from .client import Client  # here, not at load: requests is slow to import
        from .recording import Recording

        options: dict[str, Any] = {
            "timeout": parse_duration(self.timeout),
            "max_points": self.max_points,
            "max_parallel": self.max_parallel,
            "scrape_interval": parse_duration(args.scrape_interval)
            if args.scrape_interval
            else None,
            "now": parse_time(args.now, time.time()) if args.now else None,
            "verify": self._verify(args),
            # None: gzip, except from a loopback address.
            "compress": False if args.no_compress else (True if args.compress else None),
            "max_response_bytes": self.max_response_mb << 20,
            **self._engine_options(args),
        }
        if args.record:
            options["recording"] = Recording.for_writing(args.record)
        if args.target == "demo":
            return self._demo_client(args, options)  # its clock is pinned at the data's end
        if args.record:
            # A recorded report must ask the same questions when re-run: pin its clock.
            options["now"] = options["now"] or math.floor(time.time() / 60) * 60
        appkey = self._appkey(
            args.appkey_env, required=args.url is None, target=args.target, literal=args.appkey
        )
        if args.url is not None:
            name = args.name or urlsplit(args.url).netloc or args.url
            client = Client(args.url, appkey, name=name, **options)
        else:
            client = Client.for_region(
                args.target, appkey, overrides=self.region_urls, name=args.name, **options
            )
        return client, client.base_url

    @staticmethod
    def _engine_options(args: Namespace) -> dict[str, Any]:
        """--header, --header-env, --param and --max-points as the client's options."""
        headers: dict[str, str] = {}
        secret: dict[str, str] = {}
        params: dict[str, str] = {}

        def add(into: dict[str, str], name: str, value: str, what: str) -> None:
            if name in into:
                raise SysmonUsageError(f"The {what} {name} is given twice: give it once.")
            into[name] = value

        for text in args.header or []:
            name, colon, value = text.partition(":")
            if not colon or not name.strip():
                raise SysmonUsageError(f"--header takes 'NAME: VALUE' (as curl -H), not {text!r}.")
            add(headers, name.strip(), value, "header")
        for text in args.header_env or []:
            # The text is never quoted back: it may be the secret, typed where VAR belongs.
            name, equals, variable = (part.strip() for part in text.partition("="))
            if not equals or not name or not variable.isidentifier():
                raise SysmonUsageError(
                    "--header-env takes NAME=VAR: a header name and the environment variable "
                    "that holds its value (letters, digits, _), so that the value is never in "
                    "the notebook."
                )
            value = os.environ.get(variable)
            if not value:
                raise SysmonUsageError(f"${variable} is not set: put the value of {name} in it.")
            add(secret, name, value, "header")
        for text in args.param or []:
            name, equals, value = text.partition("=")  # extra_label=team=a: the first = splits
            if not equals or not name.strip():
                raise SysmonUsageError(f"--param takes NAME=VALUE, e.g. dedup=false, not {text!r}.")
            add(params, name.strip(), value, "parameter")
        options: dict[str, Any] = {"headers": headers, "secret_headers": secret, "params": params}
        if args.max_points_per_series is not None:
            options["max_points_per_series"] = args.max_points_per_series
        return options

    def _demo_client(self, args: Namespace, options: dict[str, Any]) -> tuple[Client, str]:
        from . import demo
        from .client import Client

        server = demo.start()
        options["now"] = options["now"] or server.now
        options["scrape_interval"] = options["scrape_interval"] or float(demo.STEP)
        name = args.name or "demo"
        # Not the URL: its port changes from run to run, and notebooks should not.
        if not self.demo_gateway:
            return Client(server.url, name=name, **options), "the local demo server"
        from .demo.gateway import Gateway

        appkey = self._appkey(args.appkey_env, required=True, target="demo", literal=args.appkey)
        assert appkey is not None
        if self._gateway is not None:
            self._gateway.stop()
        self._gateway = Gateway(server.url, [appkey.reveal()]).start()
        client = Client(self._gateway.url + "/prometheus", appkey, name=name, **options)
        return client, "the local demo server, through an NHN-style gateway"

    @staticmethod
    def _verify(args: Namespace) -> bool | str:
        """TLS verification: on, with a given CA bundle, or (explicitly, with a warning) off."""
        if args.insecure and args.ca_bundle:
            raise SysmonUsageError("Give --ca-bundle or --insecure, not both.")
        if args.ca_bundle:
            if not os.path.isfile(args.ca_bundle):
                raise SysmonUsageError(f"No CA bundle at {args.ca_bundle}: give a PEM file.")
            return str(args.ca_bundle)
        if args.insecure:
            print(
                "Warning: TLS certificates are not verified (--insecure): anyone on the network "
                "path can read the appkey and the data. Prefer --ca-bundle PATH.",
                file=sys.stderr,
            )
            return False
        return True

    def _appkey(
        self,
        variable: str | None,
        *,
        required: bool,
        target: str | None,
        literal: str | None = None,
    ) -> Secret | None:
        """The appkey, as a Secret from where it is read: no frame holds it as text."""
        from .transport import Secret  # here, not at load: requests is slow to import

        if literal:
            print(
                "Warning: an appkey typed into a cell is saved with the notebook (and its "
                f"history). Put it in ${self.appkey_env} or another variable (--appkey-env VAR), "
                "or leave both unset to be prompted.",
                file=sys.stderr,
            )
            return Secret(literal)
        if variable is not None:
            if not os.environ.get(variable):
                raise SysmonUsageError(f"${variable} is not set: put the project's appkey in it.")
            return Secret(os.environ[variable])
        if not required:
            return None
        if target != "demo":  # check the region before asking for a key it would not need
            region_api_root(target or "", self.region_urls)
        if os.environ.get(self.appkey_env):
            return Secret(os.environ[self.appkey_env])
        try:
            typed = Secret(getpass.getpass(f"Appkey for {target} (console: URL & Appkey): "))
        except (StdinNotImplementedError, EOFError, OSError):
            typed = Secret("")
        if not typed.reveal():
            raise SysmonUsageError(
                f"No appkey: set ${self.appkey_env} (or --appkey-env VAR) to the project's appkey "
                "from the console (Compute > System Monitoring > URL & Appkey)."
            )
        return typed

    def _remember(self, client: Client, where: str, note: str = "") -> None:
        previous = self.connections.pop(client.name, None)
        if previous is not None:
            previous.close()
        self.connections[client.name] = client
        self._where[client.name] = where
        self.current = client.name
        clock = ""
        if client.pinned_now is not None:
            clock = f"; its clock is pinned at {format_time(client.pinned_now)}"
        key = f" with appkey {client.masked_appkey}" if client.has_appkey else ""
        print(f"Connected {client.name!r} to {where}{key}{clock}{note}.")

    def _connections_frame(self) -> pd.DataFrame | None:
        if not self.connections:
            regions = ", ".join(REGIONS)
            print(f"No connections yet: %sysmon_connect REGION ({regions}), --url URL, or demo.")
            return None
        rows = [
            {
                "name": name,
                "current": name == self.current,
                "url": f"replay of {client.recording.path}"
                if client.recording is not None and client.replaying
                else client.base_url,
                "appkey": client.masked_appkey,
                "clock": "now" if client.pinned_now is None else format_time(client.pinned_now),
                # A secret header by its name only, as the appkey is never shown whole.
                "headers": ", ".join(
                    [f"{header}: {value}" for header, value in client.headers.items()]
                    + [f"{header}: ****" for header in client.secret_header_names]
                ),
                "params": ", ".join(f"{param}={value}" for param, value in client.params.items()),
                "max points per series": client.max_points_per_series,
            }
            for name, client in self.connections.items()
        ]
        return pd.DataFrame(rows)

    def _client(self, name: str | None) -> Client:
        if name is not None:
            if name not in self.connections:
                known = ", ".join(self.connections) or "none yet"
                raise SysmonUsageError(f"No connection named {name!r} (connections: {known}).")
            return self.connections[name]
        if self.current is None:
            raise SysmonUsageError(
                "Not connected: run %sysmon_connect kr1 (or another region, --url URL, or demo)."
            )
        return self.connections[self.current]

    # -- queries ---------------------------------------------------------------------------

    @no_var_expand
    @magic_arguments()
    @kwds(formatter_class=_PlainHelp)
    @argument("query", nargs="*", help="PromQL (line form); in a cell, the cell's body")
    @argument("--range", dest="range_", metavar="DUR", help="window ending now, e.g. 6h")
    @argument("--start", metavar="T", help="window start: RFC 3339, unix seconds, now-6h")
    @argument("--end", metavar="T", help="window end (default: now)")
    @argument("--step", metavar="DUR", help="resolution (default: automatic)")
    @argument("--instant", action="store_true", help="evaluate at one time (--time)")
    @argument("--time", metavar="T", help="time of an instant query (default: now)")
    @argument("-o", "--output", metavar="NAME", help="store the DataFrame in NAME, show a summary")
    @argument("--format", choices=["tidy", "wide"], help="tidy (a row per sample) or wide")
    @argument("--conn", metavar="NAME", help="use this connection instead of the current one")
    @argument("--timeout", metavar="DUR", help="server-side and client-side time limit")
    @argument("--plot", action="store_true", help="also draw the result (matplotlib)")
    @argument(
        "--legend",
        metavar="FORMAT",
        help="legend as Grafana's: '{{instance}} {{mode}}', __auto, or '' (full series names)",
    )
    @argument("--unit", metavar="ID", help="y axis unit, a Grafana unit id: percent, bytes, bps")
    @argument("--events", metavar="NAME", help="mark the events of NAME, {time: label}, on --plot")
    @argument("--log", action="store_true", help="--plot on a log scale (a p99, say)")
    @argument("--explore", action="store_true", help="label pickers + time slider + plot")
    @argument("--explain", action="store_true", help="the query's tree, with series per node")
    @argument("--show-query", action="store_true", help="show the query as sent, highlighted")
    @line_cell_magic
    @_usage_errors
    def promql(self, line: str, cell: str | None = None) -> Any:
        """Run PromQL and return a pandas DataFrame.

        By default a range query over the last SysmonMagics.default_range (1h) with a step
        chosen for about SysmonMagics.max_points points per series, never finer than the
        connection's scrape interval. $name / ${name} / ${name:format} take values from Python;
        Grafana's $__range, $__interval and $__rate_interval work as in dashboards. {...} is
        never expanded by IPython. An empty result says so, and names the closest metrics when
        a metric in the query does not exist.

        Examples
        --------
            %%promql --range 6h
            sum by (instance) (rate(node_cpu_seconds_total{mode!="idle"}[$__rate_interval]))

            %%promql --instant -o mem
            node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes

            df = %promql rate(http_requests_total{code=~"5.."}[5m])
            %promql --start 2026-11-05T00:00:00Z --end 2026-11-05T06:00:00Z --step 1m up

            %%promql --range 6h --plot --legend '{{instance}}'
            node_load1

            %%promql --range 6h --plot --unit bps
            rate(node_network_receive_bytes_total[5m]) * 8

            %%promql --range 1d --explore -o explorer
            sum by (instance, mode) (rate(node_cpu_seconds_total[5m]))

            %%promql --explain --time 2026-11-05T06:00:00Z
            sum by (instance) (rate(http_requests_total{code=~"5.."}[5m])) > 0.1
        """
        args, body = self._parse(self.promql, line, cell)
        if not body:
            raise SysmonUsageError("No query: put PromQL after %promql or in the cell's body.")
        client = self._client(args.conn)
        now = client.now()  # once per cell: every relative time in it reads the same clock
        fmt = cast("FrameFormat", args.format or self.default_format)
        timeout = parse_duration(args.timeout) if args.timeout else None
        scrape = client.scrape_interval or ASSUMED_SCRAPE_INTERVAL
        range_s = parse_duration(args.range_) if args.range_ else None
        step = parse_duration(args.step) if args.step else None
        if args.explain:
            from .explain import explain

            span = range_s or parse_duration(self.default_range)
            query = self._template(
                body, span, step or auto_step(span, self.max_points, scrape), scrape
            )
            self._show_query(query, args.show_query)
            at = parse_time(args.time, now) if args.time else now
            return self._deliver(explain(query, client, at), args.output, f"explained {query!r}")
        if args.instant:
            if args.start or args.end:
                raise SysmonUsageError("--instant takes --time, not --start/--end.")
            span = range_s or parse_duration(self.default_range)
            macro_step = step or auto_step(span, self.max_points, scrape)
            query = self._template(body, span, macro_step, scrape)
            self._show_query(query, args.show_query)
            frame = client.query(query, args.time if args.time else now, timeout=timeout, fmt=fmt)
        else:
            if args.time:
                raise SysmonUsageError("--time is for --instant queries; use --start/--end.")
            start, end, step = resolve_window(
                now=now,
                default_range=parse_duration(self.default_range),
                max_points=self.max_points,
                range_seconds=range_s,
                start=args.start,
                end=args.end,
                step=step,
                min_step=scrape,
                max_points_per_series=client.max_points_per_series,
            )
            query = self._template(body, end - start, step, scrape)
            self._show_query(query, args.show_query)
            frame = client.query_range(
                query,
                start,
                end,
                step,
                timeout=timeout,
                fmt=fmt,
                progress=self._progress(client.max_parallel),
            )
        if args.legend is not None or args.unit:  # kept for a dashboard made of this result
            frame.attrs["promql"].update(legend=args.legend, unit=args.unit)
        self._show_warnings(frame)
        about = summarize(frame)
        if self.provenance:
            where = self._where.get(client.name, client.base_url)
            about = provenance_line(frame, client.name, where, timezone=self.timezone)
        if self.provenance and not args.output:
            print(about)
        empty = self._no_series(query, frame, client) if series_count(frame) == 0 else None
        if args.explore:
            from .explorer import Explorer

            explorer = Explorer(
                frame,
                client=client,
                legend=args.legend,
                timezone=self.timezone,
                max_series=self.max_plot_series,
                max_points=self.max_points,
                unit=args.unit,
            )
            self._deliver(explorer, args.output, about)
            if empty:
                print(empty)
            return explorer  # shown even with -o: a stored explorer is still there to work
        result = self._deliver(frame, args.output, about)
        if empty:  # after the line about the frame; the frame is still the cell's value
            print(empty)
        if args.plot:  # after -o's line about the frame, before the table (the cell's value)
            self._plot(frame, args.legend, args.unit, self._events(args.events), args.log)
        return result

    @no_var_expand
    @magic_arguments()
    @kwds(formatter_class=_PlainHelp)
    @argument("--for", dest="for_", metavar="DUR", default="0s", help="the rule's for: (0s)")
    @argument("--keep-firing-for", metavar="DUR", default="0s", help="the rule's keep_firing_for:")
    @argument("--every", metavar="DUR", help="evaluation interval (default: the scrape interval)")
    @argument("--range", dest="range_", metavar="DUR", help="window ending now, e.g. 7d")
    @argument("--start", metavar="T", help="window start (the first evaluation)")
    @argument("--end", metavar="T", help="window end (default: now)")
    @argument("-o", "--output", metavar="NAME", help="store the alerts in NAME, show a summary")
    @argument("--plot", action="store_true", help="shade pending and firing over the expression")
    @argument("--legend", metavar="FORMAT", help="legend of --plot, as in %%promql")
    @argument("--events", metavar="NAME", help="mark the events of NAME on --plot")
    @argument("--conn", metavar="NAME", help="use this connection instead of the current one")
    @argument("--timeout", metavar="DUR", help="server-side and client-side time limit")
    @cell_magic
    @_usage_errors
    def promql_alert(self, line: str, cell: str) -> Any:
        """Backtest an alerting rule: a row per alert episode over the window.

        The cell is the rule's expr; it is evaluated as Prometheus' rule manager does, every
        --every, and each alert has the series' labels, active_at, firing_at (after --for) and
        resolved_at (NaT if still active at the end). See sysmon_magic.alerts.backtest.

        Example
        -------
            %%promql_alert --for 10m --start 2026-11-02T00:00:00Z --end 2026-11-09T00:00:00Z --plot
            predict_linear(node_memory_MemAvailable_bytes[1h], 4 * 3600) < 0
        """
        from . import alerts

        args, body = self._parse(self.promql_alert, line, cell)  # IPython refuses an empty body
        client = self._client(args.conn)
        start, end = resolve_span(
            now=client.now(),
            default_range=parse_duration(self.default_range),
            range_seconds=parse_duration(args.range_) if args.range_ else None,
            start=args.start,
            end=args.end,
        )
        every = parse_duration(args.every) if args.every else client.scrape_interval
        scrape = client.scrape_interval or ASSUMED_SCRAPE_INTERVAL
        expr = self._template(body, end - start, every or scrape, scrape)
        found = alerts.backtest(
            client, expr, for_=args.for_, keep_firing_for=args.keep_firing_for,
            every=every or scrape, start=start, end=end,
            timeout=parse_duration(args.timeout) if args.timeout else None,
        )  # fmt: skip
        result = self._deliver(found, args.output, alerts.describe(found))
        if not args.output:
            print(alerts.describe(found))
        if args.plot:
            from IPython.display import display

            events = self._events(args.events)
            drawn = alerts.figure(
                client, found, timezone=self.timezone, legend=args.legend, events=events
            )
            display(PlotImage(drawn))
        return result

    def _no_series(self, query: str, frame: pd.DataFrame, client: Client) -> str:
        """The line that says a result is empty, and which metric names do not exist."""
        provenance = Provenance.of(frame)
        if provenance.start is not None and provenance.end is not None:
            start, end = provenance.start, provenance.end
            when = f"from {describe_window(provenance, step=False)}"
            then = "in that window"
        else:
            end = client.now() if provenance.time is None else provenance.time
            start = end - 300  # Prometheus' lookback: an instant query sees the last 5 minutes
            when, then = f"at {format_time(end)}", "at that time"
        line = f"No series: the query matched nothing {when}."
        from .completion import unknown_metrics

        try:
            missing = unknown_metrics(query, self._names_for(client), start, end)
        except SysmonError:
            return line  # the names could not be listed: say what is known
        for name, close in missing.items():
            line += f" There is no metric {name} on {client.name} {then}"
            line += f": did you mean {' or '.join(close)}?" if close else "."
        return line

    def _names_for(self, client: Client) -> Any:
        """The connection's cache of metric, label and value names (completion uses it too)."""
        from .completion import Names

        names = self._names.get(client.name)
        if names is None or names.client is not client:
            names = self._names[client.name] = Names(client)
        return names

    def _progress(self, parallel: int) -> Callable[[int, int], None]:
        """Report the windows of a split range query: a bar in a notebook, else one line."""
        bar: Any = None

        def report(done: int, total: int) -> None:
            nonlocal bar
            if total <= 2:
                return
            if bar is None:
                if getattr(self.shell, "kernel", None) is None:  # a terminal, a script, a test
                    print(f"Fetching {total} windows, {parallel} at a time.", file=sys.stderr)
                    bar = False
                    return
                import ipywidgets
                from IPython.display import display

                bar = ipywidgets.IntProgress(max=total, description="windows")
                display(bar)
            if bar:
                bar.value = done
                if done == total:
                    bar.close()  # done: the bar leaves nothing behind in the saved notebook

        return report

    def _events(self, name: str | None) -> Any:
        if name is None:
            return None
        if name not in self._user_ns:
            raise SysmonUsageError(f"--events {name}: no variable {name!r}; assign it first.")
        return self._user_ns[name]

    def _plot(
        self,
        frame: pd.DataFrame,
        legend: str | None,
        unit: str | None,
        events: Any = None,
        log: bool = False,
    ) -> None:
        from IPython.display import display
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        from .plotting import legend_height, plot

        # A bare Figure rendered to PNG here: no pyplot state, no double display by the inline
        # backend, and an image even in a kernel where no backend was ever activated.
        figure = Figure(figsize=(10, 3.6), layout="constrained")
        FigureCanvasAgg(figure)
        ax = plot(
            frame,
            ax=figure.add_subplot(),
            legend=legend,
            timezone=self.timezone,
            max_series=self.max_plot_series,
            unit=unit,
            events=events,
            log=log,
        )
        figure.set_figheight(figure.get_figheight() + legend_height(ax))  # the plot keeps its own
        display(PlotImage(figure))

    @staticmethod
    def _show_query(query: str, wanted: bool) -> None:
        if wanted:
            from IPython.display import display

            display(HighlightedQuery(query))

    def _template(self, body: str, span: float, step: float, scrape: float) -> str:
        macros = grafana_macros(range_seconds=span, step=step, scrape_interval=scrape)
        return expand(body, self._user_ns, macros)

    @property
    def _user_ns(self) -> dict[str, Any]:
        return self.shell.user_ns if self.shell is not None else {}

    @staticmethod
    def _show_warnings(frame: pd.DataFrame) -> None:
        provenance = Provenance.of(frame)
        for message in provenance.warnings + provenance.infos:
            print(f"Server: {message}", file=sys.stderr)

    def _deliver(self, result: Any, output: str | None, about: str) -> Any:
        """The cell's value, or, with -o NAME, store it and print the one line about it."""
        if output is None:
            return result
        self._user_ns[_check_identifier(output)] = result
        print(f"{output}: {about}")
        return None

    def _parse(
        self, magic: Callable[..., Any], line: str, cell: str | None
    ) -> tuple[Namespace, str]:
        """Options from the line; the query from the cell, or from the rest of the line."""
        parser = magic.parser  # type: ignore[attr-defined]
        options, rest = split_options(line, parser)
        # $name in an option's value, as in the query: a report's parameters set its windows.
        args = parser.parse_args([expand(o, self._user_ns) if "$" in o else o for o in options])
        if cell is None:
            return args, rest
        if rest:
            raise SysmonUsageError(
                f"Unexpected {rest!r} on the %%promql line: put the query in the cell's body."
            )
        return args, cell.strip()

    # -- completion ------------------------------------------------------------------------

    def complete_promql(self, context: Any) -> dict[str, Any]:
        """IPython Matcher (API v2): PromQL names in a %%promql cell or after %promql."""
        text = _promql_before_cursor(context)
        if text is None or self.current is None:
            return {"completions": [], "suppress": False}
        from IPython.core.completer import SimpleCompletion

        from .completion import complete

        names = self._names_for(self.connections[self.current])
        try:
            fragment, offers = complete(text, names)
        except SysmonError:
            fragment, offers = "", []  # a completion must never raise; offer nothing instead
        return {
            "completions": [SimpleCompletion(name, type=kind) for name, kind in offers],
            "matched_fragment": fragment,
            "suppress": True,  # Python names are never PromQL
        }

    # -- metadata --------------------------------------------------------------------------

    @no_var_expand
    @magic_arguments()
    @kwds(formatter_class=_PlainHelp)
    @argument("selector", nargs="*", help='series selector, e.g. up{job="node"}')
    @argument("--range", dest="range_", metavar="DUR", help="window ending now (default 1h)")
    @argument("--start", metavar="T", help="window start")
    @argument("--end", metavar="T", help="window end (default: now)")
    @argument("--conn", metavar="NAME", help="use this connection")
    @line_magic
    @_usage_errors
    def promql_series(self, line: str) -> pd.DataFrame:
        """The series matching a selector: a row per series, a column per label.

        Example: %promql_series node_uname_info --range 1d
        """
        args, selector = self._parse(self.promql_series, line, None)
        if not selector:
            raise SysmonUsageError('Give a selector, e.g. %promql_series up{job="node"}.')
        client = self._client(args.conn)
        start, end = self._metadata_window(client, args)
        return client.series(selector, start, end)

    @no_var_expand
    @magic_arguments()
    @kwds(formatter_class=_PlainHelp)
    @argument("label", nargs="*", help="a label name: list its values (default: list names)")
    @argument("--match", metavar="SELECTOR", help="only series matching this selector")
    @argument("--range", dest="range_", metavar="DUR", help="window ending now (default 1h)")
    @argument("--start", metavar="T", help="window start")
    @argument("--end", metavar="T", help="window end (default: now)")
    @argument("--conn", metavar="NAME", help="use this connection")
    @line_magic
    @_usage_errors
    def promql_labels(self, line: str) -> list[str]:
        """Label names, or the values of one label.

        Examples: %promql_labels, %promql_labels instance --match node_load1
        """
        args, label = self._parse(self.promql_labels, line, None)
        client = self._client(args.conn)
        start, end = self._metadata_window(client, args)
        if label:
            return client.label_values(label, args.match, start, end)
        return client.labels(args.match, start, end)

    @no_var_expand
    @magic_arguments()
    @kwds(formatter_class=_PlainHelp)
    @argument("metric", nargs="*", help="one metric name (default: all)")
    @argument("--conn", metavar="NAME", help="use this connection")
    @line_magic
    @_usage_errors
    def promql_metadata(self, line: str) -> pd.DataFrame:
        """Type, help and unit of the metrics: columns metric, type, help, unit.

        Example: %promql_metadata node_cpu_seconds_total
        """
        args, metric = self._parse(self.promql_metadata, line, None)
        return self._client(args.conn).metadata(metric or None)

    @no_var_expand
    @magic_arguments()
    @kwds(formatter_class=_PlainHelp)
    @argument("path", nargs="*", help="the dashboard's JSON file (Grafana's export)")
    @argument("--var", action="append", default=[], metavar="NAME=VALUE", help="choose a value")
    @argument("--conn", metavar="NAME", help="use this connection")
    @line_magic
    @_usage_errors
    def promql_dashboard(self, line: str) -> Any:
        """Open a Grafana dashboard: its variables as dropdowns, its panels as frames and plots.

        Examples: dash = %promql_dashboard node-exporter.json --var job=node, then
        dash.panel("CPU busy").frame(range="6h") or .plot(range="6h").
        """
        from .grafana import Dashboard, parse_assignments

        args, path = self._parse(self.promql_dashboard, line, None)
        if not path:
            raise SysmonUsageError("Give the dashboard's JSON file: %promql_dashboard PATH.json")
        return Dashboard.load(
            _unquote(path),
            self._client(args.conn),
            parse_assignments(args.var),
            timezone=self.timezone,
            max_series=self.max_plot_series,
        )

    def _metadata_window(self, client: Client, args: Namespace) -> tuple[float, float]:
        # A window is always sent: without one a server scans all it holds (a year here).
        return resolve_span(
            now=client.now(),
            default_range=parse_duration(self.default_range),
            range_seconds=parse_duration(args.range_) if args.range_ else None,
            start=args.start,
            end=args.end,
        )


def _promql_before_cursor(context: Any) -> str | None:
    """The PromQL before the cursor if it is in a %%promql cell's body or after %promql."""
    lines = context.full_text.split("\n")
    if lines and lines[0].lstrip().startswith("%%promql") and context.cursor_line > 0:
        return "\n".join([*lines[1 : context.cursor_line], context.text_until_cursor])
    line = context.text_until_cursor
    start = line.find("%promql ")
    return line[start + len("%promql ") :] if start >= 0 else None


def show_explorer(explorer: Any) -> None:
    """Show an explorer as two outputs: the plot's PNG, then the live widget.

    nbconvert's HTML shows one mimetype per output and prefers a widget view whose state was
    saved (nbclient always saves it), which then needs the widget manager from a CDN; JupyterLab
    says "model not found" once the kernel is gone. A PNG output of its own shows in nbconvert's
    HTML (tests/test_html_export.py); while the widget is live, its style hides that picture.
    """
    from IPython.display import display

    bundle = explorer._repr_mimebundle_()
    display({"image/png": bundle.pop("image/png")}, raw=True)
    display(bundle, raw=True)


class PlotImage:
    """A drawn figure as a notebook shows it: a PNG, with a short text form for other frontends."""

    def __init__(self, figure: Any) -> None:
        import io

        self.figure = figure
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=96)
        self.png = buffer.getvalue()

    def _repr_png_(self) -> bytes:
        return self.png

    def __repr__(self) -> str:
        # Series only: event marks and thresholds are lines too, but unlabelled ("_...").
        lines = sum(
            not line.get_label().startswith("_") for line in self.figure.axes[0].get_lines()
        )
        return f"<plot: {lines} series>" if lines else "<plot: no data>"


class HighlightedQuery:
    """A query as sent, highlighted as PromQL in notebooks (tokens as Prometheus reads them)."""

    def __init__(self, query: str) -> None:
        self.query = query

    def __repr__(self) -> str:
        return self.query

    def _repr_html_(self) -> str:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter

        from .lexer import PromQLLexer

        return highlight(self.query, PromQLLexer(), HtmlFormatter(noclasses=True, nowrap=False))
