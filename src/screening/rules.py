"""The condition language, evaluated by the library itself (never `eval`).

Logic is three-valued (Kleene): a comparison on a missing item, an unscored scale or an absent
context variable is *unknown* (None), so a rule that might hold is never silently taken as
false. A skipped item (skip logic) is not unknown: every comparison on it is false.

Each kind of condition is one row of `KINDS` answering every question the library asks of it:
its sub-conditions, what it reads, its words, its scalar and vectorized evaluation, whether its
items can raise a flag, and the answers it accepts (for FHIR enableWhen and REDCap branching).
Walks are generic; a test requires a row for every condition model, so adding a kind touches this
module (and its model) only.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from .definition import (
    AllCondition,
    AnyCondition,
    ContextCondition,
    ContextRef,
    CountCondition,
    ItemCondition,
    NotCondition,
    ScaleCondition,
    _Comparison,
)

if TYPE_CHECKING:
    from .definition import Instrument

__all__ = [
    "COMPARE",
    "KINDS",
    "AnswerSets",
    "Env",
    "Evaluator",
    "Kind",
    "NumberTests",
    "PathKey",
    "Ref",
    "Truth",
    "VEnv",
    "VEvaluator",
    "VTruth",
    "answers_of",
    "compile_condition",
    "compile_vector",
    "count_truth",
    "describe",
    "describe_comparison",
    "item_tests",
    "kleene_all",
    "kleene_any",
    "number_tests",
    "predicate",
    "referenced",
    "vector_predicate",
    "walk",
]

Truth = bool | None


class Env:
    """What a condition can look at for one response."""

    __slots__ = ("context", "items", "scales", "skipped")

    def __init__(
        self,
        items: Mapping[str, float],
        skipped: frozenset[str] | set[str],
        scales: Mapping[str, float | None],
        context: Mapping[str, Any],
    ) -> None:
        self.items = items
        self.skipped = skipped
        self.scales = scales
        self.context = context


Evaluator = Callable[[Env], Truth]

COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
    "in": lambda value, options: value in options,
}
"""Each comparison as a function; all but `in` serve numpy arrays too."""


_MIRRORED: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.lt,
    "gte": operator.le,
    "lt": operator.gt,
    "lte": operator.ge,
}
"""Each comparison with its sides swapped: `value >= operand` is `operand <= value`."""


def predicate(cmp: _Comparison | ContextCondition) -> Callable[[Any], bool]:
    """The comparison of a condition as a one-argument test (not a scale comparison with a
    cut-point from context: its evaluators read the context themselves)."""
    if cmp.op == "in":
        return frozenset(cmp.operand).__contains__
    # the operand bound first, mirrored: the test runs in C, with no Python frame per call
    return partial(_MIRRORED[cmp.op], cmp.operand)


def _bind(op: str, operand: Any) -> Callable[[Any], bool]:
    fn = COMPARE[op]
    return lambda value: fn(value, operand)


def _item(cond: ItemCondition) -> Evaluator:
    test, item = predicate(cond), cond.item

    def evaluate(env: Env) -> Truth:
        value = env.items.get(item)
        if value is None:
            return False if item in env.skipped else None
        return test(value)

    return evaluate


def _scale(cond: ScaleCondition) -> Evaluator:
    scale = cond.scale
    if isinstance(cond.operand, ContextRef):  # a cut-point chosen per call
        fn, name = COMPARE[cond.op], cond.operand.context

        def against_context(env: Env) -> Truth:
            value, bound = env.scales.get(scale), env.context.get(name)
            return None if value is None or bound is None else bool(fn(value, bound))

        return against_context
    test = predicate(cond)

    def evaluate(env: Env) -> Truth:
        value = env.scales.get(scale)
        return None if value is None else test(value)

    return evaluate


def _context(cond: ContextCondition) -> Evaluator:
    test, name = predicate(cond), cond.context

    def evaluate(env: Env) -> Truth:
        value = env.context.get(name)
        return None if value is None else test(value)

    return evaluate


def count_truth(test: Callable[[Any], bool], known: int, unknown: int) -> Truth:
    """True if the test holds for every count in [known, known + unknown], False if for none,
    else unknown."""
    outcomes = {test(n) for n in range(known, known + unknown + 1)}
    return outcomes.pop() if len(outcomes) == 1 else None


def _count(cond: CountCondition) -> Evaluator:
    each, outer, items = predicate(cond.count), predicate(cond), tuple(cond.count.items)

    def evaluate(env: Env) -> Truth:
        known = unknown = 0
        for item in items:
            value = env.items.get(item)
            if value is None:
                if item not in env.skipped:
                    unknown += 1
            elif each(value):
                known += 1
        return count_truth(outer, known, unknown)

    return evaluate


def kleene_any(values: Iterator[Truth]) -> Truth:
    result: Truth = False
    for value in values:
        if value is True:
            return True
        if value is None:
            result = None
    return result


def kleene_all(values: Iterator[Truth]) -> Truth:
    result: Truth = True
    for value in values:
        if value is False:
            return False
        if value is None:
            result = None
    return result


def _any(cond: AnyCondition) -> Evaluator:
    parts = tuple(compile_condition(c) for c in cond.any)
    return lambda env: kleene_any(p(env) for p in parts)


def _all(cond: AllCondition) -> Evaluator:
    parts = tuple(compile_condition(c) for c in cond.all)
    return lambda env: kleene_all(p(env) for p in parts)


def _not(cond: NotCondition) -> Evaluator:
    inner = compile_condition(cond.not_)

    def evaluate(env: Env) -> Truth:
        value = inner(env)
        return None if value is None else not value

    return evaluate


def compile_condition(cond: Any) -> Evaluator:
    """A condition model → a function of an `Env` giving True, False or None (unknown)."""
    return KINDS[type(cond)].row(cond)


# --- vectorized: the same semantics over columns ------------------------------------------------
# A truth column is a pair of boolean arrays (definitely true, unknown); false is neither.


class VEnv:
    """What a condition can look at for many responses at once (numpy arrays, one per row)."""

    __slots__ = ("context", "items", "n", "scales", "skipped")

    def __init__(
        self,
        n: int,
        items: Mapping[str, tuple[Any, Any]],
        skipped: Mapping[str, Any],
        scales: Mapping[str, tuple[Any, Any]],
        context: Mapping[str, tuple[Any, Any]],
    ) -> None:
        self.n = n
        self.items = items  # id -> (scores, known)
        self.skipped = skipped  # id -> skipped mask
        self.scales = scales  # name -> (scores, known)
        self.context = context  # name -> (values, known)


VTruth = tuple[Any, Any]
VEvaluator = Callable[[VEnv], VTruth]


def vector_predicate(cmp: _Comparison | ContextCondition) -> Callable[[Any], Any]:
    """The comparison of a condition as a test over an array."""
    import numpy as np

    if cmp.op == "in":
        options = list(cmp.operand)
        return lambda values: np.isin(values, options)
    return _bind(cmp.op, cmp.operand)


def _item_vec(cond: ItemCondition) -> VEvaluator:
    test, item = vector_predicate(cond), cond.item

    def evaluate(env: VEnv) -> VTruth:
        scores, known = env.items[item]
        skipped = env.skipped.get(item)
        unknown = ~known if skipped is None else ~known & ~skipped
        return known & test(scores), unknown

    return evaluate


def _scale_vec(cond: ScaleCondition) -> VEvaluator:
    scale = cond.scale
    if isinstance(cond.operand, ContextRef):  # a cut-point chosen per call
        fn, name = COMPARE[cond.op], cond.operand.context

        def against_context(env: VEnv) -> VTruth:
            scores, known = env.scales[scale]
            bounds, given = env.context[name]
            both = known & given
            return both & fn(scores, bounds), ~both

        return against_context
    test = vector_predicate(cond)

    def evaluate(env: VEnv) -> VTruth:
        scores, known = env.scales[scale]
        return known & test(scores), ~known

    return evaluate


def _context_vec(cond: ContextCondition) -> VEvaluator:
    test, name = vector_predicate(cond), cond.context

    def evaluate(env: VEnv) -> VTruth:
        values, known = env.context[name]
        return known & test(values), ~known

    return evaluate


def _count_vec(cond: CountCondition) -> VEvaluator:
    import numpy as np

    each, outer = vector_predicate(cond.count), predicate(cond)
    items = tuple(cond.count.items)
    # holds[k]: whether the outer comparison holds for a count of k; a row whose count lies in
    # [known, known + unknown] is true if it holds for all of them, false if for none
    cumulative = np.concatenate(([0], np.cumsum([outer(k) for k in range(len(items) + 1)])))

    def evaluate(env: VEnv) -> VTruth:
        known = np.zeros(env.n, dtype=np.int64)
        unknown = np.zeros(env.n, dtype=np.int64)
        for item in items:
            scores, is_known = env.items[item]
            known += is_known & each(scores)
            skipped = env.skipped.get(item)
            unknown += ~is_known if skipped is None else ~is_known & ~skipped
        holding = cumulative[known + unknown + 1] - cumulative[known]
        return holding == unknown + 1, (holding > 0) & (holding <= unknown)

    return evaluate


def _any_vec(cond: AnyCondition) -> VEvaluator:
    parts = tuple(compile_vector(c) for c in cond.any)

    def evaluate(env: VEnv) -> VTruth:
        true, unknown = parts[0](env)
        for part in parts[1:]:
            t, u = part(env)
            true, unknown = true | t, unknown | u
        return true, unknown & ~true

    return evaluate


def _all_vec(cond: AllCondition) -> VEvaluator:
    parts = tuple(compile_vector(c) for c in cond.all)

    def evaluate(env: VEnv) -> VTruth:
        true, unknown = parts[0](env)
        false = ~true & ~unknown
        for part in parts[1:]:
            t, u = part(env)
            true, false = true & t, false | (~t & ~u)
        return true, ~true & ~false

    return evaluate


def _not_vec(cond: NotCondition) -> VEvaluator:
    inner = compile_vector(cond.not_)

    def evaluate(env: VEnv) -> VTruth:
        true, unknown = inner(env)
        return ~true & ~unknown, unknown

    return evaluate


def compile_vector(cond: Any) -> VEvaluator:
    """A condition model → a function of a `VEnv` giving (definitely true, unknown) arrays."""
    return KINDS[type(cond)].vector(cond)


# --- one row per kind ----------------------------------------------------------------------------

PathKey = tuple[str | int, ...]


class Ref(NamedTuple):
    """Something a condition reads itself (not through a sub-condition)."""

    kind: Literal["item", "scale", "context"]
    name: str
    key: str
    """The condition's key that names it, where a problem with it is reported."""
    test: Callable[[Any], bool] | None = None
    """For an item: the comparison its score is tested with (a flag names the items it holds
    for; the checker refuses one that no score meets)."""
    shown: str = ""
    """That comparison in words: `gte 2`."""
    values: tuple[Any, ...] = ()
    """For a context variable: the values it is compared with."""
    op: str = ""
    """For a context variable: the comparison (`eq`, `gte`, ...)."""
    operand: bool = False
    """For a context variable: read as a comparison's operand (a cut-point), so a number."""


