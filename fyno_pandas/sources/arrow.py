"""Any Arrow stream as pandas chunks: one adapter for every library that exports Arrow.

An object with the Arrow PyCapsule stream interface (``__arrow_c_stream__``: pyarrow tables and
record batch readers, Polars frames, DuckDB relations and more) or a ``pyarrow.dataset.Dataset``
(a folder of Parquet files) is read batch by batch and handed to `fyno_pandas.push_frames` as
pandas chunks of about `CHUNK_ROWS` rows, each indexed by its rows' positions in the stream, so
the push's result has one row per streamed row with a label of its own. A chunk converts as
``pyarrow.Table.to_pandas`` converts it: what reaches the plan is what a pandas user of
``to_pandas()`` would have, once the view layouts (``string_view``, ``binary_view``: what
Polars exports) are cast to the large layouts ``to_pandas`` reads at any depth, except that
integers become pandas' nullable integers (``to_pandas`` makes a column with a null float64,
rounding an integer beyond 2**53). Memory holds one chunk being read (the pipeline holds two).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from ..errors import FynoSourceError

__all__ = ["CHUNK_ROWS", "arrow_chunks", "arrow_frame", "is_arrow_source", "source_chunks"]

#: Rows per pandas chunk: a stream's batches (often a few thousand rows) are gathered so
#: planning works on large vectors, and split so a large batch does not become one chunk.
CHUNK_ROWS = 100_000


def is_arrow_source(source: Any) -> bool:
    """Whether ``source`` is read as an Arrow stream: it exports one, or it is a dataset. A pandas
    DataFrame (which exports one too) is not: it is a chunk, not a source of chunks."""
    if isinstance(source, pd.DataFrame):
        return False
    return isinstance(source, ds.Dataset) or hasattr(source, "__arrow_c_stream__")


def source_chunks(source: Any) -> Iterator[Any]:
    """``source``'s chunks: an Arrow source's as `arrow_chunks` reads them, any other iterable's
    as it yields them. Closing this (a push ended, by an error too) closes ``source`` at once,
    when it can be closed (a generator, a record batch reader, ``read_csv``'s reader), so a
    query's cursor or a file is let go then, not when a traceback holding it is collected."""
    try:
        if type(source).__module__.startswith("polars"):  # Polars not imported for others
            yield from arrow_chunks(_polars_stream(source))
        else:
            yield from arrow_chunks(source) if is_arrow_source(source) else source
    finally:
        close = getattr(source, "close", None)
        if callable(close):
            close()


def _polars_stream(source: Any) -> Any:
    """A Polars frame, eager or lazy, as `fyno_pandas.sources.polars` exports it (its 128-bit
    integers as text, an Object column refused by name), not as its own Arrow stream, which
    carries neither (and a lazy frame has none)."""
    from .polars import arrow_table, batch_stream

    return batch_stream(source) if hasattr(source, "collect_batches") else arrow_table(source)


def arrow_chunks(source: Any, rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """``source``'s rows as pandas DataFrames of ``rows`` rows (the last fewer), indexed by
    position in the stream; nothing is read before the first chunk is asked for.

    Raises
    ------
    FynoSourceError
        When the stream cannot be read (Arrow's own error, named, is its cause).
    """
    try:
        yield from _chunks(source, rows)
    except pa.ArrowException as exc:
        # Arrow's first sentence: what follows is the traceback of a Python producer
        said = str(exc).split("\n", 1)[0].split(". Detail:", 1)[0]
        raise FynoSourceError(
            f"could not read the Arrow stream of a {type(source).__name__}: {said}"
        ) from exc


def _chunks(source: Any, rows: int) -> Iterator[pd.DataFrame]:
    if isinstance(source, ds.Dataset):
        # one thread, one batch and one file ahead: the pipeline already reads a chunk ahead
        # while one is sent, and the push, not the scan, bounds the speed; the scanner's own
        # threads and read-ahead put a 5,000,000-row push at 600 MB peak instead of 400
        batches: Iterable[pa.RecordBatch] = source.to_batches(
            batch_size=rows, batch_readahead=1, fragment_readahead=1, use_threads=False
        )
    elif isinstance(source, pa.RecordBatchReader):  # read as it is: a producer's own error
        batches = source  # (a database's, say) reaches the caller, not Arrow's rewording
    else:
        batches = pa.RecordBatchReader.from_stream(source)
    start, held, count = 0, [], 0
    for batch in batches:
        while batch.num_rows:
            take = batch.slice(0, rows - count)
            held.append(take)
            count += take.num_rows
            batch = batch.slice(take.num_rows)
            if count == rows:
                yield _frame(held, start)
                start, held, count = start + count, [], 0
    if count:
        yield _frame(held, start)


def _frame(batches: list[pa.RecordBatch], start: int) -> pd.DataFrame:
    frame = arrow_frame(pa.Table.from_batches(batches))
    frame.index = pd.RangeIndex(start, start + len(frame))
    return frame


def arrow_frame(table: pa.Table) -> pd.DataFrame:
    """``table`` as pandas, as a chunk of a stream converts (view layouts cast first): as
    ``to_pandas()`` converts it, but that an integer column becomes pandas' nullable integer,
    where ``to_pandas()`` makes a column with a null float64 and rounds an integer beyond 2**53
    without a word."""
    readable = pa.schema([field.with_type(_without_views(field.type)) for field in table.schema])
    if not readable.equals(table.schema):
        # pyarrow's to_pandas reads a string_view column but not one nested in a list
        table = table.cast(readable)
    return table.to_pandas(types_mapper=_NULLABLE_INTEGERS.get)


_NULLABLE_INTEGERS = {
    pa.int8(): pd.Int8Dtype(),
    pa.int16(): pd.Int16Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.uint8(): pd.UInt8Dtype(),
    pa.uint16(): pd.UInt16Dtype(),
    pa.uint32(): pd.UInt32Dtype(),
    pa.uint64(): pd.UInt64Dtype(),
}


def _without_views(kind: pa.DataType) -> pa.DataType:
    """``kind`` with every view layout, at any depth, as its large layout."""
    if pa.types.is_string_view(kind):
        return pa.large_string()
    if pa.types.is_binary_view(kind):
        return pa.large_binary()
    if pa.types.is_struct(kind):
        return pa.struct([field.with_type(_without_views(field.type)) for field in kind])
    if pa.types.is_fixed_size_list(kind):
        return pa.list_(_value_field(kind), kind.list_size)
    if pa.types.is_list(kind):
        return pa.list_(_value_field(kind))
    if pa.types.is_large_list(kind):
        return pa.large_list(_value_field(kind))
    return kind


def _value_field(kind: pa.DataType) -> pa.Field:
    return kind.value_field.with_type(_without_views(kind.value_type))
