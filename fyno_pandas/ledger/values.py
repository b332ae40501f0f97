"""Acknowledged values: per-user state rows and the acks journal, written and read in bulk.

A user's acknowledged values are one row of ``acked_values``; its ``state`` blob packs one
20-byte record per property: property id (uint32), value hash (uint64), ack id (uint64), little
endian. ``acks`` gives each ack (one acknowledged request, or one item of a batch request) its
request id; ``ack_groups`` gives each write transaction's consecutive acks their push and time.
Python's sqlite3 builds a tuple per fetched row, so one row per user instead of one per value
makes reading 1,000,000 users x 7 properties several times faster.
"""

from __future__ import annotations

import sqlite3
import struct
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

Ack = tuple[str, Mapping[str, int], Mapping[str, str], "str | None"]

_U64 = (1 << 64) - 1
_REC = struct.Struct("<IQQ")  # property id, value hash, ack id
_REC_DTYPE = np.dtype([("prop", "<u4"), ("hash", "<u8"), ("ack", "<u8")])
_CHUNK = 500  # keys per IN (...) query, well under SQLite's parameter limit
# When the ids asked for span fewer than 8 times as many users of the scope, one scan of that
# range beats looking each up by key.
_LOOKUP_FRACTION = 8
# An ack id range up to this many times the users read is fetched by one scan, else by key.
_RANGE_FACTOR = 4

# First writer wins: a later ack only fills a type still unknown (a property only ever unset).
_UPSERT_PROPERTY = (
    "INSERT INTO properties (scope_id, name, fyno_type, fixed_at, push_id) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (scope_id, name) DO UPDATE SET fyno_type = excluded.fyno_type,"
    " fixed_at = excluded.fixed_at, push_id = excluded.push_id"
    " WHERE properties.fyno_type IS NULL AND excluded.fyno_type IS NOT NULL"
)
_SELECT_STATES = "SELECT distinct_id, state FROM acked_values WHERE scope_id = ?"
_UPSERT_STATE = (
    "INSERT INTO acked_values (scope_id, distinct_id, state) VALUES (?, ?, ?)"
    " ON CONFLICT (scope_id, distinct_id) DO UPDATE SET state = excluded.state"
)
_SCAN = (
    "SELECT group_concat(distinct_id, char(31)), CAST(group_concat(state, '') AS BLOB),"
    " group_concat(length(state)), count(*) FROM acked_values WHERE scope_id = ?"
)
_IN_RANGE = " AND distinct_id BETWEEN ? AND ?"
_COUNT_RANGE = (
    "SELECT count(*) FROM (SELECT 1 FROM acked_values WHERE scope_id = ?" + _IN_RANGE + " LIMIT ?)"
)
_REQUEST_IDS = (
    "SELECT group_concat(r, char(31)), count(*) FROM (SELECT IFNULL(request_id, '') AS r"
    " FROM acks WHERE ack_id BETWEEN ? AND ? ORDER BY ack_id)"
)
_GROUP_TIMES = (
    "SELECT first_ack, acked_at FROM ack_groups WHERE first_ack BETWEEN"
    " (SELECT MAX(first_ack) FROM ack_groups WHERE first_ack <= ?) AND ? ORDER BY first_ack"
)


def select_in(
    conn: sqlite3.Connection, sql: str, head: tuple[Any, ...], keys: Sequence[Any]
) -> Iterator[tuple[Any, ...]]:
    """Run ``sql`` (one ``{}`` stands for the IN list) over ``keys`` in chunks."""
    for start in range(0, len(keys), _CHUNK):
        part = keys[start : start + _CHUNK]
        yield from conn.execute(sql.format(",".join("?" * len(part))), (*head, *part))


def stored(fixed: str | None, sent: str | None) -> bool:
    """Whether Fyno keeps a value of type ``sent`` on a property fixed as ``fixed``."""
    # An ISO date travels as a JSON string, so a String property stores it as a string.
    return fixed is None or sent is None or sent == fixed or (fixed, sent) == ("string", "date")


