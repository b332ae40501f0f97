"""Promises to a newcomer: the README is a short landing page that agrees with CI, lint is
clean, the import is light."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import fyno_pandas

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
README_LINES = 150
PREVIEW_PICTURE = "docs/_static/preview.png"


def setup_commands() -> list[str]:
    section = README.split("## Set up", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```(?:bash|sh)\n(.*?)```", section, re.S)]


def test_readme_has_exactly_two_one_line_setup_commands():
    commands = setup_commands()
    assert len(commands) == 2, commands
    assert all("\n" not in command for command in commands)
    assert "quickstart" in commands[0]
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command_verbatim():
    ci_lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()
    assert ci_lines[-1] == setup_commands()[1]


def test_the_readme_is_a_landing_page() -> None:
    """Everything beyond what a newcomer needs first lives in the documentation site."""
    lines = README.count("\n")
    assert lines <= README_LINES, f"README.md has {lines} lines; move detail into docs/"


def test_the_readme_shows_the_preview_the_browser_test_saves() -> None:
    assert f"]({PREVIEW_PICTURE})" in README
    assert (ROOT / PREVIEW_PICTURE).is_file()


def test_the_readme_links_point_at_files_that_exist() -> None:
    targets = re.findall(r"\]\((?!https?:)([^)#]+)", README)
    assert any(target.startswith("docs/") for target in targets)
    assert [target for target in targets if not (ROOT / target).exists()] == []


def test_the_readme_example_runs_as_written() -> None:
    """The landing page's example is the first code a newcomer runs: it must work unchanged."""
    (code,) = re.findall(r"^## Example\n\n```python\n(.*?)```", README, re.S | re.M)
    assert len(code.strip().splitlines()) <= 12
    namespace: dict[str, object] = {}
    try:
        exec(code, namespace)
    finally:
        if "fyno" in namespace:
            namespace["fyno"].stop()
    result = namespace["result"]
    assert result["status"].tolist() == ["sent", "sent"]
    assert result["dropped"].tolist() == [[], ["ltv"]]


@pytest.mark.parametrize("args", [["check", "."], ["format", "--check", "."]])
def test_ruff_is_clean(args):
    done = subprocess.run(
        [sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_public_api_is_exported_and_typed():
    for name in fyno_pandas.__all__:
        assert hasattr(fyno_pandas, name), name
    assert (Path(fyno_pandas.__file__).parent / "py.typed").is_file()


def test_import_is_light():
    code = (
        "import sys, fyno_pandas\n"
        "heavy = {'ipywidgets', 'IPython', 'dask', 'distributed', 'polars', 'tqdm.notebook'}\n"
        "heavy &= set(sys.modules)\n"
        "print(sorted(heavy))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_package_raises_no_bare_builtin_exception() -> None:
    """Every error the package raises on purpose is one of `fyno_pandas.errors` (which may also
    subclass the matching built-in); the emulator imports nothing of the rest, so it is apart."""
    import ast
    import builtins

    package = Path(fyno_pandas.__file__).parent
    bare = []
    for path in sorted(package.rglob("*.py")):
        if "emulator" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            raised = node.exc if isinstance(node, ast.Raise) else None
            name = raised.func if isinstance(raised, ast.Call) else raised
            if isinstance(name, ast.Name) and isinstance(getattr(builtins, name.id, None), type):
                bare.append(f"{path.relative_to(package)}:{node.lineno} {name.id}")
    assert bare == []


def test_tab_completion_lists_the_public_names_only() -> None:
    assert dir(fyno_pandas) == sorted(fyno_pandas.__all__)
    assert "workflow" not in dir(fyno_pandas)
