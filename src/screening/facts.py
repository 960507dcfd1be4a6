"""Facts about a definition that every path needs: the scores an item can take and whether a
scale's scores are whole numbers. (The range a scale reaches is its steps': `steps.py`.)"""

from __future__ import annotations

from .definition import Instrument, Scale

__all__ = ["item_score_values", "scale_is_integral", "scale_precision"]


def item_score_values(inst: Instrument, item_id: str) -> list[int]:
    """The scores an item can take, reverse scoring applied (options 0, 1, 3 reversed score
    3, 2, 0)."""
    item = inst.item_by_id(item_id)
    return [] if item is None else sorted(set(inst.item_scores(item).values()))


def scale_is_integral(scale: Scale) -> bool:
    """Whether every final score is a whole number."""
    if scale.decimals is not None:
        return scale.decimals == 0
    if scale.scales is not None:  # over scales that score whole numbers (checked)
        return True
    if scale.lookups:
        return all(isinstance(v, int) for t in scale.lookups for v in t.values.values())
    unrounded = (
        scale.missing.prorate and scale.missing.rounding == "none" and scale.missing.fill is None
    )
    return scale.method == "sum" and isinstance(scale.multiplier, int) and not unrounded


def scale_precision(scale: Scale) -> int | None:
    """The decimal places a scale's final scores are written at (0: whole numbers), or None
    when they are fractions of no stated precision (bands then cannot tile them)."""
    if scale.decimals is not None:
        return scale.decimals
    return 0 if scale_is_integral(scale) else None
