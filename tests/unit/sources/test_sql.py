"""`sources.sql` and `push_query`: a query's rows in chunks, the URL from the environment, the
password in no error, and SQLite's 0/1 as booleans when the schema says so."""

from __future__ import annotations

import logging
import sqlite3
import traceback
from contextlib import closing
from pathlib import Path

import pandas as pd
import pytest

import fyno_pandas
from fyno_pandas.emulator import FynoEmulator
from fyno_pandas.errors import FynoConfigError, FynoInputError, FynoSourceError
from fyno_pandas.sources.adbc import adbc_uri
from fyno_pandas.sources.sql import masked, query_rows

sa = pytest.importorskip("sqlalchemy", reason="sqlalchemy is not installed (the sql extra)")
SECRET = "pa:ss@w/rd"
URL = "postgresql+psycopg://analyst:pa%3Ass%40w%2Frd@127.0.0.1:9/users"


def sqlite_users(tmp_path: Path, active: list[object]) -> str:
    url = f"sqlite:///{tmp_path / 'users.db'}"
    uids = [f"u{i}" for i in range(len(active))]
    pd.DataFrame({"uid": uids, "active": active}).to_sql("users", url, index=False)
    return url


def test_a_query_is_read_in_chunks_indexed_by_position(tmp_path: Path) -> None:
    url = sqlite_users(tmp_path, [1, 0] * 1250)
    chunks = list(query_rows("select * from users", url, 1000))
    assert [len(chunk) for chunk in chunks] == [1000, 1000, 500]
    assert chunks[2].index.tolist() == list(range(2000, 2500))
    duck = list(query_rows("select range as uid from range(2500)", None, 1000))
    assert [(len(c), c.index[0]) for c in duck] == [(1000, 0), (1000, 1000), (500, 2000)]


def test_the_url_can_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("USERS_DB", sqlite_users(tmp_path, [1, 0]))
    chunk = next(query_rows("select * from users", "env:USERS_DB", 10))
    assert chunk["uid"].tolist() == ["u0", "u1"]
    monkeypatch.delenv("USERS_DB")
    with pytest.raises(FynoConfigError, match="USERS_DB"):
        query_rows("select 1", "env:USERS_DB", 10)