class AnswerSets(NamedTuple):
    """A condition as the answers it accepts: an item answered with one of `values` (`every`:
    with any answer at all), or parts joined by any/all. What FHIR enableWhen and REDCap
    branching can say, each in its own syntax."""

    join: Literal["item", "any", "all"]
    item: str = ""
    values: tuple[int, ...] = ()
    every: bool = False
    parts: tuple[AnswerSets, ...] = ()


class Kind(NamedTuple):
    """Everything the library asks of one kind of condition."""

    children: Callable[[Any], tuple[tuple[PathKey, Any], ...]]
    """Sub-conditions, each with its key path under the condition (`("any", 0)`)."""
    refs: Callable[[Any], tuple[Ref, ...]]
    describe: Callable[[Any], str]
    row: Callable[[Any], Evaluator]
    vector: Callable[[Any], VEvaluator]
    raising: bool
    """Whether the items of its sub-conditions raise a flag by holding (false under `not`:
    they raise it by their absence)."""
    answers: Callable[[Instrument, Any], AnswerSets | None]
    """The answers it accepts, or None where that cannot say it (a count, a scale, ...)."""


def _none(_: Any) -> tuple[Any, ...]:
    return ()


def _no_answers(_inst: Instrument, _cond: Any) -> AnswerSets | None:
    return None


