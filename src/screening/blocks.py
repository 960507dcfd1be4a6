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
    Scored,
    Why,
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
    if n <= AT_ONCE:
        scored = score_arrays(aplan, inputs, context, n)
        return _explained(aplan, scored, cells, items, with_issues)
    whole: _Whole | None = None
    why = _WhyWhole(n, [name for name, _, _ in aplan.classifications])
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
            whole = _Whole(scored.columns, n)
        whole.put(scored.columns, start, stop)
        why.put(scored.why, start, stop)
        valid[start:stop] = scored.valid
    assert whole is not None  # n > block: at least two blocks
    # the reasons are written once for the whole input: each distinct one rendered once
    return _explained(aplan, Scored(whole.columns(), valid, why.whole()), cells, items, with_issues)


def _rows(given: ItemInput, start: int, stop: int) -> ItemInput:
    missing = given.missing
    return ItemInput(
        given.kind, given.values[start:stop], None if missing is None else missing[start:stop]
    )


def _explained(
    aplan: ArrayPlan, scored: Scored, cells: Cells, items: Mapping[str, Any], with_issues: bool
) -> tuple[dict[str, OutColumn], IssueTable | None]:
    """The output columns with each row's reason, and the issues when asked."""
    n = len(scored.valid)
    out: dict[str, OutColumn] = dict(scored.columns)
    codes = np.zeros(n, dtype=np.int64)  # 0: "", a valid row's
    texts: tuple[str, ...] = ("",)
    table = None
    rows = np.flatnonzero(~scored.valid)
    if len(rows):
        (distinct, pattern), table = explain(
            aplan.plan, scored.why, cells, items, rows, with_issues=with_issues
        )
        codes[rows] = pattern + 1
        texts = ("", *distinct.tolist())
    # the distinct reasons and a code per row: each adapter gathers its texts from them
    out["reason"] = OutColumn("text", None, np.zeros(n, dtype=bool), categories=texts, codes=codes)
    return out, table


_ALIGN = 64


