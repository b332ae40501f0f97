"""In a notebook, a push after its plan was displayed in the same cell does not show the same
preview again (a real kernel, run by nbclient as nbval runs the tutorials)."""

from __future__ import annotations

import nbformat
from nbclient import NotebookClient

SETUP = """
import pandas as pd
import fyno_pandas
from fyno_pandas.emulator import FynoEmulator
fyno = FynoEmulator().start()
fyno_pandas.connect(fyno)
df = pd.DataFrame({"uid": ["a", "b"], "n": [1, float("inf")]})
"""
SAME_CELL = """
display(df.fyno.plan("uid", ledger=False))
result = df.fyno.push("uid", ledger=False, progress=False)
"""
NEXT_CELL = 'result = df.fyno.push("uid", ledger=False, progress=False)'


def previews(cell: nbformat.NotebookNode) -> int:
    return sum(
        "Fyno push plan" in output.get("data", {}).get("text/plain", "") for output in cell.outputs
    )


def test_a_push_after_its_displayed_plan_shows_the_preview_once() -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(src) for src in (SETUP, SAME_CELL, NEXT_CELL)]
    NotebookClient(notebook, timeout=60, kernel_name="python3").execute()
    assert [previews(cell) for cell in notebook.cells] == [0, 1, 1]
