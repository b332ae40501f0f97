"""The documentation site: built with warnings as errors, every rule has its section, and the
built pages open in headless Chromium.

The build runs ``sphinx-build -W --keep-going`` into a temporary folder: a broken link between
pages, a missing cross-reference or a docstring docutils cannot read fails it. The browser test
saves its screenshots in tests/artifacts/, beside the JupyterLab test's.
"""

from __future__ import annotations

import ast
import functools
import html
import http.server
import importlib.util
import itertools
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from browser.lab import CHROMIUM, CHROMIUM_ARGS

import fyno_pandas
from fyno_pandas.coercion.types import DTYPE_TABLE
from fyno_pandas.options.model import OPTIONS
from fyno_pandas.planning import build, issues
from fyno_pandas.sources.polars import POLARS_DTYPES

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "fyno_pandas"
ARTIFACTS = Path(__file__).parents[1] / "artifacts"
ACTIONS = {"dropped", "coerced", "warned", "row_skipped"}
NOTEBOOKS = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
WAIT = 30_000  # ms: a static page on loopback


def declared_pairs() -> list[tuple[str, str]]:
    """The (rule, action) rows of the table `fyno_pandas.planning.build` declares."""
    table = build.__doc__.split("Issue rules", 1)[1]
    return re.findall(r"^([a-z_]+) +(dropped|coerced|warned|row_skipped) ", table, re.M)


def declared_rules() -> list[str]:
    """The rules of ``plan.issues``, as `fyno_pandas.planning.build` declares them in its table."""
    return list(dict.fromkeys(rule for rule, _ in declared_pairs()))


