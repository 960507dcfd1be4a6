"""FHIR R4: QuestionnaireResponse in; Observation, RiskAssessment, Bundle and Questionnaire out.

Every resource produced is validated against the fhir.resources R4B models, plus the invariants
those models do not check (codes from required value sets, obs-6, que-7, que-12, ...).
"""

from __future__ import annotations

import copy
import functools
import json
import operator
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from fhir.resources.R4B.riskassessment import RiskAssessment
from hypothesis import given, settings
from hypothesis import strategies as st

import screening
from screening import ResponseError, fhir
from screening.cases import case_responses
from screening.definition import Instrument
from screening.rules import Env

BUILTINS = screening.list_instruments()
FIXTURES = Path(__file__).resolve().parent / "fhir"
DEFINITIONS = Path(__file__).resolve().parent / "definitions"
Json = dict[str, Any]

MODELS: dict[str, Any] = {
    "Bundle": Bundle,
    "Observation": Observation,
    "Questionnaire": Questionnaire,
    "QuestionnaireResponse": QuestionnaireResponse,
    "RiskAssessment": RiskAssessment,
}
OBSERVATION_STATUS = {
    "registered",
    "preliminary",
    "final",
    "amended",
    "corrected",
    "cancelled",
    "entered-in-error",
    "unknown",
}
ENABLE_OPERATORS = {"exists", "=", "!=", ">", "<", ">=", "<="}


# --- validation -------------------------------------------------------------------------------


def validate(resource: Mapping[str, Any]) -> None:
    """Validate against the R4B model and the invariants the model leaves out."""
    assert json.loads(json.dumps(resource)) == resource
    MODELS[resource["resourceType"]].model_validate(resource)
    checks: dict[str, Callable[[Mapping[str, Any]], None]] = {
        "Bundle": _check_bundle,
        "Observation": _check_observation,
        "Questionnaire": _check_questionnaire,
        "RiskAssessment": _check_risk_assessment,
    }
    if resource["resourceType"] in checks:
        checks[resource["resourceType"]](resource)


def _check_bundle(bundle: Mapping[str, Any]) -> None:
    assert bundle["type"] == "collection"
    for entry in bundle["entry"]:
        validate(entry["resource"])


def _check_observation(obs: Mapping[str, Any]) -> None:
    assert obs["status"] in OBSERVATION_STATUS
    values = [k for k in obs if k.startswith("value")]
    assert len(values) <= 1
    assert not (values and "dataAbsentReason" in obs), "obs-6"
    assert values or "dataAbsentReason" in obs
    category = obs["category"][0]["coding"][0]
    assert category["system"] == fhir.OBSERVATION_CATEGORY
    assert category["code"] == "survey"
    if "valueQuantity" in obs:
        quantity = obs["valueQuantity"]
        assert quantity["system"] == fhir.UCUM
        assert quantity["code"] == quantity["unit"] == "{score}"


def _check_risk_assessment(ra: Mapping[str, Any]) -> None:
    assert ra["status"] in OBSERVATION_STATUS
    assert "subject" in ra
    assert ra["prediction"]
    assert ra["note"]


def _all_items(items: list[Json]) -> list[Json]:
    out = []
    for item in items:
        out.append(item)
        out.extend(_all_items(item.get("item", [])))
    return out


def _check_questionnaire(q: Mapping[str, Any]) -> None:
    assert q["status"] in {"draft", "active", "retired", "unknown"}
    items = _all_items(q["item"])
    link_ids = [i["linkId"] for i in items]
    assert len(link_ids) == len(set(link_ids)), "que-2: linkIds unique"
    by_link = {i["linkId"]: i for i in items}
    for index, item in enumerate(items):
        assert item["type"] in {"display", "choice", "integer", "decimal", "group"}
        if item["type"] == "display":
            assert "answerOption" not in item
            assert "code" not in item
        if item["type"] == "choice":
            codings = [o["valueCoding"] for o in item["answerOption"]]
            assert len({(c["system"], c["code"]) for c in codings}) == len(codings)
        if item.get("readOnly"):  # computed by the form, or a note says why it cannot be
            urls = [e["url"] for e in item["extension"]]
            notes = [e.get("valueMarkdown", "") for e in item["extension"]]
            assert fhir.CALCULATED_EXPRESSION in urls or any(
                "a form cannot compute this score exactly" in note for note in notes
            )
        when = item.get("enableWhen", [])
        assert ("enableBehavior" in item) == (len(when) > 1), "que-12"
        for condition in when:
            assert condition["operator"] in ENABLE_OPERATORS
            source = by_link[condition["question"]]
            assert link_ids.index(source["linkId"]) < index, "asked before"
            if condition["operator"] == "exists":
                assert isinstance(condition["answerBoolean"], bool), "que-7"
            elif source["type"] == "integer":  # a numeric answer compared as a number
                assert isinstance(condition["answerInteger"], int), "que-7"
            else:
                options = [_key(o["valueCoding"]) for o in source["answerOption"]]
                assert _key(condition["answerCoding"]) in options


def _key(coding: Mapping[str, Any]) -> tuple[str, str]:
    return coding["system"], coding["code"]


# --- building QuestionnaireResponses in tests -------------------------------------------------


@functools.cache
def questionnaire(instrument_id: str) -> Json:
    q = fhir.to_questionnaire(instrument_id)
    validate(q)
    return q


def options_by_link(q: Mapping[str, Any]) -> dict[str, list[Json]]:
    return {i["linkId"]: i["answerOption"] for i in q["item"] if i["type"] == "choice"}


def enabled(q_item: Mapping[str, Any], answers: Mapping[str, Json]) -> bool:
    """FHIR enableWhen semantics over the codings answered so far (linkId → coding)."""
    when = q_item.get("enableWhen")
    if not when:
        return True
    results = []
    for condition in when:
        answer: Any = answers.get(condition["question"])
        if condition["operator"] == "exists":
            results.append((answer is not None) == condition["answerBoolean"])
        elif "answerInteger" in condition:  # a numeric answer compared
            compare = NUMBER_OPERATORS[condition["operator"]]
            results.append(answer is not None and compare(answer, condition["answerInteger"]))
        else:
            assert condition["operator"] == "="
            results.append(answer is not None and _key(answer) == _key(condition["answerCoding"]))
    return all(results) if q_item.get("enableBehavior") == "all" else any(results)


