"""Scale steps: each rule of a scale is one unit that answers every question about itself.

A scale is the sum of its items' scores (reverse scoring and a skipped item's score are in each
item's score table), the missing-data rule (how many items may be missing, proration and its
rounding), a multiplier and bands. Each step says how it scores one response (`row`), many at
once (`array`, numpy), what range it reaches (`bounds`), what it does in words (`words`, for the
docs pages and exported notes) and how FHIRPath and REDCap say it (`fhirpath`, `redcap`; None:
they cannot). The scorer, the DataFrame path, the checker, the docs generator and the
exporters read these units; the row scorer keeps a fused fast path for a complete response.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from typing import Any, NamedTuple

from .definition import Instrument, ItemCondition, Scale
from .facts import item_score_values
from .text import number

__all__ = [
    "BandTableStep",
    "Bands",
    "Missing",
    "Multiply",
    "ScaleSteps",
    "SumItems",
    "scale_range",
    "steps_of",
]

TIMES = "\u00d7"


class SumItems(NamedTuple):
    """The sum of the items' scores (reverse scoring and skip scores applied per item)."""

    items: tuple[str, ...]
    lows: tuple[int, ...]
    highs: tuple[int, ...]
    optional: tuple[bool, ...]
    """Whether skip logic can leave the item out with no score (no `if_skipped`)."""
    if_skipped: tuple[int | None, ...]
    reversed_: tuple[tuple[int, int] | None, ...]
    """(lowest, highest) option value of a reverse-scored item, else None."""
    gates: tuple[tuple[str, str, Any] | None, ...] = ()
    """For an item with a skip score: its gate as (item, comparison, operand) where the gate is
    one item comparison (FHIRPath can then tell a skipped question from an unanswered one)."""

    def words(self) -> str:
        return f"the sum of their scores ({len(self.items)} items)"

    def fhirpath(self) -> str:
        """The sum of the answers' weights (an itemWeight carries reverse scoring), plus the
        score of each skipped item that has one."""
        link_ids = " | ".join(f"'{i}'" for i in self.items)
        terms = [
            f"%resource.repeat(item).where(linkId in ({link_ids})).answer.value.weight().sum()"
        ]
        gates = self.gates or (None,) * len(self.items)
        for item_id, skipped, gate in zip(self.items, self.if_skipped, gates, strict=True):
            if not skipped:  # no skip score, or 0: adds nothing
                continue
            answered = f"{_answers(item_id)}.exists()"
            if gate is None:  # the gate cannot be read here: an unanswered item counts its score
                terms.append(f"iif({answered}, 0, {skipped})")
                continue
            weight = f"{_answers(gate[0])}.value.weight()"
            test = _FHIRPATH_TESTS[gate[1]](weight, gate[2])
            # skipped: the gate is answered and does not hold; unanswered otherwise is missing
            skipped_now = f"{weight}.exists() and ({test}).not()"
            terms.append(f"iif({answered}, 0, iif({skipped_now}, {skipped}, 0))")
        return " + ".join(terms)

    def redcap(self, shown_when: Sequence[str | None]) -> str:
        """`sum(...)` over the fields (REDCap stores option values): a reversed item as lowest +
        highest minus the answer, a skipped item's score where its branching can be said."""
        terms = []
        for item_id, flip, skipped, shown in zip(
            self.items, self.reversed_, self.if_skipped, shown_when, strict=True
        ):
            term = f"[{item_id}]" if flip is None else f"({flip[0] + flip[1]}-[{item_id}])"
            if skipped is not None and shown is not None:
                term = f"if({shown}, {term}, {skipped})"
            terms.append(term)
        return "sum(" + ", ".join(terms) + ")"


def _answers(item_id: str) -> str:
    return f"%resource.repeat(item).where(linkId = '{item_id}').answer"


_FHIRPATH_TESTS: dict[str, Any] = {
    "eq": lambda w, x: f"{w} = {x}",
    "ne": lambda w, x: f"{w} != {x}",
    "gt": lambda w, x: f"{w} > {x}",
    "gte": lambda w, x: f"{w} >= {x}",
    "lt": lambda w, x: f"{w} < {x}",
    "lte": lambda w, x: f"{w} <= {x}",
    "in": lambda w, x: f"{w} in ({' | '.join(str(v) for v in x)})",
}
"""A comparison of an item's score (its answer's weight) in FHIRPath."""


