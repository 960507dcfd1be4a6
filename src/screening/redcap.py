"""A definition → a REDCap data dictionary (the 18-column CSV REDCap imports).

One radio field per item (REDCap codes = the option values, so exported data scores as is),
branching logic from skip logic where REDCap can say it, and one calc field per scale summing
the items. REDCap's `sum()` skips blank fields and knows nothing of the instrument's missing-data
rule: the calc field is a convenience, and its field note says so.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from .definition import Instrument, Item, Scale
from .loading import load_instrument
from .rules import AnswerSets, answers_of, describe, number_tests
from .steps import REDCAP_OPERATORS, Combine, steps_of

__all__ = [
    "REDCAP_COLUMNS",
    "Row",
    "redcap_rows",
    "to_redcap_csv",
]

REDCAP_COLUMNS: tuple[str, ...] = (
    "Variable / Field Name",
    "Form Name",
    "Section Header",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
    "Field Note",
    "Text Validation Type OR Show Slider Number",
    "Text Validation Min",
    "Text Validation Max",
    "Identifier?",
    "Branching Logic (Show field only if...)",
    "Required Field?",
    "Custom Alignment",
    "Question Number (surveys only)",
    "Matrix Group Name",
    "Matrix Ranking?",
    "Field Annotation",
)
"""The columns of a REDCap data dictionary, in REDCap's order."""

Row = dict[str, str]


def _row(**fields: str) -> Row:
    names = {
        "name": "Variable / Field Name",
        "form": "Form Name",
        "section": "Section Header",
        "type": "Field Type",
        "label": "Field Label",
        "choices": "Choices, Calculations, OR Slider Labels",
        "note": "Field Note",
        "branching": "Branching Logic (Show field only if...)",
        "annotation": "Field Annotation",
        "validation": "Text Validation Type OR Show Slider Number",
        "min": "Text Validation Min",
        "max": "Text Validation Max",
    }
    row = dict.fromkeys(REDCAP_COLUMNS, "")
    for key, value in fields.items():
        row[names[key]] = value
    return row


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _choices(inst: Instrument, item: Item) -> str:
    parts = []
    for option in inst.item_options(item):
        label = _one_line(option.label)
        if "|" in label:
            raise ValueError(
                f"{inst.id}: option {option.value} of item '{item.id}' has a '|' in its label "
                f"({label!r}), which REDCap reads as a choice separator"
            )
        parts.append(f"{option.value}, {label}")
    return " | ".join(parts)


def _branching(inst: Instrument, cond: Any) -> str | None:
    """REDCap branching logic for a skip condition, or None where it cannot be said: the
    answers it accepts (`[item] = 'v'`, REDCap stores option values) joined by and/or at any
    depth."""
    numbers = number_tests(inst, cond)
    if numbers is not None:  # a numeric answer compared: REDCap's own comparisons
        parts = [
            f"[{item_id}] {REDCAP_OPERATORS[op]} {operand}"
            for item_id, op, operand in numbers.tests
        ]
        joiner = " or " if numbers.join == "any" else " and "
        return parts[0] if len(parts) == 1 else "(" + joiner.join(parts) + ")"
    answers = answers_of(inst, cond)
    return None if answers is None else _logic(answers)


def _logic(answers: AnswerSets) -> str:
    if answers.join == "item":
        if answers.every:
            return f"[{answers.item}] <> ''"
        parts = [f"[{answers.item}] = '{v}'" for v in answers.values]
        return parts[0] if len(parts) == 1 else "(" + " or ".join(parts) + ")"
    shown = [_logic(p) for p in answers.parts]
    joiner = " or " if answers.join == "any" else " and "
    return shown[0] if len(shown) == 1 else "(" + joiner.join(shown) + ")"


def _item_row(inst: Instrument, item: Item, first: bool) -> Row:
    text = item.text if inst.license.redistribute_text and item.text else item.label
    fields: dict[str, str] = {"name": item.id, "form": inst.id, "label": _one_line(text)}
    if item.number is None:
        fields.update({"type": "radio", "choices": _choices(inst, item)})
    else:  # a number within bounds: whole, or written to its places (number_1dp: "7.0")
        places = item.number.decimals
        fields.update(
            {
                "type": "text",
                "validation": f"number_{places}dp" if places else "integer",
                "min": str(item.number.min),
                "max": str(item.number.max),
            }
        )
    if first:
        fields["section"] = inst.name + (f": {inst.timeframe}" if inst.timeframe else "")
    if item.ask_if is not None:
        logic = _branching(inst, item.ask_if)
        if logic is None:
            fields["annotation"] = (
                f"Ask only when {describe(item.ask_if)}. REDCap branching logic cannot express "
                "this condition, so the field is always shown."
            )
        else:
            fields["branching"] = logic
    return _row(**fields)


