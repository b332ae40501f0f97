"""`AddJournal`: a push's adds and appends written to the ledger as in flight before they are
sent, then acknowledged or failed (`fyno_pandas.ledger.adds`).

The sender calls :meth:`flying` before a row's first request when the row adds or appends
something, and :meth:`settle` once the row's outcome is known. Both wait for their commit,
which concurrent workers share (`AckWriter.write`): a crash leaves every add that may have
reached Fyno recorded in flight, so a resume treats it as in doubt and does not resend it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from ..planning.steps import add_keys
from .adds import ACKED, FAILED, IN_FLIGHT
from .groupcommit import AckWriter

if TYPE_CHECKING:
    import numpy as np

    from ..planning.plan import PushPlan

__all__ = ["AddJournal"]


class AddJournal:
    """The in-flight records of one plan's adds and appends; see the module docstring."""

    def __init__(self, plan: PushPlan, writer: AckWriter) -> None:
        self.keys = add_keys(plan)
        self._writer = writer
        self._marked: set[int] = set()
        self._lock = threading.Lock()

    def flying(self, positions: Sequence[int]) -> None:
        """Record these rows' adds in flight (rows without adds, or marked before, aside)."""
        with self._lock:
            new = [p for p in positions if self.keys[p] is not None and p not in self._marked]
            self._marked.update(new)
        if new:
            items = [(self.keys[p], IN_FLIGHT, None, None) for p in new]
            self._writer.write(items, f"{len(new)} adds in flight")

    def settle(
        self,
        acked: Sequence[int],
        failed: Sequence[int],
        request_ids: np.ndarray,
        doubted: Mapping[int, str] | None = None,
    ) -> None:
        """Record ``acked`` rows' adds as acknowledged, ``failed`` rows' as certainly not
        stored; a marked row in neither stays in flight: in doubt, with what ``doubted`` says
        landed of it (`fyno_pandas.sending.state.PushState.applied_text`)."""
        with self._lock:
            acked = [p for p in acked if p in self._marked]
            failed = [p for p in failed if p in self._marked]
            doubted = {p: t for p, t in (doubted or {}).items() if p in self._marked}
            self._marked.difference_update(failed)  # may be marked again when sent later
        items = [(self.keys[p], ACKED, request_ids[p], None) for p in acked]
        items += [(self.keys[p], FAILED, None, None) for p in failed]
        items += [(self.keys[p], IN_FLIGHT, None, text) for p, text in doubted.items()]
        if items:
            self._writer.write(items, f"{len(items)} add outcomes")
