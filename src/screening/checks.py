"""Semantic checks of a whole definition.

Each check yields bare `Issue`s with a path into the definition; the loader adds file, line and
column. All checks run, so a definition's problems are reported at once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from fractions import Fraction
from itertools import pairwise
from typing import Any, cast

from .codes import DefinitionCode
from .definition import (
    MAX_NUMBER_SPAN,
    MAX_VALUE,
    Coding,
    Instrument,
    Item,
    Lookup,
    Scale,
    is_identifier,
    number_span,
    source_keys,
)
from .errors import Issue, PathPart, make_issue
from .facts import item_score_values, scale_is_integral, scale_precision
from .rules import KINDS, Ref, walk
from .steps import exact_factor, scale_range, steps_of
from .text import at_places, number

Path = tuple[PathPart, ...]


def check_instrument(inst: Instrument) -> list[Issue]:
    """Every semantic problem of a structurally valid definition."""
    issues: list[Issue] = []
    for check in (
        _check_sources,
        _check_options,
        _check_items,
        _check_scales,
        _check_context,
        _check_codings,
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

    for path, sources in _citations(inst):
        yield from refs(path, sources)
    for key in inst.sources:
        if key not in used:
            yield make_issue(
                DefinitionCode.UNUSED_SOURCE, ("sources", key), severity="warning", key=key
            )


_CHANGE_RULES = ("reliable_change", "clinical_significance", "caseness", "response", "remission")


def _citations(inst: Instrument) -> Iterator[tuple[Path, Any]]:
    """Every place a definition cites sources, and what it cites there."""
    for name, scale in inst.scales.items():
        for at, sources in _scale_sources(scale):
            yield ("scales", name, *at), sources
    for index, item in enumerate(inst.items):
        if item.number is not None:
            yield ("items", index, "number", "source"), item.number.source
    for i, flag in enumerate(inst.flags):
        yield ("flags", i, "source"), flag.source
    for name, cls in inst.classifications.items():
        yield ("classifications", name, "source"), cls.source
    for i, case in enumerate(inst.cases):
        yield ("cases", i, "source"), case.source
    for name, var in inst.context.items():
        yield ("context", name, "source"), var.source
    for name, coding in inst.codings.items():
        yield ("codings", name, "source"), coding.source
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
                yield ("change", name, part, "source"), rule.source


def _scale_sources(scale: Scale) -> Iterator[tuple[Path, Any]]:
    """Where a scale cites sources, and what it cites there."""
    yield ("source",), scale.source
    yield ("missing", "source"), scale.missing.source
    for table_name, table in scale.band_tables.items():
        yield ("band_tables", table_name, "source"), table.source
    for at, lookup in scale.lookup_paths():
        yield (*at, "source"), lookup.source


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
        elif item.options is not None:
            yield from _check_option_list((*path, "options"), item.options)
        yield from _check_answer_kind(path, item)
        yield from _check_skip_rules(inst, path, item)
        if item.reverse and any(o.score is not None for o in inst.item_options(item)):
            yield make_issue(DefinitionCode.SCORE_WITH_REVERSE, (*path, "reverse"), item_id=item.id)
        if item.text is not None and not inst.license.redistribute_text:
            yield make_issue(
                DefinitionCode.TEXT_NOT_REDISTRIBUTABLE, (*path, "text"), item_id=item.id
            )


def _check_answer_kind(path: Path, item: Item) -> Iterator[Issue]:
    """An item has options or a numeric answer, not both; a number's bounds and recoding
    ranges hold together."""
    where = f"item '{item.id}'"
    if item.options is None and item.number is None:
        yield make_issue(DefinitionCode.MISSING_KEY, path, where=where, key="options")
        return
    if item.number is None:
        return
    at: Path = (*path, "number")
    if item.options is not None:
        yield make_issue(
            DefinitionCode.INVALID_VALUE,
            at,
            where=where,
            detail="an item has options or a number, not both",
            got="both",
        )
    number = item.number
    bounds = [(("min",), number.min), (("max",), number.max)] + [
        (("scores", i, end), getattr(r, end))
        for i, r in enumerate(number.scores)
        for end in ("min", "max")
    ]
    refused = False
    for key, bound in bounds:
        if number.units(bound) is None or (not number.decimals and not isinstance(bound, int)):
            refused = True
            yield make_issue(
                DefinitionCode.INVALID_VALUE,
                (*at, *key),
                where=where,
                detail=f"a bound must be a number with at most {number.decimals} decimal places"
                if number.decimals
                else "a bound must be a whole number (or set decimals)",
                got=bound,
            )
    if refused:
        return
    span = number_span(number)
    top = max(abs(cast(int, number.units(number.min))), abs(cast(int, number.units(number.max))))
    if number.decimals and top > MAX_VALUE:
        # counted in units (10^decimals per whole number): bounded as option values are
        yield make_issue(
            DefinitionCode.INVALID_VALUE,
            (*at, "max" if abs(number.max) >= abs(number.min) else "min"),
            where=where,
            detail=f"with decimals: {number.decimals} a bound may be at most "
            f"{MAX_VALUE / number.step:g} from 0",
            got=number.max if abs(number.max) >= abs(number.min) else number.min,
        )
        return
    if span is None:
        yield make_issue(
            DefinitionCode.INVALID_VALUE,
            (*at, "max"),
            where=where,
            detail=f"max must be from min to min + {MAX_NUMBER_SPAN}"
            + (f" steps of {number.label(1)}" if number.decimals else ""),
            got=number.max,
        )
        return
    if number.scores:
        ranges = sorted(
            (cast(int, number.units(r.min)), cast(int, number.units(r.max))) for r in number.scores
        )
        # end to end from min to max, each range low to high: compared, never enumerated (a
        # range's bounds may be far apart)
        ends = [span[0] - 1] + [e for pair in ranges for e in pair] + [span[1] + 1]
        if any(b - a != 1 for a, b in zip(ends[::2], ends[1::2], strict=True)) or any(
            low > high for low, high in ranges
        ):
            step = f" in steps of {number.label(1)}" if number.decimals else ""
            yield make_issue(
                DefinitionCode.INVALID_VALUE,
                (*at, "scores"),
                where=where,
                detail=f"the score ranges must cover {number.min}-{number.max}{step} once each",
                got=", ".join(f"{r.min}-{r.max}" for r in number.scores),
            )
        if number.source is None:  # a recoding is a scoring rule: cited
            yield make_issue(DefinitionCode.MISSING_KEY, at, where=f"{where}: number", key="source")


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
        decimal = item.number is not None and item.number.decimals
        if decimal:
            # options are counted in units there (65 for 6.5): a listed number would be misread
            yield make_issue(
                DefinitionCode.INVALID_VALUE,
                (*path, "accept_when_skipped"),
                where=f"item '{item.id}'",
                detail="accept_when_skipped is not for a decimal answer",
                got=item.accept_when_skipped,
            )
        values = set() if decimal else {o.value for o in inst.item_options(item)}
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
    if item.if_skipped is not None and _as_itself(item):
        yield make_issue(
            DefinitionCode.DECIMAL_SCORE,
            (*path, "if_skipped"),
            where=f"item '{item.id}'",
            problem="a decimal answer scored as itself takes no if_skipped",
        )
    elif item.if_skipped is not None:
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
    for name, scale in inst.scales.items():
        path: Path = ("scales", name)
        if not is_identifier(name):
            yield make_issue(DefinitionCode.INVALID_NAME, path, kind="scale", name=name)
        if scale.scales is None and not scale.items:
            yield make_issue(
                DefinitionCode.SCALE_PARTS, path, scale=name, problem="lists no items and no scales"
            )
        elif scale.scales is not None:
            yield from _check_over_scales(inst, name, scale, path)
            yield from _check_requires(inst, name, scale, path)
            yield from _check_band_tables(inst, name, scale)
        else:
            yield from _check_item_scale(inst, name, scale, path)


def _as_itself(item: Item | None) -> bool:
    """A decimal answer scored as itself (no ranges): its scores are counted in units."""
    return (
        item is not None
        and item.number is not None
        and bool(item.number.decimals)
        and (not item.number.scores)
    )


def _check_decimal_scale(inst: Instrument, name: str, scale: Scale, path: Path) -> Iterator[Issue]:
    """A scale of decimal answers scored as themselves (ORS-style visual-analogue marks): only
    such answers, to the same places, summed or averaged and given to stated decimals."""
    items = [i for i in map(inst.item_by_id, scale.items) if i is not None]
    decimal = [i for i in items if _as_itself(i)]
    if not decimal:
        return
    problems = []
    if len(decimal) != len(items) or len({cast(Any, i.number).decimals for i in decimal}) > 1:
        problems.append(
            "holds decimal answers scored as themselves beside other items: every item must "
            "be one, to the same decimal places"
        )
    if scale.decimals is None:
        problems.append(
            "holds decimal answers scored as themselves: state `decimals`, the places its "
            "score is given to"
        )
    if scale.count is not None or scale.lookups or scale.missing.fill is not None:
        problems.append(
            "holds decimal answers scored as themselves: it cannot count them, convert them "
            "by a table or fill a missing one"
        )
    if scale.missing.prorate and scale.missing.rounding == "half_up" and scale.method == "sum":
        # half up would round the prorated tenths, then `decimals` again: rounded twice
        problems.append(
            "prorates decimal answers: set `rounding: none`, and its `decimals` rounds the "
            "prorated score once"
        )
    for problem in problems:
        yield make_issue(
            DefinitionCode.DECIMAL_SCORE, path, where=f"scale '{name}'", problem=problem
        )


def _check_item_scale(inst: Instrument, name: str, scale: Scale, path: Path) -> Iterator[Issue]:
    """A scale over items: its items, its missing-data rule and steps, its bands."""
    known = {i.id for i in inst.items}
    if scale.method == "max":
        yield make_issue(
            DefinitionCode.SCALE_PARTS,
            (*path, "method"),
            scale=name,
            problem="is the highest of scales (max), but lists items: list `scales`",
        )
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
    yield from _check_decimal_scale(inst, name, scale, path)
    rule = scale.missing
    if rule.max_missing >= len(scale.items):
        yield make_issue(
            DefinitionCode.MAX_MISSING_TOO_LARGE,
            (*path, "missing", "max_missing"),
            scale=name,
            max_missing=rule.max_missing,
            count=len(scale.items),
        )
    if rule.fill is not None and (rule.prorate or scale.method == "mean"):
        yield make_issue(
            DefinitionCode.INVALID_VALUE,
            (*path, "missing", "fill"),
            where=f"scales.{name}.missing",
            detail="a missing item either counts the fill or is prorated (or left out of a "
            "mean), not both",
            got=rule.fill,
        )
    fills = rule.fill is not None or scale.method == "mean"
    if rule.max_missing > 0 and not rule.prorate and not fills:
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
    yield from _check_requires(inst, name, scale, path)
    yield from _check_lookup(inst, name, scale, path)
    yield from _check_band_tables(inst, name, scale)


_ITEM_STEPS = (
    ("items", "lists items too"),
    ("count", "counts items"),
    ("missing", "has a missing-data rule (each scale it lists has its own)"),
    ("lookup", "has a conversion table"),
    ("decimals", "rounds to decimals"),
    ("multiplier", "has a multiplier"),
)


def _check_over_scales(inst: Instrument, name: str, scale: Scale, path: Path) -> Iterator[Issue]:
    """A scale over scales: only scales listed before it, each once, scoring whole numbers,
    and none of an item scale's steps."""
    assert scale.scales is not None
    for key, problem in _ITEM_STEPS:
        if key in scale.model_fields_set:
            yield make_issue(DefinitionCode.SCALE_PARTS, (*path, key), scale=name, problem=problem)
    if scale.method == "mean":
        yield make_issue(
            DefinitionCode.SCALE_PARTS,
            (*path, "method"),
            scale=name,
            problem="is a mean: a scale over scales is their sum or their highest (max)",
        )
    names = list(inst.scales)
    for index, part in enumerate(scale.scales):
        at: Path = (*path, "scales", index)
        if part not in inst.scales:
            yield make_issue(
                DefinitionCode.UNKNOWN_SCALE,
                at,
                owner=f"scale '{name}'",
                verb="lists",
                scale=part,
                defined=_defined(inst.scales),
            )
        elif names.index(part) >= names.index(name):
            yield make_issue(
                DefinitionCode.SCALE_PARTS,
                at,
                scale=name,
                problem=f"lists scale '{part}', which is not defined before it",
            )
        elif part in scale.scales[:index]:
            yield make_issue(
                DefinitionCode.SCALE_PARTS, at, scale=name, problem=f"lists '{part}' twice"
            )
        elif not scale_is_integral(inst.scales[part]):
            yield make_issue(
                DefinitionCode.SCALE_PARTS,
                at,
                scale=name,
                problem=f"lists scale '{part}', whose score can be a fraction (sums and "
                "highest scores are of whole numbers)",
            )


