"""Check definition files the way CI does: form, semantics and golden cases, with positions."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from .cases import run_cases
from .codes import DefinitionCode
from .errors import Issue, make_issue
from .loading import check_file, locate


def definition_files(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    """The YAML files named, and those under the folders named, in a stable order."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml"))
        else:
            yield path


def lint_file(path: Path) -> list[Issue]:
    """Every problem in one definition file, golden-case failures included."""
    try:
        inst, issues, parsed = check_file(path)
    except OSError as exc:
        issue = make_issue(DefinitionCode.IO_ERROR, reason=exc.strerror or str(exc))
        return [issue._replace(file=str(path), line=1, col=1)]
    if inst is None or any(i.severity == "error" for i in issues):
        return issues
    if inst.id != path.stem:
        issue = make_issue(
            DefinitionCode.ID_FILENAME, ("id",), severity="warning", id=inst.id, stem=path.stem
        )
        issues.append(locate(issue, parsed, str(path)))
    for failure in run_cases(inst):
        issues.append(locate(failure.issue(), parsed, str(path)))
    return issues
