"""The Arrow adapter: pyarrow Table columns into the array kernels, their `OutColumn`s back
out as Arrow arrays (no pandas round trip). A row is named by its position."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._extras import missing_extra

try:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
except ModuleNotFoundError as exc:
    raise missing_extra(exc, "parquet", "Scoring a pyarrow Table") from exc

from .arrays import IssueTable, ItemInput, OutColumn

__all__ = ["cells", "context_input", "issues", "item_input", "to_table"]

_INTEGER = {"Int16": pa.int16(), "Int32": pa.int32(), "Int64": pa.int64()}


def item_input(column: Any) -> ItemInput:
    """Integers as they are (no copy where the layout allows; nulls as a mask), floats as
    float64 with NaN, a boolean column as its null mask, anything else as objects checked cell
    by cell (text, and decimals, read exactly as the single-response scorer reads a Decimal)."""
    kind = column.type
    if pa.types.is_integer(kind) and column.null_count == 0:
        return ItemInput("int", column.to_numpy())
    if pa.types.is_integer(kind):  # nulls: the values (0 where null) and the null mask
        missing = pc.is_null(column).to_numpy(zero_copy_only=False)
        return ItemInput("masked", pc.fill_null(column, 0).to_numpy(), missing)
    if pa.types.is_floating(kind):
        floats = pc.fill_null(pc.cast(column, pa.float64()), float("nan"))
        return ItemInput("float", floats.to_numpy())
    if pa.types.is_boolean(kind):
        return ItemInput("bool", pc.is_null(column).to_numpy(zero_copy_only=False))
    return ItemInput("object", _objects(column))


def _objects(column: Any) -> Any:
    out = np.empty(len(column), dtype=object)
    out[:] = column.to_pylist()
    return out


def context_input(value: Any, n: int) -> Any:
    """A context value for every row: an Arrow array (one per row, as objects), or a scalar."""
    if isinstance(value, pa.Array | pa.ChunkedArray):
        if len(value) != n:
            raise ValueError(f"a context array has {len(value)} values for {n} rows")
        return _objects(value)
    return value


def cells(table: Any, column: str, positions: Any) -> Any:
    """The cells of a column at these row positions, as Python objects."""
    return _objects(table.column(column).take(pa.array(positions)))


def _array(col: OutColumn) -> Any:
    mask = col.null if col.null.any() else None
    if col.kind == "int":
        return pa.array(col.values, type=_INTEGER[col.dtype], mask=mask)
    if col.kind == "float":
        return pa.array(col.values.astype(np.float64), type=pa.float64(), mask=mask)
    if col.kind == "bool":
        return pa.array(col.values, type=pa.bool_(), mask=mask)
    if col.kind == "category":
        indices = pa.array(col.values.astype(np.int16), type=pa.int16(), mask=mask)
        dictionary = pa.array(list(col.categories), type=pa.string())
        return pa.DictionaryArray.from_arrays(indices, dictionary, ordered=col.ordered)
    # text: the distinct texts gathered by code (a null code: null)
    codes = pa.array(col.codes, type=pa.int64(), mask=mask)
    return pa.array(list(col.categories), type=pa.string()).take(codes)


def to_table(columns: Mapping[str, OutColumn]) -> Any:
    """Output columns as a pyarrow Table, rows in the input's order."""
    return pa.table({name: _array(col) for name, col in columns.items()})


def issues(tables: list[tuple[IssueTable | None, str]]) -> Any:
    """Issues as a pyarrow Table; `row` is the input row's position and `value` the answer as
    text (Arrow columns hold one type)."""
    found = [(t, i) for t, i in tables if t is not None and len(t.rows)]

    def text(values: Any) -> Any:
        return pa.array([None if v is None else str(v) for v in values], type=pa.string())

    rows = np.concatenate([t.rows for t, _ in found]) if found else np.empty(0, np.int64)
    joined = {
        name: [v for t, _ in found for v in getattr(t, name)]
        for name in ("item", "column", "code", "value", "message")
    }
    return pa.table(
        {
            "row": pa.array(rows, type=pa.int64()),
            "instrument": text([i for t, i in found for _ in range(len(t.rows))]),
            "item": text(joined["item"]),
            "column": text(joined["column"]),
            "code": text(joined["code"]),
            "value": text([None if v is None else repr(v) for v in joined["value"]]),
            "message": text(joined["message"]),
        }
    )
