"""The DataFrame engine on the shapes real data has, each next to a reference measured in the
same run (ratios, not absolute times: these machines are shared and noisy).

- pandas reference: the same job in plain vectorized pandas, written from the definition
  (options checked, items summed with `min_count`, proration where the rule allows it, the
  multiplier, `pd.cut` bands, validity);
- numpy floor: the item columns summed with no check at all;
- Polars reference: the same job in plain Polars expressions;
- cold start: `import screening` and one score, against `import pydantic`, in fresh processes.

`python benchmarks/bench_engine.py [--rows N]` prints the table.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

import screening
from screening.definition import ItemCondition

PHQ = [f"phq9_{n}" for n in range(1, 10)]
GAD = [f"gad7_{n}" for n in range(1, 8)]


def best(fn: Callable[[], object], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def frame(
    items: list[str], n: int, *, missing: float = 0.0, bad: float = 0.0, seed: int = 1
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 4, size=(n, len(items))).astype(float)
    values[rng.random(values.shape) < bad] = 7
    values[rng.random(values.shape) < missing] = np.nan
    return pd.DataFrame(values, columns=items)


def pandas_reference(instrument: str, df: pd.DataFrame) -> pd.DataFrame:
    """One instrument's scales in plain vectorized pandas, from its definition."""
    inst = screening.load_instrument(instrument)
    out: dict[str, Any] = {}
    valid = pd.Series(True, index=df.index)
    for name, scale in inst.scales.items():
        items = df[scale.items]
        if any(d.kind == "O" for d in items.dtypes):  # a plain reference's way with messy text
            items = items.apply(pd.to_numeric, errors="coerce")
        items = items.astype("float64")
        first = inst.item_by_id(scale.items[0])
        assert first is not None
        options = [o.value for o in inst.item_options(first)]
        bad = items.notna() & ~items.isin(options)
        clean = items.where(~bad)
        answered = clean.notna().sum(axis=1)
        need = len(scale.items) - scale.missing.max_missing
        raw = clean.sum(axis=1, min_count=need)
        total = np.floor(raw * len(scale.items) / answered + 0.5) * scale.multiplier
        ok = ~bad.any(axis=1) & total.notna()
        out[name] = total.where(ok)
        if scale.bands:
            edges = [scale.bands[0].min - 1] + [b.max for b in scale.bands]
            out[f"{name}_band"] = pd.cut(out[name], edges, labels=[b.label for b in scale.bands])
        if scale.role == "primary":
            valid &= ok
    for flag in inst.flags:
        when = flag.when
        if isinstance(when, ItemCondition) and when.gte is not None:
            out[f"flag_{flag.id}"] = df[when.item] >= when.gte
    out["valid"] = valid
    return pd.DataFrame(out, index=df.index)


def _references(refs: list[str], df: pd.DataFrame) -> object:
    return [pandas_reference(r, df) for r in refs]


def numpy_floor(df: pd.DataFrame) -> object:
    return df.to_numpy().sum(axis=1)


def peak(fn: Callable[[], object]) -> int:
    gc.collect()
    tracemalloc.start()
    fn()
    _, top = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return top


def polars_rows(n: int) -> list[tuple[str, float, float, str]]:
    try:
        import polars as pl
    except ModuleNotFoundError:
        return []
    df = frame(PHQ, n, missing=0.01)
    pdf = pl.from_pandas(df)

    def reference() -> object:
        items = [pl.col(c) for c in PHQ]
        bad = pl.any_horizontal([(c.is_not_null() & ~c.is_in([0.0, 1.0, 2.0, 3.0])) for c in items])
        answered = pl.sum_horizontal([c.is_not_null().cast(pl.Int8) for c in items])
        raw = pl.sum_horizontal(items)
        total = ((raw * 9 / answered) + 0.5).floor()
        ok = ~bad & (answered >= 7)
        return pdf.select(
            total=pl.when(ok).then(total),
            band=pl.when(~ok)
            .then(None)
            .when(total <= 4)
            .then(pl.lit("minimal"))
            .when(total <= 9)
            .then(pl.lit("mild"))
            .when(total <= 14)
            .then(pl.lit("moderate"))
            .when(total <= 19)
            .then(pl.lit("moderately severe"))
            .otherwise(pl.lit("severe")),
            flag=pl.col("phq9_9") >= 1,
            valid=ok,
        )

    ours = best(lambda: screening.score_frame("phq9", pdf))
    theirs = best(reference)
    return [("PHQ-9, Polars in and out, 1% null", ours, theirs, "Polars expressions")]


