"""The public scoring contract and response validation."""

from __future__ import annotations

import decimal
import json
import math
import os
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import screening
from screening import ResponseError

from .conftest import DEFINITIONS


def test_contract_example(phq9_answers: dict[str, int]) -> None:
    r = screening.score("phq9", phq9_answers)
    assert r.valid is True
    assert r.scales["total"].score == 15
    assert r.scales["total"].band == "moderately severe"
    assert [f.id for f in r.flags] == ["suicidal_ideation"]
    assert r.flags[0].severity == "critical"
    assert r.flags[0].items == ("phq9_9",)
    assert r.classifications == {}
    data = r.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["provenance"]["instrument"] == "phq9"
    assert data["provenance"]["definition_version"] == "1.1.0"
    assert data["provenance"]["definition_hash"].startswith("sha256:")
    assert data["provenance"]["library_version"] == screening.__version__
    assert data["provenance"]["coding"] == "standard"  # the default of its two codings


def test_provenance_names_the_coding_the_answers_were_read_in() -> None:
    answers = {f"k10_{n}": 2 for n in range(1, 11)}
    assert screening.score("k10", answers).provenance.coding == "australian"
    us = screening.score("k10", answers, coding="us")
    assert us.provenance.coding == "us"
    assert us.scales["total"].score == 30  # 0-4 read as 1-5
    assert "read in the us coding" in str(us)


def test_list_instruments_has_the_core_four() -> None:
    assert {"gad2", "gad7", "phq2", "phq9"} <= set(screening.list_instruments())
    assert screening.list_instruments() == sorted(screening.list_instruments())


def test_score_accepts_an_instrument_or_a_path(phq9_answers: dict[str, int]) -> None:
    inst = screening.load_instrument("phq9")
    assert screening.score(inst, phq9_answers).scales["total"].score == 15
    path = screening.loading.builtin_dir() / "phq9.yaml"
    assert screening.score(str(path), phq9_answers).scales["total"].score == 15


def test_unknown_builtin_names_the_builtins() -> None:
    with pytest.raises(screening.UnknownInstrumentError, match=r"built-ins: .*phq9"):
        screening.load_instrument("phq10")


def test_results_are_immutable(phq9_answers: dict[str, int]) -> None:
    r = screening.score("phq9", phq9_answers)
    with pytest.raises(AttributeError):
        r.valid = False  # type: ignore[misc]
    with pytest.raises(TypeError):
        r.scales["total"] = r.scales["phq2"]  # type: ignore[index]


