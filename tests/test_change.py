"""Change across administrations: golden cases from the cited sources, Jacobson-Truax arithmetic
worked by hand, NHS Talking Therapies paired outcomes, longitudinal DataFrames, properties."""

from __future__ import annotations

import datetime as dt
import json
import math
import subprocess
import sys
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import screening
from screening.change import (
    NOT_A_CASE,
    OUTCOMES,
    ChangeResult,
    Unavailable,
    _client_date_order,
    change,
    change_frame,
    client_summary,
    datetimes,
    paired_change,
    scale_rules,
)

ITEMS = ", ".join(f"ldq_{n}" for n in range(1, 11))


def jt_instrument(
    direction: str = "higher_is_worse",
    cutoff: str = "c",
    clinical: tuple[float, float] = (20, 7.6),
    functional: tuple[float, float] = (6, 4),
) -> screening.Instrument:
    """Ten items scored 0-3 (total 0-30) with Jacobson-Truax parameters.

    r_xx = 0.95 and SD = 7.6 are the worked example in a PhD thesis (p. 191) using the Leeds
    Dependence Questionnaire (ten items scored 0-3); the clinical and functional norms are made
    up for the cut-off arithmetic.
    """
    (cm, csd), (fm, fsd) = clinical, functional
    text = f"""
format_version: "1.0"
id: ldq_like
name: Ten items scored 0-3, with Jacobson-Truax parameters (a test definition)
definition_version: 1.0.0
construct: testing
license: {{status: public-domain, holder: Nobody, notice: Test data., redistribute_text: true}}
sources:
  thesis: >-
    PhD thesis, p. 191 (online.flipbuilder.com/redjo/fjez/files/basic-html/page191.html): the
    Jacobson-Truax index for the Leeds Dependence Questionnaire with test-retest reliability
    0.95 (Raistrick et al. 1994) and a pretreatment SD of 7.6. Norms below: made up.
option_sets:
  freq:
    - {{value: 0, label: never}}
    - {{value: 1, label: sometimes}}
    - {{value: 2, label: often}}
    - {{value: 3, label: always}}
items:
{chr(10).join(f"  - {{id: ldq_{n}, label: item {n}, options: freq}}" for n in range(1, 11))}
scales:
  total: {{items: [{ITEMS}], source: thesis}}
change:
  total:
    direction: {direction}
    reliable_change: {{reliability: 0.95, sd: 7.6, source: thesis}}
    clinical_significance:
      clinical: {{mean: {float(cm)}, sd: {float(csd)}}}
      functional: {{mean: {float(fm)}, sd: {float(fsd)}}}
      cutoff: {cutoff}
      source: thesis
"""
    return screening.parse_instrument(text)


JT = jt_instrument()
# S_diff by hand (Jacobson & Truax 1991):
#   SE     = SD * sqrt(1 - r_xx) = 7.6 * sqrt(0.05) = 7.6 * 0.2236068 = 1.6994117
#   S_diff = sqrt(2) * SE        = 1.4142136 * 1.6994117          = 2.4033310
#   reliable when |x2 - x1| / S_diff > 1.96, i.e. |x2 - x1| > 1.96 * 2.4033310 = 4.7105
S_DIFF = 2.4033310


# --- golden cases: NHS Talking Therapies thresholds (PHQ-9 6, GAD-7 4; caseness 10 and 8) ------


@pytest.mark.parametrize(
    ("instrument", "before", "after", "reliable"),
    [
        ("phq9", 15, 9, "improved"),  # a drop of exactly 6
        ("phq9", 15, 10, "no reliable change"),  # one below: 5
        ("phq9", 4, 10, "deteriorated"),  # a rise of exactly 6
        ("phq9", 4, 9, "no reliable change"),
        ("gad7", 12, 8, "improved"),  # exactly 4
        ("gad7", 11, 8, "no reliable change"),  # 3
        ("gad7", 12, 7, "improved"),
        ("gad7", 5, 9, "deteriorated"),
        ("gad7", 5, 8, "no reliable change"),
    ],
)
def test_nhs_talking_therapies_reliable_change(
    instrument: str, before: int, after: int, reliable: str
) -> None:
    result = change(instrument, before, after)
    assert result.reliable == reliable
    assert result.rci is None  # a fixed threshold, not the index
    assert result.difference == after - before


@pytest.mark.parametrize(
    ("instrument", "score", "case"),
    [("phq9", 10, True), ("phq9", 9, False), ("gad7", 8, True), ("gad7", 7, False)],
)
def test_caseness_at_the_cut_off_and_one_below(instrument: str, score: int, case: bool) -> None:
    result = change(instrument, score, score)
    assert result.case_before is case
    assert result.case_after is case


