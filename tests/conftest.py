"""Shared fixtures. Helpers may append fixtures at the end of this file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

import fyno_pandas
from fyno_pandas.emulator import FynoEmulator

# Property tests check behaviour; speed is the benchmarks' (a per-example deadline fails a test
# on a busy 2-core CI machine for a value that is right)
settings.register_profile("fyno_pandas", deadline=None)
settings.load_profile("fyno_pandas")


@pytest.fixture
def emulator() -> Iterator[FynoEmulator]:
    """A running emulator (seed 0: deterministic request ids), stopped after the test."""
    with FynoEmulator(seed=0) as fyno:
        yield fyno


@pytest.fixture
def destination(emulator: FynoEmulator) -> dict[str, str]:
    """The running emulator as the ``wsid``, ``api_key`` and ``endpoint`` of a push."""
    return {"wsid": emulator.wsid, "api_key": emulator.api_key, "endpoint": emulator.endpoint}


@pytest.fixture(autouse=True)
def _ledger_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Keep every test's default ledger in a fresh folder, and fail a test that writes the
    user's own ``~/.fyno_pandas`` (a worker process that lost the variable, say)."""
    monkeypatch.setenv("FYNO_PANDAS_HOME", str(tmp_path_factory.mktemp("fyno_pandas_home")))
    home = Path.home() / ".fyno_pandas"
    before = _listing(home)
    yield
    assert _listing(home) == before, f"the test wrote the user's {home}"


def _listing(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} if folder.is_dir() else {}


@pytest.fixture(autouse=True)
def _no_connection_left() -> Iterator[None]:
    """A test's ``fyno_pandas.connect`` never reaches the next test."""
    yield
    fyno_pandas.disconnect()
