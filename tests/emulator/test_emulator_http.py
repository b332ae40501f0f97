"""The emulator's HTTP contract: every status code and error body, auth per workspace, live/test
separation, batch statuses, keep-alive and the request log. Plain ``requests`` over loopback."""

from __future__ import annotations

import http.client
import json
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from fyno_pandas.emulator import FynoEmulator

OPERATIONS = [
    "set",
    "set-once",
    "numerical-add",
    "list-append",
    "list-remove",
    "unset",
    "batch",
]
UNAUTHORIZED = {"_message": "Invalid API details", "status": "error"}
NOT_ALLOWED = "$set has object/keys that is not allowed"


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


def url(fyno: FynoEmulator, operation: str, version: str = "live", wsid: str | None = None) -> str:
    return f"{fyno.endpoint}/{wsid or fyno.wsid}/{version}/profiles/properties/{operation}"


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def post(session, fyno, operation, body, *, version="live", wsid=None, key=None, raw=None):
    """POST a JSON body (or raw bytes) with the emulator's key unless another is given."""
    headers = auth(fyno.api_key if key is None else key)
    headers["Content-Type"] = "application/json"
    data = raw if raw is not None else json.dumps(body).encode()
    return session.post(url(fyno, operation, version, wsid), data=data, headers=headers, timeout=10)


def assert_error(answer: requests.Response, status: int, message: str | None = None) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"] == "application/json"
    body = answer.json()
    assert set(body) == {"_message", "status"}
    assert body["status"] == "error"
    assert isinstance(body["_message"], str)
    assert body["_message"]
    if message is not None:
        assert body["_message"] == message


def test_set_answers_202_with_a_uuid_request_id(emulator, session) -> None:
    answer = post(session, emulator, "set", {"distinct_id": "u1", "$set": {"plan": "pro"}})
    assert answer.status_code == 202
    assert answer.headers["Content-Type"] == "application/json"
    body = answer.json()
    assert set(body) == {"request_id"}
    assert str(uuid.UUID(body["request_id"])) == body["request_id"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        auth("wrong-key"),
        {"Authorization": "emulator-key"},
        {"Authorization": "Basic emulator-key"},
        auth(""),
    ],
)
def test_missing_or_bad_key_is_401(emulator, session, headers) -> None:
    body = {"distinct_id": "u1", "$set": {"plan": "pro"}}
    answer = session.post(url(emulator, "set"), json=body, headers=headers, timeout=10)
    assert_error(answer, 401)
    assert answer.json() == UNAUTHORIZED
    assert emulator.profiles == {}


@pytest.mark.parametrize("operation", OPERATIONS)
def test_every_operation_needs_the_key(emulator, session, operation) -> None:
    answer = post(session, emulator, operation, {}, key="nope")
    assert answer.json() == UNAUTHORIZED


def test_key_is_bound_to_its_workspace(session) -> None:
    with FynoEmulator(workspaces={"WS_A": "key-a", "WS_B": "key-b"}) as fyno:
        body = {"distinct_id": "u1", "$set": {"plan": "pro"}}
        assert post(session, fyno, "set", body, wsid="WS_A", key="key-b").status_code == 401
        assert post(session, fyno, "set", body, wsid="UNKNOWN", key="key-a").status_code == 401
        assert post(session, fyno, "set", body, wsid="WS_B", key="key-b").status_code == 202
        assert fyno.wsid == "WS_A"
        assert fyno.profiles == {}
        assert fyno.store("WS_B").profiles == {"u1": {"plan": "pro"}}


def test_live_and_test_hold_separate_profiles_and_types(emulator, session) -> None:
    post(session, emulator, "set", {"distinct_id": "u1", "$set": {"p": 1}}, version="test")
    post(session, emulator, "set", {"distinct_id": "u2", "$set": {"p": "one"}}, version="live")
    assert emulator.store(version="test").profiles == {"u1": {"p": 1}}
    assert emulator.store(version="test").property_types == {"p": "number"}
    assert emulator.profiles == {"u2": {"p": "one"}}
    assert emulator.property_types == {"p": "string"}


@pytest.mark.parametrize(
    "path",
    [
        "/v1/FYEMULATOR/live/profiles/properties/delete",
        "/v1/FYEMULATOR/staging/profiles/properties/set",
        "/v2/FYEMULATOR/live/profiles/properties/set",
        "/v1/FYEMULATOR/live/profiles/set",
        "/v1//live/profiles/properties/set",
        "/",
        "/__emulator/nothing",
    ],
)
def test_unknown_path_is_404(emulator, session, path) -> None:
    base = emulator.endpoint.removesuffix("/v1")
    answer = session.post(base + path, json={}, headers=auth(emulator.api_key), timeout=10)
    assert_error(answer, 404)


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_wrong_method_is_405_with_allow(emulator, session, method) -> None:
    headers = auth(emulator.api_key)
    answer = session.request(method, url(emulator, "set"), headers=headers, timeout=10)
    assert_error(answer, 405)
    assert answer.headers["Allow"] == "POST"


