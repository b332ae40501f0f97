"""Encoders share one text per distinct value, and the bytes stay those of each value alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fyno_pandas import plan
from fyno_pandas.coercion.coerce import coerce_series

REPEATED = {
    "float64": pd.Series([0.1, 2.5, 0.1, 2.5, 0.1]),
    "float32": pd.Series([0.1, 2.5, 0.1, 2.5, 0.1], dtype="float32"),
    "float16": pd.Series([0.1, 2.5, 0.1, 2.5, 0.1], dtype="float16"),
    "int64": pd.Series([10**6, 7, 10**6, 7, 10**6]),
    "datetime UTC": pd.Series(
        pd.to_datetime(["2024-01-01", "2024-02-01"] * 2 + ["2024-01-01"])
    ).dt.tz_localize("UTC"),
    "datetime naive": pd.Series(pd.to_datetime(["2024-01-01", "2024-02-01"] * 2 + ["2024-01-01"])),
}


@pytest.mark.parametrize("values", REPEATED.values(), ids=REPEATED.keys())
def test_rows_of_one_value_share_one_text(values: pd.Series) -> None:
    fragments = coerce_series(values).fragments
    assert fragments[0] is fragments[2] is fragments[4]
    assert fragments[1] is fragments[3]
    assert fragments[0] != fragments[1]


def _alone(values: pd.Series) -> list[bytes]:
    """The set body of each value planned in a one-row frame of its own."""
    bodies = []
    for i in range(len(values)):
        df = pd.DataFrame({"id": ["u"], "p": values.iloc[[i]].reset_index(drop=True)})
        bodies.append(plan(df, "id", ledger=False).set_body(0))
    return bodies


def _together(values: pd.Series) -> list[bytes]:
    df = pd.DataFrame({"id": ["u"] * len(values), "p": values})
    df["id"] = [f"u{i}" for i in range(len(values))]
    the_plan = plan(df, "id", ledger=False)
    return [
        body.replace(f'"u{i}"'.encode(), b'"u"') for i, body in enumerate(the_plan.set_bodies())
    ]


FLOAT_WIDTHS = st.sampled_from(["float64", "float32", "float16"])
# Few distinct values, so that a column repeats; 0.0 and -0.0 compare equal yet read apart.
FINITE = st.sampled_from([0.0, -0.0, 0.1, -2.5, 1e300, 5e-324, 65504.0, 1 / 3, 1e16, 123456.789])


@given(values=st.lists(FINITE, min_size=2, max_size=12), dtype=FLOAT_WIDTHS)
def test_float_bodies_with_repeats_are_byte_identical(values: list[float], dtype: str) -> None:
    with np.errstate(over="ignore", under="ignore"):
        column = pd.Series(values).astype(dtype)
    column = column[np.isfinite(column)].reset_index(drop=True)
    assert _together(column) == _alone(column)


INSTANTS = st.sampled_from(
    [
        "2024-01-01",
        "2024-01-01 00:00:00.0015",
        "1999-12-31 23:59:59.999",
        "0001-01-01",
        "2024-03-10",
    ]
)


@given(values=st.lists(INSTANTS, min_size=2, max_size=12), aware=st.booleans())
def test_datetime_bodies_with_repeats_are_byte_identical(values: list[str], aware: bool) -> None:
    column = pd.Series(pd.to_datetime(values, format="ISO8601").as_unit("us"))
    if aware:
        column = column.dt.tz_localize("UTC")
    assert _together(column) == _alone(column)
