"""The command line as a scheduled job runs it: a subprocess against an emulator subprocess."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

USERS = pd.DataFrame(
    {
        "user_id": ["u1", "u2", "u3"],
        "plan": ["pro", "free", "team"],
        "ltv": [10.5, 0.0, 99.0],
    }
)
#: A line that blames a property for what a refused key did (the type seeds' failures).
BLAMES_A_PROPERTY = re.compile(r"rows? not sent|\bno type\b|property '")


@pytest.fixture(scope="module")
def emulator_env() -> Iterator[dict[str, str]]:
    """``python -m fyno_pandas.emulator`` as a user starts it; its FYNO_* lines as the env."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "fyno_pandas.emulator", "--port", "0", "--seed", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    lines = [proc.stdout.readline().strip().removeprefix("export ") for _ in range(3)]
    settings = dict(line.split("=", 1) for line in lines)
    yield settings
    proc.terminate()
    proc.wait(10)
    proc.stdout.close()


def control(env: dict[str, str], action: str, body: dict | None = None) -> dict:
    url = env["FYNO_ENDPOINT"].removesuffix("/v1") + f"/__emulator/{action}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="GET" if action == "state" else "POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read() or b"{}")


@pytest.fixture
def env(emulator_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    control(emulator_env, "reset")
    control(emulator_env, "config", {"error_rate": 0.0})
    return {**os.environ, **emulator_env, "FYNO_PANDAS_HOME": str(tmp_path / "home")}


def cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fyno_pandas", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_push_writes_one_result_row_per_input_row(env: dict[str, str], tmp_path: Path) -> None:
    USERS.to_csv(tmp_path / "users.csv", index=False)

    done = cli("push", "users.csv", "--id-col", "user_id", "--no-progress", env=env, cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    result = pd.read_csv(tmp_path / "users.result.csv", index_col=0)
    assert result["distinct_id"].tolist() == ["u1", "u2", "u3"]
    assert (result["status"] == "sent").all()
    logged = control(env, "state")
    assert "Fyno push plan" in done.stdout
    assert re.fullmatch(
        r"✓ Fyno push: 3 sent; in \d+\.\d\d s \([\d,]+\.\d rows/s\)", done.stdout.splitlines()[-1]
    )
    assert logged["workspaces"][env["FYNO_WSID"]]["live"]["profiles"]["u2"] == {
        "plan": "free",
        "ltv": 0.0,
    }


def test_a_push_again_says_what_this_ledger_was_told_and_ends_with_what_was_left_out(
    env: dict[str, str], tmp_path: Path
) -> None:
    USERS.to_csv(tmp_path / "users.csv", index=False)
    push = ("push", "users.csv", "--id-col", "user_id", "--no-progress")
    assert cli(*push, env=env, cwd=tmp_path).returncode == 0
    # "inf" makes ltv a text column, which the number type fixed by the first push refuses
    USERS.assign(ltv=[10.5, float("inf"), 99.0]).to_csv(tmp_path / "users.csv", index=False)

    again = cli(*push, env=env, cwd=tmp_path)

    assert again.returncode == 0, again.stderr
    assert "3 rows, 3 values acknowledged earlier to this ledger (at " in again.stdout
    assert "UTC); --all resends them" in again.stdout
    assert again.stdout.splitlines()[-1] == (
        "⚠ Fyno push: 3 unchanged (acknowledged earlier to this ledger; --all resends them); "
        "3 values left out (the dropped column)"
    )
    assert "Fyno push:" not in again.stderr


def test_parquet_out_jsonl_in_and_test_version(env: dict[str, str], tmp_path: Path) -> None:
    USERS.to_json(tmp_path / "users.jsonl", orient="records", lines=True)

    done = cli(
        "push", "users.jsonl", "--id-col", "user_id", "--version", "test",
        "--output", "out.parquet", "--no-progress", env=env, cwd=tmp_path,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    result = pd.read_parquet(tmp_path / "out.parquet")
    assert (result["status"] == "sent").all()
    store = control(env, "state")["workspaces"][env["FYNO_WSID"]]
    assert set(store["test"]["profiles"]) == {"u1", "u2", "u3"}
    assert store["live"]["profiles"] == {}


def test_dry_run_sends_nothing(env: dict[str, str], tmp_path: Path) -> None:
    USERS.to_csv(tmp_path / "users.csv", index=False)

    done = cli("push", "users.csv", "--id-col", "user_id", "--dry-run", env=env, cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert (pd.read_csv(tmp_path / "users.dryrun.csv")["status"] == "dry_run").all()
    assert not (tmp_path / "users.result.csv").exists()
    assert control(env, "state")["requests"] == []


def test_failed_rows_exit_1_with_the_reason_in_the_result(
    env: dict[str, str], tmp_path: Path
) -> None:
    USERS.to_csv(tmp_path / "users.csv", index=False)
    control(env, "config", {"error_rate": 1.0, "error_statuses": [503]})

    done = cli(
        "push", "users.csv", "--id-col", "user_id", "--max-retries", "0", "--no-progress",
        env=env, cwd=tmp_path,
    )  # fmt: skip

    assert done.returncode == 1
    result = pd.read_csv(tmp_path / "users.result.csv")
    assert (result["status"] == "failed").all()
    assert (result["http_status"] == 503).all()


def test_issue_rows_name_the_csv_line_beside_the_row(env: dict[str, str], tmp_path: Path) -> None:
    long = "x" * 300
    text = f'user_id,note\nu1,"two\nlines"\n\nu2,{long}\nu3,ok\n'
    (tmp_path / "users.csv").write_text(text)

    done = cli("push", "users.csv", "--id-col", "user_id", "--dry-run", env=env, cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert "string_too_long (dropped) in note: 1 at rows 1 (line 5)" in done.stdout


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("users.csv", None, "no such file"),
        ("users.xlsx", "x", "unknown file type"),
        ("users.parquet", "not parquet", "cannot be read"),
        ("users.csv", "user_id,plan\nu1,pro\n", "id_col 'uid' is not one of the frame's 2 columns"),
    ],
)
def test_a_bad_file_exits_2_with_one_clear_line(
    env: dict[str, str], tmp_path: Path, name: str, content: str | None, message: str
) -> None:
    if content is not None:
        (tmp_path / name).write_text(content)

    done = cli("push", name, "--id-col", "uid", env=env, cwd=tmp_path)

    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_ragged_csv_exits_2_naming_the_line_and_sends_nothing(
    env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "users.csv").write_text("uid,name\n1,a,extra,cols\n2,b\n")

    done = cli("push", "users.csv", "--id-col", "uid", env=env, cwd=tmp_path)

    assert done.returncode == 2
    assert done.stderr == "error: users.csv: line 2 has 4 fields, more than the header's 2\n"
    assert control(env, "state")["requests"] == []
    assert not (tmp_path / "users.result.csv").exists()


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("missing/r.csv", "missing/r.csv: no such directory 'missing'"),
        ("results", "results: is a folder; name a result file (.csv, .parquet or .pq)"),
        ("r.xlsx", "r.xlsx: a result file must end in .csv, .parquet or .pq"),
    ],
)
def test_an_output_that_cannot_be_written_exits_2_before_anything_is_sent(
    env: dict[str, str], tmp_path: Path, output: str, message: str
) -> None:
    USERS.to_csv(tmp_path / "users.csv", index=False)
    (tmp_path / "results").mkdir()

    done = cli(
        "push", "users.csv", "--id-col", "user_id", "--output", output, "--no-progress",
        env=env, cwd=tmp_path,
    )  # fmt: skip

    assert done.returncode == 2
    assert control(env, "state")["requests"] == []
    assert done.stderr == f"error: {message}\n"
    assert "Fyno push plan" not in done.stdout
    assert not (tmp_path / output).is_file()


def test_missing_credentials_exit_2_and_the_key_never_shows(
    env: dict[str, str], tmp_path: Path
) -> None:
    USERS.to_csv(tmp_path / "users.csv", index=False)
    without_wsid = {k: v for k, v in env.items() if k != "FYNO_WSID"}

    missing = cli("push", "users.csv", "--id-col", "user_id", env=without_wsid, cwd=tmp_path)
    sent = cli("push", "users.csv", "--id-col", "user_id", env=env, cwd=tmp_path)

    assert missing.returncode == 2
    assert "FYNO_WSID" in missing.stderr
    for done in (missing, sent):
        assert env["FYNO_API_KEY"] not in done.stdout + done.stderr


def test_quickstart_runs_without_credentials(tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FYNO_")}
    clean["FYNO_PANDAS_HOME"] = str(tmp_path)

    done = cli("quickstart", env=clean, cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert "Result, one row per input row" in done.stdout
    assert "What the emulator stored" in done.stdout


def stored(env: dict[str, str]) -> dict[str, dict]:
    return control(env, "state")["workspaces"][env["FYNO_WSID"]]["live"]["profiles"]


def test_csv_text_that_means_more_than_a_number_stays_text(
    env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "users.csv").write_text(
        "uid,zip,code,phone,price\n"
        "007,02134,1.10,+4915112345678,19.90\n"
        "7,10115,2.5,+14155550100,3\n"
    )

    done = cli("push", "users.csv", "--id-col", "uid", "--no-progress", env=env, cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert stored(env) == {
        "007": {"zip": "02134", "code": 1.1, "phone": "+4915112345678", "price": 19.9},
        "7": {"zip": "10115", "code": 2.5, "phone": "+14155550100", "price": 3},
    }
    assert "Kept as text (leading zeros): zip ('02134')\n" in done.stdout
    assert "Kept as text (a leading '+'): phone ('+4915112345678')\n" in done.stdout


@pytest.mark.parametrize(
    "flags",
    [
        ("--schema", "zip=number", "--schema", "code=string"),
        ("--dtype", "zip=int64", "--dtype", "code=str"),
    ],
)
def test_dtype_and_schema_flags_decide_how_a_csv_column_is_read(
    env: dict[str, str], tmp_path: Path, flags: tuple[str, ...]
) -> None:
    (tmp_path / "users.csv").write_text("uid,zip,code\n1,02134,1.10\n")

    done = cli(
        "push", "users.csv", "--id-col", "uid", "--no-progress", *flags, env=env, cwd=tmp_path
    )

    assert done.returncode == 0, done.stderr
    assert stored(env) == {"1": {"zip": 2134, "code": "1.10"}}
    assert "Kept as text" not in done.stdout


def test_dtype_reads_a_json_lines_column_with_that_dtype(
    env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "users.jsonl").write_text('{"uid": "a", "zip": 2134}\n')

    done = cli(
        "push", "users.jsonl", "--id-col", "uid", "--dtype", "zip=str", "--no-progress",
        env=env, cwd=tmp_path,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert stored(env) == {"a": {"zip": "2134"}}


@pytest.mark.parametrize(
    ("name", "content", "flags", "message"),
    [
        ("users.jsonl", '{"uid": "a"}\n', ("--na-values", "NA"), "--na-values: applies to CSV "
         "files only, not .jsonl"),
        ("users.csv", "uid,n\na,1\n", ("--dtype", "n=int65"), "--dtype: 'int65' for column 'n' "
         "is not a pandas dtype"),
        ("users.csv", "uid,n\na,1\n", ("--dtype", "m=str"), "--dtype: users.csv has no column 'm'"),
        ("users.jsonl", '{"uid": "a", "n": "x"}\n', ("--dtype", "n=int64"), "--dtype: column 'n' "
         "cannot be read as int64 ("),
        ("users.csv", "uid,n\na,1\n", ("--parse-dates", "m"), "--parse-dates: users.csv has no "
         "column 'm'"),
    ],
)  # fmt: skip
def test_a_reading_flag_that_does_not_fit_the_file_exits_2_with_one_line(
    env: dict[str, str],
    tmp_path: Path,
    name: str,
    content: str,
    flags: tuple[str, ...],
    message: str,
) -> None:
    (tmp_path / name).write_text(content)

    done = cli("push", name, "--id-col", "uid", *flags, env=env, cwd=tmp_path)

    assert done.returncode == 2
    assert done.stderr.startswith(f"error: {message}")
    assert len(done.stderr.splitlines()) == 1
    assert control(env, "state")["requests"] == []


def test_json_lines_keep_their_json_types_and_dates_only_where_named(
    env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "users.jsonl").write_text(
        '{"uid": "007", "zip": "02134", "created_at": 1700000000, "seen": "2024-05-01T10:00:00Z",'
        ' "n": 1}\n'
        '{"uid": "7", "zip": "10115", "created_at": 1700000001, "seen": "2024-05-02T10:00:00Z",'
        ' "n": null}\n'
    )

    done = cli(
        "push", "users.jsonl", "--id-col", "uid", "--parse-dates", "seen", "--no-progress",
        env=env, cwd=tmp_path,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    profiles = stored(env)
    assert profiles == {
        "007": {"zip": "02134", "created_at": 1700000000, "seen": "2024-05-01T10:00:00.000Z",
                "n": 1},
        "7": {"zip": "10115", "created_at": 1700000001, "seen": "2024-05-02T10:00:00.000Z"},
    }  # fmt: skip
    assert type(profiles["007"]["created_at"]) is int
    assert type(profiles["007"]["n"]) is int


def test_only_an_empty_csv_field_is_missing_unless_na_values_say_so(
    env: dict[str, str], tmp_path: Path
) -> None:
    push = ("push", "users.csv", "--id-col", "uid", "--nulls", "unset", "--no-progress")
    (tmp_path / "users.csv").write_text("uid,country,note\nu1,DE,x\nu2,FR,x\n")
    assert cli(*push, env=env, cwd=tmp_path).returncode == 0
    (tmp_path / "users.csv").write_text("uid,country,note\nu1,NA,N/A\nu2,,null\nu3,nan,None\n")

    done = cli(*push, env=env, cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert stored(env) == {
        "u1": {"country": "NA", "note": "N/A"},
        "u2": {"note": "null"},
        "u3": {"country": "nan", "note": "None"},
    }

    again = cli(*push, "--na-values", "NA,None", env=env, cwd=tmp_path)

    assert again.returncode == 0, again.stderr
    assert stored(env) == {"u1": {"note": "N/A"}, "u2": {"note": "null"}, "u3": {"country": "nan"}}


def test_a_repeated_csv_header_exits_2_naming_it_and_sends_nothing(
    env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "users.csv").write_text("uid,v,w,v\na,1,2,3\n")

    done = cli("push", "users.csv", "--id-col", "uid", env=env, cwd=tmp_path)

    assert done.returncode == 2
    assert done.stderr == (
        "error: users.csv: the header names column 'v' more than once (fields 2 and 4); "
        "rename them\n"
    )
    assert control(env, "state")["requests"] == []
    assert not (tmp_path / "users.result.csv").exists()


def test_a_dry_run_never_replaces_a_result_and_a_real_run_keeps_the_earlier_one(
    env: dict[str, str], tmp_path: Path
) -> None:
    USERS.to_csv(tmp_path / "users.csv", index=False)
    push = ("push", "users.csv", "--id-col", "user_id", "--no-progress")
    assert cli(*push, env=env, cwd=tmp_path).returncode == 0
    first = (tmp_path / "users.result.csv").read_bytes()

    dry = cli(*push, "--dry-run", "--all", env=env, cwd=tmp_path)

    assert dry.returncode == 0, dry.stderr
    assert (tmp_path / "users.result.csv").read_bytes() == first
    assert (pd.read_csv(tmp_path / "users.dryrun.csv")["status"] == "dry_run").all()
    assert "result written to users.dryrun.csv" in dry.stdout

    for _ in range(2):
        again = cli(*push, "--all", env=env, cwd=tmp_path)
        assert again.returncode == 0, again.stderr

    kept = sorted(tmp_path.glob("users.result.*.csv"))
    assert len(kept) == 2
    assert all(re.fullmatch(r"users\.result\.\d{8}-\d{6}(-2)?\.csv", p.name) for p in kept)
    assert first in {p.read_bytes() for p in kept}
    assert f"earlier result kept as {kept[-1].name}" in again.stdout
    assert (pd.read_csv(tmp_path / "users.result.csv")["status"] == "sent").all()


def test_a_json_lines_file_with_a_byte_order_mark_is_read(
    env: dict[str, str], tmp_path: Path
) -> None:
    text = USERS.to_json(orient="records", lines=True)
    (tmp_path / "users.jsonl").write_text("\ufeff" + text, encoding="utf-8")

    done = cli("push", "users.jsonl", "--id-col", "user_id", "--no-progress", env=env, cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert stored(env)["u1"] == {"plan": "pro", "ltv": 10.5}


def test_parse_dates_on_a_column_without_dates_is_one_line_naming_the_row(
    env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "users.csv").write_text("uid,d\nu1,2024-01-01\nu2,hello\n")

    done = cli("push", "users.csv", "--id-col", "uid", "--parse-dates", "d", env=env, cwd=tmp_path)

    assert done.returncode == 2
    assert (
        done.stderr == "error: --parse-dates: column 'd', row 1: 'hello' is not an ISO 8601 date\n"
    )
    assert control(env, "state")["requests"] == []


def test_push_help_says_what_it_does_where_the_key_comes_from_and_the_exit_codes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from fyno_pandas.cli import command as command_line

    with pytest.raises(SystemExit) as done:
        command_line.main(["push", "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert "silently not store" in text
    assert "only from FYNO_API_KEY" in text
    assert "python -m fyno_pandas push users.csv --id-col user_id" in text
    assert "--db env:VAR reads the URL, and so its\npassword, from the environment" in text
    for code in ("0 ", "1 ", "2 ", "130"):
        assert f"\n  {code}" in text


def on_a_terminal(*args: str, env: dict[str, str], cwd: Path) -> str:
    """What the command prints to a terminal (a pseudo-terminal as its stdout)."""
    import pty

    leader, follower = pty.openpty()
    with subprocess.Popen(
        [sys.executable, "-m", "fyno_pandas", *args], env=env, cwd=cwd, stdout=follower
    ) as proc:
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the command closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        proc.wait(60)
    os.close(leader)
    return b"".join(chunks).decode()


def test_on_a_terminal_the_last_line_is_green_only_when_nothing_was_left_out(
    env: dict[str, str], tmp_path: Path
) -> None:
    USERS.to_csv(tmp_path / "users.csv", index=False)
    USERS.assign(ltv=["10.5", "n/a", "99"]).to_csv(tmp_path / "messy.csv", index=False)
    push = ("push", "--id-col", "user_id", "--no-progress", "--no-ledger")

    clean = on_a_terminal(*push, "users.csv", env=env, cwd=tmp_path).splitlines()[-1]
    messy = on_a_terminal(*push, "messy.csv", "--schema", "ltv=number", env=env, cwd=tmp_path)
    plain = cli(*push, "users.csv", env={**env, "NO_COLOR": "1"}, cwd=tmp_path)

    assert clean.startswith("\033[32m✓ Fyno push: 3 sent; in ")
    assert messy.splitlines()[-1].startswith("\033[31m⚠ Fyno push: 3 sent; 3 values left out")
    assert plain.stdout.splitlines()[-1].startswith("✓ Fyno push: 3 sent; in ")


def test_a_refused_key_is_one_line_naming_the_variable_and_the_rows_are_written(
    env: dict[str, str], tmp_path: Path
) -> None:
    pd.DataFrame({"user_id": ["u1", "u2", "u3", "u4"], "signup": "2024-01-05", "n": 1}).to_csv(
        tmp_path / "users.csv", index=False
    )
    wrong = {**env, "FYNO_API_KEY": "wrong-key-7d2e", "PYTHONUNBUFFERED": "1"}

    done = subprocess.run(  # one stream, in the order a terminal shows it
        [sys.executable, "-m", "fyno_pandas", "push", "users.csv", "--id-col", "user_id"],
        env=wrong, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=60,
    )  # fmt: skip

    assert done.returncode == 2
    lines = done.stdout.splitlines()
    about_the_key = [n for n, line in enumerate(lines) if "refused" in line or "401" in line]
    assert len(about_the_key) == 1, lines
    said = lines[about_the_key[0]]
    assert said.startswith("error: ")
    assert "FYNO_API_KEY" in said
    assert "api_key=" not in done.stdout
    assert about_the_key[0] < min(n for n, line in enumerate(lines) if "result written" in line)
    assert not [line for line in lines if BLAMES_A_PROPERTY.search(line)]
    assert "wrong-key-7d2e" not in done.stdout
    result = pd.read_csv(tmp_path / "users.result.csv")
    assert set(result["status"]) <= {"failed", "pending"}
    assert result["error"].str.contains("API key").all()