def _check_band_tables(inst: Instrument, name: str, scale: Scale) -> Iterator[Issue]:
    """The default bands and every band table, each checked alike."""
    yield from _check_bands(inst, name, scale, scale.bands, ("scales", name, "bands"))
    for table_name, table in scale.band_tables.items():
        at: Path = ("scales", name, "band_tables", table_name)
        if not is_identifier(table_name):
            yield make_issue(DefinitionCode.INVALID_NAME, at, kind="band table", name=table_name)
        yield from _check_bands(inst, name, scale, table.bands, (*at, "bands"))


def _check_bands(
    inst: Instrument, name: str, scale: Scale, bands: list[Any], path: Path
) -> Iterator[Issue]:
    if not bands:
        return
    places = scale_precision(scale)
    if places is None:
        yield make_issue(DefinitionCode.BANDS_ON_FRACTIONAL_SCALE, path, scale=name)
        return
    finer = list(_finer_edges(name, bands, path, places))
    if finer:
        yield from finer
        return
    step = Fraction(1, 10**places)
    for label in _duplicates([b.label for b in bands]):
        yield make_issue(DefinitionCode.DUPLICATE_BAND, path, scale=name, band=label)
    for index, band in enumerate(bands):
        if band.min > band.max:
            yield make_issue(
                DefinitionCode.BAND_ORDER,
                (*path, index, "min"),
                scale=name,
                band=band.label,
                min=number(band.min),
                max=number(band.max),
            )
        if index > 0:
            previous = bands[index - 1]
            expected = exact_factor(previous.max) + step
            if exact_factor(band.min) != expected:
                yield make_issue(
                    DefinitionCode.BANDS_NOT_CONTIGUOUS,
                    (*path, index, "min"),
                    scale=name,
                    band=band.label,
                    start=number(band.min),
                    relation="overlaps" if band.min <= previous.max else "leaves a gap after",
                    previous=previous.label,
                    previous_end=number(previous.max),
                    expected=at_places(expected, places),
                )
    bounds = scale_range(inst, scale)
    if bounds is None:
        return
    lo, hi = bounds
    first, last = bands[0], bands[-1]
    if first.min != lo:
        yield make_issue(
            DefinitionCode.BANDS_RANGE,
            (*path, 0, "min"),
            scale=name,
            side="start",
            given=number(first.min),
            extreme="lowest",
            reachable=at_places(exact_factor(lo), places),
        )
    if last.max != hi:
        yield make_issue(
            DefinitionCode.BANDS_RANGE,
            (*path, len(bands) - 1, "max"),
            scale=name,
            side="end",
            given=number(last.max),
            extreme="highest",
            reachable=at_places(exact_factor(hi), places),
        )


