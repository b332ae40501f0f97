"""Every body on the wire comes from `fyno_pandas.planning.bodies`, and `payloads()` is it decoded.

The ast checks read the package's source: no module of ``sending/`` (nor the request path of
``client/``) builds JSON, and the body texts (the ``{"distinct_id"`` head, the ``$set``-like keys,
the ``{"batch":[`` wrapper) are written in the bodies module alone. The property test pushes
random frames of every op, per row and in batches, to the emulator and compares what it received
with ``plan.payloads()``.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fyno_pandas
from fyno_pandas.emulator import FynoEmulator
from fyno_pandas.planning import bodies
from fyno_pandas.planning.steps import Step, row_steps

ROOT = Path(fyno_pandas.__file__).parent
BODIES = ROOT / "planning" / "bodies.py"
#: Text only a request body holds: its head, an action key, the batch wrapper.
BODY_TEXT = ('"distinct_id"', '"action"', '"batch"', '"$set"', '"$once"', '"$add"', '"$unset"')
QUIET = {"preview": False, "progress": False, "ledger": False, "concurrency": 1}


def _sources(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def _json_building(path: Path) -> list[str]:
    """Where ``path`` builds JSON: a call of ``json.dumps``/``json.dump``, an f-string or a
    string constant holding body text."""
    found = []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr)}
    for node in ast.walk(tree):
        if id(node) in docstrings:
            continue
        if isinstance(node, ast.Attribute) and node.attr in ("dumps", "dump"):
            found.append(f"{path.name}:{node.lineno} json.{node.attr}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str | bytes):
            text = node.value.decode() if isinstance(node.value, bytes) else node.value
            if any(mark in text for mark in BODY_TEXT):
                found.append(f"{path.name}:{node.lineno} {text[:30]!r}")
    return found


def test_the_sending_modules_build_no_json() -> None:
    assert [hit for path in _sources("sending") for hit in _json_building(path)] == []


def test_only_the_bodies_module_writes_body_text() -> None:
    others = [p for p in _sources("planning", "sending") if p != BODIES]
    written = [hit for path in others for hit in _json_building(path) if "json." not in hit]
    assert written == []
    assert _json_building(BODIES)  # the check sees body text where it is


def test_the_client_builds_json_only_from_a_callers_dicts_and_for_error_text() -> None:
    """``FynoClient.post``, which the sender calls, sends the bytes it is given: the client's
    only ``json.dumps`` are `_dumps` (the dicts a caller gives ``FynoClient.set``/``batch``)
    and `_message_of` (an error's text)."""
    building = set()
    for path in _sources("client"):
        for fn in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(fn, ast.FunctionDef) and any(
                isinstance(n, ast.Attribute) and n.attr in ("dumps", "dump") for n in ast.walk(fn)
            ):
                building.add(fn.name)
    assert building <= {"_dumps", "_message_of"}


def test_only_the_bodies_module_calls_the_encoder_on_names_and_ids() -> None:
    """``encode_string`` outside ``coercion/``: the bodies module, and `steps.elements`, which
    writes each element of a list value back as the value text its step carries."""
    callers = []
    for path in _sources("planning", "sending", "client", "ledger", "pipeline"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for fn in ast.walk(tree):
            if isinstance(fn, ast.FunctionDef):
                names = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name)}
                if "encode_string" in names:
                    callers.append(f"{path.parent.name}/{path.stem}.{fn.name}")
    assert {c for c in callers if not c.startswith("planning/bodies.")} == {
        "planning/steps.elements"
    }


def test_a_step_body_is_its_values_as_given() -> None:
    df = pd.DataFrame({"uid": ["a"], "n": [1.5], "tags": [["x", "y"]]})
    plan = fyno_pandas.plan(df, "uid", ops={"tags": "append"}, unset=["old"], ledger=False)
    steps = row_steps(plan, 0)
    assert [bodies.step_body(plan, 0, s) for s in steps] == [
        b'{"distinct_id":"a","$set":{"n":1.5}}',
        b'{"distinct_id":"a","$append":{"tags":"x"}}',
        b'{"distinct_id":"a","$append":{"tags":"y"}}',
        b'{"distinct_id":"a","$unset":["old"]}',
    ]
    items = bodies.batch_items(plan, 0, steps)
    assert [i.adding for i in items] == [("tags",), ("tags",)]
    assert json.loads(bodies.batch_body([i.text for i in items])) == {
        "batch": [
            {
                "distinct_id": "a",
                "action": {"$set": {"n": 1.5}, "$append": {"tags": "x"}, "$unset": ["old"]},
            },
            {"distinct_id": "a", "action": {"$append": {"tags": "y"}}},
        ]
    }
    assert bodies.seed_body(plan, 0, "append", ["tags"]) == bodies.step_body(plan, 0, steps[1])


