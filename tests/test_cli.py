"""The command line through its real entry points, in subprocesses."""

from __future__ import annotations

import csv
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import screening
from screening.yamlsafe import parse_yaml

from .conftest import DEFINITIONS, ROOT

GOOD = DEFINITIONS / "good.yaml"
SEVERAL = DEFINITIONS / "bad" / "several_problems.yaml"
GCC_LINE = re.compile(r"^(?P<file>.+):(?P<line>\d+):(?P<col>\d+): error: (?P<code>[a-z_]+): .+$")
BUILTINS = {
    "asq",
    "asrs",
    "audit",
    "audit_c",
    "brs",
    "bvc",
    "cage_aid",
    "core10",
    "crafft",
    "cssrs_screener",
    "dass21",
    "dast10",
    "epds",
    "gad2",
    "gad7",
    "gds15",
    "isi",
    "itq",
    "k10",
    "mdq",
    "oci_r",
    "pcl5",
    "pcptsd5",
    "phq15",
    "phq2",
    "phq4",
    "phq8",
    "phq9",
    "phqa",
    "promis_dep8a",
    "psc17",
    "pss10",
    "sbqr",
    "scared",
    "scoff",
    "swemwbs",
    "ucla3",
    "who5",
    "whooley",
    "wsas",
}
SCRIPT = Path(sys.executable).parent / "screening"


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "screening.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
        timeout=120,
    )


def score_json(*args: str, cwd: Path = ROOT) -> Any:
    done = run("score", *args, cwd=cwd)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


AUDIT_C_THREE = {"audit_c_1": 2, "audit_c_2": 1, "audit_c_3": 0}  # total 3


# --- score ----------------------------------------------------------------------------------


def test_score_the_bundled_example() -> None:
    result = score_json("phq9", "examples/phq9.json")
    assert result["instrument"] == "phq9"
    assert result["valid"] is True
    total = result["scales"]["total"]
    assert total["score"] == 15
    assert total["band"] == "moderately severe"
    assert total["prorated"] is False
    assert [f["id"] for f in result["flags"]] == ["suicidal_ideation"]
    assert result["flags"][0]["severity"] == "critical"
    assert result["flags"][0]["items"] == ["phq9_9"]
    assert result["provenance"]["definition_hash"].startswith("sha256:")


def test_score_a_list_gives_a_list(tmp_path: Path) -> None:
    zero = {f"phq9_{n}": 0 for n in range(1, 10)}
    high = {f"phq9_{n}": 3 for n in range(1, 10)}
    prorated = {**zero, "phq9_1": None, "phq9_2": 2, "phq9_3": 2}  # 4 x 9/8 = 4.5 -> 5
    results = score_json("phq9", str(write_json(tmp_path / "many.json", [zero, high, prorated])))
    assert isinstance(results, list)
    assert [r["scales"]["total"]["score"] for r in results] == [0, 27, 5]
    assert [r["scales"]["total"]["band"] for r in results] == ["minimal", "severe", "mild"]
    assert results[2]["scales"]["total"]["prorated"] is True
    assert results[2]["scales"]["total"]["unrounded"] == 4.5
    assert [[f["id"] for f in r["flags"]] for r in results] == [[], ["suicidal_ideation"], []]


def test_score_responses_with_context(tmp_path: Path) -> None:
    records = [
        {"responses": AUDIT_C_THREE, "context": {"sex": "female"}},
        {"responses": AUDIT_C_THREE, "context": {"sex": "male"}},
    ]
    results = score_json("audit_c", str(write_json(tmp_path / "ctx.json", records)))
    assert [r["scales"]["total"]["score"] for r in results] == [3, 3]
    assert [r["classifications"]["screen"] for r in results] == ["positive", "negative"]
    assert all(r["valid"] for r in results)
    single = score_json("audit_c", str(write_json(tmp_path / "one.json", records[0])))
    assert single["classifications"] == {"screen": "positive"}


def test_score_context_option(tmp_path: Path) -> None:
    path = str(write_json(tmp_path / "audit_c.json", AUDIT_C_THREE))
    female = score_json("audit_c", path, "--context", "sex=female")
    assert female["classifications"]["screen"] == "positive"
    male = score_json("audit_c", path, "--context", "sex=male")
    assert male["classifications"]["screen"] == "negative"
    absent = score_json("audit_c", path)
    assert absent["valid"] is False
    assert [i["code"] for i in absent["issues"]] == ["context_missing"]


