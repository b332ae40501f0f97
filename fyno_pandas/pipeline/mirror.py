"""Mirror sync (``mirror=True``): after a push, unset what the users who left the frame hold.

A segment pushed every week must lose its leavers, or every campaign keeps targeting them.
Fyno cannot be asked who holds a property, so the ledger answers
(`fyno_pandas.ledger.leavers`): a user whose latest acknowledged state for one of the pushed
``set``/``set_once`` properties is a value, and whom no row of the frame names (skipped rows
count: ``nulls=`` decides what a named user's empty cell does), has that property unset.

`MirrorSync` follows one push: built from the first plan (it reads the ledger's holders once,
and refuses add/append/remove columns and a push without a ledger), it is shown every later
chunk's ids (`see`), then `finish` builds the clearing plan (unsets only, one row per leaver)
and refuses it above ``mirror_max_clear`` before any clear is sent. The clears go through the
push's own `PushSession` (one ledger push, one bar; their acks are recorded as unsets) and
their rows are appended to the result after the input rows, with ``mirror_clear`` True,
labelled after the input's largest integer label (or by their distinct id when the index is
not of integers).
"""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import FynoAuthError, FynoInputError, PushInterrupted
from ..ledger.bridge import opened
from ..ledger.leavers import Holders, read_holders
from ..ledger.scope import Scope
from ..planning.build import build_plan
from ..results.columns import STATUSES
from ..sending.sender import dry_run_result

if TYPE_CHECKING:
    from ..planning.plan import PushPlan
    from ..sending.session import PushSession

__all__ = ["MirrorSync", "MirrorWarning", "retry_clears", "show_text"]

log = logging.getLogger("fyno_pandas")

#: Operations whose properties mirror clears, and those it refuses (they are not states).
MIRRORED_OPS = ("set", "set_once")
REFUSED_OPS = ("add", "append", "remove")
_ID = "$distinct_id"  # the clearing frame's id column: no property name starts with "$"
_NAMED = 5  # leavers named in the preview


class MirrorWarning(UserWarning):
    """Mirror sync cannot do what it was asked (a ledger with no history): nothing cleared."""


def mirrored_properties(plan: PushPlan) -> list[str]:
    """The plan's ``set``/``set_once`` properties (not those of ``unset=``); a refused op
    (add, append, remove) is an error."""
    by_name = {str(k): v for k, v in (plan.options.get("ops") or {}).items()}
    for name in plan.options.get("unset") or ():
        by_name[str(name)] = "unset"
    refused = [p for p in plan.properties if by_name.get(p, "set") in REFUSED_OPS]
    if refused:
        named = ", ".join(f"{p!r} ({by_name[p]})" for p in refused)
        raise FynoInputError(
            f"mirror=True clears set and set_once properties only, not {named}: an add, "
            "append or remove is not a state a leaver could lose; push those columns "
            "without mirror",
            column=refused[0],
            rule="mirror",
        )
    return [p for p in plan.properties if by_name.get(p, "set") in MIRRORED_OPS]


def _ledger_of(plan: PushPlan) -> Any:
    if plan.ledger is False:
        raise FynoInputError("mirror=True needs the ledger; drop ledger=False", rule="mirror")
    if plan.config is None or plan.config.wsid is None:
        raise FynoInputError(
            "mirror=True reads the ledger of one destination: the workspace (wsid) is missing",
            rule="mirror",
        )
    return plan.ledger


def _clearing_plan(
    base: tuple[Any, Any, dict[str, str]],
    ids: pd.Index,
    held: np.ndarray,
    index: pd.Index,
    props: Sequence[str],
) -> PushPlan:
    """Unsets only: row k clears the properties ``held[k]`` says user ``ids[k]`` holds; ``base``
    is the push's (config, ledger, known types)."""
    config, ledger, known = base
    frame = pd.DataFrame(
        {_ID: pd.Series(np.asarray(ids, dtype=object), dtype=object)}
        | {p: pd.Series([None] * len(ids), dtype=object) for p in props}
    )
    frame.index = index
    plan = build_plan(frame, _ID, columns=list(props), nulls="unset", config=config)
    plan = plan.restrict({p: held[:, k] for k, p in enumerate(props)})
    return replace(plan, ledger=ledger, known_types=dict(known))


def _base(plan: PushPlan) -> tuple[Any, Any, dict[str, str]]:
    """What a clearing plan takes from the push's plan (not its rows: a chunk is let go)."""
    return plan.config, _ledger_of(plan), dict(plan.known_types)