class Missing(NamedTuple):
    """The missing-data rule: at most `max_missing` items missing, the sum then prorated to
    the full item count (`raw * total / counted`), rounded half up exactly or not rounded."""

    max_missing: int
    half_up: bool

    def row(self, raw: int, total: int, counted: int) -> int | float:
        """The prorated sum of one response."""
        if self.half_up:  # exact half-up on the rational raw*total/counted, free of float error
            return (2 * raw * total + counted) // (2 * counted)
        return raw * total / counted

    def unrounded(self, raw: Any, total: Any, counted: Any) -> Any:
        """The prorated sum before rounding (reported beside the score)."""
        return raw * total / counted

    def array(self, raw: Any, total: Any, counted: Any) -> Any:
        """The prorated sums of many responses (int64 arrays in; int64 or float64 out)."""
        if self.half_up:
            return (2 * raw * total + counted) // (2 * counted)
        return raw * total / counted

    def bounds(self, sums: SumItems, highest: bool) -> int | float | None:
        """The highest (or lowest) prorated sum over every number of skipped and missing items,
        or None when nothing can be scored. For r skipped and k missing items the extreme leaves
        out the r skippable items that add least (most, for the lowest) and then the k such
        items of the rest: no other choice does better (an exchange argument)."""
        bounds = sums.highs if highest else sums.lows
        n = len(bounds)
        sign = 1 if highest else -1
        order = sorted(range(n), key=lambda i: sign * bounds[i])
        skippable = [i for i in order if sums.optional[i]]
        everything = sum(bounds)
        best: int | float | None = None
        for r in range(len(skippable) + 1):
            left_out = set(skippable[:r])
            remaining = [i for i in order if i not in left_out]
            total = n - r
            raw = everything - sum(bounds[i] for i in left_out)
            for k in range(min(self.max_missing, total - 1) + 1):
                if k:
                    raw -= bounds[remaining[k - 1]]
                value = raw if k == 0 else self.row(raw, total, total - k)
                if best is None or sign * value > sign * best:
                    best = value
        return best

    def words(self, items: int) -> str:
        if self.max_missing == 0:
            return "every item is required"
        rounding = "rounded half up" if self.half_up else "not rounded"
        return (
            f"up to {self.max_missing} of {items} items may be missing; the sum of the answered "
            f"items is prorated to the full item count (sum {TIMES} {items} ÷ answered), "
            f"{rounding}"
        )

    def brief(self) -> str:
        """The rule in a few words, for notes in exported forms."""
        if self.max_missing == 0:
            return "every item is required"
        return f"at most {self.max_missing} item(s) missing, prorated"

    def fhirpath(self, expr: str) -> str | None:
        return expr if self.max_missing == 0 else None  # proration: cannot be said there

    def redcap(self, expr: str) -> str | None:
        return expr if self.max_missing == 0 else None


class Multiply(NamedTuple):
    """A factor applied after summing and proration (DASS-21 times 2, WHO-5 percentage times 4)."""

    factor: int | float

    def row(self, x: Any) -> Any:
        return x * self.factor

    def array(self, x: Any) -> Any:
        return x * self.factor if self.factor != 1 else x

    def bounds(self, lo: float, hi: float) -> tuple[float, float]:
        return lo * self.factor, hi * self.factor  # the factor is positive (checked)

    def words(self) -> str:
        return f"{TIMES} {number(self.factor)}" if self.factor != 1 else ""

    def fhirpath(self, expr: str) -> str:
        return f"({expr}) * {number(self.factor)}" if self.factor != 1 else expr

    def redcap(self, expr: str) -> str:
        return f"{expr}*{number(self.factor)}" if self.factor != 1 else expr


