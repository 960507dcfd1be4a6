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


def issues(text: str | bytes) -> list[tuple[str, int | None, int | None]]:
    return [(i.code, i.line, i.col) for i in parse_yaml(text, "x.yaml").issues]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: !!bool maybe\n", "'maybe' is not a boolean (write true or false)"),
        ("a: !!bool yes\n", "'yes' is not a boolean (write true or false)"),
        ("a: !!int abc\n", "'abc' is not an integer"),
        ("a: !!int\n", "'' is not an integer"),
        ("a: !!int 1.5\n", "'1.5' is not an integer"),
        ("a: !!float x\n", "'x' is not a number"),
        ("a: !!null abc\n", "'abc' is not null (write null, ~ or nothing)"),
    ],
)
def test_a_core_tag_on_a_value_not_of_its_form_is_refused_at_the_value(
    text: str, message: str
) -> None:
    # these escaped as KeyError / ValueError / IndexError, with no position
    parsed = parse_yaml(text, "x.yaml")
    assert [(i.code, i.line, i.col, i.message) for i in parsed.issues] == [
        ("yaml_value", 1, 4, message)
    ]


def test_core_tags_on_values_of_their_form_are_typed() -> None:
    text = "a: !!int 0x1F\nb: !!float 1\nc: !!str 12\nd: !!null ''\ne: !!bool false\nf: 0o17\n"
    parsed = parse_yaml(text, "x.yaml")
    assert parsed.issues == []
    assert parsed.data == {"a": 31, "b": 1.0, "c": "12", "d": None, "e": False, "f": 15}


def test_an_integer_too_long_for_python_is_refused_at_its_position() -> None:
    # Python refuses int() of more than 4,300 digits: this escaped as ValueError
    parsed = parse_yaml("a: 1\nb: [2, " + "9" * 5000 + "]\n", "x.yaml")
    assert [(i.code, i.line, i.col, i.message) for i in parsed.issues] == [
        ("yaml_value", 2, 8, "number too long (5000 digits; at most 100)")
    ]
    assert codes("a: " + "9" * 101 + "\n") == ["yaml_value"]
    assert parse_yaml("a: " + "9" * 100 + "\n").data == {"a": int("9" * 100)}
    assert codes("a: 1." + "5" * 200 + "\n") == ["yaml_value"]


def test_plain_scalars_outside_the_core_schema_are_text() -> None:
    # ruamel's own resolver read these as integers, timestamps or crashed (`0x_`)
    text = "a: 1_000\nb: 0b11\nc: 0x_\nd: 2020-01-01\ne: =\nf: '<<'\n"
    parsed = parse_yaml(text, "x.yaml")
    assert parsed.issues == []
    assert parsed.data == {
        "a": "1_000",
        "b": "0b11",
        "c": "0x_",
        "d": "2020-01-01",
        "e": "=",
        "f": "<<",
    }


def test_a_yaml_1_1_directive_does_not_change_the_typing() -> None:
    # ruamel switched to YAML 1.1 typing: yes became True, 017 became 15
    parsed = parse_yaml("%YAML 1.1\n---\na: yes\nb: 017\nc: 1:30\nd: No\n", "x.yaml")
    assert parsed.issues == []
    assert parsed.data == {"a": "yes", "b": 17, "c": "1:30", "d": "No"}


@pytest.mark.parametrize(
    ("text", "line", "col", "name"),
    [
        ("a: 1\nb: x\x00y\n", 2, 5, "U+0000 (NUL)"),
        ("a: \x01\n", 1, 4, "U+0001 (a control character)"),
        ("a: 1\r\nb: 2\r\n\x7f: 3\n", 3, 1, "U+007F (a control character)"),
        ("a: '\ufffe'\n", 1, 5, "U+FFFE (a non-character)"),
    ],
)
def test_a_character_yaml_refuses_is_reported_at_its_position(
    text: str, line: int, col: int, name: str
) -> None:
    parsed = parse_yaml(text, "x.yaml")
    assert [(i.code, i.line, i.col) for i in parsed.issues] == [("yaml_syntax", line, col)]
    assert parsed.issues[0].message == f"character {name} is not allowed in YAML"
    assert parse_yaml(text.encode(), "x.yaml").issues == parsed.issues


def test_bytes_that_are_not_utf8_are_reported_at_their_position() -> None:
    assert issues(b"a: 1\nb: caf\xe9\n") == [("encoding", 2, 7)]


def test_deep_nesting_is_refused_where_the_limit_is_crossed() -> None:
    # flow: the 51st bracket is the first node too deep
    assert issues("a: " + "[" * 60 + "]" * 60 + "\n") == [("yaml_depth", 1, 54)]
    # deep enough to exhaust Python's recursion: was refused without a position
    assert issues("a: " + "[" * 5000 + "]" * 5000 + "\n") == [("yaml_depth", 1, 54)]
    # a key counts one level below its mapping: the key inside the 50th mapping is too deep
    assert issues("a: " + "{a: " * 60 + "1" + "}" * 60 + "\n") == [("yaml_depth", 1, 201)]
    block = "".join(f"{' ' * d}k{d}:\n" for d in range(60)) + " " * 60 + "v: 1\n"
    assert issues(block) == [("yaml_depth", 51, 51)]
    assert codes("a: " + "[" * 50 + "]" * 50 + "\n") == []
    assert issues("a: " + "[" * 50 + "1" + "]" * 50 + "\n") == [("yaml_depth", 1, 54)]


def test_an_anchor_on_a_key_is_refused() -> None:
    # was accepted: only values were checked for anchors
    assert issues("a: 1\n&k b: 2\n") == [("yaml_anchor", 2, 1)]
    assert issues("{&k b: 2}\n") == [("yaml_anchor", 1, 2)]
    assert issues("&k b: 1\n*k : 2\n") == [("yaml_anchor", 1, 1)]


def test_each_anchor_is_reported_once() -> None:
    text = "a: &x [1]\nb: *x\nc: *x\n"
    assert issues(text) == [("yaml_anchor", 1, 4)]


def test_a_duplicate_key_names_the_line_of_the_first_key() -> None:
    parsed = parse_yaml("a:\n  - 1\nb: 2\na: 3\n", "x.yaml")
    assert [(i.code, i.line, i.col) for i in parsed.issues] == [("duplicate_key", 4, 1)]
    assert parsed.issues[0].message == "duplicate key 'a' (first at line 1)"


def test_key_positions_are_recorded_beside_value_positions() -> None:
    parsed = parse_yaml("top:\n  key:   value\n", "x.yaml")
    assert parsed.key_positions[("top", "key")] == (2, 3)
    assert parsed.positions[("top", "key")] == (2, 10)
