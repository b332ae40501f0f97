"""Resuming a push's adds and appends: what an unfinished identical push already did.

An add or an append counts twice when it is applied twice, and Fyno cannot be read back, so
the ledger records each row's adds and appends in flight before they are sent
(`fyno_pandas.ledger.inflight`), then acknowledged or failed. A push's *fingerprint* names its
adds and appends (`planning.steps.add_fingerprint`: every sendable row's distinct_id, op,
property, element index and value text) at one destination.

Rules, read from the pushes of the destination with the same fingerprint, oldest first:

- a push *finished* when, with the unfinished pushes before it since the last finished one,
  every row's adds were acknowledged (failed, pending or in-doubt rows leave it unfinished);
- when the latest of them did not finish and ``resume=True`` (the default), this push resumes
  them: rows whose adds were acknowledged send only their other steps (set, set_once, remove,
  unset), or are ``unchanged`` (with their request ids) when nothing else is left; rows whose
  adds are in flight without an ack are ``in_doubt`` and not sent, the rest is sent; the
  preview says "resuming push N: X acknowledged, Y in doubt (not resent), Z to send";
- a push still running (it holds its lease, `fyno_pandas.ledger.lease`) is never resumed: an
  identical push started meanwhile raises `FynoInputError` naming it (``resume=False`` sends
  all again alongside it);
- ``in_doubt="resend"`` sends the in-doubt rows again; ``"assume_stored"`` sends nothing for
  them, records them acknowledged in the ledger and shows them ``sent`` with no request id and
  the error column saying so;
- ``resume=False``, or a predecessor that finished, makes a new push that adds everything again
  (which is what add means); the preview says "the same adds were acknowledged at HH:MM:
  sending adds them again".

`fyno_pandas.retry_failed` records its push under the fingerprint of the push it retries, so a
later run sees the retry's acks.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd

from ..errors import FynoInputError
from ..ledger.adds import ACKED, IN_FLIGHT
from ..ledger.bridge import opened
from ..ledger.lease import running
from ..ledger.scope import Scope
from ..planning.plan import PushPlan
from ..planning.steps import NOT_IDEMPOTENT, add_fingerprint, add_keys, row_steps
from ..results.columns import STATUSES
from ..results.replay import made_by_earlier_push

if TYPE_CHECKING:
    from .request import PushRequest

__all__ = ["RE_ADD_WINDOW", "History", "Resume", "finish", "prepare", "re_adds"]

log = logging.getLogger("fyno_pandas")

_DOUBT = (
    "its adds or appends may have been applied by {n} (answer lost, 5xx or killed before "
    "the ack was recorded); not resent: check the user in Fyno, then retry_failed(..., "
    "in_doubt='resend') or in_doubt='assume_stored'"
)
#: How far back (seconds) a push's adds made again are said (`re_adds`), besides unfinished ones.
RE_ADD_WINDOW = 24 * 3600
_ASSUMED = "assumed stored (in_doubt='assume_stored'): no request sent, recorded acknowledged"


@dataclasses.dataclass(frozen=True)
class Resume:
    """What `prepare` decided for a plan: its fingerprint, the push resumed, and per row
    whether its adds were acknowledged, are in doubt (held) or assumed stored."""

    fingerprint: str | None = None
    note: str | None = None
    resumed: int | None = None
    keys: np.ndarray | None = None
    doubt: np.ndarray | None = None
    assumed: np.ndarray | None = None
    #: The earlier push most of whose adds this push makes again (`re_adds`), or None.
    re_adds: int | None = None
    #: Per row kept in doubt, what the ledger recorded of it landing (the result's ``applied``).
    applied: np.ndarray | None = None


class History(NamedTuple):
    """What the ledger holds of the pushes with a plan's fingerprint (`_walk`)."""

    #: The unfinished pushes since the last finished one, oldest first.
    chain: list[int]
    #: Their acks: {key: (request_id, at)}.
    acked: dict[str, tuple[str | None, float]]
    #: The keys in flight without an ack: {key: what landed of the row, or None if unknown}.
    flying: dict[str, str | None]
    #: When the last finished push finished (0: never).
    finished_at: float
    #: The ledger file (None: no ledger, or none yet).
    path: Any = None


