"""A plan's preview as pure text and static HTML: what will be sent, what will not, and why.

Pure render functions over a `PushPlan`'s aggregates (``plan.columns``, ``plan.issues``,
``plan.summary()``): grouped counts and the first rows of each group, never a loop over the
frame's rows, so a preview of a million rows costs a fraction of planning them.

- `render_text` is ``repr(plan)``: what a terminal, nbval and GitHub show.
- `render_html` is ``plan._repr_html_()``: the same tables for front-ends without widgets
  (nbconvert, VS Code without widgets); everything is HTML-escaped.
- `aggregate` computes the counts and tables once, for text, HTML and the widget
  (`display.widget`); `display.preview` decides which of them a front-end is shown.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .outcome import RESEND, acknowledged_at, acknowledged_words

if TYPE_CHECKING:
    from ..planning.plan import PushPlan

__all__ = [
    "Aggregates",
    "affected_rows",
    "aggregate",
    "column_table",
    "header_html",
    "html_of",
    "render_html",
    "render_text",
    "rule_table",
    "rules_html",
    "table_html",
    "text_of",
    "verdict",
]

FIRST_ROWS = 5  # rows named per rule in the summary; the widget's drill-down pages the rest
_CELL_MAX = 48
# Severity order of issue actions, and how a property row with each looks. Colour is never the
# only signal: every status also carries an icon and a word.
_ACTIONS = ("row_skipped", "dropped", "coerced", "warned")
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
_LEADING_COUNT = re.compile(r"^[\d,]+ ")


def _cut(text: Any, limit: int = _CELL_MAX) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _esc(text: Any, limit: int = _CELL_MAX) -> str:
    return html.escape(_cut(text, limit), quote=True)


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}" + ("" if count == 1 else "s")


def _values_line(summary: dict[str, Any]) -> str:
    text = _plural(summary["values"], "value") + " to set"
    return text + (f", {summary['values_unset']:,} to clear" if summary["values_unset"] else "")


def column_table(plan: PushPlan) -> pd.DataFrame:
    """``plan.columns`` plus ``warnings`` (issues warned per property) and a ``status``.

    ``status`` is the worst of: ``dropped`` (values left out), ``coerced``, ``warned``, ``ok``.
    """
    table = plan.columns.copy()
    issues = plan.issues
    warned = issues.loc[issues["action"] == "warned", "column"].value_counts()
    table["warnings"] = table["column"].map(warned).fillna(0).astype(np.int64)
    status = np.select(
        [table["dropped"] > 0, table["coerced"] > 0, table["warnings"] > 0],
        ["dropped", "coerced", "warned"],
        default="ok",
    )
    table["status"] = pd.Series(status, index=table.index, dtype=object)
    rank = table["status"].map({name: k for k, name in enumerate(_STATUS)})
    return table.iloc[np.argsort(rank.to_numpy(), kind="stable")].reset_index(drop=True)


def rule_table(plan: PushPlan, first: int = FIRST_ROWS) -> pd.DataFrame:
    """Issues grouped by rule, action and column: a count, the first rows and a message.

    A column-wide issue (row None) is reported once; its count is in its message, so its
    ``count`` is 0 and ``rows`` is empty.

    Returns
    -------
    pandas.DataFrame
        Columns rule, action, column, count, rows (list of row labels), message; ordered by
        action severity, then rule, then column.
    """
    issues = plan.issues
    cols = ["rule", "action", "column", "count", "rows", "message"]
    if issues.empty:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in cols})
    # One integer key per (rule, action, column), then numpy: grouping three object columns
    # through pandas costs several times more on a few hundred thousand issues.
    key = np.zeros(len(issues), dtype=np.int64)
    uniques = {}
    for name in ("rule", "action", "column"):
        codes, uniques[name] = pd.factorize(issues[name], use_na_sentinel=False)
        key = key * len(uniques[name]) + codes
    groups, first_pos, inverse = np.unique(key, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    cell = np.flatnonzero(issues["row"].notna().to_numpy(dtype=bool))
    counts = np.bincount(inverse[cell], minlength=len(groups))
    order = cell[np.argsort(inverse[cell], kind="stable")]  # cell issues by group, rows in order
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    row_labels = issues["row"].to_numpy(dtype=object)
    out = pd.DataFrame(
        {
            "rule": issues["rule"].to_numpy(dtype=object)[first_pos],
            "action": issues["action"].to_numpy(dtype=object)[first_pos],
            "column": issues["column"].to_numpy(dtype=object)[first_pos],
            "count": counts.astype(np.int64),
            "rows": [
                row_labels[order[a : a + min(n, first)]].tolist()
                for a, n in zip(starts, counts, strict=True)
            ],
            "message": issues["message"].to_numpy(dtype=object)[first_pos],
        }
    )
    rank = out["action"].map({a: i for i, a in enumerate(_ACTIONS)}).fillna(len(_ACTIONS))
    by_column = out["column"].fillna("")
    out = out.assign(_rank=rank, _col=by_column).sort_values(
        ["_rank", "rule", "_col"], kind="stable"
    )
    return out[cols].reset_index(drop=True)


def affected_rows(
    plan: PushPlan, column: str | None = None, rule: str | None = None
) -> pd.DataFrame:
    """The issue rows of one property and/or one rule (row, column, value, rule, action, message).

    The widget's drill-down pages through this frame; it is a boolean-mask selection, so it
    stays cheap for a million issues.
    """
    issues = plan.issues
    mask = np.ones(len(issues), dtype=bool)
    if column is not None:
        mask &= (issues["column"] == column).to_numpy(dtype=bool)
    if rule is not None:
        mask &= (issues["rule"] == rule).to_numpy(dtype=bool)
    return issues[mask]


def _skipped(plan: PushPlan) -> list[tuple[str, int]]:
    issues = plan.issues
    counts = issues.loc[issues["action"] == "row_skipped", "rule"].value_counts()
    return sorted((str(rule), int(n)) for rule, n in counts.items())


@dataclass(frozen=True)
class Aggregates:
    """Everything a preview shows, computed once per display and shared by text, HTML, widget."""

    summary: dict[str, Any]
    skipped: list[tuple[str, int]]
    columns: pd.DataFrame
    rules: pd.DataFrame
    known_types: dict[str, str]
    acknowledged_at: tuple[pd.Timestamp, pd.Timestamp] | None


def aggregate(plan: PushPlan) -> Aggregates:
    """The counts and tables of a preview: `column_table`, `rule_table`, skips, summary."""
    return Aggregates(
        summary=plan.summary(),
        skipped=_skipped(plan),
        columns=column_table(plan),
        rules=rule_table(plan),
        known_types=dict(plan.known_types),
        acknowledged_at=acknowledged_at(plan),
    )


def _destination(summary: dict[str, Any]) -> str:
    # config.label names endpoint, workspace and version; it never contains the key.
    return summary.get("destination") or "not configured (FYNO_* environment at send time)"


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


def _rules_by_column(agg: Aggregates) -> dict[Any, list[str]]:
    """Per property, the rules reported for it, the most severe first, each once."""
    out: dict[Any, list[str]] = {}
    for column, rule in zip(agg.rules["column"], agg.rules["rule"], strict=True):
        if column is not None and rule not in out.setdefault(column, []):
            out[column].append(rule)
    return out


def verdict(agg: Aggregates) -> str:
    """The preview's first line: how many rows will be sent and how many values left out."""
    s = agg.summary
    line = f"{s['rows_to_send']:,} of {_plural(s['rows'], 'row')} will be sent"
    dropped, skipped = s["values_dropped"], s["rows_skipped"]
    if dropped:
        line += f"; {_plural(dropped, 'value')} will be left out"
    if skipped:
        line += f"; {_plural(skipped, 'row')} skipped"
    if dropped or skipped:
        return "⚠ " + line + ": see below"
    return "✓ " + line + ", every value as planned"


