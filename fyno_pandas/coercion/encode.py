"""Value encoders: values of one Python/numpy class become JSON text fragments.

Each encoder takes the present values of one class (a numpy array) and returns a `Part`: the JSON
text of every value (None where the value is left out) and the masks of what it found (too long,
not finite, ...). Work is vectorized per array, and ints, floats and datetimes are written once per
distinct value, the rows of one value sharing its text: ints through ``str`` over ``tolist()``,
floats by `fyno_pandas.coercion.numeric` (finite values only), booleans by indexing a two-string
table, datetimes through ``numpy.datetime_as_string`` on UTC ``datetime64[ms]``, and strings
through json's C ``encode_basestring_ascii`` over the distinct values only. Lists are the one
per-value path, because each element needs its own check. `object_parts` splits an object column by
value class (one ``type`` lookup per value).

Used by `fyno_pandas.coercion.coerce`; pure.
"""

from __future__ import annotations

import datetime as dt
import json.encoder
import numbers
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd

from .datelike import date_like, documented_date
from .instants import aware_to_utc, localize
from .numeric import DOUBLE_LIMIT, NOT_FINITE, beyond_double, float_texts
from .texts import BLOCK, day_texts, instant_texts, int_texts, per_distinct

__all__ = [
    "BOOL_TEXT",
    "MAX_STRING",
    "SAFE_INTEGER",
    "TYPE_ORDER",
    "Part",
    "encode_datetimes",
    "encode_days",
    "encode_decimals",
    "encode_floats",
    "encode_ints",
    "encode_lists",
    "encode_string",
    "encode_strings",
    "naive_read",
    "object_parts",
    "unsupported",
]

MAX_STRING = 255
SAFE_INTEGER = 2**53  # beyond it a JavaScript number (and so, probably, Fyno) loses digits
# json.dumps' own C escaper; ASCII output so lone surrogates cannot break UTF-8 encoding later.
encode_string = json.encoder.c_encode_basestring_ascii or json.encoder.py_encode_basestring_ascii
NUMERIC_TEXT = r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*"
BOOL_TEXT = np.array(["false", "true"], dtype=object)
_YEAR_1 = np.datetime64("0001-01-01", "ms")
_YEAR_10000 = np.datetime64("10000-01-01", "ms")


@dataclass
class Part:
    """Encoded values of one class: local masks index ``positions``."""

    fyno_type: str | None
    positions: np.ndarray
    frags: np.ndarray
    issues: list[tuple[str, str, np.ndarray, str]] = field(default_factory=list)
    iso: np.ndarray | None = None  # strings only: a documented ISO date (fits a Date property)
    date_like: np.ndarray | None = None  # strings only: some reader may take it for a date
    numeric: np.ndarray | None = None  # strings only: the value is a number written as text


def _objects(values: Any, count: int) -> np.ndarray:
    return np.fromiter(values, dtype=object, count=count)


def encode_strings(values: np.ndarray, long_strings: str) -> Part:
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
    return Part(
        "string",
        np.arange(0),
        frags[codes],
        issues,
        iso=documented_date(uniques)[codes],
        numeric=numeric[codes],
        date_like=date_like(uniques)[0][codes],
    )


def encode_ints(values: np.ndarray) -> Part:
    frags = per_distinct(values, int_texts)
    if values.dtype.kind == "u":
        unsafe = values > SAFE_INTEGER
    elif values.dtype.kind == "i":
        unsafe = np.abs(values.astype(np.float64)) > SAFE_INTEGER
    else:  # Python ints of any size from object columns
        unsafe = np.fromiter((abs(v) > SAFE_INTEGER for v in values.tolist()), bool, len(values))
    # Only Python ints (object columns) can pass a double's range; int64 and uint64 cannot.
    huge = beyond_double(values) if values.dtype == object else np.zeros(len(values), bool)
    frags[huge] = None
    msg = "integer beyond ±2**53, sent exactly; a JavaScript reader may round it"
    issues = [("unsafe_integer", "warned", unsafe & ~huge, msg)]
    issues.append(("not_finite", "dropped", huge, NOT_FINITE))
    return Part("number", np.arange(0), frags, issues)