class MirrorSync:
    """One push's mirror sync; see the module docstring.

    Parameters
    ----------
    first : PushPlan
        The push's (first) plan: its properties, destination, ledger and ids.
    max_clear : int, optional
        ``mirror_max_clear``: the most users it may clear (None: half of the holders).
    """

    def __init__(self, first: PushPlan, max_clear: int | None) -> None:
        self.properties = mirrored_properties(first)
        self.base = _base(first)
        self.destination = first.config.label  # type: ignore[union-attr]
        with opened(self.base[1], create=False) as book:
            if book is None:  # no ledger file yet
                nothing = np.zeros((0, len(self.properties)), dtype=bool)
                self.holders = Holders(tuple(self.properties), pd.Index([]), nothing, 0)
            else:
                scope = Scope.of(first.config)
                self.holders = read_holders(book, scope, self.properties)
        self.staying = np.zeros(len(self.holders), dtype=bool)
        self._limit = max_clear
        self._labels: list[Any] = []
        self._integer = True
        self.clear: PushPlan | None = None
        self.interrupted = False
        if not self.holders.known_users:
            warnings.warn(self.no_history(), MirrorWarning, stacklevel=4)
        self.see(first)

    @property
    def history(self) -> bool:
        return self.holders.known_users > 0

    def no_history(self) -> str:
        return (
            f"mirror=True: the ledger has no history for {self.destination}, so it cannot tell "
            "who holds these properties: nothing will be cleared (a fresh container? keep the "
            "ledger file between runs, e.g. ledger='/persistent/ledger.sqlite')"
        )

    @property
    def limit(self) -> int:
        """The most users this push may clear (default: half of those holding the properties,
        rounded down: clearing more than half is refused)."""
        return len(self.holders) // 2 if self._limit is None else int(self._limit)

    def see(self, plan: PushPlan) -> None:
        """Users named by ``plan`` (any row, skipped or not) stay; its labels come before."""
        self.staying[self.holders.named(plan.distinct_ids)] = True
        index = plan.index
        if not pd.api.types.is_integer_dtype(index.dtype):
            self._integer = self._integer and len(index) == 0
        elif len(index):
            self._labels.append(int(index.max()))

    def finish(self) -> PushPlan:
        """The clearing plan, refused above the limit (`FynoInputError`, nothing cleared)."""
        ids, held = self.holders.leaving(self.staying)
        if len(ids) > self.limit:
            raise FynoInputError(
                f"mirror=True would clear {len(ids):,} of the {len(self.holders):,} users "
                f"holding {', '.join(map(repr, self.properties))}, above the limit of "
                f"{self.limit:,g}{' (half of them)' if self._limit is None else ''}: is this "
                "the whole segment? If so, raise mirror_max_clear",
                rule="mirror_max_clear",
            )
        if self._integer:
            start = max(self._labels) + 1 if self._labels else 0
            index: pd.Index = pd.RangeIndex(start, start + len(ids))
        else:
            index = pd.Index(np.asarray(ids, dtype=object), dtype=object)
        self.clear = _clearing_plan(self.base, ids, held, index, self.properties)
        return self.clear

    def summary(self) -> dict[str, Any]:
        """What ``result.attrs["fyno"]["mirror"]`` holds."""
        clear = self.clear
        ids = [] if clear is None else clear.distinct_ids
        counts = {p: 0 if clear is None else int(clear.unsets[p].sum()) for p in self.properties}
        out = {
            "properties": list(self.properties),
            "users": len(ids),
            "cleared": counts,
            "holders": len(self.holders),
            "limit": self.limit,
            "history": self.history,
            "interrupted": self.interrupted,
        }
        if not self.history:
            out["warning"] = self.no_history()
        return out

    def text(self) -> str:
        """The mirror part of the preview (after `finish`): users cleared per property."""
        lines = ["Mirror sync (after the push)"]
        if not self.history:
            return "\n".join([*lines, "  ⚠ " + self.no_history()])
        s = self.summary()
        lines.append(
            f"  {'Users to clear:':<20}{s['users']:,} of {s['holders']:,} holding these "
            f"properties (limit {s['limit']:,g})"
        )
        per = ", ".join(f"{p} {n:,}" for p, n in s["cleared"].items())
        lines.append(f"  {'Per property:':<20}{per or 'none'}")
        if self.clear is not None and len(self.clear.index):
            first = self.clear.distinct_ids[:_NAMED].tolist()
            more = s["users"] - len(first)
            named = ", ".join(map(repr, first)) + (f", … ({more:,} more)" if more > 0 else "")
            lines.append(f"  {'Users:':<20}{named}")
        return "\n".join(lines)

    def dry_rows(self) -> pd.DataFrame:
        """The clears' rows of a dry run (status ``dry_run``), with their summary."""
        assert self.clear is not None
        return _marked(dry_run_result(self.clear))

    def dry_run(self, result: pd.DataFrame) -> pd.DataFrame:
        """A dry run's result with the users it would clear appended (status ``dry_run``)."""
        return self.join(result, self.dry_rows())

    def pending(self) -> pd.DataFrame:
        """The clears as not sent (``pending``): the push stopped before them."""
        assert self.clear is not None
        result = _marked(dry_run_result(self.clear))
        result["status"] = result["status"].where(result["status"] != "dry_run", "pending")
        return result

    def send(self, session: PushSession) -> pd.DataFrame:
        """Send the clears through ``session``; their rows, marked."""
        assert self.clear is not None
        if not len(self.clear.index):
            return _marked(dry_run_result(self.clear))
        try:
            return _marked(session.send(self.clear))
        except (FynoAuthError, PushInterrupted) as exc:
            exc.with_result(_marked(exc.result))
            raise

    def push(self, session: PushSession, plan: PushPlan) -> pd.DataFrame:
        """Send ``plan`` then, unless it was stopped, the clears; one result, input rows first."""
        try:
            result = session.send(plan)
        except (FynoAuthError, PushInterrupted) as exc:
            self.interrupted = True
            exc.with_result(self.join(exc.result, self.pending()))
            raise
        if result.attrs["fyno"]["interrupted"]:
            self.interrupted = True
            log.warning("mirror: the push was interrupted; its clears stay pending")
            return self.join(result, self.pending(), session.summary())
        try:
            cleared = self.send(session)
        except (FynoAuthError, PushInterrupted) as exc:
            exc.with_result(self.join(result, exc.result))
            raise
        return self.join(result, cleared, session.summary())

    def join(
        self, result: pd.DataFrame, cleared: pd.DataFrame, summary: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        """``result`` then ``cleared``; the summary counts both and says what mirror did."""
        joined = pd.concat([result, cleared]) if len(cleared) and len(result) else None
        if joined is None:  # concat would warn about an empty frame's dtypes
            joined = (cleared if len(cleared) else result).copy()
        fyno = dict(result.attrs.get("fyno", {})) if summary is None else dict(summary)
        counts = joined["status"].value_counts()  # pending clears were never sent: count rows
        fyno.update({s: int(counts.get(s, 0)) for s in STATUSES}, rows=len(joined))
        joined.attrs = {"fyno": {**fyno, "mirror": self.summary()}}
        return joined


def _marked(result: pd.DataFrame) -> pd.DataFrame:
    result = result.copy()
    result["mirror_clear"] = True
    return result


def retry_clears(base: PushPlan, ids: Sequence[str], index: pd.Index, push_id: Any) -> PushPlan:
    """The plan that resends the failed or pending clears of users ``ids`` (rows ``index``).

    ``base`` is a plan of the frame's columns (no rows needed): its properties, destination and
    ledger. Each user is cleared of the mirrored properties the ledger says they still hold,
    not counting values acknowledged after push ``push_id`` began (a user who came back since);
    a user holding none of them any more is ``unchanged``.
    """
    properties = mirrored_properties(base)
    with opened(_ledger_of(base), create=False) as book:
        if book is None:
            raise FynoInputError("mirror: the ledger file is gone; cannot resend clears")
        before = None
        if push_id is not None and push_id in (pushes := book.pushes()).index:
            before = pushes.loc[push_id, "started_at"]
        found = read_holders(book, Scope.of(base.config), properties, list(ids), before)
    held = np.zeros((len(ids), len(properties)), dtype=bool)
    rows = pd.Index(found.users).get_indexer(list(ids))
    held[rows >= 0] = found.held[rows[rows >= 0]]
    return _clearing_plan(_base(base), pd.Index(list(ids), dtype=object), held, index, properties)


def show_text(text: str) -> None:
    """Show a preview's text before a push: through IPython's display, else on stderr."""
    ipython = sys.modules.get("IPython")
    if ipython is not None and ipython.get_ipython() is not None:
        from IPython.display import display

        display({"text/plain": text}, raw=True)
        return
    print(text, file=sys.stderr)
