"""FHIR R4 out: Observations, a RiskAssessment, a Bundle and a Questionnaire (see
`screening.fhir`)."""

from __future__ import annotations

import copy
import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any, NamedTuple

from .definition import (
    Instrument,
    Item,
    Scale,
)
from .facts import scale_is_integral
from .fhir_common import (
    _NOT_A_DIAGNOSIS,
    _SURVEY,
    CALCULATED_EXPRESSION,
    DATA_ABSENT_REASON,
    DESIGN_NOTE,
    ITEM_WEIGHT,
    LOINC,
    SCALE_LINK_PREFIX,
    UCUM,
    Canon,
    DateTimeLike,
    Json,
    Reference,
    _answer_coding,
    _canon,
    _check_result,
    _datetime,
    _instrument,
    _loinc,
    _reference,
)
from .results import FlagResult, ScaleResult, ScoreResult
from .rules import AnswerSets, answers_of, describe, number_tests
from .steps import steps_of

__all__ = [
    "result_bundle",
    "to_bundle",
    "to_observations",
    "to_questionnaire",
    "to_risk_assessment",
]

# --- Observations, RiskAssessment, Bundle out -------------------------------------------------


def _scale_code(inst: Instrument, name: str, scale: Scale, canon: Canon) -> Json:
    label = scale.label or f"{inst.abbreviation or inst.name} {name} score"
    loinc = _loinc(scale.codes)
    if loinc is not None:
        coding = {"system": LOINC, "code": loinc}
    else:
        coding = {"system": canon.score_system, "code": f"{inst.id}.{name}", "display": label}
    return {"coding": [coding], "text": label}


def _value(score_value: int | float, whole: bool) -> Json:
    """valueInteger for a scale of whole numbers; valueQuantity for one that scores fractions,
    even where this score is whole (a BRS mean of 4.00)."""
    if whole:
        return {"valueInteger": int(score_value)}
    return {
        "valueQuantity": {
            "value": score_value,
            "unit": "{score}",
            "system": UCUM,
            "code": "{score}",
        }
    }


def _absent_reason(scaled: ScaleResult) -> Json:
    # The scorer leaves `raw` unset only when an item's answer was invalid.
    if scaled.raw is None:
        code, display = "error", "Error"
    elif scaled.answered == 0 and scaled.missing == 0:
        code, display = "not-applicable", "Not Applicable"
    else:
        code, display = "unknown", "Unknown"
    return {"coding": [{"system": DATA_ABSENT_REASON, "code": code, "display": display}]}


class _Links(NamedTuple):
    """The elements every resource of one result shares."""

    subject: Json | None
    time: str | None
    source: Json | None
    """The QuestionnaireResponse the result came from."""


def _links(
    subject: Reference | None,
    when: DateTimeLike | None,
    questionnaire_response: Reference | None,
) -> _Links:
    return _Links(
        _reference(subject, "subject") if subject is not None else None,
        _datetime(when, "effective") if when is not None else None,
        _reference(questionnaire_response, "questionnaire_response")
        if questionnaire_response is not None
        else None,
    )


def _head(links: _Links, time_key: str) -> Json:
    head: Json = {}
    if links.subject is not None:
        head["subject"] = links.subject
    if links.time is not None:
        head[time_key] = links.time
    return head


def _method(inst: Instrument, result: ScoreResult) -> Json:
    p = result.provenance
    return {
        "text": f"{inst.name}, scored by screening {p.library_version} from definition "
        f"{p.instrument} {p.definition_version} ({p.definition_hash})"
        + ("" if p.coding is None else f", answers read in its {p.coding} coding")
    }


