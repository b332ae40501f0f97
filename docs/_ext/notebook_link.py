"""Read a ``.nblink`` file as the notebook it names, for myst-nb's ``nb_custom_formats``.

myst-nb renders only notebooks inside the Sphinx source folder, and the tutorials live in
``notebooks/`` where CI runs them; a link file (``{"path": "notebooks/01-quickstart.ipynb"}``,
relative to the repository root) lets the site render them without a copy that could go stale.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat

REPOSITORY = Path(__file__).resolve().parents[2]


def read(text: str) -> nbformat.NotebookNode:
    """The notebook a link file's JSON names, with its saved outputs."""
    path = REPOSITORY / json.loads(text)["path"]
    return nbformat.read(path, as_version=4)
