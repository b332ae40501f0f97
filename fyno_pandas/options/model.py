"""The options of every entry point, declared once: type, default, one line of doc, check, flag.

Each group is a frozen dataclass (notion-sdk-py's ``ClientOptions``); each field carries its
type (the annotation), its default, and in its metadata (`opt`) one line of doc, its check and
its command-line spelling (`Flag`s, or none: Python-only). Everything else is derived from
here: the entry points' signatures and docs (`fyno_pandas.options.docs.takes`), the checks (run
once, when a public entry point is called: `check_options`), the CLI's flags and the documentation's
table of options. A new option is one new field.

The groups follow who consumes the values:

- `Destination` (wsid, api_key, version, endpoint): where to send, resolved as a whole by
  `FynoConfig.resolve` against the ``FYNO_*`` variables, which also judges them
  (`FynoConfigError`): an environment fallback and "plain http only to loopback" are rules of
  the four together, not of one value;
- `PlanOptions`: exactly the keywords of `fyno_pandas.planning.build.build_plan`: pure, and what a
  Dask worker needs to plan its partition;
- `LedgerOptions` (ledger, only_changed): the memory that planning reads and sending records;
  `push_plan` takes ``ledger`` only, since ``only_changed`` was applied by the plan;
- `MirrorOptions` (mirror, mirror_max_clear): what the one-call pushes clear after sending
  (`fyno_pandas.pipeline.mirror`);
- `AddOptions` (resume, in_doubt): what becomes of an unfinished push's adds and appends
  (`fyno_pandas.pipeline.resume`);
- `SendOptions`: exactly the keywords of `fyno_pandas.push_plan` (and, but for ``dry_run``, of
  `PushSession`), the advanced ones last;
- `PushOptions` (preview, output): what the one-call pushes add around sending.
"""

# ruff: noqa: RUF009  (`opt` returns a dataclasses.field, which ruff cannot see)

import dataclasses
import os
from collections.abc import Callable, Hashable, Mapping, Sequence
from datetime import tzinfo
from typing import Any, Literal

from ..errors import FynoOptionError
from . import checks
from .fields import Checked, Flag, Option, opt
from .retry import RetryPolicy

__all__ = [
    "ENTRY_POINTS",
    "GROUPS",
    "MAX_BATCH_SIZE",
    "MAX_CONCURRENCY",
    "MAX_TIMEOUT",
    "OPTIONS",
    "RECORDED",
    "AddOptions",
    "Destination",
    "Flag",
    "LedgerOptions",
    "MirrorOptions",
    "Option",
    "PlanOptions",
    "PushOptions",
    "SendOptions",
    "check_options",
    "checked_groups",
    "defaults",
    "names",
    "pick",
]

#: Fyno documents no batch limit; past this a single failure costs too many rows.
MAX_BATCH_SIZE = 1000
MAX_CONCURRENCY = 256
#: Seconds: proxies and load balancers drop an idle connection long before an hour, and past
#: about 9.2e9 seconds the socket layer overflows.
MAX_TIMEOUT = 3600

Auto = Literal["auto"]
Nulls = Literal["skip", "unset", "error"]
LongStrings = Literal["report", "truncate", "error"]
Version = Literal["live", "test"]
InDoubt = Literal["keep", "resend", "assume_stored"]


@dataclasses.dataclass(frozen=True)
class Destination(Checked):
    """Where to send; `FynoConfig.resolve` fills and judges the four together."""

    wsid: str | None = opt(
        None,
        "Workspace id; default ``$FYNO_WSID`` (needed to send and to read the ledger).",
        Flag("--wsid", "workspace id (default $FYNO_WSID)"),
    )
    api_key: str | None = opt(
        None, "API key; default ``$FYNO_API_KEY``; never printed, logged or stored."
    )
    version: Version | None = opt(
        None,
        "``live`` or ``test``; default ``$FYNO_VERSION``, else ``live``.",
        Flag("--version", "default $FYNO_VERSION or live"),
    )
    endpoint: str | None = opt(
        None,
        "API base URL; default ``$FYNO_ENDPOINT``, else Fyno's; plain http only to loopback.",
        Flag("--endpoint", "API base URL (default $FYNO_ENDPOINT or Fyno's)"),
    )


