"""Jacobson-Truax with the caller's own parameters, the caller's parameters in place of a
definition's, and how a ChangeResult reads.

Every expected value is worked by hand from Jacobson NS, Truax P. Clinical significance: a
statistical approach to defining meaningful change in psychotherapy research. J Consult Clin
Psychol 1991;59(1):12-19: SE = SD * sqrt(1 - r), S_diff = sqrt(2) * SE, RCI = (x2 - x1) / S_diff,
reliable when |RCI| > 1.96; a = M_clin - 2 SD_clin, b = M_func + 2 SD_func,
c = (SD_clin * M_func + SD_func * M_clin) / (SD_clin + SD_func).
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import screening
from screening.change import (
    CALLER,
    change,
    change_frame,
    client_summary,
    clinical_significance,
    group_outcomes,
    reliable_change,
    scale_rules,
)

# --- reliable_change -----------------------------------------------------------------------------


def test_rci_worked_example_leeds_dependence_questionnaire() -> None:
    # r = 0.95 and SD = 7.6 (a PhD thesis, p. 191, for the LDQ; Raistrick et al. 1994):
    #   SE = 7.6 * sqrt(0.05) = 1.6994117, S_diff = sqrt(2) * 1.6994117 = 2.4033310
    r = reliable_change(20, 15, sd=7.6, reliability=0.95)
    assert r.se == pytest.approx(1.6994117, abs=1e-7)
    assert r.s_diff == pytest.approx(2.4033310, abs=1e-7)
    assert r.rci == pytest.approx(-2.0804458, abs=1e-7)  # -5 / 2.4033310
    assert r.reliable is True
    four = reliable_change(20, 16, sd=7.6, reliability=0.95)
    assert four.rci == pytest.approx(-1.6643567, abs=1e-7)  # -4 / 2.4033310: within 1.96
    assert four.reliable is False
    assert four.difference == -4


def test_rci_round_numbers_and_the_criterion_boundary() -> None:
    # SD 10, r 0.91: SE = 10 * 0.3 = 3, S_diff = 3 * sqrt(2) = 4.2426407; reliable beyond
    # 1.96 * 4.2426407 = 8.3155757 points
    assert reliable_change(0, 0, sd=10, reliability=0.91).se == pytest.approx(3.0)
    over = reliable_change(20, 11.6, sd=10, reliability=0.91)  # -8.4: RCI -1.9798990
    assert over.rci == pytest.approx(-1.9798990, abs=1e-7)
    assert over.reliable is True
    under = reliable_change(20, 11.7, sd=10, reliability=0.91)  # -8.3: RCI -1.9563288
    assert under.rci == pytest.approx(-1.9563288, abs=1e-7)
    assert under.reliable is False
    # a stricter criterion (2.58: p < .01) needs more
    assert reliable_change(20, 11.6, sd=10, reliability=0.91, criterion=2.58).reliable is False
    up = reliable_change(5, 15, sd=10, reliability=0.91)  # signed: a rise is positive
    assert up.rci == pytest.approx(10 / 4.2426407, abs=1e-6)
    assert up.reliable is True


def test_a_change_exactly_at_the_criterion_is_not_reliable() -> None:
    # SD 5, r 0.92: SE = 5 * sqrt(0.08), S_diff = sqrt(2) * SE = 5 * sqrt(0.16) = 2 exactly;
    # a drop of 4 is RCI -2, at criterion 2 and not past it (|RCI| > criterion, strictly).
    # In floating point S_diff is 1.9999999999999996 and the RCI -2.0000000000000004.
    at = reliable_change(20, 16, sd=5, reliability=0.92, criterion=2.0)
    assert at.s_diff == pytest.approx(2.0)
    assert at.rci == pytest.approx(-2.0)
    assert at.reliable is False
    past = reliable_change(20, 15.9, sd=5, reliability=0.92, criterion=2.0)  # RCI -2.05
    assert past.reliable is True
    # S_diff 2.5 * sqrt(0.16) = 1, so 1.96 points is RCI 1.96: at the default criterion
    assert reliable_change(0, 1.96, sd=2.5, reliability=0.92).reliable is False
    assert reliable_change(0, 1.97, sd=2.5, reliability=0.92).reliable is True
    columns = reliable_change(
        pd.Series([20, 20, 16]), pd.Series([16, 15.9, 20]), sd=5, reliability=0.92, criterion=2
    )
    assert columns.reliable.tolist() == [False, True, False]
    # a definition's rule (PHQ-9, higher is worse) and the frames read it alike
    rule = {"reliable_change": {"reliability": 0.92, "sd": 5, "criterion": 2.0}}
    assert change("phq9", 20, 16, override=rule).reliable == "no reliable change"
    assert change("phq9", 16, 20, override=rule).reliable == "no reliable change"
    assert change("phq9", 20, 15, override=rule).reliable == "improved"
    visits = pd.DataFrame(
        {
            "client": ["a", "a", "b", "b"],
            "date": ["2024-01-01", "2024-02-01"] * 2,
            "score": [20, 16, 20, 15],
        }
    )
    frame = change_frame(visits, "phq9", override=rule)
    assert frame["reliable_from_baseline"].tolist()[1::2] == ["no reliable change", "improved"]


def test_rci_over_columns_keeps_the_index_and_marks_missing() -> None:
    before = pd.Series([20, 20, None, 5], index=["w", "x", "y", "z"])
    after = pd.Series([15, 16, 3, 15], index=["w", "x", "y", "z"])
    r = reliable_change(before, after, sd=7.6, reliability=0.95)
    assert list(r.rci.index) == ["w", "x", "y", "z"]
    assert r.rci.round(6).tolist()[:2] == [-2.080446, -1.664357]
    assert pd.isna(r.rci["y"])
    assert r.reliable.tolist()[:2] == [True, False]
    assert pd.isna(r.reliable["y"])
    assert r.reliable.dtype == "boolean"
    frame = r.to_frame()
    assert list(frame.columns) == ["before", "after", "difference", "rci", "reliable"]
    assert r.s_diff == pytest.approx(2.4033310, abs=1e-7)  # one number for every pair
    lists = reliable_change([20, 20], np.array([15, 16]), sd=7.6, reliability=0.95)
    assert lists.reliable.tolist() == [True, False]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(-50, 50), st.integers(-50, 50)), min_size=1, max_size=20),
    st.floats(0.5, 30),
    st.floats(0.05, 0.99),
)
def test_columns_agree_with_pairs(pairs: list[tuple[int, int]], sd: float, r: float) -> None:
    x1 = pd.Series([p[0] for p in pairs])
    x2 = pd.Series([p[1] for p in pairs])
    columns = reliable_change(x1, x2, sd=sd, reliability=r)
    for i, (a, b) in enumerate(pairs):
        one = reliable_change(a, b, sd=sd, reliability=r)
        assert columns.rci.iloc[i] == pytest.approx(one.rci)
        assert bool(columns.reliable.iloc[i]) is one.reliable


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sd": 0, "reliability": 0.9}, "sd must be a positive number"),
        ({"sd": -3, "reliability": 0.9}, "sd must be a positive number"),
        ({"sd": 5, "reliability": 1.0}, "reliability must be a number between 0 and 1"),
        ({"sd": 5, "reliability": 0}, "reliability must be a number between 0 and 1"),
        ({"sd": 5, "reliability": True}, "reliability must be a number between 0 and 1"),
        ({"sd": 5, "reliability": 0.9, "criterion": 0}, "criterion must be a positive number"),
    ],
)
def test_bad_parameters_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        reliable_change(10, 5, **kwargs)


def test_bad_scores_are_refused() -> None:
    with pytest.raises(ValueError, match="both be numbers, or both columns"):
        reliable_change(10, [5, 6], sd=5, reliability=0.9)
    with pytest.raises(ValueError, match="got NaN"):
        reliable_change(math.nan, 5, sd=5, reliability=0.9)
    with pytest.raises(ValueError, match=r"got -inf"):  # its RCI would be -inf, "reliable"
        reliable_change(20, -math.inf, sd=5, reliability=0.9)
    with pytest.raises(ValueError, match=r"after must hold numbers .* inf at position 1"):
        reliable_change(pd.Series([1.0, 2.0]), pd.Series([2.0, math.inf]), sd=5, reliability=0.9)
    with pytest.raises(ValueError, match="got inf"):
        clinical_significance(
            before=math.inf, after=3, reliability=0.9, clinical=(20, 5), functional=(5, 3)
        )
    with pytest.raises(ValueError, match="before has 2 scores but after has 1"):
        reliable_change([1, 2], [3], sd=5, reliability=0.9)
    with pytest.raises(ValueError, match="must hold numbers"):
        reliable_change(["a"], [3], sd=5, reliability=0.9)
    with pytest.raises(ValueError, match="not booleans"):
        reliable_change(pd.Series([True]), pd.Series([1]), sd=5, reliability=0.9)
    with pytest.raises(ValueError, match="different indexes"):
        reliable_change(pd.Series([1]), pd.Series([2], index=[5]), sd=5, reliability=0.9)


# --- clinical_significance -----------------------------------------------------------------------


def test_cut_offs_worked_by_hand() -> None:
    cs = clinical_significance(functional=(6, 4), clinical=(20, 7.6))
    assert cs.a == pytest.approx(4.8)  # 20 - 2 * 7.6
    assert cs.b == pytest.approx(14.0)  # 6 + 2 * 4
    assert cs.c == pytest.approx(10.827586, abs=1e-6)  # (7.6 * 6 + 4 * 20) / 11.6 = 125.6/11.6
    assert cs.rci is None
    assert cs.classification is None


def test_cut_offs_mirrored_where_higher_is_better() -> None:
    cs = clinical_significance(functional=(22, 3), clinical=(10, 4), direction="higher_is_better")
    assert cs.a == pytest.approx(18.0)  # 10 + 2 * 4
    assert cs.b == pytest.approx(16.0)  # 22 - 2 * 3
    assert cs.c == pytest.approx(118 / 7)  # (4 * 22 + 3 * 10) / 7 = 16.857143
    up = clinical_significance(
        functional=(22, 3),
        clinical=(10, 4),
        before=10,
        after=20,
        reliability=0.95,
        sd=7.6,
        direction="higher_is_better",
    )
    assert up.classification == "recovered"  # RCI +4.16, 20 > 16.857
    assert up.crossed_c is True


@pytest.mark.parametrize(
    ("before", "after", "rci", "crossed", "category"),
    [
        (20, 10, -4.160892, True, "recovered"),  # -10 / 2.4033310, and 10 < c = 10.83
        (20, 11, -3.744802, False, "improved"),  # reliable, 11 still on the clinical side
        (20, 17, -1.248267, False, "unchanged"),  # -3: not reliable
        (5, 12, 2.912624, False, "deteriorated"),  # +7
        (12, 10, -0.832178, True, "unchanged"),  # crossed c, but -2 is not reliable
    ],
)
def test_classification_worked_by_hand(
    before: int, after: int, rci: float, crossed: bool, category: str
) -> None:
    # the index SD defaults to the clinical SD (Jacobson and Truax: the pretreatment group's)
    cs = clinical_significance(
        functional=(6, 4), clinical=(20, 7.6), before=before, after=after, reliability=0.95
    )
    assert cs.sd == 7.6
    assert cs.rci == pytest.approx(rci, abs=1e-6)
    assert cs.reliable is (abs(rci) > 1.96)
    assert cs.crossed_c is crossed
    assert cs.classification == category


def test_a_score_at_c_has_not_crossed_it() -> None:
    # functional (0, 5), clinical (20, 5): c = (5 * 0 + 5 * 20) / 10 = 10 exactly
    at = clinical_significance(
        functional=(0, 5), clinical=(20, 5), before=20, after=10, reliability=0.9
    )
    assert at.c == 10
    assert at.crossed_c is False
    assert at.classification == "improved"


def test_classification_over_columns() -> None:
    before = pd.Series([20, 20, 20, 5, None])
    after = pd.Series([10, 11, 17, 12, 3])
    cs = clinical_significance(
        functional=(6, 4), clinical=(20, 7.6), before=before, after=after, reliability=0.95
    )
    assert cs.classification.tolist()[:4] == ["recovered", "improved", "unchanged", "deteriorated"]
    assert pd.isna(cs.classification.iloc[4])
    assert cs.crossed_c.tolist()[:4] == [True, False, False, False]
    assert cs.to_frame().shape == (5, 6)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30)), min_size=1, max_size=15))
def test_classification_columns_agree_with_pairs_and_with_a_definition(
    pairs: list[tuple[int, int]],
) -> None:
    x1 = pd.Series([p[0] for p in pairs])
    x2 = pd.Series([p[1] for p in pairs])
    kw: dict[str, Any] = {"functional": (6, 4), "clinical": (20, 7.6), "reliability": 0.95}
    columns = clinical_significance(before=x1, after=x2, **kw)
    jt = _ldq_like()  # the same parameters in a definition file
    for i, (a, b) in enumerate(pairs):
        one = clinical_significance(before=a, after=b, **kw)
        assert columns.classification.iloc[i] == one.classification
        assert one.classification == change(jt, a, b).clinical_significance


def test_norms_against_the_direction_and_missing_inputs_are_refused() -> None:
    above = r"clinical mean \(6\) must lie above the functional mean \(20\)"
    with pytest.raises(ValueError, match=above):
        clinical_significance(functional=(20, 4), clinical=(6, 7.6))
    with pytest.raises(ValueError, match="must lie below"):
        clinical_significance(functional=(6, 4), clinical=(20, 7.6), direction="higher_is_better")
    with pytest.raises(ValueError, match="needs before, after and reliability"):
        clinical_significance(functional=(6, 4), clinical=(20, 7.6), before=20, after=10)
    with pytest.raises(ValueError, match=r"functional must be \(mean, sd\)"):
        clinical_significance(functional=6, clinical=(20, 7.6))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="clinical sd must be a positive number"):
        clinical_significance(functional=(6, 4), clinical=(20, 0))
    with pytest.raises(ValueError, match="direction must be"):
        clinical_significance(
            functional=(6, 4),
            clinical=(20, 7.6),
            direction="up",  # type: ignore[arg-type]
        )


def _ldq_like() -> screening.Instrument:
    items = ", ".join(f"q{n}" for n in range(1, 11))
    text = f"""