@pytest.mark.parametrize(
    ("before", "after", "response", "remission"),
    [
        (14, 7, True, False),  # exactly 50%; 7 is not < 5
        (14, 8, False, False),  # 6/14 = 43%
        (15, 8, False, False),  # 7/15 = 47%
        (10, 4, True, True),  # 4 < 5: remission
        (10, 5, True, False),  # exactly 50%; 5 is not < 5
    ],
)
def test_phq9_response_and_remission(
    before: int, after: int, response: bool, remission: bool
) -> None:
    result = change("phq9", before, after)
    assert (result.response, result.remission) == (response, remission)


@pytest.mark.parametrize(
    ("before", "after", "recovery", "reliable_recovery"),
    [
        (15, 9, True, True),  # case to non-case, and a reliable drop of 6
        (15, 10, False, False),  # still a case
        (10, 9, True, False),  # crossed caseness, but a drop of 1 is not reliable
        # reliable, but not a case at the start: NHS Talking Therapies counts recovery among
        # cases only, so a non-case is neither recovered nor not
        (9, 3, None, None),
    ],
)
def test_phq9_recovery(
    before: int, after: int, recovery: bool | None, reliable_recovery: bool | None
) -> None:
    result = change("phq9", before, after)
    assert (result.recovery, result.reliable_recovery) == (recovery, reliable_recovery)


def test_percent_change_and_baseline_zero() -> None:
    assert change("phq9", 20, 15).percent_change == -25.0
    zero = change("phq9", 0, 3)
    assert zero.percent_change is None
    assert zero.response is None
    assert ("response", "the baseline score is 0: a relative change is undefined") in [
        tuple(u) for u in zero.unavailable
    ]


# --- Jacobson-Truax: the index and the cut-offs, worked by hand ----------------------------------


def test_rci_worked_example() -> None:
    assert scale_rules(JT).s_diff == pytest.approx(S_DIFF, abs=1e-6)
    five = change(JT, 20, 15)  # RCI = -5 / 2.4033310 = -2.0804: beyond -1.96
    assert five.rci == pytest.approx(-2.080446, abs=1e-6)
    assert five.reliable == "improved"
    four = change(JT, 20, 16)  # RCI = -4 / 2.4033310 = -1.6644: within +/-1.96
    assert four.rci == pytest.approx(-1.664357, abs=1e-6)
    assert four.reliable == "no reliable change"
    worse = change(JT, 10, 15)  # +5 on a scale where higher is worse
    assert worse.reliable == "deteriorated"
    assert five.reliable_change_points == pytest.approx(1.96 * S_DIFF, abs=1e-6)  # 4.7105


@pytest.mark.parametrize(
    ("cutoff", "value", "before", "after", "category"),
    [
        # c = (SD_func*M_clin + SD_clin*M_func)/(SD_func + SD_clin) = (4*20 + 7.6*6)/11.6 = 10.8276
        ("c", 10.827586, 20, 10, "recovered"),  # reliable (-4.16) and 10 < 10.83
        ("c", 10.827586, 20, 11, "improved"),  # reliable, but 11 is on the clinical side
        ("c", 10.827586, 20, 17, "unchanged"),  # -3: not reliable
        ("c", 10.827586, 5, 12, "deteriorated"),  # +7: RCI 2.91
        # a = M_clin - 2*SD_clin = 20 - 15.2 = 4.8
        ("a", 4.8, 20, 4, "recovered"),
        ("a", 4.8, 20, 5, "improved"),
        # b = M_func + 2*SD_func = 6 + 8 = 14; a score exactly at a computed cut-off is not past it
        ("b", 14.0, 20, 13, "recovered"),
        ("b", 14.0, 20, 14, "improved"),
    ],
)
def test_clinically_significant_change(
    cutoff: str, value: float, before: int, after: int, category: str
) -> None:
    result = change(jt_instrument(cutoff=cutoff), before, after)
    assert result.cutoff == pytest.approx(value, abs=1e-6)
    assert result.clinical_significance == category


def test_higher_is_better_cut_offs_are_mirrored() -> None:
    # clinical (10, 4), functional (22, 3): a = 10 + 8 = 18, b = 22 - 6 = 16,
    # c = (3*10 + 4*22)/(3 + 4) = 118/7 = 16.857
    inst = jt_instrument("higher_is_better", "c", clinical=(10, 4), functional=(22, 3))
    assert change(inst, 10, 20).clinical_significance == "recovered"  # RCI +4.16, 20 > 16.86
    assert change(inst, 10, 16).clinical_significance == "improved"  # 16 < 16.86
    assert change(inst, 20, 10).clinical_significance == "deteriorated"
    assert change(inst, 10, 20).reliable == "improved"
    a = jt_instrument("higher_is_better", "a", clinical=(10, 4), functional=(22, 3))
    assert change(a, 10, 18).cutoff == 18.0
    assert change(a, 10, 19).clinical_significance == "recovered"
    assert change(a, 10, 18).clinical_significance == "improved"  # at a: not past it


