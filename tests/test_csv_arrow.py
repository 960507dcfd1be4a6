"""A CSV scored to Parquet through Arrow's reader gives the file the pandas route gives: the
same rows, values, types and schema, chunk by chunk; a cell or line only pandas reads as pandas
does sends the whole file down the pandas route."""

from __future__ import annotations

import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from screening import csv_arrow, files
from screening.files import score_file

PHQ = [f"phq9_{n}" for n in range(1, 10)]


def _routes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: bytes, **options: Any
) -> tuple[Any, Any, list[str]]:
    """The Parquet file of each route (Arrow, then pandas forced) and the routes taken."""
    source = tmp_path / "in.csv"
    source.write_bytes(text)
    taken: list[str] = []
    reader = csv_arrow.chunks

    def spying(*args: Any, **kwargs: Any) -> Iterator[csv_arrow.Chunk]:
        try:
            yield from reader(*args, **kwargs)
        except csv_arrow.NotPlain:
            taken.append("pandas")
            raise
        taken.append("arrow")

    def refusing(*args: Any, **kwargs: Any) -> Iterator[csv_arrow.Chunk]:
        raise csv_arrow.NotPlain("the pandas route, for comparison")
        yield  # a generator, as the real one

    options = {"prefix": "phq9_", "chunk_rows": 7, **options}
    monkeypatch.setattr(csv_arrow, "chunks", spying)
    arrow = score_file("phq9", source, tmp_path / "arrow.parquet", **options)
    monkeypatch.setattr(csv_arrow, "chunks", refusing)
    pandas = score_file("phq9", source, tmp_path / "pandas.parquet", **options)
    assert arrow == pandas._replace(seconds=arrow.seconds)  # the same counts
    return (
        pq.read_table(tmp_path / "arrow.parquet"),
        pq.read_table(tmp_path / "pandas.parquet"),
        taken,
    )


def _assert_same(arrow: Any, pandas: Any) -> None:
    assert arrow.schema.equals(pandas.schema, check_metadata=True)
    assert arrow.equals(pandas)
    pd.testing.assert_frame_equal(arrow.to_pandas(), pandas.to_pandas())


