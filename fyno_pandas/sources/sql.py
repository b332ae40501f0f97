"""A query's rows, streamed: any SQLAlchemy database as pandas chunks, DuckDB as an Arrow stream.

A SQLAlchemy query runs on a server-side cursor (``yield_per``: psycopg's named cursor on
PostgreSQL, the DBAPI's own stepping where the driver has no other), each ``rows`` fetched made
a chunk as ``pandas.read_sql`` makes it. A PostgreSQL URL is read through ADBC's Arrow stream
instead when its driver is installed (`fyno_pandas.sources.adbc`), and a DuckDB query as Arrow
record batches, both gathered into chunks by `fyno_pandas.sources.arrow`. None fetches the
whole result; each chunk is indexed by its rows' positions in the result.

A database URL may be given as ``env:NAME``: the URL is read from the environment variable
``NAME``, so a password never sits in a command line or a notebook. The URL's password never
appears in an error this module raises: a driver's error is raised again as `FynoSourceError`,
its message with the password and the URL masked, and without the driver's exception chained
(its text, and the traceback's, may hold them).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from ..errors import FynoConfigError, FynoSourceError
from .adbc import adbc_batches, adbc_uri
from .arrow import arrow_chunks
from .masking import masked, secrets_of, source_error

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = [
    "ENV_PREFIX",
    "duckdb_batches",
    "is_url",
    "masked",
    "query_chunks",
    "query_rows",
    "resolve_url",
]

#: ``env:NAME``: the database URL is the value of the environment variable ``NAME``.
ENV_PREFIX = "env:"


def query_rows(
    sql: str, con: Any, rows: int, schema: Mapping[str, str] | None = None
) -> Iterator[pd.DataFrame]:
    """The rows of ``sql`` as pandas chunks of ``rows`` rows, from where ``con`` says; a
    ``schema`` boolean column's numbers 0 and 1 as booleans (SQLite has no boolean type).

    ``con`` is a SQLAlchemy URL (``dialect://...``, or ``env:NAME``), Engine or Connection;
    a path to a DuckDB database file; or None: DuckDB in memory (which reads files itself:
    ``read_parquet('users/*.parquet')``).

    Raises
    ------
    FynoConfigError
        When the package the source needs is not installed, or ``env:NAME`` is not set.
    """
    if isinstance(con, str):
        con = resolve_url(con)
    if con is None or (isinstance(con, str | os.PathLike) and not is_url(str(con))):
        _require("duckdb", "duckdb")
        chunks = arrow_chunks(duckdb_batches(sql, None if con is None else str(con), rows), rows)
    else:
        _require("sqlalchemy", "sql")
        chunks = _database_chunks(sql, con, rows)
    booleans = [column for column, kind in (schema or {}).items() if kind == "boolean"]
    return (_with_booleans(frame, booleans) for frame in chunks) if booleans else chunks


def _database_chunks(sql: str, con: Any, rows: int) -> Iterator[pd.DataFrame]:
    """Through ADBC's Arrow for a PostgreSQL URL when its driver is installed and gives every
    column an Arrow type of its own (`sources.adbc`), else through SQLAlchemy."""
    uri = adbc_uri(con)
    if uri is None:
        return query_chunks(sql, con, rows)
    secrets = sorted({*secrets_of(con), uri}, key=len, reverse=True)  # libpq may repeat it
    batches = adbc_batches(sql, uri, secrets, masked(con))
    return query_chunks(sql, con, rows) if batches is None else arrow_chunks(batches, rows)


def _with_booleans(frame: pd.DataFrame, booleans: list[str]) -> pd.DataFrame:
    """``frame`` with the 0 and 1 of its numeric ``booleans`` columns as False and True; any
    other number is kept, for the plan to drop and report as a ``type_mismatch``."""
    for name in booleans:
        column = frame.get(name)
        if column is None or is_bool_dtype(column) or not is_numeric_dtype(column):
            continue
        flags = column.isin([0, 1]).to_numpy()
        if flags.sum() == column.notna().sum():
            frame[name] = column.astype("boolean")
            continue
        values = column.to_numpy(dtype=object)
        values[flags] = [bool(v) for v in column.to_numpy()[flags]]
        frame[name] = pd.Series(values, index=frame.index, dtype=object)
    return frame


def _require(package: str, extra: str) -> None:
    import importlib.util

    if importlib.util.find_spec(package) is None:
        raise FynoConfigError(f"this source needs {package}: pip install 'fyno_pandas[{extra}]'")


def resolve_url(db: str) -> str:
    """``db``, or the value of the environment variable an ``env:NAME`` names.

    Raises
    ------
    FynoConfigError
        When the variable is not set or empty.
    """
    if not db.startswith(ENV_PREFIX):
        return db
    name = db[len(ENV_PREFIX) :]
    value = os.environ.get(name, "").strip()
    if not value:
        raise FynoConfigError(f"{db}: the environment variable {name} holding the URL is not set")
    return value


def is_url(db: str) -> bool:
    """Whether ``db`` is a SQLAlchemy URL (``dialect://...``), not a DuckDB database file."""
    return "://" in db


def query_chunks(sql: str, con: Any, rows: int) -> Iterator[pd.DataFrame]:
    """The rows of ``sql`` run on ``con`` (a URL, Engine or Connection), ``rows`` at a time.

    Nothing runs before the first chunk is asked for; the cursor, and a connection opened here,
    are closed when the rows end or the iteration stops.

    Raises
    ------
    FynoSourceError
        When the database cannot be reached or the query fails (the driver's message, its
        password masked).
    """
    import sqlalchemy as sa

    secrets = secrets_of(con)
    # every colon escaped: text() would take ':1' in '{"a":1}' for a parameter; it doubles
    # '%' for the drivers that format parameters (the raw driver would read it as one)
    verbatim = sa.text(sql.replace(":", r"\:"))
    try:
        with _connection(con) as connection:
            result = connection.execute(verbatim, execution_options={"yield_per": rows})
            with result:
                columns, start = list(result.keys()), 0
                for part in result.partitions(rows):
                    yield _frame(part, columns, start)
                    start += len(part)
    except (sa.exc.SQLAlchemyError, ImportError, ValueError) as exc:
        raise source_error(exc, secrets, masked(con)) from None


def _frame(rows: list[Any], columns: list[str], start: int) -> pd.DataFrame:
    """``rows`` as ``pandas.read_sql`` makes them (instants in UTC), except that a value keeps
    every digit: a ``Decimal`` stays one, and integers beside a NULL are pandas' nullable
    integers (read_sql's float64 rounds either beyond 2**53 without a word); indexed by their
    positions in the result from ``start``."""
    # as tuples: from_records reads SQLAlchemy's Row objects seven times slower
    tuples = list(map(tuple, rows))
    frame = pd.DataFrame.from_records(tuples, columns=columns, coerce_float=False)
    for i, kind in enumerate(frame.dtypes):  # by position: a name may repeat
        if isinstance(kind, pd.DatetimeTZDtype):
            frame.isetitem(i, frame.iloc[:, i].dt.tz_convert("UTC"))
        elif kind == np.float64 and frame.iloc[:, i].hasnans:
            values = [row[i] for row in tuples]
            if all(type(value) is int for value in values if value is not None):
                frame.isetitem(i, pd.array(values, dtype="Int64"))
    frame.index = pd.RangeIndex(start, start + len(frame))
    return frame


@contextlib.contextmanager
def _connection(con: Any) -> Iterator[sa.Connection]:
    """``con`` itself if a Connection, else one opened on it (and closed, with an engine made
    here, when done)."""
    import sqlalchemy as sa

    if isinstance(con, sa.Connection):
        yield con
        return
    engine = con if isinstance(con, sa.Engine) else sa.create_engine(con)
    try:
        with engine.connect() as opened:
            yield opened
    finally:
        if engine is not con:
            engine.dispose()


def duckdb_batches(sql: str, database: str | None, rows: int) -> pa.RecordBatchReader:
    """The rows of ``sql`` run by DuckDB (in memory, or on the ``database`` file, read only),
    as Arrow record batches of ``rows`` rows, read as they are asked for.

    Raises
    ------
    FynoSourceError
        When DuckDB cannot open the database or run the query, or fails while reading.
    """
    import duckdb

    try:
        connection = duckdb.connect(database or ":memory:", read_only=database is not None)
        reader = connection.sql(sql).to_arrow_reader(rows)
    except duckdb.Error as exc:
        raise FynoSourceError(f"DuckDB could not run the query: {exc}") from None
    return pa.RecordBatchReader.from_batches(reader.schema, _read(reader, connection))


def _read(reader: pa.RecordBatchReader, connection: Any) -> Iterator[pa.RecordBatch]:
    """``reader``'s batches; ``connection`` is held open until they end, then closed."""
    import duckdb

    try:
        yield from reader
    except duckdb.Error as exc:
        raise FynoSourceError(f"DuckDB failed while reading the query's rows: {exc}") from None
    finally:
        connection.close()