def test_a_driver_error_that_repeats_the_url_shows_no_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Some drivers say the connection string they were given; the message keeps the rest."""
    engine = sa.create_engine(URL)

    @sa.event.listens_for(engine, "do_connect")
    def refuse(dialect: sa.Dialect, record: object, args: object, kwargs: dict) -> None:
        raise dialect.loaded_dbapi.OperationalError(f"no server for {kwargs} at {URL}")

    caplog.set_level(logging.DEBUG)
    with pytest.raises(FynoSourceError, match="no server for") as raised:
        fyno_pandas.push_query("select 1", engine, "uid", dry_run=True, progress=False)
    shown = [str(raised.value), "".join(traceback.format_exception(raised.value)), caplog.text]
    assert [text for text in shown if SECRET in text or "pa%3Ass" in text] == []
    assert "analyst:***@127.0.0.1:9" in str(raised.value)
    assert SECRET not in repr(engine) + masked(engine) + masked(URL)


def test_a_failing_query_is_a_source_error(tmp_path: Path) -> None:
    url = sqlite_users(tmp_path, [1])
    with pytest.raises(FynoSourceError, match="no such table: nobody"):
        fyno_pandas.push_query("select * from nobody", url, "uid", dry_run=True, progress=False)
    with pytest.raises(FynoSourceError, match="DuckDB could not run the query"):
        fyno_pandas.push_query("select * from nobody", None, "uid", dry_run=True, progress=False)
    with pytest.raises(FynoInputError, match="chunksize"):
        fyno_pandas.push_query("select 1", url, "uid", chunksize=0, dry_run=True)


def test_sqlite_booleans_are_numbers_until_the_schema_says_boolean(tmp_path: Path) -> None:
    url = sqlite_users(tmp_path, [1, 0, None, 2])
    pushes = []
    for schema in (None, {"active": "boolean"}):
        with FynoEmulator(seed=0) as fyno:
            where = {"wsid": fyno.wsid, "api_key": fyno.api_key, "endpoint": fyno.endpoint}
            result = fyno_pandas.push_query(
                "select * from users",
                url,
                "uid",
                schema=schema,
                preview=False,
                progress=False,
                **where,
            )
            pushes.append(({u: p.get("active") for u, p in fyno.profiles.items()}, result))
    (as_numbers, _), (as_booleans, result) = pushes
    assert as_numbers == {"u0": 1, "u1": 0, "u3": 2}
    assert as_booleans == {"u0": True, "u1": False}
    assert result["dropped"].tolist() == [[], [], [], ["active"]]


def test_the_query_runs_as_written_colons_and_percent_signs_included(tmp_path: Path) -> None:
    url = sqlite_users(tmp_path, [1])
    query = """select uid, 'a%' as pattern, '{"a":1}' as doc, '03:04:05' as at from users"""
    chunk = next(query_rows(query, url, 10))
    assert chunk.iloc[0].tolist() == ["u0", "a%", '{"a":1}', "03:04:05"]


def test_a_path_is_a_duckdb_database_file_opened_read_only(tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb", reason="duckdb is not installed (the duckdb extra)")
    path = tmp_path / "users.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute("create table users as select 'u' || range as uid from range(3)")
    chunk = next(query_rows("select * from users order by uid", str(path), 10))
    assert chunk["uid"].tolist() == ["u0", "u1", "u2"]
    with pytest.raises(FynoSourceError, match="read-only"):
        list(query_rows("create table more (a int)", str(path), 10))


def test_a_connection_given_keeps_its_own_options(tmp_path: Path) -> None:
    engine = sa.create_engine(sqlite_users(tmp_path, [1, 0, 1]))
    with engine.connect() as connection:
        chunks = list(query_rows("select * from users", connection, 2))
        options = connection.get_execution_options()
    engine.dispose()
    assert [len(chunk) for chunk in chunks] == [2, 1]
    assert "yield_per" not in options
    assert "stream_results" not in options


def test_an_integer_column_with_a_null_keeps_every_digit(tmp_path: Path) -> None:
    big = 2**53 + 1  # float64, which read_sql makes of integers beside a NULL, rounds it
    with closing(sqlite3.connect(tmp_path / "users.db")) as db:  # to_sql would round it first
        db.execute("create table users (uid text, active integer)")
        db.executemany("insert into users values (?, ?)", [("u0", big), ("u1", None), ("u2", 5)])
        db.commit()
    (chunk,) = query_rows("select * from users", f"sqlite:///{tmp_path / 'users.db'}", 1000)
    assert chunk["active"].tolist() == [big, pd.NA, 5]
    plan = fyno_pandas.plan(chunk, "uid", ledger=False)
    assert plan.payloads()[0] == {"distinct_id": "u0", "$set": {"active": big}}


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://analyst@127.0.0.1:1/crm?password=Hunter2Secret&connect_timeout=5",
        "postgresql+psycopg://analyst:Hunter2Secret%20%40home@127.0.0.1:1/crm",
    ],
    ids=["password in the query", "password with a space and an at sign"],
)
def test_no_spelling_of_the_password_reaches_an_error(url: str) -> None:
    with pytest.raises(FynoSourceError) as raised:
        list(query_rows("select 1", url, 10))
    shown = str(raised.value) + "".join(traceback.format_exception(raised.value)) + masked(url)
    assert "Hunter2Secret" not in shown
    assert "analyst" in masked(url)


def test_a_password_inside_an_odbc_connection_string_is_masked() -> None:
    url = "mssql+pyodbc:///?odbc_connect=DRIVER%3DX%3BUID%3Da%3BPWD%3DHunter2Secret&timeout=3"
    assert "Hunter2Secret" not in masked(url)
    assert "timeout=3" in masked(url)


def test_the_adbc_uri_quotes_every_character_of_the_password() -> None:
    pytest.importorskip("adbc_driver_postgresql", reason="adbc-driver-postgresql not installed")
    uri = adbc_uri("postgresql+psycopg://an%40lyst:S3cret%20%40home@db:5433/crm?sslmode=require")
    assert uri == "postgresql://an%40lyst:S3cret%20%40home@db:5433/crm?sslmode=require"
