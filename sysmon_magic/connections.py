"""The notebook's connections: ``%sysmon_connect``'s work, the appkey, the demo and its gateway.

A :class:`Connection` is one client with how its source is described and its completion cache;
:class:`Connections` holds a shell's connections and which one is current. :func:`connect` opens
one from ``%sysmon_connect``'s options (live, recorded or replayed; a region, a URL or the demo),
and :func:`current_client` gives other modules (the exercises) the notebook's connection without
knowing the magics. The appkey is a :class:`~sysmon_magic.transport.Secret` from where it is read.
"""

from __future__ import annotations

import getpass
import math
import os
import sys
import time
import weakref
from argparse import Namespace
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from IPython.core.error import StdinNotImplementedError

from .errors import SysmonError, SysmonUsageError
from .regions import REGIONS, region_api_root
from .settings import Settings
from .timeparse import format_duration, format_time, parse_duration, parse_time

if TYPE_CHECKING:
    import pandas as pd

    from .client import Client
    from .completion import Names
    from .demo.gateway import Gateway
    from .transport import Secret

__all__ = [
    "ASSUMED_SCRAPE_INTERVAL",
    "Connection",
    "Connections",
    "connect",
    "connections_of",
    "current_client",
    "resolve_appkey",
]

#: The scrape interval of a connection that has none and gives nothing to measure: Grafana's
#: default for a Prometheus data source.
ASSUMED_SCRAPE_INTERVAL = 15.0


@dataclass
class Connection:
    """A client, how its source is described, and its cache of names for completion."""

    client: Client
    where: str
    names_cache: Names | None = field(default=None, repr=False)

    @property
    def names(self) -> Names:
        """The connection's metric, label and value names (completion and "did you mean")."""
        if self.names_cache is None:
            from .completion import Names

            self.names_cache = Names(self.client)
        return self.names_cache


class Connections(Mapping[str, Connection]):
    """A shell's connections by name; the last one made is current."""

    def __init__(self) -> None:
        self.by_name: dict[str, Connection] = {}
        self.current: str | None = None
        self.gateway: Gateway | None = None  # the demo's, when SysmonMagics.demo_gateway asks

    def __getitem__(self, name: str) -> Connection:
        return self.by_name[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.by_name)

    def __len__(self) -> int:
        return len(self.by_name)

    def add(self, client: Client, where: str, note: str = "") -> Connection:
        """Make ``client`` the current connection (closing one of the same name), and say so."""
        previous = self.by_name.pop(client.name, None)
        if previous is not None:
            previous.client.close()
        connection = self.by_name[client.name] = Connection(client, where)
        self.current = client.name
        clock = ""
        if client.pinned_now is not None:
            clock = f"; its clock is pinned at {format_time(client.pinned_now)}"
        key = f" with appkey {client.masked_appkey}" if client.has_appkey else ""
        print(f"Connected {client.name!r} to {where}{key}{clock}{note}.")
        return connection

    def connection(self, name: str | None = None) -> Connection:
        """The connection named ``name``, or the current one."""
        if name is not None:
            if name not in self.by_name:
                known = ", ".join(self.by_name) or "none yet"
                raise SysmonUsageError(f"No connection named {name!r} (connections: {known}).")
            return self.by_name[name]
        if self.current is None:
            raise SysmonUsageError(
                "Not connected: run %sysmon_connect kr1 (or another region, --url URL, or demo)."
            )
        return self.by_name[self.current]

    def client(self, name: str | None = None) -> Client:
        """The client of the connection named ``name``, or of the current one."""
        return self.connection(name).client

    def frame(self) -> pd.DataFrame | None:
        """The listing ``%sysmon_connect`` shows: a row per connection, secrets masked."""
        if not self.by_name:
            regions = ", ".join(REGIONS)
            print(f"No connections yet: %sysmon_connect REGION ({regions}), --url URL, or demo.")
            return None
        import pandas as pd

        return pd.DataFrame(
            [_row(name, c.client, name == self.current) for name, c in self.items()]
        )

    def clear(self) -> None:
        """Close every connection and the demo's gateway."""
        for connection in self.by_name.values():
            connection.client.close()
        self.by_name.clear()
        self.current = None
        if self.gateway is not None:
            self.gateway.stop()
            self.gateway = None