def _header_lines(agg: Aggregates, resend: str) -> list[tuple[str, str]]:
    s = agg.summary
    why = ", ".join(f"{rule} {n:,}" for rule, n in agg.skipped)
    lines = [
        ("Rows skipped", f"{s['rows_skipped']:,}" + (f" ({why})" if why else "")),
        ("Properties", f"{s['properties']:,} ({_values_line(s)})"),
        ("Destination", _destination(s)),
        (
            "Values left out",
            f"{s['values_dropped']:,} (Fyno would accept them and silently not store them)",
        ),
        ("Coerced / warnings", f"{s['values_coerced']:,} / {s['warnings']:,}"),
    ]
    if any(s.get("ops", {}).values()):  # with ops= or unset=: what the quota counts
        ops = "; ".join(f"{op} {', '.join(p)}" for op, p in s["ops"].items() if p)
        lines.insert(0, ("Requests", f"{s['requests']:,} in per-row mode ({ops})"))
    if s.get("values_unchanged"):
        lines.insert(1, ("Not resent", acknowledged_words(s, agg.acknowledged_at, resend)))
    return lines


def _gathered(rules: pd.DataFrame) -> list[dict[str, Any]]:
    """The rule table's rows for display, notes of one kind gathered: the whole-column issues
    of one rule and action on several properties are one row naming them all (their counts
    are in the property table, so the message loses its leading count)."""
    out: list[dict[str, Any]] = []
    notes: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rules.to_dict("records"):
        where = r["column"] if r["column"] is not None else "(row)"
        if r["count"] or r["column"] is None:
            out.append({**r, "where": str(where)})
            continue
        key = (r["rule"], r["action"])
        if key in notes:
            note = notes[key]
            note["where"] += f", {where}"
            note["message"] = _LEADING_COUNT.sub("", note["message"])
        else:
            notes[key] = {**r, "where": str(where)}
            out.append(notes[key])
    return out


