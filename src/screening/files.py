"""Score CSV, Parquet and JSON Lines files of any size, chunk by chunk.

Input is read and output written in chunks, so memory stays bounded whatever the file's size.
Every input row is written, in order, with the input's own columns (other than the items),
followed by the score columns of `frames.score_frame`. A bad row never stops the run.

Nothing is lost or overwritten quietly: the output goes to a temporary file beside it, renamed
into place only when every row is written (an interrupted or failed run leaves nothing at the
output path), and an output that is the input (by any spelling or link) is refused before
anything is opened for writing. Kept columns are read verbatim: a CSV's `NA` or `NULL` stays
text; in item columns only an empty cell is missing unless `na_values` names other tokens.
"""

from __future__ import annotations

import contextlib
import csv
import os
import stat
import sys
import time
from collections import Counter
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple, TextIO

import numpy as np
import pandas as pd

from ._extras import missing_extra
from .arrays import IssueTable
from .columns import API, ColumnError, Columns, Options, Prefix
from .frames import (
    Backend,
    FramePlan,
    InstrumentRef,
    _instruments,
    _prefixed,
    output_schema,
    resolve_columns,
    score_resolved,
)
from .jsonio import DuplicateKeyError, loads_unique
from .outputs import commit, same_file, temporary_beside
from .pandas_io import to_frame
from .text import reads_as_number

__all__ = [
    "FORMATS",
    "Summary",
    "csv_items",
    "file_format",
    "score_file",
]

FORMATS = ("csv", "parquet", "jsonl")
_EXTENSIONS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}


def file_format(path: str | os.PathLike[str], given: str | None = None) -> str:
    """The format of a file: as given, or by its extension."""
    if given is not None:
        if given not in FORMATS:
            raise ValueError(f"unknown format {given!r} (known: {', '.join(FORMATS)})")
        return given
    found = _EXTENSIONS.get(Path(path).suffix.lower())
    if found is None:
        raise ValueError(
            f"cannot tell the format of {path} from its extension; pass --input-format or "
            f"--output-format ({', '.join(FORMATS)})"
        )
    return found


class Summary(NamedTuple):
    """What a run did, without a single response value (response data is never logged)."""

    rows: int
    valid: int
    reasons: Counter[str]
    """Invalid rows by reason: an issue code and the item, scale or classification it is
    about (`invalid_value: phq9_3`); a row with several reasons counts under each."""
    flags: Counter[str]
    """Rows raising each flag."""
    undetermined: Counter[str]
    """Rows where each flag is undetermined (an answer it reads is missing or invalid)."""
    seconds: float

    @property
    def invalid(self) -> int:
        return self.rows - self.valid

    def format(self) -> str:
        rate = self.rows / self.seconds if self.seconds else 0.0
        lines = [
            f"{self.rows:,} rows scored in {self.seconds:.1f} s ({rate:,.0f} rows/s): "
            f"{self.valid:,} valid, {self.invalid:,} invalid"
        ]
        for reason, count in self.reasons.most_common(10):
            lines.append(f"  {count:>10,}  invalid: {reason}")
        if len(self.reasons) > 10:
            lines.append(f"  ... and {len(self.reasons) - 10} other reasons")
        for flag, count in sorted(self.flags.items()):
            lines.append(f"  {count:>10,}  flag raised: {flag}")
        for flag, count in sorted(self.undetermined.items()):
            if count:
                lines.append(f"  {count:>10,}  flag undetermined: {flag}")
        return "\n".join(lines)


def csv_items(chunk: pd.DataFrame, items: set[Hashable]) -> pd.DataFrame:
    """Item cells of a CSV, which are all text, read cell by cell: text that reads as a number
    is that number, a missing cell (empty, or a named NA token) is missing, and any other text
    stays text (and is then refused as not a number), whatever the other cells of its column
    hold."""
    for name in items & set(chunk.columns):
        cells = chunk[name]
        if pd.api.types.is_numeric_dtype(cells.dtype):
            continue  # the parser read every cell of this chunk as a number already
        numbers = pd.to_numeric(cells, errors="coerce")
        text = cells.notna() & numbers.isna()
        if text.any():
            mixed = numbers.astype(object)
            mixed[text] = cells[text]
            chunk[name] = mixed
        else:
            chunk[name] = numbers.astype("float64")
    return chunk


def _regular(path: Path, what: str) -> None:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise FileNotFoundError(f"{what} {path} does not exist") from None
    if not stat.S_ISREG(mode):
        raise ValueError(f"{what} {path} is not a regular file")


