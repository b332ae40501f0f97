"""The one unit of sending: its requests posted, each answer settled, acknowledged, journalled.

A worker takes one unit at a time (`fyno_pandas.sending.state.run_units`): one row in per-row
mode, a chunk of rows in batch mode. A unit's `Request` s say which rows they carry and which of
each row's items add (`Request.adding`); their bodies are built as they are sent
(`fyno_pandas.planning.bodies`), never all at once. `run_unit` posts them and, for every answer,
gives each row its own outcome (`answers`): in a batch, its items' status (a refused item fails
its row; an unreadable one may have been applied); a row whose items add nothing is never in
doubt. A row is then settled, held in doubt if an add or append of it may have been applied,
acknowledged and journalled (`PushState.finish`).

- **per row**: the row's steps one after the other (`planning.steps` order), each awaited,
  stopping at the first that is not accepted; never two in flight for one user;
- **batch**: every row's items together and in order in ``properties/batch`` requests; a batch
  over its mode's ``body_max`` bytes is cut into as many equal parts as it takes, a batch
  answered 413 (before anything is stored) into halves, down to a row alone, whose outcome says
  its body is too large. A batch holding an add or append is not resent once it may have been
  applied.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ..client.http import Outcome
from ..planning.bodies import batch_body, batch_rows, step_body
from ..planning.steps import OPERATION, row_steps
from .state import PushState

__all__ = ["Request", "answers", "batch_unit", "row_unit", "run_unit"]


@dataclasses.dataclass(frozen=True)
class Request:
    """One request of a unit.

    Attributes
    ----------
    endpoint : str
        The ``properties/...`` path segment.
    body : bytes
    rows : list of int
        The row positions it carries.
    adding : list of list of tuple of str
        Per row, per item (a step, or a batch item), the properties it adds to or appends to.
    """

    endpoint: str
    body: bytes
    rows: list[int]
    adding: list[list[tuple[str, ...]]]

    @property
    def idempotent(self) -> bool:
        """Whether sending it twice stores the same: nothing in it adds or appends."""
        return not any(map(any, self.adding))


#: Posted requests: per request, its outcome and whether it is the last for its rows.
Answered = Iterator[tuple[Request, Outcome, bool]]


def row_unit(push: PushState, pos: int) -> None:
    """Per-row mode: row ``pos``'s requests, one after the other."""
    run_unit(push, [pos], _row_requests(push, pos), rid_of_batch=False)


def batch_unit(push: PushState, rows: list[int]) -> None:
    """Batch mode: the rows' items in ``properties/batch`` requests; a row a seed made all of
    the work of is recorded at once."""
    seeded = [pos for pos in rows if pos in push.prior]
    empty = {pos for pos in seeded if not row_steps(push.plan, pos, push.done.get(pos))}
    for pos in empty:
        push.finish([((pos,), push.prior[pos])], None)
    sending = [pos for pos in rows if pos not in empty]
    if sending:
        run_unit(push, sending, _batch_requests(push, sending), rid_of_batch=True)


def run_unit(push: PushState, rows: Sequence[int], answered: Answered, rid_of_batch: bool) -> None:
    """Send a unit's requests (``answered`` posts them) and record every row: its own outcome
    of each request after the seeds made for it, then, after its last request, settled, held,
    acknowledged (under the batch's request id when ``rid_of_batch``, else the row's own) and
    journalled. A row left without its last request (stopped, or a seed made all of its work)
    is recorded from what it has."""
    push.flying(rows)
    earlier = {pos: list(push.prior[pos]) for pos in rows if pos in push.prior}
    for request, outcome, last in answered:
        owns = answers(push, request, outcome)
        if last:
            groups = _groups(request.rows, owns, outcome, earlier)
            push.finish(groups, outcome.request_id if rid_of_batch else None)
            continue
        for pos, own in zip(request.rows, owns, strict=True):
            earlier.setdefault(pos, []).append(own)
    for pos, found in earlier.items():
        if found:
            push.finish([((pos,), found)], None)


