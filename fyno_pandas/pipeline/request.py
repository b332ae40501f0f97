"""`PushRequest`: what one call of an entry point asks for, checked once and then fixed.

The entry-point decorator (`fyno_pandas.options.docs.takes`) checks the options and builds the
request with `PushRequest.of` (or `PushRequest.for_plan` for `push_plan`): the destination is
resolved once (`FynoConfig.resolve`), the ledger chosen once (`choose_ledger`), and the options
are the declared groups of `fyno_pandas.options.model`. What a retry or a Dask cluster adds
(the fingerprint and rows in doubt of the push retried, the rate shared between workers) is a
declared field too, set with `dataclasses.replace`.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..client.config import FynoConfig
from ..errors import FynoInputError
from ..ledger.bridge import choose_ledger
from ..options.model import (
    AddOptions,
    Destination,
    LedgerOptions,
    MirrorOptions,
    PlanOptions,
    PushOptions,
    SendOptions,
    names,
)

if TYPE_CHECKING:
    from ..ledger import Ledger
    from ..planning.plan import PushPlan

__all__ = ["PushRequest"]


@dataclasses.dataclass(frozen=True, eq=False)  # ``doubt`` is an array: compared by identity
class PushRequest:
    """One entry point's call: where to send, which ledger, and its options by group.

    Attributes
    ----------
    config : FynoConfig
        The destination, resolved once (credentials required unless a dry run or a plan).
    ledger : Ledger, Path or None
        The ledger chosen once (`choose_ledger`); None: no ledger.
    plan, send, mirror, adds : PlanOptions, SendOptions, MirrorOptions, AddOptions
        The checked option groups.
    only_changed, preview : bool
    output : path, optional
        `push_frames`' result file.
    fingerprint : str, optional
        A retry's: the fingerprint of the push it retries, recorded in place of its own.
    replays : int, optional
        A retry's: the first push of the result it retries. The acks of that push and of every
        later one with its fingerprint count (an earlier retry of the same result's among them).
    doubt : numpy.ndarray, optional
        A retry's: per row sent, whether it is in doubt with no progress the result says.
    made : mapping
        A retry's: per row position in doubt, the add and append requests already made.
    rate_share : int
        How many pushes share the destination's rate at once (a Dask cluster's threads).
    """

    config: FynoConfig
    ledger: Ledger | Path | None
    plan: PlanOptions = dataclasses.field(default_factory=PlanOptions)
    send: SendOptions = dataclasses.field(default_factory=SendOptions)
    mirror: MirrorOptions = dataclasses.field(default_factory=MirrorOptions)
    adds: AddOptions = dataclasses.field(default_factory=AddOptions)
    only_changed: bool = True
    preview: bool = True
    output: str | os.PathLike[str] | None = None
    fingerprint: str | None = None
    replays: int | None = None
    doubt: np.ndarray | None = None
    made: Mapping[int, dict[str, int]] = dataclasses.field(default_factory=dict)
    rate_share: int = 1

    @classmethod
    def of(cls, groups: Mapping[type, Any], *_: Any) -> PushRequest:
        """The request of a push (`push`, `push_frames`, `retry_failed`, ``ddf.fyno.push``):
        credentials required unless ``dry_run``; ``mirror=True`` without a ledger refused."""
        send: SendOptions = groups[SendOptions]
        request = cls._made(groups, groups[Destination], None, require=not send.dry_run)
        if request.mirror.mirror and request.ledger is None:
            raise FynoInputError(
                "mirror=True needs the ledger: Fyno cannot say who holds a property, only the "
                "ledger remembers whom earlier pushes set it for; drop ledger=False",
                rule="mirror",
            )
        return request

    @classmethod
    def deferred(cls, groups: Mapping[type, Any], *_: Any) -> Callable[[], PushRequest]:
        """`of`, made when called: `retry_failed` judges its result before the destination."""
        return functools.partial(cls.of, groups)

    @classmethod
    def for_planning(cls, groups: Mapping[type, Any], *_: Any) -> PushRequest:
        """The request of `plan`: no credentials needed (they only label the preview)."""
        return cls._made(groups, groups[Destination], None, require=False)

    @classmethod
    def for_plan(cls, groups: Mapping[type, Any], plan: PushPlan, *_: Any) -> PushRequest:
        """The request of `push_plan`: the plan's destination (``FYNO_*`` fill what it lacks)
        and, unless ``ledger=`` says otherwise, the plan's ledger."""
        where = Destination(**{n: getattr(plan.config, n, None) for n in names(Destination)})
        send: SendOptions = groups[SendOptions]
        return cls._made(groups, where, plan.ledger, require=not send.dry_run)

    @classmethod
    def _made(
        cls, groups: Mapping[type, Any], where: Destination, planned: Any, *, require: bool
    ) -> PushRequest:
        config = FynoConfig.resolve(**_fields(where), require_credentials=require)
        kept: LedgerOptions = groups[LedgerOptions]
        push: PushOptions = groups[PushOptions]
        return cls(
            config=config,
            ledger=choose_ledger(planned if kept.ledger is None else kept.ledger),
            plan=groups[PlanOptions],
            send=groups[SendOptions],
            mirror=groups[MirrorOptions],
            adds=groups[AddOptions],
            only_changed=kept.only_changed,
            preview=push.preview,
            output=push.output,
        )

    @property
    def ledger_spec(self) -> Any:
        """The chosen ledger as a ``ledger=`` argument takes it (False: none)."""
        return False if self.ledger is None else self.ledger

    def plan_options(self) -> dict[str, Any]:
        """`build_plan`'s keywords."""
        return _fields(self.plan)

    def session_options(self) -> dict[str, Any]:
        """`PushSession`'s keywords of the send options (a session always sends)."""
        options = _fields(self.send)
        del options["dry_run"]
        return options


def _fields(group: Any) -> dict[str, Any]:
    """A group's fields by name, as given (`dataclasses.asdict` would copy a session)."""
    return {f.name: getattr(group, f.name) for f in dataclasses.fields(group)}