def _line_breaks(path: Path) -> str | None:
    """The line terminator pandas must be told of: a bare CR where every line break is one (an
    old Mac export), else None. pandas' default tokenizer, after a blank line ending in a bare
    CR, drops the empty first cell of the next row and shifts the row's cells left; a file that
    mixes bare CRs with LFs and has that pattern is refused rather than misread (even where the
    pattern lies within a quoted cell: a rare file, refused with its reason)."""
    has_lf = has_cr = misread = False
    # a blank first line counts as one after a line break (after a byte-order mark, if any)
    tail = b"\n"
    with path.open("rb") as handle:
        head = handle.read(3)
        block = (head[3:] if head == b"\xef\xbb\xbf" else head) + handle.read(_SCAN)
        while block:
            has_lf = has_lf or b"\n" in block
            cr_here = b"\r" in block  # a fast byte search: most files have no CR at all
            has_cr = has_cr or cr_here
            if not misread and (cr_here or b"\r" in tail):
                joined = tail + block  # a pattern may span two blocks
                if b"\r," in joined:
                    data = np.frombuffer(joined, dtype=np.uint8)
                    at = np.flatnonzero((data[1:-1] == _CR) & (data[2:] == _COMMA)) + 1
                    misread = bool(np.isin(data[at - 1], (_CR, _LF)).any())
            tail = (tail + block[-2:])[-2:]
            block = handle.read(_SCAN)
    if not has_lf and has_cr:
        return "\r"  # told so, pandas reads a bare-CR file as written (blank lines and all)
    if not misread:
        return None
    raise ValueError(
        f"{path}: its line breaks mix bare CRs with LFs, and a blank line ending in a bare CR "
        "comes before a row whose first cell is empty, which the CSV reader would misread "
        "(shifting that row's cells); save the file with one kind of line break"
    )


_SCAN = 1 << 24  # bytes read at a time when scanning a file's bytes
_CR, _LF, _COMMA = ord("\r"), ord("\n"), ord(",")


def _refuse_uneven_rows(path: Path, lineterminator: str | None, width: int) -> None:
    """Refuse a CSV with a row of more or fewer cells than its header. pandas pads a short
    row with missing cells, which would read as unanswered items (a truncated row scored as
    prorated and valid); a first row of one cell more makes its first cell an index, and every
    cell moves one column left (the id takes the next column's value, each answer the next
    item's). A line of whitespace is skipped, as pandas skips it; the first other line is the
    header. A file without quotes whose line ends are all of one kind is counted in numpy, by
    its commas; any other is read by Python's CSV reader, which splits lines and quoted cells
    as pandas' does (a quote opens a cell only at its start; LF, CR LF and a bare CR end a
    line)."""
    if not _counted_by_commas(path, lineterminator, width):
        _counted_by_reader(path, width)


def _counted_by_commas(path: Path, lineterminator: str | None, width: int) -> bool:
    """`_refuse_uneven_rows` for a file without quotes whose line ends are LF (a CR only
    before one) or, told so, bare CRs; False (nothing decided) for any other file."""
    end = lineterminator or "\n"
    breaks = 0  # line ends before the block
    partial, filled = 0, False  # the commas of the line the block starts in, and if it has text
    header = True
    with path.open("rb") as handle:
        head = handle.read(3)
        block = (head[3:] if head == b"\xef\xbb\xbf" else head) + handle.read(_ROWS_SCAN)
        while block:
            following = handle.read(_ROWS_SCAN)
            if b'"' in block or (end == "\n" and not _crs_before_lfs(block, following)):
                return False
            data = np.frombuffer(block, dtype=np.uint8)
            ends = np.flatnonzero(data == ord(end))
            commas = _line_commas(data, ends)
            commas[0] += partial
            starts = np.concatenate(([0], ends[:-1] + 1))
            first = 0  # the block's first line that may be a row
            if header:  # the first line with text is the header; blank lines before it
                first = next(
                    (k + 1 for k in range(len(ends)) if _has_text(block, starts, ends, k, filled)),
                    0,
                )
                header = first == 0
            if not header:
                for k in (np.flatnonzero(commas[first:-1] + 1 != width) + first).tolist():
                    if _has_text(block, starts, ends, k, filled):  # else a blank line
                        _uneven_row(path, breaks + k + 1, int(commas[k]) + 1, width)
            tail = block[ends[-1] + 1 :] if len(ends) else block
            filled = bool(tail.strip()) or (filled and not len(ends))
            partial = int(commas[-1])
            breaks += len(ends)
            block = following
    if filled and not header and partial + 1 != width:
        _uneven_row(path, breaks + 1, partial + 1, width)  # a last line, unended
    return True


def _crs_before_lfs(block: bytes, following: bytes) -> bool:
    """Whether every CR of the block comes before an LF (a CR LF line end)."""
    crs = block.count(b"\r")
    if not crs:
        return True
    pairs = block.count(b"\r\n") + (block.endswith(b"\r") and following.startswith(b"\n"))
    return crs == pairs


def _has_text(block: bytes, starts: Any, ends: Any, k: int, carried: bool) -> bool:
    """Whether the block's k-th line holds more than whitespace (`carried`: its part in the
    blocks before does, for the first)."""
    return bool(block[starts[k] : ends[k]].strip()) or (k == 0 and carried)


def _line_commas(data: Any, ends: Any) -> Any:
    """The commas in each line the block ends, then in the line it leaves open (the last)."""
    starts = np.concatenate(([0], ends + 1))
    inside = starts < len(data)  # a block ending with a line end leaves an empty line open
    counts = np.zeros(len(starts), dtype=np.int64)
    comma = (data == _COMMA).view(np.uint8)
    # reduceat sums from each start to the next: a line's own commas (its end is none)
    counts[inside] = np.add.reduceat(comma, starts[inside], dtype=np.int64)
    return counts


