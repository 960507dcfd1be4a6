"""Array kernels: a compiled definition scores many responses at once with numpy.

Arrays in, arrays out; nothing here knows pandas (or any dataframe library). An adapter hands
each item column in as an `ItemInput` (whole numbers, floats with NaN for missing, a boolean
column, or objects), the context as object arrays, and gets `OutColumn`s back (values, a null
mask, categories), which it turns into its own library's columns. The same compiled definition
drives the single-response scorer; the reason text of an invalid row is that scorer's.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, NamedTuple

import numpy as np

from .codes import UNDETERMINED_REASON, ResponseCode, RowCode, render
from .definition import Instrument
from .errors import make_issue
from .rules import VEnv, compile_vector
from .scoring import (
    ALL_SKIPPED,
    CODING,
    NO_TABLE,
    ItemPlan,
    Plan,
    _describe_value,
    _is_missing,
    check_value,
    missing_reason,
    non_answer_of,
    over_unscored,
    plan_for,
)

__all__ = [
    "NUMPY_TYPES",
    "ArrayPlan",
    "IssueTable",
    "ItemInput",
    "OutColumn",
    "Scored",
    "Why",
    "array_plan",
    "check_context",
    "explain",
    "score_arrays",
]


# --- the plan, compiled once per instrument -----------------------------------------------------


class _ItemTable(NamedTuple):
    """Response value → score as an array lookup."""

    lo: int
    span: int
    table: Any  # score of value lo + i (0 where lo + i is not an option)
    options: Any  # bool array: whether lo + i is an option (scores may be negative)
    identity: bool  # options are exactly lo..hi and scores equal values
    low_bits: int | None  # options are exactly 0..2^k-1: one OR over a column checks them all
    dtype: Any  # int8 where every value and score fits, else int32
    step: int = 1  # units per whole number of a decimal answer: values are read into units


def _item_table(item: ItemPlan) -> _ItemTable:
    values = sorted(item.scores)
    lo, hi = values[0], values[-1]
    small = all(-127 <= v <= 127 for v in (*values, *item.scores.values()))
    dtype = np.int8 if small else np.int32
    if hi - lo > _DENSE:
        # options far apart: sorted values and a search, not a table as wide as their span
        sparse = np.array([values, [item.scores[v] for v in values]], dtype=np.int64)
        return _ItemTable(lo, hi - lo, sparse, None, False, None, dtype, item.step)
    table = np.zeros(hi - lo + 1, dtype=dtype)
    options = np.zeros(hi - lo + 1, dtype=bool)
    for value, score in item.scores.items():
        table[value - lo] = score
        options[value - lo] = True
    identity = values == list(range(lo, hi + 1)) and all(item.scores[v] == v for v in values)
    low_bits = hi if identity and lo == 0 and (hi + 1) & hi == 0 else None
    return _ItemTable(lo, hi - lo, table, options, identity, low_bits, dtype, item.step)


_DENSE = 4096  # widest span of option values looked up through a table


class _Bands(NamedTuple):
    lo: int
    codes: Any  # int16: band code of score lo + i
    steps: tuple[tuple[int, int], ...]  # (position, change of code there), where it changes
    narrow: Any  # int8 where every code fits, else int16

    def of(self, position: Any) -> Any:
        """The band codes of scores `lo + position` (each position within the table)."""
        if len(self.steps) > _EDGES:
            return np.take(self.codes, position)  # faster than indexing (narrow indices)
        # a few comparisons on the narrow scores: a gather needs wide indices, and costs
        # more than eight of them (a random gather mispredicts)
        # (counted in int8 where every code fits: int8 adds are the fastest)
        narrow = self.narrow
        out = np.full(len(position), self.codes[0], dtype=narrow)
        for edge, step in self.steps:
            past = (position >= edge).view(np.int8)
            out += past if step == 1 else past * narrow(step)
        return out.astype(np.int16, copy=False)


def _bands(lo: int, codes: Any) -> _Bands:
    edges = (np.flatnonzero(codes[1:] != codes[:-1]) + 1).tolist()
    steps = tuple((e, int(codes[e]) - int(codes[e - 1])) for e in edges)
    widest = max([abs(int(c)) for c in codes] + [abs(step) for _, step in steps])
    narrow = np.int8 if widest < 2**7 else np.int16  # every code and every step fits
    return _Bands(lo, codes, steps, narrow)


_EDGES = 8  # most band edges found by comparisons (a gather past that)


class _Table(NamedTuple):
    """An alternative band table for arrays: its bands and where it applies."""

    name: str
    bands: Any  # steps.Bands
    when: Any  # VEvaluator, or None: everywhere


class ArrayPlan:
    """A definition compiled for arrays (cached on the scalar plan)."""

    def __init__(self, plan: Plan) -> None:
        from .steps import scale_range

        self.plan = plan
        self.tables = tuple(_item_table(item) for item in plan.items)
        inst = plan.instrument
        self.ask_if = tuple(
            compile_vector(item.ask_if) if item.ask_if is not None else None for item in inst.items
        )
        self.flags = tuple((f.id, compile_vector(f.when)) for f in inst.flags)
        self.classifications = tuple(
            (
                name,
                tuple(compile_vector(r.when) for r in c.rules),
                (*(r.label for r in c.rules), c.otherwise),
            )
            for name, c in inst.classifications.items()
        )
        self.score_dtypes: dict[str, str] = {}
        self.sum_dtypes: dict[str, Any] = {}
        self.bands: dict[str, _Bands] = {}
        for scale in plan.scales:
            bounds = scale_range(inst, inst.scales[scale.name])
            assert bounds is not None  # checked on load
            # the exact reachable range (proration included) sizes every integer on the way:
            # the running sum, the multiplied score and the output column
            widest = sum(
                max(abs(v) for v in item.scores.values())
                for item in plan.items
                if item.id in scale.items
            )
            reach = max(abs(bounds[0]), abs(bounds[1]), widest)
            # the narrowest integer, with a bit to spare so that a score minus the lowest one
            # fits too (a band's position): adding int8 scores to int8 is four times as fast
            # as to int32 (comparisons with wider thresholds are exact in numpy 2; arithmetic
            # with a constant too wide for the type raises, never wraps)
            self.sum_dtypes[scale.name] = next(
                (
                    t
                    for t, bits in ((np.int8, 6), (np.int16, 14), (np.int32, 30))
                    if reach < 2**bits
                ),
                np.int64,
            )
            if not scale.integral:
                self.score_dtypes[scale.name] = "Float64"
            else:
                lo, hi = int(bounds[0]), int(bounds[1])
                fits = next(
                    (
                        t
                        for t, bits in (("Int16", 15), ("Int32", 31))
                        if -(2**bits) <= lo and hi < 2**bits
                    ),
                    "Int64",
                )
                self.score_dtypes[scale.name] = fits
                bands = scale.steps.bands
                if bands is not None and hi - lo <= 100_000:
                    codes = bands.array(np.arange(lo, hi + 1))
                    self.bands[scale.name] = _bands(lo, codes.astype(np.int16))
        self.prorating = {
            s.name for s in plan.scales if s.max_missing > 0 and s.steps.missing.fill is None
        }
        self.lookups = {  # where each conversion table chosen by context applies
            scale.name: tuple(
                compile_vector(t.when) if t.when is not None else None for t in scale.steps.lookups
            )
            for scale in plan.scales
            if scale.steps.lookups
        }
        self.band_tables = {
            scale.name: tuple(
                _Table(
                    t.name,
                    t.bands,
                    compile_vector(t.when) if t.when is not None else None,
                )
                for t in scale.steps.tables
            )
            for scale in plan.scales
            if scale.steps.tables
        }


def array_plan(instrument: Instrument | str | Plan) -> ArrayPlan:
    """The cached array plan of a built-in id, a definition file, an `Instrument` or a plan."""
    plan = instrument if isinstance(instrument, Plan) else plan_for(instrument)
    cached: ArrayPlan | None = getattr(plan, "array_plan", None)
    if cached is None:
        cached = ArrayPlan(plan)
        plan.array_plan = cached  # type: ignore[attr-defined]
    return cached


# --- columns in and out -------------------------------------------------------------------------


class ItemInput(NamedTuple):
    """One item column as an adapter hands it in."""

    kind: Literal["int", "masked", "float", "bool", "object"]
    values: Any
    """int: whole numbers, none missing; masked: whole numbers (any value where missing) with
    `missing` beside them (a nullable integer column, read without a float copy); float:
    float64 with NaN for missing; bool: the missing mask (a boolean is never an answer); object:
    the cells as they are."""
    missing: Any = None


NUMPY_TYPES = {
    "Int16": np.dtype(np.int16),
    "Int32": np.dtype(np.int32),
    "Int64": np.dtype(np.int64),
    "Float64": np.dtype(np.float64),
}
"""The numpy type of each nullable output type an `OutColumn` names."""


class OutColumn(NamedTuple):
    """One output column: values, a null mask and, for a category, its labels (ordered)."""

    kind: Literal["int", "float", "bool", "category", "text"]
    values: Any
    null: Any
    dtype: str = ""
    """For int and float: the nullable type name (Int16, Int32, Int64, Float64)."""
    categories: tuple[str, ...] = ()
    ordered: bool = True
    """Whether the categories are ordered (bands and rule labels are)."""
    codes: Any = None
    """For text: each row's index into `categories`, its distinct texts (`values` is None:
    each adapter gathers the texts, never a Python string built per row)."""


def _no_nulls(n: int) -> Any:
    return np.zeros(n, dtype=bool)


class Column(NamedTuple):
    """One item over every row. `scores` is 0 wherever the item is not known, so a scale is a
    plain sum; `complete` says every row holds a valid answer (the masks are then constant)."""

    scores: Any  # int8
    known: Any  # a valid answer (or a score the skip logic gives)
    missing: Any  # no answer (absent, None, NaN, NA)
    bad: Any  # an answer that is not acceptable
    complete: bool


class Constants:
    """Read-only all-true and all-false masks, shared by the complete columns of one call."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.true = np.ones(n, dtype=bool)
        self.false = np.zeros(n, dtype=bool)
        self.true.flags.writeable = False
        self.false.flags.writeable = False


