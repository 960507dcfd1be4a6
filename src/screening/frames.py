"""A DataFrame of administrations → a result DataFrame: the public DataFrame API.

The same compiled definition drives this and the single-response scorer: columns are resolved
(`columns.py`), each item column goes through the pandas adapter (`pandas_io.py`) into the
array kernels (`arrays.py`), and their output comes back as nullable pandas columns. Every
input row is kept, with the input's index. The reason text of an invalid row is the text the
single-response scorer gives for that row, so the two paths read alike.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

from ._extras import missing_extra

try:
    import pandas as pd
except ModuleNotFoundError as exc:
    raise missing_extra(exc, "frames", "Scoring a DataFrame or a table") from exc

from .arrays import ArrayPlan, IssueTable, ItemInput, OutColumn, array_plan
from .blocks import score_blocks
from .columns import API, ColumnError, Columns, Options, Prefix, item_columns, specs
from .definition import Instrument
from .pandas_io import context_input, item_input, to_frame
from .rules import referenced
from .scoring import Plan

__all__ = [
    "ISSUE_COLUMNS",
    "ScreeningAccessor",
    "arrow_schema",
    "issues_frame",
    "output_schema",
    "score_frame",
]

InstrumentRef = Instrument | str
FramePlan = ArrayPlan
frame_plan = array_plan


# --- columns ------------------------------------------------------------------------------------


def resolve_columns(
    refs: Sequence[InstrumentRef],
    names: Sequence[Hashable],
    *,
    columns: Columns = None,
    prefix: Prefix = None,
    allow_missing_columns: bool = False,
    options: Options = API,
    raw_header: bool = False,
) -> list[tuple[FramePlan, dict[str, Hashable]]]:
    """Each instrument's plan and the column of each of its items, every ambiguity refused.
    `raw_header`: the names are a file's header as written, checked for a name given twice, so
    a column named `X.1` beside `X` is its own (not pandas' renaming of a second `X`)."""
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
        found = item_columns(
            instrument, items[instrument], names, spec, options, renamed=not raw_header
        )
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


class Backend:
    """What the DataFrame API asks of a dataframe library; one subclass per library."""

    kind = "pandas"

    def names(self, df: Any) -> list[Hashable]:
        return list(df.columns)

    def length(self, df: Any) -> int:
        return len(df)

    def item(self, df: Any, column: Hashable) -> ItemInput:
        return item_input(df[column])

    def context(self, value: Any, df: Any) -> Any:
        return context_input(value, df.index)

    def cells(self, df: Any, column: Hashable, positions: Any) -> Any:
        return df[column].iloc[positions].to_numpy(dtype=object)

    def frame(self, columns: dict[str, OutColumn], df: Any) -> Any:
        return to_frame(columns, df.index)

    def issues(self, tables: list[tuple[IssueTable | None, str]], df: Any) -> Any:
        frames = [
            pd.DataFrame(
                {
                    "row": df.index[table.rows],
                    "instrument": instrument,
                    "item": table.item,
                    "column": table.column,
                    "code": table.code,
                    "value": table.value,
                    "message": table.message,
                },
                columns=list(ISSUE_COLUMNS),
            )
            for table, instrument in tables
            if table is not None and len(table.rows)
        ]
        return issues_table(frames)


class _Polars(Backend):
    kind = "polars"

    def item(self, df: Any, column: Hashable) -> ItemInput:
        from .polars_io import item_input as polars_item

        return polars_item(df[column])

    def context(self, value: Any, df: Any) -> Any:
        from .polars_io import context_input as polars_context

        return polars_context(value, len(df))

    def cells(self, df: Any, column: Hashable, positions: Any) -> Any:
        from .polars_io import cells

        return cells(df, str(column), positions)

    def frame(self, columns: dict[str, OutColumn], df: Any) -> Any:
        from .polars_io import to_frame as polars_frame

        return polars_frame(columns)

    def issues(self, tables: list[tuple[IssueTable | None, str]], df: Any) -> Any:
        import polars as pl

        from .polars_io import issues

        found = [issues(t, i) for t, i in tables if t is not None and len(t.rows)]
        return pl.concat(found) if found else issues(None, "")


class _Arrow(Backend):
    kind = "arrow"

    def names(self, df: Any) -> list[Hashable]:
        return list(df.column_names)

    def length(self, df: Any) -> int:
        return int(df.num_rows)

    def item(self, df: Any, column: Hashable) -> ItemInput:
        from .arrow_io import item_input as arrow_item

        return arrow_item(df.column(column))

    def context(self, value: Any, df: Any) -> Any:
        from .arrow_io import context_input as arrow_context

        return arrow_context(value, df.num_rows)

    def cells(self, df: Any, column: Hashable, positions: Any) -> Any:
        from .arrow_io import cells

        return cells(df, str(column), positions)

    def frame(self, columns: dict[str, OutColumn], df: Any) -> Any:
        from .arrow_io import to_table

        return to_table(columns)

    def issues(self, tables: list[tuple[IssueTable | None, str]], df: Any) -> Any:
        from .arrow_io import issues

        return issues(tables)


def backend_for(df: Any) -> Backend:
    """The backend of a pandas or Polars DataFrame or a pyarrow Table (by type, no import)."""
    module = type(df).__module__.split(".")[0]
    if module == "polars":
        return _Polars()
    if module == "pyarrow":
        return _Arrow()
    return Backend()


def _score_one(
    backend: Backend,
    aplan: ArrayPlan,
    df: Any,
    found: Mapping[str, Hashable],
    context: Mapping[str, Any] | None,
    *,
    with_issues: bool,
) -> tuple[dict[str, OutColumn], IssueTable | None]:
    """One instrument's output columns and (when asked) its issues."""
    n = backend.length(df)
    given = dict(context or {})  # an undeclared name is refused by the kernels
    inputs = {item_id: backend.item(df, column) for item_id, column in found.items()}
    ctx = {name: backend.context(value, df) for name, value in given.items()}

    def cells(item_id: str, at: Any) -> Any:
        return backend.cells(df, found[item_id], at)

    return score_blocks(aplan, inputs, ctx, n, cells=cells, items=found, with_issues=with_issues)


def _no_issues() -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series([], dtype=object) for name in ISSUE_COLUMNS})


