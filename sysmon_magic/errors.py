"""The exceptions sysmon_magic raises.

Every error is a :class:`SysmonError`; its ``str()`` is one line that says what went wrong and
what to do, so the magics can show it as is. None of them ever holds the appkey.

::

    SysmonError
    ├── SysmonUsageError (ValueError)      bad options, times, durations, regions, steps
    ├── TransportError (ConnectionError)   host unreachable, connection refused or reset
    │   └── DeadlineError (TimeoutError)   no whole answer within the timeout
    ├── APIError                           the server answered, but not with data
    │   ├── AuthError (PermissionError)    401 / 403: appkey missing, rejected, or no access
    │   ├── QueryError                     Prometheus ``status: error`` (bad PromQL, timeout, ...)
    │   ├── ResponseFormatError            not Prometheus JSON (gateway page; body cut off,
    │   │                                  damaged or not decompressible)
    │   └── ResponseTooLargeError          an answer larger than max_response_bytes
    └── DemoError (RuntimeError)           the local demo server cannot start
"""

from __future__ import annotations

__all__ = [
    "APIError",
    "AuthError",
    "DeadlineError",
    "DemoError",
    "QueryError",
    "ResponseFormatError",
    "ResponseTooLargeError",
    "SysmonError",
    "SysmonUsageError",
    "TransportError",
]


class SysmonError(Exception):
    """Root of every sysmon_magic error; ``str()`` is a short, complete message."""


class SysmonUsageError(SysmonError, ValueError):
    """The caller asked for something that cannot work (caught before anything is sent)."""


class TransportError(SysmonError, ConnectionError):
    """No HTTP answer: the host is unreachable, refused, reset the connection or timed out."""

    def __init__(self, message: str, *, host: str) -> None:
        super().__init__(message)
        self.host = host


class DeadlineError(TransportError, TimeoutError):
    """No whole answer within ``timeout`` seconds (connecting, waiting, reading and retrying)."""

    def __init__(self, message: str, *, host: str, timeout: float) -> None:
        super().__init__(message, host=host)
        self.timeout = timeout


class APIError(SysmonError):
    """The server answered with an HTTP status and a body that is not usable data."""

    def __init__(self, message: str, *, status: int | None = None, url: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        # The URL without its query string: parameters may be long, and never hold the appkey
        # (it travels in a header), but a short URL keeps messages and logs readable.
        self.url = url


class AuthError(APIError, PermissionError):
    """401 (appkey missing or invalid) or 403 (project not accessible with this appkey)."""


class QueryError(APIError):
    """Prometheus answered ``status: "error"``; ``error_type`` is the server's opaque string."""

    def __init__(
        self,
        message: str,
        *,
        error_type: str,
        server_message: str,
        status: int | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message, status=status, url=url)
        self.error_type = error_type
        self.server_message = server_message


class ResponseFormatError(APIError):
    """The body is not a Prometheus envelope: an HTML error page, JSON that stops early or has a
    wrong byte (the message gives its offset), a compressed body that cannot be decompressed."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        url: str | None = None,
        body_start: str = "",
    ) -> None:
        super().__init__(message, status=status, url=url)
        self.body_start = body_start


class ResponseTooLargeError(APIError):
    """An answer larger than ``limit`` bytes (compressed or not); nothing of it is kept."""

    def __init__(self, message: str, *, limit: int, url: str | None = None) -> None:
        super().__init__(message, url=url)
        self.limit = limit


class DemoError(SysmonError, RuntimeError):
    """The local demo server cannot be generated or started."""
