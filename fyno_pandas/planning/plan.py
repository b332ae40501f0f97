"""`PushPlan`: what a push will send, row by row, as pre-encoded text.

Built by `fyno_pandas.planning.build.build_plan` (which documents the policy and the issue rules) in
one constructor call, and never changed after: `restrict`, `drop_values` and
`without_acknowledged` return narrowed copies (`dataclasses.replace`). Read by the sender, the
ledger and the preview. Every property value is held as JSON text (``fragments``), so a request
body is a join of strings, never a ``json.dumps`` of Python objects (`fyno_pandas.planning.bodies`
joins them; the body methods here are its shortcuts). Pure; what a push produced lives on its
result, not here.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Hashable, Iterable, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from ..options.checks import OPS
from . import bodies
from .issues import rule_hint, rule_link, short_repr
from .payloads import request_payloads
from .steps import request_count, row_steps

if TYPE_CHECKING:
    from pathlib import Path

    from ..client.config import FynoConfig
    from ..display.widget import PlanWidget
    from ..ledger import Ledger

__all__ = ["PushPlan"]


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class PushPlan:
    """What a push will send, row by row; built by `build_plan`, read by sender and preview.

    A frozen dataclass (its repr is the preview's text); arrays and tables are shared between
    a plan and its narrowed copies, so none of them is ever written to.

    Attributes
    ----------
    index : pandas.Index
        The input frame's index (labels, order and duplicates kept).
    id_col : hashable
    options : dict
        The plan options as given (``columns``, ``schema``, ``naive_tz``, ``nulls``,
        ``long_strings``), and ``only_changed`` once `fyno_pandas.plan` applied the ledger.
    config : FynoConfig or None
        Where the plan is meant to go (it labels the preview; `push_plan` sends there).
    known_types : dict
        ``{property: type}`` fixed before this plan (``schema=`` and the ledger).
    distinct_ids, sendable, skip_reasons, unchanged : numpy.ndarray
        Per row: the id (None when missing), whether it will be sent, why not, and whether
        `restrict` left it with nothing to send.
    properties : list of str
    fyno_types : dict
        ``{property: type}`` for the properties that have one.
    fragments, unsets : dict
        ``{property: ndarray}``: each row's value as JSON text (None if not set), and the rows
        whose property is cleared (``nulls="unset"``).
    columns, issues : pandas.DataFrame
        One row per property; one row per cell or row not sent as is.
    acked_request_ids, acked_at : numpy.ndarray
        Per row, the user's latest request Fyno acknowledged and when (UTC), as the ledger
        told `without_acknowledged`; None and NaT otherwise.
    values_unchanged : int
        Values left out by `without_acknowledged`: acknowledged earlier to this ledger.
    ledger : Ledger, pathlib.Path or False
        The ledger `fyno_pandas.plan` consulted, which `push_plan` records to (False: none).
    ops : dict
        ``{property: op}`` of the properties not ``set`` (`planning.steps`); the set bodies
        carry only the others.
    made : dict
        ``{row position: {property: requests}}``: the add and append requests of a row that an
        earlier push made (acknowledged, or assumed stored), which a retry does not make again
        (`fyno_pandas.retry_failed`); such a property is never seeded.

    Notes
    -----
    The private fields serve the request bodies: ``_set`` (``{property: rows with a
    fragment}``), ``_ambiguous`` (``{property: fragments Fyno could type otherwise}``, never a
    seed) and ``_issue_pos`` (each issue's row position, -1 for a whole column).
    """

    index: pd.Index
    id_col: Hashable
    options: dict[str, Any]
    config: FynoConfig | None
    known_types: dict[str, str]
    distinct_ids: np.ndarray
    sendable: np.ndarray
    skip_reasons: np.ndarray
    unchanged: np.ndarray
    properties: list[str]
    fyno_types: dict[str, str]
    fragments: dict[str, np.ndarray]
    unsets: dict[str, np.ndarray]
    columns: pd.DataFrame
    issues: pd.DataFrame
    acked_request_ids: np.ndarray
    acked_at: np.ndarray
    _set: dict[str, np.ndarray]
    _ambiguous: dict[str, np.ndarray]
    _issue_pos: np.ndarray
    values_unchanged: int = 0
    ledger: Ledger | Path | Literal[False] = False
    ops: dict[str, str] = dataclasses.field(default_factory=dict)
    made: Mapping[int, Mapping[str, int]] = dataclasses.field(default_factory=dict)

    @cached_property
    def _issue_column(self) -> np.ndarray:
        return self.issues["column"].to_numpy(dtype=object)

    @cached_property
    def _issue_action(self) -> np.ndarray:
        return self.issues["action"].to_numpy(dtype=object)

    def __len__(self) -> int:
        return int(self.sendable.sum())

    def __repr__(self) -> str:
        from ..display.render import render_text

        return render_text(self)

    def _repr_html_(self) -> str:
        from ..display.render import render_html

        return render_html(self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """The preview for Jupyter: the widget view in a kernel, plus static HTML and text.

        This method and `widget` import `pipeline.view` when called, as ``__repr__`` and
        ``_repr_html_`` import `display.render`: the package's only imports upward. The view's
        Send button needs `fyno_pandas.push_plan`, which imports this module, so the plan reaches
        it only on display and planning stays pure.
        """
        from ..pipeline.view import plan_bundle

        return plan_bundle(self)

    def widget(self, buttons: bool = True) -> PlanWidget:
        """The interactive preview (ipywidgets); its Send button pushes this plan.

        The result of a Send is the widget's ``result``. Imports `fyno_pandas.pipeline.view` when
        called (see `_repr_mimebundle_`).
        """
        from ..pipeline.view import plan_widget

        return plan_widget(self, buttons=buttons)

    def summary(self) -> dict[str, Any]:
        """Counts for a preview: rows, rows_to_send, rows_skipped, values, drops, warnings.

        ``rows_unchanged`` and ``values_unchanged`` count what Fyno acknowledged earlier to
        this ledger (it cannot say what Fyno holds now); ``unchanged_since`` is the oldest
        acknowledgement among those rows (or None).
        ``requests`` counts the requests of a per-row push (seeds aside), ``ops`` the
        properties of each op but set.
        """
        sent = self.sendable
        cell = self._issue_pos >= 0
        since = self.acked_at[self.unchanged]
        since = since[~np.isnat(since)]
        return {
            "rows": len(self.index),
            "rows_to_send": int(sent.sum()),
            "rows_skipped": int(sum(r is not None for r in self.skip_reasons)),
            "properties": len(self.properties),
            "values": int(sum(int((self._set[p] & sent).sum()) for p in self.properties)),
            "values_unset": int(sum(int((self.unsets[p] & sent).sum()) for p in self.properties)),
            "values_dropped": int((cell & (self._issue_action == "dropped")).sum()),
            "values_coerced": int(self.columns["coerced"].sum()),
            "warnings": int((self._issue_action == "warned").sum()),
            "rows_unchanged": int(self.unchanged.sum()),
            "values_unchanged": self.values_unchanged,
            "unchanged_since": pd.Timestamp(since.min(), tz="UTC") if len(since) else None,
            "destination": getattr(self.config, "label", None),
            "requests": request_count(self),
            "ops": {op: sorted(p for p, o in self.ops.items() if o == op) for op in OPS[1:]}
            | {"unset": list(self.options.get("unset") or ())},
        }

    def dropped_cells(self) -> tuple[np.ndarray, np.ndarray]:
        """The values left out as (row position, property) pairs, by row then name, each once."""
        hit = (self._issue_pos >= 0) & (self._issue_action == "dropped")
        cells = pd.DataFrame({"row": self._issue_pos[hit], "name": self._issue_column[hit]})
        cells = cells.drop_duplicates().sort_values(["row", "name"], kind="stable")
        return cells["row"].to_numpy(dtype=np.intp), cells["name"].to_numpy(dtype=object)

    def set_body(self, pos: int, properties: Sequence[str] | None = None) -> bytes:
        """The ``properties/set`` body of row ``pos`` (`fyno_pandas.planning.bodies.set_body`)."""
        return bodies.set_body(self, pos, properties)

    def set_bodies(self, positions: Any = None) -> list[bytes]:
        """`set_body` of many rows (default: every sendable row), built as one text."""
        rows = np.flatnonzero(self.sendable) if positions is None else positions
        return bodies.set_bodies(self, rows)

    def unset_body(self, pos: int) -> bytes | None:
        """The ``properties/unset`` body of row ``pos``, or None when nothing is cleared."""
        return bodies.unset_body(self, pos)

    def batch_item(self, pos: int) -> str:
        """Row ``pos``'s ``properties/batch`` item(s), as the sender joins them."""
        return ",".join(i.text for i in bodies.batch_items(self, pos, row_steps(self, pos)))

    def seed_values(self, properties: Iterable[str]) -> dict[str, int]:
        """For each property, a sendable row whose value fixes the planned type unambiguously.

        Fyno types a new property by its first stored value, so the sender writes these first;
        an ISO-date string in a string column would make a Date property and is never chosen.
        """
        out = {}
        for p in properties:
            ok = self._set[p] & self.sendable & ~self._ambiguous[p]
            if p in self.fyno_types and ok.any():
                out[p] = int(np.argmax(ok))
        return out

    def value_hashes(self, prop: str, rows: np.ndarray | None = None) -> np.ndarray:
        """uint64 hash of each row's fragment for ``prop`` (stable across processes); 0 if unset.

        ``rows``: only the rows at these positions (default every row).
        """
        fragments, mask = self.fragments[prop], self._set[prop]
        if rows is not None:
            fragments, mask = fragments[rows], mask[rows]
        if mask.all():  # no copy of a million fragments to hash them all
            return _hash_fragments(fragments)
        out = np.zeros(len(mask), dtype=np.uint64)
        if mask.any():
            out[mask] = _hash_fragments(fragments[mask])
        return out

    def restrict(self, keep: Mapping[str, np.ndarray]) -> PushPlan:
        """A copy that sends only the kept cells; rows left with nothing become ``unchanged``."""
        fragments, unsets, is_set = dict(self.fragments), dict(self.unsets), dict(self._set)
        for p, mask in keep.items():
            mask = np.asarray(mask, dtype=bool)
            fragments[p] = np.where(mask, self.fragments[p], None)
            unsets[p] = self.unsets[p] & mask
            is_set[p] = self._set[p] & mask
        anything = np.zeros(len(self.index), dtype=bool)
        for p in self.properties:
            anything |= is_set[p] | unsets[p]
        return dataclasses.replace(
            self,
            fragments=fragments,
            unsets=unsets,
            _set=is_set,
            sendable=self.sendable & anything,
            unchanged=self.unchanged | (self.sendable & ~anything),
        )

    def drop_values(self, prop: str, rule: str, message: str) -> PushPlan:
        """A copy that sends no value of ``prop``, each reported as a dropped ``rule`` issue.

        Rows left with nothing to send are skipped (``empty_row``), as the plan would have.
        """
        cells = np.flatnonzero(self._set[prop])
        plan = self.restrict({prop: np.zeros(len(self.index), dtype=bool)})
        emptied = self.sendable & ~plan.sendable
        added = pd.DataFrame(
            {
                "row": pd.Series(self.index[cells].to_numpy(dtype=object), dtype=object),
                "column": prop,
                "value": pd.Series([short_repr(f) for f in self.fragments[prop][cells]]),
                "rule": rule,
                "action": "dropped",
                "message": message,
                "hint": rule_hint(rule, "dropped", prop),
                "link": rule_link(rule),
            },
            dtype=object,
        )
        columns = self.columns.copy()
        where = columns["column"] == prop
        columns.loc[where, "values"] -= len(cells)
        columns.loc[where, "dropped"] += len(cells)
        return dataclasses.replace(
            plan,
            unchanged=self.unchanged,
            skip_reasons=np.where(emptied, "empty_row", self.skip_reasons).astype(object),
            issues=pd.concat([self.issues, added], ignore_index=True),
            _issue_pos=np.concatenate([self._issue_pos, cells]),
            columns=columns,
        )

    def without_acknowledged(
        self,
        acknowledged: Mapping[str, np.ndarray],
        request_ids: np.ndarray,
        acked_at: np.ndarray,
    ) -> PushPlan:
        """A copy that leaves out the values acknowledged earlier to this ledger (``only_changed``).

        Parameters
        ----------
        acknowledged : {property: bool ndarray}
            True where the ledger holds exactly this row's value
            (`fyno_pandas.ledger.unchanged_mask`).
        request_ids, acked_at : numpy.ndarray
            Per row, the user's latest acknowledged request and its time
            (`fyno_pandas.ledger.latest_acks`); rows left with nothing to send keep them.
        """
        plan = self.restrict({p: ~np.asarray(m, dtype=bool) for p, m in acknowledged.items()})
        return dataclasses.replace(
            plan,
            values_unchanged=self.values_unchanged
            + sum(int((self._set[p] & self.sendable & m).sum()) for p, m in acknowledged.items()),
            acked_request_ids=np.where(plan.unchanged, request_ids, None),
            acked_at=np.asarray(acked_at, dtype="datetime64[ns]"),
        )

    def payloads(self) -> list[dict[str, Any]]:
        """The request bodies as dicts, in row order: each row's requests in `planning.steps`'
        order (set, set-once, add, each appended and removed element, unset): the bodies a
        per-row push sends (`fyno_pandas.planning.bodies`), decoded."""
        return request_payloads(self)

    def to_frame(self) -> pd.DataFrame:
        """The rows to send as a DataFrame: distinct_id, then each property's value (or None)."""
        rows = np.flatnonzero(self.sendable)
        index = self.index[rows]
        # object Series keep None (pandas 3 would infer "str" and turn None into NaN)
        data = {"distinct_id": pd.Series(self.distinct_ids[rows], index=index, dtype=object)}
        for p in self.properties:
            values = [None if f is None else json.loads(f) for f in self.fragments[p][rows]]
            data[p] = pd.Series(values, index=index, dtype=object)
        if self.options["nulls"] == "unset":
            unset = [[p for p in self.properties if self.unsets[p][r]] for r in rows]
            data["$unset"] = pd.Series(unset, index=index, dtype=object)
        return pd.DataFrame(data, index=index)


def _hash_fragments(fragments: np.ndarray) -> np.ndarray:
    """pandas' siphash of each fragment. The same hashes either way: hashing the distinct
    values once (``categorize``) is faster when few values repeat (flags, plans, dates), and
    about 7x slower when most are distinct (numbers), so a sample of a thousand decides."""
    sample = fragments[:: max(1, len(fragments) // 1_000)]
    repeated = len(set(sample.tolist())) * 2 < len(sample)
    return pd.util.hash_array(fragments, categorize=repeated)
