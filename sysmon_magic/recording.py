"""Record every API exchange of a connection to a file, and answer from that file later.

A recording makes a report reproducible without the service, the appkey or the network: a
colleague, a CI job or a reader a year later replays it and gets the same tables and plots.

Format: one JSON document, written so that a diff reads well and the same notebook always writes
the same bytes. Exchanges are keyed by endpoint and parameters (templating expanded, relative
times already resolved, engine parameters such as ``dedup`` included; the ``timeout`` parameter
left out) and sorted by key. No secret is ever written: neither the appkey nor a secret header;
the connection's plain headers (a tenant), engine parameters and point limit are, to describe
the connection and so that a replay asks the same requests. Range answers are stored compactly
and exactly: a series' timestamps as ``start_ms`` + ``step_ms`` when they form a grid (they do
in range answers), its values as Prometheus' own strings, one series per line. That is about
half the size of the API's ``[t, "v"]`` pairs; it is not compressed, so that git diffs and code
review still work.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .envelope import Answer
from .errors import SysmonUsageError
from .provenance import Provenance, describe_window
from .timeparse import PROMETHEUS_MAX_POINTS

if TYPE_CHECKING:
    from .envelope import Raw, Reader
    from .transport import Cancel, Request, Transport

__all__ = ["FORMAT", "Recording", "RecordingTransport", "ReplayMissError", "ReplayTransport"]

FORMAT = "sysmon-magic recording 1"
# Parameters that change how long the server may take, not what it answers.
_NOT_IN_KEY = frozenset({"timeout"})

Key = tuple[str, tuple[tuple[str, str], ...]]
# The recording client's engine, as a plain connection has it: then left out of the file.
_ENGINE_DEFAULTS: dict[str, Any] = {
    "params": {},
    "headers": {},
    "max_points_per_series": PROMETHEUS_MAX_POINTS,
}


class ReplayMissError(SysmonUsageError):
    """The recording holds no answer for a request."""


class Recording:
    """The exchanges of one connection, kept in ``path``.

    ``connection`` describes where they came from: ``name`` (the region, ``demo`` or a host; never
    a key) and ``now``, the pinned clock that relative times were resolved against. The client
    that records fills it in (:meth:`describe_connection`).
    """

    def __init__(
        self, path: str | os.PathLike[str], connection: Mapping[str, Any] | None = None
    ) -> None:
        self.path = Path(path)
        self.connection = dict(connection or {})
        self._exchanges: dict[Key, dict[str, Any]] = {}
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Recording:
        """Read a recording; a clear error if the file is missing or not one."""
        file = Path(path)
        try:
            document = json.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SysmonUsageError(
                f"No recording at {file}: record it first with "
                f"recording=Recording.for_writing({str(file)!r})."
            ) from None
        except (OSError, ValueError) as exc:
            raise SysmonUsageError(f"Cannot read the recording {file}: {exc}.") from None
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise SysmonUsageError(f"{file} is not a sysmon-magic recording ({FORMAT!r}).")

        # A file edited by hand or merged badly: say so now, rather than with a KeyError at the
        # query that reads the broken part.
        def damaged(where: str, what: str) -> SysmonUsageError:
            return SysmonUsageError(
                f"The recording {file} is damaged: {where} {what}. Restore it from version "
                f"control, or record it again with recording=Recording.for_writing({str(file)!r})."
            )

        def texts(value: Any, size: int | None = None) -> bool:
            return (
                isinstance(value, list)
                and all(type(text) is str for text in value)
                and (size is None or len(value) == size)
            )

        def number(value: Any) -> bool:
            return type(value) in (int, float) and math.isfinite(value)

        def decodable(data: Any) -> bool:
            """Whether the compact series of a range answer (see _encode_series) are whole."""
            if not (isinstance(data, dict) and data.get("resultType") == "matrix"):
                return True  # kept as it came: the client reads it as it reads an answer
            result = data.get("result", [])
            if not isinstance(result, list):
                return False
            for series in result:
                if not isinstance(series, dict):
                    return False
                values, millis = series.get("values"), series.get("timestamps_ms")
                if "timestamps_ms" in series:
                    whole = (
                        isinstance(millis, list)
                        and all(map(number, millis))
                        and texts(values, len(millis))
                    )
                elif "start_ms" in series:
                    whole = (
                        number(series["start_ms"])
                        and number(series.get("step_ms"))
                        and texts(values)
                    )
                else:
                    whole = True  # samples as the API sent them: the client reads them
                if not whole:
                    return False
            return True

        connection, exchanges = document.get("connection", {}), document.get("exchanges", [])
        if not (isinstance(connection, dict) and isinstance(exchanges, list)):
            raise damaged("its connection or exchanges", "are not an object and a list")
        for name in ("name", "source"):
            if connection.get(name) is not None and type(connection[name]) is not str:
                raise damaged(f"connection.{name}", f"is {connection[name]!r}, not a text")
        for name in ("now", "scrape_interval"):
            if connection.get(name) is not None and not number(connection[name]):
                raise damaged(f"connection.{name}", f"is {connection[name]!r}, not seconds")
        recording = cls(file, connection)
        for position, exchange in enumerate(exchanges, 1):
            where = f"exchange {position}"
            if not isinstance(exchange, dict):
                raise damaged(where, "is not an object")
            request = exchange.get("request")
            if not (
                isinstance(request, dict)
                and type(request.get("endpoint")) is str
                and isinstance(request.get("params"), list)
                and all(texts(pair, 2) for pair in request["params"])
            ):
                raise damaged(where, "has no request (an endpoint and params)")
            if not (texts(exchange.get("warnings")) and texts(exchange.get("infos"))):
                raise damaged(where, "has no list of warnings and of infos")
            if "data" not in exchange or not decodable(exchange["data"]):
                raise damaged(where, "has no data, or a series cut short")
            recording._exchanges[_key(request["endpoint"], request["params"])] = exchange
        return recording

    @classmethod
    def for_writing(cls, path: str | os.PathLike[str]) -> Recording:
        """A recording to add to: the file's exchanges if it exists, else an empty one.

        Its directory must exist and take new files: checked here, at connect, rather than at
        the first query, after its answer came.
        """
        file = Path(path)
        recording = cls.load(file) if file.exists() else cls(file)
        if not file.parent.is_dir():
            raise SysmonUsageError(
                f"Cannot record to {file}: there is no directory {file.parent}; create it first."
            )
        try:
            handle, probe = tempfile.mkstemp(dir=file.parent, prefix=f".{file.name}.")
        except OSError as exc:
            raise SysmonUsageError(
                f"Cannot record to {file}: {file.parent} takes no new file ({exc.strerror})."
            ) from None
        os.close(handle)
        os.unlink(probe)
        return recording

    @property
    def now(self) -> float | None:
        """The clock the recorded requests were resolved against."""
        now = self.connection.get("now")
        return None if now is None else float(now)

    def describe_connection(
        self,
        name: str,
        now: float | None,
        scrape_interval: float | None,
        *,
        params: Mapping[str, str],
        headers: Mapping[str, str],
        max_points_per_series: int,
    ) -> None:
        """Describe the recording client's connection in :attr:`connection`.

        What a replay needs to ask the same requests (the params are in their keys, the limit
        decides the windows) and to describe them as they were made. The engine's are left out
        when they are the defaults, so that a plain connection's recording stays as it was (and
        dropped from the file's earlier connection); secret headers are never given here.
        """
        engine = {
            "params": dict(params),
            "headers": dict(headers),
            "max_points_per_series": max_points_per_series,
        }
        self.connection = {
            **{k: v for k, v in self.connection.items() if k not in engine},
            "name": name,
            "now": now,
            "scrape_interval": scrape_interval,
            **{k: v for k, v in engine.items() if v != _ENGINE_DEFAULTS[k]},
        }

    def client_options(self) -> dict[str, Any]:
        """The :class:`~sysmon_magic.client.Client` options that replay this recording as it
        was made: the name, clock, scrape interval and engine of its connection."""
        info = self.connection
        return {
            "name": info.get("name") or "replay",
            "now": self.now,
            "scrape_interval": info.get("scrape_interval"),
            "params": info.get("params"),
            "max_points_per_series": info.get("max_points_per_series") or PROMETHEUS_MAX_POINTS,
            # Shown as when recorded; a replay sends nothing.
            "headers": info.get("headers"),
        }

    def __len__(self) -> int:
        return len(self._exchanges)

    def answer(
        self, endpoint: str, params: Sequence[tuple[str, str]]
    ) -> tuple[Any, list[str], list[str]]:
        """The recorded ``(data, warnings, infos)`` of a request, or :class:`ReplayMissError`."""
        exchange = self._exchanges.get(_key(endpoint, params))
        if exchange is None:
            raise ReplayMissError(
                f"The recording {self.path.name} holds no answer for {_describe(endpoint, params)}: "
                "run the notebook live with recording= to add it."
            )
        return _decode(exchange["data"]), list(exchange["warnings"]), list(exchange["infos"])

    def store(
        self,
        endpoint: str,
        params: Sequence[tuple[str, str]],
        data: Any,
        warnings: Sequence[str],
        infos: Sequence[str],
    ) -> None:
        """Add (or replace) an exchange and rewrite the file atomically."""
        key = _key(endpoint, params)
        exchange = {
            "request": {"endpoint": endpoint, "params": [list(p) for p in key[1]]},
            "warnings": list(warnings),
            "infos": list(infos),
            "data": _encode(data),
        }
        with self._lock:
            self._exchanges[key] = exchange
            self._write()

    def save(self) -> None:
        """Write the file atomically, as :meth:`store` does after each exchange (also when it
        holds none: a recording to replay offline, where every query is a miss)."""
        with self._lock:
            self._write()

    def _write(self) -> None:
        lines = [
            "{" + f'"format": {_dump(FORMAT)},',
            f'"connection": {_dump(self.connection)},',
            '"exchanges": [',
        ]
        exchanges = [self._exchanges[key] for key in sorted(self._exchanges)]
        for number, exchange in enumerate(exchanges):
            comma = "," if number < len(exchanges) - 1 else ""
            lines.append(_exchange_text(exchange) + comma)
        lines.append("]}")
        temporary = None
        try:
            handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write("\n".join(lines) + "\n")
            # mkstemp makes the file private; a recording is meant to be shared like the notebook.
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(temporary, 0o666 & ~umask)
            os.replace(temporary, self.path)
        except OSError as exc:  # its directory removed, the disk full
            if temporary is not None and os.path.exists(temporary):
                os.unlink(temporary)
            raise SysmonUsageError(
                f"Cannot write the recording {self.path}: {exc.strerror or exc}."
            ) from None


def _key(endpoint: str, params: Sequence[Sequence[str]]) -> Key:
    kept = sorted((str(k), str(v)) for k, v in params if k not in _NOT_IN_KEY)
    return endpoint, tuple(kept)


def _describe(endpoint: str, params: Sequence[tuple[str, str]]) -> str:
    values = dict(params)
    what = f"{endpoint} {values.get('query') or values.get('match[]') or ''!r}".strip()
    try:
        times = {
            key: float(values[key]) for key in ("start", "end", "step", "time") if key in values
        }
    except ValueError:
        return what
    window = Provenance(
        start=times.get("start"),
        end=times.get("end"),
        step=times.get("step"),
        time=times.get("time"),
    )
    described = describe_window(window, sep=" ")
    if window.is_range:
        return f"{what} from {described}"
    return f"{what} {described}" if described else what


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))


def _exchange_text(exchange: Mapping[str, Any]) -> str:
    """An exchange as text: its request and small parts on one line, then a line per series."""
    data = exchange["data"]
    head = {k: v for k, v in exchange.items() if k != "data"}
    opening = _dump(head)[:-1] + ', "data": '
    if isinstance(data, dict) and isinstance(data.get("result"), list) and data["result"]:
        rest = {k: v for k, v in data.items() if k != "result"}
        series = ",\n".join(_dump(item) for item in data["result"])
        return opening + _dump(rest)[:-1] + ', "result": [\n' + series + "\n]}}"
    return opening + _dump(data) + "}"


def _encode(data: Any) -> Any:
    """Range answers' series as ``start_ms``/``step_ms`` + values; anything else as it came."""
    if not (isinstance(data, dict) and data.get("resultType") == "matrix"):
        return data
    return {**data, "result": [_encode_series(s) for s in data.get("result", [])]}