def test_norms_that_contradict_the_direction_are_unavailable_not_guessed() -> None:
    inst = jt_instrument(
        clinical=(6, 4), functional=(20, 7.6)
    )  # higher is worse, yet clinical < functional
    result = change(inst, 20, 10)
    assert result.clinical_significance is None
    assert result.reliable == "improved"
    reasons = dict(result.unavailable)
    assert (
        "clinical mean (6.0) must lie above the functional mean (20.0)"
        in reasons["clinical_significance"]
    )


def test_pcl5_fixed_cut_off_is_inclusive_and_needs_reliable_change() -> None:
    # Marx 2022: a PCL-5 total of 28 or less is on the non-PTSD side
    assert change("pcl5", 29, 28).crossed_cutoff is True
    assert change("pcl5", 30, 29).crossed_cutoff is False
    result = change("pcl5", 50, 20)
    assert result.clinical_significance is None  # no single reliable-change value is published
    assert "needs reliable change" in dict(result.unavailable)["clinical_significance"]


# --- a higher-is-better instrument: WHO-5 percentage score, "a 10% difference" -------------------


@pytest.mark.parametrize(
    ("before", "after", "reliable"),
    [
        (40, 52, "improved"),  # +12 meets 10 (percentages are multiples of 4)
        (40, 48, "no reliable change"),  # +8
        (52, 40, "deteriorated"),
        (48, 40, "no reliable change"),
    ],
)
def test_who5_higher_is_better(before: int, after: int, reliable: str) -> None:
    result = change("who5", before, after, scale="percentage")
    assert result.direction == "higher_is_better"
    assert result.reliable == reliable


def test_who5_from_score_results() -> None:
    low = screening.score("who5", {f"who5_{n}": 2 for n in range(1, 6)})  # raw 10, 40%
    high = screening.score("who5", {f"who5_{n}": 3 for n in range(1, 6)})  # raw 15, 60%
    result = change("who5", low, high, scale="percentage")  # 40 -> 60
    assert (result.before, result.after, result.reliable) == (40, 60, "improved")
    assert result.case_before is None
    assert {u.outcome for u in result.unavailable} >= {"caseness", "response", "remission"}


# --- missing parameters are listed, never defaulted ----------------------------------------------


def test_no_change_block_lists_every_outcome() -> None:
    result = change("k10", 30, 20)
    assert result.difference == -10
    assert result.direction is None
    assert result.reliable is None
    assert result.case_before is None
    assert result.response is None
    assert [u.outcome for u in result.unavailable] == list(OUTCOMES)
    assert all("no change parameters for scale 'total'" in u.reason for u in result.unavailable)


def test_gad7_lists_what_it_lacks() -> None:
    result = change("gad7", 12, 7)
    assert {u.outcome for u in result.unavailable} == {
        "clinical_significance",
        "response",
        "remission",
    }
    assert result.response is None
    assert result.remission is None


# --- inputs ---------------------------------------------------------------------------------------


def phq9_result(values: list[int | None]) -> screening.ScoreResult:
    return screening.score("phq9", {f"phq9_{n}": v for n, v in enumerate(values, start=1)})


