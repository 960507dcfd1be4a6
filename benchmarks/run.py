"""Run every benchmark and print its table: `python benchmarks/run.py`."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_change
import bench_engine
import bench_files
import bench_frames
import bench_score


def main() -> None:
    for module in (bench_score, bench_frames, bench_engine, bench_change, bench_files):
        module.main()
        print()


if __name__ == "__main__":
    main()
