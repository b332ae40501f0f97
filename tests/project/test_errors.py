"""One error hierarchy (issue 21, item 6): every ``raise`` of the package raises a FynoPandasError.

An ast scan of every ``raise`` outside ``emulator/`` (which imports nothing of the rest and
answers in HTTP). What is raised must resolve to a class deriving from `FynoPandasError` (it
may also derive from a built-in), or `PushInterrupted` (a `KeyboardInterrupt`, on purpose):

- ``raise Name(...)`` / ``raise Name``: the class the module's namespace binds to ``Name``;
- ``raise factory(...)``: a function of the package whose every ``return`` resolves so;
- ``raise exc``: ``exc`` caught by an enclosing ``except ... as exc`` (a re-raise), or a local
  whose every assignment in the function resolves so;
- ``raise holder.attr``: an exception kept for later; every assignment to ``.attr`` in the
  package is None, the attribute itself, or resolves so (a caught exception, usually);
- a bare ``raise``.

`RELAYED` lists the few raises a scan cannot follow, each with the reason it is a re-raise.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import fyno_pandas
from fyno_pandas.errors import FynoPandasError, PushInterrupted

ROOT = Path(fyno_pandas.__file__).parent
OURS = (FynoPandasError, PushInterrupted)

#: Raises the scan cannot follow: (module, raised expression) -> why it is a re-raise.
RELAYED = {
    ("fyno_pandas.ledger.groupcommit", "outcome"): (
        "the KeyboardInterrupt or SystemExit that stopped the leading thread's commit, caught "
        "there and raised again in each thread waiting on that commit"
    ),
    ("fyno_pandas.sending.sender", "push.crash"): (
        "whatever stopped a worker thread (`PushState.crashed`, from the `except BaseException` "
        "of `run_units`), raised again in the calling thread"
    ),
}


class Scan:
    """One module's tree, its parents and its namespace."""

    def __init__(self, name: str, source: str, namespace: dict[str, Any]) -> None:
        self.name = name
        self.tree = ast.parse(source)
        self.namespace = namespace
        self.parents = {
            child: node for node in ast.walk(self.tree) for child in ast.iter_child_nodes(node)
        }

    def ancestors(self, node: ast.AST) -> Iterator[ast.AST]:
        while node in self.parents:
            node = self.parents[node]
            yield node

    def function_of(self, node: ast.AST) -> ast.AST:
        for parent in self.ancestors(node):
            if isinstance(parent, ast.FunctionDef | ast.AsyncFunctionDef):
                return parent
        return self.tree


class Checker:
    """Resolves what a ``raise`` raises, across the modules it was given."""

    def __init__(self, scans: list[Scan]) -> None:
        self.scans = {scan.name: scan for scan in scans}
        self._seen: set[tuple[str, int, int]] = set()

    def problems(self) -> list[str]:
        raises = sorted(
            (
                (scan, node)
                for scan in self.scans.values()
                for node in ast.walk(scan.tree)
                if isinstance(node, ast.Raise) and node.exc is not None
            ),
            key=lambda pair: (pair[0].name, pair[1].lineno),
        )
        return [
            f"{scan.name}:{node.lineno} raise {ast.unparse(node.exc)}"
            for scan, node in raises
            if (scan.name, ast.unparse(node.exc)) not in RELAYED and not self.ours(scan, node.exc)
        ]

    def ours(self, scan: Scan, node: ast.expr) -> bool:
        key = (scan.name, node.lineno, node.col_offset)
        if key in self._seen:  # a cycle (an attribute assigned from itself) adds nothing
            return True
        self._seen.add(key)
        if isinstance(node, ast.Call):
            return self._callable_ours(scan, node.func)
        if isinstance(node, ast.BoolOp):
            return all(self.ours(scan, value) for value in node.values)
        if isinstance(node, ast.Constant):
            return node.value is None
        if isinstance(node, ast.Name):
            return self._name_ours(scan, node)
        if isinstance(node, ast.Attribute):
            value = _evaluate(scan.namespace, node)
            return _class_ours(value) if value is not None else self._kept_ours(node.attr)
        return False

    def _callable_ours(self, scan: Scan, func: ast.expr) -> bool:
        value = _evaluate(scan.namespace, func)
        if isinstance(value, type):
            return _class_ours(value)
        home = self.scans.get(getattr(value, "__module__", None))  # type: ignore[arg-type]
        definition = home and _definition(home, value)
        if home is None or definition is None:
            return False
        returns = [n for n in ast.walk(definition) if isinstance(n, ast.Return)]
        return bool(returns) and all(
            r.value is not None and home.function_of(r) is definition and self.ours(home, r.value)
            for r in returns
        )

    def _name_ours(self, scan: Scan, node: ast.Name) -> bool:
        for parent in scan.ancestors(node):
            if isinstance(parent, ast.ExceptHandler) and parent.name == node.id:
                return True  # a re-raise of what was caught
        function = scan.function_of(node)
        if function is not scan.tree:
            assigned = [
                a.value
                for a in ast.walk(function)
                if isinstance(a, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == node.id for t in a.targets)
            ]
            if assigned:
                return all(self.ours(scan, value) for value in assigned)
        return _class_ours(scan.namespace.get(node.id))

    def _kept_ours(self, attr: str) -> bool:
        """Every assignment to ``.attr`` in the package keeps None, itself or one of ours."""
        kept = [
            (scan, node.value)
            for scan in self.scans.values()
            for node in ast.walk(scan.tree)
            if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
            if isinstance(target, ast.Attribute) and target.attr == attr
        ]
        return bool(kept) and all(
            (isinstance(value, ast.Attribute) and value.attr == attr) or self.ours(scan, value)
            for scan, value in kept
        )