NUMBER_OPERATORS = {
    "=": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


def _design_note(q_item: Mapping[str, Any]) -> bool:
    return any(e.get("url") == fhir.DESIGN_NOTE for e in q_item.get("extension", []))


def qr(*items: Json, status: str = "completed") -> Json:
    return {"resourceType": "QuestionnaireResponse", "status": status, "item": list(items)}


def answered(link_id: str, **answer: Any) -> Json:
    return {"linkId": link_id, "answer": [answer]}


@st.composite
def answer_forms(
    draw: st.DrawFn, option: Json, value: int, yes_no: bool, numbers: bool = True
) -> Json:
    """One of the ways an EHR may answer with this option (a non-answer that scores nothing
    has no weight to send; a number only where `numbers`: each option scores its value)."""
    coding = copy.deepcopy(option["valueCoding"])
    weighted = "extension" in option
    weight = option["extension"][0]["valueDecimal"] if weighted else None
    forms = ["coding", "code only"] + (["integer", "decimal"] if numbers else [])
    if weighted:
        forms += ["weight only", "ordinal only"]
    if yes_no:
        forms.append("boolean")
    form = draw(st.sampled_from(forms))
    if form == "coding":  # the option's weight copied into the answer, as some forms do
        return {"valueCoding": {**coding, "extension": copy.deepcopy(option.get("extension", []))}}
    if form == "code only":
        return {"valueCoding": {"system": coding["system"], "code": coding["code"]}}
    if form in ("weight only", "ordinal only"):
        url = fhir.ITEM_WEIGHT if form == "weight only" else fhir.ORDINAL_VALUE
        return {"valueCoding": {"extension": [{"url": url, "valueDecimal": weight}]}}
    if form == "integer":
        return {"valueInteger": value}
    if form == "decimal":
        return {"valueDecimal": float(value)}
    return {"valueBoolean": bool(value)}


def numbers_answer(item: Any) -> bool:
    """Whether a number may answer the item: no option's value is another option's score
    unless it scores that value itself."""
    scores = set(item.scores.values())
    return all(value == score or value not in scores for value, score in item.scores.items())


@st.composite
def generated_responses(draw: st.DrawFn, instrument_id: str) -> tuple[Json, dict[str, int], Json]:
    """A QuestionnaireResponse to the exported Questionnaire, the same answers as a dict, and
    context; only items whose ask_if holds are answered, some are left missing."""
    inst = screening.load_instrument(instrument_id)
    q = questionnaire(instrument_id)
    q_items = {i["linkId"]: i for i in q["item"]}
    plan = screening.scoring.plan_for(inst)
    context = {name: draw(st.sampled_from(var.values or [0])) for name, var in inst.context.items()}
    scores: dict[str, int] = {}
    skipped: set[str] = set()
    direct: dict[str, int] = {}
    codings: dict[str, Json] = {}
    qr_items: list[Json] = []
    for index, item_plan in enumerate(plan.items):
        item = inst.items[index]
        asked = True
        if item_plan.ask_if is not None:
            truth = item_plan.ask_if(Env(scores, skipped, {}, context))
            if not _design_note(q_items[item.id]):  # an inexpressible condition: always enabled
                assert enabled(q_items[item.id], codings) is (truth is True), item.id
            if truth is False:
                skipped.add(item.id)
                if item_plan.if_skipped is not None:
                    scores[item.id] = item_plan.if_skipped
            asked = truth is True
        if not asked or draw(st.integers(0, 9)) == 0:
            continue  # skipped, or left missing
        if item.number is not None:  # a whole number: valueInteger
            assert not item.number.decimals  # the built-ins have none (test_format_decimal)
            value = draw(st.integers(int(item.number.min), int(item.number.max)))
            direct[item.id] = value
            scores[item.id] = item_plan.scores[value]
            codings[item.id] = value  # type: ignore[assignment]  # enableWhen compares it
            qr_items.append(answered(item.id, valueInteger=value))
            continue
        options = q_items[item.id]["answerOption"]
        position = draw(st.integers(0, len(options) - 1))
        value = inst.item_options(item)[position].value
        direct[item.id] = value
        if value in item_plan.scores:  # else a non-answer that scores nothing: missing
            scores[item.id] = item_plan.scores[value]
        codings[item.id] = options[position]["valueCoding"]
        yes_no = sorted(item_plan.scores) == [0, 1] and value in (0, 1)
        answer = draw(answer_forms(options[position], value, yes_no, numbers_answer(item_plan)))
        loinc = item.codes.loinc if item.codes else None
        link_id = draw(st.sampled_from([item.id, f"/{loinc}"] if loinc else [item.id]))
        qr_items.append({"linkId": link_id, "answer": [answer]})
    if draw(st.booleans()):  # the form's own calculated scores agree: nothing to note
        scored = screening.score(inst, direct, on_error="invalid", **context).scales
        qr_items += [
            answered(f"{fhir.SCALE_LINK_PREFIX}{name}", valueDecimal=scored[name].score)
            for name in inst.scales
            if scored[name].score is not None
        ]
    nested: bool = draw(st.booleans())
    if qr_items and nested:  # in a group
        qr_items = [{"linkId": "group", "item": qr_items}]
    return qr(*qr_items), direct, context


# --- round trip -------------------------------------------------------------------------------


@pytest.mark.parametrize("instrument_id", BUILTINS)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_round_trip_scores_as_the_answers_do(instrument_id: str, data: st.DataObject) -> None:
    response, direct, context = data.draw(generated_responses(instrument_id))
    validate(response)
    read = fhir.read_questionnaire_response(instrument_id, response)
    plan = screening.scoring.plan_for(instrument_id)
    scores = {item.id: item.scores for item in plan.items}
    # an answer sent by its weight alone, which several answers share, reads as the first of
    # them (a warning says so): the same score, perhaps another of the answers sharing it
    assert {k: scores[k].get(int(v)) for k, v in read.items()} == {  # no decimal answers
        k: scores[k].get(v) for k, v in direct.items()
    }
    shared = {k for k, table in scores.items() if len(set(table.values())) < len(table)}
    assert {k: v for k, v in read.items() if k not in shared} == {
        k: v for k, v in direct.items() if k not in shared
    }

    def comparable(result: screening.ScoreResult) -> Json:
        # which of the answers sharing a weight was meant is unknown (a refusal scoring as a
        # yes): their non-answer kinds are not compared, nor the warning that says so
        out = result.to_dict()
        out["non_answers"] = {k: v for k, v in out["non_answers"].items() if k not in shared}
        out["issues"] = [i for i in out["issues"] if i["code"] != "shared_weight"]
        return out

    expected = comparable(screening.score(instrument_id, direct, **context))
    assert comparable(screening.score(instrument_id, read, **context)) == expected
    result = fhir.score_questionnaire_response(instrument_id, response, **context)
    noted = [i.to_dict() for i in result.issues if i.code == "shared_weight"]
    assert comparable(result) == expected
    assert all(i["severity"] == "warning" for i in noted)
    # a warning exactly where an answer came by a weight that answers share
    assert {i["message"].split("'")[3] for i in noted} <= shared


@pytest.mark.parametrize("instrument_id", BUILTINS)
def test_questionnaire_of_every_builtin(instrument_id: str) -> None:
    inst = screening.load_instrument(instrument_id)
    q = questionnaire(instrument_id)
    assert q["copyright"] == inst.license.notice
    assert q["version"] == inst.definition_version
    choices = [i for i in q["item"] if i["type"] == "choice"]
    assert [i["linkId"] for i in choices] == [i.id for i in inst.items if i.number is None]
    scores = [i for i in q["item"] if i.get("readOnly")]
    assert [i["linkId"] for i in scores] == [f"scale.{name}" for name in inst.scales]
    plan = screening.scoring.plan_for(inst)
    chosen = [(i, p) for i, p in zip(inst.items, plan.items, strict=True) if i.number is None]
    for (item, item_plan), q_item in zip(chosen, choices, strict=True):
        expected_text = item.text if inst.license.redistribute_text and item.text else item.label
        assert q_item["text"] == expected_text
        if item.codes and item.codes.loinc:
            assert q_item["code"] == [{"system": fhir.LOINC, "code": item.codes.loinc}]
        weights = [
            o["extension"][0]["valueDecimal"] if "extension" in o else None
            for o in q_item["answerOption"]
        ]
        assert all("extension" not in o["valueCoding"] for o in q_item["answerOption"])
        values = [o.value for o in inst.item_options(item)]
        assert weights == [item_plan.scores.get(v) for v in values]  # none: scores nothing
        for option, answer in zip(inst.item_options(item), q_item["answerOption"], strict=True):
            coding = answer["valueCoding"]
            if option.code:
                assert (coding["system"], coding["code"]) == (fhir.LOINC, option.code)
            else:
                assert coding["system"] == fhir.ANSWER_SYSTEM
            assert coding["display"] == option.label


def test_questionnaire_wording_only_where_licensed() -> None:
    phq9 = {i["linkId"]: i for i in questionnaire("phq9")["item"]}
    assert phq9["phq9_1"]["text"] == "Little interest or pleasure in doing things"
    cssrs = {i["linkId"]: i for i in questionnaire("cssrs_screener")["item"]}
    assert cssrs["cssrs_screener_1"]["text"] == "wish to be dead (past month)"


def test_questionnaire_codes_and_skip_logic() -> None:
    q = questionnaire("cssrs_screener")
    items = {i["linkId"]: i for i in q["item"]}
    yes = {"system": fhir.LOINC, "code": "LA33-6"}
    for n, loinc in ((3, "93248-3"), (4, "93249-1"), (5, "93250-9")):
        assert items[f"cssrs_screener_{n}"]["enableWhen"] == [
            {"question": "cssrs_screener_2", "operator": "=", "answerCoding": yes}
        ]
        assert items[f"cssrs_screener_{n}"]["code"] == [{"system": fhir.LOINC, "code": loinc}]
    assert items["cssrs_screener_6a"]["enableWhen"][0]["question"] == "cssrs_screener_6"
    assert "enableWhen" not in items["cssrs_screener_1"]
    k10 = {i["linkId"]: i for i in questionnaire("k10")["item"]}
    assert k10["k10_3"]["enableBehavior"] == "any"
    assert {w["question"] for w in k10["k10_3"]["enableWhen"]} == {"k10_2"}
    assert len(k10["k10_3"]["enableWhen"]) == 4  # item 2 scoring 2-5
    audit = {i["linkId"]: i for i in questionnaire("audit")["item"]}
    assert "enableWhen" not in audit["audit_4"]  # all of (1, any of (2, 3)) is inexpressible
    (note,) = audit["audit_4"]["extension"]
    assert note["url"] == fhir.DESIGN_NOTE
    assert "all of (audit_1 ≥ 1, any of (audit_2 ≥ 1, audit_3 ≥ 1))" in note["valueMarkdown"]


def test_questionnaire_reverse_scored_weights() -> None:
    items = {i["linkId"]: i for i in questionnaire("epds")["item"]}
    weights = [o["extension"][0] for o in items["epds_3"]["answerOption"]]
    assert weights == [{"url": fhir.ITEM_WEIGHT, "valueDecimal": w} for w in (3, 2, 1, 0)]
    plain = [o["extension"][0]["valueDecimal"] for o in items["epds_1"]["answerOption"]]
    assert plain == [0, 1, 2, 3]


def _expression(item: Mapping[str, Any]) -> str:
    ext = next(e for e in item["extension"] if e["url"] == fhir.CALCULATED_EXPRESSION)
    assert ext["valueExpression"]["language"] == "text/fhirpath"
    expression: str = ext["valueExpression"]["expression"]
    return expression


def test_questionnaire_calculated_scores() -> None:
    phq9 = {i["linkId"]: i for i in questionnaire("phq9")["item"]}
    total = phq9["scale.total"]
    assert total["type"] == "integer"
    assert total["readOnly"] is True
    assert total["code"] == [{"system": fhir.LOINC, "code": "44261-6"}]
    expression = _expression(total)
    assert expression.startswith("%resource.repeat(item).where(linkId in ('phq9_1' | 'phq9_2'")
    assert expression.endswith(".answer.value.weight().sum()")
    assert "'phq9_10'" not in expression
    notes = [e["valueMarkdown"] for e in total["extension"] if e["url"] == fhir.DESIGN_NOTE]
    assert "at most 2 item(s) missing, prorated" in notes[0]
    dass = {i["linkId"]: i for i in questionnaire("dass21")["item"]}
    assert _expression(dass["scale.depression"]).endswith(") * 2")
    k10 = {i["linkId"]: i for i in questionnaire("k10")["item"]}
    # k10_3 counts 1 only when skipped: k10_2 answered and below 2 (asked and blank is missing)
    k10_3 = (
        ".combine(iif(%resource.repeat(item).where(linkId = 'k10_3').answer.exists(), {}, "
        "iif(%resource.repeat(item).where(linkId = 'k10_2').answer.value.weight().exists() and "
        "(%resource.repeat(item).where(linkId = 'k10_2').answer.value.weight() >= 2).not(), 1, "
        "{})))"
    )
    assert k10_3 in _expression(k10["scale.total"])
    assert _expression(k10["scale.total"]).endswith(".sum()")  # one collection, summed once


SKIPS = """
format_version: "1.0"
id: skips
name: Skip logic shapes
definition_version: 1.0.0
construct: testing
license: {status: public-domain, holder: Nobody, notice: Free to use., redistribute_text: false}
sources:
  src: Author A. A made-up instrument for testing. J Test 2020;1:1-2.
option_sets:
  yes_no:
    - {value: 0, label: "No"}
    - {value: 1, label: "Yes"}
  freq:
    - {value: 0, label: never}
    - {value: 1, label: sometimes}
    - {value: 2, label: often}
items:
  - {id: skips_1, label: gate one, options: yes_no}
  - {id: skips_2, label: gate two (reversed), options: freq, reverse: true}
  - id: skips_3
    label: both gates
    options: yes_no
    ask_if: {all: [{item: skips_1, eq: 1}, {item: skips_2, eq: 0}]}
  - id: skips_4
    label: counted
    options: yes_no
    ask_if: {count: {items: [skips_1, skips_2], gte: 1}, gte: 2}
  - {id: skips_5, label: negated, options: yes_no, ask_if: {not: {item: skips_1, eq: 0}}}
  - id: skips_6
    label: a disjunction inside a conjunction
    options: yes_no
    ask_if: {all: [{item: skips_1, eq: 1}, {item: skips_2, gte: 1}]}
  - {id: skips_7, label: any score, options: yes_no, ask_if: {item: skips_2, gte: 0}}
scales:
  total: {items: [skips_1, skips_2, skips_3], source: src}
"""


@functools.cache
def skips() -> Instrument:
    return screening.parse_instrument(SKIPS, "skips.yaml")


def test_questionnaire_skip_logic_shapes() -> None:
    q = fhir.to_questionnaire(skips())
    validate(q)
    items = {i["linkId"]: i for i in q["item"]}
    # skips_2 is reversed: score 0 is the answer "often" (value 2)
    assert items["skips_3"]["enableBehavior"] == "all"
    assert [w["answerCoding"]["code"] for w in items["skips_3"]["enableWhen"]] == [
        "skips.skips_1.1",
        "skips.skips_2.2",
    ]
    for link_id in ("skips_4", "skips_5", "skips_6"):
        assert "enableWhen" not in items[link_id]
        (note,) = items[link_id]["extension"]
        assert note["url"] == fhir.DESIGN_NOTE
        assert note["valueMarkdown"].startswith("Ask only when ")
        assert "cannot express" in note["valueMarkdown"]
    assert items["skips_7"]["enableWhen"] == [
        {"question": "skips_2", "operator": "exists", "answerBoolean": True}
    ]


@settings(max_examples=100, deadline=None)
@given(answers=st.lists(st.integers(0, 2), min_size=2, max_size=2))
def test_enable_when_agrees_with_ask_if(answers: list[int]) -> None:
    inst = skips()
    q_items = {i["linkId"]: i for i in fhir.to_questionnaire(inst)["item"]}
    plan = screening.scoring.plan_for(inst)
    values = {"skips_1": answers[0] % 2, "skips_2": answers[1]}
    scores = {k: plan.items[i].scores[v] for i, (k, v) in enumerate(values.items())}
    codings = {k: q_items[k]["answerOption"][v]["valueCoding"] for k, v in values.items()}
    for item_plan in plan.items[2:]:
        assert item_plan.ask_if is not None
        if "enableWhen" in q_items[item_plan.id]:
            truth = item_plan.ask_if(Env(scores, set(), {}, {}))
            assert enabled(q_items[item_plan.id], codings) is truth


# --- QuestionnaireResponses as EHRs send them -------------------------------------------------


def fixture(name: str) -> Json:
    data: Json = json.loads((FIXTURES / name).read_text())
    validate(data)
    return data


def test_loinc_coded_phq9(phq9_answers: dict[str, int]) -> None:
    response = fixture("phq9-loinc.json")
    read = fhir.read_questionnaire_response("phq9", response)
    assert read == {**phq9_answers, "phq9_10": 1}  # the total /44261-6 is recomputed
    r = fhir.score_questionnaire_response("phq9", response)
    assert r.scales["total"].score == 15
    assert r.scales["total"].band == "moderately severe"
    assert r.flag_ids == ["suicidal_ideation"]


def test_loinc_coded_gad7_in_a_group_with_ordinal_values() -> None:
    response = fixture("gad7-loinc.json")
    # The definition codes neither gad7_8 (difficulty) nor its answers in LOINC, so the caller
    # says what /69722-7 is: here, not needed for scoring.
    read = fhir.read_questionnaire_response("gad7", response, link_ids={"/69722-7": None})
    values = [2, 3, 2, 1, 0, 1, 2]
    assert read == {f"gad7_{n}": v for n, v in enumerate(values, start=1)}
    r = fhir.score_questionnaire_response("gad7", response, link_ids={"/69722-7": None})
    assert r.scales["total"].score == 11
    assert r.scales["total"].band == "moderate"


def test_loinc_coded_cssrs_with_the_forms_risk_level() -> None:
    response = fixture("cssrs-loinc.json")
    # 93374-7 is the triage's own code: the form's level "Low" is compared, and agrees
    read = fhir.read_questionnaire_response("cssrs_screener", response)
    assert read == {"cssrs_screener_1": 1, "cssrs_screener_2": 0, "cssrs_screener_6": 0}
    r = fhir.score_questionnaire_response("cssrs_screener", response)
    assert r.classifications["triage"] == "low risk"
    assert r.issues == ()
    ignored = fhir.score_questionnaire_response(
        "cssrs_screener", response, link_ids={"93374-7": None}
    )
    assert ignored == r


def test_mapping_by_the_caller_and_by_item_code() -> None:
    answer = {"valueCoding": {"system": fhir.LOINC, "code": "LA6570-1"}}
    response = qr(
        {"linkId": "q1", "answer": [answer]},
        {"linkId": "q2", "code": [{"system": fhir.LOINC, "code": "44255-8"}], "answer": [answer]},
    )
    read = fhir.read_questionnaire_response("phq9", response, link_ids={"q1": "phq9_1"})
    assert read == {"phq9_1": 2, "phq9_2": 2}
    with pytest.raises(ValueError, match="maps 'q1' to 'phq9_11', which is not an item"):
        fhir.read_questionnaire_response("phq9", response, link_ids={"q1": "phq9_11"})


def test_answers_nested_under_answers_are_read() -> None:
    inner = answered("phq9_2", valueInteger=1)
    outer = {"linkId": "phq9_1", "answer": [{"valueInteger": 3, "item": [inner]}]}
    assert fhir.read_questionnaire_response("phq9", qr(outer)) == {"phq9_1": 3, "phq9_2": 1}


def test_weights_map_back_through_reverse_scoring() -> None:
    weight = {"extension": [{"url": fhir.ITEM_WEIGHT, "valueDecimal": 3}]}
    read = fhir.read_questionnaire_response(
        "epds", qr(answered("epds_3", valueCoding=weight), answered("epds_1", valueCoding=weight))
    )
    assert read == {"epds_3": 0, "epds_1": 3}  # epds_3 is reversed: the top box scores 3


def test_a_number_is_refused_where_options_score_otherwise_than_their_values() -> None:
    # an app that stores item scores sends 0 for a symptom-free EPDS; read as boxes, its
    # reversed items would each score 3 (a total of 21) and item 10 raise the self-harm flag
    response = qr(*(answered(f"epds_{n}", valueInteger=0) for n in range(1, 11)))
    with pytest.raises(screening.ResponseError) as raised:
        fhir.read_questionnaire_response("epds", response)
    refused = {i.item: i for i in raised.value.issues}
    reversed_items = {f"epds_{n}" for n in (3, 5, 6, 7, 8, 9, 10)}
    assert set(refused) == reversed_items
    assert {str(i.code) for i in refused.values()} == {"unsupported_answer_type"}
    assert refused["epds_10"].message == (
        "linkId 'epds_10' (item[9]): valueInteger cannot answer item 'epds_10': its options "
        "score otherwise than their values (0 scores 3, 1 scores 2, 2 scores 1, 3 scores 0), so "
        "a number could be either; use valueCoding (an option's code, or its score as the "
        "coding's itemWeight or ordinalValue)"
    )
    # scored, the flag that reads item 10 is undetermined: never raised or dropped on a guess
    result = fhir.score_questionnaire_response("epds", response, on_error="invalid")
    assert not result.valid
    assert result.flag_ids == []
    assert result.undetermined_flag_ids == ["self_harm_thoughts"]
    # where each option scores its value (items 1, 2 and 4; the PHQ-9), a number is the answer
    plain = qr(*(answered(f"epds_{n}", valueDecimal=2.0) for n in (1, 2, 4)))
    assert fhir.read_questionnaire_response("epds", plain) == {
        "epds_1": 2,
        "epds_2": 2,
        "epds_4": 2,
    }
    # ASQ's "declined" (9) scores 1, as a yes: no option scores 9, so 0, 1 and 9 are values
    asq = qr(*(answered(f"asq_{n}", valueInteger=v) for n, v in ((1, 0), (2, 1), (3, 9))))
    assert fhir.read_questionnaire_response("asq", asq) == {"asq_1": 0, "asq_2": 1, "asq_3": 9}


def test_booleans_answer_yes_no_items() -> None:
    response = qr(
        answered("cssrs_screener_1", valueBoolean=True),
        answered("cssrs_screener_2", valueBoolean=False),
    )
    read = fhir.read_questionnaire_response("cssrs_screener", response)
    assert read == {"cssrs_screener_1": 1, "cssrs_screener_2": 0}


def test_unanswered_and_unmatched_unanswered_items_are_missing() -> None:
    response = qr({"linkId": "phq9_1"}, {"linkId": "instructions", "text": "Please answer"})
    assert fhir.read_questionnaire_response("phq9", response) == {}


# --- bad QuestionnaireResponses ---------------------------------------------------------------


def read_error(instrument_id: str, response: Json, **kwargs: Any) -> ResponseError:
    with pytest.raises(ResponseError) as caught:
        fhir.read_questionnaire_response(instrument_id, response, **kwargs)
    return caught.value


CODING = {"system": fhir.LOINC, "code": "LA6569-3"}


@pytest.mark.parametrize(
    ("items", "code", "message"),
    [
        (
            [answered("/12345-6", valueCoding=CODING)],
            "unmatched_link_id",
            "linkId '/12345-6' (item[0]) matches no item of phq9",
        ),
        (
            [answered("/44250-9", valueCoding={"system": fhir.LOINC, "code": "LA9999-9"})],
            "unknown_answer_code",
            "linkId '/44250-9' (item[0]): answer code http://loinc.org|LA9999-9 is not an "
            "option of item 'phq9_1' (LA6568-5 = 0 Not at all; LA6569-3 = 1 Several days;",
        ),
        (
            [answered("phq9_1", valueCoding={"code": "LA33-6"})],
            "code_without_system",
            "linkId 'phq9_1' (item[0]): answer code LA33-6 has no system (valueCoding.system is "
            "missing) and is no option's code on item 'phq9_1'",
        ),
        (
            [{"linkId": "phq9_1", "answer": [{"valueCoding": CODING}, {"valueInteger": 2}]}],
            "conflicting_answers",
            "item 'phq9_1' has conflicting answers: 1 (Several days) at linkId 'phq9_1' "
            "(item[0].answer[0]), 2 (More than half the days) at linkId 'phq9_1' "
            "(item[0].answer[1]); it is not scored, and each answer counts toward risk flags",
        ),
        (
            [answered("phq9_1", valueInteger=1), answered("/44250-9", valueInteger=3)],
            "conflicting_answers",
            "item 'phq9_1' has conflicting answers: 1 (Several days) at linkId 'phq9_1' "
            "(item[0].answer[0]), 3 (Nearly every day) at linkId '/44250-9' (item[1].answer[0])",
        ),
        (
            [answered("phq9_1", valueBoolean=True)],
            "boolean_not_allowed",
            "linkId 'phq9_1' (item[0]): a boolean answers only a yes/no item (options 0 and 1); "
            "item 'phq9_1' takes one of 0, 1, 2, 3 (got true)",
        ),
        (
            [answered("phq9_1", valueInteger=4)],
            "invalid_value",
            "linkId 'phq9_1' (item[0]): item 'phq9_1' must be one of 0, 1, 2, 3 "
            "(got valueInteger 4)",
        ),
        (
            [answered("phq9_1", valueInteger=True)],
            "invalid_answer",
            "valueInteger must be a whole number, one of 0, 1, 2, 3 (got True)",
        ),
        (
            [answered("phq9_1", valueDecimal=1.5)],
            "not_integral",
            "linkId 'phq9_1' (item[0]): valueDecimal must be a whole number",
        ),
        (
            [answered("phq9_1", valueString="1")],
            "unsupported_answer_type",
            "linkId 'phq9_1' (item[0]): valueString cannot answer item 'phq9_1'",
        ),
        (
            [
                answered(
                    "phq9_1",
                    valueCoding={
                        **CODING,
                        "extension": [{"url": fhir.ITEM_WEIGHT, "valueDecimal": 2}],
                    },
                )
            ],
            "conflicting_answer",
            "answer code http://loinc.org|LA6569-3 scores 1 on item 'phq9_1' but its coding "
            "carries the weight 2",
        ),
        (
            [
                answered(
                    "phq9_1",
                    valueCoding={"extension": [{"url": fhir.ORDINAL_VALUE, "valueDecimal": 7}]},
                )
            ],
            "unknown_answer_weight",
            "the weight 7 is no score of item 'phq9_1' (0, 1, 2, 3)",
        ),
        (
            [{"linkId": "phq9_1", "answer": [{}]}],
            "invalid_answer",
            "linkId 'phq9_1' (item[0]): an answer needs exactly one value[x] (got 0)",
        ),
        (
            [{"text": "no linkId"}],
            "invalid_questionnaire_response",
            "item[0]: an item needs a linkId (a string)",
        ),
    ],
)
def test_unreadable_answers_are_clear_errors(items: list[Json], code: str, message: str) -> None:
    error = read_error("phq9", qr(*items))
    assert [i.code for i in error.issues] == [code]
    assert message in str(error)


def test_every_problem_is_reported_at_once() -> None:
    response = qr(
        {"linkId": "group", "item": [answered("nope", valueInteger=1)]},
        answered("phq9_2", valueBoolean=True),
        answered("phq9_3", valueInteger=2),
    )
    error = read_error("phq9", response)
    assert [(i.code, i.path) for i in error.issues] == [
        ("unmatched_link_id", ("item", 0, "item", 0)),
        ("boolean_not_allowed", ("item", 1, "answer", 0, "valueBoolean")),
    ]
    assert error.issues[1].item == "phq9_2"


def test_not_a_questionnaire_response_or_entered_in_error() -> None:
    error = read_error("phq9", {"resourceType": "Observation"})
    assert error.issues[0].code == "not_a_questionnaire_response"
    error = read_error("phq9", qr(status="entered-in-error"))
    assert error.issues[0].code == "entered_in_error"


def test_deep_nesting_does_not_exhaust_the_stack() -> None:
    node: Json = answered("phq9_1", valueInteger=1)
    for depth in range(5000):
        node = {"linkId": f"g{depth}", "item": [node]}
    assert fhir.read_questionnaire_response("phq9", qr(node)) == {"phq9_1": 1}


def test_scoring_keeps_flags_when_an_answer_is_unreadable() -> None:
    items = [answered(f"phq9_{n}", valueInteger=1) for n in range(1, 9)]
    items[2] = answered("phq9_3", valueCoding={"system": fhir.LOINC, "code": "LA9999-9"})
    response = qr(*items, answered("phq9_9", valueInteger=2))
    with pytest.raises(ResponseError) as caught:
        fhir.score_questionnaire_response("phq9", response)
    result = caught.value.result
    assert result is not None
    assert result.valid is False
    assert result.flag_ids == ["suicidal_ideation"]
    assert [i.code for i in result.issues] == ["unknown_answer_code"]
    assert result.scales["total"].score is None
    assert result.scales["total"].reason == "item(s) phq9_3 invalid"
    assert result.scales["phq2"].score == 2
    assert result.reasons[0].startswith("linkId 'phq9_3' (item[2])")
    assert "risk flags raised from the valid items: suicidal_ideation" in str(caught.value)
    returned = fhir.score_questionnaire_response("phq9", response, on_error="invalid")
    assert returned == result


def test_scoring_reports_the_scorers_own_problems() -> None:
    response = qr(answered("audit_c_1", valueInteger=1))
    with pytest.raises(ResponseError, match="needs context 'sex'"):
        fhir.score_questionnaire_response("audit_c", response)
    r = fhir.score_questionnaire_response("audit_c", response, on_error="invalid", sex="female")
    assert r.issues == ()


# --- malformed structures, repeated and conflicting answers -----------------------------------


def phq9_items(item_9: int | None = 2) -> list[Json]:
    """Items 1-8 answered 0 (and item 9 with `item_9` unless None), top level."""
    items = [answered(f"phq9_{n}", valueInteger=0) for n in range(1, 9)]
    return items + ([answered("phq9_9", valueInteger=item_9)] if item_9 is not None else [])


ITEM_9 = answered("phq9_9", valueInteger=2)


def _item_9_in(shape: str) -> list[Json]:
    """PHQ-9 with items 1-8 answered 0 and item 9 (answered 2) in a malformed structure."""
    items = phq9_items(item_9=None)
    if shape == "answer.item an object":
        items[7]["answer"][0]["item"] = ITEM_9
    elif shape == "group item an object":
        items.append({"linkId": "group", "item": ITEM_9})
    elif shape == "answer an object":
        items.append({"linkId": "phq9_9", "answer": {"valueInteger": 2}})
    elif shape == "group without a linkId":
        items.append({"text": "a group", "item": [ITEM_9]})
    elif shape == "under an answer given as an object":
        items[7] = {"linkId": "phq9_8", "answer": {"valueInteger": 0, "item": [ITEM_9]}}
    return items


@pytest.mark.parametrize(
    ("shape", "code", "path", "message"),
    [
        (
            "answer.item an object",
            "invalid_questionnaire_response",
            ("item", 7, "answer", 0, "item"),
            "item[7].answer[0].item must be a list (got an object); the items in it are not "
            "scored, their answers count only toward risk flags",
        ),
        (
            "group item an object",
            "invalid_questionnaire_response",
            ("item", 8, "item"),
            "item[8].item must be a list (got an object)",
        ),
        (
            "answer an object",
            "invalid_answer",
            ("item", 8, "answer"),
            "linkId 'phq9_9' (item[8]): answer must be a list (got an object); the item is not "
            "scored, its answer counts only toward risk flags",
        ),
        (
            "group without a linkId",
            "invalid_questionnaire_response",
            ("item", 8),
            "item[8]: an item needs a linkId (a string); the items in it are not scored",
        ),
        (
            "under an answer given as an object",
            "invalid_answer",
            ("item", 7, "answer"),
            "linkId 'phq9_8' (item[7]): answer must be a list (got an object)",
        ),
    ],
)
def test_a_malformed_structure_is_refused_and_its_risk_answer_still_counts(
    shape: str, code: str, path: tuple[str | int, ...], message: str
) -> None:
    # Before: an answer's `item` given as an object was skipped, so item 9 was lost and the
    # result came out valid, total prorated from eight items, the flag undetermined at best.
    response = qr(*_item_9_in(shape))
    error = read_error("phq9", response)
    assert [(i.code, i.path) for i in error.issues] == [(code, path)]
    assert message in error.issues[0].message
    result = fhir.score_questionnaire_response("phq9", response, on_error="invalid")
    assert result.valid is False
    assert result.flag_ids == ["suicidal_ideation"]
    assert result.flags[0].items == ("phq9_9",)
    assert result.undetermined_flags == ()
    assert result.scales["total"].score is None  # never prorated around the lost item
    assert "phq9_9" in result.scales["total"].reason
    assert result.reasons[0] == error.issues[0].message


@pytest.mark.parametrize(
    ("items", "code", "path", "message"),
    [
        (
            {"linkId": "phq9_1", "answer": [{"valueInteger": 1}]},
            "invalid_questionnaire_response",
            ("item",),
            "item must be a list (got an object)",
        ),
        (
            [{"linkId": "g", "item": "phq9_1"}],
            "invalid_questionnaire_response",
            ("item", 0, "item"),
            "item[0].item must be a list (got 'phq9_1')",
        ),
        (
            ["phq9_1"],
            "invalid_questionnaire_response",
            ("item", 0),
            "item[0]: an item must be an object (got 'phq9_1')",
        ),
        (
            [{"linkId": 9, "answer": [{"valueInteger": 1}]}],
            "invalid_questionnaire_response",
            ("item", 0),
            "item[0]: an item needs a linkId (a string)",
        ),
        (
            [{"linkId": "phq9_1", "answer": 1}],
            "invalid_answer",
            ("item", 0, "answer"),
            "linkId 'phq9_1' (item[0]): answer must be a list (got 1)",
        ),
        (
            [{"linkId": "nope", "answer": "1"}],
            "invalid_answer",
            ("item", 0, "answer"),
            "linkId 'nope' (item[0]): answer must be a list (got '1')",
        ),
        (
            [{"linkId": "phq9_1", "answer": [1]}],
            "invalid_answer",
            ("item", 0, "answer", 0),
            "linkId 'phq9_1' (item[0]): an answer must be an object (got 1)",
        ),
        (
            [{"linkId": "phq9_1", "answer": [{"valueInteger": 1, "item": "x"}]}],
            "invalid_questionnaire_response",
            ("item", 0, "answer", 0, "item"),
            "item[0].answer[0].item must be a list (got 'x')",
        ),
        (
            [answered("phq9_1", valueCoding=[CODING])],
            "invalid_answer",
            ("item", 0, "answer", 0, "valueCoding"),
            "valueCoding must be an object (got [",
        ),
        (
            [answered("phq9_1", valueCoding={"system": fhir.LOINC, "code": 6569})],
            "invalid_answer",
            ("item", 0, "answer", 0, "valueCoding"),
            "valueCoding.code must be a string (got 6569)",
        ),
        (
            [
                answered(
                    "phq9_1",
                    valueCoding={
                        "system": ["x"],
                        "extension": [{"url": fhir.ITEM_WEIGHT, "valueDecimal": 1}],
                    },
                )
            ],
            "invalid_answer",
            ("item", 0, "answer", 0, "valueCoding"),
            "valueCoding.system must be a string (got ['x'])",
        ),
        (
            [
                answered(
                    "phq9_1",
                    valueCoding={"extension": {"url": fhir.ITEM_WEIGHT, "valueDecimal": 1}},
                )
            ],
            "invalid_answer",
            ("item", 0, "answer", 0, "valueCoding"),
            "valueCoding.extension must be a list of objects",
        ),
        (
            [answered("phq9_1", valueInteger="1")],
            "invalid_answer",
            ("item", 0, "answer", 0, "valueInteger"),
            "valueInteger must be a whole number, one of 0, 1, 2, 3 (got '1')",
        ),
        (
            [answered("cssrs_screener_1", valueBoolean="true")],
            "invalid_answer",
            ("item", 0, "answer", 0, "valueBoolean"),
            "valueBoolean must be true or false (got 'true')",
        ),
    ],
)
def test_every_malformed_structure_is_named_by_its_path(
    items: Any, code: str, path: tuple[str | int, ...], message: str
) -> None:
    instrument = "cssrs_screener" if "cssrs" in json.dumps(items) else "phq9"
    response = {"resourceType": "QuestionnaireResponse", "status": "completed", "item": items}
    error = read_error(instrument, response)
    assert [(i.code, i.path) for i in error.issues] == [(code, path)]
    assert message in error.issues[0].message
    result = fhir.score_questionnaire_response(instrument, response, on_error="invalid")
    assert result.valid is False


def test_the_same_answer_twice_counts_once() -> None:
    # Before: any second answer to an item was a repeated_answer error.
    coded = {"system": fhir.LOINC, "code": "LA6570-1"}  # 2, More than half the days
    response = qr(
        *phq9_items(item_9=0),
        answered("/44260-8", valueDecimal=0.0),  # item 9 again, by its LOINC code
        {"linkId": "phq9_1"},  # present but unanswered: nothing to count
        {"linkId": "phq9_2", "answer": [{"valueInteger": 2}, {"valueCoding": coded}]},
        answered("/44255-8", valueCoding=coded),
    )
    response["item"][1] = answered("phq9_2", valueInteger=2)
    read = fhir.read_questionnaire_response("phq9", response)
    assert read == {f"phq9_{n}": 0 for n in range(1, 10)} | {"phq9_2": 2}
    result = fhir.score_questionnaire_response("phq9", response)
    assert result.valid is True
    assert result.scales["total"].score == 2
    assert result.flags == result.undetermined_flags == ()


def test_conflicting_answers_make_the_item_invalid_and_each_counts_for_flags() -> None:
    # Before: a repeated_answer error; the item's answers were all dropped, so the flag was
    # undetermined, not raised.
    response = qr(*phq9_items(item_9=0), answered("/44260-8", valueInteger=2))
    error = read_error("phq9", response)
    (issue,) = error.issues
    assert issue.code == "conflicting_answers"
    assert issue.item == "phq9_9"
    assert issue.path == ("item", 9, "answer", 0)
    assert issue.value == (0, 2)
    assert issue.message == (
        "item 'phq9_9' has conflicting answers: 0 (Not at all) at linkId 'phq9_9' "
        "(item[8].answer[0]), 2 (More than half the days) at linkId '/44260-8' "
        "(item[9].answer[0]); it is not scored, and each answer counts toward risk flags"
    )
    with pytest.raises(ResponseError) as caught:
        fhir.score_questionnaire_response("phq9", response)
    result = caught.value.result
    assert result is not None
    assert result.valid is False
    assert result.flag_ids == ["suicidal_ideation"]
    assert result.flags[0].items == ("phq9_9",)
    assert result.undetermined_flags == ()
    assert result.scales["total"].score is None
    assert result.scales["total"].reason == "item(s) phq9_9 invalid"
    assert result.scales["phq2"].score == 0
    assert result.reasons == (issue.message,)
    assert [i.code for i in result.issues] == ["conflicting_answers"]

    # one QR item with two different answers: the same
    both = qr(*phq9_items(item_9=None), {"linkId": "phq9_9", "answer": [{"valueInteger": 2}] * 2})
    both["item"][-1]["answer"].insert(1, {"valueInteger": 0})
    result = fhir.score_questionnaire_response("phq9", both, on_error="invalid")
    assert result.valid is False
    assert result.flag_ids == ["suicidal_ideation"]
    assert (
        "2 (More than half the days) at linkId 'phq9_9' (item[8].answer[2])" in (result.reasons[0])
    )


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.integers(0, 3), min_size=1, max_size=4),
    places=st.lists(st.sampled_from(["same", "top", "loinc", "group", "nested"]), min_size=4),
)
def test_item_9_answered_anywhere_any_number_of_times(values: list[int], places: list[str]) -> None:
    items = phq9_items(item_9=None)
    for value, place in zip(values, places, strict=False):
        answer = {"valueInteger": value}
        if place == "same" and items[-1]["linkId"] == "phq9_9":
            items[-1]["answer"].append(answer)
        elif place == "loinc":
            items.append({"linkId": "/44260-8", "answer": [answer]})
        elif place == "group":
            items.append({"linkId": "group", "item": [{"linkId": "phq9_9", "answer": [answer]}]})
        elif place == "nested":
            items[0]["answer"][0].setdefault("item", []).append(answered("phq9_9", **answer))
        else:
            items.append({"linkId": "phq9_9", "answer": [answer]})
    result = fhir.score_questionnaire_response("phq9", qr(*items), on_error="invalid")
    assert result.valid is (len(set(values)) == 1)
    assert result.flag_ids == (["suicidal_ideation"] if max(values) >= 1 else [])
    assert result.undetermined_flags == ()
    assert result.scales["total"].score == (values[0] if len(set(values)) == 1 else None)


