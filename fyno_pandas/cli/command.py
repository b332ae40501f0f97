"""The command line: ``python -m fyno_pandas push FILE --id-col COL`` and ``quickstart``.

Exit status: 0 when every row was sent (or skipped by the plan, or unchanged), 1 when any row
failed, stayed pending or is in doubt (an add whose answer was lost), 2 for bad input or
configuration (nothing sent) or a refused key, 130 when Ctrl-C stopped the push; after a
refused key or Ctrl-C the partial result is written.
Running the same push again resumes an unfinished one's adds and appends (``--no-resume``: a
new push); ``--resend-in-doubt`` resends its in-doubt rows. The API key is read from
``FYNO_API_KEY`` only, never from a flag, so it stays out of shell history and process lists.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import FynoAuthError, FynoInputError, FynoPandasError, PushInterrupted
from ..options.checks import pair
from ..options.model import OPTIONS, checked_groups, pick

if TYPE_CHECKING:
    import pandas as pd

    from ..planning.plan import PushPlan

__all__ = ["main"]

log = logging.getLogger("fyno_pandas")

EXIT_OK, EXIT_ROWS_FAILED, EXIT_BAD_INPUT = 0, 1, 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a command Ctrl-C stopped
_RESEND = "--all"  # how the command line resends what the ledger leaves out
#: What to check when Fyno refuses the key: where this command reads the key and workspace.
_CHECK_KEY = "check FYNO_API_KEY and the workspace (--wsid or FYNO_WSID)"


_PUSH_HELP = """\
Push each row of FILE (CSV, Parquet or JSON lines), or of the query --sql or --sql-file
runs, to Fyno as a user-property update, after a preview of every value Fyno would accept
and silently not store.

The destination comes from --wsid, --version and --endpoint, else FYNO_WSID, FYNO_VERSION
(default live) and FYNO_ENDPOINT; the API key only from FYNO_API_KEY, never from a flag, so
it stays out of shell history and process lists. The result (one row per input row, with
Fyno's request ids) is written to FILE.result.csv (a query's: query.result.csv, or Q.result.csv
beside --sql-file Q.sql) unless --output says otherwise. A query runs in DuckDB in memory
unless --db names a DuckDB file or a SQLAlchemy URL; --db env:VAR reads the URL, and so its
password, from the environment variable VAR."""

_PUSH_EPILOG = """\
example:
  export FYNO_WSID=FYXXXXXXXX FYNO_API_KEY=...   # or: python -m fyno_pandas.emulator
  python -m fyno_pandas push users.csv --id-col user_id --dry-run
  python -m fyno_pandas push users.csv --id-col user_id
  python -m fyno_pandas push --sql "select * from read_parquet('users/*.parquet')" --id-col user_id
  python -m fyno_pandas push --sql-file active.sql --db env:USERS_DB --id-col user_id

exit status:
  0    every row sent, skipped by the plan, or unchanged
  1    a row failed, stayed pending or is in doubt (see the result file)
  2    bad input or settings: nothing sent; or Fyno refused the key (see the result file)
  130  Ctrl-C: the partial result is written; run the same command again to resume"""


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()] if text else []


def _add_option_flags(parser: argparse.ArgumentParser) -> None:
    """The flags of the options the CLI exposes, as `fyno_pandas.options.model` declares them.

    A flag that takes a value stores it under the option's name, with the option's default
    and choices; a switch (``--no-ledger``, ``--all``, ``--no-progress``, ``--dry-run``) is a
    ``store_true`` flag of its own, and `_option_values` turns it into the option's value.
    """
    for option in OPTIONS.values():
        for flag in option.flags:
            help_text = flag.help or _plain(option.doc)
            if flag.switch:
                parser.add_argument(flag.spelling, action="store_true", help=help_text)
            else:
                parser.add_argument(
                    flag.spelling,
                    dest=option.name,
                    action="append" if flag.repeat else "store",
                    type=flag.parse,
                    choices=option.choices,
                    default=option.default,
                    help=help_text,
                )


def _plain(doc: str) -> str:
    """An option's doc line as ``--help`` text: no reST quotes, lower case, no full stop."""
    text = doc.replace("``", "").replace("`", "").rstrip(".")
    return text[:1].lower() + text[1:]


