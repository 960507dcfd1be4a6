"""Hostile and tricky YAML is refused or typed safely, never executed or expanded."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import screening
from screening.yamlsafe import MAX_BYTES, parse_yaml

from .conftest import DEFINITIONS


def codes(text: str | bytes) -> list[str]:
    return [i.code for i in parse_yaml(text, "x.yaml").issues]


def test_object_tag_is_refused_not_constructed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = f"id: !!python/object/apply:os.system ['touch {marker}']\n"
    parsed = parse_yaml(text, "x.yaml")
    assert [(i.code, i.line) for i in parsed.issues] == [("yaml_tag", 1)]
    assert "python/object/apply:os.system" in parsed.issues[0].message
    assert not marker.exists()


def test_local_tags_and_set_tags_are_refused() -> None:
    assert codes("a: !custom 1\n") == ["yaml_tag"]
    assert codes("a: !!set {x, y}\n") == ["yaml_tag"]
    assert codes("a: !!binary aGVsbG8=\n") == ["yaml_tag"]


def test_billion_laughs_is_refused_quickly() -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for n in range(1, 10):
        refs = ",".join([f"*a{n - 1}"] * 9)
        lines.append(f"a{n}: &a{n} [{refs}]")
    started = time.perf_counter()
    parsed = parse_yaml("\n".join(lines) + "\n", "bomb.yaml")
    assert time.perf_counter() - started < 5  # generous: expanding it would never finish
    assert {i.code for i in parsed.issues} == {"yaml_anchor"}
    assert parsed.issues[0].line == 1


def test_merge_keys_are_refused() -> None:
    assert codes("base: {a: 1}\nx:\n  <<: {a: 2}\n") == ["yaml_merge"]


def test_duplicate_keys_are_reported_at_the_second() -> None:
    parsed = parse_yaml("a: 1\nb: 2\na: 3\n", "x.yaml")
    assert [(i.code, i.line, i.col) for i in parsed.issues] == [("duplicate_key", 3, 1)]
    assert "first at line 1" in parsed.issues[0].message


def test_duplicate_keys_in_nested_mappings() -> None:
    parsed = parse_yaml("items:\n  - {id: x, id: y}\n", "x.yaml")
    assert [(i.code, i.line) for i in parsed.issues] == [("duplicate_key", 2)]


def test_huge_file_is_refused_before_parsing() -> None:
    text = "a: " + "x" * (MAX_BYTES + 1) + "\n"
    assert codes(text) == ["file_too_large"]


def test_deep_nesting_is_refused() -> None:
    assert codes("a: " + "[" * 2000 + "]" * 2000 + "\n") in (["yaml_depth"], ["yaml_syntax"])
    assert codes("a: " + "[" * 60 + "]" * 60 + "\n") == ["yaml_depth"]


def test_yaml_1_2_typing_keeps_no_and_yes_as_text() -> None:
    parsed = parse_yaml("a: No\nb: yes\nc: off\nd: 12:30\ne: 017\nf: true\n", "x.yaml")
    assert parsed.issues == []
    assert parsed.data == {"a": "No", "b": "yes", "c": "off", "d": "12:30", "e": 17, "f": True}


def test_non_text_keys_are_refused() -> None:
    assert codes("1: a\n") == ["yaml_key"]


def test_not_utf8_is_refused() -> None:
    assert codes(b"a: \xff\xfe\n") == ["encoding"]


def test_multiple_documents_are_refused() -> None:
    assert codes("a: 1\n---\nb: 2\n") == ["yaml_syntax"]


def test_an_option_labelled_no_stays_a_label(tmp_path: Path) -> None:
    text = (DEFINITIONS / "good.yaml").read_text().replace("label: never", "label: No")
    path = tmp_path / "good.yaml"
    path.write_text(text)
    inst = screening.load_instrument(path)
    assert inst.option_sets["freq"][0].label == "No"


@pytest.mark.parametrize("text", ["", "# only a comment\n", "- a\n- b\n", "just text\n"])
def test_documents_that_are_not_definitions(text: str) -> None:
    with pytest.raises(screening.DefinitionError):
        screening.parse_instrument(text, "x.yaml")
