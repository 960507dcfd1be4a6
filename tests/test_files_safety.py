"""Files as users have them: nothing read by guessing, nothing lost, nothing half-written."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import screening.files
from screening.columns import ColumnError
from screening.files import score_file

from .conftest import ROOT

PHQ = ",".join(f"PHQ_{n}" for n in range(1, 10))


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "screening.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
        timeout=120,
    )


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_a_misnamed_item_column_is_an_error_not_a_missing_item(tmp_path: Path) -> None:
    # item 9 headed PHQ9_9: it was scored as missing in every row, valid, prorated, unflagged
    header = ",".join([*(f"PHQ_{n}" for n in range(1, 9)), "PHQ9_9"])
    source = write(tmp_path / "in.csv", f"{header}\n1,1,1,1,1,1,1,1,3\n")
    done = run("score", "phq9", str(source), "--prefix", "PHQ_", "--fail-on-invalid")
    assert done.returncode == 2
    assert "no column for scored item(s) phq9_9 of phq9" in done.stderr
    assert "--allow-missing-columns" in done.stderr
    assert "allow_missing_columns" not in done.stderr  # the CLI names its own options
    assert done.stdout == ""
    allowed = run("score", "phq9", str(source), "--prefix", "PHQ_", "--allow-missing-columns")
    assert allowed.returncode == 0
    row = pd.read_csv(io.StringIO(allowed.stdout)).iloc[0]
    assert row["total"] == 9  # 8 x 9 / 8, prorated
    assert pd.isna(row["flag_suicidal_ideation"])  # undetermined, never False
    assert "1  flag undetermined: suicidal_ideation" in allowed.stderr


def test_na_tokens_are_text_unless_named(tmp_path: Path) -> None:
    ids = ["NA", "None", "NULL", "n/a", "#N/A", ""]
    rows = [f"{i},1,1,1,1,1,1,1,1,{'NULL' if i == 'NULL' else 1}" for i in ids]
    source = write(tmp_path / "in.csv", "client," + PHQ + "\n" + "\n".join(rows) + "\n")
    out = tmp_path / "out.csv"
    summary = score_file("phq9", source, out, prefix="PHQ_")
    got = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert got["client"].tolist() == ids  # kept columns are verbatim
    # a NULL item 9 is not a valid, prorated, unflagged row: it is refused as text
    assert got["valid"].tolist() == ["True", "True", "False", "True", "True", "True"]
    assert summary.reasons == {"invalid_type: phq9_9": 1}
    named = score_file("phq9", source, out, prefix="PHQ_", na_values=["NULL"])
    assert named.valid == 6
    got = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert got.loc[2, "total_prorated"] == "True"
    assert got.loc[2, "flag_suicidal_ideation"] == ""  # undetermined (NA)


def test_duplicated_csv_headers_are_refused(tmp_path: Path) -> None:
    source = write(tmp_path / "in.csv", f"id,{PHQ},PHQ_9\n1,1,1,1,1,1,1,1,1,1,3\n")
    with pytest.raises(ColumnError, match=r"'PHQ_9' appears twice \(columns 10 and 11\)"):
        score_file("phq9", source, tmp_path / "out.csv", prefix="PHQ_")
    assert not (tmp_path / "out.csv").exists()
    other = write(tmp_path / "other.csv", f"id,{PHQ},id\n1,1,1,1,1,1,1,1,1,1,3\n")
    with pytest.raises(ColumnError, match="'id' appears twice"):
        score_file("phq9", other, tmp_path / "out.csv", prefix="PHQ_")


def test_a_csv_with_a_bom_and_an_unnamed_index_column(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(b"\xef\xbb\xbf," + PHQ.encode() + b"\n0,1,1,1,1,1,1,1,1,0\n")
    out = tmp_path / "out.csv"
    assert score_file("phq9", source, out, prefix="PHQ_").valid == 1
    assert pd.read_csv(out).columns[0] == "Unnamed: 0"


def test_a_duplicated_key_in_jsonl_or_json_is_refused(tmp_path: Path) -> None:
    line = {f"phq9_{n}": 1 for n in range(1, 10)}
    text = json.dumps(line)[:-1] + ', "phq9_9": 3}\n'
    source = write(tmp_path / "in.jsonl", json.dumps(line) + "\n" + text)
    with pytest.raises(ValueError, match=r"in\.jsonl:2: key 'phq9_9' appears twice"):
        score_file("phq9", source, tmp_path / "out.csv")
    single = write(tmp_path / "one.json", text)
    done = run("score", "phq9", str(single))
    assert done.returncode == 2
    assert "key 'phq9_9' appears twice in one object (1 and 3)" in done.stderr


def test_an_integer_past_int64_in_jsonl_makes_its_row_invalid(tmp_path: Path) -> None:
    rows = [{f"phq9_{n}": 1 for n in range(1, 10)} for _ in range(3)]
    rows[1]["phq9_3"] = 10**30
    source = write(tmp_path / "in.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out.jsonl"
    summary = score_file("phq9", source, out, chunk_rows=1)
    assert (summary.rows, summary.valid) == (3, 2)
    assert summary.reasons == {"invalid_value: phq9_3": 1}
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["valid"] for r in got] == [True, False, True]


def test_jsonl_columns_are_every_key_of_any_line(tmp_path: Path) -> None:
    first = {"id": 1, **{f"phq9_{n}": 0 for n in range(1, 9)}}  # item 9 left out (null)
    second = {"id": 2, **{f"phq9_{n}": 0 for n in range(1, 10)}, "phq9_9": 2}
    source = write(tmp_path / "in.jsonl", json.dumps(first) + "\n\n" + json.dumps(second) + "\n")
    out = tmp_path / "out.jsonl"
    summary = score_file("phq9", source, out)
    assert summary.flags["suicidal_ideation"] == 1
    assert summary.undetermined["suicidal_ideation"] == 1
    bad = write(tmp_path / "bad.jsonl", json.dumps(first) + "\n[1, 2]\n")
    with pytest.raises(ValueError, match=r"bad\.jsonl:2: each line must be a JSON object"):
        score_file("phq9", bad, out)


def test_input_columns_named_like_score_columns_are_refused(tmp_path: Path) -> None:
    header = f"total,valid,flag_suicidal_ideation,{PHQ}"
    source = write(tmp_path / "in.csv", f"{header}\nx,y,z,1,1,1,1,1,1,1,1,1\n")
    out = tmp_path / "out.csv"
    with pytest.raises(ColumnError, match="'total', 'valid', 'flag_suicidal_ideation'"):
        score_file("phq9", source, out, prefix="PHQ_")
    score_file("phq9", source, out, prefix="PHQ_", add_prefix=True)
    got = pd.read_csv(out)
    assert list(got.columns[:4]) == ["total", "valid", "flag_suicidal_ideation", "phq9_total"]
    assert got["phq9_total"].tolist() == [9]


@pytest.mark.parametrize("spelling", ["same", "dot", "absolute", "link"])
def test_output_equal_to_the_input_is_refused(tmp_path: Path, spelling: str) -> None:
    text = f"{PHQ}\n1,1,1,1,1,1,1,1,1\n"
    source = write(tmp_path / "x.csv", text)
    if spelling == "link":
        output = tmp_path / "link.csv"
        output.symlink_to(source)
    else:
        output = {
            "same": Path("x.csv"),
            "dot": Path("./x.csv"),
            "absolute": source.resolve(),
        }[spelling]
    done = run("score", "phq9", "x.csv", "--prefix", "PHQ_", "-o", str(output), cwd=tmp_path)
    assert done.returncode == 2
    assert "is the input file" in done.stderr
    assert source.read_text() == text  # untouched
    json_source = write(tmp_path / "r.json", json.dumps({"phq9_1": 1}))
    done = run("score", "phq9", "r.json", "-o", "./r.json", cwd=tmp_path)
    assert done.returncode == 2
    assert json.loads(json_source.read_text()) == {"phq9_1": 1}


def test_an_interrupted_run_leaves_no_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = "".join("1,1,1,1,1,1,1,1,1\n" for _ in range(50))
    source = write(tmp_path / "in.csv", f"{PHQ}\n{rows}")
    real = getattr(screening.files, "score_resolved")  # noqa: B009  # not re-exported
    calls = []

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(screening.files, "score_resolved", interrupted)
    for fmt in ("csv", "parquet", "jsonl"):
        calls.clear()
        out = tmp_path / f"out.{fmt}"
        with pytest.raises(KeyboardInterrupt):
            score_file("phq9", source, out, prefix="PHQ_", chunk_rows=10)
        assert sorted(os.listdir(tmp_path)) == ["in.csv"], fmt  # no partial file, no temp file


def test_a_terminated_command_leaves_no_output(tmp_path: Path) -> None:
    # SIGTERM (a job stopped by a scheduler) is cleaned up as Ctrl-C is: the hidden
    # temporary file was left beside the output
    rows = "".join("1,1,1,1,1,1,1,1,1\n" for _ in range(200_000))
    write(tmp_path / "in.csv", f"{PHQ}\n{rows}")
    argv = [sys.executable, "-m", "screening.cli", "score", "phq9", "in.csv", "--prefix"]
    argv += ["PHQ_", "-o", "out.csv", "--chunk-rows", "20", "--no-progress"]
    with subprocess.Popen(argv, cwd=tmp_path, stderr=subprocess.PIPE, text=True) as job:
        for _ in range(600):  # until it writes (at most a minute)
            if any(name.endswith(".part") for name in os.listdir(tmp_path)):
                break
            time.sleep(0.1)
        job.send_signal(signal.SIGTERM)
        _, stderr = job.communicate(timeout=60)
    assert job.returncode == 143, stderr
    assert "terminated; no output was left behind" in stderr
    assert sorted(os.listdir(tmp_path)) == ["in.csv"]


def test_a_previous_output_survives_a_failed_run(tmp_path: Path) -> None:
    source = write(tmp_path / "in.csv", f"{PHQ}\n1,1,1,1,1,1,1,1,1\n")
    out = write(tmp_path / "out.csv", "precious\n")
    bad = write(tmp_path / "bad.jsonl", '{"phq9_1": 1}\n{oops\n')
    with pytest.raises(ValueError, match="not valid JSON"):
        score_file("phq9", bad, out)
    assert out.read_text() == "precious\n"
    score_file("phq9", source, out, prefix="PHQ_")
    assert out.read_text().startswith("total,")
    assert oct(out.stat().st_mode & 0o777) != oct(0o600)  # an ordinary file, not a temp's mode


def test_a_fifo_or_folder_is_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "in.csv"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="not a regular file"):
        score_file("phq9", fifo, tmp_path / "out.csv", prefix="PHQ_")
    assert run("score", "phq9", str(tmp_path), "--input-format", "csv").returncode == 2


def test_the_cli_scores_several_instruments_each_with_its_spec(tmp_path: Path) -> None:
    gad = ",".join(f"GAD_{n}" for n in range(1, 8))
    source = write(tmp_path / "in.csv", f"id,{PHQ},{gad}\n7,{','.join(['3'] * 9)},0,0,0,0,0,0,0\n")
    one_prefix = run("score", "phq9,gad7", str(source), "--prefix", "PHQ_")
    assert one_prefix.returncode == 2
    assert "one spec for several instruments" in one_prefix.stderr
    done = run(
        "score", "phq9,gad7", str(source), "--prefix", "phq9=PHQ_", "--pattern", "gad7=GAD_{n}"
    )
    assert done.returncode == 0, done.stderr
    got = pd.read_csv(io.StringIO(done.stdout))
    assert got.loc[0, "phq9_total"] == 27
    assert got.loc[0, "gad7_total"] == 0
    assert got.loc[0, "id"] == 7
    mapped = run(
        "score",
        "phq9,gad7",
        str(source),
        "--prefix",
        "phq9=PHQ_",
        *[f"--map=gad7_{n}=GAD_{n}" for n in range(1, 8)],
    )
    assert mapped.returncode == 0, mapped.stderr
    assert "phq9 invalid" not in mapped.stderr


def test_the_summary_never_prints_a_response_value(tmp_path: Path) -> None:
    source = write(tmp_path / "in.csv", f"{PHQ}\n1,1,1,1,1,1,1,1,987654\n1,1,secret,1,1,1,1,1,1\n")
    done = run("score", "phq9", str(source), "--prefix", "PHQ_", "-o", str(tmp_path / "o.csv"))
    assert done.returncode == 0
    assert "987654" not in done.stderr
    assert "secret" not in done.stderr
    assert "1  invalid: invalid_value: phq9_9" in done.stderr
    assert "1  invalid: invalid_type: phq9_3" in done.stderr


def test_json_options_that_would_be_ignored_are_refused(tmp_path: Path) -> None:
    source = write(tmp_path / "r.json", json.dumps({"phq9_1": 1}))
    done = run("score", "phq9", str(source), "--prefix", "PHQ_")
    assert done.returncode == 2
    assert "--prefix applies to tables only" in done.stderr
    out = tmp_path / "result.json"
    assert run("score", "phq9", str(source), "-o", str(out)).returncode == 0
    assert json.loads(out.read_text())["instrument"] == "phq9"