def read_column(
    given: ItemInput | None, item: ItemPlan, table: _ItemTable, const: Constants
) -> Column:
    """An item column → its scores, and which rows are known, missing and bad."""
    n = const.n
    if given is None:
        return Column(np.zeros(n, dtype=table.dtype), const.false, const.true, const.false, False)
    kind, values, absent = given
    if table.step != 1 and kind in ("int", "masked"):  # a decimal answer: read as floats
        values = values.astype(np.float64)
        if kind == "masked":
            values[absent] = np.nan
        kind = "float"
    if kind == "int":
        return _read_integers(values, table, const)
    if kind == "masked":
        if not absent.any():
            return _read_integers(values, table, const)
        col = _read_integers(values, table, const)
        present = ~absent
        return Column(
            col.scores * present.view(np.int8),  # 0 where missing (np.where is slower)
            col.known & present,
            absent,
            col.bad & present,
            False,
        )
    if kind == "float":
        return _read_floats(values, table, const)
    if kind == "bool":
        missing = values
        return Column(np.zeros(n, dtype=table.dtype), const.false, missing, ~missing, False)
    return _read_objects(values, item, table)


def _read_floats(floats: Any, table: _ItemTable, const: Constants) -> Column:
    """Floats, NaN for missing → scores; a fraction or a value past the options is bad."""
    if table.step != 1:
        floats = _units(floats, table.step)
    with np.errstate(invalid="ignore"):
        small = floats.astype(table.dtype)  # a value the dtype cannot hold fails below
    whole = floats == small  # false for NaN, fractions and out-of-range values
    if whole.all():
        return _read_integers(small, table, const)
    missing = np.isnan(floats)
    if table.low_bits is not None:
        # an option is a whole number within 0..low_bits: seen unsigned, a negative one is
        # past it too
        known = small.view(small.dtype.str.replace("i", "u")) <= table.low_bits
        known &= whole
        small *= known.view(np.int8)  # 0 wherever the answer is unknown (`small` is ours)
        bad = ~(missing | known)
        return Column(small, known, missing, bad if bad.any() else const.false, False)
    col = _read_integers(np.where(whole, small, table.lo - 1), table, const)
    return Column(col.scores, col.known, missing, ~(missing | col.known), False)


def _units(floats: Any, step: int) -> Any:
    """Decimal answers as whole counts of units (NaN stays NaN; a value finer than the
    decimals becomes a fraction, refused below): `definition.to_units` on arrays, the same
    float operations in the same order."""
    with np.errstate(invalid="ignore", over="ignore"):
        units = np.rint(floats * step)
        exact = units / step == floats
    return np.where(exact | np.isnan(floats), units, 0.5)


def _read_integers(values: Any, table: _ItemTable, const: Constants) -> Column:
    """Whole numbers (no missing value) → scores."""
    if (
        table.low_bits is not None
        and len(values)
        and not (int(np.bitwise_or.reduce(values)) & ~table.low_bits)
    ):
        # every value is an option and scores as itself: the common case, one pass
        return Column(
            values.astype(table.dtype, copy=False), const.true, const.false, const.false, True
        )
    if table.lo or (values.dtype.kind == "u" and values.dtype.itemsize == 8):
        # arithmetic in int64: an int8 column minus the lowest option (or a uint8 one minus a
        # negative option) would wrap or fail in the column's own type
        values = _as_int64(values, table.lo - 1)
    if table.span > _DENSE:
        options, option_scores = table.table
        at = np.minimum(np.searchsorted(options, values), len(options) - 1)
        known = options[at] == values
        scores = np.where(known, option_scores[at], 0).astype(table.dtype)
        if known.all():
            return Column(scores, const.true, const.false, const.false, True)
        return Column(scores, known, const.false, ~known, False)
    offset = values - table.lo if table.lo else values
    in_range = (offset >= 0) & (offset <= table.span)
    at = offset * in_range.view(np.int8)  # 0 where out of range (np.where is slower)
    scores = np.take(table.table, at)  # faster than indexing with a narrow integer array
    known = in_range & table.options[at]
    if known.all():
        return Column(scores, const.true, const.false, const.false, True)
    scores *= known.view(np.int8)  # `scores` is ours (a gather)
    return Column(scores, known, const.false, ~known, False)


