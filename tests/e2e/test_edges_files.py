"""Edges of the files around a push: ragged CSV lines, bytes ids (as read_sas gives them), and
result paths checked before anything is sent."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fyno_pandas import FynoInputError, push, push_frames
from fyno_pandas.emulator import FynoEmulator
from fyno_pandas.files.reading import csv_lines, read_table
from fyno_pandas.files.resultfile import ResultWriter
from fyno_pandas.planning.build import build_plan

QUIET = {"preview": False, "progress": False}


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("uid,name\n1,a,extra,cols\n2,b\n", 2),  # pandas would make 'extra' the index
        ("uid,name\n1,a,\n2,b\n", 2),  # one empty extra field is still an extra field
        ("uid,name\n1,a\n2,b\n3,c,d\n", 4),
        ("\nuid,name\n\n1,a,b\n", 4),  # blank lines are counted
    ],
)
def test_a_line_with_more_fields_than_the_header_is_an_error_naming_it(
    tmp_path: Path, text: str, line: int
) -> None:
    path = tmp_path / "users.csv"
    path.write_text(text)

    with pytest.raises(FynoInputError) as caught:
        read_table(path)

    assert str(caught.value).startswith(f"{path}: line {line} has ")
    assert "more than the header's 2" in str(caught.value)
    assert caught.value.rule == "ragged_line"


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        ("uid,name\n1,a\n2,b\n", [2, 3]),
        ('uid,note\n1,"two\nlines"\n2,b\n', [2, 4]),  # a quoted newline is a line of the file
        ("\nuid,name\n\n1,a\n   \n2,b\n", [4, 6]),  # pandas skips blank and blank-looking lines
        ('uid,note\r\n1,"x\r\ny"\r\n2,b\r\n', [2, 4]),
    ],
)
def test_each_csv_row_knows_the_line_it_starts_on(tmp_path: Path, text: str, lines: list) -> None:
    path = tmp_path / "users.csv"
    path.write_bytes(text.encode())

    assert len(read_table(path).frame) == len(lines)
    assert csv_lines(path).tolist() == lines


def test_a_line_with_fewer_fields_reads_as_missing_values(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    path.write_text("uid,name,plan\n1,a\n2\n3,c,pro\n")

    frame = read_table(path).frame

    assert frame["uid"].tolist() == [1, 2, 3]
    assert frame["name"].tolist()[::2] == ["a", "c"]
    assert frame[["name", "plan"]].isna().sum().tolist() == [1, 2]


def test_bytes_ids_are_decoded_as_utf8_and_undecodable_ones_skip_their_row() -> None:
    ids = [b"12345", bytearray(b"u2"), np.bytes_(b"u3"), b" u4", "caf\u00e9".encode(), b"\xff"]
    df = pd.DataFrame({"uid": pd.Series(ids, dtype=object), "plan": ["pro"] * 6})

    plan = build_plan(df, "uid")

    assert plan.distinct_ids.tolist() == ["12345", "u2", "u3", " u4", "caf\u00e9", None]
    assert plan.skip_reasons.tolist() == [None] * 5 + ["invalid_id"]
    issue = plan.issues.loc[plan.issues["rule"] == "invalid_id"].iloc[0]
    assert (issue["row"], issue["action"], issue["value"]) == (5, "row_skipped", r"b'\xff'")
    assert "not valid UTF-8" in issue["message"]
    assert plan.summary()["rows_skipped"] == 1


@pytest.mark.parametrize("kind", ["S", "category"])
def test_bytes_ids_of_a_numpy_bytes_or_category_column(kind: str) -> None:
    df = pd.DataFrame({"plan": ["pro", "free", "team"]})
    df["uid"] = np.array([b"7", b"\xfe", b"9"], dtype="S1")
    if kind == "category":
        df["uid"] = df["uid"].astype("category")
    else:
        assert df["uid"].dtype.kind == "S"

    plan = build_plan(df, "uid")

    assert plan.distinct_ids.tolist() == ["7", None, "9"]
    assert plan.skip_reasons.tolist() == [None, "invalid_id", None]


def test_bytes_ids_reach_fyno_as_text(emulator: FynoEmulator, destination: dict[str, str]) -> None:
    df = pd.DataFrame({"uid": [b"12345", b"\xff"], "plan": ["pro", "free"]})

    result = push(df, "uid", **destination, **QUIET)

    assert result["distinct_id"].tolist() == ["12345", pd.NA]
    assert result["status"].tolist() == ["sent", "skipped"]
    assert result["error"].tolist() == [pd.NA, "invalid_id"]
    assert emulator.profiles == {"12345": {"plan": "pro"}}


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("missing/r.csv", "no such directory"),
        ("folder", "is a folder; name a result file (.csv, .parquet or .pq)"),
        ("r.xlsx", "a result file must end in .csv, .parquet or .pq"),
        ("r", "a result file must end in .csv, .parquet or .pq"),
    ],
)
def test_a_result_path_that_cannot_be_written_is_refused_before_the_first_chunk(
    emulator: FynoEmulator,
    destination: dict[str, str],
    tmp_path: Path,
    name: str,
    message: str,
) -> None:
    (tmp_path / "folder").mkdir()

    def never() -> Iterator[pd.DataFrame]:
        raise AssertionError("read")
        yield

    with pytest.raises(FynoInputError) as caught:
        push_frames(never(), "user_id", output=tmp_path / name, **destination, **QUIET)
    with pytest.raises(FynoInputError) as by_the_writer:
        ResultWriter(tmp_path / name)

    assert str(caught.value).startswith(f"{tmp_path / name}: {message}")
    assert caught.value.rule == "output"
    assert str(by_the_writer.value) == str(caught.value)
    assert emulator.requests == []


@pytest.mark.parametrize(
    ("name", "parquet"), [("r.csv", False), ("R.CSV", False), ("r.parquet", True), ("r.pq", True)]
)
def test_result_paths_that_can_be_written(tmp_path: Path, name: str, parquet: bool) -> None:
    with ResultWriter(tmp_path / name) as writer:
        assert (writer.path, writer.parquet) == (tmp_path / name, parquet)


def test_parquet_without_pyarrow_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow now raises ImportError

    with pytest.raises(FynoInputError, match="needs pyarrow"):
        ResultWriter(tmp_path / "r.parquet")


@pytest.mark.parametrize(
    ("texts", "values", "note"),
    [
        (["1", "", "-3"], [1, None, -3], None),  # integers stay integers beside a missing one
        (["19.90", "", " .5", "1e5", "5."], [19.9, None, 0.5, 100000.0, 5.0], None),
        (["true", "", "FALSE"], [True, None, False], None),
        (["0", "0.5", "-0"], [0.0, 0.5, 0.0], None),  # a lone zero is no leading zero
        (["007", "7"], ["007", "7"], "leading zeros: c ('007')"),
        (["-01.5", "2"], ["-01.5", "2"], "leading zeros: c ('-01.5')"),
        (["+4915112345678"], ["+4915112345678"], "a leading '+': c ('+4915112345678')"),
        (["1", "99999999999999999999"], ["1", "99999999999999999999"],
         "too long for a 64-bit integer: c ('99999999999999999999')"),
        (["\u0663", "1_000", "nan", "inf", "1 000"],
         ["\u0663", "1_000", "nan", "inf", "1 000"], None),  # not plain numbers: text
    ],
)  # fmt: skip
def test_a_csv_column_is_numbers_only_when_its_text_means_no_more(
    tmp_path: Path, texts: list[str], values: list, note: str | None
) -> None:
    path = tmp_path / "users.csv"
    path.write_text("uid,c\n" + "".join(f"{i},{t}\n" for i, t in enumerate(texts)), "utf-8")

    table = read_table(path, "uid")

    read = [None if pd.isna(v) else v for v in table.frame["c"].tolist()]
    assert read == values
    assert [type(v) for v in read] == [type(v) for v in values]
    assert table.notes() == (
        [] if note is None else [f"Kept as text ({note.replace(': ', '): ', 1)}"]
    )
    assert table.frame["uid"].tolist() == [str(i) for i in range(len(texts))]


@pytest.mark.parametrize(
    ("fyno_type", "values"),
    [("number", [7, 2134]), ("string", ["007", "02134"])],
)
def test_a_schema_type_decides_a_csv_column_over_its_text(
    tmp_path: Path, fyno_type: str, values: list
) -> None:
    path = tmp_path / "users.csv"
    path.write_text("uid,c\na,007\nb,02134\n")

    table = read_table(path, "uid", schema={"c": fyno_type})

    assert table.frame["c"].tolist() == values
    assert table.notes() == []
