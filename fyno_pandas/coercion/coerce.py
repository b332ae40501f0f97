"""Per-column coercion: a Series becomes JSON text fragments of one Fyno type, plus its issues.

`coerce_series` picks the column's values by dtype (`fyno_pandas.coercion.types`), hands them to the
vectorized encoders of `coercion.encode`, settles the column's Fyno type (a known type, else
the dtype's, else the majority of an object column's values) and drops what does not fit it.

Every present value ends as exactly one of: a fragment (possibly coerced, then reported), or a
dropped cell reported with a rule. Missing values (None, NaN, NaT, pd.NA) get no fragment and
no issue; the plan counts them and applies its ``nulls`` policy. Rules are listed in
`fyno_pandas.planning.build`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

import numpy as np
import pandas as pd

from ..errors import FynoInputError
from .encode import (
    BOOL_TEXT,
    MAX_STRING,
    TYPE_ORDER,
    Part,
    encode_datetimes,
    encode_days,
    encode_decimals,
    encode_floats,
    encode_ints,
    encode_lists,
    encode_string,
    encode_strings,
    naive_read,
    object_parts,
    unsupported,
)
from .instants import localize
from .types import UNSUPPORTED, dtype_key, fyno_type_of

__all__ = ["Coerced", "Issue", "coerce_series", "counted", "encode_string", "missing_mask"]


@dataclass
class Issue:
    """Cells of one column that share a rule; ``column_wide`` issues are reported once, their
    message a template for `counted`."""

    rule: str
    action: str
    positions: np.ndarray
    message: str
    column_wide: bool = False


_FORMS = re.compile(r"\{([^{}|]*)\|([^{}|]*)\}")


def counted(message: str, count: int) -> str:
    """``message`` with ``{count}`` filled in and each ``{one|many}`` in the form ``count`` takes.

    >>> counted("{count} {string holds|strings hold} numbers", 1)
    '1 string holds numbers'
    """
    form = 1 if count == 1 else 2
    return _FORMS.sub(lambda m: m.group(form), message.replace("{count}", str(count)))


@dataclass
class Coerced:
    """The outcome of `coerce_series` for one column.

    Attributes
    ----------
    fyno_type : str or None
        The planned type; None when no value can be sent and no type is known.
    fragments : numpy.ndarray
        Object array, one JSON text per row, None where nothing is set.
    missing : numpy.ndarray
        Bool array: the input cell is missing (None, NaN, NaT, pd.NA).
    present : numpy.ndarray
        Bool array: the row has a fragment (``fragments`` is not None).
    issues : list of Issue
    ambiguous : numpy.ndarray
        Bool array: a fragment whose type Fyno could read otherwise (an ISO-date string in a
        string column), so it must not be the first value of a new property.
    note : str
        How the column was typed, for ``plan.columns``.
    """

    fyno_type: str | None
    fragments: np.ndarray
    missing: np.ndarray
    present: np.ndarray
    issues: list[Issue] = field(default_factory=list)
    ambiguous: np.ndarray | None = None
    note: str = ""


# Rules about a whole column: reported once, with "{count}" filled in by the plan.
COLUMN_WIDE = {"naive_datetime", "datetime_truncated", "date_like_string", "numeric_string"}
COLUMN_WIDE |= {"date_as_string", "category"}


def _typed_part(s: pd.Series, key: str, pos: np.ndarray, naive_tz: str, ls: str) -> Part:
    """Encode the present values (``pos``) of a column whose dtype fixes the class."""
    if key == "bool":
        return Part("boolean", pos, BOOL_TEXT[s.to_numpy()[pos].astype(np.intp)])
    if key in ("boolean", "arrow_bool"):
        values = s.to_numpy(dtype=bool, na_value=False)[pos]
        return Part("boolean", pos, BOOL_TEXT[values.astype(np.intp)])
    if key == "int":
        return encode_ints(s.to_numpy()[pos])
    if key in ("Int", "arrow_int"):
        return encode_ints(s.to_numpy(dtype=s.dtype.numpy_dtype, na_value=0)[pos])
    if key == "float":
        return encode_floats(s.to_numpy()[pos])
    if key in ("Float", "arrow_float"):
        return encode_floats(s.to_numpy(dtype=s.dtype.numpy_dtype, na_value=np.nan)[pos])
    if key == "arrow_decimal":
        return encode_decimals(s.to_numpy(dtype=object)[pos])
    if key in ("datetime64", "arrow_timestamp"):
        wall = s.to_numpy() if key == "datetime64" else _arrow_datetimes(s)
        part = encode_datetimes(localize(wall[pos], naive_tz))
        msg = naive_read(naive_tz)
        part.issues.append(("naive_datetime", "coerced", np.ones(len(pos), bool), msg))
        return part
    if key == "datetime64tz":
        return encode_datetimes(s.dt.tz_convert(None).to_numpy()[pos])
    if key in ("arrow_timestamptz", "arrow_date"):
        values = _arrow_datetimes(s)[pos]  # zoned timestamps come out in UTC
        return encode_datetimes(values) if key == "arrow_timestamptz" else encode_days(values)
    if key in ("string", "arrow_string"):
        return encode_strings(s.to_numpy(dtype=object)[pos], ls)
    if key == "arrow_list":
        return _arrow_lists(s, pos, naive_tz, ls)
    return unsupported(len(pos))


def _arrow_datetimes(s: pd.Series) -> np.ndarray:
    """Arrow dates and timestamps as datetime64, zoned ones in UTC, NaT where null.

    pyarrow converts in numpy; pandas would go through Python's date and datetime, which
    overflow outside years 1-9999 instead of reaching the encoders' range check.
    """
    import pyarrow as pa

    return pa.array(s.array).to_numpy(zero_copy_only=False)


def _arrow_lists(s: pd.Series, pos: np.ndarray, naive_tz: str, ls: str) -> Part:
    """Arrow lists; elements of a number or date type go as a column of that type would.

    ``to_numpy(dtype=object)`` keeps strings as they are, but turns days into datetime64 (then
    read as naive datetimes), zoned timestamps into naive UTC ones (then localized again) and,
    when any element of the column is null, integers into float64 (digits beyond 2**53 lost).
    So number and date elements are encoded here, all at once, by `_typed_part`, and joined
    per row by Arrow; a list with a missing element or one Fyno cannot hold is left out.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if fyno_type_of(pd.ArrowDtype(s.dtype.pyarrow_dtype.value_type)) not in ("number", "date"):
        return encode_lists(s.to_numpy(dtype=object)[pos], naive_tz)
    lists = pa.array(s.array).take(pos)
    flat = pd.Series(pd.arrays.ArrowExtensionArray(pc.list_flatten(lists)))
    here = np.flatnonzero(flat.notna().to_numpy(dtype=bool))
    part = _typed_part(flat, dtype_key(flat.dtype), here, naive_tz, ls)
    texts = np.full(len(flat), None, dtype=object)
    texts[here] = part.frags
    lengths = pc.list_value_length(lists).to_numpy(zero_copy_only=False)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    rows = pa.LargeListArray.from_arrays(offsets, pa.array(texts, pa.large_string()))
    comma = pa.scalar(",", pa.large_string())
    joined = pc.binary_join(rows, comma).to_numpy(zero_copy_only=False)  # null if one is null
    sent = np.not_equal(joined, None)
    frags = np.full(len(pos), None, dtype=object)
    frags[sent] = "[" + joined[sent] + "]"
    msg = "a list holds a missing element or one Fyno cannot hold (see its column's rules)"
    issues = [("invalid_list", "dropped", ~sent, msg + "; left out")]
    owner = np.repeat(np.arange(len(pos)), lengths)[here]
    for rule, action, mask, message in part.issues:
        if action != "dropped":  # a dropped element has already dropped its list
            hit = np.zeros(len(pos), dtype=bool)
            hit[owner[mask]] = True
            if message.startswith("{count} "):  # once per column: count lists
                message = "{count} {list|lists} with " + counted(message, 2).removeprefix("2 ")
            issues.append((rule, action, hit & sent, message))
    return Part("list", np.arange(0), frags, issues)