def _as_int64(values: Any, not_an_option: int) -> Any:
    """Whole numbers as int64; an unsigned value past int64 (never an option) becomes one that
    is no option."""
    if values.dtype == np.int64:
        return values
    if values.dtype.kind == "u" and values.dtype.itemsize == 8:
        too_big = values > np.iinfo(np.int64).max
        if too_big.any():
            return np.where(too_big, not_an_option, values.astype(np.int64))
    return values.astype(np.int64)


def _key(value: Any) -> Any:
    """A cache key telling apart values that describe differently (1 and 1.0 and True)."""
    try:
        hash(value)
    except (TypeError, ValueError):  # a generic numpy timedelta64 raises ValueError
        return ("unhashable", id(value))
    if isinstance(value, float) and value == 0:  # -0.0 and 0.0: equal, but written apart
        return (type(value), value, math.copysign(1.0, value))
    return (type(value), value)


_TYPE = np.frompyfunc(type, 1, 1)


def _plain_number(kind: type) -> bool:
    """A type whose values read exactly as float64 within the options' bounds (Python and
    numpy integers and floats; never a boolean, a date or a duration)."""
    return (
        issubclass(kind, int | float | np.integer | np.floating)
        and not issubclass(kind, bool | np.bool_)
        and kind.__name__ not in ("timedelta64", "datetime64")
    )


def _read_objects(values: Any, item: ItemPlan, table: _ItemTable) -> Column:
    """Mixed or text columns: the numbers among them read at once as floats, blanks marked,
    and only the other cells (text, booleans, odd types) checked one by one, each distinct
    value once, by the single-response checker."""
    n = len(values)
    scores = np.zeros(n, dtype=table.dtype)
    known, missing, bad = (np.zeros(n, dtype=bool) for _ in range(3))
    kinds = _TYPE(values) if n else np.empty(0, dtype=object)
    numeric = np.zeros(n, dtype=bool)
    for kind in set(kinds.tolist()):
        boxed = np.empty((), dtype=object)  # a numpy type compared bare reads as a dtype
        boxed[()] = kind
        if _plain_number(kind):
            numeric |= kinds == boxed
        elif kind is type(None) or kind.__name__ == "NAType":
            missing |= kinds == boxed
    rest = ~numeric & ~missing
    at = np.flatnonzero(numeric)
    if len(at):
        try:
            floats = values[at].astype(np.float64)
        except (OverflowError, ValueError, TypeError):  # an int past float: one by one
            rest |= numeric
        else:
            col = _read_floats(floats, table, Constants(len(at)))
            scores[at] = col.scores
            known[at] = col.known
            missing[at] = col.missing
            bad[at] = col.bad
    _check_cells(values, np.flatnonzero(rest), item, Column(scores, known, missing, bad, False))
    return Column(scores, known, missing, bad, bool(known.all()))


_MISSING: Any = object()


def _check_cells(values: Any, rows: Any, item: ItemPlan, into: Column) -> None:
    """Check cells one by one (each distinct value once), writing into `into`'s arrays."""
    seen: dict[Any, Any] = {}
    for row in rows.tolist():
        value = values[row]
        key = _key(value)
        found = seen.get(key, seen)
        if found is seen:
            if _is_missing(value):
                found = seen[key] = _MISSING
            else:
                score, issue = check_value(item, value)
                # a non-answer that scores nothing counts as missing
                found = seen[key] = _MISSING if score is None and issue is None else score
        if found is _MISSING:
            into.missing[row] = True
        elif found is None:
            into.bad[row] = True
        else:
            into.scores[row] = found
            into.known[row] = True


# --- scoring ------------------------------------------------------------------------------------


class _ContextStatus(NamedTuple):
    values: Any  # object array, None where missing
    missing: Any  # required and missing: context_missing
    invalid: Any  # given but not one of the variable's values: context_invalid


def _context_arrays(
    plan: Plan, n: int, context: Mapping[str, Any]
) -> tuple[dict[str, tuple[Any, Any]], Any, dict[str, _ContextStatus]]:
    """Per-row context values, their validity, the rows whose context is bad, and each
    variable's status. A value is an object array with one cell per row, or a scalar for
    every row (judged once)."""
    given = dict(context or {})
    unknown = sorted(set(given) - plan.context_names)
    if unknown:
        raise ValueError(
            f"{plan.provenance.instrument} takes no context {', '.join(map(repr, unknown))} "
            f"(declared: {', '.join(sorted(plan.context_names)) or 'none'})"
        )
    check_context(given, n)
    arrays: dict[str, tuple[Any, Any]] = {}
    status: dict[str, _ContextStatus] = {}
    bad = np.zeros(n, dtype=bool)
    for var in plan.context:
        value = given.get(var.name)
        if isinstance(value, np.ndarray):
            absent = np.fromiter((_is_missing(v) for v in value), dtype=bool, count=n)
            values = value
            if absent.any():  # pd.NA, NaN or None: missing context, and never compared
                values = value.copy()
                values[absent] = None
            judged: dict[Any, Any] = {}  # each distinct value read once
            read = np.empty(n, dtype=object)
            for row, cell in enumerate(values.tolist()):
                key = _key(cell)
                if key not in judged:
                    judged[key] = None if cell is None else var.read(cell)
                read[row] = judged[key]
            valid = np.fromiter((v is not None for v in read), dtype=bool, count=n)
        else:  # one value for every row
            gone = _is_missing(value)
            values = np.full(n, None if gone else value, dtype=object)
            absent = np.full(n, gone)
            once = None if gone else var.read(value)
            read = np.full(n, once, dtype=object)
            valid = np.full(n, once is not None)
        compared = read
        if var.default is not None and absent.any():  # a missing value takes the default
            compared[absent] = var.default
            valid = valid | absent
            absent = np.zeros(n, dtype=bool)
        if var.number:  # numbers compare as floats; NaN where unknown (masked by `valid`)
            floats = np.full(n, np.nan)
            at = np.flatnonzero(valid)
            if len(at):
                floats[at] = compared[at].astype(np.float64)
            compared = floats
        missing = absent & var.required
        invalid = ~absent & ~valid
        bad |= missing | invalid
        arrays[var.name] = (compared, valid)
        status[var.name] = _ContextStatus(values, missing, invalid)
    return arrays, bad, status


def check_context(context: Mapping[str, Any], n: int) -> None:
    """Refuse a context array that is not one value per row (never cut or stretched to fit)."""
    for name, value in context.items():
        if isinstance(value, np.ndarray) and (value.ndim != 1 or len(value) != n):
            shape = "a single value" if value.ndim == 0 else f"shape {value.shape}"
            raise ValueError(
                f"context {name!r} is an array of {shape} for {n} rows: give one value per "
                "row, or a plain value for every row"
            )


