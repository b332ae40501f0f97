"""The emulator's memory: workspaces and keys, one Store per (workspace, version), the request log
and request ids. Handles a decoded request body; knows nothing about sockets.

Request ids are ``uuid4`` unless a seed is given; with ``seed=N`` an id is a name-based (version 5
style) UUID of ``N``, the raw request body and how many times this exact body was accepted before,
so the ids of a run do not depend on the order in which concurrent requests arrive.

A batch (``{"batch": [{"distinct_id", "action": {"$set": {...}, ...}}, ...]}``) answers one status
object per item, in order. A valid item maps each of its action keys to ``"ok"`` and is applied.
An invalid item is not applied at all: its invalid action keys map to their error message, its
valid ones to ``"not applied: another action of this item is invalid"``; an item with no usable
action keys (not an object, no ``action`` object, or an empty one) gets ``{"error": message}``.
An empty or non-list ``batch`` refuses the whole request with 400.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from typing import Any

from .storage import OPERATIONS, Store, validate_action, validate_distinct_id

__all__ = ["VERSIONS", "EmulatorState"]

VERSIONS = ("live", "test")
_NAMESPACE = uuid.UUID("6f0a7c3e-6b1d-5c53-9a51-66796e6f2d70")
_SKIPPED = "not applied: another action of this item is invalid"
_ACTIONS = "$set, $once, $add, $append, $remove, $unset"


class EmulatorState:
    """Everything the emulator remembers, guarded by one lock.

    Parameters
    ----------
    workspaces
        ``{wsid: api_key}``; each key is valid for its own workspace only.
    seed
        None for random request ids, an int for deterministic ones.
    log_bodies
        Keep the parsed request body in each log entry (a reference, not a copy).
    """

    def __init__(
        self, workspaces: dict[str, str], seed: int | None = None, log_bodies: bool = True
    ) -> None:
        if not workspaces:
            raise ValueError("at least one workspace is needed")
        self.keys = {str(ws): "Bearer " + str(key) for ws, key in workspaces.items()}
        self.seed = seed
        self.log_bodies = log_bodies
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Forget profiles, property types, the request log and the id counters."""
        with self.lock:
            self.stores = {(ws, v): Store() for ws in self.keys for v in VERSIONS}
            self.log: list[dict[str, Any]] = []
            self._seen: dict[bytes, int] = {}

    def authorized(self, wsid: str, authorization: str | None) -> bool:
        """True when the Authorization header carries the key of this workspace."""
        expected = self.keys.get(wsid)
        return expected is not None and authorization is not None and authorization == expected

    def request_id(self, raw: bytes) -> str:
        """A new request id for an accepted request; caller holds the lock."""
        if self.seed is None:
            return str(uuid.uuid4())
        digest = hashlib.blake2b(raw, digest_size=16).digest()
        count = self._seen.get(digest, 0)
        self._seen[digest] = count + 1
        name = f"{self.seed}:{count}:".encode() + raw
        sha = hashlib.sha1(_NAMESPACE.bytes + name, usedforsecurity=False).digest()
        return str(uuid.UUID(bytes=sha[:16], version=5))

    def record(self, entry: dict[str, Any]) -> None:
        """Append one request log entry."""
        with self.lock:
            self.log.append(entry)

    def handle(
        self, wsid: str, version: str, operation: str, body: Any, raw: bytes
    ) -> tuple[int, dict[str, Any]]:
        """Validate and apply one decoded body; return (status, answer body)."""
        if not isinstance(body, dict):
            return 400, _error("Request body should be a JSON object")
        if operation == "batch":
            return self._batch(wsid, version, body, raw)
        message = validate_distinct_id(body)
        key = OPERATIONS[operation]
        if message is None:
            message = validate_action(key, body.get(key))
        if message is not None:
            return 400, _error(message)
        with self.lock:
            self.stores[wsid, version].apply(body["distinct_id"], key, body[key])
            return 202, {"request_id": self.request_id(raw)}

    def _batch(
        self, wsid: str, version: str, body: dict[str, Any], raw: bytes
    ) -> tuple[int, dict[str, Any]]:
        items = body.get("batch")
        if not isinstance(items, list) or not items:
            return 400, _error("batch should have atleast one item in array")
        checked = [_check_item(item) for item in items]
        with self.lock:
            store = self.stores[wsid, version]
            for item, (valid, _status) in zip(items, checked, strict=True):
                if valid:
                    for key, arg in item["action"].items():
                        store.apply(item["distinct_id"], key, arg)
            statuses = [status for _valid, status in checked]
            return 202, {"request_id": self.request_id(raw), "batch": statuses}

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy of the stores, with the log (entries shared, not copied)."""
        with self.lock:
            workspaces: dict[str, Any] = {}
            for (ws, version), store in self.stores.items():
                workspaces.setdefault(ws, {})[version] = copy_store(store)
            return {"workspaces": workspaces, "requests": list(self.log)}


def copy_store(store: Store) -> dict[str, Any]:
    """Copies of a store's profiles (lists copied too) and property types; caller holds the lock."""
    return {
        "profiles": {
            did: {k: list(v) if isinstance(v, list) else v for k, v in props.items()}
            for did, props in store.profiles.items()
        },
        "property_types": dict(store.property_types),
    }


def _check_item(item: Any) -> tuple[bool, dict[str, str]]:
    """Whether one batch item is valid, and its status object."""
    if not isinstance(item, dict):
        return False, {"error": "batch item should be an object with distinct_id and action"}
    action = item.get("action")
    if not isinstance(action, dict) or not action:
        return False, {"error": f"action should be an object with at least one of {_ACTIONS}"}
    bad_id = validate_distinct_id(item)
    if bad_id is not None:
        return False, dict.fromkeys(action, bad_id)
    status = {key: validate_action(key, arg) or "ok" for key, arg in action.items()}
    if any(v != "ok" for v in status.values()):
        return False, {key: _SKIPPED if v == "ok" else v for key, v in status.items()}
    return True, status


def _error(message: str) -> dict[str, str]:
    return {"_message": message, "status": "error"}