def _shown(cmp: _Comparison) -> str:
    return f"{cmp.op} {cmp.operand}"


def _item_answers(inst: Instrument, cond: ItemCondition) -> AnswerSets | None:
    item = inst.item_by_id(cond.item)
    if item is None:
        return None
    test = predicate(cond)  # conditions compare scores; forms record option values
    scores = inst.item_scores(item)
    values = tuple(v for v, s in scores.items() if test(s))
    if not values:
        return None  # holds for no answer: neither form can say "never"
    return AnswerSets("item", cond.item, values, len(values) == len(scores))


def _joined_answers(join: Literal["any", "all"]) -> Callable[[Instrument, Any], AnswerSets | None]:
    def answers(inst: Instrument, cond: Any) -> AnswerSets | None:
        parts = tuple(answers_of(inst, c) for c in getattr(cond, join))
        if any(p is None for p in parts):
            return None
        return AnswerSets(join, parts=parts)  # type: ignore[arg-type]  # no None left

    return answers


def _describe_count(cond: CountCondition) -> str:
    each = _describe_cmp("item", cond.count.op, cond.count.operand)
    items = ", ".join(cond.count.items)
    return _describe_cmp(f"count of ({items}) with {each}", cond.op, cond.operand)


def _describe_context(cond: ContextCondition) -> str:
    if cond.op == "in":
        return f"{cond.context} in [{', '.join(str(v) for v in cond.operand)}]"
    return f"{cond.context} {_SYMBOLS[cond.op]} {cond.operand}"