def _observation(
    inst: Instrument, result: ScoreResult, name: str, links: _Links, canon: Canon
) -> Json:
    scaled = result.scales[name]
    obs: Json = {
        "resourceType": "Observation",
        "status": "final",
        "category": [copy.deepcopy(_SURVEY)],
        "code": _scale_code(inst, name, inst.scales[name], canon),
        **_head(links, "effectiveDateTime"),
    }
    notes: list[str] = []
    if scaled.score is None:
        obs["dataAbsentReason"] = _absent_reason(scaled)
        notes.append(f"Not scored: {scaled.reason}.")
    else:
        obs.update(_value(scaled.score, scale_is_integral(inst.scales[name])))
        if scaled.band is not None:
            obs["interpretation"] = [{"text": scaled.band}]
        tables = inst.scales[name].band_tables
        for table, label in scaled.bands.items():  # the other band tables: notes
            if label is not None:
                shown = tables[table].label if table in tables and tables[table].label else table
                notes.append(f"Band table {table} ({shown}): {label}.")
        if scaled.prorated:
            total = scaled.answered + scaled.missing
            notes.append(
                f"Prorated from {scaled.answered} of {total} items answered "
                f"(unrounded {scaled.unrounded:g}), as the instrument's missing-data rule says."
            )
    if not result.valid and scaled.score is not None:
        notes.append(
            "The response is not valid (" + "; ".join(result.reasons) + "); this score comes "
            "from the items of this scale, which are."
        )
    if notes:
        obs["note"] = [{"text": n} for n in notes]
    obs["method"] = _method(inst, result)
    if links.source is not None:
        obs["derivedFrom"] = [links.source]
    return obs


def to_observations(
    instrument: Instrument | str,
    result: ScoreResult,
    *,
    subject: Reference | None = None,
    effective: DateTimeLike | None = None,
    questionnaire_response: Reference | None = None,
    include_unscored: bool = True,
    canonical_base: str | None = None,
) -> list[Json]:
    """One FHIR R4 Observation per scale of a result (status final, category survey).

    `code` is the scale's LOINC code, else `SCORE_SYSTEM` `<instrument>.<scale>` (under
    `canonical_base` when given, see `CANONICAL_BASE`); the score is
    `valueInteger` for a scale of whole numbers, else `valueQuantity` in `{score}` (a mean, a
    conversion table or decimals, even where one score is whole); the band is the
    interpretation's text (there is no standard code set for bands). A prorated score says so in
    a note. An unscored scale is emitted, not dropped, so the gap is visible: no value, a
    `dataAbsentReason` (error: an invalid answer; not-applicable: every item skipped; unknown:
    too many missing) and a note with the reason; `include_unscored=False` leaves it out.
    `subject` and `questionnaire_response` (derivedFrom) are references ("Patient/1", a
    Reference dict, or the resource itself, which has an id); `effective` a datetime with a time
    zone, a date, or a FHIR dateTime string.
    """
    inst = _instrument(instrument)
    _check_result(inst, result)
    links = _links(subject, effective, questionnaire_response)
    canon = _canon(canonical_base)
    return [
        _observation(inst, result, name, links, canon)
        for name, scaled in result.scales.items()
        if include_unscored or scaled.score is not None
    ]


def _risk_names(inst: Instrument, risk_classifications: Collection[str] | None) -> list[str]:
    names = list(
        [name for name, cls in inst.classifications.items() if cls.risk]
        if risk_classifications is None
        else risk_classifications
    )
    unknown = [n for n in names if n not in inst.classifications]
    if unknown:
        known = ", ".join(inst.classifications) or "none"
        raise ValueError(
            f"{inst.id} has no classification {', '.join(unknown)} (classifications: {known})"
        )
    return names


def _level_prediction(inst: Instrument, name: str, level: str | None) -> Json:
    cls = inst.classifications[name]
    prediction: Json = {"outcome": {"text": inst.construct_}}
    if level is None:
        prediction["rationale"] = (
            f"{cls.label or name}: undetermined, an answer or context it needs is missing "
            "or invalid"
        )
        return prediction
    prediction["qualitativeRisk"] = {"text": level}
    note = next((r.note for r in cls.rules if r.label == level), None)
    prediction["rationale"] = f"{cls.label or name}: {level}" + (f"; {note}" if note else "")
    return prediction


def _unknown(flag: FlagResult) -> str:
    """Why an undetermined flag is undetermined."""
    if not flag.items:
        return "an answer or context it reads is missing or invalid"
    return f"item(s) {', '.join(flag.items)} not answered or invalid"


