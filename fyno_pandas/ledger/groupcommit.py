"""Group commit of acks: each worker waits for its own ack to be durable, commits are shared."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import FynoLedgerError
from .acktable import AckTable, RowAck

if TYPE_CHECKING:
    from .scope import Scope

__all__ = ["AckWriter", "RecordAcks"]

#: ``record(scope, push_id, acks)``: commit ``acks`` in one transaction and return, per ack, the
#: (row position, property) of its values not recorded (`fyno_pandas.ledger.Ledger.record_rows`).
RecordAcks = Callable[["Scope", int, list[RowAck]], list[list[tuple[int, str]]]]

_LEAD = object()  # a waiter's outcome that tells it to commit the queue itself
# Gives the CPU to another runnable thread, if any (Windows: Sleep(0) does that).
_yield = getattr(os, "sched_yield", lambda: time.sleep(0))


class _Waiter:
    """One queued ack; ``wake`` is held until its outcome is known (a lock: the cheapest wait)."""

    __slots__ = ("ack", "outcome", "wake")

    def __init__(self, ack: Any) -> None:
        self.ack = ack
        self.outcome: Any = None
        self.wake = threading.Lock()
        self.wake.acquire()


class AckWriter:
    """Group commit: each worker's :meth:`ack` returns once its ack is durable.

    A worker must not start its next request before its previous ack is committed (else a crash
    could lose an acknowledged value and send it twice). Committing one transaction per ack
    would cap throughput, so callers that arrive while a commit is running queue up, and when
    it ends the first of them commits the whole queue in one transaction (leader/follower, no
    extra thread). Every caller is woken once: with its outcome, or to lead the next commit.

    Before taking the queue a leader yields its CPU (and the GIL): workers holding answers
    record them now and join this commit instead of the next. Alone, the yield returns at once;
    with 16 workers it makes groups several times larger, and the fewer commits cost less CPU
    than the wait does (``benchmarks/push_throughput.py``, line 1b).

    Attributes
    ----------
    acks, commits : int
        Acks recorded and transactions used so far (``acks / commits`` is the batching gained).
    """

    def __init__(self, record: RecordAcks, scope: Scope, push_id: int) -> None:
        self._record = record
        self._target = (scope, push_id)
        self._mutex = threading.Lock()
        self._queue: list[_Waiter] = []
        self._busy = False  # a leader is committing
        self.acks = 0
        self.commits = 0

    def ack(
        self,
        distinct_id: str,
        hashes: Mapping[str, int],
        types: Mapping[str, str],
        request_id: str | None,
    ) -> list[str]:
        """Record one acknowledged request given as dicts; block until it is committed.

        Returns the properties not recorded because their type differs from the fixed one (see
        :meth:`Ledger.record_acks`). Raises `FynoLedgerError` when the commit failed. A push
        queues rows of its plan's `AckTable` with :meth:`write` instead.
        """
        table = AckTable.from_acks([(distinct_id, hashes, types, request_id)])
        outcome = self.write((table, (0,), request_id), f"ack of {distinct_id!r}")
        return [name for _, name in outcome]

    def write(self, item: Any, what: str) -> Any:
        """Queue ``item`` for the record function; block until it is committed and return its
        outcome (``what`` names it in the error raised when the commit failed)."""
        me = _Waiter(item)
        with self._mutex:
            self._queue.append(me)
            lead = not self._busy
            self._busy = True
        if not lead:
            me.wake.acquire()
            lead = me.outcome is _LEAD
        if lead:
            self._commit_queue(me)
        outcome = me.outcome
        if isinstance(outcome, Exception):
            raise FynoLedgerError(f"{what} not recorded: {outcome}") from outcome
        if isinstance(outcome, BaseException):  # KeyboardInterrupt or SystemExit during commit
            raise outcome
        return outcome

    def _commit_queue(self, me: _Waiter) -> None:
        _yield()
        with self._mutex:
            batch, self._queue = self._queue, []
        outcomes: list[Any]
        try:
            outcomes = list(self._record(*self._target, [w.ack for w in batch]))
        except BaseException as exc:  # noqa: BLE001 (handed to every waiting caller, re-raised)
            outcomes = [exc] * len(batch)
        with self._mutex:
            if not isinstance(outcomes[0], BaseException):
                self.acks += len(batch)
                self.commits += 1
            if self._queue:  # arrived during the commit: the first of them leads the next one
                self._queue[0].outcome = _LEAD
                self._queue[0].wake.release()
            else:
                self._busy = False
        for waiter, outcome in zip(batch, outcomes, strict=True):
            waiter.outcome = outcome
            if waiter is not me:
                waiter.wake.release()