def test_score_results_as_input() -> None:
    before = phq9_result([3, 2, 1, 2, 1, 2, 1, 2, 1])  # 15
    after = phq9_result([1, 1, 1, 1, 1, 1, 1, 1, 1])  # 9
    result = change("phq9", before, after)
    assert (result.before, result.after, result.reliable) == (15, 9, "improved")
    assert isinstance(result.before, int)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (28, "must be within 0-27 (got 28)"),
        (-1, "must be within 0-27"),
        (7.5, "must be a whole number (got 7.5)"),
        (float("nan"), "missing (NaN)"),
        (True, "must be a number or a ScoreResult"),
        ("15", "must be a number or a ScoreResult"),
    ],
)
def test_bad_scores_raise(value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        change("phq9", 15, value)


def test_bad_results_raise() -> None:
    invalid = screening.score("phq9", {f"phq9_{n}": None for n in range(1, 10)}, on_error="invalid")
    with pytest.raises(ValueError, match="before: the result is invalid"):
        change("phq9", invalid, 10)
    gad = screening.score("gad7", {f"gad7_{n}": 1 for n in range(1, 8)})
    with pytest.raises(ValueError, match="a result of gad7, not phq9"):
        change("phq9", 10, gad)
    with pytest.raises(ValueError, match="has no scale 'total'"):
        change("who5", 40, 60)


def test_to_dict_is_json() -> None:
    pair = paired_change(change("phq9", 15, 9), change("gad7", 12, 7))
    data = json.loads(json.dumps(pair.to_dict()))
    assert data["recovery"] is True
    assert data["depression"]["unavailable"][0]["outcome"] == "clinical_significance"
    assert json.loads(json.dumps(change("k10", 30, 20).to_dict()))["reliable"] is None


# --- paired measures (NHS Talking Therapies) ------------------------------------------------------


@pytest.mark.parametrize(
    ("phq", "gad", "expected"),
    [
        # (case_before, case_after, recovery, reliable_improvement, reliable_deterioration,
        #  reliable_recovery)
        ((15, 9), (12, 7), (True, False, True, True, False, True)),
        ((15, 9), (12, 8), (True, True, False, True, False, False)),  # GAD-7 still a case at 8
        ((8, 8), (10, 5), (True, False, True, True, False, True)),  # a case on the GAD-7 only
        ((15, 9), (5, 9), (True, True, False, False, False, False)),  # one up, one down reliably
        ((9, 4), (7, 3), (False, False, None, True, False, None)),  # no case at the start
        ((4, 10), (5, 5), (False, True, None, False, True, None)),  # reliable deterioration
        ((12, 10), (9, 9), (True, True, False, False, False, False)),  # no reliable change
        ((10, 9), (8, 7), (True, False, True, False, False, False)),  # recovery, not reliable
    ],
)
def test_paired_outcomes(
    phq: tuple[int, int], gad: tuple[int, int], expected: tuple[bool | None, ...]
) -> None:
    pair = paired_change(change("phq9", *phq), change("gad7", *gad))
    assert (
        pair.case_before,
        pair.case_after,
        pair.recovery,
        pair.reliable_improvement,
        pair.reliable_deterioration,
        pair.reliable_recovery,
    ) == expected
    # recovery is judged for a case at the start only (as for one measure), and says so
    not_judged = ("recovery", "reliable_recovery") if pair.case_before is False else ()
    assert pair.unavailable == tuple(Unavailable(name, NOT_A_CASE) for name in not_judged)


def test_paired_outcome_unavailable_when_a_measure_lacks_caseness() -> None:
    pair = paired_change(change("phq9", 15, 9), change("pcl5", 50, 40))
    assert pair.case_before is True  # the PHQ-9 alone decides it
    assert pair.case_after is None  # PHQ-9 9 is no case; the PCL-5 could be one
    assert pair.recovery is None
    # the PHQ-9 improved reliably, but the PCL-5 (no reliable-change value) might have
    # deteriorated reliably, which would cancel it
    assert pair.reliable_improvement is None
    reasons = dict(pair.unavailable)
    assert reasons["recovery"].startswith("pcl5: no change.total.caseness")
    assert reasons["reliable_improvement"].startswith("pcl5: no change.total.reliable_change")


def test_paired_recovery_not_judged_where_caseness_at_the_start_is_unknown() -> None:
    # the PHQ-9 is no case at 5 and the PCL-5 has no caseness: a case at the start (then no
    # recovery, a case at 12 at the end) or none (then no recovery to judge) is unknown
    pair = paired_change(change("phq9", 5, 12), change("pcl5", 50, 40))
    assert (pair.case_before, pair.case_after) == (None, True)
    assert pair.recovery is None
    assert pair.reliable_recovery is None
    reasons = dict(pair.unavailable)
    assert reasons["recovery"].startswith("pcl5: no change.total.caseness")


def test_paired_three_valued_logic_never_guesses() -> None:
    deteriorated_known = paired_change(change("phq9", 4, 10), change("k10", 20, 20))
    assert deteriorated_known.reliable_improvement is False
    assert deteriorated_known.reliable_deterioration is None  # the K10 might have improved


# --- longitudinal DataFrames ----------------------------------------------------------------------


def frame(rows: list[tuple[Any, Any, Any]], index: list[Any] | None = None) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["client", "date", "score"], index=index)


def test_unsorted_input_keeps_rows_and_index() -> None:
    df = frame(
        [
            ("a", "2024-03-01", 8),
            ("b", "2024-01-05", 20),
            ("a", "2024-01-01", 15),
            ("a", "2024-02-01", 12),
            ("b", "2024-02-05", 13),
        ],
        index=[50, 40, 30, 20, 10],
    )
    out = change_frame(df, "phq9")
    assert list(out.index) == [50, 40, 30, 20, 10]
    assert out["administration"].tolist() == [3, 1, 1, 2, 2]
    assert out["baseline"].tolist() == [15, 20, 15, 15, 20]
    assert out["change_from_baseline"].tolist()[0] == -7
    assert out["reliable_from_baseline"].tolist()[0] == "improved"
    assert out["previous"].tolist()[0] == 12
    assert out["reliable_from_previous"].tolist()[0] == "no reliable change"
    assert out["change_from_baseline"].isna().tolist() == [False, True, True, False, False]
    assert out["days_since_baseline"].tolist() == [60, 0, 0, 31, 31]
    assert out["case"].tolist() == [False, True, True, True, True]
    assert out["excluded"].isna().all()