class Bands(NamedTuple):
    """Contiguous score ranges with labels, lowest first."""

    mins: tuple[int, ...]
    maxes: tuple[int, ...]
    labels: tuple[str, ...]

    def row(self, score: float) -> str:
        return self.labels[bisect_right(self.mins, score) - 1]

    def array(self, scores: Any) -> Any:
        """Band codes (0 = the first band) of whole scores within the range."""
        import numpy as np

        return np.searchsorted(np.asarray(self.mins), scores, side="right") - 1

    def words(self) -> list[tuple[str, str]]:
        return [(f"{lo}-{hi}", label) for lo, hi, label in zip(*self, strict=True)]

    def fhirpath(self, expr: str) -> None:
        return None  # an exported form shows the score; the band is the scorer's

    def redcap(self, expr: str) -> None:
        return None


class BandTableStep(NamedTuple):
    """An alternative band table: its name, its bands and where it applies (a condition on
    context, or everywhere)."""

    name: str
    bands: Bands
    when: Any = None
    """The condition model, or None: it applies everywhere."""
    label: str | None = None

    def words(self) -> str:
        """Where it applies, in words."""
        from .rules import describe

        return "everywhere" if self.when is None else f"when {describe(self.when)}"

    def fhirpath(self, expr: str) -> None:
        return None  # like the default bands: the scorer's, noted in an exported form

    def redcap(self, expr: str) -> None:
        return None


class ScaleSteps(NamedTuple):
    """Every step of one scale, in order."""

    sum: SumItems
    missing: Missing
    multiply: Multiply
    bands: Bands | None
    tables: tuple[BandTableStep, ...] = ()
    """The alternative band tables, in order."""

    def bounds(self) -> tuple[float, float] | None:
        """The lowest and highest final score the scale can reach, proration and skips
        included, or None when nothing can be scored."""
        top = self.missing.bounds(self.sum, highest=True)
        bottom = self.missing.bounds(self.sum, highest=False)
        if top is None or bottom is None:
            return None
        return self.multiply.bounds(bottom, top)

    def fhirpath(self) -> str:
        """The score as a form can compute it: the weights' sum, times the multiplier (the
        missing-data rule and the bands are left to the scorer, and a note says so)."""
        return self.multiply.fhirpath(self.sum.fhirpath())

    def redcap(self, shown_when: Sequence[str | None]) -> str:
        return self.multiply.redcap(self.sum.redcap(shown_when))


def steps_of(inst: Instrument, scale: Scale) -> ScaleSteps | None:
    """The steps of a scale, or None when an item it lists is not defined."""
    lows, highs, optional, skipped, flips = [], [], [], [], []
    gates: list[tuple[str, str, Any] | None] = []
    for item_id in scale.items:
        values = item_score_values(inst, item_id)
        item = inst.item_by_id(item_id)
        if not values or item is None:
            return None
        lows.append(values[0])
        highs.append(values[-1])
        optional.append(item.ask_if is not None and item.if_skipped is None)
        skipped.append(item.if_skipped if item.ask_if is not None else None)
        options = [o.value for o in inst.item_options(item)]
        flips.append((min(options), max(options)) if item.reverse else None)
        gate = item.ask_if
        gates.append(
            (gate.item, gate.op, gate.operand) if isinstance(gate, ItemCondition) else None
        )
    bands = _bands(scale.bands) if scale.bands else None
    tables = tuple(
        BandTableStep(name, _bands(table.bands), table.when, table.label)
        for name, table in scale.band_tables.items()
    )
    return ScaleSteps(
        SumItems(
            tuple(scale.items),
            tuple(lows),
            tuple(highs),
            tuple(optional),
            tuple(skipped),
            tuple(flips),
            tuple(gates),
        ),
        Missing(scale.missing.max_missing, scale.missing.rounding == "half_up"),
        Multiply(scale.multiplier),
        bands,
        tables,
    )


def _bands(bands: Sequence[Any]) -> Bands:
    return Bands(
        tuple(b.min for b in bands), tuple(b.max for b in bands), tuple(b.label for b in bands)
    )


def scale_range(inst: Instrument, scale: Scale) -> tuple[float, float] | None:
    """The lowest and highest final score a scale can reach (proration included), or None if
    an item is unresolved."""
    steps = steps_of(inst, scale)
    return None if steps is None else steps.bounds()