def _encode_series(series: Mapping[str, Any]) -> dict[str, Any]:
    pairs = series.get("values")
    if not pairs:
        return dict(series)
    millis = [round(float(t) * 1000) for t, _ in pairs]
    compact = {k: v for k, v in series.items() if k != "values"}
    steps = {b - a for a, b in itertools.pairwise(millis)}
    if len(steps) <= 1:
        compact["start_ms"] = millis[0]
        compact["step_ms"] = steps.pop() if steps else 0
    else:
        compact["timestamps_ms"] = millis
    compact["values"] = [v for _, v in pairs]
    return compact


def _decode(data: Any) -> Any:
    if not (isinstance(data, dict) and data.get("resultType") == "matrix"):
        return data
    return {**data, "result": [_decode_series(s) for s in data.get("result", [])]}


def _decode_series(series: Mapping[str, Any]) -> dict[str, Any]:
    if "start_ms" not in series and "timestamps_ms" not in series:
        return dict(series)
    values = series["values"]
    if "timestamps_ms" in series:
        millis = series["timestamps_ms"]
    else:
        millis = [series["start_ms"] + i * series["step_ms"] for i in range(len(values))]
    decoded = {
        k: v
        for k, v in series.items()
        if k not in ("start_ms", "step_ms", "timestamps_ms", "values")
    }
    decoded["values"] = [[m / 1000, v] for m, v in zip(millis, values, strict=True)]
    return decoded


class RecordingTransport:
    """Answers from ``inner`` (live), each also stored in ``recording``.

    The answer is read once here, for its data (the recording keeps parsed data), and handed on
    as it came, so that the client still converts range answers from the bytes.
    """

    replays = False

    def __init__(self, inner: Transport, recording: Recording, reader: Reader) -> None:
        self.inner = inner
        self.recording = recording
        self._reader = reader

    def send(self, request: Request, cancel: Cancel | None = None) -> Raw | Answer:
        reply = self.inner.send(request, cancel)
        answer = reply if isinstance(reply, Answer) else self._reader.answer(reply)
        self.recording.store(
            request.endpoint, request.params, answer.data, answer.warnings, answer.infos
        )
        return reply

    def close(self) -> None:
        self.inner.close()


class ReplayTransport:
    """Answers from a recording: no network, no appkey; a request it lacks is an error."""

    replays = True

    def __init__(self, recording: Recording) -> None:
        self.recording = recording

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ReplayTransport:
        return cls(Recording.load(path))

    def send(self, request: Request, cancel: Cancel | None = None) -> Answer:
        data, warnings, infos = self.recording.answer(request.endpoint, request.params)
        return Answer(data, warnings, infos, elapsed=0.0)

    def close(self) -> None:
        pass
