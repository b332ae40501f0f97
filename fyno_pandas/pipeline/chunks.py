"""`push_frames`: a table that arrives in chunks (CSV chunks, Arrow batches, Dask partitions)
pushed as one push: one set of types, one ledger push, one progress bar, one result.

While one chunk is sent the next is read and planned in a helper thread, so memory holds two
chunks at a time and the connections stay busy between chunks; with ``output=`` the result goes
to a file chunk by chunk as well.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..client.config import FynoConfig
from ..display.outcome import report
from ..display.preview import show_preview
from ..errors import FynoAuthError, FynoInputError, PushInterrupted
from ..files.resultfile import ResultWriter
from ..ledger.bridge import skip_acknowledged
from ..ledger.scope import Scope
from ..options.docs import takes
from ..planning.issues import plural
from ..planning.plan import PushPlan
from ..planning.steps import NOT_IDEMPOTENT, add_keys
from ..results.columns import empty_result
from ..sending.mode import for_plan
from ..sending.seeding import new_properties
from ..sending.sender import dry_run_result
from ..sending.session import PushSession
from ..sources.arrow import source_chunks
from . import run
from .mirror import MirrorSync, show_text
from .request import PushRequest
from .resume import re_adds
from .workflow import plan_frame

__all__ = ["push_chunks", "push_frames", "stored_types"]

log = logging.getLogger("fyno_pandas")


@takes("push_frames", PushRequest.of)
def push_frames(
    frames: Iterable[Any], id_col: Any, *, request: PushRequest
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
    frames : iterable of pandas.DataFrame, or an Arrow stream or dataset
        ``pd.read_csv(path, chunksize=N)``, a generator, Dask partitions (pyarrow batches in
        it converted one at a time); or anything exporting an Arrow stream, or a pyarrow
        dataset, read batch by batch (`fyno_pandas.sources.arrow`).
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
    outcome = push_chunks(frames, id_col, request)
    report(outcome, request.send.progress)
    return outcome


def push_chunks(
    frames: Iterable[Any], id_col: Any, request: PushRequest
) -> pd.DataFrame | dict[str, Any]:
    """`push_frames` of a request (a Dask worker's partitions too): one `run.run_push`."""
    loop = _ChunkLoop(id_col, request)
    quiet = dataclasses.replace(request.send, raise_on_interrupt=False)  # raised once done
    with _Chunks(request.output) as chunks, contextlib.closing(source_chunks(frames)) as frames:
        summary = run.run_push(
            dataclasses.replace(request, send=quiet),
            functools.partial(loop.run, enumerate(frames, start=1), chunks),
            recorded=loop.recorded(),
        )
    return loop.outcome(summary, chunks)


def _plan_next(
    numbered: Iterator[tuple[int, Any]], id_col: Any, request: PushRequest
) -> tuple[int, PushPlan] | None:
    """The next chunk and its plan, in the helper thread while the chunk before is sent;
    ``request`` holds the types of every chunk before as its ``schema``."""
    item = next(numbered, None)
    if item is None:
        return None
    number, frame = item
    return number, plan_frame(_as_frame(frame, number), id_col, request)


class _ChunkLoop:
    """One `push_frames`: the chunk loop's steps, and what it holds across chunks.

    Held across chunks: the types every chunk is held to (``types``), of those the ones no
    seed fixed yet in Fyno (``unfixed``), the plans' counts, the earlier pushes whose adds a
    chunk makes again (said once each) and the mirror sync. The look-ahead planning thread is
    handed a request of its own (the types as its schema), never this state.
    """

    def __init__(self, id_col: Any, request: PushRequest) -> None:
        self.id_col = id_col
        self.request = request
        self.types: dict[str, str] = dict(request.plan.schema or {})
        self.unfixed: set[str] = set()
        self.plan_counts: Counter[str] = Counter()
        self.re_added: set[int] = set()
        self.sync: MirrorSync | None = None
        self.interrupted = False

    def recorded(self) -> dict[str, Any]:
        """The options the ledger records with the push."""
        options = {k: v for k, v in self.request.plan_options().items() if k != "schema"}
        return {**options, "only_changed": self.request.only_changed, "chunks": True}

    def planning(self, session: PushSession | None) -> PushRequest:
        """The request a chunk is planned with: held to the types so far. Planning opens its
        own connection to the ledger file, so its reads never hold up the acks the sender
        records meanwhile; what Fyno holds is looked up once the chunk before is sent (a user
        in both chunks must see its acks)."""
        request = self.request
        book = request.ledger if session is None else getattr(session.ledger, "path", None)
        return dataclasses.replace(
            request,
            ledger=book,
            only_changed=request.only_changed and session is None,
            plan=dataclasses.replace(request.plan, schema=dict(self.types)),
        )

    def run(
        self,
        numbered: Iterator[tuple[int, Any]],
        chunks: _Chunks,
        session: PushSession | None,
    ) -> dict[str, Any]:
        """Plan each chunk ahead while the one before is sent, then the mirror; the summary."""
        with ThreadPoolExecutor(1, thread_name_prefix="fyno-plan") as ahead:
            upcoming = ahead.submit(_plan_next, numbered, self.id_col, self.planning(session))
            while (planned := self._wait(upcoming)) is not None:
                number, chunk = planned
                self._hold(chunk)
                upcoming = ahead.submit(_plan_next, numbered, self.id_col, self.planning(session))
                if not self._send(self._narrowed(chunk, number, session), chunks, session):
                    break
        self._mirror(session, chunks)
        if chunks.count == 0 and chunks.writer is not None:
            chunks.writer.write(empty_result())
        return session.summary() if session is not None else chunks.summed()

    def _wait(self, upcoming: Future[tuple[int, PushPlan] | None]) -> tuple[int, PushPlan] | None:
        try:
            return upcoming.result()
        except KeyboardInterrupt:
            log.warning("push interrupted while the next chunk was read or planned")
            self.interrupted = True
            return None

    def _hold(self, chunk: PushPlan) -> None:
        """Hold later chunks to ``chunk``'s types; show the mirror sync its users."""
        if self.request.mirror.mirror and self.sync is None:  # holders read before any send
            self.sync = MirrorSync(chunk, self.request.mirror.mirror_max_clear)
        elif self.sync is not None:
            self.sync.see(chunk)
        for prop, fyno_type in chunk.fyno_types.items():
            if prop not in self.types and prop not in chunk.known_types:
                self.unfixed.add(prop)
            self.types.setdefault(prop, fyno_type)

    def _narrowed(self, chunk: PushPlan, number: int, session: PushSession | None) -> PushPlan:
        """``chunk`` without what the ledger holds (now that the chunk before is sent),
        reported, and seeding the types no seed fixed yet."""
        request = self.request
        if session is not None and session.ledger is not None and request.only_changed:
            chunk = skip_acknowledged(chunk, session.ledger, request.config)
            chunk = dataclasses.replace(chunk, options={**chunk.options, "only_changed": True})
        _report(chunk, number, request, self.plan_counts)
        if session is not None:
            self.re_added |= _re_adds(
                chunk, session, request.config, self.re_added, request.preview
            )
        if self.unfixed & chunk.known_types.keys():  # held to them, but still new in Fyno
            known = {p: t for p, t in chunk.known_types.items() if p not in self.unfixed}
            chunk = dataclasses.replace(chunk, known_types=known)
        return chunk

    def _send(self, chunk: PushPlan, chunks: _Chunks, session: PushSession | None) -> bool:
        """Send ``chunk`` (a dry run's rows when no session); whether to go on."""
        if session is None:
            chunks.add(dry_run_result(chunk))
            return True
        try:
            result = session.send(chunk)
        except (FynoAuthError, PushInterrupted) as exc:
            chunks.add(exc.result)
            exc.with_result(chunks.result())
            raise
        chunks.add(result)
        self.unfixed -= stored_types(chunk, self.unfixed & new_properties(chunk).keys(), result)
        if result.attrs["fyno"]["interrupted"]:
            self.interrupted = True
            return False
        return True

    def _mirror(self, session: PushSession | None, chunks: _Chunks) -> None:
        """After the last chunk, clear the leavers through the same push."""
        if self.sync is not None:
            self.interrupted = _clear_leavers(
                self.sync, session, chunks, self.interrupted, self.request.preview
            )
        elif self.request.mirror.mirror:
            log.warning("mirror: no chunk was read, so nothing was cleared")

    def outcome(self, summary: dict[str, Any], chunks: _Chunks) -> pd.DataFrame | dict[str, Any]:
        """The result (or the summary, with ``output=``); `PushInterrupted` if stopped."""
        summary.update(chunks=chunks.count, types=self.types, plan=dict(self.plan_counts))
        summary["re_adds"] = sorted(self.re_added)
        if self.sync is not None:
            summary["mirror"] = self.sync.summary()
        summary["interrupted"] = self.interrupted
        log.info("push of %d chunks done: %s", chunks.count, summary)
        if chunks.writer is not None:
            summary["output"] = str(chunks.writer.path)
            outcome: pd.DataFrame | dict[str, Any] = summary
        else:
            outcome = chunks.result()
            outcome.attrs["fyno"] = summary
        if self.interrupted and self.request.send.raise_on_interrupt:
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
        exc.with_result(chunks.result() if chunks.writer is None else None)
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
        exc.with_result(chunks.result())
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


def _report(chunk: PushPlan, number: int, request: PushRequest, counts: Counter[str]) -> None:
    summary = chunk.summary()
    counts.update({k: v for k, v in summary.items() if isinstance(v, int) and k != "properties"})
    if number == 1 and request.preview:
        show_preview(chunk)
        mode = for_plan(chunk, request.send.concurrency, request.send.batch_size)
        show_text(f"Sending (chunk 1): {mode.describe()}")
    elif summary["values_dropped"] or summary["rows_skipped"]:
        rules = chunk.issues["rule"].value_counts().to_dict()
        log.warning(
            "chunk %d: %s dropped, %s skipped (%s); see the result's dropped column",
            number,
            plural(summary["values_dropped"], "value"),
            plural(summary["rows_skipped"], "row"),
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