class Why(NamedTuple):
    """What makes rows invalid, as masks: enough to write every reason without re-scoring."""

    context: dict[str, _ContextStatus]
    bad: dict[str, Any]
    """Item id → rows whose answer is not acceptable (only items with such rows)."""
    skipped: dict[str, Any]
    """Item id → rows where skip logic skipped it (an answer there is skipped_item_answered)."""
    any_bad: Any
    scales: dict[str, tuple[Any, Any, Any, list[tuple[Any, str]]]]
    """Primary scale → (unscored for missing items, not a bad answer; missing counts; nothing
    counted; other reasons as (rows, reason), which come first: no conversion table for the
    row's context, the scales a scale over scales lists unscored), on rows where it is
    unscored."""
    undetermined: dict[str, Any]
    """Classification → rows where it is undetermined."""
    plan: Plan | None = None
    """The plan the rows were read with (its coding's), whose messages explain them."""


class Scored(NamedTuple):
    """One instrument over every row: its output columns (by name, in order), which rows are
    valid, and why the others are not."""

    columns: dict[str, OutColumn]
    valid: Any
    why: Why


def score_arrays(
    aplan: ArrayPlan,
    inputs: Mapping[str, ItemInput | None],
    context: Mapping[str, Any],
    n: int,
) -> Scored:
    """Score `n` rows: `inputs` maps each item id to its column (None: no column). A coding
    other than the default (`context["coding"]`, one name for every row) reads the columns in
    it."""
    aplan, context = _in_coding(aplan, context)
    plan = aplan.plan
    const = Constants(n)
    ctx, bad_context, context_status = _context_arrays(plan, n, context)
    bad_items: dict[str, Any] = {}
    any_bad = np.zeros(n, dtype=bool)
    columns: dict[str, Column] = {}
    items: dict[str, tuple[Any, Any]] = {}
    skipped: dict[str, Any] = {}
    row_ok = ~bad_context
    non_answers: list[tuple[str, Any]] = []
    for item, table, ask_if in zip(plan.items, aplan.tables, aplan.ask_if, strict=True):
        col = _read_item(inputs.get(item.id), item, table, const, non_answers)
        if ask_if is not None:
            col, skip = _apply_skip(item, ask_if, col, VEnv(n, items, skipped, {}, ctx))
            skipped[item.id] = skip
        columns[item.id] = col
        items[item.id] = (col.scores, col.known)
        if not col.complete and col.bad.any():
            row_ok &= ~col.bad
            bad_items[item.id] = col.bad
            any_bad |= col.bad

    out: dict[str, OutColumn] = {}
    scale_env: dict[str, tuple[Any, Any]] = {}
    unscored: dict[str, tuple[Any, Any, Any, list[tuple[Any, str]]]] = {}
    done: dict[str, _ScaleArrays] = {}
    for scale in plan.scales:
        arrays, others = _scale_arrays(
            aplan, scale, columns, skipped, done=done, const=const, ctx=ctx
        )
        done[scale.name] = arrays
        scale_env[scale.name] = (arrays.final, arrays.valid)
        if scale.primary and arrays.valid is not const.true:
            row_ok &= arrays.valid
            short = ~arrays.valid & ~arrays.bad  # unscored for missing items, not a bad answer
            if short.any():
                unscored[scale.name] = (short, arrays.missing, arrays.counted == 0, others)
        out.update(_scale_columns(aplan, scale, const, arrays, ctx))

    env = VEnv(n, items, skipped, scale_env, ctx)
    for flag_id, when in aplan.flags:
        true, unknown = when(env)  # undetermined (an answer it reads is missing): null
        out[f"flag_{flag_id}"] = OutColumn("bool", true, unknown & ~true)
    undetermined = _classify(aplan, env, out)
    for codes in undetermined.values():
        row_ok &= ~codes
    out.update(_non_answer_column(plan, non_answers, n))
    out["valid"] = OutColumn("bool", row_ok, _no_nulls(n))
    why = Why(context_status, bad_items, skipped, any_bad, unscored, undetermined, plan)
    return Scored(out, row_ok, why)


def _classify(aplan: ArrayPlan, env: VEnv, out: dict[str, OutColumn]) -> dict[str, Any]:
    """Each classification's column into `out`; the rows where each is undetermined (only
    classifications with such rows)."""
    undetermined: dict[str, Any] = {}
    for name, rules, labels in aplan.classifications:
        codes = np.full(env.n, len(labels) - 1, dtype=np.int16)  # otherwise
        decided = np.zeros(env.n, dtype=bool)
        for code, when in enumerate(rules):
            true, unknown = when(env)
            codes[~decided & true] = code
            codes[~decided & unknown & ~true] = -1  # undetermined: never a guess
            decided |= true | unknown
        if (codes < 0).any():
            undetermined[name] = codes < 0
        out[name] = _labels(codes, labels)
    return undetermined


def _read_item(
    given: ItemInput | None,
    item: ItemPlan,
    table: _ItemTable,
    const: Constants,
    non_answers: list[tuple[str, Any]],
) -> Column:
    """An item's column read, its non-answers (if any) noted in `non_answers`."""
    col = read_column(given, item, table, const)
    if item.non_answers:
        col, kinds = _read_non_answers(given, item, col)
        if kinds is not None:
            non_answers.append((item.id, kinds))
    return col


def _read_non_answers(given: ItemInput | None, item: ItemPlan, col: Column) -> tuple[Column, Any]:
    """An item column with its non-answers read: one that scores nothing counts as missing,
    not as a bad answer. Also each row's kind of non-answer (an object array, None where the
    answer is none), or None when no row holds one."""
    if given is None or given.kind == "bool":
        return col, None
    values = given.values
    if given.kind == "object":
        kinds = np.frompyfunc(lambda v: non_answer_of(item, v), 1, 1)(values)
        if not len(kinds):
            return col, None
    else:
        kinds = np.full(len(values), None, dtype=object)
        for value, kind in item.non_answers.items():
            kinds[values == value] = kind
        if given.kind == "masked":
            kinds[given.missing] = None
    held = kinds != None  # noqa: E711  (elementwise, on an object array)
    if not held.any():
        return col, None
    unscored = [v for v in item.non_answers if v not in item.scores]
    if unscored:
        if given.kind == "object":
            scoreless = held & ~col.known
        else:
            scoreless = held & np.isin(values, unscored)
        col = Column(col.scores, col.known, col.missing | scoreless, col.bad & ~scoreless, False)
    return col, kinds