def answers(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {f"phq9_{n}": 1 for n in range(1, 10)}
    base.update(changes)
    return base


@pytest.mark.parametrize(
    ("value", "code", "message"),
    [
        (5, "invalid_value", "item 'phq9_3' must be one of 0, 1, 2, 3 (got 5)"),
        (-1, "invalid_value", "item 'phq9_3' must be one of 0, 1, 2, 3 (got -1)"),
        (2.5, "invalid_value", "item 'phq9_3' must be one of 0, 1, 2, 3 (got 2.5)"),
        (
            "2",
            "invalid_type",
            "item 'phq9_3' must be a whole number, one of 0, 1, 2, 3 (got the text '2')",
        ),
        (
            True,
            "invalid_type",
            "item 'phq9_3' must be a whole number, one of 0, 1, 2, 3 (got True, a boolean)",
        ),
        (
            [1],
            "invalid_type",
            "item 'phq9_3' must be a whole number, one of 0, 1, 2, 3 (got a value of type list)",
        ),
    ],
)
def test_bad_values_raise_response_error(value: Any, code: str, message: str) -> None:
    with pytest.raises(ResponseError) as caught:
        screening.score("phq9", answers(phq9_3=value))
    assert isinstance(caught.value, ValueError)
    (issue,) = caught.value.issues
    assert (issue.code, issue.item, issue.message) == (code, "phq9_3", message)


def test_the_error_carries_the_result_and_its_risk_flags() -> None:
    with pytest.raises(ResponseError) as caught:
        screening.score("phq9", answers(phq9_3=7, phq9_9=3))
    result = caught.value.result
    assert result is not None
    assert result.valid is False
    assert [f.id for f in result.flags] == ["suicidal_ideation"]
    assert result.scales["total"].score is None
    assert "risk flags raised from the valid items: suicidal_ideation (critical)" in str(
        caught.value
    )


def test_on_error_invalid_returns_the_result() -> None:
    r = screening.score("phq9", answers(phq9_3=7, phq9_9=3), on_error="invalid")
    assert r.valid is False
    assert r.reasons == ("item 'phq9_3' must be one of 0, 1, 2, 3 (got 7)",)
    assert [f.id for f in r.flags] == ["suicidal_ideation"]
    assert r.scales["phq2"].score == 2  # a scale without the bad item is still scored


def test_unknown_item_suggests_the_closest() -> None:
    with pytest.raises(ResponseError, match=r"unknown item 'phq9_09'.*did you mean 'phq9_9'"):
        screening.score("phq9", {**answers(), "phq9_09": 1})


def test_responses_must_be_a_mapping() -> None:
    with pytest.raises(ResponseError, match="responses must map item ids"):
        screening.score("phq9", [1, 2, 3])  # type: ignore[arg-type]


@pytest.mark.parametrize("missing", [None, float("nan")])
def test_none_and_nan_are_missing(missing: Any) -> None:
    r = screening.score("phq9", answers(phq9_4=missing))
    total = r.scales["total"]
    assert (total.missing, total.answered, total.prorated) == (1, 8, True)
    assert total.score == 9  # 8 x 9/8
    assert total.unrounded == pytest.approx(9.0)


def test_numpy_and_integral_float_values_are_accepted() -> None:
    np = pytest.importorskip("numpy")
    r = screening.score("phq9", answers(phq9_1=np.int64(3), phq9_2=np.float64(2.0), phq9_3=2.0))
    assert r.scales["total"].score == 3 + 2 + 2 + 6
    with pytest.raises(ResponseError, match="got True, a boolean"):
        screening.score("phq9", answers(phq9_1=np.bool_(True)))
    r = screening.score("phq9", answers(phq9_1=np.nan))
    assert r.scales["total"].missing == 1


def test_pandas_na_is_missing() -> None:
    pd = pytest.importorskip("pandas")
    r = screening.score("phq9", answers(phq9_1=pd.NA))
    assert r.scales["total"].missing == 1


def test_too_many_missing_is_invalid_with_reason_not_an_error() -> None:
    r = screening.score("phq9", {"phq9_9": 2})
    assert r.valid is False
    assert r.issues == ()
    assert r.reasons == ("total: 8 of 9 items missing (at most 2 allowed)",)
    assert r.scales["total"].score is None
    assert [f.id for f in r.flags] == ["suicidal_ideation"]


def test_empty_response_is_invalid_and_raises_nothing() -> None:
    r = screening.score("phq9", {})
    assert r.valid is False
    assert r.flags == ()
    assert r.scales["total"].missing == 9


def test_half_up_rounding_is_exact() -> None:
    # 4 x 9/8 = 4.5: half up gives 5 (mild); banker's rounding would give 4 (minimal)
    r = screening.score("phq9", answers(phq9_5=None, phq9_6=0, phq9_7=0, phq9_8=0, phq9_9=0))
    total = r.scales["total"]
    assert (total.raw, total.unrounded, total.score, total.band) == (4, 4.5, 5, "mild")


def test_unknown_context_is_an_error() -> None:
    with pytest.raises(ResponseError, match="phq9 takes no context 'sex'"):
        screening.score("phq9", answers(), sex="female")


def test_item_10_is_recorded_but_not_scored() -> None:
    r = screening.score("phq9", answers(phq9_10=3))
    assert r.scales["total"].score == 9


def test_gad7_has_no_proration() -> None:
    r = screening.score("gad7", {f"gad7_{n}": 2 for n in range(1, 7)})
    assert r.valid is False
    assert r.reasons == ("total: 1 of 7 items missing (none allowed)",)


def test_result_json_round_trips(phq9_answers: dict[str, int]) -> None:
    r = screening.score("phq9", phq9_answers)
    assert json.loads(r.to_json()) == r.to_dict()
    total = r.to_dict()["scales"]["total"]
    assert not any(isinstance(v, float) and math.isnan(v) for v in total.values())


def test_a_definition_file_is_read_again_when_it_changes(tmp_path: Path) -> None:
    source = (DEFINITIONS / "good.yaml").read_text()
    path = tmp_path / "good.yaml"
    path.write_text(source)
    responses = {"good_1": 1, "good_2": 1, "good_3": 0}
    assert screening.score(str(path), responses).scales["total"].band == "low"
    path.write_text(
        source.replace("{min: 0, max: 2, label: low}", "{min: 0, max: 1, label: low}").replace(
            "{min: 3, max: 6, label: high}", "{min: 2, max: 6, label: high}"
        )
    )
    os.utime(path, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    assert screening.score(str(path), responses).scales["total"].band == "high"


def test_a_typo_in_on_error_is_refused(phq9_answers: dict[str, int]) -> None:
    for bad in ("rasie", "Invalid", None, True):
        with pytest.raises(ValueError, match="on_error must be 'raise' or 'invalid'"):
            screening.score("phq9", phq9_answers, on_error=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "value",
    [
        np.timedelta64(1, "D"),
        np.datetime64("2020-01-01"),
        10**5000,
        -(10**5000),
        Fraction(10**400, 3),
        Fraction(10**4000, 1),
        decimal.Decimal("1e999999"),
        float("inf"),
        complex(1, 0),
        "x" * 10_000,
    ],
    ids=lambda v: type(v).__name__,
)
def test_exotic_values_are_response_errors_never_crashes(
    value: Any, phq9_answers: dict[str, int]
) -> None:
    responses = {**phq9_answers, "phq9_1": value}
    with pytest.raises(ResponseError) as caught:
        screening.score("phq9", responses)
    (issue,) = caught.value.issues
    assert issue.code in ("invalid_value", "invalid_type")
    assert issue.item == "phq9_1"
    assert len(issue.message) < 200  # a huge value is described, not printed
    result = screening.score("phq9", responses, on_error="invalid")
    assert result.valid is False
    assert result.flag_ids == ["suicidal_ideation"]  # item 9 still raises its flag


def test_an_unanswered_risk_item_leaves_its_flag_undetermined() -> None:
    responses = {f"phq9_{n}": 1 for n in range(1, 9)}
    r = screening.score("phq9", responses)
    assert r.valid is True  # a scale's validity does not change
    assert r.scales["total"].prorated is True
    assert r.flags == ()
    assert r.undetermined_flag_ids == ["suicidal_ideation"]
    assert r.undetermined_flags[0].items == ("phq9_9",)
    assert r.to_dict()["undetermined_flags"][0]["id"] == "suicidal_ideation"
    cleared = screening.score("phq9", {**responses, "phq9_9": 0})
    assert cleared.undetermined_flags == ()
    invalid = screening.score("phq9", {**responses, "phq9_9": 7}, on_error="invalid")
    assert invalid.undetermined_flag_ids == ["suicidal_ideation"]
