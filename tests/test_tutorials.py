"""The tutorials run as written: the app developer's examples are doctests, the instrument
author's files are written and their commands run with their output compared, and the
researcher's notebook is executed."""

from __future__ import annotations

import doctest
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from screening import loading, scoring
from screening.results import ScoreResult
from screening.yamlsafe import parse_yaml

from .conftest import ROOT

TUTORIALS = ROOT / "docs" / "tutorials"
FENCE = re.compile(r"^```(?P<lang>[\w-]*)(?P<attrs>.*)$")
TITLE = re.compile(r'title="(?P<title>[^"]+)"')
DIRECTIVE = re.compile(r"^<!-- tutorial: (?P<what>.+) -->$")
REPLACE = re.compile(r'^in (?P<file>\S+) replace "(?P<old>.*)" with "(?P<new>.*)"$')
WRITE = re.compile(r"^write (?P<file>\S+)$")


class Block(NamedTuple):
    """A fenced block (`lang`, `title`, `body`), or a directive (`lang` "directive")."""

    lang: str
    title: str | None
    body: str
    line: int


def blocks(page: Path) -> list[Block]:
    """The fenced blocks and the `<!-- tutorial: ... -->` directives of a page, in order."""
    out: list[Block] = []
    lines = page.read_text(encoding="utf-8").splitlines()
    n = 0
    while n < len(lines):
        opened = FENCE.match(lines[n])
        directive = DIRECTIVE.match(lines[n])
        if directive:
            out.append(Block("directive", None, directive["what"], n + 1))
        elif opened and opened["lang"]:
            end = lines.index("```", n + 1)
            title = TITLE.search(opened["attrs"])
            body = "\n".join(lines[n + 1 : end]) + "\n"
            out.append(Block(opened["lang"], title["title"] if title else None, body, n + 1))
            n = end
        n += 1
    return out


def run_doctest(source: str, name: str) -> None:
    parser = doctest.DocTestParser()
    test = parser.get_doctest(source, {}, name, name, 0)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    runner = doctest.DocTestRunner(optionflags=flags)
    output: list[str] = []
    runner.run(test, out=output.append)
    assert runner.failures == 0, "".join(output)
    assert runner.tries > 0


def matches(expected: str, actual: str) -> bool:
    """Line by line; `...` in an expected line stands for any text."""
    want, got = expected.rstrip("\n").splitlines(), actual.rstrip("\n").splitlines()
    if len(want) != len(got):
        return False
    for line, real in zip(want, got, strict=True):
        pattern = ".*".join(re.escape(part) for part in line.split("..."))
        if re.fullmatch(pattern, real) is None:
            return False
    return True


def run_console(body: str, cwd: Path) -> None:
    """Each `$ screening ...` command of a console block, its output (standard output, then
    standard error) compared with the lines that follow it."""
    commands: list[tuple[str, list[str]]] = []
    for line in body.splitlines():
        if line.startswith("$ "):
            commands.append((line[2:], []))
        else:
            commands[-1][1].append(line)
    for command, expected in commands:
        words = shlex.split(command)
        env = dict(os.environ)
        while "=" in words[0]:
            name, _, value = words.pop(0).partition("=")
            env[name] = value
        assert words[0] == "screening", f"only screening commands run here: {command}"
        done = subprocess.run(
            [sys.executable, "-m", "screening.cli", *words[1:]],
            capture_output=True,
            text=True,
            cwd=cwd,
            env=env,
            check=False,
            timeout=120,
        )
        want = "\n".join(expected)
        assert matches(want, done.stdout + done.stderr), (
            f"$ {command}\nexpected:\n{want}\ngot:\n{done.stdout}{done.stderr}"
        )
        failing = any(": error: " in line for line in expected)
        assert done.returncode == (1 if failing else 0), done.stderr


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    """A tutorial registers folders: nothing of it outlives the test."""
    monkeypatch.setattr(loading, "_FOLDERS", [])
    monkeypatch.setattr(loading, "_INDEX", [])
    monkeypatch.setattr(scoring, "_PLANS", {})
    monkeypatch.delenv(loading.SEARCH_PATH_ENV, raising=False)


# --- app developers -------------------------------------------------------------------------


def test_the_app_developer_tutorial_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # it reads examples/
    found = [b for b in blocks(TUTORIALS / "app.md") if b.lang == "pycon"]
    assert len(found) >= 8
    run_doctest("\n".join(b.body for b in found), "app.md")


# --- instrument authors ---------------------------------------------------------------------


def test_the_instrument_author_tutorial_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated: None
) -> None:
    monkeypatch.chdir(tmp_path)
    written: dict[str, str] = {}
    ran = {"console": 0, "pycon": 0, "directive": 0}
    for block in blocks(TUTORIALS / "author.md"):
        if block.title is not None:
            path = tmp_path / block.title
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(block.body, encoding="utf-8")
            written[block.title] = block.body
        elif block.lang == "directive":
            ran["directive"] += 1
            replace, write = REPLACE.match(block.body), WRITE.match(block.body)
            if replace:
                path = tmp_path / replace["file"]
                text = path.read_text(encoding="utf-8")
                assert text.count(replace["old"]) == 1, f"line {block.line}: {replace['old']!r}"
                path.write_text(text.replace(replace["old"], replace["new"]), encoding="utf-8")
            else:
                assert write, f"line {block.line}: unknown directive {block.body!r}"
                (tmp_path / write["file"]).write_text(written[write["file"]], encoding="utf-8")
        elif block.lang == "console":
            ran["console"] += 1
            run_console(block.body, tmp_path)
        elif block.lang == "pycon":
            ran["pycon"] += 1
            run_doctest(block.body, f"author.md:{block.line}")
    assert ran == {"console": 4, "pycon": 1, "directive": 5}
    _check_pre_commit_config(tmp_path, written[".pre-commit-config.yaml"])