def _non_answer_column(plan: Plan, found: list[tuple[str, Any]], n: int) -> dict[str, OutColumn]:
    """`non_answers` (for an instrument that has them): each row's non-answers as
    `item: kind`, joined by `; ` (empty: none)."""
    if not plan.has_non_answers:
        return {}
    by_row: dict[int, str] = {}  # only the rows with a non-answer, in item order
    for item_id, kinds in found:
        for row in np.flatnonzero(kinds != None).tolist():  # noqa: E711
            entry = f"{item_id}: {kinds[row]}"
            by_row[row] = f"{by_row[row]}; {entry}" if row in by_row else entry
    # the distinct texts and a code per row ("" for most), as the reason column: each adapter
    # gathers its texts, never building a million Python strings
    texts: dict[str, int] = {"": 0}
    codes = np.zeros(n, dtype=np.int64)
    for row, text in by_row.items():
        codes[row] = texts.setdefault(text, len(texts))
    return {
        "non_answers": OutColumn(
            "text", None, np.zeros(n, dtype=bool), categories=tuple(texts), codes=codes
        )
    }


def _in_coding(aplan: ArrayPlan, context: Mapping[str, Any]) -> tuple[ArrayPlan, Mapping[str, Any]]:
    """The array plan of the coding `context` chooses, and the context without it."""
    if aplan.plan.coding is None or CODING not in context:
        return aplan, context
    coding = context[CODING]
    if isinstance(coding, np.ndarray):
        raise ValueError("the coding is chosen per call: give one name for every row, not a column")
    rest = {k: v for k, v in context.items() if k != CODING}
    return array_plan(aplan.plan.coded(coding)), rest


class _ScaleArrays(NamedTuple):
    final: Any
    valid: Any  # `const.true` itself when every row is valid
    answered: Any
    missing: Any
    prorated: Any  # None when no row is prorated
    unrounded: Any  # None when no row is prorated
    bad: Any = None  # rows with a bad answer to one of its items
    counted: Any = None  # items counted (answered, plus skipped ones with a score)
    raw: Any = None  # the sum of the counted items' scores (before any other step)


def _scale_columns(
    aplan: ArrayPlan,
    scale: Any,
    const: Constants,
    arrays: _ScaleArrays,
    ctx: Mapping[str, tuple[Any, Any]],
) -> dict[str, OutColumn]:
    """The output columns of one scale."""
    n = const.n
    final, valid, answered, missing, prorated, unrounded = arrays[:6]
    out: dict[str, OutColumn] = {}
    everywhere = valid is const.true
    invalid = np.zeros(n, dtype=bool) if everywhere else ~valid
    dtype = aplan.score_dtypes[scale.name]
    out[scale.name] = OutColumn(
        "int" if dtype.startswith("Int") else "float", final, invalid, dtype
    )
    if scale.band_labels:
        bands = aplan.bands.get(scale.name)
        if bands is not None:  # a table over the scale's exact reachable range
            position = final - bands.lo if bands.lo else final
            if not everywhere:
                position = position * valid  # 0 where invalid (np.where is 5x slower)
            # one pass: seen unsigned, a negative position is past the table's end too
            unsigned = position.view(position.dtype.str.replace("i", "u"))
            if len(position) and unsigned.max() >= len(bands.codes):
                # never a label read through a wrapped index: a score outside the range the
                # definition allows is a bug to report, not a band to guess
                raise RuntimeError(f"scale {scale.name!r}: a score lies outside its range")
            codes = bands.of(position)
        else:  # a range too wide for a table
            codes = scale.steps.bands.array(final).astype(np.int16)
        if not everywhere:
            # -1 where invalid: every bit set, OR-ed in (assigning through the mask is slower)
            np.bitwise_or(codes, np.negative(invalid.view(np.int8)), out=codes)
        # every valid score has a band: the labels missing are the invalid rows'
        out[f"{scale.name}_band"] = OutColumn(
            "category", codes, invalid, categories=tuple(scale.band_labels)
        )
    tables = aplan.band_tables.get(scale.name)
    if tables:
        out.update(_table_columns(scale, tables, final, invalid, ctx=ctx))
    out[f"{scale.name}_answered"] = OutColumn("int", answered, _no_nulls(n), "Int16")
    out[f"{scale.name}_missing"] = OutColumn("int", missing, _no_nulls(n), "Int16")
    out[f"{scale.name}_prorated"] = OutColumn(
        "bool", np.zeros(n, dtype=bool) if prorated is None else prorated & valid, _no_nulls(n)
    )
    if scale.name in aplan.prorating:
        if unrounded is None:  # nothing to show in any row
            out[f"{scale.name}_unrounded"] = OutColumn(
                "float", np.zeros(n), np.ones(n, dtype=bool), "Float64"
            )
        else:
            out[f"{scale.name}_unrounded"] = OutColumn(
                "float", unrounded, ~(valid & prorated), "Float64"
            )
    return out


def _table_columns(
    scale: Any,
    tables: tuple[_Table, ...],
    final: Any,
    invalid: Any,
    *,
    ctx: Mapping[str, tuple[Any, Any]],
) -> dict[str, OutColumn]:
    """`<scale>_band_<table>` for each band table (null where it does not apply or the scale is
    unscored); without default bands, `<scale>_band` is the first applying table's label (null
    while an earlier table is undecided), with every table's labels as its categories."""
    n = len(final)
    env = VEnv(n, {}, {}, {}, ctx)
    scores = np.where(invalid, 0, final)
    out: dict[str, OutColumn] = {}
    union: list[str] = []
    chosen = np.full(n, -1, dtype=np.int16)
    decided = np.zeros(n, dtype=bool) | bool(scale.band_labels)
    for table in tables:
        codes = table.bands.array(scores).astype(np.int16)
        if table.when is None:
            applies, unknown = np.ones(n, dtype=bool), np.zeros(n, dtype=bool)
        else:
            applies, unknown = table.when(env)
        codes[invalid | ~applies] = -1
        labels = table.bands.labels
        out[f"{scale.name}_band_{table.name}"] = OutColumn(
            "category", codes, codes < 0, categories=tuple(labels)
        )
        if not scale.band_labels:
            union += [x for x in labels if x not in union]
            remap = np.array([union.index(x) for x in labels], dtype=np.int16)
            take = ~decided & applies
            chosen[take] = np.where(codes[take] >= 0, remap[np.maximum(codes[take], 0)], -1)
            decided |= applies | unknown
    if not scale.band_labels:
        chosen[invalid] = -1
        band = OutColumn("category", chosen, chosen < 0, categories=tuple(union))
        return {f"{scale.name}_band": band, **out}
    return out


def _labels(codes: Any, labels: tuple[str, ...]) -> OutColumn:
    """Rule codes as an ordered category; rules sharing a label share its category."""
    unique = list(dict.fromkeys(labels))
    remap = np.array([unique.index(label) for label in labels], dtype=np.int16)
    mapped = np.where(codes >= 0, remap[np.maximum(codes, 0)], -1)
    return OutColumn("category", mapped, mapped < 0, categories=tuple(unique))


