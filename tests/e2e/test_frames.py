"""push_frames: a table read in chunks is one push with one set of types and one result."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from fyno_pandas import FynoAuthError, FynoInputError, PushInterrupted, push, push_frames
from fyno_pandas.emulator import FynoEmulator

QUIET = {"preview": False, "progress": False}


def users(n: int, start: int = 0) -> pd.DataFrame:
    ids = np.arange(start, start + n)
    return pd.DataFrame(
        {
            "user_id": [f"u{i:07d}" for i in ids],
            "plan": np.array(["free", "pro", "team"])[ids % 3],
            "ltv": (ids % 1000) * 1.5,
            "active": ids % 2 == 0,
        },
        index=pd.RangeIndex(start, start + n),
    )


def chunks(sizes: list[int]) -> Iterator[pd.DataFrame]:
    start = 0
    for size in sizes:
        yield users(size, start)
        start += size


@pytest.mark.slow
def test_a_200k_row_csv_in_chunks_is_stored_whole(tmp_path: Path) -> None:
    source = tmp_path / "users.csv"
    users(200_000).to_csv(source, index=False)
    output = tmp_path / "result.csv"
    with FynoEmulator(seed=0, log_bodies=False) as fyno:
        summary = push_frames(
            pd.read_csv(source, chunksize=20_000),
            "user_id",
            output=output,
            batch_size=500,
            wsid=fyno.wsid,
            api_key=fyno.api_key,
            endpoint=fyno.endpoint,
            **QUIET,
        )
        stored = pd.DataFrame.from_dict(fyno.profiles, orient="index").sort_index()
        types = fyno.property_types
    assert isinstance(summary, dict)
    assert (summary["chunks"], summary["rows"], summary["sent"]) == (10, 200_000, 200_000)
    # one request fixes the three types first (later chunks are held to them), then 400 batches
    assert summary["requests"] == 1 + 400
    expected = pd.read_csv(source).set_index("user_id")
    pd.testing.assert_frame_equal(stored, expected, check_names=False)
    assert types == {"plan": "string", "ltv": "number", "active": "boolean"}
    result = pd.read_csv(output, index_col=0)
    assert result.index.tolist() == list(range(200_000))
    assert (result["distinct_id"] == expected.index).all()
    assert (result["status"] == "sent").all()
    assert result["request_id"].notna().all()


def test_a_later_chunk_that_disagrees_is_reported_not_sent(
    destination: dict[str, str], emulator: FynoEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = users(4), users(4, start=4)
    second["ltv"] = ["12", "n/a", "7.5", "0"]  # read as text, e.g. a CSV chunk with a stray cell
    with caplog.at_level(logging.WARNING, logger="fyno_pandas"):
        result = push_frames([first, second], "user_id", **destination, **QUIET)
    assert emulator.property_types["ltv"] == "number"
    assert result.loc[4:, "dropped"].tolist() == [["ltv"]] * 4
    assert (result["status"] == "sent").all()  # their plan and active are sent
    assert all("ltv" not in emulator.profiles[f"u{i:07d}"] for i in range(4, 8))
    assert result.attrs["fyno"]["types"]["ltv"] == "number"
    assert result.attrs["fyno"]["plan"]["values_dropped"] == 4
    assert "chunk 2: 4 values dropped" in caplog.text
    assert "type_mismatch: 4" in caplog.text


def test_a_property_empty_in_the_first_chunk_is_typed_by_the_first_value(
    destination: dict[str, str],
    emulator: FynoEmulator,
) -> None:
    first, second = users(2), users(2, start=2)
    first["city"] = None
    second["city"] = ["Pune", "Oslo"]
    result = push_frames([first, second], "user_id", **destination, **QUIET)
    assert result.attrs["fyno"]["types"]["city"] == "string"
    assert emulator.profiles["u0000003"]["city"] == "Oslo"


def test_the_same_chunks_again_send_nothing(
    destination: dict[str, str], emulator: FynoEmulator
) -> None:
    first = push_frames(chunks([300, 300, 100]), "user_id", **destination, **QUIET)
    sent = len(emulator.requests)
    again = push_frames(chunks([300, 300, 100]), "user_id", **destination, **QUIET)
    assert first.attrs["fyno"]["sent"] == 700
    assert len(emulator.requests) == sent
    assert (again["status"] == "unchanged").all()
    assert again["request_id"].tolist() == first["request_id"].tolist()


def test_a_user_in_consecutive_chunks_ends_with_the_later_value(
    destination: dict[str, str], emulator: FynoEmulator
) -> None:
    def row(plan: str) -> pd.DataFrame:
        return pd.DataFrame({"user_id": ["u1"], "plan": [plan]})

    push(row("free"), "user_id", **destination, **QUIET)
    # The second chunk is planned while the first is sent: it must still see the first's ack.
    result = push_frames([row("pro"), row("free")], "user_id", **destination, **QUIET)
    assert result["status"].tolist() == ["sent", "sent"]
    assert emulator.profiles["u1"] == {"plan": "free"}


def test_ctrl_c_while_a_chunk_is_read_keeps_what_was_sent(
    destination: dict[str, str], emulator: FynoEmulator
) -> None:
    def interrupted() -> Iterator[pd.DataFrame]:
        yield users(3)
        raise KeyboardInterrupt

    with pytest.raises(PushInterrupted) as info:
        push_frames(interrupted(), "user_id", **destination, **QUIET)
    result = info.value.result
    assert result["status"].tolist() == ["sent"] * 3
    assert result.attrs["fyno"]["interrupted"] is True
    assert len(emulator.profiles) == 3


def test_no_chunks_still_writes_a_result_file(destination: dict[str, str], tmp_path: Path) -> None:
    output = tmp_path / "result.csv"
    summary = push_frames(iter([]), "user_id", output=output, **destination, **QUIET)
    assert summary["output"] == str(output)
    assert list(pd.read_csv(output, index_col=0).columns) == [
        "status",
        "error",
        "dropped",
        "distinct_id",
        "request_id",
        "http_status",
        "attempts",
        "request_ids",
        "mirror_clear",
        "push_id",
        "applied",
    ]


def test_arrow_batches_to_parquet_match_an_in_memory_push(
    destination: dict[str, str], emulator: FynoEmulator, tmp_path: Path
) -> None:
    table = pa.Table.from_pandas(users(1_000), preserve_index=False)
    output = tmp_path / "result.parquet"
    summary = push_frames(
        table.to_batches(max_chunksize=300), "user_id", output=output, **destination, **QUIET
    )
    assert summary["chunks"] == 4
    assert summary["output"] == str(output)
    streamed = pd.read_parquet(output)
    emulator.reset()
    whole = push(users(1_000), "user_id", ledger=False, **destination, **QUIET)
    # arrow batches each start their index at 0; the ids and statuses line up row by row
    assert streamed["distinct_id"].tolist() == whole["distinct_id"].tolist()
    assert streamed["status"].tolist() == whole["status"].tolist() == ["sent"] * 1_000
    assert streamed["dropped"].map(list).tolist() == [[]] * 1_000
    assert streamed["http_status"].tolist() == [202] * 1_000


def test_dry_run_needs_no_key_and_sends_nothing(emulator: FynoEmulator) -> None:
    result = push_frames(chunks([5, 5]), "user_id", dry_run=True, **QUIET)
    assert (result["status"] == "dry_run").all()
    assert result.attrs["fyno"]["dry_run"] == 10
    assert emulator.requests == []


def test_no_chunks_is_an_empty_result(destination: dict[str, str], emulator: FynoEmulator) -> None:
    result = push_frames(iter([]), "user_id", **destination, **QUIET)
    assert len(result) == 0
    assert result.attrs["fyno"]["chunks"] == 0
    assert "status" in result.columns


def test_a_chunk_that_is_not_a_table_is_named(
    destination: dict[str, str], emulator: FynoEmulator
) -> None:
    with pytest.raises(FynoInputError, match="chunk 2 is a dict"):
        push_frames([users(2), {"user_id": "x"}], "user_id", **destination, **QUIET)
    assert len(emulator.profiles) == 2


def test_a_refused_key_stops_at_once_with_the_rows_so_far(
    destination: dict[str, str], emulator: FynoEmulator
) -> None:
    bad = {**destination, "api_key": "wrong-key"}
    with pytest.raises(FynoAuthError) as caught:
        push_frames(chunks([3, 3]), "user_id", **bad, **QUIET)
    assert len(caught.value.result) == 3
    assert "wrong-key" not in str(caught.value)


def test_a_push_that_stops_closes_its_source_at_once(
    destination: dict[str, str], emulator: FynoEmulator
) -> None:
    """A query's cursor is let go when the push ends, not when its traceback is collected."""
    closed = []

    def query_rows() -> Iterator[pd.DataFrame]:
        try:
            yield users(3)
            yield users(3, start=3)
        finally:
            closed.append(True)

    with pytest.raises(FynoAuthError) as caught:
        push_frames(query_rows(), "user_id", **{**destination, "api_key": "wrong-key"}, **QUIET)
    assert closed == [True]
    assert caught.value.result is not None


