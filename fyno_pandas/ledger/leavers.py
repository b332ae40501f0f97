"""Mirror sync's question to the ledger: who holds these properties, and who left the frame.

A user *holds* a property when the latest state the ledger acknowledged for it is a value (a
hash other than 0; 0 records an acknowledged unset). `read_holders` reads a scope's states once
(`Ledger.acknowledged_hashes`) and `holders` reduces them, in pure pandas and numpy as
`fyno_pandas.ledger.check` does, to a users x properties table; `Holders.leaving` then says,
given which of them the frame named, whose properties a mirror push clears.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .check import categories, match_rows

if TYPE_CHECKING:
    from .scope import Scope
    from .store import Ledger

__all__ = ["Holders", "holders", "read_holders"]


@dataclass(frozen=True)
class Holders:
    """The users holding at least one of ``properties``, by the ledger's latest states.

    Attributes
    ----------
    properties : tuple of str
        The properties asked about, in order (the columns of ``held``).
    users : pandas.Index
        The distinct ids holding at least one of them, each once.
    held : numpy.ndarray
        bool, (users, properties): which of the properties each user holds.
    known_users : int
        The users of the scope with any acknowledged state (0: the ledger has no history for
        this destination).
    """

    properties: tuple[str, ...]
    users: pd.Index
    held: np.ndarray
    known_users: int

    def __len__(self) -> int:
        return len(self.users)

    def named(self, distinct_ids: Sequence[str | None] | np.ndarray) -> np.ndarray:
        """Positions in ``users`` of the ids the frame names (None and unknown ids left out)."""
        rows = match_rows(self.users, distinct_ids)
        return rows[rows >= 0]

    def leaving(self, staying: np.ndarray) -> tuple[pd.Index, np.ndarray]:
        """The users not ``staying`` (bool per user) and, per user, the properties they hold."""
        gone = ~np.asarray(staying, dtype=bool)
        return self.users[gone], self.held[gone]


def holders(acked: pd.DataFrame, properties: Sequence[str], before: Any = None) -> Holders:
    """Reduce `Ledger.acknowledged_hashes` to the users holding any of ``properties``.

    Parameters
    ----------
    acked : DataFrame
        distinct_id, property, value_hash, acked_at (categorical or plain columns).
    properties : sequence of str
    before : timestamp, optional
        Count only states acknowledged before this time (UTC): a value set again later (a
        user who came back) is not held in this sense.
    """
    wanted = tuple(properties)
    users, codes = categories(acked["distinct_id"])
    names, name_codes = categories(acked["property"])
    column = pd.Index(list(wanted), dtype=object).get_indexer(names)[name_codes]
    keep = (column >= 0) & (acked["value_hash"].to_numpy(dtype=np.uint64) != 0)
    if before is not None and len(acked):
        at = acked["acked_at"].to_numpy(dtype="datetime64[ns]")
        limit = pd.Timestamp(before).tz_convert(None).to_datetime64()
        keep &= at < limit
    held = np.zeros((len(users), len(wanted)), dtype=bool)
    held[codes[keep], column[keep]] = True
    anything = held.any(axis=1)
    return Holders(wanted, users[anything], held[anything], len(users))


def read_holders(
    ledger: Ledger,
    scope: Scope,
    properties: Sequence[str],
    distinct_ids: Sequence[str] | None = None,
    before: Any = None,
) -> Holders:
    """`holders` of a scope's states: every user's, or only those of ``distinct_ids`` (then
    ``known_users`` counts those the ledger knows)."""
    return holders(ledger.acknowledged_hashes(scope, distinct_ids), properties, before)
