"""Operations per column: set-once, numerical-add, list-append, list-remove, and unset by name.

``ops={"logins": "add", "first_seen": "set_once", "badges": "append", "old": "remove"}`` (every
other column ``set``) and ``unset=["old_prop"]`` (cleared for every row with a valid id). Pure:
the plan rules of each op (`check_ops`, `coerce_op`) and the requests of a row (`row_steps`,
`request_count`; their bodies: `fyno_pandas.planning.bodies`).

Rules (where Fyno's documentation is silent, these are our choices)
-------------------------------------------------------------------
- ``set_once`` follows ``set``'s type rules; its requests go to ``properties/set-once``.
- ``nulls=`` applies to ``set`` columns only: a missing cell of another op sends nothing.
- ``add`` takes finite numbers: a string, a bool or any other type is ``add_not_number``,
  ±inf ``not_finite``, both dropped; a missing cell adds nothing and is not an issue.
- ``append`` / ``remove``: a list cell is its elements, in order, a scalar cell one element,
  each sent as the text a ``set`` of the column sends (an Arrow ``list<date32>`` element as
  ``"2020-01-01"``, so that a remove matches what a set stored); elements follow the list
  rules (strings of at most 255 characters that are not a malformed date, finite numbers,
  dates; no bools): a cell holding an element Fyno cannot hold is left out whole
  (``invalid_element``), so that a list never lands half; an empty list sends nothing.
- A property the ledger or ``schema=`` knows must have the op's type (add: number, append and
  remove: list), else every cell is ``op_type_mismatch``. A new property created by add (Number)
  or append (List) is seeded like a new ``set`` property; ``remove`` never creates one.
- Requests of one user, in this order: set, set-once, numerical-add, list-append (one request per
  element: request k carries the k-th element of every appended property), list-remove (the
  same), unset. In batch mode a row's items follow each other in one batch: the first item holds
  every action (its keys touch distinct properties, so their order cannot matter), each further
  item the next elements of the appended and removed lists.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd

from ..coercion.coerce import Coerced, Issue, coerce_series
from ..coercion.datelike import date_like
from ..coercion.encode import encode_string
from ..coercion.ids import encodable_as_utf8
from ..coercion.types import dtype_key
from ..errors import FynoInputError
from ..options.checks import OPS

if TYPE_CHECKING:
    from .plan import PushPlan

__all__ = [
    "ELEMENTS",
    "NOT_IDEMPOTENT",
    "OPERATION",
    "OPS",
    "Step",
    "add_fingerprint",
    "add_keys",
    "check_ops",
    "coerce_op",
    "describe_steps",
    "drop_without_safe_seed",
    "elements",
    "name_problem",
    "not_idempotent",
    "request_count",
    "row_steps",
]

#: op -> the endpoint's last path segment
OPERATION = {
    "set": "set",
    "set_once": "set-once",
    "add": "numerical-add",
    "append": "list-append",
    "remove": "list-remove",
    "unset": "unset",
}
#: Ops whose request counts twice when applied twice (Fyno takes no idempotency key).
NOT_IDEMPOTENT = frozenset({"add", "append"})
_OP_TYPE = {"add": "number", "append": "list", "remove": "list"}
ELEMENTS = ("append", "remove")


class Step(NamedTuple):
    """One request of a row: its op, the properties it touches and the JSON text of each one's
    value (none for ``unset``); `fyno_pandas.planning.bodies` makes its body."""

    op: str
    props: tuple[str, ...]
    values: tuple[str, ...]

    @property
    def adding(self) -> tuple[str, ...]:
        """The properties this request adds to or appends to (empty when it is idempotent)."""
        return self.props if self.op in NOT_IDEMPOTENT else ()


def check_ops(
    ops: Mapping[Hashable, str] | None, unset: Any, names: Sequence[str]
) -> tuple[dict[str, str], list[str]]:
    """``ops`` as ``{property: op}`` (``set`` left out) and ``unset`` as a list, checked against
    the frame: ``names`` are the properties the plan sends; ``ops`` may name only those,
    ``unset`` none. Their shape is the declaration's check (`fyno_pandas.options.checks`).
    """
    out: dict[str, str] = {}
    if ops is not None:
        for column, op in ops.items():
            if str(column) not in names:
                raise FynoInputError(
                    f"ops names {column!r}, which is not a sent column",
                    column=column,
                    rule="invalid_op",
                )
            if op != "set":
                out[str(column)] = op
    if unset is None:
        return out, []
    listed = [unset] if isinstance(unset, str) else list(unset)
    for name in listed:
        problem = name_problem(name)
        if problem is not None:
            raise FynoInputError(
                f"unset names {name!r}: {problem}", column=name, rule="invalid_property_name"
            )
        if name in names:
            raise FynoInputError(
                f"unset names {name!r}, which this push also sends", column=name, rule="unset_sent"
            )
    return out, list(dict.fromkeys(listed))


def name_problem(name: Any) -> str | None:
    """Why ``name`` cannot name a property, or None when it can."""
    if not isinstance(name, str) or not name.strip() or name.startswith("$"):
        return "property names must be non-empty text, not start with '$'"
    if not encodable_as_utf8([name])[0]:
        return (
            "property names must be UTF-8 text, and this one holds a lone surrogate (what "
            "encoding_errors='surrogateescape' makes of a byte that does not decode)"
        )
    return None


def _as_lists(s: pd.Series) -> pd.Series:
    """Each cell as a list of elements (a scalar as one), None where missing.

    An Arrow list column is left as it is, so that its elements are encoded as a ``set`` of it
    encodes them (`fyno_pandas.coercion.coerce`): as objects its days would become naive datetimes.
    """
    if dtype_key(s.dtype) == "arrow_list":
        return s
    out = np.full(len(s), None, dtype=object)
    for i, v in enumerate(s.to_numpy(dtype=object)):
        if isinstance(v, (list, tuple, np.ndarray)):
            out[i] = list(v)
        elif not (np.ndim(v) == 0 and pd.isna(v)):
            out[i] = [v]
    return pd.Series(out, index=s.index, name=s.name, dtype=object)


def _relabel(c: Coerced, old: str, new: str, message: str) -> None:
    c.issues = [
        Issue(new, i.action, i.positions, message) if i.rule == old else i for i in c.issues
    ]


def coerce_op(
    s: pd.Series, op: str, known_type: str | None, naive_tz: Any, long_strings: str
) -> Coerced:
    """`coerce_series` with the rules of ``op`` (see the module docstring)."""
    if op in ("set", "set_once"):
        return coerce_series(s, known_type=known_type, naive_tz=naive_tz, long_strings=long_strings)
    wanted = _OP_TYPE[op]
    data = _as_lists(s) if op in ELEMENTS else s
    c = coerce_series(data, known_type=wanted, naive_tz=naive_tz, long_strings=long_strings)
    c.note = f"{op}" + (
        "" if known_type is None else f"; type {known_type}, set by schema= or an earlier push"
    )
    if op == "add":
        _relabel(c, "type_mismatch", "add_not_number", "add takes numbers only; left out")
    else:
        msg = "an element Fyno cannot hold (a bool, a long string, a malformed date, ...); left out"
        _relabel(c, "invalid_list", "invalid_element", msg)
        empty = np.equal(c.fragments, "[]")
        c.fragments[empty], c.present[empty] = None, False
        append = op == "append"
        c.ambiguous = _first_date_like(c.fragments) if append else np.zeros(len(s), bool)
    if known_type is not None and known_type != wanted:
        cells = np.flatnonzero(c.present)
        msg = f"{op} needs a {wanted} property; this one is {known_type}, Fyno would store nothing"
        c.issues.append(Issue("op_type_mismatch", "dropped", cells, msg))
        c.fragments[cells], c.present[cells] = None, False
    c.fyno_type = wanted
    return c


def drop_without_safe_seed(c: Coerced, ok: np.ndarray) -> None:
    """Drop every value of a new property when none of them can fix its type for sure.

    Fyno types a new property by its first value; when every value a sent row carries is
    date-like text (`fyno_pandas.coercion.datelike`), whichever Fyno processed first would decide
    between String and Date, or create nothing at all.
    """
    if c.ambiguous is None or not c.present.any() or (c.present & ok & ~c.ambiguous).any():
        return
    cells = np.flatnonzero(c.present)
    message = (
        "every value looks like a date, and the first value sent for a new property fixes its "
        "type: Fyno might make it a date, so none is sent (schema= names the type if the "
        "property exists)"
    )
    c.issues.append(Issue("no_safe_seed", "dropped", cells, message))
    c.fragments[cells] = None
    c.present[cells] = False
    c.ambiguous[cells] = False


def _first_date_like(fragments: np.ndarray) -> np.ndarray:
    """Rows whose first element is date-like text: never the seed of a new List property."""
    out = np.zeros(len(fragments), dtype=bool)
    rows = [i for i, f in enumerate(fragments) if f is not None and f.startswith('["')]
    firsts = np.array([json.loads(fragments[i])[0] for i in rows], dtype=object)
    if len(rows):
        out[rows] = date_like(firsts)[0]
    return out


class _NumberText(str):
    """A number's JSON text as the list fragment holds it (a double would round decimals)."""


