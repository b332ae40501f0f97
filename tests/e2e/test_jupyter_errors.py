"""A refused key in a notebook, as Jupyter shows it: a kernel runs a cell that pushes."""

from __future__ import annotations

import os

import nbformat
import pytest
from nbclient import NotebookClient

CELL = """\
import pandas as pd
import fyno_pandas
from fyno_pandas.emulator import FynoEmulator

users = pd.DataFrame({"user_id": ["a", "b", "c"], "plan": ["pro", "free", "team"]})
with FynoEmulator() as fyno:
    users.fyno.push("user_id", wsid=fyno.wsid, api_key="wrong", endpoint=fyno.endpoint)
"""


def _outputs(tmp_path: os.PathLike[str]) -> list[dict]:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CELL)])
    env = {**os.environ, "FYNO_PANDAS_HOME": os.fspath(tmp_path)}
    env.pop("FYNO_PANDAS_TRACEBACK", None)
    client = NotebookClient(notebook, timeout=120, kernel_name="python3", allow_errors=True)
    client.km = client.create_kernel_manager()
    client.km.extra_env = env  # the kernel imports the same fyno_pandas as the tests
    client.execute(cwd=os.fspath(tmp_path))
    return notebook.cells[0].outputs


@pytest.mark.slow
def test_a_refused_key_shows_its_message_first_once_and_short(tmp_path) -> None:
    outputs = _outputs(tmp_path)
    errors = [out for out in outputs if out["output_type"] == "error"]
    assert len(errors) == 1
    shown = "\n".join(errors[0]["traceback"]).splitlines()
    assert shown[0].startswith("FynoAuthError: Fyno refused the API key")
    assert len(shown) == 2, shown
    streams = "".join(out.get("text", "") for out in outputs if out["output_type"] == "stream")
    assert "refused" not in streams
    assert "401" not in streams
    assert "not sent" not in streams