def _evaluate(namespace: dict[str, Any], node: ast.expr) -> Any:
    """A ``Name`` or ``a.b.c`` looked up in the module's namespace; None when it is not there."""
    if isinstance(node, ast.Name):
        return namespace.get(node.id)
    if isinstance(node, ast.Attribute):
        return getattr(_evaluate(namespace, node.value), node.attr, None)
    return None


def _class_ours(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, OURS)


def _definition(scan: Scan, function: Any) -> ast.AST | None:
    code = getattr(function, "__code__", None)
    for node in ast.walk(scan.tree):
        if isinstance(node, ast.FunctionDef) and node.name == getattr(function, "__name__", ""):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            if code is not None and code.co_firstlineno in (first, node.lineno):
                return node
    return None


def package_scans() -> list[Scan]:
    scans = []
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT.parent).with_suffix("")
        if "emulator" in relative.parts:
            continue
        name = ".".join(relative.parts).removesuffix(".__init__")
        namespace = vars(importlib.import_module(name))
        scans.append(Scan(name, path.read_text(encoding="utf-8"), namespace))
    return scans


def test_every_raise_of_the_package_is_a_fyno_pandas_error() -> None:
    assert Checker(package_scans()).problems() == []


def test_every_relayed_raise_is_still_there() -> None:
    scans = {scan.name: scan for scan in package_scans()}
    raised = {
        (name, ast.unparse(node.exc))
        for name, scan in scans.items()
        for node in ast.walk(scan.tree)
        if isinstance(node, ast.Raise) and node.exc is not None
    }
    assert set(RELAYED) <= raised


SAMPLE = """
from fyno_pandas.errors import FynoInputError, FynoAPIError


class Local(FynoInputError):
    pass


def ours(flag):
    if flag:
        return FynoAPIError(500, "x")
    return Local("y")


def theirs(flag):
    if flag:
        return FynoAPIError(500, "x")
    return KeyError("y")


class Holder:
    kept = None


def check(holder, mode):
    if mode == 1:
        raise ValueError("bare built-in")
    if mode == 2:
        raise FynoInputError("ours")
    if mode == 3:
        raise Local("ours, declared here")
    if mode == 4:
        raise ours(True)
    if mode == 5:
        raise theirs(True)
    try:
        pass
    except OSError as exc:
        raise exc
    error = ours(False)
    raise error


def later(holder):
    try:
        pass
    except Exception as exc:
        holder.kept = holder.kept or exc
    raise holder.kept


def leaked(holder):
    holder.leak = TypeError("not caught, made")
    raise holder.leak


def local(mode):
    error = KeyError("made")
    raise error
"""


@pytest.fixture
def sample_checker() -> Checker:
    namespace: dict[str, Any] = {"__name__": "sample"}
    exec(compile(SAMPLE, "sample.py", "exec"), namespace)
    return Checker([Scan("sample", SAMPLE, namespace)])


def test_the_scan_finds_what_is_not_ours(sample_checker: Checker) -> None:
    assert sample_checker.problems() == [
        "sample:27 raise ValueError('bare built-in')",
        "sample:35 raise theirs(True)",
        "sample:54 raise holder.leak",
        "sample:59 raise error",
    ]
