"""fyno_pandas.spark.push: a PySpark DataFrame streamed to the driver, or pushed by executors.

One local SparkSession (``local[2]``, bound to loopback, no UI) serves every test: it starts in
seconds, not milliseconds. Its session time zone is not UTC, so an instant that took the zone
for a wall time (or the reverse) stores a different value than the pandas push.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from test_sources import ROWS, segment

import fyno_pandas
from fyno_pandas import FynoAuthError, FynoInputError
from fyno_pandas.emulator import FynoEmulator


def _missing() -> str | None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed: pip install 'fyno_pandas[spark]'"
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "Java is not installed (Spark needs it): apt-get install openjdk-17-jre-headless"
    return None


pytestmark = [
    pytest.mark.skipif(_missing() is not None, reason=str(_missing())),
    # PySpark's own notice on pandas 3, which these tests (Arrow only) do not depend on
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
]

ZONE = "Asia/Kolkata"  # +05:30: neither UTC nor a whole number of hours away
QUIET = {"preview": False, "progress": False, "batch_size": 100}


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    from pyspark.sql import SparkSession

    with pytest.MonkeyPatch.context() as env:
        env.setenv("SPARK_LOCAL_IP", "127.0.0.1")
        env.setenv("PYSPARK_PYTHON", sys.executable)  # the executors' Python: this venv's
        session = (
            SparkSession.builder.master("local[2]")
            .appName("fyno_pandas tests")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.sql.session.timeZone", ZONE)
            # several Arrow batches per partition
            .config("spark.sql.execution.arrow.maxRecordsPerBatch", "200")
            .getOrCreate()
        )
        session.sparkContext.setLogLevel("ERROR")
        yield session
        session.stop()


def spark_segment(spark: Any, drop: tuple[str, ...] = ()) -> tuple[pd.DataFrame, Any]:
    """The sources' segment as pandas and as a Spark DataFrame: its naive column a
    ``TIMESTAMP_NTZ``, its aware one a ``TIMESTAMP`` (an instant)."""
    from pyspark.sql.pandas.types import from_arrow_schema

    table = segment().drop_columns(list(drop))
    sdf = spark.createDataFrame(table, schema=from_arrow_schema(table.schema))
    assert sdf.rdd.getNumPartitions() == 2
    return table.to_pandas(), sdf


def pushed(push: Callable[..., Any], **options: Any) -> tuple[dict, Any, Counter[str]]:
    """What a fresh emulator holds after ``push(**where, **options)``, the result, and how many
    requests named each user."""
    with FynoEmulator(seed=0) as fyno:
        where = {"wsid": fyno.wsid, "api_key": fyno.api_key, "endpoint": fyno.endpoint}
        result = push(**where, **options, **QUIET)
        bodies = [r["body"] for r in fyno.requests]
        named = Counter(
            update["distinct_id"] for body in bodies for update in body.get("batch", [body])
        )
        return fyno.profiles, result, named


def spark_push(sdf: Any, cluster: bool) -> Callable[..., Any]:
    return lambda **kw: fyno_pandas.spark.push(sdf, "uid", cluster=cluster, **kw)


def test_streamed_spark_stores_what_a_pandas_push_of_its_rows_stores(spark: Any) -> None:
    import fyno_pandas.spark

    df, sdf = spark_segment(spark)
    adds = {"ops": {"credits": "add"}}
    expected, _, _ = pushed(lambda **kw: fyno_pandas.push(df, "uid", **kw), **adds)
    held, result, _ = pushed(spark_push(sdf, cluster=False), **adds)
    assert result.index.tolist() == list(range(ROWS))
    assert result["distinct_id"].tolist() == df["uid"].tolist()
    assert result.attrs["fyno"]["chunks"] == 1
    assert held == expected
    assert len(held) == ROWS


def test_cluster_mode_stores_what_a_pandas_push_of_its_rows_stores(spark: Any) -> None:
    import fyno_pandas.spark

    df, sdf = spark_segment(spark, drop=("credits",))
    expected, _, _ = pushed(lambda **kw: fyno_pandas.push(df, "uid", **kw))
    held, result, named = pushed(spark_push(sdf, cluster=True))
    assert isinstance(result, pd.DataFrame)
    assert result.index.tolist() == list(range(ROWS))
    assert result["distinct_id"].tolist() == df["uid"].tolist()
    # the first rows' seeds fixed the new types from the driver, into the same default ledger
    # the executors were given: the one row whose every value was a seed is acknowledged there
    # before its partition runs
    assert result["status"].value_counts().to_dict() == {"sent": ROWS - 1, "unchanged": 1}
    assert result.attrs["fyno"]["partitions"] == 2
    # each partition sent once: a user is named by its row's request, and the few seed rows by
    # their seeds' requests too (a row whose seeds were all it held, by those alone)
    assert set(named) == set(df["uid"])
    assert sum(named.values()) - len(named) < len(df.columns)
    assert set(result.attrs["fyno"]["types"]) == set(df.columns) - {"uid"}
    assert held == expected


@pytest.mark.parametrize("cluster", [False, True], ids=["streamed", "cluster"])
def test_a_doubles_nan_and_null_both_reach_the_plan_as_missing(spark: Any, cluster: bool) -> None:
    from pyspark.sql import functions as F  # noqa: N812

    import fyno_pandas.spark

    rows = [("a", 1.5), ("b", float("nan")), ("c", None), ("d", 2.0)]
    sdf = spark.createDataFrame(rows, "uid string, score double")
    kinds = sdf.select(F.isnan("score").alias("nan"), F.isnull("score").alias("null")).collect()
    both = [(False, False), (True, False), (False, True), (False, False)]
    assert [(k.nan, k.null) for k in kinds] == both  # Spark holds a NaN and a null
    df = pd.DataFrame({"uid": ["a", "b", "c", "d"], "score": [1.5, np.nan, np.nan, 2.0]})
    expected, _, _ = pushed(lambda **kw: fyno_pandas.push(df, "uid", **kw))
    held, result, _ = pushed(spark_push(sdf, cluster))
    assert held == expected
    assert "score" not in held.get("b", {})
    assert "score" not in held.get("c", {})
    assert len(result) == 4


@pytest.mark.parametrize(
    ("options", "column", "match"),
    [
        ({"ops": {"credits": "add"}}, "credits", "column 'credits' is an add"),
        ({"ops": {"tags": "append"}}, "tags", "column 'tags' is an append"),
        ({"mirror": True}, None, "mirror=True is refused on a Spark cluster"),
    ],
)
def test_cluster_mode_refuses_what_a_retried_task_would_repeat_before_sending(
    spark: Any, options: dict[str, Any], column: str | None, match: str
) -> None:
    import fyno_pandas.spark

    _, sdf = spark_segment(spark)
    with FynoEmulator(seed=0) as fyno:
        where = {"wsid": fyno.wsid, "api_key": fyno.api_key, "endpoint": fyno.endpoint}
        with pytest.raises(FynoInputError, match=match) as refused:
            fyno_pandas.spark.push(sdf, "uid", cluster=True, **where, **options, **QUIET)
        assert fyno.requests == []
    assert refused.value.column == column


def test_a_key_the_executors_find_refused_reaches_the_driver_as_one_clear_error(
    spark: Any,
) -> None:
    """The types are named, so no seed checks the key on the driver: the executors' pushes are
    refused, each after its first request."""
    import fyno_pandas.spark

    sdf = spark.createDataFrame([(f"u{i}", "pro") for i in range(6)], "uid string, plan string")
    with FynoEmulator(seed=0) as fyno:
        wrong = {"wsid": fyno.wsid, "api_key": "wrong-key-91ab", "endpoint": fyno.endpoint}
        with pytest.raises(FynoAuthError, match="check the API key and workspace") as caught:
            fyno_pandas.spark.push(
                sdf, "uid", cluster=True, schema={"plan": "string"}, ledger=False, **wrong, **QUIET
            )
    assert caught.value.status == 401
    assert "wrong-key-91ab" not in str(caught.value)
    assert set(caught.value.result["status"]) <= {"failed", "pending"}


@pytest.mark.parametrize("cluster", [False, True], ids=["streamed", "cluster"])
def test_a_frame_with_no_rows_sends_nothing(spark: Any, cluster: bool) -> None:
    import fyno_pandas.spark

    sdf = spark.createDataFrame([], "uid string, plan string")
    with FynoEmulator(seed=0) as fyno:
        where = {"wsid": fyno.wsid, "api_key": fyno.api_key, "endpoint": fyno.endpoint}
        result = fyno_pandas.spark.push(sdf, "uid", cluster=cluster, **where, **QUIET)
        assert fyno.requests == []
    assert len(result) == 0


def test_cluster_mode_refuses_speculation_before_anything_is_read() -> None:
    """A stand-in frame that cannot be read: the refusal must come first."""
    import fyno_pandas.spark

    context = SimpleNamespace(getConf=lambda: {"spark.speculation": "true"})
    unread = SimpleNamespace(columns=["uid"], sparkSession=SimpleNamespace(sparkContext=context))
    with pytest.raises(FynoInputError, match=r"spark\.speculation=true") as refused:
        fyno_pandas.spark.push(unread, "uid", cluster=True, wsid="W", api_key="k", **QUIET)
    assert refused.value.rule == "cluster_speculation"


def test_cluster_mode_shares_max_rps_out_over_the_task_slots(spark: Any) -> None:
    """Two slots at once, each held to half of max_rps: together under a Fyno that answers 429
    above max_rps, where each at the whole max_rps would be over it."""
    import fyno_pandas.spark

    sdf = spark.createDataFrame([(f"u{i:02d}", i) for i in range(60)], "uid string, n bigint")
    with FynoEmulator(seed=0) as fyno:
        fyno.configure(rate_limit=30)
        where = {"wsid": fyno.wsid, "api_key": fyno.api_key, "endpoint": fyno.endpoint}
        options = {"max_rps": 20, "batch_size": 1, "ledger": False, "schema": {"n": "number"}}
        result = fyno_pandas.spark.push(sdf, "uid", cluster=True, **where, **QUIET | options)
        statuses = Counter(r["status"] for r in fyno.requests)
    assert (result["status"] == "sent").all()
    assert statuses == {202: 60}  # none answered 429


def test_streamed_mirror_clears_the_leavers_once_after_the_last_partition(
    spark: Any, tmp_path: Path
) -> None:
    import fyno_pandas.spark

    def users(ids: list[int]) -> Any:
        return spark.createDataFrame(
            [(f"u{i}", "churn_risk") for i in ids], "uid string, seg string"
        )

    with FynoEmulator(seed=0) as fyno:
        where = {"wsid": fyno.wsid, "api_key": fyno.api_key, "endpoint": fyno.endpoint}
        options = {**where, "ledger": tmp_path / "ledger.sqlite", **QUIET}
        fyno_pandas.spark.push(users([0, 1, 2, 3, 4, 5]), "uid", **options)
        result = fyno_pandas.spark.push(users([0, 2, 3, 5]), "uid", mirror=True, **options)
        profiles = fyno.profiles
    assert {u for u, held in profiles.items() if held} == {"u0", "u2", "u3", "u5"}
    assert result["mirror_clear"].tolist() == [False] * 4 + [True] * 2


def test_retry_failed_reads_only_the_failed_rows_as_arrow_and_adds_once(spark: Any) -> None:
    import fyno_pandas.spark

    df, sdf = spark_segment(spark)
    adds = {"ops": {"credits": "add"}, "concurrency": 1}
    expected, _, _ = pushed(lambda **kw: fyno_pandas.push(df, "uid", **kw), **adds)
    with FynoEmulator(seed=0) as fyno:
        where = {"wsid": fyno.wsid, "api_key": fyno.api_key, "endpoint": fyno.endpoint}
        fyno.configure(error_requests=[12], error_statuses=[400])  # a batch after the seeds
        first = fyno_pandas.spark.push(sdf, "uid", **where, **QUIET, **adds)
        assert (first["status"] == "failed").sum() == QUIET["batch_size"]
        fyno.configure(error_requests=[])
        for _ in range(2):  # the second retry of the same result finds nothing left to add
            again = fyno_pandas.spark.retry_failed(sdf, first, "uid", **where, **QUIET)
        assert again["status"].isin(["sent", "unchanged"]).all()
        assert len(again) == ROWS
        # the instants of the session's zone (Asia/Kolkata) are stored as the pandas push's
        assert fyno.profiles == expected
