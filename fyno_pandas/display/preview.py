"""Showing a plan: kernel detection, the display data of each front-end, the preview of a push.

The text and HTML come from `fyno_pandas.display.render` (pure); the ipywidgets view from
`fyno_pandas.display.widget`, imported only here and only inside a Jupyter kernel, so ``import
fyno_pandas`` never imports ipywidgets or IPython. A view that can send is handed its send
function (`fyno_pandas.pipeline.view` hands `fyno_pandas.push_plan`); this module never sends.

- `mimebundle` is what ``plan._repr_mimebundle_()`` returns: the widget view plus the static
  forms, so each front-end picks the richest it can show and nothing is shown twice.
- `show_preview` is what ``push(preview=True)`` calls before sending; in a notebook cell that
  already displayed the same preview (``plan`` shown, then ``push`` of the same frame) it is not
  shown again.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from .aggregates import Aggregates, aggregate
from .render import html_of, text_of

if TYPE_CHECKING:
    from ..planning.plan import PushPlan
    from .widget import SendPlan

__all__ = ["in_kernel", "mimebundle", "show_preview"]

# (IPython cell, preview text) of the last preview displayed, so a push in the same cell does
# not show the same preview again
_last_shown: tuple[object, str] | None = None


def _shell() -> Any:
    """The IPython shell running this code, or None outside IPython."""
    ipython = sys.modules.get("IPython")
    return ipython.get_ipython() if ipython is not None else None


def _shown(text: str) -> bool:
    """Record ``text`` as displayed in the IPython cell running now; True when it already was.

    A cell is a kernel's execute request (its id), else the cell number: a kernel run without
    history (nbval) gives every cell the same number.
    """
    global _last_shown
    shell = _shell()
    request = (getattr(shell, "parent_header", None) or {}).get("header", {}).get("msg_id")
    cell = request or getattr(shell, "execution_count", None)
    if cell is None:
        return False
    seen, _last_shown = _last_shown == (cell, text), (cell, text)
    return seen


def in_kernel() -> bool:
    """True inside a Jupyter kernel, found without importing IPython (as tqdm.auto does)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def mimebundle(plan: PushPlan, send: SendPlan | None = None) -> dict[str, Any]:
    """Display data for a plan: the widget view inside a kernel, plus text/html and text/plain.

    Front-ends with ipywidgets render the widget (with a Send button when ``send`` is given);
    others (nbconvert, VS Code without widgets, GitHub) fall back to the static HTML, a
    terminal to the text: each shows one of them.
    """
    agg = aggregate(plan)
    text = text_of(agg)
    _shown(text)
    return _bundle(plan, agg, text, send)


def _bundle(plan: PushPlan, agg: Aggregates, text: str, send: SendPlan | None) -> dict[str, Any]:
    data: dict[str, Any] = {"text/plain": text, "text/html": html_of(agg)}
    if in_kernel():
        try:
            from .widget import build_widget
        except ImportError:  # ipywidgets is a dependency; without it the static forms suffice
            return data
        view = build_widget(plan, send=send, agg=agg)._repr_mimebundle_()
        data.update({k: v for k, v in view.items() if k != "text/plain"})
    return data


def show_preview(plan: PushPlan) -> None:
    """Show the preview once, before a push: widget (no buttons), HTML or text.

    In IPython it goes through ``IPython.display`` (the front-end picks widget, HTML or text);
    elsewhere the text is written to stderr, beside the progress bar, so stdout stays the
    caller's.
    """
    agg = aggregate(plan)
    text = text_of(agg)
    if _shell() is None:
        print(text, file=sys.stderr)
    elif not _shown(text):
        from IPython.display import display

        display(_bundle(plan, agg, text, None), raw=True)
