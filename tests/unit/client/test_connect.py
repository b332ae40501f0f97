"""`fyno_pandas.connect`: the destination and the ledger named once, for every later call."""

from __future__ import annotations

import threading
from pathlib import Path

import pandas as pd
import pytest

import fyno_pandas
from fyno_pandas.client.config import FynoConfig
from fyno_pandas.emulator import FynoEmulator

QUIET = {"preview": False, "progress": False}
USERS = pd.DataFrame({"user_id": ["u1", "u2"], "plan": ["free", "pro"]})


def test_an_emulator_passed_as_it_is_is_where_every_later_push_goes(
    emulator: FynoEmulator, tmp_path: Path
) -> None:
    fyno_pandas.connect(emulator, ledger=tmp_path / "ledger.sqlite")

    result = USERS.fyno.push("user_id", **QUIET)

    assert result["status"].tolist() == ["sent", "sent"]
    assert emulator.profiles == {"u1": {"plan": "free"}, "u2": {"plan": "pro"}}
    assert (tmp_path / "ledger.sqlite").exists()
    again = USERS.fyno.push("user_id", **QUIET)
    assert again["status"].tolist() == ["unchanged", "unchanged"]


def test_explicit_settings_then_the_innermost_connect_then_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FYNO_WSID", "FYENV")
    monkeypatch.setenv("FYNO_API_KEY", "env-key")
    assert FynoConfig.resolve().wsid == "FYENV"
    fyno_pandas.connect(wsid="FYOUTER", api_key="outer-key", version="test")
    with fyno_pandas.connect(wsid="FYINNER"):
        config = FynoConfig.resolve()
        assert (config.wsid, config.api_key, config.version) == ("FYINNER", "outer-key", "test")
        assert FynoConfig.resolve(wsid="FYARG").wsid == "FYARG"
    assert FynoConfig.resolve().wsid == "FYOUTER"
    fyno_pandas.disconnect()
    config = FynoConfig.resolve()
    assert (config.wsid, config.api_key, config.version) == ("FYENV", "env-key", "live")


def test_a_with_block_scopes_the_destination(emulator: FynoEmulator) -> None:
    with fyno_pandas.connect(emulator, ledger=False):
        assert USERS.fyno.push("user_id", **QUIET)["status"].tolist() == ["sent", "sent"]
    with pytest.raises(fyno_pandas.FynoConfigError, match="missing wsid"):
        USERS.fyno.push("user_id", ledger=False, **QUIET)


def test_the_destination_is_resolved_when_the_plan_is_made(
    emulator: FynoEmulator, tmp_path: Path
) -> None:
    with fyno_pandas.connect(emulator, ledger=False):
        plan = USERS.fyno.plan("user_id")
    result = fyno_pandas.push_plan(plan, progress=False)

    assert result["status"].tolist() == ["sent", "sent"]
    assert len(emulator.profiles) == 2


def test_a_connect_holds_in_the_threads_a_push_starts(emulator: FynoEmulator) -> None:
    fyno_pandas.connect(emulator, ledger=False)
    results: list[pd.DataFrame] = []
    worker = threading.Thread(target=lambda: results.append(USERS.fyno.push("user_id", **QUIET)))
    worker.start()
    worker.join(30)
    assert results[0]["status"].tolist() == ["sent", "sent"]


def test_the_key_never_shows(emulator: FynoEmulator) -> None:
    connection = fyno_pandas.connect(wsid="FYX", api_key="sk-very-secret")
    assert "sk-very-secret" not in repr(connection)
    assert "sk-very-secret" not in repr(FynoConfig.resolve())


def test_a_dask_push_uses_the_connection(emulator: FynoEmulator, tmp_path: Path) -> None:
    dd = pytest.importorskip("dask.dataframe")
    import fyno_pandas.dask  # registers ddf.fyno

    fyno_pandas.connect(emulator, ledger=tmp_path / "ledger.sqlite")
    result = dd.from_pandas(USERS, npartitions=2).fyno.push("user_id", **QUIET)

    assert result["status"].tolist() == ["sent", "sent"]
    assert len(emulator.profiles) == 2