def _csv(rows: list[list[str]], header: list[str] | None = None) -> bytes:
    lines = [",".join(header or ["id", "note", *PHQ])]
    lines += [",".join(row) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def test_a_plain_file_takes_arrow_and_gives_the_pandas_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = []
    for n in range(40):
        cells = [str((n * 7 + i) % 4) for i in range(9)]
        if n % 5 == 0:
            cells[n % 9] = ""  # a blank: this chunk's column is float64 in pandas
        if n == 13:
            cells[2] = "7"  # no option: "got 7.0" or "got 7", as pandas' chunk reads it
        if n == 21:
            cells[0] = "-1"
        note = {3: "007", 5: '"a, quoted\nnote"', 6: '"say ""hi"""', 7: '""'}.get(n, "NA")
        if n == 9:
            cells[4] = '"2"'  # a quoted answer is read as its text
        rows.append([f"c{n:03d}", note, *cells])
    # a BOM, Windows lines, a blank line before the header
    text = b"\xef\xbb\xbf\n" + _csv(rows).replace(b"\n", b"\r\n")
    arrow, pandas, taken = _routes(tmp_path, monkeypatch, text)
    assert taken == ["arrow"]
    _assert_same(arrow, pandas)
    table = arrow.to_pandas()
    assert table["note"].iloc[3] == "007"  # a kept column's text, as written
    assert table["note"].iloc[4] == "NA"  # never missing
    assert list(table["note"].iloc[5:8]) == ["a, quoted\r\nnote", 'say "hi"', ""]
    assert "got 7" in table["reason"].iloc[13]
    assert table["total"].iloc[0] is not pd.NA
    assert table["total_missing"].iloc[0] == 1


def test_na_tokens_and_an_empty_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [[f"c{n}", "x", *(["NA"] if n % 2 else ["1"]), *["2"] * 8] for n in range(10)]
    arrow, pandas, taken = _routes(tmp_path, monkeypatch, _csv(rows), na_values=["NA"])
    assert taken == ["arrow"]
    _assert_same(arrow, pandas)
    assert arrow.column("total").null_count == 0  # one missing item is prorated
    arrow, pandas, taken = _routes(tmp_path, monkeypatch, _csv([]))
    assert arrow.num_rows == 0
    _assert_same(arrow, pandas)


@pytest.mark.parametrize(
    "cell",
    [
        " 1",
        "1 ",
        "+1",
        "1.0",
        "1e0",
        "0x1",
        "NA",
        "nan",
        "\u0661",
        "-",
        "--1",
        "-0",
        "1234567890123456",
        "x",
    ],
)
def test_a_cell_only_pandas_reads_sends_the_file_to_pandas(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cell: str
) -> None:
    rows = [[f"c{n}", "x", *["1"] * 9] for n in range(30)]
    rows[25][5] = cell  # in the fourth chunk: some chunks were read by Arrow first
    arrow, pandas, taken = _routes(tmp_path, monkeypatch, _csv(rows))
    assert taken == ["pandas"]
    _assert_same(arrow, pandas)
    assert arrow.num_rows == 30  # nothing kept of the abandoned attempt


@pytest.mark.parametrize(
    "text",
    [
        # a quote used otherwise than to quote a whole cell
        _csv([[f"c{n}", 'say "hi"', *["1"] * 9] for n in range(20)]),
        _csv([[f"c{n}", ' "spaced"' if n == 15 else "x", *["1"] * 9] for n in range(20)]),
        _csv([[f"c{n}", '"closed" early' if n == 15 else "x", *["1"] * 9] for n in range(20)]),
        _csv([[f"c{n}", "x", *["1"] * 8, '"1" ' if n == 15 else "1"] for n in range(20)]),
    ],
)
def test_a_line_arrow_reads_otherwise_goes_to_pandas(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: bytes
) -> None:
    arrow, pandas, taken = _routes(tmp_path, monkeypatch, text)
    assert taken == ["pandas"]
    _assert_same(arrow, pandas)


@pytest.mark.parametrize(
    ("text", "line", "cells"),
    [
        # a short row: pandas filled it with missing cells (unanswered items: prorated, valid)
        (_csv([["c1", "x", *["1"] * 9], ["c2", "x", "1"]]), 3, 3),
        # a first row of a cell more: pandas made its first cell an index, and every other
        # moved one column left (the id took the note, each answer the next item's value)
        (_csv([["c1", "x", *["1"] * 8, "1", "3"]]), 2, 12),
        (_csv([["c1", '"a, b\nc"', *["1"] * 9], ["c2", "x", "1", "1"]]), 4, 4),  # quoted
    ],
)
def test_a_row_of_another_width_is_refused_on_either_route(
    tmp_path: Path, text: bytes, line: int, cells: int
) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(text)
    for out in ("out.parquet", "out.csv"):
        message = rf"in\.csv, line {line}: a row of {cells} cell\(s\) where the header has 11"
        with pytest.raises(ValueError, match=message):
            score_file("phq9", source, tmp_path / out, prefix="phq9_")
    assert list(tmp_path.iterdir()) == [source]


@pytest.mark.parametrize("end", [b'"1', b'"1\n', b'"1""\n'])
def test_a_file_ending_inside_a_quote_is_refused_as_pandas_refuses_it(
    tmp_path: Path, end: bytes
) -> None:
    rows = [[f"c{n}", '"a, b"', *["1"] * 9] for n in range(20)]
    source = tmp_path / "in.csv"
    source.write_bytes(_csv(rows).rstrip(b"\n")[:-1] + end)  # a truncated export
    with pytest.raises(pd.errors.ParserError, match="EOF inside string"):
        score_file("phq9", source, tmp_path / "out.parquet", prefix="phq9_", chunk_rows=7)
    assert list(tmp_path.iterdir()) == [source]


def test_a_blank_line_before_a_header_of_numbers_is_no_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    header = ["id", "n", *"123456789"]
    rows = [[f"c{n}", "x", *[str(n % 4)] * 9] for n in range(20)]
    columns = {f"phq9_{n}": str(n) for n in range(1, 10)}
    arrow, pandas, taken = _routes(
        tmp_path, monkeypatch, b"\n\n" + _csv(rows, header), columns=columns, prefix=None
    )
    assert taken == ["arrow"]
    _assert_same(arrow, pandas)
    assert arrow.num_rows == 20
    assert arrow.column("id").to_pylist() == [f"c{n}" for n in range(20)]


def test_bytes_that_are_not_utf8_fail_as_on_the_pandas_route(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(_csv([["c\xff", "x", *["1"] * 9]]).replace(b"c\xc3\xbf", b"c\xff"))
    with pytest.raises(ValueError, match=r"in\.csv: not UTF-8 text \(a byte 0xff;"):
        score_file("phq9", source, tmp_path / "out.parquet")
    assert not (tmp_path / "out.parquet").exists()


def test_a_numeric_na_token_is_left_to_pandas(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [[f"c{n}", "x", "09" if n == 2 else "9", *["1"] * 8] for n in range(5)]
    arrow, pandas, taken = _routes(tmp_path, monkeypatch, _csv(rows), na_values=["9"])
    assert taken == ["pandas"]  # which reads a number token as its exact text
    _assert_same(arrow, pandas)


def test_a_context_column_and_two_instruments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gad = [f"gad7_{n}" for n in range(1, 8)]
    header = ["id", "sex", *PHQ, *gad]
    rows = [[f"c{n}", "male" if n % 2 else "female", *[str(n % 4)] * 16] for n in range(20)]
    source = tmp_path / "in.csv"
    source.write_bytes(_csv(rows, header))
    out = {}
    for route in ("arrow", "pandas"):
        if route == "pandas":

            def refusing(*args: Any, **kwargs: Any) -> Iterator[csv_arrow.Chunk]:
                raise csv_arrow.NotPlain("compare")
                yield

            monkeypatch.setattr(csv_arrow, "chunks", refusing)
        score_file(["phq9", "gad7"], source, tmp_path / f"{route}.parquet", chunk_rows=6)
        score_file(
            "epds",
            source,
            tmp_path / f"epds_{route}.parquet",
            columns={f"epds_{n}": f"phq9_{n}" for n in range(1, 10)} | {"epds_10": "gad7_1"},
            context={"sex": "sex"},
            chunk_rows=6,
        )
        out[route] = (
            pq.read_table(tmp_path / f"{route}.parquet"),
            pq.read_table(tmp_path / f"epds_{route}.parquet"),
        )
    _assert_same(out["arrow"][0], out["pandas"][0])
    _assert_same(out["arrow"][1], out["pandas"][1])
    sexes = out["arrow"][1].to_pandas()
    assert set(sexes["sex"]) == {"male", "female"}


_PLAIN = st.sampled_from(["0", "1", "2", "3", "", "4", "-1", "10", "007", "123456789012345"])
_ODD = st.one_of(st.just("NA"), st.text(string.digits + " .-+eNAx", max_size=3))


@st.composite
def _files(draw: st.DrawFn) -> tuple[list[list[str]], int, tuple[str, ...]]:
    """Rows of a note and the item cells (half the files plain, so that Arrow reads them; half
    with quoted cells), a chunk size and the missing-value tokens."""
    cells = _PLAIN if draw(st.booleans()) else st.one_of(_PLAIN, _ODD)
    if draw(st.booleans()):  # some cells quoted, as a whole
        cells = st.one_of(cells, cells.map(lambda c: f'"{c}"'))
    notes = st.sampled_from(["x", "", "NA", '"a, b"', '"two\nlines"', '"say ""hi"""', '""'])
    rows = draw(
        st.lists(
            st.tuples(notes, st.lists(cells, min_size=9, max_size=9)).map(
                lambda row: [row[0], *row[1]]
            ),
            max_size=25,
        )
    )
    # (a one-character token: a missing cell that holds a byte, which no answer may take)
    return rows, draw(st.integers(1, 9)), draw(st.sampled_from([(), ("NA",), ("x",)]))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(drawn=_files())
def test_generated_files_give_the_pandas_file(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    drawn: tuple[list[list[str]], int, tuple[str, ...]],
) -> None:
    rows, chunk_rows, na = drawn
    text = _csv([[f"c{n}", *cells] for n, cells in enumerate(rows)])
    with monkeypatch.context() as patch:
        arrow, pandas, _ = _routes(tmp_path, patch, text, chunk_rows=chunk_rows, na_values=list(na))
    _assert_same(arrow, pandas)  # about a third of the files take the Arrow route


def test_a_failed_write_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(_csv([[f"c{n}", "x", *["1"] * 9] for n in range(30)]))

    class Broken:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self.calls = 0

        def write_table(self, table: Any) -> None:
            self.calls += 1
            if self.calls == 2:
                raise OSError("disk full")

        def close(self) -> None:
            pass

    monkeypatch.setattr(pq, "ParquetWriter", Broken)
    with pytest.raises(OSError, match="disk full"):
        score_file("phq9", source, tmp_path / "out.parquet", prefix="phq9_", chunk_rows=5)
    assert list(tmp_path.iterdir()) == [source]


_QUOTING = [
    (b"a,b\n1,2\n", False),
    (b'"a","b"\n"1","2"\n', True),
    (b'\xef\xbb\xbf"a",b\r\n"x ""y""",2', True),  # a BOM, a doubled quote, no final break
    (b'a,b\n"two\nlines",""\n', True),
    (b'a,b\nx"y,1\n', None),  # a quote within an unquoted cell
    (b'a,b\n"x"y,1\n', None),  # text after a closing quote
    (b'a,b\n "x",1\n', None),  # a space before an opening quote
    (b'a,b\n"x,1\n', None),  # left open at the end
    (b'a,b\n"x""', None),
]


@pytest.mark.parametrize("scan", [1, 2, 3, 5, 1 << 24])
@pytest.mark.parametrize(("text", "quoted"), _QUOTING)
def test_quotes_are_checked_across_the_blocks_the_file_is_read_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scan: int, text: bytes, quoted: bool | None
) -> None:
    monkeypatch.setattr(csv_arrow, "_SCAN", scan)
    path = tmp_path / "in.csv"
    path.write_bytes(text)
    if quoted is None:
        with pytest.raises(csv_arrow.NotPlain):
            csv_arrow._quoting(path)
    else:
        assert csv_arrow._quoting(path) is quoted


def _mac(rows: list[list[str]]) -> bytes:
    """A CSV with bare CR line breaks and a blank line before each row whose id is empty."""
    lines = [",".join(["id", "note", *PHQ])]
    for row in rows:
        lines += [""] if not row[0] else []
        lines.append(",".join(row))
    return ("\r".join(lines) + "\r").encode()


def test_bare_cr_line_breaks_and_a_blank_line_do_not_shift_a_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pandas' default tokenizer drops the empty first cell of a row after a blank line ending
    in a bare CR: told the line terminator, it reads the row as written, on both routes."""
    rows = [["" if n % 5 == 2 else f"c{n}", f"n{n}", *[str(n % 4)] * 9] for n in range(20)]
    arrow, pandas, _ = _routes(tmp_path, monkeypatch, _mac(rows))
    _assert_same(arrow, pandas)
    table = arrow.to_pandas()
    assert list(table["id"]) == [row[0] for row in rows]
    assert list(table["note"]) == [row[1] for row in rows]
    assert list(table["total"]) == [9 * (n % 4) for n in range(20)]
    out = tmp_path / "out.csv"
    score_file("phq9", tmp_path / "in.csv", out, prefix="phq9_")
    written = pd.read_csv(out, dtype={"id": str}, keep_default_na=False)
    assert list(written["note"]) == [row[1] for row in rows]


@pytest.mark.parametrize("scan", [1, 2, 3, 1 << 24])
def test_mixed_line_breaks_that_would_shift_a_row_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scan: int
) -> None:
    monkeypatch.setattr(files, "_SCAN", scan)
    source = tmp_path / "in.csv"
    rows = [["c1", "x", *["1"] * 9], ["", "y", *["2"] * 9]]
    source.write_bytes(_mac(rows).replace(b"c1", b"c1\nc2,x," + b"1," * 8 + b"1"))
    with pytest.raises(ValueError, match="one kind of line break"):
        score_file("phq9", source, tmp_path / "out.csv", prefix="phq9_")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]
    source.write_bytes(_mac(rows))  # bare CRs only: read with that terminator
    assert files._line_breaks(source) == "\r"
    source.write_bytes(_mac(rows).replace(b"\r", b"\r\n"))  # CRLF: the default reads it
    assert files._line_breaks(source) is None


def test_a_quoted_crlf_where_arrows_reads_meet_goes_to_pandas(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Arrow drops the LF of a CR LF split between two of its reads, even within a quoted cell
    (apache/arrow#51368); such a file is left to pandas, which keeps it."""
    rows = [[f"c{n}", '"two\r\nlines"' if n == 12 else "x", *["1"] * 9] for n in range(20)]
    text = _csv(rows)
    monkeypatch.setattr(csv_arrow, "_BLOCK", text.index(b"\r\n") + 1)  # the CR ends a read
    arrow, pandas, taken = _routes(tmp_path, monkeypatch, text)
    assert taken == ["pandas"]
    _assert_same(arrow, pandas)
    assert arrow.column("note").to_pylist()[12] == "two\r\nlines"


def test_a_bare_cr_file_keeps_an_empty_first_header_name_and_whitespace_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [
        ",note," + ",".join(PHQ),
        "a,x," + ",".join(["1"] * 9),
        "   ",
        ",y," + ",".join(["2"] * 9),
    ]
    text = ("\r" + "\r".join(lines) + "\r").encode()  # a blank line before the header too
    arrow, pandas, _ = _routes(tmp_path, monkeypatch, text)
    _assert_same(arrow, pandas)
    table = arrow.to_pandas()
    assert list(table.columns[:2]) == ["Unnamed: 0", "note"]
    assert list(table["note"]) == ["x", "y"]  # the row after the line of spaces is not shifted
    assert list(table["Unnamed: 0"]) == ["a", ""]
