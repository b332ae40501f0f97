"""Which Fyno type a pandas, numpy or Arrow dtype becomes: one table, and the lookup into it.

Fyno knows five value types (`FYNO_TYPES`). `DTYPE_TABLE` maps every dtype family a DataFrame
column can have to one of them, to ``"unsupported"`` (every value is left out and reported as
``unsupported_type``) or to ``"inspect values"`` (object columns, categories, sparse and Arrow
dictionary columns: the values decide). The documentation's table is generated from it by
`dtype_table_markdown`, so documentation and code cannot drift apart.

This module is pure: it imports pandas and numpy, and pyarrow only when a column is Arrow-backed.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd

__all__ = [
    "DTYPE_TABLE",
    "FYNO_TYPES",
    "INSPECT",
    "UNSUPPORTED",
    "DtypeRule",
    "dtype_key",
    "dtype_table_markdown",
    "fyno_type_of",
]

FYNO_TYPES = ("string", "number", "boolean", "date", "list")
UNSUPPORTED = "unsupported"
INSPECT = "inspect values"


class DtypeRule(NamedTuple):
    """One row of `DTYPE_TABLE`: the Fyno type (or marker), example dtypes and how values go."""

    fyno_type: str
    examples: str
    note: str


DTYPE_TABLE: dict[str, DtypeRule] = {
    "bool": DtypeRule("boolean", "bool", "`true`/`false`"),
    "boolean": DtypeRule("boolean", "boolean", "`<NA>` is missing"),
    "int": DtypeRule(
        "number", "int8 … int64, uint8 … uint64", "beyond ±2**53 sent exactly and warned"
    ),
    "Int": DtypeRule("number", "Int8 … Int64, UInt8 … UInt64", "`<NA>` is missing"),
    "float": DtypeRule(
        "number",
        "float16, float32, float64",
        "NaN is missing; ±inf dropped (`not_finite`); float16/float32: an integral value as that "
        "integer (`65504`), others as the shortest text that reads back to the same value (`0.1`)",
    ),
    "Float": DtypeRule("number", "Float32, Float64", "`<NA>`/NaN missing; ±inf dropped; as float"),
    "complex": DtypeRule(UNSUPPORTED, "complex64, complex128", "no Fyno type"),
    "datetime64": DtypeRule(
        "date",
        "datetime64[s], [ms], [us], [ns]",
        "naive: localized with `naive_tz`, reported once per column; sent as UTC `…000Z`",
    ),
    "datetime64tz": DtypeRule("date", "datetime64[ns, tz]", "converted to UTC, `…000Z`"),
    "timedelta64": DtypeRule(UNSUPPORTED, "timedelta64[ns]", "no Fyno type"),
    "period": DtypeRule(UNSUPPORTED, "period[D]", "no Fyno type"),
    "interval": DtypeRule(UNSUPPORTED, "interval[int64]", "no Fyno type"),
    "string": DtypeRule(
        "string",
        "str, string[python], string[pyarrow]",
        "over 255 characters per `long_strings`; ISO-date and numeric text warned",
    ),
    "object": DtypeRule(
        INSPECT,
        "object",
        "each value classified; the most common type wins (a tie: the first of string, number, "
        "boolean, date, list), the rest is `type_mismatch`",
    ),
    "category": DtypeRule(INSPECT, "category", "typed by its categories, reported once"),
    "sparse": DtypeRule(INSPECT, "Sparse[…]", "densified, then typed by its subtype"),
    "bytes": DtypeRule(UNSUPPORTED, "bytes_ (S), void (V)", "no Fyno type"),
    "arrow_int": DtypeRule("number", "int8 … uint64[pyarrow]", "as int"),
    "arrow_float": DtypeRule("number", "float[pyarrow], double[pyarrow]", "as float"),
    "arrow_decimal": DtypeRule(
        "number", "decimal128(p, s)[pyarrow]", "every digit kept (`str(Decimal)`)"
    ),
    "arrow_string": DtypeRule("string", "string[pyarrow], large_string[pyarrow]", "as string"),
    "arrow_bool": DtypeRule("boolean", "bool[pyarrow]", "as boolean"),
    "arrow_timestamp": DtypeRule(
        "date", "timestamp[unit][pyarrow]", "naive: localized with `naive_tz`, reported"
    ),
    "arrow_timestamptz": DtypeRule("date", "timestamp[unit, tz][pyarrow]", "to UTC, `…000Z`"),
    "arrow_date": DtypeRule("date", "date32[pyarrow], date64[pyarrow]", "`YYYY-MM-DD`"),
    "arrow_list": DtypeRule(
        "list",
        "list<…>[pyarrow]",
        "per element, as object lists; date and timestamp elements as those columns",
    ),
    "arrow_dictionary": DtypeRule(INSPECT, "dictionary<…>[pyarrow]", "typed by its values"),
    "arrow_null": DtypeRule(INSPECT, "null[pyarrow]", "every value missing"),
    "arrow_unsupported": DtypeRule(
        UNSUPPORTED,
        "duration, time32/64, binary, struct, map, interval[pyarrow]",
        "no Fyno type",
    ),
    "extension": DtypeRule(INSPECT, "other extension dtypes", "values inspected as objects"),
}

_NUMPY_KINDS = {
    "b": "bool",
    "i": "int",
    "u": "int",
    "f": "float",
    "c": "complex",
    "M": "datetime64",
    "m": "timedelta64",
    "O": "object",
    "S": "bytes",
    "V": "bytes",
    "U": "string",
}


# pyarrow.types predicates -> the DTYPE_TABLE key; the first that holds wins. A predicate that
# this pyarrow lacks never holds (is_string_view came in pyarrow 16).
_ARROW_KEYS = (
    (("is_boolean",), "arrow_bool"),
    (("is_integer",), "arrow_int"),
    (("is_floating",), "arrow_float"),
    (("is_decimal",), "arrow_decimal"),
    (("is_string", "is_large_string", "is_string_view"), "arrow_string"),
    (("is_timestamp",), "arrow_timestamp"),
    (("is_date",), "arrow_date"),
    (("is_list", "is_large_list", "is_fixed_size_list"), "arrow_list"),
    (("is_dictionary",), "arrow_dictionary"),
    (("is_null",), "arrow_null"),
)


def _arrow_key(pa_type: Any) -> str:
    import pyarrow as pa

    for predicates, key in _ARROW_KEYS:
        if any(getattr(pa.types, name, _never)(pa_type) for name in predicates):
            if key == "arrow_timestamp" and pa_type.tz:
                return "arrow_timestamptz"
            return key
    return "arrow_unsupported"


def _never(pa_type: Any) -> bool:
    return False


def dtype_key(dtype: Any) -> str:
    """Return the `DTYPE_TABLE` key for a pandas, numpy or Arrow dtype.

    Parameters
    ----------
    dtype : numpy.dtype or pandas ExtensionDtype
        A column's dtype.

    Returns
    -------
    str
        A key of `DTYPE_TABLE`.
    """
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if isinstance(dtype, pd.SparseDtype):
        return "sparse"
    if isinstance(dtype, pd.ArrowDtype):
        return _arrow_key(dtype.pyarrow_dtype)
    if isinstance(dtype, pd.StringDtype):
        return "string"
    if isinstance(dtype, pd.BooleanDtype):
        return "boolean"
    if isinstance(dtype, pd.DatetimeTZDtype):
        return "datetime64tz"
    if isinstance(dtype, pd.PeriodDtype):
        return "period"
    if isinstance(dtype, pd.IntervalDtype):
        return "interval"
    if isinstance(dtype, np.dtype):
        return _NUMPY_KINDS.get(dtype.kind, "object")
    # pandas' masked numeric dtypes (Int64, UInt8, Float64, ...) share numpy's kind letters.
    kind = getattr(dtype, "kind", "O")
    if kind in "iu":
        return "Int"
    if kind == "f":
        return "Float"
    return "extension"


def fyno_type_of(dtype: Any) -> str:
    """Return the Fyno type for ``dtype``, or ``"unsupported"`` / ``"inspect values"``."""
    return DTYPE_TABLE[dtype_key(dtype)].fyno_type


def dtype_table_markdown() -> str:
    """Render `DTYPE_TABLE` as a Markdown table (docs/topics/types.md shows this output)."""
    lines = ["| dtype | Fyno type | how values go |", "|---|---|---|"]
    for rule in DTYPE_TABLE.values():
        lines.append(f"| {rule.examples} | {rule.fyno_type} | {rule.note} |")
    return "\n".join(lines) + "\n"
