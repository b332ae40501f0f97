"""The package's floors: pure, I/O and state, display and glue; arrows only downward.

Every import of every module counts, at module level or inside a function; only imports under
``if TYPE_CHECKING:`` (annotations) are left out. The one import allowed to point upward is
`ALLOWED_HOP`: a plan shown in Jupyter builds its view, and the view that can send needs
`fyno_pandas.workflow.push_plan`, so `PushPlan._repr_mimebundle_` and `PushPlan.widget` import
`fyno_pandas.view` when called.
"""

from __future__ import annotations

import ast
import dataclasses
import typing
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import fyno_pandas
from fyno_pandas.planning import build_plan
from fyno_pandas.pushplan import PushPlan

PACKAGE = "fyno_pandas"
ROOT = Path(fyno_pandas.__file__).parent

#: The one lazy upward import: (importer, imported).
ALLOWED_HOP = ("fyno_pandas.pushplan", "fyno_pandas.view")

#: No network, no files, no display, no process state.
PURE = {
    f"{PACKAGE}.{name}"
    for name in (
        "types",
        "encode",
        "coerce",
        "datelike",
        "numeric",
        "instants",
        "ids",
        "issues",
        "planning",
        "ops",
        "pushplan",
        "payloads",
        "replay",
        "render",
        "results",
        "options",
        "optionfields",
        "optionchecks",
        "optiondocs",
        "retry",
        "sendmode",
        "redact",
        "errors",
    )
}
#: Network, files, environment and process state.
IO_AND_STATE = {
    f"{PACKAGE}.{name}"
    for name in (
        "client",
        "config",
        "connection",
        "ledger",
        "sender",
        "batching",
        "seeding",
        "sendstate",
        "session",
        "transport",
        "ratelimit",
        "concurrency",
        "resultfile",
        "reading",
        "emulator",
    )
}
#: What users see and call.
DISPLAY_AND_GLUE = {
    f"{PACKAGE}.{name}"
    for name in (
        "display",
        "widget",
        "view",
        "workflow",
        "frames",
        "mirror",
        "resume",
        "dask",
        "accessor",
        "cli",
        "quickstart",
    )
}
#: Third-party and standard-library packages of I/O and display.
IO_PACKAGES = {"requests", "urllib3", "ipywidgets", "IPython", "tqdm", "sqlite3"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(nodes: Iterable[ast.AST]) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import in ``nodes``, functions included, ``if TYPE_CHECKING:`` bodies left out."""
    for node in nodes:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _imports(node.orelse)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        else:
            yield from _imports(ast.iter_child_nodes(node))


def imported(name: str) -> set[str]:
    """The absolute names ``name`` imports: modules of the package, or top-level packages."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in _imports([ast.parse(path.read_text(encoding="utf-8"))]):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")
            anchor = anchor[: len(anchor) - (node.level - 1)]
            base = ".".join([*anchor, base] if base else anchor)
        for alias in node.names:
            sub = f"{base}.{alias.name}"
            found.add(sub if sub in MODULES else base)
    return found


def internal(name: str) -> set[str]:
    """The package modules ``name`` imports, less the allowed hop."""
    out = set()
    for target in imported(name):
        while target and target not in MODULES:  # fyno_pandas.ledger.store.X -> its module
            target = target.rpartition(".")[0]
        if target and (name, target) != ALLOWED_HOP and target != name:
            out.add(target)
    return out


def floor_of(name: str) -> str | None:
    for floors, label in ((PURE, "pure"), (IO_AND_STATE, "io"), (DISPLAY_AND_GLUE, "display")):
        if any(name == m or name.startswith(m + ".") for m in floors):
            return label
    return None


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph`` (a list of modules, first repeated last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)) is not None:
            return found
    return None


