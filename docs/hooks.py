"""MkDocs hooks for the documentation site (`mkdocs.yml`: `hooks: [docs/hooks.py]`).

Pages in `docs/` are written to read well on GitHub too, so the site needs three things:

- a link that leaves `docs/` (a definition in `instruments/`, the `.pre-commit-hooks.yaml`)
  points at the repository on the site, never at a missing page;
- a page that mirrors a file at the root (`<!-- mirror: CHANGELOG.md -->`) shows that file, its
  links made right from where the page is;
- tables made from the code at build time, so they cannot drift: every issue code with its
  meaning (`<!-- codes-table -->`) and the command line's help (`<!-- cli-help -->`).
"""

from __future__ import annotations

import io
import posixpath
import re
from collections.abc import Callable
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
BRANCH = "main"
LINK = re.compile(r"(?<!!)\]\((?P<target>[^)\s]+)\)")
MIRROR = re.compile(r"\A<!-- mirror: (?P<file>[^ ]+) -->\s*\Z")


def _repo(config: MkDocsConfig) -> str:
    url = config.repo_url
    if not url:
        raise ValueError("mkdocs.yml needs repo_url: links out of docs/ point there")
    return url.rstrip("/")


def _is_relative(target: str) -> bool:
    return not re.match(r"^([a-z][a-z0-9+.-]*:|#|/)", target)


def rewrite_links(markdown: str, source: Path, page_dir: Path, repo: str) -> str:
    """Relative links of `markdown`, written as from `source`, made right for a page in
    `page_dir`: a target inside docs/ relative to the page, any other to the repository."""

    def fix(match: re.Match[str]) -> str:
        target = match["target"]
        if not _is_relative(target):
            return match[0]
        path, hash_, anchor = target.partition("#")
        resolved = Path(posixpath.normpath((source.parent / path).as_posix())) if path else source
        try:
            inside = resolved.relative_to(DOCS)
        except ValueError:
            inside = None
        if inside is not None and resolved.exists():
            relative = posixpath.relpath(resolved.as_posix(), page_dir.as_posix())
            return f"]({relative}{hash_}{anchor})"
        if not resolved.exists():
            return match[0]  # left for MkDocs to report
        kind = "tree" if resolved.is_dir() else "blob"
        where = resolved.relative_to(ROOT).as_posix()
        return f"]({repo}/{kind}/{BRANCH}/{where}{hash_}{anchor})"

    return LINK.sub(fix, markdown)


def codes_table() -> str:
    """Every issue code by kind, with its meaning (`screening.codes`)."""
    from screening.codes import MEANINGS, DefinitionCode, FhirCode, ResponseCode, RowCode

    kinds: list[tuple[str, Any]] = [
        ("Definitions (`screening validate`, `DefinitionError`)", DefinitionCode),
        ("Responses (`ResponseError`, an invalid result's `issues`)", ResponseCode),
        ("Rows of a table (`issues_frame`, the file summary)", RowCode),
        ("FHIR QuestionnaireResponses (`screening.fhir`)", FhirCode),
    ]
    out: list[str] = []
    for title, enum in kinds:
        out += [f"## {title}", "", f"*{enum.__doc__}*", "", "| code | meaning |", "|---|---|"]
        for code in enum:
            meaning = " ".join(MEANINGS[code].split()).replace("|", "\\|")
            out.append(f"| `{code.value}` | {meaning} |")
        out.append("")
    return "\n".join(out)


def cli_help() -> str:
    """`screening --help` and the help of every command, as the parser prints them."""
    from screening.cli import build_parser

    parser = build_parser()
    sections = [("screening", parser)]
    for action in parser._actions:
        choices = getattr(action, "choices", None)
        if isinstance(choices, dict):
            sections += [(f"screening {name}", sub) for name, sub in choices.items()]
    out: list[str] = []
    for title, sub in sections:
        buffer = io.StringIO()
        with redirect_stdout(buffer):
            sub.print_help()
        out += [f"## `{title}`", "", "```text", buffer.getvalue().rstrip(), "```", ""]
    return "\n".join(out)


def instrument_nav() -> list[Any]:
    """The index of the instruments, then one page each by its abbreviation (or name)."""
    from screening.loading import load_instrument

    pages: list[Any] = ["instruments/README.md"]
    for page in sorted((DOCS / "instruments").glob("*.md")):
        if page.name != "README.md":
            inst = load_instrument(ROOT / "instruments" / f"{page.stem}.yaml")
            pages.append({inst.abbreviation or inst.name: f"instruments/{page.name}"})
    return pages


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """Every generated instrument page in the navigation, whatever instruments there are."""
    for entry in config.nav or []:
        if isinstance(entry, dict) and entry.get("Instruments") == "instruments/README.md":
            entry["Instruments"] = instrument_nav()
    return config


GENERATED: dict[str, Callable[[], str]] = {
    "<!-- codes-table -->": codes_table,
    "<!-- cli-help -->": cli_help,
}


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    repo = _repo(config)
    source = DOCS / page.file.src_uri
    mirrored = MIRROR.match(markdown)
    if mirrored:
        source = ROOT / mirrored["file"]
        markdown = source.read_text(encoding="utf-8")
    for marker, make in GENERATED.items():
        if marker in markdown:
            markdown = markdown.replace(marker, make())
    return rewrite_links(markdown, source, (DOCS / page.file.src_uri).parent, repo)