def _fix_types(
    conn: sqlite3.Connection,
    push_id: int,
    scope: int,
    first: Mapping[str, str | None],
    now: float,
) -> dict[str, tuple[int, str | None]]:
    """Record each property's first acknowledged type (unless fixed before); return
    ``{name: (prop_id, fixed type)}`` of these properties."""
    conn.executemany(
        _UPSERT_PROPERTY,
        [(scope, n, t, now if t else None, push_id if t else None) for n, t in first.items()],
    )
    sql = "SELECT name, prop_id, fyno_type FROM properties WHERE scope_id = ? AND name IN ({})"
    return {n: (pid, typ) for n, pid, typ in select_in(conn, sql, (scope,), list(first))}


def write_acks(
    conn: sqlite3.Connection,
    push_id: int,
    scope: int,
    acks: Sequence[Ack],
    known: Mapping[str, tuple[int, str]],
) -> tuple[list[list[str]], dict[str, tuple[int, str | None]]]:
    """Write ``acks`` in the caller's ``BEGIN IMMEDIATE`` transaction.

    ``known`` holds ``{name: (prop_id, fyno_type)}`` of properties whose type was fixed before
    (a fixed type never changes, so these need no lookup). Returns, per ack, the properties
    not recorded because their type differs from the fixed one, and the properties looked up.
    """
    now = time.time()
    first: dict[str, str | None] = {}
    for _, hashes, types, _ in acks:
        for name in hashes:
            if name not in known and first.get(name) is None:
                first[name] = types.get(name)
    looked_up = _fix_types(conn, push_id, scope, first, now)
    fixed = {**known, **looked_up}
    # The write lock is held, so no other process can take these ids; they stay consecutive.
    base = conn.execute("SELECT COALESCE(MAX(ack_id), 0) FROM acks").fetchone()[0] + 1
    conn.execute(
        "INSERT INTO ack_groups (first_ack, push_id, acks, acked_at) VALUES (?, ?, ?, ?)",
        (base, push_id, len(acks), now),
    )
    conn.executemany(
        "INSERT INTO acks (ack_id, request_id) VALUES (?, ?)",
        [(base + i, ack[3]) for i, ack in enumerate(acks)],
    )
    users = list(dict.fromkeys(ack[0] for ack in acks))
    states: dict[str, dict[int, tuple[int, int]]] = {
        d: {p: (h, a) for p, h, a in _REC.iter_unpack(s)}
        for d, s in select_in(conn, _SELECT_STATES + " AND distinct_id IN ({})", (scope,), users)
    }
    rejected = []
    for i, (did, hashes, types, _) in enumerate(acks):
        state = states.setdefault(did, {})
        bad = []
        for name, value_hash in hashes.items():
            prop_id, fixed_type = fixed[name]
            if stored(fixed_type, types.get(name)):
                state[prop_id] = (int(value_hash) & _U64, base + i)
            else:
                bad.append(name)
        rejected.append(bad)
    rows = [
        (scope, d, b"".join(_REC.pack(p, h, a) for p, (h, a) in states[d].items()))
        for d in users
        if states[d]
    ]
    conn.executemany(_UPSERT_STATE, rows)
    return rejected, looked_up


#: One property of a batch, as `write_batch` takes it: name, value hashes, rows setting it,
#: rows unsetting it, and the Fyno type of the values set (None when unknown).
Column = tuple[str, np.ndarray, np.ndarray, np.ndarray, "str | None"]


