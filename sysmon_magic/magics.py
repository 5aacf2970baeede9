"""IPython glue: ``%sysmon_connect``, ``%%promql`` / ``%promql`` and the metadata magics.

Thin on purpose: the options are parsed by :mod:`~sysmon_magic.lineparse`, connections are
:mod:`~sysmon_magic.connections`' work, showing things is :mod:`~sysmon_magic.display`'s, and
the :class:`~sysmon_magic.client.Client` does the rest. Here the window is resolved and the
query templated once per cell. Every :class:`~sysmon_magic.errors.SysmonError` becomes a
``UsageError``, which IPython shows as one short line instead of a traceback.
"""

from __future__ import annotations

import functools
import inspect
import shlex
import sys
from argparse import Namespace
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

import pandas as pd
from IPython.core.error import UsageError
from IPython.core.magic import (
    Magics,
    cell_magic,
    line_cell_magic,
    line_magic,
    magics_class,
    no_var_expand,
)

from . import display, lineparse
from .connections import ASSUMED_SCRAPE_INTERVAL, Connections, connect, connections_of, forget
from .errors import SysmonError, SysmonUsageError
from .lineparse import OptionParser, check_identifier, magic_terms, split_options, unquote
from .provenance import Provenance, no_series_line, provenance_line, series_count, summarize
from .settings import MagicOptions, refused_options, seconds
from .templating import expand, grafana_macros
from .timeparse import auto_step, parse_duration, parse_time, resolve_span, resolve_window

if TYPE_CHECKING:
    from .client import Client
    from .frames import FrameFormat

__all__ = ["SysmonMagics", "split_options"]

_Magic = TypeVar("_Magic", bound=Callable[..., Any])


def _options(parser: OptionParser) -> Callable[[_Magic], _Magic]:
    """A magic parsed by ``parser``: its help is the docstring (what %magic? shows), and library
    errors become IPython's one-line ``UsageError`` instead of a traceback."""

    def decorate(method: _Magic) -> _Magic:
        @functools.wraps(method)
        def magic(*args: Any, **kwargs: Any) -> Any:
            try:
                return method(*args, **kwargs)
            except SysmonError as exc:
                raise UsageError(magic_terms(str(exc), parser)) from exc

        parser.description = inspect.cleandoc(method.__doc__ or "")
        magic.parser = parser  # type: ignore[attr-defined]
        magic.__doc__ = parser.format_help()
        return magic  # type: ignore[return-value]

    return decorate