def render_text(plan: PushPlan, resend: str = RESEND) -> str:
    """The preview as plain text: header, one line per property, issues per rule.

    Stable (no ids, fixed ordering; nbval masks the ledger's time), so it is what nbval
    compares. ``resend`` names how to resend what the ledger leaves out.
    """
    return text_of(aggregate(plan), resend)


def text_of(agg: Aggregates, resend: str = RESEND) -> str:
    """`render_text` from precomputed `Aggregates`."""
    out = ["Fyno push plan: " + verdict(agg)]
    out += [f"  {name + ':':<20}{value}" for name, value in _header_lines(agg, resend)]
    table, named = agg.columns, _rules_by_column(agg)
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
        for r in _gathered(agg.rules):
            rows = "whole column"
            if r["count"]:
                rows = f"{r['count']:,} at rows {_row_labels(r['rows'], r['count'])}"
            out.append(f"  {r['rule']} ({r['action']}) in {_cut(r['where'], 48)}: {rows}")
            out.append(f"      {_cut(r['message'], 96)}")
    return "\n".join(line.rstrip() for line in out)


def header_html(agg: Aggregates) -> str:
    """The header block: counts, destination (never the key) and values left out."""
    dropped = agg.summary["values_dropped"]
    colour = _STATUS["dropped" if dropped or agg.summary["rows_skipped"] else "ok"][2]
    items = []
    for name, value in _header_lines(agg, RESEND):
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
    table, named = agg.columns, _rules_by_column(agg)
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
            f'<td style="{_TD}{_NOWRAP};{weight}color:{colour}">{_esc(_status_text(r, named), 80)}'
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
    heads = ["rule", "action", "property", "count", "first rows", "message"]
    head = "".join(f'<th style="{_TH}">{_esc(h)}</th>' for h in heads)
    body = []
    for r in _gathered(rules):  # one row per (rule, action, column), notes gathered
        rows = _row_labels(r["rows"], r["count"]) if r["count"] else "whole column"
        count = f"{r['count']:,}" if r["count"] else "—"
        colour = _STATUS.get(r["action"], _STATUS["dropped"])[2]
        body.append(
            f'<tr class="fyno-rule"><td style="{_TD}"><code style="{_CODE}">{_esc(r["rule"])}'
            f'</code></td><td style="{_TD};color:{colour}">{_esc(r["action"])}</td>'
            f'<td style="{_TD}">{_esc(r["where"], 120)}</td>'
            f'<td style="{_NUM}">{count}</td><td style="{_TD}">{_esc(rows, 120)}</td>'
            f'<td style="{_TD}">{_esc(r["message"], 120)}</td></tr>'
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
