"""The command line on files we did not write: every value stored is the value the file writes.

The files `test_real_data` pushes through the Python API (numpy's CSV vectors, pyarrow's
Parquet files and its ORC files' contents as JSON lines) and statsmodels' datasets (CSV) are
each cut to their first `ROWS` records, given an id column `ID` ("0000", "0001", ...: leading
zeros, so an id read as a number would not be the text) and pushed with
``python -m fyno_pandas push`` to an emulator, as a user runs it. Then each row's stored
properties are compared with the file, read here without pandas:

- CSV (Python's csv module): a column whose every value is a plain number stores the number
  each text means (integers as integers), unless a value has leading zeros or a leading ``+``,
  or the integers do not fit 64 bits; a column of true/false stores booleans; any other column
  stores exactly the text. An empty field stores nothing.
- JSON lines (`json.loads`): each JSON value as it is; null stores nothing.
- Parquet (pyarrow has no text to compare): the value pandas reads, by `test_real_data.means`.

A value the result lists in its row's ``dropped`` may be missing (the plan reported it);
nothing else may be, and nothing more is stored. A file the reading rules refuse (a line longer
than the header, a repeated header) must exit 2 with that one line and send nothing.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from test_cli import cli, control
from test_cli import emulator_env as emulator_env
from test_cli import env as env
from test_real_data import SOURCES, _package_dir, cell, is_missing, means

ROWS = 40
ID = "__id"
STATSMODELS = _package_dir("statsmodels", "datasets")
ALL_SOURCES = {**SOURCES, "statsmodels/datasets": STATSMODELS}
SUFFIXES = {".csv": ".csv", ".parquet": ".parquet", ".jsn.gz": ".jsonl"}
PLAIN_NUMBER = re.compile(r"[ \t]*-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?[ \t]*")
LEADING_ZERO = re.compile(r"[ \t]*-?0[0-9]")
INTEGER = re.compile(r"[ \t]*-?[0-9]+[ \t]*")
TRUE, FALSE = {"True", "TRUE", "true"}, {"False", "FALSE", "false"}


def _kind(path: Path) -> str | None:
    return next((s for s in SUFFIXES if path.name.endswith(s)), None)


def _cases() -> list[Any]:
    cases = [
        pytest.param(path, id=f"{label}/{path.relative_to(folder)}")
        for label, folder in ALL_SOURCES.items()
        if folder is not None
        for path in sorted(folder.rglob("*"))
        if path.is_file() and _kind(path) is not None
    ]
    missing = [label for label, folder in ALL_SOURCES.items() if folder is None]
    if missing:
        reason = f"no data: {', '.join(missing)} (package not installed or folder absent)"
        cases.append(pytest.param(None, marks=pytest.mark.skip(reason=reason), id="missing"))
    return cases


# -- the file, cut and given ids -----------------------------------------------------------------


def cut_csv(path: Path, out: Path) -> list[list[str]]:
    """The header and first `ROWS` non-blank lines, each led by its id; their fields."""
    text = path.read_text(encoding="utf-8")
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    lines = [line for line in text.removeprefix(bom).splitlines(keepends=True) if line.strip()]
    ids = [ID] + [f"{n:04d}" for n in range(len(lines) - 1)]
    cut = [f"{i},{line}" for i, line in zip(ids, lines[: ROWS + 1], strict=False)]
    out.write_text(bom + "".join(cut), encoding="utf-8")
    return list(csv.reader(io.StringIO("".join(cut))))


def cut_json_lines(path: Path, out: Path) -> list[dict[str, Any]]:
    lines = gzip.decompress(path.read_bytes()).decode("utf-8").splitlines()[:ROWS]
    cut = [
        f'{{"{ID}": "{n:04d}", ' + line.lstrip().removeprefix("{") for n, line in enumerate(lines)
    ]
    out.write_text("".join(line + "\n" for line in cut), encoding="utf-8")
    return [json.loads(line) for line in cut]


def cut_parquet(path: Path, out: Path) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(path).slice(0, ROWS)
    ids = pa.array([f"{n:04d}" for n in range(table.num_rows)])
    pq.write_table(table.append_column(ID, ids), out)
    return pd.read_parquet(out)


# -- what each stored value must be --------------------------------------------------------------


def csv_column(texts: list[str]) -> str:
    """How the reading rules take a CSV column: "int", "float", "bool" or "text"."""
    present = [t for t in texts if t != ""]
    if present and all(t in TRUE | FALSE for t in present):
        return "bool"
    if not present or not all(PLAIN_NUMBER.fullmatch(t) for t in present):
        return "text"
    if any(LEADING_ZERO.match(t) for t in present):
        return "text"
    if all(INTEGER.fullmatch(t) for t in present):
        return "int" if all(-(2**63) <= int(t) < 2**63 for t in present) else "text"
    return "float"


def csv_expected(rows: list[list[str]]) -> dict[str, dict[str, tuple[str, str]]]:
    """Per id, per property: (kind, text) of every non-empty field."""
    header = [name or f"Unnamed: {i}" for i, name in enumerate(rows[0])]
    fields = [row + [""] * (len(header) - len(row)) for row in rows[1:]]
    kinds = {i: csv_column([row[i] for row in fields]) for i in range(1, len(header))}
    return {
        row[0]: {header[i]: (kinds[i], row[i]) for i in kinds if row[i] != ""} for row in fields
    }


def csv_means(stored: Any, expected: tuple[str, str]) -> bool:
    kind, text = expected
    if kind == "int":
        return type(stored) is int and stored == int(text)
    if kind == "float":
        return type(stored) in (int, float) and float(stored) == float(text)
    if kind == "bool":
        return stored is (text in TRUE)
    return stored == text


def json_means(stored: Any, value: Any) -> bool:
    """A JSON number may come back as an int or a float of the same value, nothing else may."""
    if isinstance(value, float):
        return type(stored) in (int, float) and stored == value
    if isinstance(value, list):
        return (
            isinstance(stored, list)
            and len(stored) == len(value)
            and all(json_means(s, v) for s, v in zip(stored, value, strict=True))
        )
    return type(stored) is type(value) and stored == value


def expected_values(kind: str, source: Path, cut: Path) -> tuple[dict[str, dict], Any] | str:
    """Per id, what each property must mean, and how to compare; or why the CLI must refuse."""
    if kind == ".csv":
        rows = cut_csv(source, cut)
        names = [name for name in rows[0] if name]
        if len(names) != len(set(names)):
            return "more than once"
        if any(len(row) > len(rows[0]) for row in rows[1:]):
            return "more than the header's"
        return csv_expected(rows), csv_means
    if kind == ".jsn.gz":
        records = cut_json_lines(source, cut)
        if not records:
            return f"id_col '{ID}' is not one of the frame's"
        present = {
            r[ID]: {k: v for k, v in r.items() if k != ID and v is not None} for r in records
        }
        return present, json_means
    frame = cut_parquet(source, cut)
    values = {
        frame[ID].iloc[pos]: {
            str(name): cell(frame, name, pos)
            for name in frame.columns
            if name != ID and not is_missing(cell(frame, name, pos))
        }
        for pos in range(len(frame))
    }
    return values, means


# -- the test ------------------------------------------------------------------------------------


@pytest.mark.parametrize("source", _cases())
def test_the_cli_stores_what_a_file_we_did_not_write_says(
    source: Path, env: dict[str, str], tmp_path: Path
) -> None:
    kind = _kind(source)
    cut = tmp_path / f"data{SUFFIXES[kind]}"
    expected = expected_values(kind, source, cut)

    done = cli(
        "push", cut.name, "--id-col", ID, "--output", "result.parquet", "--no-ledger",
        "--no-progress", env=env, cwd=tmp_path,
    )  # fmt: skip

    if isinstance(expected, str):
        assert done.returncode == 2, done.stdout
        assert expected in done.stderr
        assert len(done.stderr.splitlines()) == 1, done.stderr
        assert control(env, "state")["requests"] == []
        return
    assert done.returncode == 0, done.stderr
    values, matches = expected
    result = pd.read_parquet(tmp_path / "result.parquet")
    dropped = dict(zip(result["distinct_id"], result["dropped"], strict=True))
    assert set(dropped) == set(values)
    profiles = control(env, "state")["workspaces"][env["FYNO_WSID"]]["live"]["profiles"]
    for user, properties in values.items():
        kept = {name: value for name, value in properties.items() if name not in dropped[user]}
        profile = profiles.get(user, {})
        assert set(profile) == set(kept), (user, set(profile) ^ set(kept))
        for name, value in kept.items():
            assert matches(profile[name], value), (user, name, value, profile[name])
