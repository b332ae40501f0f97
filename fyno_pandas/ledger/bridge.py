"""How `plan` and `push` use the ledger: which file, known types, values Fyno holds, new acks."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..client.connection import connected
from ..errors import FynoInputError
from .acktable import AckTable
from .check import CHANGED, HOLDS, compare_states
from .groupcommit import AckWriter
from .scope import Scope
from .store import Ledger, default_path

if TYPE_CHECKING:
    from ..planning.plan import PushPlan
    from .values import States

__all__ = [
    "AckRecorder",
    "TypeClaims",
    "choose_ledger",
    "known_types",
    "opened",
    "reading_ahead",
    "skip_acknowledged",
]


def choose_ledger(spec: Any) -> Ledger | Path | None:
    """Normalise a ``ledger=`` argument: an open `Ledger`, a file path, or None for no ledger.

    ``None`` means the ledger named by `fyno_pandas.connect`, else the default file
    (`default_path`); ``False`` no ledger, a string or path that file, a `Ledger` itself (left
    open for its owner).
    """
    if spec is None:
        spec = connected("ledger")
    if spec is False:
        return None
    if spec is None:
        return default_path()
    if isinstance(spec, Ledger):
        return spec
    if isinstance(spec, (str, os.PathLike)):
        return Path(spec).expanduser()
    raise FynoInputError(
        "ledger must be a fyno_pandas.Ledger, a file path, None (the default file) or False "
        f"(no ledger), not {spec!r}",
        rule="ledger",
    )


@contextmanager
def opened(choice: Ledger | Path | None, *, create: bool) -> Iterator[Ledger | None]:
    """The chosen ledger, open; a file opened here is closed on exit.

    With ``create=False`` (planning) a file that does not exist yet yields None: a plan reads
    the ledger but never creates it.
    """
    if choice is None or isinstance(choice, Ledger):
        yield choice
    elif not create and not choice.exists():
        yield None
    else:
        with Ledger(choice) as ledger:
            yield ledger


def known_types(ledger: Ledger, config: Any) -> dict[str, str]:
    """The property types the ledger saw fixed at ``config``'s destination."""
    return ledger.property_types(Scope.of(config))


@contextmanager
def reading_ahead(ledger: Ledger | None, config: Any, rows: int) -> Iterator[Future | None]:
    """Read the acknowledged states of ``config``'s destination in a thread while the caller
    plans a frame of ``rows`` rows: the future `skip_acknowledged` takes (None: no ledger).

    SQLite reads without the GIL, so a daily sync's million users are read meanwhile instead
    of after. Its result is None when the destination holds too many users to read them all
    (`Ledger.acknowledged_scope_states`). An error of the planning waits for the read, whose
    own error is then not raised.
    """
    if ledger is None:
        yield None
        return
    with ThreadPoolExecutor(1, thread_name_prefix="fyno-ledger-read") as reader:
        yield reader.submit(ledger.acknowledged_scope_states, Scope.of(config), rows)


def skip_acknowledged(
    plan: PushPlan, ledger: Ledger, config: Any, ahead: Future | None = None
) -> PushPlan:
    """``plan`` without the values the ledger says Fyno acknowledged (``only_changed``).

    Never for add, append or remove cells; a set_once cell is unchanged when the ledger says
    the user holds any value of the property. ``ahead``: the states `reading_ahead` reads.
    """
    scope = Scope.of(config)
    ids = plan.distinct_ids[plan.sendable]
    checked = [p for p in plan.properties if plan.ops.get(p, "set") in ("set", "set_once")]
    if ahead is not None and ahead.done() and ahead.result() is None:
        ahead = None  # too many users to read ahead: the plan's own are read below
    # SQLite reads without the GIL, so the plan's values are hashed meanwhile; when the ledger
    # knows none of these users the read ends first and the hashing stops.
    with ThreadPoolExecutor(1, thread_name_prefix="fyno-ledger-read") as reader:
        reading = ahead or reader.submit(ledger.acknowledged_states, scope, ids)
        hashes = {}
        for p in checked:
            if reading.done() and _knows_nobody(reading.result()):
                break
            hashes[p] = plan.value_hashes(p)
        states = reading.result()
    if states is None:  # the count ahead ended only now, saying too many to read them all
        states = ledger.acknowledged_states(scope, ids)
    if not states.users:
        return plan
    once = [p for p in checked if plan.ops.get(p) == "set_once"]
    same, request_ids, acked_at = compare_states(hashes, plan.distinct_ids, states, once)
    return plan.without_acknowledged(same, request_ids, acked_at)


def _knows_nobody(states: States | None) -> bool:
    return states is not None and not states.users