def _counted_by_reader(path: Path, width: int) -> None:
    """`_refuse_uneven_rows` by Python's CSV reader (quotes, or mixed line ends)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = True
        try:
            for cells in reader:
                if not cells or (len(cells) == 1 and cells[0] and not cells[0].strip()):
                    continue  # a blank line, or one of whitespace (a quoted "" is a cell)
                if header:
                    header = False
                elif len(cells) != width:
                    _uneven_row(path, reader.line_num, len(cells), width)
        except csv.Error:  # a line it cannot read (a NUL byte, a huge cell): left to pandas
            return


def _uneven_row(path: Path, line: int, cells: int, width: int) -> None:
    why = (
        "its missing cells would read as unanswered items"
        if cells < width
        else "the reader would move its cells to other columns"
    )
    raise ValueError(
        f"{path}, line {line}: a row of {cells} cell(s) where the header has {width} ({why}); "
        "mend the row (an empty cell is still written, as a comma)"
    )


_ROWS_SCAN = 1 << 20  # 1 MiB blocks: their arrays stay in the caches (5x faster than 16 MiB)
_QUOTE = ord('"')


def _csv_header(path: Path, lineterminator: str | None = None) -> list[str]:
    """The header as the parser names it (an empty name becomes `Unnamed: N`), after refusing
    a name written twice, which the parser would silently rename (`X.1`)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        raw = next(csv.reader(handle), [])
    _unique_header(path, [name for name in raw if name])
    header = pd.read_csv(path, nrows=0, encoding="utf-8-sig", lineterminator=lineterminator)
    return list(header.columns)


def _unique_header(path: Path, names: Sequence[str]) -> None:
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        if name in seen:
            raise ColumnError(
                f"{path}: column {name!r} appears twice (columns {seen[name]} and "
                f"{position}); which one holds the data is ambiguous"
            )
        seen[name] = position


class _Jsonl:
    """JSON Lines read with the standard parser: a duplicated key is refused (never last-wins),
    an integer of any size stays a number (and is then refused as no option, in its row only),
    and the columns are every key any line has, in order of appearance."""

    def __init__(self, path: Path) -> None:
        self.path = path
        keys: dict[str, None] = {}
        kinds: dict[str, set[type]] = {}
        for _, record in self._records():
            keys.update(dict.fromkeys(record))
            for key, value in record.items():
                if value is not None:
                    kinds.setdefault(key, set()).add(type(value))
        self.columns = list(keys)
        self.typed = {
            key: _KIND[frozenset(found)]
            for key, found in kinds.items()
            if frozenset(found) in _KIND
        }
        """Keys whose values are of one kind (text, numbers, booleans): a chunk of lines
        without one types it as the others do (an optional note first given in a later line),
        so that a Parquet column has one type."""

    def _records(self) -> Iterator[tuple[int, dict[str, Any]]]:
        with self.path.open(encoding="utf-8-sig") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                where = f"{self.path}:{number}"
                try:
                    record = loads_unique(line)
                except DuplicateKeyError as exc:
                    raise ValueError(f"{where}: {exc}") from None
                except ValueError as exc:
                    raise ValueError(f"{where}: not valid JSON ({exc})") from None
                if not isinstance(record, dict):
                    raise ValueError(
                        f"{where}: each line must be a JSON object (got {type(record).__name__})"
                    )
                yield number, record

    def chunks(self, chunk_rows: int) -> Iterator[pd.DataFrame]:
        batch: list[dict[str, Any]] = []
        for _, record in self._records():
            batch.append(record)
            if len(batch) == chunk_rows:
                yield self._frame(batch)
                batch = []
        if batch:
            yield self._frame(batch)

    def _frame(self, batch: list[dict[str, Any]]) -> pd.DataFrame:
        data = {
            name: pd.Series([r.get(name) for r in batch], dtype=object) for name in self.columns
        }
        frame = pd.DataFrame(data, columns=self.columns).infer_objects()
        for name, dtype in self.typed.items():
            if frame[name].isna().all():
                frame[name] = frame[name].astype(dtype)
        return frame


_KIND: dict[frozenset[type], Any] = {
    frozenset({str}): "str",
    frozenset({int}): "float64",  # missing in this chunk: NaN, read as a number elsewhere
    frozenset({float}): "float64",
    frozenset({int, float}): "float64",
    frozenset({bool}): "boolean",
}
"""The pandas type of a JSON Lines key's chunk of missing values, by the kinds of its values."""


