"""Run by pytest before anything is collected, for the tests and the notebooks alike."""

from __future__ import annotations

import os

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Forget the shell's Fyno settings: no test, and no tutorial kernel, reaches a real workspace.

    The notebooks send to real Fyno when ``FYNO_WSID`` and ``FYNO_API_KEY`` are set; under
    pytest they must always use the emulator, whose answers their saved outputs show.
    """
    for name in ("FYNO_WSID", "FYNO_API_KEY", "FYNO_VERSION", "FYNO_ENDPOINT"):
        os.environ.pop(name, None)
