"""`client.http.FynoClient`: what its constructor refuses, as input errors naming the option."""

from __future__ import annotations

import pytest

from fyno_pandas.client.http import FynoClient
from fyno_pandas.emulator import FynoEmulator
from fyno_pandas.errors import FynoInputError


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("retry_policy", {"max_retries": 1}),
        ("max_retries", -1),
        ("timeout", 0),
        ("pool_size", 0),
    ],
)
def test_a_bad_option_is_an_input_error_naming_it(
    emulator: FynoEmulator, option: str, value: object
) -> None:
    with pytest.raises(FynoInputError, match=option) as caught:
        FynoClient(emulator.wsid, emulator.api_key, endpoint=emulator.endpoint, **{option: value})
    assert emulator.api_key not in str(caught.value)


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        ("set_properties", [1, 2]),
        ("set_properties", "plan=pro"),
        ("unset_properties", 5),
        ("unset_properties", ["plan", 3]),
        ("batch", 7),
    ],
)
def test_a_malformed_argument_is_an_input_error_and_nothing_is_sent(
    emulator: FynoEmulator, call: str, argument: object
) -> None:
    client = FynoClient(emulator.wsid, emulator.api_key, endpoint=emulator.endpoint)
    with client, pytest.raises(FynoInputError):
        getattr(client, call)(*(["u1"] if call != "batch" else []), argument)
    assert emulator.requests == []
