"""The condition language, evaluated by the library itself (never `eval`).

Logic is three-valued (Kleene): a comparison on a missing item, an unscored scale or an absent
context variable is *unknown* (None), so a rule that might hold is never silently taken as
false. A skipped item (skip logic) is not unknown: every comparison on it is false.

Each kind of condition is one entry in `_COMPILERS`; adding a kind touches this module only.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from .definition import (
    AllCondition,
    AnyCondition,
    ContextCondition,
    CountCondition,
    ItemCondition,
    NotCondition,
    ScaleCondition,
    _Comparison,
)

Truth = bool | None


class Env:
    """What a condition can look at for one response."""

    __slots__ = ("context", "items", "scales", "skipped")

    def __init__(
        self,
        items: Mapping[str, float],
        skipped: frozenset[str] | set[str],
        scales: Mapping[str, float | None],
        context: Mapping[str, str],
    ) -> None:
        self.items = items
        self.skipped = skipped
        self.scales = scales
        self.context = context


Evaluator = Callable[[Env], Truth]

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
    "in": lambda value, options: value in options,
}


def predicate(cmp: _Comparison | ContextCondition) -> Callable[[Any], bool]:
    """The comparison of a condition as a one-argument test."""
    if isinstance(cmp, ContextCondition):
        if cmp.eq is not None:
            return _bind("eq", cmp.eq)
        if cmp.ne is not None:
            return _bind("ne", cmp.ne)
        return _bind("in", frozenset(cmp.in_ or ()))
    operand = frozenset(cmp.operand) if cmp.op == "in" else cmp.operand
    return _bind(cmp.op, operand)


def _bind(op: str, operand: Any) -> Callable[[Any], bool]:
    fn = _OPS[op]
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
    test, scale = predicate(cond), cond.scale

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
    return _KINDS[type(cond)][0](cond)


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

    if isinstance(cmp, ContextCondition):
        if cmp.in_ is not None:
            options = list(cmp.in_)
            return lambda values: np.isin(values, options)
        if cmp.eq is not None:
            eq = cmp.eq
            return lambda values: values == eq
        ne = cmp.ne
        return lambda values: values != ne
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
    test, scale = vector_predicate(cond), cond.scale

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
    return _KINDS[type(cond)][1](cond)


# Each kind of condition: its scalar and its vectorized evaluation, side by side.
_KINDS: dict[type[Any], tuple[Callable[[Any], Evaluator], Callable[[Any], VEvaluator]]] = {
    ItemCondition: (_item, _item_vec),
    ScaleCondition: (_scale, _scale_vec),
    ContextCondition: (_context, _context_vec),
    CountCondition: (_count, _count_vec),
    AnyCondition: (_any, _any_vec),
    AllCondition: (_all, _all_vec),
    NotCondition: (_not, _not_vec),
}


def item_tests(cond: Any) -> list[tuple[str, Callable[[Any], bool]]]:
    """The item-level comparisons inside a condition, to name the items that raised a flag."""
    if isinstance(cond, ItemCondition):
        return [(cond.item, predicate(cond))]
    if isinstance(cond, CountCondition):
        test = predicate(cond.count)
        return [(item, test) for item in cond.count.items]
    children: list[Any] = []
    if isinstance(cond, AnyCondition):
        children = list(cond.any)
    elif isinstance(cond, AllCondition):
        children = list(cond.all)
    elif isinstance(cond, NotCondition):
        children = []  # items under `not` raise a flag by their absence, not their presence
    return [t for child in children for t in item_tests(child)]


def referenced(cond: Any) -> Iterator[tuple[str, str]]:
    """(kind, name) of every item, scale and context variable a condition reads."""
    if isinstance(cond, ItemCondition):
        yield "item", cond.item
    elif isinstance(cond, ScaleCondition):
        yield "scale", cond.scale
    elif isinstance(cond, ContextCondition):
        yield "context", cond.context
    elif isinstance(cond, CountCondition):
        for item in cond.count.items:
            yield "item", item
    elif isinstance(cond, AnyCondition | AllCondition):
        for child in cond.any if isinstance(cond, AnyCondition) else cond.all:
            yield from referenced(child)
    elif isinstance(cond, NotCondition):
        yield from referenced(cond.not_)


_SYMBOLS = {"eq": "=", "ne": "≠", "gt": ">", "gte": "≥", "lt": "<", "lte": "≤", "in": "in"}


def _describe_cmp(subject: str, op: str, operand: Any) -> str:
    if op == "in":
        shown = ", ".join(str(v) for v in sorted(operand))
        return f"{subject} in [{shown}]"
    return f"{subject} {_SYMBOLS[op]} {operand}"


def describe(cond: Any) -> str:
    """A condition in words, for messages: `cssrs_2 = 1`, `any of (…)`."""
    if isinstance(cond, ItemCondition):
        return _describe_cmp(cond.item, cond.op, cond.operand)
    if isinstance(cond, ScaleCondition):
        return _describe_cmp(f"scale {cond.scale}", cond.op, cond.operand)
    if isinstance(cond, ContextCondition):
        if cond.eq is not None:
            return f"{cond.context} = {cond.eq}"
        if cond.ne is not None:
            return f"{cond.context} ≠ {cond.ne}"
        return _describe_cmp(cond.context, "in", cond.in_ or [])
    if isinstance(cond, CountCondition):
        each = _describe_cmp("item", cond.count.op, cond.count.operand)
        items = ", ".join(cond.count.items)
        return _describe_cmp(f"count of ({items}) with {each}", cond.op, cond.operand)
    if isinstance(cond, AnyCondition):
        return "any of (" + "; ".join(describe(c) for c in cond.any) + ")"
    if isinstance(cond, AllCondition):
        return "all of (" + "; ".join(describe(c) for c in cond.all) + ")"
    if isinstance(cond, NotCondition):
        return f"not ({describe(cond.not_)})"
    raise TypeError(type(cond).__name__)