def to_risk_assessment(
    instrument: Instrument | str,
    result: ScoreResult,
    *,
    subject: Reference | None,
    occurrence: DateTimeLike | None = None,
    questionnaire_response: Reference | None = None,
    risk_classifications: Collection[str] | None = None,
) -> Json | None:
    """A FHIR R4 RiskAssessment of a result's risk flags (raised or undetermined) and
    risk-level classifications, or None when the result has none of them.

    Status final; `basis` → the QuestionnaireResponse when given. A prediction per risk-level
    classification (`qualitativeRisk` text = the level, outcome = the instrument's construct;
    an undetermined level has no qualitativeRisk and says why), per raised flag
    (qualitativeRisk text = its severity) and per undetermined flag (no qualitativeRisk; the
    rationale names the items without a valid answer), so a flag that could not be decided is
    stated, never left out; a note per flag, one with the result's invalidity reasons if any,
    and one that a screening result is not a diagnosis. `risk_classifications` names the
    classifications that are risk levels (default: those the definition marks `risk: true`,
    e.g. the C-SSRS triage). A RiskAssessment needs a subject: ValueError without one when
    there is anything to assess.
    """
    inst = _instrument(instrument)
    _check_result(inst, result)
    levels = [
        (name, result.classifications[name])
        for name in _risk_names(inst, risk_classifications)
        if name in result.classifications
    ]
    if not result.flags and not result.undetermined_flags and not levels:
        return None
    if subject is None:
        raise ValueError("a RiskAssessment needs a subject (e.g. subject='Patient/123')")
    links = _links(subject, occurrence, questionnaire_response)
    predictions = [_level_prediction(inst, n, level) for n, level in levels]
    predictions += [
        {
            "outcome": {"text": flag.id.replace("_", " ")},
            "qualitativeRisk": {"text": flag.severity},
            "rationale": flag.message,
        }
        for flag in result.flags
    ]
    predictions += [
        {
            "outcome": {"text": flag.id.replace("_", " ")},
            "rationale": f"{flag.id}: undetermined, {_unknown(flag)}; {flag.message}",
        }
        for flag in result.undetermined_flags
    ]
    notes = [f"{flag.id} ({flag.severity}): {flag.message}" for flag in result.flags]
    notes += [
        f"{flag.id} ({flag.severity}): undetermined, neither raised nor ruled out: "
        f"{_unknown(flag)}."
        for flag in result.undetermined_flags
    ]
    if not result.valid:
        notes.append("The result is not valid: " + "; ".join(result.reasons))
    notes.append(_NOT_A_DIAGNOSIS)
    code: Json = {"text": f"{inst.abbreviation or inst.name} risk assessment"}
    coded = [inst.classifications[n].codes for n, _ in levels]
    loinc = [c.loinc for c in coded if c is not None and c.loinc is not None]
    if len(loinc) == 1:  # the risk level's own LOINC code, e.g. C-SSRS "Suicide risk level"
        code["coding"] = [{"system": LOINC, "code": loinc[0]}]
    resource: Json = {
        "resourceType": "RiskAssessment",
        "status": "final",
        "method": _method(inst, result),
        "code": code,
        **_head(links, "occurrenceDateTime"),
    }
    if links.source is not None:
        resource["basis"] = [links.source]
    resource["prediction"] = predictions
    resource["note"] = [{"text": n} for n in notes]
    return resource


def to_bundle(resources: Iterable[Mapping[str, Any]]) -> Json:
    """A FHIR R4 Bundle of type collection holding the given resources, in order."""
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": dict(r)} for r in resources],
    }


def result_bundle(
    instrument: Instrument | str,
    result: ScoreResult,
    *,
    subject: Reference | None = None,
    effective: DateTimeLike | None = None,
    questionnaire_response: Reference | None = None,
    include_unscored: bool = True,
    risk_classifications: Collection[str] | None = None,
    canonical_base: str | None = None,
) -> Json:
    """A collection Bundle of a result's Observations (`to_observations`) and, when it has risk
    flags (raised or undetermined) or a risk level, its RiskAssessment (`to_risk_assessment`,
    which then needs `subject`)."""
    resources = to_observations(
        instrument,
        result,
        subject=subject,
        effective=effective,
        questionnaire_response=questionnaire_response,
        include_unscored=include_unscored,
        canonical_base=canonical_base,
    )
    risk = to_risk_assessment(
        instrument,
        result,
        subject=subject,
        occurrence=effective,
        questionnaire_response=questionnaire_response,
        risk_classifications=risk_classifications,
    )
    if risk is not None:
        resources.append(risk)
    return to_bundle(resources)


# --- Questionnaire out ------------------------------------------------------------------------


def _weight_extension(weight: int) -> Json:
    return {"url": ITEM_WEIGHT, "valueDecimal": weight}


def _design_note(text: str) -> Json:
    return {"url": DESIGN_NOTE, "valueMarkdown": text}


