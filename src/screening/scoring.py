"""One response → `ScoreResult`.

Each definition is compiled once into a `Plan` (lookup tables, compiled conditions, band edges)
and cached on the instrument, so a call does one pass over the items and builds the result.
"""

from __future__ import annotations

import copy
import difflib
import math
import numbers
import re
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from operator import itemgetter
from types import MappingProxyType
from typing import Any, Literal, NamedTuple, cast

from ._version import __version__
from .codes import UNDETERMINED_REASON, ResponseCode, RowCode, render
from .definition import Instrument, Item, to_units
from .errors import Issue, ResponseError, make_issue
from .facts import scale_is_integral
from .loading import content_hash, is_builtin, load_instrument, looks_like_id
from .results import NO_BANDS, FlagResult, Provenance, ScaleResult, ScoreResult
from .rules import Env, Evaluator, compile_condition, describe, item_tests, referenced
from .steps import Combine, ScaleSteps, steps_of
from .text import number

__all__ = [
    "ClassificationPlan",
    "ContextPlan",
    "FlagPlan",
    "ItemPlan",
    "OnError",
    "Plan",
    "ScalePlan",
    "TablePlan",
    "check_on_error",
    "check_value",
    "compile_instrument",
    "context_plan",
    "non_answer_of",
    "plan_for",
    "score",
    "score_plan",
]

OnError = Literal["raise", "invalid"]


class ItemPlan(NamedTuple):
    id: str
    scores: Mapping[int, int]
    """Accepted response value → score (reverse scoring applied)."""
    allowed: str
    ask_if: Evaluator | None
    ask_if_text: str
    if_skipped: int | None
    score_when_skipped: bool
    accepted_when_skipped: frozenset[int]
    """Scores of the answers that agree with the skip (accepted, the item stays skipped)."""
    non_answers: Mapping[int, str] = MappingProxyType({})
    """Recorded value → kind (declined, ...) of the answers that are non-answers."""
    step: int = 1
    """Units per whole number of a decimal answer (10 for one place): `scores` is keyed by
    units, and a value is read into them first (`to_units`)."""
    direct: Mapping[int, int] = MappingProxyType({})
    """The table a Python int is looked up in without a call: `scores` (as a plain dict, read
    only), or nothing for a decimal answer, whose ints are read into units first (7 hours is
    70, not 7)."""


def _no_items(scores: Mapping[str, Any]) -> tuple[Any, ...]:
    raise KeyError("no items of its own")


class ScalePlan(NamedTuple):
    name: str
    items: tuple[str, ...]
    max_missing: int
    prorate: bool
    round_half_up: bool
    multiplier: int | float
    integral: bool
    band_mins: tuple[float, ...]
    band_labels: tuple[str, ...]
    primary: bool
    steps: ScaleSteps
    """The scale's steps; the fields above are theirs, fused for the fast path."""
    tables: tuple[TablePlan, ...] = ()
    """The alternative band tables, compiled."""
    plain: bool = True
    """A sum, prorated and multiplied (no mean, count, fill, lookup or rounding to decimals)."""
    requires: str | None = None
    """A scale listed before this one that must be scored for this one to be."""
    fast: bool = True
    """A complete response is its plain sum times the multiplier (a plain scale, or one whose
    only other step is a fill for missing items, with a whole multiplier)."""
    lookups: tuple[Evaluator | None, ...] = ()
    """Where each of the conversion tables chosen by context applies (`steps.lookups`)."""
    combine: Combine | None = None
    """A scale over scales (then `items` are the items they read, for the reasons)."""
    pick: Callable[[Mapping[str, Any]], tuple[Any, ...]] = _no_items
    """The scores of `items`, in order, taken in one call (KeyError: one is missing, or the
    scale has no items of its own: tally them)."""


class TablePlan(NamedTuple):
    """An alternative band table: its name, band edges and labels, and where it applies (a
    condition on context; None: everywhere)."""

    name: str
    mins: tuple[float, ...]
    labels: tuple[str, ...]
    when: Evaluator | None


class FlagPlan(NamedTuple):
    id: str
    severity: str
    message: str
    when: Evaluator
    tests: tuple[tuple[str, Callable[[Any], bool]], ...]
    reads: tuple[str, ...]
    """Every item the condition reads, directly or through a scale: an unanswered one may leave
    the flag undetermined."""


class ClassificationPlan(NamedTuple):
    name: str
    rules: tuple[tuple[str, Evaluator], ...]
    otherwise: str