# --- public API ---------------------------------------------------------------------------------


def _instruments(instrument: InstrumentRef | Sequence[InstrumentRef]) -> list[InstrumentRef]:
    if isinstance(instrument, str | Instrument):
        return [instrument]
    return list(instrument)


def score_resolved(
    resolved: Sequence[tuple[FramePlan, Mapping[str, Hashable]]],
    df: Any,
    context: Mapping[str, Any] | None,
    *,
    prefixed: bool,
    with_issues: bool,
    backend: Backend | None = None,
) -> tuple[dict[str, OutColumn], list[tuple[IssueTable | None, str]]]:
    """The output columns (by name, in order) and issues of instruments whose columns are
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
    backend = backend or backend_for(df)
    parts: dict[str, OutColumn] = {}
    tables: list[tuple[IssueTable | None, str]] = []
    for fplan, found in resolved:
        plan = fplan.plan
        mine = (
            given
            if len(resolved) == 1
            else {k: v for k, v in given.items() if k in plan.context_names}
        )
        out, table = _score_one(backend, fplan, df, found, mine, with_issues=with_issues)
        tables.append((table, plan.provenance.instrument))
        head = f"{plan.provenance.instrument}_" if prefixed else ""
        for name, values in out.items():
            if head + name in parts:  # never two columns with one name, never one overwritten
                raise ColumnError(
                    f"two instruments give the output column {head + name!r}; pass "
                    "add_prefix=True to prefix each column with its instrument id"
                )
            parts[head + name] = values
    return parts, tables


def _prefixed(refs: Sequence[InstrumentRef], add_prefix: bool | None) -> bool:
    if add_prefix is not None and not isinstance(add_prefix, bool):
        raise TypeError(f"add_prefix must be True, False or None (got {add_prefix!r})")
    return len(refs) > 1 if add_prefix is None else add_prefix


def score_frame(
    instrument: InstrumentRef | Sequence[InstrumentRef],
    df: Any,
    *,
    columns: Columns = None,
    prefix: Prefix = None,
    context: Mapping[str, Any] | None = None,
    add_prefix: bool | None = None,
    allow_missing_columns: bool = False,
) -> Any:
    """Score every row of a DataFrame; the result has the input's index and every row, in order.

    `df` is a pandas DataFrame, a Polars DataFrame or LazyFrame, or a pyarrow Table, and the
    result is of the same kind (no pandas round trip; Polars and Arrow rows are named by
    position, and a context value per row is a Series or Array of the same library).

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
    if not isinstance(instrument, str | Instrument | Sequence) or isinstance(
        instrument, pd.DataFrame
    ):
        instrument, df = df, instrument  # the frame first, as map_partitions passes it
    lazy = type(df).__name__ == "LazyFrame"
    if lazy:  # scored whole, and handed back lazy
        df = df.collect()
    backend = backend_for(df)
    refs = _instruments(instrument)
    prefixed = _prefixed(refs, add_prefix)
    resolved = resolve_columns(
        refs,
        backend.names(df),
        columns=columns,
        prefix=prefix,
        allow_missing_columns=allow_missing_columns,
    )
    parts, _ = score_resolved(
        resolved, df, context, prefixed=prefixed, with_issues=False, backend=backend
    )
    out = backend.frame(parts, df)
    return out.lazy() if lazy else out


ISSUE_COLUMNS = ("row", "instrument", "item", "column", "code", "value", "message")


def issues_table(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Issue tables as one, with a fresh index (the input's labels are in `row`)."""
    found = [f for f in frames if len(f)]
    if not found:
        return _no_issues()
    frame = pd.concat(found, ignore_index=True) if len(found) > 1 else found[0]
    return frame.astype({"value": object})


def issues_frame(
    instrument: InstrumentRef | Sequence[InstrumentRef],
    df: Any,
    *,
    columns: Columns = None,
    prefix: Prefix = None,
    context: Mapping[str, Any] | None = None,
    allow_missing_columns: bool = False,
) -> Any:
    """Every problem as a tidy table: `row` (the input's index label; for Polars and Arrow,
    the row's position), instrument, item, column, code, value and message; one row per
    problem, joinable to the input on `row`. Takes and returns the kind `score_frame` does."""
    lazy = type(df).__name__ == "LazyFrame"
    if lazy:
        df = df.collect()
    backend = backend_for(df)
    resolved = resolve_columns(
        _instruments(instrument),
        backend.names(df),
        columns=columns,
        prefix=prefix,
        allow_missing_columns=allow_missing_columns,
    )
    _, tables = score_resolved(
        resolved, df, context, prefixed=True, with_issues=True, backend=backend
    )
    out = backend.issues(tables, df)
    return out.lazy() if lazy else out


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
    schema: pd.DataFrame = score_frame(
        refs if len(refs) > 1 else refs[0],
        example,
        add_prefix=add_prefix,
        allow_missing_columns=True,
    )
    return schema


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
