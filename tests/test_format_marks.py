"""Format II: decimal answers scored as themselves (marks on a 10 cm line, to the millimetre),
summed or averaged and given to stated decimals. Golden values are worked by hand from
tests/definitions/marks.yaml (item 4 reversed: 10 - mark); a property test scores generated
definitions of this kind against exact fractions worked out here, on every backend."""

from __future__ import annotations

import json
import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import screening
from screening import fhir, redcap
from screening.linting import lint_file

from .backends import BACKENDS, VIEWS, assert_same

DEFINITION = (Path(__file__).parent / "definitions" / "marks.yaml").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def inst() -> screening.Instrument:
    return screening.parse_instrument(DEFINITION, "marks.yaml")


def _score(inst: screening.Instrument, *marks: Any) -> screening.ScoreResult:
    responses = {f"marks_{n}": v for n, v in enumerate(marks, start=1) if v is not None}
    return screening.score(inst, responses, on_error="invalid")


def test_marks_sum_and_average_as_the_numbers_they_are(inst: screening.Instrument) -> None:
    # 7.3 + 8.1 + 6.4 + (10 - 2.2) = 29.6; the mean of the first three 21.8 / 3 = 7.2666... ->
    # 7.27; (7.3 + 8.1) x 2.5 = 38.5 -> 39 (half up, no places)
    result = _score(inst, 7.3, 8.1, 6.4, 2.2)
    total = result.scales["total"]
    assert (total.score, total.band, total.raw, total.prorated) == (
        29.6,
        "at or above the cut-off",
        29.6,
        False,
    )
    assert result.scales["average"].score == 7.27
    assert result.scales["average"].raw == 21.8
    assert result.scales["doubled"].score == 39
    assert result.flag_ids == []
    # whole numbers are answers too; the ends of the range
    assert _score(inst, 10, 10, 10, 0).scales["total"].score == 40.0
    assert _score(inst, 0, 0, 0, 10).scales["total"].score == 0.0


def test_both_sides_of_the_cut_off(inst: screening.Instrument) -> None:
    # 6.2 x 3 + (10 - 3.7) = 24.9, below; 6.2 + 6.2 + 6.3 + 6.3 = 25.0, at the cut-off
    below = _score(inst, 6.2, 6.2, 6.2, 3.7)
    assert (below.scales["total"].score, below.scales["total"].band) == (24.9, "below the cut-off")
    assert below.flag_ids == ["below_cut_off"]
    at = _score(inst, 6.2, 6.2, 6.3, 3.7)
    assert (at.scales["total"].score, at.scales["total"].band) == (25.0, "at or above the cut-off")
    assert at.flag_ids == []


def test_a_missing_mark_is_prorated_exactly_then_rounded_once(inst: screening.Instrument) -> None:
    # 21.8 x 4/3 = 29.0666..., 29.1 at one place
    total = _score(inst, 7.3, 8.1, 6.4, None).scales["total"]
    assert (total.score, total.raw, total.prorated) == (29.1, 21.8, True)
    assert total.unrounded == pytest.approx(29.0666667)
    two = _score(inst, 7.3, None, None, 2.2).scales["total"]
    assert (two.score, two.reason) == (None, "2 of 4 items missing (at most 1 allowed)")
    assert _score(inst, 7.3, None, None, 2.2).undetermined_flag_ids == ["below_cut_off"]


@pytest.mark.parametrize("mark", [7.35, 10.1, -0.1, "7", True, math.inf])
def test_a_mark_that_is_not_an_answer_is_refused(inst: screening.Instrument, mark: Any) -> None:
    result = _score(inst, mark, 5, 5, 5)
    assert not result.valid
    assert result.issues[0].item == "marks_1"


def test_forms_sum_the_marks_themselves(inst: screening.Instrument) -> None:
    rows = {r["Variable / Field Name"]: r for r in redcap.redcap_rows(inst)}
    assert rows["marks_4"]["Text Validation Type OR Show Slider Number"] == "number_1dp"
    assert rows["marks_total"]["Choices, Calculations, OR Slider Labels"] == (
        "round(sum([marks_1], [marks_2], [marks_3], (10-[marks_4])), 1)"
    )
    q = fhir.to_questionnaire(inst)
    types = {item["linkId"]: item["type"] for item in q["item"]}
    assert types["marks_1"] == "decimal"
    response = {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "item": [
            {"linkId": f"marks_{n}", "answer": [{"valueDecimal": v}]}
            for n, v in enumerate([7.3, 8.1, 6.4, 2.2], start=1)
        ],
    }
    read = fhir.read_questionnaire_response(inst, response)
    assert screening.score(inst, read).scales["total"].score == 29.6


