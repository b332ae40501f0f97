"""The package's layout: every module small enough to read in one sitting."""

from __future__ import annotations

from pathlib import Path

import fyno_pandas

ROOT = Path(fyno_pandas.__file__).parent
MAX_LINES = 400  # the house style: modules stay under ~400 lines


def test_every_module_is_under_400_lines() -> None:
    sizes = {
        str(path.relative_to(ROOT.parent)): len(path.read_text(encoding="utf-8").splitlines())
        for path in sorted(ROOT.rglob("*.py"))
    }
    too_long = {name: lines for name, lines in sizes.items() if lines >= MAX_LINES}
    assert too_long == {}