def elements(fragment: str) -> list[str]:
    """The JSON text of each element of a list fragment, in order, as the fragment writes it."""
    found = json.loads(fragment, parse_int=_NumberText, parse_float=_NumberText)
    return [e if isinstance(e, _NumberText) else encode_string(e) for e in found]


def row_steps(plan: PushPlan, pos: int, done: Mapping[str, int] | None = None) -> list[Step]:
    """The requests of row ``pos`` in order; ``done`` maps a property to how many of its
    requests for this row were made already (by a seed, or an earlier push a retry replays):
    they are not made again."""
    steps = _op_steps(plan, pos, done or {}) if plan.ops else _set_step(plan, pos)
    names = tuple(p for p in plan.properties if plan.unsets[p][pos])
    if names:
        steps.append(Step("unset", names, ()))
    return steps


def _set_step(plan: PushPlan, pos: int) -> list[Step]:
    """Row ``pos``'s one set step, of a plan whose every property is set (the common row, and
    the hot one of a per-row push: `_op_steps` costs it twice as much); nothing is ever done
    already, ``done`` counting adds and appends only."""
    fragments = plan.fragments
    pairs = [(p, f) for p in plan.properties if (f := fragments[p][pos]) is not None]
    return [_step("set", pairs)] if pairs else []


