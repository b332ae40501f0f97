"""Acknowledged values: per-user state rows and the acks journal, read in bulk.

A user's acknowledged values are one row of ``acked_values``; its ``state`` blob packs one
20-byte record per property: property id (uint32), value hash (uint64), ack id (uint64), little
endian. ``acks`` gives each ack (one acknowledged request, or one item of a batch request) its
request id; ``ack_groups`` gives each write's consecutive acks their push and time (`writes`).
Python's sqlite3 builds a tuple per fetched row, so one row per user instead of one per value
makes reading 1,000,000 users x 7 properties several times faster.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import struct
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

REC = struct.Struct("<IQQ")  # property id, value hash, ack id
REC_DTYPE = np.dtype([("prop", "<u4"), ("hash", "<u8"), ("ack", "<u8")])
_CHUNK = 500  # keys per IN (...) query, well under SQLite's parameter limit
# A scope of fewer than twice as many users as the ids asked is read whole (one scan); a larger
# one is read by range or key, so a push in chunks never holds a whole big scope per chunk.
_LOOKUP_FRACTION = 2
# An ack id range up to this many times the users read is fetched by one scan, else by key.
_RANGE_FACTOR = 4

_SELECT_STATES = "SELECT distinct_id, state FROM acked_values WHERE scope_id = ?"
_SCAN = (
    "SELECT group_concat(distinct_id, char(31)), CAST(group_concat(state, '') AS BLOB),"
    " group_concat(length(state)), count(*) FROM acked_values WHERE scope_id = ?"
)
_IN_RANGE = " AND distinct_id BETWEEN ? AND ?"
_COUNT = "SELECT count(*) FROM (SELECT 1 FROM acked_values WHERE scope_id = ? LIMIT ?)"
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


def wanted_ids(distinct_ids: Iterable[object] | None) -> np.ndarray | None:
    """The ids to read as text, None entries left out (None: every user)."""
    if distinct_ids is None:
        return None
    wanted = np.asarray(distinct_ids, dtype=object)
    if pd.api.types.infer_dtype(wanted, skipna=False) == "string":
        return wanted  # text already (a plan's ids), none missing
    wanted = wanted[~pd.isna(wanted)]
    # Stored ids are text, and text order is what a range of them follows.
    return np.fromiter(map(str, wanted), dtype=object, count=len(wanted))


@dataclasses.dataclass(frozen=True)
class States:
    """The acknowledged states of some users of a scope, as stored, from one read snapshot.

    Attributes
    ----------
    users : list of str
        The distinct ids, in the order read.
    per_user : numpy.ndarray
        int64: each user's number of records.
    rec : numpy.ndarray
        `REC_DTYPE`: the users' records (property id, value hash, ack id), user after user.
    names : dict
        ``{property id: name}`` of the scope's properties.
    latest_request, latest_at : numpy.ndarray or None
        Per user, the request id (object) and the time (int64 ns since the epoch, UTC) of the
        user's latest ack, the one with the largest id (ids grow with every commit); None
        unless `read_states` was asked for them.
    """

    users: list[str]
    per_user: np.ndarray
    rec: np.ndarray
    names: dict[int, str]
    latest_request: np.ndarray | None = None
    latest_at: np.ndarray | None = None


def read_states(
    conn: sqlite3.Connection,
    scope: int | None,
    wanted: np.ndarray | None,
    exact: bool = True,
    latest: bool = False,
) -> States:
    """The `States` of ``wanted`` users (None: all) of a scope, in the caller's read
    transaction; with ``latest``, each user's latest request too.

    ``exact=False`` lets a whole-scope read keep the other users too (the caller joins anyway).
    """
    bounds: tuple[str, str] | None = None
    by_key = False
    if wanted is not None and not len(wanted):
        bounds = ("", "")
    elif wanted is not None:
        cap = len(wanted) * _LOOKUP_FRACTION
        # A scope with fewer than 2 users per id wanted is read whole; otherwise the users
        # between the smallest and the largest id wanted are read by one range scan when they
        # are few (new users with ordered ids: none; a chunk pushed again: about as many as
        # wanted), else the wanted ones by key.
        if conn.execute(_COUNT, (scope, cap)).fetchone()[0] >= cap:
            bounds = (min(wanted), max(wanted))
            by_key = conn.execute(_COUNT_RANGE, (scope, *bounds, cap)).fetchone()[0] >= cap
    if by_key:
        ids, rec, per_user = states_of(conn, scope, list(set(wanted)))  # type: ignore[arg-type]
    else:
        where, args = (_IN_RANGE, (scope, *bounds)) if bounds else ("", (scope,))
        ids, rec, per_user = _scan(conn, where, args)
        if wanted is not None and exact:
            keep = set(wanted)
            kept = np.fromiter((d in keep for d in ids), dtype=bool, count=len(ids))
            if not kept.all():
                ids = [d for d, k in zip(ids, kept, strict=True) if k]
                rec, per_user = rec[np.repeat(kept, per_user)], per_user[kept]
    sql = "SELECT prop_id, name FROM properties WHERE scope_id = ?"
    names = dict(conn.execute(sql, (scope,)).fetchall())
    if not latest:
        return States(ids, per_user, rec, names)
    last = np.zeros(len(ids), dtype=np.uint64)
    if len(ids):
        last = np.maximum.reduceat(rec["ack"], np.cumsum(per_user) - per_user)
    pos, request_ids, acked_ns = _fetch_acks(conn, last, len(ids))
    return States(ids, per_user, rec, names, request_ids[pos], acked_ns[pos])


def read_scope_states(conn: sqlite3.Connection, scope: int | None, rows: int) -> States | None:
    """The `States` of every user of a scope, with each user's latest request, when it holds
    fewer users than `read_states` reads whole for ``rows`` ids; else None.

    For the ``only_changed`` check of a frame of ``rows`` rows, read while the frame is still
    being planned: its ids are not known yet, so a larger scope is left to `read_states`.
    """
    cap = rows * _LOOKUP_FRACTION
    if not rows or conn.execute(_COUNT, (scope, cap)).fetchone()[0] >= cap:
        return None
    return read_states(conn, scope, None, latest=True)


def read_acked(
    conn: sqlite3.Connection, scope: int | None, wanted: np.ndarray | None, exact: bool = True
) -> pd.DataFrame:
    """The acknowledged values of ``wanted`` users (None: all) of a scope as one row per value:
    `Ledger.acknowledged_hashes`."""
    states = read_states(conn, scope, wanted, exact)
    rec, names = states.rec, sorted(states.names.items())
    users = pd.Index(states.users, dtype=object)
    pos, request_ids, acked_ns = _fetch_acks(conn, rec["ack"], len(users))
    prop_code = np.zeros(max((p[0] for p in names), default=0) + 1, dtype=np.int64)
    prop_code[[p[0] for p in names]] = np.arange(len(names))
    return pd.DataFrame(
        {
            "distinct_id": pd.Categorical.from_codes(
                np.repeat(np.arange(len(users)), states.per_user), categories=users
            ),
            "property": pd.Categorical.from_codes(
                prop_code[rec["prop"]], categories=pd.Index([p[1] for p in names], dtype=object)
            ),
            "value_hash": rec["hash"].copy(),
            # object, not str: pandas 3 would convert 7,000,000 strings one by one.
            "request_id": pd.Series(request_ids[pos], dtype=object),
            "acked_at": pd.DatetimeIndex(acked_ns[pos].view("M8[ns]")).tz_localize("UTC"),
        }
    )


def states_of(
    conn: sqlite3.Connection, scope: int | None, users: Sequence[str]
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The state rows of these users of a scope (those it has): ids, value records, records
    per user; one query per 500 users."""
    found = [
        _scan(conn, " AND distinct_id IN ({})".format(",".join("?" * len(part))), (scope, *part))
        for part in (users[start : start + _CHUNK] for start in range(0, len(users), _CHUNK))
    ]
    if len(found) == 1:
        return found[0]
    return (
        [d for f in found for d in f[0]],
        np.concatenate([f[1] for f in found] or [np.empty(0, dtype=REC_DTYPE)]),
        np.concatenate([f[2] for f in found] or [np.empty(0, dtype=np.int64)]),
    )


