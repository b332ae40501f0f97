"""Acks written in bulk: a group of acknowledged requests in one SQL statement, from arrays.

A worker waits for its group's commit before its next request, and while it waits every SQLite
call of the commit hands the GIL to the threads busy with HTTP, then queues to get it back: a
commit of one statement finishes several times sooner under load than one of six. So a group
is one multi-row ``INSERT`` into the connection's temporary view ``fyno_ack_rows``, whose
trigger writes its ``ack_groups`` row, its ``acks`` and its users' states; a user's new records
are merged into a state it already had by ``fyno_merge_state``, inside that same statement.
Alone, that statement is its own transaction; `write_group` also runs inside ``BEGIN
IMMEDIATE`` when types are fixed first or the ack ids are not known yet. The records are built
with numpy per table, not per value in Python.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator, Mapping, Sequence

import numpy as np

from .acktable import AckTable, RowAck
from .values import REC, REC_DTYPE, select_in

__all__ = ["first_types", "fix_types", "prepare", "write_group"]

# Bound parameters per statement: SQLite's limit since 3.32, 999 before.
MAX_PARAMS = 32766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999

_VIEW = (
    "CREATE TEMP VIEW IF NOT EXISTS fyno_ack_rows (kind, ack_id, push_id, acks, acked_at,"
    " request_id, scope_id, distinct_id, state)"
    " AS SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL WHERE 0"
)
_TRIGGER = (
    "CREATE TEMP TRIGGER IF NOT EXISTS fyno_ack_rows_insert INSTEAD OF INSERT ON fyno_ack_rows"
    " BEGIN"
    " INSERT INTO ack_groups (first_ack, push_id, acks, acked_at)"
    "  SELECT NEW.ack_id, NEW.push_id, NEW.acks, NEW.acked_at WHERE NEW.kind = 'group';"
    " INSERT INTO acks (ack_id, request_id)"
    "  SELECT NEW.ack_id, NEW.request_id WHERE NEW.kind IN ('ack', 'both');"
    " INSERT INTO acked_values (scope_id, distinct_id, state)"
    "  SELECT NEW.scope_id, NEW.distinct_id, NEW.state WHERE NEW.kind IN ('state', 'both')"
    "  ON CONFLICT (scope_id, distinct_id)"
    "  DO UPDATE SET state = fyno_merge_state(state, excluded.state);"
    " END"
)
_INSERT = "INSERT INTO fyno_ack_rows VALUES "
_GROUP_ROW = "('group',?,?,?,?,NULL,NULL,NULL,NULL)"
_ACK_ROW = "('ack',?,NULL,NULL,NULL,?,NULL,NULL,NULL)"
# The scope id is written into the statement (an integer from the file itself): one parameter
# fewer per row. 'both' is the ack of a request that carried one user's values.
_STATE_ROW = "('state',NULL,NULL,NULL,NULL,NULL,{:d},?,?)"
_BOTH_ROW = "('both',?,NULL,NULL,NULL,?,{:d},?,?)"

# First writer wins: a later ack only fills a type still unknown (a property only ever unset).
_UPSERT_PROPERTY = (
    "INSERT INTO properties (scope_id, name, fyno_type, fixed_at, push_id) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (scope_id, name) DO UPDATE SET fyno_type = excluded.fyno_type,"
    " fixed_at = excluded.fixed_at, push_id = excluded.push_id"
    " WHERE properties.fyno_type IS NULL AND excluded.fyno_type IS NOT NULL"
)


def prepare(conn: sqlite3.Connection) -> None:
    """Give a new connection the view and merge function `write_group` writes through."""
    conn.create_function("fyno_merge_state", 2, merge_state, deterministic=True)
    conn.execute(_VIEW)
    conn.execute(_TRIGGER)


def merge_state(old: bytes, new: bytes) -> bytes:
    """A user's state with ``new``'s records replacing those of the same property in place;
    properties new to the user are appended.

    Called by SQLite for every user acknowledged again, inside the commit a worker waits for:
    when ``new`` holds the same properties in the same order (the same columns pushed again,
    the usual case) it is the answer, found by comparing the property ids alone (each record
    is five 32-bit words, the id first), 8x faster than unpacking both.
    """
    if len(old) == len(new) and memoryview(old).cast("I")[::5] == memoryview(new).cast("I")[::5]:
        return new
    state = {p: (h, a) for p, h, a in REC.iter_unpack(old)}
    state.update((p, (h, a)) for p, h, a in REC.iter_unpack(new))
    return b"".join(REC.pack(p, h, a) for p, (h, a) in state.items())


def first_types(acks: Sequence[RowAck], known: Mapping[str, object]) -> dict[str, str | None]:
    """The properties of ``acks`` not in ``known`` that they set or unset, each with the type
    of its first value set (None: only unset, or no type); empty in the steady state."""
    first: dict[str, str | None] = {}
    tables = {id(ack[0]): ack[0] for ack in acks}.values()
    if all(name in known for table in tables for name in table.names):
        return first
    for table, _, rows, _ in _tables(acks):
        for k, name in enumerate(table.names):
            if name in known or first.get(name) is not None:
                continue
            is_set = table.is_set[rows, k]
            if is_set.any():
                first[name] = _first_type(table.sent[k], rows[is_set])
            elif name not in first and table.is_unset[rows, k].any():
                first[name] = None
    return first


def fix_types(
    conn: sqlite3.Connection,
    push_id: int,
    scope: int,
    first: Mapping[str, str | None],
    now: float,
) -> dict[str, tuple[int, str | None]]:
    """Record each property's first acknowledged type (unless fixed before) in the caller's
    transaction; return ``{name: (prop_id, fixed type)}`` of these properties."""
    conn.executemany(
        _UPSERT_PROPERTY,
        [(scope, n, t, now if t else None, push_id if t else None) for n, t in first.items()],
    )
    sql = "SELECT name, prop_id, fyno_type FROM properties WHERE scope_id = ? AND name IN ({})"
    return {n: (pid, typ) for n, pid, typ in select_in(conn, sql, (scope,), list(first))}


def write_group(
    conn: sqlite3.Connection,
    push_id: int,
    scope: int,
    acks: Sequence[RowAck],
    fixed: Mapping[str, tuple[int, str | None]],
    base: int,
    now: float,
    alone: bool = False,
) -> list[list[tuple[int, str]]] | None:
    """Write ``acks`` (table, row positions, request id; one per request) as ack ids ``base``
    on, in as few statements as SQLite's parameter limit allows; with ``alone``, in one
    statement or not at all (None: the caller writes them in a transaction instead).

    Every property the rows set or unset must be in ``fixed`` (``{name: (prop_id, fixed
    type)}``, `fix_types`). A user's rows replace its earlier values of a property in order.
    Returns per ack the (row position, property) of its values not recorded because their type
    differs from the fixed one: Fyno accepted them and drops them.
    """
    out: list[list[tuple[int, str]]] = [[] for _ in acks]
    marks = [_GROUP_ROW]
    params: list[object] = [base, push_id, len(acks), now]
    state_row, both_row = _STATE_ROW.format(scope), _BOTH_ROW.format(scope)
    states: list[object] = []  # the rows of acks that carried several users (batch requests)
    for table, members, rows, which in _tables(acks):
        prop, keep, sizes, rejected = table.records(fixed)
        kept = keep[rows]
        rec = np.empty(kept.shape, dtype=REC_DTYPE)
        rec["prop"] = prop
        rec["hash"] = table.hashes[rows]
        rec["ack"] = (np.asarray(members, dtype=np.uint64)[which] + np.uint64(base))[:, None]
        packed = rec[kept].tobytes()  # row by row: each row's records are contiguous
        ids, sizes = table.ids[rows].tolist(), sizes[rows].tolist()
        ends = itertools.accumulate(sizes)
        if len(rows) == len(members):  # one row per ack
            for i, d, size, end in zip(members, ids, sizes, ends, strict=True):
                if size:
                    marks.append(both_row)
                    params += (base + i, acks[i][2], d, packed[end - size : end])
                else:
                    marks.append(_ACK_ROW)
                    params += (base + i, acks[i][2])
        else:
            for i in members:
                marks.append(_ACK_ROW)
                params += (base + i, acks[i][2])
            for d, size, end in zip(ids, sizes, ends, strict=True):
                if size:
                    states += (d, packed[end - size : end])
        if rejected is not None:
            for r, k in zip(*np.nonzero(rejected[rows]), strict=True):
                out[members[which[r]]].append((int(rows[r]), table.names[k]))
    marks += [state_row] * (len(states) // 2)
    params += states
    if len(params) <= MAX_PARAMS:
        conn.execute(_INSERT + ",".join(marks), params)
    elif alone:
        return None
    else:
        for sql, part in _statements(marks, params):
            conn.execute(sql, part)
    return out


def _statements(marks: list[str], params: list[object]) -> Iterator[tuple[str, list[object]]]:
    """The multi-row inserts of the rows ``marks`` (each with its ``?`` of ``params``), in
    order, each within `MAX_PARAMS` parameters."""
    start = offset = used = 0  # the statement's first row, its first parameter, its count
    for k, mark in enumerate(marks):
        width = mark.count("?")
        if k > start and used + width > MAX_PARAMS:
            yield _INSERT + ",".join(marks[start:k]), params[offset : offset + used]
            start, offset, used = k, offset + used, 0
        used += width
    yield _INSERT + ",".join(marks[start:]), params[offset:]


def _tables(acks: Sequence[RowAck]) -> Iterator[tuple[AckTable, list[int], np.ndarray, np.ndarray]]:
    """Per table of ``acks``: (table, indices of its acks, their rows, each row's ack among
    those indices), the tables in order of their first ack."""
    table = acks[0][0]
    if all(a[0] is table and len(a[1]) == 1 for a in acks):  # one row per ack: per-row pushes
        count = len(acks)
        rows = np.fromiter((a[1][0] for a in acks), dtype=np.intp, count=count)
        yield table, list(range(count)), rows, np.arange(count)
        return
    tables: dict[int, tuple[AckTable, list[int]]] = {}
    for i, ack in enumerate(acks):
        tables.setdefault(id(ack[0]), (ack[0], []))[1].append(i)
    for table, members in tables.values():
        sizes = [len(acks[i][1]) for i in members]
        rows = np.fromiter((r for i in members for r in acks[i][1]), np.intp, count=sum(sizes))
        yield table, members, rows, np.repeat(np.arange(len(members)), sizes)


def _first_type(sent: str | np.ndarray | None, rows: np.ndarray) -> str | None:
    """The type of the first value set at ``rows`` (None when none of them has a type)."""
    if not isinstance(sent, np.ndarray):
        return sent
    return next((s for s in sent[rows] if s is not None), None)