def _op_steps(plan: PushPlan, pos: int, done: Mapping[str, int]) -> list[Step]:
    """Row ``pos``'s steps before its unset, in `row_steps` order."""
    once, lists = _row_values(plan, pos, done)
    steps = [_step(op, pairs) for op, pairs in once.items() if pairs]
    for op, named in lists.items():
        for k in range(max((len(e) for _, e in named), default=0)):
            steps.append(_step(op, [(p, e[k]) for p, e in named if k < len(e)]))
    return steps


def _row_values(
    plan: PushPlan, pos: int, done: Mapping[str, int]
) -> tuple[dict[str, list[tuple[str, str]]], dict[str, list[tuple[str, list[str]]]]]:
    """Row ``pos``'s values not made yet: ``(property, value text)`` per op made once (set,
    set_once, add, in that order), ``(property, element texts)`` per list op."""
    once: dict[str, list[tuple[str, str]]] = {"set": [], "set_once": [], "add": []}
    lists: dict[str, list[tuple[str, list[str]]]] = {op: [] for op in ELEMENTS}
    for p in plan.properties:
        frag = plan.fragments[p][pos]
        if frag is None:
            continue
        op = plan.ops.get(p, "set")
        if op in lists:
            lists[op].append((p, elements(frag)[done.get(p, 0) :]))
        elif not (op == "add" and done.get(p)):
            once[op].append((p, frag))
    return once, lists


