"""One pipeline (issue 21, item 1): every entry point reaches the sender through `run_push`,
with the destination resolved once per push.

Each test wraps `fyno_pandas.pipeline.run.run_push` (calling through) and `FynoConfig.resolve`
with counters, pushes against the emulator, and counts.
"""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import fyno_pandas
from fyno_pandas import FynoConfig
from fyno_pandas.cli.command import main
from fyno_pandas.emulator import FynoEmulator
from fyno_pandas.pipeline import run

QUIET = {"preview": False, "progress": False}


def users(n: int = 4) -> pd.DataFrame:
    return pd.DataFrame(
        {"user_id": [f"u{i}" for i in range(n)], "plan": ["free", "pro"] * (n // 2)},
    )


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts of `run_push` calls, of sessions opened and of destinations resolved."""
    counted: Counter[str] = Counter()
    through_run_push = run.run_push
    resolve = FynoConfig.resolve.__func__  # type: ignore[attr-defined]
    enter = run.PushSession.__enter__

    def counting_run_push(*args: Any, **kwargs: Any) -> Any:
        counted["run_push"] += 1
        return through_run_push(*args, **kwargs)

    def counting_resolve(cls: type, *args: Any, **kwargs: Any) -> Any:
        counted["resolve"] += 1
        return resolve(cls, *args, **kwargs)

    def counting_enter(self: Any) -> Any:
        counted["sessions"] += 1
        return enter(self)

    monkeypatch.setattr(run, "run_push", counting_run_push)
    monkeypatch.setattr(FynoConfig, "resolve", classmethod(counting_resolve))
    monkeypatch.setattr(run.PushSession, "__enter__", counting_enter)
    return counted


def test_push_resolves_once_and_sends_through_run_push(
    destination: dict[str, str], calls: Counter[str], emulator: FynoEmulator
) -> None:
    result = fyno_pandas.push(users(), "user_id", **destination, **QUIET)
    assert result["status"].eq("sent").all()
    assert calls == {"run_push": 1, "resolve": 1, "sessions": 1}
    assert emulator.profiles["u1"] == {"plan": "pro"}


def test_a_dry_run_goes_through_run_push_without_a_session(calls: Counter[str]) -> None:
    result = fyno_pandas.push(users(), "user_id", wsid="W", dry_run=True, **QUIET)
    assert result["status"].eq("dry_run").all()
    assert calls == {"run_push": 1, "resolve": 1}


def test_push_plan_resolves_once_and_sends_through_run_push(
    destination: dict[str, str], calls: Counter[str]
) -> None:
    planned = fyno_pandas.plan(users(), "user_id", **destination)
    calls.clear()
    fyno_pandas.push_plan(planned, progress=False)
    assert calls == {"run_push": 1, "resolve": 1, "sessions": 1}


def test_push_frames_sends_every_chunk_through_one_run_push(
    destination: dict[str, str], calls: Counter[str]
) -> None:
    chunks = [users(4).iloc[:2], users(4).iloc[2:]]
    result = fyno_pandas.push_frames(iter(chunks), "user_id", **destination, **QUIET)
    assert len(result) == 4
    assert calls == {"run_push": 1, "resolve": 1, "sessions": 1}


def test_retry_failed_resolves_once_and_sends_through_run_push(
    destination: dict[str, str], calls: Counter[str], emulator: FynoEmulator
) -> None:
    df = users()
    result = fyno_pandas.push(df, "user_id", **destination, **QUIET)
    result.loc[result.index[:2], "status"] = "failed"
    calls.clear()
    again = fyno_pandas.retry_failed(df, result, "user_id", **destination, **QUIET)
    assert again["status"].tolist() == ["unchanged", "unchanged", "sent", "sent"]  # the ledger
    assert calls == {"run_push": 1, "resolve": 1, "sessions": 1}


def test_the_cli_resolves_once_and_sends_through_run_push(
    destination: dict[str, str],
    calls: Counter[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("FYNO_API_KEY", destination["api_key"])
    users().to_csv(tmp_path / "users.csv", index=False)
    flags = ["--wsid", destination["wsid"], "--endpoint", destination["endpoint"]]
    status = main(["push", str(tmp_path / "users.csv"), "--id-col", "user_id", *flags])
    assert status == 0, capsys.readouterr().err
    assert calls == {"run_push": 1, "resolve": 1, "sessions": 1}


def test_the_dask_accessor_sends_through_run_push(
    destination: dict[str, str], calls: Counter[str]
) -> None:
    dd = pytest.importorskip("dask.dataframe", reason="the Dask accessor needs dask")
    import fyno_pandas.dask  # noqa: F401  (registers ddf.fyno)

    frame = dd.from_pandas(users(6), npartitions=3)
    result = frame.fyno.push("user_id", **destination, **QUIET)
    assert result["status"].eq("sent").all()
    assert calls == {"run_push": 1, "resolve": 1, "sessions": 1}


def test_the_widgets_send_goes_through_run_push(
    destination: dict[str, str], calls: Counter[str]
) -> None:
    pytest.importorskip("ipywidgets", reason="the widget needs ipywidgets")
    planned = fyno_pandas.plan(users(), "user_id", **destination)
    calls.clear()
    box = planned.widget()
    box.send.click()
    assert box.result["status"].eq("sent").all()
    assert calls == {"run_push": 1, "resolve": 1, "sessions": 1}


def _opens_a_session(path: Path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return any(
        isinstance(node, ast.Call) and getattr(node.func, "id", None) == "PushSession"
        for node in ast.walk(tree)
    )


def test_run_push_is_the_only_place_outside_sending_that_opens_a_session() -> None:
    root = Path(fyno_pandas.__file__).parent
    opening = sorted(
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if path.parent.name != "sending" and _opens_a_session(path)
    )
    assert opening == ["pipeline/run.py"]


def test_no_private_function_crosses_modules() -> None:
    root = Path(fyno_pandas.__file__).parent
    crossing: list[str] = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level:
                crossing += [
                    f"{path.name}: {alias.name}"
                    for alias in node.names
                    if alias.name.startswith("_") and not alias.name.startswith("__")
                ]
    assert crossing == []
