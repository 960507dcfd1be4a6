"""A DataFrame of administrations → a result DataFrame, vectorized with numpy.

The same compiled definition drives this and the single-response scorer: each item column is
checked against the item's options, skip logic is applied in item order, scales are summed and
prorated, and flags and classifications are evaluated by the vectorized half of `rules`. Every
input row is kept, with the input's index. The reason text of an invalid row is the text the
single-response scorer gives for that row, so the two paths read alike.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any, NamedTuple

from ._extras import missing_extra

try:
    import numpy as np
    import pandas as pd
except ModuleNotFoundError as exc:
    raise missing_extra(exc, "frames", "Scoring a DataFrame or a table") from exc

from .columns import API, ColumnError, Columns, Options, Prefix, item_columns, specs
from .definition import Instrument
from .errors import Issue
from .rules import VEnv, compile_vector, referenced
from .scoring import ItemPlan, Plan, _is_missing, check_value, plan_for, score_plan

InstrumentRef = Instrument | str


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


def _item_table(item: ItemPlan) -> _ItemTable:
    values = sorted(item.scores)
    lo, hi = values[0], values[-1]
    small = all(-127 <= v <= 127 for v in (*values, *item.scores.values()))
    dtype = np.int8 if small else np.int32
    if hi - lo > _DENSE:
        # options far apart: sorted values and a search, not a table as wide as their span
        sparse = np.array([values, [item.scores[v] for v in values]], dtype=np.int64)
        return _ItemTable(lo, hi - lo, sparse, None, False, None, dtype)
    table = np.zeros(hi - lo + 1, dtype=dtype)
    options = np.zeros(hi - lo + 1, dtype=bool)
    for value, score in item.scores.items():
        table[value - lo] = score
        options[value - lo] = True
    identity = values == list(range(lo, hi + 1)) and all(item.scores[v] == v for v in values)
    low_bits = hi if identity and lo == 0 and (hi + 1) & hi == 0 else None
    return _ItemTable(lo, hi - lo, table, options, identity, low_bits, dtype)


_DENSE = 4096  # widest span of option values looked up through a table


class _Bands(NamedTuple):
    lo: int
    codes: Any  # int8: band code of score lo + i


class FramePlan:
    """A definition compiled for DataFrames (cached on the scalar plan)."""

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
            self.sum_dtypes[scale.name] = np.int32 if reach < 2**31 else np.int64
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
                    self.bands[scale.name] = _Bands(lo, codes.astype(np.int16))
        self.prorating = {s.name for s in plan.scales if s.max_missing > 0}


def frame_plan(instrument: InstrumentRef) -> FramePlan:
    plan = plan_for(instrument)
    cached: FramePlan | None = getattr(plan, "frame_plan", None)
    if cached is None:
        cached = FramePlan(plan)
        plan.frame_plan = cached  # type: ignore[attr-defined]
    return cached


# --- columns ------------------------------------------------------------------------------------


def resolve_columns(
    refs: Sequence[InstrumentRef],
    names: Sequence[Hashable],
    *,
    columns: Columns = None,
    prefix: Prefix = None,
    allow_missing_columns: bool = False,
    options: Options = API,
) -> list[tuple[FramePlan, dict[str, Hashable]]]:
    """Each instrument's plan and the column of each of its items, every ambiguity refused."""
    if not isinstance(allow_missing_columns, bool):
        raise TypeError(
            f"allow_missing_columns must be True or False (got {allow_missing_columns!r})"
        )
    plans = [frame_plan(ref) for ref in refs]
    items: dict[str, list[str]] = {}
    for fplan in plans:
        instrument = fplan.plan.provenance.instrument
        if instrument in items:
            raise ColumnError(f"instrument {instrument!r} is listed twice")
        items[instrument] = [i.id for i in fplan.plan.items]
    by_instrument = specs(items, columns, prefix, options)
    out = []
    for fplan in plans:
        instrument = fplan.plan.provenance.instrument
        spec = by_instrument[instrument]
        found = item_columns(instrument, items[instrument], names, spec, options)
        _check_columns(fplan.plan, found, allow_missing_columns, options)
        out.append((fplan, found))
    return out


