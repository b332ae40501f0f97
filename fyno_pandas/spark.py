"""`fyno_pandas.spark.push`: push a PySpark DataFrame (``pip install 'fyno_pandas[spark]'``).

``import fyno_pandas`` alone never imports PySpark. Every row reaches the plan as Arrow, the way
``DataFrame.toArrow()`` would give it, converted as `fyno_pandas.sources.arrow` converts any
Arrow batch: a ``TIMESTAMP`` is an instant (labelled with ``spark.sql.session.timeZone``, which
leaves the instant as it is), a ``TIMESTAMP_NTZ`` a wall time read in ``naive_tz``; a double's
NaN and its null both arrive as pandas' NaN, a missing value, as in a pandas push.

- Streamed (the default): each executor turns its partition into Arrow batches
  (``mapInArrow``), which reach this process one partition at a time, the next computed
  meanwhile (``toLocalIterator(prefetchPartitions=True)``), and go through
  `fyno_pandas.push_frames`: one rate limiter, one progress bar, one ledger push, ``mirror=``
  and adds as there. This process holds about two partitions and two chunks of 100,000 rows.
- ``cluster=True``: each executor pushes its own partitions, with the rules of a Dask cluster
  (`fyno_pandas.pipeline.cluster`): the first 100,000 rows fix the types here and their seeds
  fix the new ones in Fyno before any partition is sent, ``max_rps`` is shared out over the
  application's task slots, ``mirror=True`` and ``output=`` are refused. Add and append
  columns are refused too (Spark runs a failed task again, which would add twice), and so is
  ``spark.speculation`` (a copy of a slow task would send its rows again). The result is
  collected here before it is returned, so no later action or evicted cache sends again.

`retry_failed` resends, from this process, the rows a result reports failed, pending or in
doubt, reading only those rows (as Arrow, like `push`).
"""

from __future__ import annotations

import functools
import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd
import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema

from .client.config import FynoConfig
from .client.http import auth_error
from .display.outcome import report
from .errors import FynoAuthError, FynoInputError
from .options.docs import takes
from .pipeline.chunks import push_chunks
from .pipeline.cluster import prepared, refuse_on_a_cluster, shared
from .pipeline.request import PushRequest
from .pipeline.retry import retry_some
from .pipeline.workflow import plan_frame
from .planning.steps import NOT_IDEMPOTENT
from .results.columns import DTYPES, arrow_types
from .sources.arrow import CHUNK_ROWS, arrow_chunks

__all__ = ["arrow_reader", "push", "retry_failed"]

#: The one column in which a partition's Arrow batches travel to the driver, one a row.
_CARRIER = "arrow binary"
#: The result's columns as Spark declares them, and as Arrow carries them back.
_RESULT = from_arrow_schema(pa.schema(arrow_types()))
#: The statuses of a refused key (`fyno_pandas.client.http.auth_error`).
_REFUSALS = (401, 403)
_FIRST_ROWS = f"the first {CHUNK_ROWS:,} rows"
_STREAM_INSTEAD = "fyno_pandas.spark.push(sdf, id_col, mirror=True)"


@takes("push_frames", PushRequest.of)
def push(sdf: DataFrame, id_col: Any, cluster: bool = False, *, request: PushRequest) -> Any:
    """Push a PySpark DataFrame's rows; see the module docstring for where they are sent from.

    The options are those of `fyno_pandas.push_frames`. With ``cluster=True`` each executor
    opens the ledger file itself, at the path chosen here (by default this process's default
    file): on a cluster, name a path on a disk every executor shares, or pass False.

    Parameters
    ----------
    sdf : pyspark.sql.DataFrame
        The segment: a table, a query, anything Spark computes.
    id_col : hashable
        The column of distinct ids.
    cluster : bool
        Push each partition on the executor that computes it, rather than streaming them
        through this process.

    Returns
    -------
    pandas.DataFrame or dict
        What `push_frames` returns: one result row per input row, indexed by its position in
        partition order. With ``cluster=True`` a pandas DataFrame too, its summary in
        ``.attrs["fyno"]`` (rows per status, ``types``, ``partitions``, ``elapsed_s``).

    Raises
    ------
    FynoInputError
        With ``cluster=True``, before anything is sent: an add or append column, ``mirror``,
        ``output``, speculation, or a new property whose type the first rows cannot fix.
    """
    if cluster:
        return _push_on_executors(sdf, id_col, request)
    return _streamed(sdf, id_col, request)


@takes("retry_failed", PushRequest.deferred)
def retry_failed(
    sdf: DataFrame, result: pd.DataFrame, id_col: Any, *, request: Callable[[], PushRequest]
) -> pd.DataFrame:
    """`fyno_pandas.retry_failed` of a PySpark DataFrame: only its rows whose ids ``result``
    reports failed, pending or in doubt are read, as Arrow like `push` reads them (an instant
    stays the instant, an integer keeps its digits, which ``toPandas`` would not promise), and
    sent again from this process, their adds never twice.

    Parameters
    ----------
    sdf : pyspark.sql.DataFrame
        The segment that was pushed.
    result : pandas.DataFrame
        Its result from `push` (streamed or ``cluster=True``), or that result read back.
    id_col : hashable
        The column of distinct ids.

    Returns
    -------
    pandas.DataFrame
        ``result`` with the retried rows' outcome in place.
    """
    from pyspark.sql import functions as F  # noqa: N812

    def rows_of(ids: list[str]) -> pd.DataFrame:
        reader = arrow_reader(sdf.where(F.col(id_col).cast("string").isin(ids)))
        chunks = [] if reader is None else list(arrow_chunks(reader))
        return pd.concat(chunks, ignore_index=True) if chunks else sdf.limit(0).toPandas()

    return retry_some(rows_of, result, id_col, request)


