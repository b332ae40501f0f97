"""ddf.fyno: Dask DataFrames pushed partition by partition, on the local scheduler and a cluster."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from distributed import Client, LocalCluster

import fyno_pandas.dask  # noqa: F401  (registers ddf.fyno)
from fyno_pandas import FynoAPIError, FynoAuthError, FynoConfigError, FynoInputError
from fyno_pandas.emulator import FynoEmulator

QUIET = {"preview": False, "progress": False}


def users(n: int, start: int = 0) -> pd.DataFrame:
    ids = np.arange(start, start + n)
    return pd.DataFrame(
        {
            "user_id": [f"u{i:05d}" for i in ids],
            "plan": np.array(["free", "pro"])[ids % 2],
            "ltv": ids * 2.5,
        },
        index=pd.RangeIndex(start, start + n),
    )


def mixed_ltv(partitions: int, size: int) -> dd.DataFrame:
    """ltv is numbers in the first half of the partitions and text in the others, as when
    files written apart are read together: each partition alone would type it otherwise."""

    def partition(number: int) -> pd.DataFrame:
        df = users(size, start=number * size)
        if number >= partitions // 2:
            df["ltv"] = df["ltv"].map("{:.1f}".format)
        return df

    return dd.from_map(partition, range(partitions), meta=users(0), enforce_metadata=False)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Client]:
    with (
        LocalCluster(n_workers=2, threads_per_worker=2, dashboard_address=":0") as local,
        Client(local) as client,
    ):
        yield client


def test_local_scheduler_streams_partitions_as_one_push(
    destination: dict[str, str], emulator: FynoEmulator
) -> None:
    df = users(400)
    ddf = dd.from_pandas(df, npartitions=4)
    result = ddf.fyno.push("user_id", **destination, **QUIET)
    assert isinstance(result, pd.DataFrame)
    assert result.index.tolist() == df.index.tolist()
    assert (result["status"] == "sent").all()
    assert result.attrs["fyno"]["chunks"] == 4
    stored = pd.DataFrame.from_dict(emulator.profiles, orient="index").sort_index()
    pd.testing.assert_frame_equal(stored, df.set_index("user_id"), check_names=False)


def test_plan_holds_every_partition_to_the_first_partitions_types() -> None:
    ddf = mixed_ltv(4, 25)
    issues = ddf.fyno.plan("user_id", ledger=False)
    assert issues.attrs["fyno"]["types"] == {"plan": "string", "ltv": "number"}
    assert issues.attrs["fyno"]["issues"] == {"type_mismatch": 50}
    assert sorted(issues["row"].unique()) == list(range(50, 100))
    assert sorted(issues["partition"].unique()) == [2, 3]


def test_local_push_reports_what_a_later_partition_cannot_store(
    destination: dict[str, str], emulator: FynoEmulator
) -> None:
    ddf = mixed_ltv(4, 25)
    result = ddf.fyno.push("user_id", **destination, **QUIET)
    assert emulator.property_types == {"plan": "string", "ltv": "number"}
    assert result["dropped"].map(len).tolist() == [0] * 50 + [1] * 50
    assert (result["status"] == "sent").all()


def unread_partitions() -> dd.DataFrame:
    def unread(number: int) -> pd.DataFrame:
        raise AssertionError(f"partition {number} was read")

    return dd.from_map(unread, range(2), meta=users(0), enforce_metadata=False)


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        ({}, FynoConfigError, "api_key"),
        ({"api_key": "k", "concurrency": 0}, FynoInputError, "concurrency"),
        ({"api_key": "k", "colums": ["plan"]}, FynoInputError, "colums"),
        ({"api_key": "k", "output": "/nonexistent/r.csv"}, FynoInputError, "no such directory"),
    ],
)
def test_bad_settings_fail_before_any_partition_is_read(bad, error, match) -> None:
    with pytest.raises(error, match=match):
        unread_partitions().fyno.push("user_id", wsid="FYEMULATOR", **bad, **QUIET)


# The cluster's client stays the default client once made: its tests come last.


@pytest.mark.slow
def test_a_cluster_of_two_workers_pushes_and_resumes(
    destination: dict[str, str], cluster: Client, emulator: FynoEmulator, tmp_path: Path
) -> None:
    ddf = mixed_ltv(6, 100)
    ledger = tmp_path / "ledger.sqlite"
    result = ddf.fyno.push("user_id", ledger=ledger, max_rps=400, **destination, **QUIET)
    assert isinstance(result, dd.DataFrame)
    assert result.npartitions == 6
    done = result.compute()
    assert done.index.tolist() == list(range(600))
    # row 0 seeded both new types from the client: the ledger holds it before its worker runs
    assert done["status"].tolist() == ["unchanged"] + ["sent"] * 599
    assert done["dropped"].map(len).sum() == 300
    assert emulator.property_types == {"plan": "string", "ltv": "number"}
    assert len(emulator.profiles) == 600
    sent = len(emulator.requests)
    # the workers recorded what Fyno acknowledged in the ledger file they were given
    again = ddf.fyno.push("user_id", ledger=ledger, **destination, **QUIET).compute()
    assert (again["status"] == "unchanged").all()
    assert len(emulator.requests) == sent


def test_a_cluster_returns_its_result_rather_than_writing_a_file(
    destination: dict[str, str], cluster: Client, emulator: FynoEmulator, tmp_path: Path
) -> None:
    ddf = dd.from_pandas(users(10), npartitions=2)
    with pytest.raises(FynoInputError, match="to_parquet"):
        ddf.fyno.push("user_id", output=tmp_path / "r.csv", **destination, **QUIET)
    assert emulator.requests == []


def test_a_cluster_refuses_mirror_before_anything_is_sent(
    destination: dict[str, str], cluster: Client, emulator: FynoEmulator
) -> None:
    with pytest.raises(FynoInputError, match="mirror=True is refused on a Dask cluster"):
        unread_partitions().fyno.push("user_id", mirror=True, **destination, **QUIET)
    assert emulator.requests == []


def test_on_a_cluster_bad_settings_fail_before_any_partition_is_read(cluster: Client) -> None:
    with pytest.raises(FynoInputError, match="concurrency"):
        unread_partitions().fyno.push("user_id", wsid="W", api_key="k", concurrency=0)


def test_a_column_empty_in_the_first_partition_must_be_named_for_parallel_work(
    cluster: Client, destination: dict[str, str], emulator: FynoEmulator
) -> None:
    def partition(number: int) -> pd.DataFrame:
        df = users(2, start=2 * number)
        df["city"] = None if number == 0 else "Pune"
        return df

    ddf = dd.from_map(partition, range(3), meta=users(0).assign(city=""), enforce_metadata=False)
    with pytest.raises(FynoInputError, match="'city' have no value in the first partition"):
        ddf.fyno.plan("user_id", ledger=False)
    with pytest.raises(FynoInputError, match="schema="):
        ddf.fyno.push("user_id", **destination, **QUIET)
    assert emulator.requests == []
    result = ddf.fyno.push("user_id", schema={"city": "string"}, **destination, **QUIET)
    # row 0 seeded the new types from the client into the same (default) ledger the workers
    # were given, so its worker leaves it unchanged
    assert result.compute()["status"].tolist() == ["unchanged"] + ["sent"] * 5
    assert emulator.property_types["city"] == "string"


def test_a_cluster_fixes_new_types_by_seed_before_any_partition_is_sent(
    cluster: Client, destination: dict[str, str], emulator: FynoEmulator
) -> None:
    df = pd.DataFrame({"user_id": ["a", "b", "c", "d"], "code": ["abc", "xyz", "2024-01-01", "q"]})
    ddf = dd.from_pandas(df, npartitions=2, sort=False)
    options = {"ledger": False, "max_retries": 0, **destination, **QUIET}
    # a refused seed: the push is refused, and no partition is sent
    emulator.configure(error_requests=(1,), error_statuses=(503,))
    with pytest.raises(FynoAPIError, match="'code' could not be fixed"):
        ddf.fyno.push("user_id", **options)
    assert len(emulator.requests) == 1
    emulator.configure(error_requests=())
    # a new add property: its seed would be the worker's add too
    with pytest.raises(FynoInputError, match="schema="):
        ddf.assign(n=1).fyno.push("user_id", ops={"n": "add"}, **options)
    assert len(emulator.requests) == 1
    result = ddf.fyno.push("user_id", **options).compute()
    assert (result["status"] == "sent").all()
    assert emulator.requests[1]["body"] == {"distinct_id": "a", "$set": {"code": "abc"}}
    assert emulator.property_types == {"code": "string"}
    assert emulator.profiles["c"] == {"code": "2024-01-01"}


def test_a_key_a_worker_finds_refused_reaches_the_client_as_one_clear_error(
    cluster: Client, destination: dict[str, str], emulator: FynoEmulator
) -> None:
    """The types are named, so no seed checks the key first: a worker's push is refused."""
    ddf = dd.from_pandas(users(4), npartitions=2)
    wrong = {**destination, "api_key": "wrong-key-91ab", "ledger": False, **QUIET}
    pushed = ddf.fyno.push("user_id", schema={"plan": "string", "ltv": "number"}, **wrong)
    with pytest.raises(FynoAuthError, match="check the API key and workspace") as caught:
        pushed.compute()
    assert caught.value.status == 401
    assert set(caught.value.result["status"]) <= {"failed", "pending"}
