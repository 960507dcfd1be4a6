"""Issue codes as data: every code has a meaning, every definition code a marked bad file (or a
named exemption), and every definition message is its code's template filled from the issue's
context."""

from __future__ import annotations

import ast
import shutil
from collections.abc import Iterator
from pathlib import Path
from string import Formatter

import pytest
from pydantic import BaseModel

import screening
from screening import definition, loading
from screening.codes import MEANINGS, TEMPLATES, DefinitionCode, FhirCode, ResponseCode, RowCode
from screening.definition import FORMAT_KEYS, KEY_ARRIVED, Scale
from screening.errors import Issue
from screening.linting import lint_file
from screening.loading import check_text
from screening.yamlsafe import MAX_BYTES, MAX_NODES, parse_yaml

from .conftest import DEFINITIONS, ROOT
from .test_definitions import BAD, marked
from .test_docs import generate

KINDS = (DefinitionCode, ResponseCode, RowCode, FhirCode)
SOURCE = ROOT / "src" / "screening"

NO_MAPPING = "tests/test_codes.py::test_a_document_that_is_no_mapping_is_refused"

# Definition codes no marked bad file can show, each with the test that shows it instead.
EXEMPT: dict[DefinitionCode, str] = {
    # an empty file carries no marker; a file whose first line is its format_version is a mapping
    DefinitionCode.EMPTY: NO_MAPPING,
    DefinitionCode.NOT_A_MAPPING: NO_MAPPING,
    # not the content of a file
    DefinitionCode.IO_ERROR: (
        "tests/test_loader_limits.py::test_a_missing_file_is_an_io_error_with_a_position"
    ),
    DefinitionCode.NOT_A_FILE: (
        "tests/test_loader_limits.py::test_a_directory_named_like_a_definition_is_refused"
    ),
    # would need a fixture of 100 KB, or 10,000 nodes
    DefinitionCode.FILE_TOO_LARGE: (
        "tests/test_loader_limits.py::test_a_huge_file_is_refused_from_its_size_before_reading"
    ),
    DefinitionCode.YAML_NODES: (
        "tests/test_loader_limits.py::test_the_node_past_the_cap_is_refused_at_its_position"
    ),
    # problems of a wording overlay, which `screening validate` does not read
    DefinitionCode.OVERLAY_INSTRUMENT: "tests/test_overlay.py::test_wrong_instrument",
    DefinitionCode.OVERLAY_ITEMS: "tests/test_overlay.py::test_wording_must_be_text",
}


# --- every code is data -------------------------------------------------------------------------


def test_every_code_of_every_kind_has_a_meaning() -> None:
    codes = [code for kind in KINDS for code in kind]
    assert set(MEANINGS) == set(codes)
    # equal strings of different kinds (`invalid_value`) keep their own meanings
    assert len(MEANINGS) == len(codes)
    assert MEANINGS[DefinitionCode.INVALID_VALUE] != MEANINGS[ResponseCode.INVALID_VALUE]
    assert MEANINGS[ResponseCode.INVALID_VALUE] != MEANINGS[FhirCode.INVALID_VALUE]
    for code in codes:
        assert MEANINGS[code].strip(), code
        assert "\n" not in MEANINGS[code], code


def test_every_definition_code_has_a_template() -> None:
    assert set(DefinitionCode) <= set(TEMPLATES)
    assert TEMPLATES[DefinitionCode.UNKNOWN_ITEM] != TEMPLATES[ResponseCode.UNKNOWN_ITEM]


# --- every definition code has a marked bad file ------------------------------------------------


def _marked_codes() -> set[str]:
    return {code for path in BAD for code, _ in marked(path)}


def test_every_definition_code_has_a_marked_bad_file() -> None:
    found = _marked_codes()
    assert found <= set(DefinitionCode), "a bad file marks a code that is no definition code"
    missing = sorted(set(DefinitionCode) - found - set(EXEMPT))
    assert missing == [], "write a bad file under tests/definitions/bad/ marking each"
    stale = sorted(set(EXEMPT) & found)
    assert stale == [], "these have a marked bad file now: drop their exemptions"


@pytest.mark.parametrize("code", list(EXEMPT), ids=str)
def test_each_exemption_names_a_test_of_its_code(code: DefinitionCode) -> None:
    file, name = EXEMPT[code].split("::")
    text = (ROOT / file).read_text(encoding="utf-8")
    lines = text.splitlines()
    tests: dict[str, str] = {}
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef):  # its text, its decorators (parameters) included
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            tests[node.name] = "\n".join(lines[first - 1 : node.end_lineno])
    assert name in tests, f"{EXEMPT[code]} does not exist"
    assert f'"{code}"' in tests[name], f"{EXEMPT[code]} does not name {code}"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "empty"),
        ("# only a comment\n", "empty"),
        ("- a\n- b\n", "not_a_mapping"),
        ("just text\n", "not_a_mapping"),
    ],
)
def test_a_document_that_is_no_mapping_is_refused(text: str, code: str) -> None:
    _, issues = check_text(text, "x.yaml")
    assert [(i.code, i.file, i.line, i.col) for i in issues] == [(code, "x.yaml", 1, 1)]


# --- codes are emitted from the enums -----------------------------------------------------------

# The modules that report definition issues: there a code is always a `DefinitionCode` member.
DEFINITION_MODULES = ("cases", "checks", "linting", "loading", "yamlsafe")


