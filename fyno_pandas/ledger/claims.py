"""Type claims: pushes that share a ledger agree on a new property's type before seeding it.

A row of ``properties`` with a type and no ``fixed_at`` is a claim: the push ``push_id`` is
about to send the value that fixes the property's type in Fyno. The seed's 202 turns the claim
into a fixed type (``fixed_at`` set); a push that ends without that 202 releases its claims. A
claim whose push died stays: its seed may have been applied, so a later push that plans another
type is told (its cells are dropped), and one that plans the same type seeds it again.

Every function runs in the caller's ``BEGIN IMMEDIATE`` transaction, so two processes claiming
at once are serialised by SQLite's write lock.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Mapping

__all__ = ["claim", "confirm", "release"]

_TYPE_OF = "SELECT fyno_type FROM properties WHERE scope_id = ? AND name = ?"
_CLAIM = (
    "INSERT INTO properties (scope_id, name, fyno_type, fixed_at, push_id)"
    " VALUES (?, ?, ?, NULL, ?) ON CONFLICT (scope_id, name) DO UPDATE SET"
    " fyno_type = excluded.fyno_type, push_id = excluded.push_id"
    " WHERE properties.fixed_at IS NULL"
)


def claim(
    conn: sqlite3.Connection, scope: int, push_id: int, types: Mapping[str, str]
) -> dict[str, str]:
    """Claim ``{property: type}`` for ``push_id``; return ``{property: other type}`` of the
    properties another push already claimed or fixed with another type (not claimed)."""
    taken = {}
    for name, fyno_type in types.items():
        row = conn.execute(_TYPE_OF, (scope, name)).fetchone()
        if row is not None and row[0] is not None and row[0] != fyno_type:
            taken[name] = row[0]
        else:
            conn.execute(_CLAIM, (scope, name, fyno_type, push_id))
    return taken


def confirm(conn: sqlite3.Connection, scope: int, push_id: int, types: Mapping[str, str]) -> None:
    """Fyno accepted the seeds of ``{property: type}``: these types are fixed from now on."""
    conn.executemany(
        "UPDATE properties SET fyno_type = ?, fixed_at = ?, push_id = ?"
        " WHERE scope_id = ? AND name = ? AND fixed_at IS NULL",
        [(fyno_type, time.time(), push_id, scope, name) for name, fyno_type in types.items()],
    )


def release(conn: sqlite3.Connection, push_id: int) -> None:
    """Withdraw the claims of ``push_id`` that no accepted seed fixed."""
    conn.execute(
        "UPDATE properties SET fyno_type = NULL, push_id = NULL"
        " WHERE push_id = ? AND fixed_at IS NULL",
        (push_id,),
    )