def test_a_conflict_on_another_item_leaves_the_flag_decided() -> None:
    response = qr(*phq9_items(item_9=0), answered("phq9_1", valueInteger=3))
    result = fhir.score_questionnaire_response("phq9", response, on_error="invalid")
    assert result.valid is False
    assert result.flags == result.undetermined_flags == ()  # the flag reads item 9 only
    assert result.scales["total"].reason == "item(s) phq9_1 invalid"
    assert result.scales["phq2"].score is None


def test_a_conflict_raises_a_scale_flag_that_one_reading_meets() -> None:
    # all 3: raw 15, percentage 60; reading who5_1 as 0 gives 48, below 52
    response = qr(
        *(answered(f"who5_{n}", valueInteger=3) for n in range(1, 6)),
        answered("who5_1", valueInteger=0),
    )
    result = fhir.score_questionnaire_response("who5", response, on_error="invalid")
    assert result.valid is False
    assert result.scales["percentage"].score is None
    assert [(f.id, f.items) for f in result.flags] == [
        ("poor_wellbeing", ("who5_1",)),
        ("item_answered_0_or_1", ("who5_1",)),
    ]
    assert result.undetermined_flags == ()


def test_a_readable_risk_answer_counts_beside_an_unreadable_one() -> None:
    unknown = {"valueCoding": {"system": fhir.LOINC, "code": "LA9999-9"}}
    response = qr(*phq9_items(item_9=2), {"linkId": "/44260-8", "answer": [unknown]})
    result = fhir.score_questionnaire_response("phq9", response, on_error="invalid")
    assert [i.code for i in result.issues] == ["unknown_answer_code"]
    assert result.flag_ids == ["suicidal_ideation"]
    assert result.undetermined_flags == ()


