"""Data we did not write: the files that ship inside installed packages, pushed as they load.

pyarrow ships Parquet, Feather and ORC files from its own and Apache ORC's test suites (with the
ORC files' contents as gzipped JSON lines), and numpy ships CSV test vectors. Each file is read
by pandas with every ``dtype_backend`` (numpy, pyarrow, numpy_nullable; the JSON lines also
with their dates left as text), cut to its first `MAX_ROWS` rows (`CSV_ROWS` for the CSVs),
given a synthetic id (its position, as str) and pushed to the emulator. Then the two promises
are checked cell by cell:

1. a row reported ``sent`` has every value it carried (every present cell not listed in its
   ``dropped``) stored by Fyno;
2. every value sent means the frame's value unless the plan reports that cell; and no property
   gets another type in Fyno than the plan gave it.

A dtype Fyno has no type for must be reported (``unsupported_type``); nothing may raise but a
`FynoInputError` that says why.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import fyno_pandas
from fyno_pandas.coercion.types import UNSUPPORTED, fyno_type_of
from fyno_pandas.emulator import FynoEmulator
from fyno_pandas.errors import FynoInputError
from fyno_pandas.planning.plan import PushPlan

MAX_ROWS = 2_000
CSV_ROWS = 50  # numpy's CSV vectors are many and alike: a few rows each keep the run short
BACKENDS = [None, "pyarrow", "numpy_nullable"]
TEXT = "as_text"  # JSON lines only: read_json(dtype=False), dates kept as the file's text


def _package_dir(name: str, *parts: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations)), *parts)
    return folder if folder.is_dir() else None


def _reader(path: Path) -> tuple[str, Callable[..., pd.DataFrame]] | None:
    name = path.name
    if name.endswith(".parquet"):
        return "parquet", pd.read_parquet
    if name.endswith(".feather"):
        return "feather", pd.read_feather
    if name.endswith(".orc"):
        return "orc", pd.read_orc
    if name.endswith(".jsn.gz"):  # the ORC files' contents, one JSON object a line
        return "json", lambda p, **kw: pd.read_json(
            p, lines=True, compression="gzip", nrows=MAX_ROWS, **kw
        )
    if name.endswith(".csv"):
        return "csv", lambda p, **kw: pd.read_csv(p, nrows=CSV_ROWS, **kw)
    return None


SOURCES = {
    "pyarrow/tests/data": _package_dir("pyarrow", "tests", "data"),
    "numpy/_core/tests/data": _package_dir("numpy", "_core", "tests", "data"),
    "numpy/random/tests/data": _package_dir("numpy", "random", "tests", "data"),
}
FILES = sorted(
    (label, path)
    for label, folder in SOURCES.items()
    if folder is not None
    for path in folder.rglob("*")
    if path.is_file() and _reader(path) is not None
)


def _cases() -> list[Any]:
    if not FILES:
        missing = ", ".join(
            f"{label} (package not installed or folder absent)" for label in SOURCES
        )
        return [pytest.param(None, None, marks=pytest.mark.skip(reason=f"no data: {missing}"))]
    return [
        pytest.param(path, backend, id=f"{path.relative_to(SOURCES[label])}-{backend or 'numpy'}")
        for label, path in FILES
        for backend in BACKENDS + ([TEXT] if _reader(path)[0] == "json" else [])
    ]


def load(path: Path, backend: str | None) -> pd.DataFrame:
    _, read = _reader(path)
    if backend == TEXT:  # dates as the file writes them: text
        df = read(path, dtype=False)
    else:
        df = read(path, **({} if backend is None else {"dtype_backend": backend}))
    return df.iloc[:MAX_ROWS]


# -- what a stored JSON value means --------------------------------------------------------------


def instant(value: Any) -> np.datetime64:
    """The UTC millisecond a datetime names (naive ones read in UTC), floored."""
    ts = pd.Timestamp(value)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return np.datetime64(ts.floor("ms").to_datetime64(), "ms")


def means(stored: Any, value: Any) -> bool:
    """Whether the JSON value ``stored`` means the frame's ``value``."""
    if isinstance(value, (bool, np.bool_)):
        return stored is bool(value)
    if isinstance(value, (int, np.integer)):
        return type(stored) is int and stored == int(value)
    if isinstance(value, np.floating) and value.dtype.itemsize < 8:
        if value == np.trunc(value):
            return type(stored) is int and stored == int(value)
        return type(stored) is float and value.dtype.type(stored) == value
    if isinstance(value, (float, np.floating)):
        return type(stored) is float and stored == float(value)
    if isinstance(value, Decimal):  # every digit is sent; a double reader keeps the nearest
        return type(stored) in (int, float) and float(stored) == float(value)
    if isinstance(value, str):
        return stored == value
    if isinstance(value, (dt.datetime, np.datetime64)):
        if not (isinstance(stored, str) and stored.endswith("Z")):
            return False
        return np.datetime64(stored[:-1], "ms") == instant(value)
    if isinstance(value, dt.date):
        return stored == value.isoformat()
    if isinstance(value, (list, tuple, np.ndarray)):
        return (
            isinstance(stored, list)
            and len(stored) == len(value)
            and all(means(s, v) for s, v in zip(stored, value, strict=True))
        )
    return False  # bytes, dicts, ...: Fyno has no type for them