def write_batch(
    conn: sqlite3.Connection,
    push_id: int,
    scope: int,
    ids: Sequence[str],
    columns: Sequence[Column],
    request_id: str | None,
    known: Mapping[str, tuple[int, str]],
) -> tuple[np.ndarray, dict[str, tuple[int, str | None]]]:
    """Write one acknowledged batch request (one ack for all its users) in the caller's
    ``BEGIN IMMEDIATE`` transaction; `write_acks` for arrays.

    Returns a (rows, properties) bool array of the values not recorded because their type
    differs from the fixed one, and the properties looked up.
    """
    now = time.time()
    n = len(ids)
    first = {
        name: (sent if is_set.any() else None)
        for name, _, is_set, is_unset, sent in columns
        if name not in known and (is_set.any() or is_unset.any())
    }
    looked_up = _fix_types(conn, push_id, scope, first, now)
    fixed = {**known, **looked_up}
    ack = conn.execute("SELECT COALESCE(MAX(ack_id), 0) FROM acks").fetchone()[0] + 1
    conn.execute(
        "INSERT INTO ack_groups (first_ack, push_id, acks, acked_at) VALUES (?, ?, 1, ?)",
        (ack, push_id, now),
    )
    conn.execute("INSERT INTO acks (ack_id, request_id) VALUES (?, ?)", (ack, request_id))
    rec = np.zeros((n, len(columns)), dtype=_REC_DTYPE)
    keep = np.zeros((n, len(columns)), dtype=bool)
    rejected = np.zeros((n, len(columns)), dtype=bool)
    for k, (name, hashes, is_set, is_unset, sent) in enumerate(columns):
        if name not in fixed:  # neither set nor unset in this batch
            continue
        prop_id, fixed_type = fixed[name]
        ok = is_set if stored(fixed_type, sent) else np.zeros(n, dtype=bool)
        rejected[:, k] = is_set & ~ok
        keep[:, k] = ok | is_unset
        rec["prop"][:, k] = prop_id
        rec["hash"][:, k] = np.where(ok, hashes, 0)  # 0: the ledger's mark of an unset
    rec["ack"] = ack
    sizes = keep.sum(axis=1) * _REC.size
    ends = np.cumsum(sizes).tolist()
    packed = rec[keep].tobytes()  # row by row: each user's records are contiguous
    blobs = {d: packed[e - z : e] for d, e, z in zip(ids, ends, sizes.tolist(), strict=True) if z}
    for d, old in select_in(conn, _SELECT_STATES + " AND distinct_id IN ({})", (scope,), ids):
        if d in blobs:  # a user seen before: the new records replace the same properties
            state = {p: (h, a) for p, h, a in _REC.iter_unpack(old)}
            state.update((p, (h, a)) for p, h, a in _REC.iter_unpack(blobs[d]))
            blobs[d] = b"".join(_REC.pack(p, h, a) for p, (h, a) in state.items())
    conn.executemany(_UPSERT_STATE, [(scope, d, b) for d, b in blobs.items()])
    return rejected, looked_up


def read_acked(
    conn: sqlite3.Connection, scope: int | None, wanted: np.ndarray | None, exact: bool = True
) -> pd.DataFrame:
    """The acknowledged values of ``wanted`` users (None: all) of a scope, in one read snapshot.

    ``exact=False`` lets a whole-scope read keep the other users too (the caller joins anyway).
    """
    bounds: tuple[str, str] | None = None
    if wanted is not None:
        if not len(wanted):
            bounds = ("", "")
        else:
            # The users between the smallest and the largest id wanted are read by one range
            # scan when they are few (new users with ordered ids: none; a chunk pushed again:
            # about as many as wanted), else the wanted ones by key.
            bounds = (min(wanted), max(wanted))
            cap = len(wanted) * _LOOKUP_FRACTION
            in_range = conn.execute(_COUNT_RANGE, (scope, *bounds, cap)).fetchone()[0]
            if in_range >= cap:
                bounds = None
    if wanted is not None and bounds is None:
        sql = _SELECT_STATES + " AND distinct_id IN ({})"
        ids, rec, per_user = _unpack(list(select_in(conn, sql, (scope,), list(set(wanted)))))
    else:
        ids, rec, per_user = _scan(conn, scope, bounds)
        if wanted is not None and exact:
            keep = set(wanted)
            kept = np.fromiter((d in keep for d in ids), dtype=bool, count=len(ids))
            if not kept.all():
                ids = [d for d, k in zip(ids, kept, strict=True) if k]
                rec, per_user = rec[np.repeat(kept, per_user)], per_user[kept]
    props = conn.execute(
        "SELECT prop_id, name FROM properties WHERE scope_id = ? ORDER BY prop_id", (scope,)
    ).fetchall()
    users = pd.Index(ids, dtype=object)
    pos, request_ids, acked_ns = _fetch_acks(conn, rec["ack"], len(users))
    prop_code = np.zeros(max((p[0] for p in props), default=0) + 1, dtype=np.int64)
    prop_code[[p[0] for p in props]] = np.arange(len(props))
    return pd.DataFrame(
        {
            "distinct_id": pd.Categorical.from_codes(
                np.repeat(np.arange(len(users)), per_user), categories=users
            ),
            "property": pd.Categorical.from_codes(
                prop_code[rec["prop"]], categories=pd.Index([p[1] for p in props], dtype=object)
            ),
            "value_hash": rec["hash"].copy(),
            # object, not str: pandas 3 would convert 7,000,000 strings one by one.
            "request_id": pd.Series(request_ids[pos], dtype=object),
            "acked_at": pd.DatetimeIndex(acked_ns[pos].view("M8[ns]")).tz_localize("UTC"),
        }
    )


