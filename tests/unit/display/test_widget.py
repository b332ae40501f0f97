"""The ipywidgets preview, built without a front-end; Send clicked through the button's handler.

The widget is handed its send function; `fyno_pandas.push_plan` is what a user's view hands it.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fyno_pandas.display.widget import PAGE_SIZE, build_widget
from fyno_pandas.pipeline.workflow import push_plan
from fyno_pandas.planning.build import build_plan
from fyno_pandas.sending.sender import dry_run_result

FYNO_ENV = ("FYNO_WSID", "FYNO_API_KEY", "FYNO_VERSION", "FYNO_ENDPOINT")


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No FYNO_* settings from the machine, and the ledger in a temporary home."""
    for name in FYNO_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FYNO_PANDAS_HOME", str(tmp_path))


@pytest.fixture
def fyno(request: pytest.FixtureRequest) -> Any:
    """conftest's emulator fixture, once the emulator and the push workflow exist."""
    for module in ("fyno_pandas.emulator", "fyno_pandas.pipeline.workflow"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not built yet (the Send flow needs it)")
    return request.getfixturevalue("emulator")


def users() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": ["u1", "u2", "u3"],
            "plan": ["pro", "free", "<b>team</b>"],
            "ltv": [23000.0, np.inf, 12.5],
            "premium": [True, False, True],
        }
    )


def html_of(box) -> str:
    return "".join(child.value for child in box.children if hasattr(child, "value"))


def test_tree_has_header_property_rows_and_problem_count() -> None:
    box = build_widget(build_plan(users(), "user_id"), send=push_plan)
    text = html_of(box)
    assert "3 of 3 rows will be sent; 1 value will be left out" in text
    assert "⚠ 1 (Fyno would accept them and silently not store them)" in text
    assert re.findall(r'class="fyno-prop fyno-(\w+)"', text) == ["dropped", "ok", "ok"]
    assert "⚠ dropped (not_finite)" in text
    assert "&lt;b&gt;team" not in text  # the example is the first value, 'pro'
    assert box.send.description == "Send 3 rows"
    assert box.dry_run.value is False
    assert box.drilldown.box in box.children


def test_without_a_send_function_there_is_nothing_to_click() -> None:
    box = build_widget(build_plan(users(), "user_id"))
    assert box.send is None
    assert box.dry_run is None
    assert box.result is None
    assert not any(type(c).__name__ == "Button" for c in box.children)


def test_the_send_button_says_dry_run_when_ticked_and_waits_for_rows() -> None:
    box = build_widget(build_plan(users(), "user_id"), send=push_plan)
    assert (box.send.description, box.send.disabled) == ("Send 3 rows", False)
    box.dry_run.value = True
    assert box.send.description == "Dry run 3 rows"
    box.dry_run.value = False
    assert box.send.description == "Send 3 rows"
    nothing = build_widget(build_plan(users().iloc[:0], "user_id"), send=push_plan)
    assert (nothing.send.description, nothing.send.disabled) == ("Send 0 rows", True)
    assert nothing.send.tooltip == "nothing to send"


def test_send_calls_the_function_it_is_handed() -> None:
    plan = build_plan(users(), "user_id")
    calls = []

    def send(given, *, dry_run):
        calls.append((given, dry_run))
        return dry_run_result(given)

    box = build_widget(plan, send=send)
    box.dry_run.value = True
    box.send.click()
    assert calls == [(plan, True)]
    assert box.result["status"].tolist() == ["dry_run"] * 3
    assert "3 dry run" in box.status.value
    assert "widget's <code>.result</code>" in box.status.value


def test_plan_widget_sends_with_push_plan() -> None:
    plan = build_plan(users(), "user_id")
    assert plan.widget().send.description == "Send 3 rows"
    assert plan.widget(buttons=False).send is None


def test_drilldown_pages_twenty_rows_at_a_time() -> None:
    n = 45
    df = pd.DataFrame(
        {"id": [f"u{i}" for i in range(n)], "x": np.full(n, np.inf), "s": ["<i>" + "y" * 300] * n}
    )
    drill = build_widget(build_plan(df.assign(ok=1), "id")).drilldown
    labels = [label for label, _ in drill.dropdown.options]
    assert labels == [
        "all issues (90)",
        "property x (45)",
        "property s (45)",
        "rule not_finite (45)",
        "rule string_too_long (45)",
    ]
    assert drill.label.value == "rows 1–20 of 90"
    assert drill.table.value.count("<tr>") == 1 + PAGE_SIZE
    assert drill.previous.disabled
    drill.dropdown.value = ("column", "x")
    assert drill.label.value == "rows 1–20 of 45"
    drill.next.click()
    drill.next.click()
    assert drill.label.value == "rows 41–45 of 45"
    assert drill.table.value.count("<tr>") == 1 + 5
    assert drill.next.disabled
    assert not drill.previous.disabled
    assert ">u44<" not in drill.table.value  # rows are index labels
    assert ">44<" in drill.table.value
    drill.dropdown.value = ("rule", "string_too_long")
    assert drill.page == 0
    assert "&#x27;&lt;i&gt;yyy" in drill.table.value
    assert "<i>" not in drill.table.value


