"""Format II: scales over scales. A total of subscales each prorated by its own rule, the
highest subscale, and a scale over that total; each scored only where every scale it lists is,
with the reason naming the ones that are not. Golden values are worked by hand from
tests/definitions/derived.yaml (item 6 reverse-scored: 2 - answer)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import screening
from screening import display, fhir, redcap
from screening.linting import lint_file

from .backends import BACKENDS, VIEWS, assert_same

DEFINITION = (Path(__file__).parent / "definitions" / "derived.yaml").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def inst() -> screening.Instrument:
    return screening.parse_instrument(DEFINITION, "derived.yaml")


def _score(inst: screening.Instrument, *answers: int | None) -> screening.ScoreResult:
    responses = {f"derived_{n}": v for n, v in enumerate(answers, start=1) if v is not None}
    return screening.score(inst, responses, on_error="invalid")


@pytest.mark.parametrize(
    ("answers", "total", "band", "worst"),
    [
        # a 6, b 2 + 2 + (2 - 0) = 6, c 6: 18, high; the highest of a and b: 6
        ((2, 2, 2, 2, 2, 0, 2, 2, 2), 18, "high", 6),
        # a 1 + 1 of two items, x 3/2 = 3 (its own proration); b 6; c 0: 9, the top of the band
        ((1, 1, None, 2, 2, 0, 0, 0, 0), 9, "close to average", 6),
        # a 4, b 2 + 2 + (2 - 2) = 4, c 2: 10, the bottom of "raised"; the highest: 4
        ((2, 1, 1, 2, 2, 2, 1, 1, 0), 10, "raised", 4),
        # a 6, b 6, c 1: 13, raised; c 2: 14, high
        ((2, 2, 2, 2, 2, 0, 1, 0, 0), 13, "raised", 6),
        ((2, 2, 2, 2, 2, 0, 1, 1, 0), 14, "high", 6),
        # a 5, b 4: the highest is 5 (high from 5)
        ((2, 2, 1, 2, 2, 2, 0, 0, 0), 9, "close to average", 5),
    ],
)
def test_a_scale_over_scales_sums_or_takes_the_highest(
    inst: screening.Instrument,
    answers: tuple[int | None, ...],
    total: int,
    band: str,
    worst: int,
) -> None:
    result = _score(inst, *answers)
    scaled = result.scales["total"]
    assert (scaled.score, scaled.band, scaled.valid) == (total, band, True)
    assert result.scales["worst"].score == worst
    assert result.scales["worst"].band == ("high" if worst >= 5 else "not high")
    c = result.scales["c"].score
    assert c is not None
    assert result.scales["with_c"].score == total + c
    assert ("high_total" in result.flag_ids) is (total >= 14)


def test_the_counts_and_proration_of_the_scales_listed(inst: screening.Instrument) -> None:
    total = _score(inst, 1, 1, None, 2, 2, 0, 0, 0, 0).scales["total"]
    assert (total.raw, total.answered, total.missing, total.prorated) == (9, 8, 1, True)


def test_an_unscored_scale_leaves_every_scale_over_it_unscored(inst: screening.Instrument) -> None:
    result = _score(inst, 1, None, None, 2, 2, 0, 0, 0, 0)  # a: 2 of 3 missing
    assert result.scales["a"].score is None
    total = result.scales["total"]
    assert (total.score, total.valid, total.reason) == (None, False, "scale(s) a unscored")
    assert result.scales["with_c"].reason == "scale(s) total unscored"
    assert result.reasons == ("total: scale(s) a unscored",)
    assert list(result.undetermined_flag_ids) == ["high_total"]  # never silently clear
    both = _score(inst, 1, None, None, 2, 2, 0, None, None, 0)
    assert both.scales["total"].reason == "scale(s) a, c unscored"
    assert both.scales["worst"].reason == "scale(s) a unscored"


ROWS: list[list[int | None]] = [
    [2, 2, 2, 2, 2, 0, 2, 2, 2],
    [1, 1, None, 2, 2, 0, 0, 0, 0],
    [1, None, None, 2, 2, 0, 0, 0, 0],
    [1, None, None, 2, 2, None, None, None, 0],
    [2, 2, 2, 2, 2, 0, 1, 1, 7],
    [2, 2, 2, None, 2, 0, 1, 1, 0],
    [None] * 9,
]


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_every_backend_agrees(backend: str, inst: screening.Instrument) -> None:
    df = pd.DataFrame(
        [{f"derived_{n}": v for n, v in enumerate(r, start=1)} for r in ROWS], dtype=object
    )
    view = VIEWS[backend](df) if backend in VIEWS else df
    expected = BACKENDS["row"](inst, view, {})
    for position, (want, have) in enumerate(
        zip(expected, BACKENDS[backend](inst, df, {}), strict=True)
    ):
        assert_same(want, have, f"row {position}")
    # the fifth row: 7 is no answer, so c is unscored; the sixth: b is 2 + (2 - 0) of two
    # items, x 3/2 = 6, so 6 + 6 + 2 = 14
    assert [r.scales["total"].score for r in expected] == [18, 9, None, None, None, 14, None]


def test_the_frame_says_why_per_row(inst: screening.Instrument) -> None:
    df = pd.DataFrame(
        [{f"derived_{n}": v for n, v in enumerate(r, start=1)} for r in ROWS[:4]], dtype=object
    )
    out = screening.score_frame(inst, df)
    assert out["total"].tolist()[:2] == [18, 9]
    assert out["total_prorated"].tolist() == [False, True, False, False]
    issues = screening.issues_frame(inst, df)
    assert issues["message"].tolist() == [
        "total: scale(s) a unscored",
        "total: scale(s) a, c unscored",
    ]


def test_forms_and_pages_say_what_it_is(inst: screening.Instrument) -> None:
    item = next(i for i in fhir.to_questionnaire(inst)["item"] if i["linkId"] == "scale.total")
    assert not any("calculatedExpression" in e["url"] for e in item["extension"])
    assert "the sum of the scores of scales a, b, c" in item["extension"][-1]["valueMarkdown"]
    rows = {r["Variable / Field Name"]: r for r in redcap.redcap_rows(inst)}
    calc = "Choices, Calculations, OR Slider Labels"
    assert rows["derived_total"][calc] == "sum([derived_a], [derived_b], [derived_c])"
    assert rows["derived_worst"][calc] == "max([derived_a], [derived_b])"
    assert "does not apply its bands" in rows["derived_total"]["Field Note"]
    described = display.describe_instrument(inst)["scales"]["total"]
    assert (described["scales"], described["items"], described["range"]) == (
        ["a", "b", "c"],
        [],
        [0, 18],
    )


def _lint(text: str, folder: Path) -> list[tuple[str, int | None]]:
    path = folder / "derived.yaml"
    path.write_text(text, encoding="utf-8")
    return [(i.code, i.line) for i in lint_file(path)]


def _line(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), start=1) if needle in line)


@pytest.mark.parametrize(
    ("old", "new", "code", "at"),
    [
        ("scales: [a, b, c]", "scales: [a, b, with_c]", "scale_parts", "scales: [a, b, with_c]"),
        ("scales: [a, b, c]", "scales: [a, b, a]", "scale_parts", "scales: [a, b, a]"),
        ("scales: [a, b, c]", "scales: [a, b, d]", "unknown_scale", "scales: [a, b, d]"),
        (
            "    scales: [a, b, c]\n",
            "    scales: [a, b, c]\n    missing: {max_missing: 1, prorate: true}\n",
            "scale_parts",
            "missing: {max_missing: 1, prorate: true}\n    source",
        ),
        ("    method: max\n", "    method: mean\n", "scale_parts", "method: mean"),
        (
            "    items: [derived_1, derived_2, derived_3]\n    role: secondary\n",
            "    items: [derived_1, derived_2, derived_3]\n    role: secondary\n    method: max\n",
            "scale_parts",
            "    method: max",
        ),
    ],
)
def test_the_checker_names_each_mistake(
    tmp_path: Path, old: str, new: str, code: str, at: str
) -> None:
    assert _lint(DEFINITION, tmp_path) == []
    text = DEFINITION.replace(old, new, 1)
    line = _line(text, at.split("\n", maxsplit=1)[0])
    assert (code, line) in _lint(text, tmp_path)


def test_a_scale_needs_items_or_scales(tmp_path: Path) -> None:
    text = DEFINITION.replace("    scales: [a, b]\n", "", 1)
    found = _lint(text, tmp_path)
    assert [code for code, _ in found] == ["scale_parts"]  # and nothing it would cascade to
    assert found[0][1] in (_line(text, "  worst:"), _line(text, "  worst:") + 1)


def test_the_new_keys_need_format_1_1(tmp_path: Path) -> None:
    old = DEFINITION.replace('format_version: "1.1"', 'format_version: "1.0"')
    found = _lint(old, tmp_path)
    assert ("key_needs_newer_format", _line(old, "scales: [a, b, c]")) in found
    assert ("key_needs_newer_format", _line(old, "method: max")) in found


def test_answers_are_read_through_every_scale(inst: screening.Instrument) -> None:
    reads: Any = screening.score(inst, {}, on_error="invalid").undetermined_flags[0].items
    assert list(reads) == [f"derived_{n}" for n in range(1, 10)]


def test_redcap_never_sums_a_field_that_is_not_its_scale_score(tmp_path: Path) -> None:
    # c converted by a table: its REDCap field holds the sum before the table, so a REDCap sum
    # over it would be a wrong total that looks right
    table = "".join(f"        - {{score: {k}, converted: {10 + k}}}\n" for k in range(7))
    text = DEFINITION.replace(
        "  c:\n    items: [derived_7, derived_8, derived_9]\n    role: secondary\n",
        "  c:\n    items: [derived_7, derived_8, derived_9]\n    role: secondary\n"
        f"    lookup:\n      source: src\n      table:\n{table}",
    ).replace(
        "    bands:\n      - {min: 0, max: 9, label: close to average}\n"
        "      - {min: 10, max: 13, label: raised}\n      - {min: 14, max: 18, label: high}\n",
        "",
    )
    text = text[: text.index("flags:")]  # the golden cases and flag expect the plain c
    inst = screening.parse_instrument(text, "derived.yaml")
    rows = {r["Variable / Field Name"]: r for r in redcap.redcap_rows(inst)}
    assert rows["derived_worst"]["Field Type"] == "calc"  # a and b hold their scores
    for name in ("derived_total", "derived_with_c"):
        assert rows[name]["Field Type"] == "text", name
        assert rows[name]["Choices, Calculations, OR Slider Labels"] == ""
    assert rows["derived_total"]["Field Note"].startswith(
        "Not calculated by REDCap: the sum of the scores of scales a, b, c, and the field of c "
        "holds the score before its conversion table, not its score."
    )
    assert (
        screening.score(inst, {f"derived_{n}": 2 for n in range(1, 10)}).scales["total"].score
        == 6 + 4 + 16
    )  # a 6; item 6 reversed, b 2 + 2 + 0 = 4; c 6 converted to 16


def test_the_form_states_the_rule_of_a_scale_over_scales(inst: screening.Instrument) -> None:
    item = next(i for i in fhir.to_questionnaire(inst)["item"] if i["linkId"] == "scale.total")
    assert (
        "each scale listed under its own; scored only where every one of them is"
        in (item["extension"][-1]["valueMarkdown"])
    )


def test_an_empty_list_of_tables_is_refused() -> None:
    from screening.loading import check_text

    text = DEFINITION.replace("  worst:\n", "  worst:\n    lookup: []\n", 1)
    _, issues = check_text(text)
    assert [i.code for i in issues][:1] == ["invalid_value"]
    assert "lookup" in issues[0].message
