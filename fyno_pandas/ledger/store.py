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

from ..errors import FynoLedgerError
from ..types import FYNO_TYPES
from . import adds, claims, database
from .groupcommit import AckWriter
from .schema import MIGRATIONS as _MIGRATIONS
from .scope import Scope
from .values import Ack, Column, read_acked, write_acks, write_batch

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
        raise TypeError("pass a Scope alone, or a workspace id with version and endpoint")
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
        return database.open_database(self._path, self._timeout, _MIGRATIONS)

    @contextmanager
    def _transaction(self, action: str, mode: str = "IMMEDIATE") -> Iterator[sqlite3.Connection]:
        with self._lock, database.errors(self._path, action):
            if self._conn is None or self._pid != os.getpid():
                if self._conn is not None:
                    self._conn.close()
                self._pid = os.getpid()
                self._conn = self._open()
            with database.transaction(self._conn, mode):
                yield self._conn

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
        appends (`fyno_pandas.ops.add_fingerprint`).
        """
        kept = {k: v for k, v in (options or {}).items() if k != "api_key"}
        with self._transaction("record a push in") as conn:
            scope_id = self._scope(conn, scope, create=True)
            sql = (
                "INSERT INTO pushes (scope_id, started_at, options, fingerprint)"
                " VALUES (?, ?, ?, ?)"
            )
            args = (scope_id, time.time(), _json(kept), fingerprint)
            return conn.execute(sql, args).lastrowid

    def end_push(self, push_id: int, counts: Mapping[str, Any]) -> None:
        """Record the end of a push with its counts (e.g. rows per status)."""
        with self._transaction("record a push in") as conn:
            sql = "UPDATE pushes SET ended_at = ?, counts = ? WHERE push_id = ?"
            if conn.execute(sql, (time.time(), _json(dict(counts)), push_id)).rowcount != 1:
                raise FynoLedgerError(f"the ledger {self._path} has no push {push_id}")

    def pushes(self, wsid: str | None = None, version: str | None = None) -> pd.DataFrame:
        """Pushes recorded, oldest first, indexed by ``push_id``.

        Columns: endpoint, wsid, version, started_at, ended_at (NaT while running or after a
        crash), acks (requests acknowledged), counts and options (dicts).
        """
        sql = (
            "SELECT p.push_id, s.endpoint, s.wsid, s.version, p.started_at, p.ended_at,"
            " (SELECT COALESCE(SUM(g.acks), 0) FROM ack_groups g WHERE g.push_id = p.push_id),"
            " p.counts, p.options"
            " FROM pushes p JOIN scopes s USING (scope_id)"
            " WHERE (?1 IS NULL OR s.wsid = ?1) AND (?2 IS NULL OR s.version = ?2)"
            " ORDER BY p.push_id"
        )
        with self._transaction("read", "DEFERRED") as conn:
            rows = conn.execute(sql, (wsid, version)).fetchall()
        cols = ["push_id", "endpoint", "wsid", "version", "started_at", "ended_at", "acks"]
        frame = pd.DataFrame([r[:7] for r in rows], columns=cols)
        for col in ("started_at", "ended_at"):
            frame[col] = pd.to_datetime(frame[col].astype("float64"), unit="s", utc=True)
        frame["acks"] = frame["acks"].astype("int64")
        frame["counts"] = [json.loads(r[7]) if r[7] else {} for r in rows]
        frame["options"] = [json.loads(r[8]) for r in rows]
        return frame.set_index("push_id")

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
            scope_id = self._scope(conn, scope, create=False)
            sql = (
                "SELECT name, fyno_type, fixed_at, push_id FROM properties"
                " WHERE scope_id = ? ORDER BY prop_id"
            )
            rows = conn.execute(sql, (scope_id,)).fetchall()
        frame = pd.DataFrame(rows, columns=["property", "fyno_type", "fixed_at", "push_id"])
        frame["fixed_at"] = pd.to_datetime(frame["fixed_at"].astype("float64"), unit="s", utc=True)
        frame["push_id"] = frame["push_id"].astype("Int64")
        return frame

    def property_types(
        self, scope: Scope | str, version: str | None = None, endpoint: str | None = None
    ) -> dict[str, str]:
        """``{property: fyno type}`` fixed in Fyno, in the order they were fixed (a type only
        claimed by a push that has not seen its seed accepted is not listed).

        ``property_types("WSID", "live")``: a workspace id instead of a `Scope`, as
        :meth:`properties`.
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

    # -- acknowledged values -----------------------------------------------------------------

    def record_acks(self, scope: Scope, push_id: int, acks: Iterable[Ack]) -> list[tuple[str, str]]:
        """Record acknowledged requests, all in one transaction.

        Parameters
        ----------
        acks : iterable of (distinct_id, {property: value_hash}, {property: fyno type}, request_id)
            One per 202 answer (a batch request gives one per item, sharing its request_id).
            ``value_hash`` is a uint64 (``PushPlan.value_hashes``); 0 records an unset. A
            property's first typed ack fixes its type; later ones never change it.

        Returns
        -------
        list of (distinct_id, property)
            Values not recorded because their type differs from the property's fixed type:
            Fyno accepted them (202) but drops them silently.
        """
        items = list(acks)
        rejected = self.record_acks_raw(scope, push_id, items) if items else []
        return [(a[0], p) for a, props in zip(items, rejected, strict=True) for p in props]

    def record_acks_raw(self, scope: Scope, push_id: int, acks: list[Ack]) -> list[list[str]]:
        """As `record_acks`, saying per ack which of its properties were not recorded.

        What an `AckWriter` commits for the workers queued behind it; it hands each its own.
        """
        items = [(str(d), dict(h), dict(t or {}), r) for d, h, t, r in acks]
        with self._transaction("record acknowledged values in") as conn:
            scope_id = self._scope(conn, scope, create=True)
            known = self._fixed_types.setdefault(scope_id, {})  # type: ignore[arg-type]
            rejected, looked_up = write_acks(conn, push_id, scope_id, items, known)  # type: ignore[arg-type]
        # Only after the commit: a rolled-back transaction may have fixed types that are gone.
        known.update((n, (pid, t)) for n, (pid, t) in looked_up.items() if t is not None)
        return rejected

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
        with self._transaction("record acknowledged values in") as conn:
            scope_id = self._scope(conn, scope, create=True)
            known = self._fixed_types.setdefault(scope_id, {})  # type: ignore[arg-type]
            rejected, looked_up = write_batch(
                conn,
                push_id,
                scope_id,
                distinct_ids,
                columns,
                request_id,
                known,  # type: ignore[arg-type]
            )
        known.update((n, (pid, t)) for n, (pid, t) in looked_up.items() if t is not None)
        return rejected

    def ack_writer(self, scope: Scope, push_id: int) -> AckWriter:
        """A group-commit writer of acks for one push; see :class:`AckWriter`."""
        return AckWriter(self.record_acks_raw, scope, push_id)

    # -- adds and appends (`adds`) -----------------------------------------------------------

    def record_adds_raw(self, scope: Scope, push_id: int, groups: list[list[adds.AddItem]]) -> list:
        """Record groups of (request key, state, request id) items of a push in one
        transaction; one outcome (an empty list) per group, as `AckWriter` expects."""
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
        other users of the scope, when reading all of them is cheaper than filtering.

        The users whose ids lie between the smallest and largest asked for are read by one range
        scan when they are fewer than 8 times those asked for (new users with ordered ids, a
        frame pushed again); otherwise each is looked up by key (``benchmarks/ledger_check.py``
        measures it).
        """
        wanted = None
        if distinct_ids is not None:
            wanted = np.asarray(distinct_ids, dtype=object)
            wanted = wanted[~pd.isna(wanted)]
            # Stored ids are text, and text order is what a range of them follows.
            wanted = np.fromiter(map(str, wanted), dtype=object, count=len(wanted))
        with self._transaction("read", "DEFERRED") as conn:
            return read_acked(conn, self._scope(conn, scope, create=False), wanted, exact)
