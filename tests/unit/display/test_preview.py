"""The text and static HTML previews (`display.render`) and how they are shown (`display`)."""

from __future__ import annotations

import re
import sys
import types

import numpy as np
import pandas as pd
import pytest

from fyno_pandas.client.config import FynoConfig
from fyno_pandas.display import aggregates
from fyno_pandas.display import preview as display
from fyno_pandas.display import render as render
from fyno_pandas.planning.build import build_plan

KEY = "sk-very-secret-key-0123"


def config() -> FynoConfig:
    return FynoConfig.resolve(
        wsid="FYTEST", api_key=KEY, version="test", endpoint="http://127.0.0.1:9/v1"
    )


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "uid": ["u1", "u2", "u2", None, "u5"],
            "age": [30.0, np.inf, 40.0, 1.0, 2.0],
            "<script>alert(1)</script>": ["a", "b" * 300, "<b>bold</b>", "d", "e & f"],
            "seen": pd.to_datetime(["2020-01-01"] * 5),
            "vip": [True, False, True, False, True],
        }
    )


def test_text_names_counts_properties_and_rules() -> None:
    text = render.render_text(build_plan(frame(), "uid", config=config()))
    assert text.splitlines()[0] == (
        "Fyno push plan: ⚠ 3 of 5 rows will be sent; 2 values will be left out; "
        "2 rows skipped: see below"
    )
    assert "Rows skipped:       2 (duplicate_id 1, missing_id 1)" in text
    assert "Values left out:    2 (Fyno would accept them" in text
    assert "http://127.0.0.1:9/v1 · workspace FYTEST · test" in text
    lines = text.splitlines()
    age = next(line for line in lines if line.strip().startswith("age "))
    assert "float64" in age
    assert "number" in age
    assert "⚠ dropped (not_finite)" in age
    vip = next(line for line in lines if line.strip().startswith("vip "))
    assert "✓ ok" in vip
    assert "True -> true" in vip
    seen = next(line for line in lines if line.strip().startswith("seen "))
    assert "✎ coerced (naive_datetime)" in seen
    assert "not_finite (dropped) in age: 1 at rows 1" in text
    assert "naive_datetime (coerced) in seen: whole column" in text


def test_text_is_repr_and_stable() -> None:
    plan = build_plan(frame(), "uid", config=config())
    again = build_plan(frame(), "uid", config=config())
    assert render.render_text(plan) == render.render_text(plan) == render.render_text(again)
    assert repr(plan) == render.render_text(plan)
    assert render.render_html(plan) == render.render_html(again)
    assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-", render.render_html(plan))  # no uuids


def test_html_header_and_marked_rows() -> None:
    html = render.render_html(build_plan(frame(), "uid", config=config()))
    assert "3 of 5 rows will be sent" in html
    assert "workspace FYTEST" in html
    assert "⚠ 2 (Fyno would accept them and silently not store them)" in html
    assert html.count('class="fyno-prop ') == 4
    # a problem row stands out by colour and by an icon with words
    row = re.search(r'<tr class="fyno-prop fyno-dropped"[^>]*>(.*?)</tr>', html).group(1)
    assert ">age<" in row
    assert "⚠ dropped (not_finite)" in row
    assert re.search(r'<tr class="fyno-prop fyno-dropped" style="background:rgba', html)
    assert re.search(r'<tr class="fyno-prop fyno-ok"[^>]*>.*?✓ ok', html)
    assert "<code" in html
    assert "30.0</code> → <code" in html


def test_html_escapes_names_values_and_messages() -> None:
    html = render.render_html(build_plan(frame(), "uid", config=config()))
    assert "<script>" not in html
    assert "<b>bold" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    df = pd.DataFrame({"id": [1, 2], "n": ["<i>x</i>", "y"]})
    html = render.render_html(build_plan(df, "id"))
    assert "&#x27;&lt;i&gt;x&lt;/i&gt;&#x27;" in html
    assert "<i>" not in html


def test_the_key_never_appears() -> None:
    plan = build_plan(frame(), "uid", config=config())
    bundle = display.mimebundle(plan)
    assert set(bundle) == {"text/plain", "text/html"}  # no kernel here: no widget view
    for text in (render.render_text(plan), render.render_html(plan), *bundle.values()):
        assert KEY not in text


def test_without_config_the_destination_says_so() -> None:
    text = render.render_text(build_plan(frame(), "uid"))
    assert "Destination:        not configured (FYNO_* environment at send time)" in text


def test_big_frame_does_not_dump_rows() -> None:
    n = 50_000
    df = pd.DataFrame({"id": np.arange(n), "x": np.full(n, np.inf), "s": ["y" * 300] * n, "ok": 1})
    plan = build_plan(df, "id")
    assert len(plan.issues) == 2 * n
    html = render.render_html(plan)
    text = render.render_text(plan)
    assert len(html) < 20_000
    assert len(text.splitlines()) < 30
    assert "50,000 at rows 0, 1, 2, 3, 4, … (49,995 more)" in text
    assert html.count("<tr") < 20


def test_rule_table_counts_and_first_rows() -> None:
    df = pd.DataFrame(
        {"id": list("abcdefgh"), "x": [np.inf, 1, np.inf, np.inf, 2, np.inf] * 1 + [1, -np.inf]}
    )
    plan = build_plan(df.set_index(pd.Index(list("ABCDEFGH"))), "id")
    rules = aggregates.rule_table(plan, first=3)
    row = rules[rules["rule"] == "not_finite"].iloc[0]
    assert row["count"] == 5
    assert row["rows"] == ["A", "C", "D"]
    assert row["column"] == "x"