def test_duplicate_index_labels_and_a_validity_series() -> None:
    df = frame([("a", "2024-01-01", 15), ("a", "2024-02-01", 9), ("a", "2024-03-01", 3)])
    df.index = pd.Index(["x", "x", "y"])
    out = change_frame(df, "phq9", valid=pd.Series([True, True, False], index=df.index))
    assert list(out.index) == ["x", "x", "y"]
    assert out["reliable_from_baseline"].tolist()[1] == "improved"
    assert out["excluded"].tolist()[2] == "marked invalid"
    with pytest.raises(KeyError, match="no column 'ok'"):
        change_frame(df, "phq9", valid="ok")


def test_a_validity_series_on_another_index_is_refused_not_read_as_invalid() -> None:
    df = frame([("a", "2024-01-01", 15), ("a", "2024-02-01", 9)], index=[10, 11])
    # in another order it lines up by label
    out = change_frame(df, "phq9", valid=pd.Series([False, True], index=[11, 10]))
    assert out["excluded"].tolist()[1] == "marked invalid"
    with pytest.raises(ValueError, match=r"no label for 2 of the frame's rows \(first: 10\)"):
        change_frame(df, "phq9", valid=pd.Series([True, True]))  # a reset index
    with pytest.raises(ValueError, match="has the label 11 twice"):
        client_summary(df, "phq9", valid=pd.Series([True, True, False], index=[10, 11, 11]))
    with pytest.raises(TypeError, match=r"boolean Series on the frame's index \(got ndarray\)"):
        change_frame(df, "phq9", valid=np.array([True, True]))  # type: ignore[arg-type]


def test_duplicate_dates_keep_the_last_row() -> None:
    df = frame([("a", "2024-01-01", 15), ("a", "2024-01-01", 14), ("a", "2024-02-01", 8)])
    out = change_frame(df, "phq9")
    assert out["excluded"].tolist()[0] == "duplicate: a later row has the same client and date"
    assert out["administration"].tolist()[1:] == [1, 2]
    assert out["change_from_baseline"].tolist()[2] == -6
    summary = client_summary(df, "phq9")
    assert summary.loc["a", "baseline"] == 14
    assert summary.loc["a", "n_excluded"] == 1


def test_invalid_administrations_are_excluded_with_the_reason() -> None:
    df = pd.DataFrame(
        {
            "client": ["a", "a", None, "a", "a", "a", "a", "a", "a"],
            "date": [
                "2024-01-01",
                None,
                "2024-01-03",
                "2024-01-04",
                "2024-01-05",
                "2024-01-06",
                "2024-01-07",
                "2024-01-08",
                "2024-01-09",
            ],
            "score": [15, 10, 10, None, "abc", 28, 7.5, 9, 8],
            "ok": [True, True, True, True, True, True, True, False, True],
        }
    )
    out = change_frame(df, "phq9", valid="ok")
    assert out["excluded"].tolist() == [
        np.nan,
        "date missing or not an ISO 8601 date",
        "client missing",
        "score missing",
        "score is not a number",
        "score outside 0-27 (scale 'total')",
        "score is not a whole number (scale 'total' scores whole numbers)",
        "marked invalid",
        np.nan,
    ]
    assert out["administration"].tolist()[-1] == 2
    assert out["change_from_previous"].tolist()[-1] == -7  # from 15: the excluded rows skipped


def test_single_administration_and_a_client_with_only_excluded_rows() -> None:
    df = frame([("solo", "2024-01-01", 12), ("ghost", "2024-01-01", None)])
    summary = client_summary(df, "phq9")
    assert list(summary.index) == ["ghost", "solo"]
    solo = summary.loc["solo"]
    assert (solo["n_administrations"], solo["baseline"], solo["latest"], solo["best"]) == (
        1,
        12,
        12,
        12,
    )
    assert solo["days_in_treatment"] == 0
    assert pd.isna(solo["change"])
    assert pd.isna(solo["reliable"])
    assert pd.isna(solo["recovery"])
    assert bool(solo["case_baseline"]) is True  # caseness needs one administration only
    ghost = summary.loc["ghost"]
    assert (ghost["n_administrations"], ghost["n_excluded"]) == (0, 1)
    assert pd.isna(ghost["baseline"])
    assert pd.isna(ghost["baseline_date"])


