"""The pandas adapter: pandas columns into the array kernels, their `OutColumn`s back out.

The only module (with `frames.py`, its public API, and the `change` outputs) that knows pandas'
types: a Polars or Arrow adapter is another module like this one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._extras import missing_extra

try:
    import numpy as np
    import pandas as pd
except ModuleNotFoundError as exc:
    raise missing_extra(exc, "frames", "Scoring a DataFrame or a table") from exc

from .arrays import NUMPY_TYPES, ItemInput, OutColumn

__all__ = ["context_input", "item_input", "to_frame", "to_pandas"]


def item_input(series: pd.Series) -> ItemInput:
    """A column as the kernels read it: plain integers as they are, any numeric column with
    missing values (extension dtypes included) as float64 with NaN, an object column of numbers
    and blanks alike, a boolean column as its missing mask, anything else as objects (their
    numbers read at once, the rest cell by cell)."""
    dtype = series.dtype
    kind = getattr(dtype, "kind", "O")
    if kind in "iu" and not isinstance(dtype, pd.api.extensions.ExtensionDtype):
        return ItemInput("int", series.to_numpy())
    if kind in "iu" and isinstance(series.array, pd.arrays.IntegerArray):
        # a nullable integer column: its data and its mask as they are, no float copy (the
        # masked-array layout pandas has kept since 1.0; a copy where it ever differs)
        data = getattr(series.array, "_data", None)
        mask = getattr(series.array, "_mask", None)
        if data is None or mask is None:
            mask = series.isna().to_numpy(dtype=bool)
            data = series.array.to_numpy(dtype=np.int64, na_value=0)
        return ItemInput("masked", data, mask)
    if kind in "iu" and isinstance(dtype, pd.ArrowDtype):
        # pyarrow-backed integers (read_csv(dtype_backend="pyarrow")): read as the Arrow
        # adapter reads them, values and null mask, no float copy
        from .arrow_io import item_input as arrow_item_input

        return arrow_item_input(series.array.__arrow_array__())
    if kind in "iuf":
        return ItemInput("float", series.to_numpy(dtype=np.float64, na_value=np.nan))
    if kind == "b":
        return ItemInput("bool", series.isna().to_numpy(dtype=bool))
    cells = series.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(cells, skipna=True) in _NUMBERS:
        # numbers and blanks only (no text, no booleans): read as floats at once, as the
        # kernels read an object column's numbers; a reason quotes the cell as it is
        floats = _floats(series, cells)
        if floats is not None and not (np.abs(floats) >= _EXACT).any():
            return ItemInput("float", floats)  # every integer in it is exactly a float
    return ItemInput("object", cells)


def _floats(series: pd.Series, cells: Any) -> Any:
    """An object column of numbers and blanks as float64 with NaN, or None where a number is
    past a float (read cell by cell, then)."""
    try:
        try:
            return cells.astype(np.float64)  # None reads as NaN
        except TypeError:  # pd.NA among them
            return series.to_numpy(dtype=np.float64, na_value=np.nan)
    except OverflowError:
        return None


_NUMBERS = frozenset({"integer", "floating", "mixed-integer-float"})
"""What pandas infers for an object column of Python or numpy numbers and blanks only."""
_EXACT = 2.0**53


def context_input(value: Any, index: pd.Index) -> Any:
    """A context value for every row: a Series aligned on the index (as objects), or a scalar."""
    if isinstance(value, pd.Series):
        if not value.index.equals(index):
            value = value.reindex(index)
        return value.to_numpy(dtype=object)
    return value


def to_pandas(col: OutColumn) -> Any:
    """An output column as a pandas array (nullable types, ordered categoricals)."""
    # the kernels' arrays are fresh and of the output's type already: wrapped, not copied
    if col.kind == "int":
        values = col.values.astype(NUMPY_TYPES[col.dtype], copy=False)
        return pd.arrays.IntegerArray(values, col.null)
    if col.kind == "float":
        return pd.arrays.FloatingArray(col.values.astype(np.float64, copy=False), col.null)
    if col.kind == "bool":
        return pd.arrays.BooleanArray(col.values, col.null)
    if col.kind == "category":
        codes = np.where(col.null, -1, col.values) if col.null.any() else col.values
        # every code indexes a label: the kernels check each against its table (arrays)
        return pd.Categorical.from_codes(
            codes,
            dtype=pd.CategoricalDtype(list(col.categories), ordered=col.ordered),
            validate=False,
        )
    return pd.arrays.NumpyExtensionArray(_texts(col))  # text stays object, as written


def _texts(col: OutColumn) -> Any:
    """A text column's cells as an object array: its distinct texts gathered by code."""
    if not col.codes.any():  # one text in every row (most often "": every row valid)
        texts = np.empty(len(col.codes), dtype=object)
        texts.fill(col.categories[0])  # five times faster than np.full for objects
        return texts
    # one gather (a third faster than filling the common text, then gathering the rest)
    return np.take(np.array(col.categories, dtype=object), col.codes)


def to_frame(columns: Mapping[str, Any], index: pd.Index) -> pd.DataFrame:
    """Output columns (OutColumns or pandas arrays) as a DataFrame on the input's index."""
    data: dict[str, Any] = {}
    for name, col in columns.items():
        if isinstance(col, OutColumn) and col.kind == "text":
            # object, as written: the frame constructor would make text pandas' string type
            data[name] = pd.Series(_texts(col), index=index, dtype=object, copy=False)
        else:
            data[name] = to_pandas(col) if isinstance(col, OutColumn) else col
    return pd.DataFrame(data, index=index, copy=False)
