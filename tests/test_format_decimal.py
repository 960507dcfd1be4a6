"""Format II: decimal numeric answers (`number.decimals`), scored through cited ranges. A value
is read as a whole count of units (6.5 hours is 65 tenths), accepted only where it is a number
of at most that many places; the same rule on every path. Golden values are worked by hand
from tests/definitions/decimal.yaml: hours 7.0-24 score 0, 6.0-6.9 1, 5.0-5.9 2, 0-4.9 3;
change -1.5 to -0.01 scores 2, 0-0.29 1, 0.3-1.5 0; total = sum, one item may be missing
(prorated, half up), low 0-2, high 3-8."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import screening
from screening import display, fhir, redcap
from screening.definition import to_units
from screening.linting import lint_file

from .backends import BACKENDS, VIEWS, assert_same

DEFINITION = (Path(__file__).parent / "definitions" / "decimal.yaml").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def inst() -> screening.Instrument:
    return screening.parse_instrument(DEFINITION, "decimal.yaml")


def _score(inst: screening.Instrument, **answers: Any) -> screening.ScoreResult:
    return screening.score(inst, answers, on_error="invalid")


def _item_score(inst: screening.Instrument, item: str, value: Any) -> int | float | None:
    """The item's score, read through a scale holding it with the others answered 0 points."""
    others = {"decimal_1": 24, "decimal_2": 1.5, "decimal_3": 0}
    result = _score(inst, **{**others, item: value})
    assert result.valid, result.reasons
    return result.scales["total"].raw


@pytest.mark.parametrize(
    ("hours", "points"),
    [
        (0, 3), (4.9, 3), (5.0, 2), (5, 2), (5.9, 2), (6.0, 1), (6, 1), (6.9, 1),
        (7.0, 0), (7, 0), (24, 0), (24.0, 0), (np.float64(6.9), 1), (np.int8(5), 2),
    ],
)  # fmt: skip
def test_hours_score_by_their_range_both_sides_of_each_edge(
    inst: screening.Instrument, hours: Any, points: int
) -> None:
    assert _item_score(inst, "decimal_1", hours) == points


@pytest.mark.parametrize(
    ("change", "points"),
    [(-1.5, 2), (-0.01, 2), (0, 1), (-0.0, 1), (0.0, 1), (0.29, 1), (0.3, 0), (1.5, 0)],
)
def test_two_places_and_negative_bounds(
    inst: screening.Instrument, change: float, points: int
) -> None:
    assert _item_score(inst, "decimal_2", change) == points


def test_the_total_and_its_band_both_sides_of_the_cut(inst: screening.Instrument) -> None:
    low = _score(inst, decimal_1=6.9, decimal_2=0.29, decimal_3=0).scales["total"]
    assert (low.score, low.band) == (2, "low")  # 1 + 1 + 0
    high = _score(inst, decimal_1=6.9, decimal_2=0.29, decimal_3=1).scales["total"]
    assert (high.score, high.band) == (3, "high")  # 1 + 1 + 1
    # one missing: (3 + 2) x 3/2 = 7.5, half up 8, the top of the range
    most = _score(inst, decimal_1=4.9, decimal_3=2, decimal_4=1).scales["total"]
    assert (most.score, most.prorated, most.band) == (8, True, "high")


@pytest.mark.parametrize(
    ("item", "value", "code"),
    [
        ("decimal_1", 4.95, "invalid_value"),  # finer than one place
        ("decimal_1", 24.1, "invalid_value"),
        ("decimal_1", -0.1, "invalid_value"),
        ("decimal_1", math.inf, "invalid_value"),
        ("decimal_1", 1e308, "invalid_value"),  # x 10 overflows: refused, never rounded
        ("decimal_1", 10**400, "invalid_value"),
        ("decimal_1", np.float32(6.9), "invalid_value"),  # 6.900000095367432
        ("decimal_1", "7", "invalid_type"),
        ("decimal_1", True, "invalid_type"),
        ("decimal_2", 0.1 + 0.2, "invalid_value"),  # 0.30000000000000004, not 0.3
        ("decimal_2", 0.285, "invalid_value"),
        ("decimal_2", -1.51, "invalid_value"),
    ],
)
def test_a_value_that_is_not_an_answer_is_refused(
    inst: screening.Instrument, item: str, value: Any, code: str
) -> None:
    result = _score(inst, **{item: value})
    assert [i.code for i in result.issues][:1] == [code]
    assert not result.valid