def test_an_nhanes_file_is_read_in_its_coding(tmp_path: Path) -> None:
    """The command line reads a table in a coding as `score` does (golden values of phq9.yaml)."""
    rows = ["SEQN," + ",".join(f"phq9_{n}" for n in range(1, 11))]
    rows += ["1,7,2,2,2,2,2,2,2,2,1", "2,9,9,1,1,1,1,1,1,1,9", "3,8,0,0,0,0,0,0,0,0,"]
    source = tmp_path / "dpq.csv"
    source.write_text("\n".join(rows) + "\n", encoding="utf-8")
    target = tmp_path / "scored.csv"
    done = run("score", "phq9", str(source), "--context", "coding=nhanes", "-o", str(target))
    assert done.returncode == 0, done.stderr
    with target.open(encoding="utf-8", newline="") as stream:
        out = list(csv.DictReader(stream))
    assert [r["total"] for r in out] == ["18", "9", ""]
    assert [r["non_answers"] for r in out] == [
        "phq9_1: declined",
        "phq9_1: dont_know; phq9_2: dont_know; phq9_10: dont_know",
        "",
    ]
    assert out[2]["reason"] == "item 'phq9_1' must be one of 0, 1, 2, 3, 7, 9 (got 8)"


def test_score_context_option_must_be_name_value(tmp_path: Path) -> None:
    path = str(write_json(tmp_path / "audit_c.json", AUDIT_C_THREE))
    done = run("score", "audit_c", path, "--context", "female")
    assert done.returncode == 2
    assert "--context takes NAME=VALUE" in done.stderr


def test_score_context_of_any_name_is_an_issue_not_a_crash(tmp_path: Path) -> None:
    path = str(write_json(tmp_path / "audit_c.json", AUDIT_C_THREE))
    for name in ("instrument", "on_error", "responses"):
        result = score_json("audit_c", path, "--context", "sex=female", "--context", f"{name}=x")
        assert [i["code"] for i in result["issues"]] == ["unknown_context"]
        assert result["valid"] is False


def test_score_context_must_be_an_object(tmp_path: Path) -> None:
    path = write_json(tmp_path / "bad.json", {"responses": AUDIT_C_THREE, "context": 5})
    done = run("score", "audit_c", str(path))
    assert done.returncode == 2
    assert "context must be a JSON object (got int)" in done.stderr


def test_fail_on_invalid(tmp_path: Path) -> None:
    bad = {f"phq9_{n}": 1 for n in range(1, 10)} | {"phq9_3": 5}
    path = str(write_json(tmp_path / "bad.json", bad))
    lenient = run("score", "phq9", path)
    assert lenient.returncode == 0
    result = json.loads(lenient.stdout)
    assert result["valid"] is False
    assert [(i["code"], i["item"]) for i in result["issues"]] == [("invalid_value", "phq9_3")]
    assert [f["id"] for f in result["flags"]] == ["suicidal_ideation"]  # never lost
    strict = run("score", "phq9", path, "--fail-on-invalid")
    assert strict.returncode == 1
    assert json.loads(strict.stdout)["valid"] is False
    good = run("score", "phq9", "examples/phq9.json", "--fail-on-invalid")
    assert good.returncode == 0


def test_score_unknown_instrument_and_missing_input() -> None:
    unknown = run("score", "phq10", "examples/phq9.json")
    assert unknown.returncode == 2
    assert "no built-in instrument 'phq10'" in unknown.stderr
    missing = run("score", "phq9", "no-such-file.json")
    assert missing.returncode == 2
    assert missing.stderr.startswith("screening: error:")


# --- validate -------------------------------------------------------------------------------


def test_validate_builtins_and_good_definition() -> None:
    builtins = run("validate", "instruments/")
    assert builtins.returncode == 0, builtins.stdout + builtins.stderr
    assert f"{len(BUILTINS)} file(s) checked, 0 error(s)" in builtins.stderr
    good = run("validate", str(GOOD))
    assert good.returncode == 0
    assert good.stdout == ""
    assert "1 file(s) checked, 0 error(s), 0 warning(s): valid" in good.stderr


def test_validate_reports_every_problem_gcc_style() -> None:
    done = run("validate", str(SEVERAL))
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    matches = [GCC_LINE.match(line) for line in lines]
    assert all(matches), lines
    found = {(m["code"], int(m["line"])) for m in matches if m}
    assert found == {
        ("unknown_option_set", 15),
        ("unknown_key", 15),
        ("unknown_item", 20),
        ("bands_not_contiguous", 24),
    }
    assert {m["file"] for m in matches if m} == {str(SEVERAL)}
    assert f"{SEVERAL}:20:29: error: unknown_item: " in done.stdout
    assert "4 error(s)" in done.stderr
    assert done.stderr.rstrip().endswith("invalid")