@dataclasses.dataclass(frozen=True)
class PlanOptions(Checked):
    """How the frame's cells become property values: `build_plan`'s keywords."""

    columns: Hashable | Sequence[Hashable] | None = opt(
        None,
        "The columns to send, in this order; default every column but ``id_col``.",
        Flag("--columns", "comma-separated properties to send (default: all)", checks.comma_list),
    )  # `build_plan` checks them against the frame
    schema: Mapping[str, str] | None = opt(
        None,
        "``{property: fyno_type}`` fixed by you; wins over the dtype and the ledger.",
        Flag("--schema", "COLUMN=TYPE, repeatable (e.g. zip=string)", checks.pair, repeat=dict),
        check=checks.schema,
    )
    naive_tz: str | tzinfo = opt(
        "UTC",
        "The time zone naive datetimes are read in (they are sent in UTC).",
        Flag("--naive-tz", "zone for naive datetimes (default UTC)"),
        check=checks.time_zone,
    )
    nulls: Nulls = opt(
        "skip",
        "Missing values are left out, cleared through Fyno's unset, or an error.",
        Flag("--nulls"),
        check=checks.one_of(Nulls),
    )
    long_strings: LongStrings = opt(
        "report",
        "Strings over 255 characters are left out and reported, cut to 255, or an error.",
        Flag("--long-strings"),
        check=checks.one_of(LongStrings),
    )
    ops: Mapping[str, str] | None = opt(
        None,
        "``{column: op}``: set, set_once, add, append or remove (`planning.steps`); default set.",
        Flag("--op", "COLUMN=OP, repeatable (e.g. logins=add)", checks.pair, repeat=dict),
        check=checks.ops,
    )
    unset: Sequence[str] | None = opt(
        None,
        "Properties to unset for every row with an id (none of them a sent column).",
        Flag("--unset", "comma-separated properties to unset", checks.comma_list),
        check=checks.names,
    )


@dataclasses.dataclass(frozen=True)
class LedgerOptions(Checked):
    """The local memory of what Fyno acknowledged."""

    ledger: Any = opt(
        None,
        "A `Ledger`, a file path, or False for none; None: the default file (`push_plan`: "
        "the plan's).",
        Flag("--ledger", "ledger file (default $FYNO_PANDAS_HOME/ledger.sqlite)"),
        Flag("--no-ledger", "do not remember what was sent", const=False),
    )  # `choose_ledger` judges it: a `Ledger` is of the I/O floor, above this module
    only_changed: bool = opt(
        True,
        "Send only values the ledger does not hold as acknowledged; the rest is unchanged.",
        Flag("--all", "resend values acknowledged earlier to this ledger", const=False),
        check=checks.flag,
    )


@dataclasses.dataclass(frozen=True)
class MirrorOptions(Checked):
    """Mirror sync: after the push, clear the pushed properties of users not in the frame."""

    mirror: bool = opt(
        False,
        "After the push, unset the pushed properties of users the ledger says hold them and "
        "the frame does not name.",
        Flag("--mirror", "clear the properties of users no longer in the frame", const=True),
        check=checks.flag,
    )
    mirror_max_clear: int | None = opt(
        None,
        "Refuse a mirror push that would clear more users than this; None: half of those "
        "holding the properties.",
        Flag("--mirror-max-clear", "most users a mirror push may clear", int),
        check=checks.integer(0, optional=True),
    )


@dataclasses.dataclass(frozen=True)
class AddOptions(Checked):
    """Adds and appends (not idempotent): resuming an unfinished push, rows in doubt."""

    resume: bool = opt(
        True,
        "Resume the unfinished push with the same adds and appends (`pipeline.resume`); "
        "False: a new push.",
        Flag("--no-resume", "send every add again as a new push", const=False),
        check=checks.flag,
    )
    in_doubt: InDoubt = opt(
        "keep",
        "Adds that may have landed: keep them in doubt (not sent), resend them, or mark them "
        "stored.",
        Flag("--resend-in-doubt", "resend adds and appends in doubt", const="resend"),
        check=checks.one_of(InDoubt),
    )


@dataclasses.dataclass(frozen=True)
class SendOptions(Checked):
    """How the requests go out: `push_plan`'s keywords."""

    concurrency: int | Auto = opt(
        "auto",
        "Requests in flight: ``auto`` starts at 16 and adapts to the round trips up to 64; N "
        f"(1..{MAX_CONCURRENCY}): N throughout.",
        Flag("--concurrency", "requests in flight: auto or N", checks.count_or_auto),
        check=checks.auto_or(checks.integer(1, MAX_CONCURRENCY)),
    )
    max_rps: float | None = opt(
        None,
        "Requests per second at most, for all workers together.",
        Flag("--max-rps", "cap on requests per second", float),
        check=checks.positive(optional=True),
    )
    batch_size: int | Auto | None = opt(
        "auto",
        "``auto``: per row up to 50 rows, else batches (see Performance); None: one "
        f"properties/set per row; N (1..{MAX_BATCH_SIZE}): properties/batch of N.",
        Flag(
            "--batch-size",
            "rows per properties/batch request: auto, none or N",
            checks.count_or_auto,
        ),
        check=checks.auto_or(checks.integer(1, MAX_BATCH_SIZE, optional=True)),
    )
    timeout: float = opt(
        30,
        f"Seconds allowed for connecting and for each read (at most {MAX_TIMEOUT}).",
        check=checks.positive(high=MAX_TIMEOUT),
    )
    max_retries: int = opt(
        8,
        "Retries of connection errors, timeouts and 5xx per request (429s count apart).",
        Flag("--max-retries", "retries of 5xx and timeouts", int),
        check=checks.integer(0),
    )
    dry_run: bool = opt(
        False,
        "Send nothing (no credentials needed); sendable rows get status ``dry_run``.",
        Flag("--dry-run", "plan and preview, send nothing", const=True),
        check=checks.flag,
    )
    progress: bool = opt(
        True,
        "Show a ``tqdm.auto`` progress bar.",
        Flag("--no-progress", "no progress bar", const=False),
        check=checks.flag,
    )
    session: Any = opt(None, "A ``requests.Session`` to send through (proxies, certificates).")
    retry_policy: RetryPolicy | None = opt(
        None,
        "Backoff and 429 settings (``max_retries`` overrides its own).",
        check=checks.retry_policy,
    )
    raise_on_interrupt: bool = opt(
        True,
        "On Ctrl-C raise `PushInterrupted` (a `KeyboardInterrupt` carrying ``.result``); False: "
        "return the partial result.",
        check=checks.flag,
    )
    on_ack: Callable[[Any, str | None], None] | None = opt(
        None,
        "``on_ack(positions, request_id)``, called per acknowledged request.",
        check=checks.hook,
    )