class _Reader:
    """A table's header and its chunks, whatever the format."""

    def __init__(self, path: Path, fmt: str, na_values: Sequence[str]) -> None:
        _regular(path, "input")
        self.path, self.fmt, self.na_values = path, fmt, list(na_values)
        self.jsonl: _Jsonl | None = None
        self.lineterminator: str | None = None
        self.ranges: list[tuple[str, int, int]] = []
        if fmt == "csv":
            self.lineterminator = _line_breaks(path)
            self.header: list[str] = _csv_header(path, self.lineterminator)
        elif fmt == "parquet":
            schema = _parquet().ParquetFile(path).schema_arrow
            self.ranges = _named_ranges(schema)
            self.header = [name for name, _, _ in self.ranges] + list(schema.names)
        else:
            self.jsonl = _Jsonl(path)
            self.header = self.jsonl.columns
        _unique_header(path, self.header)

    def chunks(
        self, chunk_rows: int, items: set[Hashable], *, verbatim: bool = False
    ) -> Iterator[tuple[pd.DataFrame, pd.DataFrame | None]]:
        """Chunks with item cells read for scoring, each with its item columns as read (a
        CSV's text) when `verbatim`, for output that keeps them."""
        names = [c for c in self.header if c in items]
        # a token that is a number ("9") pandas also matches by value ("9.0", "09"): read the
        # cells as text, and a token as the exact text it is, as with verbatim item columns
        exact = any(reads_as_number(token) for token in self.na_values)
        if self.fmt == "csv" and (verbatim or exact):
            # every column as text, nothing read as missing; item cells then as below
            tokens = ["", *self.na_values]
            reader = pd.read_csv(
                self.path,
                chunksize=chunk_rows,
                dtype=str,
                keep_default_na=False,
                na_filter=False,
                encoding="utf-8-sig",
                lineterminator=self.lineterminator,
            )
            with reader:
                for chunk in reader:
                    as_read = chunk[names].copy() if verbatim else None
                    for column in names:
                        chunk[column] = chunk[column].mask(chunk[column].isin(tokens))
                    yield csv_items(chunk, items), as_read
            return
        if self.fmt == "csv":
            # kept columns are text read verbatim; an item cell is missing only when empty
            # (or a token the caller names), so `NA`, `None` or `NULL` is never a silent blank
            kept = [c for c in self.header if c not in items]
            missing = {c: ["", *self.na_values] for c in self.header if c in items}
            reader = pd.read_csv(
                self.path,
                chunksize=chunk_rows,
                dtype=dict.fromkeys(kept, str),
                keep_default_na=False,
                na_values=missing,
                encoding="utf-8-sig",
                lineterminator=self.lineterminator,
            )
            with reader:
                for chunk in reader:
                    yield csv_items(chunk, items), None
        elif self.fmt == "parquet":
            start = 0
            for batch in _parquet().ParquetFile(self.path).iter_batches(batch_size=chunk_rows):
                frame = _columns_as_stored(batch, self.header, self.ranges, start)
                start += len(frame)
                yield frame, frame[names].copy() if verbatim else None
        else:
            assert self.jsonl is not None
            for chunk in self.jsonl.chunks(chunk_rows):
                given = chunk[names].copy() if verbatim else None
                if self.na_values:
                    for name in items & set(chunk.columns):
                        chunk[name] = chunk[name].mask(chunk[name].isin(self.na_values))
                yield chunk, given


def _parquet() -> Any:
    try:
        import pyarrow.parquet as pq
    except ModuleNotFoundError as exc:
        raise missing_extra(exc, "parquet", "Reading or writing Parquet") from exc
    return pq


def _quoting_crs(frame: pd.DataFrame, header: bool) -> str:
    """A chunk holding a cell with a bare CR, as CSV with LF line ends. Python's writer quotes
    a cell for the line terminator's own characters only, so with LF the CR would end the row
    for any reader. Written with CR LF line ends, every cell holding a CR or an LF is quoted;
    the line ends outside quoted cells (an even number of quotes before them) then become LF."""
    text = frame.to_csv(None, header=header, index=False, lineterminator="\r\n")
    rows, pending, quotes = [], [], 0
    for piece in text.split("\r\n"):
        pending.append(piece)
        quotes += piece.count('"')
        if quotes % 2 == 0:  # outside a quoted cell: a row's end
            rows.append("\r\n".join(pending))
            pending, quotes = [], 0
    return "\n".join(rows)