def _option_values(args: argparse.Namespace) -> dict[str, Any]:
    """The options the command line set, by name; a switch given wins over a value."""
    values: dict[str, Any] = {}
    for option in OPTIONS.values():
        for flag in option.flags:
            if not flag.switch:
                values[option.name] = getattr(args, option.name)
                if flag.repeat is not None and values[option.name] is not None:
                    values[option.name] = flag.repeat(values[option.name])
        for flag in option.flags:
            if flag.switch:
                values.setdefault(option.name, option.default)
                if getattr(args, flag.spelling.lstrip("-").replace("-", "_")):
                    values[option.name] = flag.const
    return values


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fyno_pandas", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("quickstart", help="push a sample table to an embedded emulator")
    push = commands.add_parser(
        "push",
        help="push a CSV, Parquet or JSON-lines file, or a query's rows",
        description=_PUSH_HELP,
        epilog=_PUSH_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    push.add_argument("file", type=Path, nargs="?", help="the CSV, Parquet or JSON-lines file")
    _add_query_flags(push)
    push.add_argument("--id-col", required=True, help="the column holding each user's distinct_id")
    push.add_argument("--parse-dates", help="comma-separated ISO-8601 columns to send as dates")
    push.add_argument(
        "--dtype",
        action="append",
        type=pair,
        metavar="COLUMN=DTYPE",
        help="read COLUMN with this pandas dtype, as read_csv takes it; repeatable",
    )
    push.add_argument(
        "--na-values",
        help="comma-separated CSV texts read as missing (default: only an empty field)",
    )
    _add_option_flags(push)
    return parser


def _add_query_flags(push: argparse.ArgumentParser) -> None:
    """``--sql``/``--sql-file`` (in place of FILE), ``--db`` and ``--chunksize``."""
    query = push.add_mutually_exclusive_group()
    query.add_argument("--sql", metavar="QUERY", help="push the rows of this query, not a file")
    query.add_argument("--sql-file", type=Path, metavar="FILE.sql", help="the query, from a file")
    push.add_argument(
        "--db",
        metavar="NAME",
        help="where --sql runs: a SQLAlchemy URL (dialect://...), env:VAR for the URL held in "
        "the environment variable VAR (keeps the password out of the shell history), or a "
        "DuckDB database file; default: DuckDB in memory",
    )
    push.add_argument(
        "--chunksize",
        type=int,
        metavar="ROWS",
        help="rows of the query fetched, planned and sent at a time (default: push_query's)",
    )


def _push(args: argparse.Namespace) -> int:
    query = _query_of(args)
    if query is not None:
        return _push_query(args, *query)
    from ..display.render import render_text
    from ..files.reading import read_table
    from ..files.resultfile import check_output
    from ..pipeline.request import PushRequest
    from ..pipeline.workflow import prepared, send_planned

    options = _option_values(args)
    table = read_table(
        args.file,
        args.id_col,
        parse_dates=_split(args.parse_dates),
        dtypes=dict(args.dtype or ()),
        schema=options["schema"],
        na_values=_split(args.na_values),
    )
    # Checked before anything is sent: a result that cannot be written is lost.
    output = check_output(_result_path(args.file, options.pop("output"), options["dry_run"]))
    _, groups = checked_groups("push", pick(options, entry="push"))
    request = PushRequest.of(groups)
    ready = prepared(table.frame, args.id_col, request)
    print("\n".join([render_text(_with_csv_lines(ready.plan, args.file), _RESEND), *table.notes()]))
    if ready.sync is not None:
        print(ready.sync.text())
    if ready.resumed.note:
        print(ready.resumed.note)
    try:
        result = send_planned(ready.plan, request, ready.sync, ready.resumed)
    except PushInterrupted as stopped:  # the partial result is written, as any result
        _write(stopped.result, output, options["dry_run"])
        print(f"error: {stopped}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except FynoAuthError as refused:  # said first; the rows then say which were not sent
        print(f"error: {refused.refusal}: {_CHECK_KEY}", file=sys.stderr)
        _write(refused.result, output, options["dry_run"])
        return EXIT_BAD_INPUT
    counts = _write(result, output, options["dry_run"])
    unfinished = sum(counts.get(status, 0) for status in ("failed", "pending", "in_doubt"))
    return EXIT_ROWS_FAILED if unfinished else EXIT_OK


def _query_of(args: argparse.Namespace) -> tuple[str, Path] | None:
    """The query to push and the path its result is named after (``q.sql`` gives
    ``q.result.csv``, ``--sql`` ``query.result.csv``), or None to push FILE.

    Raises
    ------
    FynoInputError
        For FILE with a query or neither, for --db without a query, or for a file's reading
        flags with a query.
    """
    given = args.sql is not None or args.sql_file is not None
    if given == (args.file is not None):
        raise FynoInputError(
            "give FILE, or --sql or --sql-file: one of them", rule="invalid_option"
        )
    if not given:
        if args.db is not None:
            raise FynoInputError(
                "--db names where --sql runs: use it with --sql", rule="invalid_option"
            )
        return None
    for flag in ("parse_dates", "dtype", "na_values"):
        if getattr(args, flag) is not None:
            raise FynoInputError(
                f"--{flag.replace('_', '-')} reads FILE; a query's columns come typed from the "
                "database (--schema fixes a type)",
                rule="invalid_option",
            )
    if args.sql is not None:
        return args.sql, Path("query.sql")
    try:
        return args.sql_file.read_text(encoding="utf-8"), args.sql_file
    except OSError as exc:
        raise FynoInputError(
            f"--sql-file {args.sql_file}: {exc.strerror}", rule="invalid_option"
        ) from None


def _push_query(args: argparse.Namespace, sql: str, named: Path) -> int:
    """Push the query's rows through `push_query`, the result streamed to the result file."""
    from ..display.outcome import needs_attention, shown_by_caller, summary_line, tally
    from ..files.resultfile import check_output, keep_earlier
    from ..pipeline.query import push_query

    options = _option_values(args)
    output = check_output(_result_path(named, options.pop("output"), options["dry_run"]))
    kept = None if options["dry_run"] else keep_earlier(output)
    if kept is not None:
        print(f"earlier result kept as {kept}")
    rows = {} if args.chunksize is None else {"chunksize": args.chunksize}
    try:
        with shown_by_caller():
            summary = push_query(
                sql,
                args.db,
                args.id_col,
                output=output,
                **rows,
                **pick(options, entry="push_query"),
            )
    except PushInterrupted as stopped:
        print(f"error: {stopped}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except FynoAuthError as refused:
        print(f"error: {refused.refusal}: {_CHECK_KEY}", file=sys.stderr)
        print(f"result written to {output}")
        return EXIT_BAD_INPUT
    print(f"result written to {output}")
    numbers = tally(summary)
    print(_coloured(summary_line(summary, _RESEND), needs_attention(numbers)))
    return (
        EXIT_ROWS_FAILED if any(numbers[s] for s in ("failed", "pending", "in_doubt")) else EXIT_OK
    )


@dataclasses.dataclass(frozen=True)
class _RowAtLine:
    """A row position shown with the CSV line the row starts on: ``3 (line 5)``."""

    row: int
    line: int

    def __str__(self) -> str:
        return f"{self.row} (line {self.line})"


def _with_csv_lines(plan: PushPlan, path: Path) -> PushPlan:
    """``plan`` for the preview, its issue rows labelled with their CSV lines (`csv_lines`).

    The frame read from the file has a RangeIndex: a row's label is its position.
    """
    import numpy as np

    from ..files.reading import csv_lines

    rows = plan.issues["row"].to_numpy(dtype=object)
    cells = np.flatnonzero(np.not_equal(rows, None))
    if path.suffix.lower() != ".csv" or not len(cells):
        return plan
    lines = csv_lines(path)
    if lines is None or len(lines) != len(plan.index):
        return plan
    labelled = rows.copy()
    labelled[cells] = [_RowAtLine(row, int(lines[row])) for row in rows[cells]]
    return dataclasses.replace(plan, issues=plan.issues.assign(row=labelled))


def _write(result: pd.DataFrame, output: Path, dry_run: bool) -> pd.Series:
    """Write ``result`` to ``output`` (keeping an earlier real result), say so, and end with
    the push's summary line; return its counts."""
    from ..display.outcome import needs_attention, summary_line, tally
    from ..files.resultfile import keep_earlier, write_result

    kept = None if dry_run else keep_earlier(output)
    write_result(result, output)
    if kept is not None:
        print(f"earlier result kept as {kept}")
    print(f"result written to {output}")
    print(_coloured(summary_line(result, _RESEND), needs_attention(tally(result))))
    return result["status"].value_counts()


def _coloured(line: str, bad: bool) -> str:
    """``line`` in red when ``bad``, else green, on a terminal that shows colour (not with
    ``NO_COLOR`` set, nor into a pipe or file)."""
    if os.environ.get("NO_COLOR") or not sys.stdout.isatty():
        return line
    return f"\033[{31 if bad else 32}m{line}\033[0m"


def _result_path(file: Path, output: str | None, dry_run: bool) -> Path:
    """``--output``, else ``users.result.csv`` beside ``users.csv``; a dry run writes its own
    file (``users.dryrun.csv``, ``out.dryrun.parquet``), never the request ids of a real run."""
    if output is None:
        return file.with_name(f"{file.stem}.{'dryrun' if dry_run else 'result'}.csv")
    path = Path(output)
    return path.with_name(f"{path.stem}.dryrun{path.suffix}") if dry_run else path


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "quickstart":
            from .quickstart import run

            run()
            return EXIT_OK
        return _push(args)
    except FynoPandasError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
