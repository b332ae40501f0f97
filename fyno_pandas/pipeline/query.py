"""`push_query`: the rows of a SQL query, streamed from the database into `push_frames`' chunks.

``import fyno_pandas`` does not import SQLAlchemy or DuckDB: the source is read by
`fyno_pandas.sources.sql`, imported when a query is pushed.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..display.outcome import report
from ..errors import FynoInputError
from ..options.docs import takes
from ..sources.arrow import CHUNK_ROWS
from .chunks import push_chunks
from .request import PushRequest

__all__ = ["push_query"]


@takes("push_query", PushRequest.of)
def push_query(
    sql: str, con: Any, id_col: Any, chunksize: int = CHUNK_ROWS, *, request: PushRequest
) -> pd.DataFrame | dict[str, Any]:
    """Push the rows of ``sql`` as one push, fetched ``chunksize`` rows at a time.

    The query's rows are fetched as they are read (a PostgreSQL URL through ADBC's Arrow stream
    when ``adbc-driver-postgresql`` is installed, anything else on SQLAlchemy's server-side
    cursor, DuckDB as Arrow batches), and each ``chunksize`` rows are planned and sent as
    `push_frames` plans and sends a chunk (types fixed by the first chunk, one ledger push,
    one progress bar, one result), so memory holds about three chunks however many rows the
    query returns. What each database's types become is in docs/topics/sources-sql.md;
    ``schema=`` fixes the rest (SQLite's 0/1 as booleans).

    Parameters
    ----------
    sql : str
        The query.
    con : str, sqlalchemy.Engine, sqlalchemy.Connection or None
        A SQLAlchemy URL (``postgresql+psycopg://user@host/db``), or ``"env:NAME"`` to read it
        from the environment variable ``NAME`` (so the password is in neither the code nor the
        notebook); an Engine or Connection; a DuckDB database file; None: DuckDB in memory.
        Its password never appears in a result, log record, error or repr.
    id_col : hashable
        The column of distinct ids.
    chunksize : int, default 100,000
        Rows fetched, planned and sent at a time.

    Returns
    -------
    pandas.DataFrame or dict
        As `push_frames`: one row per row of the query, indexed by its position in the
        result, with the summary in ``.attrs["fyno"]``; with ``output=``, the summary alone.

    Raises
    ------
    FynoSourceError
        The database could not be reached or the query failed (the password masked).
    FynoConfigError, FynoInputError, FynoAuthError, PushInterrupted
        As `push_frames`.
    """
    from ..sources.sql import query_rows

    if isinstance(chunksize, bool) or not isinstance(chunksize, int) or chunksize < 1:
        raise FynoInputError(
            f"chunksize must be a whole number of rows above 0, not {chunksize!r}",
            rule="invalid_option",
        )
    outcome = push_chunks(query_rows(sql, con, chunksize, request.plan.schema), id_col, request)
    report(outcome, request.send.progress)
    return outcome