def _apply_skip(item: ItemPlan, ask_if: Any, col: Column, env: VEnv) -> tuple[Column, Any]:
    """Skip logic for one item, exactly as the single-response scorer applies it."""
    true, unknown = ask_if(env)
    skip = ~true & ~unknown
    if item.score_when_skipped:
        skip &= col.missing  # an answer given anyway is scored as given
    if not skip.any():
        return col, skip
    scores, known, bad = col.scores.copy(), col.known.copy(), col.bad.copy()
    agrees = col.missing.copy()
    for accepted in item.accepted_when_skipped:  # answers that agree with the skip
        agrees |= col.known & (col.scores == accepted)
    if item.if_skipped is not None:
        consistent = skip & (agrees | (col.known & (col.scores == item.if_skipped)))
        scores[consistent] = item.if_skipped
        known[consistent] = True
    else:
        consistent = skip & agrees
        known[consistent] = False  # an agreeing answer leaves the item skipped, unscored
        scores[consistent] = 0
    bad[skip] = False
    bad |= skip & ~consistent  # skipped_item_answered; a valid answer still counts for flags
    return Column(scores, known, col.missing & ~skip, bad, False), skip


def _score_scale(
    scale: Any,
    columns: Mapping[str, Column],
    skipped: Mapping[str, Any],
    const: Constants,
    sum_dtype: Any,
) -> _ScaleArrays:
    """The arrays of one scale over every row."""
    n = const.n
    steps = scale.steps
    cols = _counted([columns[item_id] for item_id in scale.items], steps.counting)
    raw = cols[0].scores.astype(sum_dtype)  # wide enough for the scale's reachable range
    for col in cols[1:]:
        raw += col.scores  # unknown items score 0 here
    if all(c.complete for c in cols) and not any(i in skipped for i in scale.items):
        return _complete(steps, raw, len(cols), const)
    final: Any = steps.multiply.array(raw) if steps.plain else None
    answered, missing, counted, invalid = _tally(scale.items, cols, skipped, const)
    valid = missing <= scale.max_missing
    valid &= counted > 0
    if invalid is not const.false:
        valid &= ~invalid
    prorated = (missing > 0) & valid
    if steps.missing.fill is not None:  # a missing item counts the fill: not proration
        prorated = np.zeros(n, dtype=bool)
    rows = np.flatnonzero(prorated)
    unrounded = None
    if not steps.plain:  # a mean, a lookup table, rounding to decimals: exactly, in order
        final, unrounded = _finished(steps, raw, counted, missing, rows)
    elif len(rows):
        # only the rows with missing items are prorated: raw x total / counted
        part_raw = raw[rows].astype(np.int64)
        part_counted = counted[rows].astype(np.int64)
        part_total = part_counted + missing[rows]
        unrounded = np.zeros(n, dtype=np.float64)
        unrounded[rows] = steps.unrounded(part_raw, part_total, part_counted)
        part = steps.multiply.array(steps.missing.array(part_raw, part_total, part_counted))
        if steps.missing.half_up:
            final = final.copy() if final is raw else final
        else:
            final = final.astype(np.float64)
        final[rows] = part
    return _ScaleArrays(
        final,
        valid,
        answered.astype(np.int16),
        missing.astype(np.int16),
        prorated,
        unrounded,
        invalid,
        counted,
        raw,
    )


def _scale_arrays(
    aplan: ArrayPlan,
    scale: Any,
    columns: Mapping[str, Column],
    skipped: Mapping[str, Any],
    *,
    done: Mapping[str, _ScaleArrays],
    const: Constants,
    ctx: Mapping[str, tuple[Any, Any]],
) -> tuple[_ScaleArrays, list[tuple[Any, str]]]:
    """A scale's arrays (unscored where a scale it requires is), and the reasons, as (rows,
    reason), of rows unscored for want of a conversion table or of the scales it lists."""
    whens = aplan.lookups.get(scale.name)
    sum_dtype = aplan.sum_dtypes[scale.name]
    others: list[tuple[Any, str]] = []
    if scale.combine is not None:
        scored, others = _score_combined(scale.combine, done, const, sum_dtype)
    elif not whens:
        scored = _score_scale(scale, columns, skipped, const, sum_dtype)
    else:
        env = VEnv(const.n, {}, {}, {}, ctx)  # a table is chosen by context only
        scored, none = _score_chosen(
            scale, whens, env, columns, skipped, const=const, sum_dtype=sum_dtype
        )
        others = [(none, NO_TABLE)]
    if scale.requires is not None:
        scored = scored._replace(valid=scored.valid & done[scale.requires].valid)
    return scored, others


def _score_combined(
    combine: Any, done: Mapping[str, _ScaleArrays], const: Constants, sum_dtype: Any
) -> tuple[_ScaleArrays, list[tuple[Any, str]]]:
    """A scale over scales: the sum or the highest of their scores where every one is scored,
    and the reasons of the other rows (the scales listed that are unscored there)."""
    n = const.n
    parts = [done[name] for name in combine.scales]
    valid = np.ones(n, dtype=bool)
    pattern = np.zeros(n, dtype=np.int64)  # bit i: the i-th scale listed is unscored
    for bit, part in enumerate(parts):
        if part.valid is not const.true:
            valid &= part.valid
            pattern |= (~part.valid).astype(np.int64) << bit
    answered = sum(p.answered.astype(np.int16) for p in parts)
    missing = sum(p.missing.astype(np.int16) for p in parts)
    prorated = np.zeros(n, dtype=bool)
    bad = np.zeros(n, dtype=bool)
    for part in parts:
        if part.prorated is not None:
            prorated |= part.prorated
        if part.bad is not None and part.bad is not const.false:
            bad |= part.bad
    final = combine.array([np.where(p.valid, p.final, 0) for p in parts], sum_dtype)
    final[~valid] = 0
    others = []
    for code in np.unique(pattern[~valid]).tolist():
        names = [name for bit, name in enumerate(combine.scales) if code >> bit & 1]
        others.append((pattern == code, over_unscored(names)))
    arrays = _ScaleArrays(
        final,
        const.true if valid.all() else valid,
        answered,
        missing,
        prorated,
        None,
        bad,
        answered,
    )
    return arrays, others


def _score_chosen(
    scale: Any,
    whens: tuple[Any, ...],
    env: VEnv,
    columns: Mapping[str, Column],
    skipped: Mapping[str, Any],
    *,
    const: Constants,
    sum_dtype: Any,
) -> tuple[_ScaleArrays, Any]:
    """A scale converted by the table each row's context chooses (`scoring.chosen_table`),
    and the rows otherwise scored that no table applies to (unscored)."""
    n = const.n
    choice = np.full(n, -1, dtype=np.int16)
    decided = np.zeros(n, dtype=bool)  # a table chosen, or an earlier one undetermined
    for index, when in enumerate(whens):
        holds, unknown = (const.true, const.false) if when is None else when(env)
        choice[~decided & holds] = index
        decided |= holds | unknown
    # the items are tallied once (with the first table); each other table a row uses only
    # finishes the same sums
    first = _score_scale(
        scale._replace(steps=scale.steps.chosen(0)), columns, skipped, const, sum_dtype
    )
    counted = first.answered if first.counted is None else first.counted
    finals = [(0, first.final)] + [
        (index, scale.steps.chosen(index).finish_array(first.raw, counted, first.missing)[0])
        for index in range(1, len(whens))
        if (choice == index).any()
    ]
    final = np.zeros(n, dtype=np.result_type(*(f for _, f in finals)))
    for index, values in finals:
        rows = choice == index
        final[rows] = values[rows]
    none = choice < 0
    whole = first._replace(
        final=final,
        valid=first.valid & ~none,
        bad=const.false if first.bad is None else first.bad,  # every item answered: none bad
        counted=counted,
    )
    return whole, none & first.valid


