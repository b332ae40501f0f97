"""Type seeds: a new property's type is fixed on purpose, before any other value is sent.

Fyno fixes a property's type from the first value it processes. For each property the plan
sends that neither ``schema`` nor the ledger knows, the push claims its type in the ledger
(`without_taken` drops the cells of a property another push claimed otherwise), then sends one
row whose value no reading of ISO 8601 types otherwise (``plan.seed_values``), carrying only
the properties it seeds, and awaits every seed's answer (`seed_types`). A property whose seed
was not accepted gets no type: the rows carrying it are ``failed`` and not sent. A refused key
(401/403) is not the property's fault: the push stops, its rows stay ``pending``.

A seed goes through its property's op (`planning.steps`): ``set-once`` for a set_once column,
``numerical-add`` for an add (the row's amount), ``list-append`` for an append (the row's first
element). An add or append seed is part of its row's work and is not made again: the row's
result starts with it (``push.prior``, ``push.done``). A row whose seeded add or append may have
been applied (`fyno_pandas.sending.state.PushState.land`) is never ``failed``: `PushState.hold`
makes it ``in_doubt`` (``pending`` when stopped, saying so) and it stays in flight.
A ``remove`` column never creates a property, so it is never seeded.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np

from ..client.http import Outcome
from ..options.checks import OPS
from ..planning.bodies import seed_body
from ..planning.issues import plural
from ..planning.steps import NOT_IDEMPOTENT, OPERATION, row_steps
from .state import REFUSED_KEY, PushState, run_units

if TYPE_CHECKING:
    from ..planning.plan import PushPlan

__all__ = ["new_properties", "seed_types", "without_taken"]

log = logging.getLogger("fyno_pandas")


def new_properties(plan: PushPlan) -> dict[str, str]:
    """``{property: planned type}`` of the properties whose type no one fixed yet (no ``schema``
    entry, not in the ledger, no request of it made by the push a retry replays) and that some
    sendable row sets."""
    sending = plan.sendable
    made = {p for props in plan.made.values() for p, n in props.items() if n}
    return {
        p: plan.fyno_types[p]
        for p in plan.properties
        if p not in plan.known_types
        and p not in made
        and p in plan.fyno_types
        and plan.ops.get(p) != "remove"
        and np.not_equal(plan.fragments[p][sending], None).any()
    }


def seed_types(push: PushState, new: dict[str, str], claims: Any) -> bool:
    """Fix the type of every new property with one value of it, and wait for all of them.

    A property whose seed Fyno did not accept (or that has no safe seed) gets no type, so
    every row carrying it is ``failed`` and not sent: whichever value Fyno processed first
    would otherwise decide its type. True when interrupted by Ctrl-C.
    """
    chosen = push.plan.seed_values(list(new))
    by_row: dict[int, dict[str, list[str]]] = {}
    for prop, pos in chosen.items():
        by_row.setdefault(pos, {}).setdefault(push.plan.ops.get(prop, "set"), []).append(prop)
    # one unit per row, its seeds one after the other: never two in flight for one user
    units = [[(pos, op, ops[op]) for op in OPS if op in ops] for pos, ops in by_row.items()]
    refused: dict[str, Outcome | str] = {
        p: "no value can fix its type for sure" for p in new if p not in chosen
    }
    if units:
        log.debug("fixing the type of %d new properties first", len(chosen))
    interrupted = run_units(
        push, len(units), lambda j: _seed_row(push, units[j], claims, refused), None
    )
    for prop, why in refused.items():
        _fail_carriers(push, prop, why)
    # one path with the rows phase (`PushState.hold`): a row whose add or append may have
    # been applied stays in flight and ``in_doubt``, unless the rows phase sends the rest
    stopped = push.stop.is_set()  # no rows phase: a pending row is settled here
    settled = [p for p in sorted(by_row) if push.status_of(p) != "pending" or stopped]
    for pos in settled:
        push.stopped(pos, row_steps(push.plan, pos, push.done.get(pos)))
    push.hold(settled)
    push.journal_settle(settled)
    return interrupted


def _seed_row(
    push: PushState,
    seeds: list[tuple[int, str, list[str]]],
    claims: Any,
    refused: dict[str, Outcome | str],
) -> None:
    """One row's seeds, one after the other; after one not accepted, the row's later seeds
    are not sent (their properties refused, unless stopped: their rows stay pending). A
    refused key refuses no property: it stops the push, which says so once (`send_plan`)."""
    for k, (pos, op, props) in enumerate(seeds):
        outcome = _seed(push, pos, op, props)
        if outcome.ok:
            if claims is not None:
                claims.fixed(props)
            continue
        if outcome.http_status in REFUSED_KEY:
            return
        if outcome.status in ("failed", "in_doubt"):
            refused.update(dict.fromkeys(props, outcome))
            later = [p for _, _, rest in seeds[k + 1 :] for p in rest]
            refused.update(
                dict.fromkeys(
                    later, "a value sent before it in its row, to fix a new property's type, failed"
                )
            )
        return


def _seed(push: PushState, pos: int, op: str, props: list[str]) -> Outcome:
    """Send the seed of ``props`` (op ``op``) from row ``pos``; an add or append seed is in
    flight first, and is part of its row's work once made."""
    idempotent = op not in NOT_IDEMPOTENT
    if not idempotent:
        push.flying((pos,))
    body = seed_body(push.plan, pos, op, props)
    outcome = push.send(OPERATION[op], body, idempotent)
    if not idempotent:
        push.land(pos, [(tuple(props), outcome.status)])
        if outcome.status != "pending":  # made: not made again
            push.seeded(pos, props, outcome)
    return outcome


def without_taken(plan: PushPlan, new: dict[str, str], taken: dict[str, str]) -> PushPlan:
    """``plan`` without the values of properties another push claimed with another type."""
    for prop, other in taken.items():
        del new[prop]
        message = (
            f"a {plan.fyno_types[prop]} value for a {other} property (another push fixed its "
            "type after this plan was made); Fyno would not store it"
        )
        plan = plan.drop_values(prop, "type_mismatch", message)
        log.warning("property %r: %s", prop, message)
    return plan


def _fail_carriers(push: PushState, prop: str, why: Outcome | str) -> None:
    """Fail the pending rows that set ``prop``, whose type could not be fixed."""
    rows = np.flatnonzero(np.not_equal(push.plan.fragments[prop], None) & push.where("pending"))
    reason = why if isinstance(why, str) else f"its first value was not accepted: {why.error}"
    log.warning("property %r has no type (%s): %s not sent", prop, reason, plural(len(rows), "row"))
    http = None if isinstance(why, str) else why.http_status
    error = f"not sent: property {prop!r} got no type ({reason})"
    if len(rows):  # through the rows' one settle path (`PushState.settle`)
        push.settle(rows.tolist(), (Outcome("failed", http, None, 0, error),))