def test_client_summary_outcomes() -> None:
    df = frame(
        [
            ("a", "2024-01-01", 16),
            ("a", "2024-01-15", 7),
            ("a", "2024-02-01", 9),
            ("b", "2024-01-01", 6),
            ("b", "2024-03-01", 12),
        ]
    )
    s = client_summary(df, "phq9")
    a, b = s.loc["a"], s.loc["b"]
    assert (a["baseline"], a["latest"], a["best"], a["change"]) == (16, 9, 7, -7)
    assert a["reliable"] == "improved"
    assert bool(a["reliable_recovery"]) is True
    assert bool(a["response"]) is False  # 7/16 = 44%
    assert a["baseline_date"] == pd.Timestamp("2024-01-01")
    assert a["days_in_treatment"] == 31
    assert b["reliable"] == "deteriorated"
    assert pd.isna(b["recovery"])  # not a case at baseline: recovery is judged for cases only
    assert s.attrs["unavailable"] == [
        {
            "outcome": "clinical_significance",
            "reason": "no change.total.clinical_significance in phq9",
        }
    ]


def test_higher_is_better_best_is_the_highest() -> None:
    df = frame([("a", "2024-01-01", 40), ("a", "2024-02-01", 72), ("a", "2024-03-01", 60)])
    s = client_summary(df, "who5", scale="percentage")
    assert s.loc["a", "best"] == 72
    assert s.loc["a", "reliable"] == "improved"


def test_dates_as_objects_text_and_time_zones() -> None:
    dates = [dt.date(2024, 1, 1), dt.date(2024, 2, 1)]
    out = change_frame(frame([("a", dates[0], 15), ("a", dates[1], 9)]), "phq9")
    assert out["days_since_baseline"].tolist() == [0, 31]
    zoned = pd.to_datetime(["2024-01-01 23:00", "2024-01-02 01:00"]).tz_localize("Europe/Paris")
    df = pd.DataFrame({"client": ["a", "a"], "date": zoned, "score": [15, 9]})
    out = change_frame(df, "phq9")
    assert out["days_since_baseline"].tolist()[1] == pytest.approx(2 / 24)
    text = frame([("a", "2024-01-01", 15), ("a", "not a date", 9)])
    assert (
        change_frame(text, "phq9")["excluded"].tolist()[1] == "date missing or not an ISO 8601 date"
    )


def test_instrument_without_change_parameters() -> None:
    df = frame([("a", "2024-01-01", 30), ("a", "2024-02-01", 20)])
    out = change_frame(df, "k10")
    assert out["change_from_baseline"].isna().iloc[0]  # the baseline row
    assert out["change_from_baseline"].iloc[1] == -10
    assert out["reliable_from_baseline"].isna().all()
    assert [u["outcome"] for u in out.attrs["unavailable"]] == [
        *OUTCOMES,
        "sudden_gain",
        "sudden_loss",
        "previous_best",
    ]
    s = client_summary(df, "k10")
    assert s["best"].isna().all()  # no direction, so no "best"
    assert s.attrs["unavailable"][-1]["outcome"] == "best"


def test_empty_frame_and_missing_columns() -> None:
    empty = frame([])
    assert len(change_frame(empty, "phq9")) == 0
    assert len(client_summary(empty, "phq9")) == 0
    with pytest.raises(KeyError, match="no column 'when'"):
        change_frame(frame([("a", "2024-01-01", 1)]), "phq9", date="when")


def test_both_sort_paths_agree() -> None:
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 50, 2000)
    dates = np.datetime64("2024-01-01") + rng.integers(0, 30, 2000).astype("timedelta64[D]")
    fast = _client_date_order(codes, dates, 50)  # two radix passes over a 32-bit key
    unique = _client_date_order(codes, dates, 2**28)  # one quicksort on a 64-bit unique key
    slow = _client_date_order(codes, dates, 2**62)  # too many clients for either: two sorts
    assert fast.tolist() == slow.tolist() == unique.tolist()
    keys = list(zip(codes[fast].tolist(), dates[fast].tolist(), fast.tolist(), strict=True))
    assert keys == sorted(keys)


def test_rci_columns_with_the_index_method() -> None:
    df = frame([("a", "2024-01-01", 20), ("a", "2024-02-01", 15)])
    out = change_frame(df, JT)
    assert out["rci_from_baseline"].iloc[1] == pytest.approx(-2.080446, abs=1e-6)
    s = client_summary(df, JT)
    assert s.loc["a", "clinical_significance"] == "improved"  # 15 is above c = 10.83


# --- properties -----------------------------------------------------------------------------------

CHANGE_SCALES = [("phq9", "total"), ("gad7", "total"), ("who5", "percentage"), ("pcl5", "total")]


@given(st.integers(0, 30), st.integers(0, 30))
def test_swapping_administrations_negates_the_rci(x1: int, x2: int) -> None:
    forward, back = change(JT, x1, x2), change(JT, x2, x1)
    assert forward.rci is not None
    assert back.rci is not None
    assert forward.rci == -back.rci
    swap = {"improved": "deteriorated", "deteriorated": "improved"}
    assert back.reliable == swap.get(str(forward.reliable), forward.reliable)


