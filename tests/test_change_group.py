"""Group outcomes, the table a service reports: counts, explicit denominators and Wilson
intervals, worked by hand and parity-tested against a per-client loop over `measure_change`.

Denominators follow NHS Digital's Psychological Therapies reports ("Outcomes"): reliable
improvement and deterioration among every referral that finished a course of treatment; recovery
and reliable recovery among those at caseness at the start. The Wilson interval (Wilson 1927) is
checked against Newcombe's worked examples (Stat Med 1998;17:857-872, Table II, method 3).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import screening
from screening.change import GROUP_OUTCOMES, change, change_frame, group_outcomes, wilson_interval


def at(frame: pd.DataFrame, row: Any, column: str) -> Any:
    """One cell, untyped (pandas-stubs types a cell as any scalar)."""
    return frame.loc[row, column]


@pytest.mark.parametrize(
    ("count", "total", "low", "high"),
    [
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0000, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_interval_matches_newcombe_1998(
    count: int, total: int, low: float, high: float
) -> None:
    got = wilson_interval(count, total)
    assert got[0] == pytest.approx(low, abs=5e-5)
    assert got[1] == pytest.approx(high, abs=5e-5)
    arrays = wilson_interval(np.array([count]), np.array([total]))
    assert arrays[0][0] == pytest.approx(got[0])
    assert arrays[1][0] == pytest.approx(got[1])


def test_wilson_interval_edges() -> None:
    assert wilson_interval(5, 5)[1] == 1.0
    low, high = wilson_interval(0, 0)
    assert np.isnan(low)
    assert np.isnan(high)
    lows, _ = wilson_interval(np.array([0, 1]), np.array([0, 2]))
    assert np.isnan(lows[0])
    assert 0 < lows[1] < 0.5
    with pytest.raises(ValueError, match="confidence must be between 0 and 1"):
        wilson_interval(1, 2, confidence=95)
    # a wider interval at 99%
    assert wilson_interval(3, 4, 0.99)[0] < wilson_interval(3, 4)[0]


SERVICE = [
    # client, PHQ-9 at the start and at the end (one row per administration)
    ("a", [16, 12, 9]),  # a case; -7: reliable; recovered; 7 < 8 = 50%: no response
    ("b", [12, 4]),  # a case; -8 reliable; recovered; response and remission (4 <= 4)
    ("c", [10, 9]),  # a case; recovered, -1 is not reliable
    ("d", [6, 14]),  # not a case; +8: reliable deterioration
    ("e", [20, 18]),  # a case; no reliable change, still a case
    ("f", [8]),  # one administration: in no denominator
    ("g", [3, 3]),  # not a case, no change
]


def service_frame() -> pd.DataFrame:
    rows = [
        (client, f"2024-{month:02d}-01", score)
        for client, scores in SERVICE
        for month, score in enumerate(scores, start=1)
    ]
    return pd.DataFrame(rows, columns=["client", "date", "score"])


def test_table_worked_by_hand() -> None:
    table = group_outcomes(service_frame(), "phq9")
    assert list(table.index) == list(GROUP_OUTCOMES)
    counts = dict(
        zip(table.index, zip(table["count"], table["denominator"], strict=True), strict=True)
    )
    assert counts == {
        "reliable_improvement": (2, 6),  # a, b of a, b, c, d, e, g
        "reliable_deterioration": (1, 6),  # d
        "recovery": (3, 4),  # a, b, c of the cases a, b, c, e
        "reliable_recovery": (2, 4),  # a, b
        "response": (1, 4),  # b
        "remission": (1, 4),  # b
    }
    recovery = table.loc["recovery"]
    assert recovery["rate"] == 0.75
    # Wilson, z = 1.959964: (0.75 + z²/8 ± z sqrt(0.75 * 0.25 / 4 + z²/64)) / (1 + z²/4)
    assert recovery["ci_low"] == pytest.approx(0.30064, abs=1e-4)
    assert recovery["ci_high"] == pytest.approx(0.95442, abs=1e-4)
    assert at(table, "reliable_improvement", "population").startswith("clients with a baseline")
    assert "caseness at baseline" in at(table, "recovery", "population")
    assert (table["unavailable"] == "").all()
    assert table.attrs["clients"] == 7
    assert table.attrs["clients_with_change"] == 6


def test_the_mean_of_a_summary_column_is_the_rate() -> None:
    # recovery is missing for a client who was no case at baseline, so the mean of the column
    # is the recovery rate (was: False, which lowered it)
    summary = screening.client_summary(service_frame(), "phq9")
    assert summary["recovery"].mean() == 0.75
    assert summary["recovery"].count() == 4
    assert pd.isna(at(summary, "d", "recovery"))


def test_unavailable_outcomes_say_why() -> None:
    gad = service_frame().assign(score=lambda d: d["score"].clip(upper=21))
    table = group_outcomes(gad, "gad7")
    assert pd.isna(at(table, "response", "count"))
    assert pd.isna(at(table, "response", "rate"))
    assert at(table, "response", "unavailable") == "no change.total.response in gad7"
    assert at(table, "recovery", "unavailable") == ""
    no_block = group_outcomes(service_frame(), "k10")
    assert no_block["count"].isna().all()
    assert no_block["unavailable"].str.contains("no change parameters").all()


def test_empty_and_confidence() -> None:
    empty = group_outcomes(service_frame().iloc[:0], "phq9")
    assert (empty["denominator"] == 0).all()
    assert empty["rate"].isna().all()
    wide = group_outcomes(service_frame(), "phq9", confidence=0.99)
    narrow = group_outcomes(service_frame(), "phq9")
    assert at(wide, "recovery", "ci_low") < at(narrow, "recovery", "ci_low")


@st.composite
def administrations(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(0, 40))
    clients = st.sampled_from(["a", "b", "c", "d", "e", None])
    days = st.integers(0, 9).map(lambda d: dt.date(2024, 1, 1) + dt.timedelta(days=d))
    scores = st.one_of(st.integers(0, 27), st.none(), st.just(30))
    rows = draw(st.lists(st.tuples(clients, days, scores), min_size=n, max_size=n))
    return pd.DataFrame(rows, columns=["client", "date", "score"])


def per_client(df: pd.DataFrame, instrument: str) -> dict[str, tuple[int, int]]:
    """The table by a loop: each client's first and last counted administration through
    `measure_change`, counted by the NHS Talking Therapies definitions."""
    out = df.join(change_frame(df, instrument))
    tally: dict[str, list[int]] = {name: [0, 0] for name in GROUP_OUTCOMES}

    def count(name: str, value: Any, among: bool) -> None:
        if among:
            tally[name][1] += 1
            tally[name][0] += bool(value)

    for _, group in out[out["administration"].notna()].groupby("client"):
        scores = group.sort_values("administration")["score"].tolist()
        if len(scores) < 2:
            continue
        r = change(instrument, scores[0], scores[-1])
        count("reliable_improvement", r.reliable == "improved", True)
        count("reliable_deterioration", r.reliable == "deteriorated", True)
        count("recovery", r.recovery, bool(r.case_before))
        count("reliable_recovery", r.reliable_recovery, bool(r.case_before))
        count("response", r.response, bool(r.case_before) and scores[0] > 0)
        count("remission", r.remission, bool(r.case_before))
    return {name: (k, n) for name, (k, n) in tally.items()}


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(administrations())
def test_table_agrees_with_a_per_client_loop(df: pd.DataFrame) -> None:
    table = group_outcomes(df, "phq9")
    got = {
        name: (int(at(table, name, "count")), int(at(table, name, "denominator")))
        for name in GROUP_OUTCOMES
    }
    assert got == per_client(df, "phq9")
    for name in GROUP_OUTCOMES:
        k, n = got[name]
        rate = at(table, name, "rate")
        assert pd.isna(rate) if n == 0 else rate == pytest.approx(k / n)