def _as_schema(table: Any, schema: Any) -> Any:
    """A later chunk cast to the file's schema (the first chunk's); a column whose values are
    of another type now (text after numbers, or after a chunk with none) is a ValueError
    naming it: a Parquet column has one type."""
    import pyarrow as pa

    try:
        return table.cast(schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        for field, column in zip(schema, table.columns, strict=True):
            if column.type == field.type:
                continue
            try:
                column.cast(field.type)
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
                raise ValueError(
                    f"column {field.name!r} holds {column.type} values in a later chunk, where "
                    f"the first chunk's were {field.type}: {_ONE_TYPE}"
                ) from None
        raise ValueError(f"a later chunk does not fit the file's columns: {exc}") from None


_ONE_TYPE = (
    "a Parquet column has one type (write CSV or JSON Lines, or give the column values of one type)"
)


def _repeating(table: Any) -> list[str]:
    """The columns worth a Parquet dictionary: those whose first rows repeat values.

    A column of (nearly) unique values, such as a client id, is written plain: building a
    dictionary that outgrows its page and is dropped for every row group cost ~4 times the
    plain write of such a column here, and made the file larger. How a column is encoded never
    changes what is read back."""
    import pyarrow as pa
    import pyarrow.compute as pc

    sample = table.slice(0, _SAMPLE)
    out = []
    for name, column in zip(table.column_names, sample.columns, strict=True):
        try:
            unique = pc.count_distinct(column, mode="all").as_py() > len(column) // 2
        except pa.ArrowNotImplementedError:  # a type it cannot count (a list, say): as before
            unique = False
        if pa.types.is_dictionary(column.type) or not unique:
            out.append(name)
    return out


_SAMPLE = 10_000
"""The first rows whose distinct values choose a column's Parquet encoding."""


class _Writer:
    """Writes chunks to a temporary file beside the output; `commit` renames it into place."""

    def __init__(self, path: Path | None, fmt: str, out: TextIO) -> None:
        self.path, self.fmt, self.out = path, fmt, out
        self.first = True
        self.parquet: Any = None
        self.schema: Any = None
        self.handle: TextIO | None = None
        self.temp: Path | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._pending: Future[None] | None = None
        if path is not None:
            fd, self.temp = temporary_beside(path)
            if fmt == "parquet":
                os.close(fd)
            else:
                self.handle = open(fd, "w", encoding="utf-8", newline="")  # noqa: SIM115
        elif fmt == "parquet":
            raise ValueError("Parquet output needs a file: pass -o OUTPUT.parquet")

    def write(self, frame: pd.DataFrame) -> None:
        if self.fmt == "parquet":
            self._parquet(frame)
            return
        target = self.handle or self.out
        if self.fmt == "csv":
            text = frame.to_csv(None, header=self.first, index=False, lineterminator="\n")
            if "\r" in text:
                text = _quoting_crs(frame, self.first)
            target.write(text)
        else:
            # 15 decimals (pandas' most; its default is 10, which cut an unrounded score)
            text = frame.to_json(
                orient="records", lines=True, force_ascii=False, double_precision=15
            )
            target.write(text if text.endswith("\n") or not text else text + "\n")
        self.first = False

    def _parquet(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa

        failed = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError)
        try:
            table = pa.Table.from_pandas(frame, preserve_index=False)
        except (*failed, OverflowError):
            for name in frame.columns:  # the column Arrow cannot type
                try:
                    pa.Array.from_pandas(frame[name])
                except OverflowError:
                    raise ValueError(
                        f"column {name!r} holds an integer past 64 bits, which no Parquet "
                        "column holds (write CSV or JSON Lines)"
                    ) from None
                except failed:
                    raise ValueError(
                        f"column {name!r} holds values of several types (text and numbers, "
                        f"say): {_ONE_TYPE}"
                    ) from None
            raise
        self.write_table(table)

    def write_table(self, table: Any) -> None:
        """A pyarrow Table to Parquet: the first sets the file's schema, each later one is cast
        to it."""
        pq = _parquet()
        self.first = False
        if self.parquet is None:
            self.schema = table.schema
            # zstd, as Polars writes: half snappy's size on score columns, no slower to write
            self.parquet = pq.ParquetWriter(
                self.temp, self.schema, compression="zstd", use_dictionary=_repeating(table)
            )
        else:
            table = _as_schema(table, self.schema)
        # written by one thread while the next chunk is read and scored (pyarrow releases the
        # GIL): one table waits at most, so memory stays bounded; a failed write is raised
        # here or at the close, before the file is committed
        self._written()
        if self._thread is None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="screening-parquet")
        self._pending = self._thread.submit(self.parquet.write_table, table)

    def _written(self) -> None:
        """Wait for the table being written; raise its error."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def _close(self) -> None:
        try:
            self._written()  # a failed write raises here: the run fails, nothing is committed
        finally:
            if self._thread is not None:
                self._thread.shutdown()  # waits: the file is closed only after its last write
                self._thread = None
            if self.parquet is not None:
                self.parquet.close()
                self.parquet = None
            if self.handle is not None:
                self.handle.close()
                self.handle = None

    def commit(self, empty: pd.DataFrame) -> None:
        """Every row is written: the output takes its place (an empty input still gets the
        header)."""
        if self.first and self.fmt != "jsonl":
            self.write(empty)
        self._close()
        if self.temp is not None and self.path is not None:
            commit(self.temp, self.path)
            self.temp = None

    def abort(self) -> None:
        """A failed or interrupted run: nothing is left at (or beside) the output path."""
        with contextlib.suppress(Exception):
            self._close()
        if self.temp is not None:
            self.temp.unlink(missing_ok=True)
            self.temp = None


def read_table(
    source: str | os.PathLike[str],
    input_format: str | None,
    items_of: Callable[[list[str]], set[Hashable]],
) -> pd.DataFrame:
    """A whole table read as `score_file` reads its chunks, for a job that needs every row at
    once (a client's report): a header naming a column twice, or a JSON Lines key given twice,
    is refused; the columns but the items stay as written (a CSV's cells as text); an item cell
    is read on its own (text that reads as a number is that number, other text stays text and
    is refused by the scorer in its row only). `items_of(header)` names the item columns."""
    path = Path(source)
    with _naming(path):
        reader = _Reader(path, file_format(path, input_format), ())
        items = items_of(reader.header)
        if reader.fmt == "csv":
            _refuse_uneven_rows(path, reader.lineterminator, len(reader.header))
        chunks = [chunk for chunk, _ in reader.chunks(_WHOLE, items)]
        if not chunks:
            return pd.DataFrame(columns=reader.header)
        return pd.concat(chunks, ignore_index=True)


_WHOLE = 1_000_000
"""Rows read at a time by `read_table`."""


def _columns_as_stored(
    batch: Any, header: list[str], ranges: list[tuple[str, int, int]], start: int
) -> pd.DataFrame:
    """A Parquet batch (rows from `start`) as a DataFrame of the file's columns: pandas would
    make a DataFrame index it stored (a column, `id` or `__index_level_0__`) the index again,
    and leave out a named index it stored as a range (client ids 101, 102, ... set as the
    index), which is given back as its column."""
    frame: pd.DataFrame = batch.to_pandas()
    stored = [
        c
        for c in (batch.schema.pandas_metadata or {}).get("index_columns", [])
        if isinstance(c, str)
    ]
    if stored:
        frame = frame.reset_index()
        frame.columns = [*stored, *frame.columns[len(stored) :]]
    if ranges:
        frame = frame.reset_index(drop=True)
        rows = np.arange(start, start + len(frame))
        for name, first, step in ranges:
            frame[name] = first + step * rows
    return frame[header] if stored or ranges else frame


def _named_ranges(schema: Any) -> list[tuple[str, int, int]]:
    """A named DataFrame index pandas stored as a range, not a column: (name, start, step)."""
    return [
        (str(c["name"]), int(c["start"]), int(c["step"]))
        for c in (schema.pandas_metadata or {}).get("index_columns", [])
        if isinstance(c, dict) and c.get("kind") == "range" and c.get("name") is not None
    ]


@contextlib.contextmanager
def _naming(path: Path) -> Iterator[None]:
    """A reader's error about the input's text, naming the file."""
    try:
        yield
    except UnicodeDecodeError as exc:
        # (the offset is the reader's, within its buffer: not named)
        raise ValueError(
            f"{path}: not UTF-8 text (a byte {exc.object[exc.start]:#04x}; perhaps UTF-16 or "
            "Latin-1); save it as UTF-8"
        ) from None
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path}: the file is empty (no header)") from None
    except pd.errors.ParserError as exc:
        if str(path) in str(exc):
            raise
        raise pd.errors.ParserError(f"{path}: {exc}") from None


def score_file(
    instrument: InstrumentRef | Sequence[InstrumentRef],
    source: str | os.PathLike[str],
    output: str | os.PathLike[str] | None = None,
    *,
    input_format: str | None = None,
    output_format: str | None = None,
    columns: Columns = None,
    prefix: Prefix = None,
    context: Mapping[str, str] | None = None,
    na_values: Sequence[str] = (),
    allow_missing_columns: bool = False,
    add_prefix: bool | None = None,
    chunk_rows: int = 100_000,
    stdout: TextIO = sys.stdout,
    progress: TextIO | None = None,
    options: Options = API,
    keep_items: bool = False,
) -> Summary:
    """Score a file chunk by chunk; `output` None writes CSV or JSON Lines to `stdout`.

    Columns are found as `score_frame` finds them (one spec per instrument with several; a
    scored item without a column is an error unless `allow_missing_columns`). `context` maps a
    context variable to a column of the input, or to a value for every row when no column has
    that name. `na_values` names the tokens that mean "missing" in item columns (an empty cell
    always does). The output never overwrites the input, never has two columns of one name, and
    appears only when complete. Every column but the item columns is written as read;
    `keep_items=True` writes the item columns too, as read (a CSV's text, verbatim), in their
    place among the others.
    """
    if not isinstance(keep_items, bool):
        raise TypeError(f"keep_items must be True or False (got {keep_items!r})")
    if isinstance(na_values, str):  # its letters would each be a token
        raise TypeError(f"na_values must be a list of tokens (got the text {na_values!r})")
    if not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise ValueError(f"chunk_rows must be a whole number of at least 1 (got {chunk_rows!r})")
    path = Path(source)
    with _naming(path):
        fmt_in = file_format(path, input_format)
        fmt_out = (
            file_format(output, output_format) if output is not None else output_format or "csv"
        )
        target = Path(output) if output is not None else None
        if target is not None and same_file(path, target):
            raise ValueError(f"output {target} is the input file; write the scores elsewhere")
        refs = _instruments(instrument)
        reader = _Reader(path, fmt_in, na_values)
        header = reader.header
        resolved = resolve_columns(
            refs,
            header,
            columns=columns,
            prefix=prefix,
            allow_missing_columns=allow_missing_columns,
            options=options,
            raw_header=fmt_in == "csv",  # its names were checked as written
        )
        if all(not found for _, found in resolved):
            names = ", ".join(f.plan.provenance.instrument for f, _ in resolved)
            raise ColumnError(
                f"no column of {path} holds a {names} item; pass {options.prefix} or "
                f"{options.columns}"
            )
        prefixed = _prefixed(refs, add_prefix)
        item_cols: set[Hashable] = {c for _, found in resolved for c in found.values()}
        kept = [c for c in header if keep_items or c not in item_cols]
        _refuse_clashes(
            path, kept, list(output_schema(refs, add_prefix=prefixed).columns), prefixed
        )
        context = dict(context or {})
        context_columns = {name: col for name, col in context.items() if col in header}
        empty = pd.concat(
            [pd.DataFrame(columns=kept), output_schema(refs, add_prefix=prefixed)], axis=1
        )
        setup: dict[str, Any] = {
            "prefixed": prefixed,
            "kept": kept,
            "context": context,
            "context_columns": context_columns,
            "progress": progress,
        }
        run = _Run(resolved, **setup)
        if fmt_in == "csv" and fmt_out == "parquet" and not keep_items:
            _parquet()  # without pyarrow: the error that names the extra to install
            writer = _Writer(target, fmt_out, stdout)
            if _arrow_route(
                run, reader, writer, item_cols=item_cols, chunk_rows=chunk_rows, empty=empty
            ):
                return run.summary()
            started = run.started  # a cell only pandas reads as pandas does: start over
            run = _Run(resolved, **setup)
            run.started = started  # the time of the attempt counts too
        if fmt_in == "csv":  # (Arrow's reader refuses a short row itself)
            _refuse_uneven_rows(path, reader.lineterminator, len(header))
        writer = _Writer(target, fmt_out, stdout)
        try:
            for chunk, verbatim in reader.chunks(chunk_rows, item_cols, verbatim=keep_items):
                scored, issues = run.score(chunk)
                writer.write(pd.concat([_given(chunk, kept, verbatim), scored], axis=1))
                run.count(scored, issues, len(chunk))
            writer.commit(empty)
        except BaseException:  # an interrupt too: never a valid-looking partial file
            writer.abort()
            raise
        return run.summary()


def _csv_arrow() -> Any:
    from . import csv_arrow

    return csv_arrow


def _arrow_route(
    run: _Run,
    reader: _Reader,
    writer: _Writer,
    *,
    item_cols: set[Hashable],
    chunk_rows: int,
    empty: pd.DataFrame,
) -> bool:
    """Score a CSV to Parquet through Arrow's reader; False (nothing written) where a cell or
    line is one only pandas reads as pandas does."""
    try:
        _through_arrow(run, reader, writer, item_cols, chunk_rows)
        writer.commit(empty)
    except _csv_arrow().NotPlain:
        writer.abort()
        return False
    except BaseException:  # an interrupt too: never a valid-looking partial file
        writer.abort()
        raise
    return True


def _through_arrow(
    run: _Run, reader: _Reader, writer: _Writer, item_cols: set[Hashable], chunk_rows: int
) -> None:
    """A CSV read by Arrow, scored and written to Parquet with no Python string per cell. The
    first chunk is read by pandas too and written as the pandas route writes it, so the file's
    schema is that route's; each later chunk is cast to it. Raises `csv_arrow.NotPlain` (the
    caller starts over with pandas) at a cell only pandas reads as pandas does."""
    import pyarrow as pa

    from .arrow_io import to_table

    arrow = _csv_arrow().chunks(reader.path, reader.header, item_cols, reader.na_values, chunk_rows)
    ours = next(arrow, None)
    if ours is None:  # no row: the pandas route writes what it writes then
        raise _csv_arrow().NotPlain("no rows")
    first, _ = next(iter(reader.chunks(chunk_rows, item_cols)))
    if not _same_chunk(ours, first, run.kept):  # a safety net: never a row out of place
        raise _csv_arrow().NotPlain("a first chunk pandas reads otherwise")
    scored, issues = run.score(first)
    writer.write(pd.concat([first[run.kept], scored], axis=1))
    run.count(scored, issues, len(first))
    for chunk in arrow:
        parts, issues = run.score_parts(chunk.items, chunk.kept)
        table = pa.Table.from_arrays(
            [*chunk.kept.select(run.kept).columns, *to_table(parts).columns],
            names=[*map(str, run.kept), *parts],
        )
        try:
            table = table.cast(writer.schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
            raise _csv_arrow().NotPlain(f"a chunk not of the file's schema: {exc}") from None
        writer.write_table(table)
        run.count(to_frame(run.counted(parts), chunk.items.index), issues, len(chunk.items))


def _same_chunk(ours: Any, first: pd.DataFrame, kept: list[Any]) -> bool:
    """Whether Arrow's first chunk holds the cells of pandas' (its kept text, and its item
    columns as the same numbers of the same types)."""
    items = list(ours.items.columns)
    if len(ours.items) != len(first) or not ours.items.equals(
        first[items].set_axis(ours.items.index)
    ):
        return False
    return all(ours.kept.column(str(name)).to_pylist() == first[name].tolist() for name in kept)


class _Run:
    """One scoring run over a file's chunks: the scoring of each, and the counts so far."""

    def __init__(
        self,
        resolved: Sequence[tuple[FramePlan, Mapping[str, Hashable]]],
        *,
        prefixed: bool,
        kept: list[Any],
        context: Mapping[str, str],
        context_columns: Mapping[str, str],
        progress: TextIO | None,
    ) -> None:
        self.resolved, self.prefixed, self.kept = resolved, prefixed, kept
        self.context, self.context_columns, self.progress = context, context_columns, progress
        self.pandas = Backend()
        self.started, self.rows, self.valid = time.perf_counter(), 0, 0
        self.reasons: Counter[str] = Counter()
        self.flags: Counter[str] = Counter()
        self.undetermined: Counter[str] = Counter()

    def score(self, chunk: pd.DataFrame) -> tuple[pd.DataFrame, _Issues]:
        """A pandas chunk's score columns and issues (its index set to the rows' positions)."""
        chunk.index = pd.RangeIndex(self.rows, self.rows + len(chunk))
        parts, issues = self.score_parts(chunk, None)
        return to_frame(parts, chunk.index), issues

    def score_parts(self, items: pd.DataFrame, kept: Any) -> tuple[dict[str, Any], _Issues]:
        """The output columns and issues (each instrument's table, as the kernels give it) of
        a chunk's item columns; a context column is read from them or, as text, from `kept`
        (an Arrow table) when given."""
        ctx: dict[str, Any] = {}
        for name, value in self.context.items():
            column = self.context_columns.get(name)
            if column is None:
                ctx[name] = value
            elif kept is None or column in items.columns:
                ctx[name] = items[column]
            else:
                cells = kept.column(column).to_numpy(zero_copy_only=False)
                ctx[name] = pd.Series(cells, index=items.index, dtype=object)
        return score_resolved(
            self.resolved, items, ctx, prefixed=self.prefixed, with_issues=True, backend=self.pandas
        )

    def counted(self, parts: Mapping[str, Any]) -> dict[str, Any]:
        """The output columns the counts read: validity and flags."""
        names = {
            f"{head}{name}"
            for fplan, _ in self.resolved
            for head in [f"{fplan.plan.provenance.instrument}_" if self.prefixed else ""]
            for name in ["valid", *(f"flag_{flag.id}" for flag in fplan.plan.flags)]
        }
        return {name: col for name, col in parts.items() if name in names}

    def count(self, scored: pd.DataFrame, issues: _Issues, rows: int) -> None:
        self.rows += rows
        self.valid += _tally(
            self.resolved,
            scored,
            issues,
            prefixed=self.prefixed,
            reasons=self.reasons,
            flags=self.flags,
            undetermined=self.undetermined,
        )
        if self.progress is not None:
            rate = self.rows / (time.perf_counter() - self.started)
            self.progress.write(f"\r{self.rows:,} rows scored ({rate:,.0f} rows/s)")
            self.progress.flush()

    def summary(self) -> Summary:
        if self.progress is not None:
            self.progress.write("\n")
        elapsed = time.perf_counter() - self.started
        return Summary(self.rows, self.valid, self.reasons, self.flags, self.undetermined, elapsed)


def _given(chunk: pd.DataFrame, kept: list[Any], verbatim: pd.DataFrame | None) -> pd.DataFrame:
    """The input's columns to write; kept item columns as read, not as scored."""
    if verbatim is None:
        return chunk[kept]
    given = chunk[kept].copy()
    given[list(verbatim.columns)] = verbatim.set_axis(given.index, axis=0)  # row by row
    return given


def _refuse_clashes(path: Path, kept: list[Any], scored: list[str], prefixed: bool) -> None:
    """Never two columns of one name in the output: an input column named like a score column
    is refused."""
    clash = [c for c in kept if c in scored]
    if clash:
        hint = "" if prefixed else "; pass --add-prefix to prefix the score columns"
        raise ColumnError(
            f"input column(s) {', '.join(map(repr, clash))} of {path} have the name of a score "
            f"column, so the output would hold two columns of one name{hint}"
        )


_Issues = list[tuple[IssueTable | None, str]]
"""A chunk's issues: each instrument's table as the kernels give it, and the instrument."""


def _tally(
    resolved: Sequence[tuple[FramePlan, Mapping[str, Hashable]]],
    scored: pd.DataFrame,
    issues: _Issues,
    *,
    prefixed: bool,
    reasons: Counter[str],
    flags: Counter[str],
    undetermined: Counter[str],
) -> int:
    """Counts of one chunk (by code and item, never by value); returns its valid rows."""
    several = len(resolved) > 1
    ok = None
    for fplan, _ in resolved:
        head = f"{fplan.plan.provenance.instrument}_" if prefixed else ""
        valid = scored[f"{head}valid"].to_numpy(dtype=bool)
        ok = valid if ok is None else ok & valid
        for flag in fplan.plan.flags:
            column = scored[f"{head}flag_{flag.id}"]
            name = f"{head}{flag.id}" if several else flag.id
            flags[name] += int(column.sum())
            undetermined[name] += int(column.isna().sum())
    for table, instrument in issues:
        if table is not None:
            reasons.update(_labels(table, f"{instrument} " if several else ""))
    assert ok is not None
    return int(ok.sum())


def _labels(table: IssueTable, head: str) -> Counter[str]:
    """The rows each issue label holds in one instrument's issues: its code and the item, or
    the scale or classification a row-level issue names (never a value), a row counted once
    per label. Read from the kernels' arrays: a DataFrame of the issues, built only to count
    them, cost two thirds as much as scoring the chunk."""
    labels: dict[tuple[Any, Any, Any], str] = {}
    seen: set[tuple[int, str]] = set()
    for row, item, code, message in zip(
        table.rows.tolist(), table.item, table.code, table.message, strict=True
    ):
        label = labels.get((item, code, message))
        if label is None:
            about = item if item is not None else str(message).split(":", 1)[0]
            label = labels[item, code, message] = f"{head}{code}: {about}"
        seen.add((row, label))
    return Counter(label for _, label in seen)
