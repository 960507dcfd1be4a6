"""Small text helpers shared by messages, notes, exports and docs."""

from __future__ import annotations

__all__ = ["number"]


def number(value: float) -> str:
    """`4`, not `4.0`; fractions as written (`2.5`)."""
    return str(int(value)) if float(value).is_integer() else str(value)
