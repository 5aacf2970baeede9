"""What a :class:`~sysmon_magic.client.Client` is made of: its arguments, checked, where its
answers come from, and what may be shown of it.

:class:`ClientBase` holds the construction and the description of a client, apart from what it
asks: the URL, the appkey and headers, the engine parameters and limits are checked
(:mod:`~sysmon_magic.params`, :mod:`~sysmon_magic.credentials`); answers come from HTTP to
``base_url``, from a given ``transport=``, and through a recording when there is one; the
connection is described without its secrets (``masked_appkey``, ``headers``, ``params``,
``replaying``). :class:`~sysmon_magic.client.Client` adds the one funnel and the endpoints.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, TypeVar

from .buffers import POOL
from .envelope import Reader
from .params import checked_base_url, checked_max_points, checked_params
from .recording import RecordingTransport
from .timeparse import PROMETHEUS_MAX_POINTS
from .transport import (
    DEFAULT_MAX_RESPONSE_BYTES,
    HTTPTransport,
    Secret,
    Transport,
    checked_appkey,
    checked_headers,
    mask_secret,
)

if TYPE_CHECKING:
    import requests

    from .recording import Recording

__all__ = ["ClientBase"]

_Self = TypeVar("_Self", bound="ClientBase")


class ClientBase:
    """A connection to a Prometheus-compatible HTTP API, without its endpoints: see
    :class:`~sysmon_magic.client.Client`."""

    def __init__(
        self,
        base_url: str,
        appkey: str | Secret | None = None,
        *,
        name: str | None = None,
        now: float | None = None,
        timeout: float = 60.0,
        connect_timeout: float = 5.0,
        max_points: int = 1000,
        max_parallel: int = 4,
        scrape_interval: float | None = None,
        verify: bool | str = True,
        compress: bool | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        session: requests.Session | None = None,
        recording: Recording | None = None,
        transport: Transport | None = None,
        headers: Mapping[str, str] | None = None,
        secret_headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        max_points_per_series: int = PROMETHEUS_MAX_POINTS,
    ) -> None:
        """Check the arguments and set up where answers come from.

        Parameters
        ----------
        base_url
            The API root, the part before ``/api/v1``:
            ``https://kr1-api-sysmon.cloud.toast.com/prometheus`` or ``http://127.0.0.1:9090``.
        appkey
            The NHN Cloud project appkey, sent as the ``X-TC-APP-KEY`` header; ``None`` for a
            server without authentication. It is sent only over https, or over http to a loopback
            address.
        name
            What results name as their source (``frame.attrs["promql"]["source"]``); default: the
            URL.
        now
            Pin the clock (unix seconds) that ``now``, ``now-6h`` and default windows are read
            against, for reports that must give the same answer every day.
        timeout
            Seconds for a whole answer: connecting, waiting, reading and retrying (a total
            deadline, not one per read); ``connect_timeout`` for opening the connection.
        max_points
            Target points per series when a range query's step is chosen automatically (about
            1,000: enough for a plot), not the server's limit (``max_points_per_series``).
        max_points_per_series
            The most points per series the server returns for one range query: 11,001 from
            Prometheus (the default: it refuses more than 11,000 steps, and a range of 11,000 steps
            has 11,001 points), 30,000 from VictoriaMetrics (``-search.maxPointsPerTimeseries``). A
            longer range is fetched as windows of that many points: a higher limit, fewer windows.
        max_parallel
            How many windows of a long range query are fetched at once.
        scrape_interval
            Seconds between the data's samples (60 for NHN Cloud); an automatic step is never finer
            (a finer one only repeats samples). ``None``: unknown, no floor;
            :meth:`~sysmon_magic.client.Client.measure_scrape_interval` can find it.
        verify
            TLS verification: ``True`` (default), the path of a CA bundle, or ``False`` (unsafe).
        compress
            Ask for compressed answers. Default: yes, except from a loopback address, where gzip
            costs the server more than it saves; say ``True`` for a tunnel (``ssh -L``,
            ``kubectl port-forward``) to a distant server.
        max_response_bytes
            The largest answer read, compressed or decompressed (default 1 GiB): past it, a
            :class:`~sysmon_magic.errors.ResponseTooLargeError` instead of the memory running out.
        session
            A ``requests.Session`` to send through (retries, proxies and TLS settings are then
            yours, and a deadline ends a request between reads only).
        recording
            A :class:`~sysmon_magic.recording.Recording` that stores every exchange (see
            :meth:`~sysmon_magic.client.Client.from_recording` to answer from one).
        transport
            Where answers come from, instead of HTTP to ``base_url`` (a
            :class:`~sysmon_magic.transport.Transport`).
        headers
            More headers for every request, shown with the connection and under every result: a
            tenant (``{"X-Scope-OrgID": "team-a"}`` for Mimir and Cortex, ``THANOS-TENANT`` for
            Thanos). Headers the client sets itself (``X-TC-APP-KEY``, ``Accept-Encoding``, ``Host``
            ...) are refused, and so are credentials (``Authorization``, ``Cookie``): give those in
            ``secret_headers``.
        secret_headers
            Headers held and sent as the appkey is: never shown, recorded or in a message (masked,
            scrubbed from what the server says), and sent only over https or to a loopback address.
        params
            Engine parameters sent with every ``query`` and ``query_range`` request (not with
            ``series``, ``labels``, ``label_values`` and ``metadata``): Thanos'
            ``partial_response``, ``dedup``, ``max_source_resolution``; VictoriaMetrics'
            ``nocache``, ``extra_label``. Part of each request, so of a recording's keys; shown
            under results.
        """
        # From here on only as a Secret (checked as one): no traceback's locals show it.
        secret: Secret | None = Secret(appkey) if isinstance(appkey, str) and appkey else None
        if isinstance(appkey, Secret):
            secret = appkey
        del appkey
        secret = checked_appkey(secret)
        plain_headers, hidden_headers = checked_headers(headers, secret_headers)
        del secret_headers  # as the appkey: from here on only masked
        engine_params = checked_params(params)
        # Named in the refusal to send it over plain http; None: nothing secret is sent.
        secret_sent = "the appkey" if secret else None
        if hidden_headers and not secret:
            secret_sent = f"the secret header {next(iter(hidden_headers))}"
        self.base_url, self.host = checked_base_url(base_url, secret_sent)
        self.name = name or self.base_url
        self.pinned_now = now
        self.timeout = timeout
        self.max_points = max_points
        self.max_points_per_series = checked_max_points(max_points_per_series)
        self.max_parallel = max_parallel
        self.scrape_interval = scrape_interval
        self._appkey = secret
        # In name order: a recording keeps them so (sorted keys), and a replay shows them as
        # the live connection did.
        self._headers = dict(sorted(plain_headers.items()))
        self._secret_headers = hidden_headers
        self._params = dict(sorted(engine_params.items()))
        #: Reads the server's answers (or raises typed errors), scrubbing this connection's secrets.
        self.reader = Reader(self.host, self._appkey, secrets=hidden_headers.values())
        #: The transport to the server itself, under any recording: what a health check and a
        #: measurement use, never recorded.
        self.live_transport: Transport = transport or HTTPTransport(
            self.base_url,
            self._appkey,
            verify=verify,
            connect_timeout=connect_timeout,
            compress=compress,
            max_response_bytes=max_response_bytes,
            session=session,
            headers=plain_headers,
            secret_headers=hidden_headers,
        )
        #: Whether bodies come from this package's own transport, which keeps no reference to
        #: one (nor does a recording over it, which keeps what it parsed): the funnel may give
        #: a body back to the pool of buffers once it has read it (see the buffers module).
        self.owns_bodies = type(self.live_transport) is HTTPTransport
        #: Where answers come from: :attr:`live_transport`, or a recording on top of it.
        self.transport: Transport = self.live_transport
        if recording is not None:
            recording.describe_connection(
                self.name,
                self.pinned_now,
                self.scrape_interval,
                params=self._params,
                headers=self._headers,
                max_points_per_series=self.max_points_per_series,
            )
            self.transport = RecordingTransport(self.live_transport, recording, self.reader)

    @property
    def masked_appkey(self) -> str:
        """The appkey as it may be shown: at most its last 4 characters."""
        return mask_secret(self._appkey.reveal() if self._appkey else None)

    @property
    def has_appkey(self) -> bool:
        """Whether requests carry an appkey."""
        return self._appkey is not None

    @property
    def headers(self) -> dict[str, str]:
        """The extra headers that may be shown (a copy): not the secret ones."""
        return dict(self._headers)

    @property
    def secret_header_names(self) -> list[str]:
        """The names of the secret headers sent (their values are never shown)."""
        return list(self._secret_headers)

    @property
    def params(self) -> dict[str, str]:
        """The engine parameters sent with every query and range query (a copy)."""
        return dict(self._params)

    @property
    def replaying(self) -> bool:
        """Whether answers come from a recording instead of the server."""
        return self.transport.replays

    @property
    def recording(self) -> Recording | None:
        """The recording this client writes, or answers from; None for a live one."""
        return getattr(self.transport, "recording", None)

    @property
    def compress(self) -> bool:
        """Whether answers are asked for compressed."""
        return bool(getattr(self.live_transport, "compress", False))

    def now(self) -> float:
        """The client's clock: the pinned time if there is one, else the wall clock."""
        return time.time() if self.pinned_now is None else self.pinned_now

    def close(self) -> None:
        """Close the HTTP session if this client created it, and give the memory kept for the
        next answers (``buffers.POOL``, shared by every client) back to the system."""
        self.transport.close()
        POOL.clear()

    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        # getattr: a traceback showing locals may print a Client that failed half-way through
        # __init__ (a refused URL), before its attributes were set.
        base_url, name = getattr(self, "base_url", "?"), getattr(self, "name", "?")
        appkey = self.masked_appkey if hasattr(self, "_appkey") else "(none)"
        return f"{type(self).__name__}({base_url!r}, name={name!r}, appkey={appkey!r})"
