"""`fyno_pandas.sending.state.run_units`: units run on the slots' holders."""

from __future__ import annotations

import threading
from types import SimpleNamespace

from fyno_pandas.client.concurrency import ConcurrencyLimit
from fyno_pandas.sending.state import run_units


class CountingCondition(threading.Condition):
    """A condition that counts the threads it was asked to wake."""

    wakes = 0

    def notify(self, n: int = 1) -> None:
        self.wakes += n
        super().notify(n)


def test_a_worker_going_on_to_its_next_unit_wakes_no_spare_thread() -> None:
    """A worker holds its slot from unit to unit: the pool's spare threads (kept for requests
    waiting out a 429) are not woken at every unit to find the slot taken again."""
    slots = ConcurrencyLimit(2)
    slots._cond = CountingCondition(slots._cond._lock)  # type: ignore[attr-defined]
    push = SimpleNamespace(stop=threading.Event(), client=SimpleNamespace(slots=slots))
    ran: list[int] = []

    def unit(k: int) -> None:
        ran.append(k)
        threading.Event().wait(0.0005)  # a request: the GIL is free meanwhile

    assert not run_units(push, 300, unit, None)  # type: ignore[arg-type]
    assert sorted(ran) == list(range(300))
    assert slots._cond.wakes <= slots.threads  # each worker's last leave, not one per unit
