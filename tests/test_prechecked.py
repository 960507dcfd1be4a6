"""Built-ins read from their pre-parsed entries are the definitions their YAML files give, and
an entry never stands for bytes it was not made from."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import screening
from screening import loading, prechecked
from screening.definition import Instrument

BUILTIN_FILES = sorted(loading.builtin_dir().glob("*.yaml"))


def test_every_builtin_has_an_entry() -> None:
    assert {p.stem for p in BUILTIN_FILES} == {p.stem for p in prechecked.FOLDER.glob("*.json")}


@pytest.mark.parametrize("path", BUILTIN_FILES, ids=lambda p: p.stem)
def test_an_entry_gives_the_definition_its_file_gives(path: Path) -> None:
    data = prechecked.read(path)
    assert data is not None, "run `python docs/generate.py`"
    read, parsed = Instrument.model_validate(data), loading.load_instrument(path)
    assert read.model_dump(mode="json", by_alias=True) == parsed.model_dump(
        mode="json", by_alias=True
    )
    assert loading.content_hash(read) == loading.content_hash(parsed)


def test_an_edited_file_is_parsed_not_read_from_its_entry(tmp_path: Path) -> None:
    source = loading.builtin_dir() / "phq9.yaml"
    edited = tmp_path / "phq9.yaml"
    edited.write_bytes(source.read_bytes().replace(b"name: Patient", b"name: Edited Patient"))
    assert prechecked.read(source) is not None
    assert prechecked.read(edited) is None  # same name, other bytes: no entry stands for it
    shutil.copy(source, edited)
    assert prechecked.read(edited) is not None  # the very bytes: the entry holds


def test_no_entry_when_json_cannot_hold_the_data() -> None:
    assert prechecked.entry(b"x", {1: "a key that is not text"}) is None
    assert prechecked.entry(b"x", {"a": 1.0}) is not None


def test_scoring_a_builtin_in_a_fresh_process_parses_no_yaml() -> None:
    code = (
        "import sys, screening; "
        "r = screening.score('phq9', {f'phq9_{n}': 1 for n in range(1, 10)}); "
        "assert r.scales['total'].score == 9, r; "
        "assert 'ruamel.yaml' not in sys.modules, 'parsed YAML'; "
        "assert 'screening.change' not in sys.modules, 'imported change'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    assert screening.load_instrument("phq9") is loading._BUILTINS["phq9"]