def _finer_edges(name: str, bands: list[Any], path: Path, places: int) -> Iterator[Issue]:
    """Band edges finer than the scale's precision."""
    step = Fraction(1, 10**places)
    precision = f"{places} decimal place{'s' if places > 1 else ''}" if places else "whole numbers"
    for index, band in enumerate(bands):
        for side in ("min", "max"):
            if exact_factor(getattr(band, side)) % step:
                yield make_issue(
                    DefinitionCode.BAND_PRECISION,
                    (*path, index, side),
                    scale=name,
                    band=band.label,
                    side=side,
                    given=number(getattr(band, side)),
                    precision=precision,
                )


def _check_requires(inst: Instrument, name: str, scale: Scale, path: Path) -> Iterator[Issue]:
    """A scale requires a scale listed before it, and is itself a secondary one."""
    if scale.requires is None:
        return
    at: Path = (*path, "requires")
    names = list(inst.scales)
    if scale.requires not in inst.scales:
        yield make_issue(
            DefinitionCode.UNKNOWN_SCALE,
            at,
            owner=f"scale '{name}'",
            verb="requires",
            scale=scale.requires,
            defined=", ".join(names),
        )
    elif names.index(scale.requires) >= names.index(name):
        yield make_issue(
            DefinitionCode.INVALID_VALUE,
            at,
            where=f"scales.{name}",
            detail="requires names a scale listed before it",
            got=scale.requires,
        )
    if scale.role != "secondary":
        yield make_issue(
            DefinitionCode.INVALID_VALUE,
            at,
            where=f"scales.{name}",
            detail="only a secondary scale requires another (a primary one decides the "
            "result's validity itself)",
            got=scale.requires,
        )


