"""Pushing from SQL: a PostgreSQL table (through `push_query` and the CLI) and DuckDB (a relation,
and the CLI's ``--sql`` over a Parquet file) store what a pandas push of the same rows stores.

The PostgreSQL cluster is a throwaway one started for the session (`pg_cluster.cluster`); the
pushes connect to it over TCP as a role with a password, which no output may show.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import traceback
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from pg_cluster import PASSWORD, ROLE, Cluster, cluster, missing
from test_sources import ROWS, segment, stored

import fyno_pandas
from fyno_pandas.emulator import FynoEmulator
from fyno_pandas.planning.bodies import set_body
from fyno_pandas.sources.adbc import adbc_uri

duckdb = pytest.importorskip("duckdb", reason="duckdb is not installed (the duckdb extra)")

COLUMNS = {
    "uid": "text",
    "plan": "text",
    "ltv": "double precision",
    "active": "boolean",
    "signup": "timestamptz",
    "seen": "timestamp",
    "tags": "text[]",
    "code": "text",
    "credits": "bigint",
}


@pytest.fixture(scope="session")
def postgres() -> Iterator[Cluster]:
    """A PostgreSQL cluster holding ``users``: the rows of `test_sources.segment`."""
    reason = missing()
    if reason is not None:
        pytest.skip(reason)
    with cluster() as running:
        table = segment()
        with running.admin() as admin:  # type: ignore[attr-defined]
            admin.execute(
                f"create table users ({', '.join(f'{c} {t}' for c, t in COLUMNS.items())})"
            )
            with admin.cursor() as cursor:
                names = ", ".join(COLUMNS)
                cursor.executemany(
                    f"insert into users ({names}) values ({', '.join(['%s'] * len(COLUMNS))})",
                    [tuple(row.values()) for row in table.to_pylist()],
                )
            admin.execute(f"grant select on users to {ROLE}")
        yield running


def pandas_push(fyno: FynoEmulator) -> dict:
    expected, _ = stored(fyno, lambda **kw: fyno_pandas.push(segment().to_pandas(), "uid", **kw))
    return expected


def assert_same_as_pandas(held: dict, result: pd.DataFrame) -> None:
    with FynoEmulator(seed=0) as pandas_side:
        expected = pandas_push(pandas_side)
    assert len(result) == ROWS
    assert result["distinct_id"].tolist() == segment().column("uid").to_pylist()
    assert held == expected
    assert len(held) == ROWS


@pytest.mark.parametrize("given", ["url", "engine"])
def test_push_query_from_postgres_stores_what_a_pandas_push_stores(
    given: str, postgres: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    """A URL is read through ADBC's Arrow when its driver is installed, an Engine through
    SQLAlchemy's server-side cursor: both store what pandas stores."""
    import sqlalchemy as sa

    if given == "url" and adbc_uri(postgres.url()) is None:
        pytest.skip("adbc-driver-postgresql is not installed: a URL is read as an Engine is")
    con = postgres.url() if given == "url" else sa.create_engine(postgres.url())
    caplog.set_level(logging.DEBUG)
    with FynoEmulator(seed=0) as fyno:
        held, result = stored(
            fyno,
            lambda **kw: fyno_pandas.push_query(
                "select * from users order by uid", con, "uid", chunksize=300, **kw
            ),
        )
    shown = [repr(result), repr(result.attrs), result.to_csv(), caplog.text, repr(con)]
    if given == "engine":
        con.dispose()  # the caller's engine keeps its pool's connections open until then
    assert result.attrs["fyno"]["chunks"] == 4
    assert_same_as_pandas(held, result)
    assert not [text for text in shown if PASSWORD in text]


def cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fyno_pandas", "push", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def cli_env(fyno: FynoEmulator, tmp_path: Path, **more: str) -> dict[str, str]:
    where = {"FYNO_WSID": fyno.wsid, "FYNO_API_KEY": fyno.api_key, "FYNO_ENDPOINT": fyno.endpoint}
    return {**os.environ, **where, "FYNO_PANDAS_HOME": str(tmp_path / "home"), **more}


def test_the_cli_pushes_a_postgres_query_with_the_url_from_the_environment(
    postgres: Cluster, tmp_path: Path
) -> None:
    with FynoEmulator(seed=0) as fyno:
        env = cli_env(fyno, tmp_path, USERS_DB=postgres.url())
        done = cli(
            *("--sql", "select * from users order by uid", "--db", "env:USERS_DB"),
            *("--id-col", "uid", "--op", "credits=add", "--chunksize", "300", "--no-progress"),
            env=env,
            cwd=tmp_path,
        )
        held = fyno.profiles
    assert done.returncode == 0, done.stderr
    assert PASSWORD not in done.stdout + done.stderr
    result = pd.read_csv(tmp_path / "query.result.csv", keep_default_na=False)
    assert_same_as_pandas(held, result)


def test_the_cli_pushes_a_duckdb_query_over_a_parquet_file(tmp_path: Path) -> None:
    pq.write_table(segment(), tmp_path / "users.parquet", row_group_size=250)
    (tmp_path / "q.sql").write_text("select * from read_parquet('users.parquet')")
    with FynoEmulator(seed=0) as fyno:
        done = cli(
            *("--sql-file", "q.sql", "--id-col", "uid", "--op", "credits=add", "--no-progress"),
            env=cli_env(fyno, tmp_path),
            cwd=tmp_path,
        )
        held = fyno.profiles
    assert done.returncode == 0, done.stderr
    assert_same_as_pandas(held, pd.read_csv(tmp_path / "q.result.csv", keep_default_na=False))


def test_a_duckdb_relation_pushes_through_the_arrow_stream() -> None:
    connection = duckdb.connect()
    users = segment()  # noqa: F841  (read by the query: DuckDB scans Python variables by name)
    relation = connection.sql("select * from users")
    with FynoEmulator(seed=0) as fyno:
        held, result = stored(fyno, lambda **kw: fyno_pandas.push_frames(relation, "uid", **kw))
    assert_same_as_pandas(held, result)


def test_a_refused_password_is_a_source_error_that_does_not_show_it(postgres: Cluster) -> None:
    wrong = "not-the-Pa55word"
    with pytest.raises(
        fyno_pandas.FynoSourceError, match="password authentication failed"
    ) as raised:
        fyno_pandas.push_query("select 1", postgres.url(wrong), "uid", dry_run=True, progress=False)
    assert wrong not in "".join(traceback.format_exception(raised.value))
    with pytest.raises(fyno_pandas.FynoSourceError, match='relation "nobody" does not exist'):
        fyno_pandas.push_query("select * from nobody", postgres.url(), "uid", dry_run=True)


def test_postgres_numeric_keeps_every_digit_through_a_url_as_through_an_engine(
    postgres: Cluster,
) -> None:
    """ADBC passes numeric on as its text: such a query is read through psycopg, whose
    Decimal is sent with every digit (a float64 would send 12345678901234567168)."""
    import sqlalchemy as sa

    from fyno_pandas.sources.sql import query_rows

    big = Decimal("12345678901234567891.5")
    query = f"select 'u1' as uid, {big}::numeric as n union all select 'u2', null"
    engine = sa.create_engine(postgres.url())
    through = {"url": postgres.url(), "engine": engine}
    read = {way: next(query_rows(query, con, 10)) for way, con in through.items()}
    engine.dispose()
    for frame in read.values():
        assert frame["n"].tolist()[0] == big
        assert frame["n"].isna().tolist() == [False, True]
        body = set_body(fyno_pandas.plan(frame, "uid", ledger=False), 0)
        assert json.loads(body, parse_float=Decimal)["$set"]["n"] == big