def test_the_module_graph_has_no_circle() -> None:
    graph = {name: internal(name) for name in MODULES if name != PACKAGE}
    # The package's __init__ is its front door: it imports the floors and nothing imports it.
    assert not any(PACKAGE in targets for targets in graph.values())
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_allowed_hop_is_real_and_the_only_upward_import_of_the_plan() -> None:
    importer, target = ALLOWED_HOP
    assert target in imported(importer)
    assert internal(importer) <= PURE
    # the widget is handed its send function and never needs the plan's class at run time
    assert not internal(f"{PACKAGE}.widget") & {f"{PACKAGE}.pushplan", f"{PACKAGE}.workflow"}


def test_every_module_has_a_floor() -> None:
    unplaced = [n for n in MODULES if n not in (PACKAGE, f"{PACKAGE}.__main__") and not floor_of(n)]
    assert unplaced == []


def test_pure_modules_import_only_pure_modules() -> None:
    for name in sorted(PURE):
        assert name in MODULES, f"{name} is listed as pure but does not exist"
        upward = internal(name) - PURE
        assert not upward, f"{name} imports {sorted(upward)}"
        assert not internal(name) & (IO_AND_STATE | DISPLAY_AND_GLUE)
        third = {target.partition(".")[0] for target in imported(name)}
        assert not third & IO_PACKAGES, f"{name} imports {sorted(third & IO_PACKAGES)}"


def test_io_and_state_never_import_display_or_glue() -> None:
    for name in MODULES:
        if floor_of(name) == "io":
            assert not {floor_of(t) for t in internal(name)} & {"display"}, name


def test_push_plan_is_typed_with_the_plan() -> None:
    hints = typing.get_type_hints(fyno_pandas.push_plan)
    assert hints["plan"] is PushPlan
    assert typing.get_type_hints(fyno_pandas.plan)["return"] is PushPlan


def test_every_parameter_named_plan_is_annotated_pushplan() -> None:
    loose = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for arg in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]:
                if arg.arg in ("plan", "chunk") and (
                    arg.annotation is None or "PushPlan" not in ast.unparse(arg.annotation)
                ):
                    loose.append(f"{name}.{node.name}({arg.arg})")
    assert loose == []


def test_a_plan_is_a_value_built_in_one_call() -> None:
    df = pd.DataFrame({"id": ["a", "b", "c"], "x": [1.0, np.inf, 3.0], "s": ["p", "q", None]})
    plan = build_plan(df, "id")
    names = {f.name for f in dataclasses.fields(plan)}
    assert {"_set", "_ambiguous", "_issue_pos", "ledger", "values_unchanged"} <= names
    assert "result" not in names
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.sendable = np.zeros(3, dtype=bool)  # type: ignore[misc]
    before = (plan.sendable.copy(), plan.fragments["x"].copy(), len(plan.issues))
    narrowed = plan.restrict({"x": np.array([False, False, True]), "s": np.array([0, 1, 1])})
    dropped = plan.drop_values("s", "type_mismatch", "a test")
    assert narrowed is not plan
    assert dropped is not plan
    assert narrowed.fragments["x"].tolist() == [None, None, plan.fragments["x"][2]]
    assert narrowed.unchanged.tolist() == [True, False, False]
    assert dropped.issues["rule"].tolist()[-2:] == ["type_mismatch"] * 2
    assert len(plan.issues) == before[2]
    assert (plan.sendable == before[0]).all()
    assert plan.fragments["x"].tolist() == before[1].tolist()


def test_plan_records_its_ledger_and_only_changed_without_writing_to_a_plan(
    tmp_path: Path,
) -> None:
    df = pd.DataFrame({"id": ["a"], "x": [1]})
    plan = fyno_pandas.plan(df, "id", ledger=tmp_path / "ledger.sqlite", only_changed=False)
    assert plan.ledger == tmp_path / "ledger.sqlite"
    assert plan.options["only_changed"] is False
    assert fyno_pandas.plan(df, "id", ledger=False).ledger is False