def test_head_is_405_without_a_body(emulator, session) -> None:
    answer = session.head(url(emulator, "set"), timeout=10)
    assert answer.status_code == 405
    assert answer.content == b""


def test_body_above_max_body_bytes_is_413_and_the_connection_stays_usable(session) -> None:
    with FynoEmulator(max_body_bytes=200) as fyno:
        padding = "x" * 150
        body = {"distinct_id": "u1", "$set": {"a": padding, "b": padding}}
        assert_error(post(session, fyno, "set", body), 413)
        small = {"distinct_id": "u1", "$set": {"a": "ok"}}
        exact = json.dumps(small).encode()
        exact = exact[:-1] + b" " * (200 - len(exact)) + b"}"
        assert post(session, fyno, "set", None, raw=exact).status_code == 202
        assert fyno.profiles == {"u1": {"a": "ok"}}
        assert [r["status"] for r in fyno.requests] == [413, 202]


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{bad json",
        b'{"distinct_id": "u1", "$set": {"x": NaN}}',
        b'{"distinct_id": "u1", "$set": {"x": Infinity}}',
        b'{"distinct_id": "u1", "$set": {"x": -Infinity}}',
        b'{"distinct_id": "u1"} trailing',
        b"\xff\xfe",
    ],
)
def test_malformed_json_is_400(emulator, session, raw) -> None:
    assert_error(post(session, emulator, "set", None, raw=raw), 400)
    assert emulator.profiles == {}


@pytest.mark.parametrize(
    "body",
    [
        [],
        "text",
        {"$set": {"a": 1}},
        {"distinct_id": "", "$set": {"a": 1}},
        {"distinct_id": 12, "$set": {"a": 1}},
        {"distinct_id": None, "$set": {"a": 1}},
        {"distinct_id": "u1"},
        {"distinct_id": "u1", "$set": {}},
        {"distinct_id": "u1", "$set": ["a"]},
        {"distinct_id": "u1", "$set": "a"},
    ],
)
def test_bad_set_body_is_400(emulator, session, body) -> None:
    assert_error(post(session, emulator, "set", body), 400)
    assert emulator.profiles == {}


@pytest.mark.parametrize("value", [{"nested": 1}, None, [{"a": 1}], [["a"]], ["a", None], [None]])
def test_object_or_null_value_is_400_with_fynos_message(emulator, session, value) -> None:
    body = {"distinct_id": "u1", "$set": {"ok": 1, "bad": value}}
    assert_error(post(session, emulator, "set", body), 400, NOT_ALLOWED)
    assert emulator.profiles == {}


@pytest.mark.parametrize(
    ("operation", "key", "value"),
    [
        ("set-once", "$once", {"a": {"b": 1}}),
        ("numerical-add", "$add", {"a": "5"}),
        ("numerical-add", "$add", {"a": True}),
        ("numerical-add", "$add", {"a": None}),
        ("list-append", "$append", {"a": ["b"]}),
        ("list-append", "$append", {"a": True}),
        ("list-remove", "$remove", {"a": {"b": 1}}),
        ("list-remove", "$remove", {"a": None}),
    ],
)
def test_not_allowed_values_of_other_operations(emulator, session, operation, key, value) -> None:
    answer = post(session, emulator, operation, {"distinct_id": "u1", key: value})
    assert_error(answer, 400, f"{key} has object/keys that is not allowed")


@pytest.mark.parametrize(
    ("operation", "key"),
    [
        ("set-once", "$once"),
        ("numerical-add", "$add"),
        ("list-append", "$append"),
        ("list-remove", "$remove"),
        ("unset", "$unset"),
    ],
)
def test_missing_or_empty_argument_is_400(emulator, session, operation, key) -> None:
    empty: Any = [] if key == "$unset" else {}
    assert_error(post(session, emulator, operation, {"distinct_id": "u1"}), 400)
    assert_error(post(session, emulator, operation, {"distinct_id": "u1", key: empty}), 400)


@pytest.mark.parametrize("names", [[], "plan", [""], [1], None])
def test_bad_unset_is_400(emulator, session, names) -> None:
    assert_error(post(session, emulator, "unset", {"distinct_id": "u1", "$unset": names}), 400)


def test_empty_unset_has_fynos_message(emulator, session) -> None:
    answer = post(session, emulator, "unset", {"distinct_id": "u1", "$unset": []})
    assert_error(answer, 400, "$unset channel should have atleast one item in array")