class TypeClaims:
    """A push's claims on new properties' types in a shared ledger (`fyno_pandas.ledger.claims`).

    The sender calls :meth:`claim` before seeding and :meth:`fixed` after each accepted seed; the
    push session calls :meth:`release` when the push ends.
    """

    def __init__(self, ledger: Ledger, scope: Scope, push_id: int) -> None:
        self._ledger, self._scope, self._push_id = ledger, scope, push_id
        self._claimed: dict[str, str] = {}

    def claim(self, types: dict[str, str]) -> dict[str, str]:
        """Claim ``{property: type}``; return those another push holds with another type."""
        taken = self._ledger.claim_types(self._scope, self._push_id, types)
        self._claimed.update({p: t for p, t in types.items() if p not in taken})
        return taken

    def fixed(self, properties: Sequence[str]) -> None:
        """Fyno accepted the seed of ``properties``: their claimed types are fixed."""
        fixed = {p: self._claimed[p] for p in properties}
        self._ledger.confirm_types(self._scope, self._push_id, fixed)

    def release(self) -> None:
        """Withdraw the claims no accepted seed fixed."""
        if self._claimed:
            self._ledger.release_claims(self._push_id)


class AckRecorder:
    """The sender's ``on_ack`` for one plan: records each acknowledged row before going on.

    A worker's next request waits until its ack is committed, so a killed process has sent at
    most ``concurrency`` acknowledged requests the ledger does not know (``concurrency *
    batch_size`` rows in batch mode). What a row's ack records comes from an `AckTable` of the
    block of sendable rows it falls in, built when the first of them is acknowledged, so a
    worker only queues the rows' positions and request id: the group's commit writes them in
    bulk (`fyno_pandas.ledger.writes`). A batch answer is recorded in one transaction of its
    own.

    Workers take rows in order, so the blocks in use are the few around the shared cursor: a
    push holds a few blocks' tables, not one of every row (a million users' are 60 MB).

    Attributes
    ----------
    not_stored : list of (row position, property)
        Acknowledged values whose type differs from the one the ledger saw fixed meanwhile
        (another push won the race): Fyno accepted them and will not store them.
    """

    _BLOCK = 8_192  # sendable rows per table: a few ms of hashing each
    _KEPT = 4  # tables held: the rows in flight span two blocks at most at the defaults

    def __init__(
        self, plan: PushPlan, ledger: Ledger, scope: Scope, push_id: int, writer: AckWriter
    ) -> None:
        self._ledger, self._writer, self._target = ledger, writer, (scope, push_id)
        self._plan = plan
        # the rows that can be acknowledged, sorted: a row's place among them is found by
        # bisection; None when every row can be (its place is its position)
        sendable = np.flatnonzero(plan.sendable)
        self._rows = None if len(sendable) == len(plan.index) else sendable
        self._count = len(sendable)
        self._tables: dict[int, AckTable] = {}
        self._lock = threading.Lock()
        self.not_stored: list[tuple[int, str]] = []

    def __call__(self, positions: Sequence[int], request_id: str | None) -> None:
        places = list(positions)
        if self._rows is not None:
            places = np.searchsorted(self._rows, places).tolist()
        first, last = places[0] // self._BLOCK, places[-1] // self._BLOCK
        if first == last:
            start = first * self._BLOCK
            table, rows = self._block(first), [place - start for place in places]
        else:  # a batch across two blocks: a table of its own rows
            table, rows = self._table(np.asarray(places)), list(range(len(places)))
        ack = (table, rows, request_id)
        if len(rows) == 1:
            found = self._writer.write(ack, f"ack of {table.ids[rows[0]]!r}")
        else:
            found = self._ledger.record_rows(*self._target, [ack])[0]
        if found:
            where = dict(zip(rows, positions, strict=True))
            self.not_stored.extend((int(where[row]), prop) for row, prop in found)

    def _block(self, block: int) -> AckTable:
        table = self._tables.get(block)  # the common case, without the lock
        if table is not None:
            return table
        with self._lock:
            if block not in self._tables:
                start = block * self._BLOCK
                self._tables[block] = self._table(np.arange(start, start + self._BLOCK))
                if len(self._tables) > self._KEPT:
                    del self._tables[min(self._tables)]
            return self._tables[block]

    def _table(self, places: np.ndarray) -> AckTable:
        """The `AckTable` of the sendable rows at ``places`` (those past the end: none)."""
        places = places[places < self._count]
        plan, rows = self._plan, places if self._rows is None else self._rows[places]
        return AckTable.from_columns(
            plan.distinct_ids[rows],
            (
                (
                    p,
                    _hashes(plan, p, rows),
                    np.not_equal(plan.fragments[p][rows], None),
                    plan.unsets[p][rows],
                    None if plan.ops.get(p) == "remove" else plan.fyno_types.get(p),
                )
                for p in plan.properties
            ),
            len(plan.properties),
        )


def _hashes(plan: PushPlan, prop: str, rows: np.ndarray) -> np.ndarray:
    """What an ack records per row at ``rows``: the value's hash, or the mark of its op
    (`HOLDS` for set_once, `CHANGED` for add, append and remove: a value the ledger cannot
    know)."""
    op = plan.ops.get(prop, "set")
    if op == "set":
        return plan.value_hashes(prop, rows)
    return np.full(len(rows), HOLDS if op == "set_once" else CHANGED, dtype=np.uint64)
