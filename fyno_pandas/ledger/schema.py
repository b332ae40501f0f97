"""The ledger file's schema: each migration, in order (``PRAGMA user_version`` counts them)."""

from __future__ import annotations

from ..coercion.types import FYNO_TYPES

__all__ = ["MIGRATIONS"]

# MIGRATIONS[i] takes a file from schema version i to i + 1 (PRAGMA user_version).
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE scopes (scope_id INTEGER PRIMARY KEY, endpoint TEXT NOT NULL,"
        " wsid TEXT NOT NULL, version TEXT NOT NULL, UNIQUE (endpoint, wsid, version))",
        "CREATE TABLE pushes (push_id INTEGER PRIMARY KEY, scope_id INTEGER NOT NULL"
        " REFERENCES scopes, started_at REAL NOT NULL, ended_at REAL, counts TEXT,"
        " options TEXT NOT NULL)",
        "CREATE TABLE properties (prop_id INTEGER PRIMARY KEY, scope_id INTEGER NOT NULL"
        " REFERENCES scopes, name TEXT NOT NULL, fyno_type TEXT CHECK (fyno_type IN"
        f" {FYNO_TYPES}), fixed_at REAL, push_id INTEGER REFERENCES pushes,"
        " UNIQUE (scope_id, name))",
        # One row per write transaction of acks: ack ids first_ack .. first_ack + acks - 1.
        "CREATE TABLE ack_groups (first_ack INTEGER PRIMARY KEY, push_id INTEGER NOT NULL"
        " REFERENCES pushes, acks INTEGER NOT NULL, acked_at REAL NOT NULL)",
        "CREATE INDEX ack_groups_by_push ON ack_groups (push_id)",
        "CREATE TABLE acks (ack_id INTEGER PRIMARY KEY, request_id TEXT)",
        "CREATE TABLE acked_values (scope_id INTEGER NOT NULL REFERENCES scopes,"
        " distinct_id TEXT NOT NULL, state BLOB NOT NULL, PRIMARY KEY (scope_id, distinct_id))"
        " WITHOUT ROWID",
    ),
    # 2: adds and appends (not idempotent). A push's fingerprint names its adds
    # (`planning.steps.add_fingerprint`); each row's adds are recorded in flight before they
    # are sent, then acknowledged (or failed: certainly not stored). In flight at the end: in
    # doubt.
    (
        "ALTER TABLE pushes ADD COLUMN fingerprint TEXT",
        "CREATE INDEX pushes_by_fingerprint ON pushes (fingerprint) WHERE fingerprint IS NOT NULL",
        "CREATE TABLE add_requests (push_id INTEGER NOT NULL REFERENCES pushes,"
        " request_key TEXT NOT NULL, state TEXT NOT NULL CHECK (state IN"
        " ('in_flight', 'acked', 'failed')), request_id TEXT, at REAL NOT NULL,"
        " PRIMARY KEY (push_id, request_key)) WITHOUT ROWID",
    ),
    # 3: the request rate Fyno accepted at each destination, learnt from its 429 answers, so
    # the next push starts at it instead of learning it again (`fyno_pandas.ledger.rates`).
    (
        "CREATE TABLE rate_limits (scope_id INTEGER PRIMARY KEY REFERENCES scopes,"
        " rps REAL NOT NULL CHECK (rps > 0), learnt_at REAL NOT NULL)",
    ),
    # 4: a row left in doubt records which of its adds and appends landed (the result's
    # ``applied``), so a resume sends the rest of the row and nothing twice.
    ("ALTER TABLE add_requests ADD COLUMN applied TEXT",),
)