def cold_start() -> tuple[float, float]:
    code = "import screening; screening.score('phq9', {f'phq9_{n}': 1 for n in range(1, 10)})"

    # as after `pip install`, which compiles the bytecode: one warm-up run writes it even
    # where PYTHONDONTWRITEBYTECODE is set, so neither side is timed compiling sources
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

    def run(source: str) -> float:
        subprocess.run([sys.executable, "-c", source], check=True, env=env)
        times = []
        for _ in range(5):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", source], check=True, env=env)
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    return run(code), run("import pydantic")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    n = parser.parse_args(argv).rows
    shapes: list[tuple[str, str | list[str], pd.DataFrame]] = []
    complete = pd.DataFrame(np.random.default_rng(1).integers(0, 4, size=(n, 9)), columns=PHQ)
    shapes.append(("PHQ-9, int64, complete", "phq9", complete))
    shapes.append(("PHQ-9, Int8, 1% NA", "phq9", frame(PHQ, n, missing=0.01).astype("Int8")))
    shapes.append(
        (
            "PHQ-9, float64, 1% NaN, 0.1% out of range",
            "phq9",
            frame(PHQ, n, missing=0.01, bad=0.001),
        )
    )
    objects = frame(PHQ, n, missing=0.01).astype(object)
    objects = objects.where(objects.notna(), None)
    shapes.append(("PHQ-9, object (a messy CSV), 1% None", "phq9", objects))
    dass = screening.load_instrument("dass21")
    shapes.append(
        (
            "DASS-21, float64, 1% NaN (~19% rows invalid)",
            "dass21",
            frame([i.id for i in dass.items], max(n * 3 // 10, 1), missing=0.01),
        )
    )
    both = pd.concat([frame(PHQ, n, missing=0.01), frame(GAD, n, missing=0.01, seed=2)], axis=1)
    shapes.append(("PHQ-9 + GAD-7 together, 1% NaN", ["phq9", "gad7"], both))

    print(f"DataFrame engine ({n:,} rows; DASS-21 {max(n * 3 // 10, 1):,}); best of 5")
    print(f"{'shape':<46} {'ours s':>8} {'pandas s':>9} {'x faster':>9}")
    for title, instrument, df in shapes:
        refs = instrument if isinstance(instrument, list) else [instrument]
        ours = best(partial(screening.score_frame, instrument, df))
        theirs = best(partial(_references, refs, df))
        print(f"{title:<46} {ours:>8.3f} {theirs:>9.3f} {theirs / ours:>9.1f}")
    floor = best(lambda: numpy_floor(complete))
    ours = best(lambda: screening.score_frame("phq9", complete))
    print(f"{'PHQ-9 int64 complete vs the numpy row-sum floor':<46} {ours / floor:>27.1f}x floor")
    for title, mine, theirs, what in polars_rows(n):
        print(f"{title:<46} {mine:>8.3f} {theirs:>9.3f} {theirs / mine:>9.1f}  (vs {what})")
    data = frame(PHQ, n, missing=0.01)
    size = data.memory_usage(deep=True).sum()
    used = peak(lambda: screening.score_frame("phq9", data))
    print(f"{'peak extra memory, PHQ-9 float64 1% NaN':<46} {used / size:>27.2f}x the input")
    mine, pydantic_only = cold_start()
    print(
        f"{'cold start: import + one score vs import pydantic':<46} "
        f"{mine:>8.3f} {pydantic_only:>9.3f} {mine / pydantic_only:>8.1f}x"
    )
    print("targets: >= 5x faster than pandas on each shape; within 3x of the numpy floor;")
    print("faster than Polars expressions; peak memory <= 2x the input; cold start <= 2x pydantic")


if __name__ == "__main__":
    main()