def _check_lookup(inst: Instrument, name: str, scale: Scale, path: Path) -> Iterator[Issue]:
    """Conversion tables read whole numbers and list exactly the scores the scale reaches; of
    several, each but the last says where it applies."""
    if scale.lookup is None:
        return
    before = scale.model_copy(update={"lookup": None, "decimals": None, "bands": []})
    if not scale_is_integral(before):
        yield make_issue(DefinitionCode.LOOKUP_ON_FRACTIONAL_SCALE, (*path, "lookup"), scale=name)
        return
    found = scale.lookup_paths()
    for (at, table), following in pairwise(found):
        if table.when is None:
            yield make_issue(
                DefinitionCode.LOOKUP_WHEN,
                (*path, *following[0]),
                scale=name,
                table=following[0][-1],
                problem=f"never applies: table {at[-1]}, before it, has no `when` and applies "
                "everywhere",
            )
    steps = steps_of(inst, scale)
    reach = None if steps is None else steps.before_lookup()
    if reach is None:
        return
    for at, table in found:
        yield from _lookup_rows(name, (*path, *at), table, reach)


def _lookup_rows(
    name: str, at: Path, lookup: Lookup, reach: tuple[float, float]
) -> Iterator[Issue]:
    lo, hi = int(reach[0]), int(reach[1])
    rows = [row.score for row in lookup.table]
    listed = set(rows)
    absent = [s for s in range(lo, hi + 1) if s not in listed]
    beyond = sorted(s for s in listed if not lo <= s <= hi)
    twice = sorted(s for s, n in Counter(rows).items() if n > 1)
    problems = ["it lists " + _some(twice) + " more than once"] if twice else []
    if absent:
        problems.append("it lacks " + _some(absent))
    if beyond:
        problems.append("the scale never reaches " + _some(beyond))
    if problems:
        yield make_issue(
            DefinitionCode.LOOKUP_RANGE,
            (*at, "table"),
            scale=name,
            lowest=lo,
            highest=hi,
            problem=" and ".join(problems),
        )


