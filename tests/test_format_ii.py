"""Format II, part 1: context with defaults, numbers and cut-points chosen per call; alternative
band tables (each cited, some chosen by context); answer codings chosen per call. Every feature
through the row scorer and every DataFrame backend."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

import screening
from screening.cases import case_responses, compare

from .backends import BACKENDS, VIEWS, assert_same

CONTEXT = """\
format_version: "1.1"
id: ctx
name: Context of every kind
definition_version: 1.0.0
construct: testing
license: {status: public-domain, holder: Nobody, notice: Free to use., redistribute_text: true}
sources:
  src: Author A. A paper about a small instrument. J Test 2020;1:1-2.
context:
  age: {type: number, min: 0, max: 120, required: false}
  cut: {type: number, values: [2, 4], default: 4, source: src}
  sex: {values: [female, male], default: female, source: src}
option_sets:
  freq:
    - {value: 0, label: never}
    - {value: 1, label: sometimes}
    - {value: 2, label: often}
items:
  - {id: ctx_1, label: one, options: freq}
  - {id: ctx_2, label: two, options: freq}
  - {id: ctx_3, label: three, options: freq}
scales:
  total:
    items: [ctx_1, ctx_2, ctx_3]
    source: src
classifications:
  screen:
    rules:
      - {label: positive, when: {scale: total, gte: {context: cut}}}
    otherwise: negative
    source: src
  age_group:
    rules:
      - {label: adolescent, when: {all: [{context: age, gte: 12}, {context: age, lt: 18}]}}
      - {label: adult, when: {context: age, gte: 18}}
    otherwise: child
    source: src
  for_men:
    rules:
      - {label: men, when: {context: sex, eq: male}}
    otherwise: women
    source: src
