"""A total deadline and cancellation for requests sent through a requests session.

A read timeout alone bounds each read, not the answer: a server that trickles its headers or body
one byte a second holds a request for minutes. :class:`Watch` arms a timer for one attempt and,
when it fires or the attempt's :class:`Cancel` is cancelled, shuts the attempt's socket, which
wakes the thread blocked reading it. The connection is learnt from urllib3 itself: the sessions of
:func:`default_session` make connections that report to the watch of their thread.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

__all__ = ["Cancel", "Cancelled", "Expired", "Watch", "default_session"]


class Cancelled(Exception):
    """The request was cancelled through its :class:`Cancel` (another window failed, Ctrl-C)."""


class Cancel:
    """A cancellation shared by the requests of one query: :meth:`cancel` aborts them all.

    Aborting shuts the socket of each request in flight, so a thread blocked reading it wakes
    at once (a thread cannot be stopped otherwise), and wakes any that wait to retry.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._watches: set[Watch] = set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def cancel(self) -> None:
        self._event.set()
        with self._lock:
            watches = list(self._watches)
        for watch in watches:
            watch.abort()

    def wait(self, seconds: float) -> bool:
        """Sleep ``seconds``, or less if cancelled; whether it was cancelled."""
        return self._event.wait(seconds)

    def add(self, watch: Watch) -> None:
        """Abort ``watch`` on :meth:`cancel` (at once if already cancelled): a Watch entered."""
        with self._lock:
            self._watches.add(watch)
        if self.cancelled:
            watch.abort()

    def discard(self, watch: Watch) -> None:
        """Forget ``watch``, whose attempt is over."""
        with self._lock:
            self._watches.discard(watch)


_current = threading.local()  # the Watch of the request this thread is sending


class Watch:
    """One attempt of a request: its connection, aborted when the deadline passes or on cancel.

    The connection is learnt from urllib3 itself (:class:`_WatchedHTTPConnection` reports to the
    watch of its thread), so that also an answer whose headers trickle in can be cut off.
    """

    def __init__(self, deadline: float, cancel: Cancel | None) -> None:
        self.deadline = deadline
        self.cancel = cancel
        self.expired = False
        self._connection: HTTPConnection | None = None
        self._aborted = False
        self._lock = threading.Lock()
        # Never past threading's own limit: the longest --timeout (292 years) would overflow it.
        wait = min(max(0.0, deadline - time.monotonic()), threading.TIMEOUT_MAX)
        self._timer = threading.Timer(wait, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> Watch:
        _current.watch = self
        if self.cancel is not None:
            self.cancel.add(self)
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._timer.cancel()
        _current.watch = None
        if self.cancel is not None:
            self.cancel.discard(self)

    @property
    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.cancelled

    def attach(self, connection: HTTPConnection) -> None:
        """The connection a request is about to go out on (from this watch's thread)."""
        with self._lock:
            self._connection = connection
            aborted = self._aborted
        if aborted:  # cancelled (or past the deadline) before it was even sent
            raise Cancelled if self.cancelled else Expired

    def connected(self, connection: HTTPConnection) -> None:
        """The connection's socket now exists: shut it if the watch fired while it opened."""
        with self._lock:
            aborted = self._aborted
        if aborted:
            _shut(connection)

    def detach(self) -> bool:
        """Stop watching the connection, its answer read whole: whether it is still sound (not
        shut by this watch), to carry the next request."""
        with self._lock:
            self._connection = None
            return not self._aborted

    def _expire(self) -> None:
        self.expired = True
        self.abort()

    def abort(self) -> None:
        with self._lock:
            self._aborted = True
            connection = self._connection
        if connection is not None:
            _shut(connection)


def _shut(connection: HTTPConnection) -> None:
    sock = getattr(connection, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed: nothing left to wake
            sock.shutdown(socket.SHUT_RDWR)


class _WatchedHTTPConnection(HTTPConnection):
    """A connection that tells the watch of its thread's request about itself."""

    def request(self, *args: Any, **kwargs: Any) -> None:
        watch = getattr(_current, "watch", None)
        if watch is not None:
            watch.attach(self)
        super().request(*args, **kwargs)

    def connect(self) -> None:
        super().connect()
        watch = getattr(_current, "watch", None)
        if watch is not None:
            watch.connected(self)


class _WatchedHTTPSConnection(_WatchedHTTPConnection, HTTPSConnection):
    """The same over TLS (the methods above run before HTTPSConnection's, in its MRO)."""


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _WatchedAdapter(HTTPAdapter):
    """requests' adapter with connections that report to the watch of their request. It does
    not retry by itself: :class:`HTTPTransport` retries within the request's deadline."""

    def __init__(self) -> None:
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _WatchedHTTPPool,
            "https": _WatchedHTTPSPool,
        }


def default_session() -> requests.Session:
    """A session whose connections a deadline or a cancel can cut off."""
    session = requests.Session()
    adapter = _WatchedAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class Expired(Exception):
    """The deadline passed before a request went out (turned into a DeadlineError)."""
