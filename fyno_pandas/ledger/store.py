"""The ``Ledger``: one SQLite file (schema in ``schema``) and the reads and writes of its scopes."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..coercion.types import FYNO_TYPES
from ..errors import FynoLedgerError, FynoOptionError
from . import adds, claims, database, rates, reports, writes
from .acktable import Ack, AckTable, Column, RowAck
from .groupcommit import AckWriter
from .schema import MIGRATIONS as _MIGRATIONS
from .scope import Scope
from .values import States, read_acked, read_scope_states, read_states, wanted_ids

__all__ = ["FYNO_TYPES", "SCHEMA_VERSION", "Ledger", "default_path"]

SCHEMA_VERSION = len(_MIGRATIONS)


def default_path() -> Path:
    """``$FYNO_PANDAS_HOME/ledger.sqlite``, else ``~/.fyno_pandas/ledger.sqlite``."""
    home = os.environ.get("FYNO_PANDAS_HOME")
    return (Path(home).expanduser() if home else Path.home() / ".fyno_pandas") / "ledger.sqlite"


def _scope_of(scope: Scope | str, version: str | None, endpoint: str | None) -> Scope:
    """``scope``, or the `Scope` resolved from a workspace id (the readers' convenience)."""
    if not isinstance(scope, Scope):
        return Scope.resolve(scope, version, endpoint)
    if version is not None or endpoint is not None:
        raise FynoOptionError("pass a Scope alone, or a workspace id with version and endpoint")
    return scope


def _json(obj: Any) -> str:
    return json.dumps(
        obj, sort_keys=True, default=lambda o: o.item() if hasattr(o, "item") else str(o)
    )


class Ledger:
    """The SQLite ledger of one file; see the module docstring.

    Parameters
    ----------
    path : str or path-like, optional
        The database file; None means :func:`default_path`. Missing folders are created.
    timeout : float, default 30
        Seconds to wait for another process's write lock before failing.

    Raises
    ------
    FynoLedgerError
        When the file is a directory, not a SQLite database, another application's database, or
        written by a newer fyno_pandas (schema version above ``SCHEMA_VERSION``).

    Notes
    -----
    Thread-safe: one connection per ``Ledger`` (per process; it reopens after a fork), used under
    a lock. Use it as a context manager or call :meth:`close`.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, timeout: float = 30.0):
        self._path = Path(path).expanduser() if path is not None else default_path()
        self._timeout = timeout
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = os.getpid()
        # Per open ledger: scope ids, and property ids and types once fixed (never change).
        self._scopes: dict[Scope, int] = {}
        self._fixed_types: dict[int, dict[str, tuple[int, str]]] = {}
        self._next_ack: int | None = None  # the ack id after the last this ledger wrote
        self._conn = self._open()

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    def __repr__(self) -> str:
        return f"Ledger({str(self._path)!r})"

    def __getstate__(self) -> dict[str, Any]:
        # A connection cannot cross processes; the path and timeout are enough to reopen.
        return {"path": self._path, "timeout": self._timeout}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"], timeout=state["timeout"])  # type: ignore[misc]

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection; a later call reopens it."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # -- connection and transactions ---------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        return database.open_database(self._path, self._timeout, _MIGRATIONS, writes.prepare)

    @contextmanager
    def _connection(self, action: str) -> Iterator[sqlite3.Connection]:
        """The connection, under the lock, reopened after a fork or `close`."""
        with self._lock, database.errors(self._path, action):
            if self._conn is None or self._pid != os.getpid():
                if self._conn is not None:
                    self._conn.close()
                self._pid = os.getpid()
                self._conn = self._open()
            yield self._conn

    @contextmanager
    def _transaction(self, action: str, mode: str = "IMMEDIATE") -> Iterator[sqlite3.Connection]:
        with self._connection(action) as conn, database.transaction(conn, mode):
            yield conn

    def _scope(self, conn: sqlite3.Connection, scope: Scope, create: bool) -> int | None:
        if scope in self._scopes:
            return self._scopes[scope]
        key = (scope.endpoint, scope.wsid, scope.version)
        sql = "SELECT scope_id FROM scopes WHERE endpoint = ? AND wsid = ? AND version = ?"
        row = conn.execute(sql, key).fetchone()
        if row is None:
            if not create:
                return None
            sql = "INSERT INTO scopes (endpoint, wsid, version) VALUES (?, ?, ?)"
            return conn.execute(sql, key).lastrowid
        # Only scopes already committed are remembered (scopes are never deleted): one made in
        # this transaction would be gone if it rolled back.
        self._scopes[scope] = row[0]
        return row[0]

    # -- pushes and property types -----------------------------------------------------------

    def begin_push(
        self,
        scope: Scope,
        options: Mapping[str, Any] | None = None,
        fingerprint: str | None = None,
    ) -> int:
        """Record the start of a push and return its id (an increasing integer).

        ``options`` (the plan and send options) are stored as JSON; an ``api_key`` entry is
        left out, so the key never reaches the file. ``fingerprint`` names its adds and
        appends (`fyno_pandas.planning.steps.add_fingerprint`).
        """
        kept = {k: v for k, v in (options or {}).items() if k != "api_key"}
        with self._transaction("record a push in") as conn:
            scope_id = self._scope(conn, scope, create=True)
            sql = "INSERT INTO pushes (scope_id, started_at, options, fingerprint) VALUES (?,?,?,?)"
            args = (scope_id, time.time(), _json(kept), fingerprint)
            return conn.execute(sql, args).lastrowid

    def end_push(self, push_id: int, counts: Mapping[str, Any]) -> None:
        """Record the end of a push with its counts (e.g. rows per status)."""
        with self._transaction("record a push in") as conn:
            sql = "UPDATE pushes SET ended_at = ?, counts = ? WHERE push_id = ?"
            if conn.execute(sql, (time.time(), _json(dict(counts)), push_id)).rowcount != 1:
                raise FynoLedgerError(f"the ledger {self._path} has no push {push_id}")

    def push_record(self, scope: Scope, push_id: int) -> dict[str, Any] | None:
        """The options and fingerprint push ``push_id`` of ``scope`` was recorded with, or None."""
        with self._transaction("read", "DEFERRED") as conn:
            return reports.push_record(conn, scope, push_id)

    def pushes(self, wsid: str | None = None, version: str | None = None) -> pd.DataFrame:
        """Pushes recorded, oldest first, indexed by ``push_id``. Columns: endpoint, wsid,
        version, started_at, ended_at (NaT while running or after a crash), acks (requests
        acknowledged), counts and options (dicts)."""
        with self._transaction("read", "DEFERRED") as conn:
            return reports.pushes(conn, wsid, version)

    def properties(
        self, scope: Scope | str, version: str | None = None, endpoint: str | None = None
    ) -> pd.DataFrame:
        """Known properties of a scope: property, fyno_type, fixed_at, push_id.

        ``fyno_type`` is missing for a property only ever unset. A workspace id instead of a
        `Scope` is a convenience: ``properties("WSID", "live")`` reads the scope
        `Scope.resolve` makes of it (the endpoint from ``endpoint``, `fyno_pandas.connect`,
        ``$FYNO_ENDPOINT`` or Fyno's default).
        """
        scope = _scope_of(scope, version, endpoint)
        with self._transaction("read", "DEFERRED") as conn:
            return reports.properties(conn, self._scope(conn, scope, create=False))

    def property_types(
        self, scope: Scope | str, version: str | None = None, endpoint: str | None = None
    ) -> dict[str, str]:
        """``{property: fyno type}`` fixed in Fyno, in the order they were fixed (a type only
        claimed by a push that has not seen its seed accepted is not listed); a workspace id
        instead of a `Scope` as in :meth:`properties`.
        """
        scope = _scope_of(scope, version, endpoint)
        sql = (
            "SELECT name, fyno_type FROM properties WHERE scope_id = ?"
            " AND fyno_type IS NOT NULL AND fixed_at IS NOT NULL ORDER BY fixed_at, prop_id"
        )
        with self._transaction("read", "DEFERRED") as conn:
            scope_id = self._scope(conn, scope, create=False)
            return dict(conn.execute(sql, (scope_id,)).fetchall())

    def claim_types(self, scope: Scope, push_id: int, types: Mapping[str, str]) -> dict[str, str]:
        """Claim new properties' types for a push before it seeds them (`claims.claim`)."""
        with self._transaction("claim property types in") as conn:
            scope_id = self._scope(conn, scope, create=True)
            return claims.claim(conn, scope_id, push_id, types)  # type: ignore[arg-type]

    def confirm_types(self, scope: Scope, push_id: int, types: Mapping[str, str]) -> None:
        """Record types whose seed Fyno accepted (`claims.confirm`)."""
        with self._transaction("record property types in") as conn:
            scope_id = self._scope(conn, scope, create=True)
            claims.confirm(conn, scope_id, push_id, types)  # type: ignore[arg-type]

    def release_claims(self, push_id: int) -> None:
        """Withdraw a push's claims that no accepted seed fixed (`claims.release`)."""
        with self._transaction("release property types in") as conn:
            claims.release(conn, push_id)

    # -- learnt request rates (`rates`) ------------------------------------------------------

    def learnt_rate(self, scope: Scope) -> float | None:
        """The requests per second Fyno was found to accept at ``scope``, or None."""
        with self._transaction("read", "DEFERRED") as conn:
            return rates.learnt(conn, self._scope(conn, scope, create=False))

    def remember_rate(self, scope: Scope, rps: float | None) -> None:
        """Remember ``rps`` (positive) as the rate Fyno accepts at ``scope``; None forgets it."""
        value = None if rps is None else rates.check_rate(rps)
        with self._transaction("record a rate in") as conn:
            scope_id = self._scope(conn, scope, create=value is not None)
            if value is not None:
                rates.remember(conn, scope_id, value)  # type: ignore[arg-type]
            elif scope_id is not None:
                rates.forget(conn, scope_id)

    # -- acknowledged values -----------------------------------------------------------------

    def record_acks(self, scope: Scope, push_id: int, acks: Iterable[Ack]) -> list[tuple[str, str]]:
        """Record acknowledged requests, all in one transaction.

        Parameters
        ----------
        acks : iterable of (distinct_id, {property: value_hash}, {property: fyno type}, request_id)
            One per 202 answer. ``value_hash`` is a uint64 (``PushPlan.value_hashes``); 0
            records an unset. A property's first typed ack fixes its type; later ones never
            change it.

        Returns
        -------
        list of (distinct_id, property)
            Values not recorded because their type differs from the property's fixed type:
            Fyno accepted them (202) but drops them silently.
        """
        items = list(acks)
        table = AckTable.from_acks(items)
        rows = [(table, (i,), a[3]) for i, a in enumerate(items)]
        rejected = self.record_rows(scope, push_id, rows) if items else []
        return [(table.ids[i], p) for found in rejected for i, p in found]

    def record_rows(
        self, scope: Scope, push_id: int, acks: Sequence[RowAck]
    ) -> list[list[tuple[int, str]]]:
        """Record acknowledged requests given as rows of `AckTable` s, in one transaction.

        What an `AckWriter` commits for the workers queued behind it, each ack (table, row
        positions, request id) one request: several rows are a batch request's items. Returns
        per ack the (row position, property) of its values not recorded (see `record_acks`).
        """
        now = time.time()
        with self._connection("record acknowledged values in") as conn:
            scope_id, base = self._scopes.get(scope), self._next_ack
            known = self._fixed_types.get(scope_id, {})  # type: ignore[arg-type]
            # The steady state: one statement, its own transaction (`writes`). The ack ids
            # after this ledger's last are free unless another writer took them meanwhile.
            if scope_id is not None and base is not None and not writes.first_types(acks, known):
                try:
                    out = writes.write_group(conn, push_id, scope_id, acks, known, base, now, True)
                except sqlite3.IntegrityError:
                    out = None
                if out is not None:
                    self._next_ack = base + len(acks)
                    return out
        with self._transaction("record acknowledged values in") as conn:
            scope_id = self._scope(conn, scope, create=True)
            known = self._fixed_types.setdefault(scope_id, {})  # type: ignore[arg-type]
            first = writes.first_types(acks, known)
            looked_up = writes.fix_types(conn, push_id, scope_id, first, now) if first else {}  # type: ignore[arg-type]
            base = conn.execute("SELECT COALESCE(MAX(ack_id), 0) + 1 FROM acks").fetchone()[0]
            fixed = {**known, **looked_up}
            out = writes.write_group(conn, push_id, scope_id, acks, fixed, base, now)  # type: ignore[arg-type]
        # Only after the commit: a rolled-back transaction may have fixed types that are gone.
        known.update((n, (pid, t)) for n, (pid, t) in looked_up.items() if t is not None)
        self._next_ack = base + len(acks)
        return out  # type: ignore[return-value]

    def record_batch(
        self,
        scope: Scope,
        push_id: int,
        distinct_ids: Sequence[str],
        columns: Sequence[Column],
        request_id: str | None,
    ) -> np.ndarray:
        """Record one acknowledged batch request in one transaction, from arrays.

        ``columns`` holds per property (name, value hashes, rows setting it, rows unsetting it,
        Fyno type of the values set); as `record_acks` otherwise. Returns a (rows, properties)
        bool array of the values not recorded because their type differs from the fixed one.
        """
        if len(set(distinct_ids)) != len(distinct_ids):
            raise FynoLedgerError("record_batch: a batch holds each distinct_id once")
        table = AckTable.from_columns(distinct_ids, columns)
        rejected = np.zeros(table.is_set.shape, dtype=bool)
        if len(distinct_ids):
            batch = (table, range(len(distinct_ids)), request_id)
            for i, p in self.record_rows(scope, push_id, [batch])[0]:
                rejected[i, table.names.index(p)] = True
        return rejected

    def ack_writer(self, scope: Scope, push_id: int) -> AckWriter:
        """A group-commit writer of acks for one push (`record_rows`); see :class:`AckWriter`."""
        return AckWriter(self.record_rows, scope, push_id)

    # -- adds and appends (`adds`) -----------------------------------------------------------

    def record_adds_raw(self, scope: Scope, push_id: int, groups: list[list[adds.AddItem]]) -> list:
        """Record groups of `adds.AddItem` in one transaction; an empty outcome per group."""
        with self._transaction("record adds in") as conn:
            adds.write(conn, push_id, [item for group in groups for item in group])
        return [[] for _ in groups]

    def add_writer(self, scope: Scope, push_id: int) -> AckWriter:
        """A group-commit writer of a push's add states (`AckWriter.write`)."""
        return AckWriter(self.record_adds_raw, scope, push_id)

    def add_history(self, scope: Scope, fingerprint: str) -> tuple[list, list]:
        """The pushes with ``fingerprint`` at ``scope`` and their add states (`adds.history`)."""
        with self._transaction("read", "DEFERRED") as conn:
            return adds.history(conn, self._scope(conn, scope, create=False), fingerprint)

    def add_overlaps(self, scope: Scope, keys: set[str], since: float, exclude: Sequence[int]):
        """Recent or unfinished pushes at ``scope`` sharing add keys (`adds.overlaps`)."""
        with self._transaction("read", "DEFERRED") as conn:
            return adds.overlaps(conn, self._scope(conn, scope, create=False), keys, since, exclude)

    def acknowledged_hashes(
        self,
        scope: Scope,
        distinct_ids: Iterable[str | None] | None = None,
        *,
        exact: bool = True,
    ) -> pd.DataFrame:
        """What Fyno acknowledged for these users: one row per (distinct_id, property).

        Columns: distinct_id and property (categorical, to keep millions of rows light),
        value_hash (uint64; 0 = unset), request_id, acked_at (UTC). ``distinct_ids`` None means
        every user of the scope; None entries are ignored. ``exact=False`` may also return
        other users of the scope, when reading all of them is cheaper than filtering (how the
        users are read: `values.read_states`).
        """
        with self._transaction("read", "DEFERRED") as conn:
            scope_id = self._scope(conn, scope, create=False)
            return read_acked(conn, scope_id, wanted_ids(distinct_ids), exact)

    def acknowledged_states(
        self, scope: Scope, distinct_ids: Iterable[str | None] | None = None
    ) -> States:
        """`acknowledged_hashes` as stored, for the ``only_changed`` check: each user's records
        and latest request, not a row per value (`check.compare_states`). May hold other users
        of the scope too (``exact=False``)."""
        with self._transaction("read", "DEFERRED") as conn:
            scope_id = self._scope(conn, scope, create=False)
            return read_states(conn, scope_id, wanted_ids(distinct_ids), False, latest=True)

    def acknowledged_scope_states(self, scope: Scope, rows: int) -> States | None:
        """`values.read_scope_states`: every user's states, for a frame of ``rows`` rows."""
        with self._transaction("read", "DEFERRED") as conn:
            return read_scope_states(conn, self._scope(conn, scope, create=False), rows)