def test_the_message_names_the_decimals(inst: screening.Instrument) -> None:
    assert _score(inst, decimal_1=4.95).reasons[0] == (
        "item 'decimal_1' must be one of the numbers from 0 to 24 with at most 1 decimal "
        "place (got 4.95)"
    )
    assert _score(inst, decimal_2=0.285).reasons[0] == (
        "item 'decimal_2' must be one of the numbers from -1.5 to 1.5 with at most 2 decimal "
        "places (got 0.285)"
    )


def test_a_blank_is_missing_and_a_flag_reading_it_undetermined(inst: screening.Instrument) -> None:
    for blank in (None, math.nan):
        result = _score(inst, decimal_1=blank, decimal_2=0.3, decimal_3=1)
        assert result.scales["total"].missing == 1
        assert result.undetermined_flag_ids == ["very_short_sleep"]
    assert _score(inst, decimal_1=4.9).flag_ids == ["very_short_sleep"]
    assert _score(inst, decimal_1=5.0).flag_ids == []


def test_skip_logic_reads_the_score_of_a_decimal_answer(inst: screening.Instrument) -> None:
    # the follow-up is asked where the hours score 2 or more: 5.9 hours and under
    assert _score(inst, decimal_1=5.9, decimal_2=0, decimal_3=0, decimal_4=1).valid
    asked = _score(inst, decimal_1=6.0, decimal_2=0, decimal_3=0, decimal_4=1)
    assert [i.code for i in asked.issues] == ["skipped_item_answered"]


def test_every_backend_gives_the_row_scorers_answer(inst: screening.Instrument) -> None:
    hours = [0, 4.9, 5.0, 5.9, 6.0, 6.9, 7.0, 24, 4.95, 24.1, None, -0.1, 6.5, 12.3]
    change = [-1.5, -0.01, 0, 0.29, 0.3, 1.5, 0.285, None, -0.0, 0.1 + 0.2, 0.07, 1.13, 0.5, 0]
    df = pd.DataFrame(
        {
            "decimal_1": hours,
            "decimal_2": change,
            "decimal_3": [i % 3 for i in range(len(hours))],
            "decimal_4": [None, 1, 0, 1, None, None, None, 1, None, None, None, None, None, 0],
        },
        index=[f"r{i}" for i in range(len(hours))],
    )
    frames = {
        "floats": df,
        "whole hours as int64": df.assign(decimal_1=[int(h or 0) for h in hours]),
        "nullable ints": df.assign(decimal_1=pd.array([7, None, 5, 4] * 3 + [6, 0], dtype="Int8")),
        "text and numbers": df.assign(decimal_1=pd.Series([*hours[:-2], "7", True], dtype=object)),
    }
    for shape, frame in frames.items():
        for name, backend in BACKENDS.items():
            view = VIEWS[name](frame) if name in VIEWS else frame
            expected = BACKENDS["row"](inst, view, {})
            got = backend(inst, frame, {})
            for label, want, have in zip(frame.index, expected, got, strict=True):
                assert_same(want, have, f"{shape}, {name}, row {label}")


def test_units_are_read_alike_by_python_and_numpy() -> None:
    # the rule's float steps (product, round half even, quotient) agree value by value
    rng = np.random.default_rng(7)
    values = np.concatenate(
        [
            rng.integers(-100_000, 100_000, 20_000) / 1000,
            rng.uniform(-50, 50, 20_000),
            np.arange(0, 2401) / 100,
            np.array([0.5, 2.5, -0.5, 0.05, 0.15, 0.25, 1e15, 1e308, -0.0]),
        ]
    )
    for step in (10, 100, 1000, 10_000):
        with np.errstate(invalid="ignore", over="ignore"):
            units = np.rint(values * step)
            exact = units / step == values
        for value, unit, ok in zip(values.tolist(), units.tolist(), exact.tolist(), strict=True):
            assert to_units(value, step) == (int(unit) if ok else None), (value, step)


