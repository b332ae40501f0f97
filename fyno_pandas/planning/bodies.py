"""Every request body a push puts on the wire, built from one model: a row's steps. Pure.

A row's work is a list of `fyno_pandas.planning.steps.Step` (its op, the properties it touches
and each value's JSON text). This module is the one place that turns steps into bytes:

- per row, one request per step: ``{"distinct_id": ..., "$set": {...}}`` (``$once``, ``$add``,
  ``$append``, ``$remove``, ``$unset``; `step_body`, and `set_bodies` for many rows' set steps
  at once);
- in batch mode, a row's items (`batch_items`): the first holds every action of the row, each
  further one the next elements of its appended and removed lists, wrapped by `batch_body`;
- a seed is the step of its row's value (or first element) for the properties it seeds
  (`seed_body`).

Values are held as JSON text (``plan.fragments``), so a body is a join of strings, never a
``json.dumps`` of Python objects; `fyno_pandas.planning.payloads` decodes these same bytes.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from ..coercion.encode import encode_string
from .steps import ELEMENTS, NOT_IDEMPOTENT, Step, elements, row_steps

if TYPE_CHECKING:
    from .plan import PushPlan

__all__ = [
    "KEY",
    "BatchItem",
    "argument",
    "batch_body",
    "batch_items",
    "batch_rows",
    "landed_text",
    "seed_body",
    "set_bodies",
    "set_body",
    "step_body",
    "unset_body",
]

#: op -> the body key of its argument
KEY = {
    "set": "$set",
    "set_once": "$once",
    "add": "$add",
    "append": "$append",
    "remove": "$remove",
    "unset": "$unset",
}
_HEAD = '{"distinct_id":'
#: The ops a row makes once, in a row's order (`row_steps`).
_ONCE = ("set", "set_once", "add")
_LISTS = frozenset(ELEMENTS)
# cuts the bodies `set_bodies` builds as one text apart; never in JSON text built by `encode`
_CUT = "\x1e"


class BatchItem(NamedTuple):
    """One ``properties/batch`` item of a row: its JSON text, and the properties it adds to or
    appends to."""

    text: str
    adding: tuple[str, ...]


@functools.lru_cache(maxsize=64)
def _encoded_keys(names: tuple[str, ...]) -> dict[str, str]:
    """Each property's name as a JSON object key (``"name":``), encoded once per plan's
    properties."""
    return {p: encode_string(p) + ":" for p in names}


def argument(plan: PushPlan, step: Step) -> str:
    """The JSON text of a step's argument: an object of its values, a list of names to unset."""
    keys = _encoded_keys(tuple(plan.properties))
    if step.op == "unset":
        return "[" + ",".join([keys[p][:-1] for p in step.props]) + "]"
    return "{" + ",".join([keys[p] + v for p, v in zip(step.props, step.values, strict=True)]) + "}"


def step_body(plan: PushPlan, pos: int, step: Step) -> bytes:
    """The request body of one step of row ``pos``."""
    head = _HEAD + encode_string(plan.distinct_ids[pos])
    return (head + ',"' + KEY[step.op] + '":' + argument(plan, step) + "}").encode()


def seed_body(plan: PushPlan, pos: int, op: str, props: Sequence[str]) -> bytes:
    """The body of the seed of ``props`` (all of op ``op``) from row ``pos``: the row's value,
    or its first element for an append."""
    values = tuple(
        elements(plan.fragments[p][pos])[0] if op == "append" else plan.fragments[p][pos]
        for p in props
    )
    return step_body(plan, pos, Step(op, tuple(props), values))


def set_body(plan: PushPlan, pos: int, props: Sequence[str] | None = None) -> bytes:
    """The body of row ``pos``'s set step (of only ``props`` when given)."""
    names = [p for p in plan.properties if p not in plan.ops] if props is None else props
    present = [p for p in names if plan.fragments[p][pos] is not None]
    values = tuple(plan.fragments[p][pos] for p in present)
    return step_body(plan, pos, Step("set", tuple(present), values))


