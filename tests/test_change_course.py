"""Non-linear recovery: change from the best earlier administration, sudden gains and losses
(Tang & DeRubeis 1999, with the critical value adjusted where fewer than three administrations
lie on a side, Lutz et al. 2013), and time to the first reliable improvement. Worked by hand and
checked against a per-client loop that transcribes the R package suddengains' `identify_sg`.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from screening.change import T_CRITICAL, change, change_frame, client_summary


def at(frame: pd.DataFrame, row: Any, column: str) -> Any:
    """One cell, untyped (pandas-stubs types a cell as any scalar)."""
    return frame.loc[row, column]


def course(scores: list[int], instrument: str = "phq9", **kw: object) -> pd.DataFrame:
    df = pd.DataFrame(
        {
            "client": ["a"] * len(scores),
            "date": [f"2024-{m:02d}-01" for m in range(1, len(scores) + 1)],
            "score": scores,
        }
    )
    return change_frame(df, instrument, **kw)  # type: ignore[arg-type]


def flags(column: pd.Series) -> list[bool | None]:
    return [None if pd.isna(v) else bool(v) for v in column]


def test_critical_values_are_students_t() -> None:
    # two-tailed 5%: t(2) 4.303, t(3) 3.182, t(4) 2.776 (Tang & DeRubeis: 2.78 for df 4)
    assert T_CRITICAL == {2: 4.302653, 3: 3.182446, 4: 2.776445}


def test_a_sudden_gain_worked_by_hand() -> None:
    # 18 -> 10 between administrations 3 and 4:
    #   (1) a drop of 8 >= 6, reliable on the PHQ-9 (NHS Talking Therapies);
    #   (2) 8 >= 25% of 18 = 4.5;
    #   (3) pre 20, 19, 18: mean 19, SD² 1; post 10, 9, 9: mean 9.333, SD² 0.333;
    #       pooled SD = sqrt((2 * 1 + 2 * 0.333) / 4) = 0.8165; 19 - 9.333 = 9.67 > 2.776 * 0.8165
    out = course([20, 19, 18, 10, 9, 9])
    assert flags(out["sudden_gain"]) == [None, False, False, True, False, False]
    assert flags(out["sudden_loss"]) == [None, False, False, False, False, False]


def test_an_unstable_drop_is_no_sudden_gain() -> None:
    # 22 -> 14 meets (1) and (2); (3): pre 14, 22 (mean 18, SD² 32), post 14, 22, 14 (16.67,
    # 21.33): pooled sqrt((32 + 2 * 21.33) / 3) = 4.99; 1.33 < 3.182 * 4.99 (df 3)
    out = course([14, 22, 14, 22, 14, 22])
    assert flags(out["sudden_gain"])[2] is False


def test_with_two_administrations_a_side_the_critical_value_follows_the_df() -> None:
    # 19 -> 10: pre 20, 19 (19.5, SD² 0.5), post 10, 9 (9.5, 0.5): pooled 0.7071; df 2:
    # 10 > 4.303 * 0.7071 = 3.04
    # (10 -> 9, a drop of 1, fails criterion 1 whatever follows)
    assert flags(course([20, 19, 10, 9])["sudden_gain"]) == [None, False, True, False]


def test_undetermined_where_criterion_three_cannot_be_judged() -> None:
    # 20 -> 12 is a big gain from the baseline, but one administration before it cannot be
    # compared (criterion 3 needs two a side); 12 -> 11 fails criterion 1 whatever follows
    assert flags(course([20, 12, 11])["sudden_gain"]) == [None, None, False]
    assert flags(course([20, 12])["sudden_gain"]) == [None, None]


def test_a_sudden_loss_mirrors_a_gain() -> None:
    # 5 -> 14: a rise of 9 >= 6, 9 >= 25% of 5; pre 5, 6, 5 vs post 14, 15, 14
    out = course([5, 6, 5, 14, 15, 14])
    assert flags(out["sudden_loss"]) == [None, False, False, True, False, False]
    assert flags(out["sudden_gain"])[3] is False


def test_the_gain_size_can_be_the_callers() -> None:
    # a drop of 6 is reliable on the PHQ-9, but not a gain of at least 7 (Tang & DeRubeis'
    # 7 BDI points)
    assert flags(course([20, 19, 18, 12, 11, 11])["sudden_gain"])[3] is True
    assert flags(course([20, 19, 18, 12, 11, 11], gain_points=7)["sudden_gain"])[3] is False
    with pytest.raises(ValueError, match="gain_points must be a positive number"):
        course([20, 10], gain_points=0)


def test_higher_is_better_measures_from_the_top() -> None:
    # WHO-5 percentage 28 -> 60: +32 >= 10; criterion 2 from the healthy end: 25% of
    # (100 - 28) = 18; pre 20, 24, 28 (24, SD² 16), post 60, 64, 60 (61.33, 5.33)
    out = course([20, 24, 28, 60, 64, 60], "who5", scale="percentage")
    assert flags(out["sudden_gain"]) == [None, False, False, True, False, False]
    assert out["previous_best"].tolist()[1:] == [20, 24, 28, 60, 64]


def test_without_a_gain_size_sudden_gains_are_unavailable() -> None:
    out = course([30, 20, 18, 12], "pcl5")  # no reliable-change value is published
    assert out["sudden_gain"].isna().all()
    reasons = {u["outcome"]: u["reason"] for u in out.attrs["unavailable"]}
    assert "pass gain_points=" in reasons["sudden_gain"]
    with_size = course([40, 39, 38, 20, 19, 19], "pcl5", gain_points=10)
    assert flags(with_size["sudden_gain"])[3] is True


def test_change_from_the_best_earlier_score() -> None:
    out = course([15, 10, 12, 8])
    assert out["previous_best"].tolist()[1:] == [15, 10, 10]
    assert pd.isna(out["previous_best"].iloc[0])
    assert out["change_from_previous_best"].tolist()[1:] == [-5, 2, -2]


def test_both_running_best_paths_agree() -> None:
    # whole numbers take one running minimum over offset clients; halves a grouped one
    import numpy as np

    from screening.change import _running_best, scale_rules

    rng = np.random.default_rng(5)
    group = np.sort(rng.integers(0, 40, 500))
    whole = rng.integers(0, 28, 500).astype(float)
    rules = scale_rules("phq9")
    expected = pd.Series(whole).groupby(group).cummin().to_numpy()
    assert np.array_equal(_running_best(rules, whole, group), expected)
    halves = whole + 0.5
    assert np.array_equal(
        _running_best(rules, halves, group), pd.Series(halves).groupby(group).cummin().to_numpy()
    )
    better = scale_rules("who5", "percentage")  # the best is the highest
    assert np.array_equal(
        _running_best(better, whole, group), pd.Series(whole).groupby(group).cummax().to_numpy()
    )


def test_time_to_first_reliable_improvement_and_counts() -> None:
    df = pd.DataFrame(
        {
            "client": ["a"] * 4 + ["b"] * 6 + ["c"],
            "date": [f"2024-{m:02d}-01" for m in range(1, 5)]
            + [f"2024-{m:02d}-01" for m in range(1, 7)]
            + ["2024-01-01"],
            "score": [15, 12, 9, 10, 20, 19, 18, 10, 9, 9, 14],
        }
    )
    s = client_summary(df, "phq9")
    # a: 15 -> 9 at the third administration (-6), on 1 March 2024: 31 + 29 = 60 days
    assert at(s, "a", "first_reliable_improvement") == 3
    assert at(s, "a", "days_to_reliable_improvement") == 60
    assert at(s, "a", "sudden_gains") == 0
    # b: 20 -> 10 at the fourth; the sudden gain worked above
    assert at(s, "b", "first_reliable_improvement") == 4
    assert at(s, "b", "sudden_gains") == 1
    assert at(s, "b", "sudden_losses") == 0
    # c: one administration
    assert pd.isna(at(s, "c", "first_reliable_improvement"))
    assert pd.isna(at(s, "c", "sudden_gains"))


def identify_sg(scores: list[float], gain_points: float | None = None) -> list[bool | None]:
    """suddengains::identify_sg for one client with the critical value adjusted (its default),
    gains into each administration after the first; criterion 1 is the PHQ-9's reliable change
    unless a gain size is given."""
    out: list[bool | None] = [None]
    for i in range(1, len(scores)):
        x0, x1 = scores[i - 1], scores[i]
        big = (
            change("phq9", x0, x1).reliable == "improved"
            if gain_points is None
            else (x0 - x1 >= gain_points)
        )
        share = x0 - x1 >= 0.25 * x0
        pre, post = scores[max(0, i - 3) : i], scores[i : i + 3]
        stable: bool | None = None
        if len(pre) >= 2 and len(post) >= 2:
            pooled = math.sqrt(
                (
                    (len(pre) - 1) * statistics.variance(pre)
                    + (len(post) - 1) * statistics.variance(post)
                )
                / (len(pre) + len(post) - 2)
            )
            critical = T_CRITICAL[len(pre) + len(post) - 2]
            stable = statistics.mean(pre) - statistics.mean(post) > critical * pooled
        out.append(False if not (big and share) else stable)
    return out


@st.composite
def courses(draw: st.DrawFn) -> pd.DataFrame:
    rows = []
    for client in range(draw(st.integers(1, 6))):
        scores = draw(st.lists(st.integers(0, 27), min_size=1, max_size=10))
        start = dt.date(2024, 1, 1)
        rows += [(f"c{client}", start + dt.timedelta(days=7 * k), s) for k, s in enumerate(scores)]
    df = pd.DataFrame(rows, columns=["client", "date", "score"])
    return df.sample(frac=1, random_state=draw(st.integers(0, 99)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(courses(), st.sampled_from([None, 7.0]))
def test_sudden_gains_agree_with_a_per_client_loop(df: pd.DataFrame, gain: float | None) -> None:
    out = df.join(change_frame(df, "phq9", gain_points=gain))
    summary = client_summary(df, "phq9", gain_points=gain)
    for client, group in out.groupby("client"):
        rows = group.sort_values("date")
        expected = identify_sg([float(s) for s in rows["score"]], gain)
        assert flags(rows["sudden_gain"]) == expected
        if len(rows) >= 2:
            assert at(summary, client, "sudden_gains") == sum(1 for e in expected if e)
        best = [min(rows["score"].iloc[:i]) for i in range(1, len(rows))]
        assert rows["previous_best"].tolist()[1:] == best