def _check_columns(
    plan: Plan, found: Mapping[str, Hashable], allow_missing_columns: bool, options: Options
) -> None:
    """A scored item without a column is an error unless the caller allows it (then it is
    missing in every row, and the flags reading it are undetermined)."""
    if allow_missing_columns:
        return
    read = {i for s in plan.scales for i in s.items} | {i for f in plan.flags for i in f.reads}
    for cls in plan.instrument.classifications.values():
        read.update(
            name for rule in cls.rules for kind, name in referenced(rule.when) if kind == "item"
        )
    absent = [i.id for i in plan.items if i.id not in found and i.id in read]
    if not found:
        raise ColumnError(
            f"no column for any {plan.provenance.instrument} item (looked for "
            f"{', '.join(i.id for i in plan.items[:3])}, ...); pass {options.prefix} or "
            f"{options.columns}"
        )
    if absent:
        raise ColumnError(
            f"no column for scored item(s) {', '.join(absent)} of "
            f"{plan.provenance.instrument} (read by a scale, flag or classification); pass "
            f"{options.columns}, or {options.allow_missing} to score them as missing in every "
            "row"
        )


class _Column(NamedTuple):
    """One item over every row. `scores` is 0 wherever the item is not known, so a scale is a
    plain sum; `complete` says every row holds a valid answer (the masks are then constant)."""

    scores: Any  # int8
    known: Any  # a valid answer (or a score the skip logic gives)
    missing: Any  # no answer (absent, None, NaN, NA)
    bad: Any  # an answer that is not acceptable
    complete: bool


