"""Which input column holds each item: one spec per instrument, nothing resolved by guessing.

A column spec is a mapping `{item_id: column}`, a format string (`"PHQ_{n:0>2}"`) or a prefix
(`"PHQ_"`); with several instruments, each has its own (`prefix={"phq9": "PHQ_", "gad7":
"GAD_"}`). Anything ambiguous is refused with a `ColumnError` naming both sources: one spec for
several instruments, two columns that could hold one item, a column name the data holds twice
(or as pandas renames a repeated header: `X` and `X.1`), one column given for two items, a
mapped column or item that does not exist.

Pure Python over column names, so every dataframe library (and the file reader, which only has
a header) resolves columns the same way.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping, Sequence
from typing import NamedTuple

__all__ = [
    "API",
    "CLI",
    "ColumnError",
    "ColumnSpec",
    "Columns",
    "Options",
    "Prefix",
    "Spec",
    "item_columns",
    "specs",
]

ColumnSpec = Mapping[str, str] | str | None
"""One instrument's columns: `{item_id: column}`, a format string, or None (the item ids)."""
Columns = ColumnSpec | Mapping[str, ColumnSpec]
"""A `ColumnSpec`, or one per instrument id."""
Prefix = str | Mapping[str, str] | None
"""A prefix, or one per instrument id."""


class ColumnError(ValueError):
    """The columns of an instrument cannot be found without guessing."""


class Options(NamedTuple):
    """How the caller spells each option, so a message names the one to use."""

    columns: str = "columns="
    prefix: str = "prefix="
    allow_missing: str = "allow_missing_columns=True"


API = Options()
CLI = Options("--pattern or --map", "--prefix", "--allow-missing-columns")


class Spec(NamedTuple):
    """How to find one instrument's item columns."""

    columns: ColumnSpec
    prefix: str | None


def _example(ids: Sequence[str], what: str) -> str:
    shown = ", ".join(f"{i!r}: {what}" for i in ids[:2])
    return "{" + shown + (", ..." if len(ids) > 2 else "") + "}"


def specs(
    items: Mapping[str, Sequence[str]],
    columns: Columns = None,
    prefix: Prefix = None,
    options: Options = API,
) -> dict[str, Spec]:
    """Each instrument's spec from the caller's `columns` and `prefix`.

    `items` maps each instrument id (in order) to its item ids. A single spec is accepted for
    one instrument only: one prefix, format or mapping for several would read every instrument
    from the same columns (GAD-7 scored from the PHQ columns), so it is refused.
    """
    ids = list(items)
    several = len(ids) > 1
    by_columns = _split_columns(items, columns, several)
    by_prefix: dict[str, str | None]
    if prefix is None:
        by_prefix = {}
    elif isinstance(prefix, str):
        if several:
            raise ColumnError(
                f"one prefix ({prefix!r}) for several instruments ({', '.join(ids)}) would "
                "read them all from the same columns; give one per instrument: "
                f"prefix={_example(ids, 'PREFIX')}"
            )
        by_prefix = {ids[0]: prefix}
    elif isinstance(prefix, Mapping):
        _known_keys(ids, prefix, "prefix")
        for key, value in prefix.items():
            if not isinstance(value, str):
                raise ColumnError(f"prefix for {key!r} must be text (got {value!r})")
        by_prefix = dict(prefix)
    else:
        raise ColumnError(f"prefix must be text or a mapping (got {type(prefix).__name__})")
    out: dict[str, Spec] = {}
    for instrument in ids:
        spec, given_prefix = by_columns.get(instrument), by_prefix.get(instrument)
        if spec is not None and given_prefix is not None:
            raise ColumnError(
                f"{instrument}: give {options.columns} or {options.prefix}, not both (the "
                "columns would win and the prefix be ignored)"
            )
        out[instrument] = Spec(spec, given_prefix)
    return out


def _known_keys(ids: Sequence[str], given: Mapping[str, object], what: str) -> None:
    unknown = [k for k in given if k not in ids]
    if unknown:
        raise ColumnError(
            f"{what} names {', '.join(map(repr, unknown))}, which is not among the instruments "
            f"scored ({', '.join(ids)})"
        )


def _split_columns(
    items: Mapping[str, Sequence[str]], columns: Columns, several: bool
) -> dict[str, ColumnSpec]:
    ids = list(items)
    if columns is None:
        return {}
    if isinstance(columns, str):
        if several:
            raise ColumnError(
                f"one column format ({columns!r}) for several instruments ({', '.join(ids)}) "
                "would read them all from the same columns; give one per instrument: "
                f"columns={_example(ids, 'FORMAT')}"
            )
        return {ids[0]: columns}
    if not isinstance(columns, Mapping):
        raise ColumnError(f"columns must be a mapping or text (got {type(columns).__name__})")
    keys = list(columns)
    per_instrument = [k for k in keys if k in items]
    if several or (per_instrument and len(per_instrument) == len(keys)):
        if len(per_instrument) != len(keys):
            stray = next(k for k in keys if k not in items)
            raise ColumnError(
                f"columns for several instruments maps each instrument id to its own column "
                f"spec; {stray!r} is not one of {', '.join(ids)} "
                f"(e.g. columns={_example(ids, 'SPEC')})"
            )
        out: dict[str, ColumnSpec] = {}
        for key, spec in columns.items():
            if spec is not None and not isinstance(spec, str | Mapping):
                raise ColumnError(f"columns for {key!r} must be a mapping or text (got {spec!r})")
            out[key] = spec
        return out
    return {ids[0]: columns}  # type: ignore[dict-item]  # an item mapping of one instrument