"""


@pytest.fixture(scope="module")
def ctx_inst() -> screening.Instrument:
    return screening.parse_instrument(CONTEXT, "ctx.yaml")


def _answers(total: int) -> dict[str, int]:
    first = min(total, 2)
    second = min(total - first, 2)
    return {"ctx_1": first, "ctx_2": second, "ctx_3": total - first - second}


# --- context: numbers, bounds, defaults, cut-points -------------------------------------------


def test_a_cut_point_is_a_context_parameter_with_its_default(
    ctx_inst: screening.Instrument,
) -> None:
    def screen(total: int, **context: Any) -> str | None:
        result = screening.score(ctx_inst, _answers(total), on_error="invalid", **context)
        return result.classifications["screen"]

    # the default 4, on both sides; then 2, chosen per call
    assert (screen(3), screen(4)) == ("negative", "positive")
    assert (screen(1, cut=2), screen(2, cut=2)) == ("negative", "positive")
    assert screen(3, cut=4.0) == "negative"  # 4.0 is the value 4


def test_a_number_context_refuses_what_it_does_not_take(ctx_inst: screening.Instrument) -> None:
    for value, expected in [
        (3, "one of 2, 4"),
        (True, "one of 2, 4"),
        ("four", "one of 2, 4"),
        (float("inf"), "one of 2, 4"),
    ]:
        result = screening.score(ctx_inst, _answers(3), on_error="invalid", cut=value)
        assert [i.code for i in result.issues] == ["context_invalid"], value
        assert f"context 'cut' must be {expected}" in result.issues[0].message
        assert result.classifications["screen"] is None
    result = screening.score(ctx_inst, _answers(3), on_error="invalid", age=121)
    assert result.issues[0].message == "context 'age' must be a number from 0 to 120 (got 121)"
    assert result.issues[0].ctx is not None
    assert result.issues[0].ctx["expected"] == ("a number from 0 to 120")


def test_a_number_context_reads_a_decimal_written_as_text(ctx_inst: screening.Instrument) -> None:
    # the command line gives every value as text: --context cut=2
    result = screening.score(ctx_inst, _answers(2), cut="2", age="12.5")
    assert result.classifications == {
        "screen": "positive",
        "age_group": "adolescent",
        "for_men": "women",
    }


def test_numeric_context_conditions_on_both_sides(ctx_inst: screening.Instrument) -> None:
    def group(age: Any) -> str | None:
        return screening.score(ctx_inst, _answers(0), age=age).classifications["age_group"]

    assert [group(a) for a in (11, 11.9, 12, 17, 17.5, 18, 120)] == [
        "child",
        "child",
        "adolescent",
        "adolescent",
        "adolescent",
        "adult",
        "adult",
    ]
    # optional and without a default: undetermined, the result invalid
    result = screening.score(ctx_inst, _answers(0), on_error="invalid")
    assert result.classifications["age_group"] is None
    assert not result.valid
    assert result.issues == ()


def test_a_text_default_stands_in_for_a_missing_value(ctx_inst: screening.Instrument) -> None:
    for given in ({}, {"sex": None}, {"sex": float("nan")}):
        result = screening.score(ctx_inst, _answers(0), age=30, **given)
        assert result.classifications["for_men"] == "women", given
        assert result.valid
        assert result.issues == ()
    assert (
        screening.score(ctx_inst, _answers(0), age=30, sex="male").classifications["for_men"]
        == "men"
    )


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_context_of_every_kind_through_every_backend(
    backend: str, ctx_inst: screening.Instrument
) -> None:
    totals = [0, 1, 2, 3, 4, 5, 6, 3, 3, 2]
    df = pd.DataFrame([_answers(t) for t in totals])
    df.index = pd.Index([f"r{i}" for i in range(len(df))])
    context = {
        # one type per column, as every library holds it: whole numbers, numbers, text
        "cut": pd.Series([2, 2, 2, 4, 4, None, 4, 3, 2, 4], index=df.index, dtype=object),
        "age": pd.Series(
            [11.0, 12.0, 17.5, 18.0, None, 130.0, 0.0, 40.0, 120.0, 12.0],
            index=df.index,
            dtype=object,
        ),
        "sex": pd.Series(
            ["male", None, "female", "male", None, "x", None, None, "male", None],
            index=df.index,
            dtype=object,
        ),
    }
    expected = BACKENDS["row"](ctx_inst, df, context)
    got = BACKENDS[backend](ctx_inst, df, context)
    for position, (want, have) in enumerate(zip(expected, got, strict=True)):
        assert_same(want, have, f"{backend} row {position}")
    screens = [r.classifications["screen"] for r in expected]
    assert screens[:7] == [
        "negative",
        "negative",
        "positive",
        "negative",
        "positive",
        "positive",
        "positive",
    ]
    assert screens[7] is None  # 3 is no cut-point it takes


def test_pcl5_cut_point_chosen_per_call() -> None:
    # items 1-15 at 2 and item 16 at 1: a total of 31
    responses = {f"pcl5_{n}": 2 if n <= 15 else 0 for n in range(1, 21)} | {"pcl5_16": 1}
    label = {
        cut: screening.score("pcl5", responses, cut_point=cut).classifications["cut_point"]
        for cut in (31, 32, 33)
    }
    assert label == {31: "probable PTSD", 32: "below the cut-point", 33: "below the cut-point"}
    assert screening.score("pcl5", responses).classifications["cut_point"] == "below the cut-point"
    with pytest.raises(screening.ResponseError, match="must be one of 31, 32, 33"):
        screening.score("pcl5", responses, cut_point=30)


def test_golden_cases_with_context_run_through_every_backend() -> None:
    inst = screening.load_instrument("pcl5")
    for backend in sorted(BACKENDS):
        for index, case in enumerate(inst.cases):
            if not case.context:
                continue
            df = pd.DataFrame({k: [v] for k, v in case_responses(inst, case).items()})
            ctx = {k: pd.Series([v], dtype=object) for k, v in case.context.items()}
            (result,) = BACKENDS[backend](inst, df, ctx)
            assert [f.message for f in compare(index, case, result)] == [], backend


# --- band tables --------------------------------------------------------------------------------


def _k10(total: int) -> dict[str, int]:
    """K10 answers summing to `total` (10-50): twos and threes, no item skipped."""
    threes = max(0, total - 20)
    answers = [3] * threes + [2] * (10 - threes)
    if total < 20:
        answers = [2] * (total - 10) + [1] * (20 - total)
        answers = [2, 2, *answers[2:]] if total >= 12 else answers
    return {f"k10_{n}": v for n, v in enumerate(sorted(answers, reverse=True), start=1)}


def test_k10_reports_both_tables() -> None:
    def both(total: int) -> tuple[str | None, dict[str, str | None]]:
        scaled = screening.score("k10", _k10(total)).scales["total"]
        assert scaled.score == total
        return scaled.band, dict(scaled.bands)

    assert both(19) == ("moderate", {"meteor": "low"})
    assert both(20) == ("moderate", {"meteor": "mild"})
    assert both(25) == ("high", {"meteor": "moderate"})
    assert both(30) == ("very high", {"meteor": "severe"})
    result = screening.score("k10", {"k10_1": 2}, on_error="invalid")
    assert result.scales["total"].bands == {"meteor": None}
    assert result.to_dict()["scales"]["total"]["bands"] == {"meteor": None}


def test_a_scale_without_band_tables_reports_none() -> None:
    scaled = screening.score("phq9", {f"phq9_{n}": 1 for n in range(1, 10)}).scales["total"]
    assert scaled.bands == {}
    assert scaled.to_dict()["bands"] == {}
    # positional construction of the ten fields before `bands` keeps working
    old = screening.ScaleResult(9, "mild", 9, False, None, 9, 0, 0, True, "")
    assert old.bands == {}


def test_epds_3a_table_is_chosen_by_sex() -> None:
    # items 3-5 scoring 2, 1, 1: an EPDS-3A of 4
    responses = {f"epds_{n}": 3 for n in range(1, 11)} | {"epds_1": 0, "epds_2": 0}
    responses |= {"epds_3": 1, "epds_4": 1, "epds_5": 2}
    women = screening.score("epds", responses).scales["epds_3a"]
    men = screening.score("epds", responses, sex="male").scales["epds_3a"]
    assert (women.score, women.band, dict(women.bands)) == (
        4,
        "below cut-off",
        {"women": "below cut-off", "men": None},
    )
    assert (men.score, men.band, dict(men.bands)) == (
        4,
        "probable anxiety",
        {"women": None, "men": "probable anxiety"},
    )


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_band_tables_through_every_backend(backend: str) -> None:
    inst = screening.load_instrument("epds")
    rows = []
    for position in (0, 1, 2, 3):  # box positions of items 3-5: EPDS-3A 9, 6, 3, 0
        rows.append(
            {f"epds_{n}": 3 for n in range(1, 11)}
            | {"epds_1": 0, "epds_2": 0, "epds_3": position, "epds_4": 3 - position}
            | {"epds_5": position}
        )
    rows.append({"epds_1": 0})  # unscored
    df = pd.DataFrame(rows * 2)
    sexes = ["female"] * 5 + ["male", None, "male", "male", "x"]
    context = {"sex": pd.Series(sexes, index=df.index, dtype=object)}
    expected = BACKENDS["row"](inst, df, context)
    got = BACKENDS[backend](inst, df, context)
    for position, (want, have) in enumerate(zip(expected, got, strict=True)):
        assert_same(want, have, f"{backend} row {position}")
    assert [r.scales["epds_3a"].bands["men"] for r in expected[5:]] == [
        "probable anxiety",
        None,
        "below cut-off",
        "below cut-off",
        None,
    ]


def test_the_frame_has_a_column_per_band_table() -> None:
    columns = list(screening.output_schema("k10").columns)
    assert columns[:3] == ["total", "total_band", "total_band_meteor"]
    epds = list(screening.output_schema("epds").columns)
    at = epds.index("epds_3a_band")
    assert epds[at : at + 3] == ["epds_3a_band", "epds_3a_band_women", "epds_3a_band_men"]
    out = screening.score_frame("k10", pd.DataFrame([_k10(24), _k10(25)]))
    assert list(out["total_band_meteor"]) == ["mild", "moderate"]
    assert list(out["total_band_meteor"].cat.categories) == ["low", "mild", "moderate", "severe"]


def test_fhir_observation_notes_the_other_tables() -> None:
    from screening import fhir

    result = screening.score("k10", _k10(24))
    (obs,) = fhir.to_observations("k10", result)
    assert obs["interpretation"] == [{"text": "high"}]
    notes = [n["text"] for n in obs["note"]]
    assert "Band table meteor (AIHW METEOR 634146, the CRUfAD grouping): mild." in notes


# --- codings ------------------------------------------------------------------------------------


def test_epds_item_scores_coding_reads_a_symptom_free_mother_as_such() -> None:
    zeros = {f"epds_{n}": 0 for n in range(1, 11)}
    as_positions = screening.score("epds", zeros)
    assert as_positions.scales["total"].score == 21
    assert as_positions.flag_ids == ["self_harm_thoughts"]
    as_scores = screening.score("epds", zeros, coding="item_scores")
    assert as_scores.scales["total"].score == 0
    assert as_scores.flag_ids == []
    # the default named explicitly is the default
    assert screening.score("epds", zeros, coding="box_positions") == as_positions


def test_k10_us_coding_reads_the_same_answers() -> None:
    us = {f"k10_{n}": 1 for n in range(1, 11)}  # a little of the time, US 0-4
    australian = {f"k10_{n}": 2 for n in range(1, 11)}
    assert (
        screening.score("k10", us, coding="us").scales == screening.score("k10", australian).scales
    )
    with pytest.raises(screening.ResponseError, match=r"must be one of 0, 1, 2, 3, 4 \(got 5\)"):
        screening.score("k10", us | {"k10_10": 5}, coding="us")


def test_an_unknown_coding_is_an_argument_error() -> None:
    with pytest.raises(ValueError, match="k10 has no coding 'uss' \\(codings: australian, us\\)"):
        screening.score("k10", {}, coding="uss")
    df = pd.DataFrame([{f"k10_{n}": 1 for n in range(1, 11)}])
    with pytest.raises(ValueError, match="has no coding 'uss'"):
        screening.score_frame("k10", df, context={"coding": "uss"})
    with pytest.raises(ValueError, match="chosen per call"):
        screening.score_frame("k10", df, context={"coding": pd.Series(["us"])})
    # an instrument without codings takes no `coding`
    result = screening.score("gad7", {}, on_error="invalid", coding="us")
    assert [i.code for i in result.issues] == ["unknown_context"]


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_codings_through_every_backend(backend: str) -> None:
    inst = screening.load_instrument("epds")
    rows: list[list[int | None]] = [
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        [3, 3, 3, 3, 3, 3, 3, 3, 3, 3],
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        [2, 2, 2, 2, 2, 1, 1, 1, 0, 0],
        [4, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        [0, 0, None, 0, 0, 0, 0, 0, 0, 0],
    ]
    df = pd.DataFrame([{f"epds_{n}": v for n, v in enumerate(r, start=1)} for r in rows])
    context: dict[str, Any] = {
        "coding": "item_scores",
        "sex": pd.Series(["female", "male"] * 3, dtype=object),
    }
    expected = BACKENDS["row"](inst, df, context)
    got = BACKENDS[backend](inst, df, context)
    for position, (want, have) in enumerate(zip(expected, got, strict=True)):
        assert_same(want, have, f"{backend} row {position}")
    assert [r.scales["total"].score for r in expected] == [0, 30, 1, 13, None, None]
    assert expected[4].reasons == ("item 'epds_1' must be one of 0, 1, 2, 3 (got 4)",)


def test_issues_of_a_coding_name_its_values() -> None:
    df = pd.DataFrame([{f"k10_{n}": 5 for n in range(1, 11)}])
    issues = screening.issues_frame("k10", df, context={"coding": "us"})
    assert set(issues["message"]) == {
        f"item 'k10_{n}' must be one of 0, 1, 2, 3, 4 (got 5)" for n in range(1, 11)
    }


# --- a coding's own non-answers (NHANES' 7 and 9) -------------------------------------------------

NHANES_ROWS: list[list[Any]] = [
    [7, 2, 2, 2, 2, 2, 2, 2, 2, 1],  # refused: 16 x 9/8 = 18
    [9, 9, 1, 1, 1, 1, 1, 1, 1, 9],  # two don't knows: 7 x 9/7 = 9
    [7, 9, 7, 1, 1, 1, 1, 1, 1, None],  # three: unscored
    [0, 0, 0, 0, 0, 0, 0, 0, 9, None],  # item 9 unknown: its flag undetermined
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    [8, 0, 0, 0, 0, 0, 0, 0, 0, 0],  # 8 is neither an answer nor a non-answer
    [7.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0],
]


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_nhanes_codes_through_every_backend(backend: str) -> None:
    inst = screening.load_instrument("phq9")
    df = pd.DataFrame(
        [{f"phq9_{n}": v for n, v in enumerate(r, start=1)} for r in NHANES_ROWS], dtype=object
    )
    context = {"coding": "nhanes"}
    view = VIEWS[backend](df) if backend in VIEWS else df  # Arrow: one type per column
    for position, (want, have) in enumerate(
        zip(BACKENDS["row"](inst, view, context), BACKENDS[backend](inst, df, context), strict=True)
    ):
        assert_same(want, have, f"{backend} row {position}")
    expected = BACKENDS["row"](inst, df, context)
    assert [r.scales["total"].score for r in expected] == [18, 9, None, 0, 0, None, 9]
    assert dict(expected[1].non_answers) == {
        "phq9_1": "dont_know",
        "phq9_2": "dont_know",
        "phq9_10": "dont_know",
    }
    assert list(expected[3].undetermined_flag_ids) == ["suicidal_ideation"]
    assert expected[5].reasons == ("item 'phq9_1' must be one of 0, 1, 2, 3, 7, 9 (got 8)",)


def test_the_non_answer_column_is_there_in_every_coding() -> None:
    df = pd.DataFrame([{f"phq9_{n}": 0 for n in range(1, 10)}])
    plain = screening.score_frame("phq9", df)
    coded = screening.score_frame("phq9", df.assign(phq9_1=7), context={"coding": "nhanes"})
    assert list(plain.columns) == list(coded.columns)
    assert coded["non_answers"].tolist() == ["phq9_1: declined"]


@pytest.mark.parametrize(
    ("edit", "code", "message"),
    [
        (
            "      - {value: 9, kind: dont_know}\n",
            "coding_values",
            "coding 'nhanes': 9 records an answer to item 'phq9_1' in this coding",
        ),
        (
            "      - {value: 9, kind: dont_know}\n      - {value: 7, kind: dont_know}\n",
            "coding_values",
            "coding 'nhanes': non-answer 7 is listed twice",
        ),
    ],
)
def test_a_coding_non_answer_never_stands_for_an_answer(
    tmp_path: Any, edit: str, code: str, message: str
) -> None:
    from screening.linting import lint_file

    text = (screening.loading.builtin_dir() / "phq9.yaml").read_text(encoding="utf-8")
    if "records an answer" in message:  # the coding records 9 for "nearly every day"
        text = text.replace(
            "    non_answers:\n",
            "    values: {frequency: [0, 1, 2, 9]}\n    non_answers:\n",
        )
        text = text.replace("      - {value: 7, kind: declined}\n", "")
    else:
        text = text.replace("      - {value: 9, kind: dont_know}\n", edit)
    path = tmp_path / "phq9.yaml"
    path.write_text(text, encoding="utf-8")
    issues = [i for i in lint_file(path) if i.code != "case_failed"]
    assert [(i.code, i.message) for i in issues] == [(code, message)]


def test_the_default_coding_has_no_non_answers_of_its_own(tmp_path: Any) -> None:
    from screening.linting import lint_file

    text = (screening.loading.builtin_dir() / "phq9.yaml").read_text(encoding="utf-8")
    text = text.replace(
        "    default: true\n    source: kroenke2001\n",
        "    default: true\n    non_answers: [{value: 8, kind: declined}]\n"
        "    source: kroenke2001\n",
    )
    path = tmp_path / "phq9.yaml"
    path.write_text(text, encoding="utf-8")
    assert [i.code for i in lint_file(path) if i.code != "case_failed"] == ["coding_default"]