def test_a_plan_without_issues_has_no_drilldown() -> None:
    box = build_widget(build_plan(pd.DataFrame({"id": [1], "x": [2]}), "id"))
    assert box.drilldown.box not in box.children
    assert "✓ No issues" in html_of(box)


def test_send_pushes_and_leaves_the_result_on_the_widget(fyno: Any) -> None:
    plan = users().fyno.plan(
        "user_id", wsid=fyno.wsid, api_key=fyno.api_key, endpoint=fyno.endpoint
    )
    box = plan.widget()
    box.send.click()
    assert box.result["status"].tolist() == ["sent", "sent", "sent"]
    assert not hasattr(plan, "result")  # the plan is a value: a push never changes it
    assert fyno.profiles["u2"] == {"plan": "free", "premium": False}
    assert fyno.profiles["u3"] == {"plan": "<b>team</b>", "ltv": 12.5, "premium": True}
    assert 'class="fyno-result"' in box.status.value
    assert "3 sent" in box.status.value
    assert not box.send.disabled


def test_the_final_line_is_green_only_when_nothing_failed_or_was_left_out(
    fyno: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    where = {"wsid": fyno.wsid, "api_key": fyno.api_key, "endpoint": fyno.endpoint}
    left_out = build_widget(users().fyno.plan("user_id", **where), send=push_plan)
    left_out.send.click()
    clean = build_widget(
        users().drop(columns="ltv").fyno.plan("user_id", ledger=False, **where), send=push_plan
    )
    clean.send.click()

    bad = re.search(r'class="fyno-result" style="[^"]*color:([^;]+);', left_out.status.value)
    assert bad.group(1) == "#b42318"
    assert "⚠ Fyno push: 3 sent; 1 value left out (the dropped column)" in left_out.status.value
    assert "<td>u2</td><td>sent</td><td>ltv</td>" in re.sub(
        r"<td [^>]*>", "<td>", left_out.status.value
    )
    good = re.search(r'class="fyno-result" style="[^"]*color:([^;]+);', clean.status.value)
    assert good.group(1) == "#1a7f37"
    assert "✓ Fyno push: 3 sent" in clean.status.value
    assert "Fyno push" not in capsys.readouterr().err  # said once, by the widget


def test_dry_run_sends_nothing(fyno: Any) -> None:
    plan = users().fyno.plan(
        "user_id", wsid=fyno.wsid, api_key=fyno.api_key, endpoint=fyno.endpoint
    )
    box = build_widget(plan, send=push_plan)
    box.dry_run.value = True
    box.send.click()
    assert set(box.result["status"]) == {"dry_run"}
    assert fyno.profiles == {}
    assert "3 dry run" in box.status.value


def test_missing_config_says_what_is_missing(fyno: Any) -> None:
    plan = users().fyno.plan("user_id", endpoint=fyno.endpoint)
    box = build_widget(plan, send=push_plan)
    box.send.click()
    assert 'class="fyno-error"' in box.status.value
    assert "Not sent" in box.status.value
    assert "wsid" in box.status.value
    assert "FYNO_API_KEY" in box.status.value
    assert box.result is None
    assert fyno.requests == []
    assert not box.send.disabled


def test_a_refused_key_is_said_once_by_the_widget(
    fyno: Any, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    """The widget's line is the one report: no log line (a notebook shows warnings in the
    output area) repeats it or blames the new properties."""
    plan = users().fyno.plan("user_id", wsid=fyno.wsid, api_key="wrong", endpoint=fyno.endpoint)
    box = build_widget(plan, send=push_plan)
    box.send.click()
    shown = capsys.readouterr()
    told = [box.status.value, *caplog.messages, *(shown.out + shown.err).splitlines()]
    assert [said for said in told if "refused" in said or "401" in said] == [box.status.value]
    assert "check the API key and workspace" in box.status.value