def rules_in_code() -> set[str]:
    """Each text the planner's code writes just before an action (``Issue("not_finite",
    "dropped", ...)``, ``issues.add(..., "empty_row", "row_skipped", ...)``): the rules it
    reports, found where they are used, so one missing from the table is caught."""
    found = set()
    for path in [*PACKAGE.glob("coercion/*.py"), *PACKAGE.glob("planning/*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            items = node.args if isinstance(node, ast.Call) else getattr(node, "elts", [])
            texts = [item.value if isinstance(item, ast.Constant) else None for item in items]
            found |= {
                a for a, b in itertools.pairwise(texts) if isinstance(a, str) and b in ACTIONS
            }
    # plan.columns' header lists "missing", "coerced", "dropped" side by side
    return found - ACTIONS - set(build.COLUMN_COLUMNS)


def _missing_docs_packages() -> str | None:
    for package in ("sphinx", "myst_nb", "pydata_sphinx_theme"):
        if importlib.util.find_spec(package) is None:
            return f"the {package} package is not installed (pip install -e '.[docs]')"
    return None


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site built from docs/ into a temporary folder, warnings as errors."""
    missing = _missing_docs_packages()
    if missing:
        pytest.skip(missing)
    out = tmp_path_factory.mktemp("docs")
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-E", "-q", "-b", "html"]
    command += ["-d", str(out / "doctrees"), "docs", str(out / "html")]
    # No bytecode: the build imports docs/_ext and the package and must leave the tree as it was.
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    built = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, f"sphinx-build failed:\n{built.stderr}"
    return out / "html"


def _ids(page: Path) -> set[str]:
    return set(re.findall(r'\bid="([^"]+)"', page.read_text(encoding="utf-8")))


def test_the_rule_table_is_found() -> None:
    rules = declared_rules()
    assert {"type_mismatch", "string_too_long", "duplicate_id", "empty_row"} <= set(rules)
    assert len(rules) >= 20
    assert rules_in_code() - set(rules) == set(), "rules missing from build.py's table"


def _frame(**columns: list) -> pd.DataFrame:
    ids = list(range(len(next(iter(columns.values())))))
    return pd.DataFrame({"id": ids, **columns})


#: A frame (and options) that makes the planner report each (rule, action), and the property
#: the issue row names.
TRIGGERS: dict[tuple[str, str], tuple[pd.DataFrame, dict, str | None]] = {
    ("string_too_long", "dropped"): (_frame(bio=["x" * 256]), {}, "bio"),
    ("string_too_long", "coerced"): (_frame(bio=["x" * 256]), {"long_strings": "truncate"}, "bio"),
    ("not_finite", "dropped"): (_frame(ltv=[1.0, np.inf]), {}, "ltv"),
    ("naive_datetime", "coerced"): (_frame(seen=pd.to_datetime(["2024-01-05 10:00"])), {}, "seen"),
    ("datetime_truncated", "coerced"): (
        _frame(seen=pd.to_datetime(["2024-01-05 10:00:00.000001"], utc=True)),
        {},
        "seen",
    ),
    ("date_out_of_range", "dropped"): (
        _frame(seen=np.array(["10000-01-01"], dtype="datetime64[s]")),
        {},
        "seen",
    ),
    ("nonexistent_time", "dropped"): (
        _frame(seen=pd.to_datetime(["2024-03-31 02:30"])),
        {"naive_tz": "Europe/Berlin"},
        "seen",
    ),
    ("type_mismatch", "dropped"): (_frame(ltv=[1.0, 2.0, "n/a"]), {}, "ltv"),
    ("date_as_string", "coerced"): (
        _frame(code=pd.to_datetime(["2024-01-05"], utc=True)),
        {"schema": {"code": "string"}},
        "code",
    ),
    ("date_like_string", "warned"): (_frame(code=["2024-01-05 10:00", "abc"]), {}, "code"),
    ("no_safe_seed", "dropped"): (_frame(code=["2024-01-05 10:00"]), {}, "code"),
    ("numeric_string", "warned"): (_frame(zip=["01234", "abc"]), {}, "zip"),
    ("unsafe_integer", "warned"): (_frame(account=[2**60]), {}, "account"),
    ("unsupported_type", "dropped"): (_frame(tenure=pd.to_timedelta(["1D"])), {}, "tenure"),
    ("invalid_list", "dropped"): (_frame(tags=[["a"], [None]]), {}, "tags"),
    ("add_not_number", "dropped"): (_frame(logins=["x"]), {"ops": {"logins": "add"}}, "logins"),
    ("invalid_element", "dropped"): (
        _frame(tags=[["a"], [True]]),
        {"ops": {"tags": "append"}},
        "tags",
    ),
    ("op_type_mismatch", "dropped"): (
        _frame(logins=[1]),
        {"ops": {"logins": "add"}, "schema": {"logins": "string"}},
        "logins",
    ),
    ("category", "coerced"): (_frame(plan=pd.Categorical(["pro"])), {}, "plan"),
    ("missing_id", "row_skipped"): (pd.DataFrame({"id": [None, 2], "x": [1, 2]}), {}, "id"),
    ("invalid_id", "row_skipped"): (pd.DataFrame({"id": [b"\xff"], "x": [1]}), {}, "id"),
    ("duplicate_id", "row_skipped"): (pd.DataFrame({"id": [1, 1], "x": [1, 2]}), {}, "id"),
    ("empty_row", "row_skipped"): (_frame(x=[1.0, None]), {}, None),
}


def test_every_rule_the_planner_reports_has_a_hint_and_a_trigger() -> None:
    assert list(issues.HINTS) == declared_pairs(), "issues.HINTS and build.py's table differ"
    assert list(TRIGGERS) == list(issues.HINTS)
    assert all(hint.strip() for hint in issues.HINTS.values())


@pytest.mark.parametrize(("rule", "action"), list(TRIGGERS))
def test_each_rule_s_issue_row_carries_its_hint_and_link(rule: str, action: str) -> None:
    df, options, column = TRIGGERS[rule, action]
    table = build.build_plan(df, "id", **options).issues
    assert table["hint"].map(lambda h: isinstance(h, str) and h.strip() != "").all()
    found = table[(table["rule"] == rule) & (table["action"] == action)]
    assert len(found), f"{rule}/{action}: not reported for its trigger"
    expected = issues.HINTS[rule, action].replace("{column}", f'"{column}"')
    assert set(found["hint"]) == {expected}
    assert set(found["link"]) == {f"{issues.DOCS_URL}topics/rules.html#{rule}"}


#: Words only the project uses, or that claim what the ledger cannot know.
JARGON = re.compile(
    r"\bseeds?\b|\(known\)|\bknown in\b|journal|fixed earlier|must not start|majority"
)


@pytest.mark.parametrize(("rule", "action"), list(TRIGGERS))
def test_each_rule_s_message_is_in_plain_words(rule: str, action: str) -> None:
    df, options, _ = TRIGGERS[rule, action]
    plan = build.build_plan(df, "id", **options)
    texts = [*plan.issues["message"], *plan.columns["note"]]
    assert [text for text in texts if JARGON.search(text)] == []
    assert [text for text in texts if re.search(r"\b1 \w+s (?:hold|look|lose|are)\b", text)] == []


def test_each_rule_s_link_opens_its_section_of_the_built_site(site: Path) -> None:
    broken = []
    for rule in dict.fromkeys(rule for rule, _ in issues.HINTS):
        page, anchor = issues.rule_link(rule).removeprefix(issues.DOCS_URL).split("#")
        if not (site / page).exists() or anchor not in _ids(site / page):
            broken.append(f"{rule}: {page}#{anchor}")
    assert not broken, f"links into the documentation that lead nowhere: {broken}"


def test_every_rule_has_a_section_named_after_it(site: Path) -> None:
    ids = _ids(site / "topics" / "rules.html")
    missing = [rule for rule in declared_rules() if rule not in ids]
    assert not missing, f"docs/topics/rules.md has no section for {missing}"


def test_the_options_table_is_generated_from_the_declaration(site: Path) -> None:
    page = (site / "topics" / "configuration.html").read_text(encoding="utf-8")
    rows = re.findall(
        r'<tr class="row-(?:odd|even)"><td><p><code[^>]*><span class="pre">(\w+)', page
    )
    assert [name for name in rows if name in OPTIONS] == list(OPTIONS)


def test_the_dtype_table_is_generated_from_the_type_table(site: Path) -> None:
    page = (site / "topics" / "types.html").read_text(encoding="utf-8")
    rows = re.findall(
        r'<tr class="row-(?:odd|even)"><td><p>([^<]+)</p></td>\s*<td><p>([^<]+)<', page
    )
    assert rows[: len(DTYPE_TABLE)] == [
        (html.escape(rule.examples, quote=False), rule.fyno_type) for rule in DTYPE_TABLE.values()
    ]


def test_the_polars_dtype_table_is_generated_from_its_declaration(site: Path) -> None:
    page = (site / "topics" / "sources-polars.html").read_text(encoding="utf-8")
    rows = re.findall(
        r'<tr class="row-(?:odd|even)"><td><p>([^<]+)</p></td>\s*<td><p>([^<]+)<', page
    )
    assert rows == [(name, rule.fyno_type or "—") for name, rule in POLARS_DTYPES.items()]


def test_the_api_reference_documents_every_public_name(site: Path) -> None:
    ids = _ids(site / "api.html")
    public = [f"fyno_pandas.{name}" for name in fyno_pandas.__all__ if name != "__version__"]
    expected = [*public, "fyno_pandas.emulator.FynoEmulator"]
    assert [name for name in expected if name not in ids] == []


def test_each_tutorial_is_rendered_with_its_saved_outputs(site: Path) -> None:
    assert len(NOTEBOOKS) == 6
    for name in NOTEBOOKS:
        page = (site / "tutorials" / f"{name}.html").read_text(encoding="utf-8")
        assert page.count('class="cell_output') >= 5, f"{name}: outputs missing"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Keep the test's output free of one line per file served."""


@pytest.fixture
def served(site: Path) -> Iterator[str]:
    """The built site over HTTP on a loopback port, as a browser reads a hosted site."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}"
        finally:
            server.shutdown()
            thread.join()


def _missing_browser() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"Debian's chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed (pip install -e '.[test]')"
    return None


@pytest.mark.browser
@pytest.mark.skipif(_missing_browser() is not None, reason=str(_missing_browser()))
def test_the_site_opens_in_chromium(served: str) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        shot = ARTIFACTS / "docs_index.png"
        try:
            page.goto(f"{served}/index.html")
            page.wait_for_selector("h1:has-text('fyno_pandas')", timeout=WAIT)
            header = page.locator(".bd-header")
            assert header.get_by_role("link", name="Getting started").is_visible()
            page.screenshot(path=str(shot))

            shot = ARTIFACTS / "docs_tutorial.png"
            header.get_by_role("link", name="Tutorials").click()
            page.wait_for_selector("h1:has-text('Tutorials')", timeout=WAIT)
            sidebar = page.locator(".bd-sidebar-primary")
            sidebar.get_by_role("link", name=re.compile("^Quickstart")).click()
            page.wait_for_selector("h1:has-text('Quickstart')", timeout=WAIT)
            preview = page.locator(".cell_output tr.fyno-prop").first
            preview.scroll_into_view_if_needed()
            assert preview.is_visible()
        finally:
            page.screenshot(path=str(shot))
            browser.close()