def _row(name: str, client: Client, current: bool) -> dict[str, Any]:
    replayed = client.recording is not None and client.replaying
    return {
        "name": name,
        "current": current,
        "url": f"replay of {client.recording.path}" if replayed else client.base_url,  # type: ignore[union-attr]
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


# A shell's connections, for modules that need the notebook's client but not the magics.
_OF_SHELL: weakref.WeakKeyDictionary[Any, Connections] = weakref.WeakKeyDictionary()


def connections_of(shell: Any) -> Connections:
    """The connections of ``shell`` (made on first use; the magics hold the same object)."""
    if shell not in _OF_SHELL:
        _OF_SHELL[shell] = Connections()
    return _OF_SHELL[shell]


def forget(shell: Any) -> None:
    """Close ``shell``'s connections and drop them (``%unload_ext``)."""
    connections = _OF_SHELL.pop(shell, None)
    if connections is not None:
        connections.clear()


def current_client(name: str | None = None) -> Client:
    """The notebook's connection named ``name``, or its current one (``%sysmon_connect``)."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None or shell not in _OF_SHELL:
        raise SysmonUsageError(
            "Not connected: run `%load_ext sysmon_magic` and `%sysmon_connect demo` first, or "
            "pass connection=Client(...)."
        )
    return _OF_SHELL[shell].client(name)


def connect(args: Namespace, settings: Settings, connections: Connections) -> Connection:
    """Open the connection ``%sysmon_connect``'s options ask for and make it current."""
    if args.target is not None and args.url is not None:
        raise SysmonUsageError("Give a region (or demo) or --url, not both.")
    if args.record and args.replay:
        raise SysmonUsageError("Give --record (live) or --replay (offline), not both.")
    replay = args.replay or (args.record if settings.replay else None)
    if replay is not None:
        return _replay(args, replay, settings, connections)
    client, where = _new_client(args, settings, connections)
    if client.recording is not None:
        client.recording.connection["source"] = where
    client.check()  # fail now, with a clear reason, rather than at the first query
    note = _find_scrape_interval(client) if client.scrape_interval is None else ""
    return connections.add(client, where, note)


def _replay(args: Namespace, path: str, settings: Settings, connections: Connections) -> Connection:
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
            f"A replay answers as recorded: {', '.join(given)} cannot change it; drop them, or "
            "record again with them."
        )
    from .client import Client  # here, not at load: requests is slow to import

    client = Client.from_recording(path, timeout=settings.timeout)
    if args.scrape_interval:
        client.scrape_interval = parse_duration(args.scrape_interval)
    if args.name:
        client.name = args.name
    assert client.recording is not None
    # Described as when it was recorded: a replayed report reads as the live one did; each
    # result's provenance line ends in "replayed" instead of "live".
    where = client.recording.connection.get("source") or f"the recording {path}"
    return connections.add(client, where)


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
            f"; scrape interval unknown (no recent samples to measure it from), {interval} "
            "assumed: give --scrape-interval"
        )
    return f"; samples every {interval} (measured)"


