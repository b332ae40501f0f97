"""`PushPlan.payloads`: the request bodies a per-row push sends, decoded.

The bodies are the bytes `fyno_pandas.planning.bodies` builds for the sender, never dicts built
apart: each row's steps in order (a plan of set and unset alone builds its set steps together,
`bodies.set_bodies`), every body decoded by one ``json.loads`` of them all.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from .bodies import set_bodies, step_body, unset_body
from .steps import row_steps

if TYPE_CHECKING:
    from .plan import PushPlan

__all__ = ["request_payloads"]


def request_payloads(plan: PushPlan) -> list[dict[str, Any]]:
    """The request bodies of ``plan`` as dicts, in row order: each row's requests in
    `fyno_pandas.planning.steps`' order; ``json.loads`` of every body sent."""
    rows = np.flatnonzero(plan.sendable)
    if plan.ops:
        sent = [step_body(plan, pos, s) for pos in rows.tolist() for s in row_steps(plan, pos)]
    else:  # a set step and an unset step at most: the set steps built together
        sent = _set_and_unset(plan, rows)
    with _collector_paused():
        decoded: list[dict[str, Any]] = json.loads(b"[" + b",".join(sent) + b"]")
    return decoded


def _set_and_unset(plan: PushPlan, rows: np.ndarray) -> list[bytes]:
    """Each row's set body (`set_bodies`, when it sets something) then its unset body."""
    setting = np.zeros(len(rows), dtype=bool)
    for p in plan.properties:
        setting |= np.not_equal(plan.fragments[p][rows], None)
    sets = iter(set_bodies(plan, rows[setting]))
    out = []
    for pos, sets_any in zip(rows.tolist(), setting.tolist(), strict=True):
        if sets_any:
            out.append(next(sets))
        cleared = unset_body(plan, pos)
        if cleared is not None:
            out.append(cleared)
    return out


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while the bodies are decoded: hundreds of thousands of
    new dicts would start it hundreds of times over the whole heap (a plan holds millions of
    objects), doubling the work; these dicts and lists make no cycles."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()