def _native(s: pd.Series, key: str) -> tuple[pd.Series, str]:
    """Sparse to dense, exotic dtypes to objects."""
    if key == "sparse":
        s = s.sparse.to_dense()
        key = dtype_key(s.dtype)
    if key in ("arrow_dictionary", "extension", "bytes"):
        return s.astype(object), ("bytes" if key == "bytes" else "object")
    return s, key


def _target(parts: list[Part], known_type: str | None) -> str | None:
    if known_type is not None:
        return known_type
    counts = dict.fromkeys(TYPE_ORDER, 0)
    for part in parts:
        if part.fyno_type == "string" and part.iso is not None and part.iso.all():
            counts["date"] += len(part.frags)  # Fyno would make a Date of any first value
        elif part.fyno_type is not None:
            counts[part.fyno_type] += len(part.frags)
    best = max(counts.values())
    return next((t for t in TYPE_ORDER if counts[t] == best), None) if best else None


def _fit(part: Part, target: str | None, inferred: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Fit a part to the target type; return its sent mask and ambiguous mask (strings only)."""
    sent = np.not_equal(part.frags, None)
    if part.fyno_type is None or part.fyno_type == target:
        if part.fyno_type != "string":
            return sent, None
        msg = (
            "{count} {string looks|strings look} like {a date|dates}: sent as text, never as a "
            "new property's first value (the first value sent for a new property fixes its type)"
        )
        part.issues.append(("date_like_string", "warned", sent & part.date_like, msg))
        msg = "{count} {string holds a number|strings hold numbers}; Fyno stores {it|them} as text"
        part.issues.append(("numeric_string", "warned", sent & part.numeric, msg))
        return sent, sent & part.date_like
    if part.fyno_type == "date" and target == "string":
        msg = "{count} {date|dates} sent as ISO text to a string property"
        part.issues.append(("date_as_string", "coerced", sent, msg))
        return sent, sent  # ISO text: never a new property's first value either
    fits = part.iso if part.fyno_type == "string" and target == "date" else None
    if fits is not None and inferred:
        msg = (
            "{count} {string, an ISO date|strings, all ISO dates}: the new property will be a date"
        )
        part.issues.append(("date_like_string", "warned", sent & fits, msg))
    wrong = sent if fits is None else sent & ~fits
    given = "" if inferred else " (schema= or an earlier push set its type)"
    msg = f"a {part.fyno_type} value for a {target} property{given}; Fyno would not store it"
    part.issues.append(("type_mismatch", "dropped", wrong, msg))
    part.frags[wrong] = None
    return sent & ~wrong, None


def coerce_series(
    s: pd.Series,
    *,
    known_type: str | None = None,
    naive_tz: str = "UTC",
    long_strings: str = "report",
) -> Coerced:
    """Coerce one column to JSON fragments of a single Fyno type.

    Parameters
    ----------
    s : pandas.Series
        The column; never modified.
    known_type : str, optional
        The property's type in Fyno (schema or ledger); values of another type are dropped.
    naive_tz : str
        Time zone that naive datetimes are read in.
    long_strings : {"report", "truncate", "error"}
        What to do with strings over 255 characters.

    Returns
    -------
    Coerced

    Raises
    ------
    FynoInputError
        ``long_strings="error"`` and a string is too long (``rule="string_too_long"``).
    """
    key = dtype_key(s.dtype)
    if key == "category":
        return _coerce_category(s, known_type, naive_tz, long_strings)
    s, key = _native(s, key)
    n = len(s)
    missing = missing_mask(s)
    if key in ("Float", "arrow_float"):  # a masked float can hold NaN next to <NA>
        missing |= np.isnan(s.to_numpy(dtype=np.float64, na_value=np.nan))
    pos = np.flatnonzero(~missing)
    ls = "report" if long_strings == "error" else long_strings
    if fyno_type_of(s.dtype) == UNSUPPORTED or key == "bytes":
        parts = [unsupported(len(pos))]
        parts[0].positions = np.arange(len(pos))
    elif key in ("object", "arrow_null"):
        parts = object_parts(s.to_numpy(dtype=object)[pos], naive_tz, ls)
    else:
        parts = [_typed_part(s, key, pos, naive_tz, ls)]
        parts[0].positions = np.arange(len(pos))
    target = _target(parts, known_type)
    fragments = np.full(n, None, dtype=object)
    ambiguous = np.zeros(n, dtype=bool)
    present = np.zeros(n, dtype=bool)
    # keyed by message too: parts of one rule differ in what they say (a boolean, a number)
    found: dict[tuple[str, str, str], list[np.ndarray]] = {}
    for part in parts:
        sent, amb = _fit(part, target, known_type is None)
        cells = pos[part.positions]
        fragments[cells] = part.frags
        present[cells] = sent
        if amb is not None:
            ambiguous[cells[amb]] = True
        for rule, action, mask, message in part.issues:
            if mask.any():
                found.setdefault((rule, action, message), []).append(cells[mask])
    issues = [
        Issue(r, a, np.sort(np.concatenate(p)), m, r in COLUMN_WIDE)
        for (r, a, m), p in found.items()
    ]
    if long_strings == "error":
        _raise_long(s, issues)
    note = _note(parts, target, known_type)
    return Coerced(target, fragments, missing, present, issues, ambiguous, note)


def missing_mask(s: pd.Series) -> np.ndarray:
    """Missing cells (None, NaN, NaT, pd.NA); ``Decimal("sNaN")`` is present, and not finite."""
    try:
        return s.isna().to_numpy(dtype=bool, copy=True)
    except InvalidOperation:  # pandas compares each Decimal with itself, and sNaN signals
        values = s.to_numpy(dtype=object, copy=True)
        snan = [isinstance(v, Decimal) and v.is_snan() for v in values]
        values[snan] = 0  # a present stand-in, for the check only
        return pd.isna(values)


def _raise_long(s: pd.Series, issues: list[Issue]) -> None:
    for issue in issues:
        if issue.rule == "string_too_long":
            row = s.index[issue.positions[0]]
            raise FynoInputError(
                f"column {s.name!r}, row {row!r}: string over {MAX_STRING} characters "
                "(long_strings='error')",
                column=s.name,
                row=row,
                rule="string_too_long",
            )


def _note(parts: list[Part], target: str | None, known_type: str | None) -> str:
    if known_type is not None:
        return f"type {known_type}, set by schema= or an earlier push"
    if len(parts) > 1:
        counts: dict[str, int] = {}
        for part in parts:
            name = part.fyno_type or "unsupported"
            counts[name] = counts.get(name, 0) + len(part.frags)
        ranked = sorted(counts.items(), key=lambda x: -x[1])
        shown = ", ".join(f"{c} {t}" for t, c in ranked)
        if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
            return f"mixed values ({shown}); a tie, {target} comes first of {', '.join(TYPE_ORDER)}"
        return f"mixed values ({shown}); most are {target}"
    return ""


def _coerce_category(
    s: pd.Series, known_type: str | None, naive_tz: str, long_strings: str
) -> Coerced:
    """Type a categorical column by its categories, then spread results over the codes."""
    cats = pd.Series(s.cat.categories, name=s.name)
    ls = "report" if long_strings == "error" else long_strings
    sub = coerce_series(cats, known_type=known_type, naive_tz=naive_tz, long_strings=ls)
    codes = s.cat.codes.to_numpy().astype(np.intp)
    missing = codes < 0
    none = np.array([None], dtype=object)
    fragments = np.concatenate([sub.fragments, none])[codes]
    ambiguous = np.concatenate([sub.ambiguous, [False]])[codes]
    issues = []
    for issue in sub.issues:
        cells = np.flatnonzero(np.isin(codes, issue.positions))
        if len(cells):
            issues.append(Issue(issue.rule, issue.action, cells, issue.message, issue.column_wide))
    present = np.flatnonzero(~missing)
    if len(present) and sub.fyno_type is not None:
        msg = f"{{count}} category {{value|values}}: the categories make the type {sub.fyno_type}"
        issues.append(Issue("category", "coerced", present, msg, True))
    if long_strings == "error":
        _raise_long(s, issues)
    note = f"category of {sub.fyno_type}" + (f"; {sub.note}" if sub.note else "")
    present = np.concatenate([sub.present, [False]])[codes]
    return Coerced(sub.fyno_type, fragments, missing, present, issues, ambiguous, note)