def unset_body(plan: PushPlan, pos: int) -> bytes | None:
    """The body of row ``pos``'s unset step, or None when it clears nothing."""
    names = tuple(p for p in plan.properties if plan.unsets[p][pos])
    return step_body(plan, pos, Step("unset", names, ())) if names else None


def set_bodies(plan: PushPlan, positions: np.ndarray) -> list[bytes]:
    """The body of the set step of each row at ``positions`` (`step_body` of each), built as
    one text: every row a row of tokens (head, then a key and a value slot per property, empty
    where not set), joined once and cut apart at `_CUT` marks."""
    positions = np.asarray(positions, dtype=np.intp)
    count = len(positions)
    names = [p for p in plan.properties if p not in plan.ops]
    present = {p: np.not_equal(plan.fragments[p][positions], None) for p in names}
    names = [p for p in names if present[p].any()]
    tokens = np.full((count, 4 + 2 * len(names)), "", dtype=object)
    tokens[:, 0] = _HEAD
    tokens[:, 1] = np.fromiter(
        map(encode_string, plan.distinct_ids[positions]), dtype=object, count=count
    )
    tokens[:, 2] = ',"$set":{'
    seen = np.zeros(count, dtype=bool)
    for k, p in enumerate(names):
        mask = present[p]
        key = _encoded_keys(tuple(plan.properties))[p]
        tokens[mask & seen, 3 + 2 * k] = "," + key
        tokens[mask & ~seen, 3 + 2 * k] = key
        tokens[mask, 4 + 2 * k] = plan.fragments[p][positions[mask]]
        seen |= mask
    tokens[:, -1] = "}}" + _CUT
    return "".join(tokens.ravel().tolist()).encode().split(_CUT.encode())[:-1]


def batch_items(plan: PushPlan, pos: int, steps: Sequence[Step]) -> list[BatchItem]:
    """The ``properties/batch`` items of row ``pos`` making its ``steps`` (`row_steps`), in
    order: the first holds every action of the row (its keys touch distinct properties, so
    their order cannot matter), each further one the k-th elements of its appended and removed
    lists."""
    head = _HEAD + encode_string(plan.distinct_ids[pos]) + ',"action":{'
    groups: list[list[Step]] = [[]]
    seen = dict.fromkeys(ELEMENTS, 0)
    for step in steps:
        k = seen.get(step.op, 0)
        if step.op in seen:
            seen[step.op] += 1
        while len(groups) <= k:
            groups.append([])
        groups[k].append(step)
    return [
        BatchItem(
            head + ",".join(f'"{KEY[s.op]}":{argument(plan, s)}' for s in steps) + "}}",
            tuple(p for s in steps for p in s.adding),
        )
        for steps in groups
        if steps
    ]


def batch_rows(
    plan: PushPlan, positions: Sequence[int], done: Mapping[int, Mapping[str, int]]
) -> tuple[list[str], list[list[tuple[str, ...]]]]:
    """The rows' `batch_items` as the sender sends them: per row, the JSON text of its items
    (joined) and the properties each item adds to or appends to. ``done``: per row, its
    requests made already (`fyno_pandas.planning.steps.row_steps`).

    A plan without list ops makes one item per row; unless a row has requests made already,
    the rows' items are built together, as one text (`_single_items`)."""
    if _LISTS.intersection(plan.ops.values()) or any(pos in done for pos in positions):
        return _rows_one_by_one(plan, positions, done)
    rows = np.asarray(positions, dtype=np.intp)
    adds = [p for p, op in plan.ops.items() if op in NOT_IDEMPOTENT]
    if not adds:
        return _single_items(plan, rows), [[()]] * len(rows)
    present = np.column_stack([np.not_equal(plan.fragments[p][rows], None) for p in adds])
    adding = [[tuple(p for p, has in zip(adds, row, strict=True) if has)] for row in present]
    return _single_items(plan, rows), adding


