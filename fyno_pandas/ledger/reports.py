"""The ledger's history as frames: the pushes recorded and the properties of a scope."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import pandas as pd

__all__ = ["properties", "push_record", "pushes"]

_PUSHES = (
    "SELECT p.push_id, s.endpoint, s.wsid, s.version, p.started_at, p.ended_at,"
    " (SELECT COALESCE(SUM(g.acks), 0) FROM ack_groups g WHERE g.push_id = p.push_id),"
    " p.counts, p.options"
    " FROM pushes p JOIN scopes s USING (scope_id)"
    " WHERE (?1 IS NULL OR s.wsid = ?1) AND (?2 IS NULL OR s.version = ?2)"
    " ORDER BY p.push_id"
)
_PROPERTIES = (
    "SELECT name, fyno_type, fixed_at, push_id FROM properties WHERE scope_id = ? ORDER BY prop_id"
)


def pushes(conn: sqlite3.Connection, wsid: str | None, version: str | None) -> pd.DataFrame:
    """`Ledger.pushes`, read in the caller's transaction."""
    rows = conn.execute(_PUSHES, (wsid, version)).fetchall()
    cols = ["push_id", "endpoint", "wsid", "version", "started_at", "ended_at", "acks"]
    frame = pd.DataFrame([r[:7] for r in rows], columns=cols)
    for col in ("started_at", "ended_at"):
        frame[col] = pd.to_datetime(frame[col].astype("float64"), unit="s", utc=True)
    frame["acks"] = frame["acks"].astype("int64")
    frame["counts"] = [json.loads(r[7]) if r[7] else {} for r in rows]
    frame["options"] = [json.loads(r[8]) for r in rows]
    return frame.set_index("push_id")


def push_record(conn: sqlite3.Connection, scope: Any, push_id: int) -> dict[str, Any] | None:
    """`Ledger.push_record`, read in the caller's transaction."""
    sql = (
        "SELECT p.options, p.fingerprint FROM pushes p JOIN scopes s USING (scope_id)"
        " WHERE p.push_id = ? AND s.endpoint = ? AND s.wsid = ? AND s.version = ?"
    )
    row = conn.execute(sql, (push_id, scope.endpoint, scope.wsid, scope.version)).fetchone()
    return None if row is None else {**json.loads(row[0]), "fingerprint": row[1]}


def properties(conn: sqlite3.Connection, scope: int | None) -> pd.DataFrame:
    """`Ledger.properties` of a scope (None: one the ledger does not know), read in the
    caller's transaction."""
    rows = conn.execute(_PROPERTIES, (scope,)).fetchall()
    frame = pd.DataFrame(rows, columns=["property", "fyno_type", "fixed_at", "push_id"])
    frame["fixed_at"] = pd.to_datetime(frame["fixed_at"].astype("float64"), unit="s", utc=True)
    frame["push_id"] = frame["push_id"].astype("Int64")
    return frame
