"""Shared fixtures. Helpers may append fixtures at the end of this file."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fyno_pandas.emulator import FynoEmulator


@pytest.fixture
def emulator() -> Iterator[FynoEmulator]:
    """A running emulator (seed 0: deterministic request ids), stopped after the test."""
    with FynoEmulator(seed=0) as fyno:
        yield fyno