def encode_floats(values: np.ndarray) -> Part:
    finite = np.isfinite(values)
    frags = np.empty(len(values), dtype=object)
    frags[finite] = per_distinct(values[finite], float_texts)
    return Part("number", np.arange(0), frags, [("not_finite", "dropped", ~finite, NOT_FINITE)])


def encode_decimals(values: np.ndarray) -> Part:
    finite = np.fromiter((d.is_finite() for d in values), dtype=bool, count=len(values))
    finite[finite] = ~beyond_double(values[finite])
    frags = np.full(len(values), None, dtype=object)
    frags[finite] = _objects(map(str, values[finite]), int(finite.sum()))
    return Part("number", np.arange(0), frags, [("not_finite", "dropped", ~finite, NOT_FINITE)])


def encode_datetimes(utc: np.ndarray) -> Part:
    """Encode naive-UTC datetime64 values (NaT where localizing failed) as ``...000Z``."""
    ms = utc.astype("datetime64[ms]")
    nat = np.isnat(ms)
    out = nat | (ms < _YEAR_1) | (ms >= _YEAR_10000)
    frags = np.empty(len(ms), dtype=object)
    frags[~out] = per_distinct(ms[~out], instant_texts)
    issues = [
        ("nonexistent_time", "dropped", nat, "local time does not exist or is ambiguous"),
        ("date_out_of_range", "dropped", out & ~nat, "year outside 0001-9999; left out"),
    ]
    cut = ~out & (ms != utc)
    if cut.any():
        msg = "{count} {datetime|datetimes} cut to the millisecond (Fyno dates carry milliseconds)"
        issues.append(("datetime_truncated", "coerced", cut, msg))
    return Part("date", np.arange(0), frags, issues)


def encode_days(days: np.ndarray) -> Part:
    days = days.astype("datetime64[D]")
    out = (days < _YEAR_1) | (days >= _YEAR_10000)
    frags = np.empty(len(days), dtype=object)
    frags[~out] = per_distinct(days[~out], day_texts)
    msg = "year outside 0001-9999; left out"
    return Part("date", np.arange(0), frags, [("date_out_of_range", "dropped", out, msg)])


def _element_text(e: Any, naive_tz: str) -> str | None:
    """JSON text of one list element, or None when Fyno lists cannot hold it."""
    if isinstance(e, str):
        return encode_string(e) if len(e) <= MAX_STRING else None
    if isinstance(e, (bool, np.bool_)):
        return None
    if isinstance(e, (numbers.Integral, np.integer)):
        return str(int(e)) if abs(int(e)) < DOUBLE_LIMIT else None
    if isinstance(e, (float, np.floating)):
        return float_texts(np.array([e]))[0] if np.isfinite(e) else None
    if isinstance(e, Decimal):
        return str(e) if e.is_finite() and abs(e) < DOUBLE_LIMIT else None
    if isinstance(e, (dt.datetime, np.datetime64)):
        return _encode_dates_objects(np.array([e], dtype=object), naive_tz).frags[0]
    if isinstance(e, dt.date):
        return '"' + e.isoformat() + '"'
    return None


def _list_text(value: Any, naive_tz: str, row: int, naive_rows: set[int]) -> str | None:
    if isinstance(value, np.ndarray) and value.ndim != 1:
        return None
    kinds = set(map(type, value))
    if kinds <= {str}:  # the common case, kept to C-level loops
        if len(value) and max(map(len, value)) > MAX_STRING:
            return None
        return "[" + ",".join(map(encode_string, value)) + "]"
    parts = []
    for e in value:
        text = _element_text(e, naive_tz)
        if text is None:
            return None
        if isinstance(e, (dt.datetime, np.datetime64)) and getattr(e, "tzinfo", None) is None:
            naive_rows.add(row)
        parts.append(text)
    return "[" + ",".join(parts) + "]"


