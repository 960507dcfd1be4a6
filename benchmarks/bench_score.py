"""Per-call cost of scoring one PHQ-9 response, next to a hand-written function.

Both run in the same process, interleaved, on the same response; the table reports the
median of several repeats and the ratio, which is what to compare across machines.
"""

from __future__ import annotations

import statistics
import timeit
from collections.abc import Callable
from typing import Any

import screening

ITEMS = tuple(f"phq9_{n}" for n in range(1, 10))
ALLOWED = frozenset({0, 1, 2, 3})
BANDS = ((20, "severe"), (15, "moderately severe"), (10, "moderate"), (5, "mild"), (0, "minimal"))
RESPONSE = dict(zip(ITEMS, [3, 2, 1, 2, 1, 2, 1, 2, 1], strict=True))


def hand_written(responses: dict[str, Any]) -> dict[str, Any]:
    """What a careful app writes by hand: keys, types and ranges checked; total, band, flag."""
    for key in responses:
        if key not in ITEMS:
            raise ValueError(f"unknown item {key}")
    total = 0
    for key in ITEMS:
        value = responses[key]
        if type(value) is not int or value not in ALLOWED:
            raise ValueError(f"{key}: {value!r}")
        total += value
    band = next(label for low, label in BANDS if total >= low)
    return {"total": total, "band": band, "item9": responses["phq9_9"] >= 1}


def per_call(fn: Callable[[], object], number: int = 20_000, repeat: int = 7) -> float:
    """Median seconds per call."""
    return statistics.median(t / number for t in timeit.repeat(fn, number=number, repeat=repeat))


def run() -> list[tuple[str, float, float]]:
    inst = screening.load_instrument("phq9")
    screening.score(inst, RESPONSE)  # compile the plan once, outside the timing

    def with_reads() -> object:
        r = screening.score("phq9", RESPONSE)
        return r.valid, r.scales["total"].score, r.scales["total"].band, r.flags

    rows = [
        ("hand-written dict function (baseline)", lambda: hand_written(RESPONSE)),
        ("screening.score('phq9', ...)", lambda: screening.score("phq9", RESPONSE)),
        ("screening.score(instrument, ...)", lambda: screening.score(inst, RESPONSE)),
        ("score + read valid, total, band, flags", with_reads),
    ]
    times = [per_call(fn) for _, fn in rows]
    base = times[0]
    return [(name, t, t / base) for (name, _), t in zip(rows, times, strict=True)]


def main() -> None:
    print("Single-response scoring, PHQ-9, valid response (load excluded)")
    print(f"{'what':<42} {'µs/call':>9} {'x baseline':>11}")
    for name, seconds, ratio in run():
        print(f"{name:<42} {seconds * 1e6:>9.2f} {ratio:>11.2f}")
    print("target: screening.score within 3x the hand-written function (issue 12)")


if __name__ == "__main__":
    main()
