"""`push_frames`: a table that arrives in chunks (CSV chunks, Arrow batches, Dask partitions)
pushed as one push: one set of types, one ledger push, one progress bar, one result.

While one chunk is sent the next is read and planned in a helper thread, so memory holds two
chunks at a time and the connections stay busy between chunks; with ``output=`` the result goes
to a file chunk by chunk as well.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..client.config import FynoConfig
from ..display.preview import show_preview
from ..errors import FynoAuthError, FynoInputError, PushInterrupted
from ..files.resultfile import ResultWriter
from ..ledger.bridge import skip_acknowledged
from ..ledger.scope import Scope
from ..options.docs import takes
from ..options.model import Destination, PlanOptions, SendOptions, pick
from ..planning.plan import PushPlan
from ..planning.steps import NOT_IDEMPOTENT, add_keys
from ..results.columns import empty_result
from ..sending.mode import for_plan
from ..sending.seeding import new_properties
from ..sending.sender import dry_run_result
from ..sending.session import PushSession
from .mirror import MirrorSync, check_mirror, show_text
from .resume import re_adds
from .workflow import _plan

__all__ = ["push_frames"]

log = logging.getLogger("fyno_pandas")


@takes("push_frames")
def push_frames(
    frames: Iterable[Any], id_col: Any, **options: Any
) -> pd.DataFrame | dict[str, Any]:
    """Push a stream of DataFrames as one push, holding two chunks in memory at a time.

    The first chunk decides each property's type (with ``schema=`` and the types the ledger
    knows); the types are then held fixed, so a later chunk whose values disagree gets
    ``type_mismatch`` issues (its values are dropped and reported, never sent to switch the
    type). A property that is empty in every chunk so far is typed by the first chunk that
    has a value. A new property's type is fixed in Fyno by its seed (`fyno_pandas.sending.seeding`):
    one whose seed was not accepted (its rows failed) is seeded again by the next chunk that
    sets it, held to the same type. An id repeated in a later chunk is sent again: the later
    row wins, as it would in Fyno. The options are those of `fyno_pandas.push`, plus
    ``output``; ``max_rps`` and ``concurrency`` hold across all chunks; ``preview`` shows the
    first chunk's preview, and later chunks log a warning when values are dropped.

    Parameters
    ----------
    frames : iterable of pandas.DataFrame
        ``pd.read_csv(path, chunksize=N)``, a generator, Dask partitions; pyarrow record
        batches and tables are converted one at a time (``.to_pandas()``).
    id_col : hashable
        The column of distinct ids.

    Returns
    -------
    pandas.DataFrame or dict
        The result of every row read (indexed like the chunks), with the summary in
        ``.attrs["fyno"]``; with ``output=``, the summary alone. The summary adds
        ``chunks``, ``types`` (the types held fixed) and ``plan`` (the plans' counts summed).
        After Ctrl-C the push stops at the chunk being sent; later chunks are not in the
        result, and running the same push again resumes it through the ledger.

    Raises
    ------
    FynoConfigError, FynoInputError
        Before anything is sent for bad settings and options (`FynoOptionError` for a name
        it does not take); `FynoInputError` also for a chunk that is not a table or that the
        plan rejects (earlier chunks stay sent).
    FynoAuthError
        Fyno refused the key; ``.result`` holds the rows of the chunks sent so far (with
        ``output=``, the file holds those before the failing chunk's).
    PushInterrupted
        Only with ``raise_on_interrupt=True``: Ctrl-C; ``.result`` as with ``FynoAuthError``,
        or the summary with ``output=``.
    """
    return _push_frames(frames, id_col, options)


def _push_frames(
    frames: Iterable[Any], id_col: Any, o: dict[str, Any]
) -> pd.DataFrame | dict[str, Any]:
    """`push_frames` with ``o`` holding every option of `push_frames`, checked."""
    send = pick(o, SendOptions)
    dry_run = send.pop("dry_run")  # a PushSession always sends
    only_changed, preview, output = o["only_changed"], o["preview"], o["output"]
    where = pick(o, Destination)
    config = FynoConfig.resolve(**where, require_credentials=not dry_run)
    check_mirror(o)
    resolved = {name: getattr(config, name) for name in where}
    options = pick(o, PlanOptions)
    ledger = o["ledger"]
    types = dict(options.pop("schema", None) or {})  # what every chunk is held to
    unfixed: set[str] = set()  # of those, the types a chunk planned and no seed fixed yet
    chunks = _Chunks(output)
    plan_counts: Counter[str] = Counter()
    re_added: set[int] = set()  # earlier pushes whose adds a chunk makes again (said once each)
    with ExitStack() as stack:
        stack.enter_context(chunks)
        session = None
        if not dry_run:
            recorded = {**options, "only_changed": only_changed, "chunks": True}
            # a Dask cluster's partitions share the destination's rate (`fyno_pandas.dask`)
            share = o.get("_rate_share", 1)
            session = stack.enter_context(
                PushSession(
                    config,
                    ledger=ledger,
                    options=recorded,
                    rate_share=share,
                    **{**send, "raise_on_interrupt": False},  # raised below, once the rest is done
                )
            )
        # Planning opens its own connection to the ledger file, so its reads never hold up
        # the acks the sender records meanwhile.
        book = ledger if session is None else getattr(session.ledger, "path", False)
        numbered = enumerate(frames, start=1)

        def plan_next() -> tuple[int, PushPlan] | None:
            # In the helper thread, while the chunk before is sent; ``types`` was updated from
            # every earlier chunk before this was submitted. What Fyno holds is looked up only
            # once the chunk before is sent (below): a user in both chunks must see its acks.
            item = next(numbered, None)
            if item is None:
                return None
            number, frame = item
            chosen = {"ledger": book, "only_changed": only_changed and session is None}
            return number, _plan(
                _as_frame(frame, number),
                id_col,
                {**resolved, **options, **chosen, "schema": dict(types)},
            )

        interrupted = False
        sync: MirrorSync | None = None
        with ThreadPoolExecutor(1, thread_name_prefix="fyno-plan") as ahead:
            upcoming = ahead.submit(plan_next)
            while True:
                try:
                    planned = upcoming.result()
                except KeyboardInterrupt:
                    log.warning("push interrupted while the next chunk was read or planned")
                    interrupted = True
                    break
                if planned is None:
                    break
                number, chunk = planned
                if o["mirror"] and sync is None:  # the ledger's holders, read before any send
                    sync = MirrorSync(chunk, o)
                elif sync is not None:
                    sync.see(chunk)
                for prop, fyno_type in chunk.fyno_types.items():
                    if prop not in types and prop not in chunk.known_types:
                        unfixed.add(prop)
                    types.setdefault(prop, fyno_type)
                upcoming = ahead.submit(plan_next)
                if session is not None and session.ledger is not None and only_changed:
                    chunk = skip_acknowledged(chunk, session.ledger, config)
                    chunk = replace(chunk, options={**chunk.options, "only_changed": True})
                _report(chunk, number, preview, plan_counts, send)
                if session is not None:
                    re_added |= _re_adds(chunk, session, config, re_added, preview)
                if unfixed & chunk.known_types.keys():  # held to them, but still new in Fyno
                    known = {p: t for p, t in chunk.known_types.items() if p not in unfixed}
                    chunk = replace(chunk, known_types=known)
                if session is None:
                    chunks.add(dry_run_result(chunk))
                    continue
                try:
                    result = session.send(chunk)
                except (FynoAuthError, PushInterrupted) as exc:
                    chunks.add(exc.result)
                    exc.result = chunks.result()
                    raise
                chunks.add(result)
                unfixed -= stored_types(chunk, unfixed & new_properties(chunk).keys(), result)
                if result.attrs["fyno"]["interrupted"]:
                    interrupted = True
                    break
        if sync is not None:
            interrupted = _clear_leavers(sync, session, chunks, interrupted, preview)
        elif o["mirror"]:
            log.warning("mirror: no chunk was read, so nothing was cleared")
        if chunks.count == 0 and chunks.writer is not None:
            chunks.writer.write(empty_result())
        summary = session.summary() if session is not None else chunks.summed()
    summary.update(chunks=chunks.count, types=types, plan=dict(plan_counts))
    summary["re_adds"] = sorted(re_added)
    if sync is not None:
        summary["mirror"] = sync.summary()
    summary["interrupted"] = interrupted
    log.info("push of %d chunks done: %s", chunks.count, summary)
    if output is not None:
        summary["output"] = str(chunks.writer.path)  # type: ignore[union-attr]
        outcome: pd.DataFrame | dict[str, Any] = summary
    else:
        outcome = chunks.result()
        outcome.attrs["fyno"] = summary
    if interrupted and send["raise_on_interrupt"]:
        raise PushInterrupted(outcome)
    return outcome


def _clear_leavers(
    sync: MirrorSync, session: PushSession | None, chunks: _Chunks, interrupted: bool, show: bool
) -> bool:
    """After the last chunk, clear the leavers through the same push (none after Ctrl-C);
    return whether the push was interrupted."""
    if interrupted:
        sync.interrupted = True
        log.warning("mirror: the push was interrupted before its last chunk; nothing cleared")
        return True
    try:
        sync.finish()
    except FynoInputError as exc:
        exc.result = chunks.result() if chunks.writer is None else None
        raise
    if show:
        show_text(sync.text())
    if session is None:
        if len(sync.clear.index):  # type: ignore[union-attr]
            chunks.add(sync.dry_rows(), counted=False)
        return False
    try:
        cleared = sync.send(session)
    except (FynoAuthError, PushInterrupted) as exc:
        chunks.add(exc.result, counted=False)
        exc.result = chunks.result()
        raise
    if len(cleared):
        chunks.add(cleared, counted=False)
    return bool(cleared.attrs.get("fyno", {}).get("interrupted"))


def stored_types(plan: PushPlan, new: Iterable[str], result: pd.DataFrame) -> set[str]:
    """Of the ``new`` properties ``plan`` seeded, those whose type is fixed in Fyno: a row
    setting one was accepted (`fyno_pandas.sending.seeding` fails every row of a property whose seed
    was not accepted). A seed accepted whose rows all failed counts as not fixed: the next
    chunk seeds it again, with a value of the same type."""
    sent = result["status"].to_numpy(dtype=object) == "sent"
    dropped = result["dropped"].to_numpy(dtype=object)
    return {
        p
        for p in new
        if any(
            p not in dropped[i]
            for i in np.flatnonzero(sent & np.not_equal(plan.fragments[p], None))
        )
    }


def _as_frame(frame: Any, number: int) -> pd.DataFrame:
    if isinstance(frame, pd.DataFrame):
        return frame
    if hasattr(frame, "to_pandas"):  # pyarrow RecordBatch and Table
        return frame.to_pandas()
    raise FynoInputError(
        f"chunk {number} is a {type(frame).__name__}, not a pandas DataFrame",
        rule="invalid_option",
    )


def _re_adds(
    chunk: PushPlan, session: PushSession, config: FynoConfig, named: set[int], show: bool
) -> set[int]:
    """The earlier push most of whose adds ``chunk`` makes again (`pipeline.resume.re_adds`),
    said once per push."""
    if session.ledger is None or not NOT_IDEMPOTENT & set(chunk.ops.values()):
        return set()
    exclude = {session.push_id, *named}
    earlier, note = re_adds(chunk, add_keys(chunk), session.ledger.path, Scope.of(config), exclude)
    if note is not None and show:
        show_text(note)
    return set() if earlier is None else {earlier}


def _report(
    chunk: PushPlan, number: int, preview: bool, counts: Counter[str], send: dict[str, Any]
) -> None:
    summary = chunk.summary()
    counts.update({k: v for k, v in summary.items() if isinstance(v, int) and k != "properties"})
    if number == 1 and preview:
        show_preview(chunk)
        mode = for_plan(chunk, send["concurrency"], send["batch_size"])
        show_text(f"Sending (chunk 1): {mode.describe()}")
    elif summary["values_dropped"] or summary["rows_skipped"]:
        rules = chunk.issues["rule"].value_counts().to_dict()
        log.warning(
            "chunk %d: %d values dropped, %d rows skipped (%s); see the result's dropped column",
            number,
            summary["values_dropped"],
            summary["rows_skipped"],
            ", ".join(f"{rule}: {n}" for rule, n in rules.items()),
        )


class _Chunks:
    """The chunks' results: appended to the output file, or kept to be joined at the end."""

    def __init__(self, output: str | Path | None) -> None:
        self.writer = ResultWriter(output) if output is not None else None
        self.kept: list[pd.DataFrame] = []
        self.count = 0
        self._sums: Counter[str] = Counter()

    def __enter__(self) -> _Chunks:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.writer is not None:
            self.writer.close()

    def add(self, result: pd.DataFrame, counted: bool = True) -> None:
        self.count += counted
        self._sums.update(
            {k: v for k, v in result.attrs["fyno"].items() if type(v) is int}  # not bools
        )
        if self.writer is not None:
            self.writer.write(result)
        else:
            self.kept.append(result)

    def summed(self) -> dict[str, Any]:
        return dict(self._sums)

    def result(self) -> pd.DataFrame:
        if not self.kept:
            return empty_result()
        joined = pd.concat(self.kept) if len(self.kept) > 1 else self.kept[0]
        joined.attrs = {}
        return joined
