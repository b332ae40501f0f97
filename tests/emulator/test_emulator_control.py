"""Control and start-up: the state/config/reset endpoints, in-process inspection, deterministic
request ids, and the three ways to start the emulator (with, start/stop, ``python -m``)."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from fyno_pandas.emulator import DEFAULT_API_KEY, DEFAULT_WSID, FynoEmulator


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


def post(session, fyno, body: Any, operation: str = "set", version: str = "live"):
    url = f"{fyno.endpoint}/{fyno.wsid}/{version}/profiles/properties/{operation}"
    headers = {"Authorization": f"Bearer {fyno.api_key}"}
    return session.post(url, json=body, headers=headers, timeout=10)


def control(fyno: FynoEmulator, name: str) -> str:
    return f"{fyno.endpoint.removesuffix('/v1')}/__emulator/{name}"


def body(user: str, **values: Any) -> dict[str, Any]:
    return {"distinct_id": user, "$set": values}


def test_state_endpoint(emulator, session) -> None:
    post(session, emulator, body("u1", plan="pro"))
    post(session, emulator, body("u2", n=1), version="test")
    state = session.get(control(emulator, "state"), timeout=10).json()
    assert state["workspaces"] == {
        "FYEMULATOR": {
            "live": {"profiles": {"u1": {"plan": "pro"}}, "property_types": {"plan": "string"}},
            "test": {"profiles": {"u2": {"n": 1}}, "property_types": {"n": "number"}},
        }
    }
    assert [(r["version"], r["status"], r["body_size"]) for r in state["requests"]] == [
        ("live", 202, len(json.dumps(body("u1", plan="pro")))),
        ("test", 202, len(json.dumps(body("u2", n=1)))),
    ]
    assert state["faults"] == emulator.faults
    assert state == emulator.state()


def test_config_endpoint_changes_faults_at_run_time(emulator, session) -> None:
    answer = session.post(control(emulator, "config"), json={"throttle_rate": 1.0}, timeout=10)
    assert answer.status_code == 200
    assert answer.json()["throttle_rate"] == 1.0
    assert emulator.faults["throttle_rate"] == 1.0
    assert post(session, emulator, body("u1", n=1)).status_code == 429


@pytest.mark.parametrize(
    "payload", [b'{"error_rate": 2}', b'{"unknown": 1}', b"[1]", b"{bad", b'{"latency": NaN}']
)
def test_config_endpoint_refuses_bad_settings(emulator, session, payload) -> None:
    answer = session.post(control(emulator, "config"), data=payload, timeout=10)
    assert answer.status_code == 400
    assert answer.json()["status"] == "error"
    assert emulator.faults["error_rate"] == 0.0


def test_reset_endpoint_and_method(emulator, session) -> None:
    post(session, emulator, body("u1", plan="pro"))
    emulator.configure(latency=0.01)
    assert session.get(control(emulator, "reset"), timeout=10).status_code == 405
    assert session.post(control(emulator, "reset"), timeout=10).json() == {"status": "ok"}
    assert (emulator.profiles, emulator.property_types, emulator.requests) == ({}, {}, [])
    assert emulator.faults["latency"] == 0.01  # reset keeps fault settings
    assert session.post(control(emulator, "state"), timeout=10).status_code == 405


def test_control_requests_are_not_logged(emulator, session) -> None:
    session.get(control(emulator, "state"), timeout=10)
    session.post(control(emulator, "config"), json={}, timeout=10)
    assert emulator.requests == []


def test_reset_in_process(emulator, session) -> None:
    post(session, emulator, body("u1", plan="pro"))
    emulator.reset()
    assert (emulator.profiles, emulator.property_types, emulator.requests) == ({}, {}, [])


def test_inspection_returns_copies(emulator, session) -> None:
    post(session, emulator, body("u1", tags=["a"]))
    emulator.profiles["u1"]["tags"].append("changed")
    emulator.property_types["tags"] = "string"
    assert emulator.profiles == {"u1": {"tags": ["a"]}}
    assert emulator.property_types == {"tags": "list"}


def test_store_of_another_version_or_unknown_workspace(emulator, session) -> None:
    post(session, emulator, body("u1", n=1), version="test")
    assert emulator.store(version="test").profiles == {"u1": {"n": 1}}
    with pytest.raises(KeyError):
        emulator.store("NOPE")


def test_log_bodies_can_be_left_out(session) -> None:
    with FynoEmulator(log_bodies=False) as fyno:
        post(session, fyno, body("u1", n=1))
        assert fyno.requests[0]["body"] is None
        assert fyno.requests[0]["body_size"] > 0


def ids(fyno: FynoEmulator, session, bodies: list[dict[str, Any]]) -> list[str]:
    return [post(session, fyno, b).json()["request_id"] for b in bodies]


def test_seeded_request_ids_do_not_depend_on_arrival_order(session) -> None:
    a, b = body("u1", n=1), body("u2", n=2)
    with FynoEmulator(seed=0) as first, FynoEmulator(seed=0) as second:
        one = ids(first, session, [a, b, a])
        two = ids(second, session, [b, a, a])
    assert one == [two[1], two[0], two[2]]
    assert len(set(one)) == 3  # the same body sent again gets a new id
    assert all(uuid.UUID(i).version == 5 for i in one)


def test_other_seed_or_no_seed_gives_other_ids(session) -> None:
    a = body("u1", n=1)
    with FynoEmulator(seed=0) as s0, FynoEmulator(seed=1) as s1, FynoEmulator() as random_ids:
        assert ids(s0, session, [a]) != ids(s1, session, [a])
        (random_id,) = ids(random_ids, session, [a])
        assert uuid.UUID(random_id).version == 4


def test_reset_restarts_the_id_sequence(emulator, session) -> None:
    a = body("u1", n=1)
    first = ids(emulator, session, [a])
    emulator.reset()
    assert ids(emulator, session, [a]) == first


def test_context_manager_serves_then_releases_the_port(session) -> None:
    with FynoEmulator() as fyno:
        assert (fyno.wsid, fyno.api_key) == (DEFAULT_WSID, DEFAULT_API_KEY)
        assert fyno.endpoint == f"http://127.0.0.1:{fyno.port}/v1"
        assert fyno.running
        assert post(session, fyno, body("u1", n=1)).status_code == 202
        endpoint = fyno.endpoint
    assert not fyno.running
    with pytest.raises(requests.ConnectionError):
        session.post(f"{endpoint}/FYEMULATOR/live/profiles/properties/set", json={}, timeout=10)


def test_start_and_stop(session) -> None:
    fyno = FynoEmulator(workspaces={"WS": "secret"}).start()
    try:
        assert (fyno.wsid, fyno.api_key) == ("WS", "secret")
        assert "secret" not in repr(fyno)
        assert post(session, fyno, body("u1", n=1)).status_code == 202
        with pytest.raises(RuntimeError):
            fyno.start()
    finally:
        fyno.stop()
    fyno.stop()  # idempotent
    assert repr(fyno) == "FynoEmulator(not running, wsid='WS')"
    with pytest.raises(RuntimeError):
        _ = fyno.endpoint


def test_stop_closes_idle_keep_alive_connections() -> None:
    fyno = FynoEmulator().start()
    conn = http.client.HTTPConnection("127.0.0.1", fyno.port, timeout=10)
    try:
        conn.request("POST", "/v1/FYEMULATOR/live/profiles/properties/set", "{}")
        conn.getresponse().read()  # answered 401; the connection stays open
        fyno.stop()
        assert conn.sock.recv(1) == b""  # the server closed its end
    finally:
        conn.close()
        fyno.stop()


def test_command_line_prints_settings_and_serves_until_terminated(session) -> None:
    command = [sys.executable, "-m", "fyno_pandas.emulator", "--port", "0", "--seed", "3"]
    command += ["--workspace", "WS1=k1", "--throttle-rate", "1"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().strip() for _ in range(4)]
        assert all(line.startswith("export ") for line in lines[:3])
        assert lines[3].startswith("# ")
        assert "Ctrl-C" in lines[3]
        settings = dict(line.removeprefix("export ").split("=", 1) for line in lines[:3])
        assert list(settings) == ["FYNO_ENDPOINT", "FYNO_WSID", "FYNO_API_KEY"]
        assert (settings["FYNO_WSID"], settings["FYNO_API_KEY"]) == ("WS1", "k1")
        url = f"{settings['FYNO_ENDPOINT']}/WS1/live/profiles/properties/set"
        headers = {"Authorization": "Bearer k1"}
        answer = session.post(url, json=body("u1", n=1), headers=headers, timeout=10)
        assert answer.status_code == 429
        state_url = settings["FYNO_ENDPOINT"].removesuffix("/v1") + "/__emulator/state"
        assert session.get(state_url, timeout=10).json()["faults"]["throttle_rate"] == 1.0
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0, stderr


def test_command_line_refuses_bad_flags() -> None:
    command = [sys.executable, "-m", "fyno_pandas.emulator", "--port", "0", "--error-rate", "3"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 2
    assert "error_rate" in done.stderr
