"""The push plan: every cell of a DataFrame accounted for before anything is sent.

`build_plan` turns a frame into a `PushPlan`: one distinct id per row, one Fyno type per
property, the JSON text of every value that will be set, and a table of every cell or row that
is not sent as is. Pure: no network, no files.

Policy (where Fyno's documentation is silent, these are our choices)
--------------------------------------------------------------------
- Ids become strings: ints and integral floats without ``.0`` (``7.0`` -> ``"7"``), other values
  by ``str``; bytes (``pd.read_sas`` text) are decoded as UTF-8, and bytes that do not decode or
  text that does not encode as UTF-8 (a lone surrogate, as ``encoding_errors="surrogateescape"``
  leaves) skip the row (``invalid_id``). A missing or blank id skips the row (``missing_id``).
  When ids repeat, the *last* row wins, as Fyno would store it; the earlier rows are skipped
  (``duplicate_id``), so the outcome does not depend on the order in which concurrent requests
  arrive.
- The id column is sent as a property only when ``columns=`` lists it.
- Property names are ``str(column)``; an empty or ``$``-prefixed name, one that is not UTF-8
  text (a lone surrogate), or two columns with the same name, raise `FynoInputError`
  (``rule="invalid_property_name"`` / ``"duplicate_property"``); so do such ``unset=`` names.
- A type known for a property (``schema=`` wins over ``known_types=``, which come from the
  ledger) is the planned type; values of another type are ``type_mismatch`` and dropped, except
  that ISO-date strings fit a date property and dates fit a string property (sent as ISO text,
  which Fyno stores as text: ``date_as_string``).
- Without a known type a column's type comes from its dtype (`fyno_pandas.coercion.types`); object
  columns take the majority type of their values. A string column whose every value is a
  documented ISO date is planned as ``date`` (the type Fyno gives it).
- A property of unknown type is new: the sender first writes one value that fixes its type
  whatever Fyno's reading of ISO 8601 (a seed). Date-like text (`coercion.datelike` lists
  the shapes) is never a seed of a String property; when every sent value of a new string
  property is date-like, all of them are dropped (``no_safe_seed``) rather than let the first
  one Fyno processes decide.
- Missing values (None, NaN, NaT, pd.NA) are counted in ``plan.columns.missing``, never listed as
  issues; ``nulls`` says whether they are skipped, unset or an error.
- Integers beyond ±2**53 are sent with every digit and warned per cell (``unsafe_integer``):
  JSON allows them, but a JavaScript reader may round them.
- Datetimes go out in UTC with milliseconds (``2020-10-01T18:30:00.000Z``); finer precision is
  cut and reported once per column (``datetime_truncated``).
- List elements: strings of at most 255 characters, finite numbers and dates; anything else
  (``None``, booleans, nested lists, dicts) drops the whole value (``invalid_list``).
  ``long_strings`` applies to scalar strings only.
- Cell issues are kept for rows that are skipped too (they are still true of the data);
  ``plan.columns.values`` counts cells with a value to set, skipped rows included.
- ``ops=`` and ``unset=``: `fyno_pandas.planning.steps` documents their rules and request order.
- Errors the user's arguments cause: ``unknown_id_col``, ``unknown_column``,
  ``invalid_property_name``, ``duplicate_property``, ``invalid_option``, ``invalid_schema``,
  ``null_value`` (``nulls="error"``) and ``string_too_long`` (``long_strings="error"``).

Issue rules (``plan.issues.rule``) and their actions
----------------------------------------------------
=================== ============ ===========================================================
rule                action       meaning
=================== ============ ===========================================================
string_too_long     dropped      over 255 characters (``long_strings="report"``)
string_too_long     coerced      cut to 255 characters (``long_strings="truncate"``)
not_finite          dropped      ±inf, a non-finite Decimal, a number too large for a double
naive_datetime      coerced      naive datetimes read in ``naive_tz`` (once per column)
datetime_truncated  coerced      sub-millisecond precision cut (once per column)
date_out_of_range   dropped      a year outside 0001-9999
nonexistent_time    dropped      a naive time that does not exist or is ambiguous in naive_tz
type_mismatch       dropped      not the property's type; Fyno would accept and not store it
date_as_string      coerced      dates sent as ISO text to a string property (once per column)
date_like_string    warned       date-like strings (`coercion.datelike`; once per column)
no_safe_seed        dropped      a new property whose every sent value is date-like text
numeric_string      warned       numbers written as text (once per column, counted)
unsafe_integer      warned       an integer beyond ±2**53
unsupported_type    dropped      timedelta, time, period, interval, complex, bytes, dict, ...
invalid_list        dropped      a list Fyno cannot hold
add_not_number      dropped      ``ops`` add: not a number (a string, a bool, ...)
invalid_element     dropped      ``ops`` append/remove: an element Fyno cannot hold
op_type_mismatch    dropped      the op needs another type than the property's known one
category            coerced      a category column typed by its categories (once per column)
missing_id          row_skipped  the id is missing or blank
invalid_id          row_skipped  the id is not valid UTF-8 (bytes, or text with a lone surrogate)
duplicate_id        row_skipped  a later row has the same id
empty_row           row_skipped  nothing left to set or unset
=================== ============ ===========================================================
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..coercion.coerce import Coerced
from ..coercion.ids import id_strings
from ..errors import FynoInputError
from ..options import checks
from ..options.model import PlanOptions
from .issues import ISSUE_COLUMNS, IssueRows, shown
from .plan import PushPlan
from .steps import check_ops, coerce_op, drop_without_safe_seed, name_problem, unset_column

if TYPE_CHECKING:
    from ..client.config import FynoConfig

__all__ = ["COLUMN_COLUMNS", "ISSUE_COLUMNS", "PushPlan", "build_plan"]

COLUMN_COLUMNS = [
    "column",
    "dtype",
    "fyno_type",
    "values",
    "missing",
    "coerced",
    "dropped",
    "example_before",
    "example_after",
    "note",
]
_COLUMN_DTYPES = dict.fromkeys(("values", "missing", "coerced", "dropped"), np.int64)


def _types(types: Mapping[Hashable, str] | None) -> dict[str, str]:
    return {str(prop): fyno_type for prop, fyno_type in (types or {}).items()}


def _select(df: pd.DataFrame, id_col: Any, columns: Any) -> list[Any]:
    """The column labels to send, checked: they exist, once each, with valid names."""
    labels = list(df.columns)
    if id_col not in labels:
        raise FynoInputError(
            f"id_col {id_col!r} is not a column of the frame", column=id_col, rule="unknown_id_col"
        )
    if labels.count(id_col) > 1:
        raise FynoInputError(
            f"id_col {id_col!r} names more than one column",
            column=id_col,
            rule="duplicate_property",
        )
    if columns is None:
        chosen = [c for c in labels if c != id_col]
    else:
        chosen = [columns] if isinstance(columns, (str, int)) else list(columns)
        for label in chosen:
            if label not in labels:
                raise FynoInputError(
                    f"column {label!r} is not in the frame", column=label, rule="unknown_column"
                )
    seen: dict[str, Any] = {}
    for label in chosen:
        name = str(label)
        problem = name_problem(name)
        if problem is not None:
            raise FynoInputError(
                f"column {label!r}: {problem}", column=label, rule="invalid_property_name"
            )
        if name in seen or labels.count(label) > 1:
            raise FynoInputError(
                f"column {label!r}: another column is also sent as property {name!r}",
                column=label,
                rule="duplicate_property",
            )
        seen[name] = label
    return chosen


def _cell_issues(issues: IssueRows, s: pd.Series, order: int, name: str, c: Coerced) -> None:
    for issue in c.issues:
        if issue.column_wide:
            count = str(len(issue.positions))
            first = shown(s, issue.positions[:1])
            message = issue.message.replace("{count}", count)
            issues.add(np.array([-1]), order, name, first, issue.rule, issue.action, message)
        else:
            values = shown(s, issue.positions)
            issues.add(
                issue.positions, order, name, values, issue.rule, issue.action, issue.message
            )


def _column_row(name: str, s: pd.Series, c: Coerced) -> dict[str, Any]:
    def cells(action: str) -> int:
        hit = np.zeros(len(s), dtype=bool)  # a mask, since one cell can break several rules
        for issue in c.issues:
            if issue.action == action:
                hit[issue.positions] = True
        return int(hit.sum())

    sent = int(c.present.sum())
    first = (
        np.argmax(c.present) if sent else (np.argmax(~c.missing) if (~c.missing).any() else None)
    )
    return {
        "column": name,
        "dtype": str(s.dtype),
        "fyno_type": c.fyno_type,
        "values": sent,
        "missing": int(c.missing.sum()),
        "coerced": cells("coerced"),
        "dropped": cells("dropped"),
        "example_before": None if first is None else shown(s, [int(first)])[0],
        "example_after": None if first is None else c.fragments[first],
        "note": c.note,
    }


def build_plan(
    df: pd.DataFrame,
    id_col: Hashable,
    *,
    columns: Any = None,
    schema: Mapping[str, str] | None = None,
    naive_tz: Any = "UTC",
    nulls: str = "skip",
    long_strings: str = "report",
    ops: Mapping[Hashable, str] | None = None,
    unset: Any = None,
    known_types: Mapping[str, str] | None = None,
    config: FynoConfig | None = None,
) -> PushPlan:
    """Plan a push of ``df``: ids, types, JSON fragments and every issue, without sending.

    Parameters
    ----------
    df : pandas.DataFrame
        The rows to push; never modified.
    id_col : hashable
        The column holding each row's distinct id.
    columns : list, optional
        The columns to send (default: all but ``id_col``), in this order.
    schema : mapping, optional
        ``{property: fyno_type}`` fixed in the workspace; wins over ``known_types``.
    naive_tz : str
        Time zone naive datetimes are read in.
    nulls : {"skip", "unset", "error"}
        Missing values are left out, cleared through Fyno's unset operation, or raise.
    long_strings : {"report", "truncate", "error"}
        Strings over 255 characters are left out and reported, cut to 255, or raise.
    ops : mapping, optional
        ``{column: op}``, op one of set, set_once, add, append, remove (default set).
    unset : list of str, optional
        Properties cleared for every row with a valid id (none of them a sent column).
    known_types : mapping, optional
        ``{property: fyno_type}`` remembered by the ledger.
    config : FynoConfig, optional
        Only labels the plan (``summary()["destination"]``).

    Returns
    -------
    PushPlan

    Raises
    ------
    FynoInputError
        For an unknown ``id_col`` or column, an invalid property name or option, and in the
        ``"error"`` modes of ``nulls`` and ``long_strings``; ``.column``, ``.row`` and ``.rule``
        say where.
    """
    if not isinstance(df, pd.DataFrame):
        raise FynoInputError("build_plan needs a pandas DataFrame", rule="invalid_option")
    # the declaration's own checks, as every entry point runs them (build_plan is public too)
    PlanOptions(
        columns=columns,
        schema=schema,
        naive_tz=naive_tz,
        nulls=nulls,
        long_strings=long_strings,
        ops=ops,
        unset=unset,
    )
    checks.schema("known_types", known_types)
    known = {**_types(known_types), **_types(schema)}
    chosen = _select(df, id_col, columns)
    op_of, unset_names = check_ops(ops, unset, [str(label) for label in chosen])
    n = len(df)
    issues = IssueRows(df.index)
    ids, not_utf8 = id_strings(df[id_col])
    has_id = np.not_equal(ids, None)
    dup = np.zeros(n, dtype=bool)
    dup[has_id] = pd.Series(ids[has_id], dtype=object).duplicated(keep="last").to_numpy()
    ok = has_id & ~dup
    id_values = df[id_col]
    for mask, rule, message in (
        (~has_id & ~not_utf8, "missing_id", "the id is missing or blank; row skipped"),
        (
            not_utf8,
            "invalid_id",
            "the id is not valid UTF-8 (bytes or a lone surrogate); row skipped",
        ),
        (dup, "duplicate_id", "a later row has the same id and wins; row skipped"),
    ):
        where = np.flatnonzero(mask)
        if len(where):
            values = shown(id_values, where)
            issues.add(where, -1, str(id_col), values, rule, "row_skipped", message)
    properties: list[str] = []
    fyno_types: dict[str, str] = {}
    fragments: dict[str, np.ndarray] = {}
    unsets: dict[str, np.ndarray] = {}
    is_set: dict[str, np.ndarray] = {}
    ambiguous: dict[str, np.ndarray] = {}
    rows = []
    for order, label in enumerate(chosen):
        name = str(label)
        s = df[label]
        c = coerce_op(s, op_of.get(name, "set"), known.get(name), naive_tz, long_strings)
        if nulls == "error" and c.missing.any() and name not in op_of:  # set columns only
            row = df.index[int(np.argmax(c.missing))]
            raise FynoInputError(
                f"column {label!r}, row {row!r}: missing value (nulls='error')",
                column=label,
                row=row,
                rule="null_value",
            )
        if name not in known and op_of.get(name) != "remove":
            drop_without_safe_seed(c, ok)
        properties.append(name)
        if c.fyno_type is not None:
            fyno_types[name] = c.fyno_type
        fragments[name] = c.fragments
        clear = nulls == "unset" and name not in op_of  # set columns only
        unsets[name] = (c.missing & ok) if clear else np.zeros(n, dtype=bool)
        is_set[name] = c.present
        ambiguous[name] = c.ambiguous  # type: ignore[assignment]
        _cell_issues(issues, s, order, name, c)
        rows.append(_column_row(name, s, c))
    for name in unset_names:
        properties.append(name)
        fragments[name], ambiguous[name] = np.full(n, None, dtype=object), np.zeros(n, bool)
        unsets[name], is_set[name] = ok.copy(), np.zeros(n, dtype=bool)
        rows.append(unset_column(name))
    anything = np.zeros(n, dtype=bool)
    for name in properties:
        anything |= is_set[name] | unsets[name]
    empty = np.flatnonzero(ok & ~anything)
    if len(empty):
        values = shown(id_values, empty)
        message = "no value left to set or unset; row skipped"
        issues.add(empty, -1, None, values, "empty_row", "row_skipped", message)
    skip_reasons = np.full(n, None, dtype=object)
    skip_reasons[ok & ~anything] = "empty_row"
    skip_reasons[dup] = "duplicate_id"
    skip_reasons[~has_id] = "missing_id"
    skip_reasons[not_utf8] = "invalid_id"
    issue_frame, issue_pos = issues.frame()
    return PushPlan(
        index=df.index,
        id_col=id_col,
        options={
            "columns": list(chosen),
            "schema": _types(schema),
            "naive_tz": str(naive_tz),
            "nulls": nulls,
            "long_strings": long_strings,
            **({"ops": dict(op_of)} if op_of else {}),
            **({"unset": unset_names} if unset_names else {}),
        },
        config=config,
        known_types=known,
        distinct_ids=ids,
        sendable=ok & anything,
        skip_reasons=skip_reasons,
        unchanged=np.zeros(n, dtype=bool),
        properties=properties,
        fyno_types=fyno_types,
        fragments=fragments,
        unsets=unsets,
        columns=pd.DataFrame(
            {
                c: pd.Series([r[c] for r in rows], dtype=_COLUMN_DTYPES.get(c, object))
                for c in COLUMN_COLUMNS
            }
        ),
        issues=issue_frame,
        acked_request_ids=np.full(n, None, dtype=object),
        acked_at=np.full(n, np.datetime64("NaT", "ns")),
        _set=is_set,
        _ambiguous=ambiguous,
        _issue_pos=issue_pos,
        ops=op_of,
    )
