"""Mirror sync: a segment pushed again clears, through the ledger, what its leavers hold."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import fyno_pandas
from fyno_pandas import FynoInputError
from fyno_pandas.cli import command as cli
from fyno_pandas.emulator import FynoEmulator
from fyno_pandas.pipeline.mirror import MirrorWarning

QUIET = {"preview": False, "progress": False}


def segment(ids: list[int]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in ids],
            "segment": ["churn_risk"] * len(ids),
            "score": [float(i) for i in ids],
        }
    )


@pytest.fixture
def target(destination: dict[str, str], tmp_path: Path) -> dict[str, Any]:
    """The emulator and a ledger file of this test's own."""
    return {**destination, "ledger": tmp_path / "ledger.sqlite", **QUIET}


def unset_bodies(emulator: FynoEmulator) -> list[dict[str, Any]]:
    return [r["body"] for r in emulator.requests if r["path"].endswith("/unset") and r["body"]]


@pytest.mark.parametrize("batch_size", [None, 2])
def test_a_smaller_segment_clears_exactly_its_leavers(
    target: dict[str, Any], emulator: FynoEmulator, batch_size: int | None
) -> None:
    target = {**target, "batch_size": batch_size}
    fyno_pandas.push(segment([0, 1, 2, 3, 4, 5]), "user_id", **target)
    fyno_pandas.push(pd.DataFrame({"user_id": ["u9"], "other": ["x"]}), "user_id", **target)
    again = segment([0, 2, 3, 5])
    again.loc[1, "score"] = np.nan  # u2 stays, whatever its cell holds (nulls="skip")
    again.loc[4] = ["u3", "churn_risk", 3.0]  # a duplicate row of u3: it stays too

    result = fyno_pandas.push(again, "user_id", mirror=True, **target)

    profiles = emulator.profiles
    assert profiles["u1"] == profiles["u4"] == {}
    assert profiles["u9"] == {"other": "x"}  # another property: not this push's to clear
    assert profiles["u2"] == {"segment": "churn_risk", "score": 2.0}
    assert all(profiles[u]["segment"] == "churn_risk" for u in ("u0", "u2", "u3", "u5"))
    # the cleared users follow the input rows, labelled after them, marked
    assert result.index.tolist() == [0, 1, 2, 3, 4, 5, 6]
    assert result["mirror_clear"].tolist() == [False] * 5 + [True] * 2
    assert result.loc[5:, "distinct_id"].tolist() == ["u1", "u4"]
    assert result.loc[5:, "status"].tolist() == ["sent", "sent"]
    assert result.loc[5:, "request_id"].notna().all()
    summary = result.attrs["fyno"]
    assert summary["mirror"]["cleared"] == {"segment": 2, "score": 2}
    assert summary["mirror"]["users"] == 2
    assert summary["sent"] == 2  # the clears; the rest is unchanged or skipped
    assert summary["rows"] == 7
    if batch_size is None:
        assert sorted(b["distinct_id"] for b in unset_bodies(emulator)) == ["u1", "u4"]
    else:
        (batch,) = [r["body"]["batch"] for r in emulator.requests[-1:]]
        assert batch == [
            {"distinct_id": u, "action": {"$unset": ["segment", "score"]}} for u in ("u1", "u4")
        ]
    # their unsets were recorded: the same push again clears no one
    before = len(emulator.requests)
    third = fyno_pandas.push(again, "user_id", mirror=True, **target)
    assert not third["mirror_clear"].any()
    assert len(emulator.requests) == before


