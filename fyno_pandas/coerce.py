"""Per-column coercion: a Series becomes JSON text fragments of one Fyno type, plus its issues.

`coerce_series` is vectorized per column: ints through ``str`` over ``tolist()``, floats through
``float.__repr__`` (finite values only), booleans by indexing a two-string table, datetimes through
``numpy.datetime_as_string`` on UTC ``datetime64[ms]`` and strings through json's C
``encode_basestring_ascii`` over the column's distinct values. Object columns are classified
value by value (a type lookup over the object array); the majority Fyno type wins. Only list
values are encoded one Python call per value, because each element needs its own check.

Every present value ends as exactly one of: a fragment (possibly coerced, then reported), or a
dropped cell reported with a rule. Missing values (None, NaN, NaT, pd.NA) get no fragment and
no issue; the plan counts them and applies its ``nulls`` policy. Rules are listed in
`fyno_pandas.planning`.
"""

from __future__ import annotations

import datetime as dt
import json.encoder
import numbers
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from .errors import FynoInputError
from .types import UNSUPPORTED, dtype_key, fyno_type_of

__all__ = ["MAX_STRING", "SAFE_INTEGER", "Coerced", "Issue", "coerce_series", "encode_string"]

MAX_STRING = 255
SAFE_INTEGER = 2**53  # beyond it a JavaScript number (and so, probably, Fyno) loses digits
# json.dumps' own C escaper; ASCII output so lone surrogates cannot break UTF-8 encoding later.
encode_string = json.encoder.c_encode_basestring_ascii or json.encoder.py_encode_basestring_ascii
# The documented ISO-8601 forms: YYYY-MM-DD, or YYYY-MM-DDTHH:MM:SS[.fff](Z|+HH:MM|-HH:MM).
ISO_DATE = (
    r"\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
    r"(?:T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{3})?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d))?"
)
_ISO_LENGTHS = np.array([10, 20, 24, 25, 29])
NUMERIC_TEXT = r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*"
_BLOCK = 65_536
_BOOL_TEXT = np.array(["false", "true"], dtype=object)
_YEAR_1 = np.datetime64("0001-01-01", "ms")
_YEAR_10000 = np.datetime64("10000-01-01", "ms")


@dataclass
class Issue:
    """Cells of one column that share a rule; ``column_wide`` issues are reported once."""

    rule: str
    action: str
    positions: np.ndarray
    message: str
    column_wide: bool = False


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
    issues: list[Issue] = field(default_factory=list)
    ambiguous: np.ndarray | None = None
    note: str = ""


@dataclass
class _Part:
    """Encoded values of one class: local masks index ``positions``."""

    fyno_type: str | None
    positions: np.ndarray
    frags: np.ndarray
    issues: list[tuple[str, str, np.ndarray, str]] = field(default_factory=list)
    iso: np.ndarray | None = None  # strings only: the value is a documented ISO date
    numeric: np.ndarray | None = None  # strings only: the value is a number written as text


def _objects(values: Any, count: int) -> np.ndarray:
    return np.fromiter(values, dtype=object, count=count)