class ContextPlan(NamedTuple):
    """A context variable compiled: what it accepts, and its default."""

    name: str
    values: frozenset[Any] | None
    """The values it takes; None: any number (within `low` and `high`)."""
    required: bool
    number: bool = False
    low: float | None = None
    high: float | None = None
    default: Any = None
    """The value taken when none is given (None: no default)."""

    def read(self, value: Any) -> Any:
        """A given (non-missing) value as the variable takes it, or None when it takes no such
        value. A number variable reads a plain decimal written as text (`"31"`, as the
        command line gives every value) as that number."""
        if self.number and isinstance(value, str) and _DECIMAL.fullmatch(value):
            value = float(value) if "." in value else int(value)
        if type(value) not in (int, float) and isinstance(value, numbers.Real):
            # a numpy number compares into numpy booleans, which the three-valued logic does
            # not take for true or false: its Python value
            item = getattr(value, "item", None)
            if callable(item) and not _is_bool(value):
                value = item()
        return value if self.accepts(value) else None

    def accepts(self, value: Any) -> bool:
        """Whether a given (non-missing) value is one the variable takes."""
        if not self.number:
            return isinstance(value, str) and value in self.values  # type: ignore[operator]
        if _is_bool(value) or not isinstance(value, numbers.Real) or _is_time(value):
            return False
        try:
            if not math.isfinite(value):
                return False
        except (OverflowError, TypeError, ValueError):  # a Fraction past float: no bound holds
            return False
        if self.values is not None and value not in self.values:
            return False
        real = cast(float, value)
        return (self.low is None or real >= self.low) and (self.high is None or real <= self.high)

    @property
    def allowed(self) -> str:
        """The values it takes, for a message: `female, male`, `31, 32, 33` or `0 to 120`."""
        if self.values is not None:
            return ", ".join(str(v) for v in sorted(self.values))
        if self.low is not None and self.high is not None:
            return f"{number(self.low)} to {number(self.high)}"
        if self.low is not None:
            return f"{number(self.low)} or more"
        if self.high is not None:
            return f"{number(self.high)} or less"
        return "any number"

    @property
    def expected(self) -> str:
        """What it must be, for a message: `one of female, male`, `a number from 0 to 120`."""
        if self.values is not None:
            return f"one of {self.allowed}"
        if self.low is None and self.high is None:
            return "a number"
        if self.low is not None and self.high is not None:
            return f"a number from {self.allowed}"
        return f"a number, {self.allowed}"

    @property
    def example(self) -> Any:
        if self.values is not None:
            return sorted(self.values)[0]
        return self.low if self.low is not None else (self.high if self.high is not None else 0)

    def issue_ctx(self, instrument: str) -> dict[str, Any]:
        """What `context_missing` and `context_invalid` are rendered from."""
        return {
            "item": self.name,
            "instrument": instrument,
            "allowed": self.allowed,
            "expected": self.expected,
            "example": self.example,
        }


_DECIMAL = re.compile(r"-?[0-9]{1,15}(\.[0-9]{1,15})?")
"""Text a number context variable reads as a number: digits, an optional sign and fraction."""


def context_plan(name: str, var: Any) -> ContextPlan:
    return ContextPlan(
        name,
        frozenset(var.values) if var.values is not None else None,
        var.required,
        var.kind == "number",
        var.min,
        var.max,
        var.default,
    )


