"""`screening score` on CSV, Parquet and JSON Lines: streamed, every row kept, bad rows too."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import screening
from screening.files import score_file

from .conftest import ROOT

ITEMS = [f"PHQ_{n:02d}" for n in range(1, 10)]


def make_table(n: int = 250) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    values = rng.integers(0, 4, size=(n, 9)).astype(object)
    values[rng.random(values.shape) < 0.05] = None
    if n > 8:
        values[7, 2] = 7  # out of range
        values[8, 0] = "x"  # text
    df = pd.DataFrame(values, columns=ITEMS)
    df.insert(0, "client_id", [f"{i:05d}" for i in range(n)])
    return df


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "screening.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )


def test_a_file_larger_than_a_chunk_equals_scoring_it_in_one_piece(tmp_path: Path) -> None:
    df = make_table()
    source = tmp_path / "in.csv"
    df.to_csv(source, index=False)
    streamed_path, whole_path = tmp_path / "streamed.csv", tmp_path / "whole.csv"
    summary = score_file("phq9", source, streamed_path, prefix="PHQ_", chunk_rows=37)
    score_file("phq9", source, whole_path, prefix="PHQ_", chunk_rows=10_000)
    assert streamed_path.read_text() == whole_path.read_text()
    streamed = pd.read_csv(streamed_path, dtype={"client_id": str})
    assert len(streamed) == len(df) == summary.rows
    assert streamed["client_id"].tolist() == df["client_id"].tolist()  # leading zeros kept
    # the same rows scored in memory from the typed values
    typed = df.rename(columns={f"PHQ_{n:02d}": f"phq9_{n}" for n in range(1, 10)})
    expected = screening.score_frame("phq9", typed.drop(columns="client_id"))
    assert streamed["total"].fillna(-1).tolist() == expected["total"].fillna(-1).tolist()
    assert streamed["valid"].tolist() == expected["valid"].tolist()
    assert summary.valid == int(expected["valid"].sum())
    assert summary.flags["suicidal_ideation"] == int(expected["flag_suicidal_ideation"].sum())
    # reasons are grouped by issue code and item, never by a response value
    assert summary.reasons["invalid_value: phq9_3"] == 1
    assert summary.reasons["invalid_type: phq9_1"] == 1
    assert summary.reasons["scale_unscored: total"] == int((streamed["total"].isna()).sum()) - 2
    undetermined = int(expected["flag_suicidal_ideation"].isna().sum())
    assert undetermined > 0
    assert summary.undetermined["suicidal_ideation"] == undetermined
    assert "got" not in summary.format()


def test_parquet_in_and_out_keep_dtypes(tmp_path: Path) -> None:
    df = make_table().astype(dict.fromkeys(ITEMS, "float64"), errors="ignore")
    df = df.drop(index=8).reset_index(drop=True)  # Parquet columns are typed: no text cell
    df[ITEMS] = df[ITEMS].astype("float64")
    source = tmp_path / "in.parquet"
    df.to_parquet(source, index=False)
    out = tmp_path / "out.parquet"
    summary = score_file("phq9", source, out, prefix="PHQ_", chunk_rows=50)
    got = pd.read_parquet(out)
    assert len(got) == len(df) == summary.rows
    assert str(got["total"].dtype) == "Int16"
    assert got["total_band"].cat.ordered
    expected = screening.score_frame("phq9", df, prefix="PHQ_")
    assert got["total"].tolist() == expected["total"].tolist()


@pytest.mark.parametrize(
    ("text", "refused"),
    [
        # a quote opens a cell only at its start: after a space it is text, and the comma in
        # it splits the cell (pandas made the long first row's first cell an index)
        (b'id,note,phq2_1,phq2_2\n1, "a, b",3,0\n2,ok,1,0\n', "line 2: a row of 5 cell"),
        (b"id,note,phq2_1,phq2_2\n1,5'10\" tall,3,3\n2,ok,0,1\n", None),  # a stray quote
        # LF, CR LF and a bare CR all end a line (pandas' default reader)
        (b"id,note,phq2_1,phq2_2\n1,a,3,0\r2,b,1,1\n", None),
        (b'id,note,phq2_1,phq2_2\r1,2,3,0\r2,"x\ny",1\r', "line 4: a row of 3 cell"),
        (b'id,note,phq2_1,phq2_2\n1,"",3,0\n""\n', "line 3: a row of 1 cell"),  # not blank
        (b'id,note,phq2_1,phq2_2\n1,"",3,0\n  \t\n2,x,1,1\n\n', None),  # blank lines
    ],
)
def test_row_widths_are_counted_as_pandas_splits_cells(
    tmp_path: Path, text: bytes, refused: str | None
) -> None:
    source, out = tmp_path / "in.csv", tmp_path / "out.csv"
    source.write_bytes(text)
    if refused is None:
        assert score_file("phq2", source, out).rows == 2
    else:
        with pytest.raises(ValueError, match=refused):
            score_file("phq2", source, out)


def test_a_file_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    utf16, empty, out = tmp_path / "u16.csv", tmp_path / "empty.csv", tmp_path / "out.csv"
    utf16.write_bytes("phq2_1,phq2_2\n1,1\n".encode("utf-16"))
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match=r"u16\.csv: not UTF-8 text \(a byte 0xff;"):
        score_file("phq2", utf16, out)
    with pytest.raises(ValueError, match=r"empty\.csv: the file is empty \(no header\)"):
        score_file("phq2", empty, out)
    good = tmp_path / "good.csv"
    good.write_text("phq2_1,phq2_2\n1,1\n")
    with pytest.raises(FileNotFoundError, match=r"out\.csv: no folder .*nowhere$"):
        score_file("phq2", good, tmp_path / "nowhere" / "out.csv")  # not its hidden temporary
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.csv", "good.csv", "u16.csv"]


@pytest.mark.parametrize("keep_items", [False, True])
def test_a_missing_token_is_its_exact_text(tmp_path: Path, keep_items: bool) -> None:
    # pandas matches a number token by value: "9" also took "9.0" and "09" for missing (a
    # prorated, valid total), but only where the item columns were not kept as written
    source, out = tmp_path / "in.csv", tmp_path / "out.csv"
    header = ",".join(f"phq9_{n}" for n in range(1, 10))
    source.write_text(f"{header}\n1,1,1,1,1,1,1,1,9\n1,1,1,1,1,1,1,1,9.0\n1,1,1,1,1,1,1,1,09\n")
    score_file("phq9", source, out, na_values=["9"], keep_items=keep_items)
    got = pd.read_csv(out)
    assert got["valid"].tolist() == [True, False, False]
    assert got["total_missing"].tolist() == [1, 0, 0]
    assert got["reason"].str.contains("phq9_9").tolist() == [False, True, True]


def test_json_lines_to_parquet_whatever_the_chunks(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    lines: list[dict[str, Any]] = [{"id": n, "phq2_1": 1, "phq2_2": 1} for n in range(4)]
    lines[3].update(note="a key first given on a late line", age=31, consented=True)
    source, out = tmp_path / "in.jsonl", tmp_path / "out.parquet"
    source.write_text("".join(json.dumps(line) + "\n" for line in lines))
    for chunk_rows in (2, 100):  # a chunk without the key was a column of no type
        out.unlink(missing_ok=True)
        score_file("phq2", source, out, chunk_rows=chunk_rows)
        got = pd.read_parquet(out)
        assert got["note"].isna().tolist() == [True, True, True, False]
        assert got["age"].tolist()[3] == 31
        assert got["consented"].tolist()[3] is True
        assert got["total"].tolist() == [2] * 4
    # a column whose values change type between chunks: a clear error, and no file
    lines[3] = {"id": "x3", "phq2_1": 1, "phq2_2": 1}
    source.write_text("".join(json.dumps(line) + "\n" for line in lines))
    out.unlink()
    with pytest.raises(ValueError, match="column 'id' holds values of several types"):
        score_file("phq2", source, out, chunk_rows=2)  # in one chunk
    assert not out.exists()
    with pytest.raises(ValueError, match=r"column 'id' holds .* in a later chunk, where the first"):
        score_file("phq2", source, out, chunk_rows=3)  # in two
    assert not out.exists()
    with pytest.raises(TypeError, match="na_values must be a list of tokens"):
        score_file("phq2", source, out, na_values="NA")
    lines[3] = {"id": 10**30, "phq2_1": 1, "phq2_2": 1}  # a number no Parquet column holds
    source.write_text("".join(json.dumps(line) + "\n" for line in lines))
    with pytest.raises(ValueError, match="column 'id' holds an integer past 64 bits"):
        score_file("phq2", source, out)  # was an OverflowError traceback
    assert not out.exists()


@pytest.mark.parametrize("index", [["id"], ["id", "phq2_2"]])
def test_parquet_with_a_stored_pandas_index(tmp_path: Path, index: list[str]) -> None:
    # pandas stores a DataFrame's index as columns and makes them the index again on reading:
    # an item or kept column among them was missing (a KeyError, exit code 1)
    pytest.importorskip("pyarrow")
    df = pd.DataFrame({"id": ["a", "b", "c"], "phq2_1": [1, 2, 3], "phq2_2": [0, 1, 3]})
    source, out = tmp_path / "in.parquet", tmp_path / "out.parquet"
    df.set_index(index).to_parquet(source)
    summary = score_file("phq2", source, out, chunk_rows=2)
    got = pd.read_parquet(out)
    assert summary.rows == 3
    assert got["id"].tolist() == ["a", "b", "c"]
    assert got["total"].tolist() == [1, 3, 6]


def test_parquet_with_an_index_stored_as_a_range(tmp_path: Path) -> None:
    # consecutive client ids set as the index: pandas stores them as a range in the metadata,
    # not as a column, and a reader of the columns alone lost them without a word
    pytest.importorskip("pyarrow")
    df = pd.DataFrame({"client": [101, 102, 103], "phq2_1": [1, 2, 3], "phq2_2": [0, 1, 3]})
    source, out = tmp_path / "in.parquet", tmp_path / "out.csv"
    df.set_index("client").to_parquet(source)
    score_file("phq2", source, out, chunk_rows=2)
    got = pd.read_csv(out)
    assert got["client"].tolist() == [101, 102, 103]
    assert got["total"].tolist() == [1, 3, 6]


@pytest.mark.parametrize("chunk_rows", [1, 100])
def test_csv_output_quotes_a_cell_holding_a_bare_cr(tmp_path: Path, chunk_rows: int) -> None:
    # Python's CSV writer quotes a cell for the line terminator's characters only (LF): a
    # bare CR in a kept cell would split its row, and the scores land under another id
    source, out = tmp_path / "in.csv", tmp_path / "out.csv"
    source.write_bytes(b'id,phq2_1,phq2_2\nx,1,1\n"Smith\rJones",3,1\ny,0,0\n')
    score_file("phq2", source, out, chunk_rows=chunk_rows)
    with out.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert [row[:2] for row in rows] == [
        ["id", "total"],
        ["x", "2"],
        ["Smith\rJones", "4"],
        ["y", "0"],
    ]
    # only the cell holding the CR is quoted (a missing cell quoted as "" is text to Polars)
    assert b'\nx,2,negative,2,0,False,True,\n"Smith\rJones",4,positive,' in out.read_bytes()


@pytest.mark.parametrize("source_format", ["csv", "parquet"])
def test_parquet_unique_columns_written_plain(tmp_path: Path, source_format: str) -> None:
    # a column of unique values (an id, a float) gets no dictionary, which it would outgrow;
    # repeated values (a site, the scores) keep one; the file reads back the same either way
    pq = pytest.importorskip("pyarrow.parquet")
    n = 3_000
    rng = np.random.default_rng(4)
    df = pd.DataFrame({f"PHQ_{i:02d}": rng.integers(0, 4, n) for i in range(1, 10)})
    df.insert(0, "weight", rng.random(n))
    df.insert(0, "site", np.where(np.arange(n) % 3 == 0, "north", "south"))
    df.insert(0, "client_id", [f"c{i:06d}" for i in range(n)])
    source, out = tmp_path / f"in.{source_format}", tmp_path / "out.parquet"
    if source_format == "csv":
        df.to_csv(source, index=False)
        kept = pd.read_csv(source, dtype=str)[["client_id", "site", "weight"]]  # kept as text
    else:
        df.to_parquet(source, index=False)
        kept = df[["client_id", "site", "weight"]]
    score_file("phq9", source, out, prefix="PHQ_", chunk_rows=1_000)
    meta = pq.ParquetFile(out).metadata
    assert meta.num_row_groups == 3
    encoded = {  # Parquet never keeps a dictionary of booleans
        meta.schema.column(c).name: meta.row_group(g).column(c).has_dictionary_page
        for g in range(meta.num_row_groups)
        for c in range(meta.num_columns)
        if meta.schema.column(c).physical_type != "BOOLEAN"
    }
    assert [name for name, dictionary in encoded.items() if not dictionary] == [
        "client_id",
        "weight",
    ]
    got = pd.read_parquet(out)
    expected = screening.score_frame("phq9", df, prefix="PHQ_")
    for name in kept.columns:
        assert got[name].tolist() == kept[name].tolist()
    assert got["total"].tolist() == expected["total"].tolist()


def test_jsonl_to_stdout_as_jsonl(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(
        '{"id": 1, "gad7_1": 3, "gad7_2": 3, "gad7_3": 3, "gad7_4": 3, '
        '"gad7_5": 3, "gad7_6": 3, "gad7_7": 3}\n{"id": 2, "gad7_1": 0}\n'
    )
    buffer = io.StringIO()
    summary = score_file("gad7", source, output_format="jsonl", stdout=buffer)
    rows = [
        pd.read_json(io.StringIO(line), typ="series") for line in buffer.getvalue().splitlines()
    ]
    assert (summary.rows, summary.valid) == (2, 1)
    assert rows[0]["total"] == 21
    assert rows[1]["valid"] is False or rows[1]["valid"] == 0


def test_jsonl_output_keeps_a_floats_digits(tmp_path: Path) -> None:
    # a PHQ-9 of 7 answered items scoring 10, prorated: 10 x 9/7 = 12.857142857142858
    # unrounded, which pandas wrote with 10 decimals
    source = tmp_path / "in.csv"
    source.write_text(",".join(f"phq9_{n}" for n in range(1, 10)) + "\n1,1,1,1,1,2,3,,\n")
    buffer = io.StringIO()
    score_file("phq9", source, output_format="jsonl", stdout=buffer)
    row = json.loads(buffer.getvalue())
    assert row["total_unrounded"] == 10 * 9 / 7
    assert row["total"] == 13


def test_context_from_a_column_or_a_value(tmp_path: Path) -> None:
    source = tmp_path / "audit.csv"
    source.write_text("sex,audit_c_1,audit_c_2,audit_c_3\nfemale,1,1,1\nmale,1,1,1\n,1,1,1\n")
    out = tmp_path / "out.csv"
    score_file("audit_c", source, out, context={"sex": "sex"})
    got = pd.read_csv(out)
    assert got["screen"].tolist()[:2] == ["positive", "negative"]
    assert got["valid"].tolist() == [True, True, False]
    score_file("audit_c", source, out, context={"sex": "female"})
    assert pd.read_csv(out)["screen"].tolist() == ["positive"] * 3


def test_cli_scores_a_table_with_a_summary_and_exit_codes(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    make_table(30).to_csv(source, index=False)
    out = tmp_path / "out.csv"
    done = run(
        "score", "phq9", str(source), "--prefix", "PHQ_", "-o", str(out), "--chunk-rows", "7"
    )
    assert done.returncode == 0, done.stderr
    assert "30 rows scored" in done.stderr
    assert "flag raised: suicidal_ideation" in done.stderr
    assert len(pd.read_csv(out)) == 30
    failing = run(
        "score", "phq9", str(source), "--prefix", "PHQ_", "-o", str(out), "--fail-on-invalid"
    )
    assert failing.returncode == 1
    mapped = run(
        "score", "phq9", str(source), *[f"--map=phq9_{n}=PHQ_{n:02d}" for n in range(1, 10)]
    )
    assert mapped.returncode == 0
    assert mapped.stdout.splitlines()[0].startswith("client_id,total,total_band")


def test_cli_usage_and_io_errors(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    make_table(5).to_csv(source, index=False)
    assert run("score", "phq9", str(tmp_path / "absent.csv")).returncode == 2
    nothing = run("score", "phq9", str(source))  # no column matches phq9_<n>
    assert nothing.returncode == 2
    assert "pass --prefix" in nothing.stderr
    odd = tmp_path / "in.xyz"
    odd.write_text("a\n")
    assert "cannot tell the format" in run("score", "phq9", str(odd)).stderr
    assert (
        run("score", "phq9", str(source), "--prefix", "PHQ_", "--chunk-rows", "0").returncode == 2
    )


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_output_format_override(tmp_path: Path, fmt: str) -> None:
    source = tmp_path / "in.csv"
    make_table(3).to_csv(source, index=False)
    out = tmp_path / "out.txt"
    score_file("phq9", source, out, output_format=fmt, prefix="PHQ_")
    text = out.read_text()
    assert text.startswith("client_id," if fmt == "csv" else '{"client_id"')
