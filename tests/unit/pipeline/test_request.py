"""`PushRequest`: one call's destination, ledger and option groups, fixed once built."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest

import fyno_pandas
from fyno_pandas import FynoConfigError, FynoInputError
from fyno_pandas.options.model import checked_groups
from fyno_pandas.pipeline.request import PushRequest


def test_a_request_resolves_its_destination_from_the_environment_and_is_frozen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FYNO_WSID", "FYENV")
    monkeypatch.setenv("FYNO_API_KEY", "secret")
    _, groups = checked_groups("push", {"concurrency": 3, "ledger": False})
    request = PushRequest.of(groups)
    assert (request.config.wsid, request.config.api_key) == ("FYENV", "secret")
    assert request.ledger is None
    assert request.send.concurrency == 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.preview = False  # type: ignore[misc]


def test_a_push_needs_credentials_and_a_dry_run_does_not(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FYNO_WSID", raising=False)
    monkeypatch.delenv("FYNO_API_KEY", raising=False)
    with pytest.raises(FynoConfigError, match="missing wsid"):
        PushRequest.of(checked_groups("push", {})[1])
    assert PushRequest.of(checked_groups("push", {"dry_run": True})[1]).config.wsid is None


def test_mirror_without_a_ledger_is_refused_when_the_request_is_made() -> None:
    groups = checked_groups("push", {"mirror": True, "ledger": False, "dry_run": True})[1]
    with pytest.raises(FynoInputError, match="mirror=True needs the ledger"):
        PushRequest.of(groups)


def test_push_plan_takes_the_plans_destination_and_ledger_unless_told(tmp_path: Path) -> None:
    planned = fyno_pandas.plan(
        pd.DataFrame({"id": ["a"], "x": [1]}), "id", wsid="FYPLAN", ledger=tmp_path / "l.db"
    )
    request = PushRequest.for_plan(checked_groups("push_plan", {"dry_run": True})[1], planned)
    assert request.config.wsid == "FYPLAN"
    assert request.ledger == tmp_path / "l.db"
    told = checked_groups("push_plan", {"dry_run": True, "ledger": False})[1]
    assert PushRequest.for_plan(told, planned).ledger is None