def test_many_conflicts_stay_bounded_and_never_clear_a_flag() -> None:
    # 5 x 5 x 5 = 125 readings, more than are scored: one item at a time instead, so the flag
    # that needs item 1 >= 1 and items 2 and 3 = 0 together stays undetermined, never clear
    every = [{"valueInteger": v} for v in range(5)]
    response = qr(*({"linkId": f"audit_c_{n}", "answer": every} for n in (1, 2, 3)))
    result = fhir.score_questionnaire_response(
        "audit_c", response, on_error="invalid", sex="female"
    )
    assert [i.code for i in result.issues] == ["conflicting_answers"] * 3
    assert result.flag_ids == []
    assert result.undetermined_flag_ids == ["points_from_item_1_only"]
    # within the bound every combination is scored, and the flag is raised
    few = [{"valueInteger": 0}, {"valueInteger": 1}]
    response = qr(*({"linkId": f"audit_c_{n}", "answer": few} for n in (1, 2, 3)))
    result = fhir.score_questionnaire_response(
        "audit_c", response, on_error="invalid", sex="female"
    )
    assert result.flag_ids == ["points_from_item_1_only"]
    assert result.flags[0].items == ("audit_c_1", "audit_c_2", "audit_c_3")
    assert result.undetermined_flag_ids == []


