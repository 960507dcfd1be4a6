"""Semantic checks of a whole definition.

Each check yields bare `Issue`s with a path into the definition; the loader adds file, line and
column. All checks run, so a definition's problems are reported at once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from .codes import DefinitionCode
from .definition import (
    Instrument,
    Item,
    Scale,
    is_identifier,
    source_keys,
)
from .errors import Issue, PathPart, make_issue
from .facts import item_score_values, scale_is_integral
from .rules import KINDS, Ref, walk
from .steps import scale_range
from .text import number

Path = tuple[PathPart, ...]


def check_instrument(inst: Instrument) -> list[Issue]:
    """Every semantic problem of a structurally valid definition."""
    issues: list[Issue] = []
    for check in (
        _check_sources,
        _check_options,
        _check_items,
        _check_scales,
        _check_conditions,
        _check_change,
        _check_cases,
    ):
        issues.extend(check(inst))
    return issues


def _repeats(values: list[str]) -> dict[str, tuple[int, int]]:
    """Each value that occurs twice or more: (its first, its last position), in one pass."""
    first: dict[str, int] = {}
    out: dict[str, tuple[int, int]] = {}
    for position, value in enumerate(values):
        if value in first:
            out[value] = (first[value], position)
        else:
            first[value] = position
    return out


def _defined(names: Iterable[str]) -> str:
    """The names something could have named, for a message: `a, b` or `none`."""
    return ", ".join(names) or "none"


def _duplicates(values: list[str]) -> set[str]:
    return {v for v, n in Counter(values).items() if n > 1}


def _check_sources(inst: Instrument) -> Iterator[Issue]:
    used: set[str] = set()

    def refs(path: Path, sources: Any) -> Iterator[Issue]:
        for key in source_keys(sources):
            used.add(key)
            if key not in inst.sources:
                yield make_issue(
                    DefinitionCode.UNKNOWN_SOURCE,
                    path,
                    key=key,
                    known=", ".join(sorted(inst.sources)),
                )

    for name, scale in inst.scales.items():
        yield from refs(("scales", name, "source"), scale.source)
        yield from refs(("scales", name, "missing", "source"), scale.missing.source)
    for i, flag in enumerate(inst.flags):
        yield from refs(("flags", i, "source"), flag.source)
    for name, cls in inst.classifications.items():
        yield from refs(("classifications", name, "source"), cls.source)
    for i, case in enumerate(inst.cases):
        yield from refs(("cases", i, "source"), case.source)
    for name, spec in inst.change.items():
        for part in (
            "reliable_change",
            "clinical_significance",
            "caseness",
            "response",
            "remission",
        ):
            rule = getattr(spec, part)
            if rule is not None:
                yield from refs(("change", name, part, "source"), rule.source)
    for key in inst.sources:
        if key not in used:
            yield make_issue(
                DefinitionCode.UNUSED_SOURCE, ("sources", key), severity="warning", key=key
            )


def _check_options(inst: Instrument) -> Iterator[Issue]:
    used = {i.options for i in inst.items if isinstance(i.options, str)}
    for name, options in inst.option_sets.items():
        yield from _check_option_list(("option_sets", name), options)
        if name not in used:
            yield make_issue(
                DefinitionCode.UNUSED_OPTION_SET,
                ("option_sets", name),
                severity="warning",
                name=name,
            )


def _check_option_list(path: Path, options: list[Any]) -> Iterator[Issue]:
    if len(options) < 2:
        yield make_issue(DefinitionCode.TOO_FEW_OPTIONS, path, count=len(options))
    for index, _ in _repeats([str(o.value) for o in options]).values():
        yield make_issue(
            DefinitionCode.DUPLICATE_OPTION,
            (*path, index),
            field="value",
            given=options[index].value,
        )
    for label, (index, _) in _repeats([o.label for o in options]).items():
        yield make_issue(
            DefinitionCode.DUPLICATE_OPTION, (*path, index), field="label", given=label
        )


def _check_items(inst: Instrument) -> Iterator[Issue]:
    ids = [i.id for i in inst.items]
    for dup, (_, index) in _repeats(ids).items():
        yield make_issue(DefinitionCode.DUPLICATE_ID, ("items", index, "id"), kind="item", id=dup)
    for index, item in enumerate(inst.items):
        path: Path = ("items", index)
        if isinstance(item.options, str):
            if item.options not in inst.option_sets:
                yield make_issue(
                    DefinitionCode.UNKNOWN_OPTION_SET,
                    (*path, "options"),
                    item_id=item.id,
                    name=item.options,
                    defined=_defined(sorted(inst.option_sets)),
                )
        else:
            yield from _check_option_list((*path, "options"), item.options)
        yield from _check_skip_rules(inst, path, item)
        if item.text is not None and not inst.license.redistribute_text:
            yield make_issue(
                DefinitionCode.TEXT_NOT_REDISTRIBUTABLE, (*path, "text"), item_id=item.id
            )


def _check_skip_rules(inst: Instrument, path: Path, item: Item) -> Iterator[Issue]:
    """What an item says about being skipped needs an ask_if, and values it can take."""
    if item.answered_when_skipped != "error" and item.ask_if is None:
        yield make_issue(
            DefinitionCode.SKIP_RULE_WITHOUT_ASK_IF,
            (*path, "answered_when_skipped"),
            item_id=item.id,
            rule="says how to treat an answer",
            why="has no ask_if",
        )
    if item.accept_when_skipped:
        if item.ask_if is None or item.answered_when_skipped == "score":
            why = "has no ask_if" if item.ask_if is None else "scores every answer anyway"
            yield make_issue(
                DefinitionCode.SKIP_RULE_WITHOUT_ASK_IF,
                (*path, "accept_when_skipped"),
                item_id=item.id,
                rule="lists answers accepted",
                why=why,
            )
        values = {o.value for o in inst.item_options(item)}
        for position, value in enumerate(item.accept_when_skipped):
            if values and value not in values:
                allowed = ", ".join(map(str, sorted(values)))
                yield make_issue(
                    DefinitionCode.INVALID_VALUE,
                    (*path, "accept_when_skipped", position),
                    where=f"item '{item.id}'",
                    detail=f"accept_when_skipped must list option values {allowed}",
                    got=value,
                    item_id=item.id,
                    allowed=allowed,
                )
    if item.if_skipped is not None:
        if item.ask_if is None:
            yield make_issue(
                DefinitionCode.IF_SKIPPED_WITHOUT_ASK_IF, (*path, "if_skipped"), item_id=item.id
            )
        possible = item_score_values(inst, item.id)
        if possible and item.if_skipped not in possible:
            allowed = ", ".join(map(str, possible))
            yield make_issue(
                DefinitionCode.INVALID_VALUE,
                (*path, "if_skipped"),
                where=f"item '{item.id}'",
                detail=f"if_skipped must be one of its scores {allowed}",
                got=item.if_skipped,
                item_id=item.id,
                allowed=allowed,
            )


def _check_scales(inst: Instrument) -> Iterator[Issue]:
    if not inst.scales and not inst.classifications:
        yield make_issue(DefinitionCode.NOTHING_SCORED, ("scales",))
    known = {i.id for i in inst.items}
    for name, scale in inst.scales.items():
        path: Path = ("scales", name)
        if not is_identifier(name):
            yield make_issue(DefinitionCode.INVALID_NAME, path, kind="scale", name=name)
        for index, item_id in enumerate(scale.items):
            if item_id not in known:
                yield make_issue(
                    DefinitionCode.UNKNOWN_ITEM,
                    (*path, "items", index),
                    owner=f"scale '{name}'",
                    verb="lists",
                    item_id=item_id,
                    scale=name,
                )
        for dup, (first, _) in _repeats(scale.items).items():
            yield make_issue(
                DefinitionCode.DUPLICATE_ITEM, (*path, "items", first), scale=name, item_id=dup
            )
        rule = scale.missing
        if rule.max_missing >= len(scale.items):
            yield make_issue(
                DefinitionCode.MAX_MISSING_TOO_LARGE,
                (*path, "missing", "max_missing"),
                scale=name,
                max_missing=rule.max_missing,
                count=len(scale.items),
            )
        if rule.max_missing > 0 and not rule.prorate:
            yield make_issue(
                DefinitionCode.MISSING_WITHOUT_PRORATION, (*path, "missing", "prorate"), scale=name
            )
        if rule.max_missing > 0 and rule.source is None:
            yield make_issue(DefinitionCode.UNCITED_RULE, (*path, "missing"), scale=name)
        if scale.multiplier <= 0:
            yield make_issue(
                DefinitionCode.INVALID_MULTIPLIER,
                (*path, "multiplier"),
                scale=name,
                multiplier=scale.multiplier,
            )
        yield from _check_bands(inst, name, scale)


def _check_bands(inst: Instrument, name: str, scale: Scale) -> Iterator[Issue]:
    if not scale.bands:
        return
    path: Path = ("scales", name, "bands")
    if not scale_is_integral(scale):
        yield make_issue(DefinitionCode.BANDS_ON_FRACTIONAL_SCALE, path, scale=name)
        return
    for label in _duplicates([b.label for b in scale.bands]):
        yield make_issue(DefinitionCode.DUPLICATE_BAND, path, scale=name, band=label)
    for index, band in enumerate(scale.bands):
        if band.min > band.max:
            yield make_issue(
                DefinitionCode.BAND_ORDER,
                (*path, index, "min"),
                scale=name,
                band=band.label,
                min=band.min,
                max=band.max,
            )
        if index > 0:
            previous = scale.bands[index - 1]
            if band.min != previous.max + 1:
                yield make_issue(
                    DefinitionCode.BANDS_NOT_CONTIGUOUS,
                    (*path, index, "min"),
                    scale=name,
                    band=band.label,
                    start=band.min,
                    relation="overlaps" if band.min <= previous.max else "leaves a gap after",
                    previous=previous.label,
                    previous_end=previous.max,
                    expected=previous.max + 1,
                )
    bounds = scale_range(inst, scale)
    if bounds is None:
        return
    lo, hi = bounds
    first, last = scale.bands[0], scale.bands[-1]
    if first.min != lo:
        yield make_issue(
            DefinitionCode.BANDS_RANGE,
            (*path, 0, "min"),
            scale=name,
            side="start",
            given=first.min,
            extreme="lowest",
            reachable=number(lo),
        )
    if last.max != hi:
        yield make_issue(
            DefinitionCode.BANDS_RANGE,
            (*path, len(scale.bands) - 1, "max"),
            scale=name,
            side="end",
            given=last.max,
            extreme="highest",
            reachable=number(hi),
        )


def walk_conditions(inst: Instrument) -> Iterator[tuple[Path, Any]]:
    """Every condition in the definition with its path, nested ones included (whatever their
    kind: the walk asks each kind for its sub-conditions)."""
    roots: list[tuple[Path, Any]] = [
        (("items", index, "ask_if"), item.ask_if)
        for index, item in enumerate(inst.items)
        if item.ask_if is not None
    ]
    roots += [(("flags", index, "when"), flag.when) for index, flag in enumerate(inst.flags)]
    roots += [
        (("classifications", name, "rules", index, "when"), rule.when)
        for name, cls in inst.classifications.items()
        for index, rule in enumerate(cls.rules)
    ]
    for root, cond in roots:
        for key, node in walk(cond):
            yield (*root, *key), node


def _check_conditions(inst: Instrument) -> Iterator[Issue]:
    flag_ids = [f.id for f in inst.flags]
    for dup, (_, last) in _repeats(flag_ids).items():
        yield make_issue(DefinitionCode.DUPLICATE_ID, ("flags", last, "id"), kind="flag", id=dup)
    for name in inst.classifications:
        if not is_identifier(name):
            yield make_issue(
                DefinitionCode.INVALID_NAME,
                ("classifications", name),
                kind="classification",
                name=name,
            )
    order = {item.id: index for index, item in enumerate(inst.items)}
    for path, cond in walk_conditions(inst):
        asker = path[1] if path[0] == "items" else None
        for ref in KINDS[type(cond)].refs(cond):
            yield from _check_ref(inst, path, ref, order, asker)


def _check_ref(
    inst: Instrument, path: Path, ref: Ref, order: dict[str, int], asker: PathPart | None
) -> Iterator[Issue]:
    """What one condition reads must exist (and, for skip logic, come before the item)."""
    at: Path = (*path, ref.key)
    if ref.kind == "item":
        if ref.name not in order:
            yield make_issue(
                DefinitionCode.UNKNOWN_ITEM, at, owner="condition", verb="names", item_id=ref.name
            )
            return
        if isinstance(asker, int) and order[ref.name] >= asker:
            yield make_issue(
                DefinitionCode.ASK_IF_ORDER, at, item_id=ref.name, asker=inst.items[asker].id
            )
        possible = item_score_values(inst, ref.name)
        if ref.test is not None and possible and not any(ref.test(v) for v in possible):
            yield make_issue(
                DefinitionCode.CONDITION_NEVER_HOLDS,
                at,
                item_id=ref.name,
                scores=", ".join(map(str, possible)),
                condition=ref.shown,
            )
    elif ref.kind == "scale":
        if ref.name not in inst.scales:
            yield make_issue(
                DefinitionCode.UNKNOWN_SCALE,
                at,
                owner="condition",
                verb="names",
                scale=ref.name,
                defined=_defined(inst.scales),
            )
        elif asker is not None:
            yield make_issue(DefinitionCode.ASK_IF_SCALE, at, scale=ref.name)
    else:
        var = inst.context.get(ref.name)
        if var is None:
            yield make_issue(DefinitionCode.UNKNOWN_CONTEXT, at, variable=ref.name)
            return
        for value in ref.values:
            if value not in var.values:
                yield make_issue(
                    DefinitionCode.UNKNOWN_CONTEXT_VALUE,
                    path,
                    variable=ref.name,
                    allowed=", ".join(var.values),
                    got=value,
                )


def _check_change(inst: Instrument) -> Iterator[Issue]:
    for name in inst.change:
        if name not in inst.scales:
            yield make_issue(
                DefinitionCode.UNKNOWN_SCALE,
                ("change", name),
                owner="change parameters",
                verb="for",
                scale=name,
                defined=_defined(inst.scales),
            )


def _check_cases(inst: Instrument) -> Iterator[Issue]:
    flag_ids = {f.id for f in inst.flags}
    for index, case in enumerate(inst.cases):
        path: Path = ("cases", index)
        if isinstance(case.responses, list) and len(case.responses) != len(inst.items):
            yield make_issue(
                DefinitionCode.CASE_RESPONSES,
                (*path, "responses"),
                case=case.name,
                expected=len(inst.items),
                got=len(case.responses),
            )
        for name, expected in case.expect.scales.items():
            scale = inst.scales.get(name)
            if scale is None:
                yield make_issue(
                    DefinitionCode.UNKNOWN_SCALE,
                    (*path, "expect", "scales", name),
                    owner=f"case '{case.name}'",
                    verb="expects",
                    scale=name,
                    defined=_defined(inst.scales),
                    case=case.name,
                )
            elif expected.band is not None and expected.band not in {b.label for b in scale.bands}:
                yield make_issue(
                    DefinitionCode.UNKNOWN_BAND,
                    (*path, "expect", "scales", name, "band"),
                    case=case.name,
                    band=expected.band,
                    scale=name,
                )
        for flag in case.expect.flags:
            if flag not in flag_ids:
                yield make_issue(
                    DefinitionCode.UNKNOWN_FLAG,
                    (*path, "expect", "flags"),
                    case=case.name,
                    flag=flag,
                )
        for name, label in case.expect.classifications.items():
            cls = inst.classifications.get(name)
            if cls is None:
                yield make_issue(
                    DefinitionCode.UNKNOWN_CLASSIFICATION,
                    (*path, "expect", "classifications", name),
                    case=case.name,
                    classification=name,
                )
            elif label is not None and label not in {r.label for r in cls.rules} | {cls.otherwise}:
                yield make_issue(
                    DefinitionCode.UNKNOWN_LABEL,
                    (*path, "expect", "classifications", name),
                    case=case.name,
                    label=label,
                    classification=name,
                )
