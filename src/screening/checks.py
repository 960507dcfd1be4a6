"""Semantic checks of a whole definition.

Each check yields bare `Issue`s with a path into the definition; the loader adds file, line and
column. All checks run, so a definition's problems are reported at once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from .definition import (
    Instrument,
    Item,
    Scale,
    is_identifier,
    source_keys,
)
from .errors import Issue, PathPart
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


def _duplicates(values: list[str]) -> set[str]:
    return {v for v, n in Counter(values).items() if n > 1}


def _check_sources(inst: Instrument) -> Iterator[Issue]:
    used: set[str] = set()

    def refs(path: Path, sources: Any) -> Iterator[Issue]:
        for key in source_keys(sources):
            used.add(key)
            if key not in inst.sources:
                yield Issue(
                    "unknown_source",
                    f"source '{key}' is not listed under sources "
                    f"(known: {', '.join(sorted(inst.sources))})",
                    path,
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
            yield Issue(
                "unused_source", f"source '{key}' is cited by no rule", ("sources", key), "warning"
            )


def _check_options(inst: Instrument) -> Iterator[Issue]:
    used = {i.options for i in inst.items if isinstance(i.options, str)}
    for name, options in inst.option_sets.items():
        yield from _check_option_list(("option_sets", name), options)
        if name not in used:
            yield Issue(
                "unused_option_set",
                f"option set '{name}' is used by no item",
                ("option_sets", name),
                "warning",
            )


def _check_option_list(path: Path, options: list[Any]) -> Iterator[Issue]:
    if len(options) < 2:
        yield Issue("too_few_options", "needs at least two options", path)
    for value, (index, _) in _repeats([str(o.value) for o in options]).items():
        yield Issue("duplicate_option", f"option value {value} is listed twice", (*path, index))
    for label, (index, _) in _repeats([o.label for o in options]).items():
        yield Issue("duplicate_option", f"option label '{label}' is listed twice", (*path, index))


def _check_items(inst: Instrument) -> Iterator[Issue]:
    ids = [i.id for i in inst.items]
    for dup, (_, index) in _repeats(ids).items():
        yield Issue("duplicate_id", f"item id '{dup}' is used twice", ("items", index, "id"))
    for index, item in enumerate(inst.items):
        path: Path = ("items", index)
        if isinstance(item.options, str):
            if item.options not in inst.option_sets:
                yield Issue(
                    "unknown_option_set",
                    f"item '{item.id}' uses option set '{item.options}', which is not defined "
                    f"(defined: {', '.join(sorted(inst.option_sets)) or 'none'})",
                    (*path, "options"),
                )
        else:
            yield from _check_option_list((*path, "options"), item.options)
        yield from _check_skip_rules(inst, path, item)
        if item.text is not None and not inst.license.redistribute_text:
            yield Issue(
                "text_not_redistributable",
                f"item '{item.id}' carries wording, but the licence does not permit "
                "redistributing it (license.redistribute_text is false); use a short label and "
                "supply wording in an overlay file",
                (*path, "text"),
            )


def _check_skip_rules(inst: Instrument, path: Path, item: Item) -> Iterator[Issue]:
    """What an item says about being skipped needs an ask_if, and values it can take."""
    if item.answered_when_skipped != "error" and item.ask_if is None:
        yield Issue(
            "skip_rule_without_ask_if",
            f"item '{item.id}' says how to treat an answer when skipped but has no ask_if",
            (*path, "answered_when_skipped"),
        )
    if item.accept_when_skipped:
        if item.ask_if is None or item.answered_when_skipped == "score":
            why = "has no ask_if" if item.ask_if is None else "scores every answer anyway"
            yield Issue(
                "skip_rule_without_ask_if",
                f"item '{item.id}' lists answers accepted when skipped but {why}",
                (*path, "accept_when_skipped"),
            )
        values = {o.value for o in inst.item_options(item)}
        for position, value in enumerate(item.accept_when_skipped):
            if values and value not in values:
                yield Issue(
                    "invalid_value",
                    f"item '{item.id}': accept_when_skipped must list option values "
                    f"{', '.join(map(str, sorted(values)))} (got {value})",
                    (*path, "accept_when_skipped", position),
                )
    if item.if_skipped is not None:
        if item.ask_if is None:
            yield Issue(
                "if_skipped_without_ask_if",
                f"item '{item.id}' gives a score for when it is skipped but has no ask_if",
                (*path, "if_skipped"),
            )
        possible = item_score_values(inst, item.id)
        if possible and item.if_skipped not in possible:
            yield Issue(
                "invalid_value",
                f"item '{item.id}': if_skipped must be one of its scores "
                f"{', '.join(map(str, possible))} (got {item.if_skipped})",
                (*path, "if_skipped"),
            )


def _check_scales(inst: Instrument) -> Iterator[Issue]:
    if not inst.scales and not inst.classifications:
        yield Issue(
            "nothing_scored", "a definition needs at least one scale or classification", ("scales",)
        )
    known = {i.id for i in inst.items}
    for name, scale in inst.scales.items():
        path: Path = ("scales", name)
        if not is_identifier(name):
            yield Issue(
                "invalid_name",
                f"scale name '{name}' must be lower-case letters, digits and _",
                path,
            )
        for index, item_id in enumerate(scale.items):
            if item_id not in known:
                yield Issue(
                    "unknown_item",
                    f"scale '{name}' lists item '{item_id}', which is not defined",
                    (*path, "items", index),
                )
        for dup, (first, _) in _repeats(scale.items).items():
            yield Issue(
                "duplicate_item",
                f"scale '{name}' lists item '{dup}' twice",
                (*path, "items", first),
            )
        rule = scale.missing
        if rule.max_missing >= len(scale.items):
            yield Issue(
                "max_missing_too_large",
                f"scale '{name}' allows {rule.max_missing} missing item(s) of "
                f"{len(scale.items)}; it must be fewer than the item count",
                (*path, "missing", "max_missing"),
            )
        if rule.max_missing > 0 and not rule.prorate:
            yield Issue(
                "missing_without_proration",
                f"scale '{name}' allows missing items without prorating, which scores a "
                "missing item as 0; set prorate: true as the source prescribes",
                (*path, "missing", "prorate"),
            )
        if rule.max_missing > 0 and rule.source is None:
            yield Issue(
                "uncited_rule",
                f"scale '{name}': the missing-data rule must cite its source",
                (*path, "missing"),
            )
        if scale.multiplier <= 0:
            yield Issue(
                "invalid_multiplier",
                f"scale '{name}': multiplier must be positive",
                (*path, "multiplier"),
            )
        yield from _check_bands(inst, name, scale)


def _check_bands(inst: Instrument, name: str, scale: Scale) -> Iterator[Issue]:
    if not scale.bands:
        return
    path: Path = ("scales", name, "bands")
    if not scale_is_integral(scale):
        yield Issue(
            "bands_on_fractional_scale",
            f"scale '{name}' can score fractions (unrounded proration or a fractional "
            "multiplier); bands need whole-number scores",
            path,
        )
        return
    for label in _duplicates([b.label for b in scale.bands]):
        yield Issue("duplicate_band", f"scale '{name}': band '{label}' is listed twice", path)
    for index, band in enumerate(scale.bands):
        if band.min > band.max:
            yield Issue(
                "band_order",
                f"scale '{name}': band '{band.label}' has min {band.min} above max {band.max}",
                (*path, index, "min"),
            )
        if index > 0:
            previous = scale.bands[index - 1]
            if band.min != previous.max + 1:
                kind = "overlaps" if band.min <= previous.max else "leaves a gap after"
                yield Issue(
                    "bands_not_contiguous",
                    f"scale '{name}': band '{band.label}' starts at {band.min}, which {kind} "
                    f"band '{previous.label}' (ends at {previous.max}); it must start at "
                    f"{previous.max + 1}",
                    (*path, index, "min"),
                )
    bounds = scale_range(inst, scale)
    if bounds is None:
        return
    lo, hi = bounds
    first, last = scale.bands[0], scale.bands[-1]
    if first.min != lo:
        yield Issue(
            "bands_range",
            f"scale '{name}': bands start at {first.min} but the lowest possible score is "
            f"{number(lo)}",
            (*path, 0, "min"),
        )
    if last.max != hi:
        yield Issue(
            "bands_range",
            f"scale '{name}': bands end at {last.max} but the highest possible score is "
            f"{number(hi)}",
            (*path, len(scale.bands) - 1, "max"),
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
        yield Issue(
            "duplicate_id",
            f"flag id '{dup}' is used twice",
            ("flags", last, "id"),
        )
    for name in inst.classifications:
        if not is_identifier(name):
            yield Issue(
                "invalid_name",
                f"classification name '{name}' must be lower-case letters, digits and _",
                ("classifications", name),
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
            yield Issue(
                "unknown_item", f"condition names item '{ref.name}', which is not defined", at
            )
            return
        if isinstance(asker, int) and order[ref.name] >= asker:
            yield Issue(
                "ask_if_order",
                f"skip logic may only look at earlier items; '{ref.name}' does not come "
                f"before '{inst.items[asker].id}'",
                at,
            )
        possible = item_score_values(inst, ref.name)
        if ref.test is not None and possible and not any(ref.test(v) for v in possible):
            yield Issue(
                "condition_never_holds",
                f"item '{ref.name}' scores {', '.join(map(str, possible))}; "
                f"'{ref.shown}' never holds",
                at,
            )
    elif ref.kind == "scale":
        if ref.name not in inst.scales:
            yield Issue(
                "unknown_scale",
                f"condition names scale '{ref.name}', which is not defined "
                f"(defined: {', '.join(inst.scales)})",
                at,
            )
        elif asker is not None:
            yield Issue("ask_if_scale", "skip logic may not depend on a scale", at)
    else:
        var = inst.context.get(ref.name)
        if var is None:
            yield Issue(
                "unknown_context",
                f"condition names context variable '{ref.name}', which is not declared "
                "under context",
                at,
            )
            return
        for value in ref.values:
            if value not in var.values:
                yield Issue(
                    "unknown_context_value",
                    f"context '{ref.name}' takes {', '.join(var.values)} (got '{value}')",
                    path,
                )


def _check_change(inst: Instrument) -> Iterator[Issue]:
    for name in inst.change:
        if name not in inst.scales:
            yield Issue(
                "unknown_scale",
                f"change parameters for scale '{name}', which is not defined "
                f"(defined: {', '.join(inst.scales)})",
                ("change", name),
            )


def _check_cases(inst: Instrument) -> Iterator[Issue]:
    flag_ids = {f.id for f in inst.flags}
    for index, case in enumerate(inst.cases):
        path: Path = ("cases", index)
        if isinstance(case.responses, list) and len(case.responses) != len(inst.items):
            yield Issue(
                "case_responses",
                f"case '{case.name}': a list of responses needs one entry per item "
                f"({len(inst.items)}, got {len(case.responses)})",
                (*path, "responses"),
            )
        for name, expected in case.expect.scales.items():
            scale = inst.scales.get(name)
            if scale is None:
                yield Issue(
                    "unknown_scale",
                    f"case '{case.name}' expects unknown scale '{name}'",
                    (*path, "expect", "scales", name),
                )
            elif expected.band is not None and expected.band not in {b.label for b in scale.bands}:
                yield Issue(
                    "unknown_band",
                    f"case '{case.name}' expects band '{expected.band}', which scale '{name}' "
                    "does not have",
                    (*path, "expect", "scales", name, "band"),
                )
        for flag in case.expect.flags:
            if flag not in flag_ids:
                yield Issue(
                    "unknown_flag",
                    f"case '{case.name}' expects unknown flag '{flag}'",
                    (*path, "expect", "flags"),
                )
        for name, label in case.expect.classifications.items():
            cls = inst.classifications.get(name)
            if cls is None:
                yield Issue(
                    "unknown_classification",
                    f"case '{case.name}' expects unknown classification '{name}'",
                    (*path, "expect", "classifications", name),
                )
            elif label is not None and label not in {r.label for r in cls.rules} | {cls.otherwise}:
                yield Issue(
                    "unknown_label",
                    f"case '{case.name}' expects '{label}', which classification '{name}' "
                    "never gives",
                    (*path, "expect", "classifications", name),
                )