class _Constants:
    """Read-only all-true and all-false masks, shared by the complete columns of one call."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.true = np.ones(n, dtype=bool)
        self.false = np.zeros(n, dtype=bool)
        self.true.flags.writeable = False
        self.false.flags.writeable = False


def _read_column(
    series: pd.Series | None, item: ItemPlan, table: _ItemTable, const: _Constants
) -> _Column:
    n = const.n
    if series is None:
        return _Column(np.zeros(n, dtype=table.dtype), const.false, const.true, const.false, False)
    dtype = series.dtype
    kind = getattr(dtype, "kind", "O")
    if kind in "iu" and not isinstance(dtype, pd.api.extensions.ExtensionDtype):
        return _read_integers(series.to_numpy(), table, const)
    if kind in "iuf":
        floats = series.to_numpy(dtype=np.float64, na_value=np.nan)
        missing = np.isnan(floats)
        with np.errstate(invalid="ignore"):
            small = floats.astype(table.dtype)  # a value the dtype cannot hold fails below
        whole = floats == small  # false for NaN, fractions and out-of-range values
        if not missing.any() and whole.all():
            return _read_integers(small, table, const)
        if table.low_bits is not None:
            candidates = np.where(whole, small, 0)
            if not int(np.bitwise_or.reduce(candidates)) & ~table.low_bits:
                # every whole number is an option: the blanks are the only gaps
                return _Column(candidates, whole, missing, ~missing & ~whole, False)
        col = _read_integers(np.where(whole, small, table.lo - 1), table, const)
        return _Column(col.scores, col.known, missing, ~missing & ~col.known, False)
    if kind == "b":
        missing = series.isna().to_numpy(dtype=bool)
        return _Column(np.zeros(n, dtype=table.dtype), const.false, missing, ~missing, False)
    return _read_objects(series.to_numpy(dtype=object), item, table)


def _read_integers(values: Any, table: _ItemTable, const: _Constants) -> _Column:
    """Whole numbers (no missing value) → scores."""
    if (
        table.low_bits is not None
        and len(values)
        and not (int(np.bitwise_or.reduce(values)) & ~table.low_bits)
    ):
        # every value is an option and scores as itself: the common case, one pass
        return _Column(
            values.astype(table.dtype, copy=False), const.true, const.false, const.false, True
        )
    if table.span > _DENSE:
        options, option_scores = table.table
        at = np.minimum(np.searchsorted(options, values), len(options) - 1)
        known = options[at] == values
        scores = np.where(known, option_scores[at], 0).astype(table.dtype)
        if known.all():
            return _Column(scores, const.true, const.false, const.false, True)
        return _Column(scores, known, const.false, ~known, False)
    offset = values - table.lo if table.lo else values
    in_range = (offset >= 0) & (offset <= table.span)
    at = np.where(in_range, offset, 0)
    scores = table.table[at]
    known = in_range & table.options[at]
    if known.all():
        return _Column(scores, const.true, const.false, const.false, True)
    scores = np.where(known, scores, 0).astype(table.dtype)
    return _Column(scores, known, const.false, ~known, False)


def _read_objects(values: Any, item: ItemPlan, table: _ItemTable) -> _Column:
    """Mixed or text columns, cell by cell with the single-response checker."""
    n = len(values)
    scores = np.zeros(n, dtype=table.dtype)
    known, missing, bad = (np.zeros(n, dtype=bool) for _ in range(3))
    for row, value in enumerate(values):
        if _is_missing(value):
            missing[row] = True
            continue
        found, _ = check_value(item, value)
        if found is not None:
            scores[row] = found
            known[row] = True
        else:
            bad[row] = True
    return _Column(scores, known, missing, bad, bool(known.all()))


# --- scoring ------------------------------------------------------------------------------------


def _context_arrays(
    plan: Plan, n: int, context: Mapping[str, Any] | None, index: pd.Index
) -> tuple[dict[str, tuple[Any, Any]], Any, dict[str, Any]]:
    """Per-row context values, their validity, and the rows whose context is bad."""
    given = dict(context or {})
    unknown = sorted(set(given) - plan.context_names)
    if unknown:
        raise ValueError(
            f"{plan.provenance.instrument} takes no context {', '.join(map(repr, unknown))} "
            f"(declared: {', '.join(sorted(plan.context_names)) or 'none'})"
        )
    arrays: dict[str, tuple[Any, Any]] = {}
    raw: dict[str, Any] = {}
    bad = np.zeros(n, dtype=bool)
    for var in plan.context:
        value = given.get(var.name)
        if isinstance(value, pd.Series):
            values = (
                value.reindex(index).to_numpy(dtype=object)
                if not value.index.equals(index)
                else value.to_numpy(dtype=object)
            )
        else:
            values = np.full(n, value, dtype=object)
        absent = np.fromiter((_is_missing(v) for v in values), dtype=bool, count=n)
        if absent.any():  # pd.NA, NaN or None: missing context, and never compared
            values = values.copy()
            values[absent] = None
        raw[var.name] = values
        valid = np.fromiter(
            (isinstance(v, str) and v in var.values for v in values), dtype=bool, count=n
        )
        bad |= (~absent & ~valid) | (absent & var.required)
        arrays[var.name] = (values, valid)
    return arrays, bad, raw


def _score_one(
    fplan: FramePlan,
    df: pd.DataFrame,
    found: Mapping[str, Hashable],
    context: Mapping[str, Any] | None,
    with_issues: bool,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    plan = fplan.plan
    n = len(df)
    const = _Constants(n)
    ctx, bad_context, raw_context = _context_arrays(plan, n, context, df.index)
    columns: dict[str, _Column] = {}
    items: dict[str, tuple[Any, Any]] = {}
    skipped: dict[str, Any] = {}
    row_ok = ~bad_context
    for item, table, ask_if in zip(plan.items, fplan.tables, fplan.ask_if, strict=True):
        column = found.get(item.id)
        col = _read_column(df[column] if column is not None else None, item, table, const)
        if ask_if is not None:
            col, skip = _apply_skip(item, ask_if, col, VEnv(n, items, skipped, {}, ctx))
            skipped[item.id] = skip
        columns[item.id] = col
        items[item.id] = (col.scores, col.known)
        if not col.complete and col.bad.any():
            row_ok &= ~col.bad

    out: dict[str, Any] = {}
    scale_env: dict[str, tuple[Any, Any]] = {}
    for scale in plan.scales:
        arrays = _score_scale(scale, columns, skipped, const, fplan.sum_dtypes[scale.name])
        scale_env[scale.name] = (arrays.final, arrays.valid)
        if scale.primary and arrays.valid is not const.true:
            row_ok &= arrays.valid
        out.update(_scale_columns(fplan, scale, const, arrays))

    env = VEnv(n, items, skipped, scale_env, ctx)
    for flag_id, when in fplan.flags:
        true, unknown = when(env)  # undetermined (an answer it reads is missing): NA
        out[f"flag_{flag_id}"] = pd.arrays.BooleanArray(true, unknown & ~true)
    for name, rules, labels in fplan.classifications:
        codes = np.full(n, len(labels) - 1, dtype=np.int16)  # otherwise
        decided = np.zeros(n, dtype=bool)
        for code, when in enumerate(rules):
            true, unknown = when(env)
            codes[~decided & true] = code
            codes[~decided & unknown & ~true] = -1  # undetermined: never a guess
            decided |= true | unknown
        row_ok &= codes >= 0
        out[name] = _labels(codes, labels)

    out["valid"] = pd.arrays.BooleanArray(row_ok, np.zeros(n, bool))
    reasons = np.empty(n, dtype=object)
    reasons.fill("")  # five times faster than np.full for objects
    issue_rows: list[dict[str, Any]] = []
    invalid_rows = np.flatnonzero(~row_ok)
    if len(invalid_rows):
        _explain(
            plan=plan,
            df=df,
            found=found,
            context=raw_context,
            rows=invalid_rows,
            reasons=reasons,
            issue_rows=issue_rows,
            with_issues=with_issues,
        )
    out["reason"] = pd.Series(reasons, index=df.index, dtype=object, copy=False)
    return out, issue_rows


class _ScaleArrays(NamedTuple):
    final: Any
    valid: Any  # `const.true` itself when every row is valid
    answered: Any
    missing: Any
    prorated: Any  # None when no row is prorated
    unrounded: Any  # None when no row is prorated


def _scale_columns(
    fplan: FramePlan, scale: Any, const: _Constants, arrays: _ScaleArrays
) -> dict[str, Any]:
    """The output columns of one scale."""
    n = const.n
    final, valid, answered, missing, prorated, unrounded = arrays
    out: dict[str, Any] = {}
    everywhere = valid is const.true
    invalid = np.zeros(n, dtype=bool) if everywhere else ~valid
    out[scale.name] = _nullable(final, invalid, fplan.score_dtypes[scale.name])
    if scale.band_labels:
        bands = fplan.bands.get(scale.name)
        if bands is not None:  # a table over the scale's exact reachable range
            position = final - bands.lo if everywhere else np.where(valid, final - bands.lo, 0)
            if len(position) and (position.min() < 0 or position.max() >= len(bands.codes)):
                # never a label read through a wrapped index: a score outside the range the
                # definition allows is a bug to report, not a band to guess
                raise RuntimeError(f"scale {scale.name!r}: a score lies outside its range")
            codes = bands.codes[position]
        else:  # a range too wide for a table
            codes = scale.steps.bands.array(final).astype(np.int16)
        if not everywhere:
            codes[invalid] = -1
        out[f"{scale.name}_band"] = pd.Categorical.from_codes(
            codes, dtype=pd.CategoricalDtype(list(scale.band_labels), ordered=True)
        )
    out[f"{scale.name}_answered"] = pd.arrays.IntegerArray(answered, np.zeros(n, bool))
    out[f"{scale.name}_missing"] = pd.arrays.IntegerArray(missing, np.zeros(n, bool))
    out[f"{scale.name}_prorated"] = pd.arrays.BooleanArray(
        np.zeros(n, dtype=bool) if prorated is None else prorated & valid, np.zeros(n, bool)
    )
    if scale.name in fplan.prorating:
        unrounded_mask = None if prorated is None else ~(valid & prorated)
        out[f"{scale.name}_unrounded"] = _nullable(unrounded, unrounded_mask, "Float64", n)
    return out


def _labels(codes: Any, labels: tuple[str, ...]) -> Any:
    """Rule codes as an ordered categorical; rules sharing a label share its category."""
    unique = list(dict.fromkeys(labels))
    remap = np.array([unique.index(label) for label in labels], dtype=np.int16)
    return pd.Categorical.from_codes(
        np.where(codes >= 0, remap[np.maximum(codes, 0)], -1),
        dtype=pd.CategoricalDtype(unique, ordered=True),
    )


def _apply_skip(item: ItemPlan, ask_if: Any, col: _Column, env: VEnv) -> tuple[_Column, Any]:
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
    return _Column(scores, known, col.missing & ~skip, bad, False), skip


def _score_scale(
    scale: Any,
    columns: Mapping[str, _Column],
    skipped: Mapping[str, Any],
    const: _Constants,
    sum_dtype: Any,
) -> _ScaleArrays:
    """The arrays of one scale over every row."""
    n = const.n
    cols = [columns[item_id] for item_id in scale.items]
    raw = cols[0].scores.astype(sum_dtype)  # wide enough for the scale's reachable range
    for col in cols[1:]:
        raw += col.scores  # unknown items score 0 here
    steps = scale.steps
    final = steps.multiply.array(raw)
    if all(c.complete for c in cols) and not any(i in skipped for i in scale.items):
        answered = np.full(n, len(cols), dtype=np.int16)
        return _ScaleArrays(final, const.true, answered, np.zeros(n, dtype=np.int16), None, None)
    # the narrowest counters that hold the item count (int8 for any real instrument)
    counter: Any = np.int8 if len(cols) < 128 else np.int32
    answered = np.zeros(n, dtype=counter)
    missing = np.zeros(n, dtype=counter)
    scored_skips = np.zeros(n, dtype=counter)
    invalid = const.false
    complete = 0
    for item_id, col in zip(scale.items, cols, strict=True):
        skip = skipped.get(item_id)
        if col.complete and skip is None:
            complete += 1
            continue
        if col.bad is not const.false and col.bad.any():
            invalid = invalid | col.bad
        if skip is None:
            answered += col.known
            missing += col.missing
        else:
            answered += col.known & ~skip
            missing += col.missing
            scored_skips += col.known & skip
    answered += complete
    counted = answered + scored_skips
    valid = ~invalid & (missing <= scale.max_missing) & (counted > 0)
    prorated = (missing > 0) & valid
    rows = np.flatnonzero(prorated)
    unrounded = None
    if len(rows):
        # only the rows with missing items are prorated: raw x total / counted
        part_raw = raw[rows].astype(np.int64)
        part_counted = counted[rows].astype(np.int64)
        part_total = part_counted + missing[rows]
        unrounded = np.zeros(n, dtype=np.float64)
        unrounded[rows] = steps.multiply.array(
            steps.missing.unrounded(part_raw, part_total, part_counted)
        )
        part = steps.multiply.array(steps.missing.array(part_raw, part_total, part_counted))
        if steps.missing.half_up:
            final = final.copy() if final is raw else final
        else:
            final = final.astype(np.float64)
        final[rows] = part
    return _ScaleArrays(
        final, valid, answered.astype(np.int16), missing.astype(np.int16), prorated, unrounded
    )


def _nullable(values: Any, mask: Any, dtype: str, n: int = 0) -> Any:
    if values is None:  # nothing to show in any row
        return pd.arrays.FloatingArray(np.zeros(n), np.ones(n, dtype=bool))
    integer = {"Int16": np.int16, "Int32": np.int32, "Int64": np.int64}.get(dtype)
    if integer is not None:  # the scale's range fits: checked when the plan was made
        return pd.arrays.IntegerArray(values.astype(integer), mask)
    return pd.arrays.FloatingArray(values.astype(np.float64), mask)


def _explain(
    *,
    plan: Plan,
    df: pd.DataFrame,
    found: Mapping[str, Hashable],
    context: Mapping[str, Any],
    rows: Any,
    reasons: Any,
    issue_rows: list[dict[str, Any]],
    with_issues: bool,
) -> None:
    """The single-response scorer's reasons (and issues) for the invalid rows."""
    columns = {
        item_id: df[column].iloc[rows].to_numpy(dtype=object) for item_id, column in found.items()
    }
    subset = {name: values[rows] for name, values in context.items()}
    labels = df.index[rows]
    primary = {s.name for s in plan.scales if s.primary}
    for position, row in enumerate(rows):
        responses = {item_id: values[position] for item_id, values in columns.items()}
        ctx = {k: v[position] for k, v in subset.items() if not _is_missing(v[position])}
        result = score_plan(plan, responses, ctx, "invalid")
        reasons[row] = "; ".join(result.reasons)
        if not with_issues:
            continue
        label = labels[position]
        issue_rows.extend(_issue_row(label, plan, i, found) for i in result.issues)
        for name, scale in result.scales.items():
            if name in primary and not scale.valid and scale.raw is not None:
                issue_rows.append(
                    {
                        "row": label,
                        "instrument": plan.provenance.instrument,
                        "item": None,
                        "column": None,
                        "code": "scale_unscored",
                        "value": None,
                        "message": f"{name}: {scale.reason}",
                    }
                )
        for name, decided in result.classifications.items():
            if decided is None:  # an invalid row always has an issue row saying why
                issue_rows.append(
                    {
                        "row": label,
                        "instrument": plan.provenance.instrument,
                        "item": None,
                        "column": None,
                        "code": "classification_undetermined",
                        "value": None,
                        "message": f"{name}: undetermined, an answer or context it needs is "
                        "missing or invalid",
                    }
                )


