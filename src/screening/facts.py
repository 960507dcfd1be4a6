"""Facts about a definition that every path needs: the scores an item can take, whether a
scale's scores are whole numbers, and the range of scores a scale can actually reach.

The range is exact, proration included: prorating over items with different ranges can reach
past the plain sum's bounds (items scoring 0-1 and 0-100, one of them missing: the prorated
score reaches 200, not 101). The checker demands bands that cover it; the DataFrame path sizes
its integer types and band tables by it.
"""

from __future__ import annotations

from .definition import Instrument, Scale

__all__ = ["item_score_values", "prorated", "scale_is_integral", "scale_range"]


def item_score_values(inst: Instrument, item_id: str) -> list[int]:
    """The scores an item can take (its option values; reversing keeps the same set)."""
    item = inst.item_by_id(item_id)
    return [] if item is None else sorted(set(inst.item_scores(item).values()))


def scale_is_integral(scale: Scale) -> bool:
    """Whether every final score is a whole number."""
    unrounded = scale.missing.prorate and scale.missing.rounding == "none"
    return isinstance(scale.multiplier, int) and not unrounded


def prorated(raw: int, total: int, counted: int, half_up: bool) -> int | float:
    """A sum over `counted` items scaled up to `total`: `raw * total / counted`, rounded half up
    exactly (on the rational, free of float error) or left unrounded."""
    if half_up:
        return (2 * raw * total + counted) // (2 * counted)
    return raw * total / counted


def scale_range(inst: Instrument, scale: Scale) -> tuple[float, float] | None:
    """The lowest and highest final score a scale can reach, or None if an item is unresolved.

    Every way a response can be scored is covered: any answer to each item, items skipped
    without a score (they add nothing and are not counted), and up to `max_missing` missing
    items prorated as the rule says. For a given number of skipped items r and missing items k,
    the highest score leaves out the r lowest-scoring skippable items and then the k lowest of
    the rest (an exchange argument shows no other choice does better); the lowest, symmetrically.
    """
    lows: list[int] = []
    highs: list[int] = []
    optional: list[bool] = []
    for item_id in scale.items:
        values = item_score_values(inst, item_id)
        if not values:
            return None
        item = inst.item_by_id(item_id)
        lows.append(values[0])
        highs.append(values[-1])
        optional.append(item is not None and item.ask_if is not None and item.if_skipped is None)
    rule = scale.missing
    half_up = rule.rounding == "half_up"
    top = _extreme(highs, optional, rule.max_missing, half_up, highest=True)
    bottom = _extreme(lows, optional, rule.max_missing, half_up, highest=False)
    return bottom * scale.multiplier, top * scale.multiplier


def _extreme(
    bounds: list[int], optional: list[bool], missing: int, half_up: bool, *, highest: bool
) -> int | float:
    """The highest (or lowest) score over every number of skipped and missing items."""
    n = len(bounds)
    sign = 1 if highest else -1
    # leaving out the items that add least (for the highest; most for the lowest) first
    order = sorted(range(n), key=lambda i: sign * bounds[i])
    skippable = [i for i in order if optional[i]]
    total_sum = sum(bounds)
    best: int | float | None = None
    for r in range(len(skippable) + 1):
        left_out = set(skippable[:r])
        rest_sum = total_sum - sum(bounds[i] for i in left_out)
        remaining = [i for i in order if i not in left_out]
        counted_all = n - r
        raw = rest_sum
        for k in range(min(missing, counted_all - 1) + 1):
            if k:
                raw -= bounds[remaining[k - 1]]
            counted = counted_all - k
            if counted == 0:
                break
            value = raw if k == 0 else prorated(raw, counted_all, counted, half_up)
            if best is None or sign * value > sign * best:
                best = value
        if r == n:
            break
    if best is None:  # every item skippable and skipped: nothing to score
        return 0
    return best