def _walk(history: tuple[list, list], needed: set[str], replays: int | None) -> History:
    """The ledger's pushes and add rows of one fingerprint, read as `History`. A retry of
    push ``replays`` needs only its own rows, so from that push on they never finish a chain:
    what an earlier retry of the same result acknowledged stays acknowledged."""
    pushes, rows = history
    by_push: dict[int, list] = {}
    for push_id, key, state, rid, at, applied in rows:
        by_push.setdefault(push_id, []).append((key, state, rid, at, applied))
    chain: list[int] = []
    acked: dict[str, tuple[str | None, float]] = {}
    flying: dict[str, str | None] = {}
    finished_at = 0.0
    for push_id, _ in pushes:
        for key, state, rid, at, applied in by_push.get(push_id, ()):
            if state == ACKED:
                acked[key] = (rid, at)
            elif state == IN_FLIGHT:
                flying[key] = applied
        if needed <= acked.keys() and (replays is None or push_id < replays):
            finished_at = max((acked[k][1] for k in needed), default=finished_at)
            chain, acked, flying = [], {}, {}
        else:
            chain.append(push_id)
    return History(chain, acked, {k: v for k, v in flying.items() if k not in acked}, finished_at)


def prepare(plan: PushPlan, request: PushRequest) -> tuple[PushPlan, Resume]:
    """``plan`` narrowed to what is left of an unfinished identical push (see the module
    docstring), and what was decided. ``request`` says the ledger, ``resume`` and
    ``in_doubt``; a retry's request its ``fingerprint`` (in place of the plan's own) and the
    rows in ``doubt``."""
    if not NOT_IDEMPOTENT & set(plan.ops.values()):
        return plan, Resume()
    keys = add_keys(plan)
    fingerprint = request.fingerprint or add_fingerprint(plan, keys)
    history = _history(plan, request, keys, fingerprint)
    resume = request.adds.resume
    _refuse_running(history, resume)
    note = None
    if history.chain and not resume:
        first = history.chain[0]
        note = f"push {first} with the same adds did not finish: resume=False sends them all again"
        history = history._replace(acked={}, flying={})
    if not (history.chain and resume) and request.doubt is None and not plan.made:
        return plan, _new_push(plan, request.config, keys, history, fingerprint, note)
    return _resumed(plan, request, keys, history, fingerprint, note)


def _history(
    plan: PushPlan, request: PushRequest, keys: np.ndarray, fingerprint: str | None
) -> History:
    """The ledger's `History` of ``fingerprint`` at the request's destination."""
    found: tuple[list, list] = ([], [])
    path = None
    if fingerprint is not None and request.ledger is not None and request.config.wsid:
        with opened(request.ledger, create=False) as book:
            if book is not None:
                found = book.add_history(Scope.of(request.config), fingerprint)
                path = book.path
    needed = {k for k in keys[plan.sendable].tolist() if k is not None}
    return _walk(found, needed, request.replays)._replace(path=path)


def _refuse_running(history: History, resume: bool) -> None:
    """Refuse to resume a push still running (it holds its lease)."""
    path = history.path
    live = [p for p in history.chain if path is not None and running(path, p)]
    if live and resume:
        raise FynoInputError(
            f"push {live[-1]} with the same adds is still running (it holds its lease on "
            f"{path}): wait for it to end, then run this again to resume what it left; "
            "resume=False adds them all again alongside it",
            rule="push_running",
        )


def _new_push(
    plan: PushPlan,
    config: Any,
    keys: np.ndarray,
    history: History,
    fingerprint: str | None,
    note: str | None,
) -> Resume:
    """A push that resumes nothing: what its note says of the same adds made before."""
    if history.finished_at and note is None:
        at = time.strftime("%H:%M", time.localtime(history.finished_at))
        note = f"the same adds were acknowledged at {at}: sending adds them again"
    earlier = None
    if note is None and history.path is not None:
        earlier, note = re_adds(plan, keys, history.path, Scope.of(config), exclude=())
    return Resume(fingerprint, note, re_adds=earlier)