def test_options_are_checked_before_the_first_chunk_is_read(
    destination: dict[str, str], emulator: FynoEmulator
) -> None:
    def never() -> Iterator[pd.DataFrame]:
        raise AssertionError("read")
        yield

    with pytest.raises(FynoInputError, match="colums"):
        push_frames(never(), "user_id", colums=["plan"], **destination)
    with pytest.raises(FynoInputError, match="concurrency"):
        push_frames(never(), "user_id", concurrency=0, **destination)
    with pytest.raises(FynoInputError, match="no such directory"):
        push_frames(never(), "user_id", output="/nonexistent/r.csv", **destination)


def test_a_type_whose_seed_was_refused_is_seeded_again_by_the_next_chunk(
    destination: dict[str, str], emulator: FynoEmulator
) -> None:
    # chunk 1's seed of code is refused: chunk 2 must fix code on purpose, not by a race
    first = pd.DataFrame({"user_id": ["a"], "code": ["abc"]})
    second = pd.DataFrame({"user_id": ["b", "c"], "code": ["2024-01-01", "xyz"]}, index=[1, 2])
    emulator.configure(error_requests=(1,), error_statuses=(503,))
    options = {"concurrency": 1, "max_retries": 0, "ledger": False}
    result = push_frames([first, second], "user_id", **destination, **options, **QUIET)
    assert result["status"].tolist() == ["failed", "sent", "sent"]
    assert emulator.property_types == {"code": "string"}
    assert emulator.profiles == {"b": {"code": "2024-01-01"}, "c": {"code": "xyz"}}
