"""A CSV file read through pyarrow's parser (C++, threaded), in the chunks the pandas reader
gives, with the same cells: for `files.score_file`'s route from CSV to Parquet.

pandas' CSV parser is the slowest step of scoring a large CSV, and turning each kept column
(an id, a date) into Python strings and back costs as much again. Here every column is read as
text by Arrow; the kept columns stay Arrow strings to the output file, and only the item
columns become numbers, as pandas reads them (`Reader.chunks` in files.py): an empty cell, or a
token the caller names, is missing; a whole column of plain integers is int64, or float64 with
NaN where a cell is missing, chunk by chunk.

A file is read here only where both parsers certainly agree on it: quotes used only to quote
whole cells (doubled within them, none left open at the end of a truncated file, which pandas
refuses), the header pandas reads, and in item columns a plain whole number of at most 15
characters (`-?[0-9]+`) or a missing token in every cell. Anything else (a decimal, an exponent,
a space, text, a short row, bytes that are not UTF-8) raises `NotPlain`; the caller then reads
the whole file with pandas instead, so a file always gets the answers the pandas reader gives
it, and checks that the first chunk read here is the one pandas reads.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from .text import reads_as_number

__all__ = ["Chunk", "NotPlain", "chunks"]

_BLOCK = 1 << 20  # bytes Arrow parses at a time; chunks are cut to the caller's row count


class NotPlain(Exception):
    """The file holds something only the pandas reader reads as the pandas reader does."""


class Chunk(NamedTuple):
    kept: pa.Table
    """The columns other than the items, as read (text)."""
    items: pd.DataFrame
    """The item columns as numbers (int64, or float64 with NaN), on a RangeIndex from `start`."""


def chunks(
    path: Path,
    header: Sequence[str],
    items: set[Hashable],
    na_values: Sequence[str],
    chunk_rows: int,
) -> Iterator[Chunk]:
    """The file in chunks of `chunk_rows` rows (the last one shorter). Raises `NotPlain` at the
    first cell or line it cannot read as the pandas reader would."""
    if any(reads_as_number(token) for token in na_values):
        # pandas also treats a cell numerically equal to such a token as missing ("09" for
        # "9"): that reading is pandas' own
        raise NotPlain("a missing-value token that is a number")
    quoted = _quoting(path)
    if quoted and _split_crlf(path):
        # Arrow drops the LF of a CR LF split between two of its reads even within a quoted
        # cell (apache/arrow#51368): pandas keeps it
        raise NotPlain("a CR LF where Arrow's reads meet")
    names = [str(name) for name in header]
    item_names = [name for name in names if name in items]
    kept = [name for name in names if name not in items]
    tokens = {"", *na_values}
    try:
        reader = pa_csv.open_csv(
            path,
            read_options=pa_csv.ReadOptions(block_size=_BLOCK),
            parse_options=pa_csv.ParseOptions(newlines_in_values=quoted),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys([*names, ""], pa.string()),
                strings_can_be_null=False,
            ),
        )
        _same_header(reader.schema.names, names)
        start = 0
        for cut in _cut(reader, chunk_rows):
            table = cut.rename_columns(names)
            columns = {name: _numbers(table.column(name), tokens) for name in item_names}
            index = pd.RangeIndex(start, start + table.num_rows)
            yield Chunk(table.select(kept), pd.DataFrame(columns, index=index))
            start += table.num_rows
    except pa.ArrowInvalid as exc:  # a short row, bytes that are not UTF-8, ...
        raise NotPlain(str(exc)) from None


def _quoting(path: Path) -> bool:
    """Whether the file quotes cells, in the one way both parsers read alike; raises
    `NotPlain` for any other use of the quote character.

    That way: a cell is quoted from its first character to a quote followed by a comma, a
    line break or the end of the file, and a quote within it is doubled. Then the quotes before
    a byte, counted, say whether it lies within a quoted cell (an odd count: within), so each
    quote is checked by its neighbours alone: one an even number of quotes precede opens a cell
    (after a comma, a line break, the start, or the quote it doubles), one an odd number
    precede closes it (before a comma, a line break, the end, or the quote that doubles it),
    and the file ends outside (an even count). A quote within an unquoted cell, text after a
    closing quote, or a truncated file ending within a quote is left to pandas (which refuses
    the last)."""
    quotes = 0  # quotes before the block
    before = _BREAK  # the byte before the block: the start counts as a line break
    with path.open("rb") as handle:
        head = handle.read(len(_BOM))  # a byte-order mark is no cell's
        block = (b"" if head == _BOM else head) + handle.read(_SCAN)
        while block:
            following = handle.read(_SCAN)
            if b'"' in block:
                data = np.frombuffer(block, dtype=np.uint8)
                at = np.flatnonzero(data == _QUOTE)
                ahead = data[at - 1]  # the first byte's is the previous block's last
                if at[0] == 0:
                    ahead[0] = before
                after = data[np.minimum(at + 1, len(data) - 1)]
                if at[-1] == len(data) - 1:  # the next block's first byte; the end: a break
                    after[-1] = following[0] if following else _BREAK
                closing = np.zeros(len(at), dtype=bool)  # an odd number of quotes before it
                closing[1 - quotes % 2 :: 2] = True
                if not np.where(closing, _STARTS[after], _STARTS[ahead]).all():
                    raise NotPlain("a quote character used otherwise than to quote a cell")
                quotes += len(at)
            before = block[-1]
            block = following
    if quotes % 2:
        raise NotPlain("a quoted cell left open at the end of the file")
    return quotes > 0


_SCAN = 1 << 24  # bytes scanned for quotes at a time
_BOM = b"\xef\xbb\xbf"
_QUOTE = ord('"')
_BREAK = ord("\n")
_STARTS = np.zeros(256, dtype=bool)
_STARTS[[ord(","), ord("\n"), ord("\r"), _QUOTE]] = True
"""The bytes a quote may follow to open a cell, or precede to close one."""


def _split_crlf(path: Path) -> bool:
    """Whether a CR LF straddles the boundary between two of Arrow's reads (`_BLOCK` bytes)."""
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        for end in range(_BLOCK, size, _BLOCK):
            handle.seek(end - 1)
            if handle.read(2) == b"\r\n":
                return True
    return False


