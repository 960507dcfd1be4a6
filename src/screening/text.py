"""Small text helpers shared by messages, notes, exports and docs."""

from __future__ import annotations

from fractions import Fraction

__all__ = ["at_places", "number", "reads_as_number"]


def number(value: float) -> str:
    """`4`, not `4.0`; fractions as written (`2.5`)."""
    return str(int(value)) if float(value).is_integer() else str(value)


def at_places(value: float | Fraction, places: int | None) -> str:
    """A score as a scale writes it: `3.00` at two decimal places, `4` for whole numbers."""
    return f"{float(value):.{places}f}" if places else number(float(value))


def reads_as_number(text: str) -> bool:
    """Whether text reads as a number (`9`, `09`, `9.0`, ` 1e0`): a missing-value token that
    does is one pandas would also match by value."""
    try:
        float(text)
    except ValueError:
        return False
    return True
