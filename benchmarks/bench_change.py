"""Longitudinal change on 1,000,000 PHQ-9 administrations over 100,000 clients, next to a plain
pandas sort + groupby-diff of the same data: `change_frame` (change from baseline, previous and
best, reliable change, sudden gains), `client_summary` and the group outcomes table.

Random totals and random dates, in random order (duplicate client-dates included, as in real
data). Each function runs in the same process, interleaved with the baseline; the table reports
the median of several repeats, rows per second and the ratio to the baseline, which is what to
compare across machines.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from screening.change import change_frame, client_summary, group_outcomes

ROWS = 1_000_000
CLIENTS = 100_000
REPEATS = 5


def administrations(rows: int = ROWS, clients: int = CLIENTS, seed: int = 0) -> pd.DataFrame:
    """Random PHQ-9 totals (0-27) on random days over two years."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2023-01-01", "ns")
    return pd.DataFrame(
        {
            "client": rng.integers(0, clients, rows),
            "date": start + rng.integers(0, 730, rows) * np.timedelta64(1, "D"),
            "score": rng.integers(0, 28, rows),
        }
    )


def groupby_diff(df: pd.DataFrame) -> pd.Series:
    """The baseline: what one writes by hand with pandas (no validation, no outcomes)."""
    ordered = df.sort_values(["client", "date"], kind="stable")
    return ordered.groupby("client")["score"].diff()


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run(rows: int = ROWS, clients: int = CLIENTS) -> list[tuple[str, float, float]]:
    df = administrations(rows, clients)
    change_frame(df.head(1000), "phq9")  # load and check the definition outside the timing
    cases: list[tuple[str, Callable[[], object]]] = [
        ("pandas sort + groupby diff (baseline)", lambda: groupby_diff(df)),
        ("change_frame(df, 'phq9')", lambda: change_frame(df, "phq9")),
        ("client_summary(df, 'phq9')", lambda: client_summary(df, "phq9")),
        ("group_outcomes(df, 'phq9')", lambda: group_outcomes(df, "phq9")),
    ]
    times: dict[str, list[float]] = {name: [] for name, _ in cases}
    for _ in range(REPEATS):  # interleaved, so a slow moment hits every case alike
        for name, fn in cases:
            times[name].append(timed(fn))
    medians = [statistics.median(times[name]) for name, _ in cases]
    return [(name, t, t / medians[0]) for (name, _), t in zip(cases, medians, strict=True)]


def main() -> None:
    print(f"Longitudinal change, {ROWS:,} PHQ-9 administrations over {CLIENTS:,} clients")
    print(f"{'what':<40} {'s':>7} {'rows/s':>12} {'x baseline':>11}")
    for name, seconds, ratio in run():
        print(f"{name:<40} {seconds:>7.3f} {ROWS / seconds:>12,.0f} {ratio:>11.2f}")
    print("target: change_frame and group_outcomes within 2x the plain pandas groupby-diff")


if __name__ == "__main__":
    main()
