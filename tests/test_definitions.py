"""Bad definitions: each file marks its offending lines with `# <- code ...`; exactly those
issues (errors and warnings) must be reported, at those lines."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import screening
from screening.linting import lint_file

from .conftest import DEFINITIONS

BAD = sorted((DEFINITIONS / "bad").glob("*.yaml"))
MARK = re.compile(r"# <- ([a-z_ ]+)$")


def marked(path: Path) -> set[tuple[str, int]]:
    """Each (code, line) a file marks; a file may hold bytes that are not UTF-8 (`encoding`)."""
    out: set[tuple[str, int]] = set()
    text = path.read_bytes().decode("utf-8", "replace")
    for number, line in enumerate(text.splitlines(), start=1):
        found = MARK.search(line)
        if found:
            out.update((code, number) for code in found.group(1).split())
    return out


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_every_marked_issue_is_reported_at_its_line(path: Path) -> None:
    expected = marked(path)
    assert expected, f"{path.name} marks no expected issue"
    issues = lint_file(path)
    assert {(i.code, i.line) for i in issues} == expected
    assert all(i.file == str(path) and i.col is not None for i in issues)


def test_good_definition_has_no_problem() -> None:
    assert lint_file(DEFINITIONS / "good.yaml") == []


def test_load_raises_definition_error_listing_every_problem() -> None:
    path = DEFINITIONS / "bad" / "several_problems.yaml"
    with pytest.raises(screening.DefinitionError) as caught:
        screening.load_instrument(path)
    assert isinstance(caught.value, ValueError)
    codes = sorted(i.code for i in caught.value.issues)
    assert codes == ["bands_not_contiguous", "unknown_item", "unknown_key", "unknown_option_set"]
    assert f"{path}:20:29: error: unknown_item" in str(caught.value)


def test_messages_name_what_is_wrong() -> None:
    issues = lint_file(DEFINITIONS / "bad" / "bands_gap.yaml")
    assert issues[0].message == (
        "scale 'total': band 'high' starts at 4, which leaves a gap after band 'low' "
        "(ends at 2); it must start at 3"
    )
    issues = lint_file(DEFINITIONS / "bad" / "unknown_key.yaml")
    messages = [i.message for i in issues]
    assert "items[1].lable: unknown key 'lable'; did you mean 'label'?" in messages


def test_a_case_failure_shows_expected_and_actual() -> None:
    (issue,) = [
        i for i in lint_file(DEFINITIONS / "bad" / "case_fails.yaml") if i.code == "case_failed"
    ]
    assert issue.message == "case 'low': scales.total.score expected 3, got 2"


def _check(text: str) -> list[screening.Issue]:
    _, issues = screening.loading.check_text(text, "x.yaml")
    return issues


GOOD = (DEFINITIONS / "good.yaml").read_text()


def test_every_missing_required_key_is_reported_at_its_mapping() -> None:
    # only `items` was reported: one missing key per mapping
    issues = _check("id: x\n")
    assert [(i.code, i.line, i.col) for i in issues] == [("missing_key", 1, 1)] * 7
    assert {i.message for i in issues} == {
        f"top level: missing required key '{key}'"
        for key in (
            "format_version",
            "name",
            "definition_version",
            "construct",
            "license",
            "sources",
            "items",
        )
    }
    text = GOOD.replace("holder: Nobody, notice: Free to use., ", "")
    issues = _check(text)
    assert [(i.code, i.line, i.col, i.message) for i in issues] == [
        ("missing_key", 6, 10, "license: missing required key 'holder'"),
        ("missing_key", 6, 10, "license: missing required key 'notice'"),
    ]


def test_an_unknown_key_is_reported_at_the_key_with_the_closest_allowed_key() -> None:
    # it was reported at its value's column, with no suggestion
    issues = _check(GOOD.replace("label: two, options:", "label: two, optoins:"))
    (unknown,) = [i for i in issues if i.code == "unknown_key"]
    assert (unknown.line, unknown.col) == (16, 30)  # the value is at 39
    assert unknown.message == "items[1].optoins: unknown key 'optoins'; did you mean 'options'?"
    block = GOOD.replace("construct: testing\n", "construct: testing\ndescripton:\n  - x\n")
    (unknown,) = _check(block)
    assert (unknown.line, unknown.col) == (6, 1)
    assert unknown.message == "descripton: unknown key 'descripton'; did you mean 'description'?"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        # a condition: every kind of condition's keys are candidates
        ("when: {item: good_3, gte: 2}", "when: {item: good_3, gtee: 2}", "did you mean 'gte'?"),
        # a key already present is not suggested again
        ("when: {item: good_3, gte: 2}", "when: {item: good_3, gte: 2, itme: x}", ""),
        # an aliased field is named by its YAML key
        ("construct: testing", "construkt: testing", "did you mean 'construct'?"),
        # nothing close
        ("construct: testing", "construct: testing\nzzz: x", ""),
    ],
)
def test_did_you_mean_names_only_keys_the_mapping_may_take(
    old: str, new: str, message: str
) -> None:
    issues = _check(GOOD.replace(old, new))
    (unknown,) = [i for i in issues if i.code == "unknown_key"]
    assert unknown.message.endswith(f"; {message}" if message else "'")


def test_semantic_checks_run_after_a_wrong_descriptive_value() -> None:
    # semantic checks ran only when every structural problem was an unknown key
    text = GOOD.replace("construct: testing\n", "construct: testing\ndescription: [a]\n")
    text = text.replace("items: [good_1, good_2, good_3]", "items: [good_1, good_2, good_4]")
    issues = _check(text)
    assert [(i.code, i.line) for i in issues] == [("invalid_value", 6), ("unknown_item", 21)]
    nested = GOOD.replace(
        "{id: good_1, label: one, options: freq}",
        "{id: good_1, label: one, options: freq, codes: {loinc: 5}}",
    )
    nested = nested.replace("items: [good_1, good_2, good_3]", "items: [good_1, good_2, good_4]")
    issues = _check(nested)
    assert [(i.code, i.path) for i in issues] == [
        ("invalid_value", ("items", 0, "codes", "loinc")),
        ("unknown_item", ("scales", "total", "items", 2)),
    ]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        # setting the option sets aside would report every item's set as unknown
        ("  freq:\n", "  freq: 5\n  other:\n"),
        # setting sources aside would report every citation as unknown
        ("sources:\n  src: Author", "sources:\n  x: 5\n  src: Author"),
        # a required value
        ("{id: good_1, label: one,", "{id: good_1, label: [one],"),
        # setting the skip logic aside would report answered_when_skipped without ask_if
        (
            "{id: good_3, label: three, options: freq}",
            "{id: good_3, label: three, options: freq, ask_if: 5, answered_when_skipped: score}",
        ),
    ],
)
def test_no_semantic_issue_comes_from_a_value_set_aside(old: str, new: str) -> None:
    text = GOOD.replace(old, new)
    assert text != GOOD
    issues = _check(text.replace("items: [good_1, good_2, good_3]", "items: [good_1, good_2, x]"))
    assert issues
    assert {i.code for i in issues} <= {"invalid_value", "missing_key"}


def test_unknown_keys_are_still_set_aside_for_the_semantic_checks() -> None:
    text = GOOD.replace("{id: good_1, label: one,", "{id: good_1, label: one, colour: red,")
    text = text.replace("items: [good_1, good_2, good_3]", "items: [good_1, good_2, x]")
    assert [i.code for i in _check(text)] == ["unknown_key", "unknown_item"]


def test_format_1_1_descriptions_set_aside_like_the_others() -> None:
    """A wrong band-table label or coding description does not hide the other problems."""
    k10 = (Path(__file__).parents[1] / "instruments" / "k10.yaml").read_text()
    k10 = k10.replace("k10_8, k10_9, k10_10]", "k10_8, k10_9, k10_11]", 1)
    for old, new in (
        ("label: AIHW METEOR 634146, the CRUfAD grouping", "label: [meteor]"),
        ("    description: >-\n", "    description: [0-4]\n    x: >-\n"),
    ):
        assert old in k10
        codes = sorted(i.code for i in _check(k10.replace(old, new, 1)) if i.code != "unknown_key")
        assert codes == ["invalid_value", "unknown_item"]  # it was the invalid value alone
