"""The layout: every module small enough to read in one sitting, and tests that mirror it."""

from __future__ import annotations

from pathlib import Path

import fyno_pandas

ROOT = Path(fyno_pandas.__file__).parent
TESTS = Path(__file__).resolve().parents[1]
MAX_LINES = 400  # the house style: modules stay under ~400 lines
#: Folders whose every module has its own test file in tests/unit/<folder>/.
TESTED_MODULE_BY_MODULE = ("sending", "client")


def test_every_module_is_under_400_lines() -> None:
    sizes = {
        str(path.relative_to(ROOT.parent)): len(path.read_text(encoding="utf-8").splitlines())
        for path in sorted(ROOT.rglob("*.py"))
    }
    too_long = {name: lines for name, lines in sizes.items() if lines >= MAX_LINES}
    assert too_long == {}


def test_the_tests_are_unit_e2e_emulator_and_project() -> None:
    folders = {p.name for p in TESTS.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))}
    assert folders - {"browser", "artifacts"} == {"unit", "e2e", "emulator", "project"}
    assert not list(TESTS.glob("test_*.py")), "a test file outside the four folders"


def test_unit_tests_have_one_folder_per_package_folder() -> None:
    package_folders = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    unit_folders = {p.name for p in (TESTS / "unit").iterdir() if p.is_dir() and p.name[0] != "_"}
    assert unit_folders <= package_folders


def test_each_module_of_sending_and_client_has_its_own_tests() -> None:
    untested = [
        f"{folder}/{module.name}"
        for folder in TESTED_MODULE_BY_MODULE
        for module in sorted((ROOT / folder).glob("*.py"))
        if module.stem != "__init__"
        and not (TESTS / "unit" / folder / f"test_{module.stem}.py").is_file()
    ]
    assert untested == []
