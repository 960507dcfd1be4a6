"""The condition language and the format's features, through the scorer."""

from __future__ import annotations

from typing import Any

import pytest

import screening
from screening.rules import count_truth, kleene_all, kleene_any

from .conftest import DEFINITIONS

FEATURES = screening.load_instrument(DEFINITIONS / "features.yaml")


def run(**responses: Any) -> screening.ScoreResult:
    context = {k: responses.pop(k) for k in ("sex",) if k in responses}
    named = {f"features_{k.removeprefix('i')}": v for k, v in responses.items()}
    return screening.score(FEATURES, named, on_error="invalid", **context)


def test_kleene_tables() -> None:
    assert kleene_any(iter([False, None])) is None
    assert kleene_any(iter([None, True])) is True
    assert kleene_any(iter([False, False])) is False
    assert kleene_all(iter([True, None])) is None
    assert kleene_all(iter([None, False])) is False
    assert kleene_all(iter([True, True])) is True


@pytest.mark.parametrize(
    ("known", "unknown", "expected"),
    [(2, 0, True), (1, 0, False), (1, 1, None), (0, 1, False), (2, 5, True)],
)
def test_count_is_three_valued(known: int, unknown: int, expected: bool | None) -> None:
    assert count_truth(lambda n: n >= 2, known, unknown) is expected


def test_reverse_scoring_and_item_options() -> None:
    r = run(i1=0, i4=1, i5=0, i6=4)
    # item 5 reversed: 0 scores 3; item 3 skipped scores 0
    assert r.scales["total"].score == 0 + 1 + 3 + 4
    assert r.scales["doubled"].score == (1 + 3) * 2
    assert r.scales["doubled"].band == "high"
    assert r.scales["total"].skipped == 1


def test_item_options_refuse_values_of_other_items() -> None:
    r = run(i1=0, i4=1, i5=0, i6=1)
    assert [i.code for i in r.issues] == ["invalid_value"]
    assert r.issues[0].message == "item 'features_6' must be one of 0, 2, 4 (got 1)"


def test_skipped_items_are_not_missing() -> None:
    r = run(i1=0, i4=1, i5=3, i6=0)
    assert r.valid is True
    assert (r.scales["total"].missing, r.scales["total"].skipped) == (0, 1)


def test_answering_a_skipped_item_is_an_error_but_its_flag_stands() -> None:
    r = run(i1=0, i2=1, i4=1, i5=3, i6=0)
    assert [i.code for i in r.issues] == ["skipped_item_answered"]
    assert "features_2' is asked only when features_1 = 1" in r.issues[0].message
    assert r.classifications["level"] == "high"  # the endorsement is never hidden


def test_answering_a_skipped_item_with_its_skip_score_is_consistent() -> None:
    r = run(i1=0, i3=0, i4=1, i5=3, i6=0)
    assert r.issues == ()
    r = run(i1=0, i3=2, i4=1, i5=3, i6=0)
    assert [i.code for i in r.issues] == ["skipped_item_answered"]


def test_asked_item_left_blank_is_missing_and_prorated_unrounded() -> None:
    r = run(i1=1, i2=0, i4=1, i5=3, i6=2)
    total = r.scales["total"]
    assert (total.missing, total.prorated) == (1, True)
    assert total.score == pytest.approx((1 + 0 + 2) * 4 / 3)
    assert isinstance(total.score, float)


def test_flag_names_the_items_that_raised_it() -> None:
    r = run(i1=1, i2=1, i3=3, i4=2, i5=3, i6=0)
    assert {f.id: f.items for f in r.flags} == {
        "gate_and_follow_up": ("features_1", "features_2"),
        "two_often": ("features_3", "features_4"),
    }


def test_count_with_a_missing_item_is_unknown_not_false() -> None:
    # features_3 missing: one known "often", one unknown -> the count >= 2 is undetermined
    r = run(i1=1, i2=0, i4=2, i5=3, i6=0)
    assert "two_often" not in r.flag_ids


def test_classification_order_and_otherwise() -> None:
    assert run(i1=1, i2=1, i3=0, i4=0, i5=3, i6=0).classifications["level"] == "high"
    assert run(i1=0, i4=3, i5=0, i6=4).classifications["level"] == "high"  # total 10
    assert run(i1=0, i4=2, i5=3, i6=0, sex="female").classifications["level"] == ("female-specific")
    assert run(i1=0, i4=2, i5=3, i6=0, sex="male").classifications["level"] == "low"
    assert run(i1=0, i4=0, i5=3, i6=0, sex="male").classifications["level"] == "none"


def test_undetermined_classification_makes_the_result_invalid() -> None:
    # sex is optional and absent: the female rule is unknown before any rule holds
    r = run(i1=0, i4=2, i5=3, i6=0)
    assert r.classifications["level"] is None
    assert r.valid is False
    assert r.reasons == ("level: undetermined, an answer or context it needs is missing",)


def test_context_value_must_be_declared() -> None:
    r = run(i1=0, i4=0, i5=3, i6=0, sex="unknown")
    assert [i.code for i in r.issues] == ["context_invalid"]
    assert r.issues[0].message == (
        "context 'sex' must be one of female, male (got the text 'unknown')"
    )


def test_every_condition_model_has_a_row() -> None:
    """A new kind of condition without its row would be skipped by some walk: refused here."""
    from typing import get_args

    from screening.definition import Condition
    from screening.rules import KINDS

    union = get_args(Condition)[0]
    models = {get_args(member)[0] for member in get_args(union)}
    assert models == set(KINDS)


def test_walks_reach_every_nested_condition() -> None:
    from screening.definition import Flag
    from screening.rules import describe, item_tests, referenced, walk

    flag = Flag.model_validate(
        {
            "id": "f",
            "severity": "info",
            "message": "m",
            "source": "s",
            "when": {
                "all": [
                    {"any": [{"item": "a", "eq": 1}, {"not": {"item": "b", "eq": 1}}]},
                    {"count": {"items": ["c", "d"], "gte": 1}, "gte": 2},
                    {"scale": "total", "gt": 3},
                ]
            },
        }
    )
    paths = [path for path, _ in walk(flag.when)]
    assert ("all", 0, "any", 1, "not") in paths
    assert sorted(referenced(flag.when)) == [
        ("item", "a"),
        ("item", "b"),
        ("item", "c"),
        ("item", "d"),
        ("scale", "total"),
    ]
    # items under `not` raise a flag by their absence: they are not named as raising it
    assert [name for name, _ in item_tests(flag.when)] == ["a", "c", "d"]
    assert describe(flag.when) == (
        "all of (any of (a = 1, not (b = 1)), count of (c, d) with item ≥ 1 ≥ 2, scale total > 3)"
    )
