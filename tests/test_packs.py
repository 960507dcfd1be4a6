"""Instrument packs: folders of definitions (`register_folder`, `SCREENING_PATH`) and installed
packages (`screening.instruments` entry point) addressable by id; every id comes from one place,
and two places defining one id is an error naming both."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest

import screening
from screening import loading, scoring
from screening.cli import main

from .conftest import DEFINITIONS, ROOT

ANSWERS = {"1": 0, "2": 1, "3": 2}  # total 3, band high, the risk flag raised


def definition(instrument_id: str) -> str:
    """The small valid definition of the test suite, under another id."""
    text = (DEFINITIONS / "good.yaml").read_text(encoding="utf-8")
    return text.replace("id: good", f"id: {instrument_id}").replace("good_", f"{instrument_id}_")


def write_pack(folder: Path, *ids: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for instrument_id in ids:
        (folder / f"{instrument_id}.yaml").write_text(definition(instrument_id), encoding="utf-8")
    return folder


def answers(instrument_id: str) -> dict[str, int]:
    return {f"{instrument_id}_{n}": v for n, v in ANSWERS.items()}


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    """No folder registered, no SCREENING_PATH, fresh caches: nothing leaks between tests."""
    monkeypatch.setattr(loading, "_FOLDERS", [])
    monkeypatch.setattr(loading, "_INDEX", [])
    monkeypatch.setattr(scoring, "_PLANS", {})
    monkeypatch.delenv(loading.SEARCH_PATH_ENV, raising=False)


class Done(NamedTuple):
    returncode: int
    stdout: str
    stderr: str


def run_cli(*args: str, env: dict[str, str], cwd: Path) -> Done:
    """The command line through its real entry point, in a subprocess."""
    done = subprocess.run(
        [sys.executable, "-m", "screening.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        check=False,
        timeout=120,
    )
    return Done(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Done]:
    """The command line in this process (`main(argv)`)."""

    def call(*args: str) -> Done:
        capsys.readouterr()
        code = main(list(args))
        out = capsys.readouterr()
        return Done(code, out.out, out.err)

    return call


# --- register_folder ------------------------------------------------------------------------


def test_a_registered_folder_is_scored_by_id(tmp_path: Path) -> None:
    folder = write_pack(tmp_path / "pack", "demo_one", "demo_two")
    (folder / "README.md").write_text("not a definition\n", encoding="utf-8")
    (folder / "my-wording.yaml").write_text("instrument: demo_one\n", encoding="utf-8")

    assert screening.register_folder(folder) == ["demo_one", "demo_two"]
    result = screening.score("demo_one", answers("demo_one"))
    assert (result.scales["total"].score, result.scales["total"].band) == (3, "high")
    assert result.flag_ids == ["risk"]
    assert result.provenance.instrument == "demo_one"

    ids = screening.list_instruments()
    assert {"demo_one", "demo_two", "phq9"} <= set(ids)
    assert ids == sorted(ids)
    assert "my-wording" not in ids  # a file not named like an id is no definition by id
    sources = {s.id: s for s in screening.instrument_sources()}
    assert sources["demo_one"].kind == "folder"
    assert sources["demo_one"].path == (folder / "demo_one.yaml").resolve()
    assert str(folder.resolve()) in sources["demo_one"].describe()
    assert sources["phq9"].kind == "built-in"
    assert sources["phq9"].describe() == "built-in"

    assert screening.register_folder(folder) == ["demo_one", "demo_two"]  # again: no change
    assert screening.load_instrument("demo_two").id == "demo_two"


def test_a_pack_definition_edited_in_place_is_scored_as_edited(tmp_path: Path) -> None:
    """Pack files may change while a notebook runs; only the built-ins are kept by id."""
    folder = write_pack(tmp_path / "pack", "demo_edit")
    screening.register_folder(folder)
    assert screening.score("demo_edit", answers("demo_edit")).scales["total"].band == "high"
    path = folder / "demo_edit.yaml"
    edited = path.read_text(encoding="utf-8").replace("label: high", "label: raised")
    path.write_text(edited.replace("band: high", "band: raised"), encoding="utf-8")
    os.utime(path, ns=(path.stat().st_mtime_ns + 10**9,) * 2)  # a coarse clock sees a change
    assert screening.score("demo_edit", answers("demo_edit")).scales["total"].band == "raised"
    assert "demo_edit" not in scoring._PLANS
    screening.score("phq9", {f"phq9_{n}": 0 for n in range(1, 10)})
    assert "phq9" in scoring._PLANS


def test_without_packs_the_list_is_the_builtins() -> None:
    builtins = sorted(p.stem for p in (ROOT / "instruments").glob("*.yaml"))
    assert screening.list_instruments() == builtins
    assert {s.kind for s in screening.instrument_sources()} == {"built-in"}


def test_a_folder_that_redefines_a_builtin_is_refused_naming_both(tmp_path: Path) -> None:
    folder = tmp_path / "pack"
    folder.mkdir()
    (folder / "phq9.yaml").write_bytes((ROOT / "instruments" / "phq9.yaml").read_bytes())
    (folder / "demo_other.yaml").write_text(definition("demo_other"), encoding="utf-8")

    with pytest.raises(screening.InstrumentPackError) as caught:
        screening.register_folder(folder)
    message = str(caught.value)
    assert "instrument id 'phq9' is defined in 2 places" in message
    assert str((ROOT / "instruments" / "phq9.yaml").resolve()) in message
    assert str((folder / "phq9.yaml").resolve()) in message
    assert "built-in" in message
    # nothing of the folder was registered
    assert "demo_other" not in screening.list_instruments()
    assert screening.score("phq9", {f"phq9_{n}": 0 for n in range(1, 10)}).valid


def test_two_registered_folders_with_one_id_are_refused(tmp_path: Path) -> None:
    first = write_pack(tmp_path / "a", "demo_same")
    second = write_pack(tmp_path / "b", "demo_same")
    screening.register_folder(first)
    with pytest.raises(screening.InstrumentPackError, match="'demo_same' is defined in 2 places"):
        screening.register_folder(second)
    assert screening.load_instrument("demo_same").id == "demo_same"


def test_one_id_twice_in_a_folder_is_refused(tmp_path: Path) -> None:
    folder = write_pack(tmp_path / "pack", "demo_twice")
    (folder / "demo_twice.yml").write_text(definition("demo_twice"), encoding="utf-8")
    with pytest.raises(screening.InstrumentPackError, match=r"demo_twice.yaml and demo_twice.yml"):
        screening.register_folder(folder)


def test_register_folder_needs_a_folder(tmp_path: Path) -> None:
    with pytest.raises(NotADirectoryError, match="is not a folder"):
        screening.register_folder(tmp_path / "absent")
    file = tmp_path / "demo.yaml"
    file.write_text(definition("demo"), encoding="utf-8")
    with pytest.raises(NotADirectoryError):
        screening.register_folder(file)


def test_a_pack_file_must_be_named_after_its_id(tmp_path: Path) -> None:
    folder = tmp_path / "pack"
    folder.mkdir()
    (folder / "demo_file.yaml").write_text(definition("demo_inside"), encoding="utf-8")
    screening.register_folder(folder)
    with pytest.raises(screening.InstrumentPackError, match="defines 'demo_inside'"):
        screening.load_instrument("demo_file")


def test_a_pack_definition_with_problems_reports_them_at_its_file(tmp_path: Path) -> None:
    folder = tmp_path / "pack"
    folder.mkdir()
    broken = definition("demo_broken").replace("label: low", "label: low, colour: red")
    (folder / "demo_broken.yaml").write_text(broken, encoding="utf-8")
    screening.register_folder(folder)  # read when first used
    with pytest.raises(screening.DefinitionError) as caught:
        screening.load_instrument("demo_broken")
    assert str(folder / "demo_broken.yaml") in str(caught.value)
    assert "unknown_key" in str(caught.value)


def test_an_unknown_id_names_the_packs_and_a_missing_search_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    screening.register_folder(write_pack(tmp_path / "pack", "demo_known"))
    monkeypatch.setenv(loading.SEARCH_PATH_ENV, str(tmp_path / "typo"))
    with pytest.raises(screening.UnknownInstrumentError) as caught:
        screening.load_instrument("demo_unknown")
    message = str(caught.value)
    assert "no built-in instrument 'demo_unknown' (built-ins: asq, asrs, audit" in message
    assert "nor one of an instrument pack (packs: demo_known)" in message
    assert f"SCREENING_PATH folder {tmp_path / 'typo'} does not exist" in message
    assert "register_folder" in message


# --- SCREENING_PATH -------------------------------------------------------------------------


def test_search_path_folders_are_scored_by_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = write_pack(tmp_path / "a", "demo_a")
    b = write_pack(tmp_path / "b", "demo_b")
    monkeypatch.setenv(loading.SEARCH_PATH_ENV, os.pathsep.join([str(a), "", str(b)]))
    assert screening.score("demo_b", answers("demo_b")).scales["total"].score == 3
    sources = {s.id: s for s in screening.instrument_sources()}
    assert sources["demo_a"].kind == sources["demo_b"].kind == "search path"
    assert "SCREENING_PATH" in sources["demo_a"].origin


def test_a_clash_in_the_search_path_is_an_error_when_the_id_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = write_pack(tmp_path / "a", "demo_clash", "demo_fine")
    b = write_pack(tmp_path / "b", "demo_clash")
    monkeypatch.setenv(loading.SEARCH_PATH_ENV, os.pathsep.join([str(a), str(b)]))
    with pytest.raises(screening.InstrumentPackError) as caught:
        screening.score("demo_clash", answers("demo_clash"))
    message = str(caught.value)
    assert str((a / "demo_clash.yaml").resolve()) in message
    assert str((b / "demo_clash.yaml").resolve()) in message
    with pytest.raises(screening.InstrumentPackError):
        screening.list_instruments()  # where each comes from cannot be said
    assert screening.score("demo_fine", answers("demo_fine")).valid  # other ids still work


def test_one_folder_reached_two_ways_is_one_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = write_pack(tmp_path / "pack", "demo_once")
    monkeypatch.setenv(loading.SEARCH_PATH_ENV, str(folder))
    assert screening.register_folder(tmp_path / "pack" / ".." / "pack") == ["demo_once"]
    assert screening.load_instrument("demo_once").id == "demo_once"


def test_the_cli_lists_shows_and_scores_a_search_path_pack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Callable[..., Done]
) -> None:
    folder = write_pack(tmp_path / "pack", "demo_cli")
    response = tmp_path / "response.json"
    response.write_text(json.dumps(answers("demo_cli")), encoding="utf-8")
    monkeypatch.setenv(loading.SEARCH_PATH_ENV, str(folder))

    listed = cli("list", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    (entry,) = [e for e in json.loads(listed.stdout) if e["id"] == "demo_cli"]
    assert entry["source"]["kind"] == "search path"
    assert entry["source"]["path"] == str((folder / "demo_cli.yaml").resolve())

    shown = cli("show", "demo_cli")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[1] == f"from: search path {folder} (SCREENING_PATH)"

    scored = cli("score", "demo_cli", str(response))
    assert scored.returncode == 0, scored.stderr
    assert json.loads(scored.stdout)["scales"]["total"]["score"] == 3


def test_the_cli_names_both_places_of_a_clash(tmp_path: Path) -> None:
    folder = tmp_path / "pack"
    folder.mkdir()
    (folder / "gad7.yaml").write_bytes((ROOT / "instruments" / "gad7.yaml").read_bytes())
    env = {**os.environ, loading.SEARCH_PATH_ENV: str(folder)}
    done = run_cli("list", env=env, cwd=tmp_path)  # through the real entry point
    assert done.returncode == 2
    assert done.stderr.startswith("screening: error: instrument id 'gad7' is defined in 2 places")
    assert str((folder / "gad7.yaml").resolve()) in done.stderr


# --- entry points ---------------------------------------------------------------------------


def make_distribution(
    site: Path, package: str, ids: list[str], *, value: str | None = None
) -> None:
    """An installed distribution as pip leaves one: the package with its definitions, and a
    dist-info folder whose entry point offers them."""
    write_pack(site / package, *ids)
    (site / package / "__init__.py").write_text('"""Definitions."""\n', encoding="utf-8")
    info = site / f"{package}-1.2.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {package}\nVersion: 1.2\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        f"[screening.instruments]\n{package} = {value or package}\n", encoding="utf-8"
    )


def test_an_installed_package_offers_its_definitions_by_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    make_distribution(site, "demo_licensed_pack", ["demo_licensed"])
    monkeypatch.syspath_prepend(str(site))

    result = screening.score("demo_licensed", answers("demo_licensed"))
    assert result.scales["total"].band == "high"
    (source,) = [s for s in screening.instrument_sources() if s.id == "demo_licensed"]
    assert source.kind == "entry point"
    assert source.origin == "'demo_licensed_pack' = demo_licensed_pack of demo_licensed_pack 1.2"
    assert source.path == (site / "demo_licensed_pack" / "demo_licensed.yaml").resolve()


def test_an_entry_point_may_name_a_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    make_distribution(site, "demo_path_pack", [], value="demo_path_pack:FOLDER")
    write_pack(site / "demo_path_pack" / "definitions", "demo_by_path")
    (site / "demo_path_pack" / "__init__.py").write_text(
        "from pathlib import Path\nFOLDER = Path(__file__).parent / 'definitions'\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(site))
    assert screening.load_instrument("demo_by_path").id == "demo_by_path"


def test_an_entry_point_that_clashes_with_a_builtin_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    make_distribution(site, "demo_shadow_pack", [])
    (site / "demo_shadow_pack" / "phq2.yaml").write_bytes(
        (ROOT / "instruments" / "phq2.yaml").read_bytes()
    )
    monkeypatch.syspath_prepend(str(site))
    with pytest.raises(screening.InstrumentPackError) as caught:
        screening.load_instrument("phq2")
    assert "entry point 'demo_shadow_pack'" in str(caught.value)
    assert "built-in" in str(caught.value)


def test_a_broken_entry_point_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    make_distribution(site, "demo_broken_pack", [], value="demo_missing_module")
    monkeypatch.syspath_prepend(str(site))
    with pytest.raises(
        screening.InstrumentPackError, match=r"'demo_broken_pack'.*cannot be loaded"
    ):
        screening.load_instrument("phq9")


PACK_PYPROJECT = """
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "demo-private-pack"
version = "0.1.0"