def _step(op: str, pairs: list[tuple[str, str]]) -> Step:
    props, values = zip(*pairs, strict=True)
    return Step(op, props, values)


def describe_steps(steps: Sequence[Step]) -> str:
    """``steps`` as a reader would name them: ``add logins, append badges``."""
    return ", ".join(f"{s.op} {', '.join(s.props)}" for s in steps)


def not_idempotent(plan: PushPlan, pos: int) -> bool:
    """True when row ``pos`` adds or appends something."""
    return any(
        plan.fragments[p][pos] is not None for p, op in plan.ops.items() if op in NOT_IDEMPOTENT
    )


def add_keys(plan: PushPlan) -> np.ndarray:
    """Per row, the stable key of its adds and appends (None for a row without any): the JSON
    text of [distinct_id, occurrence of that id among the keyed rows, [[op, property, element
    index, value text], ...]], properties by name. The same frame pushed again gives the same
    keys, however ``ops`` was ordered (a retry from a file reads it back from the ledger,
    sorted); a row's key does not depend on which rows are sendable."""
    keys = np.full(len(plan.index), None, dtype=object)
    adding = sorted((p, op) for p, op in plan.ops.items() if op in NOT_IDEMPOTENT)
    seen: dict[str, int] = {}
    for pos in np.flatnonzero(pd.notna(plan.distinct_ids)).tolist():
        work = []
        for p, op in adding:
            frag = plan.fragments[p][pos]
            if frag is not None:
                texts = elements(frag) if op == "append" else [frag]
                work += [[op, p, k, text] for k, text in enumerate(texts)]
        if work:
            did = str(plan.distinct_ids[pos])
            seen[did] = seen.get(did, -1) + 1
            keys[pos] = json.dumps([did, seen[did], work], ensure_ascii=False)
    return keys


def add_fingerprint(plan: PushPlan, keys: np.ndarray) -> str | None:
    """What identifies a push's adds and appends: a hash of its sendable rows' sorted keys
    (None: it adds and appends nothing)."""
    present = sorted(k for k in keys[plan.sendable].tolist() if k is not None)
    if not present:
        return None
    return hashlib.sha256("\n".join(present).encode()).hexdigest()


def request_count(plan: PushPlan) -> int:
    """Requests a per-row push of ``plan`` makes (seeds aside; batch mode packs rows)."""
    n = len(plan.index)
    any_of = {op: np.zeros(n, dtype=bool) for op in (*OPS, "unset")}
    longest = {op: np.zeros(n, dtype=np.int64) for op in ELEMENTS}
    for p in plan.properties:
        op = plan.ops.get(p, "set")
        any_of["unset"] |= plan.unsets[p]
        if op in ELEMENTS:
            sizes = [len(json.loads(f)) if f is not None else 0 for f in plan.fragments[p]]
            longest[op] = np.maximum(longest[op], sizes)
        else:
            any_of[op] |= np.not_equal(plan.fragments[p], None)
    count = sum(any_of.values(), np.zeros(n, dtype=np.int64)) + sum(longest.values())
    return int(count[plan.sendable].sum())


def unset_column(name: str) -> dict[str, Any]:
    """The ``plan.columns`` row of a property cleared by ``unset=``."""
    empty = dict.fromkeys(("values", "missing", "coerced", "dropped"), 0)
    return {
        "column": name,
        "dtype": "",
        "fyno_type": None,
        **empty,
        "example_before": None,
        "example_after": None,
        "note": "unset for every row",
    }