def _string_lists(values: np.ndarray) -> np.ndarray | None:
    """Fast path for lists and tuples of str only; None when anything else is in the column.

    Each distinct element is encoded once, in four variants (after "[" or ",", with or without
    the closing "]"); rows are then cut from one joined text at \\x1e marks, a control character
    that cannot occur in the encoded text (JSON escapes it). NUL would do too, but numpy strips
    trailing NULs from string scalars.
    """
    if not set(map(type, values)) <= {list, tuple}:
        return None
    flat = list(chain.from_iterable(values))
    if flat and set(map(type, flat)) != {str}:
        return None
    lengths = np.fromiter(map(len, values), dtype=np.intp, count=len(values))
    codes, uniques = pd.factorize(np.array(flat, dtype=object))
    encoded = _objects(map(encode_string, np.asarray(uniques, dtype=object)), len(uniques))
    variants = np.stack(
        ["," + encoded, "," + encoded + "]\x1e", "[" + encoded, "[" + encoded + "]\x1e"], axis=1
    )
    ends = np.cumsum(lengths)
    starts = ends - lengths
    full = lengths > 0
    first = np.zeros(len(flat), dtype=np.intp)
    first[starts[full]] = 2
    first[ends[full] - 1] += 1
    tokens = variants.ravel()[codes * 4 + first] if len(flat) else np.array([], dtype=object)
    tokens = np.insert(tokens, starts[~full], "[]\x1e")
    frags = np.array("".join(tokens.tolist()).split("\x1e")[:-1], dtype=object)
    uniques = np.asarray(uniques, dtype=object)
    too_long = np.fromiter(map(len, uniques), dtype=np.intp, count=len(uniques)) > MAX_STRING
    bad = too_long | _malformed_dates(uniques)
    bad_so_far = np.concatenate([[0], np.cumsum(bad[codes])])
    frags[bad_so_far[ends] > bad_so_far[starts]] = None
    return frags


def _malformed_dates(texts: np.ndarray) -> np.ndarray:
    """Date-like strings that name no real date: a strict reader would drop the whole list."""
    like, real = date_like(texts)
    return like & ~real


def _rows_with_malformed_dates(block: np.ndarray) -> np.ndarray:
    owners, texts = [], []
    for row, value in enumerate(block):
        if isinstance(value, np.ndarray) and value.ndim != 1:
            continue
        for element in value:
            if isinstance(element, str):
                owners.append(row)
                texts.append(element)
    if not texts:
        return np.array([], dtype=np.intp)
    return np.unique(np.array(owners)[_malformed_dates(np.array(texts, dtype=object))])


def naive_read(naive_tz: str, what: str = "{datetime|datetimes}") -> str:
    """The ``naive_datetime`` message: ``what`` (datetimes without a zone) were read as."""
    return f"{{count}} {what} without a time zone, read as {naive_tz} time, sent in UTC"


def encode_lists(values: np.ndarray, naive_tz: str) -> Part:
    """Lists, tuples and 1-D arrays: flat, of strings (<= 255, not a malformed date: see
    `fyno_pandas.coercion.datelike`), finite numbers and dates.

    Works in blocks, so the fast path's temporary flat arrays stay small.
    """
    frags = np.empty(len(values), dtype=object)
    naive_rows: set[int] = set()
    for start in range(0, len(values), BLOCK):
        block = values[start : start + BLOCK]
        texts = _string_lists(block)
        if texts is None:
            rows = (_list_text(v, naive_tz, start + i, naive_rows) for i, v in enumerate(block))
            texts = _objects(rows, len(block))
            texts[_rows_with_malformed_dates(block)] = None
        frags[start : start + len(block)] = texts
    msg = (
        "a list must be flat and hold only strings (<=255, no malformed date), numbers or "
        "dates; left out"
    )
    issues = [("invalid_list", "dropped", np.equal(frags, None), msg)]
    if naive_rows:
        naive = np.zeros(len(values), dtype=bool)
        naive[list(naive_rows)] = True
        msg = naive_read(naive_tz, "{list|lists} with datetimes")
        issues.append(("naive_datetime", "coerced", naive & np.not_equal(frags, None), msg))
    return Part("list", np.arange(0), frags, issues)