class _Whole:
    """The whole output, filled block by block. Every column lies in one buffer: a buffer this
    large is mapped in huge pages where the system allows (numpy asks for them past 4 MiB;
    three times faster to fill here), where a column of its own
    (1-2 MiB for a million rows) would fault in every 4 KiB page, which costs more than
    writing it. The columns do not overlap; like the columns of one pandas block, they keep
    the buffer alive together."""

    def __init__(self, first: Mapping[str, OutColumn], n: int) -> None:
        self.shape = {
            name: col._replace(values=None, null=None, codes=None) for name, col in first.items()
        }
        types: list[Any] = []
        for col in first.values():
            types.append(np.dtype(bool))
            if col.kind == "text":
                types.append(np.dtype(np.int64))
            elif col.kind in ("int", "float"):
                types.append(NUMPY_TYPES[col.dtype])  # the output's own type: no later cast
            else:
                types.append(col.values.dtype)
        offsets = [0]
        for dtype in types:
            offsets.append(offsets[-1] + -(-n * dtype.itemsize // _ALIGN) * _ALIGN)
        buffer = np.empty(offsets[-1], dtype=np.uint8)
        arrays = [
            buffer[at : at + n * dtype.itemsize].view(dtype)
            for at, dtype in zip(offsets, types, strict=False)
        ]
        self.null = dict(zip(first, arrays[::2], strict=True))
        self.values = dict(zip(first, arrays[1::2], strict=True))
        self.texts: dict[str, dict[str, int]] = {
            name: {} for name, col in first.items() if col.kind == "text"
        }

    def put(self, columns: Mapping[str, OutColumn], start: int, stop: int) -> None:
        if list(columns) != list(self.shape):
            raise RuntimeError("two blocks of one input gave different columns")
        for name, col in columns.items():
            shape = self.shape[name]
            if col.kind != shape.kind or (
                col.kind != "text" and col.categories != shape.categories
            ):
                raise RuntimeError(f"two blocks of one input gave column {name!r} two forms")
            self.null[name][start:stop] = col.null
            if col.kind == "text":
                # the block's distinct texts joined to the whole's: its codes renumbered
                known = self.texts[name]
                renumber = np.array(
                    [known.setdefault(text, len(known)) for text in col.categories],
                    dtype=np.int64,
                )
                self.values[name][start:stop] = renumber[col.codes]
                continue
            into = self.values[name]
            if not np.can_cast(col.values.dtype, into.dtype, "safe") and col.kind not in (
                "int",
                "float",
            ):
                # never a value cast down (an int or float column is of its output's type,
                # which holds every score the definition allows)
                into = self.values[name] = into.astype(np.result_type(into, col.values))
            into[start:stop] = col.values

    def columns(self) -> dict[str, OutColumn]:
        out = {}
        for name, shape in self.shape.items():
            if shape.kind == "text":
                out[name] = shape._replace(
                    null=self.null[name],
                    categories=tuple(self.texts[name]),
                    codes=self.values[name],
                )
            else:
                out[name] = shape._replace(values=self.values[name], null=self.null[name])
        return out


class _WhyWhole:
    """Why rows are invalid, over the whole input, filled block by block: each mask or count
    a block has (only items with a bad answer have one) at its rows, the other rows as a block
    without it would hold them (false, 0, None)."""

    def __init__(self, n: int, order: list[str]) -> None:
        self.n = n
        self.order = order  # the classifications'
        self.first: Why | None = None
        self.context: dict[str, list[Any]] = {}
        self.bad: dict[str, Any] = {}
        self.skipped: dict[str, Any] = {}
        self.any_bad = np.zeros(n, dtype=bool)
        self.scales: dict[str, tuple[Any, Any, Any, dict[str, Any]]] = {}
        self.undetermined: dict[str, Any] = {}

    def _fill(self, into: dict[str, Any], key: str, part: Any, start: int) -> None:
        whole = into.get(key)
        if whole is None:
            blank = None if part.dtype == object else 0
            whole = into[key] = np.full(self.n, blank, dtype=part.dtype)
        whole[start : start + len(part)] = part

    def put(self, why: Why, start: int, stop: int) -> None:
        self.first = self.first or why
        for name, status in why.context.items():
            fields = self.context.setdefault(name, [{}, {}, {}])
            for into, part in zip(fields, status, strict=True):
                self._fill(into, name, part, start)
        for name, mask in why.bad.items():
            self._fill(self.bad, name, mask, start)
        for name, mask in why.skipped.items():
            self._fill(self.skipped, name, mask, start)
        self.any_bad[start:stop] = why.any_bad
        for name, (short, missing, nothing, others) in why.scales.items():
            held = self.scales.setdefault(name, ({}, {}, {}, {}))
            self._fill(held[0], name, short, start)
            self._fill(held[1], name, missing, start)
            self._fill(held[2], name, nothing, start)
            for rows, reason in others:
                self._fill(held[3], reason, rows, start)
        for name, mask in why.undetermined.items():
            self._fill(self.undetermined, name, mask, start)

    def whole(self) -> Why:
        assert self.first is not None
        return self.first._replace(
            context={
                name: (first := self.first.context[name])._replace(
                    **{field: part[name] for field, part in zip(first._fields, fields, strict=True)}
                )
                for name, fields in self.context.items()
            },
            bad=self.bad,
            skipped=self.skipped,
            any_bad=self.any_bad,
            scales={
                name: (
                    short[name],
                    missing[name],
                    nothing[name],
                    [(rows, reason) for reason, rows in others.items()],
                )
                for name, (short, missing, nothing, others) in self.scales.items()
            },
            # in the order of the definition, as a single block lists them (the reasons
            # are joined in this order)
            undetermined={
                name: self.undetermined[name] for name in self.order if name in self.undetermined
            },
        )