def test_a_dry_run_lists_the_leavers_and_sends_nothing(
    target: dict[str, Any], emulator: FynoEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    fyno_pandas.push(segment([0, 1, 2, 3]), "user_id", **target)
    before = len(emulator.requests)

    result = fyno_pandas.push(
        segment([0, 1, 2]), "user_id", mirror=True, dry_run=True, **{**target, "preview": True}
    )

    assert len(emulator.requests) == before
    cleared = result[result["mirror_clear"]]
    assert cleared["distinct_id"].tolist() == ["u3"]
    assert cleared["status"].tolist() == ["dry_run"]
    assert emulator.profiles["u3"]["segment"] == "churn_risk"
    shown = capsys.readouterr().err
    assert "Users to clear:     1 of 4 holding these properties (limit 2)" in shown
    assert "Per property:       segment 1, score 1" in shown
    assert "'u3'" in shown


def test_mirror_without_a_ledger_is_a_clear_error(
    destination: dict[str, str], emulator: FynoEmulator
) -> None:
    with pytest.raises(FynoInputError, match="mirror=True needs the ledger"):
        fyno_pandas.push(segment([0]), "user_id", mirror=True, ledger=False, **destination)
    with pytest.raises(FynoInputError, match="needs the ledger"):
        fyno_pandas.push_frames([segment([0])], "user_id", mirror=True, ledger=False, **destination)
    assert emulator.requests == []


def test_a_fresh_ledger_warns_and_clears_nothing(
    target: dict[str, Any], emulator: FynoEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.warns(MirrorWarning, match="no history"):
        result = fyno_pandas.push(
            segment([0, 1]), "user_id", mirror=True, **{**target, "preview": True}
        )

    assert "the ledger has no history" in capsys.readouterr().err
    assert not result["mirror_clear"].any()
    assert result.attrs["fyno"]["mirror"]["history"] is False
    assert "no history" in result.attrs["fyno"]["mirror"]["warning"]
    assert unset_bodies(emulator) == []
    assert emulator.profiles["u1"]["segment"] == "churn_risk"


def test_above_the_limit_it_refuses_before_sending_anything(
    target: dict[str, Any], emulator: FynoEmulator
) -> None:
    fyno_pandas.push(segment(list(range(6))), "user_id", **target)
    before = len(emulator.requests)
    wrong = segment([0, 1])
    wrong["score"] = 99.0  # values that would be sent: none of them is

    with pytest.raises(FynoInputError, match="clear 4 of the 6 users") as caught:
        fyno_pandas.push(wrong, "user_id", mirror=True, **target)
    assert caught.value.rule == "mirror_max_clear"
    with pytest.raises(FynoInputError, match=r"clear 2 of the 6 users .* above the limit of 1:"):
        fyno_pandas.push(
            segment([0, 1, 2, 3]), "user_id", mirror=True, mirror_max_clear=1, **target
        )
    assert len(emulator.requests) == before

    result = fyno_pandas.push(wrong, "user_id", mirror=True, mirror_max_clear=4, **target)
    assert result["mirror_clear"].sum() == 4
    assert emulator.profiles["u5"] == {}


def test_an_interrupted_chunked_push_clears_nothing(
    target: dict[str, Any], emulator: FynoEmulator
) -> None:
    fyno_pandas.push(segment(list(range(6))), "user_id", **target)

    def interrupted() -> Iterator[pd.DataFrame]:
        yield segment([0, 1])
        raise KeyboardInterrupt

    result = fyno_pandas.push_frames(
        interrupted(), "user_id", mirror=True, raise_on_interrupt=False, **target
    )

    assert result.attrs["fyno"]["interrupted"] is True
    assert result.attrs["fyno"]["mirror"]["interrupted"] is True
    assert not result["mirror_clear"].any()
    assert unset_bodies(emulator) == []
    assert all(emulator.profiles[f"u{i}"]["segment"] == "churn_risk" for i in range(6))


def test_chunks_clear_once_after_the_last(target: dict[str, Any], emulator: FynoEmulator) -> None:
    fyno_pandas.push(segment(list(range(6))), "user_id", **target)

    result = fyno_pandas.push_frames(
        [segment([0, 1]), segment([2]), segment([5])], "user_id", mirror=True, **target
    )

    assert result["distinct_id"][result["mirror_clear"]].tolist() == ["u3", "u4"]
    assert result.attrs["fyno"]["chunks"] == 3
    assert emulator.profiles["u3"] == emulator.profiles["u4"] == {}
    assert emulator.profiles["u5"]["segment"] == "churn_risk"


def test_dask_on_the_local_scheduler_clears_once_after_the_last_partition(
    target: dict[str, Any], emulator: FynoEmulator
) -> None:
    dd = pytest.importorskip("dask.dataframe")
    import fyno_pandas.dask  # registers ddf.fyno

    fyno_pandas.push(segment(list(range(6))), "user_id", **target)
    ddf = dd.from_pandas(segment([0, 1, 2, 5]), npartitions=2)

    result = ddf.fyno.push("user_id", mirror=True, **target)

    assert result["distinct_id"][result["mirror_clear"]].tolist() == ["u3", "u4"]
    assert emulator.profiles["u3"] == emulator.profiles["u4"] == {}


def test_retry_failed_resends_a_failed_clear(
    target: dict[str, Any], emulator: FynoEmulator
) -> None:
    fyno_pandas.push(segment([0, 1, 2]), "user_id", **target)
    again = segment([0, 1])
    options = {**target, "concurrency": 1, "max_retries": 0}
    emulator.configure(error_requests=[1], error_statuses=(503,))  # the first: the clear of u2

    result = fyno_pandas.push(again, "user_id", mirror=True, **options)

    assert result["status"].tolist() == ["unchanged", "unchanged", "failed"]
    assert result["mirror_clear"].tolist() == [False, False, True]
    assert emulator.profiles["u2"]["segment"] == "churn_risk"

    merged = fyno_pandas.retry_failed(again, result, "user_id", **options)

    assert merged["status"].tolist() == ["unchanged", "unchanged", "sent"]
    assert merged["mirror_clear"].tolist() == [False, False, True]
    assert merged.index.equals(result.index)
    assert emulator.profiles["u2"] == {}
    assert merged.attrs["fyno"]["retried"] == 1
    unsets = [r for r in emulator.requests if r["path"].endswith("/unset")]
    assert [r["status"] for r in unsets] == [503, 202]
    assert unsets[-1]["body"]["distinct_id"] == "u2"


def test_ctrl_c_leaves_the_clears_pending_and_retry_failed_sends_them(
    target: dict[str, Any], emulator: FynoEmulator
) -> None:
    fyno_pandas.push(segment(list(range(6))), "user_id", **target)
    again = segment([0, 1, 2, 3]).assign(score=lambda f: f["score"] + 100)  # all resent
    emulator.configure(latency=0.05)
    fired: list[int] = []

    def ctrl_c(positions: Any, request_id: str | None) -> None:
        if not fired:  # Ctrl-C after the first acknowledged row
            fired.append(1)
            os.kill(os.getpid(), signal.SIGINT)

    options = {**target, "concurrency": 1}
    with pytest.raises(fyno_pandas.PushInterrupted) as info:
        fyno_pandas.push(again, "user_id", mirror=True, on_ack=ctrl_c, **options)
    result = info.value.result

    assert result.attrs["fyno"]["interrupted"] is True
    assert result.attrs["fyno"]["mirror"]["interrupted"] is True
    assert result.loc[result["mirror_clear"], "status"].tolist() == ["pending", "pending"]
    assert result.attrs["fyno"]["pending"] >= 2
    assert unset_bodies(emulator) == []
    emulator.configure(latency=0.0)

    merged = fyno_pandas.retry_failed(again, result, "user_id", **options)

    assert merged["status"].tolist() == ["sent"] * 6
    assert merged.loc[merged["mirror_clear"], "distinct_id"].tolist() == ["u4", "u5"]
    assert emulator.profiles["u4"] == emulator.profiles["u5"] == {}
    assert emulator.profiles["u3"]["score"] == 103.0


def test_mirror_refuses_an_add_column(target: dict[str, Any], emulator: FynoEmulator) -> None:
    frame = segment([0]).assign(logins=1)
    with pytest.raises(FynoInputError, match=r"not 'logins' \(add\)"):
        fyno_pandas.push(frame, "user_id", mirror=True, ops={"logins": "add"}, **target)
    assert emulator.requests == []


def test_the_cli_mirrors_and_its_exit_status_counts_the_clears(
    destination: dict[str, str],
    emulator: FynoEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("FYNO_WSID", destination["wsid"])
    monkeypatch.setenv("FYNO_API_KEY", destination["api_key"])
    monkeypatch.setenv("FYNO_ENDPOINT", destination["endpoint"])
    monkeypatch.chdir(tmp_path)
    segment([0, 1, 2, 3]).to_csv("week1.csv", index=False)
    segment([0, 1]).to_csv("week2.csv", index=False)
    flags = ["--id-col", "user_id", "--no-progress", "--ledger", "l.sqlite"]
    assert cli.main(["push", "week1.csv", *flags]) == 0
    assert cli.main(["push", "week2.csv", *flags, "--mirror", "--no-ledger"]) == 2
    capsys.readouterr()
    emulator.configure(error_requests=[2], error_statuses=(503,))

    code = cli.main(
        ["push", "week2.csv", *flags, "--mirror", "--concurrency", "1", "--max-retries", "0"]
    )

    assert code == 1  # one clear failed
    out = capsys.readouterr().out
    assert "Users to clear:     2 of 4" in out
    written = pd.read_csv("week2.result.csv", index_col=0)
    assert written["mirror_clear"].tolist() == [False, False, True, True]
    assert written["status"].tolist() == ["unchanged", "unchanged", "sent", "failed"]
    assert emulator.profiles["u2"] == {}
    assert emulator.profiles["u3"]["segment"] == "churn_risk"