class Plan:
    """A definition compiled for scoring."""

    def __init__(self, inst: Instrument) -> None:
        self.instrument = inst
        self.items = tuple(_item_plan(inst, i) for i in range(len(inst.items)))
        self.item_ids = frozenset(p.id for p in self.items)
        self.scales = tuple(_scale_plan(inst, name, s) for name, s in inst.scales.items())
        self.flags = tuple(
            FlagPlan(
                f.id,
                f.severity,
                f.message,
                compile_condition(f.when),
                tuple(item_tests(f.when)),
                _reads(inst, f.when),
            )
            for f in inst.flags
        )
        self.classifications = tuple(
            ClassificationPlan(
                name,
                tuple((r.label, compile_condition(r.when)) for r in c.rules),
                c.otherwise,
            )
            for name, c in inst.classifications.items()
        )
        self.context = tuple(context_plan(name, v) for name, v in inst.context.items())
        self.context_names = frozenset(inst.context) | ({CODING} if inst.codings else set())
        self.provenance = Provenance(
            inst.id, inst.definition_version, content_hash(inst), __version__, inst.default_coding
        )
        self.has_skip_logic = any(p.ask_if is not None for p in self.items)
        self.reads_non_answers = any(p.non_answers for p in self.items)
        """Whether a response read in this plan's coding can hold a non-answer."""
        # whichever coding a call reads in, the same columns: any coding's non-answers count
        self.has_non_answers = self.reads_non_answers or any(
            c.non_answers for c in inst.codings.values()
        )
        self.lookups = tuple((p.id, p.direct, p) for p in self.items)
        self.coding = inst.default_coding
        """The coding this plan reads responses in (None: the instrument has no codings)."""
        self._coded: dict[str, Plan] = {}

    def coded(self, coding: Any) -> Plan:
        """This definition read in another coding (the plan itself for the default coding or
        none given); an unknown coding is a `ValueError`: it is an argument of the call."""
        if coding is None or _is_missing(coding) or coding == self.coding:
            return self
        inst = self.instrument
        if not isinstance(coding, str) or coding not in inst.codings:
            known = ", ".join(inst.codings) or "none"
            raise ValueError(
                f"{inst.id} has no coding {coding!r} (codings: {known}); the coding is chosen "
                "per call, one name for every response"
            )
        found = self._coded.get(coding)
        if found is None:
            found = copy.copy(self)
            found.__dict__.pop("array_plan", None)  # the array plan of this coding's own
            found.items = tuple(_item_plan(inst, i, coding) for i in range(len(inst.items)))
            found.lookups = tuple((p.id, p.direct, p) for p in found.items)
            found.reads_non_answers = any(p.non_answers for p in found.items)
            found.coding = coding
            found.provenance = self.provenance._replace(coding=coding)
            found._coded = {}
            self._coded[coding] = found
        return found


CODING = "coding"
"""The keyword that chooses a definition's coding, beside its context variables."""


def _reads(inst: Instrument, cond: Any) -> tuple[str, ...]:
    found: dict[str, None] = {}
    for kind, name in referenced(cond):
        if kind == "item":
            found[name] = None
        elif kind == "scale":
            found.update(dict.fromkeys(inst.scale_items(name)))
    return tuple(found)


def _item_plan(inst: Instrument, index: int, coding: str | None = None) -> ItemPlan:
    item = inst.items[index]
    scores = inst.item_scores(item)
    recorded = inst.coded_scores(item, coding) if coding is not None else scores
    ask_if = compile_condition(item.ask_if) if item.ask_if is not None else None
    kinds = inst.coded_non_answers(item, coding)
    step = inst.answer_step(item, coding)
    return ItemPlan(
        item.id,
        MappingProxyType(recorded),
        # a number's bounds, unless a coding records other values for it (its scores)
        _allowed(item, recorded, kinds, item.number is not None and recorded == scores),
        ask_if,
        describe(item.ask_if) if item.ask_if is not None else "",
        item.if_skipped,
        item.answered_when_skipped == "score",
        frozenset(scores[v] for v in item.accept_when_skipped if v in scores),
        MappingProxyType(kinds),
        step,
        dict(recorded) if step == 1 else {},  # a plain dict: its get is the fastest lookup
    )


def _allowed(
    item: Item, recorded: Mapping[int, int], kinds: Mapping[int, str], as_number: bool
) -> str:
    """The values an item takes, as messages list them."""
    if item.number is not None and as_number:
        return item.number.allowed
    return ", ".join(str(v) for v in [*recorded, *(k for k in kinds if k not in recorded)])


