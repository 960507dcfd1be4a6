"""The Polars adapter: Polars columns into the array kernels, their `OutColumn`s back out as
Polars columns (no pandas round trip). A row is named by its position (Polars has no index)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._extras import missing_extra

try:
    import numpy as np
    import polars as pl
except ModuleNotFoundError as exc:
    raise missing_extra(exc, "polars", "Scoring a Polars DataFrame") from exc

from .arrays import IssueTable, ItemInput, OutColumn

__all__ = ["cells", "context_input", "issues", "item_input", "to_frame"]

_INTEGER = {"Int16": pl.Int16, "Int32": pl.Int32, "Int64": pl.Int64}


def item_input(series: pl.Series) -> ItemInput:
    """Integers without nulls as they are, any numeric column with nulls (or floats) as float64
    with NaN, a boolean column as its null mask, anything else as objects (checked cell by
    cell: text is never read as a number)."""
    dtype = series.dtype
    if dtype.is_integer() and series.null_count() == 0:
        return ItemInput("int", series.to_numpy())
    if dtype.is_integer():  # nulls: the values (0 where null) and the null mask, no floats
        return ItemInput("masked", series.fill_null(0).to_numpy(), series.is_null().to_numpy())
    if dtype.is_float():  # a Decimal column is read exactly, cell by cell, as objects
        floats = series.cast(pl.Float64).fill_null(float("nan")).to_numpy()
        return ItemInput("float", floats)
    if dtype == pl.Boolean:
        return ItemInput("bool", series.is_null().to_numpy())
    return ItemInput("object", _objects(series))


def _objects(series: pl.Series) -> Any:
    out = np.empty(len(series), dtype=object)
    out[:] = series.to_list()
    return out


def context_input(value: Any, n: int) -> Any:
    """A context value for every row: a Series (one per row, as objects), or a scalar."""
    if isinstance(value, pl.Series):
        if len(value) != n:
            raise ValueError(f"a context Series has {len(value)} values for {n} rows")
        return _objects(value)
    return value


def cells(df: pl.DataFrame, column: str, positions: Any) -> Any:
    """The cells of a column at these row positions, as Python objects."""
    return _objects(df[column].gather(positions))


def _series(name: str, col: OutColumn) -> pl.Series:
    if col.kind == "int":
        series = pl.Series(name, col.values, dtype=_INTEGER[col.dtype])
    elif col.kind == "float":
        series = pl.Series(name, col.values.astype(np.float64), dtype=pl.Float64)
    elif col.kind == "bool":
        series = pl.Series(name, col.values, dtype=pl.Boolean)
    elif col.kind == "category":  # the labels gathered by code: no string built per row
        labels = pl.Series(name, list(col.categories), dtype=pl.Enum(list(col.categories)))
        series = labels.gather(np.maximum(col.values, 0))
    else:  # text: the distinct texts gathered by code
        series = pl.Series(name, list(col.categories), dtype=pl.String).gather(col.codes)
    if col.null.any():
        series = series.set(pl.Series(col.null), None)
    return series


def to_frame(columns: Mapping[str, OutColumn]) -> pl.DataFrame:
    """Output columns as a Polars DataFrame, rows in the input's order."""
    return pl.DataFrame([_series(name, col) for name, col in columns.items()])


def issues(table: IssueTable | None, instrument: str) -> pl.DataFrame:
    """Issues as a Polars DataFrame; `row` is the input row's position, `value` a Python
    object column (answers of any type)."""
    rows = table.rows if table is not None else np.empty(0, dtype=np.int64)

    def text(values: Any) -> pl.Series:
        return pl.Series([None if v is None else str(v) for v in values], dtype=pl.String)

    if table is None:
        empty = pl.Series([], dtype=pl.String)
        return pl.DataFrame(
            {
                "row": pl.Series([], dtype=pl.Int64),
                "instrument": empty,
                "item": empty,
                "column": empty,
                "code": empty,
                "value": pl.Series([], dtype=pl.Object),
                "message": empty,
            }
        )
    return pl.DataFrame(
        {
            "row": pl.Series(rows, dtype=pl.Int64),
            "instrument": pl.Series([instrument] * len(rows), dtype=pl.String),
            "item": text(table.item),
            "column": text(table.column),
            "code": text(table.code),
            "value": pl.Series(list(table.value), dtype=pl.Object),
            "message": text(table.message),
        }
    )