@given(st.sampled_from([*CHANGE_SCALES, ("ldq_like", "total")]), st.data())
def test_identical_scores_are_never_reliable_or_recovered(
    where: tuple[str, str], data: st.DataObject
) -> None:
    inst = JT if where[0] == "ldq_like" else screening.load_instrument(where[0])
    rules = scale_rules(inst, where[1])
    x = data.draw(st.integers(int(rules.low), int(rules.high)))
    result = change(inst, x, x, scale=where[1])
    assert result.reliable in ("no reliable change", None)
    assert result.clinical_significance in ("unchanged", None)
    assert result.recovery in (False, None)
    assert result.reliable_recovery in (False, None)
    assert result.response in (False, None)
    assert result.crossed_cutoff in (False, None)


@st.composite
def administrations(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(0, 25))
    clients = st.sampled_from(["a", "b", "c", None])
    days = st.integers(0, 6).map(lambda d: dt.date(2024, 1, 1) + dt.timedelta(days=d))
    scores = st.one_of(st.none(), st.integers(-2, 30), st.sampled_from([4.5, float("nan")]))
    rows = draw(st.lists(st.tuples(clients, days, scores), min_size=n, max_size=n))
    index = draw(st.permutations(range(100, 100 + n)))
    df = frame(rows, index=list(index))
    df["valid"] = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    return df


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(administrations())
def test_change_frame_keeps_every_row_and_its_index(df: pd.DataFrame) -> None:
    out = change_frame(df, "phq9", valid="valid")
    assert list(out.index) == list(df.index)
    used = out["administration"].notna()
    assert (used == out["excluded"].isna()).all()  # every row used or excluded with a reason
    summary = client_summary(df, "phq9", valid="valid")
    named = df["client"].notna()
    assert summary["n_administrations"].sum() == used.sum()
    assert summary["n_excluded"].sum() == (~used & named).sum()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(administrations(), st.sampled_from(["phq9", "gad7"]))
def test_frames_agree_with_change(df: pd.DataFrame, instrument: str) -> None:
    df["score"] = df["score"].clip(upper=21) if instrument == "gad7" else df["score"]
    out = df.join(change_frame(df, instrument, valid="valid"))
    summary = client_summary(df, instrument, valid="valid")
    for client, group in out[out["administration"].notna()].groupby("client"):
        rows = group.sort_values("administration")
        scores = rows["score"].tolist()
        for i in range(1, len(rows)):
            step = change(instrument, scores[i - 1], scores[i])
            assert rows["change_from_previous"].iloc[i] == step.difference
            assert rows["reliable_from_previous"].iloc[i] == step.reliable
            assert bool(rows["case"].iloc[i]) == step.case_after
        if len(rows) >= 2:
            expected = change(instrument, scores[0], scores[-1])
            row = summary.loc[str(client)]
            assert isinstance(row, pd.Series)
            assert_summary_matches(row, expected)


def assert_summary_matches(row: pd.Series, expected: ChangeResult) -> None:
    def value(x: Any) -> Any:
        return None if x is pd.NA or (isinstance(x, float) and math.isnan(x)) else x

    assert value(row["change"]) == expected.difference
    assert value(row["reliable"]) == expected.reliable
    for column, field in [
        ("response", "response"),
        ("remission", "remission"),
        ("case_baseline", "case_before"),
        ("case_latest", "case_after"),
        ("recovery", "recovery"),
        ("reliable_recovery", "reliable_recovery"),
    ]:
        got = value(row[column])
        assert (None if got is None else bool(got)) == getattr(expected, field), column
    percent = value(row["percent_change"])
    assert percent == expected.percent_change or percent == pytest.approx(expected.percent_change)


# --- the module stays light -----------------------------------------------------------------------


