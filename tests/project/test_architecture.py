"""The package's folders and floors: pure, I/O and state, entry points and display.

Each folder of ``fyno_pandas/`` is one room with one floor, and `RULES` says which rooms it may
import; the layout table of docs/contributing.md says the same (a test compares them). Every
import of every module counts, at module level or inside a function; only imports under
``if TYPE_CHECKING:`` (annotations) are left out. The only imports allowed to point upward are
`ALLOWED_HOPS`: a plan shown (``repr``, Jupyter) imports its text and HTML from ``display``
and, for the view that can send (it needs `fyno_pandas.push_plan`), ``pipeline.view``, both
when called.
"""

from __future__ import annotations

import ast
import dataclasses
import re
import typing
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import fyno_pandas
from fyno_pandas.planning.build import build_plan
from fyno_pandas.planning.plan import PushPlan

PACKAGE = "fyno_pandas"
ROOT = Path(fyno_pandas.__file__).parent
CONTRIBUTING = ROOT.parent / "docs" / "contributing.md"

#: The lazy upward imports: (importer, imported).
ALLOWED_HOPS = {
    ("fyno_pandas.planning.plan", "fyno_pandas.display.render"),
    ("fyno_pandas.planning.plan", "fyno_pandas.pipeline.view"),
}
PURE, IO, ENTRY = "pure", "I/O and state", "entry points and display"
#: room -> (floor, the rooms it may import). A room is a folder, or a module at the top.
RULES: dict[str, tuple[str, frozenset[str]]] = {
    room: (floor, frozenset(allowed.split()))
    for room, floor, allowed in (
        ("errors", PURE, ""),
        ("coercion", PURE, "errors"),
        ("options", PURE, "errors coercion"),
        ("planning", PURE, "errors coercion options"),
        ("results", PURE, "errors coercion"),
        ("client", IO, "errors options"),
        ("files", IO, "errors results"),
        ("sources", IO, "errors"),
        ("ledger", IO, "errors coercion client planning"),
        ("sending", IO, "errors coercion options planning results client ledger"),
        ("emulator", IO, ""),
        ("display", ENTRY, "errors coercion options planning results"),
        (
            "pipeline",
            ENTRY,
            "errors coercion options planning results client files sources ledger sending display",
        ),
        ("cli", ENTRY, "errors options results files display pipeline emulator"),
        ("accessor", ENTRY, "pipeline"),
        ("dask", ENTRY, "errors options planning results client ledger sending display pipeline"),
        ("polars", ENTRY, "options planning results sources display pipeline"),
        ("spark", ENTRY, "errors options planning results client sources display pipeline"),
        ("__main__", ENTRY, "cli"),
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
        if target and (name, target) not in ALLOWED_HOPS and target != name:
            out.add(target)
    return out


def room_of(name: str) -> str:
    """The folder (or top-level module) ``name`` lives in: ``fyno_pandas.sending.sender`` ->
    ``sending``."""
    return name.split(".")[1]


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


def test_the_allowed_hops_are_real_and_the_only_upward_imports_of_the_plan() -> None:
    for importer, target in ALLOWED_HOPS:
        assert target in imported(importer)
        assert {room_of(t) for t in internal(importer)} <= RULES["planning"][1] | {"planning"}
    # the widget is handed its send function and never needs the plan's class at run time
    assert not internal(f"{PACKAGE}.display.widget") & {
        f"{PACKAGE}.planning.plan",
        f"{PACKAGE}.pipeline.workflow",
    }


def test_every_module_lives_in_a_room_with_rules() -> None:
    unplaced = sorted(n for n in MODULES if n != PACKAGE and room_of(n) not in RULES)
    assert unplaced == []
    top = [p.name for p in ROOT.glob("*.py")]
    assert len(top) <= 12, top


@pytest.mark.parametrize("room", sorted(RULES))
def test_each_room_imports_only_the_rooms_its_rule_names(room: str) -> None:
    allowed = RULES[room][1] | {room}
    crossings = {
        f"{name} -> {target}"
        for name in MODULES
        if name != PACKAGE and room_of(name) == room
        for target in internal(name)
        if room_of(target) not in allowed
    }
    assert crossings == set()


def test_rules_point_only_downward() -> None:
    order = {PURE: 0, IO: 1, ENTRY: 2}
    for room, (floor, allowed) in RULES.items():
        for other in allowed:
            assert order[RULES[other][0]] <= order[floor], f"{room} -> {other}"
    rooms = {room: set(allowed) for room, (_, allowed) in RULES.items()}
    assert find_cycle(rooms) is None


@pytest.mark.parametrize("room", sorted(r for r, (floor, _) in RULES.items() if floor == PURE))
def test_pure_rooms_import_no_io_or_display_package(room: str) -> None:
    for name in MODULES:
        if name != PACKAGE and room_of(name) == room:
            third = {target.partition(".")[0] for target in imported(name)}
            assert not third & IO_PACKAGES, f"{name} imports {sorted(third & IO_PACKAGES)}"


def layout_section(path: Path) -> str:
    """The text of ``path``'s "## Layout" section."""
    return path.read_text(encoding="utf-8").split("## Layout", 1)[1].split("\n## ", 1)[0]


def layout_rows(path: Path) -> list[tuple[str, str, str, str]]:
    """The layout table's rows: (room, floor, what lives there, the rooms it may import)."""
    row = r"^\| `(\w+)(?:/|\.py)` \| ([^|]+) \| ([^|]+) \|([^|]*)\|$"
    return re.findall(row, layout_section(path), re.M)


def test_the_documented_layout_says_what_the_rules_say() -> None:
    described = {
        room: (floor.strip(), frozenset(re.findall(r"`(\w+)", allowed)))
        for room, floor, _, allowed in layout_rows(CONTRIBUTING)
    }
    assert described == RULES


@pytest.mark.parametrize(
    "room", sorted(r for r in RULES if (ROOT / r).is_dir() and r not in ("ledger", "emulator"))
)
def test_the_documented_layout_names_every_module_of_a_folder(room: str) -> None:
    """Each folder's row names its modules (the ledger and the emulator are described whole)."""
    (what,) = [what for name, _, what, _ in layout_rows(CONTRIBUTING) if name == room]
    modules = {p.stem for p in (ROOT / room).glob("*.py")} - {"__init__", "__main__"}
    assert modules <= set(re.findall(r"`(\w+)`", what))


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
