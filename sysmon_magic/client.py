"""``Client``: the Prometheus HTTP API of NHN Cloud System Monitoring, or of any Prometheus.

The endpoints, and the one funnel every request goes through, :meth:`Client._call`, which asks
the client's transport for the answer and reads it: an
:class:`~sysmon_magic.transport.HTTPTransport` (the default), a recording one that stores each
exchange, or a replaying one that answers from a file (:mod:`~sysmon_magic.recording`), as
httpx's clients take a ``transport=``. How a client is made (its arguments checked, its
transports set up, its description) is :mod:`~sysmon_magic.client_base`'s. A long range query
is split into windows here; range answers are read window by window into their series' arrays,
from the bytes when there are bytes (:mod:`~sysmon_magic.frames_bytes`), and the windows are
fetched, checked and joined by one merge of those arrays in :mod:`~sysmon_magic.ranges`: the
frame is built once, from the merge, so live, recorded and replayed frames are the same.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from . import frames
from .buffers import POOL
from .client_base import ClientBase
from .envelope import Answer, strings
from .errors import SysmonUsageError
from .params import (
    ENGINE_ENDPOINTS,
    as_matchers,
    format_seconds,
    request_deadline,
    step_seconds,
    timeout_param,
)
from .promql import orders_its_result
from .provenance import Provenance
from .query_client import TimeLike
from .ranges import Window, fetch_windows, merge_windows, read_window
from .recording import ReplayTransport
from .regions import SCRAPE_INTERVAL, region_api_root
from .timeparse import auto_step, format_duration, parse_time, split_range
from .transport import (
    APPKEY_HEADER,
    Cancel,
    Request,
    Secret,
    Transport,
    mask_secret,
)

__all__ = ["APPKEY_HEADER", "Client", "TimeLike", "mask_secret"]


# Scrape intervals seen in practice; a measured one is rounded to the nearest.
_USUAL_INTERVALS = (1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1800, 3600)


class Client(ClientBase):
    """A connection to a Prometheus-compatible HTTP API.

    Its arguments (the URL, ``appkey``, ``transport=``, ``recording=``, limits, engine
    parameters) are documented on :class:`~sysmon_magic.client_base.ClientBase`'s ``__init__``,
    which checks them; this class adds the endpoints, each asking through one funnel,
    :meth:`_call`.

    Examples
    --------
    >>> client = Client.for_region("kr1", appkey=os.environ["SYSMON_APPKEY"])  # doctest: +SKIP
    >>> client.query_range('rate(node_cpu_seconds_total{mode="user"}[5m])', "now-6h", "now")
    """

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
        # Held masked at once: a region refused below must not show the appkey in its locals.
        appkey = Secret(appkey) if isinstance(appkey, str) and appkey else appkey
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

    def _call(
        self,
        endpoint: str,
        params: Sequence[tuple[str, str]],
        *,
        timeout: float | None = None,
        get_only: bool = False,
        series: bool = False,
        threads: int | None = None,
        merged: bool = False,
        cancel: Cancel | None = None,
        transport: Transport | None = None,
    ) -> tuple[Answer, frames.Runs | None]:
        """The one funnel: ask the transport, read the answer (or raise a typed error).

        With ``series``, a successful answer's bytes become its series directly (no Python
        object per sample), by ``threads`` threads if given (else as frames_bytes chooses),
        into pooled buffers if they are to be ``merged`` with others' (see the buffers
        module); they are None when the answer came parsed (a replay) or is not a vector or
        matrix.
        """
        if endpoint in ENGINE_ENDPOINTS:
            params = [*params, *self.params.items()]
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

            found = runs_from_body(reply.body, threads=threads, pool=POOL if merged else None)
            if found.runs is not None and isinstance(found.envelope, dict):
                envelope = {**found.envelope, "data": found.envelope.get("data", {})}
                answer = self.reader.envelope_answer(envelope, reply)
                if self.owns_bodies:
                    POOL.give(reply.body)  # read: its memory serves the next answer
                return answer, found.runs
        return self.reader.answer(reply), None

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
        if not orders_its_result(promql):  # other instant results are put in label order
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
        # Windows read in parallel keep the cores busy already: each is read by one thread.
        threads = 1 if len(windows) > 1 and self.max_parallel > 1 else None

        def fetch(window: tuple[float, float], cancel: Cancel | None) -> Window:
            params = [
                ("query", promql),
                ("start", format_seconds(window[0])),
                ("end", format_seconds(window[1])),
                ("step", format_seconds(step_s)),
                *timeout_param(timeout),
            ]
            answer, runs = self._call(
                "query_range",
                params,
                timeout=deadline,
                series=True,
                threads=threads,
                merged=len(windows) > 1,
                cancel=cancel,
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
        return self._call("query", params, transport=self.live_transport)[0].elapsed

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
        names, _ = self._call(
            "label/__name__/values", window, get_only=True, transport=self.live_transport
        )
        metrics = ["up"]
        metrics += [name for name in strings(names.data, "metric names")[:1] if name != "up"]
        for metric in metrics:
            for seconds in (3600, 600, 60):
                span = format_duration(seconds)
                query = (
                    f"quantile(0.5, count_over_time({metric}[{span}]) and {metric} offset {span})"
                )
                answer, _ = self._call(
                    "query", [("query", query), ("time", at)], transport=self.live_transport
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
