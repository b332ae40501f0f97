"""A client of the test's emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fyno_pandas.client.http import FynoClient
from fyno_pandas.emulator import FynoEmulator
from fyno_pandas.options.retry import RetryPolicy

FAST = RetryPolicy(backoff_base=0.001, backoff_cap=0.002, seed=0)


@pytest.fixture
def client(emulator: FynoEmulator) -> Iterator[FynoClient]:
    with FynoClient(
        emulator.wsid, emulator.api_key, endpoint=emulator.endpoint, retry_policy=FAST
    ) as fyno:
        yield fyno
