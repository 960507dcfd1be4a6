"""Format II, scores: mean scores rounded to stated decimals with decimal bands, published
conversion tables, answers sharing one score (an option's stated `score`), and the respondent.
Golden values are worked by hand from the rules as the format states them; every feature goes
through the row scorer, every DataFrame backend, the FHIR and REDCap exports and the checker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import screening
from screening import display, fhir, redcap
from screening.errors import Issue
from screening.linting import lint_file

from .backends import BACKENDS, VIEWS, assert_same

DEFINITION = (Path(__file__).parent / "definitions" / "scores.yaml").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def inst() -> screening.Instrument:
    return screening.parse_instrument(DEFINITION, "scores.yaml")


def _score(inst: screening.Instrument, **answers: Any) -> screening.ScoreResult:
    return screening.score(inst, answers, on_error="invalid")


def test_a_mean_is_rounded_half_up_to_its_decimals_and_banded(inst: screening.Instrument) -> None:
    # item 2 reversed: 6 - value. (5 + 5 + 4) / 3 = 4.666... -> 4.67, high
    mean = _score(inst, scores_1=5, scores_2=1, scores_3=4).scales["mean"]
    assert (mean.score, mean.band, mean.raw, mean.prorated) == (4.67, "high", 14, False)
    # both sides of each cut: 9/3 = 3.00 normal; 8/3 = 2.666... -> 2.67 low
    assert _score(inst, scores_1=3, scores_2=3, scores_3=3).scales["mean"].band == "normal"
    low = _score(inst, scores_1=2, scores_2=3, scores_3=3).scales["mean"]
    assert (low.score, low.band) == (2.67, "low")
    # 13/3 = 4.333... -> 4.33 high; 12/3 = 4.00 normal
    assert _score(inst, scores_1=5, scores_2=2, scores_3=4).scales["mean"].score == 4.33
    assert _score(inst, scores_1=5, scores_2=2, scores_3=4).scales["mean"].band == "high"
    assert _score(inst, scores_1=4, scores_2=2, scores_3=4).scales["mean"].band == "normal"
    # one missing: the mean of the answered two, (5 + 4) / 2 = 4.5; reported as prorated
    part = _score(inst, scores_1=5, scores_3=4).scales["mean"]
    assert (part.score, part.band, part.prorated, part.unrounded) == (4.5, "high", True, 4.5)
    assert (part.answered, part.missing) == (2, 1)
    # two missing: unscored
    assert _score(inst, scores_1=5).scales["mean"].score is None


def test_rounding_is_exact_at_a_half() -> None:
    # (1 + 2) / 2 = 1.5 to no decimals: 2 (half up), never 1; 1.25 at one decimal: 1.3
    text = DEFINITION.replace("decimals: 2", "decimals: 0").replace(
        """    bands:
      - {min: 1.00, max: 2.99, label: low}
      - {min: 3.00, max: 4.30, label: normal}
      - {min: 4.31, max: 5.00, label: high}
