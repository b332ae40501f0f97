"""`PushPlan.payloads`: the request bodies a per-row push sends, decoded.

The bodies are the bytes `fyno_pandas.planning.bodies` builds for the sender, never dicts built
apart: each row's steps in order, every body decoded by one ``json.loads`` of them all.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from .bodies import step_body
from .steps import row_steps

if TYPE_CHECKING:
    from .plan import PushPlan

__all__ = ["request_payloads"]


def request_payloads(plan: PushPlan) -> list[dict[str, Any]]:
    """The request bodies of ``plan`` as dicts, in row order: each row's requests in
    `fyno_pandas.planning.steps`' order; ``json.loads`` of every body sent."""
    bodies = [
        step_body(plan, pos, step)
        for pos in np.flatnonzero(plan.sendable).tolist()
        for step in row_steps(plan, pos)
    ]
    with _collector_paused():
        decoded: list[dict[str, Any]] = json.loads(b"[" + b",".join(bodies) + b"]")
    return decoded


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
