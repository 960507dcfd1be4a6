"""Golden cases: run a definition's `cases:` against a scorer and report every difference."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from .codes import DefinitionCode, render
from .definition import Case, Instrument
from .errors import Issue, PathPart, make_issue
from .results import ScoreResult
from .scoring import score

Scorer = Callable[[Instrument, Mapping[str, Any], Mapping[str, Any]], ScoreResult]


class CaseFailure(NamedTuple):
    """A golden case whose result differs from what its source says."""

    case: int
    name: str
    path: tuple[PathPart, ...]
    expected: Any
    actual: Any

    @property
    def ctx(self) -> dict[str, Any]:
        """What `case_failed` is rendered from."""
        field = ".".join(str(p) for p in self.path[3:]) or "result"
        return {"case": self.name, "field": field, "expected": self.expected, "actual": self.actual}

    @property
    def message(self) -> str:
        return render(DefinitionCode.CASE_FAILED, self.ctx)

    def issue(self) -> Issue:
        return make_issue(DefinitionCode.CASE_FAILED, self.path, **self.ctx)


def case_responses(inst: Instrument, case: Case) -> dict[str, Any]:
    """A case's responses as a mapping (a list is in item order)."""
    if isinstance(case.responses, dict):
        return dict(case.responses)
    return {
        item.id: value
        for item, value in zip(inst.items, case.responses, strict=False)
        if value is not None
    }


def case_context(case: Case) -> dict[str, Any]:
    """A case's context, with its coding (`coding`) where it names one."""
    context = dict(case.context)
    if case.coding is not None:
        context["coding"] = case.coding
    return context


def _score_one(
    inst: Instrument, responses: Mapping[str, Any], context: Mapping[str, Any]
) -> ScoreResult:
    return score(inst, responses, on_error="invalid", **context)


def run_cases(inst: Instrument, scorer: Scorer | None = None) -> list[CaseFailure]:
    """Every difference between the definition's golden cases and what `scorer` returns."""
    failures: list[CaseFailure] = []
    for index, case in enumerate(inst.cases):
        result = (scorer or _score_one)(inst, case_responses(inst, case), case_context(case))
        failures.extend(compare(index, case, result))
    return failures


def _same(expected: Any, actual: Any) -> bool:
    if isinstance(expected, float) or isinstance(actual, float):
        return actual is not None and expected is not None and abs(expected - actual) < 1e-9
    return bool(expected == actual)


def compare(index: int, case: Case, result: ScoreResult) -> list[CaseFailure]:
    """What differs between a case's expectation and a result."""
    out: list[CaseFailure] = []
    base: tuple[PathPart, ...] = ("cases", index, "expect")

    def differ(path: tuple[PathPart, ...], expected: Any, actual: Any) -> None:
        if not _same(expected, actual):
            out.append(CaseFailure(index, case.name, (*base, *path), expected, actual))

    expect = case.expect
    differ(("valid",), expect.valid, result.valid)
    differ(("errors",), sorted(set(expect.errors)), sorted({i.code for i in result.issues}))
    for name, scale in expect.scales.items():
        actual = result.scales.get(name)
        for field in sorted(scale.model_fields_set - {"bands"}):
            got = getattr(actual, field) if actual is not None else None
            differ(("scales", name, field), getattr(scale, field), got)
        for table, label in scale.bands.items():  # only the tables written
            got = actual.bands.get(table) if actual is not None else None
            differ(("scales", name, "bands", table), label, got)
    differ(("flags",), sorted(expect.flags), sorted(f.id for f in result.flags))
    if "undetermined_flags" in expect.model_fields_set:
        undetermined = sorted(f.id for f in result.undetermined_flags)
        differ(("undetermined_flags",), sorted(expect.undetermined_flags), undetermined)
    for name, label in expect.classifications.items():
        differ(("classifications", name), label, result.classifications.get(name))
    return out
