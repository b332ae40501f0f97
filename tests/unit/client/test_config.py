"""`client.config`: the URL and label a config names, and the endpoint's checks."""

from __future__ import annotations

import pytest

from fyno_pandas.client.config import FynoConfig, check_endpoint
from fyno_pandas.errors import FynoConfigError


def test_the_url_of_an_operation() -> None:
    config = FynoConfig("FYW", "k", "test", "https://api.example.com/v1")
    assert config.url("batch") == "https://api.example.com/v1/FYW/test/profiles/properties/batch"


def test_the_label_names_where_without_the_key() -> None:
    assert FynoConfig(None, "k").label == ("https://api.fyno.io/v1 · workspace (not set) · live")


def test_an_endpoint_loses_its_spaces_and_trailing_slashes() -> None:
    assert check_endpoint("  https://api.fyno.io/v1//  ") == "https://api.fyno.io/v1"


def test_an_endpoint_with_credentials_is_refused() -> None:
    with pytest.raises(FynoConfigError, match="must not carry credentials"):
        check_endpoint("https://user:pw@api.fyno.io/v1")


def test_require_names_every_missing_setting() -> None:
    with pytest.raises(FynoConfigError, match=r"missing wsid .* and api_key .*FYNO_API_KEY"):
        FynoConfig(None, None).require()


@pytest.mark.parametrize("key", ["secret-1\r\nX-Injected: 1", "secret-1\n", "secret-1\rmore"])
def test_a_key_holding_a_line_break_is_refused_without_naming_it(key: str) -> None:
    # sent as a header line, a line break would end the header and start another
    with pytest.raises(FynoConfigError, match="api_key holds a line break") as caught:
        FynoConfig.resolve("FYW", key)
    assert "secret-1" not in str(caught.value)
