"""`ResultWriter`: a push's result written to CSV or Parquet chunk by chunk, so it never has to
be held whole in memory.

The file has the result's columns with the input row label first (as ``frame.to_csv`` and
``frame.to_parquet`` write it), whatever the number of chunks.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import FynoInputError
from ..results.columns import LISTS, arrow_types

__all__ = ["ResultWriter", "check_output", "keep_earlier", "write_result"]

PARQUET_SUFFIXES = (".parquet", ".pq")
SUFFIXES = (".csv", *PARQUET_SUFFIXES)
_ACCEPTED = f"{', '.join(SUFFIXES[:-1])} or {SUFFIXES[-1]}"


def check_output(path: str | Path) -> Path:
    """Check that a result can be written to ``path``, before anything is sent.

    Parameters
    ----------
    path : str or path
        A file (not a folder) ending in ``.csv``, ``.parquet`` or ``.pq``, in a folder that
        exists; Parquet needs pyarrow.

    Returns
    -------
    pathlib.Path
        ``path`` with ``~`` expanded.

    Raises
    ------
    FynoInputError
        With ``rule="output"``, naming the path and what is wrong with it.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        raise FynoInputError(
            f"{path}: is a folder; name a result file ({_ACCEPTED})", rule="output"
        )
    if path.suffix.lower() not in SUFFIXES:
        raise FynoInputError(f"{path}: a result file must end in {_ACCEPTED}", rule="output")
    if not path.parent.is_dir():
        raise FynoInputError(f"{path}: no such directory {str(path.parent)!r}", rule="output")
    if path.suffix.lower() in PARQUET_SUFFIXES:
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise FynoInputError(
                f"{path}: writing Parquet needs pyarrow "
                "(pip install 'fyno_pandas[parquet]'); or name a .csv file",
                rule="output",
            ) from None
    return path


def keep_earlier(path: Path) -> Path | None:
    """Rename an earlier result at ``path`` to ``<stem>.<YYYYmmdd-HHMMSS><suffix>``, its
    modification time in local time (``-2``, ``-3``... when taken), so that a new result
    never replaces the request ids it holds.

    Returns
    -------
    pathlib.Path or None
        The earlier result's new name; None when there was none.
    """
    if not path.is_file():
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(path.stat().st_mtime))
    kept = path.with_name(f"{path.stem}.{stamp}{path.suffix}")
    taken = 1
    while kept.exists():
        taken += 1
        kept = path.with_name(f"{path.stem}.{stamp}-{taken}{path.suffix}")
    return path.rename(kept)


class ResultWriter:
    """Append result frames to ``path``: Parquet for ``.parquet``/``.pq``, CSV for ``.csv``.

    Use it as a context manager; the file is complete when the block ends. ``path`` is checked
    by `check_output` when the writer is made.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = check_output(path)
        self.parquet = self.path.suffix.lower() in PARQUET_SUFFIXES
        self.rows = 0
        self._parquet_writer: Any = None
        self._schema: Any = None

    def __enter__(self) -> ResultWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write(self, frame: pd.DataFrame) -> None:
        """Append ``frame`` (a result, or a chunk of one)."""
        if self.parquet:
            self._write_parquet(frame)
        else:
            frame.to_csv(self.path, mode="w" if self.rows == 0 else "a", header=self.rows == 0)
        self.rows += len(frame)

    def _write_parquet(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=True)
        if self._parquet_writer is None:
            # The result's own types: a first chunk whose error column is all None would fix it
            # as type null.
            fixed = arrow_types()
            self._schema = pa.schema(
                [pa.field(f.name, fixed.get(f.name, f.type)) for f in table.schema],
                metadata=_readable_by_pandas(table.schema.metadata),
            )
            self._parquet_writer = pq.ParquetWriter(self.path, self._schema)
        self._parquet_writer.write_table(table.cast(self._schema))

    def close(self) -> None:
        """Finish the file."""
        if self._parquet_writer is not None:
            self._parquet_writer.close()
            self._parquet_writer = None


def _readable_by_pandas(metadata: dict[bytes, bytes] | None) -> dict[bytes, bytes] | None:
    """pandas' metadata with the list columns' dtype as object: ``pd.read_parquet`` cannot
    parse the Arrow list dtype it wrote (pandas-dev/pandas#57411), and reads them as arrays."""
    if not metadata or b"pandas" not in metadata:
        return metadata
    described = json.loads(metadata[b"pandas"])
    for column in described["columns"]:
        if column["name"] in LISTS:
            column["numpy_type"] = "object"
    return {**metadata, b"pandas": json.dumps(described).encode()}


def write_result(frame: pd.DataFrame, path: str | Path) -> None:
    """Write a whole result as CSV, or Parquet for a ``.parquet``/``.pq`` path."""
    with ResultWriter(path) as writer:
        writer.write(frame)
