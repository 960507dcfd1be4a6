"""Streamed file scoring (`screening score` on CSV and Parquet), next to the I/O floor.

The floor reads and writes the same file in the same chunks with pandas/pyarrow alone, in the
same run. Each job runs in a child process so that its peak memory (max RSS) is its own.
`python benchmarks/bench_files.py --rows 10000000` (the default) makes the files once in a
temporary folder.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

CHUNK = 100_000
JOB = f"""
import json, sys, time
import pandas as pd
kind, source, target = sys.argv[1], sys.argv[2], sys.argv[3]
started = time.perf_counter()
if kind == "csv-floor":
    with pd.read_csv(source, chunksize={CHUNK}, dtype={{"client_id": str, "date": str}}) as r:
        for i, chunk in enumerate(r):
            chunk.to_csv(target, mode="w" if i == 0 else "a", header=i == 0, index=False)
elif kind == "parquet-floor":
    import pyarrow as pa, pyarrow.parquet as pq
    writer = None
    for batch in pq.ParquetFile(source).iter_batches(batch_size={CHUNK}):
        table = pa.Table.from_pandas(batch.to_pandas(), preserve_index=False)
        writer = writer or pq.ParquetWriter(target, table.schema)
        writer.write_table(table)
    writer.close()
elif kind == "polars-stream":
    import polars as pl
    items = [pl.col(f"PHQ_{{i:02d}}") for i in range(1, 10)]
    bad = pl.any_horizontal([(c.is_not_null() & ~c.is_in([0, 1, 2, 3])) for c in items])
    answered = pl.sum_horizontal([c.is_not_null().cast(pl.Int8) for c in items])
    total = ((pl.sum_horizontal(items) * 9 / answered) + 0.5).floor()
    ok = ~bad & (answered >= 7)
    band = (
        pl.when(~ok).then(None).when(total <= 4).then(pl.lit("minimal"))
        .when(total <= 9).then(pl.lit("mild")).when(total <= 14).then(pl.lit("moderate"))
        .when(total <= 19).then(pl.lit("moderately severe")).otherwise(pl.lit("severe"))
    )
    pl.scan_csv(source, schema_overrides={{"client_id": pl.String, "date": pl.String}}).select(
        "client_id", "date", total=pl.when(ok).then(total), band=band,
        flag=pl.col("PHQ_09") >= 1, valid=ok,
    ).sink_parquet(target)
else:
    from screening.files import score_file
    score_file("phq9", source, target, prefix="PHQ_", chunk_rows={CHUNK})
seconds = time.perf_counter() - started
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across exec
hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(json.dumps({{"seconds": seconds, "max_rss": int(hwm.split()[1]) * 1024}}))
"""


def make_files(folder: Path, rows: int) -> tuple[Path, Path]:
    csv, parquet = folder / "phq9.csv", folder / "phq9.parquet"
    rng = np.random.default_rng(5)
    first = True
    for start in range(0, rows, 1_000_000):
        n = min(1_000_000, rows - start)
        values = rng.integers(0, 4, size=(n, 9)).astype(float)
        values[rng.random(values.shape) < 0.01] = np.nan
        df = pd.DataFrame(values, columns=[f"PHQ_{i:02d}" for i in range(1, 10)])
        df.insert(0, "date", "2026-01-01")
        df.insert(0, "client_id", np.char.zfill(np.arange(start, start + n).astype(str), 8))
        df.to_csv(csv, mode="w" if first else "a", header=first, index=False, float_format="%.0f")
        first = False
    pd.read_csv(csv, dtype={"client_id": str, "date": str}).to_parquet(parquet, index=False)
    return csv, parquet


def run_job(kind: str, source: Path, target: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", JOB, kind, str(source), str(target)],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(rows: int = 10_000_000) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        csv, parquet = make_files(folder, rows)
        print(f"Streamed file scoring, PHQ-9, {rows:,} rows (1% missing), chunks of {CHUNK:,}")
        print(f"{'file':<8} {'job':<22} {'rows/s':>12} {'peak RSS':>10} {'x reference':>12}")
        for name, source, suffix in (("CSV", csv, ".csv"), ("Parquet", parquet, ".parquet")):
            floor = run_job(f"{suffix[1:]}-floor", source, folder / f"floor{suffix}")
            ours = run_job("score", source, folder / f"scored{suffix}")
            for job, got in (("pandas/pyarrow I/O", floor), ("screening score", ours)):
                print(
                    f"{name:<8} {job:<22} {rows / got['seconds']:>12,.0f} "
                    f"{got['max_rss'] / 2**20:>8,.0f} MB "
                    f"{got['seconds'] / floor['seconds']:>11.2f}x"
                )
            if name == "CSV":  # the job of issue 12's target: CSV in, Parquet out
                print_polars(csv, folder, rows)
    print("targets: within 1.5x of the I/O floor, CSV to Parquet within 1.5x of Polars")
    print("streaming; 10 million rows within 1 GiB")


def print_polars(csv: Path, folder: Path, rows: int) -> None:
    try:
        import polars  # noqa: F401
    except ModuleNotFoundError:
        return
    theirs = run_job("polars-stream", csv, folder / "polars.parquet")
    ours = run_job("score", csv, folder / "scored-csv.parquet")
    for job, got in (("Polars streaming", theirs), ("screening score", ours)):
        print(
            f"{'CSV->PQ':<8} {job:<22} {rows / got['seconds']:>12,.0f} "
            f"{got['max_rss'] / 2**20:>8,.0f} MB "
            f"{got['seconds'] / theirs['seconds']:>11.2f}x"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    main(parser.parse_args().rows)
