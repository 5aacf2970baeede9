"""What the explorer, completion, explain, teaching, alerts and dashboards need of a client.

They take any object with these members, typed against :class:`QueryClient` rather than
:class:`~sysmon_magic.client.Client`: a test can hand them a client of its own, and they do not
import the HTTP layer to be typed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import pandas as pd

    from .frames import FrameFormat

__all__ = ["QueryClient", "TimeLike"]

TimeLike = str | float | int | datetime


class QueryClient(Protocol):
    """The read-only part of :class:`~sysmon_magic.client.Client` that its users rely on."""

    name: str
    max_points: int
    scrape_interval: float | None

    def now(self) -> float: ...

    def query(
        self,
        promql: str,
        time: TimeLike | None = None,
        *,
        timeout: float | None = None,
        fmt: FrameFormat = "tidy",
    ) -> pd.DataFrame: ...

    def query_range(
        self,
        promql: str,
        start: TimeLike,
        end: TimeLike | None = None,
        step: float | str | None = None,
        *,
        timeout: float | None = None,
        fmt: FrameFormat = "tidy",
        progress: Callable[[int, int], None] | None = None,
    ) -> pd.DataFrame: ...

    def series(
        self,
        match: str | Iterable[str],
        start: TimeLike | None = None,
        end: TimeLike | None = None,
    ) -> pd.DataFrame: ...

    def labels(
        self,
        match: str | Iterable[str] | None = None,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
    ) -> list[str]: ...

    def label_values(
        self,
        name: str,
        match: str | Iterable[str] | None = None,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
    ) -> list[str]: ...

    def metadata(self, metric: str | None = None) -> pd.DataFrame: ...

    def measure_scrape_interval(self) -> float | None: ...