def test_where_a_decimal_scored_as_itself_cannot_go(tmp_path: Path) -> None:
    cases = {
        "decimals": ("    decimals: 1\n    source: src\n    bands", "    source: src\n    bands"),
        "rounding": ("rounding: none, ", ""),
        "a condition": ("when: {scale: total, lt: 25}", "when: {item: marks_1, lt: 2.5}"),
        "other items": ("items: [marks_1, marks_2]\n", "items: [marks_1, marks_2, ok]\n"),
    }
    extra = "  - {id: ok, label: ok, options: [{value: 0, label: a}, {value: 1, label: b}]}\n"
    for why, (old, new) in cases.items():
        assert old in DEFINITION, why
        text = DEFINITION.replace(old, new).replace("scales:\n", extra + "scales:\n", 1)
        path = tmp_path / "marks.yaml"
        path.write_text(text, encoding="utf-8")
        codes = [d.code for d in lint_file(path)]
        assert "decimal_score" in codes, (why, codes)


# --- generated definitions, scored against exact fractions -------------------------------------


@st.composite
def marked(draw: st.DrawFn) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A definition of decimal answers scored as themselves, and responses to it."""
    places = draw(st.sampled_from([1, 2]))
    step = 10**places
    n = draw(st.integers(2, 5))
    low = draw(st.sampled_from([0, 0, 1]))
    high = low + draw(st.sampled_from([1, 5, 10]))
    items = []
    for i in range(n):
        item: dict[str, Any] = {
            "id": f"m_{i + 1}",
            "label": f"mark {i + 1}",
            "number": {"min": low, "max": high, "decimals": places},
        }
        if draw(st.booleans()):
            item["reverse"] = True
        items.append(item)
    method = draw(st.sampled_from(["sum", "mean"]))
    max_missing = draw(st.integers(0, n - 1))
    scale: dict[str, Any] = {
        "items": [i["id"] for i in items],
        "decimals": draw(st.integers(0, 3)),
        "multiplier": draw(st.sampled_from([1, 2, 2.5, 0.5])),
        "source": "src",
    }
    if method == "mean":
        scale["method"] = "mean"
        scale["missing"] = {"max_missing": max_missing, "source": "src"}
    elif max_missing:
        scale["missing"] = {
            "max_missing": max_missing,
            "prorate": True,
            "rounding": "none",
            "source": "src",
        }
    definition = {
        "format_version": "1.1",
        "id": "gen",
        "name": "generated",
        "definition_version": "1.0.0",
        "construct": "testing",
        "license": {
            "status": "public-domain",
            "holder": "Nobody",
            "notice": "Free.",
            "redistribute_text": True,
        },
        "sources": {"src": "Author A. A paper. J Test 2020;1:1-2."},
        "items": items,
        "scales": {"total": scale},
    }
    cells = st.one_of(
        st.integers(low * step, high * step).map(lambda u: u / step),  # an answer
        st.integers(low, high),  # a whole one
        st.sampled_from([None, np.nan, high + 1 / step, low - 1 / step, low + 1 / (2 * step)]),
    )
    rows = draw(st.lists(st.fixed_dictionaries({i["id"]: cells for i in items}), max_size=6))
    return definition, rows


def _exact(definition: dict[str, Any], row: dict[str, Any]) -> Fraction | None:
    """The score worked out from the rules as the format states them, in exact fractions."""
    scale = definition["scales"]["total"]
    step = Fraction(1, 10 ** definition["items"][0]["number"]["decimals"])
    marks = []
    for item in definition["items"]:
        value = row[item["id"]]
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        x = Fraction(repr(value)) if isinstance(value, float) else Fraction(value)
        lo, hi = Fraction(item["number"]["min"]), Fraction(item["number"]["max"])
        if not lo <= x <= hi or x / step != int(x / step):
            return None  # not an answer: the row is invalid
        marks.append(lo + hi - x if item.get("reverse") else x)
    n = len(definition["items"])
    missing = n - len(marks)
    if missing > scale.get("missing", {}).get("max_missing", 0) or not marks:
        return None
    if scale.get("method") == "mean":
        value = sum(marks, Fraction(0)) / len(marks)
    else:
        value = sum(marks, Fraction(0)) * n / len(marks)
    value *= (
        Fraction(repr(scale["multiplier"]))
        if isinstance(scale["multiplier"], float)
        else (scale["multiplier"])
    )
    q = 10 ** scale["decimals"]
    return Fraction(math.floor(value * q + Fraction(1, 2)), q)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(marked())
def test_generated_marks_score_exactly_and_alike_on_every_backend(
    drawn: tuple[dict[str, Any], list[dict[str, Any]]],
) -> None:
    definition, rows = drawn
    inst = screening.parse_instrument(json.dumps(definition), "gen.yaml")  # JSON is YAML 1.2
    for row in rows:
        result = screening.score(inst, row, on_error="invalid")
        want = _exact(definition, row)
        have = result.scales["total"].score
        assert (None if have is None else Fraction(repr(have))) == want, (row, result.reasons)
    df = pd.DataFrame(rows, columns=[i["id"] for i in definition["items"]], dtype=object)
    frames = [df, df.astype(float)]  # cells as given, and float64 columns
    for frame in frames:
        for name, backend in BACKENDS.items():
            view = VIEWS[name](frame) if name in VIEWS else frame
            expected = BACKENDS["row"](inst, view, {})
            got = backend(inst, frame, {})
            for position, (a, b) in enumerate(zip(expected, got, strict=True)):
                assert_same(a, b, f"{name} row {position}: {rows[position]}")