def _literal_codes(path: Path) -> Iterator[tuple[int, str]]:
    """Each string written as the code of a call that makes an issue (`Issue(...)`,
    `make_issue(...)`, `self._issue(...)`, `_refused(...)`), with its line."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        if "issue" not in name.lower() and "refus" not in name.lower():
            continue
        args = [*node.args[:1], *(k.value for k in node.keywords if k.arg == "code")]
        for arg in args:
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                yield node.lineno, arg.value


def test_no_issue_is_made_with_a_code_outside_the_enums() -> None:
    known = {code.value for kind in KINDS for code in kind}
    unknown = [
        f"{path.name}:{line}: {code}"
        for path in sorted(SOURCE.glob("*.py"))
        for line, code in _literal_codes(path)
        if code not in known
    ]
    assert unknown == []
    written = [
        f"{name}.py:{line}: {code}"
        for name in DEFINITION_MODULES
        for line, code in _literal_codes(SOURCE / f"{name}.py")
    ]
    assert written == [], "use DefinitionCode, not a string"


def test_the_scan_finds_a_literal_code(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text('x = Issue("made_up", "m")\nself._issue("invalid_answer", "m", ())\n')
    assert list(_literal_codes(path)) == [(1, "made_up"), (2, "invalid_answer")]


# --- every message is its template over the issue's context -------------------------------------


def _fields(template: str) -> set[str]:
    names = (field for _, field, _, _ in Formatter().parse(template) if field is not None)
    return {name.split(".")[0].split("[")[0] for name in names}


def _bad_file_issues() -> list[Issue]:
    return [issue for path in BAD for issue in lint_file(path)]


def _other_issues(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Issue]:
    """Issues of the exempted codes, and of the forms of a code no bad file shows (a union's
    alternatives, an overlay's unknown key and item), made by the library's own paths."""
    good = (DEFINITIONS / "good.yaml").read_text(encoding="utf-8")
    out: list[Issue] = []
    for text in ("", "- a\n", good.replace("source: src\n    bands", "source: 5\n    bands")):
        out += check_text(text, "x.yaml")[1]
    out += lint_file(tmp_path / "nope.yaml")
    out += lint_file(tmp_path)
    out += parse_yaml(b"a: " + b"x" * MAX_BYTES, "x.yaml").issues
    out += parse_yaml("a: [" + ",".join(["1"] * MAX_NODES) + "]\n", "x.yaml").issues
    overlay = tmp_path / "overlay.yaml"
    for text in (
        "instrument: gad7\nitems:\n  phq9_1: 7\n  nope: x\nnotes: extra key\n",
        "instrument: phq9\nitems: [phq9_1]\n",
    ):
        overlay.write_text(text, encoding="utf-8")
        with pytest.raises(screening.DefinitionError) as caught:
            screening.load_instrument("phq9", overlay=overlay)
        out += caught.value.issues
    # as if format 1.1 had added `role` (see test_format_version.later_format)
    monkeypatch.setattr(definition, "FORMAT_VERSION", "1.1")
    monkeypatch.setattr(loading, "FORMAT_VERSION", "1.1")
    role: tuple[type[BaseModel], str] = (Scale, "role")
    monkeypatch.setitem(KEY_ARRIVED, role, "1.1")
    monkeypatch.setitem(FORMAT_KEYS, "1.1", {role[0]: (role[1],)})
    out += check_text(good.replace("  total:\n", "  total:\n    role: primary\n"), "x.yaml")[1]
    return out


def test_every_definition_message_is_its_template_over_its_context(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    issues = _bad_file_issues() + _other_issues(tmp_path, monkeypatch)
    for issue in issues:
        assert type(issue.code) is DefinitionCode, issue
        assert issue.ctx is not None, issue
        missing = _fields(TEMPLATES[issue.code]) - set(issue.ctx)
        assert not missing, f"{issue.code}: the context lacks {sorted(missing)}"
        assert issue.message == TEMPLATES[issue.code].format(**issue.ctx)
        assert issue.line is not None, issue
        assert issue.col is not None, issue
    # every template was filled at least once, and every form of a code
    assert {i.code for i in issues} == set(DefinitionCode)
    messages = [i.message for i in issues]
    assert "notes: unknown key 'notes'; an overlay has instrument and items" in messages
    assert "items must be a mapping of item ids to wording" in messages
    assert (
        "scales.total.source: Input should be a valid string; or Input should be a valid list "
        "(got 5)"
    ) in messages


def test_warnings_are_the_codes_documented_as_warnings() -> None:
    severity = {(i.code, i.severity) for i in _bad_file_issues()}
    for code, level in severity:
        assert MEANINGS[DefinitionCode(code)].startswith("*warning*") == (level == "warning")
    documented = {c for c in DefinitionCode if MEANINGS[c].startswith("*warning*")}
    assert documented == {c for c, level in severity if level == "warning"}


# --- the code table of docs/format.md -----------------------------------------------------------


def test_the_code_table_of_the_format_is_generated_from_the_meanings(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "instruments", tmp_path / "instruments")
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    prechecked = Path("src") / "screening" / "prechecked"
    shutil.copytree(ROOT / prechecked, tmp_path / prechecked)
    page = tmp_path / "docs" / "format.md"
    text = page.read_text(encoding="utf-8")
    for code in DefinitionCode:
        assert f"| `{code}` | {generate.cell(MEANINGS[code])} |" in text
    assert "Errors unless marked *warning*" in text  # the prose around it stays
    page.write_text(text.replace("| `band_order` |", "| `band_order` (edited) |"), "utf-8")
    assert generate.stale(tmp_path) == [page]
    generate.write(tmp_path)
    assert page.read_bytes() == (ROOT / "docs" / "format.md").read_bytes()
