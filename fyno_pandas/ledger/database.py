"""The ledger's SQLite file: opened and checked, migrated, and written in transactions."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ..errors import FynoLedgerError

__all__ = ["APPLICATION_ID", "errors", "open_database", "transaction"]

APPLICATION_ID = 0x46594E4F  # "FYNO": marks the file as ours (PRAGMA application_id)


@contextmanager
def errors(path: Path, action: str) -> Iterator[None]:
    """Raise `FynoLedgerError` naming the file and what to do for an SQLite error."""
    try:
        yield
    except sqlite3.Error as exc:
        raise FynoLedgerError(
            f"cannot {action} the ledger {path}: {exc}. Move the file away or pass "
            "ledger=<another path> (ledger=False turns the ledger off)."
        ) from exc


@contextmanager
def transaction(conn: sqlite3.Connection, mode: str = "IMMEDIATE") -> Iterator[None]:
    """One transaction: committed on exit, rolled back on any exception."""
    # IMMEDIATE takes the write lock up front, so read-then-write steps (ack ids, states)
    # cannot interleave with another process; DEFERRED gives readers one snapshot.
    conn.execute(f"BEGIN {mode}")
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def open_database(
    path: Path,
    timeout: float,
    migrations: Sequence[Sequence[str]],
    setup: Callable[[sqlite3.Connection], None] | None = None,
) -> sqlite3.Connection:
    """Open ``path`` (created with its folders when missing) in WAL mode, migrated to the
    schema version ``len(migrations)``; ``migrations[i]`` takes a file from version i to i + 1.
    ``setup`` then prepares the connection (temporary objects, functions).

    Raises `FynoLedgerError` when the file is a directory, not a SQLite database, another
    application's database, or of a newer schema version.
    """
    if path.is_dir():
        raise FynoLedgerError(
            f"the ledger path {path} is a directory; pass a file such as {path / 'ledger.sqlite'}"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FynoLedgerError(f"cannot create the folder of the ledger {path}: {exc}") from exc
    with errors(path, "open"):
        conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
        try:
            if _journal_mode_wal(conn, timeout) != "wal":
                raise FynoLedgerError(f"the ledger {path} cannot use WAL journaling")
            conn.execute("PRAGMA synchronous = NORMAL")
            _migrate(conn, path, migrations)
            if setup is not None:
                setup(conn)
        except BaseException:
            conn.close()
            raise
    return conn


def _journal_mode_wal(conn: sqlite3.Connection, timeout: float) -> str:
    # Switching a new file to WAL while another connection writes it fails at once, busy
    # timeout or not (each would wait for the other's lock): retried within the timeout.
    deadline = time.monotonic() + timeout
    while True:
        try:
            return conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        except sqlite3.OperationalError as exc:
            # By its message: sqlite_errorcode needs Python 3.11.
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(0.005)


def _migrate(conn: sqlite3.Connection, path: Path, migrations: Sequence[Sequence[str]]) -> None:
    # Each check reads three values: one transaction makes them one snapshot, so a migration
    # committed between two reads cannot look like another application's database.
    latest = len(migrations)
    with transaction(conn, "DEFERRED"):
        if _check_schema(conn, path, latest) == latest:
            return  # the usual open: no write lock needed
    with transaction(conn):
        version = _check_schema(conn, path, latest)  # again: another process may have migrated
        for statements in migrations[version:]:
            for statement in statements:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {latest}")
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")


def _check_schema(conn: sqlite3.Connection, path: Path, latest: int) -> int:
    """The file's schema version; raise when it is not ours or too new."""
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if app_id != APPLICATION_ID and (
        version or conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    ):
        raise FynoLedgerError(f"{path} is an SQLite database but not a fyno_pandas ledger")
    if version > latest:
        raise FynoLedgerError(
            f"the ledger {path} has schema version {version}, newer than this "
            f"fyno_pandas understands ({latest}); upgrade fyno_pandas"
        )
    return version