def test_an_unreadable_item_9_leaves_the_flag_undetermined() -> None:
    unknown = {"valueCoding": {"system": fhir.LOINC, "code": "LA9999-9"}}
    response = qr(*phq9_items(item_9=None), {"linkId": "phq9_9", "answer": [unknown]})
    result = fhir.score_questionnaire_response("phq9", response, on_error="invalid")
    assert result.valid is False
    assert result.flag_ids == []
    assert result.undetermined_flag_ids == ["suicidal_ideation"]
    assert result.undetermined_flags[0].items == ("phq9_9",)
    assert result.to_dict()["undetermined_flags"][0]["items"] == ["phq9_9"]


# --- Observations, RiskAssessment, Bundle -----------------------------------------------------

WHEN = datetime(2024, 5, 2, 10, 30, tzinfo=UTC)


def test_observations_of_the_contract_example(phq9_answers: dict[str, int]) -> None:
    result = screening.score("phq9", phq9_answers)
    total, phq2 = fhir.to_observations(
        "phq9",
        result,
        subject="Patient/123",
        effective=WHEN,
        questionnaire_response="QuestionnaireResponse/abc",
    )
    for obs in (total, phq2):
        validate(obs)
    assert total["status"] == "final"
    assert total["code"]["coding"] == [{"system": fhir.LOINC, "code": "44261-6"}]
    assert total["valueInteger"] == 15
    assert total["interpretation"] == [{"text": "moderately severe"}]
    assert total["subject"] == {"reference": "Patient/123"}
    assert total["effectiveDateTime"] == "2024-05-02T10:30:00+00:00"
    assert total["derivedFrom"] == [{"reference": "QuestionnaireResponse/abc"}]
    assert phq2["code"]["coding"][0]["code"] == "55758-7"
    assert "note" not in total


def test_observation_codes_without_loinc_and_fractional_scores() -> None:
    inst = screening.load_instrument(DEFINITIONS / "features.yaml")
    # features_3 is asked but missing: the total is prorated, (1 + 2 + 4) x 4/3, unrounded
    answers = {"features_1": 1, "features_2": 0, "features_4": 1, "features_5": 1, "features_6": 4}
    result = screening.score(inst, answers)
    assert result.scales["total"].score == pytest.approx(28 / 3)
    total, doubled = fhir.to_observations(inst, result)
    for obs in (total, doubled):
        validate(obs)
    assert total["valueQuantity"] == {
        "value": result.scales["total"].score,
        "unit": "{score}",
        "system": fhir.UCUM,
        "code": "{score}",
    }
    assert "Prorated from 3 of 4 items answered" in total["note"][0]["text"]
    assert doubled["code"]["coding"] == [
        {
            "system": fhir.SCORE_SYSTEM,
            "code": "features.doubled",
            "display": "Every feature of the format doubled score",
        }
    ]
    assert doubled["valueInteger"] == 6
    assert doubled["interpretation"] == [{"text": "high"}]


def test_unscored_scales_carry_a_data_absent_reason() -> None:
    result = screening.score(
        "phq9", {"phq9_4": 2, "phq9_5": 2, "phq9_6": 2, "phq9_7": 2, "phq9_8": 2, "phq9_9": 2}
    )
    total, phq2 = fhir.to_observations(
        "phq9", result, subject="Patient/1", effective=date(2024, 5, 2)
    )
    for obs in (total, phq2):
        validate(obs)
        assert obs["status"] == "final"
        assert "valueInteger" not in obs
        assert obs["dataAbsentReason"]["coding"][0]["system"] == fhir.DATA_ABSENT_REASON
        assert obs["dataAbsentReason"]["coding"][0]["code"] == "unknown"
    assert total["note"] == [{"text": "Not scored: 3 of 9 items missing (at most 2 allowed)."}]
    assert total["effectiveDateTime"] == "2024-05-02"
    assert fhir.to_observations("phq9", result, include_unscored=False) == []
    bad = screening.score("phq9", {"phq9_1": 7}, on_error="invalid")
    assert fhir.to_observations("phq9", bad)[0]["dataAbsentReason"]["coding"][0]["code"] == "error"


def test_references_and_times_are_checked() -> None:
    result = screening.score("phq2", {"phq2_1": 1, "phq2_2": 1})
    resource = {"resourceType": "QuestionnaireResponse", "id": "r1"}
    (obs,) = fhir.to_observations("phq2", result, questionnaire_response=resource)
    assert obs["derivedFrom"] == [{"reference": "QuestionnaireResponse/r1"}]
    (obs,) = fhir.to_observations("phq2", result, subject={"identifier": {"value": "x"}})
    assert obs["subject"] == {"identifier": {"value": "x"}}
    with pytest.raises(ValueError, match="needs a time zone"):
        fhir.to_observations("phq2", result, effective=datetime(2024, 5, 2, 10, 30))
    with pytest.raises(ValueError, match="is not a FHIR dateTime"):
        fhir.to_observations("phq2", result, effective="2024-05-02T10:30")
    with pytest.raises(ValueError, match="has no id to refer to"):
        fhir.to_observations(
            "phq2", result, questionnaire_response={"resourceType": "QuestionnaireResponse"}
        )
    with pytest.raises(ValueError, match="the result is for 'phq2', not 'phq9'"):
        fhir.to_observations("phq9", result)


def test_risk_assessment_of_a_phq9_item_9() -> None:
    answers = {f"phq9_{n}": 0 for n in range(1, 10)}
    assert fhir.to_risk_assessment("phq9", screening.score("phq9", answers), subject=None) is None
    result = screening.score("phq9", answers | {"phq9_9": 2})
    with pytest.raises(ValueError, match="needs a subject"):
        fhir.to_risk_assessment("phq9", result, subject=None)
    ra = fhir.to_risk_assessment(
        "phq9",
        result,
        subject="Patient/1",
        occurrence=WHEN,
        questionnaire_response="QuestionnaireResponse/q",
    )
    assert ra is not None
    validate(ra)
    assert ra["status"] == "final"
    assert ra["basis"] == [{"reference": "QuestionnaireResponse/q"}]
    assert ra["occurrenceDateTime"] == "2024-05-02T10:30:00+00:00"
    (prediction,) = ra["prediction"]
    assert prediction["qualitativeRisk"] == {"text": "critical"}
    assert prediction["outcome"] == {"text": "suicidal ideation"}
    assert ra["note"][0]["text"].startswith("suicidal_ideation (critical): Item 9 endorsed")
    assert "not a diagnosis" in ra["note"][-1]["text"]


