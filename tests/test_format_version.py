"""Every definition states its format version; each key of the format records the version that
added it. A file newer than the library is one clear refusal; a key newer than the file's
version is refused at the key."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import BaseModel, ValidationError

import screening
from screening import definition, loading
from screening._version import __version__
from screening.definition import (
    FORMAT_KEYS,
    FORMAT_VERSION,
    FORMAT_VERSION_PATTERN,
    KEY_ARRIVED,
    Instrument,
    Scale,
    _Comparison,
    format_version_key,
    key_arrived,
)
from screening.loading import check_text, content_hash
from screening.yamlsafe import parse_yaml

from .conftest import DEFINITIONS, ROOT

GOOD = (DEFINITIONS / "good.yaml").read_text(encoding="utf-8")
STATED = 'format_version: "1.0"\n'
FILES = sorted((ROOT / "instruments").glob("*.yaml")) + sorted(DEFINITIONS.rglob("*.yaml"))


def _issues(text: str) -> list[tuple[str, int | None, int | None, str]]:
    _, issues = check_text(text, "x.yaml")
    return [(i.code, i.line, i.col, i.message) for i in issues]


def _line_col(text: str, needle: str) -> tuple[int, int]:
    """1-based line and column of the first `needle` in `text`."""
    before = text[: text.index(needle)]
    return before.count("\n") + 1, len(before) - before.rfind("\n")


# --- every definition states it ---------------------------------------------------------------


@pytest.mark.parametrize("path", FILES, ids=[f"{p.parent.name}/{p.stem}" for p in FILES])
def test_every_definition_states_its_format_version(path: Path) -> None:
    lines = path.read_bytes().decode("utf-8", "replace").splitlines()
    first = lines[1] if lines[0].startswith("# yaml-language-server") else lines[0]
    stated = re.match(r'format_version: "([0-9.]+)"', first)
    assert stated is not None, "the first key states the format version"
    if path.stem == "format_too_new":
        assert format_version_key(stated.group(1)) > format_version_key(FORMAT_VERSION)
    else:
        assert stated.group(1) in FORMAT_KEYS


def test_a_missing_format_version_is_a_missing_key_among_the_rest() -> None:
    text = GOOD.replace(STATED, "").replace("construct: testing\n", "")
    assert _issues(text) == [
        ("missing_key", 1, 1, "top level: missing required key 'format_version'"),
        ("missing_key", 1, 1, "top level: missing required key 'construct'"),
    ]


# --- the history --------------------------------------------------------------------------------


def _models() -> Iterator[type[BaseModel]]:
    seen: set[type[BaseModel]] = set()
    todo: list[Any] = [Instrument]
    while todo:
        tp = todo.pop()
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if tp not in seen:
                seen.add(tp)
                todo.extend(info.annotation for info in tp.model_fields.values())
        else:
            todo.extend(get_args(tp))
    yield from sorted(seen, key=lambda m: m.__name__)


def test_every_key_of_every_model_records_when_it_arrived() -> None:
    missing = [
        f"{model.__name__}.{info.alias or name}"
        for model in _models()
        for name, info in model.model_fields.items()
        if key_arrived(model, info.alias or name) is None
    ]
    assert missing == [], "add each new key to FORMAT_KEYS under a new version"


def test_the_history_names_each_key_once_and_only_keys_that_exist() -> None:
    listed = [
        (model, key) for models in FORMAT_KEYS.values() for model, keys in models.items()
        for key in keys
    ]  # fmt: skip
    assert len(listed) == len(set(listed)) == len(KEY_ARRIVED)
    for model, key in listed:
        keys = {info.alias or name for name, info in model.model_fields.items()}
        assert key in keys, f"{model.__name__} has no key '{key}'"
        inherited = [b for b in model.__mro__[1:] if (b, key) in KEY_ARRIVED]
        assert inherited == [], f"{model.__name__}.{key} is listed under {inherited}"


def test_versions_run_in_order_and_the_newest_is_read() -> None:
    versions = list(FORMAT_KEYS)
    assert all(re.fullmatch(FORMAT_VERSION_PATTERN, v) for v in versions)
    assert versions == sorted(versions, key=format_version_key)
    assert FORMAT_VERSION == versions[-1] == "1.1"
    assert format_version_key("1.10") > format_version_key("1.9")


# --- a file newer than the library ------------------------------------------------------------


@pytest.mark.parametrize("version", ["1.2", "1.10", "2.0"])
def test_a_newer_format_is_one_refusal_at_its_line(version: str) -> None:
    text = GOOD.replace(STATED, f'format_version: "{version}"\n')
    # keys this library does not know, and a problem it would find: neither is reported
    text = text.replace("    source: src\n    bands:", "    offset: 1\n    source: src\n    bands:")
    text = text.replace("items: [good_1, good_2, good_3]", "items: [good_1, good_2, good_4]")
    text += "presentation: {layout: grid}\n"
    message = (
        f"this definition is written in format {version}; screening {__version__} reads "
        f"format up to {FORMAT_VERSION}: upgrade screening"
    )
    assert _issues(text) == [("format_too_new", 1, 17, message)]
    with pytest.raises(screening.DefinitionError) as caught:
        screening.parse_instrument(text, "x.yaml")
    assert str(caught.value).splitlines()[-1].startswith("x.yaml:1:17: error: format_too_new: ")


def test_the_models_refuse_a_version_they_do_not_read() -> None:
    data = parse_yaml(GOOD).data
    assert Instrument.model_validate(data).format_version == "1.0"
    for version, why in [("2.0", "newer than this library reads"), ("0.9", "no format 0.9")]:
        with pytest.raises(ValidationError, match=why):
            Instrument.model_validate({**data, "format_version": version})


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("1.0", "; a YAML number loses the form (1.10 reads as 1.1) (got 1.0)"),
        ("1", "; a YAML number loses the form (1.10 reads as 1.1) (got 1)"),
        ('"1.0.0"', " (got '1.0.0')"),
        ('"v1.0"', " (got 'v1.0')"),
        ('"01.0"', " (got '01.0')"),
    ],
)
def test_a_version_not_of_the_form_is_said_once(value: str, why: str) -> None:
    text = GOOD.replace(STATED, f"format_version: {value}\n")
    message = (
        f'format_version: a version is quoted text, "MAJOR.MINOR" (e.g. "{FORMAT_VERSION}"){why}'
    )
    assert _issues(text) == [("invalid_value", 1, 17, message)]


def test_a_version_that_never_was_is_invalid() -> None:
    text = GOOD.replace(STATED, 'format_version: "0.9"\n')
    (issue,) = _issues(text)
    assert issue[:3] == ("invalid_value", 1, 17)
    assert "there is no format 0.9 (the formats: 1.0, 1.1)" in issue[3]


# --- a key newer than the file's version --------------------------------------------------------


@pytest.fixture
def later_format(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """The library as if it read format 1.2, which added the keys given (keys the models have,
    so that they stand for real keys of a later format)."""

    def arrive(*keys: tuple[type[BaseModel], str]) -> None:
        monkeypatch.setattr(definition, "FORMAT_VERSION", "1.2")
        monkeypatch.setattr(loading, "FORMAT_VERSION", "1.2")
        added: dict[type[BaseModel], tuple[str, ...]] = {}
        for model, key in keys:
            added[model] = (*added.get(model, ()), key)
            monkeypatch.setitem(KEY_ARRIVED, (model, key), "1.2")
        monkeypatch.setitem(FORMAT_KEYS, "1.2", added)

    return arrive


ROLE = GOOD.replace("  total:\n", "  total:\n    role: primary\n")


def test_a_key_newer_than_the_file_is_refused_at_the_key(
    later_format: Callable[..., None],
) -> None:
    later_format((Scale, "role"))
    line, col = _line_col(ROLE, "role:")
    message = "scales.total.role: 'role' needs format 1.2 (the file says 1.0)"
    assert _issues(ROLE) == [("key_needs_newer_format", line, col, message)]
    with pytest.raises(screening.DefinitionError, match="key_needs_newer_format"):
        screening.parse_instrument(ROLE, "x.yaml")
    # stating the format that has it, the file loads; without it, so does a 1.0 file
    assert screening.parse_instrument(ROLE.replace('"1.0"', '"1.2"', 1)).scales["total"].role
    assert screening.parse_instrument(GOOD).format_version == "1.0"


def test_without_a_later_format_the_same_key_is_known() -> None:
    assert _issues(ROLE) == []
    assert _issues(GOOD.replace("  total:\n", "  total:\n    rôle: primary\n"))[0][0] == (
        "unknown_key"
    )


def test_each_newer_key_is_reported_with_the_other_problems(
    later_format: Callable[..., None],
) -> None:
    later_format((Scale, "role"), (_Comparison, "gte"))
    text = ROLE.replace("items: [good_1, good_2, good_3]", "items: [good_1, good_2, good_4]")
    text = text.replace("{item: good_3, gte: 2}", "{not: {item: good_3, gte: 2}}")
    text = text.replace("{id: good_1, label: one,", "{id: good_1, label: one, colour: red,")
    found = [(code, line, message.split(":")[0][:40]) for code, line, _, message in _issues(text)]
    assert found == [
        ("unknown_key", _line_col(text, "colour")[0], "items[0].colour"),
        ("key_needs_newer_format", _line_col(text, "role:")[0], "scales.total.role"),
        ("unknown_item", _line_col(text, "good_4")[0], "scale 'total' lists item 'good_4', which"),
        ("key_needs_newer_format", _line_col(text, "gte:")[0], "flags[0].when.not.gte"),
    ]


def test_a_condition_key_is_judged_by_the_kind_of_condition(
    later_format: Callable[..., None],
) -> None:
    # `in` of a comparison arrives in 1.2; a context condition's `in` was always there
    later_format((_Comparison, "in"))
    context = "context:\n  sex: {values: [female, male], required: false}\n"
    text = GOOD.replace("sources:\n", f"{context}sources:\n").replace(
        "when: {item: good_3, gte: 2}",
        "when: {any: [{item: good_3, in: [2]}, {context: sex, in: [female]}]}",
    )
    line, col = _line_col(text, "in: [2]")
    message = "flags[0].when.any[0].in: 'in' needs format 1.2 (the file says 1.0)"
    assert _issues(text) == [("key_needs_newer_format", line, col, message)]


def test_the_content_hash_leaves_the_format_version_out() -> None:
    inst = screening.parse_instrument(GOOD)
    restated = inst.model_copy(update={"format_version": "1.1"})
    assert content_hash(restated) == content_hash(inst)
