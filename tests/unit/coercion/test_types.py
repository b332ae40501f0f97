"""The dtype -> Fyno type table and its lookup."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fyno_pandas.coercion.types import (
    DTYPE_TABLE,
    FYNO_TYPES,
    INSPECT,
    UNSUPPORTED,
    dtype_key,
    dtype_table_markdown,
    fyno_type_of,
)

pa = pytest.importorskip("pyarrow", reason="pyarrow is needed for the Arrow dtypes")
PANDAS_STR = isinstance(pd.Series([], dtype="str").dtype, pd.StringDtype)

CASES = [
    ("bool", "bool", "boolean"),
    ("boolean", "boolean", "boolean"),
    *[(w, "int", "number") for w in ("int8", "int16", "int32", "int64")],
    *[(w, "int", "number") for w in ("uint8", "uint16", "uint32", "uint64")],
    *[(w, "Int", "number") for w in ("Int8", "Int64", "UInt16", "UInt64")],
    ("float32", "float", "number"),
    ("float64", "float", "number"),
    ("Float64", "Float", "number"),
    ("complex128", "complex", UNSUPPORTED),
    *[(f"datetime64[{u}]", "datetime64", "date") for u in ("s", "ms", "us", "ns")],
    ("datetime64[ns, UTC]", "datetime64tz", "date"),
    ("timedelta64[ns]", "timedelta64", UNSUPPORTED),
    ("period[D]", "period", UNSUPPORTED),
    ("interval[int64, right]", "interval", UNSUPPORTED),
    ("object", "object", INSPECT),
    # pandas 3's default "str" dtype; on pandas 2 "str" still means object
    ("str", "string", "string") if PANDAS_STR else ("str", "object", INSPECT),
    ("string", "string", "string"),
    ("string[pyarrow]", "string", "string"),
    (pd.StringDtype("python"), "string", "string"),
    ("category", "category", INSPECT),
    (pd.SparseDtype(float), "sparse", INSPECT),
    (pd.ArrowDtype(pa.int16()), "arrow_int", "number"),
    (pd.ArrowDtype(pa.uint64()), "arrow_int", "number"),
    (pd.ArrowDtype(pa.float32()), "arrow_float", "number"),
    (pd.ArrowDtype(pa.decimal128(10, 2)), "arrow_decimal", "number"),
    (pd.ArrowDtype(pa.string()), "arrow_string", "string"),
    (pd.ArrowDtype(pa.large_string()), "arrow_string", "string"),
    (pd.ArrowDtype(pa.bool_()), "arrow_bool", "boolean"),
    (pd.ArrowDtype(pa.timestamp("ms")), "arrow_timestamp", "date"),
    (pd.ArrowDtype(pa.timestamp("us", tz="Asia/Kolkata")), "arrow_timestamptz", "date"),
    (pd.ArrowDtype(pa.date32()), "arrow_date", "date"),
    (pd.ArrowDtype(pa.date64()), "arrow_date", "date"),
    (pd.ArrowDtype(pa.list_(pa.string())), "arrow_list", "list"),
    (pd.ArrowDtype(pa.dictionary(pa.int8(), pa.string())), "arrow_dictionary", INSPECT),
    (pd.ArrowDtype(pa.null()), "arrow_null", INSPECT),
    (pd.ArrowDtype(pa.duration("s")), "arrow_unsupported", UNSUPPORTED),
    (pd.ArrowDtype(pa.time64("us")), "arrow_unsupported", UNSUPPORTED),
    (pd.ArrowDtype(pa.binary()), "arrow_unsupported", UNSUPPORTED),
    (pd.ArrowDtype(pa.struct([("a", pa.int8())])), "arrow_unsupported", UNSUPPORTED),
]


@pytest.mark.parametrize(("dtype", "key", "fyno_type"), CASES, ids=lambda x: str(x))
def test_every_dtype_maps_to_a_table_row(dtype: object, key: str, fyno_type: str) -> None:
    real = pd.Series([], dtype=dtype).dtype
    assert dtype_key(real) == key
    assert fyno_type_of(real) == fyno_type


def test_table_holds_only_fyno_types_or_markers() -> None:
    allowed = {*FYNO_TYPES, UNSUPPORTED, INSPECT}
    assert {rule.fyno_type for rule in DTYPE_TABLE.values()} <= allowed
    assert set(FYNO_TYPES) == {"string", "number", "boolean", "date", "list"}


def test_markdown_has_one_row_per_table_entry() -> None:
    lines = dtype_table_markdown().splitlines()
    assert lines[0] == "| dtype | Fyno type | how values go |"
    assert len(lines) == 2 + len(DTYPE_TABLE)
    for line, rule in zip(lines[2:], DTYPE_TABLE.values(), strict=True):
        assert line.count("|") == 4  # no stray pipes that would split a cell
        assert f"| {rule.fyno_type} |" in line


def test_numpy_dtype_objects_are_accepted() -> None:
    assert dtype_key(np.dtype("int32")) == "int"
    assert dtype_key(np.dtype("S3")) == "bytes"
