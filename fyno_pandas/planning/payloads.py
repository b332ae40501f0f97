"""`PushPlan.payloads`: the request bodies as dicts, built column by column.

A body parsed back (``json.loads``) costs more than building it; instead each property's values
are decoded by one ``json.loads`` of the whole column, and each row's dict is zipped from them.
Rows that set the same properties are built together. Plans that append or remove elements
(several requests per row) parse their bodies back as they are sent.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from .steps import KEY, row_steps, step_body

if TYPE_CHECKING:
    from .plan import PushPlan

__all__ = ["request_payloads"]

#: The ops whose request a row makes once, in the order a row makes them (`row_steps`).
_ONCE = ("set", "set_once", "add")


def request_payloads(plan: PushPlan) -> list[dict[str, Any]]:
    """The request bodies of ``plan`` as dicts, in row order: each row's requests in
    `fyno_pandas.planning.steps`' order; equal to ``json.loads`` of every body sent."""
    with _collector_paused():
        return _payloads(plan)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while the bodies are built: hundreds of thousands of
    new dicts would start it hundreds of times over the whole heap (a plan holds millions of
    objects), doubling the build; these dicts and lists make no cycles."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def _payloads(plan: PushPlan) -> list[dict[str, Any]]:
    """`request_payloads`, with the collector paused."""
    rows = np.flatnonzero(plan.sendable)
    if {"append", "remove"} & set(plan.ops.values()):
        steps = ((pos, step) for pos in rows.tolist() for step in row_steps(plan, pos))
        return [json.loads(step_body(plan, pos, step)) for pos, step in steps]
    ids = plan.distinct_ids[rows].tolist()
    columns = [_op_bodies(plan, rows, ids, op) for op in _ONCE]
    columns.append(_unset_bodies(plan, rows, ids))
    made = [c for c in columns if c is not None]
    if len(made) == 1:
        return [body for body in made[0] if body is not None]
    return [body for row in zip(*made, strict=True) for body in row if body is not None]


def _op_bodies(
    plan: PushPlan, rows: np.ndarray, ids: list[str], op: str
) -> list[dict[str, Any] | None] | None:
    """Per row, the body of its ``op`` request (None: the row makes none; None for all: no
    property has this op)."""
    names = [p for p in plan.properties if plan.ops.get(p, "set") == op]
    if not names:
        return None
    key = KEY[op]
    is_set = np.column_stack([np.not_equal(plan.fragments[p][rows], None) for p in names])
    decoded = [
        json.loads("[" + ",".join(plan.fragments[name][rows[is_set[:, k]]].tolist()) + "]")
        for k, name in enumerate(names)
    ]
    if is_set.all():  # every row sets every property: its dict zips the decoded columns
        return [
            {"distinct_id": d, key: dict(zip(names, row, strict=True))}
            for d, row in zip(ids, zip(*decoded, strict=True), strict=True)
        ]
    values = np.empty(is_set.shape, dtype=object)
    for k, column in enumerate(decoded):
        values[is_set[:, k], k] = np.fromiter(column, dtype=object, count=len(column))
    # Rows that set the same properties are built together: one code per set of them.
    codes = np.unique(is_set, axis=0, return_inverse=True)[1].reshape(-1)
    out: list[dict[str, Any] | None] = [None] * len(rows)
    for code in range(int(codes.max()) + 1):
        which = np.flatnonzero(codes == code)
        ks = np.flatnonzero(is_set[which[0]])
        keys = [names[k] for k in ks.tolist()]
        if not keys:  # rows that set none of these properties make no such request
            continue
        for i, row in zip(which.tolist(), values[np.ix_(which, ks)].tolist(), strict=True):
            out[i] = {"distinct_id": ids[i], key: dict(zip(keys, row, strict=True))}
    return out


def _unset_bodies(
    plan: PushPlan, rows: np.ndarray, ids: list[str]
) -> list[dict[str, Any] | None] | None:
    """Per row, the body of its unset request (None: nothing cleared; None for all: no row
    clears anything)."""
    cleared = [(p, plan.unsets[p][rows]) for p in plan.properties if plan.unsets[p][rows].any()]
    if not cleared:
        return None
    out: list[dict[str, Any] | None] = [None] * len(rows)
    for i in np.flatnonzero(np.logical_or.reduce([c for _, c in cleared])).tolist():
        out[i] = {"distinct_id": ids[i], KEY["unset"]: [p for p, c in cleared if c[i]]}
    return out
