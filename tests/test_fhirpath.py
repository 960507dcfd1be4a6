"""Every exported Questionnaire is computable by fhirpath.js, the FHIRPath engine behind
LHC-Forms: each scale's calculatedExpression, evaluated on responses that send answer codes
alone (no weights, as EHRs send them), gives the score `score()` gives.

fhirpath.js (npm `fhirpath`, pinned in .ci/node/package.json; `.ci/run` installs it) finds an
answer's weight on the Questionnaire's answerOption of its code, given the Questionnaire as
`%questionnaire` (docs/weight.md of https://github.com/HL7/fhirpath.js). The tests are skipped,
with that reason, only where node is not installed; where node is, the package must be.

What a form can compute is the sum of the answers' weights, the skip scores of skipped items and
the multiplier; the missing-data rule (proration) and the bands are the scorer's (a designNote
says so). So a complete response (every question asked is answered) must agree with the score
exactly, and one with unanswered questions with `raw` times the multiplier: a skip score counts
only where the question's gate is answered and does not hold (a question asked and left blank
is missing, not skipped), as the scorer counts it.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import random
import shutil
import subprocess
from typing import Any, NamedTuple

import pytest

import screening
from screening import fhir
from screening.rules import Env
from screening.scoring import plan_for
from screening.steps import steps_of

from .conftest import ROOT

Json = dict[str, Any]

BUILTINS = screening.list_instruments()
NODE = shutil.which("node")
MODULES = ROOT / ".ci" / "node" / "node_modules"
COMPLETE, PARTIAL = 40, 20
"""Responses generated per instrument: every asked question answered; some left unanswered."""

pytestmark = pytest.mark.skipif(
    NODE is None,
    reason="node is not installed: the exported Questionnaires' calculatedExpressions are not "
    "evaluated with fhirpath.js (install Node.js, then npm ci --prefix .ci/node)",
)

# Reads {"questionnaires": [...], "cases": [{"q": index, "qr": {...}, "expressions": [...]}]}
# on stdin and writes, per case, per expression, {"value": [...]} or {"error": "..."}.
EVALUATE = """
const fhirpath = require('fhirpath');
const r4 = require('fhirpath/fhir-context/r4');
const chunks = [];
process.stdin.on('data', (c) => chunks.push(c));
process.stdin.on('end', async () => {
  const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const out = [];
  for (const c of input.cases) {
    const q = input.questionnaires[c.q];
    const row = [];
    for (const expression of c.expressions) {
      try {
        const value = await fhirpath.evaluate(
          c.qr, expression, {resource: c.qr, questionnaire: q}, r4, {async: true});
        row.push({value});
      } catch (e) {
        row.push({error: String(e && e.message ? e.message : e)});
      }
    }
    out.push(row);
  }
  process.stdout.write(JSON.stringify(out));
});
"""


def _install_fhirpath() -> None:
    """The pinned fhirpath.js (.ci/node/package-lock.json), installed once where node is: the
    README's test command then runs these tests on a fresh machine, as `.ci/run` does."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("node is installed but npm is not: install npm, then npm ci --prefix .ci/node")
    done = subprocess.run(
        [npm, "ci", "--prefix", str(MODULES.parent), "--no-audit", "--no-fund", "--silent"],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if done.returncode != 0 or not (MODULES / "fhirpath").is_dir():
        pytest.fail(f"npm ci --prefix .ci/node failed: {done.stderr.strip()[-500:]}")


def evaluate(questionnaires: list[Json], cases: list[Json]) -> list[list[Json]]:
    """fhirpath.js's results for each case's expressions, in one node process."""
    assert NODE is not None
    if not (MODULES / "fhirpath").is_dir():
        _install_fhirpath()
    done = subprocess.run(
        [NODE, "-e", EVALUATE],
        input=json.dumps({"questionnaires": questionnaires, "cases": cases}),
        capture_output=True,
        text=True,
        check=False,
        cwd=MODULES.parent,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    results: list[list[Json]] = json.loads(done.stdout)
    return results


def _expressions(q: Json) -> dict[str, str]:
    """Each scale's calculatedExpression by its linkId."""
    out = {}
    for item in q["item"]:
        for ext in item.get("extension", []):
            if ext["url"] == fhir.CALCULATED_EXPRESSION:
                out[item["linkId"]] = ext["valueExpression"]["expression"]
    return out


class Case(NamedTuple):
    instrument: str
    answers: dict[str, int]
    context: dict[str, str]
    complete: bool
    skip_terms: int
    """How many skipped, unanswered items add their skip score."""
    answered_skipped: frozenset[str]
    """Skipped questions answered all the same."""
    response: Json


def _response(
    instrument_id: str, rng: random.Random, *, complete: bool
) -> tuple[dict[str, int], dict[str, Any], int, frozenset[str], Json] | None:
    """Code-only answers to the exported Questionnaire, following its skip logic; sometimes an
    answer to a skipped question where the definition accepts one (a self-report form asks
    every question; a "No" to an unasked follow-up). None when an unanswered question that was
    asked has a skip score (see the module docstring)."""
    inst = screening.load_instrument(instrument_id)
    q_items = {i["linkId"]: i for i in fhir.to_questionnaire(inst)["item"]}
    plan = plan_for(inst)
    context = {name: rng.choice(var.values or [0]) for name, var in inst.context.items()}
    scores: dict[str, int] = {}
    skipped: set[str] = set()
    answers: dict[str, int] = {}
    items: list[Json] = []
    skip_terms = 0
    answered_skipped: set[str] = set()
    for item, item_plan in zip(inst.items, plan.items, strict=True):
        listed = [o.value for o in inst.item_options(item)]
        values = [v for v in listed if v in item_plan.scores]  # a scoreless non-answer: none
        truth = (
            True
            if item_plan.ask_if is None
            else item_plan.ask_if(Env(scores, skipped, {}, context))
        )
        if truth is None:  # a gate unanswered: asked, unanswered, missing (no skip score)
            continue
        asked = truth is True
        if not asked:
            skipped.add(item.id)
            choices = values if item.answered_when_skipped == "score" else []
            choices += [v for v in item.accept_when_skipped if item_plan.scores[v] == 0]
            if choices and rng.random() < 0.3:
                value = rng.choice(choices)
                answered_skipped.add(item.id)
            else:
                if item_plan.if_skipped is not None:
                    scores[item.id] = item_plan.if_skipped
                    skip_terms += 1
                continue
        elif not complete and rng.random() < 0.2:
            continue  # asked and unanswered: missing, even where a skip would score
        else:
            value = rng.choice(values)
        answers[item.id] = value
        if asked or item.answered_when_skipped == "score":
            scores[item.id] = item_plan.scores[value]
        if item.number is not None:  # a whole number: valueInteger
            items.append({"linkId": item.id, "answer": [{"valueInteger": value}]})
            continue
        option = q_items[item.id]["answerOption"][listed.index(value)]
        coding = {k: option["valueCoding"][k] for k in ("system", "code")}  # the code alone
        items.append({"linkId": item.id, "answer": [{"valueCoding": coding}]})
    response = {"resourceType": "QuestionnaireResponse", "status": "completed", "item": items}
    return answers, context, skip_terms, frozenset(answered_skipped), response


def _cases(instrument_id: str) -> list[Case]:
    rng = random.Random(f"fhirpath {instrument_id}")  # noqa: S311 (test data, not a secret)
    cases = []
    for complete, count in ((True, COMPLETE), (False, PARTIAL)):
        made = 0
        for _ in range(count * 10):
            drawn = _response(instrument_id, rng, complete=complete)
            if drawn is not None:
                answers, context, terms, answered_skipped, response = drawn
                case = Case(
                    instrument_id, answers, context, complete, terms, answered_skipped, response
                )
                cases.append(case)
                made += 1
            if made == count:
                break
    return cases


class Evaluated(NamedTuple):
    case: Case
    scale: str
    result: Json


@functools.cache
def evaluations() -> dict[str, list[Evaluated]]:
    """Every built-in's cases evaluated with fhirpath.js, by instrument."""
    questionnaires = [fhir.to_questionnaire(i) for i in BUILTINS]
    cases, keys = [], []
    for index, (instrument_id, q) in enumerate(zip(BUILTINS, questionnaires, strict=True)):
        expressions = _expressions(q)
        for case in _cases(instrument_id):
            cases.append({"q": index, "qr": case.response, "expressions": [*expressions.values()]})
            keys.append((case, [link[len(fhir.SCALE_LINK_PREFIX) :] for link in expressions]))
    out: dict[str, list[Evaluated]] = {i: [] for i in BUILTINS}
    for (case, scales), row in zip(keys, evaluate(questionnaires, cases), strict=True):
        out[case.instrument] += [Evaluated(case, s, r) for s, r in zip(scales, row, strict=True)]
    return out


@pytest.mark.parametrize("instrument_id", BUILTINS)
def test_fhirpath_js_computes_every_scale_as_score_does(instrument_id: str) -> None:
    inst = screening.load_instrument(instrument_id)
    done = evaluations()[instrument_id]
    computed = []  # a form computes these; the others are the scorer's (a note says so)
    for scale in inst.scales.values():
        steps = steps_of(inst, scale)
        assert steps is not None
        if steps.fhirpath() is not None:
            computed.append(scale)
    assert len(done) >= (COMPLETE + PARTIAL // 2) * len(computed)
    compared = 0
    for evaluated in done:
        case, name = evaluated.case, evaluated.scale
        assert "error" not in evaluated.result, (name, evaluated.result, case.response)
        value = evaluated.result["value"]
        result = screening.score(inst, case.answers, on_error="invalid", **case.context)
        scaled = result.scales[name]
        multiplier = inst.scales[name].multiplier
        if inst.scales[name].method == "mean":  # over every item: all are required
            multiplier = multiplier / len(inst.scales[name].items)
        if value == []:  # FHIRPath's sum of nothing is empty: no item of the scale answered
            assert not set(inst.scales[name].items) & set(case.answers), (name, case.answers)
            assert scaled.score is None, (name, scaled)
        elif case.complete:
            assert scaled.score is not None, (name, scaled.reason)
            assert math.isclose(value[0], scaled.score), (name, value, scaled, case.answers)
        else:
            assert scaled.raw is not None
            assert math.isclose(value[0], scaled.raw * multiplier), (name, value, scaled)
        assert len(value) <= 1, (name, value)
        compared += 1
    assert compared == len(done)


def test_the_generated_responses_reach_every_term() -> None:
    """Skip scores (K10), answers to skipped questions (AUDIT, K10, PHQ-15), reversed items
    (EPDS) and multipliers (DASS-21, WHO-5) are among the cases evaluated."""
    done = [e for found in evaluations().values() for e in found]
    assert any(e.case.instrument == "k10" and e.case.skip_terms for e in done)
    for instrument_id in ("audit", "k10", "phq15"):
        assert any(e.case.instrument == instrument_id and e.case.answered_skipped for e in done), (
            instrument_id
        )
    assert any(e.case.instrument == "epds" and e.case.answers.get("epds_3") == 0 for e in done)
    for instrument_id in ("dass21", "who5"):
        assert any(e.case.instrument == instrument_id and e.result["value"][0] > 0 for e in done)


def test_weights_inside_the_coding_are_not_found_by_fhirpath_js() -> None:
    """Why the itemWeight sits on the answerOption: inside its valueCoding (as exported before),
    fhirpath.js does not find it and turns to a terminology server."""
    q = copy.deepcopy(fhir.to_questionnaire("phq9"))
    for item in q["item"]:
        for option in item.get("answerOption", []):
            option["valueCoding"]["extension"] = option.pop("extension")
    answer = {"valueCoding": {"system": fhir.LOINC, "code": "LA6569-3"}}
    response = {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "item": [{"linkId": f"phq9_{n}", "answer": [answer]} for n in range(1, 10)],
    }
    expression = _expressions(q)["scale.total"]
    (old,) = evaluate([q], [{"q": 0, "qr": response, "expressions": [expression]}])
    assert "terminologyUrl" in old[0]["error"]
    fixed = fhir.to_questionnaire("phq9")
    (new,) = evaluate([fixed], [{"q": 0, "qr": response, "expressions": [expression]}])
    assert new == [{"value": [9]}]
