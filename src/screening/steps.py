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
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any, NamedTuple

from .definition import Instrument, ItemCondition, Scale
from .facts import item_score_values, scale_is_integral
from .rules import COMPARE, describe, describe_comparison
from .text import at_places, number

__all__ = [
    "BandTableStep",
    "Bands",
    "Combine",
    "Decimals",
    "Lookup",
    "Mean",
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
    reversed_: tuple[tuple[float, float] | None, ...]
    """(lowest, highest) option value of a reverse-scored item, else None."""
    gates: tuple[tuple[str, str, Any] | None, ...] = ()
    """For an item with a skip score: its gate as (item, comparison, operand) where the gate is
    one item comparison (FHIRPath can then tell a skipped question from an unanswered one)."""
    recodes: tuple[tuple[tuple[int, int], ...] | None, ...] = ()
    """For an item whose options state their scores (several answers sharing one score): its
    (value, score) pairs, else None."""
    ranges: tuple[tuple[tuple[float, float, int], ...] | None, ...] = ()
    """For a numeric item: its recoding ranges (lowest, highest, score), () when the score is
    the number; None for an item with options."""

    def words(self) -> str:
        return f"the sum of their scores ({len(self.items)} items)"

    def fhirpath(self) -> str:
        """The sum of the answers' weights, with the score of each skipped item that has one
        (0 included: a form whose every item was skipped scores 0, not nothing). One
        collection is summed, so an empty one (nothing answered) stays empty: unscored."""
        link_ids = " | ".join(f"'{i}'" for i in self.items)
        expr = f"%resource.repeat(item).where(linkId in ({link_ids})).answer.value.weight()"
        gates = self.gates or (None,) * len(self.items)
        for item_id, skipped, gate in zip(self.items, self.if_skipped, gates, strict=True):
            if skipped is None:
                continue
            answered = f"{_answers(item_id)}.exists()"
            if gate is None:  # the gate cannot be read here: an unanswered item counts its score
                expr += f".combine(iif({answered}, {{}}, {skipped}))"
                continue
            weight = f"{_answers(gate[0])}.value.weight()"
            test = _FHIRPATH_TESTS[gate[1]](weight, gate[2])
            # skipped: the gate is answered and does not hold; unanswered otherwise is missing
            skipped_now = f"{weight}.exists() and ({test}).not()"
            expr += f".combine(iif({answered}, {{}}, iif({skipped_now}, {skipped}, {{}})))"
        return f"{expr}.sum()"

    def redcap(self, shown_when: Sequence[str | None], count: Count | None = None) -> str:
        """`sum(...)` over the fields (REDCap stores option values): a reversed item as lowest +
        highest minus the answer, a skipped item's score where its branching can be said."""
        terms: list[str] = []
        recodes = self.recodes or (None,) * len(self.items)
        for item_id, flip, skipped, shown, recode in zip(
            self.items, self.reversed_, self.if_skipped, shown_when, recodes, strict=True
        ):
            if flip is None:
                term = f"[{item_id}]"
            else:  # the ends added exactly: 0.1 + 10.2 is 10.3 here
                ends = _plain(exact_factor(flip[0]) + exact_factor(flip[1]))
                term = f"({number(ends)}-[{item_id}])"
            ranged = self.ranges[len(terms)] if self.ranges else None
            if ranged:  # a numeric answer recoded by ranges
                term = "''"
                for low, high, points in reversed(ranged):
                    term = f"if([{item_id}]>={low} and [{item_id}]<={high}, {points}, {term})"
            elif recode is not None:  # the stated scores, one answer at a time
                term = "''"
                for value, points in reversed(recode):
                    term = f"if([{item_id}]='{value}', {points}, {term})"
            if count is not None:  # the item counts 1 where its score meets the test
                term = count.redcap(term)
            if skipped is not None and shown is not None:
                term = f"if({shown}, {term}, {skipped})"
            terms.append(term)
        return "sum(" + ", ".join(terms) + ")"

    def redcap_mean(self, shown_when: Sequence[str | None], count: Count | None = None) -> str:
        """REDCap's `mean(...)` over the same terms: blank fields are left out, as here."""
        return "mean(" + self.redcap(shown_when, count)[len("sum(") :]


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
    fill: int | None = None
    """The score a missing item counts instead (no proration), where the source says so."""

    def row(self, raw: int, total: int, counted: int) -> int | float:
        """The prorated sum of one response (or the sum with each missing item filled)."""
        if self.fill is not None:
            return raw + self.fill * (total - counted)
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

    def bounds(
        self, sums: SumItems, highest: bool, mean: bool = False
    ) -> int | float | Fraction | None:
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
        best: int | float | Fraction | None = None
        for r in range(len(skippable) + 1):
            left_out = set(skippable[:r])
            remaining = [i for i in order if i not in left_out]
            total = n - r
            raw = everything - sum(bounds[i] for i in left_out)
            for k in range(min(self.max_missing, total - 1) + 1):
                if k:
                    raw -= bounds[remaining[k - 1]]
                value: int | float | Fraction
                if mean:  # the mean of the counted items, exactly
                    value = Fraction(raw, total - k)
                elif self.fill is not None:  # the k items left out each count the fill
                    value = raw + self.fill * k
                else:
                    value = raw if k == 0 else self.row(raw, total, total - k)
                if best is None or sign * value > sign * best:
                    best = value
        return best

    def words(self, items: int) -> str:
        if self.max_missing == 0:
            return "every item is required"
        if self.fill is not None:
            return (
                f"up to {self.max_missing} of {items} items may be missing; each missing item "
                f"scores {self.fill} (no proration)"
            )
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
        if self.fill is not None:
            return f"at most {self.max_missing} item(s) missing, each scoring {self.fill}"
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

    def bounds(self, lo: Any, hi: Any) -> tuple[float, float]:
        return lo * self.factor, hi * self.factor  # the factor is positive (checked)

    def words(self) -> str:
        return f"{TIMES} {number(self.factor)}" if self.factor != 1 else ""

    def fhirpath(self, expr: str) -> str:
        return f"({expr}) * {number(self.factor)}" if self.factor != 1 else expr

    def redcap(self, expr: str) -> str:
        return f"{expr}*{number(self.factor)}" if self.factor != 1 else expr


class Count(NamedTuple):
    """A count of the items whose score meets a comparison: each such item scores 1, any
    other 0, before the sum (and the missing-data rule) as usual."""

    op: str
    operand: Any

    def point(self, score: int) -> int:
        """1 where the score meets the comparison, else 0."""
        if self.op == "in":
            return int(score in self.operand)
        return int(COMPARE[self.op](score, self.operand))

    def array(self, scores: Any, known: Any) -> Any:
        """1 where a known score meets the comparison (int8), else 0."""
        import numpy as np

        hits: Any = (
            np.isin(scores, self.operand)
            if self.op == "in"
            else COMPARE[self.op](scores, self.operand)
        )
        return (hits & known).astype(np.int8)

    def words(self) -> str:
        return f"the number of items whose {describe_comparison('score', self.op, self.operand)}"

    def redcap(self, term: str) -> str:
        if self.op == "in":
            test = " or ".join(f"({term}) = {v}" for v in self.operand)
        else:
            test = f"({term}) {REDCAP_OPERATORS[self.op]} {self.operand}"
        return f"if({test}, 1, 0)"


class Combine(NamedTuple):
    """A scale over scales: the sum or the highest of their final scores (whole numbers), where
    every one of them is scored."""

    scales: tuple[str, ...]
    method: str  # "sum" or "max"
    lows: tuple[int, ...]
    highs: tuple[int, ...]

    def row(self, scores: Sequence[int]) -> int:
        return sum(scores) if self.method == "sum" else max(scores)

    def array(self, finals: Sequence[Any], dtype: Any) -> Any:
        import numpy as np

        out = finals[0].astype(dtype)  # a copy, wide enough for the scale's range
        for final in finals[1:]:
            if self.method == "sum":
                out += final
            else:
                np.maximum(out, final, out=out)
        return out

    def bounds(self) -> tuple[int, int]:
        if self.method == "sum":
            return sum(self.lows), sum(self.highs)
        return max(self.lows), max(self.highs)

    def words(self) -> str:
        what = "the sum" if self.method == "sum" else "the highest"
        return f"{what} of the scores of scales {', '.join(self.scales)}"

    def redcap(self, fields: Sequence[str]) -> str:
        return f"{self.method}({', '.join(f'[{f}]' for f in fields)})"


REDCAP_OPERATORS = {"eq": "=", "ne": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
"""The condition language's comparisons in REDCap's calculations and branching logic."""


class Mean(NamedTuple):
    """The mean of the counted items' scores (method `mean`): a missing item is left out of it,
    which is proration's mean of the counted items standing in for the missing ones."""

    def exact(self, raw: int, counted: int) -> Fraction:
        return Fraction(raw, counted)

    def words(self) -> str:
        return "the mean of the counted items' scores (a missing item is left out of the mean)"

    def fhirpath(self, expr: str, items: int) -> str:
        return f"({expr}) / {items}"  # every item required: see ScaleSteps.fhirpath


def exact_factor(factor: float | Fraction) -> Fraction:
    """A number as the author wrote it: `0.1` is one tenth, not the nearest binary float."""
    return Fraction(repr(factor)) if isinstance(factor, float) else Fraction(factor)


class Decimals(NamedTuple):
    """The final score rounded half up to `places` decimal places, exactly on the fraction
    (3.165 rounds to 3.17, never 3.16 through floating-point error)."""

    places: int

    def row(self, exact: Fraction) -> int | float:
        q = 10**self.places
        whole = (2 * exact.numerator * q + exact.denominator) // (2 * exact.denominator)
        return int(whole) if self.places == 0 else whole / q

    def array(self, num: Any, den: Any) -> Any:
        """The rounded scores of many responses given as fractions num / den (int arrays)."""
        q = 10**self.places
        whole = (2 * num * q + den) // (2 * den)
        return whole if self.places == 0 else whole / q

    def words(self) -> str:
        if self.places == 0:
            return "rounded half up to a whole number"
        return f"rounded half up to {self.places} decimal place{'s' if self.places > 1 else ''}"

    def fhirpath(self, expr: str) -> None:
        return None  # FHIRPath's round() works on binary floats: not exact at halves

    def redcap(self, expr: str) -> str:
        return f"round({expr}, {self.places})"


class Lookup(NamedTuple):
    """A published conversion table: whole-number score → converted score (SWEMWBS raw →
    metric)."""

    table: Mapping[int, int | float]
    label: str | None = None
    when: Any = None
    """Where the table applies (a context condition of the definition), or None: everywhere."""

    def row(self, score: int) -> int | float:
        return self.table[score]

    def array(self, scores: Any, lo: int, hi: int) -> Any:
        """The converted scores of whole-number scores within lo..hi (others: 0, unscored)."""
        import numpy as np

        values = np.array([self.table[s] for s in range(lo, hi + 1)])
        at = np.clip(scores - lo, 0, hi - lo)
        return values[at]

    def bounds(self, lo: float, hi: float) -> tuple[float, float]:
        reached = [self.table[s] for s in range(int(lo), int(hi) + 1) if s in self.table]
        return (min(reached), max(reached)) if reached else (lo, hi)

    def words(self) -> str:
        what = self.label or "the converted score"
        return f"converted to {what} by the published table ({len(self.table)} entries)"

    def fhirpath(self, expr: str) -> None:
        return None  # a form does not carry the table: the scorer's, and a note says so

    def redcap(self, expr: str) -> None:
        return None


def _plain(value: Fraction) -> int | float:
    return int(value) if value.denominator == 1 else float(value)


class Bands(NamedTuple):
    """Contiguous score ranges with labels, lowest first."""

    mins: tuple[float, ...]
    maxes: tuple[float, ...]
    labels: tuple[str, ...]
    places: int = 0
    """The decimal places the edges are written at (the scale's `decimals`)."""

    def row(self, score: float) -> str:
        return self.labels[bisect_right(self.mins, score) - 1]

    def array(self, scores: Any) -> Any:
        """Band codes (0 = the first band) of whole scores within the range."""
        import numpy as np

        return np.searchsorted(np.asarray(self.mins), scores, side="right") - 1

    def words(self) -> list[tuple[str, str]]:
        return [
            (f"{self.edge(lo)}-{self.edge(hi)}", label)
            for lo, hi, label in zip(self.mins, self.maxes, self.labels, strict=True)
        ]

    def edge(self, value: float) -> str:
        """An edge as written: `3.00` at two places, `4` for whole numbers."""
        return at_places(value, self.places)

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
        return "everywhere" if self.when is None else f"when {describe(self.when)}"

    def fhirpath(self, expr: str) -> None:
        return None  # like the default bands: the scorer's, noted in an exported form

    def redcap(self, expr: str) -> None:
        return None


class ScaleSteps(NamedTuple):
    """Every step of one scale, in order: the sum (or the mean) of the items' scores, the
    missing-data rule, the multiplier, a lookup table, rounding to decimals, the bands."""

    sum: SumItems
    missing: Missing
    multiply: Multiply
    bands: Bands | None
    tables: tuple[BandTableStep, ...] = ()
    """The alternative band tables, in order."""
    mean: Mean | None = None
    lookup: Lookup | None = None
    decimals: Decimals | None = None
    counting: Count | None = None
    """The scale counts its items meeting a test (`count` in the definition)."""
    whole: bool = True
    """Whether every final score is a whole number (`facts.scale_is_integral`)."""
    lookups: tuple[Lookup, ...] = ()
    """Conversion tables chosen by context, in order (then `lookup` is None): the scorer
    finishes a response with `chosen(i)`, the steps of the table that applies to it."""
    combine: Combine | None = None
    """A scale over scales: no items of its own (the sum step is empty)."""
    unit: int = 1
    """Units per whole number of the items' scores: 10 where they are decimal answers to one
    place scored as themselves (read as tenths, `NumberAnswer.step`); the score divides by it,
    exactly."""

    @property
    def plain(self) -> bool:
        """A sum, prorated and multiplied: the fused fast paths apply."""
        return (
            self.mean is None
            and self.lookup is None
            and not self.lookups
            and self.combine is None
            and self.decimals is None
            and self.missing.fill is None
            and self.counting is None
            and self.unit == 1
        )

    def chosen(self, index: int) -> ScaleSteps:
        """The steps with the `index`-th of the tables chosen by context as their lookup."""
        return self._replace(lookup=self.lookups[index], lookups=())

    def exact(self, raw: int, counted: int, missing: int) -> Fraction:
        """The score of one response before any lookup and rounding, as an exact fraction."""
        if self.mean is not None:
            value = self.mean.exact(raw, counted)
        elif missing == 0:
            value = Fraction(raw)
        elif self.missing.fill is not None:
            value = Fraction(raw + self.missing.fill * missing)
        elif self.missing.half_up:
            value = Fraction(self.missing.row(raw, counted + missing, counted))
        else:
            value = Fraction(raw * (counted + missing), counted)
        return value * exact_factor(self.multiply.factor) / self.unit

    def unrounded(self, raw: Any, total: Any, counted: Any) -> Any:
        """The prorated score before rounding, reported beside it: the same float steps for
        one response (Python numbers) and many (arrays)."""
        value = self.multiply.array(self.missing.unrounded(raw, total, counted))
        return value / self.unit if self.unit != 1 else value

    def finish(self, exact: Fraction) -> int | float:
        """The final score from the exact one: looked up, then rounded to its decimals."""
        if self.lookup is not None:
            exact = exact_factor(self.lookup.row(int(exact)))
        if self.decimals is not None:
            return self.decimals.row(exact)
        return int(exact) if self.whole else float(exact)

    def finish_array(self, raw: Any, counted: Any, missing: Any) -> tuple[Any, Any]:
        """`exact` then `finish` over many responses (int arrays; a row that counts nothing
        is to be marked unscored by the caller): the final scores, and the scores before a
        lookup and rounding (float64)."""
        import numpy as np

        assert not self.lookups  # the caller finishes with the table chosen: `chosen(i)`
        factor = exact_factor(self.multiply.factor) / self.unit
        places = self.decimals.places if self.decimals is not None else 0
        widest = len(self.sum.items) * sum(
            max(abs(lo), abs(hi)) for lo, hi in zip(self.sum.lows, self.sum.highs, strict=True)
        )
        # exact integers on the way: int64 where they fit, Python's own integers otherwise
        wide = widest * 2 * 10**places * factor.numerator * factor.denominator >= 2**62
        kind: Any = object if wide else np.int64
        raw = raw.astype(kind)
        counted = np.maximum(counted.astype(kind), 1)
        missing = missing.astype(kind)
        if self.mean is not None:
            num, den = raw, counted
        elif self.missing.fill is not None:
            num, den = raw + self.missing.fill * missing, np.ones_like(raw)
        elif self.missing.half_up:
            num = np.where(missing > 0, self.missing.array(raw, counted + missing, counted), raw)
            den = np.ones_like(raw)
        else:
            num, den = raw * (counted + missing), counted
        num, den = num * factor.numerator, den * factor.denominator
        before = (num / den).astype(np.float64)
        if self.lookup is not None:
            reach = self.before_lookup()
            assert reach is not None  # a scale with a lookup scores something
            table = self.lookup
            if self.decimals is not None:  # each entry rounded once, exactly
                rounding = self.decimals
                table = table._replace(
                    table={k: rounding.row(exact_factor(v)) for k, v in table.table.items()}
                )
            whole = (num // den).astype(np.int64)
            return table.array(whole, int(reach[0]), int(reach[1])), before
        if self.decimals is not None:
            rounded = self.decimals.array(num, den)
            return rounded.astype(np.int64 if places == 0 else np.float64), before
        if self.whole:  # a fill of a sum times a whole number: whole numbers
            return (num // den).astype(np.int64), before
        return before, before

    def bounds(self) -> tuple[float, float] | None:
        """The lowest and highest final score the scale can reach, proration and skips
        included, or None when nothing can be scored."""
        if self.combine is not None:
            return self.combine.bounds()
        mean = self.mean is not None
        top = self.missing.bounds(self.sum, highest=True, mean=mean)
        bottom = self.missing.bounds(self.sum, highest=False, mean=mean)
        if top is None or bottom is None:
            return None
        if self.lookups:  # whichever table applies
            reached = [self.chosen(i).bounds() for i in range(len(self.lookups))]
            return min(r[0] for r in reached if r), max(r[1] for r in reached if r)
        factor = exact_factor(self.multiply.factor) / self.unit
        low, high = exact_factor(bottom) * factor, exact_factor(top) * factor
        if self.lookup is not None:
            found = self.lookup.bounds(int(low), int(high))
            low, high = exact_factor(found[0]), exact_factor(found[1])
        if self.decimals is not None:  # rounding is monotonic: the extremes round alike
            return self.decimals.row(low), self.decimals.row(high)
        if self.mean is None and self.lookup is None and self.unit == 1:
            return self.multiply.bounds(bottom, top)  # as before: the factor's own arithmetic
        return _plain(low), _plain(high)

    def before_lookup(self) -> tuple[float, float] | None:
        """The range the lookup table reads (the score before it), or None."""
        top = self.missing.bounds(self.sum, highest=True)
        bottom = self.missing.bounds(self.sum, highest=False)
        if top is None or bottom is None:
            return None
        return self.multiply.bounds(bottom, top)

    def missing_brief(self) -> str:
        """The missing-data rule in a few words, for notes in exported forms."""
        if self.combine is not None:
            return "each scale listed under its own; scored only where every one of them is"
        if self.mean is not None and self.missing.max_missing:
            return f"at most {self.missing.max_missing} item(s) missing, left out of the mean"
        return self.missing.brief()

    def words(self) -> list[str]:
        """The steps after the sum, in words (empty for a plain sum)."""
        if self.combine is not None:
            return [self.combine.words()]
        out = [self.counting.words()] if self.counting is not None else []
        if self.mean is not None:
            out.append(self.mean.words())
        if self.multiply.factor != 1:
            out.append(f"multiplied by {number(self.multiply.factor)}")
        if self.lookup is not None or self.lookups:
            out.append(self.lookup_words())
        if self.decimals is not None:
            out.append(self.decimals.words())
        return out

    def lookup_words(self) -> str:
        """The conversion table (or tables chosen by context), in words."""
        if self.lookup is not None:
            return self.lookup.words()
        what = self.lookups[0].label or "the converted score"
        many = len(self.lookups) > 1
        return (
            f"converted to {what} by the published table for its context "
            f"({len(self.lookups)} table{'s' if many else ''}, chosen by context)"
        )

    def unexpressed(self) -> list[str]:
        """Why a form cannot compute the score, in words (empty: it can)."""
        if self.combine is not None:
            return [self.combine.words()]
        why = []
        if self.mean is not None and self.missing.max_missing:
            why.append("the mean of the answered items")
        if self.lookup is not None or self.lookups:
            why.append(self.lookup_words())
        if self.decimals is not None:
            why.append(self.decimals.words() + ", exactly")
        if self.missing.fill:
            why.append(f"a missing item scoring {self.missing.fill}")
        if any(r is not None for r in self.sum.ranges):
            why.append("a numeric answer, which has no weight to sum")
        if self.counting is not None:
            why.append(self.counting.words())
        return why

    def fhirpath(self) -> str | None:
        """The score as a form can compute it: the weights' sum (or their mean over every
        item), times the multiplier; None where a form cannot (a lookup table, exact
        rounding). The missing-data rule and the bands are left to the scorer, and a note says
        so."""
        if self.lookup is not None or self.lookups or self.decimals is not None:
            return None
        if self.combine is not None:  # other scales' scores: the scorer's
            return None
        if self.missing.fill:  # a missing item counts a score the form does not add
            return None
        if any(r is not None for r in self.sum.ranges):  # a number has no weight to sum
            return None
        if self.counting is not None:  # a form sums weights, not items meeting a test
            return None
        expr = self.sum.fhirpath()
        if self.mean is not None:
            if self.missing.max_missing:
                return None  # the mean of the answered items: a form's count is not ours
            expr = self.mean.fhirpath(expr, len(self.sum.items))
        return self.multiply.fhirpath(expr)

    def redcap(self, shown_when: Sequence[str | None]) -> str | None:
        """REDCap's calculation, or None where it cannot say it (a lookup table, other scales'
        fields)."""
        if self.lookup is not None or self.lookups or self.combine is not None:
            return None
        if self.mean is not None:
            expr = self.sum.redcap_mean(shown_when, self.counting)
        else:
            expr = self.sum.redcap(shown_when, self.counting)
        expr = self.multiply.redcap(expr)
        return self.decimals.redcap(expr) if self.decimals is not None else expr


def steps_of(inst: Instrument, scale: Scale) -> ScaleSteps | None:
    """The steps of a scale, or None when an item it lists is not defined."""
    if scale.scales is not None:
        return _combined(inst, scale)
    lows, highs, optional, skipped, flips = [], [], [], [], []
    gates: list[tuple[str, str, Any] | None] = []
    recodes: list[tuple[tuple[int, int], ...] | None] = []
    ranges: list[tuple[tuple[float, float, int], ...] | None] = []
    unit = 1  # the same for every item (checked: `decimal_score`)
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
        # the lowest and highest answer as a form records them (a number's bounds as written:
        # 10 - x for a mark to 0.1 cm, not 100 - x in its tenths)
        ends = (item.number.min, item.number.max) if item.number else (min(options), max(options))
        flips.append(ends if item.reverse else None)
        if item.number is not None:  # its ranges (bounds as written), not each value
            ranges.append(tuple((r.min, r.max, r.score) for r in item.number.scores))
            if not item.number.scores:  # scored as itself: counted in its units
                unit = max(unit, item.number.step)
            recodes.append(None)
        else:
            ranges.append(None)
            stated = any(o.score is not None or o.non_answer for o in inst.item_options(item))
            recodes.append(tuple(sorted(inst.item_scores(item).items())) if stated else None)
        gate = item.ask_if
        gates.append(
            (gate.item, gate.op, gate.operand) if isinstance(gate, ItemCondition) else None
        )
    count = Count(scale.count.op, scale.count.operand) if scale.count is not None else None
    if count is not None:  # each item scores 1 where it meets the test: its range is 0 or 1
        for index, item_id in enumerate(scale.items):
            points = {count.point(v) for v in item_score_values(inst, item_id)}
            lows[index], highs[index] = min(points), max(points)
            skip = skipped[index]
            if skip is not None:
                skipped[index] = count.point(skip)
    bands = _bands(scale.bands, scale.decimals) if scale.bands else None
    lookups = tuple(Lookup(t.values, t.label, t.when) for t in scale.lookups)
    tables = tuple(
        BandTableStep(name, _bands(table.bands, scale.decimals), table.when, table.label)
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
            tuple(recodes),
            tuple(ranges),
        ),
        Missing(scale.missing.max_missing, scale.missing.rounding == "half_up", scale.missing.fill),
        Multiply(scale.multiplier),
        bands,
        tables,
        Mean() if scale.method == "mean" else None,
        lookups[0] if len(lookups) == 1 and lookups[0].when is None else None,
        Decimals(scale.decimals) if scale.decimals is not None else None,
        count,
        scale_is_integral(scale),
        () if len(lookups) == 1 and lookups[0].when is None else lookups,
        unit=unit,
    )


def _combined(inst: Instrument, scale: Scale) -> ScaleSteps | None:
    """The steps of a scale over scales, or None when a scale it lists is unknown, not listed
    before it, or reaches nothing (the checks say which)."""
    assert scale.scales is not None
    names = list(inst.scales)
    here = next((i for i, s in enumerate(inst.scales.values()) if s is scale), len(names))
    reach = []
    for name in scale.scales:
        part = inst.scales.get(name)
        if part is None or names.index(name) >= here:
            return None
        found = steps_of(inst, part)
        bounds = None if found is None else found.bounds()
        if bounds is None:
            return None
        reach.append((int(bounds[0]), int(bounds[1])))
    method = "max" if scale.method == "max" else "sum"
    combine = Combine(
        tuple(scale.scales), method, tuple(r[0] for r in reach), tuple(r[1] for r in reach)
    )
    bands = _bands(scale.bands, scale.decimals) if scale.bands else None
    tables = tuple(
        BandTableStep(name, _bands(table.bands, scale.decimals), table.when, table.label)
        for name, table in scale.band_tables.items()
    )
    empty = SumItems((), (), (), (), (), ())
    return ScaleSteps(empty, Missing(0, True, None), Multiply(1), bands, tables, combine=combine)


def _bands(bands: Sequence[Any], places: int | None) -> Bands:
    return Bands(
        tuple(b.min for b in bands),
        tuple(b.max for b in bands),
        tuple(b.label for b in bands),
        places or 0,
    )


def scale_range(inst: Instrument, scale: Scale) -> tuple[float, float] | None:
    """The lowest and highest final score a scale can reach (proration included), or None if
    an item is unresolved."""
    steps = steps_of(inst, scale)
    return None if steps is None else steps.bounds()
