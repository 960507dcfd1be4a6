"""The command line for people: item columns kept on request, JSON from list and show, a header
in list, and help for every option."""

from __future__ import annotations

import argparse
import csv
import io
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pandas as pd
import pytest

import screening
from screening.cli import build_parser, main
from screening.files import score_file

from .conftest import DEFINITIONS, ROOT

HEADER = ["client", *(f"PHQ_{n}" for n in range(1, 10)), "note"]


class Done(NamedTuple):
    returncode: int
    stdout: str
    stderr: str


Run = Callable[..., Done]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    """The command line in this process (`main(argv)`), from the repository's root; one test
    (`test_help_runs`) goes through the real entry point."""
    monkeypatch.chdir(ROOT)

    def call(*args: str) -> Done:
        capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exc:  # --help, and usage errors
            code = int(exc.code or 0)
        out = capsys.readouterr()
        return Done(code, out.out, out.err)

    return call


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows([HEADER, *rows])
    return path


ROWS = [
    ["007", "02", "1", "1", "1", "1", "1", "1", "1", "1", "NA"],  # "02": a number, kept as written
    ["NA", "1", "1", "1", "1", "1", "1", "1", "1", "", ""],  # item 9 blank: prorated
    ["x", "1", "1", "1", "1", "1", "1", "1", "1", "NULL", "n/a"],  # NULL: missing when named
    ["y", "1", "1", "1", "1", "1", "1", "1", "1", "9", ""],  # 9: invalid, kept as given
]


# --- --keep-items ---------------------------------------------------------------------------


