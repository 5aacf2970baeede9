"""``state.json``: which Prometheus is a cache directory's shared server (pid, port, URL, TSDB,
log), written atomically under the lock and checked field by field when read, so that a file cut
short or edited by hand is never trusted (a pid of 0 or -1 would make kill() signal a group)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from .prometheus import PrometheusProcess, remove, report

__all__ = ["discard_damaged_state", "read_state", "write_state"]


def write_state(demo_dir: Path, started: PrometheusProcess) -> None:
    """Record ``started`` as the shared server of ``demo_dir`` (under the lock), atomically."""
    state = {
        "pid": started.pid,
        "port": started.port,
        "url": started.url,
        "tsdb": str(started.run_dir / "tsdb"),
        "log_file": str(started.log_file),
        "started_at": time.time(),
    }
    tmp = demo_dir / f"state.json.{os.getpid()}"
    tmp.write_text(json.dumps(state, indent=2) + "\n")
    os.replace(tmp, demo_dir / "state.json")


# What write_state writes and readers rely on, by type.
_STATE_FIELDS = {"pid": int, "port": int, "url": str, "tsdb": str, "log_file": str}


def _load(path: Path) -> dict[str, Any]:
    """The state in ``path``; ValueError says what is wrong with it (OSError if unreadable)."""
    state = json.loads(path.read_text())
    if not isinstance(state, dict):
        raise ValueError("not a JSON object")
    for key, kind in _STATE_FIELDS.items():
        value = state.get(key)
        if kind is int:  # bool is an int to isinstance(); a pid of 0 or -1 signals a group, or all
            valid = isinstance(value, int) and not isinstance(value, bool) and value > 0
        else:
            valid = isinstance(value, str) and value != ""
        if not valid:
            raise ValueError(f"no valid {key!r}")
    return state


def read_state(demo_dir: Path) -> dict[str, Any] | None:
    """The shared server's state, or None if there is none or it is damaged."""
    try:
        return _load(demo_dir / "state.json")
    except (OSError, ValueError):
        return None


def discard_damaged_state(demo_dir: Path) -> None:
    """Delete a ``state.json`` that is not one we wrote (cut short, edited), saying so."""
    path = demo_dir / "state.json"
    try:
        _load(path)
    except FileNotFoundError:
        return
    except (OSError, ValueError) as exc:
        remove(path)
        report(f"ignored a damaged {path} ({exc}); the new server rewrites it.")
