"""A plan's view for its user: the preview whose Send button pushes with `push_plan`.

The glue between display and workflow: `fyno_pandas.display.widget` is handed its send function and
never imports the workflow, `fyno_pandas.display.preview` never sends, and this module hands them
`pipeline.workflow.push_plan`. `PushPlan._repr_mimebundle_` and `PushPlan.widget` import it
when called: the package's one import upward (`tests/project/test_architecture.py` names it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..display.preview import mimebundle
from ..planning.plan import PushPlan
from .workflow import push_plan

if TYPE_CHECKING:
    from ..display.widget import PlanWidget

__all__ = ["plan_bundle", "plan_widget"]


def plan_bundle(plan: PushPlan) -> dict[str, Any]:
    """``plan._repr_mimebundle_()``: `fyno_pandas.display.preview.mimebundle` with a Send button."""
    return mimebundle(plan, send=push_plan)


def plan_widget(plan: PushPlan, buttons: bool = True) -> PlanWidget:
    """``plan.widget()``: the ipywidgets preview; with ``buttons``, Send pushes the plan."""
    from ..display.widget import build_widget  # ipywidgets only when a widget is asked for

    return build_widget(plan, send=push_plan if buttons else None)
