"""Sphinx configuration of the fyno_pandas site: ``sphinx-build -W docs docs/_build/html``.

The tutorials stay in ``notebooks/`` (CI runs them there): each ``docs/tutorials/*.nblink``
names one, and myst-nb renders it from its saved outputs, executing nothing. The options and
dtype tables are generated from the code at build time (the README links to them).
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path[:0] = [str(DOCS.parent), str(DOCS / "_ext")]

import fyno_pandas  # noqa: E402
from fyno_pandas.coercion.types import dtype_table_markdown  # noqa: E402
from fyno_pandas.options.docs import options_table_markdown  # noqa: E402
from fyno_pandas.sources.polars import polars_table_markdown  # noqa: E402

project = "fyno_pandas"
author = "the fyno_pandas authors"
copyright = "the fyno_pandas authors"
release = version = fyno_pandas.__version__

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
]
exclude_patterns = ["_build", "_ext", "**.ipynb_checkpoints"]

# The notebooks are rendered as CI saved them: running them here would need the emulator,
# and their outputs are already checked by nbval.
nb_execution_mode = "off"
nb_custom_formats = {".nblink": "notebook_link.read"}

myst_enable_extensions = ["colon_fence", "substitution"]
myst_heading_anchors = 3


def _api_sections() -> dict[str, str]:
    """The autodoc directives of ``fyno_pandas.__all__``, as entry points, classes and errors.

    Generated, so that a name added to ``__all__`` is documented without editing a page.
    """
    names = [name for name in fyno_pandas.__all__ if not name.startswith("_")]
    objects = {name: getattr(fyno_pandas, name) for name in names}
    errors = [n for n, o in objects.items() if isinstance(o, type) and issubclass(o, BaseException)]
    classes = [n for n, o in objects.items() if isinstance(o, type) and n not in errors]
    functions = [n for n in names if n not in errors and n not in classes]

    def directives(kind: str, chosen: list[str]) -> str:
        # autodoc writes reStructuredText, which MyST reads only inside eval-rst
        lines = "\n\n".join(f".. {kind}:: fyno_pandas.{name}" for name in chosen)
        return f"```{{eval-rst}}\n{lines}\n```"

    return {
        "api_functions": directives("autofunction", functions),
        "api_classes": directives("autoclass", classes),
        "api_errors": directives("autoexception", errors),
    }


myst_substitutions = {
    "options_table": options_table_markdown(),
    "dtype_table": dtype_table_markdown(),
    "polars_dtype_table": polars_table_markdown(),
    **_api_sections(),
}

# Cross-references must resolve, except types: numpy-style type lines ("int, default 16",
# "{'skip', 'unset'}") and other libraries' classes have no target without network access
# (no intersphinx). The four others name objects the reference does not document.
nitpicky = True
nitpick_ignore_regex = [("py:class", r".*")]
nitpick_ignore = [
    ("py:func", "default_path"),
    ("py:attr", "wsid"),
    ("py:attr", "api_key"),
    ("py:mod", "faults"),
]

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented_params"
autodoc_default_options = {"members": True}
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_ivar = True

html_theme = "pydata_sphinx_theme"
html_title = "fyno_pandas"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
# Pages without sub-pages would show an empty "Section Navigation" column.
html_sidebars = {"index": [], "getting-started": [], "api": [], "contributing": []}
