"""A long range query's windows: fetched in parallel, each checked, and merged into one frame.

:meth:`~sysmon_magic.client.Client.query_range` plans the windows
(:func:`~sysmon_magic.timeparse.split_range`) and asks for each through its funnel; what is done
with the windows' answers lives here, apart from the endpoints: a window that fails names
itself and cuts off the others, samples a server sends outside the window asked for are
dropped (with a warning), and the windows' arrays are joined by one merge
(:func:`~sysmon_magic.frames.concat_runs`) so that the frame is built once, the same live,
recorded or replayed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import NamedTuple

import pandas as pd

from . import frames
from .buffers import POOL
from .envelope import Answer
from .errors import ResponseFormatError, SysmonError
from .timeparse import format_time
from .watchdog import Cancel

__all__ = ["Window", "fetch_windows", "merge_windows", "read_window"]


class Window(NamedTuple):
    """One window of a range query, read: its series (None: not a matrix), how many samples
    outside it were dropped, and its answer (warnings, infos, time)."""

    runs: frames.Runs | None
    dropped: int
    answer: Answer


def read_window(answer: Answer, runs: frames.Runs | None, window: tuple[float, float]) -> Window:
    """A window's answer, read: ``runs`` as the funnel found them in the bytes, else from the
    parsed data (a replay), then only the samples within ``window``."""
    if runs is None:  # replayed, or not a matrix (a server's error)
        runs = frames.runs_from_data(answer.data) if isinstance(answer.data, dict) else None
    if runs is None:
        return Window(None, 0, answer)
    return Window(*frames.runs_within(runs, *window), answer)


def fetch_windows(
    windows: Sequence[tuple[float, float]],
    fetch: Callable[[tuple[float, float], Cancel], Window],
    progress: Callable[[int, int], None] | None,
    max_parallel: int,
) -> list[Window]:
    """Fetch windows, ``max_parallel`` at a time: all of them, in order, or an error naming the
    one that failed. On a failure or Ctrl-C, the windows in flight are cut off, not waited for."""
    cancel = Cancel()
    results: list[Window | None] = [None] * len(windows)
    pool = ThreadPoolExecutor(max_workers=max(1, max_parallel))
    futures = {pool.submit(fetch, window, cancel): n for n, window in enumerate(windows)}
    pending = set(futures)
    done = 0
    try:
        while pending:
            # Woken every 0.1 s: a Ctrl-C is handled between waits, never after the windows.
            finished, pending = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
            for future in sorted(finished, key=futures.__getitem__):
                n = futures[future]
                try:
                    results[n] = future.result()
                except SysmonError as exc:
                    start, end = windows[n]
                    exc.args = (
                        f"Window {n + 1} of {len(windows)} ({format_time(start)} to "
                        f"{format_time(end)}) failed, so nothing is returned: {exc}",
                    )
                    raise
                done += 1
                if progress is not None:
                    progress(done, len(windows))
    except BaseException:
        cancel.cancel()  # every socket in flight is shut: their threads end at once
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return [r for r in results if r is not None]


def merge_windows(parts: list[Window], fmt: frames.FrameFormat) -> tuple[pd.DataFrame, Answer]:
    """The frame of all the windows, and one answer for them: their warnings and infos (each
    once), the slowest window's time, and a warning if samples were dropped.

    Empties ``parts``: once merged, the windows' arrays die, and the pooled buffers they were
    read into go back to :data:`~sysmon_magic.buffers.POOL` for the next windows."""
    found = [part.runs for part in parts if part.runs is not None]
    if len(found) == len(parts):
        # One merge, of the windows' arrays; the frame is built once, from all of them.
        frame = frames.frame_from_runs(
            found[0] if len(found) == 1 else frames.concat_runs(found), fmt
        )
    elif len(parts) == 1:  # a scalar or string, as a server may answer in error
        frame = frames.frame_from_data(parts[0].answer.data, fmt)
    else:
        raise ResponseFormatError(
            "The server answered a window of this range query with something other than "
            "a matrix: query the windows one by one to see which."
        )
    warnings = [w for part in parts for w in part.answer.warnings]
    dropped = sum(part.dropped for part in parts)
    if dropped:
        warnings.append(
            f"{dropped:,} sample{'s' if dropped != 1 else ''} outside the "
            f"window{'s' if len(parts) > 1 else ''} asked for were dropped: the server "
            "answered more than it was asked."
        )
    answer = Answer(
        data={"resultType": parts[0].answer.result_type},
        warnings=list(dict.fromkeys(warnings)),
        infos=list(dict.fromkeys(i for part in parts for i in part.answer.infos)),
        elapsed=max(part.answer.elapsed for part in parts),
    )
    spent = [buffer for runs in found for buffer in runs.buffers]
    del found
    parts.clear()
    POOL.give(*spent)  # those no array views any more (the pool checks)
    return frame, answer
