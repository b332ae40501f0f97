"""`client.connection`: `connect` names settings until replaced, or inside its block."""

from __future__ import annotations

from types import SimpleNamespace

from fyno_pandas.client.connection import connect, connected, disconnect


def test_the_innermost_connection_naming_a_setting_wins() -> None:
    connect(wsid="OUTER", version="test")
    connect(wsid="INNER")
    assert (connected("wsid"), connected("version"), connected("endpoint")) == (
        "INNER",
        "test",
        None,
    )


def test_a_with_block_scopes_its_settings() -> None:
    connect(wsid="KEPT")
    with connect(wsid="BLOCK"):
        assert connected("wsid") == "BLOCK"
    assert connected("wsid") == "KEPT"


def test_a_target_gives_its_attributes_and_arguments_win() -> None:
    target = SimpleNamespace(wsid="T", api_key="k", endpoint="http://127.0.0.1:1")
    connect(target, endpoint="http://localhost:2", ledger=False)
    assert connected("wsid") == "T"
    assert connected("endpoint") == "http://localhost:2"
    assert connected("ledger") is False


def test_disconnect_forgets_every_connection() -> None:
    connect(wsid="A")
    connect(api_key="k")
    disconnect()
    assert connected("wsid") is None
    assert connected("api_key") is None


def test_the_key_never_shows_in_a_repr() -> None:
    shown = repr(connect(wsid="W", api_key="very-secret"))
    assert "very-secret" not in shown
    assert "api_key='<hidden>'" in shown
