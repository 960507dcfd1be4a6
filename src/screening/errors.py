"""One issue record, two exception types.

A check says what is wrong (`code`, `message`); the caller that walks the definition or the
response adds where (`path`, and for definition files `file`, `line`, `col`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from .codes import Code, render

if TYPE_CHECKING:
    from .results import ScoreResult

__all__ = [
    "DefinitionError",
    "Issue",
    "PathPart",
    "ResponseError",
    "Severity",
    "format_path",
    "make_issue",
]

Severity = Literal["error", "warning"]
PathPart = str | int


class Issue(NamedTuple):
    """A problem found in a definition or a response."""

    code: str
    message: str
    path: tuple[PathPart, ...] = ()
    severity: Severity = "error"
    file: str | None = None
    line: int | None = None  # 1-based
    col: int | None = None  # 1-based
    item: str | None = None
    value: Any = None
    ctx: Mapping[str, Any] | None = None
    """The facts the message was rendered from (`codes.TEMPLATES`): group issues by code and
    context, never by parsing text."""

    def location(self) -> str:
        """`file:line:col` as far as it is known."""
        parts = [self.file or "<definition>"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.col is not None:
                parts.append(str(self.col))
        return ":".join(parts)

    def format(self) -> str:
        """GCC-style line that editors and CI parse."""
        return f"{self.location()}: {self.severity}: {self.code}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "path": format_path(self.path),
            "severity": self.severity,
        }
        for key in ("file", "line", "col", "item"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


def make_issue(
    code: Code,
    path: tuple[PathPart, ...] = (),
    *,
    severity: Severity = "error",
    item: str | None = None,
    value: Any = None,
    **ctx: Any,
) -> Issue:
    """An issue whose message is its code's template filled from `ctx` (and `item`)."""
    if item is not None:
        ctx = {"item": item, **ctx}
    return Issue(code, render(code, ctx), path, severity, item=item, value=value, ctx=ctx)


def format_path(path: Sequence[PathPart]) -> str:
    """`scales.total.bands[2].min` from ('scales', 'total', 'bands', 2, 'min')."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


class DefinitionError(ValueError):
    """An instrument definition is malformed; `issues` lists every problem found."""

    def __init__(self, issues: Iterable[Issue], source: str | None = None) -> None:
        self.issues: tuple[Issue, ...] = tuple(issues)
        self.source = source
        errors = [i for i in self.issues if i.severity == "error"]
        head = f"{len(errors)} problem(s) in {source or 'instrument definition'}"
        super().__init__("\n".join([head, *(i.format() for i in self.issues)]))


class ResponseError(ValueError):
    """A response is malformed (unknown item, value outside the options, wrong type, ...).

    `issues` names each item, value and the allowed values. `result` holds the invalid
    `ScoreResult` scored from the valid part of the response, so its risk flags are never lost.
    """

    def __init__(self, issues: Iterable[Issue], result: ScoreResult | None = None) -> None:
        self.issues: tuple[Issue, ...] = tuple(issues)
        self.result = result
        lines = [i.message for i in self.issues]
        if result is not None and result.flags:
            raised = ", ".join(f"{f.id} ({f.severity})" for f in result.flags)
            lines.append(f"risk flags raised from the valid items: {raised}")
        super().__init__("; ".join(lines))
