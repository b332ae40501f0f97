"""What the push benchmarks share: the emulator in its own process, users frames, `Bench`.

Not a benchmark: imported by the scripts beside it (``import common`` works because Python puts
a script's folder first on ``sys.path``), so it prints nothing and has no figures or targets.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
import requests

from fyno_pandas.emulator.faults import DEFAULTS
from fyno_pandas.pipeline.workflow import push


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_emulator(log_bodies: bool = False) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """The emulator in a subprocess (so it does not share this process's GIL), and its three
    FYNO_* settings read from its stdout. Bodies stay out of its log unless ``log_bodies``
    (a push benchmark's 100,000 rows would fill it)."""
    cmd = [sys.executable, "-m", "fyno_pandas.emulator", "--port", str(free_port()), "--seed", "0"]
    if not log_bodies:
        cmd.append("--no-log-bodies")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    settings: dict[str, str] = {}
    while len(settings) < 3:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the emulator exited with {proc.wait()} before its settings")
        key, _, value = line.strip().removeprefix("export ").partition("=")
        if key.startswith("FYNO_"):
            settings[key] = value
    return proc, settings


def users(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` users: user_id, plan (text), ltv (float), active (bool), signup (UTC datetime)."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "user_id": [f"user-{i:06d}" for i in range(n)],
            "plan": rng.choice(["free", "pro", "team"], n),
            "ltv": rng.integers(0, 100_000, n) / 100,
            "active": rng.random(n) < 0.5,
            "signup": pd.Timestamp("2024-01-01", tz="UTC")
            + pd.to_timedelta(rng.integers(0, 365, n), unit="D"),
        }
    )


class Bench:
    """Pushes to a running emulator, and changes its faults between scenarios."""

    def __init__(self, settings: dict[str, str]) -> None:
        self.endpoint = settings["FYNO_ENDPOINT"]
        self.wsid = settings["FYNO_WSID"]
        self.key = settings["FYNO_API_KEY"]
        self.control = self.endpoint.rsplit("/v1", 1)[0] + "/__emulator"

    def configure(self, **faults: Any) -> None:
        """Forget the emulator's profiles and log, then set ``faults`` and every other fault off
        (a rate limit starts with a full bucket)."""
        requests.post(self.control + "/reset", timeout=10).raise_for_status()
        answer = requests.post(self.control + "/config", json={**DEFAULTS, **faults}, timeout=10)
        answer.raise_for_status()

    def push(self, df: pd.DataFrame, **kw: Any) -> tuple[pd.DataFrame, float, float]:
        """`push` ``df`` by user_id (no ledger unless ``ledger=`` is given): the result, and the
        wall and this process's CPU seconds the call took."""
        wall, cpu = time.perf_counter(), time.process_time()
        result = push(
            df,
            "user_id",
            wsid=self.wsid,
            api_key=self.key,
            endpoint=self.endpoint,
            preview=False,
            progress=False,
            **{"ledger": False, **kw},
        )
        return result, time.perf_counter() - wall, time.process_time() - cpu


def child_figures(script: str, settings: dict[str, str], *args: str) -> dict[str, Any]:
    """The figures ``script --child *args`` prints as JSON on its last line, run in a fresh
    Python process (so its peak RSS is its own) after the emulator is reset."""
    control = settings["FYNO_ENDPOINT"].rsplit("/v1", 1)[0] + "/__emulator"
    requests.post(control + "/reset", timeout=60).raise_for_status()
    command = [sys.executable, script, "--child", *args]
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def numbered_users(n: int, start: int) -> pd.DataFrame:
    """Users ``start`` to ``start + n`` with values that follow from their number (so any chunk
    can be made again alone), indexed by that number."""
    ids = np.arange(start, start + n)
    return pd.DataFrame(
        {
            "user_id": pd.Series(ids).map("u{:09d}".format).to_numpy(),
            "plan": np.array(["free", "pro", "team"])[ids % 3],
            "ltv": (ids % 10_000) * 0.25,
            "active": ids % 2 == 0,
        },
        index=pd.RangeIndex(start, start + n),
    )


def numbered_chunks(
    rows: int, chunk_rows: int, make: Callable[[int, int], pd.DataFrame] = numbered_users
) -> Iterator[pd.DataFrame]:
    """``rows`` users made ``chunk_rows`` at a time by ``make(n, start)``."""
    for start in range(0, rows, chunk_rows):
        yield make(min(chunk_rows, rows - start), start)