def _counted(cols: list[Column], counting: Any) -> list[Column]:
    """The columns as a counting scale reads them: 1 where a known score meets its test."""
    if counting is None:
        return cols
    return [c._replace(scores=counting.array(c.scores, c.known)) for c in cols]


def _tally(
    items: Sequence[str], cols: list[Column], skipped: Mapping[str, Any], const: Constants
) -> tuple[Any, Any, Any, Any]:
    """Per row: the items answered, missing and counted (answered, or skipped with a score),
    and whether one holds a bad answer (`const.false` when none can)."""
    # the narrowest counters that hold the item count (int8 for any real instrument)
    counter: Any = np.int8 if len(cols) < 128 else np.int32
    answered = np.zeros(const.n, dtype=counter)
    missing = np.zeros(const.n, dtype=counter)
    scored_skips = np.zeros(const.n, dtype=counter)
    invalid = const.false
    complete = 0
    for item_id, col in zip(items, cols, strict=True):
        skip = skipped.get(item_id)
        if col.complete and skip is None:
            complete += 1
            continue
        if col.bad is not const.false:
            if invalid is const.false:
                invalid = col.bad.copy()
            else:
                invalid |= col.bad
        # masks added as the int8 counters they are (0 or 1 each): a bool added to int8 is
        # cast element by element, three times slower
        if skip is None:
            answered += _ones(col.known, counter)
            missing += _ones(col.missing, counter)
        else:
            answered += _ones(col.known & ~skip, counter)
            missing += _ones(col.missing, counter)
            scored_skips += _ones(col.known & skip, counter)
    answered += complete
    return answered, missing, answered + scored_skips, invalid


def _ones(mask: Any, counter: Any) -> Any:
    """A boolean mask as 0/1 counts of type `counter` (a view for int8: a bool is one byte)."""
    return mask.view(np.int8) if counter is np.int8 else mask.astype(counter)


def _complete(steps: Any, raw: Any, items: int, const: Constants) -> _ScaleArrays:
    """A scale whose every item is answered in every row: one pass."""
    answered = np.full(const.n, items, dtype=np.int16)
    none_missing = np.zeros(const.n, dtype=np.int16)
    if steps.plain:
        final = steps.multiply.array(raw)
    else:
        final = steps.finish_array(raw, answered, none_missing)[0]
    return _ScaleArrays(final, const.true, answered, none_missing, None, None, raw=raw)


def _finished(steps: Any, raw: Any, counted: Any, missing: Any, rows: Any) -> tuple[Any, Any]:
    """The final scores of a scale that is not a plain sum, and the unrounded scores of the
    prorated rows (None when there are none)."""
    final, before = steps.finish_array(raw, counted, missing)
    if not len(rows):
        return final, None
    unrounded = np.zeros(len(raw), dtype=np.float64)
    if steps.mean is not None:
        unrounded[rows] = before[rows]
    else:
        part_counted = counted[rows].astype(np.int64)
        unrounded[rows] = steps.unrounded(
            raw[rows].astype(np.int64), part_counted + missing[rows], part_counted
        )
    return final, unrounded


Cells = Callable[[str, Any], Any]
"""(item id, row positions) → the cells of that item's column at those rows, as objects."""


class IssueTable(NamedTuple):
    """Every issue of the invalid rows, one per entry, in the row scorer's order."""

    rows: Any  # int64: row positions
    item: Any  # object arrays from here on
    column: Any
    code: Any
    value: Any
    message: Any


class _Part(NamedTuple):
    """One source of reasons (a context variable, an item, a scale, a classification)."""

    rows: Any  # positions of the rows it speaks for
    messages: Any  # int64 message ids, one per row
    in_reason: Any  # bool: whether the message is part of the row's reason text
    item: Any
    column: Any
    code: Any
    values: Any  # object array, one per row


class _Messages:
    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.texts: list[str] = []

    def id(self, text: str) -> int:
        found = self.ids.get(text)
        if found is None:
            found = self.ids[text] = len(self.texts)
            self.texts.append(text)
        return found


def explain(
    plan: Plan,
    why: Why,
    cells: Cells,
    items: Mapping[str, Any],
    rows: Any,
    *,
    with_issues: bool,
) -> tuple[tuple[Any, Any], IssueTable | None]:
    """The single-response scorer's reasons for the invalid `rows` (the distinct texts, and
    each row's index into them) and, when asked, their issues. Each message is rendered once
    per distinct pattern by the templates the row scorer uses, so the text is the same and
    invalid rows cost little more than valid ones. `items` maps the item ids that have a
    column to its name."""
    plan = why.plan or plan  # the plan of the coding the rows were read in
    messages = _Messages()
    parts = [
        *_context_parts(plan, why, messages),
        *_item_parts(plan, why, cells, items, messages),
        *_scale_parts(plan, why, messages),
        *_classification_parts(why, messages),
    ]
    return _join(parts, rows, messages), (_issue_table(parts, messages) if with_issues else None)


def _context_parts(plan: Plan, why: Why, messages: _Messages) -> list[_Part]:
    out = []
    instrument = plan.provenance.instrument
    for var in plan.context:
        status = why.context[var.name]
        gone = np.flatnonzero(status.missing)
        wrong = np.flatnonzero(status.invalid)
        if not len(gone) and not len(wrong):
            continue
        facts = var.issue_ctx(instrument)
        missing_id = messages.id(make_issue(ResponseCode.CONTEXT_MISSING, **facts).message)
        values = status.values[wrong]
        seen: dict[Any, int] = {}
        wrong_ids = []
        for value in values:
            key = _key(value)
            if key not in seen:
                got = _describe_value(value)
                seen[key] = messages.id(
                    make_issue(ResponseCode.CONTEXT_INVALID, **facts, got=got).message
                )
            wrong_ids.append(seen[key])
        positions = np.concatenate([gone, wrong])
        order = np.argsort(positions, kind="stable")
        codes = np.array(
            [ResponseCode.CONTEXT_MISSING] * len(gone)
            + [ResponseCode.CONTEXT_INVALID] * len(wrong),
            dtype=object,
        )
        given = np.concatenate([np.full(len(gone), None, dtype=object), values])
        ids = np.array([missing_id] * len(gone) + wrong_ids, dtype=np.int64)
        out.append(
            _Part(
                positions[order],
                ids[order],
                np.ones(len(positions), dtype=bool),
                var.name,
                None,
                codes[order],
                given[order],
            )
        )
    return out


def _floats(cells: Any) -> Any:
    """Cells that are all Python floats, as float64 (None otherwise, or when they are few)."""
    if len(cells) < 64 or not all(type(c) is float for c in cells):
        return None
    return cells.astype(np.float64)