def _scan(
    conn: sqlite3.Connection, where: str, args: tuple[Any, ...]
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The users of a scope (``args[0]``) that ``where`` selects: ids, value records, records
    per user."""
    # Three aggregates over the same rows (so in the same order) cross into Python as three
    # objects, in one step of the statement, instead of a tuple per user.
    ids, blob, sizes, n = conn.execute(_SCAN + where, args).fetchone()
    if not n:
        return [], np.empty(0, dtype=REC_DTYPE), np.empty(0, dtype=np.int64)
    users = ids.split("\x1f")
    if len(users) != n:  # a distinct id holds the separator: fall back to a tuple per user
        return _unpack(conn.execute(_SELECT_STATES + where, args).fetchall())
    per_user = np.fromstring(sizes, dtype=np.int64, sep=",") // REC.size
    return users, np.frombuffer(blob, dtype=REC_DTYPE), per_user


def _unpack(rows: list[tuple[str, bytes]]) -> tuple[list[str], np.ndarray, np.ndarray]:
    blobs = [r[1] for r in rows]
    per_user = np.fromiter(map(len, blobs), dtype=np.int64, count=len(blobs)) // REC.size
    return [r[0] for r in rows], np.frombuffer(b"".join(blobs), dtype=REC_DTYPE), per_user


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
