"""Batch mode: a push's rows in ``properties/batch`` requests, and what each answer means.

A unit is a chunk of rows (`sending.sender`): its batch is cut to stay under the mode's body
bound and split in halves on a 413 (`_batches`); each row takes its item's status (with ops, the
worst of its items), and a row whose add or append may have landed is held in doubt
(`fyno_pandas.sending.state.PushState.hold`).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ..client.http import Outcome
from ..planning.steps import BatchItem, batch_items, not_idempotent, row_steps
from .state import PushState, may_have_added

__all__ = ["batch_unit", "op_batch_unit"]


def _batches(
    push: PushState, texts: list[str], doubtful: list[bool] | None = None
) -> Iterator[tuple[int, int, Outcome]]:
    """Post ``texts`` (each row's batch items) as ``properties/batch`` requests; yield
    ``(lo, hi, outcome)`` for the rows ``texts[lo:hi]`` of each request answered.

    A batch over its mode's ``body_max`` bytes is cut into as many equal parts as it takes
    (automatic batches: `fyno_pandas.sending.mode.BODY_MAX`); a batch answered 413 (before anything
    is stored) into halves, down to a row alone, whose outcome says its body is too large. A
    batch holding a ``doubtful`` row (an add or append) is not resent once it may have been
    applied.
    """
    bound = math.inf if push.mode is None else push.mode.body_max
    waiting = [(0, len(texts))]
    while waiting:
        lo, hi = waiting.pop()
        body = ('{"batch":[' + ",".join(texts[lo:hi]) + "]}").encode()
        if hi - lo > 1 and len(body) > bound:
            waiting += _parts(lo, hi, math.ceil(len(body) / bound))
            continue
        idempotent = doubtful is None or not any(doubtful[lo:hi])
        outcome = push.client.post("batch", body, stop=push.stop, idempotent=idempotent)
        if hi - lo > 1 and outcome.http_status == 413:
            push.count((outcome,))
            waiting += _parts(lo, hi, 2)
            continue
        yield lo, hi, outcome


def _parts(lo: int, hi: int, parts: int) -> list[tuple[int, int]]:
    """``[lo, hi)`` cut into ``parts`` ranges of (nearly) equal length, last first: the
    ranges are popped, so the rows go out in order."""
    cuts = np.linspace(lo, hi, min(parts, hi - lo) + 1).round().astype(int).tolist()
    return list(itertools.pairwise(cuts))[::-1]


def batch_unit(push: PushState, chunks: list[np.ndarray]) -> Callable[[int], None]:
    """Batch mode: ``properties/batch`` requests per chunk (`_batches`); rows take their
    item's status."""
    plan = push.plan

    def run(k: int) -> None:
        chunk = chunks[k].tolist()
        for lo, hi, outcome in _batches(push, plan.batch_items(chunks[k])):
            _settle_batch(push, chunk[lo:hi], outcome)

    return run


def _settle_batch(push: PushState, rows: list[int], outcome: Outcome) -> None:
    """Record one batch's answer: the rows take their item's status, the accepted are acked."""
    push.count((outcome,))
    push.settle(rows, (outcome,))
    if not outcome.ok:
        return
    items = outcome.json.get("batch") if isinstance(outcome.json, dict) else None
    items = items if isinstance(items, list) else []
    # The common answer, every item equal to an accepted first one, is recognised in C
    # (list.count) rather than by a Python check per item.
    first_ok = len(items) == len(rows) and _item_error(items[0]) is None
    if first_ok and items.count(items[0]) == len(items):
        push.ack(rows, outcome.request_id)
        return
    acked = []
    for i, pos in enumerate(rows):
        reason = _item_error(items[i] if i < len(items) else None)
        if reason is None:
            acked.append(pos)
            continue
        push.status[pos], push.error[pos] = "failed", reason
        with push.lock:
            push.sent -= 1
            push.failed += 1
    push.ack(acked, outcome.request_id)


def op_batch_unit(push: PushState, chunks: list[np.ndarray]) -> Callable[[int], None]:
    """Batch mode with ops: each row's items together and in order; a row takes the worst of
    its items. A batch holding an add or append is not resent once it may have been applied;
    a row whose add or append item may have been applied (accepted, in doubt, or without a
    readable status in a 202) is then ``in_doubt`` (`PushState.hold`), the others ``failed``."""
    plan = push.plan

    def run(k: int) -> None:
        rows = chunks[k].tolist()
        items = {pos: batch_items(plan, pos, push.done.get(pos)) for pos in rows}
        sending = [pos for pos in rows if items[pos]]
        for pos in rows:
            if not items[pos]:  # a seed made all of its work
                push.conclude((pos,), push.prior[pos])
                if push.status[pos] == "sent":
                    push.ack((pos,), push.request_id[pos])
                push.journal_settle((pos,))
        if not sending:
            return
        push.flying(sending)
        doubtful = [not_idempotent(plan, pos) for pos in sending]
        texts = [",".join(item.text for item in items[pos]) for pos in sending]
        for lo, hi, outcome in _batches(push, texts, doubtful):
            _conclude_op_batch(push, items, sending[lo:hi], doubtful[lo:hi], outcome)
            push.journal_settle(sending[lo:hi])

    return run


def _conclude_op_batch(
    push: PushState,
    items: dict[int, list[BatchItem]],
    sending: list[int],
    doubtful: list[bool],
    outcome: Outcome,
) -> None:
    """Record one batch's answer for its rows (``sending``, each with its ``items``)."""
    push.count((outcome,))
    answers = outcome.json.get("batch") if isinstance(outcome.json, dict) else None
    answers = answers if isinstance(answers, list) else []
    acked, at = [], 0
    for pos, adds_or_appends in zip(sending, doubtful, strict=True):
        count = len(items[pos])
        mine, at = answers[at : at + count], at + count
        mine += [None] * (count - len(mine))  # no status: an error, and its adds in doubt
        own, states = outcome, [outcome.status] * count
        if outcome.status == "in_doubt" and not adds_or_appends:
            own = dataclasses.replace(outcome, status="failed")
        elif outcome.ok:
            states = [_item_state(answer) for answer in mine]
            reason = next(filter(None, map(_item_error, mine)), None)
            if reason is not None:
                own = dataclasses.replace(outcome, status="failed", error=reason)
        for item, state in zip(items[pos], states, strict=True):
            push.land(pos, item.adding, state)
        adds = [bool(item.adding) for item in items[pos]]
        if may_have_added(zip(adds, states, strict=True)):
            push.applied.add(pos)
        if outcome.status == "pending":
            push.unsent[pos] = row_steps(push.plan, pos, push.done.get(pos))
        push.conclude((pos,), [*push.prior.get(pos, ()), own])
        if push.status[pos] == "sent":
            acked.append(pos)
    push.ack(acked, outcome.request_id)


def _item_state(item: Any) -> str:
    """A batch item's status in a 202: ``sent``, ``failed`` (refused), or ``in_doubt`` (no
    readable status: it may have been applied)."""
    if not isinstance(item, dict) or not item:
        return "in_doubt"
    return "sent" if _item_error(item) is None else "failed"


def _item_error(item: Any) -> str | None:
    """None for an accepted batch item (every action ``"ok"``), else the reason."""
    if not isinstance(item, dict) or not item:
        return "no status for this row in the batch answer"
    bad = {k: v for k, v in item.items() if v != "ok"}
    if not bad:
        return None
    return "; ".join(f"{k}: {v}" if k != "error" else str(v) for k, v in bad.items())