def _some(values: list[int]) -> str:
    shown = ", ".join(map(str, values[:8]))
    return shown + (f" and {len(values) - 8} more" if len(values) > 8 else "")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_context(inst: Instrument) -> Iterator[Issue]:
    """Each context variable's values, bounds and default agree with its type; a default
    cites its source."""
    for name, var in inst.context.items():
        path: Path = ("context", name)
        where = f"context.{name}"
        number = var.kind == "number"

        def bad(key: PathPart, detail: str, got: Any, at: Path = path, where: str = where) -> Issue:
            return make_issue(
                DefinitionCode.INVALID_VALUE, (*at, key), where=where, detail=detail, got=got
            )

        if not number and var.values is None:
            yield make_issue(DefinitionCode.MISSING_KEY, path, where=where, key="values")
        for index, value in enumerate(var.values or []):
            if number != _is_number(value):
                kind = "numbers" if number else "text"
                yield bad(
                    index, f"a {var.kind} variable takes {kind}", repr(value), (*path, "values")
                )
            elif number and not _within(var, value):
                yield bad(
                    index,
                    f"a value outside min {var.min} and max {var.max}",
                    value,
                    (*path, "values"),
                )
        if not number:
            for key in ("min", "max"):
                if getattr(var, key) is not None:
                    yield bad(
                        key, "min and max bound a number variable (type: number)", getattr(var, key)
                    )
        elif var.min is not None and var.max is not None and var.min > var.max:
            yield bad("min", f"min is above max {var.max}", var.min)
        if var.default is not None:
            if (
                number != _is_number(var.default)
                or (var.values is not None and var.default not in var.values)
                or (number and not _within(var, var.default))
            ):
                allowed = ", ".join(str(v) for v in var.values or []) or f"a {var.kind}"
                yield bad(
                    "default",
                    f"the default must be a value it takes ({allowed})",
                    repr(var.default),
                )
            if var.source is None:
                yield make_issue(
                    DefinitionCode.UNCITED_DEFAULT,
                    (*path, "default"),
                    variable=name,
                    default=var.default,
                )


