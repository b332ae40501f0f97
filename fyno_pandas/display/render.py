"""A plan's preview as pure text and static HTML: what will be sent, what will not, and why.

Pure layout of the preview's `fyno_pandas.display.aggregates` (computed once, shared with the
widget):

- `render_text` is ``repr(plan)``: what a terminal, nbval and GitHub show.
- `render_html` is ``plan._repr_html_()``: the same tables for front-ends without widgets
  (nbconvert, VS Code without widgets); everything is HTML-escaped.
- `display.preview` decides which of them a front-end is shown.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from .aggregates import (
    Aggregates,
    aggregate,
    gathered,
    header_lines,
    rules_by_column,
    verdict,
)
from .outcome import RESEND

if TYPE_CHECKING:
    from ..planning.plan import PushPlan

__all__ = [
    "BLOCK",
    "LEGEND",
    "header_html",
    "html_of",
    "render_html",
    "render_text",
    "rules_html",
    "table_html",
    "text_of",
]

_CELL_MAX = 48
# How a property row with each mark looks (`aggregates.SEVERITY`). Colour is never the only
# signal: every mark also carries an icon and a word.
_STATUS = {
    "dropped": ("⚠", "rgba(214, 39, 40, 0.14)", "#b42318"),
    "coerced": ("✎", "rgba(245, 158, 11, 0.16)", "#9a6700"),
    "warned": ("ℹ", "rgba(245, 158, 11, 0.10)", "#9a6700"),
    "ok": ("✓", "transparent", "#1a7f37"),
}
_TABLE = "border-collapse:collapse;font-size:12px;margin:4px 0 8px 0"
_TH = (
    "text-align:left;padding:3px 8px;border-bottom:2px solid rgba(128,128,128,0.5)"
    ";white-space:nowrap"
)
_TD = "text-align:left;padding:3px 8px;border-bottom:1px solid rgba(128,128,128,0.25)"
_NUM = _TD.replace("text-align:left", "text-align:right") + ";font-variant-numeric:tabular-nums"
_CODE = "font-family:var(--jp-code-font-family,monospace);font-size:11px"
# Each piece sets its own line height: ipywidgets' HTML widget would otherwise impose 28px rows.
BLOCK = "line-height:1.45;font-family:var(--jp-ui-font-family,sans-serif)"
_NOWRAP = ";white-space:nowrap"
_NUM += _NOWRAP


def _cut(text: Any, limit: int = _CELL_MAX) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _esc(text: Any, limit: int = _CELL_MAX) -> str:
    return html.escape(_cut(text, limit), quote=True)


def _row_labels(rows: list[Any], count: int) -> str:
    text = ", ".join(_cut(repr(r) if isinstance(r, str) else r, 24) for r in rows)
    return text + (f", … ({count - len(rows):,} more)" if count > len(rows) else "")


def _example(before: Any, after: Any) -> str:
    if before is None:
        return ""
    return f"{_cut(before, 24)} -> {_cut(after, 28)}"


#: What each mark of the property table means (the counts are in the table's columns).
LEGEND = (
    "✓ ok: sent as is · ✎ coerced: sent in Fyno's form · ℹ warned: sent as is, worth a look · "
    "⚠ dropped: some values left out (Fyno would not store them)"
)


def _status_text(row: Any, rules: dict[Any, list[str]]) -> str:
    """The property's mark and the rules behind it: its counts are the table's own columns."""
    status = row["status"]
    named = rules.get(row["column"], [])
    return f"{_STATUS[status][0]} {status}" + (f" ({', '.join(named)})" if named else "")


def render_text(plan: PushPlan, resend: str = RESEND) -> str:
    """The preview as plain text: header, one line per property, issues per rule.

    Stable (no ids, fixed ordering; nbval masks the ledger's time), so it is what nbval
    compares. ``resend`` names how to resend what the ledger leaves out.
    """
    return text_of(aggregate(plan), resend)


def text_of(agg: Aggregates, resend: str = RESEND) -> str:
    """`render_text` from precomputed `Aggregates`."""
    out = ["Fyno push plan: " + verdict(agg)]
    out += [f"  {name + ':':<20}{value}" for name, value in header_lines(agg, resend)]
    table, named = agg.columns, rules_by_column(agg)
    if len(table):
        heads = ["property", "dtype", "fyno type", "values", "missing", "coerced", "dropped"]
        heads += ["example (before -> after)", "status"]
        cells = [
            [
                _cut(r["column"], 24),
                _cut(r["dtype"], 32),
                r["fyno_type"] or "-",
                f"{r['values']:,}",
                f"{r['missing']:,}",
                f"{r['coerced']:,}",
                f"{r['dropped']:,}",
                _example(r["example_before"], r["example_after"]),
                _status_text(r, named),
            ]
            for r in table.to_dict("records")  # one row per property, not per data row
        ]
        widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(heads)]
        right = {3, 4, 5, 6}

        def fmt(row: list[str]) -> str:
            return "  ".join(
                v.rjust(w) if i in right else v.ljust(w)
                for i, (v, w) in enumerate(zip(row, widths, strict=True))
            )

        out += ["", "  " + fmt(heads)]
        out += ["  " + fmt(c) for c in cells]
        out += ["  " + LEGEND]
    if len(agg.rules):
        out += ["", "Issues by rule"]
        for r in gathered(agg.rules):
            rows = "whole column"
            if r["count"]:
                rows = f"{r['count']:,} at rows {_row_labels(r['rows'], r['count'])}"
            out.append(f"  {r['rule']} ({r['action']}) in {_cut(r['where'], 48)}: {rows}")
            out.append(f"      {_cut(r['message'], 96)}")
            out.append(f"      to do: {_cut(r['hint'], 120)} ({r['link']})")
    return "\n".join(line.rstrip() for line in out)


def header_html(agg: Aggregates) -> str:
    """The header block: counts, destination (never the key) and values left out."""
    dropped = agg.summary["values_dropped"]
    colour = _STATUS["dropped" if dropped or agg.summary["rows_skipped"] else "ok"][2]
    items = []
    for name, value in header_lines(agg, RESEND):
        style = "padding:1px 12px 1px 0"
        text = _esc(value, 200)
        if name == "Values left out" and dropped:
            text = f'<span style="color:{_STATUS["dropped"][2]};font-weight:600">⚠ {text}</span>'
        items.append(
            f'<tr><th style="{style};text-align:left;font-weight:600">{_esc(name)}</th>'
            f'<td style="{style}">{text}</td></tr>'
        )
    return (
        f'<div class="fyno-preview-header" style="{BLOCK}">'
        '<div style="font-weight:700;font-size:14px;margin:2px 0 4px 0">Fyno push plan: '
        f'<span class="fyno-verdict" style="color:{colour}">{_esc(verdict(agg), 200)}</span></div>'
        f'<table style="{_TABLE};font-size:13px">{"".join(items)}</table></div>'
    )


def table_html(agg: Aggregates) -> str:
    """One row per property; a row with problems is tinted and says why with an icon and words."""
    table, named = agg.columns, rules_by_column(agg)
    heads = ["property", "dtype", "Fyno type", "values", "missing", "coerced", "dropped"]
    heads += ["example: before → after", "status"]
    head = "".join(f'<th style="{_TH}">{_esc(h)}</th>' for h in heads)
    body = []
    for r in table.to_dict("records"):  # one row per property
        _, background, colour = _STATUS[r["status"]]
        known = " (from schema= or an earlier push)" if r["column"] in agg.known_types else ""
        example = ""
        if r["example_before"] is not None:
            example = (
                f'<code style="{_CODE}">{_esc(r["example_before"], 32)}</code> → '
                f'<code style="{_CODE}">{_esc(r["example_after"], 32)}</code>'
            )
        nums = "".join(
            f'<td style="{_NUM}">{int(r[c]):,}</td>'
            for c in ("values", "missing", "coerced", "dropped")
        )
        weight = "font-weight:600;" if r["status"] != "ok" else ""
        body.append(
            f'<tr class="fyno-prop fyno-{r["status"]}" style="background:{background}"'
            f' title="{_esc(r["note"], 200)}">'
            f'<td style="{_TD};font-weight:600">{_esc(r["column"])}</td>'
            f'<td style="{_TD}"><code style="{_CODE}">{_esc(r["dtype"])}</code></td>'
            f'<td style="{_TD}">{_esc((r["fyno_type"] or "—") + known)}</td>{nums}'
            f'<td style="{_TD}">{example}</td>'
            f'<td style="{_TD};{weight}color:{colour}">{_esc(_status_text(r, named), 80)}'
            "</td></tr>"
        )
    return (
        f'<div style="{BLOCK}"><table class="fyno-properties" style="{_TABLE}">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        f'<div class="fyno-legend" style="font-size:11px;opacity:0.8">{_esc(LEGEND, 300)}</div>'
        "</div>"
    )


def rules_html(agg: Aggregates) -> str:
    """Issues summarised per rule with the first few rows (never every row)."""
    rules = agg.rules
    if rules.empty:
        return f'<div style="{BLOCK};margin:4px 0">✓ No issues: every value is sent as is.</div>'
    heads = ["rule", "action", "property", "count", "first rows", "message", "what to do"]
    head = "".join(f'<th style="{_TH}">{_esc(h)}</th>' for h in heads)
    body = []
    for r in gathered(rules):  # one row per (rule, action, column), notes gathered
        rows = _row_labels(r["rows"], r["count"]) if r["count"] else "whole column"
        count = f"{r['count']:,}" if r["count"] else "—"
        colour = _STATUS.get(r["action"], _STATUS["dropped"])[2]
        body.append(
            f'<tr class="fyno-rule"><td style="{_TD}"><code style="{_CODE}">{_esc(r["rule"])}'
            f'</code></td><td style="{_TD};color:{colour}">{_esc(r["action"])}</td>'
            f'<td style="{_TD}">{_esc(r["where"], 120)}</td>'
            f'<td style="{_NUM}">{count}</td><td style="{_TD}">{_esc(rows, 120)}</td>'
            f'<td style="{_TD}">{_esc(r["message"], 120)}</td>'
            f'<td style="{_TD}"><code style="{_CODE}">{_esc(r["hint"], 160)}</code> '
            f'<a href="{_esc(r["link"], 300)}" target="_blank" rel="noopener">why</a></td></tr>'
        )
    return (
        f'<div style="{BLOCK}"><div style="font-weight:600;margin-top:6px">Issues by rule</div>'
        f'<table class="fyno-rules" style="{_TABLE}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def render_html(plan: PushPlan) -> str:
    """The whole preview as static HTML (header, property table, issues per rule)."""
    return html_of(aggregate(plan))


def html_of(agg: Aggregates) -> str:
    """`render_html` from precomputed `Aggregates`."""
    return (
        f'<div class="fyno-preview" style="{BLOCK}">'
        f"{header_html(agg)}{table_html(agg)}{rules_html(agg)}</div>"
    )
