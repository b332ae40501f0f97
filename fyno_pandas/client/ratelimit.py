"""One request-rate limiter shared by every worker of a push.

A token bucket caps the rate at ``max_rps`` (when given). On top of it the limiter adapts to the
server, the way TCP adapts to a congested link, so that a rate-limited push spends little time on
requests answered 429, while a 429 that is not a rate limit costs little more than its own wait:

- **a limit or a sporadic 429**: a 429 shows a rate limit when the 429s among the answers to
  the current rate (since the last decrease, over the last second, or the last ``MIN_ANSWERS``
  (100) answers when a second holds fewer, as in batch mode) are at least ``LIMIT_MIN`` (3) and
  too many to be chance (a binomial tail of at most ``ALPHA``, 0.2%) for 429s at ``LIMIT_SHARE``
  (10%) of the answers: the requests then outrun what the server accepts by a tenth or more.
  A share judged in a fixed second alone reads chance as a limit when a second holds a few
  dozen answers (3 of 30 is 10%). Once a limit was measured in this push, the share to beat is
  ``KNOWN_LIMIT_SHARE`` (2%), or 1.5 x the share of 429s among the answers since that limit
  when it is higher: random 429s show as that background share, which a limit exceeds. Any
  other 429 is sporadic: its request alone waits its ``Retry-After``, and the shared rate is
  not touched;
- **pause**: a 429 that shows a limit pauses *every* worker for its ``Retry-After`` when that is
  longer than ``CLOSED_AFTER`` (1 s): the server closed a window. One second, the least the
  header can say in whole seconds, says no more than "slow down": the rate cut below answers
  it, and only the throttled requests wait it out;
- **multiplicative decrease**: the first such 429 caused by traffic sent at the current rate
  sets a ceiling just under the rate the server accepted over the last 1.5 s of sending
  (measured from successes) and the rate to ``decrease`` x that ceiling; 429s for requests sent
  before that decrease, or less than their own round trip (and 0.1 s) after it, answer the old
  rate and do not cut it again, and only the answers since the decrease can show a limit
  again. A limit that shows too soon to measure (a burst far above it, which a burst allowance
  makes look faster still) cuts the rate to an eighth and restarts an exponential climb ("slow
  start") that the next, measurable, limit ends: a rate left above the limit would have every
  request wait out its own 429, and nothing measurable would be sent meanwhile. Climbing from
  a remembered rate, the first such limit cuts to just under that rate instead;
- **a floor**: a measured cut never goes below half the best accepted rate measured in this
  push, so 429s that do not follow the rate (random ones past the thresholds) cost at most
  half of it, never a fall to ``min_rps``;
- **additive increase**: every success raises the rate a little, back up to the ceiling within
  ``recover_s`` and then only slowly beyond it (a cautious probe, so the next 429 comes late);
- **memory**: `learnt` is the rate the server was measured to accept in this push (None
  before a measurement); `sending.session` keeps it in the ledger per destination and starts
  the next push at it (``start_rps``). A remembered rate is a start, not a cap: the push climbs
  from it exponentially (as in slow start) until a limit shows; a limit shown too soon to
  measure confirms it. A push that showed no limit and was accepted faster than it
  (`outgrew_start`) makes the session forget it.

Without ``max_rps``, a remembered rate and before any limit, `acquire` costs one clock read and
no lock.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

from ..errors import FynoInputError
from ..options import checks

__all__ = ["RateLimiter"]

_LN2 = math.log(2)
_WINDOW = 1.5  # seconds of recent sending the accepted rate is measured over
_MIN_SPAN = 0.75  # seconds of sending needed to trust a measured rate
_MIN_OKS = 10  # successes needed to trust a measured rate
_MARGIN = 0.93  # aim below the measured rate: it includes the server's burst allowance
_PROBE_BACK = 0.98  # a 429 while probing just above the limit costs this much of the rate
_START_RPS = 10.0  # where to restart when nothing was ever accepted
LIMIT_MIN = 3  # 429s among the recent answers, at least, to show a limit
LIMIT_SHARE = 0.1  # the share of the recent answers that 429s must exceed beyond chance ...
KNOWN_LIMIT_SHARE = 0.02  # ... or this (or the background share) once a limit was measured
ALPHA = 2e-3  # how improbable the 429s must be at that share to show a limit (3 of 3: 1e-3)
MIN_ANSWERS = 100  # answers judged at least, when the last second holds fewer
_BACKGROUND_MARGIN = 1.5  # over the background share: its own noise, and many looks at it
_OUTGROWN = 1.1  # accepted this much faster than the start rate, with no limit: it is stale
_SETTLE = 0.1  # seconds after a decrease during which 429s still answer the old rate
_FIRST_CUT = 0.125  # of the rate measured too soon (a burst allowance inflates it): aim low
CLOSED_AFTER = 1.0  # seconds of Retry-After beyond which a limit pauses every worker


class RateLimiter:
    """A thread-safe token bucket with AIMD adaptation to 429 answers.

    Parameters
    ----------
    max_rps : float, optional
        The highest request rate, per second, for all workers together. None: no cap until the
        server answers 429.
    decrease : float, default 0.95
        The factor applied to the ceiling on a 429 (the ceiling is 0.93 x the measured rate).
    recover_s : float, default 2.0
        Seconds to climb back from a decrease to the rate last accepted.
    probe_s : float, default 60.0
        Seconds to climb a further 10% above it.
    min_rps : float, default 1.0
        The rate never goes below this.
    start_rps : float, optional
        A rate learnt before (`learnt`): the push starts at it and climbs from it until a
        limit shows.
    clock : callable, default time.monotonic
        The time source (tests).
    """

    def __init__(
        self,
        max_rps: float | None = None,
        *,
        decrease: float = 0.95,
        recover_s: float = 2.0,
        probe_s: float = 60.0,
        min_rps: float = 1.0,
        start_rps: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_rps is not None and not (isinstance(max_rps, (int, float)) and max_rps > 0):
            raise FynoInputError(
                f"max_rps must be a number > 0 or None, not {max_rps!r}", rule="max_rps"
            )
        if not (isinstance(decrease, (int, float)) and 0 < decrease < 1):
            raise FynoInputError(
                f"decrease must be between 0 and 1, not {decrease!r}", rule="invalid_option"
            )
        checks.positive()("min_rps", min_rps)
        self._clock = clock
        self._lock = threading.Lock()
        self.max_rps = math.inf if max_rps is None else float(max_rps)
        self._decrease = decrease
        self._recover_s = recover_s
        self._probe_s = probe_s
        self._min_rps = min(float(min_rps), self.max_rps)
        self._rate = self.max_rps
        self._ceiling = self.max_rps  # the rate last seen accepted
        self._measured = False  # the ceiling is a rate measured (or confirmed) in this push
        self._best = 0.0  # the highest accepted rate measured at a limit
        self._fallback: float | None = None  # the remembered rate, for a limit shown too soon
        self._slow_start = start_rps is not None
        if start_rps is not None:
            self._rate = self._ceiling = max(self._min_rps, min(float(start_rps), self.max_rps))
            self._fallback = self._rate
        self._start_rps = self._fallback
        # Answers since the first limit measured: their 429 share is the background to beat.
        self._background = [0, 0]  # answers, 429s
        now = clock()
        self._tokens = 1.0
        self._last = now
        self._pause_until = -math.inf
        self._last_decrease = -math.inf
        # When recent successes came, to measure what the server accepts; sending time only.
        self._oks: deque[float] = deque(maxlen=16384)
        # Every recent answer, (when, whether 429), to judge whether 429s show a limit.
        self._answers: deque[tuple[float, bool]] = deque(maxlen=16384)
        self._active_since = now
        #: How many 429s were reported, and how many of them cut the rate.
        self.throttled = 0
        self.decreases = 0

    @property
    def rate(self) -> float:
        """The current rate limit in requests per second (``inf`` when unlimited)."""
        return self._rate

    @property
    def learnt(self) -> float | None:
        """The rate the server was measured to accept in this push (None: no limit showed)."""
        return max(self._ceiling, self._rate) if self._measured else None

    @property
    def outgrew_start(self) -> bool:
        """True when no limit showed and the server accepted more than the start rate: a
        remembered rate that no longer holds."""
        if self._start_rps is None or self._measured:
            return False
        return _peak(list(self._oks), _WINDOW) > _OUTGROWN * self._start_rps

    def acquire(self, stop: threading.Event | None = None) -> bool:
        """Wait for a send slot.

        Parameters
        ----------
        stop : threading.Event, optional
            Cuts the wait short when set.

        Returns
        -------
        bool
            True when the caller may send; False when ``stop`` was set while waiting.
        """
        while True:
            now = self._clock()
            if now >= self._pause_until and self._rate == math.inf:
                return True  # the common case: no cap, no 429 seen; no lock needed
            with self._lock:
                now = self._clock()
                wait = self._pause_until - now
                if wait <= 0:
                    rate = self._rate
                    # No burst: a server's own burst allowance may be a handful of requests,
                    # and requests sent back to back would overrun it below its rate.
                    self._tokens = min(1.0, self._tokens + (now - self._last) * rate)
                    self._last = now
                    # Reserve a token even when the bucket is empty: waiters queue up in
                    # arrival order, each sleeping until its own slot.
                    self._tokens -= 1.0
                    if self._tokens >= 0:
                        return True
                    wait = -self._tokens / rate
                    reserved = True
                else:
                    reserved = False
            if stop is not None:
                if stop.wait(wait):
                    return False
            else:
                time.sleep(wait)
            if reserved and self._clock() >= self._pause_until:
                return True  # else a 429 paused everyone while this caller slept: wait again

    def on_success(self) -> None:
        """Record a 2xx answer: note when (to measure the accepted rate), raise the limit."""
        now = self._clock()
        self._oks.append(now)  # deque.append is atomic; the unlimited path takes no lock
        self._answers.append((now, False))
        if self._rate == math.inf:
            return
        with self._lock:
            if self._measured:
                self._background[0] += 1
            rate = self._rate
            if self._slow_start:
                step = rate * _LN2  # doubles about every second
            elif rate < self._ceiling:
                step = self._ceiling * (1 - self._decrease) / max(self._recover_s, 1e-9)
            else:
                step = self._ceiling * 0.1 / max(self._probe_s, 1e-9)
            # A success comes every 1/rate seconds, so step/rate per success is step per second.
            self._rate = min(self.max_rps, rate + step / rate)

    def on_throttle(self, retry_after: float | None, sent_at: float) -> bool:
        """Record a 429 answer; True when every worker pauses for it.

        Parameters
        ----------
        retry_after : float or None
            The (already capped) ``Retry-After`` in seconds.
        sent_at : float
            When the throttled request was sent (the limiter's clock); a request sent before
            the last decrease does not cut the rate again.

        Returns
        -------
        bool
            True: the 429 shows a limit and ``retry_after`` closes a window: every worker
            pauses; False: only the throttled request waits ``retry_after`` out.
        """
        with self._lock:
            now = self._clock()
            self.throttled += 1
            self._answers.append((now, True))
            # Sent before the last decrease, or so soon after it that the requests sent before
            # it were still ahead of it at the server (one round trip, 0.1 s at least): the
            # old rate's 429.
            old_rate = sent_at - self._last_decrease < max(now - sent_at, _SETTLE)
            if self._measured and not old_rate:
                self._background[0] += 1
                self._background[1] += 1
            if not self._shows_limit(now):
                return False
            if old_rate:
                return self._pause(now, retry_after)
            # What the server accepted over the last 1.5 s of sending (time paused excluded).
            start = max(now - _WINDOW, self._active_since)
            span = now - start
            if span <= 0:  # sent before the pause began: the pause already answers it
                return self._pause(now, retry_after)
            accepted = _since(self._oks, start)
            if span >= _MIN_SPAN and accepted >= _MIN_OKS:
                self._cut_to_measured(now, accepted / span)
            elif self._fallback is not None:
                # Too soon to measure, just above the remembered rate: that rate holds.
                self._ceiling, self._fallback = self._fallback, None
                self._rate = max(self._min_rps, self._ceiling * self._decrease)
                self._slow_start = False
                self._measured = True
            else:
                # A limit shown too soon to measure: far too fast (a burst allowance makes
                # this measure well above the real limit). Aim low, then grow exponentially
                # until the next limit, which will come late enough to measure.
                fast = accepted / span if accepted else min(self._rate, _START_RPS * 2)
                self._rate = max(self._min_rps, _FIRST_CUT * min(fast, self._rate, self.max_rps))
                self._ceiling = self._rate
                self._slow_start = True
            self._tokens = min(self._tokens, 0.0)
            self._last_decrease = now
            self.decreases += 1
            return self._pause(now, retry_after)

    def _cut_to_measured(self, now: float, average: float) -> None:
        """Set the ceiling just under the rate accepted (``average`` over the window) and the
        rate to ``decrease`` x that ceiling."""
        if self._slow_start:
            # Climbing fast: the window's average holds time spent below the limit; the last
            # half second is the limit (and any burst allowance drained at once): aim a
            # little below it.
            recent = _since(self._oks, now - 0.5) / 0.5
            ceiling = _MARGIN * min(recent, self._rate)
        else:
            # Throttled while probing just above the limit: the rate was the limit.
            ceiling = _PROBE_BACK * min(average, self._rate)
        # Never below half the best rate measured: 429s that do not follow the rate (random
        # ones) would otherwise cut it step by step down to min_rps.
        self._best = max(self._best, average)
        floor = max(self._min_rps, 0.5 * self._best)
        self._ceiling = max(floor, min(ceiling, self.max_rps))
        self._rate = max(floor, self._ceiling * self._decrease)
        self._slow_start = False
        self._measured = True
        self._fallback = None

    def _shows_limit(self, now: float) -> bool:
        """Whether the 429s among the answers to the current rate are too many for chance."""
        throttled = answers = 0
        # A copy (atomic) to iterate: workers append successes without the lock meanwhile.
        for at, was_throttled in reversed(self._answers.copy()):
            if at <= self._last_decrease or (at < now - 1.0 and answers >= MIN_ANSWERS):
                break
            answers += 1
            throttled += was_throttled
        share = LIMIT_SHARE
        if self._measured:
            seen, background = self._background
            share = max(KNOWN_LIMIT_SHARE, _BACKGROUND_MARGIN * background / max(seen, 1))
        return throttled >= LIMIT_MIN and _tail(answers, throttled, share) <= ALPHA

    def _pause(self, now: float, retry_after: float | None) -> bool:
        if not retry_after or retry_after <= CLOSED_AFTER:
            return False
        self._pause_until = max(self._pause_until, now + retry_after)
        self._active_since = self._pause_until
        self._last = max(self._last, self._pause_until)
        return True

    def __repr__(self) -> str:
        rate = f"{self._rate:.1f}/s"
        return f"RateLimiter(rate={rate}, max_rps={self.max_rps}, throttled={self.throttled})"


def _since(times: deque[float], start: float) -> int:
    """How many of ``times`` (in order) are at or after ``start``."""
    count = 0
    # A copy (atomic) to iterate: workers append successes without the lock meanwhile.
    for t in reversed(times.copy()):
        if t < start:
            break
        count += 1
    return count


def _tail(n: int, k: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p): how probable ``k`` or more 429s of ``n`` answers are
    when each answer is a 429 with probability ``p``, independently."""
    if k <= n * p:
        return 1.0
    # The terms fall from the first one on (k is beyond the mean): sum until they vanish.
    term = math.exp(
        math.lgamma(n + 1)
        - math.lgamma(k + 1)
        - math.lgamma(n - k + 1)
        + k * math.log(p)
        + (n - k) * math.log1p(-p)
    )
    total = 0.0
    for i in range(k, n + 1):
        total += term
        term *= (n - i) / (i + 1) * p / (1 - p)
        if term < total * 1e-9:
            break
    return total


def _peak(times: list[float], window: float) -> float:
    """The highest rate of ``times`` (in order) over any ``window`` seconds, per second."""
    most, first = 0, 0
    for last, t in enumerate(times):
        while t - times[first] > window:
            first += 1
        most = max(most, last - first + 1)
    return most / window