def _new_client(
    args: Namespace, settings: Settings, connections: Connections
) -> tuple[Client, str]:
    """A client for the options, and how to describe where it points."""
    from .client import Client  # here, not at load: requests is slow to import
    from .recording import Recording

    options: dict[str, Any] = {
        "timeout": settings.timeout,
        "max_points": settings.max_points,
        "max_parallel": settings.max_parallel,
        "scrape_interval": parse_duration(args.scrape_interval) if args.scrape_interval else None,
        "now": parse_time(args.now, time.time()) if args.now else None,
        "verify": _tls_verify(args),
        # None: gzip, except from a loopback address.
        "compress": False if args.no_compress else (True if args.compress else None),
        "max_response_bytes": settings.max_response_bytes,
        **_engine_options(args),
    }
    if args.record:
        options["recording"] = Recording.for_writing(args.record)
    if args.target == "demo":
        return _demo_client(args, options, settings, connections)  # pinned at the data's end
    if args.record:
        # A recorded report must ask the same questions when re-run: pin its clock.
        options["now"] = options["now"] or math.floor(time.time() / 60) * 60
    appkey = resolve_appkey(
        args.appkey_env,
        required=args.url is None,
        target=args.target,
        literal=args.appkey,
        settings=settings,
    )
    if args.url is not None:
        try:
            netloc = urlsplit(args.url).netloc
        except ValueError:  # "http://[::1": the Client refuses it in one line
            netloc = ""
        client = Client(args.url, appkey, name=args.name or netloc or args.url, **options)
    else:
        client = Client.for_region(
            args.target, appkey, overrides=settings.region_urls, name=args.name, **options
        )
    return client, client.base_url


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
                "--header-env takes NAME=VAR: a header name and the environment variable that "
                "holds its value (letters, digits, _), so that the value is never in the notebook."
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


def _demo_client(
    args: Namespace, options: dict[str, Any], settings: Settings, connections: Connections
) -> tuple[Client, str]:
    """The demo server's client (started if need be), through a gateway if settings ask."""
    from . import demo
    from .client import Client

    server = demo.start()
    options["now"] = options["now"] or server.now
    options["scrape_interval"] = options["scrape_interval"] or float(demo.STEP)
    name = args.name or "demo"
    # Not the URL: its port changes from run to run, and notebooks should not.
    if not settings.demo_gateway:
        return Client(server.url, name=name, **options), "the local demo server"
    from .demo.gateway import Gateway

    appkey = resolve_appkey(
        args.appkey_env, required=True, target="demo", literal=args.appkey, settings=settings
    )
    assert appkey is not None
    if connections.gateway is not None:
        connections.gateway.stop()
    connections.gateway = Gateway(server.url, [appkey.reveal()]).start()
    client = Client(connections.gateway.url + "/prometheus", appkey, name=name, **options)
    return client, "the local demo server, through an NHN-style gateway"


def _tls_verify(args: Namespace) -> bool | str:
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


def resolve_appkey(
    variable: str | None,
    *,
    required: bool,
    target: str | None,
    literal: str | None = None,
    settings: Settings,
    prompt: Callable[[str], str] | None = None,
) -> Secret | None:
    """The appkey, as a Secret from where it is read: no frame holds it as text.

    In order: ``literal`` (``--appkey``, with a warning), ``$variable`` (``--appkey-env``),
    ``$`` :attr:`Settings.appkey_env`, else ``prompt`` (``getpass``). ``None`` when not
    ``required``.
    """
    from .transport import Secret  # here, not at load: requests is slow to import

    if literal:
        print(
            "Warning: an appkey typed into a cell is saved with the notebook (and its history). "
            f"Put it in ${settings.appkey_env} or another variable (--appkey-env VAR), or leave "
            "both unset to be prompted.",
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
        region_api_root(target or "", settings.region_urls)
    if os.environ.get(settings.appkey_env):
        return Secret(os.environ[settings.appkey_env])
    try:
        typed = Secret(
            (prompt or getpass.getpass)(f"Appkey for {target} (console: URL & Appkey): ")
        )
    except (StdinNotImplementedError, EOFError, OSError):
        typed = Secret("")
    if not typed.reveal():
        raise SysmonUsageError(
            f"No appkey: set ${settings.appkey_env} (or --appkey-env VAR) to the project's "
            "appkey from the console (Compute > System Monitoring > URL & Appkey)."
        )
    return typed