def test_risk_assessment_states_undetermined_flags() -> None:
    # Before: no raised flag and no risk level gave no RiskAssessment, so an unanswered item 9
    # left no trace of the open question in the EHR.
    result = screening.score("phq9", {f"phq9_{n}": 0 for n in range(1, 9)})
    assert result.valid is True  # prorated from eight items
    assert result.undetermined_flag_ids == ["suicidal_ideation"]
    with pytest.raises(ValueError, match="needs a subject"):
        fhir.to_risk_assessment("phq9", result, subject=None)
    ra = fhir.to_risk_assessment("phq9", result, subject="Patient/1", occurrence=WHEN)
    assert ra is not None
    validate(ra)
    message = screening.load_instrument("phq9").flags[0].message
    assert ra["prediction"] == [
        {
            "outcome": {"text": "suicidal ideation"},
            "rationale": "suicidal_ideation: undetermined, item(s) phq9_9 not answered or "
            f"invalid; {message}",
        }
    ]
    assert [n["text"] for n in ra["note"]][:-1] == [
        "suicidal_ideation (critical): undetermined, neither raised nor ruled out: item(s) "
        "phq9_9 not answered or invalid."
    ]
    assert "not a diagnosis" in ra["note"][-1]["text"]
    bundle = fhir.result_bundle("phq9", result, subject="Patient/1")
    validate(bundle)
    assert bundle["entry"][-1]["resource"] == fhir.to_risk_assessment(
        "phq9", result, subject="Patient/1"
    )
    with pytest.raises(ValueError, match="needs a subject"):
        fhir.result_bundle("phq9", result)

    # an unreadable item 9 read from a QuestionnaireResponse: undetermined, stated
    unknown = {"valueCoding": {"system": fhir.LOINC, "code": "LA9999-9"}}
    response = qr(*phq9_items(item_9=None), {"linkId": "phq9_9", "answer": [unknown]})
    read = fhir.score_questionnaire_response("phq9", response, on_error="invalid")
    ra = fhir.to_risk_assessment("phq9", read, subject="Patient/1")
    assert ra is not None
    validate(ra)
    (prediction,) = ra["prediction"]
    assert "qualitativeRisk" not in prediction
    assert prediction["rationale"].startswith("suicidal_ideation: undetermined, item(s) phq9_9")
    assert ra["note"][-2]["text"].startswith("The result is not valid: linkId 'phq9_9'")

    # a flag left open by something other than an item (e.g. context) says so
    open_flag = result.undetermined_flags[0]._replace(items=())
    ra = fhir.to_risk_assessment(
        "phq9", result._replace(undetermined_flags=(open_flag,)), subject="Patient/1"
    )
    assert ra is not None
    assert ra["prediction"][0]["rationale"].startswith(
        "suicidal_ideation: undetermined, an answer or context it reads is missing or invalid; "
    )


def cssrs(*answers: int | None) -> screening.ScoreResult:
    ids = ["1", "2", "3", "4", "5", "6", "6a"]
    responses = {
        f"cssrs_screener_{i}": a for i, a in zip(ids, answers, strict=False) if a is not None
    }
    return screening.score("cssrs_screener", responses, on_error="invalid")


def test_risk_assessment_of_the_cssrs_triage() -> None:
    ra = fhir.to_risk_assessment("cssrs_screener", cssrs(1, 1, 0, 1, 0, 0), subject="Patient/1")
    assert ra is not None
    validate(ra)
    triage = ra["prediction"][0]
    assert triage["qualitativeRisk"] == {"text": "high risk"}
    assert triage["outcome"] == {"text": "suicide risk"}
    assert "question 4 or 5 Yes" in triage["rationale"]
    assert [p["outcome"]["text"] for p in ra["prediction"][1:]] == [
        "ideation with intent",
        "suicidal ideation",
    ]
    assert len(ra["note"]) == 3  # two flag messages and the disclaimer

    negative = fhir.to_risk_assessment(
        "cssrs_screener", cssrs(0, 0, None, None, None, 0), subject="Patient/1"
    )
    assert negative is not None
    validate(negative)
    assert negative["prediction"] == [
        {
            "outcome": {"text": "suicide risk"},
            "qualitativeRisk": {"text": "no positive response"},
            "rationale": "C-SSRS Screener triage (risk level): no positive response",
        }
    ]

    undetermined = fhir.to_risk_assessment("cssrs_screener", cssrs(1, None), subject="Patient/1")
    assert undetermined is not None
    validate(undetermined)
    assert "qualitativeRisk" not in undetermined["prediction"][0]
    assert "undetermined" in undetermined["prediction"][0]["rationale"]
    assert undetermined["note"][-2]["text"].startswith("The result is not valid: ")


def test_risk_classifications_chosen_by_the_caller() -> None:
    answers = {f"pcl5_{n}": 3 for n in range(1, 21)}
    result = screening.score("pcl5", answers)
    assert fhir.to_risk_assessment("pcl5", result, subject="Patient/1") is None
    ra = fhir.to_risk_assessment(
        "pcl5", result, subject="Patient/1", risk_classifications=["cut_point"]
    )
    assert ra is not None
    validate(ra)
    assert ra["prediction"][0]["qualitativeRisk"] == {"text": "probable PTSD"}
    with pytest.raises(ValueError, match="pcl5 has no classification triage"):
        fhir.to_risk_assessment(
            "pcl5", result, subject="Patient/1", risk_classifications=["triage"]
        )


@pytest.mark.parametrize("instrument_id", BUILTINS)
def test_bundles_of_every_golden_case(instrument_id: str) -> None:
    inst = screening.load_instrument(instrument_id)
    for case in inst.cases:
        result = screening.score(
            inst, case_responses(inst, case), on_error="invalid", **case.context
        )
        bundle = fhir.result_bundle(
            inst,
            result,
            subject="Patient/1",
            effective="2024-05-02",
            questionnaire_response="QuestionnaireResponse/1",
        )
        validate(bundle)
        kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
        assert kinds.count("Observation") == len(inst.scales)
        risky = bool(result.flags or result.undetermined_flags) or any(
            c.risk for c in inst.classifications.values()
        )
        assert kinds.count("RiskAssessment") == int(risky)


def test_to_bundle_keeps_order(phq9_answers: dict[str, int]) -> None:
    observations = fhir.to_observations("phq9", screening.score("phq9", phq9_answers))
    bundle = fhir.to_bundle(reversed(observations))
    validate(bundle)
    assert [e["resource"] for e in bundle["entry"]] == observations[::-1]


def test_review_fixes_category_entered_in_error_and_contradicting_codes() -> None:
    r = screening.score("phq9", {f"phq9_{i}": 1 for i in range(1, 10)})
    first = fhir.to_observations("phq9", r)
    first[0]["category"][0]["coding"][0]["code"] = "laboratory"
    assert fhir.to_observations("phq9", r)[0]["category"][0]["coding"][0]["code"] == "survey"

    entered = {
        "resourceType": "QuestionnaireResponse",
        "status": "entered-in-error",
        "item": [{"linkId": f"phq9_{i}", "answer": [{"valueInteger": 2}]} for i in range(1, 10)],
    }
    result = fhir.score_questionnaire_response("phq9", entered, on_error="invalid")
    with pytest.raises(ValueError, match="entered in error"):
        fhir.to_observations("phq9", result)

    weight = "http://hl7.org/fhir/StructureDefinition/itemWeight"
    foreign_loinc = {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "item": [
            {
                "linkId": "phq9_1",
                "answer": [
                    {
                        "valueCoding": {
                            "system": "http://loinc.org",
                            "code": "LA33-6",
                            "extension": [{"url": weight, "valueDecimal": 2}],
                        }
                    }
                ],
            }
        ],
    }
    with pytest.raises(screening.ResponseError, match=r"LA33-6 is not an option"):
        fhir.read_questionnaire_response("phq9", foreign_loinc)
    contradicting = {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "item": [
            {
                "linkId": "phq9_1",
                "answer": [
                    {
                        "valueCoding": {
                            "code": "LA6568-5",
                            "extension": [{"url": weight, "valueDecimal": 2}],
                        }
                    }
                ],
            }
        ],
    }
    with pytest.raises(screening.ResponseError, match="carries the weight 2"):
        fhir.read_questionnaire_response("phq9", contradicting)

    invalid = screening.score(
        "phq9", {**{f"phq9_{i}": 1 for i in range(1, 10)}, "phq9_3": 9}, on_error="invalid"
    )
    phq2 = next(o for o in fhir.to_observations("phq9", invalid) if "valueInteger" in o)
    assert any("The response is not valid" in n["text"] for n in phq2["note"])


# --- FHIR interop II: the official examples -----------------------------------------------------
# Each fixture is an example published with an HL7 (or MII) implementation guide, saved under
# tests/fhir/ as its guide gives it (JSON where the guide's source is JSON; converted from XML or
# FSH by hand where it is not, element for element, with nothing added).


def test_us_behavioral_health_profiles_phq9_example() -> None:
    """https://github.com/HL7/us-behavioral-health-profiles, input/resources/
    questionnaireresponse/phq-9-example-1.xml (converted to JSON): LOINC linkIds and answer
    codes, the total /44261-6 stated as 12, which agrees."""
    response = fixture("bhp-phq-9-example-1.json")
    r = fhir.score_questionnaire_response("phq9", response)
    assert r.valid is True
    assert r.issues == ()
    assert r.scales["total"].score == 12
    assert r.scales["total"].band == "moderate"
    assert r.flag_ids == []
    assert fhir.read_questionnaire_response("phq9", response)["phq9_10"] == 1  # /69722-7


def test_us_core_phq9_example() -> None:
    """https://github.com/HL7/US-Core, input/examples/QuestionnaireResponse-phq-9-example.json:
    the same answers, the total /44261-6 stated as valueDecimal 12, which agrees."""
    r = fhir.score_questionnaire_response("phq9", fixture("us-core-phq-9-example.json"))
    assert (r.valid, r.issues, r.scales["total"].score) == (True, (), 12)


def test_us_behavioral_health_profiles_cssrs_example() -> None:
    """https://github.com/HL7/us-behavioral-health-profiles, input/resources/
    questionnaireresponse/C-SSRS-example-1.xml (converted to JSON): every answer No, the
    follow-ups included, and the risk level /93374-7 stated as Low (LA9194-7).

    Deviation: this definition follows the printed screener, whose legend names no level when
    every answer is No ("no positive response", see cssrs_screener.yaml's cases), so the form's
    "Low" is noted as differing; the answers themselves are read and valid (a No to a follow-up
    that was not asked agrees with the skip)."""
    r = fhir.score_questionnaire_response("cssrs_screener", fixture("bhp-c-ssrs-example-1.json"))
    assert r.valid is True
    assert r.flag_ids == []
    assert r.undetermined_flag_ids == []
    assert r.classifications["triage"] == "no positive response"
    (note,) = r.issues
    assert (note.code, note.severity, note.path) == (
        "form_classification_differs",
        "warning",
        ("item", 7, "answer", 0),
    )
    assert "the form states C-SSRS Screener triage (risk level) as 'Low' (LA9194-7)" in note.message
    assert "screening classifies it as 'no positive response'" in note.message