def _check_pre_commit_config(folder: Path, text: str) -> None:
    """The tutorial's pre-commit configuration names this repository's hook at this release,
    and the hook's entry passes on the files it selects."""
    import screening

    config = parse_yaml(text.encode())
    assert config.issues == []
    (repo,) = config.data["repos"]
    assert repo["rev"] == f"v{screening.__version__}"
    (hook,) = repo["hooks"]
    provided = parse_yaml((ROOT / ".pre-commit-hooks.yaml").read_bytes()).data
    (offered,) = [h for h in provided if h["id"] == hook["id"]]
    selected = [
        p.relative_to(folder).as_posix()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
        and re.search(hook["files"], p.relative_to(folder).as_posix())
        and re.search(offered["files"], p.relative_to(folder).as_posix())
    ]
    assert selected == ["my-instruments/mood_check.yaml"]
    entry = shlex.split(offered["entry"])
    assert entry[0] == "screening"
    done = subprocess.run(
        [sys.executable, "-m", "screening.cli", *entry[1:], *selected],
        capture_output=True,
        text=True,
        cwd=folder,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_directives_are_invisible_in_the_rendered_page() -> None:
    text = (TUTORIALS / "author.md").read_text(encoding="utf-8")
    for line in text.splitlines():
        if "tutorial:" in line and line.startswith("<!--"):
            assert DIRECTIVE.match(line), line


# --- researchers ----------------------------------------------------------------------------


def _execute(notebook: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")  # jupyter_core's future default, no warning
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.read(notebook, as_version=4)  # type: ignore[no-untyped-call]  # no hints
    client = NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(notebook.parent)}},
    )
    client.execute()
    return nb


@pytest.mark.slow
def test_the_researcher_notebook_runs_and_shows_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    nb = _execute(TUTORIALS / "researcher.ipynb", monkeypatch)
    cells = [c for c in nb.cells if c.cell_type == "code"]
    kinds = [{k for o in c.outputs for k in o.get("data", {})} for c in cells]
    errors = [o for c in cells for o in c.outputs if o.output_type == "error"]
    assert errors == []
    tables = sum("text/html" in k for k in kinds)
    assert tables >= 7, "DataFrames show as tables"
    assert any("image/png" in k for k in kinds), "the trajectory is drawn"
    shown = next(c for c in cells if c.source.rstrip().endswith("\nresult"))
    (out,) = [o for o in shown.outputs if o.output_type == "execute_result"]
    if hasattr(ScoreResult, "_repr_html_"):
        assert "text/html" in out["data"], "a ScoreResult shows as a table"
        assert "flags undetermined" in out["data"]["text/html"]
    text = "\n".join(str(o.get("data", {}).get("text/plain", "")) for c in cells for o in c.outputs)
    assert "item 'gad7_3' must be one of 0, 1, 2, 3 (got 4)" in text
    assert "29/01/2024" in text


def test_the_notebook_is_stored_without_outputs() -> None:
    import nbformat

    nb = nbformat.read(TUTORIALS / "researcher.ipynb", as_version=4)  # type: ignore[no-untyped-call]  # no hints
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], "clear the outputs: CI and the docs build execute it"
            assert cell.execution_count is None


# --- release conventions --------------------------------------------------------------------


def test_the_release_is_named_alike_everywhere() -> None:
    import tomllib

    import screening

    version = screening.__version__
    citation = parse_yaml((ROOT / "CITATION.cff").read_bytes())
    assert citation.issues == []
    assert citation.data["version"] == version
    assert citation.data["cff-version"] == "1.2.0"
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    sections = [line for line in changelog.splitlines() if line.startswith("## ")]
    released = [line for line in sections if line != "## Unreleased"]
    assert released[0] == f"## {version}", "the latest release section is this version"
    assert sections[: sections.index(released[0])] in ([], ["## Unreleased"])
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    repository = citation.data["repository-code"]
    assert project["urls"]["Repository"] == repository
    assert all(url.startswith(repository) for url in project["urls"].values())
    site = parse_yaml((ROOT / "mkdocs.yml").read_bytes()).data
    assert site["repo_url"] == repository
    assert f"rev: v{version}" in (TUTORIALS / "author.md").read_text(encoding="utf-8")


def test_the_docs_extra_can_build_the_site() -> None:
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "optional-dependencies"
    ]
    names = {re.split(r"[<>=\[ ]", req)[0] for req in extras["docs"]}
    site = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert {"mkdocs", "mkdocs-material", "mkdocstrings", "mkdocs-jupyter"} <= names
    assert "- mkdocs-jupyter:" in site
    assert "- mkdocstrings:" in site
    dev = {re.split(r"[<>=\[ ]", req)[0] for req in extras["dev"]}
    assert names <= dev, "the dev extra builds the site too"
