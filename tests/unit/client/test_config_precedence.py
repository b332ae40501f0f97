"""Connection settings: argument > environment > default, validated before anything is sent."""

from __future__ import annotations

import pytest

from fyno_pandas import FynoConfig, FynoConfigError
from fyno_pandas.client.config import DEFAULT_ENDPOINT, check_endpoint

SECRET = "sk-test-0123456789abcdef"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in ("FYNO_WSID", "FYNO_API_KEY", "FYNO_VERSION", "FYNO_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)


def test_environment_fills_what_arguments_leave_out(monkeypatch):
    monkeypatch.setenv("FYNO_WSID", "FYENV")
    monkeypatch.setenv("FYNO_API_KEY", SECRET)
    monkeypatch.setenv("FYNO_VERSION", "test")
    monkeypatch.setenv("FYNO_ENDPOINT", "http://127.0.0.1:9/v1/")
    config = FynoConfig.resolve(wsid="FYARG")
    assert config.wsid == "FYARG"
    assert config.api_key == SECRET
    assert config.version == "test"
    assert config.endpoint == "http://127.0.0.1:9/v1"


def test_defaults_are_live_and_fyno_cloud():
    config = FynoConfig.resolve("FYWS", SECRET)
    assert config.version == "live"
    assert config.endpoint == DEFAULT_ENDPOINT
    assert config.url("set") == f"{DEFAULT_ENDPOINT}/FYWS/live/profiles/properties/set"


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"api_key": SECRET}, "FYNO_WSID"),
        ({"wsid": "FYWS"}, "FYNO_API_KEY"),
        ({}, "FYNO_WSID"),
    ],
)
def test_missing_credentials_name_the_setting(kwargs, named):
    with pytest.raises(FynoConfigError, match=named):
        FynoConfig.resolve(**kwargs)


def test_plan_may_resolve_without_credentials():
    config = FynoConfig.resolve(require_credentials=False)
    assert config.wsid is None
    assert "(not set)" in config.label


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"version": "staging"}, "'live' or 'test'"),
        ({"wsid": ""}, "workspace id"),
        ({"wsid": "a/b"}, "workspace id"),
        ({"api_key": " "}, "non-empty"),
    ],
)
def test_malformed_settings_are_refused(kwargs, match):
    base = {"wsid": "FYWS", "api_key": SECRET}
    with pytest.raises(FynoConfigError, match=match):
        FynoConfig.resolve(**{**base, **kwargs})


def test_config_error_is_also_a_value_error():
    with pytest.raises(ValueError, match="version"):
        FynoConfig.resolve("FYWS", SECRET, version="prod")


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://api.fyno.io/v1",
        "http://127.0.0.1:8765/v1",
        "http://localhost:8765/v1",
        "http://[::1]:8765/v1",
        "http://127.8.9.10/v1",
    ],
)
def test_https_anywhere_and_plain_http_on_loopback_are_accepted(endpoint):
    assert check_endpoint(endpoint + "/") == endpoint


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://api.fyno.io/v1",
        "http://10.0.0.5:8765/v1",
        "http://localhost.example.com/v1",
        "ftp://127.0.0.1/v1",
        "api.fyno.io/v1",
        "https://user:pw@api.fyno.io/v1",
        "",
    ],
)
def test_remote_plain_http_and_odd_urls_are_refused(endpoint):
    with pytest.raises(FynoConfigError):
        check_endpoint(endpoint)


def test_repr_and_errors_never_show_the_key():
    config = FynoConfig.resolve("FYWS", SECRET)
    assert SECRET not in repr(config)
    assert SECRET not in str(config)
    assert SECRET not in config.label
    with pytest.raises(FynoConfigError) as caught:
        FynoConfig.resolve("FYWS", SECRET, version="nope")
    assert SECRET not in str(caught.value)