def cell(df: pd.DataFrame, name: Any, pos: int) -> Any:
    """The frame's value, a narrow float kept at its width (Arrow and masked give a float)."""
    value = df[name].iloc[pos]
    width = getattr(df[name].dtype, "numpy_dtype", df[name].dtype)
    if width.kind == "f" and width.itemsize < 8 and not is_missing(value):
        return width.type(value)
    return value


def is_missing(value: Any) -> bool:
    if isinstance(value, (list, tuple, np.ndarray, dict)):
        return False
    return bool(pd.isna(value))


def check(
    df: pd.DataFrame, id_col: str, plan: PushPlan, result: pd.DataFrame, fyno: FynoEmulator
) -> None:
    """Both promises, cell by cell; ``df[id_col]`` holds each row's position."""
    columns = [c for c in df.columns if c != id_col]
    cell_issues = plan.issues[plan.issues["row"].notna()]
    label_pos = {label: pos for pos, label in enumerate(df.index)}
    reported = {
        (label_pos[r], c) for r, c in zip(cell_issues["row"], cell_issues["column"], strict=True)
    }
    # 2. what is planned to be sent means what the frame holds, unless the cell is reported
    for payload in plan.payloads():
        pos = int(payload["distinct_id"])
        for name, sent in payload.get("$set", {}).items():
            value = cell(df, name, pos)
            if (pos, name) not in reported:
                assert means(sent, value), (pos, name, value, sent)
    # ... and Fyno types every property as planned
    for name, fyno_type in fyno.property_types.items():
        assert fyno_type == plan.fyno_types.get(name), (name, fyno_type, plan.fyno_types)
    # 1. a sent row's values are stored; nothing else is
    assert result.index.equals(df.index)
    profiles = fyno.profiles
    for pos, (status, dropped) in enumerate(zip(result["status"], result["dropped"], strict=True)):
        assert status in ("sent", "skipped"), (pos, status, result["error"].iloc[pos])
        profile = profiles.get(str(pos), {})
        for name in columns:
            value = cell(df, name, pos)
            if status == "skipped" or name in dropped or is_missing(value):
                assert name not in profile, (pos, name, value, profile.get(name))
                continue
            assert name in profile, (pos, name, value)
            if (pos, name) not in reported:
                assert means(profile[name], value), (pos, name, value, profile[name])


def check_unsupported(df: pd.DataFrame, id_col: str, plan: PushPlan) -> None:
    """Every present cell of a column whose dtype has no Fyno type is reported, not sent."""
    for name in df.columns:
        if name == id_col or fyno_type_of(df[name].dtype) != UNSUPPORTED:
            continue
        present = np.flatnonzero(~df[name].isna().to_numpy(dtype=bool))
        hit = plan.issues[
            (plan.issues["column"] == name) & (plan.issues["rule"] == "unsupported_type")
        ]
        assert len(hit) == len(present), (name, df[name].dtype)
        assert all(fragment is None for fragment in plan.fragments[name])


# -- the test ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "backend"), _cases())
def test_a_file_we_did_not_write_is_pushed_as_it_means(
    path: Path, backend: str | None, emulator: FynoEmulator, destination: dict[str, str]
) -> None:
    try:
        df = load(path, backend)
    except (ImportError, NotImplementedError, OSError, ValueError) as exc:  # not ours to read
        pytest.skip(f"pandas cannot read {path.name} with dtype_backend={backend}: {exc!r}")
    id_col = next(name for name in ("id", "_id", "__id") if name not in df.columns)
    df = df.copy()
    df.insert(0, id_col, [str(i) for i in range(len(df))])
    refused = None
    try:
        plan = fyno_pandas.plan(df, id_col, ledger=False, **destination)
        result = fyno_pandas.push(
            df, id_col, ledger=False, preview=False, progress=False, **destination
        )
    except FynoInputError as exc:  # allowed, when it says why (and then nothing is sent)
        refused = exc
    if refused is not None:
        assert refused.rule, repr(refused)
        assert str(refused).strip(), repr(refused)
        assert emulator.profiles == {}
        return
    check_unsupported(df, id_col, plan)
    check(df, id_col, plan, result, emulator)