def _item_parts(
    plan: Plan, why: Why, cells: Cells, items: Mapping[str, Any], messages: _Messages
) -> list[_Part]:
    out = []
    for item in plan.items:
        bad = why.bad.get(item.id)
        if bad is None:
            continue
        positions = np.flatnonzero(bad)
        values = cells(item.id, positions)
        skip = why.skipped.get(item.id)
        skipped = skip[positions] if skip is not None else np.zeros(len(positions), dtype=bool)
        floats = None if skipped.any() else _floats(values)
        if floats is not None:  # a float column's bad cells: each distinct value checked once
            _, first, inverse = np.unique(floats.view(np.int64), True, True)  # -0.0 apart
            distinct_ids, distinct_codes = [], []
            for i in first.tolist():
                issue = check_value(item, values[i])[1]
                assert issue is not None  # the kernel found this answer bad
                distinct_ids.append(messages.id(issue.message))
                distinct_codes.append(issue.code)
            ids = np.array(distinct_ids, dtype=np.int64)[inverse]
            codes = np.array(distinct_codes, dtype=object)[inverse]
            whole = np.ones(len(positions), dtype=bool)
            out.append(_Part(positions, ids, whole, item.id, items.get(item.id), codes, values))
            continue
        seen: dict[Any, tuple[int, str]] = {}
        ids = np.empty(len(positions), dtype=np.int64)
        codes = np.empty(len(positions), dtype=object)
        for at, (value, answered_while_skipped) in enumerate(zip(values, skipped, strict=True)):
            key = (bool(answered_while_skipped), _key(value))
            found = seen.get(key)
            if found is None:
                if answered_while_skipped:
                    issue = make_issue(
                        ResponseCode.SKIPPED_ITEM_ANSWERED,
                        item=item.id,
                        value=value,
                        condition=item.ask_if_text,
                        got=_describe_value(value),
                    )
                else:
                    checked = check_value(item, value)[1]
                    assert checked is not None  # the kernel found this answer bad
                    issue = checked
                found = seen[key] = (messages.id(issue.message), issue.code)
            ids[at], codes[at] = found
        out.append(
            _Part(
                positions,
                ids,
                np.ones(len(positions), dtype=bool),
                item.id,
                items.get(item.id),
                codes,
                values,
            )
        )
    return out


def _scale_parts(plan: Plan, why: Why, messages: _Messages) -> list[_Part]:
    out = []
    for scale in plan.scales:
        if scale.name not in why.scales:
            continue
        short, missing, nothing, others = why.scales[scale.name]
        positions = np.flatnonzero(short)
        counts = missing[positions]
        ids = np.empty(len(positions), dtype=np.int64)
        for rows, reason in others:  # scored but for its context, or for the scales it lists
            here = rows[positions] & (counts >= 0)
            if here.any():
                text = render(RowCode.SCALE_UNSCORED, {"scale": scale.name, "reason": reason})
                ids[here] = messages.id(text)
                counts = np.where(here, -1, counts)
        for count in np.unique(counts).tolist():
            if count < 0:
                continue
            over = count > scale.max_missing
            reason = missing_reason(scale, count) if over else ALL_SKIPPED
            text = render(RowCode.SCALE_UNSCORED, {"scale": scale.name, "reason": reason})
            ids[counts == count] = messages.id(text)
            if not over:  # within the rule: unscored because nothing was counted
                assert nothing[positions][counts == count].all()
        out.append(
            _Part(
                positions,
                ids,
                np.ones(len(positions), dtype=bool),
                None,
                None,
                np.full(len(positions), RowCode.SCALE_UNSCORED, dtype=object),
                np.full(len(positions), None, dtype=object),
            )
        )
    return out


def _classification_parts(why: Why, messages: _Messages) -> list[_Part]:
    out = []
    code = RowCode.CLASSIFICATION_UNDETERMINED
    for name, undetermined in why.undetermined.items():
        positions = np.flatnonzero(undetermined)
        # the issue rows hold the issue message; the reason, only where no answer is bad
        issue_id = messages.id(render(code, {"classification": name}))
        reason_id = messages.id(UNDETERMINED_REASON.format(classification=name))
        in_reason = ~why.any_bad[positions]
        out.append(
            _Part(
                positions,
                np.where(in_reason, reason_id, issue_id),
                in_reason,
                None,
                None,
                np.full(len(positions), code, dtype=object),
                np.full(len(positions), None, dtype=object),
            )
        )
    return out


def _join(parts: list[_Part], rows: Any, messages: _Messages) -> tuple[Any, Any]:
    """Each row's reason: its parts' messages joined in order, each distinct pattern once.
    The distinct texts, and each row's index into them."""
    pattern = np.zeros(len(rows), dtype=np.int64)
    patterns: list[tuple[int, ...]] = [()]
    for part in parts:
        keep = part.in_reason
        if not keep.any():
            continue
        message = np.zeros(len(rows), dtype=np.int64)  # 0: none; message id + 1
        message[np.searchsorted(rows, part.rows[keep])] = part.messages[keep] + 1
        # (pattern so far, this part's message) as one int64 key: a 1-D unique, not rows'
        width = len(messages.texts) + 1
        keys, pattern = _distinct(pattern * width + message, len(patterns) * width)
        patterns = [
            patterns[k // width] + ((k % width - 1,) if k % width else ()) for k in keys.tolist()
        ]
    texts = np.empty(len(patterns), dtype=object)
    texts[:] = ["; ".join(messages.texts[m] for m in p) for p in patterns]
    return texts, pattern


def _distinct(codes: Any, bound: int) -> tuple[Any, Any]:
    """The distinct values of non-negative int codes below `bound`, ascending, and each code's
    position among them (`np.unique(..., return_inverse=True)`, in linear time where the bound
    is small: no sort)."""
    if bound > 4 * len(codes) + 4096:
        keys, inverse = np.unique(codes, return_inverse=True)
        return keys, inverse.reshape(-1)
    present = np.zeros(bound, dtype=bool)
    present[codes] = True
    position = np.cumsum(present) - 1
    return np.flatnonzero(present), position[codes]


def _issue_table(parts: list[_Part], messages: _Messages) -> IssueTable:
    texts = np.empty(len(messages.texts), dtype=object)
    texts[:] = messages.texts
    if not parts:
        empty = np.empty(0, dtype=object)
        return IssueTable(np.empty(0, dtype=np.int64), empty, empty, empty, empty, empty)
    rows = np.concatenate([p.rows for p in parts])
    order = np.lexsort(
        (np.concatenate([np.full(len(p.rows), i) for i, p in enumerate(parts)]), rows)
    )

    def each(values: list[Any]) -> Any:
        joined = np.empty(len(rows), dtype=object)
        joined[:] = np.concatenate(values) if values else []
        return joined[order]

    return IssueTable(
        rows[order],
        each([np.full(len(p.rows), p.item, dtype=object) for p in parts]),
        each([np.full(len(p.rows), p.column, dtype=object) for p in parts]),
        each([p.code for p in parts]),
        each([p.values for p in parts]),
        texts[np.concatenate([p.messages for p in parts])][order],
    )