def _scan(
    conn: sqlite3.Connection, scope: int | None, bounds: tuple[str, str] | None = None
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The users of a scope (between ``bounds``, if given): ids, value records, records per user."""
    # Three aggregates over the same rows (so in the same order) cross into Python as three
    # objects instead of a tuple per user.
    where, args = (_IN_RANGE, (scope, *bounds)) if bounds else ("", (scope,))
    ids, blob, sizes, n = conn.execute(_SCAN + where, args).fetchone()
    if not n:
        return [], np.empty(0, dtype=_REC_DTYPE), np.empty(0, dtype=np.int64)
    users = ids.split("\x1f")
    if len(users) != n:  # a distinct id holds the separator: fall back to a tuple per user
        return _unpack(conn.execute(_SELECT_STATES + where, args).fetchall())
    per_user = np.array(sizes.split(","), dtype=np.int64) // _REC.size
    return users, np.frombuffer(blob, dtype=_REC_DTYPE), per_user


def _unpack(rows: list[tuple[str, bytes]]) -> tuple[list[str], np.ndarray, np.ndarray]:
    blobs = [r[1] for r in rows]
    per_user = np.fromiter(map(len, blobs), dtype=np.int64, count=len(blobs)) // _REC.size
    return [r[0] for r in rows], np.frombuffer(b"".join(blobs), dtype=_REC_DTYPE), per_user


def _fetch_acks(
    conn: sqlite3.Connection, ack: np.ndarray, n_users: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For the ack ids ``ack``: (position of each in the arrays), request ids, times (ns)."""
    if not len(ack):
        return np.zeros(0, dtype=np.intp), np.empty(0, dtype=object), np.empty(0, dtype=np.int64)
    lo, hi = int(ack.min()), int(ack.max())
    groups = conn.execute(_GROUP_TIMES, (lo, hi)).fetchall()
    starts = np.array([g[0] for g in groups], dtype=np.uint64)
    times = np.round(np.array([g[1] for g in groups], dtype=np.float64) * 1e9).astype(np.int64)
    span = hi - lo + 1
    if span <= _RANGE_FACTOR * n_users:
        # The usual case, ids dense in [lo, hi]: one aggregate query, not a tuple per ack.
        text, count = conn.execute(_REQUEST_IDS, (lo, hi)).fetchone()
        request_ids = np.array(text.split("\x1f"), dtype=object)
        if count == span == len(request_ids):  # no id gap, no separator inside an id
            request_ids[request_ids == ""] = None
            ids = np.arange(lo, hi + 1, dtype=np.uint64)
            at = times[np.searchsorted(starts, ids, side="right") - 1]
            return (ack - np.uint64(lo)).astype(np.intp), request_ids, at
    keys = np.unique(ack)
    sql = "SELECT ack_id, request_id FROM acks WHERE ack_id IN ({})"
    rows = sorted(select_in(conn, sql, (), keys.tolist()))
    request_ids = np.empty(len(rows), dtype=object)
    request_ids[:] = [r[1] for r in rows]
    ids = np.array([r[0] for r in rows], dtype=np.uint64)
    at = times[np.searchsorted(starts, ids, side="right") - 1]
    return np.searchsorted(ids, ack), request_ids, at