""",
        "",
        1,
    )
    inst = screening.parse_instrument(text, "scores.yaml")
    assert _score(inst, scores_1=1, scores_3=2).scales["mean"].score == 2
    assert isinstance(_score(inst, scores_1=1, scores_3=2).scales["mean"].score, int)
    steps = screening.steps.Decimals(1)
    from fractions import Fraction

    assert steps.row(Fraction(5, 4)) == 1.3
    assert screening.steps.Decimals(2).row(Fraction("3.165")) == 3.17  # 3.165 * 100 is 316.49999...


def test_a_conversion_table_converts_the_whole_score(inst: screening.Instrument) -> None:
    metric = _score(inst, scores_1=5, scores_2=3, scores_3=4).scales["metric"]
    assert (metric.score, metric.raw, metric.band) == (9.5, 9, "upper")
    # 3 -> 4.51, rounded to one decimal: 4.5, lower; 6 -> 7.0, upper; 5 -> 6.25 -> 6.3, lower
    assert _score(inst, scores_1=1, scores_2=3, scores_3=2).scales["metric"].score == 4.5
    assert _score(inst, scores_1=3, scores_2=3, scores_3=3).scales["metric"].band == "upper"
    five = _score(inst, scores_1=3, scores_2=3, scores_3=2).scales["metric"]
    assert (five.score, five.band) == (6.3, "lower")
    assert _score(inst, scores_1=1, scores_2=3, scores_3=1).scales["metric"].score == 2.0


def test_answers_sharing_a_score(inst: screening.Instrument) -> None:
    def shared(value: int) -> tuple[Any, Any]:
        scale = _score(inst, scores_1=3, scores_2=3, scores_3=3, scores_4=value).scales["shared"]
        return scale.score, scale.band

    assert [shared(v) for v in range(1, 7)] == [
        (1, "none"),
        (2, "none"),
        (3, "some"),
        (3, "some"),
        (4, "some"),
        (4, "some"),
    ]
    bad = _score(inst, scores_1=3, scores_2=3, scores_3=3, scores_4=7)
    assert [i.code for i in bad.issues] == ["invalid_value"]
    assert "1, 2, 3, 4, 5, 6" in bad.issues[0].message  # the values recorded, not the scores


ROWS = [
    {"scores_1": 5, "scores_2": 1, "scores_3": 4, "scores_4": 4, "scores_5": 9, "scores_6": 7},
    {"scores_1": 3, "scores_2": 3, "scores_3": None, "scores_4": 6, "scores_5": 0, "scores_6": 8},
    {"scores_1": 1, "scores_2": 5, "scores_3": 2, "scores_4": 1, "scores_5": 1, "scores_6": 2},
    {"scores_1": 2, "scores_2": 3, "scores_3": 3, "scores_4": None, "scores_6": 7},
    {"scores_1": 5, "scores_2": None, "scores_3": None, "scores_4": 5, "scores_5": 9.0},
    {"scores_1": 9, "scores_2": 3, "scores_3": 3, "scores_4": 3, "scores_5": "9"},
    {"scores_1": 5, "scores_2": 2, "scores_3": 4, "scores_4": 2, "scores_5": 0, "scores_6": 0},
]


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_every_backend_agrees(backend: str, inst: screening.Instrument) -> None:
    df = pd.DataFrame(ROWS, dtype=object)
    view = VIEWS[backend](df) if backend in VIEWS else df  # Arrow: one type per column
    for position, (want, have) in enumerate(
        zip(BACKENDS["row"](inst, view, {}), BACKENDS[backend](inst, df, {}), strict=True)
    ):
        assert_same(want, have, f"row {position}")
    expected = BACKENDS["row"](inst, df, {})
    assert [r.scales["mean"].score for r in expected] == [4.67, 3.0, 1.33, 2.67, None, None, 4.33]
    assert [r.scales["metric"].score for r in expected] == [9.5, None, 4.5, 6.3, None, None, 9.5]
    # a blank counts 0: 14; 3 + 6 - 3 + 0 = 6; 1 + 1 + 2 = 4; 2 + 3 + 3 = 8; 5 + 0 + 0; invalid; 13
    assert [r.scales["filled"].score for r in expected] == [14, 6, 4, 8, 5, None, 13]
    # a refusal counts 1 (as its option states), "does not apply" and "don't know" are missing
    assert [r.scales["asked"].score for r in expected] == [2, 0, 3, None, 2, None, 0]
    assert [dict(r.non_answers) for r in expected] == [
        {"scores_5": "declined", "scores_6": "not_applicable"},
        {"scores_6": "dont_know"},
        {},
        {"scores_6": "not_applicable"},
        {"scores_5": "declined"},
        {},  # the text "9" is no answer at all: invalid_type
        {},
    ]


def test_the_frame_columns_have_the_scales_types(inst: screening.Instrument) -> None:
    out = screening.score_frame(inst, pd.DataFrame(ROWS[:3]), allow_missing_columns=True)
    assert str(out["mean"].dtype) == "Float64"
    assert str(out["shared"].dtype).startswith("Int")
    assert out["mean_band"].tolist() == ["high", "normal", "low"]
    assert out["mean_unrounded"].isna().tolist() == [True, False, True]


def test_a_missing_item_counts_its_fill(inst: screening.Instrument) -> None:
    # PSC-17's rule in miniature: blanks score 0, up to a limit; not proration
    filled = _score(inst, scores_1=5).scales["filled"]
    assert (filled.score, filled.prorated, filled.unrounded, filled.missing) == (5, False, None, 2)
    assert _score(inst, scores_2=1).scales["filled"].score == 5  # reversed: 6 - 1
    none = _score(inst).scales["filled"]
    assert (none.score, none.reason) == (None, "3 of 3 items missing (at most 2 allowed)")


def test_non_answers_are_recorded_and_scored_as_their_options_say(
    inst: screening.Instrument,
) -> None:
    declined = _score(inst, scores_5=9, scores_6=1)
    assert dict(declined.non_answers) == {"scores_5": "declined"}
    assert declined.flag_ids == ["asked_yes"]  # a refusal considered positive, as stated
    assert declined.to_dict()["non_answers"] == {"scores_5": "declined"}
    unknown = _score(inst, scores_5=0, scores_6=8)
    assert dict(unknown.non_answers) == {"scores_6": "dont_know"}
    # "don't know" scores nothing: the flag reading it cannot be decided
    assert unknown.undetermined_flag_ids == ["applies_often"]
    assert (unknown.scales["asked"].score, unknown.scales["asked"].missing) == (0, 1)
    assert unknown.issues == ()
    assert "don't know" not in str(unknown.reasons)
    bad = _score(inst, scores_5=5)
    assert bad.issues[0].message == "item 'scores_5' must be one of 0, 1, 9 (got 5)"


def test_a_numeric_answer_within_bounds(inst: screening.Instrument) -> None:
    # days of use gate the follow-up; recoded days: 0 -> 0, 1-9 -> 1, 10-30 -> 2
    none = _score(inst, scores_7=0, scores_9=0).scales["used"]
    assert (none.score, none.skipped) == (0, 1)
    assert _score(inst, scores_7=12, scores_8=1, scores_9=10).scales["used"].score == 3
    assert _score(inst, scores_7=1, scores_8=0, scores_9=9).scales["used"].score == 1
    assert _score(inst, scores_7=365, scores_8=0, scores_9=30).scales["used"].score == 2
    assert _score(inst, scores_7=12.0, scores_8=0, scores_9=1).scales["used"].score == 1
    for item, value in (("scores_7", 366), ("scores_7", -1), ("scores_9", 31), ("scores_7", 2.5)):
        issue = _score(inst, **{item: value}).issues[0]
        assert issue.code == "invalid_value", (item, value)
    assert _score(inst, scores_7=366).issues[0].message == (
        "item 'scores_7' must be one of the whole numbers 0-365 (got 366)"
    )
    asked = _score(inst, scores_7=0, scores_8=1, scores_9=0).issues[0]
    assert asked.code == "skipped_item_answered"


def test_a_numeric_answer_in_forms(inst: screening.Instrument) -> None:
    q = fhir.to_questionnaire(inst)
    by_link = {item["linkId"]: item for item in q["item"]}
    days = by_link["scores_7"]
    assert days["type"] == "integer"
    assert "answerOption" not in days
    assert [e["valueInteger"] for e in days["extension"]] == [0, 365]
    assert by_link["scores_8"]["enableWhen"] == [
        {"question": "scores_7", "operator": ">", "answerInteger": 0}
    ]
    rows = {r["Variable / Field Name"]: r for r in redcap.redcap_rows(inst)}
    assert rows["scores_7"]["Field Type"] == "text"
    assert rows["scores_7"]["Text Validation Type OR Show Slider Number"] == "integer"
    assert (rows["scores_7"]["Text Validation Min"], rows["scores_7"]["Text Validation Max"]) == (
        "0",
        "365",
    )
    assert rows["scores_8"]["Branching Logic (Show field only if...)"] == "[scores_7] > 0"
    assert rows["scores_used"]["Choices, Calculations, OR Slider Labels"] == (
        "sum([scores_8], if([scores_9]>=0 and [scores_9]<=0, 0, if([scores_9]>=1 and "
        "[scores_9]<=9, 1, if([scores_9]>=10 and [scores_9]<=30, 2, ''))))"
    )
    # a QuestionnaireResponse answers it with valueInteger
    response = {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "item": [
            {"linkId": "scores_7", "answer": [{"valueInteger": 4}]},
            {"linkId": "scores_9", "answer": [{"valueInteger": 12}]},
        ],
    }
    assert fhir.read_questionnaire_response(inst, response) == {"scores_7": 4, "scores_9": 12}


def test_a_scale_counts_its_items_meeting_a_test(inst: screening.Instrument) -> None:
    # items scoring 4 or more: 5, 6 - 1 = 5 and 4 meet it; 3, 6 - 3 = 3 and 3 do not
    agreed = _score(inst, scores_1=5, scores_2=1, scores_3=4).scales["agreed"]
    assert (agreed.score, agreed.band, agreed.raw) == (3, "most", 3)
    assert _score(inst, scores_1=3, scores_2=3, scores_3=3).scales["agreed"].score == 0
    one = _score(inst, scores_1=4, scores_2=3, scores_3=3).scales["agreed"]
    assert (one.score, one.band) == (1, "few")
    two = _score(inst, scores_1=4, scores_2=2, scores_3=1).scales["agreed"]  # 6 - 2 = 4
    assert (two.score, two.band) == (2, "most")
    assert _score(inst, scores_1=4, scores_2=2).scales["agreed"].score is None  # one missing
    rows = {r["Variable / Field Name"]: r for r in redcap.redcap_rows(inst)}
    assert rows["scores_agreed"]["Choices, Calculations, OR Slider Labels"] == (
        "sum(if(([scores_1]) >= 4, 1, 0), if(((6-[scores_2])) >= 4, 1, 0), "
        "if(([scores_3]) >= 4, 1, 0))"
    )


def test_a_sub_score_of_an_unscored_form_is_not_reported(inst: screening.Instrument) -> None:
    # first_two (items 1 and 2, 5 + (6 - 1)) requires the mean of items 1-3
    both = _score(inst, scores_1=5, scores_2=1, scores_3=4).scales["first_two"]
    assert (both.score, both.valid) == (10, True)
    unscored = _score(inst, scores_1=5, scores_2=1, scores_3=9)  # item 3 bad: no mean
    assert unscored.scales["mean"].score is None
    first = unscored.scales["first_two"]
    assert (first.score, first.valid, first.reason) == (
        None,
        False,
        "scored only with scale 'mean', which is unscored",
    )
    rows = [
        {"scores_1": 5, "scores_2": 1, "scores_3": 4},
        {"scores_1": 5, "scores_2": 1, "scores_3": 9},
    ]
    frame = screening.score_frame(inst, pd.DataFrame(rows), allow_missing_columns=True)
    assert frame["first_two"].tolist() == [10, pd.NA]


def test_a_score_coding_names_a_non_answer_only_by_a_score_of_its_own() -> None:
    # recording scores, a 1 for scores_5 is a yes or a refusal (both score 1): not "declined";
    # a 9 recorded for scores_6 is no score at all
    codings = (
        "respondent: parent\ncodings:\n"
        "  listed: {label: as listed, default: true, source: src}\n"
        "  scores: {label: scores, records: score, source: src}"
    )
    inst = screening.parse_instrument(DEFINITION.replace("respondent: parent", codings), "s.yaml")
    said = screening.score(inst, {"scores_5": 1}, coding="scores", on_error="invalid")
    assert dict(said.non_answers) == {}
    assert said.flag_ids == ["asked_yes"]
    assert dict(_score(inst, scores_5=9).non_answers) == {"scores_5": "declined"}  # as listed


def test_exports_say_what_a_form_cannot_compute(inst: screening.Instrument) -> None:
    q = fhir.to_questionnaire(inst)
    by_link = {item["linkId"]: item for item in q["item"]}
    for name in ("mean", "metric", "used", "agreed"):
        item = by_link[f"scale.{name}"]
        assert item["type"] == ("integer" if name in ("used", "agreed") else "decimal")
        urls = [e["url"] for e in item["extension"]]
        assert not any("calculatedExpression" in u for u in urls), name
        assert "cannot compute this score exactly" in item["extension"][-1]["valueMarkdown"]
    shared = by_link["scale.shared"]
    options = by_link["scores_4"]["answerOption"]
    assert [o["extension"][0]["valueDecimal"] for o in options] == [1, 2, 3, 3, 4, 4]
    assert shared["type"] == "integer"
    rows = {r["Variable / Field Name"]: r for r in redcap.redcap_rows(inst)}
    calc = "Choices, Calculations, OR Slider Labels"
    assert rows["scores_mean"][calc] == "round(mean([scores_1], (6-[scores_2]), [scores_3]), 2)"
    assert rows["scores_metric"][calc] == "sum([scores_1], [scores_3])"
    assert "before the published conversion table" in rows["scores_metric"]["Field Note"]
    assert rows["scores_asked"][calc] == (
        "sum(if([scores_5]='0', 0, if([scores_5]='1', 1, if([scores_5]='9', 1, ''))), "
        "if([scores_6]='0', 0, if([scores_6]='1', 1, if([scores_6]='2', 2, ''))))"
    )
    weights = [o.get("extension") for o in by_link["scores_6"]["answerOption"]]
    assert [w[0]["valueDecimal"] if w else None for w in weights] == [0, 1, 2, None, None]
    assert rows["scores_shared"][calc] == (
        "sum(if([scores_4]='1', 1, if([scores_4]='2', 2, if([scores_4]='3', 3, "
        "if([scores_4]='4', 3, if([scores_4]='5', 4, if([scores_4]='6', 4, '')))))))"
    )


def test_observations_carry_a_fractional_scale_as_a_quantity(inst: screening.Instrument) -> None:
    result = _score(inst, scores_1=3, scores_2=3, scores_3=3, scores_4=1)  # mean 3.00
    observations = {o["code"]["coding"][0]["code"]: o for o in fhir.to_observations(inst, result)}
    assert observations["scores.mean"]["valueQuantity"]["value"] == 3.0
    assert "valueInteger" not in observations["scores.mean"]
    assert observations["scores.shared"]["valueInteger"] == 1


def test_a_mean_over_every_item_is_computed_by_a_form() -> None:
    text = DEFINITION.replace("    missing: {max_missing: 1, source: src}\n", "").replace(
        "    decimals: 2\n", "", 1
    )
    text = text.replace(
        """    bands:
      - {min: 1.00, max: 2.99, label: low}
      - {min: 3.00, max: 4.30, label: normal}
      - {min: 4.31, max: 5.00, label: high}