[project.entry-points."screening.instruments"]
demo_private = "demo_private_pack"

[tool.hatch.build.targets.wheel]
packages = ["demo_private_pack"]
"""

PROBE = """
import json, screening
result = screening.score("demo_private", {"demo_private_1": 0, "demo_private_2": 1,
                                          "demo_private_3": 2})
(source,) = [s for s in screening.instrument_sources() if s.id == "demo_private"]
print(json.dumps({"score": result.scales["total"].score, "flags": result.flag_ids,
                  "kind": source.kind, "origin": source.origin}))
"""


@pytest.mark.slow
def test_a_pack_built_and_installed_with_pip_is_scored_by_id(tmp_path: Path) -> None:
    project = tmp_path / "demo-private-pack"
    write_pack(project / "demo_private_pack", "demo_private")
    (project / "demo_private_pack" / "__init__.py").write_text('"""A pack."""\n', encoding="utf-8")
    (project / "pyproject.toml").write_text(textwrap.dedent(PACK_PYPROJECT), encoding="utf-8")
    dist = tmp_path / "dist"
    build = [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist)]
    built = subprocess.run(build, cwd=project, capture_output=True, text=True, check=False)
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = dist.glob("demo_private_pack-*.whl")
    target = tmp_path / "installed"
    install = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"]
    done = subprocess.run(
        [*install, "--target", str(target), str(wheel)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr

    env = {**os.environ, "PYTHONPATH": str(target)}
    probe = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, check=False
    )
    assert probe.returncode == 0, probe.stderr
    report = json.loads(probe.stdout)
    assert report["score"] == 3
    assert report["flags"] == ["risk"]
    assert report["kind"] == "entry point"
    assert report["origin"] == "'demo_private' = demo_private_pack of demo-private-pack 0.1.0"

    listed = run_cli("list", env=env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    (row,) = [line for line in listed.stdout.splitlines() if line.startswith("demo_private ")]
    assert row.split()[:3] == ["demo_private", "public-domain", "entry"]
