"""The DataFrame scorer equals the single-response scorer on generated custom definitions.

`test_frames.py` proves the parity on the built-in definitions, whose options are small,
non-negative and alike within a scale. Custom definitions may do much more that is valid:
negative option values, values up to the format's bound (`MAX_VALUE`) with gaps between them,
items with different ranges in one scale, reverse scoring, large and fractional multipliers,
proration, skip logic, and conditions of every kind. The strategy here generates such
definitions and DataFrames of every kind of cell (numpy, nullable and narrow dtypes, blanks,
text, booleans, fractions, numbers no dtype of the path can hold), and checks every row of
`score_frame` against `score()`.

Every generated definition must pass the checker: bands are drawn over the range the scorer
can reach, worked out here state by state (`reachable_range`), only where every score is whole.
A rejection fails the test with the definition, since either the strategy or the checker is
wrong about what a valid definition is.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise, product
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

import screening
from screening.definition import MAX_VALUE

from .test_frames import assert_rows_match

SOURCE = "src"
COMPARISONS = ("eq", "ne", "gt", "gte", "lt", "lte", "in")
INT32 = 2**31  # the first number an int32 cannot hold

# Option values: each list is a neighbourhood where a bug can hide (negative values, gaps,
# the int8 and int16 edges the DataFrame path picks its dtypes by, the dense-table limit of
# 4096, and the format's bound).
VALUE_POOLS: tuple[tuple[int, ...], ...] = (
    (0, 1, 2, 3, 4, 5),
    (-3, -2, -1, 0, 1, 2, 3),
    (-10, -7, -5, -2, -1),
    (0, 1, 2, 5, 10, 50, 100, 1000),
    (-129, -128, -127, -100, -1, 0, 1, 100, 126, 127, 128, 255),
    (0, 1, 2, 17, 20, 4_096, 8_192, 16_384, 20_000, 32_767),
    (-MAX_VALUE, -500_000, -4097, -1, 0, 1, 4096, 4097, 500_000, MAX_VALUE - 1, MAX_VALUE),
    (-MAX_VALUE, -MAX_VALUE + 1, 0, MAX_VALUE - 1, MAX_VALUE),
)
MAGNITUDES = (
    *(1, 2, 10, 100, 127, 128, 1000, 4096, 16_384, 16_384, 20_000, 32_768),
    *(500_000, MAX_VALUE, MAX_VALUE),
)
MULTIPLIERS: tuple[int | float | None, ...] = (
    *(None, None, 1, 2, 4, 7, 1000, 1000),
    *(0.5, 2.5, 2.0, 0.1),
)


class Drawn(NamedTuple):
    """A definition as written, the instrument parsed from it, responses and context."""

    definition: dict[str, Any]
    instrument: screening.Instrument
    frame: pd.DataFrame
    context: dict[str, Any]

    def __repr__(self) -> str:  # what a failure report needs to reproduce it, as written
        columns = {c: self.frame[c].tolist() for c in self.frame.columns}
        dtypes = {c: str(t) for c, t in self.frame.dtypes.items()}
        return (
            f"Drawn(definition={json.dumps(self.definition)}, columns={columns!r}, "
            f"dtypes={dtypes!r}, index={self.frame.index.tolist()!r}, context={self.context!r})"
        )


# --- definitions --------------------------------------------------------------------------------


@st.composite
def option_values(draw: st.DrawFn, profile: Sequence[int] | None = None) -> list[int]:
    """2-6 distinct option values, in any order: from the definition's profile (so that the
    items of a scale share a neighbourhood but differ in range), a few small values times a
    magnitude (so that one scale mixes small and wide items), or from anywhere."""
    kind = draw(st.sampled_from(["profile", "profile", "scaled", "anywhere"]))
    if kind == "profile":
        pool = profile if profile is not None else draw(st.sampled_from(VALUE_POOLS))
        return draw(st.lists(st.sampled_from(pool), min_size=2, max_size=6, unique=True))
    if kind == "scaled":
        magnitude = draw(st.sampled_from(MAGNITUDES))
        base = draw(
            st.lists(st.sampled_from([0, 1, -1, 2, 3]), min_size=2, max_size=5, unique=True)
        )
        values = [b * magnitude for b in base if abs(b * magnitude) <= MAX_VALUE]
        return values if len(values) >= 2 else [0, magnitude]
    bound = st.integers(min_value=-MAX_VALUE, max_value=MAX_VALUE)
    return draw(st.lists(bound, min_size=2, max_size=6, unique=True))


def options(values: Sequence[int]) -> list[dict[str, Any]]:
    return [{"value": v, "label": f"o{i}"} for i, v in enumerate(values)]


def holds(comparison: Mapping[str, Any], value: float) -> bool:
    """Whether a comparison `{op: operand}` holds for a value (the condition language's)."""
    op, operand = next((k, v) for k, v in comparison.items() if k in COMPARISONS)
    if op == "in":
        return bool(value in operand)
    return bool(
        {
            "eq": value == operand,
            "ne": value != operand,
            "gt": value > operand,
            "gte": value >= operand,
            "lt": value < operand,
            "lte": value <= operand,
        }[op]
    )


@st.composite
def comparison(draw: st.DrawFn, scores: Sequence[int]) -> dict[str, Any]:
    """A comparison that holds for at least one of these scores (else `condition_never_holds`)."""
    op = draw(st.sampled_from(COMPARISONS))
    target = draw(st.sampled_from(sorted(scores)))
    operand: Any
    if op == "eq":
        operand = target
    elif op == "ne":
        operand = draw(st.sampled_from([target, target + 1, 0, 0.5]))
    elif op == "gt":
        operand = target - draw(st.sampled_from([1, 0.5, 1000, INT32]))
    elif op == "gte":
        operand = target - draw(st.sampled_from([0, 0.5, 1, INT32]))
    elif op == "lt":
        operand = target + draw(st.sampled_from([1, 0.5, 1000, INT32]))
    elif op == "lte":
        operand = target + draw(st.sampled_from([0, 0.5, 1, INT32]))
    else:
        extra = draw(st.lists(st.sampled_from([*scores, target + 0.5, 99, -1]), max_size=3))
        operand = list(dict.fromkeys([target, *extra]))
    return {op: operand}


def scale_operands(lo: float, hi: float) -> list[float]:
    middle = (lo + hi) / 2
    return [lo, hi, middle, int(middle), lo - 1, hi + 1, 0, 0.5, INT32 - 1, -INT32, INT32]


@st.composite
def condition(
    draw: st.DrawFn,
    items: Sequence[tuple[str, Sequence[int]]],
    scales: Mapping[str, tuple[float, float]],
    context: bool,
    depth: int = 0,
) -> dict[str, Any]:
    """A condition on these items, scales and the `sex` context variable (if declared)."""
    kinds = ["item", "item", "count"]
    if scales:
        kinds += ["scale", "scale"]
    if context:
        kinds.append("context")
    if depth < 2:
        kinds += ["any", "all", "not"]
    kind = draw(st.sampled_from(kinds))
    if kind == "item":
        item_id, scores = draw(st.sampled_from(items))
        return {"item": item_id, **draw(comparison(scores))}
    if kind == "count":
        chosen = draw(st.lists(st.sampled_from(items), min_size=1, max_size=4, unique_by=str))
        inner = draw(comparison(chosen[0][1]))
        counted = [i for i, scores in chosen if any(holds(inner, s) for s in scores)]
        op = draw(st.sampled_from(COMPARISONS))
        bound = st.integers(min_value=-1, max_value=len(counted) + 1)
        operand: Any = draw(st.lists(bound, min_size=1, max_size=3)) if op == "in" else draw(bound)
        return {"count": {"items": counted, **inner}, op: operand}
    if kind == "scale":
        name = draw(st.sampled_from(sorted(scales)))
        op = draw(st.sampled_from(COMPARISONS))
        if context and op != "in" and draw(st.integers(min_value=0, max_value=2)) == 0:
            return {"scale": name, op: {"context": "cut"}}  # a cut-point chosen per call
        candidates = st.sampled_from(scale_operands(*scales[name]))
        operand = draw(st.lists(candidates, min_size=1, max_size=3)) if op == "in" else None
        return {"scale": name, op: operand if operand is not None else draw(candidates)}
    if kind == "context":
        return draw(
            st.sampled_from(
                [
                    {"context": "sex", "eq": "female"},
                    {"context": "sex", "ne": "female"},
                    {"context": "sex", "in": ["male"]},
                    {"context": "sex", "in": ["female", "male"]},
                    {"context": "age", "gte": 12},
                    {"context": "age", "lt": 18.5},
                    {"context": "age", "eq": 12},
                    {"context": "age", "in": [0, 12, 120]},
                    {"context": "cut", "ne": 5},
                    {"context": "cut", "lte": 2},
                ]
            )
        )
    sub = condition(items, scales, context, depth + 1)
    if kind == "not":
        return {"not": draw(sub)}
    return {kind: draw(st.lists(sub, min_size=1, max_size=3))}


def reachable_range(  # noqa: PLR0917  (the rule's parts, as the scale states them)
    members: Sequence[str],
    scores: Mapping[str, Sequence[int]],
    optional: set[str],
    max_missing: int,
    half_up: bool,
    fill: int | None = None,
) -> tuple[float, float]:
    """The lowest and highest score the scorer can give a scale, before its multiplier, found
    by trying every item in every state it can be in: answered, missing, or (skip logic
    without `if_skipped`) skipped, which leaves it out of the sum and of the item count. With
    items of different ranges, proration reaches past the plain sum: items scoring 0-1 and
    0-100, one allowed missing, reach 200. Bands must cover exactly this range."""
    lows: list[float] = []
    highs: list[float] = []
    for states in product(("answered", "missing", "skipped"), repeat=len(members)):
        if any(s == "skipped" and i not in optional for s, i in zip(states, members, strict=True)):
            continue
        counted, missing = states.count("answered"), states.count("missing")
        if counted == 0 or missing > max_missing:
            continue  # unscored
        total = counted + missing
        for pick, found in ((min, lows), (max, highs)):
            answered = [
                pick(scores[i]) for s, i in zip(states, members, strict=True) if s == "answered"
            ]
            raw = sum(answered)
            if not missing:
                found.append(raw)
            elif fill is not None:  # each missing item counts the fill: no proration
                found.append(raw + fill * missing)
            elif half_up:
                found.append((2 * raw * total + counted) // (2 * counted))  # exact half up
            else:
                found.append(raw * total / counted)
    return min(lows), max(highs)  # every item answered is always a state


def half_up(value: Fraction, places: int) -> Fraction:
    """Rounded half up to `places` decimals, exactly."""
    q = 10**places
    return Fraction(math.floor(value * q + Fraction(1, 2)), q)


def final_range(
    scale: Mapping[str, Any], scores: Mapping[str, Sequence[int]], optional: set[str]
) -> tuple[Fraction, Fraction]:
    """The lowest and highest final score of a scale as the format states its steps: the sum
    (proration and its rounding) or the mean of the counted items, times the multiplier, a
    conversion table, rounding to decimals; found state by state like `reachable_range`."""
    rule = scale.get("missing") or {}
    factor = Fraction(repr(scale.get("multiplier") or 1))
    if "count" in scale:  # each item scores 1 where its score meets the test, else 0
        scores = {
            i: sorted({int(holds(scale["count"], v)) for v in scores[i]}) for i in scale["items"]
        }
    if scale.get("method") == "mean":
        means = []
        members = scale["items"]
        for states in product(("answered", "missing", "skipped"), repeat=len(members)):
            pairs = list(zip(states, members, strict=True))
            if any(s == "skipped" and i not in optional for s, i in pairs):
                continue
            counted, missing = states.count("answered"), states.count("missing")
            if counted == 0 or missing > rule.get("max_missing", 0):
                continue
            for pick in (min, max):
                total = sum(pick(scores[i]) for s, i in pairs if s == "answered")
                means.append(Fraction(total, counted))
        lo, hi = min(means) * factor, max(means) * factor
    else:
        low, high = reachable_range(
            scale["items"],
            scores,
            optional,
            rule.get("max_missing", 0),
            rule.get("rounding", "half_up") == "half_up",
            rule.get("fill"),
        )
        lo, hi = Fraction(repr(low)) * factor, Fraction(repr(high)) * factor
    lookup = scale.get("lookup")
    if lookup is not None:  # one table, or several chosen by context: whichever applies
        reached = []
        for one in lookup if isinstance(lookup, list) else [lookup]:
            table = {row["score"]: Fraction(repr(row["converted"])) for row in one["table"]}
            reached += [table[k] for k in range(int(lo), int(hi) + 1)]
        lo, hi = min(reached), max(reached)
    if scale.get("decimals") is not None:
        lo, hi = half_up(lo, scale["decimals"]), half_up(hi, scale["decimals"])
    return lo, hi


def written_range(
    scales: Mapping[str, Any],
    name: str,
    scores: Mapping[str, list[int]],
    optional: set[str],
) -> tuple[Fraction, Fraction]:
    """`final_range` of a written scale, through the scales a scale over scales lists."""
    written = scales[name]
    if "scales" not in written:
        return final_range(written, scores, optional)
    reach = [written_range(scales, part, scores, optional) for part in written["scales"]]
    if written.get("method") == "max":
        return max(r[0] for r in reach), max(r[1] for r in reach)
    return sum((r[0] for r in reach), Fraction(0)), sum((r[1] for r in reach), Fraction(0))


@st.composite
def decimal_bands(draw: st.DrawFn, lo: Fraction, hi: Fraction, places: int) -> list[dict[str, Any]]:
    """Contiguous bands from lo to hi at `places` decimals (edges one step apart)."""
    q = 10**places
    units = draw(bands(int(lo * q), int(hi * q)))
    return [{**b, "min": b["min"] / q, "max": b["max"] / q} for b in units]


@st.composite
def bands(draw: st.DrawFn, lo: int, hi: int) -> list[dict[str, Any]]:
    """Contiguous bands from lo to hi."""
    cuts = (
        draw(st.lists(st.integers(min_value=lo + 1, max_value=hi), max_size=3)) if hi > lo else []
    )
    edges = [lo, *sorted(set(cuts)), hi + 1]
    return [{"min": a, "max": b - 1, "label": f"b{i}"} for i, (a, b) in enumerate(pairwise(edges))]


@st.composite
def missing_rule(draw: st.DrawFn, n_items: int) -> dict[str, Any] | None:
    k = draw(st.integers(min_value=0, max_value=n_items - 1))
    if k == 0 and n_items > 1 and draw(st.integers(min_value=0, max_value=2)) > 0:
        k = draw(st.integers(min_value=1, max_value=n_items - 1))  # mostly prorating
    rounding = draw(st.sampled_from(["half_up", "half_up", "none"]))
    if k > 0 and draw(st.integers(min_value=0, max_value=4)) == 0:
        # a missing item counts a fixed score (PSC-17: a blank scores 0), not prorated
        return {"max_missing": k, "fill": draw(st.sampled_from([0, 0, 1, -2])), "source": SOURCE}
    if k > 0:
        return {"max_missing": k, "prorate": True, "rounding": rounding, "source": SOURCE}
    return draw(
        st.sampled_from(
            [None, {"max_missing": 0}, {"max_missing": 0, "prorate": True, "rounding": rounding}]
        )
    )


class Items(NamedTuple):
    items: list[dict[str, Any]]
    scores: dict[str, list[int]]
    """Each item's possible scores: its option values, or (lowest + highest) - value reversed
    (not always the same set: reversing 0, 1, 3 gives 3, 2, 0)."""
    skippable: set[str]
    """The items skip logic may leave without a score."""


@st.composite
def non_answer(draw: st.DrawFn, item: Mapping[str, Any], scores: list[int]) -> dict[str, Any]:
    """A non-answer option (declined, don't know, not applicable): scoring nothing, or one of
    the item's scores."""
    values = [o["value"] for o in item["options"]]
    option: dict[str, Any] = {
        "value": next(v for v in (99, -99, 98, MAX_VALUE) if v not in values),
        "label": "non-answer",
        "non_answer": draw(st.sampled_from(["declined", "dont_know", "not_applicable"])),
    }
    if draw(st.booleans()) and not item.get("reverse"):
        option["score"] = draw(st.sampled_from(scores))
    return option


def _recorded(item: Mapping[str, Any], option_sets: Mapping[str, list[int]]) -> list[int]:
    """The values an item's answers record (its options', or its numbers')."""
    if "number" in item:
        return list(range(item["number"]["min"], item["number"]["max"] + 1))
    if isinstance(item["options"], str):
        return list(option_sets[item["options"]])
    return [o["value"] for o in item["options"] if "non_answer" not in o]


@st.composite
def number_answer(draw: st.DrawFn) -> tuple[dict[str, Any], list[int]]:
    """A numeric answer's bounds (maybe recoding ranges; always, for a decimal answer) and the
    scores it can take."""
    decimals = draw(st.sampled_from([0, 0, 0, 1, 2]))
    step = 10**decimals
    low = draw(st.sampled_from([-3, 0, 0, 1])) * step + draw(st.sampled_from([0, 0, 3]))
    high = low + draw(st.integers(min_value=1, max_value=20 * step))

    def written(units: int) -> int | float:  # a bound as a YAML number: 6.5, never 6.500001
        return units if not decimals else units / step

    number: dict[str, Any] = {"min": written(low), "max": written(high)}
    if decimals:
        number["decimals"] = decimals
    elif not draw(st.booleans()):
        return number, list(range(low, high + 1))
    cut = draw(st.integers(min_value=low, max_value=high - 1))
    top = draw(st.sampled_from([1, 5, -2]))
    number["scores"] = [
        {"min": written(low), "max": written(cut), "score": 0},
        {"min": written(cut + 1), "max": written(high), "score": top},
    ]
    number["source"] = SOURCE
    return number, sorted([0, top])


def _choice_item(
    draw: st.DrawFn,
    item: dict[str, Any],
    option_sets: Mapping[str, list[int]],
    profile: Sequence[int] | None,
    out: Items,
) -> None:
    """An item's options (its own or a shared set), maybe reversed, stating scores, or with a
    non-answer."""
    item_id = item["id"]
    if draw(st.booleans()) and option_sets:
        item["options"] = draw(st.sampled_from(sorted(option_sets)))
        values = option_sets[item["options"]]
    else:
        values = draw(option_values(profile))
        item["options"] = options(values)
    out.scores[item_id] = sorted(values)
    if draw(st.booleans()):
        item["reverse"] = True
        out.scores[item_id] = sorted(min(values) + max(values) - v for v in values)
    elif not isinstance(item["options"], str) and draw(st.integers(0, 3)) == 0:
        # answers sharing scores: each option states one of the item's values as its score
        stated = [draw(st.sampled_from(values)) for _ in values]
        if len(set(stated)) == 1:  # at least two scores, as any item has
            stated[0] = next(v for v in values if v != stated[0])
        item["options"] = [
            {**option, "score": score}
            for option, score in zip(item["options"], stated, strict=True)
        ]
        out.scores[item_id] = sorted(stated)
    if not isinstance(item["options"], str) and draw(st.integers(0, 4)) == 0:
        item["options"] = [*item["options"], draw(non_answer(item, out.scores[item_id]))]


@st.composite
def item_list(
    draw: st.DrawFn,
    option_sets: Mapping[str, list[int]],
    profile: Sequence[int] | None,
    has_context: bool,
) -> Items:
    """1-6 items, with their own options or a shared set, some reversed, some asked only if."""
    out = Items([], {}, set())
    for index in range(draw(st.integers(min_value=1, max_value=6))):
        item_id = f"q{index + 1}"
        item: dict[str, Any] = {"id": item_id, "label": f"item {index + 1}"}
        if draw(st.integers(min_value=0, max_value=5)) == 0:
            # a whole number within bounds, scored as itself or recoded by ranges
            item["number"], out.scores[item_id] = draw(number_answer())
        else:
            _choice_item(draw, item, option_sets, profile, out)
        if index > 0 and draw(st.integers(min_value=0, max_value=3)) == 0:
            earlier = [(i["id"], out.scores[i["id"]]) for i in out.items]
            item["ask_if"] = draw(condition(earlier, {}, has_context))
            if draw(st.booleans()):
                item["if_skipped"] = draw(st.sampled_from(out.scores[item_id]))
            else:
                out.skippable.add(item_id)
            when_skipped = draw(st.sampled_from([None, "error", "score"]))
            if when_skipped is not None:
                item["answered_when_skipped"] = when_skipped
            decimal = "decimals" in item.get("number", {})  # its answers are not listed
            if when_skipped != "score" and not decimal and draw(st.integers(0, 2)) == 0:
                # answers that agree with the skip: accepted, the item stays skipped
                values = _recorded(item, option_sets)
                accepted = st.lists(st.sampled_from(values), min_size=1, max_size=2, unique=True)
                item["accept_when_skipped"] = draw(accepted)
        out.items.append(item)
    return out


@st.composite
def scale_of(
    draw: st.DrawFn, items: Items, context: bool = False
) -> tuple[dict[str, Any], tuple[float, float]]:
    """A scale over a subset of the items, and the range of scores it reaches."""
    ids = [i["id"] for i in items.items]
    members = draw(st.lists(st.sampled_from(ids), min_size=1, max_size=len(ids), unique=True))
    scale: dict[str, Any] = {"items": members, "source": SOURCE}
    rule = draw(missing_rule(len(members)))
    if rule is not None:
        scale["missing"] = rule
    rule = rule or {}
    if draw(st.integers(min_value=0, max_value=5)) == 0:
        # a count of the items whose score meets a test (each 1 or 0)
        scale["count"] = draw(comparison(sorted({v for i in members for v in items.scores[i]})))
    lo, hi = (
        float(x) for x in final_range({**scale, "multiplier": 1}, items.scores, items.skippable)
    )
    multiplier = draw(st.sampled_from(MULTIPLIERS))
    if draw(st.integers(min_value=0, max_value=2)) == 0:
        # the largest multiplier that keeps the range within int16 (or int32): a path that
        # sizes its integers by a narrower range than the scores reach overflows
        edge = draw(st.sampled_from([2**15 - 1, 2**31 - 1]))
        multiplier = max(1, min(1000, edge // max(int(abs(lo)), int(abs(hi)), 1)))
    if multiplier is not None:
        scale["multiplier"] = multiplier
    if draw(st.booleans()):
        scale["role"] = draw(st.sampled_from(["primary", "secondary"]))
    factor = 1 if multiplier is None else multiplier
    unrounded = rule.get("prorate") and rule.get("rounding") == "none"
    # a table reads whole numbers over a range it lists in full
    tabulable = isinstance(factor, int) and not unrounded and (hi - lo) * factor <= 300
    mean = [] if "fill" in rule else ["mean"]  # a missing item is left out of a mean
    kinds = ["sum", "sum", *mean, *(["lookup", "lookup"] if tabulable else [])]
    kind = draw(st.sampled_from(kinds))
    if kind != "sum":
        whole = (int(lo * factor), int(hi * factor))
        return draw(finished_scale(scale, items, kind, whole, context=context))
    if isinstance(factor, int) and not unrounded and draw(st.booleans()):
        # bands only where every score is whole, over exactly the range the scores reach
        edges = (int(lo) * factor, int(hi) * factor)
        if draw(st.booleans()):
            scale["bands"] = draw(bands(*edges))
        if draw(st.booleans()) or "bands" not in scale:
            scale["band_tables"] = draw(band_tables(edges, context))
    return scale, (lo * factor, hi * factor)


@st.composite
def finished_scale(
    draw: st.DrawFn,
    scale: dict[str, Any],
    items: Items,
    kind: str,
    whole: tuple[int, int],
    *,
    context: bool = False,
) -> tuple[dict[str, Any], tuple[float, float]]:
    """A scale made a mean or given a conversion table (or, with context, tables chosen by
    it) over the whole-number range it reaches, maybe rounded to decimals, with bands at that
    precision."""
    if kind == "mean":
        scale["method"] = "mean"
    else:
        converted = st.one_of(
            st.integers(min_value=-1000, max_value=1000),
            st.integers(min_value=-100_000, max_value=100_000).map(lambda k: k / 100),
        )
        tables = [
            {
                "source": SOURCE,
                "table": [
                    {"score": k, "converted": draw(converted)}
                    for k in range(whole[0], whole[1] + 1)
                ],
            }
            for _ in range(draw(st.integers(min_value=1, max_value=3)) if context else 1)
        ]
        if len(tables) > 1 or (context and draw(st.booleans())):
            for table in tables[:-1] if draw(st.booleans()) else tables:  # the last: maybe all
                table["when"] = draw(st.sampled_from(WHEN))
            scale["lookup"] = tables
        else:
            scale["lookup"] = tables[0]
    places = draw(st.sampled_from([None, 0, 1, 2, 3]))
    if places is not None:
        scale["decimals"] = places
    low, high = final_range(scale, items.scores, items.skippable)
    if places is not None and draw(st.booleans()):
        if draw(st.booleans()):
            scale["bands"] = draw(decimal_bands(low, high, places))
        if draw(st.booleans()) or "bands" not in scale:
            scale["band_tables"] = {
                "t0": {"bands": draw(decimal_bands(low, high, places)), "source": SOURCE}
            }
    return scale, (float(low), float(high))


WHEN = (
    {"context": "sex", "eq": "male"},
    {"context": "sex", "ne": "male"},
    {"context": "age", "gte": 18},
    {"not": {"context": "cut", "eq": 5}},
)


@st.composite
def band_tables(draw: st.DrawFn, edges: tuple[int, int], context: bool) -> dict[str, Any]:
    """1-3 alternative band tables over the scale's range, some chosen by context."""
    out: dict[str, Any] = {}
    for number in range(draw(st.integers(min_value=1, max_value=3))):
        table: dict[str, Any] = {"bands": draw(bands(*edges)), "source": SOURCE}
        if context and draw(st.booleans()):
            table["when"] = draw(st.sampled_from(WHEN))
        out[f"t{number}"] = table
    return out


@st.composite
def definitions(draw: st.DrawFn) -> dict[str, Any]:
    """A valid custom definition, as the dict a YAML file would hold."""
    has_context = draw(st.integers(min_value=0, max_value=4)) == 0
    n_sets = draw(st.integers(min_value=0, max_value=2))
    profile = draw(st.sampled_from([None, *VALUE_POOLS]))
    option_sets = {f"set{i}": draw(option_values(profile)) for i in range(n_sets)}
    items = draw(item_list(option_sets, profile, has_context))
    scales: dict[str, dict[str, Any]] = {}
    ranges: dict[str, tuple[float, float]] = {}
    for number in range(draw(st.integers(min_value=1, max_value=3))):
        scales[f"s{number}"], ranges[f"s{number}"] = draw(scale_of(items, has_context))
    whole = [name for name, scale in scales.items() if scores_whole_numbers(scale)]
    if whole and draw(st.integers(min_value=0, max_value=2)) == 0:
        scales["over"], ranges["over"] = draw(scale_over(whole, ranges))
    everything = [(i["id"], items.scores[i["id"]]) for i in items.items]
    flags = [
        {
            "id": f"f{number}",
            "severity": draw(st.sampled_from(["critical", "warning", "info"])),
            "when": draw(condition(everything, ranges, has_context)),
            "message": f"flag {number}",
            "source": SOURCE,
        }
        for number in range(draw(st.integers(min_value=0, max_value=3)))
    ]
    classifications: dict[str, dict[str, Any]] = {}
    for number in range(draw(st.integers(min_value=0, max_value=2))):
        labels = st.sampled_from(["low", "middle", "high"])
        rules = [
            {"label": draw(labels), "when": draw(condition(everything, ranges, has_context))}
            for _ in range(draw(st.integers(min_value=1, max_value=3)))
        ]
        otherwise = draw(st.sampled_from(["other", "low"]))
        classifications[f"c{number}"] = {"rules": rules, "otherwise": otherwise, "source": SOURCE}

    definition: dict[str, Any] = {
        "format_version": "1.1",
        "id": "gen",
        "name": "A generated instrument",
        "definition_version": "1.0.0",
        "construct": "testing",
        "license": {
            "status": "public-domain",
            "holder": "Nobody",
            "notice": "Free to use.",
            "redistribute_text": True,
        },
        "sources": {SOURCE: "Generated by a property test."},
        "items": items.items,
        "scales": scales,
        "flags": flags,
        "classifications": classifications,
    }
    if option_sets:
        definition["option_sets"] = {name: options(v) for name, v in option_sets.items()}
    if has_context:
        definition["context"] = draw(context_variables())
    if draw(st.integers(min_value=0, max_value=3)) == 0:
        definition["codings"] = draw(codings(option_sets, items.items))
    return definition


def scores_whole_numbers(scale: Mapping[str, Any]) -> bool:
    """Whether a generated scale scores whole numbers only (a sum, maybe prorated half up,
    times a whole multiplier)."""
    rule = scale.get("missing", {})
    unrounded = rule.get("prorate") and rule.get("rounding") == "none"
    finished = any(k in scale for k in ("method", "decimals", "lookup"))
    return not finished and not unrounded and isinstance(scale.get("multiplier", 1), int)


@st.composite
def scale_over(
    draw: st.DrawFn, names: list[str], ranges: Mapping[str, tuple[float, float]]
) -> tuple[dict[str, Any], tuple[float, float]]:
    """A scale over 1-3 of the scales before it: their sum or their highest score."""
    parts = draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True))
    lows, highs = [int(ranges[p][0]) for p in parts], [int(ranges[p][1]) for p in parts]
    scale: dict[str, Any] = {"scales": parts, "source": SOURCE}
    if draw(st.booleans()):
        scale["method"] = "max"
        lo, hi = max(lows), max(highs)
    else:
        lo, hi = sum(lows), sum(highs)
    if draw(st.booleans()):
        scale["role"] = draw(st.sampled_from(["primary", "secondary"]))
    if draw(st.booleans()):
        scale["bands"] = draw(bands(lo, hi))
    return scale, (lo, hi)


@st.composite
def codings(
    draw: st.DrawFn, option_sets: Mapping[str, list[int]], items: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """The default coding (the values as listed), one recoding some option sets and items (a
    shift, or the values in reverse order), and one recording scores."""
    lists = dict(option_sets) | {
        i["id"]: [o["value"] for o in i["options"]]
        for i in items
        if isinstance(i.get("options"), list)
    }
    values: dict[str, list[int]] = {}
    for key in draw(st.lists(st.sampled_from(sorted(lists)), unique=True)) if lists else []:
        shift = draw(st.sampled_from(["reverse", 1, -7]))
        listed = lists[key]
        values[key] = listed[::-1] if shift == "reverse" else [v + shift for v in listed]
    recoded: dict[str, Any] = {"label": "recoded", "values": values, "source": SOURCE}
    # numbers this coding records for a non-answer to any item (NHANES' 7 and 9), none of
    # them a number it records for an answer
    used = {v for key, listed in lists.items() for v in values.get(key, list(listed))}
    free = [v for v in (-9, 7, 9, 77, 99) if v not in used]
    kinds = st.sampled_from(["declined", "dont_know", "not_applicable"])
    chosen = draw(st.lists(st.sampled_from(free), unique=True, max_size=2)) if free else []
    if chosen:
        recoded["non_answers"] = [{"value": v, "kind": draw(kinds)} for v in chosen]
    return {
        "listed": {"label": "as listed", "default": True, "source": SOURCE},
        "recoded": recoded,
        "scores": {"label": "scores", "records": "score", "source": SOURCE},
    }


@st.composite
def context_variables(draw: st.DrawFn) -> dict[str, Any]:
    """A text variable, a bounded number and a cut-point of listed numbers, each with or without
    a default."""
    sex: dict[str, Any] = {"values": ["female", "male"], "required": draw(st.booleans())}
    age: dict[str, Any] = {"type": "number", "min": 0, "max": 120, "required": draw(st.booleans())}
    cut: dict[str, Any] = {"type": "number", "values": [2, 5, 10], "required": draw(st.booleans())}
    for var, default in ((sex, "female"), (age, 30), (cut, 5)):
        if draw(st.booleans()):
            var.update(default=default, source=SOURCE)
    return {"sex": sex, "age": age, "cut": cut}


def parse(definition: Mapping[str, Any]) -> screening.Instrument:
    """The definition through the checker, which must accept every one the strategy makes."""
    return _parse(json.dumps(definition))  # JSON is YAML 1.2


@functools.lru_cache(maxsize=512)
def _parse(text: str) -> screening.Instrument:
    """Parsed once per text: shrinking a failure redraws the same definition many times."""
    try:
        return screening.parse_instrument(text, "gen.yaml")
    except screening.DefinitionError as exc:  # a bug in the strategy, or in the checker
        raise AssertionError(f"generated definition rejected: {exc}\n{text}") from exc


# --- DataFrames ---------------------------------------------------------------------------------

ROW_MODES = {
    "clean": ("valid",),
    "gaps": ("valid", "valid", "valid", "missing"),
    # every answer at the item's highest (lowest) score, some missing: proration then reaches
    # the far ends of what the scorer can produce
    "high": ("top", "top", "missing"),
    "low": ("bottom", "bottom", "missing"),
    "messy": (
        "valid",
        "valid",
        "missing",
        "out_of_range",
        "fraction",
        "text",
        "boolean",
        "large",
    ),
}
INTEGER_COLUMNS = ("int64", "int32", "int16", "int8", "uint64", "uint32", "uint16", "uint8")
FLOAT_COLUMNS = ("float64", "float32", "Float64")
COLUMN_CELLS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(INTEGER_COLUMNS, ("valid", "out_of_range", "large")),
    **dict.fromkeys(FLOAT_COLUMNS, ("valid", "missing", "out_of_range", "fraction", "large")),
    "Int64": ("valid", "missing", "out_of_range", "large"),
    "object": ROW_MODES["messy"],
    "string": ("valid", "missing", "text"),
}
COLUMNS = st.sampled_from(
    [
        *("int64", "int64", "float64", "float64", "object", "object", "object", "Int64"),
        *("Float64", "string", "bool", "boolean", "absent"),
        *INTEGER_COLUMNS[1:],
        "float32",
    ]
)


def _cell(draw: st.DrawFn, kind: str, column: str, scores: Mapping[Any, int | None]) -> Any:
    """One cell of a kind; `scores` maps the item's option values to their scores (None: a
    non-answer that scores nothing)."""
    values = sorted(scores)
    v = draw(st.sampled_from([min(values), max(values), *values]))  # the extremes more often
    if kind in ("top", "bottom"):
        scored = {value: score for value, score in scores.items() if score is not None}
        v = (max if kind == "top" else min)(scored, key=lambda value: scored[value])
        kind = "valid"
    if kind == "valid":
        if column == "object":
            return draw(st.sampled_from([v, float(v), np.int64(v), np.float64(v)]))
        return str(v) if column == "string" else v
    if kind == "missing":
        if column == "object":
            return draw(st.sampled_from([None, np.nan, pd.NA]))
        return np.nan if column in ("float64", "float32") else pd.NA
    if kind == "out_of_range":
        gaps = [a + 1 for a, b in pairwise(sorted(values)) if b - a > 1]
        return draw(st.sampled_from([max(values) + 1, min(values) - 1, 99, 0, -1, *gaps]))
    if kind == "fraction":
        return v + draw(st.sampled_from([0.5, 0.25, -0.5]))
    if kind == "large":
        wrapping = [v + 2**8, v + 2**16, v + 2**32, v - 2**32, v + 2**64]
        infinite = [np.inf, -np.inf] if column in (*FLOAT_COLUMNS, "object") else []
        extremes = [2**40, -(2**40), INT32, -INT32 - 1, 2**63 - 1, -(2**63), 2**64 - 1]
        return draw(st.sampled_from([*extremes, *wrapping, *infinite]))
    if kind == "boolean":
        return draw(st.booleans())
    exotic = [Fraction(v), Fraction(1, 2), Decimal(v), np.int8(1), np.uint64(v % 2**63), 2**70]
    return draw(st.sampled_from([str(v), "x", "", *exotic]))  # text and other objects


def _fits(cells: Sequence[Any], dtype: str) -> bool:
    bounds = np.iinfo(dtype)
    return all(c is pd.NA or bounds.min <= c <= bounds.max for c in cells)


def _column(
    draw: st.DrawFn, column: str, modes: Sequence[str], scores: Mapping[Any, int | None]
) -> Any:
    """One item's column: cells of the kinds the row modes and the column's dtype allow."""
    if column in ("bool", "boolean"):
        choices = [*([pd.NA] if column == "boolean" else []), True, False]
        return pd.Series([draw(st.sampled_from(choices)) for _ in modes], dtype=column)
    cells: list[Any] = []
    for mode in modes:
        kind = draw(st.sampled_from(ROW_MODES[mode]))
        if kind not in (*COLUMN_CELLS[column], "top", "bottom"):
            kind = "valid"  # e.g. no blank in an integer column
        cells.append(_cell(draw, kind, column, scores))
    if column in (*INTEGER_COLUMNS, "Int64") and not _fits(cells, column.lower()):
        # a narrow column cannot hold these numbers
        column = "int64" if column != "Int64" and _fits(cells, "int64") else "object"
    return pd.Series(cells, dtype=object if column == "object" else column)


@st.composite
def custom_frames(draw: st.DrawFn) -> Drawn:
    """A generated definition, a DataFrame of responses to it, and per-row context."""
    definition = draw(definitions())
    inst = parse(definition)
    n = draw(st.integers(min_value=0, max_value=8))
    labels: dict[str, list[Any]] = {
        "text": [f"r{i}" for i in range(n)],
        "repeated": [i // 2 for i in range(n)],  # labels may repeat
        "descending": [10 * (n - i) for i in range(n)],
    }
    index = pd.Index(labels[draw(st.sampled_from(["text", "repeated", "descending"]))])
    modes = [
        draw(st.sampled_from(["clean", "gaps", "gaps", "high", "low", "messy"])) for _ in range(n)
    ]
    coding = draw(st.sampled_from([None, *inst.codings])) if inst.codings else None
    data: dict[str, pd.Series] = {}
    for item in inst.items:
        column = draw(COLUMNS)
        step = inst.answer_step(item, coding)
        if step != 1 and column in (*INTEGER_COLUMNS, "Int64"):
            column = "float64"  # decimal answers (whole ones: tests/test_format_decimal.py)
        if column != "absent":  # an absent column: the item is missing in every row
            recorded: dict[Any, int | None] = dict(inst.coded_scores(item, coding))
            if step != 1:  # the answers, not the units they are counted in (6.5, not 65)
                recorded = {units / step: score for units, score in recorded.items()}
            for value in inst.coded_non_answers(item, coding):
                recorded.setdefault(value, None)  # a non-answer that scores nothing
            data[item.id] = _column(draw, column, modes, recorded)
    df = pd.DataFrame(data, index=pd.RangeIndex(n))
    df.index = index
    context: dict[str, Any] = {}
    choices: dict[str, list[Any]] = {
        "sex": ["female", "male", "female", "male", None, pd.NA, "other"],
        "age": [0, 12, 17, 18.5, 120, "12", None, np.nan, -1, 121, "x", True],
        "cut": [2, 5, 10, 5.0, "10", None, 3, "five"],
    }
    for name in inst.context:
        values = st.sampled_from(choices[name])
        if draw(st.booleans()):
            context[name] = pd.Series([draw(values) for _ in range(n)], index=index, dtype=object)
        elif draw(st.booleans()):
            context[name] = draw(values)
    if coding is not None:
        context["coding"] = coding  # one name for every row
    return Drawn(definition, inst, df, context)


# --- the properties -----------------------------------------------------------------------------


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(custom_frames())
def test_every_row_equals_the_single_response_scorer_on_custom_definitions(
    drawn: Drawn,
) -> None:
    note(f"frame:\n{drawn.frame.to_string()}")
    assert_rows_match(drawn.instrument, drawn.frame, drawn.context)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(custom_frames())
def test_every_score_lies_in_its_reachable_range_and_band(drawn: Drawn) -> None:
    """The single-response scorer stays within the range worked out state by state (which the
    bands must cover exactly), and a score gets the band that holds it."""
    inst = drawn.instrument
    scores = {i.id: sorted(set(inst.item_scores(i).values())) for i in inst.items}
    optional = {i.id for i in inst.items if i.ask_if is not None and i.if_skipped is None}
    for position in range(len(drawn.frame)):
        responses = {c: drawn.frame[c].iloc[position] for c in drawn.frame.columns}
        context = {"sex": "female", "age": 30, "cut": 5} if inst.context else {}
        result = screening.score(inst, responses, on_error="invalid", **context)
        for name, scale in inst.scales.items():
            value = result.scales[name].score
            if value is None:
                continue
            lo, hi = written_range(drawn.definition["scales"], name, scores, optional)
            where = (responses, name, value)
            assert lo - 1e-9 <= value <= hi + 1e-9, where
            if scale.bands:
                holding = [b.label for b in scale.bands if b.min <= value <= b.max]
                assert holding == [result.scales[name].band], where
            for table_name, table in scale.band_tables.items():
                label = result.scales[name].bands[table_name]
                holding = [b.label for b in table.bands if b.min <= value <= b.max]
                assert label is None or [label] == holding, where