def test_importing_change_loads_neither_pandas_nor_numpy() -> None:
    code = (
        "import sys, screening.change as c; c.change('phq9', 15, 9); "
        "print('pandas' in sys.modules, 'numpy' in sys.modules)"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert found == ["False", "False"]


def test_day_first_dates_are_refused_not_reordered() -> None:
    df = pd.DataFrame(
        {
            "client": ["a"] * 3,
            "date": ["13/01/2024", "12/02/2024", "2024-03-05"],
            "score": [20, 14, 8],
        }
    )
    out = change_frame(df, "phq9")
    assert out["excluded"].tolist()[:2] == ["date missing or not an ISO 8601 date"] * 2
    assert pd.isna(out["excluded"][2])


@pytest.mark.parametrize("dtype", [object, "str", "category"])
def test_a_year_or_month_alone_is_no_date(dtype: Any) -> None:
    # ISO 8601 allows "2024" and "2024-02"; read as 1 January or 1 February they would take
    # the baseline's place and knock the real first visit out as a duplicate of its day
    df = pd.DataFrame(
        {
            "client": ["a"] * 6,
            "date": ["2024-01-01", "2024", "2024-02", "20240301", "2024-04-01T09:30", "2024-5-2"],
            "score": [20, 14, 8, 7, 6, 5],
        },
        index=[60, 50, 40, 30, 20, 10],
    )
    df["date"] = df["date"].astype(dtype)
    out = change_frame(df, "phq9")
    assert out.index.tolist() == [60, 50, 40, 30, 20, 10]
    excluded = out["excluded"].tolist()
    assert excluded[1:3] == ["date missing or not an ISO 8601 date"] * 2
    assert [pd.isna(e) for e in (excluded[0], *excluded[3:])] == [True] * 4
    assert out["administration"].tolist() == [1, pd.NA, pd.NA, 2, 3, 4]
    assert out["baseline"].tolist()[-1] == 20


def test_numbers_are_no_dates() -> None:
    # 2024 would read as 1 January 2024, and 20240105 as 5 January: neither is a date
    for dates in ([2024, 2025], [20240105, 20240301], [2024.0, 2025.0]):
        df = pd.DataFrame({"client": ["a", "a"], "date": dates, "score": [20, 8]})
        out = change_frame(df, "phq9")
        assert out["excluded"].tolist() == ["date missing or not an ISO 8601 date"] * 2
    mixed = pd.DataFrame(
        {"client": ["a"] * 3, "date": ["2024-01-05", 20240301, dt.date(2024, 4, 1)]},
    ).assign(score=[20, 14, 8])
    out = change_frame(mixed, "phq9")
    assert out["excluded"].isna().tolist() == [True, False, True]
    assert out["change_from_baseline"].tolist()[2] == -12
    # a numpy month is a month alone; an Arrow timestamp with a time zone goes to UTC
    month = mixed.assign(date=["2024-01-05", np.datetime64("2024-02"), np.datetime64("2024-04-01")])
    assert change_frame(month, "phq9")["excluded"].isna().tolist() == [True, False, True]
    pa = pytest.importorskip("pyarrow")
    zoned = pd.Series(
        [pd.Timestamp("2024-03-31 03:30", tz="Europe/Paris")],  # summer time: UTC+2
        dtype=pd.ArrowDtype(pa.timestamp("us", tz="Europe/Paris")),
    )
    assert datetimes(zoned).tolist() == [pd.Timestamp("2024-03-31 01:30")]  # naive UTC


def test_offsets_across_daylight_saving_and_time_zones_are_one_timeline() -> None:
    df = pd.DataFrame(
        {
            "client": ["a", "a"],
            "date": ["2024-01-10T10:00:00+00:00", "2024-07-01T10:00:00+01:00"],
            "score": [20, 12],
        }
    )
    assert change_frame(df, "phq9")["change_from_baseline"].tolist()[1] == -8
    zoned = df.assign(
        date=pd.Series(
            [pd.Timestamp("2024-01-01", tz="UTC"), pd.Timestamp("2024-01-02", tz="Europe/London")],
            dtype=object,
        )
    )
    assert change_frame(zoned, "phq9")["excluded"].isna().all()


def test_a_boolean_among_scores_is_not_a_score() -> None:
    df = pd.DataFrame(
        {
            "client": ["a"] * 3,
            "date": ["2024-01-01", "2024-02-01", "2024-03-01"],
            "score": pd.Series([20, True, 6], dtype=object),
        }
    )
    out = change_frame(df, "phq9")
    assert pd.notna(out["excluded"][1])
    assert out["change_from_baseline"].tolist()[2] == -14


def test_response_and_remission_are_judged_for_cases_only() -> None:
    never_depressed = change("phq9", 3, 3)
    assert (never_depressed.remission, never_depressed.response) == (None, None)
    reasons = {u.outcome: u.reason for u in never_depressed.unavailable}
    assert reasons["remission"].startswith("the baseline is not a case")
    assert reasons["response"].startswith("the baseline is not a case")
    case = change("phq9", 10, 4)  # a case (>= 10) that halves and falls to 4 or less
    assert (case.response, case.remission) == (True, True)
    summary = client_summary(
        pd.DataFrame(
            {
                "client": ["a", "a", "b", "b"],
                "date": ["2024-01-01", "2024-02-01"] * 2,
                "score": [3, 3, 10, 4],
            }
        ),
        "phq9",
    )
    assert pd.isna(summary["remission"]["a"])
    assert bool(summary["remission"]["b"]) is True
    assert pd.isna(summary["response"]["a"])
