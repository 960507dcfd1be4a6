"""Score CSV, Parquet and JSON Lines files of any size, chunk by chunk.

Input is read and output written in chunks, so memory stays bounded whatever the file's size.
Every input row is written, in order, with the input's own columns (other than the items),
followed by the score columns of `frames.score_frame`. A bad row never stops the run.
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple, TextIO

import pandas as pd

from .frames import Columns, item_columns, score_frame
from .scoring import plan_for

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
        return given
    found = _EXTENSIONS.get(Path(path).suffix.lower())
    if found is None:
        raise ValueError(
            f"cannot tell the format of {path} from its extension; pass --input-format or "
            f"--output-format ({', '.join(FORMATS)})"
        )
    return found


class Summary(NamedTuple):
    rows: int
    valid: int
    reasons: Counter[str]
    flags: Counter[str]
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
        return "\n".join(lines)


def csv_items(chunk: pd.DataFrame, items: set[str]) -> pd.DataFrame:
    """Item cells of a CSV, which are all text, read cell by cell: text that reads as a number
    is that number, an empty cell is missing, and any other text stays text (and is then
    refused as not a number), whatever the other cells of its column hold."""
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


def _chunks(
    path: Path, fmt: str, chunk_rows: int, items: set[str], text: set[str]
) -> Iterator[pd.DataFrame]:
    if fmt == "csv":
        # identifiers stay text (leading zeros); item cells are read one by one where the parser
        # could not read a whole chunk's column as numbers, so no result depends on chunking
        reader = pd.read_csv(path, chunksize=chunk_rows, dtype=dict.fromkeys(text, str))
        with reader:
            for chunk in reader:
                yield csv_items(chunk, items)
    elif fmt == "parquet":
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows):
            yield batch.to_pandas()
    elif fmt == "jsonl":
        with pd.read_json(path, lines=True, chunksize=chunk_rows, dtype=False) as lines:
            yield from lines
    else:
        raise ValueError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")


def _header(path: Path, fmt: str) -> list[str]:
    if fmt == "csv":
        return list(pd.read_csv(path, nrows=0).columns)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return list(pq.ParquetFile(path).schema_arrow.names)
    with pd.read_json(path, lines=True, chunksize=1, dtype=False) as reader:
        first = next(iter(reader), None)
    return [] if first is None else list(first.columns)


class _Writer:
    def __init__(self, path: Path | None, fmt: str, out: TextIO) -> None:
        self.path, self.fmt, self.out = path, fmt, out
        self.first = True
        self.parquet: Any = None
        self.schema: Any = None
        self.handle: TextIO | None = None
        if path is not None and fmt != "parquet":
            self.handle = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115

    def write(self, frame: pd.DataFrame) -> None:
        if self.fmt == "parquet":
            self._parquet(frame)
            return
        target = self.handle or self.out
        if self.fmt == "csv":
            frame.to_csv(target, header=self.first, index=False, lineterminator="\n")
        else:
            text = frame.to_json(orient="records", lines=True, force_ascii=False)
            target.write(text if text.endswith("\n") or not text else text + "\n")
        self.first = False

    def _parquet(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self.path is None:
            raise ValueError("Parquet output needs a file: pass -o OUTPUT.parquet")
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self.parquet is None:
            self.schema = table.schema
            self.parquet = pq.ParquetWriter(self.path, self.schema)
        else:
            table = table.cast(self.schema)
        self.parquet.write_table(table)

    def close(self) -> None:
        if self.parquet is not None:
            self.parquet.close()
        if self.handle is not None:
            self.handle.close()


def score_file(
    instrument: Any,
    source: str | os.PathLike[str],
    output: str | os.PathLike[str] | None = None,
    *,
    input_format: str | None = None,
    output_format: str | None = None,
    columns: Columns = None,
    prefix: str | None = None,
    context: Mapping[str, str] | None = None,
    chunk_rows: int = 100_000,
    stdout: TextIO = sys.stdout,
    progress: TextIO | None = None,
) -> Summary:
    """Score a file chunk by chunk; `output` None writes CSV or JSON Lines to `stdout`.

    `context` maps a context variable to a column of the input, or to a value for every row
    when no column has that name.
    """
    path = Path(source)
    fmt_in = file_format(path, input_format)
    fmt_out = output_format or (file_format(output) if output is not None else "csv")
    plan = plan_for(instrument)
    header = _header(path, fmt_in)
    probe = pd.DataFrame(columns=header)
    found = item_columns(plan, probe, columns, prefix)
    if not found:
        raise ValueError(
            f"no column of {path} holds a {plan.provenance.instrument} item; pass --prefix, "
            "--pattern or --map"
        )
    context = dict(context or {})
    context_columns = {name: col for name, col in context.items() if col in header}
    item_cols = set(found.values())
    kept = [c for c in header if c not in item_cols]
    writer = _Writer(Path(output) if output is not None else None, fmt_out, stdout)
    started, rows, valid = time.perf_counter(), 0, 0
    reasons: Counter[str] = Counter()
    flags: Counter[str] = Counter()
    try:
        for chunk in _chunks(path, fmt_in, chunk_rows, item_cols, set(kept)):
            chunk.index = pd.RangeIndex(rows, rows + len(chunk))
            ctx: dict[str, Any] = {
                name: chunk[context_columns[name]] if name in context_columns else value
                for name, value in context.items()
            }
            scored = score_frame(
                plan.instrument, chunk, columns=found, context=ctx, allow_missing_columns=True
            )
            writer.write(pd.concat([chunk[kept], scored], axis=1))
            rows += len(chunk)
            ok = scored["valid"].to_numpy(dtype=bool)
            valid += int(ok.sum())
            reasons.update(scored["reason"][~ok].tolist())
            for name in scored.columns:
                if name.startswith("flag_"):
                    flags[name.removeprefix("flag_")] += int(scored[name].sum())
            if progress is not None:
                rate = rows / (time.perf_counter() - started)
                progress.write(f"\r{rows:,} rows scored ({rate:,.0f} rows/s)")
                progress.flush()
    finally:
        writer.close()
    if progress is not None:
        progress.write("\n")
    return Summary(rows, valid, reasons, flags, time.perf_counter() - started)
