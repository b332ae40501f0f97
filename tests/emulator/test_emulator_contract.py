"""Contract: every 202/400/401 answer of the emulator validates against the response schemas of
Fyno's published OpenAPI document (``fixtures/fyno-user-properties.openapi.yml`` beside this
file), resolved through the document's own ``$ref`` with openapi-schema-validator (not checked
by hand)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

# PyYAML arrives with the test extras (jupyterlab -> jupyter_events); the reason names it.
yaml = pytest.importorskip("yaml", reason="PyYAML is needed to read the OpenAPI fixture")

SPEC_PATH = Path(__file__).parent / "fixtures" / "fyno-user-properties.openapi.yml"
SPEC_URI = "urn:fyno:user-properties-openapi"
PATH_TEMPLATE = "/{{WSID}}/{{version}}/profiles/properties/{}"

VALID = {
    "set": {"distinct_id": "u1", "$set": {"plan": "pro", "ltv": 1.5, "tags": ["a"]}},
    "set-once": {"distinct_id": "u1", "$once": {"first_seen": "2024-01-05"}},
    "numerical-add": {"distinct_id": "u1", "$add": {"visits": 2}},
    "list-append": {"distinct_id": "u1", "$append": {"tags": "b"}},
    "list-remove": {"distinct_id": "u1", "$remove": {"tags": "a"}},
    "unset": {"distinct_id": "u1", "$unset": ["plan"]},
    "batch": {
        "batch": [
            {"distinct_id": "u1", "action": {"$set": {"plan": "pro"}, "$unset": ["old"]}},
            {"distinct_id": "", "action": {"$set": {"plan": "x"}}},
            {"distinct_id": "u2", "action": {"$add": {"n": "NaN-ish"}}},
        ]
    },
}
INVALID = {
    "set": {"distinct_id": "u1", "$set": {"bad": {"nested": 1}}},
    "set-once": {"distinct_id": "u1", "$once": {}},
    "numerical-add": {"distinct_id": "u1", "$add": {"n": "five"}},
    "list-append": {"distinct_id": "u1", "$append": {"tags": None}},
    "list-remove": {"distinct_id": "u1"},
    "unset": {"distinct_id": "u1", "$unset": []},
    "batch": {"batch": []},
}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def registry(spec: dict[str, Any]) -> Registry:
    return Registry().with_resource(SPEC_URI, Resource.from_contents(spec, DRAFT4))


def response_schema(registry: Registry, operation: str, status: int) -> dict[str, Any]:
    """A schema that points, through the document's $refs, at the documented answer body."""
    pointer = PATH_TEMPLATE.format(operation).replace("~", "~0").replace("/", "~1")
    resolver = registry.resolver()
    response = resolver.lookup(f"{SPEC_URI}#/paths/{pointer}/post/responses/{status}").contents
    return {"$ref": f"{SPEC_URI}{response['$ref']}/content/application~1json/schema"}


def check(registry: Registry, operation: str, answer: requests.Response) -> None:
    schema = response_schema(registry, operation, answer.status_code)
    OAS30Validator(schema, registry=registry).validate(answer.json())


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


def post(session, fyno, operation: str, body: Any, key: str | None = None) -> requests.Response:
    url = f"{fyno.endpoint}/{fyno.wsid}/live/profiles/properties/{operation}"
    headers = {"Authorization": f"Bearer {key or fyno.api_key}"}
    return session.post(url, json=body, headers=headers, timeout=10)


def test_fixture_is_the_shared_document() -> None:
    shared = Path("/work/shared/fyno-user-properties.openapi.yml")
    if not shared.exists():
        pytest.skip("the shared copy of the OpenAPI document is not on this machine")
    assert SPEC_PATH.read_bytes() == shared.read_bytes()


@pytest.mark.parametrize("operation", list(VALID))
def test_answers_validate_against_the_openapi_document(
    emulator, session, registry, operation
) -> None:
    accepted = post(session, emulator, operation, VALID[operation])
    refused = post(session, emulator, operation, INVALID[operation])
    unauthorized = post(session, emulator, operation, VALID[operation], key="wrong")
    assert [accepted.status_code, refused.status_code, unauthorized.status_code] == [202, 400, 401]
    for answer in (accepted, refused, unauthorized):
        check(registry, operation, answer)


def test_a_wrong_body_would_fail_validation(registry) -> None:
    """The check has teeth: a 202 body without request_id, or a batch without its list, fails."""
    validator = OAS30Validator(response_schema(registry, "set", 202), registry=registry)
    assert not validator.is_valid({"id": "x"})
    batch = OAS30Validator(response_schema(registry, "batch", 202), registry=registry)
    assert not batch.is_valid({"request_id": "x"})
    assert not batch.is_valid({"request_id": "x", "batch": [{"$set": 1}]})
    error = OAS30Validator(response_schema(registry, "set", 401), registry=registry)
    assert not error.is_valid({"_message": "Invalid API details"})