def _answer_options(inst: Instrument, item: Item, canon: Canon) -> list[Json]:
    """Each option a valueCoding, its score (reverse scoring applied) in an itemWeight extension
    on the answerOption itself, where SDC, LHC-Forms and fhirpath.js's weight() look for it. A
    non-answer that scores nothing (declined, not applicable) has no weight, so a form's sum
    leaves it out."""
    scores = inst.item_scores(item)
    out = []
    for option in inst.item_options(item):
        answer: Json = {"valueCoding": _answer_coding(inst, item, option, canon)}
        if option.value in scores:
            answer["extension"] = [_weight_extension(scores[option.value])]
        out.append(answer)
    return out


def _enable_when(inst: Instrument, cond: Any, canon: Canon) -> tuple[list[Json], str | None] | None:
    """enableWhen and enableBehavior for a skip condition, or None when enableWhen cannot say
    it: an item comparison (as the equalities its options meet), a disjunction of them (any),
    or a conjunction of single equalities (all)."""
    numbers = number_tests(inst, cond)
    if numbers is not None:  # a numeric answer compared: enableWhen's own operators
        enable = [
            {"question": item_id, "operator": _OPERATORS[op], "answerInteger": operand}
            for item_id, op, operand in numbers.tests
        ]
        return enable, (numbers.join if len(enable) > 1 else None)
    answers = answers_of(inst, cond)
    return None if answers is None else _enable(inst, answers, canon)


_OPERATORS = {"eq": "=", "ne": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
"""The condition language's comparisons as enableWhen operators."""


def _enable(
    inst: Instrument, answers: AnswerSets, canon: Canon
) -> tuple[list[Json], str | None] | None:
    if answers.join == "item":
        equalities = _equalities(inst, answers, canon)
        return equalities, ("any" if len(equalities) > 1 else None)
    parts = [_enable(inst, p, canon) for p in answers.parts]
    other = "all" if answers.join == "any" else "any"
    if any(p is None or p[1] == other for p in parts):
        return None  # one enableBehavior for the whole list: no mixing of and/or
    found = [e for p in parts if p is not None for e in p[0]]
    return found, (answers.join if len(found) > 1 else None)


def _equalities(inst: Instrument, answers: AnswerSets, canon: Canon) -> list[Json]:
    item = inst.item_by_id(answers.item)
    assert item is not None  # answers_of names existing items only
    if answers.every:
        return [{"question": item.id, "operator": "exists", "answerBoolean": True}]
    return [
        {
            "question": item.id,
            "operator": "=",
            "answerCoding": _bare(_answer_coding(inst, item, o, canon)),
        }
        for o in inst.item_options(item)
        if o.value in answers.values
    ]


def _bare(coding: Json) -> Json:
    return {"system": coding["system"], "code": coding["code"]}


def _question(inst: Instrument, item: Item, canon: Canon) -> Json:
    text = item.text if inst.license.redistribute_text and item.text else item.label
    question: Json = {"linkId": item.id}
    loinc = _loinc(item.codes)
    if loinc is not None:
        question["code"] = [{"system": LOINC, "code": loinc}]
    kind = "choice" if item.number is None else "decimal" if item.number.decimals else "integer"
    question.update({"text": text, "type": kind})
    if item.ask_if is not None:
        enable = _enable_when(inst, item.ask_if, canon)
        if enable is None:
            question["extension"] = [
                _design_note(
                    f"Ask only when {describe(item.ask_if)}. enableWhen cannot express this "
                    "condition, so the item is always enabled here."
                )
            ]
        else:
            question["enableWhen"] = enable[0]
            if enable[1] is not None:
                question["enableBehavior"] = enable[1]
    number = item.number
    if number is None:
        question["answerOption"] = _answer_options(inst, item, canon)
        return question
    # a number within bounds: whole, or a decimal to so many places
    value = "valueDecimal" if number.decimals else "valueInteger"
    bounds = [{"url": MIN_VALUE, value: number.min}, {"url": MAX_VALUE, value: number.max}]
    if number.decimals:
        bounds.append({"url": MAX_DECIMAL_PLACES, "valueInteger": number.decimals})
    question["extension"] = [*question.get("extension", []), *bounds]
    return question


RESPONDENTS = {
    "self": "the person assessed (self-report)",
    "clinician": "a clinician (clinician-rated or interview)",
    "parent": "a parent or carer, about the child",
    "teacher": "a teacher, about the child",
    "informant": "an informant who knows the person",
}
"""Who answers, in words (the definition's `respondent`)."""

MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"
MAX_DECIMAL_PLACES = "http://hl7.org/fhir/StructureDefinition/maxDecimalPlaces"


def _score_item(inst: Instrument, name: str, scale: Scale) -> Json:
    label = scale.label or f"{inst.abbreviation or inst.name} {name} score"
    steps = steps_of(inst, scale)
    assert steps is not None  # every item resolves: checked on load
    skips = [
        f"{i} counts {s} when skipped"
        for i, s in zip(steps.sum.items, steps.sum.if_skipped, strict=True)
        if s
    ]
    expression = steps.fhirpath()
    said = steps.words()
    if expression is None:
        what = "Not calculated here: a form cannot compute this score exactly (" + (
            "; ".join(steps.unexpressed()) + ")"
        )
    else:
        what = "The sum of the answered items' weights" + (
            f", then {'; '.join(said)}" if said else ""
        )
    note = (
        what
        + (f" ({'; '.join(skips)}, its score when skipped)" if skips else "")
        + f". The missing-data rule ({steps.missing_brief()}) and the bands are not applied "
        "here: score the response with screening for the result of record."
    )
    item: Json = {"linkId": f"{SCALE_LINK_PREFIX}{name}"}
    loinc = _loinc(scale.codes)
    if loinc is not None:
        item["code"] = [{"system": LOINC, "code": loinc}]
    extensions: list[Json] = []
    # the type of what is shown: the form's own sum where it computes one, else our score
    if expression is not None:
        whole = steps.mean is None and float(scale.multiplier).is_integer()
    else:
        whole = scale_is_integral(scale)
    if expression is not None:
        extensions.append(
            {
                "url": CALCULATED_EXPRESSION,
                "valueExpression": {
                    "description": f"{label}: "
                    + ("mean" if steps.mean is not None else "sum")
                    + " of the item weights",
                    "language": "text/fhirpath",
                    "expression": expression,
                },
            }
        )
    extensions.append(_design_note(note))
    item.update(
        {
            "extension": extensions,
            "text": label,
            "type": "integer" if whole else "decimal",
            "readOnly": True,
        }
    )
    return item


def _fhir_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]", "-", text)[:64]


