"""`client.redact.Redactor`: the key and Authorization values out of every server text."""

from __future__ import annotations

import base64
from urllib.parse import quote

import pytest

from fyno_pandas.client.redact import REDACTED, Redactor

KEY = "sk_live+secret/KEY=42"


@pytest.mark.parametrize(
    "form",
    [KEY, KEY.lower(), quote(KEY, safe=""), quote(KEY, safe="").lower()],
    ids=["as sent", "other case", "percent-encoded", "percent-encoded, lower hex"],
)
def test_the_key_is_replaced_in_any_form(form: str) -> None:
    assert Redactor(KEY)(f"echo: {form} end") == f"echo: {REDACTED} end"


@pytest.mark.parametrize("offset", [0, 1, 2])
def test_the_key_base64_encoded_at_any_offset_is_replaced(offset: int) -> None:
    credentials = base64.b64encode(b"u:"[:offset] + KEY.encode()).decode()
    assert REDACTED in Redactor(KEY)(f"seen {credentials}")


def test_an_authorization_header_in_a_dump_loses_its_value() -> None:
    dump = "Host: x\r\nAuthorization: Bearer other-token\r\nAccept: */*"
    assert Redactor(KEY)(dump) == f"Host: x\r\nAuthorization: {REDACTED}\r\nAccept: */*"


def test_parsed_json_keeps_its_shape_with_the_secrets_out() -> None:
    data = {"headers": {"authorization": "Bearer t"}, "echo": [KEY, 1, None], KEY: True}
    assert Redactor(KEY)(data) == {
        "headers": {"authorization": REDACTED},
        "echo": [REDACTED, 1, None],
        REDACTED: True,
    }


def test_loads_redacts_escaped_text_and_leaves_plain_answers_alone() -> None:
    redact = Redactor(KEY)
    escaped = b'{"echo": "sk_live+secret\\/KEY=42"}'  # JSON may escape "/" as "\/"
    assert redact.loads(escaped) == {"echo": REDACTED}
    assert redact.loads(b'{"request_id": "r1"}') == {"request_id": "r1"}


def test_loads_raises_value_error_for_what_is_not_json() -> None:
    with pytest.raises(ValueError, match="Expecting value"):
        Redactor(KEY).loads(b"<html>")


def test_its_repr_hides_the_key() -> None:
    assert KEY not in repr(Redactor(KEY))