format_version: "1.0"
id: ldq_like
name: Ten items scored 0-3 (a test definition)
definition_version: 1.0.0
construct: testing
license: {{status: public-domain, holder: Nobody, notice: Test data., redistribute_text: true}}
sources: {{jt: "Jacobson and Truax 1991, with made-up norms"}}
option_sets:
  freq:
    [{{value: 0, label: a}}, {{value: 1, label: b}}, {{value: 2, label: c}}, {{value: 3, label: d}}]
items:
{chr(10).join(f"  - {{id: q{n}, label: item {n}, options: freq}}" for n in range(1, 11))}
scales:
  total: {{items: [{items}], source: jt}}
change:
  total:
    direction: higher_is_worse
    reliable_change: {{reliability: 0.95, sd: 7.6, source: jt}}
    clinical_significance:
      clinical: {{mean: 20.0, sd: 7.6}}
      functional: {{mean: 6.0, sd: 4.0}}
      cutoff: c
      source: jt
"""
    return screening.parse_instrument(text)


# --- the caller's parameters in place of the definition's ----------------------------------------


def test_override_reliable_change_with_the_index_and_record_it() -> None:
    # the definition: a drop of 6 is reliable (NHS Talking Therapies); the caller's sample:
    # SD 5.5, r 0.84, so S_diff = sqrt(2) * 5.5 * 0.4 = 3.1112698 and RCI = -6 / 3.1112698
    given = {"reliable_change": {"reliability": 0.84, "sd": 5.5}}
    result = change("phq9", 15, 9, override=given)
    assert result.rci == pytest.approx(-1.928473, abs=1e-6)
    assert result.reliable == "no reliable change"
    assert result.reliable_recovery is False  # recovered, but not reliably
    assert change("phq9", 15, 9).reliable == "improved"  # the definition's rule is untouched
    (record,) = result.overrides
    assert record.part == "reliable_change"
    assert record.given == {"reliability": 0.84, "sd": 5.5}
    assert record.definition["threshold"] == 6
    data = json.loads(json.dumps(result.to_dict()))
    assert data["overrides"][0]["part"] == "reliable_change"
    assert scale_rules("phq9", override=given).s_diff == pytest.approx(3.1112698, abs=1e-7)


def test_override_caseness_and_remove_a_part() -> None:
    higher = change("phq9", 11, 9, override={"caseness": {"min": 12}})
    assert higher.case_before is False  # 11 is below the caller's 12
    assert higher.recovery is None  # and so not judged
    without = change("phq9", 15, 7, override={"response": None})
    assert without.response is None
    assert "no change.total.response in phq9" in dict(without.unavailable)["response"]
    assert without.overrides[0].given is None
    numpy_numbers = change("phq9", 15, 9, override={"caseness": {"min": np.int64(16)}})
    assert numpy_numbers.case_before is False


def test_without_caseness_response_and_remission_are_judged_on_no_path() -> None:
    # judged for a case at baseline only: without caseness, the per-client paths said
    # "response" and "remission" where the group table said unavailable
    rule = {"caseness": None}
    reason = "needs caseness: no change.total.caseness in phq9"
    one = change("phq9", 20, 3, override=rule)
    assert (one.response, one.remission, one.recovery) == (None, None, None)
    assert dict(one.unavailable)["response"] == reason
    assert dict(one.unavailable)["remission"] == reason
    visits = pd.DataFrame(
        {"client": ["a", "a"], "date": ["2024-01-01", "2024-02-01"], "score": [20, 3]}
    )
    summary = client_summary(visits, "phq9", override=rule)
    assert summary[["response", "remission"]].isna().all(axis=None)
    table = group_outcomes(visits, "phq9", override=rule)
    assert table.loc[["response", "remission"], "unavailable"].tolist() == [reason, reason]
    # with caseness, all three paths judge them (20 is a case; 3 is half and in remission)
    judged = change("phq9", 20, 3)
    assert (judged.response, judged.remission) == (True, True)
    assert client_summary(visits, "phq9")[["response", "remission"]].iloc[0].tolist() == [
        True,
        True,
    ]
    assert group_outcomes(visits, "phq9").loc[["response", "remission"], "count"].tolist() == [
        1,
        1,
    ]


def test_override_gives_change_rules_to_a_scale_without_them() -> None:
    block = {
        "direction": "higher_is_worse",
        "reliable_change": {"threshold": 5, "source": "my-sample"},
        "caseness": {"min": 20},
    }
    result = change("k10", 30, 24, override=block)
    assert result.reliable == "improved"
    assert result.recovery is False
    assert result.case_after is True
    assert {u.outcome for u in result.unavailable} == {
        "clinical_significance",
        "response",
        "remission",
    }
    rules = scale_rules("k10", override=block)
    assert rules.threshold == 5


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"reliable": {"threshold": 3}}, "no change part 'reliable'"),
        ({"reliable_change": {"reliability": 1.5, "sd": 4}}, "reliability: Input should be less"),
        ({"reliable_change": {"sd": 4}}, "needs either reliability and sd"),
        (
            {"reliable_change": {"threshold": 6, "criterion": 2.58}},
            "criterion applies to the index",
        ),
        ({"caseness": {}}, "needs min, max or both"),
        ({"direction": None}, "direction cannot be removed"),
        ({"direction": "sideways"}, "direction"),
    ],
)
def test_bad_overrides_are_refused(override: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        change("phq9", 15, 9, override=override)


def test_override_needs_a_direction_where_the_definition_has_no_block() -> None:
    with pytest.raises(ValueError, match="must give its direction"):
        change("k10", 30, 20, override={"reliable_change": {"threshold": 5}})
    with pytest.raises(TypeError, match="override must be a mapping"):
        change("phq9", 15, 9, override=[("caseness", None)])  # type: ignore[arg-type]


def test_the_source_of_a_callers_part_is_the_caller() -> None:
    assert CALLER == "caller"
    spec_source = scale_rules("phq9", override={"caseness": {"min": 12}})
    assert spec_source.caseness == (12, None)


def test_frames_take_the_override_and_say_so() -> None:
    df = pd.DataFrame(
        {"client": ["a", "a"], "date": ["2024-01-01", "2024-02-01"], "score": [15, 9]}
    )
    given = {"reliable_change": {"reliability": 0.84, "sd": 5.5}}
    out = change_frame(df, "phq9", override=given)
    assert out["reliable_from_baseline"].tolist()[1] == "no reliable change"
    assert out.attrs["overrides"][0]["part"] == "reliable_change"
    summary = client_summary(df, "phq9", override=given)
    assert summary.loc["a", "rci"] == pytest.approx(-1.928473, abs=1e-6)
    table = group_outcomes(df, "phq9", override=given)
    assert table.loc["reliable_improvement", "count"] == 0
    assert table.attrs["overrides"][0]["given"] == {"reliability": 0.84, "sd": 5.5}


# --- how a ChangeResult reads --------------------------------------------------------------------


def test_repr_reads_like_a_summary() -> None:
    text = repr(change("phq9", 15, 9))
    assert text.startswith("ChangeResult(phq9 total; scores: 15 → 9; change: -6 (-40%)")
    assert "reliable change: improved" in text
    assert "case: yes → no" in text
    assert "recovery: yes" in text
    assert "clinical significance: unavailable" in text
    with_index = repr(
        change("phq9", 15, 9, override={"reliable_change": {"reliability": 0.84, "sd": 5.5}})
    )
    assert "RCI: -1.93" in with_index
    assert "caller's parameters: reliable_change" in with_index


def test_html_table_for_notebooks() -> None:
    page = change("phq9", 15, 9)._repr_html_()
    assert page.startswith("<table><caption>phq9 total</caption>")
    assert "<th style='text-align:left'>reliable change</th>" in page
    assert "<td style='text-align:left'>15 → 9</td>" in page
    assert "<details><summary>unavailable</summary>" in page
    assert "clinical significance: no change.total.clinical_significance in phq9" in page
    no_block = change("k10", 30, 20)._repr_html_()
    assert "case</th><td style='text-align:left'>unavailable" in no_block
