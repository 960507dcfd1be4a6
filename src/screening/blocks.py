"""A long input scored block by block, so each block's arrays stay in the CPU's cache.

The kernels (`arrays.py`) make a dozen passes over each item column (read, check, sum, count,
band). Over a million rows every pass goes to main memory; over a block of 65,536 rows the
temporaries of one column (64 KiB of int8 or bool) stay in the cache between passes, which
makes the same numpy operations about twice as fast (an input of up to `AT_ONCE` rows is
scored in one piece). Each block's columns, and the masks that
say why its invalid rows are invalid, are copied into the whole output as they come, while
they are still in the cache; the reasons are then written once for the whole input (each
distinct reason rendered once). No row depends on another, so the output is identical for any
block size (tested).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .arrays import (
    NUMPY_TYPES,
    ArrayPlan,
    IssueTable,
    ItemInput,
    OutColumn,
    Why,
    check_context,
    explain,
    score_arrays,
)

__all__ = ["AT_ONCE", "BLOCK", "score_blocks"]

BLOCK = 65_536
"""Rows per block: the fastest of 16K-256K rows on PHQ-9 and DASS-21 (benchmarks)."""

AT_ONCE = 4 * BLOCK
"""Up to this many rows are scored in one piece: their arrays mostly fit the caches already,
and copying the blocks' columns together cost more than blocks saved (a file's chunks of
100,000 rows were 10% slower in blocks)."""

Cells = Callable[[str, Any], Any]


def score_blocks(
    aplan: ArrayPlan,
    inputs: Mapping[str, ItemInput | None],
    context: Mapping[str, Any],
    n: int,
    *,
    cells: Cells,
    items: Mapping[str, Any],
    with_issues: bool,
) -> tuple[dict[str, OutColumn], IssueTable | None]:
    """`n` rows' output columns, `reason` last, and (when asked) their issues. `cells(item,
    positions)` reads an item's cells at row positions; `items` maps each item id that has a
    column to that column's name."""
    block = BLOCK  # read per call: tests score in tiny blocks
    check_context(context, n)  # before any array is cut into blocks
    if n <= AT_ONCE:
        scored = score_arrays(aplan, inputs, context, n)
        rows = np.flatnonzero(~scored.valid)
        return _explained(aplan, scored.columns, n, rows, scored.why, cells, items, with_issues)
    whole: _Whole | None = None
    invalid = _Invalid([name for name, _, _ in aplan.classifications])
    valid = np.empty(n, dtype=bool)
    for start in range(0, n, block):
        stop = min(start + block, n)
        scored = score_arrays(
            aplan,
            {k: None if v is None else _rows(v, start, stop) for k, v in inputs.items()},
            {k: v[start:stop] if isinstance(v, np.ndarray) else v for k, v in context.items()},
            stop - start,
        )
        if whole is None:
            whole = _Whole(scored.columns, n)  # the first block's rows in place
        else:
            whole.put(scored.columns, start, stop)
        valid[start:stop] = scored.valid
        invalid.put(scored.why, np.flatnonzero(~scored.valid))
    assert whole is not None  # n > block: at least two blocks
    rows = np.flatnonzero(~valid)

    def at_rows(item_id: str, k: Any) -> Any:  # the k-th invalid rows' cells
        return cells(item_id, rows[k])

    # the reasons are written once for the whole input (each distinct one rendered once),
    # from why the invalid rows are invalid, held for those rows only: the k-th at rows[k]
    columns, table = _explained(
        aplan,
        whole.columns(),
        n,
        np.arange(len(rows)),
        invalid.why(),
        at_rows,
        items,
        with_issues,
        where=rows,
    )
    return columns, None if table is None else table._replace(rows=rows[table.rows])


def _rows(given: ItemInput, start: int, stop: int) -> ItemInput:
    missing = given.missing
    return ItemInput(
        given.kind, given.values[start:stop], None if missing is None else missing[start:stop]
    )


def _explained(  # noqa: PLR0917  (the parts of one result)
    aplan: ArrayPlan,
    columns: Mapping[str, OutColumn],
    n: int,
    rows: Any,
    why: Why,
    cells: Cells,
    items: Mapping[str, Any],
    with_issues: bool,
    *,
    where: Any = None,
) -> tuple[dict[str, OutColumn], IssueTable | None]:
    """The output columns with each row's reason, and the issues when asked. `rows` are the
    invalid rows as `why` numbers them, `where` their positions among the `n` (None: the
    same)."""
    out: dict[str, OutColumn] = dict(columns)
    codes = np.zeros(n, dtype=np.int64)  # 0: "", a valid row's
    texts: tuple[str, ...] = ("",)
    table = None
    if len(rows):
        (distinct, pattern), table = explain(
            aplan.plan, why, cells, items, rows, with_issues=with_issues
        )
        codes[rows if where is None else where] = pattern + 1
        texts = ("", *distinct.tolist())
    # the distinct reasons and a code per row: each adapter gathers its texts from them
    out["reason"] = OutColumn("text", None, np.zeros(n, dtype=bool), categories=texts, codes=codes)
    return out, table


_ALIGN = 64


class _Whole:
    """The whole output, filled block by block. The arrays that hold something in the first
    block lie in one buffer: a buffer this large is mapped in huge pages where the system
    allows (numpy asks for them past 4 MiB; three times faster to fill here), where an array
    of its own (1-2 MiB for a million rows) would fault in every 4 KiB page, which costs more
    than writing it. They do not overlap; like the columns of one pandas block, they keep the
    buffer alive together. An array that is all zeros so far (most null masks, a count of
    missing items in complete data) is not written at all: it stays `np.zeros` (pages the
    system maps only when read), filled from the first block that holds something."""

    def __init__(self, first: Mapping[str, OutColumn], n: int) -> None:
        self.n = n
        self.shape = {
            name: col._replace(values=None, null=None, codes=None) for name, col in first.items()
        }
        self.types: dict[tuple[str, str], Any] = {}
        for name, col in first.items():
            self.types[name, "null"] = np.dtype(bool)
            if col.kind == "text":
                self.types[name, "values"] = np.dtype(np.int64)
            elif col.kind in ("int", "float"):
                # the output's own type, which holds every score the definition allows: no
                # later cast
                self.types[name, "values"] = NUMPY_TYPES[col.dtype]
            else:
                self.types[name, "values"] = col.values.dtype
        self.texts: dict[str, dict[str, int]] = {
            name: {} for name, col in first.items() if col.kind == "text"
        }
        parts = self._parts(first)
        held = [key for key, part in parts if _bits(part).any()]
        offsets = [0]
        for key in held:
            size = n * self.types[key].itemsize
            offsets.append(offsets[-1] + -(-size // _ALIGN) * _ALIGN)
        buffer = np.empty(offsets[-1], dtype=np.uint8)
        self.arrays: dict[tuple[str, str], Any] = dict.fromkeys(self.types)
        for key, at in zip(held, offsets, strict=False):
            dtype = self.types[key]
            self.arrays[key] = buffer[at : at + n * dtype.itemsize].view(dtype)
        self._write(parts, 0, len(next(iter(first.values())).null))

    def _parts(self, columns: Mapping[str, OutColumn]) -> list[tuple[tuple[str, str], Any]]:
        """Each column's arrays as this block holds them (a text column's codes renumbered
        into the whole's texts)."""
        parts = []
        for name, col in columns.items():
            parts.append(((name, "null"), col.null))
            if col.kind == "text":
                # the block's distinct texts joined to the whole's: its codes renumbered
                known = self.texts[name]
                renumber = np.array(
                    [known.setdefault(text, len(known)) for text in col.categories],
                    dtype=np.int64,
                )
                parts.append(((name, "values"), renumber[col.codes]))
            else:
                parts.append(((name, "values"), col.values))
        return parts

    def put(self, columns: Mapping[str, OutColumn], start: int, stop: int) -> None:
        """A later block's columns, at its rows."""
        if list(columns) != list(self.shape):
            raise RuntimeError("two blocks of one input gave different columns")
        for name, col in columns.items():
            shape = self.shape[name]
            if col.kind != shape.kind or (
                col.kind != "text" and col.categories != shape.categories
            ):
                raise RuntimeError(f"two blocks of one input gave column {name!r} two forms")
        self._write(self._parts(columns), start, stop)

    def _write(self, parts: list[tuple[tuple[str, str], Any]], start: int, stop: int) -> None:
        for key, part in parts:
            into = self.arrays[key]
            if into is None:
                if not _bits(part).any():
                    continue  # still all zeros
                into = self.arrays[key] = np.zeros(self.n, dtype=self.types[key])
            if not np.can_cast(part.dtype, into.dtype, "safe") and self._widens(key):
                # never a value cast down (an int or float column is of its output's type
                # already)
                into = self.arrays[key] = into.astype(np.result_type(into, part))
            into[start:stop] = part

    def _widens(self, key: tuple[str, str]) -> bool:
        return key[1] == "values" and self.shape[key[0]].kind not in ("int", "float")

    def columns(self) -> dict[str, OutColumn]:
        def whole(key: tuple[str, str]) -> Any:
            held = self.arrays[key]
            return np.zeros(self.n, dtype=self.types[key]) if held is None else held

        out = {}
        for name, shape in self.shape.items():
            null, values = whole((name, "null")), whole((name, "values"))
            if shape.kind == "text":
                out[name] = shape._replace(
                    null=null, categories=tuple(self.texts[name]), codes=values
                )
            else:
                out[name] = shape._replace(values=values, null=null)
        return out


def _bits(part: Any) -> Any:
    """An array as its bits, so that only an array of zero bits counts as zeros (a float
    -0.0 is not one)."""
    return part.view(f"u{part.dtype.itemsize}") if part.dtype.kind == "f" else part


class _Invalid:
    """Why rows are invalid, for the invalid rows only (the k-th invalid row of the input at
    k), gathered block by block: what a block has (only items with a bad answer have a mask)
    at its invalid rows, the other rows as a block without it would hold them (false, 0,
    None). Far smaller than masks over every row, and never a page of them touched twice."""

    def __init__(self, order: list[str]) -> None:
        self.order = order  # the classifications'
        self.m = 0
        self.first: Why | None = None
        self.parts: dict[tuple[str, ...], list[tuple[int, Any]]] = {}

    def _add(self, key: tuple[str, ...], part: Any) -> None:
        self.parts.setdefault(key, []).append((self.m, part))

    def put(self, why: Why, at: Any) -> None:
        """A block's reasons, at its invalid rows `at`."""
        if not len(at):
            return
        self.first = self.first or why
        for name, status in why.context.items():
            for field, values in zip(status._fields, status, strict=True):
                self._add(("context", name, field), values[at])
        for name, mask in why.bad.items():
            self._add(("bad", name), mask[at])
        for name, mask in why.skipped.items():
            self._add(("skipped", name), mask[at])
        self._add(("any_bad",), why.any_bad[at])
        for name, (short, missing, nothing, others) in why.scales.items():
            self._add(("short", name), short[at])
            self._add(("missing", name), missing[at])
            self._add(("nothing", name), nothing[at])
            for rows, reason in others:
                self._add(("other", name, reason), rows[at])
        for name, mask in why.undetermined.items():
            self._add(("undetermined", name), mask[at])
        self.m += len(at)

    def _whole(self, key: tuple[str, ...]) -> Any:
        pieces = self.parts[key]
        dtype = pieces[0][1].dtype
        out = np.full(self.m, None if dtype.kind == "O" else 0, dtype=dtype)
        for at, part in pieces:
            out[at : at + len(part)] = part
        return out

    def _named(self, kind: str) -> dict[str, Any]:
        return {key[1]: self._whole(key) for key in self.parts if key[0] == kind}

    def why(self) -> Why:
        first = self.first
        if first is None:  # no invalid row: nothing to explain
            return Why({}, {}, {}, np.zeros(0, dtype=bool), {}, {})
        undetermined = self._named("undetermined")
        return first._replace(
            context={
                name: status._replace(
                    **{field: self._whole(("context", name, field)) for field in status._fields}
                )
                for name, status in first.context.items()
            },
            bad=self._named("bad"),
            skipped=self._named("skipped"),
            any_bad=self._whole(("any_bad",)),
            scales={
                name: (
                    self._whole(("short", name)),
                    self._whole(("missing", name)),
                    self._whole(("nothing", name)),
                    [
                        (self._whole(key), key[2])
                        for key in self.parts
                        if key[0] == "other" and key[1] == name
                    ],
                )
                for name in self._named("short")
            },
            # in the order of the definition, as a single block lists them (the reasons
            # are joined in this order)
            undetermined={name: undetermined[name] for name in self.order if name in undetermined},
        )
