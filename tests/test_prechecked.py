"""Built-ins constructed from their pre-checked entries are the definitions their YAML files
give, an entry never stands for bytes it was not made from, and a spoiled entry is never used."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import screening
from screening import loading, prechecked
from screening.checks import check_instrument
from screening.definition import Instrument

BUILTIN_FILES = sorted(loading.builtin_dir().glob("*.yaml"))


def test_every_builtin_has_an_entry() -> None:
    assert {p.stem for p in BUILTIN_FILES} == {p.stem for p in prechecked.FOLDER.glob("*.json")}


@pytest.mark.parametrize("path", BUILTIN_FILES, ids=lambda p: p.stem)
def test_an_entry_gives_the_definition_its_file_gives(path: Path) -> None:
    found = prechecked.read(path)
    assert found is not None, "run `python docs/generate.py`"
    parsed = loading.load_instrument(path)
    assert prechecked.same(found.instrument, parsed)
    assert found.content_hash == loading.content_hash(parsed)
    # constructed without validating, yet what the models accept, and passing every check
    dumped = found.instrument.model_dump(by_alias=True, exclude_unset=True)
    assert prechecked.same(Instrument.model_validate(dumped), parsed)
    assert check_instrument(found.instrument) == []


def test_an_edited_file_is_parsed_not_read_from_its_entry(tmp_path: Path) -> None:
    source = loading.builtin_dir() / "phq9.yaml"
    edited = tmp_path / "phq9.yaml"
    edited.write_bytes(source.read_bytes().replace(b"name: Patient", b"name: Edited Patient"))
    assert prechecked.read(source) is not None
    assert prechecked.read(edited) is None  # same name, other bytes: no entry stands for it
    shutil.copy(source, edited)
    assert prechecked.read(edited) is not None  # the very bytes: the entry holds


def test_same_tells_types_and_given_fields_apart() -> None:
    phq9 = loading.load_instrument("phq9")
    assert prechecked.same(phq9, phq9.model_copy())
    assert not prechecked.same(1, 1.0)
    assert not prechecked.same([1], (1,))
    assert not prechecked.same({"a": 1, "b": 2}, {"b": 2, "a": 1})  # order is kept too
    scale = phq9.scales["total"]
    unset = type(scale).model_construct(_fields_set=set(), **scale.__dict__)
    assert scale == unset
    assert not prechecked.same(scale, unset)


def test_no_entry_when_the_encoding_cannot_give_the_definition_back() -> None:
    phq9 = loading.load_instrument("phq9")
    assert prechecked.entry(b"x", phq9, "sha256:0") is not None
    odd = phq9.model_copy(update={"description": Path("not a string")})
    assert prechecked.entry(b"x", odd, "sha256:0") is None


def _model(data: object) -> dict[str, object]:
    return data if isinstance(data, dict) else {}


@pytest.mark.parametrize(
    "spoil",
    [
        lambda e: _model(e["model"]).update({"$model": "Path"}),  # not a model of the format
        lambda e: _model(e["model"]).update({"$model": "BaseModel"}),
        lambda e: _model(e["model"]).update({"extra": 1}),
        lambda e: _model(_model(e["model"])["$fields"]).pop("items"),
        lambda e: _model(_model(e["model"])["$fields"]).update({"colour": "red"}),
        lambda e: _model(e["model"]).update({"$given": ["no_such_field"]}),
        lambda e: _model(e["model"]).update({"$given": [["id"]]}),
        lambda e: _model(_model(e["model"])["$fields"]).update({"scales": {"$mapping": [[1]]}}),
        lambda e: _model(_model(e["model"])["$fields"]).update({"flags": {"$tuple": 1}}),
        lambda e: e.update({"content_hash": None}),
        lambda e: e.update({"model": [1, 2]}),
        lambda e: _model(e["model"]).update({"$model": ["Instrument"]}),  # not hashable
        lambda e: _model(_model(e["model"])["$fields"]).update(
            {"scales": {"$mapping": [[["a", "list"], 1]]}}  # a key that cannot be one
        ),
    ],
)
def test_a_spoiled_entry_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spoil: Callable[[dict[str, object]], None]
) -> None:
    source = loading.builtin_dir() / "phq9.yaml"
    stored = json.loads((prechecked.FOLDER / "phq9.json").read_text(encoding="utf-8"))
    monkeypatch.setattr(prechecked, "FOLDER", tmp_path)
    (tmp_path / "phq9.json").write_text(json.dumps(stored), encoding="utf-8")
    assert prechecked.read(source) is not None
    spoil(stored)
    (tmp_path / "phq9.json").write_text(json.dumps(stored), encoding="utf-8")
    assert prechecked.read(source) is None  # the file is parsed and checked instead


def test_scoring_a_builtin_in_a_fresh_process_parses_no_yaml() -> None:
    code = (
        "import sys, screening; "
        "r = screening.score('phq9', {f'phq9_{n}': 1 for n in range(1, 10)}); "
        "assert r.scales['total'].score == 9, r; "
        "assert 'ruamel.yaml' not in sys.modules, 'parsed YAML'; "
        "assert 'screening.change' not in sys.modules, 'imported change'; "
        "assert 'pydantic.plugin._loader' not in sys.modules, 'built a validator'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    assert screening.load_instrument("phq9") is loading._BUILTINS["phq9"]