@pytest.mark.parametrize(
    ("name", "instrument_id", "total", "band"),
    [("phr-phq9.json", "phq9", 3, "minimal"), ("phr-gad7.json", "gad7", 3, "minimal")],
)
def test_personal_health_record_format_examples(
    name: str, instrument_id: str, total: int, band: str
) -> None:
    """https://github.com/HL7/personal-health-record-format-ig, input/fsh/pghd/examples/Mind/
    QuestionnaireResponse-ScoredAssessment-PHQ9.fsh and -GAD7.fsh (converted from FSH: the
    questionnaire canonical and Patient/1 are what SUSHI makes of Canonical(...) and
    Reference(PGHDPatientExample)). LinkIds are bare LOINC codes; the scores are stated in the
    guide's Observations (Observation-PHR-ScoredAssessment-PHQ9.fsh / -GAD7.fsh): 3, "Minimal"
    for both."""
    r = fhir.score_questionnaire_response(instrument_id, fixture(name))
    assert (r.valid, r.issues) == (True, ())
    assert (r.scales["total"].score, r.scales["total"].band) == (total, band)


def test_mii_phq9_example_with_system_less_codes() -> None:
    """https://github.com/medizininformatik-initiative/kerndatensatzmodul-proms, fsh-generated/
    resources/QuestionnaireResponse-mii-exa-pro-phq-9-response.json: answer codes without a
    system, linkIds PHQ.1 ... (its own Questionnaire says PHQ-9.1 ..., so the caller maps them),
    the score PHQ.Score as a valueQuantity 27."""
    response = fixture("mii-phq-9-response.json")
    link_ids: dict[str, str | None] = {f"PHQ.{n}": f"phq9_{n}" for n in range(1, 11)}
    with pytest.raises(ResponseError, match=r"linkId 'PHQ\.1' .* matches no item"):
        fhir.score_questionnaire_response("phq9", response)
    r = fhir.score_questionnaire_response(
        "phq9", response, link_ids={**link_ids, "PHQ.Score": "scale.total"}
    )
    assert r.valid is True
    assert r.scales["total"].score == 27
    assert r.flag_ids == ["suicidal_ideation"]
    assert {i.code for i in r.issues} == {"code_without_system"}
    assert len(r.issues) == 10
    assert all(i.severity == "warning" for i in r.issues)
    assert (
        "answer code LA6571-9 has no system; read as http://loinc.org LA6571-9 (Nearly every "
        in (r.issues[0].message)
    )
    stated = {**response, "item": [*response["item"][:-1], answered("PHQ.Score", valueInteger=26)]}
    differs = fhir.score_questionnaire_response(
        "phq9", stated, link_ids={**link_ids, "PHQ.Score": "scale.total"}
    )
    (note,) = [i for i in differs.issues if i.code == "form_score_differs"]
    assert "the form states the phq9 total score as 26; screening scores 27" in note.message


def test_us_core_audit_c_example_is_refused_for_its_first_question() -> None:
    """https://github.com/HL7/US-Core, input/examples/QuestionnaireResponse-AUDIT-C.json and
    Questionnaire-AUDIT-C.json. Its first question is /68517-2 (how many times X or more drinks
    in a day), not the AUDIT-C's 68518-0 (how often a drink containing alcohol): refused as no
    item, never scored in its place. Its other answers are read by their LOINC codes, and the
    stated total 0 cannot be confirmed, which is noted."""
    response = fixture("us-core-audit-c.json")
    questionnaire = fixture("us-core-questionnaire-audit-c.json")
    with pytest.raises(ResponseError) as caught:
        fhir.read_questionnaire_response("audit_c", response, questionnaire=questionnaire)
    assert [i.code for i in caught.value.issues] == ["unmatched_link_id"]
    assert "--link-id '/68517-2=ITEM'" in caught.value.issues[0].message
    read = fhir.read_questionnaire_response(
        "audit_c", response, link_ids={"/68517-2": None}, questionnaire=questionnaire
    )
    assert read == {"audit_c_2": 0, "audit_c_3": 0}
    r = fhir.score_questionnaire_response(
        "audit_c", response, link_ids={"/68517-2": None}, sex="female", on_error="invalid"
    )
    assert r.valid is False  # item 1 is missing, and the AUDIT-C allows none
    (note,) = [i for i in r.issues if i.severity == "warning"]
    assert note.code == "form_score_differs"
    assert "screening did not score it (1 of 3 items missing (none allowed))" in note.message


# --- weights from the Questionnaire a response answers ------------------------------------------

LOCAL = "http://example.org/CodeSystem/phq-answers"


def local_questionnaire(**changes: Any) -> Json:
    """A PHQ-9 Questionnaire of another form: linkIds q1..q9 coded in LOINC, answers in a local
    code system with their scores on the answerOption (as SDC and LHC-Forms put them)."""
    items = []
    for n, loinc in enumerate(
        ["44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5", "44253-3"],
        start=1,
    ):
        items.append(
            {
                "linkId": f"q{n}",
                "code": [{"system": fhir.LOINC, "code": loinc}],
                "type": "choice",
                "answerOption": [
                    {
                        "valueCoding": {"system": _system(n), "code": code},
                        "extension": [{"url": fhir.ITEM_WEIGHT, "valueDecimal": weight}],
                    }
                    for weight, code in enumerate(_codes(n))
                ],
            }
        )
    q: Json = {
        "resourceType": "Questionnaire",
        "id": "local-phq9",
        "url": "http://example.org/Questionnaire/local-phq9",
        "status": "active",
        "item": [{"linkId": "group", "type": "group", "item": items}],
    }
    q.update(changes)
    return q


def _system(n: int) -> str:
    return fhir.LOINC if n == 8 else LOCAL


def _codes(n: int) -> list[str]:
    # item 8 answers in LOINC codes that are no PHQ-9 option (the C-SSRS's No/Yes and more)
    return ["LA32-8", "LA33-6", "LA6270-8", "LA10137-0"] if n == 8 else ["a", "b", "c", "d"]


def coded(link_id: str, system: str, code: str, **extra: Any) -> Json:
    return {
        "linkId": link_id,
        "answer": [{"valueCoding": {"system": system, "code": code, **extra}}],
    }


def test_weights_come_from_the_questionnaire_the_response_answers() -> None:
    response = {
        **qr(coded("q1", LOCAL, "b"), coded("q2", LOCAL, "d"), coded("q8", fhir.LOINC, "LA6270-8")),
        "questionnaire": "http://example.org/Questionnaire/local-phq9",
    }
    # matched by the Questionnaire's item codes, answers weighed by its answerOptions
    read = fhir.read_questionnaire_response("phq9", response, questionnaire=local_questionnaire())
    assert read == {"phq9_1": 1, "phq9_2": 3, "phq9_8": 2}
    # a LOINC code that is no option, weighed alike by the answer and the Questionnaire
    weighed = {"extension": [{"url": fhir.ITEM_WEIGHT, "valueDecimal": 3}]}
    both = qr(coded("q8", fhir.LOINC, "LA10137-0", **weighed))
    assert fhir.read_questionnaire_response("phq9", both, questionnaire=local_questionnaire()) == {
        "phq9_8": 3
    }
    # without it, nothing says what q1 is or what "b" scores
    error = read_error("phq9", response)
    assert {i.code for i in error.issues} == {"unmatched_link_id"}


def test_codes_neither_ours_nor_in_the_questionnaire_are_refused() -> None:
    q = local_questionnaire()
    unknown = qr(coded("q1", LOCAL, "z"), coded("q8", fhir.LOINC, "LA6568-5x"))
    error = read_error("phq9", unknown, questionnaire=q)
    assert [i.code for i in error.issues] == ["unknown_answer_code", "unknown_answer_code"]
    assert "nor does the Questionnaire give it one" in error.issues[0].message
    assert "nor an answerOption of the Questionnaire's item" in error.issues[1].message
    # a LOINC code that is no option, carrying a weight, is not taken on trust without it
    weighed = {"extension": [{"url": fhir.ITEM_WEIGHT, "valueDecimal": 1}]}
    foreign = qr(coded("phq9_8", fhir.LOINC, "LA33-6", **weighed))
    assert read_error("phq9", foreign).issues[0].code == "unknown_answer_code"


def test_weights_of_the_questionnaire_and_of_the_answer_must_agree() -> None:
    q = local_questionnaire()
    weighed = {"extension": [{"url": fhir.ITEM_WEIGHT, "valueDecimal": 3}]}
    error = read_error("phq9", qr(coded("q1", LOCAL, "b", **weighed)), questionnaire=q)
    assert error.issues[0].code == "conflicting_answer"
    assert "carries the weight 3 but the Questionnaire gives it 1" in error.issues[0].message
    # our own LOINC answer codes score as the definition says, whatever a form weighs them
    ours = local_questionnaire()
    option = ours["item"][0]["item"][0]["answerOption"][0]
    option["valueCoding"] = {"system": fhir.LOINC, "code": "LA6571-9"}  # "nearly every day" = 0?
    error = read_error("phq9", qr(coded("q1", fhir.LOINC, "LA6571-9")), questionnaire=ours)
    assert "scores 3 on item 'phq9_1' but the Questionnaire gives it the weight 0" in str(error)


def test_a_questionnaire_the_response_does_not_answer_is_refused() -> None:
    response = {
        **qr(coded("q1", LOCAL, "b")),
        "questionnaire": "http://example.org/Questionnaire/other",
    }
    with pytest.raises(ValueError, match=r"answers http://example\.org/Questionnaire/other, not"):
        fhir.read_questionnaire_response("phq9", response, questionnaire=local_questionnaire())
    versioned = {**response, "questionnaire": "http://example.org/Questionnaire/local-phq9|2"}
    with pytest.raises(ValueError, match=r"not the questionnaire given \(.*local-phq9\|1\)"):
        fhir.read_questionnaire_response(
            "phq9", versioned, questionnaire=local_questionnaire(version="1")
        )
    by_id = {**response, "questionnaire": "Questionnaire/local-phq9"}
    assert fhir.read_questionnaire_response("phq9", by_id, questionnaire=local_questionnaire()) == {
        "phq9_1": 1
    }
    with pytest.raises(ValueError, match="questionnaire must be a FHIR Questionnaire"):
        fhir.read_questionnaire_response("phq9", response, questionnaire={"resourceType": "x"})


def test_weights_inside_the_answer_options_coding_are_read_too() -> None:
    """An older export (ours before this version) put the itemWeight in the valueCoding."""
    q = copy.deepcopy(fhir.to_questionnaire("epds"))
    for item in q["item"]:
        for option in item.get("answerOption", []):
            option["valueCoding"]["extension"] = option.pop("extension")
            option["valueCoding"]["system"] = LOCAL
    epds_3 = next(i for i in q["item"] if i["linkId"] == "epds_3")
    code = epds_3["answerOption"][0]["valueCoding"]["code"]  # value 0, reversed: scores 3
    read = fhir.read_questionnaire_response(
        "epds", qr(coded("epds_3", LOCAL, code)), questionnaire=q
    )
    assert read == {"epds_3": 0}


# --- what the form states, the status, codes without a system ---------------------------------


def phq9_response(*extra: Json, status: str = "completed", values: int = 1) -> Json:
    items = [answered(f"phq9_{n}", valueInteger=values) for n in range(1, 10)]
    return qr(*items, *extra, status=status)