def test_validate_json() -> None:
    done = run("validate", "--format", "json", str(SEVERAL), str(GOOD))
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["files"] == [str(SEVERAL), str(GOOD)]
    issues = report["issues"]
    assert sorted(i["code"] for i in issues) == [
        "bands_not_contiguous",
        "unknown_item",
        "unknown_key",
        "unknown_option_set",
    ]
    assert all(i["file"] == str(SEVERAL) and i["severity"] == "error" for i in issues)
    (unknown_item,) = [i for i in issues if i["code"] == "unknown_item"]
    assert (unknown_item["line"], unknown_item["col"]) == (20, 29)
    assert unknown_item["path"] == "scales.total.items[2]"


def test_validate_github() -> None:
    done = run("validate", "--format", "github", str(SEVERAL))
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert len(lines) == 4
    assert all(line.startswith(f"::error file={SEVERAL},line=") for line in lines)
    assert f"::error file={SEVERAL},line=20,col=29,title=unknown_item::scale 'total'" in (
        done.stdout
    )


def _with_unused_source(tmp_path: Path) -> Path:
    text = GOOD.read_text(encoding="utf-8").replace(
        "sources:\n", "sources:\n  unused: Nobody N. A paper no rule cites. 2020.\n", 1
    )
    path = tmp_path / "good.yaml"  # the id is 'good': no id_filename warning
    path.write_text(text, encoding="utf-8")
    return path


def test_validate_strict_fails_on_a_warning(tmp_path: Path) -> None:
    path = _with_unused_source(tmp_path)
    lenient = run("validate", str(path))
    assert lenient.returncode == 0
    assert lenient.stdout.startswith(f"{path}:")
    assert ": warning: unused_source: source 'unused' is cited by no rule" in lenient.stdout
    assert "0 error(s), 1 warning(s): valid" in lenient.stderr
    strict = run("validate", "--strict", str(path))
    assert strict.returncode == 1
    assert "0 error(s), 1 warning(s): invalid" in strict.stderr