def test_set_bodies_are_the_set_steps() -> None:
    df = pd.DataFrame({"uid": ["a", "b", "c"], "n": [1, None, 3], "s": ["x", "y", None]})
    plan = fyno_pandas.plan(df, "uid", ledger=False)
    rows = np.arange(3)
    assert bodies.set_bodies(plan, rows) == [
        bodies.step_body(plan, pos, row_steps(plan, pos)[0]) for pos in rows.tolist()
    ]
    assert bodies.argument(plan, Step("unset", ("n", "s"), ())) == '["n","s"]'


# -- payloads() is what the emulator received ---------------------------------------------------

OPS = ("set", "set_once", "add", "append", "remove")
SCHEMA = {
    "set": "string",
    "set_once": "string",
    "add": "number",
    "append": "list",
    "remove": "list",
}
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=4)
VALUES = {
    "set": st.one_of(st.none(), TEXT),
    "set_once": st.one_of(st.none(), TEXT),
    "add": st.one_of(st.none(), st.integers(-5, 5)),
    "append": st.lists(st.sampled_from(["a", "b", "é"]), max_size=3),
    "remove": st.lists(st.sampled_from(["a", "b"]), max_size=2),
}


@st.composite
def frames(draw: Any) -> tuple[pd.DataFrame, dict[str, str], list[str]]:
    ops = draw(st.lists(st.sampled_from(OPS), min_size=1, max_size=4))
    rows = draw(st.integers(1, 5))
    data: dict[str, Any] = {"uid": [f"u{i}" for i in range(rows)]}
    for k, op in enumerate(ops):
        data[f"{op}{k}"] = draw(st.lists(VALUES[op], min_size=rows, max_size=rows))
    unset = ["gone"] if draw(st.booleans()) else []
    return pd.DataFrame(data), {f"{op}{k}": op for k, op in enumerate(ops)}, unset


def _received(emulator: FynoEmulator) -> list[dict[str, Any]]:
    """The bodies the emulator received, a batch's items as one body per action, in order."""
    out = []
    for request in emulator.requests:
        body = request["body"]
        for item in body.get("batch", [body]) if isinstance(body, dict) else []:
            actions = item.get("action", {k: v for k, v in item.items() if k != "distinct_id"})
            out += [{"distinct_id": item["distinct_id"], k: v} for k, v in actions.items()]
    return out


def _by_user(payloads: list[dict[str, Any]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for body in payloads:
        out.setdefault(body["distinct_id"], []).append(json.dumps(body, sort_keys=True))
    return out


@pytest.mark.parametrize("batch_size", [None, 3])
@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=frames())
def test_payloads_are_what_the_emulator_received(
    emulator: FynoEmulator, batch_size: int | None, case: Any
) -> None:
    df, ops, unset = case
    emulator.reset()
    schema = {column: SCHEMA[op] for column, op in ops.items()} | {"gone": "string"}
    options = {"ops": ops, "unset": unset or None, "schema": schema}
    plan = fyno_pandas.plan(df, "uid", **options, ledger=False)
    destination = {
        "wsid": emulator.wsid,
        "api_key": emulator.api_key,
        "endpoint": emulator.endpoint,
    }
    fyno_pandas.push(df, "uid", batch_size=batch_size, **options, **QUIET, **destination)
    sent = _received(emulator)
    if batch_size is None:  # one request per step, in the row's order
        assert sent == plan.payloads()
    else:  # a row's items carry its steps' actions, the k-th elements in the k-th item
        assert {u: sorted(b) for u, b in _by_user(sent).items()} == {
            u: sorted(b) for u, b in _by_user(plan.payloads()).items()
        }


@settings(max_examples=25, deadline=None)
@given(case=frames())
def test_items_built_together_are_the_items_built_row_by_row(case: Any) -> None:
    """`batch_rows` builds one-item rows as one text; a row with requests made already takes
    the row-by-row path (`batch_items`), which must give the same text."""
    df, ops, unset = case
    ops = {c: op for c, op in ops.items() if op not in ("append", "remove")}
    plan = fyno_pandas.plan(df, "uid", ops=ops, unset=unset or None, ledger=False)
    rows = np.flatnonzero(plan.sendable).tolist()
    together = bodies.batch_rows(plan, rows, {})
    row_by_row = bodies.batch_rows(plan, rows, {pos: {} for pos in rows})
    assert together == row_by_row
