"""Learnt request rates: per scope, the rate Fyno was found to accept (``rate_limits``).

A push that learnt the rate from 429 answers remembers it, so the next push to the same
destination starts at it instead of learning it again; the last push to remember wins. A rate
learnt more than ``MAX_AGE`` (7 days) ago is not used: Fyno's limits are not documented and may
change, and a push starting from a stale rate spends its first seconds climbing back.
"""

from __future__ import annotations

import math
import sqlite3
import time

from ..errors import FynoInputError

__all__ = ["MAX_AGE", "check_rate", "forget", "learnt", "remember"]

MAX_AGE = 7 * 86400  # seconds a learnt rate is used for

_UPSERT = (
    "INSERT INTO rate_limits (scope_id, rps, learnt_at) VALUES (?, ?, ?)"
    " ON CONFLICT (scope_id) DO UPDATE SET rps = excluded.rps, learnt_at = excluded.learnt_at"
)


def check_rate(rps: float) -> float:
    """``rps`` as a float; raise `FynoInputError` (a `ValueError`) unless it is a positive
    finite number."""
    try:
        value = float(rps)
    except (TypeError, ValueError):
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise FynoInputError(
            f"a learnt rate is a positive number of requests per second, not {rps!r}",
            rule="invalid_option",
        )
    return value


def learnt(conn: sqlite3.Connection, scope: int | None) -> float | None:
    """The rate remembered for ``scope`` in the last ``MAX_AGE`` seconds (None: none, or a
    scope the ledger does not know)."""
    row = conn.execute(
        "SELECT rps FROM rate_limits WHERE scope_id = ? AND learnt_at > ?",
        (scope, time.time() - MAX_AGE),
    ).fetchone()
    return None if row is None else float(row[0])


def remember(conn: sqlite3.Connection, scope: int, rps: float) -> None:
    """Remember ``rps`` for ``scope`` in the caller's transaction, replacing an older rate."""
    conn.execute(_UPSERT, (scope, rps, time.time()))


def forget(conn: sqlite3.Connection, scope: int) -> None:
    """Forget the rate of ``scope`` in the caller's transaction."""
    conn.execute("DELETE FROM rate_limits WHERE scope_id = ?", (scope,))
