"""`AckTable`: what an ack of each row would record, as arrays, so a group of acks is written
in bulk (`fyno_pandas.ledger.values.write_rows`) and a worker queues only a row position.

A push builds one table per plan before sending (`fyno_pandas.ledger.bridge.AckRecorder`); the
dict form of an ack (``record_acks``, `AckWriter.ack`) and a batch's columns (``record_batch``)
become tables too, so the ledger has one write path.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .values import REC

__all__ = ["Ack", "AckTable", "Column", "RowAck", "stored"]

#: (distinct_id, {property: value_hash}, {property: Fyno type}, request_id); a hash of 0 with
#: no type records an unset.
Ack = tuple[str, Mapping[str, int], Mapping[str, str], "str | None"]
#: One property of a batch: name, value hashes, rows setting it, rows unsetting it, and the
#: Fyno type of the values set (None when unknown).
Column = tuple[str, np.ndarray, np.ndarray, np.ndarray, "str | None"]

_U64 = (1 << 64) - 1


def stored(fixed: str | None, sent: str | None) -> bool:
    """Whether Fyno keeps a value of type ``sent`` on a property fixed as ``fixed``."""
    # An ISO date travels as a JSON string, so a String property stores it as a string.
    return fixed is None or sent is None or sent == fixed or (fixed, sent) == ("string", "date")


@dataclasses.dataclass(frozen=True, eq=False)
class AckTable:
    """Per row (one user) and property: the hash an ack records, and whether the row sets or
    unsets the property. Never written to after it is built.

    Attributes
    ----------
    ids : numpy.ndarray
        Each row's distinct id (str; object dtype).
    names : list of str
        The properties, one per column.
    hashes : numpy.ndarray
        (rows, properties) uint64: the value's hash where set, 0 elsewhere (so an unset records
        0, the ledger's mark of an unset).
    is_set, is_unset : numpy.ndarray
        (rows, properties) bool.
    sent : list
        Per property, the Fyno type of the values set: one str or None for the whole column,
        or an object array with one per row (acks given as dicts).
    """

    ids: np.ndarray
    names: list[str]
    hashes: np.ndarray
    is_set: np.ndarray
    is_unset: np.ndarray
    sent: list[str | np.ndarray | None]
    # What `records` derived from the types fixed, per tuple of them (a few per push at most).
    _derived: dict[tuple[object, ...], tuple[Any, ...]] = dataclasses.field(
        default_factory=dict, repr=False
    )

    def records(
        self, fixed: Mapping[str, tuple[int, str | None]]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        """What the rows record once these types are fixed (``{name: (prop_id, fixed
        type)}``): each property's id, the (rows, properties) records written, each row's
        bytes of them, and the (rows, properties) values not recorded because their type
        differs from the fixed one (None: no such value). A property not in ``fixed`` records
        nothing. Derived once per set of fixed types, not per ack.
        """
        key = tuple(fixed.get(name) for name in self.names)
        if key not in self._derived:
            present = np.array([f is not None for f in key], dtype=bool)
            ok = np.zeros(self.is_set.shape, dtype=bool)
            for k, (found, sent) in enumerate(zip(key, self.sent, strict=True)):
                if found is None:
                    continue
                fixed_type = found[1]  # type: ignore[index]
                if isinstance(sent, np.ndarray):
                    ok[:, k] = [stored(fixed_type, s) for s in sent]
                else:
                    ok[:, k] = stored(fixed_type, sent)
            ok &= self.is_set
            keep = ok | (self.is_unset & present)
            rejected = self.is_set & present & ~ok
            self._derived[key] = (
                np.array([f[0] if f is not None else 0 for f in key], dtype=np.uint32),  # type: ignore[index]
                keep,
                keep.sum(axis=1) * REC.size,
                rejected if rejected.any() else None,
            )
        return self._derived[key]  # type: ignore[return-value]

    @classmethod
    def from_columns(
        cls, ids: Sequence[str] | np.ndarray, columns: Iterable[Column], width: int | None = None
    ) -> AckTable:
        """A table of ``ids`` from one `Column` per property; ``width``: how many a generator
        yields (a sequence says it itself). Each is written into the table as it comes, so a
        generator's caller holds one property's hashes at a time, not every property's."""
        if width is None:
            columns = list(columns)
            width = len(columns)
        hashes = np.zeros((len(ids), width), dtype=np.uint64)
        is_set = np.zeros((len(ids), width), dtype=bool)
        is_unset = np.zeros((len(ids), width), dtype=bool)
        names, sent = [], []
        for k, (name, hashed, set_mask, unset_mask, fixed_type) in enumerate(columns):
            names.append(name)
            sent.append(fixed_type)
            np.copyto(hashes[:, k], hashed, where=set_mask)
            is_set[:, k] = set_mask
            is_unset[:, k] = unset_mask
        return cls(np.asarray(ids, dtype=object), names, hashes, is_set, is_unset, sent)

    @classmethod
    def from_acks(cls, acks: Sequence[Ack]) -> AckTable:
        """A table with one row per ack (ids as text; a user may come more than once)."""
        hashes = [a[1] for a in acks]
        types = [a[2] or {} for a in acks]
        no_unsets = np.zeros(len(acks), dtype=bool)  # an unset is a hash of 0 with no type
        columns = []
        for name in dict.fromkeys(itertools.chain.from_iterable(hashes)):  # in order seen
            values = [h.get(name) for h in hashes]
            is_set = np.fromiter((v is not None for v in values), dtype=bool, count=len(values))
            hashed = np.fromiter(
                (0 if v is None else int(v) & _U64 for v in values), np.uint64, len(values)
            )
            sent = np.array([t.get(name) for t in types], dtype=object)
            kinds = set(sent[is_set])  # one type for the column unless the acks differ
            columns.append(
                (name, hashed, is_set, no_unsets, kinds.pop() if len(kinds) == 1 else sent)
            )
        return cls.from_columns([str(a[0]) for a in acks], columns)


#: A queued ack (`fyno_pandas.ledger.groupcommit.AckWriter`): a table, the positions of the
#: rows one request carried (several: a batch request, one ack for all), and its request id.
RowAck = tuple[AckTable, Sequence[int], "str | None"]
