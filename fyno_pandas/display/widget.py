"""The ipywidgets preview of a plan: tables, a paged drill-down, and a Send button.

`build_widget` assembles it from `display.render`'s HTML pieces. The widget never sends by
itself and never imports the workflow: it is handed its send function (`SendPlan`; the view a
user gets, `fyno_pandas.pipeline.view`, hands `fyno_pandas.push_plan`), and its Send button calls it
with the plan and leaves the result DataFrame on the widget's ``result``. Importing this module
imports ipywidgets, so `fyno_pandas.display.preview` imports it only inside a Jupyter kernel.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any, Protocol

import ipywidgets as w
import pandas as pd

from ..errors import FynoConfigError, FynoPandasError, PushInterrupted
from .aggregates import Aggregates, affected_rows, aggregate
from .outcome import needs_attention, plural, problems, shown_by_caller, summary_line, tally
from .render import BLOCK, header_html, rules_html, table_html

if TYPE_CHECKING:
    from ..planning.plan import PushPlan

__all__ = ["PAGE_SIZE", "DrillDown", "PlanWidget", "SendPlan", "build_widget", "result_html"]

PAGE_SIZE = 20
_ALL = ("all", "")
_TH = "text-align:left;padding:2px 8px;border-bottom:2px solid rgba(128,128,128,0.5)"
_TH += ";white-space:nowrap"
_TD = "text-align:left;padding:2px 8px;border-bottom:1px solid rgba(128,128,128,0.25)"
_OK, _BAD = "#1a7f37", "#b42318"


def _esc(value: Any, limit: int = 80) -> str:
    text = "" if value is None else str(value)
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return html.escape(text, quote=True)


class SendPlan(Protocol):
    """What the Send button calls: ``send(plan, dry_run=...)`` returns the result DataFrame."""

    def __call__(self, plan: PushPlan, /, *, dry_run: bool) -> pd.DataFrame: ...


def _choices(plan: PushPlan) -> list[tuple[str, tuple[str, str]]]:
    """Drill-down choices: every issue, then each property and each rule that has issues."""
    issues = plan.issues
    out = [(f"all issues ({len(issues):,})", _ALL)]
    per_column = issues["column"].dropna().value_counts(sort=False)
    for name in plan.properties:
        if name in per_column.index:
            out.append((f"property {name} ({int(per_column[name]):,})", ("column", name)))
    for rule, count in sorted(issues["rule"].value_counts(sort=False).items()):
        out.append((f"rule {rule} ({int(count):,})", ("rule", str(rule))))
    return out


class DrillDown:
    """A Dropdown of properties and rules, and the affected rows, ``PAGE_SIZE`` per page.

    The selection is computed once per choice (a boolean mask over ``plan.issues``); paging
    only slices it, so it stays fast for a million issues.
    """

    def __init__(self, plan: PushPlan) -> None:
        self.plan = plan
        self.page = 0
        self.rows = plan.issues
        self.dropdown = w.Dropdown(
            options=_choices(plan),
            value=_ALL,
            description="Show rows:",
            layout=w.Layout(width="360px"),
        )
        self.previous = w.Button(description="‹ previous", layout=w.Layout(width="100px"))
        self.next = w.Button(description="next ›", layout=w.Layout(width="100px"))
        self.label = w.Label()
        self.table = w.HTML()
        self.dropdown.observe(self._choose, names="value")
        self.previous.on_click(lambda _: self.show(self.page - 1))
        self.next.on_click(lambda _: self.show(self.page + 1))
        self.box = w.VBox(
            [
                w.HBox([self.dropdown, self.previous, self.next, self.label]),
                self.table,
            ],
            layout=w.Layout(margin="4px 0"),
        )
        self.show(0)

    @property
    def pages(self) -> int:
        return max(1, -(-len(self.rows) // PAGE_SIZE))

    def _choose(self, change: dict[str, Any]) -> None:
        kind, key = change["new"]
        column = key if kind == "column" else None
        rule = key if kind == "rule" else None
        self.rows = affected_rows(self.plan, column=column, rule=rule)
        self.show(0)

    def show(self, page: int) -> None:
        """Render page ``page`` (clamped) of the current selection."""
        self.page = min(max(page, 0), self.pages - 1)
        start = self.page * PAGE_SIZE
        chunk = self.rows.iloc[start : start + PAGE_SIZE]
        total = len(self.rows)
        self.previous.disabled = self.page == 0
        self.next.disabled = self.page >= self.pages - 1
        if total == 0:
            self.label.value = "no affected rows"
            self.table.value = '<div style="margin:2px 0">✓ every value is sent as is</div>'
            return
        self.label.value = f"rows {start + 1:,}–{start + len(chunk):,} of {total:,}"
        heads = ["row", "property", "value", "rule", "action", "reason"]
        head = "".join(f'<th style="{_TH}">{h}</th>' for h in heads)
        body = "".join(
            "<tr>"
            + "".join(
                f'<td style="{_TD}">{_esc(v)}</td>'
                for v in (
                    "(whole column)" if r["row"] is None else r["row"],
                    r["column"],
                    r["value"],
                    r["rule"],
                    r["action"],
                    r["message"],
                )
            )
            + "</tr>"
            for r in chunk.to_dict("records")  # at most PAGE_SIZE rows
        )
        self.table.value = (
            f'<div style="{BLOCK}"><table class="fyno-drilldown" style="border-collapse:collapse;'
            f'font-size:12px"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'
        )


def result_html(result: pd.DataFrame) -> str:
    """A push result in a few lines: its summary line (green only when no row failed and no
    value was left out) and the first rows that need attention."""
    bad = needs_attention(tally(result))
    lines = [
        f'<div class="fyno-result" style="{BLOCK};color:{_BAD if bad else _OK};font-weight:600;'
        f'margin:4px 0">{_esc(summary_line(result), 600)}</div>'
        "<div>The result DataFrame is on the widget's <code>.result</code> (keep the widget: "
        "<code>view = plan.widget()</code>); <code>fyno_pandas.problems(view.result)</code> "
        "lists the rows that need attention.</div>"
    ]
    attention = problems(result)
    if len(attention):
        rows = "".join(
            f'<tr><td style="{_TD}">{_esc(label)}</td><td style="{_TD}">{_esc(r["distinct_id"])}'
            f'</td><td style="{_TD}">{_esc(r["status"])}</td>'
            f'<td style="{_TD}">{_esc(", ".join(r["dropped"]), 160)}</td>'
            f'<td style="{_TD}">{_esc(r["error"], 160)}</td></tr>'
            for label, r in zip(
                attention.index[:5], attention.head(5).to_dict("records"), strict=True
            )
        )
        more = f"<div>… {len(attention) - 5:,} more rows</div>" if len(attention) > 5 else ""
        heads = "".join(
            f'<th style="{_TH}">{h}</th>'
            for h in ("row", "distinct_id", "status", "left out", "error")
        )
        lines.append(
            '<table style="border-collapse:collapse;font-size:12px">'
            f"<tr>{heads}</tr>{rows}</table>{more}"
        )
    return "".join(lines)


def _message(text: str, hint: str = "") -> str:
    return (
        f'<div class="fyno-error" style="{BLOCK};color:{_BAD};font-weight:600;margin:4px 0">'
        f"⚠ {_esc(text, 600)}</div>" + (f"<div>{_esc(hint, 600)}</div>" if hint else "")
    )


def _on_send(
    box: PlanWidget,
    send: SendPlan,
    button: w.Button,
    dry_run: w.Checkbox,
    out: w.Output,
    status: w.HTML,
) -> Any:
    """The Send handler: push the plan, stream progress, report, keep the result on ``box``."""

    def on_click(_: Any) -> None:
        button.disabled = True  # one push at a time: a second click waits for this one
        out.clear_output()
        status.value = "Dry run…" if dry_run.value else "Sending…"
        result, notice = None, ""
        # Output captures tqdm's bar and, inside a kernel, any unexpected traceback.
        with out:
            try:
                with shown_by_caller():  # the status below says it, in colour
                    result = send(box.plan, dry_run=dry_run.value)
            except FynoConfigError as exc:
                notice = _message(
                    f"Not sent: {exc}",
                    "Pass wsid=, api_key= (and endpoint=) to plan(...), or set FYNO_WSID, "
                    "FYNO_API_KEY and FYNO_ENDPOINT, then build the plan again.",
                )
            except PushInterrupted as exc:
                result = exc.result
                notice = _message("Interrupted: unsent rows are 'pending' in the widget's .result.")
            except FynoPandasError as exc:
                notice = _message(f"Not sent: {exc}")
            finally:
                button.disabled = len(box.plan) == 0
        if result is not None:
            box.result = result
        status.value = notice + ("" if result is None else result_html(result))

    return on_click


def _label(button: w.Button, rows: int, dry_run: bool) -> None:
    """The Send button says what a click does: send the rows, or a dry run of them."""
    count = plural(rows, "row")
    button.description = f"Dry run {count}" if dry_run else f"Send {count}"
    button.icon = "flask" if dry_run else "paper-plane"


class PlanWidget(w.VBox):
    """The preview VBox; its parts are attributes so tests and callers can reach them.

    Attributes
    ----------
    plan : PushPlan
    drilldown : DrillDown
    send : ipywidgets.Button or None
    dry_run : ipywidgets.Checkbox or None
    output : ipywidgets.Output or None
        Where the progress bar streams.
    status : ipywidgets.HTML or None
        The outcome: the result summary, or what is missing.
    result : pandas.DataFrame or None
        The result of the last Send (None before one, or when nothing was sent).
    """

    plan: PushPlan
    drilldown: DrillDown
    send: w.Button | None
    dry_run: w.Checkbox | None
    output: w.Output | None
    status: w.HTML | None
    result: pd.DataFrame | None = None


def build_widget(
    plan: PushPlan, send: SendPlan | None = None, agg: Aggregates | None = None
) -> PlanWidget:
    """The preview of ``plan`` as an ipywidgets VBox.

    Parameters
    ----------
    plan : PushPlan
    send : callable, optional
        ``send(plan, dry_run=...) -> result``, called by the Send button (`pipeline.view`
        hands `fyno_pandas.push_plan`). None: no dry-run checkbox and no Send button
        (``push(preview=True)`` shows the preview so, since it sends anyway).
    agg : Aggregates, optional
        Precomputed by `fyno_pandas.display.aggregates.aggregate` (a display computes them once).

    Returns
    -------
    PlanWidget
        An ipywidgets VBox: header, property table, issues per rule, drill-down, then (with
        ``send``) the controls, the progress area and the result.
    """
    agg = aggregate(plan) if agg is None else agg
    drill = DrillDown(plan)
    children: list[w.Widget] = [
        w.HTML(header_html(agg)),
        w.HTML(table_html(agg)),
        w.HTML(rules_html(agg)),
    ]
    if len(plan.issues):
        children.append(drill.box)
    box = PlanWidget(children, layout=w.Layout(padding="4px"))
    box.plan, box.drilldown = plan, drill
    box.send = box.dry_run = box.output = box.status = None
    if send is not None:
        rows = len(plan)
        dry_run = w.Checkbox(
            value=False,
            description="dry run (send nothing)",
            indent=False,
            layout=w.Layout(margin="0 0 0 12px", width="auto"),
        )
        button = w.Button(
            button_style="primary",
            icon="paper-plane",
            disabled=rows == 0,
            tooltip="nothing to send"
            if rows == 0
            else "push the rows to Fyno with the plan's configuration",
            layout=w.Layout(width="auto"),
        )
        _label(button, rows, dry_run=False)
        dry_run.observe(lambda change: _label(button, rows, change["new"]), names="value")
        out, status = w.Output(), w.HTML()
        button.on_click(_on_send(box, send, button, dry_run, out, status))
        controls = w.HBox([button, dry_run], layout=w.Layout(align_items="center", margin="6px 0"))
        box.children += (controls, out, status)
        box.send, box.dry_run, box.output, box.status = button, dry_run, out, status
    return box
