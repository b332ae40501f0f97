"""Ctrl-C during a push: `PushInterrupted` stops "Run All", and no retry repeats an add.

Against the emulator with ``concurrency=1`` and the types named (no seed request), so request
k is the k-th step sent; the first answer is held long enough for a Ctrl-C to land while it is
in flight.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import fyno_pandas
from fyno_pandas.emulator import FynoEmulator
from fyno_pandas.errors import FynoPandasError, PushInterrupted

QUIET = {"preview": False, "progress": False}
OPS = {
    "ops": {"logins": "add", "badges": "append"},
    "schema": {"logins": "number", "badges": "list"},
    "concurrency": 1,
    "batch_size": None,
}
ROW = pd.DataFrame({"uid": ["u1"], "logins": [5], "badges": [["gold"]]})


@pytest.fixture
def ctrl_c_during_first_answer(emulator: FynoEmulator) -> Iterator[None]:
    """The first request is applied and its answer held 1 s; Ctrl-C comes once it is applied."""
    emulator.configure(stall_after_requests=(1,), stall_seconds=1.0)
    done = threading.Event()

    def interrupt() -> None:
        while not done.is_set() and not emulator.requests:
            time.sleep(0.005)
        if not done.is_set():
            signal.raise_signal(signal.SIGINT)

    watcher = threading.Thread(target=interrupt)
    watcher.start()
    yield
    done.set()
    watcher.join()


def interrupted_push(df: pd.DataFrame, **options: Any) -> pd.DataFrame:
    with pytest.raises(PushInterrupted) as info:
        fyno_pandas.push(df, "uid", **options)
    return info.value.result


def test_ctrl_c_raises_a_keyboard_interrupt_carrying_the_result(
    emulator: FynoEmulator, destination: dict[str, str], ctrl_c_during_first_answer: None
) -> None:
    frame = pd.DataFrame({"uid": [f"u{i}" for i in range(5)], "plan": ["pro"] * 5})
    with pytest.raises(KeyboardInterrupt) as info:
        fyno_pandas.push(frame, "uid", concurrency=1, schema={"plan": "string"}, **destination)
    assert isinstance(info.value, PushInterrupted)
    assert not isinstance(info.value, FynoPandasError)  # `except Exception` never swallows it
    result = info.value.result
    assert list(result["status"]) == ["sent"] + ["pending"] * 4
    message = str(info.value)
    assert "\n" not in message
    assert "4 rows pending" in message
    assert "running the same push again resumes it" in message


def test_raise_on_interrupt_false_returns_the_partial_result(
    emulator: FynoEmulator, destination: dict[str, str], ctrl_c_during_first_answer: None
) -> None:
    frame = pd.DataFrame({"uid": [f"u{i}" for i in range(5)], "plan": ["pro"] * 5})
    result = fyno_pandas.push(
        frame,
        "uid",
        concurrency=1,
        schema={"plan": "string"},
        raise_on_interrupt=False,
        **destination,
        **QUIET,
    )
    assert result.attrs["fyno"]["interrupted"] is True
    assert (result["status"] == "pending").sum() == 4


@pytest.mark.parametrize(
    "retry_ledger",
    ["none", "same_without_resume", "another_file"],
)
def test_a_row_stopped_after_its_add_is_in_doubt_and_never_resent(
    emulator: FynoEmulator,
    destination: dict[str, str],
    tmp_path: Path,
    ctrl_c_during_first_answer: None,
    retry_ledger: str,
) -> None:
    ledger = tmp_path / "ledger.sqlite"
    result = interrupted_push(ROW, **destination, **OPS, **QUIET, ledger=ledger)
    # the add was answered 202; the append never left: the add may not be sent again
    assert list(result["status"]) == ["in_doubt"]
    assert emulator.profiles["u1"] == {"logins": 5}
    back = pd.read_csv(_round_trip(result, tmp_path), keep_default_na=False, na_values=[""])
    chosen = {
        "none": {"ledger": False},
        "same_without_resume": {"ledger": ledger, "resume": False},
        "another_file": {"ledger": tmp_path / "other.sqlite"},
    }[retry_ledger]
    emulator.configure(stall_after_requests=())
    for earlier in (result, back):
        again = fyno_pandas.retry_failed(
            ROW, earlier, "uid", **destination, **OPS, **QUIET, **chosen
        )
        assert list(again["status"]) == ["in_doubt"]
    assert emulator.profiles["u1"] == {"logins": 5}


def _round_trip(result: pd.DataFrame, folder: Path) -> Path:
    path = folder / "result.csv"
    result.to_csv(path)
    return path


def test_the_cli_writes_the_partial_result_and_exits_130(
    emulator: FynoEmulator, tmp_path: Path
) -> None:
    path = tmp_path / "users.csv"
    pd.DataFrame({"uid": [f"u{i}" for i in range(5)], "plan": ["pro"] * 5}).to_csv(
        path, index=False
    )
    emulator.configure(stall_after_requests=(2,), stall_seconds=1.0)
    env = {
        **os.environ,
        "FYNO_ENDPOINT": emulator.endpoint,
        "FYNO_WSID": emulator.wsid,
        "FYNO_API_KEY": emulator.api_key,
    }
    argv = [sys.executable, "-m", "fyno_pandas", "push", str(path), "--id-col", "uid"]
    argv += ["--concurrency", "1", "--batch-size", "none", "--no-progress"]
    argv += ["--ledger", str(tmp_path / "ledger.sqlite"), "--schema", "plan=string"]
    child = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while len(emulator.requests) < 2 and time.monotonic() < deadline:
        time.sleep(0.005)
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=60)

    assert child.returncode == 130, err.decode()
    written = pd.read_csv(tmp_path / "users.result.csv", keep_default_na=False)
    assert written["status"].tolist() == ["sent", "sent"] + ["pending"] * 3
    assert "3 rows pending" in err.decode()
    assert "result written to" in out.decode()
