"""Format II: conversion tables chosen by context (T-scores normed by sex and age). The first
table whose `when` holds converts the score; an undetermined `when` before it (a context value
not given), or no table at all, leaves the scale unscored with its reason, and a flag reading it
undetermined. Golden values are read off the tables in tests/definitions/normed.yaml by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import screening
from screening import display, fhir, redcap
from screening.linting import lint_file

from .backends import BACKENDS, VIEWS, assert_same

DEFINITION = (Path(__file__).parent / "definitions" / "normed.yaml").read_text(encoding="utf-8")
NO_TABLE = "no conversion table applies to its context"


@pytest.fixture(scope="module")
def inst() -> screening.Instrument:
    return screening.parse_instrument(DEFINITION, "normed.yaml")


def _t(inst: screening.Instrument, answers: list[int | None], **context: Any) -> Any:
    responses = {f"normed_{n}": v for n, v in enumerate(answers, start=1) if v is not None}
    return screening.score(inst, responses, on_error="invalid", **context)


@pytest.mark.parametrize(
    ("context", "answers", "score", "band"),
    [
        # girls under 13: the first table; raw 6 -> 70, 5 -> 64 (both sides of 65)
        ({"sex": "female", "age": 10}, [2, 2, 2], 70, "clinical"),
        ({"sex": "female", "age": 12}, [2, 2, 1], 64, "borderline"),
        ({"sex": "female", "age": 12}, [2, 1, 1], 58, "typical"),  # raw 4: below 60
        # girls of 13 and over: the second table (age < 13 fails); 6 -> 67, 5 -> 61, 4 -> 56
        ({"sex": "female", "age": 13}, [2, 2, 2], 67, "clinical"),
        ({"sex": "female", "age": 13}, [2, 2, 1], 61, "borderline"),
        ({"sex": "female", "age": 18}, [2, 1, 1], 56, "typical"),
        # boys at any age: the third table; 6 -> 66, 5 -> 60, 4 -> 54
        ({"sex": "male", "age": 8}, [2, 2, 2], 66, "clinical"),
        ({"sex": "male", "age": 17}, [2, 2, 1], 60, "borderline"),
        ({"sex": "male", "age": 17}, [2, 1, 1], 54, "typical"),
        ({"sex": "male", "age": 17}, [0, 0, 0], 35, "typical"),
        # one item missing: 2 + 1 = 3 of two items, x 3/2 = 4.5 -> 5 (half up), then the table
        ({"sex": "female", "age": 10}, [2, None, 1], 64, "borderline"),
    ],
)
def test_the_table_for_the_context_converts_the_score(
    inst: screening.Instrument,
    context: dict[str, Any],
    answers: list[int | None],
    score: int,
    band: str,
) -> None:
    result = _t(inst, answers, **context)
    t = result.scales["t"]
    assert (t.score, t.band, t.valid, result.valid) == (score, band, True, True)
    assert ("clinical" in result.flag_ids) is (score >= 65)


def test_no_table_for_the_context_leaves_the_scale_unscored(inst: screening.Instrument) -> None:
    for context in ({"sex": "other", "age": 10}, {"age": 10}):  # none applies; sex not given
        result = _t(inst, [2, 2, 2], **context)
        t = result.scales["t"]
        assert (t.score, t.valid, t.reason, t.raw) == (None, False, NO_TABLE, 6)
        assert result.reasons == (f"t: {NO_TABLE}",)
        assert result.scales["raw"].score == 6  # the raw score needs no table
        assert result.undetermined_flag_ids == ["clinical"]  # never silently clear
        assert not result.valid
    # too many items missing: that is the reason, whatever the context
    missing = _t(inst, [2, None, None], sex="other", age=10).scales["t"]
    assert missing.reason == "2 of 3 items missing (at most 1 allowed)"


ROWS: list[tuple[dict[str, Any], list[int | None]]] = [
    ({"sex": "female", "age": 10}, [2, 2, 2]),
    ({"sex": "female", "age": 13}, [2, 2, 1]),
    ({"sex": "male", "age": 9}, [1, 1, None]),
    ({"sex": "other", "age": 10}, [1, 1, 1]),
    ({"sex": None, "age": 10}, [2, 2, 2]),
    ({"sex": "female", "age": None}, [2, 2, 2]),
    ({"sex": "male", "age": 12}, [2, None, None]),
    ({"sex": "female", "age": 20}, [2, 2, 2]),
    ({"sex": "female", "age": 12}, [2, 2, 7]),
]


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_every_backend_agrees(backend: str, inst: screening.Instrument) -> None:
    df = pd.DataFrame(
        [{f"normed_{n}": v for n, v in enumerate(a, start=1)} for _, a in ROWS], dtype=object
    )
    context = {name: pd.Series([c[name] for c, _ in ROWS], dtype=object) for name in ("sex", "age")}
    view = VIEWS[backend](df) if backend in VIEWS else df
    expected = BACKENDS["row"](inst, view, context)
    for position, (want, have) in enumerate(
        zip(expected, BACKENDS[backend](inst, df, context), strict=True)
    ):
        assert_same(want, have, f"row {position}")
    assert [r.scales["t"].score for r in expected] == [
        70,
        61,
        49,
        None,
        None,
        None,
        None,
        None,
        None,
    ]
    assert [r.scales["t"].reason for r in expected][3:5] == [NO_TABLE, NO_TABLE]


def test_the_frame_says_why_per_row(inst: screening.Instrument) -> None:
    df = pd.DataFrame({"normed_1": [2, 2, 1], "normed_2": [2, 2, 1], "normed_3": [2, 2, 1]})
    context = {"sex": pd.Series(["female", "other", None]), "age": 12}
    out = screening.score_frame(inst, df, context=context)
    assert out["t"].tolist() == [70, pd.NA, pd.NA]
    assert out["t_band"].astype(object).where(out["t_band"].notna(), None).tolist() == [
        "clinical",
        None,
        None,
    ]
    issues = screening.issues_frame(inst, df, context=context)
    assert issues["message"].tolist() == [f"t: {NO_TABLE}", f"t: {NO_TABLE}"]
    assert issues["row"].tolist() == [1, 2]


def test_forms_and_pages_say_the_table_is_chosen_by_context(inst: screening.Instrument) -> None:
    item = next(i for i in fhir.to_questionnaire(inst)["item"] if i["linkId"] == "scale.t")
    assert not any("calculatedExpression" in e["url"] for e in item["extension"])
    assert "chosen by context" in item["extension"][-1]["valueMarkdown"]
    rows = {r["Variable / Field Name"]: r for r in redcap.redcap_rows(inst)}
    assert rows["normed_t"]["Choices, Calculations, OR Slider Labels"] == (
        "sum([normed_1], [normed_2], [normed_3])"
    )
    assert "before the published conversion table" in rows["normed_t"]["Field Note"]
    tables = display.describe_instrument(inst)["scales"]["t"]["lookup"]
    assert [t["when"] for t in tables] == [
        "all of (sex = female, age < 13)",
        "sex = female",
        "sex = male",
    ]
    assert tables[2]["table"][6] == [6, 66]


def _lint(text: str, folder: Path) -> list[tuple[str, int | None]]:
    path = folder / "normed.yaml"
    path.write_text(text, encoding="utf-8")
    return [(i.code, i.line) for i in lint_file(path)]


def _line(text: str, needle: str, occurrence: int = 1) -> int:
    found = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    return found[occurrence - 1]


def test_the_checker_names_each_mistake(tmp_path: Path) -> None:
    assert _lint(DEFINITION, tmp_path) == []
    # a table without `when` before others: the ones after it never apply
    everywhere = DEFINITION.replace("        when: {context: sex, eq: female}\n", "", 1)
    assert _lint(everywhere, tmp_path) == [
        ("lookup_when", _line(everywhere, "- label: T-score", 3))
    ]
    # a table chosen by an answer, not by context
    by_item = DEFINITION.replace("when: {context: sex, eq: male}", "when: {item: normed_1, eq: 2}")
    assert _lint(by_item, tmp_path) == [("lookup_when", _line(by_item, "item: normed_1, eq: 2"))]
    # each table lists every reachable score
    short = DEFINITION.replace("          - {score: 6, converted: 66}\n", "")
    assert _lint(short, tmp_path) == [("lookup_range", _line(short, "{score: 0, converted: 35}"))]
    unknown = DEFINITION.replace("{context: sex, eq: male}", "{context: gender, eq: male}")
    assert _lint(unknown, tmp_path) == [("unknown_context", _line(unknown, "context: gender"))]


def test_numpy_numbers_as_context_choose_as_python_numbers_do(inst: screening.Instrument) -> None:
    import numpy as np

    young: list[Any] = [np.int64(10), np.float64(10.0), np.int8(12)]
    older: list[Any] = [np.int64(15), np.float32(13.0)]
    for age in young:
        assert _t(inst, [2, 2, 2], sex="female", age=age).scales["t"].score == 70
    for age in older:
        assert _t(inst, [2, 2, 2], sex="female", age=age).scales["t"].score == 67