def _same_header(read: Sequence[str], header: Sequence[str]) -> None:
    """Raise `NotPlain` unless Arrow read the header pandas read (pandas names an empty name
    `Unnamed: N`); both skip a byte-order mark and blank lines before it."""
    if len(read) != len(header) or any(
        got != name and not (got == "" and name.startswith("Unnamed: "))
        for got, name in zip(read, header, strict=True)
    ):
        raise NotPlain("a header Arrow reads otherwise")


def _cut(reader: Any, chunk_rows: int) -> Iterator[pa.Table]:
    """The reader's batches as tables of exactly `chunk_rows` rows (the last one shorter)."""
    pending: list[pa.RecordBatch] = []
    held = 0
    for batch in reader:
        pending.append(batch)
        held += batch.num_rows
        while held >= chunk_rows:
            table = pa.Table.from_batches(pending, schema=reader.schema)
            yield table.slice(0, chunk_rows)
            rest = table.slice(chunk_rows)
            pending, held = rest.to_batches(), rest.num_rows
    if held:
        yield pa.Table.from_batches(pending, schema=reader.schema)


def _numbers(cells: pa.ChunkedArray, tokens: set[str]) -> Any:
    """An item column's text as pandas reads a column of whole numbers and missing cells."""
    text = cells.combine_chunks()
    base = text.offset
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int32)[base : base + len(text) + 1]
    held = text.buffers()[2]  # None, or empty, where every cell is ""
    data = np.frombuffer(held, dtype=np.uint8) if held is not None else _NO_BYTES
    lengths = np.diff(offsets)
    missing = lengths == 0  # "" is always missing; another token is checked below
    if tokens - {""}:
        missing |= pc.is_in(text, value_set=pa.array(sorted(tokens))).to_numpy(zero_copy_only=False)
    cells_bytes = data[offsets[0] : offsets[-1]]
    digits_only = _check_plain(cells_bytes, offsets - offsets[0], lengths, missing)
    if (
        not digits_only
        and (data == ord("-")).any()
        and pc.any(pc.match_substring_regex(text, "^-0+$")).as_py()
    ):
        # pandas reads "-0" in a column with a blank as the float -0.0, which a message
        # quotes as such; an int64 has no -0
        raise NotPlain("a negative zero")
    if missing.all():  # as pandas: a column of blanks only is float64 NaN
        return np.full(len(text), np.nan)
    answers = len(text) - int(missing.sum())
    if len(cells_bytes) == answers and (lengths <= 1).all():
        # one digit an answer and nothing in a missing cell (the usual codes): the bytes are
        # the answers, in order
        answered = cells_bytes - np.uint8(ord("0"))
        if answers == len(text):
            return answered.astype(np.int64)
        values = np.full(len(text), np.nan)
        values[~missing] = answered  # as pandas: whole numbers with a blank are float64
        return values
    if ((lengths == 1) | missing).all():  # one digit a cell: the usual codes, read in numpy
        digits = np.take(data, offsets[:-1], mode="clip").astype(np.int64) - ord("0")
        if not missing.any():
            return digits
        values = digits.astype(np.float64)
        values[missing] = np.nan  # as pandas: a column of whole numbers with a blank is float64
        return values
    numbers = pc.cast(pc.if_else(pa.array(missing), pa.scalar(None, pa.string()), text), pa.int64())
    if numbers.null_count:  # as pandas: a column of whole numbers with a blank is float64
        return pc.cast(numbers, pa.float64()).to_numpy(zero_copy_only=False)  # NaN: missing
    return numbers.to_numpy()


_NO_BYTES = np.zeros(0, dtype=np.uint8)


def _check_plain(data: Any, offsets: Any, lengths: Any, missing: Any) -> bool:
    """Raise `NotPlain` unless every cell but the missing ones is `-?[0-9]{1,14}` (at most 15
    characters: a float64 holds it exactly, so pandas' float column agrees). Whether every
    byte is a digit."""
    if not ((lengths <= _MAX_CHARS) | missing).all():
        raise NotPlain("an item cell of more than 15 characters")
    digit = (data - np.uint8(ord("0"))) <= 9  # seen unsigned, a byte below "0" is above "9"
    if digit.all():
        return True
    # a minus sign is plain only as the first of at least two characters of a cell that is
    # not missing (a token such as "NA" may hold anything)
    starts = np.zeros(len(data), dtype=bool)
    starts[offsets[:-1][lengths > 1]] = True
    in_token = np.repeat(missing, lengths)
    if not (digit | (starts & (data == ord("-"))) | in_token).all():
        raise NotPlain("an item cell that is not a plain whole number")
    return False


_MAX_CHARS = 15
