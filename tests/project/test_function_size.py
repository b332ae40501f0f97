"""Functions a reader can hold: at most 60 lines of code and complexity 15 (issue 21, item 4).

Lines of code run from the first statement after the docstring to the function's end, blank and
comment-only lines left out. Complexity is McCabe's number: 1, plus one for every ``if`` (and
``elif``, a comprehension's ``if`` too), loop, ``except``, conditional expression, comprehension
``for``, ``assert``, ``case`` and each extra operand of ``and``/``or``. A nested function is
counted on its own, not in the function around it.
"""

from __future__ import annotations

import ast
import io
import tokenize
from collections.abc import Iterator
from pathlib import Path

import pytest

import fyno_pandas

ROOT = Path(fyno_pandas.__file__).parent
MAX_LINES = 60
MAX_COMPLEXITY = 15
Function = ast.FunctionDef | ast.AsyncFunctionDef
BRANCHES = (
    ast.If,
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.ExceptHandler,
    ast.IfExp,
    ast.comprehension,
    ast.Assert,
    ast.match_case,
)


def functions(tree: ast.AST) -> Iterator[Function]:
    for node in ast.walk(tree):
        if isinstance(node, Function):
            yield node


def complexity(function: Function) -> int:
    """McCabe's number of ``function``, its nested functions and classes left out."""
    count = 1
    stack: list[ast.AST] = list(function.body)
    while stack:
        node = stack.pop()
        if isinstance(node, Function | ast.ClassDef | ast.Lambda):
            continue
        if isinstance(node, BRANCHES):
            count += 1
        if isinstance(node, ast.comprehension):
            count += len(node.ifs)
        elif isinstance(node, ast.BoolOp):
            count += len(node.values) - 1
        stack.extend(ast.iter_child_nodes(node))
    return count


def code_lines(source: str) -> set[int]:
    """The line numbers that hold code: not blank, not only a comment."""
    lines = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in (
            tokenize.COMMENT,
            tokenize.NL,
            tokenize.NEWLINE,
            tokenize.INDENT,
            tokenize.DEDENT,
            tokenize.ENDMARKER,
        ):
            lines.update(range(token.start[0], token.end[0] + 1))
    return lines


def lines_of_code(function: Function, code: set[int]) -> int:
    body = function.body
    first = body[1] if len(body) > 1 and ast.get_docstring(function) is not None else body[0]
    end = function.end_lineno or first.lineno
    return len({n for n in code if first.lineno <= n <= end})


def measure(path: Path) -> Iterator[tuple[str, int, int]]:
    source = path.read_text(encoding="utf-8")
    code = code_lines(source)
    for function in functions(ast.parse(source)):
        where = f"{path.name}:{function.lineno} {function.name}"
        yield where, lines_of_code(function, code), complexity(function)


def too_big(path: Path) -> list[str]:
    return [
        f"{where}: {lines} lines, complexity {mccabe}"
        for where, lines, mccabe in measure(path)
        if lines > MAX_LINES or mccabe > MAX_COMPLEXITY
    ]


@pytest.mark.parametrize("folder", sorted({p.parent.name for p in ROOT.rglob("*.py")}))
def test_no_function_is_too_long_or_too_complex(folder: str) -> None:
    paths = sorted(p for p in ROOT.rglob("*.py") if p.parent.name == folder)
    assert [line for path in paths for line in too_big(path)] == []


def test_the_counts_follow_the_rules(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "def f(x):\n"
        '    """Doc."""\n'
        "    # a comment\n"
        "\n"
        "    if x and x > 1 or x < -1:\n"
        "        return [y for y in x if y]\n"
        "    try:\n"
        "        assert x\n"
        "    except ValueError:\n"
        "        pass\n"
        "    while x:\n"
        "        x = 1 if x else 2\n"
        "\n"
        "    def inner():\n"
        "        if x:\n"
        "            return 1\n"
        "    return inner\n"
    )
    measured = {
        where.rsplit(" ", 1)[1]: (lines, mccabe) for where, lines, mccabe in measure(sample)
    }
    # f: 1 + if + 2 bool operands + comprehension + its if + assert + except + while + ifexp
    assert measured == {"f": (12, 10), "inner": (2, 2)}