def _scale_refs(cond: ScaleCondition) -> tuple[Ref, ...]:
    own = Ref("scale", cond.scale, "scale")
    if not isinstance(cond.operand, ContextRef):
        return (own,)
    return (own, Ref("context", cond.operand.context, cond.op, op=cond.op, operand=True))


def _describe_scale(cond: ScaleCondition) -> str:
    operand = cond.operand
    if isinstance(operand, ContextRef):
        return f"scale {cond.scale} {_SYMBOLS[cond.op]} {operand.context}"
    return _describe_cmp(f"scale {cond.scale}", cond.op, operand)


KINDS: dict[type[Any], Kind] = {
    ItemCondition: Kind(
        children=_none,
        refs=lambda c: (Ref("item", c.item, "item", predicate(c), _shown(c)),),
        describe=lambda c: _describe_cmp(c.item, c.op, c.operand),
        row=_item,
        vector=_item_vec,
        raising=True,
        answers=_item_answers,
    ),
    ScaleCondition: Kind(
        children=_none,
        refs=_scale_refs,
        describe=_describe_scale,
        row=_scale,
        vector=_scale_vec,
        raising=True,
        answers=_no_answers,
    ),
    ContextCondition: Kind(
        children=_none,
        refs=lambda c: (
            Ref(
                "context",
                c.context,
                "context",
                values=tuple(c.operand) if c.op == "in" else (c.operand,),
                op=c.op,
            ),
        ),
        describe=_describe_context,
        row=_context,
        vector=_context_vec,
        raising=True,
        answers=_no_answers,
    ),
    CountCondition: Kind(
        children=_none,
        refs=lambda c: tuple(
            Ref("item", i, "count", predicate(c.count), _shown(c.count)) for i in c.count.items
        ),
        describe=_describe_count,
        row=_count,
        vector=_count_vec,
        raising=True,
        answers=_no_answers,
    ),
    # parts joined by ", ": a frame's `reason` column joins a row's reasons by "; ", so a
    # described condition must not contain it (the column would split into wrong reasons)
    AnyCondition: Kind(
        children=lambda c: tuple((("any", i), sub) for i, sub in enumerate(c.any)),
        refs=_none,
        describe=lambda c: "any of (" + ", ".join(describe(s) for s in c.any) + ")",
        row=_any,
        vector=_any_vec,
        raising=True,
        answers=_joined_answers("any"),
    ),
    AllCondition: Kind(
        children=lambda c: tuple((("all", i), sub) for i, sub in enumerate(c.all)),
        refs=_none,
        describe=lambda c: "all of (" + ", ".join(describe(s) for s in c.all) + ")",
        row=_all,
        vector=_all_vec,
        raising=True,
        answers=_joined_answers("all"),
    ),
    NotCondition: Kind(
        children=lambda c: ((("not",), c.not_),),
        refs=_none,
        describe=lambda c: f"not ({describe(c.not_)})",
        row=_not,
        vector=_not_vec,
        raising=False,  # items under `not` raise a flag by their absence, not their presence
        answers=_no_answers,
    ),
}