def _check_codings(inst: Instrument) -> Iterator[Issue]:
    """Exactly one default, recording the option values; each recoding one number per option,
    none twice; no context variable named `coding` (the name chooses the coding)."""
    if not inst.codings:
        return
    defaults = [name for name, c in inst.codings.items() if c.default]
    if len(defaults) != 1:
        where = ("codings", defaults[1]) if len(defaults) > 1 else ("codings",)
        problem = "exactly one coding is the default (default: true)"
        yield make_issue(
            DefinitionCode.CODING_DEFAULT, where, problem=f"{problem}; found {len(defaults)}"
        )
    if "coding" in inst.context:
        yield make_issue(
            DefinitionCode.INVALID_VALUE,
            ("context", "coding"),
            where="context",
            detail="a definition with codings chooses the coding by the name 'coding'; name "
            "the variable otherwise",
            got="coding",
        )
    for name, coding in inst.codings.items():
        path: Path = ("codings", name)
        if not is_identifier(name):
            yield make_issue(DefinitionCode.INVALID_NAME, path, kind="coding", name=name)
        if coding.default and (coding.records != "value" or coding.values or coding.non_answers):
            yield make_issue(
                DefinitionCode.CODING_DEFAULT,
                (*path, "default"),
                problem=f"the default coding '{name}' must record the option values as listed "
                "(records: value, no values, no non_answers), the values every other path reads",
            )
        yield from _check_coded_non_answers(inst, name, coding, path)
        if coding.records == "score" and coding.values:
            yield make_issue(
                DefinitionCode.CODING_VALUES,
                (*path, "values"),
                coding=name,
                problem="values recode option values; a coding that records scores has none",
            )
        yield from _check_coding_values(inst, name, coding, path)


def _check_coding_values(
    inst: Instrument, name: str, coding: Coding, path: Path
) -> Iterator[Issue]:
    """A coding's values: per item with options or option set, one number per option."""
    for key, listed in coding.values.items():
        at: Path = (*path, "values", key)
        item = inst.item_by_id(key)
        options = inst.item_options(item) if item is not None else inst.option_sets.get(key)
        if options is None:
            known = _defined(inst.option_sets)
            problem = f"'{key}' is no item and no option set (option sets: {known})"
        elif item is not None and item.number is not None:
            problem = f"'{key}' is answered with a number, which a coding does not recode"
        elif len(listed) != len(options):
            problem = f"'{key}' has {len(options)} options; {len(listed)} numbers are listed"
        elif len(set(listed)) != len(listed):
            problem = f"'{key}' lists a number twice"
        else:
            continue
        yield make_issue(DefinitionCode.CODING_VALUES, at, coding=name, problem=problem)


def _check_coded_non_answers(
    inst: Instrument, name: str, coding: Coding, path: Path
) -> Iterator[Issue]:
    """A coding's numbers for non-answers: each once, and none an item records for an answer."""
    seen: set[int] = set()
    for index, entry in enumerate(coding.non_answers):
        at: Path = (*path, "non_answers", index, "value")
        clash = next(
            (
                item.id
                for item in inst.items
                if item.number is None
                and (
                    entry.value in inst.coded_scores(item, name)
                    or entry.value in inst.own_non_answers(item, coding)
                )
            ),
            None,
        )
        if entry.value in seen:
            problem = f"non-answer {entry.value} is listed twice"
        elif clash is not None:
            problem = f"{entry.value} records an answer to item '{clash}' in this coding"
        else:
            seen.add(entry.value)
            continue
        yield make_issue(DefinitionCode.CODING_VALUES, at, coding=name, problem=problem)