def test_a_decimal_answer_in_forms(inst: screening.Instrument) -> None:
    q = fhir.to_questionnaire(inst)
    by_link = {item["linkId"]: item for item in q["item"]}
    hours = by_link["decimal_1"]
    assert hours["type"] == "decimal"
    assert "answerOption" not in hours
    assert [list(e.values())[1] for e in hours["extension"]] == [0, 24, 1]
    assert hours["extension"][2]["url"].endswith("/maxDecimalPlaces")
    assert by_link["decimal_2"]["extension"][0] == {
        "url": "http://hl7.org/fhir/StructureDefinition/minValue",
        "valueDecimal": -1.5,
    }
    # the follow-up's condition is on the recoded score: a form cannot say it, a note does
    assert "enableWhen" not in by_link["decimal_4"]
    rows = {r["Variable / Field Name"]: r for r in redcap.redcap_rows(inst)}
    assert rows["decimal_1"]["Text Validation Type OR Show Slider Number"] == "number_1dp"
    assert rows["decimal_2"]["Text Validation Type OR Show Slider Number"] == "number_2dp"
    assert (rows["decimal_2"]["Text Validation Min"], rows["decimal_2"]["Text Validation Max"]) == (
        "-1.5",
        "1.5",
    )
    assert rows["decimal_total"]["Choices, Calculations, OR Slider Labels"].startswith(
        "sum(if([decimal_1]>=7.0 and [decimal_1]<=24, 0, if([decimal_1]>=6.0 and "
        "[decimal_1]<=6.9, 1,"
    )


def test_a_questionnaire_response_answers_with_valuedecimal(inst: screening.Instrument) -> None:
    def response(**values: Any) -> dict[str, Any]:
        items = [{"linkId": k, "answer": [v]} for k, v in values.items()]
        return {"resourceType": "QuestionnaireResponse", "status": "completed", "item": items}

    read = fhir.read_questionnaire_response(
        inst, response(decimal_1={"valueDecimal": 6.5}, decimal_2={"valueInteger": 1})
    )
    assert read == {"decimal_1": 6.5, "decimal_2": 1.0}
    assert screening.score(inst, {**read, "decimal_3": 0}).scales["total"].score == 1
    with pytest.raises(screening.ResponseError, match=r"decimal_1.*at most 1 decimal place"):
        fhir.read_questionnaire_response(inst, response(decimal_1={"valueDecimal": 6.55}))


def test_the_page_and_the_checker(inst: screening.Instrument, tmp_path: Path) -> None:
    page = display.instrument_text(inst)
    assert "a number from 0 to 24 with at most 1 decimal place (hours)" in page
    bad = {
        # a bound finer than the decimals; a decimal without ranges; a gap between ranges
        "max: 24\n      decimals: 1": ("max: 24.05\n      decimals: 1", "decimal places"),
        "        - {min: 0, max: 4.9, score: 3}\n": ("", "must cover 0-24 in steps of 0.1"),
        "{min: 0, max: 0.29, score: 1}": ("{min: 0.01, max: 0.29, score: 1}", "must cover"),
        "      decimals: 2\n": ("", "a bound must be a whole number"),
        # answers accepted when skipped: options are counted in units, so a listed number
        # would be misread (7 as 0.7 hours)
        "    label: change since last week\n": (
            "    label: change since last week\n    ask_if: {item: decimal_1, gte: 2}\n"
            "    accept_when_skipped: [0]\n",
            "accept_when_skipped is not for a decimal answer",
        ),
    }
    for old, (new, said) in bad.items():
        assert old in DEFINITION, old
        path = tmp_path / "decimal.yaml"
        path.write_text(DEFINITION.replace(old, new), encoding="utf-8")
        messages = [f"{d.code}: {d.message}" for d in lint_file(path)]
        assert any(said in m and m.startswith("invalid_value") for m in messages), messages
    # a decimal answer without ranges is scored as itself: not beside other items, and only
    # in a scale given to decimals (tests/test_format_marks.py)
    unscored = DEFINITION.replace(
        "      decimals: 2\n      source: src\n      scores:\n"
        "        - {min: -1.5, max: -0.01, score: 2}\n"
        "        - {min: 0, max: 0.29, score: 1}\n"
        "        - {min: 0.3, max: 1.5, score: 0}\n",
        "      decimals: 2\n",
    )
    assert unscored != DEFINITION
    path.write_text(unscored, encoding="utf-8")
    messages = [f"{d.code}: {d.message}" for d in lint_file(path)]
    assert any(m.startswith("decimal_score") and "beside other items" in m for m in messages), (
        messages
    )


# --- exact numbers, forms, codings (from an independent review) -------------------------------


def test_decimals_and_fractions_are_read_exactly(inst: screening.Instrument) -> None:
    assert _item_score(inst, "decimal_1", Decimal("6.9")) == 1
    assert _item_score(inst, "decimal_1", Fraction(69, 10)) == 1
    assert _item_score(inst, "decimal_2", Decimal("-0.01")) == 2
    for finer in (Decimal("4.95"), Fraction(690000000000000001, 10**17), Decimal("NaN")):
        assert _score(inst, decimal_1=finer).issues[0].code == "invalid_value", finer
    assert _score(inst, decimal_1=Decimal("4.95")).reasons[0].endswith("(got Decimal('4.95'))")
    wrong = _score(inst, decimal_1="6.9").reasons[0]
    assert wrong.startswith("item 'decimal_1' must be a number, one of the numbers from 0 to 24")


