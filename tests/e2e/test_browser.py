"""The preview widget in a real browser: JupyterLab on loopback, driven by headless Chromium.

A notebook starts the emulator and plans a small frame with two problem values; the test checks
the plan's preview (verdict, properties by severity), then `plan.widget()`: its Send button says
Dry run when ticked, sends, and keeps the result; then a push with a refused key, whose cell
shows the error once, in two lines. Screenshots land in tests/artifacts/ (the whole page, the
widget after Send, the refused key's cell), and the preview alone, before Send, is saved as
docs/_static/preview.png: the picture the README and the documentation show, so it is always the
preview as it renders today.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

import pytest
from browser.lab import CHROMIUM, CHROMIUM_ARGS, jupyter_lab, write_notebook

ARTIFACTS = Path(__file__).parents[1] / "artifacts"
PREVIEW_PICTURE = Path(__file__).parents[2] / "docs" / "_static" / "preview.png"
WAIT = 60_000  # ms: first page load and kernel start take several seconds

PLAN_CELL = """\
import numpy as np
import pandas as pd
import fyno_pandas
from fyno_pandas.emulator import FynoEmulator

try:  # the documented port, so the saved picture names the same destination run after run
    fyno = FynoEmulator(seed=0, port=8765).start()
except OSError:
    fyno = FynoEmulator(seed=0).start()
users = pd.DataFrame({
    "user_id": ["u1", "u2", "u3"],
    "plan": ["pro", "free", "team"],
    "ltv": [23000.0, np.inf, 12.5],
    "city": ["Berlin", "Lyon", 75001],
    "premium": [True, False, True],
})
plan = users.fyno.plan(id_col="user_id", wsid=fyno.wsid, api_key=fyno.api_key,
                       endpoint=fyno.endpoint)
plan"""
# plan.widget() is the preview with a name: its Send's result is the widget's .result
WIDGET_CELL = "view = plan.widget()\nview"
CHECK_CELL = 'print("stored:", sorted(fyno.profiles), view.result["status"].tolist())'
BAD_KEY_CELL = """\
users.fyno.push("user_id", wsid=fyno.wsid, api_key="not-the-key", endpoint=fyno.endpoint,
                ledger=False, progress=False)"""


def run_cell(page: Any, k: int) -> None:
    """Run the notebook's cell ``k`` as a user does: click into it, Shift+Enter."""
    page.locator(".jp-Cell .cm-content").nth(k).click(force=True)
    page.keyboard.press("Shift+Enter")


def _missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"Debian's chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    for package in ("playwright", "jupyterlab"):
        if importlib.util.find_spec(package) is None:
            return f"the {package} package is not installed (pip install -e '.[test]')"
    for module in ("fyno_pandas.emulator", "fyno_pandas.pipeline.workflow"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not built yet (the notebook starts the emulator and pushes)"
    return None


@pytest.mark.browser
@pytest.mark.skipif(_missing() is not None, reason=str(_missing()))
def test_preview_widget_sends_from_jupyterlab(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import sync_playwright

    # The kernel inherits the server's environment: no FYNO_* settings from this machine,
    # and the ledger under tmp_path.
    for name in [n for n in os.environ if n.startswith("FYNO_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("FYNO_PANDAS_HOME", str(tmp_path / "home"))
    root = tmp_path / "notebooks"
    root.mkdir()
    write_notebook(root / "preview.ipynb", [PLAN_CELL, WIDGET_CELL, CHECK_CELL, BAD_KEY_CELL])
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "preview_widget.png"
    with jupyter_lab(root, tmp_path) as lab, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1250})
        try:
            page.goto(lab.url("preview.ipynb"))
            page.wait_for_selector(".jp-Notebook", timeout=WAIT)
            page.wait_for_selector(".jp-Cell .cm-content", timeout=WAIT)
            # Keys sent before the kernel is idle can be lost; wait for it.
            page.wait_for_selector(".jp-StatusBar-TextItem:has-text('Idle')", timeout=WAIT)
            news = page.locator(".jp-toast-button:has-text('No')")
            if news.count():
                news.first.click()
            run_cell(page, 0)
            widget = page.locator(".jp-Cell").nth(0).locator(".widget-vbox").first
            widget.locator("button:has-text('Send')").wait_for(timeout=WAIT)
            rows = widget.locator("tr.fyno-prop")
            assert rows.count() == 4
            # the properties by severity: the two with a value left out first
            assert "⚠ dropped (not_finite)" in rows.nth(0).inner_text()
            assert "⚠ dropped (type_mismatch)" in rows.nth(1).inner_text()
            assert rows.nth(2).inner_text().split("\t")[:3] == ["plan", "str", "string"]
            header = widget.locator(".fyno-preview-header").inner_text()
            assert header.startswith(
                "Fyno push plan: ⚠ 3 of 3 rows will be sent; 2 values will be left out"
            )
            assert "⚠ 2 (Fyno would accept them" in header
            assert widget.locator("select").is_visible()  # the drill-down
            widget.screenshot(path=str(PREVIEW_PICTURE), animations="disabled")

            run_cell(page, 1)
            view = page.locator(".jp-Cell").nth(1).locator(".widget-vbox").first
            send = view.locator("button:has-text('Send')")
            send.wait_for(timeout=WAIT)
            view.locator("input[type=checkbox]").check()
            # the label comes back from the kernel
            view.locator("button:has-text('Dry run 3 rows')").wait_for(timeout=WAIT)
            view.locator("input[type=checkbox]").uncheck()
            send.wait_for(timeout=WAIT)
            send.click()
            result = view.locator(".fyno-result")
            result.wait_for(timeout=WAIT)
            assert "3 sent" in result.inner_text()
            view.screenshot(path=str(ARTIFACTS / "widget_sent.png"), animations="disabled")

            run_cell(page, 2)
            printed = page.locator(".jp-OutputArea-output:has-text('stored:')")
            printed.wait_for(timeout=WAIT)
            assert "stored: ['u1', 'u2', 'u3'] ['sent', 'sent', 'sent']" in printed.inner_text()

            run_cell(page, 3)
            refused = page.locator(".jp-Cell").nth(3).locator(".jp-OutputArea-output")
            refused.first.wait_for(timeout=WAIT)
            said = refused.all_inner_texts()
            assert said[0].startswith("Fyno push plan: ")  # the preview, then the error
            errors = [text for text in said if "refused" in text]
            assert len(errors) == 1, said  # said once
            assert errors[0].startswith("FynoAuthError: ")
            assert len(errors[0].strip().splitlines()) == 2, said  # the message, how to see more
            page.locator(".jp-Cell").nth(3).screenshot(path=str(ARTIFACTS / "bad_key.png"))
        finally:
            page.screenshot(path=str(shot))
            browser.close()