def _encode_dates_objects(values: np.ndarray, naive_tz: str) -> Part:
    """Python/pandas datetimes and numpy datetime64 scalars, naive or aware."""
    aware = np.fromiter((getattr(v, "tzinfo", None) is not None for v in values), bool)
    utc = np.empty(len(values), dtype="datetime64[us]")
    if aware.any():
        utc[aware] = aware_to_utc(values[aware])
    if (~aware).any():
        naive = np.array([np.datetime64(v, "us") for v in values[~aware]], dtype="datetime64[us]")
        utc[~aware] = localize(naive, naive_tz)
    part = encode_datetimes(utc)
    if (~aware).any():
        msg = naive_read(naive_tz)
        part.issues.append(("naive_datetime", "coerced", ~aware, msg))
    return part


# Object values are classified by exact type first (a dict hit), subclasses second.
_STR, _INT, _FLOAT, _DEC, _BOOL, _DATETIME, _DATE, _LIST, _OTHER, _FLOAT32, _FLOAT16 = range(11)
_FLOAT_DTYPES = {_FLOAT: np.float64, _FLOAT32: np.float32, _FLOAT16: np.float16}
_CLASS_BY_TYPE: dict[type, int] = {
    str: _STR,
    int: _INT,
    float: _FLOAT,
    np.float32: _FLOAT32,
    np.float16: _FLOAT16,
    bool: _BOOL,
    Decimal: _DEC,
    dt.datetime: _DATETIME,
    pd.Timestamp: _DATETIME,
    dt.date: _DATE,
    list: _LIST,
    tuple: _LIST,
    np.ndarray: _LIST,
}
TYPE_ORDER = ("string", "number", "boolean", "date", "list")  # breaks ties in the majority


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


def object_parts(values: np.ndarray, naive_tz: str, long_strings: str) -> list[Part]:
    kinds = set(map(type, values))
    if len(kinds) == 1:  # one Python type: classify it once
        classes = np.full(len(values), _classify(values[0]), dtype=np.int8)
    else:
        classes = np.fromiter(map(_classify, values), dtype=np.int8, count=len(values))
    parts = []
    for cls in np.flatnonzero(np.bincount(classes)).tolist():
        where = np.flatnonzero(classes == cls)
        sub = values[where]
        if cls == _STR:
            part = encode_strings(sub, long_strings)
        elif cls == _INT:
            part = encode_ints(np.array([int(v) for v in sub], dtype=object))
        elif cls in _FLOAT_DTYPES:
            part = encode_floats(sub.astype(_FLOAT_DTYPES[cls]))
        elif cls == _DEC:
            part = encode_decimals(sub)
        elif cls == _BOOL:
            part = Part("boolean", where, BOOL_TEXT[sub.astype(bool).astype(np.intp)])
        elif cls == _DATETIME:
            part = _encode_dates_objects(sub, naive_tz)
        elif cls == _DATE:
            part = encode_days(np.array(list(sub), dtype="datetime64[D]"))
        elif cls == _LIST:
            part = encode_lists(sub, naive_tz)
        else:
            part = unsupported(len(sub))
        part.positions = where
        parts.append(part)
    return parts


def unsupported(count: int) -> Part:
    msg = "Fyno has no type for this value; left out"
    frags = np.full(count, None, dtype=object)
    return Part(
        None, np.arange(0), frags, [("unsupported_type", "dropped", np.ones(count, bool), msg)]
    )