@dataclasses.dataclass(frozen=True)
class PushOptions(Checked):
    """What the one-call pushes add around sending."""

    preview: bool = opt(
        True,
        "Show the plan's preview before sending (in chunks: the first chunk's).",
        check=checks.flag,
    )
    output: str | os.PathLike[str] | None = opt(
        None,
        "Write the result to this CSV or Parquet file chunk by chunk; return the summary.",
        Flag("--output", "result file (.csv, .parquet or .pq)"),
        check=checks.path,
    )


GROUPS: tuple[type, ...]
GROUPS = (
    Destination,
    PlanOptions,
    LedgerOptions,
    MirrorOptions,
    AddOptions,
    SendOptions,
    PushOptions,
)


def _declared() -> dict[str, Option]:
    found = {}
    for group in GROUPS:
        for f in dataclasses.fields(group):
            meta = f.metadata
            found[f.name] = Option(
                f.name, group, f.type, f.default, meta["doc"], meta["check"], meta["flags"]
            )
    return found


#: Every option by name, in declaration order.
OPTIONS: dict[str, Option] = _declared()


def names(*groups: type) -> tuple[str, ...]:
    return tuple(f.name for group in groups for f in dataclasses.fields(group))


_PLAN = names(Destination, PlanOptions, LedgerOptions)
_PUSH = (*_PLAN, *names(MirrorOptions), *names(AddOptions), *names(SendOptions), "preview")
#: The options each public entry point takes, in signature order (``ddf.fyno.plan`` takes
#: ``plan``'s, ``ddf.fyno.push`` ``push_frames``').
ENTRY_POINTS: dict[str, tuple[str, ...]] = {
    "plan": _PLAN,
    "push": _PUSH,
    "retry_failed": _PUSH,
    "push_plan": (*names(SendOptions), "ledger", *names(AddOptions)),
    "push_frames": (*_PUSH, "output"),
    "push_query": (*_PUSH, "output"),
}
#: The send options recorded with a push in the ledger, beside the plan's options.
RECORDED = ("concurrency", "max_rps", "batch_size")
#: Where an entry point's default differs from the declared one.
_DEFAULTS: dict[str, dict[str, Any]] = {"retry_failed": {"preview": False}}


def defaults(entry: str) -> dict[str, Any]:
    """``entry``'s options with their defaults."""
    return {n: OPTIONS[n].default for n in ENTRY_POINTS[entry]} | _DEFAULTS.get(entry, {})


def pick(values: Mapping[str, Any], *groups: type, entry: str | None = None) -> dict[str, Any]:
    """The ``values`` of ``groups``' options, or of the options ``entry`` takes."""
    wanted = ENTRY_POINTS[entry] if entry is not None else names(*groups)
    return {k: values[k] for k in wanted if k in values}


def check_options(entry: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """Every option of ``entry``: the ``given`` ones checked, the rest defaulted.

    Raises `FynoOptionError` for a name ``entry`` does not take, `FynoInputError` for a value
    its option's check rejects. Constructing each group runs its fields' checks. Numbers of
    numpy types are numbers; they come back as Python numbers.
    """
    values, _ = checked_groups(entry, given)
    return values


def checked_groups(entry: str, given: Mapping[str, Any]) -> tuple[dict[str, Any], dict[type, Any]]:
    """`check_options`' values, and each group built of them (its checks run once, here)."""
    for name in given:
        if name not in ENTRY_POINTS[entry]:
            raise unknown_option(entry, name)
    values = defaults(entry) | {name: checks.python_number(v) for name, v in given.items()}
    return values, {group: group(**pick(values, group)) for group in GROUPS}


def unknown_option(entry: str, name: str) -> FynoOptionError:
    """The error for ``name`` passed to ``entry``, naming the closest option of any group."""
    takes = [e for e, known in ENTRY_POINTS.items() if name in known]
    if takes:
        message = f"{entry} does not take option {name!r} (it is an option of {', '.join(takes)})"
    else:
        message = f"unknown option {name!r}"
        close = checks.closest(name, OPTIONS)
        if close:
            message += f"; did you mean {close[0]!r}?"
            if close[0] not in ENTRY_POINTS[entry]:
                message += f" ({entry} does not take it either)"
        else:
            message += f"; {entry} takes {', '.join(ENTRY_POINTS[entry])}"
    return FynoOptionError(message, rule="unknown_option")