class _Rows(NamedTuple):
    """Per row of a resumed plan: adds acknowledged, in doubt, assumed stored, held back."""

    done: np.ndarray
    doubt: np.ndarray
    replayed: np.ndarray
    assumed: np.ndarray
    held: np.ndarray


def _rows(
    plan: PushPlan, keys: np.ndarray, history: History, in_flight: np.ndarray, request: PushRequest
) -> _Rows:
    """Which rows of ``plan`` (replaying what the ledger says landed) are in which state."""
    in_doubt = request.adds.in_doubt
    has = np.array([k is not None for k in keys], dtype=bool) & plan.sendable
    done = has & np.array([k in history.acked for k in keys], dtype=bool)
    replayed, finished = _replayed(plan)
    doubt = in_flight & ~done & ~replayed
    if request.doubt is not None:  # a row whose progress the ledger gave is replayed
        doubt |= plan.sendable & np.asarray(request.doubt, dtype=bool) & ~done & ~replayed
    nothing = np.zeros_like(doubt)
    assumed = (doubt if in_doubt == "assume_stored" else nothing) | finished
    held = (doubt if in_doubt != "resend" else nothing) | finished
    return _Rows(done, doubt, replayed, assumed, held)


def _resumed(
    plan: PushPlan,
    request: PushRequest,
    keys: np.ndarray,
    history: History,
    fingerprint: str | None,
    note: str | None,
) -> tuple[PushPlan, Resume]:
    """``plan`` resuming ``history``'s unfinished pushes (or replaying a retry's rows)."""
    in_doubt = request.adds.in_doubt
    has = np.array([k is not None for k in keys], dtype=bool) & plan.sendable
    in_flight = has & np.array([k in history.flying for k in keys], dtype=bool)
    if in_doubt != "keep":
        plan = _progress_from_ledger(plan, keys, history.flying, in_flight, in_doubt)
    rows = _rows(plan, keys, history, in_flight, request)
    first = history.chain[0] if history.chain else None
    why = _DOUBT.format(n=f"push {first}" if first else "the push retried")
    rids = np.array([history.acked.get(k, (None,))[0] for k in keys], dtype=object)
    # acknowledged rows send their other steps (set, set_once, remove, unset: only_changed
    # decided those); a row left with nothing to send is unchanged, with the adds' request ids
    adding = {p: ~rows.done for p, op in plan.ops.items() if op in NOT_IDEMPOTENT}
    rest = dataclasses.replace(plan, sendable=plan.sendable & ~rows.held).restrict(adding)
    narrowed = dataclasses.replace(
        rest,
        acked_request_ids=np.where(rows.done & rest.unchanged, rids, plan.acked_request_ids),
        skip_reasons=np.where(rows.held, why, plan.skip_reasons),
    )
    what = {"keep": "not resent", "resend": "resent", "assume_stored": "assumed stored"}
    note = note or (
        f"{f'resuming push {first}' if first else 'retrying'}: {int(rows.done.sum())} "
        f"acknowledged, {int((rows.doubt | rows.replayed).sum())} in doubt ({what[in_doubt]}), "
        f"{int(rest.sendable.sum())} to send"
    )
    doubt_kept = rows.held & ~rows.assumed
    # what the ledger says landed of each row kept in doubt, for its result's ``applied``
    applied = np.array(
        [history.flying.get(k) if k is not None else None for k in keys], dtype=object
    )
    applied[~doubt_kept] = None
    decided = Resume(fingerprint, note, first, keys, doubt_kept, rows.assumed, applied=applied)
    return narrowed, decided