""",
        "",
        1,
    )
    inst = screening.parse_instrument(text, "scores.yaml")
    item = next(i for i in fhir.to_questionnaire(inst)["item"] if i["linkId"] == "scale.mean")
    expression = item["extension"][0]["valueExpression"]["expression"]
    assert expression.endswith(".sum()) / 3")
    assert item["type"] == "decimal"


def test_the_respondent_is_shown(inst: screening.Instrument) -> None:
    assert inst.respondent == "parent"
    assert "respondent: parent" in display.instrument_text(inst)
    first = fhir.to_questionnaire(inst)["item"][0]
    assert first == {
        "linkId": "instrument.respondent",
        "text": "Respondent: a parent or carer, about the child",
        "type": "display",
    }
    assert display.describe_instrument(inst)["respondent"] == "parent"


# --- the checker ----------------------------------------------------------------------------------


def line_of(text: str, needle: str) -> int:
    """The line number of the first line holding `needle`."""
    return next(n for n, line in enumerate(text.splitlines(), start=1) if needle in line)


def lint_text(text: str, folder: Path) -> list[Issue]:
    path = folder / "scores.yaml"
    path.write_text(text, encoding="utf-8")
    return lint_file(path)


@pytest.fixture
def codes_of(tmp_path: Path) -> Any:
    return lambda text: [(i.code, i.line) for i in lint_text(text, tmp_path)]


def test_the_checker_names_each_mistake(codes_of: Any, tmp_path: Path) -> None:
    assert codes_of(DEFINITION) == []
    finer = DEFINITION.replace("{min: 3.00, max: 4.30", "{min: 3.00, max: 4.305")
    assert codes_of(finer) == [("band_precision", line_of(finer, "max: 4.305"))]
    gap = DEFINITION.replace("{min: 4.31, max: 5.00", "{min: 4.32, max: 5.00")
    assert codes_of(gap) == [("bands_not_contiguous", line_of(gap, "min: 4.32"))]
    no_decimals = DEFINITION.replace("    decimals: 2\n", "", 1)
    first_band = line_of(no_decimals, "{min: 1.00")
    assert codes_of(no_decimals) == [("bands_on_fractional_scale", first_band)]
    short = DEFINITION.replace("        - {score: 10, converted: 10.0}\n", "")
    issues = lint_text(short, tmp_path)
    # and the bands now reach past the highest converted score, 9.5
    assert [(i.code, i.line) for i in issues] == [
        ("lookup_range", line_of(short, "- {score: 2,")),
        ("bands_range", line_of(short, "{min: 7.0, max: 10.0")),
    ]
    assert issues[0].message == (
        "scale 'metric': the conversion table must list every score from 2 to 10; it lacks 10"
    )
    fractional = DEFINITION.replace(
        "    items: [scores_1, scores_3]\n", "    items: [scores_1, scores_3]\n    method: mean\n"
    )
    lookup_at = line_of(fractional, "label: metric score")
    assert ("lookup_on_fractional_scale", lookup_at) in codes_of(fractional)
    reversed_ = DEFINITION.replace("    label: shared\n", "    label: shared\n    reverse: true\n")
    # (the options without a stated score are reversed, so the bands miss the range too)
    assert codes_of(reversed_)[0] == ("score_with_reverse", line_of(reversed_, "    reverse: true"))


def test_the_new_keys_need_format_1_1(codes_of: Any, tmp_path: Path) -> None:
    old = DEFINITION.replace('format_version: "1.1"', 'format_version: "1.0"')
    codes = codes_of(old)
    assert ("key_needs_newer_format", line_of(old, "respondent:")) in codes
    assert ("key_needs_newer_format", line_of(old, "score: 3}")) in codes
    assert ("key_needs_newer_format", line_of(old, "lookup:")) in codes
    issues = lint_text(old, tmp_path)
    method = next(i for i in issues if i.line == line_of(old, "method: mean"))
    assert method.message == (
        "scales.mean.method: 'method: mean' needs format 1.1 (the file says 1.0)"
    )
