"""The ``sysmon-magic`` command: run the local demo Prometheus outside a notebook.

::

    sysmon-magic demo              # start (or reuse) it, stay in the foreground until Ctrl-C
    sysmon-magic demo --detach     # start it and exit, leaving it running (binder, scripts)
    sysmon-magic demo --stop       # stop the running one
    sysmon-magic demo --reset      # stop it and delete the cached data: the next start rebuilds
"""

from __future__ import annotations

import argparse
import datetime as dt
import signal
import sys
import time
from collections.abc import Sequence
from types import FrameType
from typing import TYPE_CHECKING

from .errors import DemoError

if TYPE_CHECKING:
    from .demo import DemoServer

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command != "demo":
        parser.print_help()
        return 2
    try:
        return _demo(args)
    except DemoError as exc:
        print(f"sysmon-magic: {exc}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sysmon-magic",
        description="Tools around sysmon_magic, the IPython magics for Prometheus-compatible APIs.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="run the local demo Prometheus with a week of sample data",
        description=(
            "Start the local demo Prometheus (or reuse the running one) and print its URL. "
            "The first start generates and backfills the data (about 20 s); later ones take "
            "seconds."
        ),
    )
    mode = demo.add_mutually_exclusive_group()
    mode.add_argument(
        "--foreground",
        action="store_true",
        help="stay until Ctrl-C or SIGTERM, then stop the server unless others use it (default)",
    )
    mode.add_argument(
        "--detach",
        action="store_true",
        help="start (or reuse) the server and exit, leaving it running until --stop",
    )
    mode.add_argument("--stop", action="store_true", help="stop the running demo server now")
    mode.add_argument(
        "--reset",
        action="store_true",
        help="stop the server and delete the cached data and state; the next start rebuilds them",
    )
    demo.add_argument("--port", type=int, help="listen on this loopback port (default: a free one)")
    demo.add_argument(
        "--cache-dir", help="where data and state live (default: ~/.cache/sysmon-magic)"
    )
    return parser


def _demo(args: argparse.Namespace) -> int:
    from . import demo

    if args.stop:
        if demo.stop(cache_dir=args.cache_dir):
            print("Stopped the demo server.")
        else:
            print("No demo server was running.")
        return 0
    if args.reset:
        if demo.reset(cache_dir=args.cache_dir):
            print("Stopped the demo server.")
        print("Deleted the cached demo data and state: the next start rebuilds them (about 20 s).")
        return 0

    server = demo.start(cache_dir=args.cache_dir, port=args.port, detach=args.detach)
    if args.port is not None and server.port != args.port:
        print(f"A demo server is already running on port {server.port}; reusing it.")
    start, end = (_utc(t) for t in (demo.DEMO_START, demo.DEMO_END))
    print(f"Demo Prometheus: {server.url}  (pid {server.pid}, log {server.log_file})")
    print(f"Data: {start} to {end}, one sample a minute; use time={int(server.now)} for 'now'.")
    print(f"In a notebook: %sysmon_connect --url {server.url}   (or: %sysmon_connect demo)")
    if args.detach:
        print("Left running; stop it with: sysmon-magic demo --stop")
        return 0

    print("Press Ctrl-C to stop it (it stays up while other processes use it).")
    if not _wait_for_signal(server):
        print(f"sysmon-magic: the demo server exited; see {server.log_file}", file=sys.stderr)
        return 1
    server.stop()
    print("Left it running for other users." if server.is_alive() else "Stopped the demo server.")
    return 0


def _wait_for_signal(server: DemoServer) -> bool:
    """Sleep until SIGINT/SIGTERM (True) or until the server process goes away (False)."""
    signalled = False

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal signalled
        signalled = True

    # A SIGINT ignored from the start stays ignored: a shell's background job (`sysmon-magic demo
    # &` in scripts/demo.sh) must outlive a Ctrl-C meant for the foreground job, as POSIX has it.
    signals = [signal.SIGTERM]
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signals.append(signal.SIGINT)
    previous = {sig: signal.signal(sig, handler) for sig in signals}
    try:
        while not signalled and server.is_alive():
            time.sleep(0.2)
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
    return signalled


def _utc(t: int) -> str:
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


if __name__ == "__main__":
    sys.exit(main())