@pytest.mark.parametrize(
    ("stated", "message"),
    [
        (
            answered("/44261-6", valueInteger=12),
            "linkId '/44261-6' (item[9]): the form states the phq9 total score as 12; "
            "screening scores 9. The form's figure is not used",
        ),
        (
            answered("scale.total", valueQuantity={"value": 8.5}),
            "the form states the phq9 total score as 8.5; screening scores 9",
        ),
        (
            {
                "linkId": "t",
                "code": [{"system": fhir.LOINC, "code": "44261-6"}],
                "answer": [{"valueString": "nine"}],
            },
            "the form states the phq9 total score as valueString 'nine', which is not a number: "
            "not compared",
        ),
    ],
)
def test_a_stated_score_that_differs_is_noted(stated: Json, message: str) -> None:
    r = fhir.score_questionnaire_response("phq9", phq9_response(stated))
    assert r.valid is True
    assert r.scales["total"].score == 9
    (note,) = r.issues
    assert (note.code, note.severity) == ("form_score_differs", "warning")
    assert message in note.message
    agreeing = fhir.score_questionnaire_response(
        "phq9", phq9_response(answered("/44261-6", valueDecimal=9.0))
    )
    assert agreeing.issues == ()


def test_a_stated_score_against_a_prorated_or_unscored_scale() -> None:
    items = [answered(f"phq9_{n}", valueInteger=1) for n in range(1, 9)]
    r = fhir.score_questionnaire_response("phq9", qr(*items, answered("/44261-6", valueInteger=8)))
    (note,) = r.issues
    assert "screening scores 9, prorated from 8 of 9 items answered (unrounded 9)" in note.message
    few = qr(answered("phq9_1", valueInteger=1), answered("/44261-6", valueInteger=1))
    r = fhir.score_questionnaire_response("phq9", few)
    (note,) = [i for i in r.issues if i.code == "form_score_differs"]
    assert "screening did not score it (8 of 9 items missing (at most 2 allowed))" in note.message


def test_a_stated_classification_is_compared() -> None:
    def triage(*answers: int, level: str) -> Json:
        items = [
            answered(f"cssrs_screener_{n}", valueBoolean=bool(v))
            for n, v in zip((1, 2, 6), answers, strict=True)
        ]
        coding = {"system": fhir.LOINC, "code": "LA-x", "display": level}
        return qr(*items, answered("/93374-7", valueCoding=coding))

    agrees = fhir.score_questionnaire_response("cssrs_screener", triage(1, 0, 0, level="Low"))
    assert agrees.classifications["triage"] == "low risk"
    assert agrees.issues == ()  # "Low" and "low risk" are one level
    differs = fhir.score_questionnaire_response("cssrs_screener", triage(1, 0, 0, level="High"))
    (note,) = differs.issues
    assert note.code == "form_classification_differs"
    assert "as 'High' (LA-x); screening classifies it as 'low risk'" in note.message
    unknown = fhir.score_questionnaire_response(
        "cssrs_screener",
        qr(answered("/93374-7", valueString="Moderate")),
        on_error="invalid",
    )
    (note,) = unknown.issues
    assert "screening's is undetermined" in note.message


@pytest.mark.parametrize("status", ["in-progress", "stopped", None, "draft"])
def test_a_response_that_is_not_completed_is_noted_or_refused(status: str | None) -> None:
    response = phq9_response()
    if status is None:
        del response["status"]
    else:
        response["status"] = status
    r = fhir.score_questionnaire_response("phq9", response)
    assert r.valid is True
    (note,) = r.issues
    assert (note.code, note.severity, note.path) == ("incomplete_response", "warning", ("status",))
    assert "scored as given (require_completed=True refuses it)" in note.message
    refused = fhir.score_questionnaire_response(
        "phq9", response, require_completed=True, on_error="invalid"
    )
    assert refused.valid is False
    assert refused.issues[0].severity == "error"
    assert "refused: require_completed is set" in refused.reasons[0]
    with pytest.raises(ResponseError, match="require_completed"):
        fhir.read_questionnaire_response("phq9", response, require_completed=True)
    assert fhir.read_questionnaire_response("phq9", response)["phq9_1"] == 1


def test_completed_and_amended_responses_need_no_note() -> None:
    for status in ("completed", "amended"):
        assert fhir.score_questionnaire_response("phq9", phq9_response(status=status)).issues == ()
    with pytest.raises(ValueError, match="require_completed must be True or False"):
        fhir.score_questionnaire_response("phq9", phq9_response(), require_completed="yes")  # type: ignore[arg-type]


def test_a_code_without_a_system() -> None:
    r = fhir.score_questionnaire_response(
        "phq9", qr(answered("phq9_1", valueCoding={"code": "LA6570-1"}))
    )
    assert fhir.read_questionnaire_response(
        "phq9", qr(answered("phq9_1", valueCoding={"code": "LA6570-1"}))
    ) == {"phq9_1": 2}
    (note,) = r.issues
    assert (note.code, note.severity, note.item) == ("code_without_system", "warning", "phq9_1")
    assert "read as http://loinc.org LA6570-1 (More than half the days), the only option" in (
        note.message
    )
    ours = fhir.read_questionnaire_response(
        "epds", qr(answered("epds_1", valueCoding={"code": "epds.epds_1.2"}))
    )
    assert ours == {"epds_1": 2}
    missing = read_error("epds", qr(answered("epds_1", valueCoding={"code": "LA6570-1"})))
    assert missing.issues[0].code == "code_without_system"
    assert "has no system (valueCoding.system is missing)" in missing.issues[0].message


def test_link_ids_may_name_a_scale_and_are_checked() -> None:
    response = phq9_response(answered("TOTAL", valueInteger=10))
    r = fhir.score_questionnaire_response("phq9", response, link_ids={"TOTAL": "scale.total"})
    assert [i.code for i in r.issues] == ["form_score_differs"]
    with pytest.raises(ValueError, match=r"or a scale \(scale.total, scale.phq2\)"):
        fhir.read_questionnaire_response("phq9", response, link_ids={"TOTAL": "scale.totl"})


# --- the canonical base -----------------------------------------------------------------------


def test_the_canonical_base_is_configurable() -> None:
    base = "https://fhir.example.org/screening"
    q = fhir.to_questionnaire("epds", canonical_base=base)
    validate(q)
    assert q["url"] == f"{base}/Questionnaire/epds"
    systems = {o["valueCoding"]["system"] for i in q["item"] for o in i.get("answerOption", [])}
    assert systems == {f"{base}/CodeSystem/answer"}
    assert fhir.to_questionnaire("epds")["url"] == f"{fhir.CANONICAL_BASE}/Questionnaire/epds"
    # a response coded under that base is read with it, and only with it
    response = qr(answered("epds_1", valueCoding=q["item"][1]["answerOption"][2]["valueCoding"]))
    assert fhir.read_questionnaire_response("epds", response, canonical_base=base) == {"epds_1": 2}
    assert read_error("epds", response).issues[0].code == "unknown_answer_code"
    r = screening.score("epds", {f"epds_{n}": 1 for n in range(1, 11)})
    codes = [o["code"]["coding"][0] for o in fhir.to_observations("epds", r, canonical_base=base)]
    assert {c["system"] for c in codes} == {f"{base}/CodeSystem/score"}
    for bad in ("ftp://x.org", "https://x.org/", "https://x.org/a?b", "https://x.org|1", ""):
        with pytest.raises(ValueError, match="canonical_base must be an absolute http"):
            fhir.to_questionnaire("epds", canonical_base=bad)


# --- the command line -------------------------------------------------------------------------


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    from screening.cli import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_link_ids_for_fhir_input(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(FIXTURES / "mii-phq-9-response.json")
    maps = [f"--link-id=PHQ.{n}=phq9_{n}" for n in range(1, 11)]
    code, out, _ = cli(capsys, "score", "phq9", path, *maps, "--link-id", "PHQ.Score=")
    assert code == 0
    result = json.loads(out)
    assert (result["valid"], result["scales"]["total"]["score"]) == (True, 27)
    assert {i["code"] for i in result["issues"]} == {"code_without_system"}
    assert all(i["severity"] == "warning" for i in result["issues"])
    code, out, _ = cli(capsys, "score", "phq9", path)
    assert "--link-id 'PHQ.1=ITEM'" in json.loads(out)["issues"][0]["message"]
    code, _, err = cli(capsys, "score", "phq9", path, "--map", "phq9_1=PHQ.1")
    assert code == 2
    assert "--link-id LINKID=ITEM" in err
    assert "link_ids" not in err
    code, _, err = cli(capsys, "score", "phq9", path, "--link-id", "PHQ.1=nope")
    assert (code, "which is not an item of phq9" in err) == (2, True)
    code, _, err = cli(capsys, "score", "phq9", path, "--link-id", "PHQ.1")
    assert (code, "--link-id takes LINKID=ITEM" in err) == (2, True)


def test_cli_fhir_options_are_refused_elsewhere(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    plain = tmp_path / "r.json"
    plain.write_text(json.dumps({f"phq9_{n}": 1 for n in range(1, 10)}))
    code, _, err = cli(capsys, "score", "phq9", str(plain), "--link-id", "a=phq9_1")
    assert (code, "applies to a FHIR QuestionnaireResponse only" in err) == (2, True)
    table = tmp_path / "r.csv"
    table.write_text("phq9_1\n1\n")
    code, _, err = cli(capsys, "score", "phq9", str(table), "--canonical-base", "https://x.org")
    assert (code, "not to a table" in err) == (2, True)
    code, _, err = cli(
        capsys, "export", "phq9", "--format", "redcap", "--canonical-base", "https://x.org"
    )
    assert (code, "fhir-questionnaire only" in err) == (2, True)


def test_cli_canonical_base(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    base = "https://fhir.example.org/screening"
    code, out, _ = cli(
        capsys, "export", "epds", "--format", "fhir-questionnaire", "--canonical-base", base
    )
    assert code == 0
    q = json.loads(out)
    assert q["url"] == f"{base}/Questionnaire/epds"
    coding = q["item"][1]["answerOption"][3]["valueCoding"]
    path = tmp_path / "qr.json"
    path.write_text(json.dumps(qr(answered("epds_1", valueCoding=coding))))
    code, out, _ = cli(capsys, "score", "epds", str(path), "--canonical-base", base)
    assert json.loads(out)["issues"] == []
    code, out, _ = cli(capsys, "score", "epds", str(path))
    assert json.loads(out)["issues"][0]["code"] == "unknown_answer_code"
    code, _, err = cli(capsys, "score", "epds", str(path), "--canonical-base", "x")
    assert (code, "canonical_base must be" in err) == (2, True)


def test_a_coding_does_not_apply_to_a_questionnaire_response() -> None:
    """Answers are read into the definition's own options; a coding would re-read them."""
    response = qr(*(answered(f"k10_{n}", valueInteger=3) for n in range(1, 11)))
    assert fhir.score_questionnaire_response("k10", response).scales["total"].score == 30
    with pytest.raises(ValueError, match="coding= does not apply to a QuestionnaireResponse"):
        fhir.score_questionnaire_response("k10", response, coding="us")


def test_an_observation_says_which_coding_the_answers_were_read_in() -> None:
    answers = {f"k10_{n}": 2 for n in range(1, 11)}
    us = fhir.to_observations("k10", screening.score("k10", answers, coding="us"))
    assert us[0]["method"]["text"].endswith(", answers read in its us coding")
    plain = fhir.to_observations(
        "gad7", screening.score("gad7", {f"gad7_{n}": 0 for n in range(1, 8)})
    )
    assert "coding" not in plain[0]["method"]["text"]