def _picker(items: tuple[str, ...]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    if not items:
        return _no_items
    if len(items) == 1:
        only = items[0]
        return lambda scores: (scores[only],)
    return itemgetter(*items)  # in C: a third of a list comprehension's time on PHQ-9


def _scale_plan(inst: Instrument, name: str, scale: Any) -> ScalePlan:
    steps = steps_of(inst, scale)
    assert steps is not None  # every item resolves: checked on load
    items = tuple(inst.scale_items(name))
    return ScalePlan(
        name,
        items,
        scale.missing.max_missing,
        scale.missing.prorate,
        scale.missing.rounding == "half_up",
        scale.multiplier,
        scale_is_integral(scale),
        tuple(b.min for b in scale.bands),
        tuple(b.label for b in scale.bands),
        scale.role == "primary",
        steps,
        tuple(
            TablePlan(
                t.name,
                t.bands.mins,
                t.bands.labels,
                compile_condition(t.when) if t.when is not None else None,
            )
            for t in steps.tables
        ),
        steps.plain,
        scale.requires,
        steps.plain
        or (
            steps._replace(missing=steps.missing._replace(fill=None)).plain
            and isinstance(scale.multiplier, int)
        ),
        tuple(compile_condition(t.when) if t.when is not None else None for t in steps.lookups),
        steps.combine,
        _picker(items),
    )


def compile_instrument(inst: Instrument) -> Plan:
    """The cached scoring plan of a definition."""
    private = inst.__pydantic_private__  # read directly: pydantic's accessor costs a microsecond
    plan: Plan | None = private.get("_compiled") if private else None
    if plan is None:
        plan = Plan(inst)
        inst._compiled = plan
    return plan


_PLANS: dict[str, Plan] = {}


def plan_for(instrument: Instrument | str) -> Plan:
    """The compiled plan of a built-in id, a definition file or an `Instrument`."""
    plan = _PLANS.get(instrument) if isinstance(instrument, str) else None
    if plan is not None:  # a built-in, by id: the fast path of score("phq9", ...)
        return plan
    if isinstance(instrument, Instrument):
        return compile_instrument(instrument)
    inst = load_instrument(instrument)  # a file, or a pack's, is re-read when it changes
    plan = compile_instrument(inst)
    if isinstance(instrument, str) and looks_like_id(instrument) and is_builtin(inst):
        _PLANS[instrument] = plan  # shipped files do not change while the process runs
    return plan


def score(
    instrument: Instrument | str,
    responses: Mapping[str, Any],
    /,
    *,
    on_error: OnError = "raise",
    **context: Any,
) -> ScoreResult:
    """Score one response.

    `instrument` is an `Instrument`, a built-in id or a definition file's path; `responses`
    maps item ids to option values (None or NaN for a missing item); context variables the
    instrument declares (e.g. `sex="female"`) are keywords. Too many missing items give a
    result with `valid=False` and the reason. A malformed response raises `ResponseError`
    naming the item, the value and the allowed values; the error's `result` (or, with
    `on_error="invalid"`, the returned result) is scored from the valid items, risk flags
    included.
    """
    if on_error not in ("raise", "invalid"):  # a typo must not quietly mean "invalid"
        check_on_error(on_error)
    return score_plan(plan_for(instrument), responses, context, on_error)


def check_on_error(on_error: Any) -> None:
    """Refuse an `on_error` that is neither "raise" nor "invalid" (a typo such as "rasie"
    must not quietly behave as one of them)."""
    if on_error not in ("raise", "invalid") or not isinstance(on_error, str):
        raise ValueError(f"on_error must be 'raise' or 'invalid' (got {on_error!r})")


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if type(value).__name__ == "NAType":
        return True
    if not isinstance(value, numbers.Real) or isinstance(value, numbers.Integral):
        return False
    try:
        return math.isnan(value)
    except (TypeError, ValueError, OverflowError):  # a Fraction too large for a float
        return False


def _describe_value(value: Any) -> str:
    if isinstance(value, str):
        return f"the text {_clip(repr(value))}"
    if _is_bool(value):
        return f"{value}, a boolean"
    if isinstance(value, int) and value.bit_length() > 64:
        # no digit string: a 5,000-digit integer cannot even be printed by default
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    if isinstance(value, numbers.Real | Decimal) and not _is_time(value):
        try:
            return _clip(repr(value.item()) if hasattr(value, "item") else repr(value))
        except (ValueError, OverflowError):  # a huge Fraction's numerator, say
            return f"a {type(value).__name__} too large to show"
    return f"a value of type {type(value).__name__}"


def _clip(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool) or type(value).__name__ in ("bool_", "bool")


def _is_time(value: Any) -> bool:
    # numpy's timedelta64 registers as an integer; a duration or date is never an answer
    return type(value).__name__ in ("timedelta64", "datetime64")


def _whole(value: Any) -> int | None:
    """The whole number a numeric value is, or None (a fraction, inf, or too large for a
    float)."""
    return to_units(value, 1)


def check_value(item: ItemPlan, value: Any) -> tuple[int | None, Issue | None]:
    """The score of a non-missing value, or the issue that makes it unacceptable."""
    if (
        _is_bool(value)
        or isinstance(value, str)
        or not isinstance(value, numbers.Real | Decimal)
        or _is_time(value)
    ):
        return None, make_issue(
            ResponseCode.INVALID_TYPE,
            item=item.id,
            value=value,
            kind="a whole number" if item.step == 1 else "a number",
            allowed=item.allowed,
            got=_describe_value(value),
        )
    whole = to_units(value, item.step)
    if whole is not None:
        found = item.scores.get(whole)
        if found is not None:
            return found, None
        if whole in item.non_answers:
            return None, None  # a non-answer that scores nothing: the item counts as missing
    return None, make_issue(
        ResponseCode.INVALID_VALUE,
        item=item.id,
        value=value,
        allowed=item.allowed,
        got=_describe_value(value),
    )


_EMPTY: frozenset[str] = frozenset()
_new = tuple.__new__  # a result tuple built without NamedTuple's keyword handling


def score_plan(
    plan: Plan, responses: Mapping[str, Any], context: Mapping[str, Any], on_error: OnError
) -> ScoreResult:
    issues: list[Issue] = []
    if type(responses) is not dict and not isinstance(responses, Mapping):  # dict: no ABC check
        raise ResponseError(
            [make_issue(ResponseCode.INVALID_RESPONSES, got=type(responses).__name__)]
        )
    if plan.coding is not None and CODING in context:  # read in the coding chosen
        plan = plan.coded(context[CODING])
    if not plan.item_ids.issuperset(responses):
        issues.extend(_unknown_items(plan, responses))
    ctx = _check_context(plan, context, issues) if (context or plan.context) else {}

    if plan.has_skip_logic:
        scores, skipped, bad = _read_items(plan, responses, ctx, issues)
    else:
        scores, bad = _read_plain(plan, responses, issues)
        skipped = _EMPTY

    scale_results: dict[str, ScaleResult] = {}
    scale_scores: dict[str, float | None] = {}
    reasons: list[str] = [i.message for i in issues] if issues else []
    scales_valid = True
    for scale in plan.scales:
        scaled = (
            _score_scale(scale, scores, skipped, bad)
            if scale.combine is None and not scale.lookups
            else _score_finished(scale, scores, skipped, bad, ctx=ctx, results=scale_results)
        )
        if scale.requires is not None or scale.tables:
            scaled = _completed(scale, scaled, scale_results, ctx)
        scale_results[scale.name] = scaled
        scale_scores[scale.name] = scaled.score
        if scale.primary and not scaled.valid:
            scales_valid = False
            if not bad.intersection(scale.items):
                why = {"scale": scale.name, "reason": scaled.reason}
                reasons.append(render(RowCode.SCALE_UNSCORED, why))

    env = Env(scores, skipped, scale_scores, ctx)
    flags, undetermined = _flags(plan, env)
    classifications: dict[str, str | None] = {}
    for cls in plan.classifications:
        label = classifications[cls.name] = _classify(cls, env)
        if label is None and not bad:
            reasons.append(UNDETERMINED_REASON.format(classification=cls.name))

    valid = not issues and scales_valid and None not in classifications.values()
    result = _new(
        ScoreResult,
        (
            plan.provenance.instrument,
            valid,
            MappingProxyType(scale_results),
            tuple(flags),
            MappingProxyType(classifications),
            tuple(reasons),
            tuple(issues),
            plan.provenance,
            tuple(undetermined),
            _non_answers(plan, responses) if plan.reads_non_answers else _NO_NON_ANSWERS,
        ),
    )
    if issues and on_error == "raise":
        raise ResponseError(issues, result)
    return result


NO_TABLE = "no conversion table applies to its context"


def chosen_table(whens: Sequence[Any], results: Sequence[Any]) -> int | None:
    """Which of the conversion tables chosen by context converts a score: the first whose
    condition holds, unless an earlier one is undetermined (a context value not given); None:
    none applies. `results` are the conditions' values, True, False or None, in order."""
    for index, (when, holds) in enumerate(zip(whens, results, strict=True)):
        if when is None or holds is True:
            return index
        if holds is None:
            return None
    return None


def _score_chosen(
    scale: ScalePlan,
    scores: Mapping[str, int],
    skipped: set[str] | frozenset[str],
    bad: set[str],
    ctx: Mapping[str, Any],
) -> ScaleResult:
    """A scale converted by the table its context chooses; unscored where none applies."""
    env = Env(_NO_ITEMS, _EMPTY, _NO_ITEMS, ctx)  # a table is chosen by context only
    results = [None if when is None else when(env) for when in scale.lookups]
    index = chosen_table(scale.lookups, results)
    steps = scale.steps.chosen(0 if index is None else index)
    scaled = _score_scale(scale._replace(steps=steps), scores, skipped, bad)
    if index is None and scaled.valid:
        return _unscored(scaled.raw, scaled.answered, scaled.missing, scaled.skipped, NO_TABLE)
    return scaled


def _score_finished(
    scale: ScalePlan,
    scores: Mapping[str, int],
    skipped: set[str] | frozenset[str],
    bad: set[str],
    *,
    ctx: Mapping[str, Any],
    results: Mapping[str, ScaleResult],
) -> ScaleResult:
    """A scale over scales, or one converted by the table its context chooses."""
    if scale.combine is not None:
        return _score_combined(scale, scale.combine, results)
    return _score_chosen(scale, scores, skipped, bad, ctx)


def over_unscored(unscored: Sequence[str]) -> str:
    """Why a scale over scales is unscored: the scales it lists that are."""
    return f"scale(s) {', '.join(unscored)} unscored"


def _score_combined(
    scale: ScalePlan, combine: Combine, results: Mapping[str, ScaleResult]
) -> ScaleResult:
    """The sum or the highest of the scales listed, where every one is scored."""
    parts = [results[name] for name in combine.scales]
    answered = sum(p.answered for p in parts)
    missing = sum(p.missing for p in parts)
    skipped = sum(p.skipped for p in parts)
    unscored = [name for name, p in zip(combine.scales, parts, strict=True) if not p.valid]
    if unscored:
        return _unscored(None, answered, missing, skipped, over_unscored(unscored))
    final = combine.row([int(p.score) for p in parts])  # type: ignore[arg-type]
    band = _band(scale, final) if scale.band_mins else None
    prorated = any(p.prorated for p in parts)
    return ScaleResult(final, band, final, prorated, None, answered, missing, skipped, True, "")


def _completed(
    scale: ScalePlan,
    scaled: ScaleResult,
    results: Mapping[str, ScaleResult],
    ctx: Mapping[str, Any],
) -> ScaleResult:
    """A scale's result unscored where a scale it requires is, then with its band tables."""
    required = scale.requires
    if required is not None and scaled.valid and not results[required].valid:
        why = f"scored only with scale '{required}', which is unscored"
        scaled = _unscored(scaled.raw, scaled.answered, scaled.missing, scaled.skipped, why)
    return _with_tables(scale, scaled, ctx) if scale.tables else scaled


def _with_tables(scale: ScalePlan, scaled: ScaleResult, ctx: Mapping[str, Any]) -> ScaleResult:
    """A scale's result with the label of each band table that applies; without default bands,
    its band is the first applying table's (None while an earlier one is undecided)."""
    score = scaled.score
    if score is None:
        return scaled._replace(bands=MappingProxyType(dict.fromkeys(t.name for t in scale.tables)))
    env = Env(_NO_ITEMS, _EMPTY, _NO_ITEMS, ctx)  # a table is chosen by context only
    bands: dict[str, str | None] = {}
    band = scaled.band
    chosen = bool(scale.band_mins)  # default bands give the band themselves
    for table in scale.tables:
        applies = True if table.when is None else table.when(env)
        label = table.labels[bisect_right(table.mins, score) - 1] if applies else None
        bands[table.name] = label
        if not chosen and applies is not False:
            band, chosen = label, True
    return _new(ScaleResult, (score, band, *scaled[2:10], MappingProxyType(bands)))


_NO_ITEMS: Mapping[str, Any] = MappingProxyType({})
_NO_NON_ANSWERS: Mapping[str, str] = MappingProxyType({})


def non_answer_of(item: ItemPlan, value: Any) -> str | None:
    """The kind of non-answer a recorded value is, or None."""
    if (
        value is None
        or _is_bool(value)
        or _is_time(value)  # numpy's timedelta64 registers as an integer: never an answer
        or not isinstance(value, numbers.Real | Decimal)
    ):
        return None
    whole = _whole(value)
    return None if whole is None else item.non_answers.get(whole)


def _non_answers(plan: Plan, responses: Mapping[str, Any]) -> Mapping[str, str]:
    """Item → kind of each answer that is a non-answer (declined, ...)."""
    found = {}
    for item in plan.items:
        if item.non_answers:
            kind = non_answer_of(item, responses.get(item.id))
            if kind is not None:
                found[item.id] = kind
    return MappingProxyType(found) if found else _NO_NON_ANSWERS


def _flags(plan: Plan, env: Env) -> tuple[list[FlagResult], list[FlagResult]]:
    """The flags raised, and those an unanswered or invalid answer leaves undetermined."""
    scores, skipped = env.items, env.skipped
    flags: list[FlagResult] = []
    undetermined: list[FlagResult] = []
    for flag in plan.flags:
        truth = flag.when(env)
        if truth is True:
            raised = tuple([i for i, test in flag.tests if i in scores and test(scores[i])])
            flags.append(_new(FlagResult, (flag.id, flag.severity, flag.message, raised)))
        elif truth is None:  # an answer it reads is missing or invalid: never silently clear
            open_items = tuple(i for i in flag.reads if i not in scores and i not in skipped)
            undetermined.append(FlagResult(flag.id, flag.severity, flag.message, open_items))
    return flags, undetermined


def _read_plain(
    plan: Plan, responses: Mapping[str, Any], issues: list[Issue]
) -> tuple[dict[str, int], set[str]]:
    """`_read_items` for a definition without skip logic (most): one pass, no skip checks."""
    scores: dict[str, int] = {}
    bad: set[str] = set()
    get = responses.get
    for item_id, table, item in plan.lookups:
        value = get(item_id)
        if value is None:
            continue
        if type(value) is int:  # the common case, checked without a call
            found = table.get(value)
            if found is not None:
                scores[item_id] = found
                continue
        elif _is_missing(value):
            continue
        found, issue = check_value(item, value)
        if issue is not None:
            issues.append(issue)
            bad.add(item_id)
        elif found is not None:  # else a non-answer that scores nothing
            scores[item_id] = found
    return scores, bad


def _read_items(
    plan: Plan, responses: Mapping[str, Any], ctx: Mapping[str, Any], issues: list[Issue]
) -> tuple[dict[str, int], set[str] | frozenset[str], set[str]]:
    """Each item's score, the items skip logic skipped, and the items with a bad answer."""
    scores: dict[str, int] = {}
    bad: set[str] = set()
    skipped: set[str] | frozenset[str] = _EMPTY
    get = responses.get
    for item in plan.items:
        value = get(item.id)
        if (
            item.ask_if is not None
            and not (item.score_when_skipped and _given(item, value))
            and item.ask_if(Env(scores, skipped, {}, ctx)) is False
        ):
            if skipped is _EMPTY:
                skipped = set()
            skipped.add(item.id)  # type: ignore[union-attr]
            _read_skipped(item, value, scores, bad, issues)
            continue
        if value is None:
            continue
        if type(value) is int:  # the common case, checked without a call
            found = item.direct.get(value)
            if found is not None:
                scores[item.id] = found
                continue
        elif _is_missing(value):
            continue
        found, issue = check_value(item, value)
        if issue is not None:
            issues.append(issue)
            bad.add(item.id)
        elif found is not None:  # else a non-answer that scores nothing
            scores[item.id] = found
    return scores, skipped, bad


def _given(item: ItemPlan, value: Any) -> bool:
    """Whether a value answers the item: not blank, and not a non-answer that scores nothing."""
    if value is None or _is_missing(value):
        return False
    kind = non_answer_of(item, value) if item.non_answers else None
    return kind is None or _whole(value) in item.scores


def _read_skipped(
    item: ItemPlan, value: Any, scores: dict[str, int], bad: set[str], issues: list[Issue]
) -> None:
    absent = value is None or _is_missing(value)
    found, issue = (None, None) if absent else check_value(item, value)
    absent = absent or (found is None and issue is None)  # a non-answer that scores nothing
    if absent or (
        found is not None and (found == item.if_skipped or found in item.accepted_when_skipped)
    ):
        # not answered, or answered as the skip implies: the score the source gives a skipped
        # item, or an answer that agrees with the skip (a "No" to a follow-up not asked)
        if item.if_skipped is not None:
            scores[item.id] = item.if_skipped
        return
    issues.append(
        make_issue(
            ResponseCode.SKIPPED_ITEM_ANSWERED,
            item=item.id,
            value=value,
            condition=item.ask_if_text,
            got=_describe_value(value),
        )
    )
    bad.add(item.id)
    if found is not None:
        scores[item.id] = found  # the answer still counts for risk flags: never hidden


def _classify(cls: ClassificationPlan, env: Env) -> str | None:
    for label, when in cls.rules:
        truth = when(env)
        if truth is True:
            return label
        if truth is None:
            return None  # an earlier rule might hold: undetermined, never a guess
    return cls.otherwise


class _Tally(NamedTuple):
    raw: int
    answered: int
    missing: int
    skipped: int
    scored_skips: int
    invalid: tuple[str, ...]


def _tally(
    scale: ScalePlan, scores: Mapping[str, int], skipped: set[str] | frozenset[str], bad: set[str]
) -> _Tally:
    raw = answered = missing = n_skipped = scored_skips = 0
    invalid: list[str] = []
    count = scale.steps.counting
    for item_id in scale.items:
        value = scores.get(item_id)
        if count is not None and value is not None:  # a counted item scores 1 or 0
            value = count.point(value)
        if item_id in bad:
            invalid.append(item_id)
        elif item_id in skipped:
            n_skipped += 1
            if value is not None:
                raw += value
                scored_skips += 1
        elif value is None:
            missing += 1
        else:
            raw += value
            answered += 1
    return _Tally(raw, answered, missing, n_skipped, scored_skips, tuple(invalid))


def _score_scale(
    scale: ScalePlan,
    scores: Mapping[str, int],
    skipped: set[str] | frozenset[str],
    bad: set[str],
) -> ScaleResult:
    if not bad and not skipped and scale.fast:
        try:
            raw = sum(scale.pick(scores))
        except KeyError:
            pass  # an item is missing: the full tally below
        else:  # every item answered, the common case: the tuple built directly (faster)
            final = raw * scale.multiplier
            band = _band(scale, final) if scale.band_mins else None
            return _new(
                ScaleResult,
                (final, band, raw, False, None, len(scale.items), 0, 0, True, "", NO_BANDS),
            )
    raw, answered, missing, n_skipped, scored_skips, invalid = _tally(scale, scores, skipped, bad)
    if invalid:
        reason = f"item(s) {', '.join(invalid)} invalid"
        return _unscored(None, answered, missing, n_skipped, reason)
    counted = answered + scored_skips
    shown = raw if scale.steps.unit == 1 else raw / scale.steps.unit  # 65 tenths: 6.5
    if missing > scale.max_missing or counted == 0:
        why = missing_reason(scale, missing) if missing > scale.max_missing else ALL_SKIPPED
        return _unscored(shown, answered, missing, n_skipped, why)
    prorated = missing > 0 and scale.steps.missing.fill is None  # a fill is not proration
    unrounded: float | None = None
    value: int | float = raw
    if not scale.plain:  # a mean, a lookup table, rounding to decimals: exactly, in order
        exact = scale.steps.exact(raw, counted, missing)
        if prorated:
            if scale.steps.mean is not None:
                unrounded = float(exact)
            else:
                unrounded = scale.steps.unrounded(raw, counted + missing, counted)
        final = scale.steps.finish(exact)
        band = _band(scale, final) if scale.band_mins else None
        return ScaleResult(
            final, band, shown, prorated, unrounded, answered, missing, n_skipped, True, ""
        )
    if prorated:
        total = counted + missing
        unrounded = scale.steps.unrounded(raw, total, counted)
        value = scale.steps.missing.row(raw, total, counted)
    final = scale.steps.multiply.row(value)
    if scale.integral:
        final = int(final)
    band = _band(scale, final) if scale.band_mins else None
    return ScaleResult(
        final, band, raw, prorated, unrounded, answered, missing, n_skipped, True, ""
    )


ALL_SKIPPED = "no item to score (all skipped)"


def missing_reason(scale: ScalePlan, missing: int) -> str:
    """Why a scale with too many missing items is unscored."""
    allowed = f"at most {scale.max_missing} allowed" if scale.max_missing else "none allowed"
    return f"{missing} of {len(scale.items)} items missing ({allowed})"


def _unscored(
    raw: int | float | None, answered: int, missing: int, skipped: int, reason: str
) -> ScaleResult:
    return ScaleResult(None, None, raw, False, None, answered, missing, skipped, False, reason)


def _band(scale: ScalePlan, score: float) -> str:
    return scale.band_labels[bisect_right(scale.band_mins, score) - 1]


def _unknown_items(plan: Plan, responses: Mapping[str, Any]) -> list[Issue]:
    out = []
    known = [i.id for i in plan.items]
    for key in responses:
        if key in plan.item_ids:
            continue
        close = difflib.get_close_matches(str(key), known, n=1)
        hint = f", did you mean '{close[0]}'?" if close else ""
        out.append(
            make_issue(
                ResponseCode.UNKNOWN_ITEM,
                item=str(key),
                instrument=plan.provenance.instrument,
                first=known[0],
                last=known[-1],
                hint=hint,
            )
        )
    return out


def _check_context(plan: Plan, context: Mapping[str, Any], issues: list[Issue]) -> dict[str, Any]:
    ctx: dict[str, Any] = {}
    for key in context:
        if key not in plan.context_names:  # `coding`, where the definition has codings, is
            declared = ", ".join(sorted(plan.context_names)) or "none"
            issues.append(
                make_issue(
                    ResponseCode.UNKNOWN_CONTEXT,
                    item=key,
                    instrument=plan.provenance.instrument,
                    declared=declared,
                )
            )
    for var in plan.context:
        value = context.get(var.name)
        if value is None or _is_missing(value):
            if var.default is not None:
                ctx[var.name] = var.default
            elif var.required:
                issues.append(
                    make_issue(
                        ResponseCode.CONTEXT_MISSING,
                        **var.issue_ctx(plan.provenance.instrument),
                    )
                )
        elif (read := var.read(value)) is None:
            issues.append(
                make_issue(
                    ResponseCode.CONTEXT_INVALID,
                    **var.issue_ctx(plan.provenance.instrument),
                    value=value,
                    got=_describe_value(value),
                )
            )
        else:
            ctx[var.name] = read
    return ctx