def _groups(
    rows: list[int], owns: list[Outcome], outcome: Outcome, earlier: dict[int, list[Outcome]]
) -> list[tuple[list[int], list[Outcome]]]:
    """The rows of a request by their outcomes: those that take the request's ``outcome``
    alone as one group (most of a batch), each other row with its ``earlier`` outcomes."""
    shared: list[int] = []
    groups = [(shared, [outcome])]
    for pos, own in zip(rows, owns, strict=True):
        if pos in earlier:
            groups.append(([pos], [*earlier.pop(pos), own]))
        elif own is outcome:
            shared.append(pos)
        else:
            groups.append(([pos], [own]))
    return [group for group in groups if group[0]]


def answers(push: PushState, request: Request, outcome: Outcome) -> list[Outcome]:
    """Each row's own outcome of ``request``, its adds and appends counted as landed or not
    (`PushState.land`): a refused batch item fails its row; a row whose items add nothing is
    never in doubt."""
    items = _batch_answers(outcome, request) if request.endpoint == "batch" else None
    own = []
    for k, pos in enumerate(request.rows):
        adding = request.adding[k]
        adds = any(adding)
        mine, states = outcome, [outcome.status] * len(adding)
        if outcome.status == "in_doubt" and not adds:
            mine = dataclasses.replace(outcome, status="failed")
        elif items is not None and outcome.ok:
            reason = next(filter(None, map(_item_error, items[k])), None)
            if reason is not None:
                mine = dataclasses.replace(outcome, status="failed", error=reason)
            states = [_item_state(item) for item in items[k]] if adds else states
        if adds:
            push.land(pos, zip(adding, states, strict=True))
        own.append(mine)
    return own


def _batch_answers(outcome: Outcome, request: Request) -> list[list[Any]]:
    """Per row, the answers to its items (None where the answer has none: an error)."""
    found = outcome.json.get("batch") if isinstance(outcome.json, dict) else None
    found = found if isinstance(found, list) else []
    cuts = itertools.accumulate((len(a) for a in request.adding), initial=0)
    out = []
    for lo, hi in itertools.pairwise(cuts):
        mine = found[lo:hi]
        out.append(mine + [None] * (hi - lo - len(mine)))
    return out


def _row_requests(push: PushState, pos: int) -> Answered:
    """Per-row mode: row ``pos``'s steps as requests, each posted and awaited, stopping at the
    first not accepted (the rest named as not sent)."""
    steps = row_steps(push.plan, pos, push.done.get(pos))
    for k, step in enumerate(steps):
        request = Request(
            OPERATION[step.op], step_body(push.plan, pos, step), [pos], [[step.adding]]
        )
        outcome = push.send(request.endpoint, request.body, request.idempotent)
        if not outcome.ok:
            push.stopped(pos, steps[k if outcome.status == "pending" else k + 1 :])
        yield request, outcome, not outcome.ok or k == len(steps) - 1
        if not outcome.ok:
            return


def _batch_requests(push: PushState, rows: list[int]) -> Answered:
    """The rows' items in ``properties/batch`` requests, cut to the mode's body bound and split
    in halves on a 413."""
    texts, adding = batch_rows(push.plan, rows, push.done)
    bound = math.inf if push.mode is None else push.mode.body_max
    waiting = [(0, len(rows))]
    while waiting:
        lo, hi = waiting.pop()
        body = batch_body(texts[lo:hi])
        if hi - lo > 1 and len(body) > bound:
            waiting += _parts(lo, hi, math.ceil(len(body) / bound))
            continue
        request = Request("batch", body, rows[lo:hi], adding[lo:hi])
        outcome = push.send("batch", body, request.idempotent)
        if hi - lo > 1 and outcome.http_status == 413:
            waiting += _parts(lo, hi, 2)
            continue
        if outcome.status == "pending":
            for pos in request.rows:
                push.stopped(pos, row_steps(push.plan, pos, push.done.get(pos)))
        yield request, outcome, True


def _parts(lo: int, hi: int, parts: int) -> list[tuple[int, int]]:
    """``[lo, hi)`` cut into ``parts`` ranges of (nearly) equal length, last first: the
    ranges are popped, so the rows go out in order."""
    cuts = np.linspace(lo, hi, min(parts, hi - lo) + 1).round().astype(int).tolist()
    return list(itertools.pairwise(cuts))[::-1]


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