def _calc_row(inst: Instrument, name: str, scale: Scale) -> Row:
    steps = steps_of(inst, scale)
    assert steps is not None  # every item resolves: checked on load
    if steps.combine is not None:  # the fields of the scales it lists
        return _combined_row(inst, name, scale, steps.combine)
    by_id = {item.id: item for item in inst.items}
    shown = [
        _branching(inst, ask_if) if (ask_if := by_id[i].ask_if) is not None else None
        for i in scale.items
    ]
    calc = steps.redcap(shown)
    stopped = ""
    if calc is None:  # a conversion table: REDCap computes the score the table reads
        assert steps.lookup is not None or steps.lookups
        calc = steps._replace(lookup=None, lookups=(), decimals=None).redcap(shown)
        assert calc is not None
        stopped = (
            f"; this is the score before the published conversion table: it is not "
            f"{steps.lookup_words()}"
        )
    recoded = any(r is not None for r in steps.sum.recodes)
    skipped = [
        i for i, s in zip(steps.sum.items, steps.sum.if_skipped, strict=True) if s is not None
    ]
    reversed_ = any(flip is not None for flip in steps.sum.reversed_)
    note = (
        "Calculated by REDCap"
        + (
            " (a reverse-scored item as lowest + highest option minus the answer)"
            if reversed_
            else ""
        )
        + ("; an answer with a stated score counts that score" if recoded else "")
        + (f"; {', '.join(skipped)} count their score when skipped" if skipped else "")
        + (
            # REDCap's branching hides a skipped field; screening scores an answer to it
            " (an answer recorded "
            + (f"for {', '.join(answered)} " if answered != skipped else "")
            + "while skipped is not counted here; screening scores it as given)"
            if (answered := [i for i in skipped if by_id[i].answered_when_skipped == "score"])
            else ""
        )
        + stopped
        + (
            ". REDCap's mean() leaves blank fields out: the"
            if steps.mean is not None
            else ". REDCap's sum() ignores blank fields, so a missing item lowers this total: the"
        )
        + " "
        f"instrument's missing-data rule ({steps.missing_brief()}) and its bands"
        + (f" (band tables {', '.join(t.name for t in steps.tables)} too)" if steps.tables else "")
        + " are not applied by REDCap"
        + (
            # round() works on binary floats: (0.1 + 4.1) x 2.5 is 10.4999..., not 10.5
            "; round() works in floating point, so a score exactly at a half may round "
            "differently from screening's exact half-up rounding"
            if steps.decimals is not None and not stopped
            else ""
        )
        + ". Score the exported data with screening for the result of record."
    )
    return _row(
        name=_calc_name(inst, name),
        form=inst.id,
        type="calc",
        label=_calc_label(inst, name, scale),
        choices=calc,
        note=note,
    )


def _combined_row(inst: Instrument, name: str, scale: Scale, combine: Combine) -> Row:
    """A scale over scales: REDCap's sum or max of their fields where each field holds its
    scale's score; where one holds the score before a conversion table, a field REDCap does
    not compute (a calculation there would be a wrong score that looks right)."""
    unlike = [part for part in combine.scales if not _field_is_score(inst, part)]
    if unlike:
        return _row(
            name=_calc_name(inst, name),
            form=inst.id,
            type="text",
            label=_calc_label(inst, name, scale),
            note=f"Not calculated by REDCap: {combine.words()}, and "
            + (
                f"the fields of {', '.join(unlike)} hold the scores before their conversion "
                "tables, not their scores"
                if len(unlike) > 1
                else f"the field of {unlike[0]} holds the score before its conversion table, "
                "not its score"
            )
            + ". Score the exported data with screening.",
        )
    fields = [_calc_name(inst, part) for part in combine.scales]
    return _row(
        name=_calc_name(inst, name),
        form=inst.id,
        type="calc",
        label=_calc_label(inst, name, scale),
        choices=combine.redcap(fields),
        note=f"Calculated by REDCap: {combine.words()}. REDCap computes it even where one of "
        "them is not scored by its missing-data rule (the scorer does not), and does not apply "
        "its bands. Score the exported data with screening for the result of record.",
    )


def _field_is_score(inst: Instrument, name: str) -> bool:
    """Whether a scale's REDCap field holds its score (not the score before a conversion
    table), through the scales a scale over scales lists."""
    steps = steps_of(inst, inst.scales[name])
    assert steps is not None  # checked on load
    if steps.combine is not None:
        return all(_field_is_score(inst, part) for part in steps.combine.scales)
    return steps.lookup is None and not steps.lookups


def _calc_label(inst: Instrument, name: str, scale: Scale) -> str:
    return _one_line(scale.label or f"{inst.abbreviation or inst.name} {name} score")


def _calc_name(inst: Instrument, scale: str) -> str:
    return f"{inst.id}_{scale}"


def redcap_rows(instrument: Instrument | str, *, record_id: str | None = None) -> list[Row]:
    """The rows of a REDCap data dictionary for a definition, each a dict over `REDCAP_COLUMNS`.

    One radio field per item (form name = the instrument id; choices `value, label | ...`; the
    label is the item's wording only where its licence permits redistribution), with branching
    logic from its skip condition where REDCap can express it (`[item] = 'v'` joined by and/or;
    otherwise the field annotation says when to ask it); then one calc field per scale, named
    `<instrument>_<scale>`. REDCap takes the first field of a project as the record id: pass
    `record_id` (e.g. "record_id") to start with that text field, for a new project.
    """
    inst = load_instrument(instrument)
    rows = []
    if record_id is not None:
        rows.append(_row(name=record_id, form=inst.id, type="text", label="Record ID"))
    rows += [_item_row(inst, item, i == 0) for i, item in enumerate(inst.items)]
    rows += [_calc_row(inst, name, scale) for name, scale in inst.scales.items()]
    _check_names(inst, rows)
    return rows


def _check_names(inst: Instrument, rows: list[Row]) -> None:
    seen: set[str] = set()
    for row in rows:
        name = row["Variable / Field Name"]
        if name in seen:
            raise ValueError(f"{inst.id}: REDCap variable name '{name}' would be used twice")
        seen.add(name)


def to_redcap_csv(instrument: Instrument | str, *, record_id: str | None = None) -> str:
    """A definition as a REDCap data dictionary CSV (18 columns, header first); see
    `redcap_rows`."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=REDCAP_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(redcap_rows(instrument, record_id=record_id))
    return out.getvalue()
