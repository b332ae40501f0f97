"""The options are declared once: every signature, doc, check, CLI flag and the documentation
follow."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import fyno_pandas
from fyno_pandas import FynoInputError
from fyno_pandas.cli import command as cli
from fyno_pandas.emulator import FynoEmulator
from fyno_pandas.errors import FynoOptionError
from fyno_pandas.options import docs as optiondocs
from fyno_pandas.options.docs import options_table_markdown
from fyno_pandas.options.model import ENTRY_POINTS, GROUPS, OPTIONS, defaults

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "fyno_pandas"


def frame() -> pd.DataFrame:
    return pd.DataFrame({"user_id": ["a", "b"], "plan": ["pro", "free"]})


def declared() -> dict[str, Any]:
    """Every option and its default, read from the dataclasses themselves."""
    return {f.name: f.default for group in GROUPS for f in dataclasses.fields(group)}


def keyword_options(func: Any) -> dict[str, Any]:
    params = inspect.signature(func).parameters.values()
    return {p.name: p.default for p in params if p.kind is p.KEYWORD_ONLY}


def entry_points() -> list[tuple[str, Any, str]]:
    df = frame()
    found = [
        ("fyno_pandas.plan", fyno_pandas.plan, "plan"),
        ("fyno_pandas.push", fyno_pandas.push, "push"),
        ("fyno_pandas.push_plan", fyno_pandas.push_plan, "push_plan"),
        ("fyno_pandas.retry_failed", fyno_pandas.retry_failed, "retry_failed"),
        ("fyno_pandas.push_frames", fyno_pandas.push_frames, "push_frames"),
        ("fyno_pandas.push_query", fyno_pandas.push_query, "push_query"),
        ("df.fyno.plan", df.fyno.plan, "plan"),
        ("df.fyno.push", df.fyno.push, "push"),
        ("df.fyno.retry_failed", df.fyno.retry_failed, "retry_failed"),
    ]
    try:
        dd = importlib.import_module("dask.dataframe")
        importlib.import_module("fyno_pandas.dask")  # registers ddf.fyno
    except ImportError:  # pragma: no cover - the dask extra is not installed
        return found
    ddf = dd.from_pandas(df, npartitions=1)
    found += [
        ("ddf.fyno.plan", ddf.fyno.plan, "plan"),
        ("ddf.fyno.push", ddf.fyno.push, "push_frames"),
    ]
    try:
        pl = importlib.import_module("polars")
        importlib.import_module("fyno_pandas.polars")  # registers pl_df.fyno and lazy.fyno
    except ImportError:  # pragma: no cover - the polars extra is not installed
        return found
    eager = pl.DataFrame({"user_id": ["u1"]})
    for kind, polars_frame, push in (
        ("pl_df", eager, "push"),
        ("lazy", eager.lazy(), "push_frames"),
    ):
        found += [
            (f"{kind}.fyno.plan", polars_frame.fyno.plan, "plan"),
            (f"{kind}.fyno.push", polars_frame.fyno.push, push),
            (f"{kind}.fyno.retry_failed", polars_frame.fyno.retry_failed, "retry_failed"),
        ]
    try:
        spark = importlib.import_module("fyno_pandas.spark")
    except ImportError:  # pragma: no cover - the spark extra is not installed
        return found
    return [
        *found,
        ("fyno_pandas.spark.push", spark.push, "push_frames"),
        ("fyno_pandas.spark.retry_failed", spark.retry_failed, "retry_failed"),
    ]


ENTRIES = [pytest.param(*entry, id=entry[0]) for entry in entry_points()]


@pytest.mark.parametrize(("label", "func", "entry"), ENTRIES)
def test_every_entry_point_takes_the_declared_options(label: str, func: Any, entry: str) -> None:
    options = keyword_options(func)
    assert list(options) == list(ENTRY_POINTS[entry]), label
    expected = {name: declared()[name] for name in ENTRY_POINTS[entry]}
    if entry == "retry_failed":
        expected["preview"] = False  # a retry does not preview by default
    assert options == expected, label
    assert options == defaults(entry), label


def test_push_and_push_frames_take_every_option_but_output() -> None:
    assert set(keyword_options(fyno_pandas.push_frames)) == set(OPTIONS)
    assert set(keyword_options(fyno_pandas.push)) == set(OPTIONS) - {"output"}


def test_the_method_keeps_the_functions_signature() -> None:
    df = frame()
    for name in ("plan", "push", "retry_failed"):
        function = inspect.signature(getattr(fyno_pandas, name))
        method = inspect.signature(getattr(df.fyno, name))
        assert list(method.parameters.values()) == list(function.parameters.values())[1:]
    shown = inspect.signature(df.fyno.push)
    assert str(shown).startswith("(id_col: Any, *, wsid: str | None = None, api_key")
    for name in ENTRY_POINTS["push"]:
        assert shown.parameters[name].annotation is OPTIONS[name].annotation


@pytest.mark.parametrize(("label", "func", "entry"), ENTRIES)
def test_docs_list_every_option_with_its_one_line_doc(label: str, func: Any, entry: str) -> None:
    doc = inspect.getdoc(func)
    assert doc is not None
    parameters = doc.split("Parameters\n----------\n", 1)[1]
    for name in ENTRY_POINTS[entry]:
        assert re.search(rf"^{name} : .+\n    {re.escape(OPTIONS[name].doc)}$", parameters, re.M), (
            label,
            name,
        )
    if entry == "retry_failed":
        assert "preview : bool, default False" in parameters


def test_each_option_has_a_one_line_doc_and_a_known_spelling() -> None:
    for option in OPTIONS.values():
        assert option.doc, option.name
        assert "\n" not in option.doc, option.name
        assert option.doc.endswith("."), option.name
        for flag in option.flags:
            assert flag.spelling.startswith("--"), option.name


def test_a_misspelt_option_names_the_closest_one() -> None:
    with pytest.raises(FynoOptionError) as caught:
        fyno_pandas.push(frame(), "user_id", concurency=4)
    assert str(caught.value) == "unknown option 'concurency'; did you mean 'concurrency'?"
    assert isinstance(caught.value, TypeError)
    assert isinstance(caught.value, FynoInputError)
    assert caught.value.rule == "unknown_option"


def test_the_suggestion_looks_across_every_group() -> None:
    df = frame()
    with pytest.raises(TypeError, match=r"did you mean 'only_changed'\?"):
        df.fyno.push("user_id", only_chnged=False)
    with pytest.raises(TypeError, match=r"did you mean 'wsid'\?"):
        fyno_pandas.plan(df, "user_id", wsdi="W")
    with pytest.raises(TypeError, match=r"did you mean 'output'\?"):
        fyno_pandas.push_frames([df], "user_id", ouput="r.csv")
    # a real option the entry point does not take says who takes it
    the_plan = fyno_pandas.plan(df, "user_id", ledger=False)
    with pytest.raises(FynoOptionError, match="push_plan does not take option 'only_changed'"):
        fyno_pandas.push_plan(the_plan, only_changed=False)
    with pytest.raises(FynoOptionError, match="push does not take option 'output'"):
        fyno_pandas.push(df, "user_id", output="r.csv")


def test_the_positional_arguments_pass_by_keyword_too() -> None:
    the_plan = frame().fyno.plan(id_col="user_id", ledger=False)
    assert the_plan.options["nulls"] == "skip"


def test_options_are_checked_once_per_call(
    emulator: FynoEmulator, destination: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = optiondocs.checked_groups

    def counted(entry: str, given: dict[str, Any]) -> tuple[dict[str, Any], dict[type, Any]]:
        calls.append(entry)
        return real(entry, given)

    monkeypatch.setattr(optiondocs, "checked_groups", counted)
    result = fyno_pandas.push(frame(), "user_id", **destination, preview=False, progress=False)
    assert (result["status"] == "sent").all()
    assert calls == ["push"]


def test_an_unknown_option_fails_even_when_there_is_nothing_to_retry() -> None:
    df = frame()
    result = df.fyno.push("user_id", dry_run=True, preview=False, ledger=False)
    with pytest.raises(FynoOptionError, match="did you mean 'max_retries'"):
        df.fyno.retry_failed(result, "user_id", max_retry=2)


def literal_option_lists(path: Path) -> list[tuple[int, list[str]]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)) and len(node.elts) >= 3:
            values = [e.value for e in node.elts if isinstance(e, ast.Constant)]
            if len(values) == len(node.elts) and all(
                isinstance(v, str) and v in OPTIONS for v in values
            ):
                found.append((node.lineno, values))
    return found


def test_no_module_keeps_its_own_list_of_option_names() -> None:
    hand_kept = {
        f"{path.relative_to(ROOT)}:{line}": names
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != PACKAGE / "options" / "model.py"
        for line, names in literal_option_lists(path)
    }
    assert hand_kept == {}


def test_the_ast_scan_finds_a_hand_kept_list(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text('SEND = ("concurrency", "max_rps", "batch_size")\nX = ("a", "b", "c")\n')
    assert literal_option_lists(sample) == [(1, ["concurrency", "max_rps", "batch_size"])]


def test_the_documented_options_table_is_generated_from_the_declaration() -> None:
    """docs/topics/configuration.md shows the table conf.py renders with
    `options_table_markdown` at build time (tests/project/test_docs.py checks the built page)."""
    page = (ROOT / "docs" / "topics" / "configuration.md").read_text(encoding="utf-8")
    conf = (ROOT / "docs" / "conf.py").read_text(encoding="utf-8")
    assert "{{ options_table }}" in page
    assert f'"options_table": {options_table_markdown.__name__}()' in conf


TODAYS_FLAGS = {
    "--columns": None,
    "--output": None,
    "--dry-run": False,
    "--wsid": None,
    "--version": None,
    "--endpoint": None,
    "--batch-size": "auto",
    "--concurrency": "auto",
    "--max-rps": None,
    "--max-retries": 8,
    "--nulls": "skip",
    "--long-strings": "report",
    "--mirror": False,
    "--mirror-max-clear": None,
    "--op": None,
    "--schema": None,
    "--unset": None,
    "--naive-tz": "UTC",
    "--ledger": None,
    "--no-ledger": False,
    "--all": False,
    "--no-progress": False,
    "--no-resume": False,
    "--resend-in-doubt": False,
}


def test_the_cli_flags_keep_their_spelling_and_defaults() -> None:
    parser = cli._parser()
    push = parser._subparsers._group_actions[0].choices["push"]  # type: ignore[union-attr]
    actions = {s: a for a in push._actions for s in a.option_strings}
    assert set(TODAYS_FLAGS) | {
        "-h",
        "--help",
        "--id-col",
        "--parse-dates",
        "--dtype",
        "--na-values",
        "--sql",
        "--sql-file",
        "--db",
        "--chunksize",
    } == set(actions)
    for spelling, default in TODAYS_FLAGS.items():
        assert actions[spelling].default == default, spelling
    assert actions["--version"].choices == ("live", "test")
    assert actions["--nulls"].choices == ("skip", "unset", "error")
    assert actions["--long-strings"].choices == ("report", "truncate", "error")


def test_the_cli_inversions_set_the_options() -> None:
    parse = cli._parser().parse_args
    plain = cli._option_values(parse(["push", "f.csv", "--id-col", "u"]))
    assert plain == {name: OPTIONS[name].default for name in plain}
    assert "api_key" not in plain  # Python only
    assert "timeout" not in plain
    flipped = cli._option_values(
        parse(["push", "f.csv", "--id-col", "u", "--no-ledger", "--all", "--no-progress"])
    )
    assert (flipped["ledger"], flipped["only_changed"], flipped["progress"]) == (False,) * 3
    # --no-ledger wins over --ledger, as it always did
    both = cli._option_values(
        parse(["push", "f.csv", "--id-col", "u", "--no-ledger", "--ledger", "x.sqlite"])
    )
    assert both["ledger"] is False
    given = cli._option_values(
        parse(["push", "f.csv", "--id-col", "u", "--columns", "a, b", "--batch-size", "5"])
    )
    assert (given["columns"], given["batch_size"]) == (["a", "b"], 5)
    spelled = cli._option_values(
        parse(["push", "f.csv", "--id-col", "u", "--batch-size", "none", "--concurrency", "8"])
    )
    assert (spelled["batch_size"], spelled["concurrency"]) == (None, 8)
