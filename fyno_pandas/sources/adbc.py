"""A PostgreSQL query read as Arrow through ADBC (``adbc-driver-postgresql``), when installed.

ADBC reads the rows with PostgreSQL's binary COPY straight into Arrow record batches, about
eight times the rows per second of building DataFrames from psycopg's rows
(``benchmarks/sources_sql.py``), in batches it asks for as they are read. Its types are
those of `fyno_pandas.sources.sql`'s psycopg path, but for ``json``, which arrives as its text
rather than as dicts. A query with a column ADBC passes on opaque (``numeric``, as its text,
an array of them, ``citext``, an extension's type) is read through psycopg instead, which gives
each its Python value: a ``numeric`` keeps every digit.
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


def adbc_batches(sql: str, uri: str, secrets: list[str], where: str) -> pa.RecordBatchReader | None:
    """The rows of ``sql`` on ``uri`` as record batches, the connection closed when they end;
    None when a column has no Arrow type of its own (ADBC's opaque type, at any depth:
    ``numeric`` as its text, ``citext``, an extension's type), which psycopg reads exactly.

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
    if any(_opaque(field.type) for field in reader.schema):
        held.close()
        return None
    return pa.RecordBatchReader.from_batches(reader.schema, _read(reader, held, (secrets, where)))


def _opaque(kind: pa.DataType) -> bool:
    """Whether ``kind`` holds ADBC's opaque extension type (a type it passes on as bytes or
    text), at any depth."""
    if getattr(kind, "extension_name", None) == "arrow.opaque":
        return True
    return any(_opaque(kind.field(i).type) for i in range(kind.num_fields))


def _read(
    reader: pa.RecordBatchReader, held: contextlib.ExitStack, named: tuple[list[str], str]
) -> Iterator[pa.RecordBatch]:
    """``reader``'s batches; ``held`` (the cursor and connection) closed when they end;
    ``named``: `adbc_batches`' secrets and where."""
    import adbc_driver_postgresql.dbapi as adbc

    try:
        yield from reader
    except (adbc.Error, OSError, pa.ArrowException) as exc:  # Arrow relays the driver's
        raise source_error(exc, *named) from None
    finally:
        held.close()
