"""The preview widget in a real browser: JupyterLab on loopback, driven by headless Chromium.

A notebook starts the emulator, plans a small frame with two problem values, and leaves the plan
as the cell's last expression; the test waits for the widget, checks its rows and the problem
count, clicks Send and sees the result. A screenshot lands in tests/artifacts/ either way, and
the preview alone, before Send, is saved as docs/_static/preview.png: the picture the README and
the documentation show, so it is always the preview as it renders today.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

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
# The result of a Send is on the widget the display built, not on the plan: the check reads
# what the emulator stored (the widget's own report is checked above it, in .fyno-result).
CHECK_CELL = 'print("stored:", sorted(fyno.profiles), hasattr(plan, "result"))'


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
    write_notebook(root / "preview.ipynb", [PLAN_CELL, CHECK_CELL])
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
            page.locator(".jp-Cell .cm-content").first.click(force=True)
            page.keyboard.press("Shift+Enter")

            send = page.locator(".jp-OutputArea button:has-text('Send')")
            send.wait_for(timeout=WAIT)
            widget = page.locator(".jp-OutputArea .widget-vbox").first
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

            send.click()
            result = widget.locator(".fyno-result")
            result.wait_for(timeout=WAIT)
            assert "3 sent" in result.inner_text()

            page.locator(".jp-Cell .cm-content").nth(1).click(force=True)
            page.keyboard.press("Shift+Enter")
            printed = page.locator(".jp-OutputArea-output:has-text('stored:')")
            printed.wait_for(timeout=WAIT)
            assert "stored: ['u1', 'u2', 'u3'] False" in printed.inner_text()
            widget.scroll_into_view_if_needed()
        finally:
            page.screenshot(path=str(shot))
            browser.close()