def _iso_mask(values: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Bool mask of strings in a documented ISO-8601 form with a real calendar date."""
    mask = np.zeros(len(values), dtype=bool)
    cand = np.flatnonzero(np.isin(lengths, _ISO_LENGTHS))
    if len(cand):
        sub = pd.Series(values[cand], dtype=object)
        hit = sub.str.fullmatch(ISO_DATE).to_numpy(dtype=bool, copy=True)
        days = pd.to_datetime(sub[hit].str.slice(0, 10), format="%Y-%m-%d", errors="coerce")
        hit[hit] = days.notna().to_numpy()
        mask[cand] = hit
    return mask


def _encode_strings(values: np.ndarray, long_strings: str) -> _Part:
    """Encode str values; distinct values are checked and escaped once each."""
    codes, uniques = pd.factorize(values)
    uniques = np.asarray(uniques, dtype=object)
    lengths = np.fromiter(map(len, uniques), dtype=np.int64, count=len(uniques))
    too_long = lengths > MAX_STRING
    issues = []
    if too_long.any():
        if long_strings == "truncate":
            uniques[too_long] = [v[:MAX_STRING] for v in uniques[too_long]]
            lengths = np.minimum(lengths, MAX_STRING)
            msg = f"string over {MAX_STRING} characters; cut to {MAX_STRING}"
            issues.append(("string_too_long", "coerced", too_long[codes], msg))
        else:
            msg = f"string over {MAX_STRING} characters; Fyno would not store it, left out"
            issues.append(("string_too_long", "dropped", too_long[codes], msg))
    frags = _objects(map(encode_string, uniques), len(uniques))
    if long_strings != "truncate":
        frags[too_long] = None
    numeric = pd.Series(uniques, dtype=object).str.fullmatch(NUMERIC_TEXT).to_numpy(dtype=bool)
    iso = _iso_mask(uniques, lengths)
    part = _Part("string", np.arange(0), frags[codes], issues, iso[codes], numeric[codes])
    return part


def _encode_ints(values: np.ndarray) -> _Part:
    frags = _objects(map(str, values.tolist()), len(values))
    if values.dtype.kind == "u":
        unsafe = values > SAFE_INTEGER
    elif values.dtype.kind == "i":
        unsafe = np.abs(values.astype(np.float64)) > SAFE_INTEGER
    else:  # Python ints of any size from object columns
        unsafe = np.fromiter((abs(v) > SAFE_INTEGER for v in values.tolist()), bool, len(values))
    msg = "integer beyond ±2**53, sent exactly; a JavaScript reader may round it"
    return _Part("number", np.arange(0), frags, [("unsafe_integer", "warned", unsafe, msg)])


def _encode_floats(values: np.ndarray) -> _Part:
    finite = np.isfinite(values)
    frags = np.empty(len(values), dtype=object)
    if values.dtype.itemsize < 8:
        # numpy prints the shortest text of the narrow float (0.1, not 0.10000000149011612).
        frags[finite] = values[finite].astype(str).astype(object)
    else:
        kept = values[finite].astype(np.float64, copy=False).tolist()
        frags[finite] = _objects(map(float.__repr__, kept), len(kept))
    msg = "infinity is not valid JSON nor a Fyno number; left out"
    return _Part("number", np.arange(0), frags, [("not_finite", "dropped", ~finite, msg)])


def _encode_decimals(values: np.ndarray) -> _Part:
    finite = np.fromiter((d.is_finite() for d in values), dtype=bool, count=len(values))
    frags = np.full(len(values), None, dtype=object)
    frags[finite] = _objects(map(str, values[finite]), int(finite.sum()))
    msg = "Decimal NaN/Infinity is not valid JSON nor a Fyno number; left out"
    return _Part("number", np.arange(0), frags, [("not_finite", "dropped", ~finite, msg)])


def _encode_datetimes(utc: np.ndarray) -> _Part:
    """Encode naive-UTC datetime64 values (NaT where localizing failed) as ``...000Z``."""
    ms = utc.astype("datetime64[ms]")
    nat = np.isnat(ms)
    out = nat | (ms < _YEAR_1) | (ms >= _YEAR_10000)
    frags = np.empty(len(ms), dtype=object)
    keep = np.flatnonzero(~out)
    for start in range(0, len(keep), _BLOCK):  # blocks bound the fixed-width text buffers
        rows = keep[start : start + _BLOCK]
        text = np.datetime_as_string(ms[rows], unit="ms").astype(object)
        frags[rows] = '"' + text + 'Z"'
    issues = [
        ("nonexistent_time", "dropped", nat, "local time does not exist or is ambiguous"),
        ("date_out_of_range", "dropped", out & ~nat, "year outside 0001-9999; left out"),
    ]
    cut = ~out & (ms != utc)
    if cut.any():
        msg = "sub-millisecond precision cut (Fyno dates carry milliseconds)"
        issues.append(("datetime_truncated", "coerced", cut, msg))
    return _Part("date", np.arange(0), frags, issues)


def _encode_days(days: np.ndarray) -> _Part:
    days = days.astype("datetime64[D]")
    out = (days < _YEAR_1) | (days >= _YEAR_10000)
    frags = np.empty(len(days), dtype=object)
    frags[~out] = '"' + np.datetime_as_string(days[~out], unit="D").astype(object) + '"'
    msg = "year outside 0001-9999; left out"
    return _Part("date", np.arange(0), frags, [("date_out_of_range", "dropped", out, msg)])


def _localize(values: np.ndarray, naive_tz: str) -> np.ndarray:
    """Naive wall times in ``naive_tz`` -> naive UTC datetime64; NaT where no such instant."""
    if naive_tz == "UTC":
        return values
    idx = pd.DatetimeIndex(values).tz_localize(naive_tz, ambiguous="NaT", nonexistent="NaT")
    return idx.tz_convert(None).to_numpy()


def _element_text(e: Any, naive_tz: str) -> str | None:
    """JSON text of one list element, or None when Fyno lists cannot hold it."""
    t = type(e)
    if t is str or (isinstance(e, str) and t is not np.str_):
        return encode_string(e) if len(e) <= MAX_STRING else None
    if t is bool or isinstance(e, (bool, np.bool_)):
        return None
    if isinstance(e, (numbers.Integral, np.integer)):
        return str(int(e))
    if isinstance(e, (float, np.floating)):
        return float.__repr__(float(e)) if np.isfinite(e) else None
    if isinstance(e, Decimal):
        return str(e) if e.is_finite() else None
    if isinstance(e, (dt.datetime, np.datetime64)):
        part = _encode_dates_objects(np.array([e], dtype=object), naive_tz)
        return part.frags[0]
    if isinstance(e, dt.date):
        return '"' + e.isoformat() + '"'
    if isinstance(e, np.str_):
        return encode_string(str(e)) if len(e) <= MAX_STRING else None
    return None


def _list_text(value: Any, naive_tz: str) -> str | None:
    if isinstance(value, np.ndarray) and value.ndim != 1:
        return None
    kinds = set(map(type, value))
    if kinds <= {str}:  # the common case, kept to C-level loops
        if value is not None and len(value) and max(map(len, value)) > MAX_STRING:
            return None
        return "[" + ",".join(map(encode_string, value)) + "]"
    parts = []
    for e in value:
        text = _element_text(e, naive_tz)
        if text is None:
            return None
        parts.append(text)
    return "[" + ",".join(parts) + "]"


def _encode_lists(values: np.ndarray, naive_tz: str) -> _Part:
    frags = _objects((_list_text(v, naive_tz) for v in values), len(values))
    bad = pd.isna(frags)
    msg = "a list must be flat and hold only strings (<=255), numbers or dates; left out"
    return _Part("list", np.arange(0), frags, [("invalid_list", "dropped", bad, msg)])


def _encode_dates_objects(values: np.ndarray, naive_tz: str) -> _Part:
    """Python/pandas datetimes and numpy datetime64 scalars, naive or aware."""
    aware = np.fromiter((getattr(v, "tzinfo", None) is not None for v in values), bool)
    utc = np.empty(len(values), dtype="datetime64[us]")
    if aware.any():
        as_utc = (v.astimezone(dt.timezone.utc).replace(tzinfo=None) for v in values[aware])
        utc[aware] = np.array(list(as_utc), dtype="datetime64[us]")
    if (~aware).any():
        naive = np.array([np.datetime64(v, "us") for v in values[~aware]], dtype="datetime64[us]")
        utc[~aware] = _localize(naive, naive_tz)
    part = _encode_datetimes(utc)
    if (~aware).any():
        msg = f"naive datetimes read as {naive_tz} wall time and sent in UTC"
        part.issues.append(("naive_datetime", "coerced", ~aware, msg))
    return part


# Object values are classified by exact type first (a dict hit), subclasses second.
_STR, _INT, _FLOAT, _DEC, _BOOL, _DATETIME, _DATE, _LIST, _OTHER = range(9)
_CLASS_BY_TYPE: dict[type, int] = {
    str: _STR,
    int: _INT,
    float: _FLOAT,
    bool: _BOOL,
    Decimal: _DEC,
    dt.datetime: _DATETIME,
    pd.Timestamp: _DATETIME,
    dt.date: _DATE,
    list: _LIST,
    tuple: _LIST,
    np.ndarray: _LIST,
}
_CLASS_TYPE = {_STR: "string", _INT: "number", _FLOAT: "number", _DEC: "number"}
_CLASS_TYPE.update({_BOOL: "boolean", _DATETIME: "date", _DATE: "date", _LIST: "list"})
_TYPE_ORDER = ("string", "number", "boolean", "date", "list")  # breaks ties in the majority


def _classify_type(t: type) -> int:
    checks = [
        ((bool, np.bool_), _BOOL),
        ((numbers.Integral, np.integer), _INT),
        ((float, np.floating), _FLOAT),
        (Decimal, _DEC),
        (str, _STR),
        ((dt.datetime, np.datetime64), _DATETIME),
        (dt.date, _DATE),
        ((list, tuple, np.ndarray), _LIST),
    ]
    for kinds, cls in checks:
        if issubclass(t, kinds):
            return cls
    return _OTHER


def _classify(value: Any) -> int:
    t = type(value)
    cls = _CLASS_BY_TYPE.get(t)
    if cls is None:
        cls = _CLASS_BY_TYPE.setdefault(t, _classify_type(t))
    return cls


def _object_parts(values: np.ndarray, naive_tz: str, long_strings: str) -> list[_Part]:
    kinds = set(map(type, values))
    if len(kinds) == 1:  # one Python type: classify it once
        classes = np.full(len(values), _classify(values[0]), dtype=np.int8)
    else:
        classes = np.fromiter(map(_classify, values), dtype=np.int8, count=len(values))
    parts = []
    for cls in np.unique(classes).tolist():
        where = np.flatnonzero(classes == cls)
        sub = values[where]
        if cls == _STR:
            part = _encode_strings(sub.astype(str).astype(object), long_strings)
        elif cls == _INT:
            part = _encode_ints(np.array([int(v) for v in sub], dtype=object))
        elif cls == _FLOAT:
            part = _encode_floats(sub.astype(np.float64))
        elif cls == _DEC:
            part = _encode_decimals(sub)
        elif cls == _BOOL:
            part = _Part("boolean", where, _BOOL_TEXT[sub.astype(bool).astype(np.intp)])
        elif cls == _DATETIME:
            part = _encode_dates_objects(sub, naive_tz)
        elif cls == _DATE:
            part = _encode_days(np.array(list(sub), dtype="datetime64[D]"))
        elif cls == _LIST:
            part = _encode_lists(sub, naive_tz)
        else:
            part = _unsupported(len(sub))
        part.positions = where
        parts.append(part)
    return parts


def _unsupported(count: int) -> _Part:
    msg = "Fyno has no type for this value; left out"
    frags = np.full(count, None, dtype=object)
    return _Part(
        None, np.arange(0), frags, [("unsupported_type", "dropped", np.ones(count, bool), msg)]
    )


# Rules about a whole column: reported once, with "{count}" filled in by the plan.
COLUMN_WIDE = {"naive_datetime", "datetime_truncated", "date_like_string", "numeric_string"}
COLUMN_WIDE |= {"date_as_string", "category"}


def _typed_part(s: pd.Series, key: str, pos: np.ndarray, naive_tz: str, ls: str) -> _Part:
    """Encode the present values (``pos``) of a column whose dtype fixes the class."""
    if key == "bool":
        return _Part("boolean", pos, _BOOL_TEXT[s.to_numpy()[pos].astype(np.intp)])
    if key in ("boolean", "arrow_bool"):
        values = s.to_numpy(dtype=bool, na_value=False)[pos]
        return _Part("boolean", pos, _BOOL_TEXT[values.astype(np.intp)])
    if key == "int":
        return _encode_ints(s.to_numpy()[pos])
    if key in ("Int", "arrow_int"):
        return _encode_ints(s.to_numpy(dtype=s.dtype.numpy_dtype, na_value=0)[pos])
    if key == "float":
        return _encode_floats(s.to_numpy()[pos])
    if key in ("Float", "arrow_float"):
        return _encode_floats(s.to_numpy(dtype=s.dtype.numpy_dtype, na_value=np.nan)[pos])
    if key == "arrow_decimal":
        return _encode_decimals(s.to_numpy(dtype=object)[pos])
    if key == "datetime64":
        part = _encode_datetimes(_localize(s.to_numpy()[pos], naive_tz))
        msg = f"{{count}} naive datetimes read as {naive_tz} wall time and sent in UTC"
        part.issues.append(("naive_datetime", "coerced", np.ones(len(pos), bool), msg))
        return part
    if key == "datetime64tz":
        return _encode_datetimes(s.dt.tz_convert(None).to_numpy()[pos])
    if key == "arrow_date":
        return _encode_days(s.astype("datetime64[s]").to_numpy()[pos])
    if key in ("string", "arrow_string"):
        return _encode_strings(s.to_numpy(dtype=object)[pos], ls)
    if key == "arrow_list":
        return _encode_lists(s.to_numpy(dtype=object)[pos], naive_tz)
    return _unsupported(len(pos))


def _native(s: pd.Series, key: str) -> tuple[pd.Series, str]:
    """Arrow timestamps to pandas datetimes, sparse to dense, exotic dtypes to objects."""
    if key == "sparse":
        s = s.sparse.to_dense()
        key = dtype_key(s.dtype)
    if key in ("arrow_timestamp", "arrow_timestamptz"):
        pa_type = s.dtype.pyarrow_dtype
        if pa_type.tz:
            return s.astype(pd.DatetimeTZDtype(pa_type.unit, pa_type.tz)), "datetime64tz"
        return s.astype(f"datetime64[{pa_type.unit}]"), "datetime64"
    if key in ("arrow_dictionary", "extension", "bytes"):
        return s.astype(object), ("bytes" if key == "bytes" else "object")
    return s, key


def _target(parts: list[_Part], known_type: str | None) -> str | None:
    if known_type is not None:
        return known_type
    counts = dict.fromkeys(_TYPE_ORDER, 0)
    for part in parts:
        if part.fyno_type == "string" and part.iso is not None and part.iso.all():
            counts["date"] += len(part.frags)  # Fyno would make a Date of any first value
        elif part.fyno_type is not None:
            counts[part.fyno_type] += len(part.frags)
    best = max(counts.values())
    return next((t for t in _TYPE_ORDER if counts[t] == best), None) if best else None


def _fit(part: _Part, target: str | None, inferred: bool) -> np.ndarray | None:
    """Fit a part to the target type; return its ambiguous mask (strings only)."""
    sent = ~pd.isna(part.frags)
    if part.fyno_type is None or part.fyno_type == target:
        if part.fyno_type != "string":
            return None
        msg = "{count} strings look like ISO dates; a new property must not start with one"
        part.issues.append(("date_like_string", "warned", sent & part.iso, msg))
        msg = "{count} strings hold numbers; Fyno stores them as text"
        part.issues.append(("numeric_string", "warned", sent & part.numeric, msg))
        return sent & part.iso
    if part.fyno_type == "date" and target == "string":
        msg = "{count} dates sent as ISO text to a string property"
        part.issues.append(("date_as_string", "coerced", sent, msg))
        return None
    fits = part.iso if part.fyno_type == "string" and target == "date" else None
    if fits is not None and inferred:
        msg = "{count} strings are all ISO dates: Fyno makes the new property a date"
        part.issues.append(("date_like_string", "warned", sent & fits, msg))
    wrong = sent if fits is None else sent & ~fits
    msg = f"a {part.fyno_type} value for a {target} property; Fyno would not store it"
    part.issues.append(("type_mismatch", "dropped", wrong, msg))
    part.frags[wrong] = None
    return None


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
    missing = s.isna().to_numpy(dtype=bool, copy=True)
    if key in ("Float", "arrow_float"):  # a masked float can hold NaN next to <NA>
        missing |= np.isnan(s.to_numpy(dtype=np.float64, na_value=np.nan))
    pos = np.flatnonzero(~missing)
    ls = "report" if long_strings == "error" else long_strings
    if fyno_type_of(s.dtype) == UNSUPPORTED or key == "bytes":
        parts = [_unsupported(len(pos))]
        parts[0].positions = np.arange(len(pos))
    elif key in ("object", "arrow_null"):
        parts = _object_parts(s.to_numpy(dtype=object)[pos], naive_tz, ls)
    else:
        parts = [_typed_part(s, key, pos, naive_tz, ls)]
        parts[0].positions = np.arange(len(pos))
    target = _target(parts, known_type)
    fragments = np.full(n, None, dtype=object)
    ambiguous = np.zeros(n, dtype=bool)
    found: dict[tuple[str, str], list[np.ndarray]] = {}
    messages: dict[tuple[str, str], str] = {}
    for part in parts:
        amb = _fit(part, target, known_type is None)
        cells = pos[part.positions]
        fragments[cells] = part.frags
        if amb is not None:
            ambiguous[cells[amb]] = True
        for rule, action, mask, message in part.issues:
            if mask.any():
                found.setdefault((rule, action), []).append(cells[mask])
                messages.setdefault((rule, action), message)
    issues = [
        Issue(r, a, np.sort(np.concatenate(p)), messages[r, a], r in COLUMN_WIDE)
        for (r, a), p in found.items()
    ]
    if long_strings == "error":
        _raise_long(s, issues)
    note = _note(parts, target, known_type)
    return Coerced(target, fragments, missing, issues, ambiguous, note)


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


def _note(parts: list[_Part], target: str | None, known_type: str | None) -> str:
    if known_type is not None:
        return f"type {known_type} known in Fyno"
    if len(parts) > 1:
        counts: dict[str, int] = {}
        for part in parts:
            name = part.fyno_type or "unsupported"
            counts[name] = counts.get(name, 0) + len(part.frags)
        shown = ", ".join(f"{c} {t}" for t, c in sorted(counts.items(), key=lambda x: -x[1]))
        return f"mixed values ({shown}); majority {target}"
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
        msg = f"{{count}} category values typed by their categories as {sub.fyno_type}"
        issues.append(Issue("category", "coerced", present, msg, True))
    if long_strings == "error":
        _raise_long(s, issues)
    note = f"category of {sub.fyno_type}" + (f"; {sub.note}" if sub.note else "")
    return Coerced(sub.fyno_type, fragments, missing, issues, ambiguous, note)