def test_decimal_columns_of_every_backend_read_as_the_row_scorer_reads_decimals(
    inst: screening.Instrument,
) -> None:
    import polars as pl
    import pyarrow as pa

    cells = [Decimal("6.9"), Decimal("4.95"), None, Decimal("7"), Decimal("0.0")]
    expected = [_score(inst, decimal_1=c) for c in cells]
    table = pa.table({"decimal_1": pa.array(cells, type=pa.decimal128(10, 2))})
    outputs = {
        "arrow": screening.score_frame(inst, table, allow_missing_columns=True).to_pandas(),
        "polars": screening.score_frame(
            inst, pl.from_arrow(table), allow_missing_columns=True
        ).to_pandas(),
        "pandas": screening.score_frame(
            inst,
            pd.DataFrame({"decimal_1": pd.Series(cells, dtype=object)}),
            allow_missing_columns=True,
        ),
    }
    for name, out in outputs.items():
        assert out["reason"].tolist() == ["; ".join(e.reasons) for e in expected], name
        assert out["total_answered"].tolist() == [1, 0, 0, 1, 1], name


def test_a_bound_is_limited_in_units(tmp_path: Path) -> None:
    # 300,000.0 is three million tenths: past the largest option value (1,000,000)
    path = tmp_path / "decimal.yaml"
    path.write_text(DEFINITION.replace("      max: 24\n", "      max: 300000\n", 1), "utf-8")
    messages = [d.message for d in lint_file(path)]
    assert any("a bound may be at most 100000 from 0" in m for m in messages), messages


def test_a_questionnaire_response_answers_decimals_only_as_numbers(
    inst: screening.Instrument,
) -> None:
    def codes(answer: dict[str, Any]) -> list[str]:
        response = {
            "resourceType": "QuestionnaireResponse",
            "status": "completed",
            "item": [{"linkId": "decimal_1", "answer": [answer]}],
        }
        try:
            fhir.read_questionnaire_response(inst, response)
        except screening.ResponseError as exc:
            return [i.code for i in exc.issues]
        return []

    assert codes({"valueDecimal": 6.9}) == []
    assert codes({"valueDecimal": Decimal("6.9")}) == []  # json.loads(..., parse_float=Decimal)
    assert codes({"valueInteger": 6.9}) == ["invalid_answer"]  # an integer must be one
    assert codes({"valueDecimal": 10**400}) == ["invalid_value"]  # refused, not a crash
    assert codes({"valueCoding": {"code": "69"}}) == ["unsupported_answer_type"]  # not tenths


def test_a_coding_recording_scores_lists_the_scores(tmp_path: Path) -> None:
    coded = DEFINITION.replace(
        "items:\n",
        "codings:\n"
        "  answers: {label: the answers, default: true, source: src}\n"
        "  scores: {label: the scores, records: score, source: src}\n"
        "items:\n",
        1,
    )
    inst = screening.parse_instrument(coded, "decimal.yaml")
    # recorded as scores: 1 + 1 + 0; 5.0 is no score (the scores are 0-3)
    result = screening.score(
        inst, {"decimal_1": 1, "decimal_2": 1, "decimal_3": 0}, coding="scores"
    )
    assert result.scales["total"].score == 2
    refused = screening.score(inst, {"decimal_1": 5.0}, on_error="invalid", coding="scores")
    assert refused.reasons[0] == "item 'decimal_1' must be one of 0, 1, 2, 3 (got 5.0)"
    listed = coded.replace(
        "records: score, source: src}", "values: {decimal_1: [0, 1]}, source: src}"
    )
    path = tmp_path / "decimal.yaml"
    path.write_text(listed, encoding="utf-8")
    messages = [d.message for d in lint_file(path)]
    assert any("answered with a number, which a coding does not recode" in m for m in messages)


def test_redcap_says_its_rounding_is_binary() -> None:
    marks = screening.parse_instrument(
        (Path(__file__).parent / "definitions" / "marks.yaml").read_text("utf-8"), "marks.yaml"
    )
    rows = {r["Variable / Field Name"]: r for r in redcap.redcap_rows(marks)}
    assert "exact half-up rounding" in rows["marks_doubled"]["Field Note"]
