"""Group commit of acks: each worker waits for its own ack to be durable, commits are shared."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..errors import FynoLedgerError
from .values import Ack

if TYPE_CHECKING:
    from .store import Ledger

__all__ = ["AckWriter"]


class AckWriter:
    """Group commit: each worker's :meth:`ack` returns once its ack is durable.

    A worker must not start its next request before its previous ack is committed (else a crash
    could lose an acknowledged value and send it twice). Committing one transaction per ack
    would cap throughput, so callers that arrive while a commit is running queue up, and the
    next of them commits the whole queue in one transaction (leader/follower, no extra thread).

    Attributes
    ----------
    acks, commits : int
        Acks recorded and transactions used so far (``acks / commits`` is the batching gained).
    """

    def __init__(self, ledger: Ledger, push_id: int, endpoint: str | None, wsid: str, version: str):
        self._ledger = ledger
        self._target = (push_id, endpoint, wsid, version)
        self._cond = threading.Condition()
        self._queue: list[Ack] = []
        self._busy = False
        self._issued = 0  # tickets handed out; ticket t is the t-th ack queued
        self._settled = 0  # every ticket below this is committed or failed
        self._outcome: dict[int, list[str] | BaseException] = {}
        self.acks = 0
        self.commits = 0

    def ack(
        self,
        distinct_id: str,
        hashes: Mapping[str, int],
        types: Mapping[str, str],
        request_id: str | None,
    ) -> list[str]:
        """Record one acknowledged request; block until it is committed.

        Returns the properties not recorded because their type differs from the fixed one (see
        :meth:`Ledger.record_acks`). Raises `FynoLedgerError` when the commit failed.
        """
        with self._cond:
            ticket = self._issued
            self._issued += 1
            self._queue.append((distinct_id, hashes, types, request_id))
            while self._busy and ticket >= self._settled:
                self._cond.wait()
            lead = ticket >= self._settled  # still queued and nobody is committing
            if lead:
                batch, self._queue, self._busy = self._queue, [], True
                first = self._settled
        if lead:
            self._commit(batch, first)
        with self._cond:
            outcome = self._outcome.pop(ticket)
        if isinstance(outcome, Exception):
            raise FynoLedgerError(f"ack of {distinct_id!r} not recorded: {outcome}") from outcome
        if isinstance(outcome, BaseException):  # KeyboardInterrupt or SystemExit during commit
            raise outcome
        return outcome

    def _commit(self, batch: list[Ack], first: int) -> None:
        outcomes: list[list[str] | BaseException]
        try:
            outcomes = list(self._ledger._record(*self._target, batch))
        except BaseException as exc:  # noqa: BLE001 (handed to every waiting caller, re-raised)
            outcomes = [exc] * len(batch)
        with self._cond:
            self._outcome.update(zip(range(first, first + len(batch)), outcomes, strict=True))
            self._settled = first + len(batch)
            self._busy = False
            if not isinstance(outcomes[0], BaseException):
                self.acks += len(batch)
                self.commits += 1
            self._cond.notify_all()
