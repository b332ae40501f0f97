"""Adds and appends in the ledger: each row's non-idempotent requests in flight, acknowledged
or failed, per push, and the pushes that share a fingerprint (`pipeline.resume` reads them).

A row's request key is `planning.steps.add_keys`' text; ``add_requests`` holds one row per
(push, key): ``in_flight`` before its first add or append is sent, ``acked`` once Fyno accepted
them all, ``failed`` when none can have been stored. Left ``in_flight``, it is in doubt.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence

__all__ = ["ACKED", "FAILED", "IN_FLIGHT", "AddItem", "history", "overlaps", "write"]

IN_FLIGHT, ACKED, FAILED = "in_flight", "acked", "failed"
#: (request key, state, request id, applied: a row in doubt's ``applied`` text, else None)
AddItem = tuple[str, str, "str | None", "str | None"]

_KEYS_TABLE = (
    "CREATE TEMP TABLE IF NOT EXISTS fyno_add_keys (request_key TEXT PRIMARY KEY) WITHOUT ROWID"
)
_UPSERT = (
    "INSERT INTO add_requests (push_id, request_key, state, request_id, at, applied)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (push_id, request_key) DO UPDATE SET"
    " state = excluded.state, request_id = excluded.request_id, at = excluded.at,"
    " applied = excluded.applied"
)


def write(conn: sqlite3.Connection, push_id: int, items: Sequence[AddItem]) -> list[list[str]]:
    """Record ``items`` for ``push_id`` in the caller's transaction (nothing is refused)."""
    now = time.time()
    rows = [(push_id, key, state, rid, now, applied) for key, state, rid, applied in items]
    conn.executemany(_UPSERT, rows)
    return [[] for _ in items]


def history(
    conn: sqlite3.Connection, scope_id: int | None, fingerprint: str
) -> tuple[list[tuple[int, float]], list[tuple[int, str, str, str | None, float]]]:
    """The pushes of a scope with ``fingerprint`` (push_id, started_at), oldest first, and their
    request rows (push_id, key, state, request_id, at, applied)."""
    sql = (
        "SELECT push_id, started_at FROM pushes WHERE scope_id = ? AND fingerprint = ?"
        " ORDER BY push_id"
    )
    pushes = conn.execute(sql, (scope_id, fingerprint)).fetchall()
    sql = (
        "SELECT a.push_id, a.request_key, a.state, a.request_id, a.at, a.applied"
        " FROM add_requests a"
        " JOIN pushes p USING (push_id) WHERE p.scope_id = ? AND p.fingerprint = ?"
    )
    return pushes, conn.execute(sql, (scope_id, fingerprint)).fetchall()


def overlaps(
    conn: sqlite3.Connection,
    scope_id: int | None,
    keys: set[str],
    since: float,
    exclude: Sequence[int] = (),
) -> list[tuple[int, float, float | None, int]]:
    """(push_id, started_at, ended_at, keys shared) of the pushes of a scope, but ``exclude``,
    that did not end or started at ``since`` or later and recorded any of ``keys`` not failed
    (a failed add cannot have been stored, so making it again is no repeat), most shared
    first. Each key is looked up in each such push (the table's primary key), so the cost
    follows ``keys``, not how many adds those pushes recorded."""
    conn.execute(_KEYS_TABLE)
    conn.execute("DELETE FROM temp.fyno_add_keys")
    conn.executemany("INSERT OR IGNORE INTO temp.fyno_add_keys VALUES (?)", ((k,) for k in keys))
    sql = (
        "SELECT p.push_id, p.started_at, p.ended_at, COUNT(*) FROM pushes p"
        " CROSS JOIN temp.fyno_add_keys k CROSS JOIN add_requests a"
        " ON a.push_id = p.push_id AND a.request_key = k.request_key"
        " WHERE p.scope_id = ? AND (p.ended_at IS NULL OR p.started_at >= ?)"
        f" AND a.state <> '{FAILED}'"
        f" AND p.push_id NOT IN ({','.join('?' * len(exclude))})"
        " GROUP BY p.push_id ORDER BY 4 DESC"
    )
    return conn.execute(sql, (scope_id, since, *exclude)).fetchall()