def walk(cond: Any, path: PathKey = ()) -> Iterator[tuple[PathKey, Any]]:
    """The condition and every sub-condition, each with its key path, depth first."""
    yield path, cond
    for key, child in KINDS[type(cond)].children(cond):
        yield from walk(child, (*path, *key))


def referenced(cond: Any) -> Iterator[tuple[str, str]]:
    """(kind, name) of every item, scale and context variable a condition reads."""
    for _, node in walk(cond):
        for ref in KINDS[type(node)].refs(node):
            yield ref.kind, ref.name


def item_tests(cond: Any) -> list[tuple[str, Callable[[Any], bool]]]:
    """The item-level comparisons inside a condition, to name the items that raised a flag."""
    kind = KINDS[type(cond)]
    own = [(ref.name, ref.test) for ref in kind.refs(cond) if ref.test is not None]
    if not kind.raising:
        return []
    return own + [t for _, child in kind.children(cond) for t in item_tests(child)]


def answers_of(inst: Instrument, cond: Any) -> AnswerSets | None:
    """The answers a condition accepts, or None where answer sets cannot say it (or a numeric
    answer is compared: a form says that as a comparison, `number_tests`)."""
    found = KINDS[type(cond)].answers(inst, cond)
    return None if found is not None and _numeric(inst, found) else found


def _numeric(inst: Instrument, answers: AnswerSets) -> bool:
    if answers.join == "item":
        item = inst.item_by_id(answers.item)
        return item is not None and item.number is not None
    return any(_numeric(inst, part) for part in answers.parts)


class NumberTests(NamedTuple):
    """A skip condition on numeric answers as comparisons a form can state: (item, comparison,
    number) each, joined by `any` or `all` (None: one comparison)."""

    tests: tuple[tuple[str, str, int | float], ...]
    join: Literal["any", "all"] | None


def number_tests(inst: Instrument, cond: Any) -> NumberTests | None:
    """A condition of comparisons of numeric answers (not recoded), alone or joined by one
    `any` or `all`, as forms state them; else None."""
    if isinstance(cond, ItemCondition):
        item = inst.item_by_id(cond.item)
        if item is None or item.number is None or item.number.scores or cond.op == "in":
            return None
        return NumberTests(((cond.item, cond.op, cond.operand),), None)
    if isinstance(cond, AnyCondition | AllCondition):
        children = cond.any if isinstance(cond, AnyCondition) else cond.all
        parts = [number_tests(inst, child) for child in children]
        if any(p is None or p.join is not None for p in parts):
            return None
        tests = tuple(t for p in parts if p is not None for t in p.tests)
        return NumberTests(tests, ("any" if isinstance(cond, AnyCondition) else "all"))
    return None


_SYMBOLS = {"eq": "=", "ne": "≠", "gt": ">", "gte": "≥", "lt": "<", "lte": "≤", "in": "in"}


def describe_comparison(subject: str, op: str, operand: Any) -> str:
    """`score ≥ 2`: a comparison in the words the docs and notes use."""
    return _describe_cmp(subject, op, operand)


def _describe_cmp(subject: str, op: str, operand: Any) -> str:
    if op == "in":
        shown = ", ".join(str(v) for v in sorted(operand))
        return f"{subject} in [{shown}]"
    return f"{subject} {_SYMBOLS[op]} {operand}"


def describe(cond: Any) -> str:
    """A condition in words, for messages: `cssrs_2 = 1`, `any of (…)`."""
    return KINDS[type(cond)].describe(cond)