def _within(var: Any, value: Any) -> bool:
    return (var.min is None or value >= var.min) and (var.max is None or value <= var.max)


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
    roots += [
        (("scales", name, "band_tables", table_name, "when"), table.when)
        for name, scale in inst.scales.items()
        for table_name, table in scale.band_tables.items()
        if table.when is not None
    ]
    roots += [
        (("scales", name, *at, "when"), table.when)
        for name, scale in inst.scales.items()
        for at, table in scale.lookup_paths()
        if table.when is not None
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
            if path[0] == "scales" and path[2] == "lookup" and ref.kind != "context":
                yield make_issue(
                    DefinitionCode.LOOKUP_WHEN,
                    (*path, ref.key),
                    scale=path[1],
                    table=path[3] if isinstance(path[3], int) else 0,
                    problem=f"is chosen by context only; its condition reads {ref.kind} "
                    f"'{ref.name}'",
                )
                continue
            if path[0] == "scales" and ref.kind != "context":  # a band table's `when`
                yield make_issue(
                    DefinitionCode.BAND_TABLE_WHEN,
                    (*path, ref.key),
                    scale=path[1],
                    table=path[3],
                    kind=ref.kind,
                    name=ref.name,
                )
                continue
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
        if _as_itself(inst.item_by_id(ref.name)):
            # its scores are counted in units (65 for 6.5): a comparison would be misread
            yield make_issue(
                DefinitionCode.DECIMAL_SCORE,
                at,
                where="condition",
                problem=f"reads '{ref.name}', a decimal answer scored as itself; recode it "
                "with `scores` ranges to compare it",
            )
            return
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
        yield from _check_context_ref(path, at, ref, var)


_ORDERED = frozenset(("gt", "gte", "lt", "lte"))


def _check_context_ref(path: Path, at: Path, ref: Ref, var: Any) -> Iterator[Issue]:
    """A context variable is compared as its type allows, with values it takes."""
    number = var.kind == "number"
    kind = "a number variable" if number else "a text variable"

    def wrong(problem: str) -> Issue:
        return make_issue(
            DefinitionCode.CONTEXT_COMPARISON, at, variable=ref.name, kind=kind, problem=problem
        )

    if ref.operand:
        if not number:
            yield wrong(f"a cut-point ({ref.op}: {{context: {ref.name}}}) needs a number")
        return
    if ref.op in _ORDERED and not number:
        yield wrong(f"'{ref.op}' compares numbers; compare text with eq, ne or in")
        return
    for value in ref.values:
        if number != _is_number(value):
            yield wrong(f"it is compared with {value!r}")
            return
    for value in ref.values:
        known = var.values is None or value in var.values
        if ref.op in _ORDERED or (known and (not number or _within(var, value))):
            continue
        allowed = (
            ", ".join(str(v) for v in var.values)
            if var.values is not None
            else (f"numbers from {var.min} to {var.max}")
        )
        yield make_issue(
            DefinitionCode.UNKNOWN_CONTEXT_VALUE,
            path,
            variable=ref.name,
            allowed=allowed,
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


def _check_case_bands(
    path: Path, case: str, name: str, scale: Scale, expected: Any
) -> Iterator[Issue]:
    """A case expects bands the scale has: its band from any table the band can come from,
    each named table's label from that table."""
    at: Path = (*path, "expect", "scales", name)
    tables = scale.band_tables
    possible = {b.label for b in scale.bands}
    if not scale.bands:
        possible |= {b.label for t in tables.values() for b in t.bands}
    if expected.band is not None and expected.band not in possible:
        yield make_issue(
            DefinitionCode.UNKNOWN_BAND, (*at, "band"), case=case, band=expected.band, scale=name
        )
    for table_name, label in expected.bands.items():
        table = tables.get(table_name)
        if table is None:
            yield make_issue(
                DefinitionCode.UNKNOWN_BAND_TABLE,
                (*at, "bands", table_name),
                case=case,
                table=table_name,
                scale=name,
                defined=_defined(tables),
            )
        elif label is not None and label not in {b.label for b in table.bands}:
            yield make_issue(
                DefinitionCode.UNKNOWN_BAND,
                (*at, "bands", table_name),
                case=case,
                band=label,
                scale=name,
                table=table_name,
            )


def _check_cases(inst: Instrument) -> Iterator[Issue]:
    flag_ids = {f.id for f in inst.flags}
    for index, case in enumerate(inst.cases):
        path: Path = ("cases", index)
        if case.coding is not None and case.coding not in inst.codings:
            yield make_issue(
                DefinitionCode.UNKNOWN_CODING,
                (*path, "coding"),
                case=case.name,
                coding=case.coding,
                defined=_defined(inst.codings),
            )
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
            else:
                yield from _check_case_bands(path, case.name, name, scale, expected)
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