def test_keep_items_writes_the_item_columns_as_read(tmp_path: Path, run: Run) -> None:
    source = write_csv(tmp_path / "in.csv", ROWS)
    out = tmp_path / "out.csv"
    done = run(
        "score", "phq9", str(source), "--prefix", "PHQ_", "--na-values", "NULL",
        "--keep-items", "--chunk-rows", "2", "-o", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with out.open(encoding="utf-8", newline="") as handle:
        header, *rows = list(csv.reader(handle))
    assert header[: len(HEADER)] == HEADER  # every input column, in its place
    assert "total" in header
    assert [row[: len(HEADER)] for row in rows] == ROWS  # verbatim, item cells included
    scored = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert scored["total"].tolist() == ["10", "9", "9", ""]
    assert scored["total_prorated"].tolist() == ["False", "True", "True", "False"]
    assert scored["valid"].tolist() == ["True", "True", "True", "False"]


def test_without_keep_items_the_item_columns_are_left_out(tmp_path: Path, run: Run) -> None:
    source = write_csv(tmp_path / "in.csv", ROWS)
    done = run("score", "phq9", str(source), "--prefix", "PHQ_", "--na-values", "NULL")
    assert done.returncode == 0, done.stderr
    header = done.stdout.splitlines()[0].split(",")
    assert header[:2] == ["client", "note"]
    assert not any(name.startswith("PHQ_") for name in header)


def test_keep_items_scores_as_without_it(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", ROWS)
    kept, plain = tmp_path / "kept.csv", tmp_path / "plain.csv"
    for out, keep in ((kept, True), (plain, False)):
        score_file("phq9", source, out, prefix="PHQ_", na_values=["NULL"], keep_items=keep)
    with_items = pd.read_csv(kept, dtype=str, keep_default_na=False)
    without = pd.read_csv(plain, dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(with_items.drop(columns=HEADER[1:10]), without)


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_keep_items_in_parquet_and_json_lines(tmp_path: Path, fmt: str) -> None:
    frame = pd.DataFrame(
        {
            "client": ["a", "b", "c", "d", "e"],
            **{f"PHQ_{n}": [1, 2, 3, 0, None] for n in range(1, 10)},
        }
    )
    source = tmp_path / f"in.{fmt}"
    if fmt == "parquet":
        frame.to_parquet(source)
    else:
        frame.to_json(source, orient="records", lines=True)
    out = tmp_path / f"out.{fmt}"
    score_file("phq9", source, out, prefix="PHQ_", chunk_rows=2, keep_items=True)
    scored = (
        pd.read_parquet(out)
        if fmt == "parquet"
        else pd.read_json(out, orient="records", lines=True)
    )
    assert list(scored.columns[:10]) == list(frame.columns)
    assert scored["client"].tolist() == ["a", "b", "c", "d", "e"]
    assert scored["PHQ_1"].tolist()[:4] == [1, 2, 3, 0]  # rows line up across chunks
    assert pd.isna(scored["PHQ_1"].iloc[4])
    assert scored["total"].tolist()[:4] == [9, 18, 27, 0]


@pytest.mark.parametrize(
    "option",
    [
        ["--keep-items"],
        ["--output-format", "parquet"],  # JSON was written into any file named .parquet
        ["--add-prefix"],
        ["--allow-missing-columns"],
        ["--chunk-rows", "5"],
    ],
)
def test_table_options_are_refused_for_json_input(run: Run, option: list[str]) -> None:
    done = run("score", "phq9", "examples/phq9.json", *option)
    assert done.returncode == 2
    assert f"{option[0]} applies to tables only" in done.stderr


def test_keep_items_must_be_a_boolean(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", ROWS)
    with pytest.raises(TypeError, match="keep_items must be True or False"):
        score_file("phq9", source, tmp_path / "o.csv", prefix="PHQ_", keep_items="yes")  # type: ignore[arg-type]


def test_a_kept_item_column_named_like_a_score_column_is_refused(tmp_path: Path, run: Run) -> None:
    source = tmp_path / "in.csv"
    source.write_text("total,b\n1,2\n", encoding="utf-8")
    text = (DEFINITIONS / "good.yaml").read_text(encoding="utf-8")
    definition = tmp_path / "good.yaml"
    definition.write_text(text, encoding="utf-8")
    done = run(
        "score", str(definition), str(source), "--map", "good_1=total", "--map", "good_2=b",
        "--allow-missing-columns", "--keep-items",
    )  # fmt: skip
    assert done.returncode == 2
    assert "'total'" in done.stderr
    assert "--add-prefix" in done.stderr


# --- list and show --------------------------------------------------------------------------


def test_list_has_a_header_and_aligned_columns(run: Run) -> None:
    done = run("list")
    assert done.returncode == 0
    header, *rows = done.stdout.splitlines()
    assert header.split() == ["id", "licence", "source", "name"]
    start = header.index("name")
    for row in rows:
        assert row[start - 2 : start] == "  "
        assert row[start] != " "
    assert len(rows) == len(screening.list_instruments())


def test_list_as_json(run: Run) -> None:
    done = run("list", "--format", "json")
    assert done.returncode == 0
    listed = json.loads(done.stdout)
    assert [e["id"] for e in listed] == screening.list_instruments()
    phq9 = next(e for e in listed if e["id"] == "phq9")
    assert phq9["name"] == "Patient Health Questionnaire-9"
    assert phq9["license"] == "permissive"
    assert phq9["definition_version"] == "1.1.0"
    assert phq9["source"]["kind"] == "built-in"
    assert Path(phq9["source"]["path"]).name == "phq9.yaml"


def test_show_says_where_the_instrument_comes_from(run: Run) -> None:
    done = run("show", "gad7")
    assert done.returncode == 0
    assert done.stdout.splitlines()[1] == "from: built-in"
    by_path = run("show", str(DEFINITIONS / "good.yaml"))
    assert by_path.returncode == 0
    assert by_path.stdout.splitlines()[1] == f"from: file {DEFINITIONS / 'good.yaml'}"


def test_show_as_json(run: Run) -> None:
    done = run("show", "phq9", "--format", "json")
    assert done.returncode == 0
    shown = json.loads(done.stdout)
    inst = screening.load_instrument("phq9")
    assert shown["id"] == "phq9"
    assert shown["definition_version"] == inst.definition_version
    assert shown["definition_hash"] == screening.score("phq9", {}, on_error="invalid").provenance[2]
    assert shown["source"]["kind"] == "built-in"
    assert shown["scales"]["total"]["range"] == [0, 27]
    assert shown["scales"]["total"]["missing"] == {
        "max_missing": 2,
        "prorate": True,
        "rounding": "half_up",
    }
    assert [b["label"] for b in shown["scales"]["total"]["bands"]][-1] == "severe"
    assert shown["flags"][0]["id"] == "suicidal_ideation"
    assert shown["items"][0]["options"][3] == {
        "value": 3,
        "label": "Nearly every day",
        "score": 3,
        "non_answer": None,
    }
    file = run("show", str(DEFINITIONS / "good.yaml"), "--format", "json")
    assert json.loads(file.stdout)["source"] == {
        "kind": "file",
        "path": str(DEFINITIONS / "good.yaml"),
        "origin": "",
    }


# --- help -----------------------------------------------------------------------------------


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def test_every_option_and_command_has_help() -> None:
    parser = build_parser()
    subs = _subparsers(parser)
    assert {"score", "validate", "list", "show", "schema", "export"} <= set(subs)
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    helped = {choice.dest for choice in action._choices_actions if choice.help}
    assert helped == set(subs)
    for name, sub in subs.items():
        for option in sub._actions:
            assert option.help, f"screening {name} {option.option_strings or option.dest}"


def test_help_runs() -> None:
    def real(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "screening.cli", *args],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
            timeout=120,
        )

    done = real("score", "--help")
    assert done.returncode == 0
    assert "--keep-items" in done.stdout
    assert "SCREENING_PATH" in real("--help").stdout


def test_map_error_names_the_item(tmp_path: Path, run: Run) -> None:
    source = write_csv(tmp_path / "in.csv", ROWS)
    done = run("score", "phq9", str(source), "--map", "nosuch=PHQ_1")
    assert done.returncode == 2
    assert "'nosuch' is an item of no instrument scored" in done.stderr


def test_output_columns_read_back_as_the_library_writes_them(tmp_path: Path, run: Run) -> None:
    source = write_csv(tmp_path / "in.csv", ROWS[:1])
    done = run("score", "phq9", str(source), "--prefix", "PHQ_", "--keep-items")
    frame = pd.read_csv(io.StringIO(done.stdout), dtype=str, keep_default_na=False)
    assert frame.loc[0, "PHQ_1"] == "02"
    assert frame.loc[0, "client"] == "007"
