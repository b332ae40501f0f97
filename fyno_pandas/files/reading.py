"""`read_table`: the command line's file, read with every value as the file writes it.

- CSV: a field is text until its whole column proves otherwise, and only an empty field is
  missing (plus the ``na_values`` texts). A column of plain numbers (``19.90``, ``-3``, ``.5``,
  ``1e5``) is numbers: int64 (Int64 with missing values), else float64, each the number the text
  means; a column of ``true``/``false`` (pandas' spellings) is booleans; any other column is
  text. A column of numbers whose text says more than the number stays text, and
  `Table.notes` says why: leading zeros (``007``, ``02134``), a leading ``+`` (phone numbers),
  integers too long for 64 bits. The id column, ``parse_dates`` and ``schema`` string, date and
  list columns are text; ``schema`` number columns are numbers even when their text says more;
  ``dtypes`` columns are read by pandas with that dtype.
- JSON lines: JSON's own types (integers stay integers next to a null, strings stay strings,
  dates only in ``parse_dates``); a UTF-8 byte-order mark is skipped.
- Parquet: the file's types.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import FynoInputError

__all__ = ["READERS", "Table", "csv_lines", "read_table"]

# pandas' tokenizer error for a line with more fields than the header.
_RAGGED = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
# ASCII classes: pyarrow's regex engine and Python's agree on them, and float() would also take
# other scripts' digits and underscores.
_NUMBER = r"[ \t]*[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?[ \t]*"
_INTEGER = r"[ \t]*[-+]?[0-9]+[ \t]*"
_TRUE, _FALSE = ("True", "TRUE", "true"), ("False", "FALSE", "false")
#: Why a column of numbers stays text: the pattern its values start with.
_MEANING = {"leading zeros": r"[ \t]*-?0[0-9]", "a leading '+'": r"[ \t]*\+"}
_TOO_LONG = "too long for a 64-bit integer"
_TEXT_TYPES = ("string", "date", "list")
# pandas before 3.1 turns columns named like dates (created_at, ...) into dates even with
# dtype=False; 3.1 deprecates the keyword, since dtype=False stops it there.
_NO_DATE_GUESS = (
    {"convert_dates": False}
    if tuple(int(part) for part in pd.__version__.split(".")[:2]) < (3, 1)
    else {}
)


@dataclass
class Table:
    """A file read: its frame, and the columns of numbers kept as text, by reason."""

    frame: pd.DataFrame
    kept_as_text: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def notes(self) -> list[str]:
        """One line per reason: ``Kept as text (leading zeros): zip ('02134'), ...``."""
        return [
            f"Kept as text ({reason}): "
            + ", ".join(f"{column} ({example!r})" for column, example in columns)
            for reason, columns in self.kept_as_text.items()
        ]


def _read_csv(path: Path, dtypes: Mapping[str, str], na_values: Sequence[str]) -> pd.DataFrame:
    """Every column as text, but ``dtypes``'; only an empty field or ``na_values`` missing.

    pandas checks each line against the header except the first data line: more fields there
    make it guess the extra leading fields are the index, which shifts every value. Read
    without a header, the first two lines are checked like the rest. pandas numbers lines from
    1 with the header, not counting newlines inside quotes. It also renames a repeated header
    (``v``, ``v.1``), so the header is checked as written.
    """
    text = {"keep_default_na": False, "index_col": False, "on_bad_lines": "error"}
    first = pd.read_csv(path, header=None, nrows=2, dtype=str, **text)
    _check_header(path, first.iloc[0].tolist())
    return pd.read_csv(
        path, dtype=defaultdict(lambda: str, dtypes), na_values=["", *na_values], **text
    )


def csv_lines(path: Path) -> np.ndarray | None:
    """The line of ``path`` (from 1) each row `read_table` reads from it starts on.

    Only a scan knows: a quoted field's newlines, and the blank or blank-looking lines pandas
    skips, move the rows below them down. None when the scan and pandas may disagree (a field
    longer than the csv module reads).
    """
    starts, end = [], 0
    with path.open(newline="", encoding="utf-8-sig") as lines:
        records = csv.reader(lines)
        try:
            for record in records:
                start, end = end + 1, records.line_num
                if len(record) > 1 or (record and record[0].strip()):
                    starts.append(start)
        except csv.Error:
            return None
    return np.array(starts[1:], dtype=np.int64)  # the first record is the header


def _check_header(path: Path, names: list[str]) -> None:
    seen = pd.Series(names, dtype=object)
    repeated = seen[seen.duplicated() & seen.ne("")]
    if not repeated.empty:
        name = repeated.iloc[0]
        fields = [str(i + 1) for i, other in enumerate(names) if other == name]
        raise FynoInputError(
            f"{path}: the header names column {name!r} more than once "
            f"(fields {', '.join(fields[:-1])} and {fields[-1]}); rename them",
            column=name,
            rule="duplicate_property",
        )


def _read_json_lines(path: Path, **_: Any) -> pd.DataFrame:
    return pd.read_json(
        path,
        lines=True,
        dtype=False,
        precise_float=True,
        dtype_backend="numpy_nullable",
        encoding="utf-8-sig",
        **_NO_DATE_GUESS,
    )


def _read_parquet(path: Path, **_: Any) -> pd.DataFrame:
    return pd.read_parquet(path)


READERS = {
    ".csv": _read_csv,
    ".parquet": _read_parquet,
    ".pq": _read_parquet,
    ".jsonl": _read_json_lines,
    ".ndjson": _read_json_lines,
}


def read_table(
    path: Path,
    id_col: str | None = None,
    *,
    parse_dates: Sequence[str] = (),
    dtypes: Mapping[str, str] | None = None,
    schema: Mapping[str, str] | None = None,
    na_values: Sequence[str] = (),
) -> Table:
    """Read a CSV, Parquet or JSON-lines file, by its suffix, by the module's rules.

    Raises
    ------
    FynoInputError
        The file is missing, of an unknown type or unreadable; a flag names a column the
        file lacks or a dtype pandas does not know; ``na_values`` for a file that is not CSV; a
        ``parse_dates`` value that is not an ISO 8601 date; a repeated CSV header.
    """
    reader = _reader(path, na_values)
    dtypes = _checked_dtypes(dtypes or {})
    frame = _read(path, reader, dtypes, na_values)
    _check_named(path, frame, {"--parse-dates": parse_dates, "--dtype": dtypes})
    table = Table(frame)
    if reader is _read_csv:
        schema = schema or {}
        text = {id_col, *parse_dates, *dtypes} | {c for c, t in schema.items() if t in _TEXT_TYPES}
        numbers = {c for c, t in schema.items() if t == "number"} - text
        table = _typed_csv(frame, text, numbers)
    elif dtypes:
        table.frame = _astype(frame, dtypes)
    for column in parse_dates:
        table.frame[column] = _dates(table.frame[column])
    return table


def _reader(path: Path, na_values: Sequence[str]) -> Any:
    """The reader of ``path``'s type; refused for an unknown type, a missing file, or
    ``na_values`` for a file that is not CSV."""
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise FynoInputError(f"{path}: unknown file type; use one of {', '.join(sorted(READERS))}")
    if not path.is_file():
        raise FynoInputError(f"{path}: no such file")
    if na_values and reader is not _read_csv:
        raise FynoInputError(f"--na-values: applies to CSV files only, not {path.suffix}")
    return reader


def _check_named(path: Path, frame: pd.DataFrame, named: Mapping[str, Collection[Any]]) -> None:
    """Refuse a flag naming a column the file lacks."""
    for flag, columns in named.items():
        for column in columns:
            if column not in frame.columns:
                raise FynoInputError(f"{flag}: {path} has no column {column!r}", column=column)


def _checked_dtypes(dtypes: Mapping[str, str]) -> dict[str, str]:
    for column, dtype in dtypes.items():
        try:
            pd.api.types.pandas_dtype(dtype)
        except TypeError:
            raise FynoInputError(
                f"--dtype: {dtype!r} for column {column!r} is not a pandas dtype", column=column
            ) from None
    return dict(dtypes)


def _read(path: Path, reader: Any, dtypes: Mapping[str, str], na_values: Sequence[str]) -> Any:
    try:
        return reader(path, dtypes=dtypes, na_values=na_values)
    except FynoInputError:
        raise
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        ragged = _RAGGED.search(str(exc))
        if ragged is not None:
            header, line, saw = ragged.groups()
            raise FynoInputError(
                f"{path}: line {line} has {saw} fields, more than the header's {header}",
                rule="ragged_line",
            ) from None
        # pandas' messages can end in a newline; the error stays one line on stderr.
        reason = " ".join(str(exc).split())
        raise FynoInputError(f"{path}: cannot be read as {path.suffix} ({reason})") from None


def _astype(frame: pd.DataFrame, dtypes: Mapping[str, str]) -> pd.DataFrame:
    for column, dtype in dtypes.items():
        try:
            frame[column] = frame[column].astype(dtype)
        except (ValueError, TypeError) as exc:
            reason = " ".join(str(exc).split())
            raise FynoInputError(
                f"--dtype: column {column!r} cannot be read as {dtype} ({reason})", column=column
            ) from None
    return frame


def _dates(values: pd.Series) -> pd.Series:
    """ISO 8601 text as datetimes; anything else an error naming its first row."""
    try:
        parsed = pd.to_datetime(values, format="ISO8601", errors="coerce")
    except (ValueError, TypeError) as exc:  # mixed offsets, values of no date type
        reason = str(exc).splitlines()[0]
        raise FynoInputError(
            f"--parse-dates: column {values.name!r} ({reason})", column=values.name
        ) from None
    wrong = parsed.isna() & values.notna()
    if wrong.any():
        row = wrong.idxmax()
        raise FynoInputError(
            f"--parse-dates: column {values.name!r}, row {row}: {values[row]!r} is not an ISO "
            "8601 date",
            column=values.name,
            row=row,
            rule="parse_dates",
        )
    return parsed


def _typed_csv(frame: pd.DataFrame, text: Collection[Any], numbers: Collection[Any]) -> Table:
    """Each CSV column but ``text`` as numbers or booleans when its values all are.

    ``numbers`` columns become numbers even when their text says more (`_MEANING`).
    """
    table = Table(frame)
    for column in frame.columns:
        if column in text:
            continue
        values, reasons = _typed_column(frame[column], column not in numbers)
        table.frame[column] = values
        for reason, example in reasons:
            table.kept_as_text.setdefault(reason, []).append((column, example))
    return table


def _typed_column(s: pd.Series, keep_meaning: bool) -> tuple[Any, list[tuple[str, str]]]:
    """The column as numbers or booleans, or as it is; with why it stays text, if it does."""
    present = s.notna().to_numpy(dtype=bool)
    values = s[present]
    if values.empty:
        return s, []
    if values.isin(_TRUE + _FALSE).all():
        return _masked(values.isin(_TRUE).to_numpy(dtype=bool), present), []
    if not values.str.fullmatch(_NUMBER).all():
        return s, []
    if keep_meaning:
        starts = {reason: values.str.match(start) for reason, start in _MEANING.items()}
        reasons = [(reason, values[hit].iloc[0]) for reason, hit in starts.items() if hit.any()]
        if reasons:
            return s, reasons
    integers = values.str.fullmatch(_INTEGER).all()
    text = values.to_numpy(dtype=object)
    try:
        numbers = text.astype(np.int64 if integers else np.float64)
    except OverflowError:
        if keep_meaning:
            return s, [(_TOO_LONG, values[values.str.strip().str.len().idxmax()])]
        numbers = text.astype(np.float64)
    return _masked(numbers, present), []


def _masked(present_values: np.ndarray, present: np.ndarray) -> Any:
    """A full column from its present values: numpy when none is missing, else float64 with
    NaN, or a masked array (integers and booleans stay what they are beside a missing one)."""
    if present.all():
        return present_values
    if present_values.dtype.kind == "f":
        full = np.full(len(present), np.nan)
        full[present] = present_values
        return full
    full = np.zeros(len(present), dtype=present_values.dtype)
    full[present] = present_values
    masked = pd.arrays.BooleanArray if full.dtype.kind == "b" else pd.arrays.IntegerArray
    return masked(full, ~present)