def test_batch_answers_one_status_per_item_in_order(emulator, session) -> None:
    batch = [
        {"distinct_id": "u1", "action": {"$set": {"plan": "pro"}, "$unset": ["old"]}},
        {"distinct_id": "", "action": {"$set": {"plan": "x"}}},
        {"distinct_id": "u3", "action": {"$set": {"plan": "x", "bad": {"a": 1}}}},
        {"distinct_id": "u4", "action": {"$set": {"plan": "x"}, "$unset": []}},
        "not an item",
        {"distinct_id": "u6"},
        {"distinct_id": "u7", "action": {"$bogus": {"a": 1}}},
        {"distinct_id": "u8", "action": {"$add": {"n": 2}, "$append": {"tags": "a"}}},
    ]
    answer = post(session, emulator, "batch", {"batch": batch})
    assert answer.status_code == 202
    body = answer.json()
    assert set(body) == {"request_id", "batch"}
    statuses = body["batch"]
    assert len(statuses) == len(batch)
    assert statuses[0] == {"$set": "ok", "$unset": "ok"}
    assert statuses[1] == {"$set": "distinct_id should be a non-empty string"}
    assert statuses[2] == {"$set": NOT_ALLOWED}
    assert statuses[3]["$unset"] == "$unset channel should have atleast one item in array"
    assert statuses[3]["$set"].startswith("not applied")
    assert set(statuses[4]) == {"error"}
    assert set(statuses[5]) == {"error"}
    assert statuses[6]["$bogus"] != "ok"
    assert statuses[7] == {"$add": "ok", "$append": "ok"}
    assert emulator.profiles == {"u1": {"plan": "pro"}, "u8": {"n": 2, "tags": ["a"]}}


@pytest.mark.parametrize("body", [{"batch": []}, {"batch": {"a": 1}}, {}, {"batch": None}])
def test_empty_or_non_list_batch_is_400(emulator, session, body) -> None:
    assert_error(post(session, emulator, "batch", body), 400)


def test_batch_applies_items_in_order(emulator, session) -> None:
    batch = [
        {"distinct_id": "u1", "action": {"$set": {"n": 1}}},
        {"distinct_id": "u1", "action": {"$set": {"n": "one"}}},  # dropped: n is a number
        {"distinct_id": "u1", "action": {"$add": {"n": 2}}},
    ]
    assert post(session, emulator, "batch", {"batch": batch}).status_code == 202
    assert emulator.profiles == {"u1": {"n": 3}}


def test_keep_alive_serves_many_requests_on_one_connection(emulator) -> None:
    parts = urlsplit(emulator.endpoint)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        path = urlsplit(url(emulator, "set")).path
        for i in range(5):
            body = json.dumps({"distinct_id": f"u{i}", "$set": {"n": i}})
            conn.request("POST", path, body, auth(emulator.api_key))
            answer = conn.getresponse()
            assert answer.status == 202
            assert answer.getheader("Connection") is None
            answer.read()
        sock = conn.sock
        conn.request("POST", path, "{}", auth(emulator.api_key))
        conn.getresponse().read()
        assert conn.sock is sock  # still the first connection
    finally:
        conn.close()
    assert len(emulator.profiles) == 5


def test_connection_close_is_honoured(emulator, session) -> None:
    headers = {**auth(emulator.api_key), "Connection": "close"}
    body = {"distinct_id": "u1", "$set": {"n": 1}}
    answer = session.post(url(emulator, "set"), json=body, headers=headers, timeout=10)
    assert answer.status_code == 202
    assert answer.headers["Connection"] == "close"


def test_request_log_entries(emulator, session) -> None:
    body = {"distinct_id": "u1", "$set": {"n": 1}}
    ok = post(session, emulator, "set", body, version="test")
    post(session, emulator, "unset", {"distinct_id": "u1", "$unset": ["n"]}, key="bad")
    session.get(url(emulator, "set"), timeout=10)
    first, second, third = emulator.requests
    assert first == {
        "method": "POST",
        "path": f"/v1/{emulator.wsid}/test/profiles/properties/set",
        "operation": "set",
        "wsid": emulator.wsid,
        "version": "test",
        "status": 202,
        "body_size": len(json.dumps(body)),
        "body": body,
        "request_id": ok.json()["request_id"],
        "fault": None,
    }
    assert (second["operation"], second["status"], second["body"]) == ("unset", 401, None)
    assert second["request_id"] is None
    assert (third["method"], third["status"]) == ("GET", 405)


def test_chunked_body_is_411(emulator, session) -> None:
    chunks = iter([b'{"distinct_id": "u1", ', b'"$set": {"n": 1}}'])
    headers = auth(emulator.api_key)
    answer = session.post(url(emulator, "set"), data=chunks, headers=headers, timeout=10)
    assert_error(answer, 411)
    assert answer.headers["Connection"] == "close"
    assert emulator.profiles == {}


@pytest.mark.parametrize(
    ("request_head", "status"),
    [(b"NONSENSE\r\n\r\n", 400), (b"BREW /v1 HTTP/1.1\r\nHost: x\r\n\r\n", 501)],
)
def test_broken_request_line_or_unknown_method_gets_a_json_error(
    emulator, request_head, status
) -> None:
    parts = urlsplit(emulator.endpoint)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.connect()
        conn.sock.sendall(request_head)
        answer = http.client.HTTPResponse(conn.sock)
        answer.begin()
        assert answer.status == status
        body = json.loads(answer.read())
        assert set(body) == {"_message", "status"}
    finally:
        conn.close()
