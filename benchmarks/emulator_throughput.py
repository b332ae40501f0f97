"""Emulator throughput: requests/s of one keep-alive ``http.client`` connection.

Run: ``python benchmarks/emulator_throughput.py [seconds]`` (default 3 s after a 0.5 s warm-up).

Starts the emulator the way a user does (``python -m fyno_pandas.emulator --port <free port>`` in
a subprocess, reading its ``FYNO_*`` lines), then sends ``properties/set`` requests with distinct
users and a few properties each, one at a time on one connection, checking every answer is 202.
Prints the figure and PASS/FAIL against the target of 2,500 requests/s (the emulator must never be
the bottleneck of the client's benchmarks). Exits 1 on FAIL.
"""

from __future__ import annotations

import http.client
import json
import sys
import time
from urllib.parse import urlsplit

from common import start_emulator

TARGET = 2_500.0


def run(seconds: float) -> float:
    proc, env = start_emulator(log_bodies=True)
    try:
        url = urlsplit(env["FYNO_ENDPOINT"])
        path = f"{url.path}/{env['FYNO_WSID']}/live/profiles/properties/set"
        headers = {
            "Authorization": f"Bearer {env['FYNO_API_KEY']}",
            "Content-Type": "application/json",
        }
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
        body = {"plan": "premium", "ltv": 23000.5, "active": True, "signed_up": "2024-01-05"}

        def send(i: int) -> None:
            payload = json.dumps({"distinct_id": f"user-{i}", "$set": body}).encode()
            conn.request("POST", path, payload, headers)
            answer = conn.getresponse()
            answer.read()
            if answer.status != 202:
                raise RuntimeError(f"request {i} answered {answer.status}")

        i = 0
        warm_until = time.perf_counter() + 0.5
        while time.perf_counter() < warm_until:
            send(i)
            i += 1
        start, count = time.perf_counter(), 0
        deadline = start + seconds
        while time.perf_counter() < deadline:
            send(i + count)
            count += 1
        elapsed = time.perf_counter() - start
        conn.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return count / elapsed


def main() -> int:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    rate = run(seconds)
    verdict = "PASS" if rate >= TARGET else "FAIL"
    print(f"emulator, one keep-alive connection: {rate:,.0f} requests/s")
    print(f"{verdict} (target >= {TARGET:,.0f} requests/s)")
    return 0 if rate >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
