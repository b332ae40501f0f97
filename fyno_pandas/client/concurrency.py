"""How many requests a push keeps in flight: a fixed number, or one adapted to round trips.

A worker holds a slot of `ConcurrencyLimit` while it works on a unit (sends its requests and
records their answers), so at most ``limit`` answers can be unrecorded when the process dies.
It lends the slot back while it sleeps on a ``Retry-After`` or a backoff (`sleep`): a request
told to wait does not hold up the others, and the pool keeps spare threads for such sleepers.

Adaptive (``concurrency="auto"``), the limit follows the gradient of the round trips, the way
TCP Vegas and Netflix's Gradient2 limiter do: each window of answers (``limit`` of them)
compares their mean round trip with the base one, the smallest window mean seen (which creeps
up by 1% a second, so a base from a quieter time is forgotten). While the mean stays
within ``TOLERANCE`` x the base (the latency is the network's, not a queue's) the limit grows
by a twentieth per window; beyond it (requests queue at the server) the limit shrinks in
proportion, by at most a tenth per window. It never leaves ``[1, ceiling]``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["ConcurrencyLimit"]

TOLERANCE = 1.5  # a round trip this much above the base one means requests queue
_GROWTH = 1.05  # per window of round trips within the tolerance
_SHRINK = 0.9  # per window at most
_FORGET = 0.01  # the base round trip's creep per second
_MIN_WINDOW = 8  # answers per window at least (a window is ``limit`` answers)


class ConcurrencyLimit:
    """Slots for requests in flight, shared by a push's workers.

    Parameters
    ----------
    initial : int
        Requests in flight at the start.
    ceiling : int, optional
        At most this many (default ``initial``).
    adaptive : bool, default False
        Follow the measured round trips; False: ``initial`` throughout.
    clock : callable, default time.monotonic

    Attributes
    ----------
    peak : int
        The highest limit reached.
    """

    def __init__(
        self,
        initial: int,
        ceiling: int | None = None,
        *,
        adaptive: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ceiling = max(initial, ceiling or initial)
        self.adaptive = adaptive
        self._limit = float(initial)
        self._busy = 0
        self._returning = 0  # sleepers waiting to take their slot back: they go first
        lock = threading.Lock()
        self._cond = threading.Condition(lock)  # new units wait here
        self._back = threading.Condition(lock)  # returning sleepers wait here
        self._held = threading.local()
        self._clock = clock
        self._window: list[float] = []
        self._base: float | None = None
        self._window_start = clock()
        self.peak = initial

    @property
    def limit(self) -> int:
        """Requests in flight allowed now."""
        return max(1, int(self._limit))

    @property
    def threads(self) -> int:
        """Worker threads a pool needs: a slot for each, and as many asleep on a 429."""
        return 2 * self.ceiling

    def enter(self, stop: threading.Event | None = None) -> bool:
        """Take a slot (wait while every slot is busy); False once ``stop`` is set."""
        with self._cond:
            while stop is None or not stop.is_set():
                if self._busy + self._returning < self.limit:
                    break
                self._cond.wait(0.1)
            else:
                return False
            self._busy += 1
        self._held.slot = True
        return True

    def keep(self, stop: threading.Event | None = None) -> bool:
        """May the calling thread hold its slot on for its next unit? False once ``stop`` is
        set, a sleeper waits to take its slot back, or the limit shrank below the slots held:
        then it must `leave`. A worker that keeps its slot wakes no other thread, where
        `leave` then `enter` woke a waiting spare thread at every unit."""
        if stop is not None and stop.is_set():
            return False
        # Read without the lock: a sleeper counted just after is let in by the next unit's
        # check, its `_reenter` polling meanwhile; a slot is never added here.
        return not self._returning and self._busy <= self.limit

    def leave(self) -> None:
        """Give the calling thread's slot back."""
        self._held.slot = False
        with self._cond:
            self._busy -= 1
            (self._back if self._returning else self._cond).notify()

    def sleep(self, seconds: float, stop: threading.Event | None = None) -> None:
        """Sleep ``seconds`` (cut short by ``stop``) without holding a slot, then take it back."""
        holding = getattr(self._held, "slot", False)
        if holding:
            self.leave()
        if stop is not None:
            stop.wait(seconds)
        elif seconds > 0:
            time.sleep(seconds)
        if holding:
            self._reenter()

    def _reenter(self) -> None:
        # Before any new unit (a sleeper's request is older); a stopped push still finishes
        # the unit it is in, so the slot is taken back regardless.
        with self._cond:
            self._returning += 1
            while self._busy >= self.limit:
                self._back.wait(0.1)
            self._returning -= 1
            self._busy += 1
            if self._busy + self._returning < self.limit:  # a slot is still free: a new unit
                self._cond.notify()
        self._held.slot = True

    def observe(self, rtt: float) -> None:
        """Record an accepted request's round trip, in seconds."""
        if not self.adaptive:
            return
        with self._cond:
            self._window.append(rtt)
            if len(self._window) < max(_MIN_WINDOW, self.limit):
                return
            short = sum(self._window) / len(self._window)
            self._window.clear()
            now = self._clock()
            if self._base is None:
                self._base = short
            creep = 1 + _FORGET * (now - self._window_start)
            base = self._base = min(short, self._base * creep)
            self._window_start = now
            if short <= TOLERANCE * base:
                limit = self._limit * _GROWTH + 1.0
            else:
                limit = self._limit * max(_SHRINK, TOLERANCE * base / short)
            self._limit = min(float(self.ceiling), max(1.0, limit))
            self.peak = max(self.peak, self.limit)
            self._back.notify_all()
            self._cond.notify_all()

    def __repr__(self) -> str:
        kind = f"adaptive up to {self.ceiling}" if self.adaptive else "fixed"
        return f"ConcurrencyLimit({self.limit}, {kind})"
