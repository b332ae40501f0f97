"""`fyno_pandas.errors`: how the library's own errors show in IPython and Jupyter, and that
they survive pickling."""

from __future__ import annotations

import pickle

import pandas as pd
import pytest

from fyno_pandas.errors import (
    FynoAPIError,
    FynoAuthError,
    FynoConnectionError,
    FynoInputError,
    FynoOptionError,
    FynoPandasError,
    PushInterrupted,
)


@pytest.mark.parametrize(
    "error",
    [
        FynoOptionError("unknown option 'concurency'; did you mean 'concurrency'?"),
        FynoInputError("id_col 'uid' is not a column", column="uid", rule="id_col"),
        FynoAuthError(401, "Invalid API details", destination="workspace 'W' (live) at URL"),
    ],
)
def test_ipython_shows_the_message_first_and_how_to_see_the_traceback(
    error: FynoPandasError, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FYNO_PANDAS_TRACEBACK", raising=False)
    try:
        raise error
    except FynoPandasError as raised:
        shown = raised._render_traceback_()
    assert shown[0] == f"{type(error).__name__}: {error}"
    assert len(shown) == 2
    assert "FYNO_PANDAS_TRACEBACK=full" in shown[1]


def test_the_full_traceback_is_one_variable_away(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FYNO_PANDAS_TRACEBACK", "full")
    try:
        _raise_from_a_frame_of_its_own()
    except FynoPandasError as raised:
        shown = raised._render_traceback_()
    assert shown[0] == "Traceback (most recent call last):"
    assert any("_raise_from_a_frame_of_its_own" in line for line in shown)
    assert shown[-1].endswith("FynoInputError: x")


def _raise_from_a_frame_of_its_own() -> None:
    raise FynoInputError("x")


def test_a_refused_key_says_what_to_check_in_one_line_without_the_key() -> None:
    error = FynoAuthError(403, "Forbidden", destination="workspace 'W' (live) at URL")
    text = str(error)
    assert text.startswith(
        "Fyno refused the API key for workspace 'W' (live) at URL (403 Forbidden)"
    )
    assert text.endswith(
        "check the API key and workspace "
        "(FYNO_API_KEY / FYNO_WSID, or fyno_pandas.connect(api_key=..., wsid=...))"
    )
    assert (error.status, error.message) == (403, "Forbidden")


@pytest.mark.parametrize(
    "error",
    [
        FynoAPIError(500, "Internal Server Error", request_id="r-1"),
        FynoAuthError(401, "Invalid API details", destination="workspace 'W' (live) at URL"),
        FynoInputError("bad", column="c", row=3, rule="id_col"),
        FynoOptionError("unknown option", rule="option"),
        FynoConnectionError("no answer"),
        PushInterrupted(None),
    ],
    ids=lambda e: type(e).__name__,
)
def test_every_error_crosses_a_process_boundary_whole(error: BaseException) -> None:
    """A Dask or Spark worker's error reaches the driver pickled."""
    result = pd.DataFrame({"status": ["sent", "pending"]})
    back = pickle.loads(pickle.dumps(error.with_result(result)))

    assert type(back) is type(error)
    assert str(back) == str(error)
    assert back.args == error.args
    kept = {k: v for k, v in vars(error).items() if k != "result"}
    assert {k: v for k, v in vars(back).items() if k != "result"} == kept
    assert back.result.equals(error.result)
