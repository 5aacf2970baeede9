"""``Client``: the Prometheus HTTP API of NHN Cloud System Monitoring, or of any Prometheus.

Every request goes through one funnel, :meth:`Client._call`, which asks the client's transport
for the answer and reads it: an :class:`~sysmon_magic.transport.HTTPTransport` (the default),
a recording one that stores each exchange, or a replaying one that answers from a file
(:mod:`~sysmon_magic.recording`), as httpx's clients take a ``transport=``. Range answers are
read window by window into their series' arrays, from the bytes when there are bytes
(:mod:`~sysmon_magic.frames_bytes`); windows are always joined by one merge of those arrays
(:func:`~sysmon_magic.frames.concat_runs`), and the frame is built once, from the merge: live,
recorded and replayed frames are the same.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from . import frames
from .envelope import Answer, Reader, strings
from .errors import SysmonUsageError
from .params import (
    ENGINE_ENDPOINTS,
    as_matchers,
    checked_base_url,
    checked_max_points,
    checked_params,
    format_seconds,
    request_deadline,
    step_seconds,
    timeout_param,
)
from .provenance import Provenance
from .query_client import TimeLike
from .ranges import Window, fetch_windows, merge_windows, read_window
from .recording import RecordingTransport, ReplayTransport
from .regions import SCRAPE_INTERVAL, region_api_root
from .timeparse import PROMETHEUS_MAX_POINTS, auto_step, format_duration, parse_time, split_range
from .transport import (
    APPKEY_HEADER,
    DEFAULT_MAX_RESPONSE_BYTES,
    Cancel,
    HTTPTransport,
    Request,
    Secret,
    Transport,
    checked_appkey,
    checked_headers,
    mask_secret,
)

if TYPE_CHECKING:
    import requests

    from .recording import Recording

__all__ = ["APPKEY_HEADER", "Client", "TimeLike", "mask_secret"]


# Functions whose result order is the point; other instant results are put in label order.
_ORDERING = re.compile(r"\b(?:sort|sort_desc|sort_by_label|sort_by_label_desc|topk|bottomk)\s*\(")
# Scrape intervals seen in practice; a measured one is rounded to the nearest.
_USUAL_INTERVALS = (1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1800, 3600)


class Client:
    """A connection to a Prometheus-compatible HTTP API.

    Parameters
    ----------
    base_url
        The API root, the part before ``/api/v1``: ``https://kr1-api-sysmon.cloud.toast.com/prometheus``
        or ``http://127.0.0.1:9090``.
    appkey
        The NHN Cloud project appkey, sent as the ``X-TC-APP-KEY`` header; ``None`` for a server
        without authentication. It is sent only over https, or over http to a loopback address.
    name
        What results name as their source (``frame.attrs["promql"]["source"]``); default: the URL.
    now
        Pin the clock (unix seconds) that ``now``, ``now-6h`` and default windows are read against,
        for reports that must give the same answer every day.
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
        :meth:`measure_scrape_interval` can find it.
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
        :meth:`from_recording` to answer from one).
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
        ``partial_response``, ``dedup``, ``max_source_resolution``; VictoriaMetrics' ``nocache``,
        ``extra_label``. Part of each request, so of a recording's keys; shown under results.

    Examples
    --------
    >>> client = Client.for_region("kr1", appkey=os.environ["SYSMON_APPKEY"])  # doctest: +SKIP
    >>> client.query_range('rate(node_cpu_seconds_total{mode="user"}[5m])', "now-6h", "now")
    """

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
        # From here on only as a Secret (checked as one): no traceback's locals show it.
        secret: Secret | None = Secret(appkey) if isinstance(appkey, str) and appkey else None
        if isinstance(appkey, Secret):
            secret = appkey
        del appkey
        secret = checked_appkey(secret)
        plain_headers, hidden_headers = checked_headers(headers, secret_headers)
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
        self._reader = Reader(self.host, self._appkey, secrets=hidden_headers.values())
        # The live transport: what a health check and a measurement use, never recorded.
        self._live: Transport = transport or HTTPTransport(
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
        self.transport: Transport = self._live
        if recording is not None:
            recording.describe_connection(
                self.name,
                self.pinned_now,
                self.scrape_interval,
                params=self._params,
                headers=self._headers,
                max_points_per_series=self.max_points_per_series,
            )
            self.transport = RecordingTransport(self._live, recording, self._reader)

    @classmethod
    def for_region(
        cls,
        region: str,
        appkey: str | Secret | None = None,
        *,
        overrides: Mapping[str, str] | None = None,
        **options: Any,
    ) -> Client:
        """A client for an NHN Cloud region (kr1, kr2, us1, jp1, gov)."""
        options["name"] = options.get("name") or region.strip().lower()
        options["scrape_interval"] = options.get("scrape_interval") or SCRAPE_INTERVAL
        return cls(region_api_root(region, overrides), appkey, **options)

    @classmethod
    def from_recording(cls, path: str | os.PathLike[str], **options: Any) -> Client:
        """A client that answers from a recording: no network, no appkey, the recorded clock."""
        transport = ReplayTransport.load(path)
        options = {**transport.recording.client_options(), **options}
        # A loopback placeholder: a replaying client never opens a connection.
        return cls("http://127.0.0.1/replay", transport=transport, **options)

    # -- plumbing --------------------------------------------------------------------------

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
        return bool(getattr(self._live, "compress", False))

    def now(self) -> float:
        """The client's clock: the pinned time if there is one, else the wall clock."""
        return time.time() if self.pinned_now is None else self.pinned_now

    def close(self) -> None:
        """Close the HTTP session if this client created it."""
        self.transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        # getattr: a traceback showing locals may print a Client that failed half-way through
        # __init__ (a refused URL), before its attributes were set.
        base_url, name = getattr(self, "base_url", "?"), getattr(self, "name", "?")
        appkey = self.masked_appkey if hasattr(self, "_appkey") else "(none)"
        return f"Client({base_url!r}, name={name!r}, appkey={appkey!r})"

    def _call(
        self,
        endpoint: str,
        params: Sequence[tuple[str, str]],
        *,
        timeout: float | None = None,
        get_only: bool = False,
        series: bool = False,
        cancel: Cancel | None = None,
        transport: Transport | None = None,
    ) -> tuple[Answer, frames.Runs | None]:
        """The one funnel: ask the transport, read the answer (or raise a typed error).

        With ``series``, a successful answer's bytes become its series directly (no Python
        object per sample); they are None when the answer came parsed (a replay) or is not a
        vector or matrix.
        """
        if endpoint in ENGINE_ENDPOINTS:
            params = [*params, *self._params.items()]
        request = Request(
            endpoint,
            tuple((str(k), str(v)) for k, v in params),
            timeout=self.timeout if timeout is None else timeout,
            get_only=get_only,
        )
        reply = (transport or self.transport).send(request, cancel)
        if isinstance(reply, Answer):
            return reply, None
        if series and reply.status == 200:
            from .frames_bytes import runs_from_body

            found = runs_from_body(reply.body)
            if found.runs is not None and isinstance(found.envelope, dict):
                envelope = {**found.envelope, "data": found.envelope.get("data", {})}
                return self._reader.envelope_answer(envelope, reply), found.runs
        return self._reader.answer(reply), None

    def _time(self, value: TimeLike) -> float:
        return parse_time(value, self.now())

    def _provenance(self, answer: Answer, **asked: Any) -> dict[str, Any]:
        """``attrs["promql"]``: what was asked and how it was answered, as a Provenance."""
        return Provenance(
            **asked,
            warnings=answer.warnings,
            infos=answer.infos,
            source=self.name,
            headers=self.headers,
            params=self.params,
            elapsed=round(answer.elapsed, 3),
            replayed=self.replaying,
        ).to_attrs()

    # -- endpoints -------------------------------------------------------------------------

    def query(
        self,
        promql: str,
        time: TimeLike | None = None,
        *,
        timeout: float | None = None,
        fmt: frames.FrameFormat = "tidy",
    ) -> pd.DataFrame:
        """Evaluate an instant query at ``time`` (default: now); a row per series.

        Rows come in the order of their labels unless the query orders them (``sort``, ``topk``
        ...): Prometheus returns some instant results in a different order each time.
        """
        at = self.now() if time is None else self._time(time)
        params = [("query", promql), ("time", format_seconds(at)), *timeout_param(timeout)]
        answer, _ = self._call("query", params, timeout=request_deadline(timeout, self.timeout))
        data = answer.data
        if not _ORDERING.search(promql):
            data = _by_labels(data)
        frame = frames.frame_from_data(data, fmt)
        frame.attrs["promql"] = self._provenance(
            answer, query=promql, time=at, result_type=answer.result_type
        )
        return frame

    def query_range(
        self,
        promql: str,
        start: TimeLike,
        end: TimeLike | None = None,
        step: float | str | None = None,
        *,
        timeout: float | None = None,
        fmt: frames.FrameFormat = "tidy",
        progress: Callable[[int, int], None] | None = None,
    ) -> pd.DataFrame:
        """Evaluate a range query; ``step`` (seconds or ``"1m"``) is chosen if not given.

        More than ``max_points_per_series`` points per series (11,001 from Prometheus) are
        fetched as step-aligned windows, ``max_parallel`` at a time, and merged;
        ``progress(done, total)`` hears of each window. If a window still fails after its
        retries, the whole query fails with an error that names the window, and the windows
        still in flight are cut off (Ctrl-C does the same). Samples a server sends
        outside the window asked for are dropped, with a warning.
        """
        start_s = self._time(start)
        end_s = self.now() if end is None else self._time(end)
        step_s = (
            step_seconds(step)
            if step is not None
            else auto_step(end_s - start_s, self.max_points, self.scrape_interval or 0.0)
        )
        windows = split_range(start_s, end_s, step_s, self.max_points_per_series)
        deadline = request_deadline(timeout, self.timeout)

        def fetch(window: tuple[float, float], cancel: Cancel | None) -> Window:
            params = [
                ("query", promql),
                ("start", format_seconds(window[0])),
                ("end", format_seconds(window[1])),
                ("step", format_seconds(step_s)),
                *timeout_param(timeout),
            ]
            answer, runs = self._call(
                "query_range", params, timeout=deadline, series=True, cancel=cancel
            )
            return read_window(answer, runs, window)

        if len(windows) == 1:
            parts = [fetch(windows[0], None)]
        else:
            parts = fetch_windows(windows, fetch, progress, self.max_parallel)
        frame, answer = merge_windows(parts, fmt)
        frame.attrs["promql"] = self._provenance(
            answer,
            query=promql,
            start=start_s,
            end=end_s,
            step=step_s,
            result_type=answer.result_type,
        )
        return frame

    def series(
        self,
        match: str | Iterable[str],
        start: TimeLike | None = None,
        end: TimeLike | None = None,
    ) -> pd.DataFrame:
        """The series matching one or more selectors: a row per series, a column per label."""
        params = [("match[]", m) for m in as_matchers(match)] + self._window(start, end)
        answer, _ = self._call("series", params)
        frame = frames.series_frame(answer.data)
        frame.attrs["promql"] = self._provenance(answer, match=as_matchers(match))
        return frame

    def labels(
        self,
        match: str | Iterable[str] | None = None,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
    ) -> list[str]:
        """All label names (of the series matching ``match``, if given)."""
        params = [("match[]", m) for m in as_matchers(match)] + self._window(start, end)
        return strings(self._call("labels", params)[0].data, "labels")

    def label_values(
        self,
        name: str,
        match: str | Iterable[str] | None = None,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
    ) -> list[str]:
        """All values of the label ``name`` (of the series matching ``match``, if given)."""
        if not name or "/" in name:
            raise SysmonUsageError(f"{name!r} is not a label name.")
        params = [("match[]", m) for m in as_matchers(match)] + self._window(start, end)
        answer, _ = self._call(f"label/{name}/values", params, get_only=True)
        return strings(answer.data, "label values")

    def metadata(self, metric: str | None = None) -> pd.DataFrame:
        """Type, help and unit of every metric (or of one): columns metric, type, help, unit."""
        params = [("metric", metric)] if metric else []
        answer, _ = self._call("metadata", params, get_only=True)
        return frames.metadata_frame(answer.data)

    def check(self) -> float:
        """Check that the server answers and accepts the appkey; return the round trip in seconds."""
        # Straight to the server: a health check is not part of what a recording replays.
        params = [("query", "1"), ("time", format_seconds(self.now()))]
        return self._call("query", params, transport=self._live)[0].elapsed

    def measure_scrape_interval(self) -> float | None:
        """The data's sample interval, measured: ``None`` if there are no samples to measure.

        Counts the samples that each series of ``up`` (every scraping Prometheus has it; else
        the server's first metric) has in the last hour, among the series that already had one
        an hour ago (a younger series would count fewer), takes the median, and rounds
        ``3600 / count`` to the nearest usual interval; a server younger than an hour is
        measured over the last 10 minutes, or the last one. Not recorded: a replay reads the
        interval from the recording's connection.
        """
        now = self.now()
        at = format_seconds(now)
        window = [("start", format_seconds(now - 3600)), ("end", at)]
        names, _ = self._call("label/__name__/values", window, get_only=True, transport=self._live)
        metrics = ["up"]
        metrics += [name for name in strings(names.data, "metric names")[:1] if name != "up"]
        for metric in metrics:
            for seconds in (3600, 600, 60):
                span = format_duration(seconds)
                query = (
                    f"quantile(0.5, count_over_time({metric}[{span}]) and {metric} offset {span})"
                )
                answer, _ = self._call(
                    "query", [("query", query), ("time", at)], transport=self._live
                )
                result = answer.data.get("result") if isinstance(answer.data, dict) else None
                count = float(result[0]["value"][1]) if result else 0.0
                if count >= 4:  # enough samples for the count's +-1 not to matter
                    interval = seconds / count
                    return float(
                        min(_USUAL_INTERVALS, key=lambda usual: abs(math.log(usual / interval)))
                    )
        return None

    def _window(self, start: TimeLike | None, end: TimeLike | None) -> list[tuple[str, str]]:
        params = []
        if start is not None:
            params.append(("start", format_seconds(self._time(start))))
        if end is not None:
            params.append(("end", format_seconds(self._time(end))))
        return params


def _by_labels(data: Any) -> Any:
    """An instant vector's series sorted by their labels (anything else as it came)."""
    if not isinstance(data, dict) or data.get("resultType") != "vector":
        return data
    try:
        ordered = sorted(data["result"], key=lambda s: sorted(s["metric"].items()))
    except (KeyError, TypeError, AttributeError):
        return data  # malformed: the conversion reports it
    return {**data, "result": ordered}