def test_validate_usage_and_io_errors(tmp_path: Path) -> None:
    missing = run("validate", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2
    assert "no such file" in missing.stderr
    assert missing.stdout == ""
    bad_option = run("validate", "--format", "xml", str(GOOD))
    assert bad_option.returncode == 2
    assert "invalid choice: 'xml'" in bad_option.stderr
    unknown_flag = run("validate", "--no-such-option", str(GOOD))
    assert unknown_flag.returncode == 2
    no_command = run()
    assert no_command.returncode == 2
    empty = tmp_path / "definitions"  # a mistyped or emptied folder is no "valid" CI run
    empty.mkdir()
    (empty / "README.md").write_text("nothing to check")
    nothing = run("validate", str(empty))
    assert nothing.returncode == 2
    assert f"no definition file (.yaml or .yml) in {empty}" in nothing.stderr


# --- list, show, schema ---------------------------------------------------------------------


def test_list_shows_every_builtin() -> None:
    done = run("list")
    assert done.returncode == 0
    header, *lines = done.stdout.splitlines()
    assert header.split() == ["id", "licence", "source", "name"]
    rows = {line.split()[0]: line.split(maxsplit=3) for line in lines}
    assert set(rows) >= BUILTINS
    assert set(rows) == {p.stem for p in (ROOT / "instruments").glob("*.yaml")}
    assert rows["phq9"] == ["phq9", "permissive", "built-in", "Patient Health Questionnaire-9"]
    assert rows["epds"][1:3] == ["permission-required", "built-in"]


def test_show_epds_mentions_reverse_scoring_and_licence() -> None:
    done = run("show", "epds")
    assert done.returncode == 0
    out = done.stdout
    assert out.startswith("Edinburgh Postnatal Depression Scale (epds, definition ")
    assert "licence: permission-required, The Royal College of Psychiatrists" in out
    assert "  epds_3: self-blame (reverse-scored)" in out
    assert "  epds_1: anhedonia (humour) [" in out  # not reversed
    assert out.count("(reverse-scored)") == 7  # items 3 and 5-10
    assert "  13-30: probable depression" in out
    assert "flag self_harm_thoughts (critical)" in out
    assert out.rstrip().endswith("A screening score is not a diagnosis.")


def test_schema_matches_the_committed_file() -> None:
    done = run("schema")
    assert done.returncode == 0
    assert done.stdout == (ROOT / "docs" / "instrument.schema.json").read_text(encoding="utf-8")
    schema = json.loads(done.stdout)
    assert schema["title"] == "screening instrument definition"
    assert schema["additionalProperties"] is False


def test_version() -> None:
    done = run("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"screening {screening.__version__}"


# --- the pre-commit hook --------------------------------------------------------------------


def _hook() -> dict[str, Any]:
    parsed = parse_yaml((ROOT / ".pre-commit-hooks.yaml").read_bytes())
    assert parsed.issues == []
    (hook,) = parsed.data
    assert isinstance(hook, dict)
    return hook


def test_pre_commit_hook_definition() -> None:
    hook = _hook()
    assert hook["id"] == "screening-validate"
    assert hook["entry"] == "screening validate"
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is True
    files = re.compile(hook["files"])
    assert files.search("instruments/phq9.yaml")
    assert files.search("my/definition.yml")
    assert not files.search("examples/phq9.json")
    assert not files.search("instruments/phq9.yaml.orig")


@pytest.mark.parametrize(("path", "code"), [(GOOD, 0), (SEVERAL, 1)], ids=["good", "bad"])
def test_pre_commit_hook_entry(path: Path, code: int) -> None:
    assert SCRIPT.is_file(), f"console script not found next to {sys.executable}"
    entry = shlex.split(_hook()["entry"])
    assert entry[0] == "screening"
    done = subprocess.run(
        [str(SCRIPT), *entry[1:], str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=120,
    )
    assert done.returncode == code, done.stdout + done.stderr
    if code:
        assert f"{path}:20:29: error: unknown_item:" in done.stdout
    else:
        assert done.stdout == ""


def test_export_fhir_questionnaire_and_redcap(tmp_path: Path) -> None:
    done = run("export", "phq9", "--format", "fhir-questionnaire")
    assert done.returncode == 0, done.stderr
    questionnaire = json.loads(done.stdout)
    assert questionnaire["resourceType"] == "Questionnaire"
    link_ids = [i["linkId"] for i in questionnaire["item"]]
    assert [i for i in link_ids if i.startswith("phq9_")][:2] == ["phq9_1", "phq9_2"]
    out = tmp_path / "epds.csv"
    assert run("export", "epds", "--format", "redcap", "-o", str(out)).returncode == 0
    rows = out.read_text().splitlines()
    assert rows[0].startswith("Variable / Field Name,")
    assert any(row.startswith("epds_10,") for row in rows)
    assert run("export", "phq9").returncode == 2  # --format is required
    definition = tmp_path / "mine.yaml"
    definition.write_bytes((ROOT / "instruments" / "phq9.yaml").read_bytes())
    refused = run("export", str(definition), "--format", "redcap", "-o", str(definition))
    assert refused.returncode == 2
    assert "is the definition file" in refused.stderr
    assert definition.read_bytes() == (ROOT / "instruments" / "phq9.yaml").read_bytes()
    # by id (an instrument pack's), and the scores of `screening score` too
    pack = tmp_path / "pack"
    pack.mkdir()
    mine = pack / "phq9_copy.yaml"
    mine.write_text(definition.read_text().replace("id: phq9\n", "id: phq9_copy\n", 1))
    env = {**os.environ, "SCREENING_PATH": str(pack)}
    export = [sys.executable, "-m", "screening.cli", "export", "phq9_copy", "--format", "redcap"]
    for argv in (
        [*export, "-o", str(pack / "." / "phq9_copy.yaml")],
        [
            sys.executable,
            "-m",
            "screening.cli",
            "score",
            str(definition),
            "x.json",
            "-o",
            str(definition),
        ],
    ):
        done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        assert done.returncode == 2, done.stderr
        assert "is the definition file of" in done.stderr
    assert definition.read_bytes() == (ROOT / "instruments" / "phq9.yaml").read_bytes()
    assert "id: phq9_copy" in mine.read_text()


def test_score_a_fhir_questionnaire_response() -> None:
    result = score_json("phq9", str(ROOT / "tests" / "fhir" / "phq9-loinc.json"))
    assert result["instrument"] == "phq9"
    assert isinstance(result["scales"]["total"]["score"], int)
    assert result["valid"] is True
