"""``python -m fyno_pandas.emulator``: run the emulator in the foreground.

Prints ``export FYNO_ENDPOINT=...``, ``export FYNO_WSID=...`` and ``export FYNO_API_KEY=...``,
one per line (paste them into another shell), and a comment saying how to stop it, then serves
until SIGINT (Ctrl-C) or SIGTERM.
"""

from __future__ import annotations

import argparse
import gc
import signal
import sys
import threading
from collections.abc import Sequence

from . import DEFAULT_API_KEY, DEFAULT_WSID, FynoEmulator


def _workspace(text: str) -> tuple[str, str]:
    wsid, sep, key = text.partition("=")
    if not sep or not wsid or not key:
        raise argparse.ArgumentTypeError(f"expected WSID=KEY, got {text!r}")
    return wsid, key


def _statuses(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected codes like 500,502,503, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    """The command line; every fault setting of ``FynoEmulator.configure`` has a flag."""
    p = argparse.ArgumentParser(
        prog="python -m fyno_pandas.emulator",
        description="A local stand-in for Fyno's user-property API (loopback, no account).",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765, help="0 picks a free port (default 8765)")
    p.add_argument("--seed", type=int, default=None, help="deterministic request ids and faults")
    p.add_argument(
        "--workspace",
        type=_workspace,
        action="append",
        metavar="WSID=KEY",
        help=f"repeatable; default {DEFAULT_WSID}={DEFAULT_API_KEY}",
    )
    p.add_argument("--no-log-bodies", action="store_true", help="keep bodies out of the log")
    p.add_argument("--latency", type=float, default=0.0, help="seconds added to every request")
    p.add_argument("--jitter", type=float, default=0.0, help="up to this many seconds more")
    p.add_argument("--rate-limit", type=float, default=None, help="requests/s, then 429")
    p.add_argument("--rate-burst", type=float, default=None, help="token bucket size")
    p.add_argument("--error-rate", type=float, default=0.0, help="fraction answered 5xx")
    p.add_argument("--error-statuses", type=_statuses, default=(500, 502, 503))
    p.add_argument("--throttle-rate", type=float, default=0.0, help="fraction answered 429")
    p.add_argument("--drop-before-rate", type=float, default=0.0, help="dropped, not applied")
    p.add_argument("--drop-after-rate", type=float, default=0.0, help="applied, then dropped")
    p.add_argument("--error-after-rate", type=float, default=0.0, help="applied, then answered 5xx")
    p.add_argument("--max-body-bytes", type=int, default=1_000_000, help="larger bodies: 413")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run until SIGINT/SIGTERM; returns the exit status."""
    args = build_parser().parse_args(argv)
    # Each batch request parses into thousands of short-lived objects; at CPython's default
    # threshold (700) the collector runs so often that it costs the server about 15% of its
    # requests/s. Only this process is tuned: an emulator embedded in tests leaves GC alone.
    gc.set_threshold(100_000, 50, 100)
    faults = {
        name: getattr(args, name)
        for name in (
            "latency",
            "jitter",
            "rate_limit",
            "rate_burst",
            "error_rate",
            "error_statuses",
            "throttle_rate",
            "drop_before_rate",
            "drop_after_rate",
            "error_after_rate",
            "max_body_bytes",
        )
    }
    try:
        fyno = FynoEmulator(
            workspaces=dict(args.workspace) if args.workspace else None,
            seed=args.seed,
            host=args.host,
            port=args.port,
            log_bodies=not args.no_log_bodies,
            **faults,
        ).start()
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    print(f"export FYNO_ENDPOINT={fyno.endpoint}")
    print(f"export FYNO_WSID={fyno.wsid}")
    print(f"export FYNO_API_KEY={fyno.api_key}")
    print("# the emulator runs until Ctrl-C (or SIGTERM); its state is lost then", flush=True)
    try:
        stop.wait()  # the signal handlers set it
    finally:
        fyno.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
