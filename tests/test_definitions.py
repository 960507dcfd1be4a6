"""Bad definitions: each file marks its offending lines with `# <- code ...`; exactly those
errors must be reported, at those lines."""

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
    out: set[tuple[str, int]] = set()
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        found = MARK.search(line)
        if found:
            out.update((code, number) for code in found.group(1).split())
    return out


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_every_marked_error_is_reported_at_its_line(path: Path) -> None:
    expected = marked(path)
    assert expected, f"{path.name} marks no expected error"
    errors = [i for i in lint_file(path) if i.severity == "error"]
    assert {(i.code, i.line) for i in errors} == expected
    assert all(i.file == str(path) and i.col is not None for i in errors)


def test_good_definition_has_no_problem() -> None:
    assert lint_file(DEFINITIONS / "good.yaml") == []


def test_load_raises_definition_error_listing_every_problem() -> None:
    path = DEFINITIONS / "bad" / "several_problems.yaml"
    with pytest.raises(screening.DefinitionError) as caught:
        screening.load_instrument(path)
    assert isinstance(caught.value, ValueError)
    codes = sorted(i.code for i in caught.value.issues)
    assert codes == ["bands_not_contiguous", "unknown_item", "unknown_key", "unknown_option_set"]
    assert f"{path}:19:29: error: unknown_item" in str(caught.value)


def test_messages_name_what_is_wrong() -> None:
    issues = lint_file(DEFINITIONS / "bad" / "bands_gap.yaml")
    assert issues[0].message == (
        "scale 'total': band 'high' starts at 4, which leaves a gap after band 'low' "
        "(ends at 2); it must start at 3"
    )
    issues = lint_file(DEFINITIONS / "bad" / "unknown_key.yaml")
    assert "items[1].lable: unknown key 'lable'" in [i.message for i in issues]


def test_a_case_failure_shows_expected_and_actual() -> None:
    (issue,) = [
        i for i in lint_file(DEFINITIONS / "bad" / "case_fails.yaml") if i.code == "case_failed"
    ]
    assert issue.message == "case 'low': scales.total.score expected 3, got 2"
