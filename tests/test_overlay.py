"""Wording overlays: the user's licensed wording laid over a definition, scoring untouched."""

from __future__ import annotations

from pathlib import Path

import pytest

import screening
from screening.loading import content_hash

EPDS_ALL_TOP = {f"epds_{n}": 0 for n in range(1, 11)}  # 7 reversed items x 3 = 21


def write(tmp_path: Path, text: str, name: str = "wording.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def overlay_error(path: Path, instrument: str = "epds") -> screening.DefinitionError:
    with pytest.raises(screening.DefinitionError) as caught:
        screening.load_instrument(instrument, overlay=path)
    return caught.value


def test_overlay_puts_wording_on_the_items_and_keeps_the_hash(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "instrument: epds\n"
        "items:\n"
        "  epds_1: First item wording from a licensed copy\n"
        "  epds_10: Tenth item wording from a licensed copy\n",
    )
    base = screening.load_instrument("epds")
    laid = screening.load_instrument("epds", overlay=path)

    texts = {item.id: item.text for item in laid.items}
    assert texts["epds_1"] == "First item wording from a licensed copy"
    assert texts["epds_10"] == "Tenth item wording from a licensed copy"
    assert [t for i, t in texts.items() if i not in ("epds_1", "epds_10")] == [None] * 8
    assert [i.label for i in laid.items] == [i.label for i in base.items]

    assert content_hash(laid) == content_hash(base)
    assert content_hash(laid).startswith("sha256:")

    # the built-in itself is untouched
    assert all(item.text is None for item in screening.load_instrument("epds").items)

    with_overlay = screening.score(laid, EPDS_ALL_TOP)
    without = screening.score("epds", EPDS_ALL_TOP)
    assert with_overlay.scales["total"].score == without.scales["total"].score == 21
    assert with_overlay.provenance == without.provenance
    assert with_overlay.flag_ids == ["self_harm_thoughts"]


def test_the_hash_does_change_with_scoring_content() -> None:
    base = screening.load_instrument("epds")
    items = list(base.items)
    items[0] = items[0].model_copy(update={"reverse": True})
    assert content_hash(base.model_copy(update={"items": items})) != content_hash(base)


def test_overlay_replaces_shipped_wording(tmp_path: Path) -> None:
    path = write(tmp_path, "instrument: phq9\nitems:\n  phq9_1: A translation of item 1\n")
    laid = screening.load_instrument("phq9", overlay=path)
    assert laid.items[0].text == "A translation of item 1"
    assert laid.items[1].text == "Feeling down, depressed, or hopeless"
    assert content_hash(laid) == content_hash(screening.load_instrument("phq9"))


def test_unknown_item(tmp_path: Path) -> None:
    path = write(tmp_path, "instrument: epds\nitems:\n  epds_1: fine\n  epds_11: no such item\n")
    error = overlay_error(path)
    (issue,) = error.issues
    assert issue.code == "unknown_item"
    assert issue.line == 4
    assert issue.file == str(path)
    assert "overlay names unknown item 'epds_11'" in issue.message
    assert f"{path}:4:" in str(error)


def test_wrong_instrument(tmp_path: Path) -> None:
    path = write(tmp_path, "instrument: phq9\nitems:\n  epds_1: wording\n")
    error = overlay_error(path)
    (issue,) = error.issues
    assert issue.code == "overlay_instrument"
    assert issue.line == 1
    assert issue.message == "overlay is for 'phq9', not 'epds'"
    assert f"{path}:1:" in str(error)


@pytest.mark.parametrize(
    "wording", ["3", "[a, list]", "{a: mapping}", "''", "null", "true"], ids=str
)
def test_wording_must_be_text(tmp_path: Path, wording: str) -> None:
    path = write(tmp_path, f"instrument: epds\nitems:\n  epds_1: ok\n  epds_2: {wording}\n")
    error = overlay_error(path)
    (issue,) = error.issues
    assert issue.code == "overlay_items"
    assert issue.line == 4
    assert issue.message == "wording of 'epds_2' must be text"


def test_items_must_be_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "instrument: epds\nitems:\n  - epds_1\n")
    (issue,) = overlay_error(path).issues
    assert issue.code == "overlay_items"
    assert issue.line == 3


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, "instrument: gad7\nitems:\n  epds_1: 7\n  nope: x\nnotes: extra key\n")
    error = overlay_error(path)
    assert sorted((i.code, i.line) for i in error.issues) == [
        ("overlay_instrument", 1),
        ("overlay_items", 3),
        ("unknown_item", 4),
        ("unknown_key", 5),
    ]


def test_overlay_is_read_with_the_safe_loader(tmp_path: Path) -> None:
    path = write(tmp_path, "instrument: epds\nitems:\n  epds_1: &w wording\n  epds_2: *w\n")
    codes = {i.code for i in overlay_error(path).issues}
    assert "yaml_anchor" in codes
    path = write(tmp_path, "instrument: epds\nitems:\n  epds_1: !!python/object:os.system x\n")
    (issue,) = overlay_error(path).issues
    assert (issue.code, issue.line) == ("yaml_tag", 3)
    path = write(tmp_path, "instrument: epds\nitems:\n  epds_1: a\n  epds_1: b\n", "dup.yaml")
    (issue,) = overlay_error(path).issues
    assert issue.code == "duplicate_key"
    assert "duplicate key 'epds_1' (first at line 3)" in issue.message


def test_overlay_yaml_problems_keep_their_own_position(tmp_path: Path) -> None:
    path = write(tmp_path, "instrument: epds\nitems:\n  epds_1: a\n  epds_1: b\n", "dup.yaml")
    (issue,) = overlay_error(path).issues
    assert (issue.code, issue.line) == ("duplicate_key", 4)
    path = write(tmp_path, "instrument: epds\nitems:\n  epds_1: [a\n  epds_2: b\n", "syn.yaml")
    (issue,) = overlay_error(path).issues
    assert (issue.code, issue.line) == ("yaml_syntax", 4)
