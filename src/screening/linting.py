"""Check definition files the way CI does: form, semantics and golden cases, with positions."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from .cases import run_cases
from .errors import Issue
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
        message = f"cannot read: {exc.strerror or exc}"
        return [Issue("io_error", message, file=str(path), line=1, col=1)]
    if inst is None or any(i.severity == "error" for i in issues):
        return issues
    if inst.id != path.stem:
        issues.append(
            locate(
                Issue(
                    "id_filename",
                    f"id '{inst.id}' differs from the file name '{path.stem}'",
                    ("id",),
                    "warning",
                ),
                parsed,
                str(path),
            )
        )
    for failure in run_cases(inst):
        issues.append(locate(failure.issue(), parsed, str(path)))
    return issues
