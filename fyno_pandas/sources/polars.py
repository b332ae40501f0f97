"""Polars frames as Arrow: what `fyno_pandas.polars` hands to the one pipeline.

A Polars frame is read through Arrow, never as row objects: an eager frame is one Arrow table, a
lazy one a stream of record batches collected batch by batch by Polars' streaming engine
(``LazyFrame.collect_batches``), so the whole frame is never held. Arrow carries every Polars
type but three, handled by name before the export (`POLARS_DTYPES` says what each becomes):

- ``Int128`` and ``UInt128`` are cast to ``String``: their decimal digits, every one kept. A
  float64 would round any value beyond 2**53 without a word, and Fyno's numbers are JSON
  numbers read as doubles; text is the only type that keeps a 128-bit id as it is.
- ``Object`` exports as pointers: refused, naming the column (`FynoInputError`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import polars as pl
import pyarrow as pa

from ..errors import FynoInputError

__all__ = ["POLARS_DTYPES", "PolarsRule", "arrow_table", "batch_stream", "polars_table_markdown"]

#: Rows Polars' streaming engine gathers per batch of a lazy frame.
BATCH_ROWS = 100_000


class PolarsRule(NamedTuple):
    """One row of `POLARS_DTYPES`: the Fyno type the plan gives the column (``None``: none,
    every value is missing), the rule it reports for every value (if any), and how."""

    fyno_type: str | None
    rule: str | None
    note: str


_INTEGER = PolarsRule("number", None, "every digit kept (pandas' nullable integer)")
_NUMBER = PolarsRule("number", None, "as `to_pandas` reads it")
_NAIVE = PolarsRule("date", "naive_datetime", "no zone: localized with `naive_tz`, reported")
_ZONED = PolarsRule("date", None, "the instant, sent in UTC")
_REFUSED_HERE = PolarsRule(None, "unsupported_type", "every value left out and reported")

#: Every dtype Polars exports -> what the plan does with a column of it.
POLARS_DTYPES: dict[str, PolarsRule] = {
    **{name: _INTEGER for name in ("Int8", "Int16", "Int32", "Int64")},
    **{name: _INTEGER for name in ("UInt8", "UInt16", "UInt32", "UInt64")},
    **{
        name: PolarsRule("string", None, "cast to String: every digit kept (not rounded)")
        for name in ("Int128", "UInt128")
    },
    **{name: _NUMBER for name in ("Float16", "Float32", "Float64")},
    "Decimal": PolarsRule("number", None, "every digit kept"),
    "Boolean": PolarsRule("boolean", None, "null is missing"),
    "String": PolarsRule("string", None, "as text (date-like text stays text)"),
    "Categorical": PolarsRule("string", "category", "its labels, as text"),
    "Enum": PolarsRule("string", "category", "its labels, as text"),
    "Date": PolarsRule("date", None, "`YYYY-MM-DD`"),
    **{f"Datetime({unit})": _NAIVE for unit in ("ms", "us", "ns")},
    **{f"Datetime({unit}, zone)": _ZONED for unit in ("ms", "us", "ns")},
    "Duration": _REFUSED_HERE,
    "Time": _REFUSED_HERE,
    "Binary": _REFUSED_HERE,
    "List": PolarsRule("list", None, "per element, as a list"),
    "Array": PolarsRule("list", None, "per element, as a list"),
    "Struct": _REFUSED_HERE,
    "Null": PolarsRule(None, None, "every value missing: nothing sent"),
    "Object": PolarsRule(None, "unsupported_type", "refused by name (`FynoInputError`)"),
}


def polars_table_markdown() -> str:
    """`POLARS_DTYPES` as the documentation's Markdown table."""
    rows = [
        f"| {name} | {rule.fyno_type or '—'} | {f'`{rule.rule}`' if rule.rule else ''} "
        f"| {rule.note} |"
        for name, rule in POLARS_DTYPES.items()
    ]
    header = ["| Polars dtype | Fyno type | rule | how |", "|---|---|---|---|"]
    return "\n".join([*header, *rows])


def _exportable(frame: Any) -> Any:
    """``frame`` (eager or lazy) with its 128-bit integers as text; `FynoInputError` for an
    Object column."""
    schema = frame.collect_schema()
    objects = [name for name, kind in schema.items() if kind == pl.Object]
    if objects:
        raise FynoInputError(
            f"column {objects[0]!r} is a Polars Object column, which Arrow carries only as "
            "pointers: convert it to a type Fyno holds (for instance "
            f"pl.col({objects[0]!r}).map_elements(str, return_dtype=pl.String)) or drop it",
            column=objects[0],
            rule="unsupported_type",
        )
    wide = [name for name, kind in schema.items() if kind in (pl.Int128, pl.UInt128)]
    return frame.with_columns(pl.col(wide).cast(pl.String)) if wide else frame


def arrow_table(frame: pl.DataFrame) -> pa.Table:
    """An eager frame as one Arrow table (large layouts, which pandas reads)."""
    return _exportable(frame).to_arrow()


def batch_stream(frame: pl.LazyFrame, rows: int = BATCH_ROWS) -> pa.RecordBatchReader:
    """A lazy frame's rows as an Arrow stream, ``rows`` at a time from the streaming engine;
    the query starts when the stream is read."""
    ready = _exportable(frame)
    schema = pl.DataFrame(schema=ready.collect_schema()).to_arrow().schema
    return pa.RecordBatchReader.from_batches(schema, _batches(ready, rows, schema))


def _batches(frame: pl.LazyFrame, rows: int, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    for part in frame.collect_batches(chunk_size=rows, engine="streaming"):
        table = part.to_arrow()
        if not table.schema.equals(schema):  # a batch's categories can come in another width
            table = table.cast(schema)
        yield from table.to_batches()
