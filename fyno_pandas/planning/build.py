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
`fyno_pandas.planning.issues.HINTS` holds what resolves each row of this table (``plan.issues``'
``hint``, and ``link`` into the rules page of the documentation).

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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..coercion.coerce import Coerced, counted
from ..coercion.ids import id_strings
from ..errors import FynoInputError
from ..options import checks
from ..options.model import PlanOptions
from .issues import ISSUE_COLUMNS, IssueRows, shown
from .plan import PushPlan
from .properties import COLUMN_COLUMNS, Properties
from .steps import check_ops, coerce_op, drop_without_safe_seed, name_problem

if TYPE_CHECKING:
    from ..client.config import FynoConfig

__all__ = ["COLUMN_COLUMNS", "ISSUE_COLUMNS", "PushPlan", "build_plan"]


def _types(types: Mapping[Hashable, str] | None) -> dict[str, str]:
    return {str(prop): fyno_type for prop, fyno_type in (types or {}).items()}


def _select(df: pd.DataFrame, id_col: Any, columns: Any) -> list[Any]:
    """The column labels to send, checked: they exist, once each, with valid names."""
    labels = list(df.columns)
    if id_col not in labels:
        raise FynoInputError(
            _not_a_column(f"id_col {id_col!r}", id_col, labels),
            column=id_col,
            rule="unknown_id_col",
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
                    _not_a_column(f"column {label!r} of columns=", label, labels),
                    column=label,
                    rule="unknown_column",
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


def _not_a_column(what: str, label: Any, labels: list[Any]) -> str:
    """The message for ``label``, not a column: the closest columns, or the first ten."""
    close = checks.closest(label, labels, n=3)
    if close:
        where = f"did you mean {' or '.join(map(repr, close))}?"
    else:
        where = "its columns are " + ", ".join(map(repr, labels[:10]))
        where += ", ..." if len(labels) > 10 else ""
    return f"{what} is not one of the frame's {len(labels)} columns; {where}"


def _cell_issues(issues: IssueRows, s: pd.Series, order: int, name: str, c: Coerced) -> None:
    for issue in c.issues:
        if issue.column_wide:
            first = shown(s, issue.positions[:1])
            message = counted(issue.message, len(issue.positions))
            issues.add(np.array([-1]), order, name, first, issue.rule, issue.action, message)
        else:
            values = shown(s, issue.positions)
            issues.add(
                issue.positions, order, name, values, issue.rule, issue.action, issue.message
            )


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
    issues = IssueRows(df.index)
    rows = _RowIds.of(df[id_col], str(id_col), issues)
    sent = Properties(len(df))
    for order, label in enumerate(chosen):
        s = df[label]
        name = str(label)
        c = coerce_op(s, op_of.get(name, "set"), known.get(name), naive_tz, long_strings)
        _check_nulls(c, df.index, label, nulls == "error" and name not in op_of)
        if name not in known and op_of.get(name) != "remove":
            drop_without_safe_seed(c, rows.ok)
        sent.add_column(name, s, c, rows.ok if nulls == "unset" and name not in op_of else None)
        _cell_issues(issues, s, order, name, c)
    for name in unset_names:
        sent.add_unset(name, rows.ok)
    sendable = rows.skip_empty(sent.anything(), df[id_col], issues)
    issue_frame, issue_pos = issues.frame()
    options = _options(chosen, schema, naive_tz, nulls, long_strings, op_of, unset_names)
    return PushPlan(
        index=df.index,
        id_col=id_col,
        options=options,
        config=config,
        known_types=known,
        distinct_ids=rows.ids,
        sendable=sendable,
        skip_reasons=rows.skip_reasons,
        unchanged=np.zeros(len(df), dtype=bool),
        properties=sent.names,
        fyno_types=sent.fyno_types,
        fragments=sent.fragments,
        unsets=sent.unsets,
        columns=sent.table(),
        issues=issue_frame,
        acked_request_ids=np.full(len(df), None, dtype=object),
        acked_at=np.full(len(df), np.datetime64("NaT", "ns")),
        _set=sent.is_set,
        _ambiguous=sent.ambiguous,
        _issue_pos=issue_pos,
        ops=op_of,
    )


_ID_RULES = (
    ("missing_id", "the id is missing or blank; row skipped"),
    ("invalid_id", "the id is not valid UTF-8 (bytes or a lone surrogate); row skipped"),
    ("duplicate_id", "a later row has the same id and wins; row skipped"),
)


@dataclass
class _RowIds:
    """Each row's distinct id, and why a row cannot be sent (``skip_reasons``, None: it can)."""

    ids: np.ndarray
    ok: np.ndarray  # a valid id, and no later row with it
    skip_reasons: np.ndarray

    @classmethod
    def of(cls, id_values: pd.Series, id_name: str, issues: IssueRows) -> _RowIds:
        """The rows' ids; rows without a valid one, or with one a later row has, are issues."""
        ids, not_utf8 = id_strings(id_values)
        has_id = np.not_equal(ids, None)
        dup = np.zeros(len(ids), dtype=bool)
        dup[has_id] = pd.Series(ids[has_id], dtype=object).duplicated(keep="last").to_numpy()
        missing = ~has_id & ~not_utf8
        for mask, (rule, message) in zip((missing, not_utf8, dup), _ID_RULES, strict=True):
            where = np.flatnonzero(mask)
            if len(where):
                values = shown(id_values, where)
                issues.add(where, -1, id_name, values, rule, "row_skipped", message)
        skip_reasons = np.full(len(ids), None, dtype=object)
        skip_reasons[dup] = "duplicate_id"
        skip_reasons[~has_id] = "missing_id"
        skip_reasons[not_utf8] = "invalid_id"
        return cls(ids, has_id & ~dup, skip_reasons)

    def skip_empty(self, anything: np.ndarray, id_values: pd.Series, issues: IssueRows) -> Any:
        """Skip the rows with an id and nothing to set or unset; return the rows to send."""
        empty = self.ok & ~anything
        where = np.flatnonzero(empty)
        if len(where):
            values = shown(id_values, where)
            message = "no value left to set or unset; row skipped"
            issues.add(where, -1, None, values, "empty_row", "row_skipped", message)
        self.skip_reasons[empty] = "empty_row"
        return self.ok & anything


def _check_nulls(c: Coerced, index: pd.Index, label: Any, refused: bool) -> None:
    """With ``nulls="error"`` (``refused``), raise for the column's first missing value."""
    if refused and c.missing.any():
        row = index[int(np.argmax(c.missing))]
        raise FynoInputError(
            f"column {label!r}, row {row!r}: missing value (nulls='error')",
            column=label,
            row=row,
            rule="null_value",
        )


def _options(
    chosen: list[Any],
    schema: Mapping[str, str] | None,
    naive_tz: Any,
    nulls: str,
    long_strings: str,
    op_of: dict[str, str],
    unset_names: list[str],
) -> dict[str, Any]:
    """The plan's options as the plan shows and replays them."""
    return {
        "columns": list(chosen),
        "schema": _types(schema),
        "naive_tz": str(naive_tz),
        "nulls": nulls,
        "long_strings": long_strings,
        **({"ops": dict(op_of)} if op_of else {}),
        **({"unset": unset_names} if unset_names else {}),
    }