@magics_class
class SysmonMagics(Magics, MagicOptions):
    """Magics for Prometheus-compatible APIs: NHN Cloud System Monitoring, any Prometheus, a demo."""

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        config = getattr(shell, "config", None)
        for section in ("SysmonMagics", "MagicOptions"):
            if config is not None and section in config:
                for name, reason in refused_options(config[section]).items():
                    del config[section][name]
                    print(f"sysmon_magic: {section}.{name} ignored: {reason}", file=sys.stderr)
        super().__init__(shell=shell, **kwargs)  # Magics puts it in shell.configurables
        self.connections = connections_of(shell) if shell is not None else Connections()
        self.matcher: Callable[[Any], Any] | None = None
        if shell is not None:
            self.register(shell)

    # -- lifecycle (storemagic's shape: the instance registers and unregisters itself) ----

    def register(self, shell: Any) -> None:
        """Give ``shell`` the PromQL completer and the explorer's display."""
        from IPython.core.completer import context_matcher

        @context_matcher(identifier="sysmon_magic.promql")
        def complete(context: Any) -> Any:
            return self.complete_promql(context)

        self.matcher = complete
        shell.Completer.custom_matchers.append(complete)
        # By name: importing the explorer (and ipywidgets) waits until an explorer is shown.
        shell.display_formatter.ipython_display_formatter.for_type_by_name(
            "sysmon_magic.explorer", "Explorer", display.show_explorer
        )

    def close(self) -> None:
        """Close the connections and the demo's gateway; take back all the shell was given."""
        self.connections.clear()
        shell: Any = self.shell
        if shell is None:
            return
        forget(shell)
        if self in shell.configurables:
            shell.configurables.remove(self)
        if self.matcher in shell.Completer.custom_matchers:
            shell.Completer.custom_matchers.remove(self.matcher)
        formatter = shell.display_formatter.ipython_display_formatter
        formatter.pop("sysmon_magic.explorer.Explorer", None)

    @classmethod
    def unload(cls, shell: Any) -> None:
        """``%unload_ext``: close every instance registered in ``shell``."""
        for magics in [c for c in shell.configurables if isinstance(c, cls)]:
            magics.close()

    # -- connections -----------------------------------------------------------------------

    @_options(lineparse.CONNECT)
    @line_magic
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
        args = lineparse.CONNECT.parse_args(words)
        if args.target is None and args.url is None and args.replay is None:
            return self.connections.frame()
        connect(args, self.settings(), self.connections)
        return None

    # -- queries ---------------------------------------------------------------------------

    @_options(lineparse.PROMQL)
    @no_var_expand
    @line_cell_magic
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
        args, body = self._parse(lineparse.PROMQL, line, cell)
        if not body:
            raise SysmonUsageError("No query: put PromQL after %promql or in the cell's body.")
        connection = self.connections.connection(args.conn)
        client = connection.client
        query, window, at = self._plan(args, body, client)
        if args.show_query:
            display.show_query(query)
        if args.explain:
            from .explain import explain

            return self._deliver(explain(query, client, at), args.output, f"explained {query!r}")
        fmt = cast("FrameFormat", args.format or self.default_format)
        timeout = parse_duration(args.timeout) if args.timeout else None
        if window is None:
            frame = client.query(query, at, timeout=timeout, fmt=fmt)
        else:
            progress = display.progress_reporter(self.shell, client.max_parallel)
            frame = client.query_range(query, *window, timeout=timeout, fmt=fmt, progress=progress)
        if args.legend is not None or args.unit:  # kept for a dashboard made of this result
            frame.attrs["promql"].update(legend=args.legend, unit=args.unit)
        provenance = Provenance.of(frame)
        for message in provenance.warnings + provenance.infos:
            print(f"Server: {message}", file=sys.stderr)
        about = summarize(frame)
        if self.provenance:
            about = provenance_line(frame, client.name, connection.where, timezone=self.timezone)
            if not args.output:
                print(about)
        empty = None
        if series_count(frame) == 0:
            empty = no_series_line(query, frame, connection.names, client.name, client.now())
        # How the result is drawn, by the explorer or --plot.
        look = {"legend": args.legend, "unit": args.unit, "timezone": self.timezone}
        look["max_series"] = self.max_plot_series
        value: Any = frame
        if args.explore:
            from .explorer import Explorer

            value = Explorer(frame, client=client, max_points=self.max_points, **look)
        result = self._deliver(value, args.output, about)
        if empty:  # after the line about the result; the result is still the cell's value
            print(empty)
        if args.explore:
            return value  # shown even with -o: a stored explorer is still there to work
        if args.plot:  # after -o's line about the frame, before the table (the cell's value)
            display.show_plot(frame, events=self._events(args.events), log=args.log, **look)
        return result

    def _plan(
        self, args: Namespace, body: str, client: Client
    ) -> tuple[str, tuple[float, float, float] | None, float]:
        """The cell's query, templated once; its window (start, end, step), or None; its time.

        The client's clock is read once: every relative time in the cell reads the same now.
        """
        now = client.now()
        scrape = client.scrape_interval or ASSUMED_SCRAPE_INTERVAL
        range_s = parse_duration(args.range_) if args.range_ else None
        step = parse_duration(args.step) if args.step else None
        if args.explain or args.instant:
            span = range_s or seconds(self.default_range)  # for $__range and $__interval
            macro_step = step or auto_step(span, self.max_points, scrape)
            at = parse_time(args.time, now) if args.time else now
            return self._template(body, span, macro_step, scrape), None, at
        if args.time:
            raise SysmonUsageError("--time is for --instant queries; use --start/--end.")
        start, end, step = resolve_window(
            now=now,
            default_range=seconds(self.default_range),
            max_points=self.max_points,
            range_seconds=range_s,
            start=args.start,
            end=args.end,
            step=step,
            min_step=scrape,
            max_points_per_series=client.max_points_per_series,
        )
        return self._template(body, end - start, step, scrape), (start, end, step), end

    @_options(lineparse.ALERT)
    @no_var_expand
    @cell_magic
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

        args, body = self._parse(lineparse.ALERT, line, cell)  # IPython refuses an empty body
        client = self.connections.client(args.conn)
        start, end = self._span(client, args)
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
            events = self._events(args.events)
            drawn = alerts.figure(
                client, found, timezone=self.timezone, legend=args.legend, events=events
            )
            display.show_figure(drawn)
        return result

    def _events(self, name: str | None) -> Any:
        if name is None:
            return None
        if name not in self._user_ns:
            raise SysmonUsageError(f"--events {name}: no variable {name!r}; assign it first.")
        return self._user_ns[name]

    def _template(self, body: str, span: float, step: float, scrape: float) -> str:
        macros = grafana_macros(range_seconds=span, step=step, scrape_interval=scrape)
        return expand(body, self._user_ns, macros)

    @property
    def _user_ns(self) -> dict[str, Any]:
        return self.shell.user_ns if self.shell is not None else {}

    def _deliver(self, result: Any, output: str | None, about: str) -> Any:
        """The cell's value, or, with -o NAME, store it and print the one line about it."""
        if output is None:
            return result
        self._user_ns[check_identifier(output)] = result
        print(f"{output}: {about}")
        return None

    def _parse(self, parser: OptionParser, line: str, cell: str | None) -> tuple[Namespace, str]:
        """Options from the line; the query from the cell, or from the rest of the line."""
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
        from IPython.core.completer import SimpleCompletion

        from .completion import complete_cell

        current = self.connections.current
        names = self.connections[current].names if current is not None else None
        found = complete_cell(
            context.full_text, context.cursor_line, context.text_until_cursor, names
        )
        if found is None:
            return {"completions": [], "suppress": False}
        return {
            "completions": [SimpleCompletion(name, type=kind) for name, kind in found[1]],
            "matched_fragment": found[0],
            "suppress": True,  # Python names are never PromQL
        }

    # -- metadata --------------------------------------------------------------------------

    @_options(lineparse.SERIES)
    @no_var_expand
    @line_magic
    def promql_series(self, line: str) -> pd.DataFrame:
        """The series matching a selector: a row per series, a column per label.

        Example: %promql_series node_uname_info --range 1d
        """
        args, selector = self._parse(lineparse.SERIES, line, None)
        if not selector:
            raise SysmonUsageError('Give a selector, e.g. %promql_series up{job="node"}.')
        client = self.connections.client(args.conn)
        start, end = self._span(client, args)
        return client.series(selector, start, end)

    @_options(lineparse.LABELS)
    @no_var_expand
    @line_magic
    def promql_labels(self, line: str) -> list[str]:
        """Label names, or the values of one label.

        Examples: %promql_labels, %promql_labels instance --match node_load1
        """
        args, label = self._parse(lineparse.LABELS, line, None)
        client = self.connections.client(args.conn)
        start, end = self._span(client, args)
        if label:
            return client.label_values(label, args.match, start, end)
        return client.labels(args.match, start, end)

    @_options(lineparse.METADATA)
    @no_var_expand
    @line_magic
    def promql_metadata(self, line: str) -> pd.DataFrame:
        """Type, help and unit of the metrics: columns metric, type, help, unit.

        Example: %promql_metadata node_cpu_seconds_total
        """
        args, metric = self._parse(lineparse.METADATA, line, None)
        return self.connections.client(args.conn).metadata(metric or None)

    @_options(lineparse.DASHBOARD)
    @no_var_expand
    @line_magic
    def promql_dashboard(self, line: str) -> Any:
        """Open a Grafana dashboard: its variables as dropdowns, its panels as frames and plots.

        Examples: dash = %promql_dashboard node-exporter.json --var job=node, then
        dash.panel("CPU busy").frame(range="6h") or .plot(range="6h").
        """
        from .grafana import Dashboard

        args, path = self._parse(lineparse.DASHBOARD, line, None)
        if not path:
            raise SysmonUsageError("Give the dashboard's JSON file: %promql_dashboard PATH.json")
        return Dashboard.load(
            unquote(path),
            self.connections.client(args.conn),
            lineparse.parse_assignments(args.var),
            timezone=self.timezone,
            max_series=self.max_plot_series,
        )

    def _span(self, client: Client, args: Namespace) -> tuple[float, float]:
        """The window of --range/--start/--end (metadata: without one a server scans all it
        holds, a year here)."""
        return resolve_span(
            now=client.now(),
            default_range=seconds(self.default_range),
            range_seconds=parse_duration(args.range_) if args.range_ else None,
            start=args.start,
            end=args.end,
        )
