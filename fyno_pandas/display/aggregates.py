"""What a plan's preview shows, computed once: its counts, its tables and its first line.

Pure aggregates over a `PushPlan` (``plan.columns``, ``plan.issues``, ``plan.summary()``): grouped
counts and the first rows of each group, never a loop over the frame's rows, so a preview of a
million rows costs a fraction of planning them. `fyno_pandas.display.render` lays them out as
text and HTML, `fyno_pandas.display.widget` as ipywidgets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .outcome import acknowledged_at, acknowledged_words, plural

if TYPE_CHECKING:
    from ..planning.plan import PushPlan

__all__ = [
    "FIRST_ROWS",
    "SEVERITY",
    "Aggregates",
    "affected_rows",
    "aggregate",
    "column_table",
    "gathered",
    "header_lines",
    "rule_table",
    "rules_by_column",
    "verdict",
]

FIRST_ROWS = 5  # rows named per rule in the summary; the widget's drill-down pages the rest
#: A property's marks, the most severe first (the property table is sorted by them).
SEVERITY = ("dropped", "coerced", "warned", "ok")
# Severity order of issue actions.
_ACTIONS = ("row_skipped", "dropped", "coerced", "warned")
_LEADING_COUNT = re.compile(r"^[\d,]+ ")


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
    rank = table["status"].map({name: k for k, name in enumerate(SEVERITY)})
    return table.iloc[np.argsort(rank.to_numpy(), kind="stable")].reset_index(drop=True)


def rule_table(plan: PushPlan, first: int = FIRST_ROWS) -> pd.DataFrame:
    """Issues grouped by rule, action and column: a count, the first rows and a message.

    A column-wide issue (row None) is reported once; its count is in its message, so its
    ``count`` is 0 and ``rows`` is empty.

    Returns
    -------
    pandas.DataFrame
        Columns rule, action, column, count, rows (list of row labels), message, hint (what
        resolves it) and link (the rule's section of the documentation); ordered by action
        severity, then rule, then column.
    """
    issues = plan.issues
    cols = ["rule", "action", "column", "count", "rows", "message", "hint", "link"]
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
            # object: a row issue's column stays None (pandas 3 would infer str, None as NaN)
            "column": pd.Series(issues["column"].to_numpy(dtype=object)[first_pos], dtype=object),
            "count": counts.astype(np.int64),
            "rows": [
                row_labels[order[a : a + min(n, first)]].tolist()
                for a, n in zip(starts, counts, strict=True)
            ],
            "message": issues["message"].to_numpy(dtype=object)[first_pos],
            "hint": issues["hint"].to_numpy(dtype=object)[first_pos],
            "link": issues["link"].to_numpy(dtype=object)[first_pos],
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


def _values_line(summary: dict[str, Any]) -> str:
    text = plural(summary["values"], "value") + " to set"
    return text + (f", {summary['values_unset']:,} to clear" if summary["values_unset"] else "")


def _destination(summary: dict[str, Any]) -> str:
    # config.label names endpoint, workspace and version; it never contains the key.
    return summary.get("destination") or "not configured (FYNO_* environment at send time)"


def header_lines(agg: Aggregates, resend: str) -> list[tuple[str, str]]:
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


def rules_by_column(agg: Aggregates) -> dict[Any, list[str]]:
    """Per property, the rules reported for it, the most severe first, each once."""
    out: dict[Any, list[str]] = {}
    for column, rule in zip(agg.rules["column"], agg.rules["rule"], strict=True):
        if column is not None and rule not in out.setdefault(column, []):
            out[column].append(rule)
    return out


def verdict(agg: Aggregates) -> str:
    """The preview's first line: how many rows will be sent and how many values left out."""
    s = agg.summary
    line = f"{s['rows_to_send']:,} of {plural(s['rows'], 'row')} will be sent"
    dropped, skipped = s["values_dropped"], s["rows_skipped"]
    if dropped:
        line += f"; {plural(dropped, 'value')} will be left out"
    if skipped:
        line += f"; {plural(skipped, 'row')} skipped"
    if dropped or skipped:
        return "⚠ " + line + ": see below"
    return "✓ " + line + ", every value as planned"


def gathered(rules: pd.DataFrame) -> list[dict[str, Any]]:
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