def test_empty_row_and_column_wide_issues_group_apart() -> None:
    df = pd.DataFrame(
        {"id": ["a", "b", "c"], "x": [None, 1.0, None], "d": pd.to_datetime(["2020-01-01"] * 3)}
    )
    plan = build_plan(df[["id", "x"]], "id")
    rules = aggregates.rule_table(plan)
    empty = rules[rules["rule"] == "empty_row"].iloc[0]
    assert empty["column"] is None
    assert empty["count"] == 2
    assert empty["rows"] == [0, 2]
    assert "empty_row (row_skipped) in (row): 2 at rows 0, 2" in render.render_text(plan)
    rules = aggregates.rule_table(build_plan(df, "id"))
    wide = rules[rules["rule"] == "naive_datetime"].iloc[0]
    assert wide["count"] == 0
    assert wide["rows"] == []


def test_affected_rows_filters_by_property_and_rule() -> None:
    plan = build_plan(frame(), "uid")
    assert aggregates.affected_rows(plan, column="age")["rule"].tolist() == ["not_finite"]
    assert aggregates.affected_rows(plan, rule="missing_id")["row"].tolist() == [3]
    assert len(aggregates.affected_rows(plan)) == len(plan.issues)


def test_a_plan_without_issues() -> None:
    plan = build_plan(pd.DataFrame({"id": [1, 2], "x": [1, 2]}), "id")
    assert "✓ No issues" in render.render_html(plan)
    assert "Issues by rule" not in render.render_text(plan)
    assert aggregates.rule_table(plan).empty


def test_show_preview_outside_ipython_writes_text_once(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    plan = build_plan(frame(), "uid")
    display.show_preview(plan)
    out, err = capsys.readouterr()
    assert out == ""
    assert err == render.render_text(plan) + "\n"


def fake_ipython(monkeypatch: pytest.MonkeyPatch, kernel: bool) -> list[tuple]:
    """An IPython stand-in: a shell (a kernel's or a terminal's) and a recording display."""
    import fyno_pandas.display.widget  # noqa: F401  (ipywidgets needs the real IPython to import)

    shown: list[tuple] = []
    shell = types.SimpleNamespace(config={"IPKernelApp": {}} if kernel else {})
    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: shell
    display = types.ModuleType("IPython.display")
    display.display = lambda *objs, **kw: shown.append((objs, kw))
    ipython.display = display
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", display)
    return shown


def test_show_preview_in_a_terminal_shell_displays_text_and_html(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shown = fake_ipython(monkeypatch, kernel=False)
    plan = build_plan(frame(), "uid")
    display.show_preview(plan)
    ((objs, kw),) = shown
    assert kw == {"raw": True}
    assert set(objs[0]) == {"text/plain", "text/html"}
    assert capsys.readouterr().err == ""


def test_show_preview_in_a_kernel_adds_the_widget_without_buttons(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shown = fake_ipython(monkeypatch, kernel=True)
    plan = build_plan(frame(), "uid")
    assert display.in_kernel()
    display.show_preview(plan)
    ((objs, _),) = shown
    bundle = objs[0]
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/plain"] == render.render_text(plan)
    # the widget itself: buttons=False has no Send
    from fyno_pandas.display.widget import build_widget

    assert build_widget(plan).send is None


def test_a_plan_shown_in_a_kernel_has_the_widget_with_a_send_button(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_ipython(monkeypatch, kernel=True)
    plan = build_plan(frame(), "uid")
    bundle = plan._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/plain"] == repr(plan) == render.render_text(plan)
    assert bundle["text/html"] == plan._repr_html_() == render.render_html(plan)


def test_the_preview_reads_top_down() -> None:
    """A verdict first; properties by severity with their rules (their counts are in the
    table's own columns); a legend; whole-column notes of one rule on one line; examples as
    values, not reprs."""
    df = pd.DataFrame(
        {
            "uid": ["a", "b", "c"],
            "ok": ["x", "y", "z"],
            "first": pd.to_datetime(["2024-01-05 10:00"] * 3),
            "second": pd.to_datetime(["2024-02-01"] * 3),
            "score": [1.0, float("inf"), 2.0],
        }
    )
    text = render.render_text(build_plan(df, "uid", config=config()))
    lines = text.splitlines()
    assert (
        lines[0]
        == "Fyno push plan: ⚠ 3 of 3 rows will be sent; 1 value will be left out: see below"
    )
    order = [line.split()[0] for line in lines if line.startswith("  ") and "  " in line[2:]]
    table = order[order.index("property") + 1 :][:4]
    assert table == ["score", "first", "second", "ok"]
    assert render.LEGEND in text
    assert "naive_datetime (coerced) in first, second: whole column" in text
    named = [line for line in lines if "naive_datetime" in line and not line.startswith("      ")]
    assert len(named) == 3  # two property rows and one gathered note
    assert "2024-01-05 10:00:00 -> " in text
    assert "Timestamp(" not in text


def test_a_clean_plan_says_so_in_its_first_line() -> None:
    df = pd.DataFrame({"uid": ["a", "b"], "n": [1, 2]})
    text = render.render_text(build_plan(df, "uid", config=config()))
    assert (
        text.splitlines()[0] == "Fyno push plan: ✓ 2 of 2 rows will be sent, every value as planned"
    )


def test_a_row_issue_names_no_property_and_every_rule_says_what_to_do() -> None:
    df = pd.DataFrame({"uid": ["a", "b"], "n": [1.0, float("inf")]})
    text = render.render_text(build_plan(df, "uid", config=config()))
    assert "empty_row (row_skipped) in (row): 1 at rows 1" in text
    rules = [line for line in text.splitlines() if line.startswith("  ") and "(" in line]
    todo = [line for line in text.splitlines() if line.startswith("      to do: ")]
    assert len(todo) == 2
    assert all("topics/rules.html#" in line for line in todo)
    assert rules