def re_adds(
    plan: PushPlan, keys: np.ndarray, ledger: Any, scope: Scope, exclude: Iterable[int]
) -> tuple[int | None, str | None]:
    """The earlier push (unfinished, or started in the last `RE_ADD_WINDOW` seconds) more
    than half of whose add request keys this plan's sendable rows make again, and a note
    saying so (logged as a warning); (None, None) when there is none. A daily push of new
    increments has other values, so other keys: it is never named."""
    mine = {k for k in keys[plan.sendable].tolist() if k is not None}
    since = time.time() - RE_ADD_WINDOW
    with opened(ledger, create=False) as book:
        found = book.add_overlaps(scope, mine, since, sorted(exclude)) if book else []
    if not found or 2 * found[0][3] <= len(mine):
        return None, None
    push_id, started, ended, shared = found[0]
    at = time.strftime("%Y-%m-%d %H:%M", time.localtime(started))
    state = "started " + at + (", never finished" if ended is None else "")
    note = (
        f"{shared} of {len(mine)} rows add exactly what push {push_id} ({state}) added: "
        "sending adds them again, so each counts twice if that push's adds are stored "
        "(leave those rows out; to finish that push, retry_failed with its result, or run "
        "its frame again if it was one frame: a push in chunks is never resumed by a rerun)"
    )
    log.warning("%s", note)
    return push_id, note


def _progress_from_ledger(
    plan: PushPlan, keys: np.ndarray, flying: dict, rows: np.ndarray, in_doubt: str
) -> PushPlan:
    """``plan`` whose in-flight ``rows`` whose progress the ledger recorded replay it (a row a
    retry already replays keeps the retry's)."""
    made = dict(plan.made)
    for pos in np.flatnonzero(rows).tolist():
        offsets = made_by_earlier_push(flying[keys[pos]], in_doubt)
        if offsets is not None:
            made.setdefault(pos, offsets)
    return dataclasses.replace(plan, made=made)


def _replayed(plan: PushPlan) -> tuple[np.ndarray, np.ndarray]:
    """The rows a retry replays from what the push retried made of them (``plan.made``), and
    of those the ones left with no request to make."""
    replayed = np.zeros(len(plan.index), dtype=bool)
    finished = np.zeros(len(plan.index), dtype=bool)
    for pos, made in plan.made.items():
        replayed[pos] = plan.sendable[pos]
        finished[pos] = plan.sendable[pos] and not row_steps(plan, pos, made)
    return replayed, finished


def finish(
    result: pd.DataFrame, resume: Resume, ledger: Any = None, *, dry_run: bool = False
) -> pd.DataFrame:
    """``result`` with the held rows ``in_doubt`` and the assumed ones ``sent``; for a push
    that adds or appends, the summary says its ``fingerprint``, the push it ``resumed`` (or
    None) and the preview's note (``resume``). Assumed rows are recorded acknowledged in
    ``ledger`` (the push's open `Ledger`; None: not recorded); a dry run shows them
    ``dry_run``."""
    if resume.fingerprint is None:  # nothing added or appended: nothing to say
        return result
    summary = result.attrs.setdefault("fyno", {})
    summary.update(fingerprint=resume.fingerprint, resumed=resume.resumed, resume=resume.note)
    summary["re_adds"] = resume.re_adds
    if resume.doubt is None or resume.assumed is None:
        return result
    n = len(resume.doubt)
    status = result["status"].to_numpy(dtype=object, copy=True)
    error = result["error"].to_numpy(dtype=object, copy=True)
    rid = result["request_id"].to_numpy(dtype=object, copy=True)
    applied = result["applied"].to_numpy(dtype=object, copy=True)
    if resume.applied is not None:
        applied[:n][resume.doubt] = resume.applied[resume.doubt]
    status[:n][resume.doubt] = "in_doubt"
    status[:n][resume.assumed] = "dry_run" if dry_run else "sent"
    error[:n][resume.assumed] = _ASSUMED
    rid[:n][resume.assumed] = None
    changed = (("status", status), ("error", error), ("request_id", rid), ("applied", applied))
    for column, values in changed:
        result[column] = pd.Series(values, index=result.index, dtype=result[column].dtype)
    counts = result["status"].value_counts()
    summary.update({s: int(counts.get(s, 0)) for s in STATUSES})
    push_id = summary.get("push_id")
    if resume.assumed.any() and push_id is not None and ledger is not None and not dry_run:
        items = [(resume.keys[p], ACKED, None, None) for p in np.flatnonzero(resume.assumed)]
        ledger.record_adds_raw(None, push_id, [items])
    return result