def _issue_row(
    label: Any, plan: Plan, issue: Issue, found: Mapping[str, Hashable]
) -> dict[str, Any]:
    return {
        "row": label,
        "instrument": plan.provenance.instrument,
        "item": issue.item,
        "column": found.get(issue.item or ""),
        "code": issue.code,
        "value": issue.value,
        "message": issue.message,
    }


# --- public API ---------------------------------------------------------------------------------


def _instruments(instrument: InstrumentRef | Sequence[InstrumentRef]) -> list[InstrumentRef]:
    if isinstance(instrument, str | Instrument):
        return [instrument]
    return list(instrument)


def score_resolved(
    resolved: Sequence[tuple[FramePlan, Mapping[str, Hashable]]],
    df: pd.DataFrame,
    context: Mapping[str, Any] | None,
    *,
    prefixed: bool,
    with_issues: bool,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The output columns (by name, in order) and issue rows of instruments whose columns are
    resolved. A context variable (sex, age) is the person's: with several instruments each
    takes the variables it declares, and a variable none declares is refused."""
    given = dict(context or {})
    if len(resolved) > 1:
        declared = {name for fplan, _ in resolved for name in fplan.plan.context_names}
        unknown = sorted(set(given) - declared)
        if unknown:
            raise ValueError(
                f"no instrument scored takes context {', '.join(map(repr, unknown))} "
                f"(declared: {', '.join(sorted(declared)) or 'none'})"
            )
    parts: dict[str, Any] = {}
    issue_rows: list[dict[str, Any]] = []
    for fplan, found in resolved:
        plan = fplan.plan
        mine = (
            given
            if len(resolved) == 1
            else {k: v for k, v in given.items() if k in plan.context_names}
        )
        out, rows = _score_one(fplan, df, found, mine, with_issues=with_issues)
        issue_rows += rows
        head = f"{plan.provenance.instrument}_" if prefixed else ""
        for name, values in out.items():
            if head + name in parts:  # never two columns with one name, never one overwritten
                raise ColumnError(
                    f"two instruments give the output column {head + name!r}; pass "
                    "add_prefix=True to prefix each column with its instrument id"
                )
            parts[head + name] = values
    return parts, issue_rows


def _prefixed(refs: Sequence[InstrumentRef], add_prefix: bool | None) -> bool:
    if add_prefix is not None and not isinstance(add_prefix, bool):
        raise TypeError(f"add_prefix must be True, False or None (got {add_prefix!r})")
    return len(refs) > 1 if add_prefix is None else add_prefix


def score_frame(
    instrument: InstrumentRef | Sequence[InstrumentRef],
    df: pd.DataFrame,
    *,
    columns: Columns = None,
    prefix: Prefix = None,
    context: Mapping[str, Any] | None = None,
    add_prefix: bool | None = None,
    allow_missing_columns: bool = False,
) -> pd.DataFrame:
    """Score every row of a DataFrame; the result has the input's index and every row, in order.

    Items are found by their ids, a mapping `{item_id: column}`, a format string
    (`"PHQ_{n:0>2}"`) or a `prefix` (`"PHQ_"`); with several instruments, one spec each
    (`prefix={"phq9": "PHQ_", "gad7": "GAD_"}`): one spec for several is refused, as is any
    ambiguity (two columns for one item, a column name the data holds twice). A scored item
    without a column is an error unless `allow_missing_columns=True` (then it is missing in
    every row). Context variables come from `context`: a scalar for every row, or a Series
    aligned on the index. Columns per scale: the score (nullable `Int16`, or `Float64` where it
    can be fractional or large), `<scale>_band` (ordered categorical), `<scale>_answered`,
    `<scale>_missing`, `<scale>_prorated` (and `<scale>_unrounded` where the scale may be
    prorated); `flag_<id>` per flag (nullable boolean: NA when an unanswered item could raise
    it); one ordered categorical per classification; `valid` and `reason` (empty when valid).
    Several instruments (a list), or `add_prefix=True`, prefix each column with the instrument
    id: `phq9_total`. The DataFrame may also come first (`score_frame(df, "phq9")`), as Dask's
    `map_partitions` passes it.
    """
    if isinstance(instrument, pd.DataFrame):
        instrument, df = df, instrument
    refs = _instruments(instrument)
    prefixed = _prefixed(refs, add_prefix)
    resolved = resolve_columns(
        refs,
        list(df.columns),
        columns=columns,
        prefix=prefix,
        allow_missing_columns=allow_missing_columns,
    )
    parts, _ = score_resolved(resolved, df, context, prefixed=prefixed, with_issues=False)
    return pd.DataFrame(parts, index=df.index, copy=False)


ISSUE_COLUMNS = ("row", "instrument", "item", "column", "code", "value", "message")


def issues_table(issue_rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(issue_rows, columns=list(ISSUE_COLUMNS))
    return frame.astype({"value": object})


def issues_frame(
    instrument: InstrumentRef | Sequence[InstrumentRef],
    df: pd.DataFrame,
    *,
    columns: Columns = None,
    prefix: Prefix = None,
    context: Mapping[str, Any] | None = None,
    allow_missing_columns: bool = False,
) -> pd.DataFrame:
    """Every problem as a tidy table: `row` (the input's index label), instrument, item,
    column, code, value and message; one row per problem, joinable to the input on `row`."""
    resolved = resolve_columns(
        _instruments(instrument),
        list(df.columns),
        columns=columns,
        prefix=prefix,
        allow_missing_columns=allow_missing_columns,
    )
    _, rows = score_resolved(resolved, df, context, prefixed=False, with_issues=True)
    return issues_table(rows)


def output_schema(
    instrument: InstrumentRef | Sequence[InstrumentRef], *, add_prefix: bool | None = None
) -> pd.DataFrame:
    """An empty DataFrame with the columns and dtypes `score_frame` returns (Dask's `meta`)."""
    frames = []
    refs = _instruments(instrument)
    for ref in refs:
        plan = frame_plan(ref).plan
        empty = pd.DataFrame({item.id: pd.Series([], dtype="Int16") for item in plan.items})
        frames.append(empty)
    example = pd.concat(frames, axis=1) if len(frames) > 1 else frames[0]
    return score_frame(
        refs if len(refs) > 1 else refs[0],
        example,
        add_prefix=add_prefix,
        allow_missing_columns=True,
    )


def arrow_schema(
    instrument: InstrumentRef | Sequence[InstrumentRef], *, add_prefix: bool | None = None
) -> Any:
    """The pyarrow schema of `score_frame`'s output (for Spark's mapInPandas or Parquet)."""
    import pyarrow as pa

    schema = pa.Schema.from_pandas(
        output_schema(instrument, add_prefix=add_prefix), preserve_index=False
    )
    # an empty object column has no type to infer (null); real reasons are text
    for position, field in enumerate(schema):
        if pa.types.is_null(field.type):
            schema = schema.set(position, pa.field(field.name, pa.string()))
    return schema


@pd.api.extensions.register_dataframe_accessor("screening")
class ScreeningAccessor:
    """`df.screening.score("phq9")` and `df.screening.issues("phq9")`."""

    def __init__(self, df: pd.DataFrame) -> None:
        self._df = df

    def score(self, instrument: InstrumentRef | Sequence[InstrumentRef], **kwargs: Any) -> Any:
        return score_frame(instrument, self._df, **kwargs)

    def issues(self, instrument: InstrumentRef | Sequence[InstrumentRef], **kwargs: Any) -> Any:
        return issues_frame(instrument, self._df, **kwargs)