def to_questionnaire(instrument: Instrument | str, *, canonical_base: str | None = None) -> Json:
    """A FHIR R4 Questionnaire of a definition.

    One choice item per item (linkId = item id, code = its LOINC code where the definition has
    one, text = the wording only where the licence permits redistributing it, else the label),
    each answerOption a valueCoding (the LOINC answer code, else `ANSWER_SYSTEM`
    `<instrument>.<item>.<value>`) with the itemWeight extension on the answerOption = the
    option's score (reverse scoring applied), where fhirpath.js (LHC-Forms) finds it for a
    response that sends the code alone. Skip logic becomes enableWhen where it is an item
    comparison, a disjunction of them (enableBehavior any) or a conjunction of single
    equalities (all); otherwise the item has no enableWhen and a designNote extension says when
    to ask it. Each scale is a read-only item (linkId `scale.<name>`) with an SDC
    calculatedExpression summing the weights; a designNote says that the missing-data rule is
    not applied there. copyright is the licence notice. The url and this library's code systems
    are under `canonical_base` (default `CANONICAL_BASE`).
    """
    inst = _instrument(instrument)
    canon = _canon(canonical_base)
    q: Json = {
        "resourceType": "Questionnaire",
        "id": _fhir_id(inst.id),
        "url": canon.questionnaire(inst.id),
        "version": inst.definition_version,
        "title": inst.name,
        "status": "active",
        "subjectType": ["Patient"],
    }
    if inst.description is not None:
        q["description"] = inst.description
    q["copyright"] = inst.license.notice
    loinc = _loinc(inst.codes)
    if loinc is not None:
        q["code"] = [{"system": LOINC, "code": loinc}]
    items = [_question(inst, item, canon) for item in inst.items]
    items += [_score_item(inst, name, scale) for name, scale in inst.scales.items()]
    if inst.respondent is not None:
        items.insert(
            0,
            {
                "linkId": "instrument.respondent",
                "text": f"Respondent: {RESPONDENTS[inst.respondent]}",
                "type": "display",
            },
        )
    if inst.timeframe is not None:
        items.insert(
            0,
            {
                "linkId": "instrument.timeframe",
                "text": f"Timeframe: {inst.timeframe}",
                "type": "display",
            },
        )
    q["item"] = items
    return q