def _rows_one_by_one(
    plan: PushPlan, positions: Sequence[int], done: Mapping[int, Mapping[str, int]]
) -> tuple[list[str], list[list[tuple[str, ...]]]]:
    """`batch_rows` row by row, from each row's steps."""
    items = [batch_items(plan, pos, row_steps(plan, pos, done.get(pos))) for pos in positions]
    texts = [",".join(i.text for i in row) for row in items]
    return texts, [[i.adding for i in row] for row in items]


def _single_items(plan: PushPlan, rows: np.ndarray) -> list[str]:
    """Each row's one batch item, built as one text: per row a row of tokens (head, then per
    action its opening, a key and a value slot per property, empty where not set, and its
    closing), joined once and cut apart at `_CUT` marks."""
    count = len(rows)
    ids = np.fromiter(map(encode_string, plan.distinct_ids[rows]), dtype=object, count=count)
    columns: list[Any] = [_HEAD, ids, ',"action":{']
    started = np.zeros(count, dtype=bool)
    for op in (*_ONCE, "unset"):
        masks = _action_masks(plan, rows, op)
        if masks:
            columns += _action_tokens(plan, rows, op, masks, started)
            started |= np.logical_or.reduce(list(masks.values()))
    columns.append("}}" + _CUT)
    tokens = np.empty((count, len(columns)), dtype=object)
    for k, column in enumerate(columns):
        tokens[:, k] = column
    return "".join(tokens.ravel().tolist()).split(_CUT)[:-1]


def _action_masks(plan: PushPlan, rows: np.ndarray, op: str) -> dict[str, np.ndarray]:
    """Per property of ``op`` some of ``rows`` send, the rows that send it."""
    if op == "unset":
        masks = {p: plan.unsets[p][rows] for p in plan.properties}
    else:
        names = [p for p in plan.properties if plan.ops.get(p, "set") == op]
        masks = {p: np.not_equal(plan.fragments[p][rows], None) for p in names}
    return {p: m for p, m in masks.items() if m.any()}


def _action_tokens(
    plan: PushPlan, rows: np.ndarray, op: str, masks: dict[str, np.ndarray], started: np.ndarray
) -> list[np.ndarray]:
    """The token columns of one action (``"$set":{...}``, ``"$unset":[...]``) of ``rows``:
    after a comma where an earlier action was ``started``, empty where a row has none."""
    keys = _encoded_keys(tuple(plan.properties))
    has = np.logical_or.reduce(list(masks.values()))
    opening = f'"{KEY[op]}":' + ("[" if op == "unset" else "{")
    columns = [_pick(has, np.where(started, "," + opening, opening))]
    written = np.zeros(len(rows), dtype=bool)
    for p, mask in masks.items():
        key = keys[p][:-1] if op == "unset" else keys[p]
        columns.append(_pick(mask, np.where(written, "," + key, key)))
        if op != "unset":
            columns.append(_pick(mask, plan.fragments[p][rows]))
        written |= mask
    columns.append(_pick(has, "]" if op == "unset" else "}"))
    return columns


def _pick(mask: np.ndarray, values: Any) -> np.ndarray:
    """``values`` where ``mask``, ``""`` elsewhere, as objects."""
    out = np.full(len(mask), "", dtype=object)
    out[mask] = values[mask] if isinstance(values, np.ndarray) else values
    return out


def batch_body(items: Sequence[str]) -> bytes:
    """A ``properties/batch`` body of ``items`` (each the JSON text of one or more items)."""
    return ('{"batch":[' + ",".join(items) + "]}").encode()


def landed_text(landed: Mapping[str, Sequence[int]]) -> str:
    """A row's adds and appends that landed (``{property: [acknowledged, may have landed]}``)
    as JSON text, as the result's ``applied`` column and the ledger keep it."""
    return json.dumps(landed, sort_keys=True)