_NO_SPEC = Spec(None, None)


def item_columns(
    instrument: str,
    item_ids: Sequence[str],
    names: Sequence[Hashable],
    spec: Spec = _NO_SPEC,
    options: Options = API,
    *,
    renamed: bool = True,
) -> dict[str, Hashable]:
    """Which of `names` holds each item (an item without a column is left out).

    A format string may use `{n}` (the item's number on the form, as text: "6a" for a
    follow-up), `{id}` and `{instrument}`: `"PHQ_{n:0>2}"` finds PHQ_01 ... PHQ_09. A prefix
    matches the item's number with or without leading zeros: `"PHQ_"` finds PHQ_1 or PHQ_01,
    and both present is refused. A mapping must name existing items and existing columns.
    """
    positions: dict[str, list[int]] = {}
    for position, name in enumerate(names):
        positions.setdefault(str(name), []).append(position)
    if isinstance(spec.columns, Mapping):
        unknown = [k for k in spec.columns if k not in item_ids]
        if unknown:
            raise ColumnError(
                f"columns maps {', '.join(map(repr, unknown))}, which is not an item of "
                f"{instrument} (items: {item_ids[0]} ... {item_ids[-1]})"
            )
    found: dict[str, Hashable] = {}
    used: dict[str, str] = {}
    for item_id in item_ids:
        name = _column_of(instrument, item_id, positions, spec, options)
        if name is None:
            continue
        where = positions[name]
        if len(where) > 1:
            places = " and ".join(str(p + 1) for p in where[:2])
            raise ColumnError(
                f"column {name!r} (item {item_id!r} of {instrument}) appears {len(where)} times "
                f"in the data (columns {places}); which one holds the item is ambiguous"
            )
        # a column found by a pattern beside one named as pandas renames a repeated header
        # (`X.1`): the names may have been renamed (not a file's header as written), and the
        # caller did not name the column
        twin = (
            _renamed_twin(name, positions)
            if renamed and not isinstance(spec.columns, Mapping)
            else None
        )
        if twin is not None:
            raise ColumnError(
                f"columns {name!r} and {twin!r} may both hold item {item_id!r} of "
                f"{instrument}: a file read by pandas names a second {name!r} column "
                f"{twin!r}; which one holds the item is ambiguous (drop or rename one, or "
                f"name the item's column with {options.columns})"
            )
        if name in used:
            raise ColumnError(
                f"column {name!r} is given for both {used[name]!r} and {item_id!r} of {instrument}"
            )
        used[name] = item_id
        found[item_id] = names[where[0]]
    return found


def _renamed_twin(name: str, positions: Mapping[str, list[int]]) -> str | None:
    """A column named as pandas renames a repeated header `name` (`name.1`, `name.2`), if the
    data has one: a file whose header repeats an item's column."""
    head = f"{name}."
    return next(
        (
            other
            for other in positions
            if other.startswith(head)
            and other[len(head) :].isascii()
            and other[len(head) :].isdigit()
            and other[len(head)] != "0"
        ),
        None,
    )


def _column_of(
    instrument: str,
    item_id: str,
    positions: Mapping[str, list[int]],
    spec: Spec,
    options: Options,
) -> str | None:
    """The name of the column holding one item, or None when the data has none."""
    columns, prefix = spec
    number = item_id.removeprefix(f"{instrument}_")
    if isinstance(columns, Mapping):
        given = columns.get(item_id)
        if given is None:
            return None
        if not isinstance(given, str):
            raise ColumnError(f"columns: the column of {item_id!r} must be text (got {given!r})")
        if given not in positions:
            raise ColumnError(
                f"column {given!r}, given for item {item_id!r} of {instrument}, is not in the data"
            )
        return given
    if isinstance(columns, str):
        try:
            name = columns.format(n=number, id=item_id, instrument=instrument)
        except (KeyError, IndexError, ValueError) as exc:
            raise ColumnError(
                f"column format {columns!r} cannot be filled ({exc}); it may use {{n}}, {{id}} "
                "and {instrument}"
            ) from None
    elif prefix is not None:
        pattern = re.compile(rf"{re.escape(prefix)}0*{re.escape(number.lstrip('0'))}")
        candidates = [name for name in positions if pattern.fullmatch(name)]
        if len(candidates) > 1:
            raise ColumnError(
                f"item {item_id!r} of {instrument} could be in column "
                f"{' or '.join(map(repr, candidates))} (prefix {prefix!r}); keep one, or map "
                f"the item with {options.columns}"
            )
        name = candidates[0] if candidates else ""
    else:
        name = item_id
    return name if name in positions else None
