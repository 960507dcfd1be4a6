"""Generated documentation: no drift, every page complete, the JSON Schema fits the definitions."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest

import screening
from screening.schema import instrument_schema
from screening.yamlsafe import parse_yaml

from .conftest import DEFINITIONS, ROOT

SCHEMA_PATH = ROOT / "docs" / "instrument.schema.json"
BUILTIN_FILES = sorted((ROOT / "instruments").glob("*.yaml"))
SCHEMA_COMMENT = "# yaml-language-server: $schema=../docs/instrument.schema.json"


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_generate", ROOT / "docs" / "generate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generate = _load_generator()


def _data(path: Path) -> Any:
    parsed = parse_yaml(path.read_bytes(), str(path))
    assert parsed.issues == []
    return parsed.data


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _page(instrument_id: str) -> str:
    return (ROOT / "docs" / "instruments" / f"{instrument_id}.md").read_text(encoding="utf-8")


# --- drift ----------------------------------------------------------------------------------


def test_generated_docs_are_up_to_date(capsys: pytest.CaptureFixture[str]) -> None:
    assert generate.stale() == [], "run `python docs/generate.py`"
    assert generate.main(["--check"]) == 0
    assert capsys.readouterr().err == ""


def test_check_mode_names_each_stale_file_and_writing_fixes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(ROOT / "instruments", tmp_path / "instruments")
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    page = tmp_path / "docs" / "instruments" / "phq9.md"
    page.write_text(page.read_text(encoding="utf-8") + "edited by hand\n", encoding="utf-8")
    (tmp_path / "docs" / "instrument.schema.json").unlink()
    orphan = tmp_path / "docs" / "instruments" / "retired.md"
    orphan.write_text("an instrument that is gone\n", encoding="utf-8")
    entries = tmp_path / "src" / "screening" / "prechecked"
    shutil.copytree(ROOT / "src" / "screening" / "prechecked", entries)
    (entries / "retired.json").write_text("{}\n", encoding="utf-8")
    (entries / "gad7.json").unlink()

    assert generate.main(["--check"], root=tmp_path) == 1
    err = capsys.readouterr().err
    assert "stale: src/screening/prechecked/retired.json" in err
    assert "stale: src/screening/prechecked/gad7.json" in err
    assert "stale: src/screening/prechecked/phq9.json" not in err
    assert "stale: docs/instruments/phq9.md" in err
    assert "stale: docs/instrument.schema.json" in err
    assert "stale: docs/instruments/retired.md" in err
    assert "stale: docs/instruments/epds.md" not in err
    assert page.read_text(encoding="utf-8").endswith("edited by hand\n")  # check writes nothing

    assert generate.main([], root=tmp_path) == 0
    assert not orphan.exists()
    assert not (entries / "retired.json").exists()
    assert (entries / "gad7.json").read_bytes() == (
        ROOT / "src" / "screening" / "prechecked" / "gad7.json"
    ).read_bytes()
    assert generate.stale(tmp_path) == []
    assert page.read_bytes() == (ROOT / "docs" / "instruments" / "phq9.md").read_bytes()


def test_output_is_deterministic() -> None:
    first = generate.outputs()
    second = generate.outputs()
    assert first == second
    assert list(first) == list(second)


def test_schema_file_is_the_cli_schema() -> None:
    expected = json.dumps(instrument_schema(), indent=2) + "\n"
    assert SCHEMA_PATH.read_text(encoding="utf-8") == expected


# --- page contents --------------------------------------------------------------------------


@pytest.mark.parametrize("instrument_id", screening.list_instruments())
def test_page_states_licence_bands_and_not_a_diagnosis(instrument_id: str) -> None:
    inst = screening.load_instrument(instrument_id)
    page = _page(instrument_id)
    assert f"Status: **{inst.license.status}**" in page
    assert f"| licence | {inst.license.status} (" in page
    for name, scale in inst.scales.items():
        assert f"### `{name}`" in page
        places = scale.decimals or 0
        for band in scale.bands:  # edges as the scale writes them (1.00-2.99 at two places)
            edges = f"{band.min:.{places}f}-{band.max:.{places}f}"
            assert f"| {edges} | {band.label} |" in page
    for flag in inst.flags:
        assert f"**`{flag.id}`** ({flag.severity})" in page
    for key in inst.sources:
        assert f"**{key}**" in page
    assert page.rstrip().endswith("A screening score is not a diagnosis.")


def test_wording_appears_only_where_the_licence_permits() -> None:
    phq9 = _page("phq9")
    assert "Little interest or pleasure in doing things" in phq9
    assert "| item wording | included |" in phq9
    epds = _page("epds")
    assert "| item wording | not included (labels only) |" in epds
    assert "the licence does not permit redistributing it" in epds
    assert 'load_instrument("epds", overlay="my-wording.yaml")' in epds


def test_reverse_scoring_and_skip_logic_in_words() -> None:
    epds = _page("epds")
    assert (
        "| 3 | `epds_3` | self-blame | `box_position` | reverse-scored: score = 3 - value" in epds
    )
    assert "| 1 | `epds_1` | anhedonia (humour) | `box_position` | score = value |" in epds
    k10 = _page("k10")
    assert "`k10_3` is asked only when k10_2 ≥ 2." in k10
    # the self-report form asks every item: an answer to a skipped item 3 is scored as given
    assert "it scores 1. An answer given although it was skipped is scored as given." in k10
    cssrs = _page("cssrs_screener")
    assert "`cssrs_screener_3` is asked only when cssrs_screener_2 = 1." in cssrs
    assert "has no score: scales leave it out" in cssrs
    assert "is an error unless it is the answer 0 (agreeing with the skip)." in cssrs
    audit = _page("audit")
    assert "An answer given although it was skipped is scored as given." in audit


def test_scales_missing_rules_and_multipliers() -> None:
    phq9 = _page("phq9")
    assert "- Range: 0-27." in phq9
    assert "up to 2 of 9 items may be missing" in phq9
    assert "rounded half up" in phq9
    assert "secondary (a sub-score)" in phq9
    dass = _page("dass21")
    assert "- Multiplier: \u00d7 2, applied after summing and any proration." in dass
    assert "- Range: 0-42." in dass
    assert "every item is required" in dass


def test_classification_rules_in_order_in_words() -> None:
    cssrs = _page("cssrs_screener")
    high = cssrs.index("1. **high risk** when any of (cssrs_screener_4 = 1,")
    moderate = cssrs.index("2. **moderate risk** when any of (cssrs_screener_3 = 1,")
    otherwise = cssrs.index("4. **no positive response** otherwise")
    assert high < moderate < otherwise
    audit_c = _page("audit_c")
    assert "any of (scale total ≥ 4, all of (sex = female, scale total ≥ 3))" in audit_c
    assert "| `sex` | `female`, `male` | none | yes |" in audit_c


def test_change_parameters_are_described() -> None:
    text = (DEFINITIONS / "good.yaml").read_text(encoding="utf-8")
    text += (
        "change:\n"
        "  total:\n"
        "    direction: higher_is_worse\n"
        "    reliable_change: {reliability: 0.84, sd: 5, source: src}\n"
        "    caseness: {min: 3, source: src}\n"
        "    response: {relative_reduction: 0.5, source: src}\n"
        "    remission: {max: 2, source: src}\n"
    )
    page = generate.render_instrument(screening.parse_instrument(text), "good.yaml")
    assert "## Change across administrations" in page
    assert "Jacobson-Truax index with reliability 0.84 and SD 5, |RCI| above 1.96" in page
    assert "- Caseness: 3 or more." in page
    assert "- Response: a reduction of at least 50% of the baseline score." in page
    assert "- Remission: 2 or less." in page
    for instrument_id in screening.list_instruments():
        inst = screening.load_instrument(instrument_id)
        has_section = "## Change across administrations" in _page(instrument_id)
        assert has_section == bool(inst.change), instrument_id


def test_index_lists_every_builtin_with_its_licence() -> None:
    index = (ROOT / "docs" / "instruments" / "README.md").read_text(encoding="utf-8")
    for instrument_id in screening.list_instruments():
        inst = screening.load_instrument(instrument_id)
        row = f"| [`{instrument_id}`]({instrument_id}.md) |"
        (line,) = [x for x in index.splitlines() if x.startswith(row)]
        assert f"| {inst.license.status} |" in line
    assert "| [`epds`](epds.md) |" in index
    assert index.count("\n| [`") == len(screening.list_instruments())


def test_table_cells_escape_pipes() -> None:
    assert generate.cell("a | b\n  c") == "a \\| b c"


# --- the JSON Schema ------------------------------------------------------------------------


@pytest.mark.parametrize("path", BUILTIN_FILES, ids=[p.stem for p in BUILTIN_FILES])
def test_builtin_definitions_fit_the_schema(
    path: Path, validator: jsonschema.protocols.Validator
) -> None:
    errors = [e.message for e in validator.iter_errors(_data(path))]
    assert errors == []


def test_schema_rejects_an_unknown_key(validator: jsonschema.protocols.Validator) -> None:
    data = _data(DEFINITIONS / "good.yaml")
    assert list(validator.iter_errors(data)) == []
    data["colour"] = "red"
    (error,) = validator.iter_errors(data)
    assert error.validator == "additionalProperties"
    assert "'colour'" in error.message


def test_schema_rejects_an_unknown_key_in_an_item(
    validator: jsonschema.protocols.Validator,
) -> None:
    data = _data(DEFINITIONS / "good.yaml")
    data["items"][0]["lable"] = "typo"
    assert not validator.is_valid(data)


@pytest.mark.parametrize("path", BUILTIN_FILES, ids=[p.stem for p in BUILTIN_FILES])
def test_builtin_first_line_points_at_the_schema(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first == SCHEMA_COMMENT
    target = path.parent / first.split("$schema=", 1)[1]
    assert target.resolve() == SCHEMA_PATH.resolve()