def _streamed(sdf: DataFrame, id_col: Any, request: PushRequest) -> Any:
    outcome = push_chunks(_chunks(sdf), id_col, request)
    report(outcome, request.send.progress)
    return outcome


def arrow_reader(sdf: DataFrame) -> pa.RecordBatchReader | None:
    """``sdf``'s rows as Arrow batches in partition order, one partition in this process at a
    time (the next computed meanwhile); None when it has no rows."""
    cells = sdf.mapInArrow(_as_ipc, _CARRIER).toLocalIterator(prefetchPartitions=True)
    batches = (pa.ipc.open_stream(cell[0]).read_next_batch() for cell in cells)
    first = next(batches, None)
    if first is None:
        return None
    return pa.RecordBatchReader.from_batches(first.schema, itertools.chain([first], batches))


def _chunks(sdf: DataFrame) -> Iterator[pd.DataFrame]:
    """``sdf``'s rows as pandas chunks, read when the push asks for the first."""
    reader = arrow_reader(sdf)
    if reader is not None:
        yield from arrow_chunks(reader)


def _as_ipc(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """On an executor: each batch as one cell of Arrow IPC bytes (its buffers, not a copy)."""
    for batch in batches:
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, batch.schema) as writer:
            writer.write_batch(batch)
        ipc = sink.getvalue()
        offsets = pa.array([0, ipc.size], pa.int32()).buffers()[1]
        cell = pa.Array.from_buffers(pa.binary(), 1, [None, offsets, ipc])
        yield pa.record_batch([cell], names=["arrow"])


def _push_on_executors(sdf: DataFrame, id_col: Any, request: PushRequest) -> pd.DataFrame:
    """Types fixed here, then each partition pushed where it is computed; the result here."""
    _refuse_on_spark(sdf, request)
    first = next(_chunks(sdf), None)
    if first is None:  # no rows: no type to fix, nothing for an executor to push
        return _streamed(sdf, id_col, request)
    request = prepared(plan_frame(first, id_col, request), request, _FIRST_ROWS)
    slots = sdf.sparkSession.sparkContext.defaultParallelism
    partitions = sdf.rdd.getNumPartitions()
    pushing = functools.partial(
        _push_partition, id_col=id_col, request=shared(request, slots, partitions)
    )
    started = time.monotonic()
    table = sdf.mapInArrow(pushing, _RESULT).toArrow()
    result = table.to_pandas(types_mapper=_pandas_type).astype(DTYPES)
    elapsed = time.monotonic() - started
    result.attrs["fyno"] = {
        **result["status"].value_counts().to_dict(),
        "types": request.plan.schema,
        "partitions": partitions,
        "elapsed_s": round(elapsed, 3),
        "rows_per_s": round(len(result) / elapsed, 1) if elapsed > 0 else None,
        "destination": request.config.label,
    }
    _raise_refused(result, request.config)
    report(result, request.send.progress)
    return result


def _raise_refused(result: pd.DataFrame, config: FynoConfig) -> None:
    """Raise `FynoAuthError` once here when Fyno refused the key to an executor (its rows say
    so; Fyno's own words are in their ``error``), carrying the rows of every partition."""
    refused = result[result["http_status"].isin(_REFUSALS) & (result["status"] == "failed")]
    if len(refused):
        first = refused.iloc[0]
        error = auth_error(int(first["http_status"]), None, config, first["request_id"])
        error.with_result(result)
        raise error


def _refuse_on_spark(sdf: DataFrame, request: PushRequest) -> None:
    """Refuse, before anything is read, what executors pushing at once cannot do once."""
    refuse_on_a_cluster(request, "Spark", _STREAM_INSTEAD)
    ops = request.plan.ops or {}
    stepped = [c for c in sdf.columns if ops.get(c) in NOT_IDEMPOTENT]
    if stepped:
        raise FynoInputError(
            f"column {stepped[0]!r} is an {ops[stepped[0]]} (ops=), refused with cluster=True: "
            "Spark runs a failed task again, and its rows would add twice; push it streamed "
            "(cluster=False), where the ledger keeps each add to once",
            column=stepped[0],
            rule="cluster_add",
        )
    speculation = sdf.sparkSession.sparkContext.getConf().get("spark.speculation", "false")
    if speculation.strip().lower() == "true":  # Spark reads True and TRUE as true too
        raise FynoInputError(
            "cluster=True is refused with spark.speculation=true: a copy of a slow task "
            "would send its rows again; push streamed (cluster=False), or start Spark with "
            "spark.speculation=false",
            rule="cluster_speculation",
        )


def _push_partition(
    batches: Iterator[pa.RecordBatch], id_col: Any, request: PushRequest
) -> Iterator[pa.RecordBatch]:
    """On an executor: push the partition's rows as one push; its result, as Arrow."""
    first = next(batches, None)
    if first is None:
        return
    rows = pa.RecordBatchReader.from_batches(first.schema, itertools.chain([first], batches))
    try:
        result = push_chunks(rows, id_col, request)
    except FynoAuthError as refused:  # said once on the driver (`_refused`), not per task
        result = refused.result
    table = pa.Table.from_pandas(result, preserve_index=False)
    yield from table.cast(to_arrow_schema(_RESULT)).to_batches()


def _pandas_type(arrow: pa.DataType) -> Any:
    """Lists as Arrow-backed lists, as the result holds them (not an object per row)."""
    return pd.ArrowDtype(arrow) if pa.types.is_list(arrow) else None
