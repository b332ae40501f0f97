"""A PostgreSQL query read as Arrow through ADBC (``adbc-driver-postgresql``), when installed.

ADBC reads the rows with PostgreSQL's binary COPY straight into Arrow record batches, about
eight times the rows per second of building DataFrames from psycopg's rows
(``benchmarks/sources_sql.py``), in batches it asks for as they are read. Its types are
those of `fyno_pandas.sources.sql`'s psycopg path, but for ``numeric``, which ADBC passes on as
its text and is read here as float64 (as ``pandas.read_sql`` makes it), and ``json``, which
arrives as its text rather than as dicts.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

import pyarrow as pa

from .masking import source_error

__all__ = ["adbc_batches", "adbc_uri"]


def adbc_uri(url: Any) -> str | None:
    """The libpq URI of ``url`` when it is a PostgreSQL SQLAlchemy URL (text) and ADBC's
    PostgreSQL driver is installed; else None (SQLAlchemy reads it)."""
    import sqlalchemy as sa

    if not isinstance(url, str) or importlib.util.find_spec("adbc_driver_postgresql") is None:
        return None
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        return None
    if parsed.get_backend_name() != "postgresql":
        return None
    # every character of the user and password quoted: SQLAlchemy's rendering leaves a space
    # as it is, which libpq refuses, repeating the password in its error
    user = quote(parsed.username or "", safe="")
    if parsed.password is not None:
        user += ":" + quote(str(parsed.password), safe="")
    where = (parsed.host or "") + (f":{parsed.port}" if parsed.port else "")
    query = "?" + urlencode(parsed.query, doseq=True) if parsed.query else ""
    database = quote(parsed.database or "", safe="")
    return f"postgresql://{user + '@' if user else ''}{where}/{database}{query}"


def adbc_batches(sql: str, uri: str, secrets: list[str], where: str) -> pa.RecordBatchReader:
    """The rows of ``sql`` on ``uri`` as record batches, ``numeric`` columns as float64; the
    connection is closed when the batches end.

    Raises
    ------
    FynoSourceError
        For the driver's error when connecting, running or reading, naming ``where``
        (`masking.source_error`: each of ``secrets`` masked).
    """
    import adbc_driver_postgresql.dbapi as adbc

    held = contextlib.ExitStack()  # the cursor, then the connection
    try:
        cursor = held.enter_context(held.enter_context(adbc.connect(uri)).cursor())
        cursor.execute(sql)
        reader = cursor.fetch_record_batch()
    except adbc.Error as exc:
        held.close()
        raise source_error(exc, secrets, where) from None
    numeric = [i for i, field in enumerate(reader.schema) if _is_numeric(field.type)]
    schema = reader.schema
    for i in numeric:
        schema = schema.set(i, pa.field(schema.field(i).name, pa.float64()))
    return pa.RecordBatchReader.from_batches(schema, _read(reader, numeric, held, (secrets, where)))


def _is_numeric(kind: pa.DataType) -> bool:
    """Whether ``kind`` is ADBC's ``numeric``: Arrow's opaque extension type over its text."""
    opaque = getattr(kind, "extension_name", None) == "arrow.opaque"
    return opaque and getattr(kind, "type_name", None) == "numeric"


def _read(
    reader: pa.RecordBatchReader,
    numeric: list[int],
    held: contextlib.ExitStack,
    named: tuple[list[str], str],
) -> Iterator[pa.RecordBatch]:
    """``reader``'s batches, each ``numeric`` column's text read as float64; ``held`` (the
    cursor and connection) closed when they end; ``named``: `adbc_batches`' secrets and where."""
    import adbc_driver_postgresql.dbapi as adbc

    try:
        for batch in reader:
            columns = batch.columns
            for i in numeric:
                columns[i] = columns[i].storage.cast(pa.float64())
            yield pa.RecordBatch.from_arrays(columns, names=batch.schema.names)
    except (adbc.Error, OSError, pa.ArrowException) as exc:  # Arrow relays the driver's
        raise source_error(exc, *named) from None
    finally:
        held.close()
