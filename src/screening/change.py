"""Change across administrations of one instrument.

Two administrations (`change`, `paired_change`) are judged in pure Python; longitudinal
DataFrames (`change_frame`, `client_summary`) with numpy and pandas, imported only when those
functions are called. Every outcome comes from the definition's `change:` block for the scale,
each rule citing its source. An outcome the definition gives no parameters for is `None` and is
listed in `unavailable` with the reason: never a default.

The rules (Jacobson NS, Truax P. Clinical significance: a statistical approach to defining
meaningful change in psychotherapy research. J Consult Clin Psychol 1991;59(1):12-19):

- Reliable change index: SE = SD * sqrt(1 - r_xx), S_diff = sqrt(2) * SE,
  RCI = (x2 - x1) / S_diff; the change is reliable when |RCI| > criterion (1.96 by default).
  A programme may publish a fixed threshold instead (NHS Talking Therapies: PHQ-9 6, GAD-7 4):
  a change of at least that many points is reliable.
- Cut-offs, written for higher-is-worse scales and mirrored when higher is better:
  a = M_clin - 2 SD_clin, b = M_func + 2 SD_func,
  c = (SD_func * M_clin + SD_clin * M_func) / (SD_func + SD_clin). A computed cut-off must be
  passed strictly (a score at c is no closer to either mean). A fixed cut-off the source gives
  is the last score on the functional side (Marx et al. 2022: a PCL-5 total "<= 28").
- Clinically significant change: recovered (reliable improvement and crossed the cut-off, from
  the dysfunctional side before to the functional side after), improved (reliable improvement
  without crossing), unchanged (no reliable change), deteriorated (reliable deterioration).
- Caseness and remission are inclusive score ranges; recovery is a case at the start and not at
  the end; reliable recovery is recovery with reliable improvement; response is an improvement
  of at least a share of the baseline score.
"""

from __future__ import annotations

import html
import math
import numbers
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from .definition import ChangeSpec, ClinicalSignificance, Instrument, Range, ReliableChange
from .facts import scale_is_integral
from .loading import load_instrument
from .results import ScoreResult
from .steps import scale_range
from .text import number

if TYPE_CHECKING:
    import pandas as pd

Direction = Literal["higher_is_worse", "higher_is_better"]
Reliable = Literal["improved", "deteriorated", "no reliable change"]
Significance = Literal["recovered", "improved", "unchanged", "deteriorated"]

RELIABLE: tuple[Reliable, ...] = ("improved", "deteriorated", "no reliable change")
SIGNIFICANCE: tuple[Significance, ...] = ("recovered", "improved", "unchanged", "deteriorated")
OUTCOMES = (
    "reliable_change",
    "clinical_significance",
    "caseness",
    "recovery",
    "reliable_recovery",
    "response",
    "remission",
)

# Scores and thresholds are often decimal fractions (a 0.3 share, a prorated 4.5): compare with a
# tolerance far below any score's resolution, so a change exactly at a threshold meets it, and
# one exactly at the reliable-change criterion (a drop of 4 where S_diff is 2, criterion 2:
# S_diff computes as 1.9999999999999996, RCI as -2.0000000000000004) does not pass it.
_EPS = 1e-9


class Unavailable(NamedTuple):
    """An outcome that could not be judged, and why."""

    outcome: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return self._asdict()


class Override(NamedTuple):
    """A part of a scale's change rules that the caller gave in place of the definition's:
    the part (`reliable_change`, `caseness`, ...), the caller's value and the definition's
    (None where the definition has none)."""

    part: str
    given: Any
    definition: Any

    def to_dict(self) -> dict[str, Any]:
        return self._asdict()


class ChangeResult(NamedTuple):
    """Change on one scale between two administrations (`change`).

    `difference` is after - before; `percent_change` is relative to `before` (None when it is
    0). `reliable_change_points` is the change that counts as reliable (the fixed threshold, or
    criterion * S_diff), `cutoff` the clinical-significance cut-off used and `crossed_cutoff`
    whether the score moved from its dysfunctional to its functional side. Outcomes the
    definition gives no parameters for are None and listed in `unavailable`.
    """

    instrument: str
    scale: str
    before: float
    after: float
    difference: float
    percent_change: float | None
    direction: Direction | None
    rci: float | None
    reliable: Reliable | None
    reliable_change_points: float | None
    clinical_significance: Significance | None
    cutoff: float | None
    crossed_cutoff: bool | None
    response: bool | None
    remission: bool | None
    case_before: bool | None
    case_after: bool | None
    recovery: bool | None
    reliable_recovery: bool | None
    unavailable: tuple[Unavailable, ...]
    overrides: tuple[Override, ...] = ()
    """The parts of the change rules the caller gave (`override=`), with the definition's."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        out = self._asdict()
        out["unavailable"] = [u.to_dict() for u in self.unavailable]
        out["overrides"] = [o.to_dict() for o in self.overrides]
        return out

    def _rows(self) -> list[tuple[str, str]]:
        """(label, value) pairs for display: what a clinician reads first, first."""
        rows = [
            ("scores", f"{number(self.before)} → {number(self.after)}"),
            ("change", _signed(self.difference) + _percent(self.percent_change)),
        ]
        if self.rci is not None:
            rows.append(("RCI", f"{self.rci:+.2f}"))
        outcomes: list[tuple[str, Any]] = [
            ("reliable change", self.reliable),
            ("clinical significance", self.clinical_significance),
            ("case", None if self.case_before is None else (self.case_before, self.case_after)),
            ("recovery", self.recovery),
            ("reliable recovery", self.reliable_recovery),
            ("response", self.response),
            ("remission", self.remission),
        ]
        judged = {u.outcome for u in self.unavailable}
        for label, value in outcomes:
            if isinstance(value, tuple):
                rows.append((label, f"{_yes(value[0])} → {_yes(value[1])}"))
            elif value is not None:
                rows.append((label, _yes(value)))
            elif label.replace(" ", "_") in judged or label == "case":
                rows.append((label, "unavailable"))
        if self.overrides:
            rows.append(("caller's parameters", ", ".join(o.part for o in self.overrides)))
        return rows

    def __repr__(self) -> str:
        head = f"ChangeResult({self.instrument} {self.scale}"
        return head + "".join(f"; {label}: {value}" for label, value in self._rows()) + ")"

    def _repr_html_(self) -> str:
        """A small table for notebooks: scores, change, RCI, reliable change and outcomes."""
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(label)}</th>"
            f"<td style='text-align:left'>{html.escape(value)}</td></tr>"
            for label, value in self._rows()
        )
        why = "".join(
            f"<li>{html.escape(u.outcome.replace('_', ' '))}: {html.escape(u.reason)}</li>"
            for u in self.unavailable
        )
        note = f"<details><summary>unavailable</summary><ul>{why}</ul></details>" if why else ""
        title = html.escape(f"{self.instrument} {self.scale}")
        return f"<table><caption>{title}</caption>{rows}</table>{note}"


def _signed(x: float) -> str:
    return ("+" if x > 0 else "") + number(x)


def _percent(p: float | None) -> str:
    return "" if p is None else f" ({p:+.0f}%)"


def _yes(value: Any) -> str:
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return str(value)


class PairedChangeResult(NamedTuple):
    """NHS Talking Therapies outcomes for a depression and an anxiety measure (`paired_change`).

    Three-valued: None when a measure's outcome is unavailable and it could change the answer.
    """

    depression: ChangeResult
    anxiety: ChangeResult
    case_before: bool | None
    case_after: bool | None
    recovery: bool | None
    reliable_improvement: bool | None
    reliable_deterioration: bool | None
    reliable_recovery: bool | None
    unavailable: tuple[Unavailable, ...]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        out = self._asdict()
        out["depression"] = self.depression.to_dict()
        out["anxiety"] = self.anxiety.to_dict()
        out["unavailable"] = [u.to_dict() for u in self.unavailable]
        return out


# --- the rules of one scale, read from its change block ------------------------------------------


class Rules(NamedTuple):
    """A scale's change parameters, resolved (cut-offs computed, missing ones explained)."""

    instrument: str
    scale: str
    low: float
    high: float
    integral: bool
    direction: Direction | None
    worse: int
    """+1 when a higher score is worse, -1 when it is better (0: no direction given)."""
    s_diff: float | None
    criterion: float
    threshold: float | None
    cutoff: float | None
    cutoff_inclusive: bool
    caseness: tuple[float | None, float | None] | None
    remission: tuple[float | None, float | None] | None
    response: float | None
    missing: tuple[Unavailable, ...]
    overrides: tuple[Override, ...] = ()

    @property
    def reliable_points(self) -> float | None:
        """The smallest change that counts as reliable (for the index: criterion * S_diff)."""
        if self.s_diff is not None:
            return self.criterion * self.s_diff
        return self.threshold


def scale_rules(
    instrument: Instrument | str,
    scale: str = "total",
    *,
    override: Mapping[str, Any] | None = None,
) -> Rules:
    """The change rules of one scale of an instrument (`ValueError` for an unknown scale).

    `override` gives parts of the scale's `change:` block in place of the definition's, written
    as in a definition file: `{"reliable_change": {"reliability": 0.84, "sd": 5.5}}`,
    `{"caseness": {"min": 12}}`, `{"direction": "higher_is_worse", ...}` for a scale without a
    block, or a part set to None to judge without it. A part replaces the definition's part
    whole, is checked as a definition's is (`ValueError` naming the problem), needs no `source`
    (it is recorded as the caller's), and is listed in `Rules.overrides` with the definition's.
    """
    inst = load_instrument(instrument)
    if scale not in inst.scales:
        raise ValueError(
            f"{inst.id} has no scale '{scale}' (scales: {', '.join(inst.scales)}); pass scale=..."
        )
    bounds = scale_range(inst, inst.scales[scale])
    low, high = bounds if bounds is not None else (-math.inf, math.inf)
    where = f"change.{scale}"
    spec, overrides = _overridden(inst, scale, override)
    given = spec is not None
    # no block: every rule absent, and the placeholder's direction is never read (worse = 0)
    spec = spec if spec is not None else ChangeSpec(direction="higher_is_worse")
    missing: list[Unavailable] = []
    if not given:
        reason = f"{inst.id} gives no change parameters for scale '{scale}' (no {where})"
        missing = [Unavailable(outcome, reason) for outcome in OUTCOMES]

    def lacks(outcome: str, part: str, because: str = "") -> None:
        if given:  # without a block, every outcome is already listed with that reason
            missing.append(Unavailable(outcome, because or f"no {where}.{part} in {inst.id}"))

    rc = spec.reliable_change
    s_diff, threshold, criterion = _reliable_rule(rc)
    if rc is None:
        lacks("reliable_change", "reliable_change")

    # +1: higher is worse; -1: higher is better; 0: no direction given (no change block)
    worse = 0 if not given else 1 if spec.direction == "higher_is_worse" else -1
    cutoff: float | None = None
    inclusive = False
    cs = spec.clinical_significance
    if cs is None:
        lacks("clinical_significance", "clinical_significance")
    else:
        cutoff, inclusive, problem = _cutoff(cs, worse)
        if problem:
            lacks("clinical_significance", "", f"{where}: {problem}")
        elif rc is None:
            lacks(
                "clinical_significance",
                "",
                f"needs reliable change, and {inst.id} gives no {where}.reliable_change",
            )
    if spec.caseness is None:
        lacks("caseness", "caseness")
        lacks("recovery", "", f"needs caseness: no {where}.caseness in {inst.id}")
    if spec.caseness is None or rc is None:
        needs = [
            part
            for part, rule in (("caseness", spec.caseness), ("reliable change", rc))
            if rule is None
        ]
        lacks(
            "reliable_recovery",
            "",
            f"needs {' and '.join(needs)}, which {inst.id} does not define",
        )
    # response and remission are judged for a case at baseline only (as recovery): without
    # caseness neither is, on every path (group_outcomes counts them among baseline cases)
    for outcome, part in (("response", spec.response), ("remission", spec.remission)):
        if part is None:
            lacks(outcome, outcome)
        elif spec.caseness is None:
            lacks(outcome, "", f"needs caseness: no {where}.caseness in {inst.id}")
    judged = spec.caseness is not None
    return Rules(
        instrument=inst.id,
        scale=scale,
        low=low,
        high=high,
        integral=scale_is_integral(inst.scales[scale]),
        direction=spec.direction if worse else None,
        worse=worse,
        s_diff=s_diff,
        criterion=criterion,
        threshold=threshold,
        cutoff=cutoff,
        cutoff_inclusive=inclusive,
        caseness=_bounds(spec.caseness),
        remission=_bounds(spec.remission) if judged else None,
        response=spec.response.relative_reduction if spec.response and judged else None,
        missing=tuple(missing),
        overrides=overrides,
    )


CALLER = "caller"
"""The source recorded for a part of the change rules the caller gave without one."""


def _overridden(
    inst: Instrument, scale: str, override: Mapping[str, Any] | None
) -> tuple[ChangeSpec | None, tuple[Override, ...]]:
    """The scale's change block with the caller's parts in place of the definition's."""
    block = inst.change.get(scale)
    if not override:
        return block, ()
    if not isinstance(override, Mapping):
        raise TypeError(f"override must be a mapping of change parts (got {override!r})")
    known = tuple(ChangeSpec.model_fields)
    merged: dict[str, Any] = block.model_dump(exclude_none=True) if block is not None else {}
    records = []
    for part, value in override.items():
        if part not in known:
            raise ValueError(f"override: no change part {part!r} (parts: {', '.join(known)})")
        records.append(Override(part, value, merged.get(part)))
        if value is None:
            if part == "direction":
                raise ValueError("override: direction cannot be removed")
            merged.pop(part, None)
            continue
        if isinstance(value, Mapping):
            merged[part] = {"source": CALLER} | {key: _plain(v) for key, v in value.items()}
        else:
            merged[part] = value
    if "direction" not in merged:
        raise ValueError(
            f"override: {inst.id} has no {scale!r} change block, so the override must give "
            "its direction ('higher_is_worse' or 'higher_is_better')"
        )
    try:
        spec = ChangeSpec.model_validate(merged)
    except ValueError as exc:  # pydantic's ValidationError: one line per problem
        lines = [
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
            for e in getattr(exc, "errors", lambda: [])()
        ]
        raise ValueError(f"override: {'; '.join(lines) or exc}") from None
    return spec, tuple(records)


def _plain(value: Any) -> Any:
    """A number as the strict models read it (a numpy float is a float), else as given."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return value
    return int(value) if isinstance(value, numbers.Integral) else float(value)


def _reliable_rule(rc: ReliableChange | None) -> tuple[float | None, float | None, float]:
    """S_diff (index method) or the fixed threshold, and the criterion."""
    if rc is None:
        return None, None, 1.96
    if rc.reliability is not None and rc.sd is not None:
        # Jacobson & Truax 1991: SE = SD * sqrt(1 - r_xx), S_diff = sqrt(2 * SE^2)
        return math.sqrt(2) * rc.sd * math.sqrt(1 - rc.reliability), None, rc.criterion
    return None, rc.threshold, rc.criterion


def _bounds(rng: Range | None) -> tuple[float | None, float | None] | None:
    return None if rng is None else (rng.min, rng.max)


def _cutoff(cs: ClinicalSignificance, worse: int) -> tuple[float | None, bool, str]:
    """The cut-off, whether a score at it is functional, and a problem with the norms."""
    if cs.threshold is not None:
        return float(cs.threshold), True, ""
    clin, func = cs.clinical, cs.functional
    if clin is not None and func is not None and worse * (clin.mean - func.mean) <= 0:
        side = "above" if worse > 0 else "below"
        return (
            None,
            False,
            f"the clinical mean ({clin.mean}) must lie {side} the functional mean "
            f"({func.mean}) for a scale where higher is {'worse' if worse > 0 else 'better'}",
        )
    # the model guarantees the norms each cut-off needs
    if cs.cutoff == "a" and clin is not None:
        return clin.mean - worse * 2 * clin.sd, False, ""
    if cs.cutoff == "b" and func is not None:
        return func.mean + worse * 2 * func.sd, False, ""
    assert clin is not None
    assert func is not None
    return (func.sd * clin.mean + clin.sd * func.mean) / (func.sd + clin.sd), False, ""


# --- two administrations -------------------------------------------------------------------------


def change(
    instrument: Instrument | str,
    before: ScoreResult | float,
    after: ScoreResult | float,
    *,
    scale: str = "total",
    override: Mapping[str, Any] | None = None,
) -> ChangeResult:
    """Change on `scale` from `before` to `after`, judged by the definition's change rules.

    `before` and `after` are `ScoreResult`s of this instrument or scale scores. An invalid
    result, an unscored scale or a score outside the scale's range raises `ValueError`.
    `override` puts the caller's parameters in place of the definition's, part by part
    (`{"reliable_change": {"reliability": 0.84, "sd": 5.5}}`; see `scale_rules`); the result
    lists them in `overrides`, each with the definition's value.

    >>> change("phq9", 15, 9).reliable   # NHS Talking Therapies: a drop of 6 is reliable
    'improved'
    """
    rules = scale_rules(instrument, scale, override=override)
    x1 = _read(before, rules, "before")
    x2 = _read(after, rules, "after")
    return _change(rules, x1, x2)


NOT_A_CASE = (
    "the baseline is not a case: recovery, response and remission are judged for cases only"
)


def _change(rules: Rules, x1: float, x2: float) -> ChangeResult:
    missing = list(rules.missing)
    rci, reliable = _reliable(rules, x1, x2)
    significance = _significance(rules, x1, x2, reliable)
    response: bool | None = None
    if rules.response is not None:
        if x1 > 0:
            response = _responded(rules, x1, x2)
        else:
            missing.append(
                Unavailable(
                    "response",
                    f"the baseline score is {number(x1)}: a relative change is undefined",
                )
            )
    case_before = _within(rules.caseness, x1)
    case_after = _within(rules.caseness, x2)
    remission = _within(rules.remission, x2)
    recovery = None if case_before is None else case_before and not case_after
    reliable_recovery = (
        None if recovery is None or reliable is None else recovery and reliable == "improved"
    )
    if case_before is False:
        # recovery, response and remission are outcomes of a case (NHS Talking Therapies counts
        # recovery among referrals at caseness at the start): a PHQ-9 of 3 that stays 3 is not
        # a remission, and counting it as no recovery would lower a service's rate
        judged = (
            ("recovery", recovery),
            ("reliable_recovery", reliable_recovery),
            ("response", response),
            ("remission", remission),
        )
        missing.extend(Unavailable(outcome, NOT_A_CASE) for outcome, v in judged if v is not None)
        recovery = reliable_recovery = response = remission = None
    return ChangeResult(
        rules.instrument,
        rules.scale,
        x1,
        x2,
        x2 - x1,
        (x2 - x1) / x1 * 100 if x1 != 0 else None,
        rules.direction,
        rci,
        reliable,
        rules.reliable_points,
        significance,
        rules.cutoff,
        _crossed(rules, x1, x2),
        response,
        remission,
        case_before,
        case_after,
        recovery,
        reliable_recovery,
        tuple(missing),
        rules.overrides,
    )


# The comparisons behind every outcome, written once: they take a score or an array of scores
# alike (numpy overloads the operators), so one pair and a million pairs are judged the same.


def _improvement(rules: Rules, x1: Any, x2: Any) -> Any:
    """The change towards health (positive: better), in points."""
    return rules.worse * (x1 - x2)


def _responded(rules: Rules, x1: Any, x2: Any) -> Any:
    assert rules.response is not None
    return _improvement(rules, x1, x2) >= rules.response * x1 - _EPS


def _reliable_parts(rules: Rules, x1: Any, x2: Any) -> tuple[Any, Any, Any] | None:
    """(RCI or None, reliably improved, reliably deteriorated), or None without a rule."""
    if rules.s_diff is not None:
        rci = (x2 - x1) / rules.s_diff
        z = -rules.worse * rci  # positive: a change towards health
        beyond = rules.criterion + _EPS  # exactly at the criterion is not past it (see _EPS)
        return rci, z > beyond, z < -beyond
    if rules.threshold is not None:
        improvement = _improvement(rules, x1, x2)
        limit = rules.threshold - _EPS  # the threshold is positive: never both
        return None, improvement >= limit, -improvement >= limit
    return None


def _inside(bounds: tuple[float | None, float | None], x: Any) -> Any:
    lo, hi = bounds
    inside: Any = True
    if lo is not None:
        inside = inside & (x >= lo - _EPS)
    if hi is not None:
        inside = inside & (x <= hi + _EPS)
    return inside


def _reliable(rules: Rules, x1: float, x2: float) -> tuple[float | None, Reliable | None]:
    parts = _reliable_parts(rules, x1, x2)
    if parts is None:
        return None, None
    rci, improved, deteriorated = parts
    if improved:
        return rci, "improved"
    return rci, "deteriorated" if deteriorated else "no reliable change"


def _significance(
    rules: Rules, x1: float, x2: float, reliable: Reliable | None
) -> Significance | None:
    if reliable is None or rules.cutoff is None:
        return None
    if reliable == "deteriorated":
        return "deteriorated"
    if reliable == "no reliable change":
        return "unchanged"
    return "recovered" if _crossed(rules, x1, x2) else "improved"


def _crossed(rules: Rules, x1: float, x2: float) -> bool | None:
    """From the dysfunctional side of the cut-off before to the functional side after."""
    if rules.cutoff is None:
        return None
    return not _functional(rules, rules.cutoff, x1) and _functional(rules, rules.cutoff, x2)


def _functional(rules: Rules, cutoff: float, x: Any) -> Any:
    distance = rules.worse * (cutoff - x)  # positive: on the healthy side of the cut-off
    return distance >= -_EPS if rules.cutoff_inclusive else distance > _EPS


def _within(bounds: tuple[float | None, float | None] | None, x: float) -> bool | None:
    return None if bounds is None else bool(_inside(bounds, x))


def _read(value: ScoreResult | float, rules: Rules, which: str) -> float:
    """The scale score of one administration, checked."""
    where = f"{which}: {rules.instrument} {rules.scale}"
    if isinstance(value, ScoreResult):
        if value.instrument != rules.instrument:
            raise ValueError(f"{which}: a result of {value.instrument}, not {rules.instrument}")
        if not value.valid:
            raise ValueError(f"{which}: the result is invalid ({'; '.join(value.reasons)})")
        scaled = value.scales.get(rules.scale)
        if scaled is None or scaled.score is None:
            why = scaled.reason if scaled is not None else "not in the result"
            raise ValueError(f"{where} is unscored ({why})")
        given: Any = scaled.score
    else:
        given = value
    if isinstance(given, bool) or not isinstance(given, numbers.Real):
        raise ValueError(f"{where} must be a number or a ScoreResult (got {given!r})")
    x: float = int(given) if isinstance(given, numbers.Integral) else float(given)
    if math.isnan(x):
        raise ValueError(f"{where} is missing (NaN)")
    if not rules.low - _EPS <= x <= rules.high + _EPS:
        raise ValueError(
            f"{where} must be within {number(rules.low)}-{number(rules.high)} (got {number(x)})"
        )
    if rules.integral and x != round(x):
        raise ValueError(f"{where} must be a whole number (got {number(x)})")
    return x


# --- paired measures (NHS Talking Therapies) ------------------------------------------------------


def _or(a: bool | None, b: bool | None) -> bool | None:
    if a is True or b is True:
        return True
    return None if a is None or b is None else False


def _and(a: bool | None, b: bool | None) -> bool | None:
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


def _not(a: bool | None) -> bool | None:
    return None if a is None else not a


def _is(reliable: Reliable | None, label: Reliable) -> bool | None:
    return None if reliable is None else reliable == label


def paired_change(depression: ChangeResult, anxiety: ChangeResult) -> PairedChangeResult:
    """NHS Talking Therapies outcomes of a depression measure (PHQ-9) and an anxiety measure
    (GAD-7, or an anxiety-disorder-specific measure) between the same two administrations.

    Caseness: either measure at caseness (OHID Fingertips glossary: "above the clinical/
    non-clinical cut-off on one of the followings or both"). Recovery: a case at the start and
    neither measure at caseness at the end; judged for a case at the start only (None, with
    the reason in `unavailable`, where neither measure was one). Reliable improvement: at least
    one measure improves reliably and neither deteriorates reliably; reliable deterioration
    mirrors it. Reliable recovery: recovery and reliable improvement (NHS Digital, Psychological
    Therapies reports, "Outcomes"; MindStep, BMC Psychiatry 2018, Table 1). The NHS Talking
    Therapies Manual itself could not be retrieved; the "neither deteriorates" clause follows
    the programme's usual reading and is not verified against it.
    """
    case_before = _or(depression.case_before, anxiety.case_before)
    case_after = _or(depression.case_after, anxiety.case_after)
    improved = _or(_is(depression.reliable, "improved"), _is(anxiety.reliable, "improved"))
    worse = _or(_is(depression.reliable, "deteriorated"), _is(anxiety.reliable, "deteriorated"))
    reliable_improvement = _and(improved, _not(worse))
    reliable_deterioration = _and(worse, _not(improved))
    # judged for a case at the start only, as for one measure: where neither measure was one
    # there is no recovery to count (counted as False, it would lower a service's rate), and
    # where that is unknown, neither is whether there is
    recovery = reliable_recovery = None
    if case_before:
        recovery = _not(case_after)
        reliable_recovery = _and(recovery, reliable_improvement)
    outcomes = {
        "caseness": (case_before is None or case_after is None, "caseness"),
        "recovery": (recovery is None and case_before is not False, "caseness"),
        "reliable_improvement": (reliable_improvement is None, "reliable_change"),
        "reliable_deterioration": (reliable_deterioration is None, "reliable_change"),
        "reliable_recovery": (
            reliable_recovery is None and case_before is not False,
            "reliable_recovery",
        ),
    }
    unavailable = [
        Unavailable(name, f"{measure.instrument}: {u.reason}")
        for name, (absent, needs) in outcomes.items()
        if absent
        for measure in (depression, anxiety)
        for u in measure.unavailable
        if u.outcome == needs
    ]
    if case_before is False:
        unavailable += [Unavailable(name, NOT_A_CASE) for name in ("recovery", "reliable_recovery")]
    return PairedChangeResult(
        depression,
        anxiety,
        case_before,
        case_after,
        recovery,
        reliable_improvement,
        reliable_deterioration,
        reliable_recovery,
        tuple(unavailable),
    )


# --- the caller's own parameters (any score, any instrument or none) ----------------------------
#
# A researcher brings the SD and reliability of their own sample and the norms of their own
# populations. The parameters become a `Rules` with no scale behind it, so the comparisons are
# the ones every instrument is judged by: one pair and a column of pairs alike.


class ReliableChangeResult(NamedTuple):
    """The Jacobson-Truax reliable change index (`reliable_change`).

    `se` = SD * sqrt(1 - r), `s_diff` = sqrt(2) * SE, `rci` = (after - before) / S_diff
    (signed: positive when the score rose), `reliable` = |RCI| > criterion. `before`, `after`,
    `difference`, `rci` and `reliable` are numbers for two scores, and pandas Series (the input's
    index; missing where a score is) for columns.
    """

    before: Any
    after: Any
    sd: float
    reliability: float
    criterion: float
    se: float
    s_diff: float
    difference: Any
    rci: Any
    reliable: Any

    def to_frame(self) -> pd.DataFrame:
        """The per-pair columns as a DataFrame (`difference`, `rci`, `reliable`)."""
        import pandas as pd

        names = ("before", "after", "difference", "rci", "reliable")
        return pd.DataFrame({name: _column(getattr(self, name)) for name in names})


class ClinicalSignificanceResult(NamedTuple):
    """Jacobson-Truax cut-offs and, given two scores and a reliability, the classification
    (`clinical_significance`).

    `a` = 2 SD beyond the clinical mean (towards health), `b` = 2 SD from the functional mean
    (towards dysfunction), `c` = (SD_clin * M_func + SD_func * M_clin) / (SD_clin + SD_func).
    With `before`, `after` and `reliability`: `rci` and `reliable` as in `reliable_change`,
    `crossed_c` (from the dysfunctional side of c to its functional side; a score at c is on
    neither) and `classification`: recovered (reliable improvement and crossed c), improved
    (reliable improvement only), unchanged (no reliable change), deteriorated (reliable
    deterioration). Numbers for two scores; pandas Series for columns; None when not asked.
    """

    direction: Direction
    functional: tuple[float, float]
    clinical: tuple[float, float]
    a: float
    b: float
    c: float
    before: Any = None
    after: Any = None
    sd: float | None = None
    reliability: float | None = None
    criterion: float = 1.96
    s_diff: float | None = None
    rci: Any = None
    reliable: Any = None
    crossed_c: Any = None
    classification: Any = None

    def to_frame(self) -> pd.DataFrame:
        """The per-pair columns as a DataFrame (needs before, after and reliability)."""
        import pandas as pd

        if self.rci is None:
            raise ValueError("no pairs: give before, after and reliability")
        names = ("before", "after", "rci", "reliable", "crossed_c", "classification")
        return pd.DataFrame({name: _column(getattr(self, name)) for name in names})


def _column(value: Any) -> Any:
    return value if hasattr(value, "index") else [value]


def _positive(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not float(value) > 0:
        raise ValueError(f"{name} must be a positive number (got {value!r})")
    return float(value)


def _reliability(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < float(value) < 1:
        raise ValueError(f"reliability must be a number between 0 and 1, exclusive (got {value!r})")
    return float(value)


def _norms(name: str, value: Any) -> tuple[float, float]:
    try:
        mean, sd = value
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be (mean, sd) (got {value!r})") from None
    if isinstance(mean, bool) or not isinstance(mean, numbers.Real) or not math.isfinite(mean):
        raise ValueError(f"{name} mean must be a finite number (got {mean!r})")
    return float(mean), _positive(f"{name} sd", sd)


def _free_rules(
    direction: Direction, s_diff: float | None, criterion: float, cutoff: float | None
) -> Rules:
    if direction not in ("higher_is_worse", "higher_is_better"):
        raise ValueError(
            f"direction must be 'higher_is_worse' or 'higher_is_better' (got {direction!r})"
        )
    return Rules(
        instrument="",
        scale="",
        low=-math.inf,
        high=math.inf,
        integral=False,
        direction=direction,
        worse=1 if direction == "higher_is_worse" else -1,
        s_diff=s_diff,
        criterion=criterion,
        threshold=None,
        cutoff=cutoff,
        cutoff_inclusive=False,
        caseness=None,
        remission=None,
        response=None,
        missing=(),
    )


def _finite(score: Any) -> float:
    x = float(score)
    if not math.isfinite(x):  # NaN is no score, nor is inf (its RCI, inf, was "reliable")
        got = "NaN" if math.isnan(x) else repr(x)
        raise ValueError(f"before and after must be numbers (got {got})")
    return x


def _scores(name: str, given: Any) -> Any:
    """A column of scores as float64, NaN where missing."""
    import numpy as np
    import pandas as pd

    series = given if isinstance(given, pd.Series) else pd.Series(list(given), dtype=object)
    if pd.api.types.is_bool_dtype(series.dtype):
        raise ValueError(f"{name} must hold scores, not booleans")
    try:
        x = series.astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must hold numbers (or missing values)") from None
    infinite = np.flatnonzero(np.isinf(x))
    if len(infinite):  # a missing score is NaN (or None); no score is infinite
        raise ValueError(
            f"{name} must hold numbers (or missing values): {float(x[infinite[0]])!r} "
            f"at position {infinite[0]}"
        )
    return x


class _Pairs(NamedTuple):
    """Scores as given: two numbers, or two float arrays with the index to hand back."""

    x1: Any
    x2: Any
    index: Any  # None for two numbers
    na: Any  # missing in either (arrays only)


def _pairs(before: Any, after: Any) -> _Pairs:
    scalar = [isinstance(x, numbers.Real) and not isinstance(x, bool) for x in (before, after)]
    if all(scalar):
        return _Pairs(_finite(before), _finite(after), None, None)
    if any(scalar) or isinstance(before, str | bool) or isinstance(after, str | bool):
        raise ValueError(
            "before and after must both be numbers, or both columns (Series, arrays or lists)"
        )
    import numpy as np
    import pandas as pd

    index = None
    for given in (before, after):
        if isinstance(given, pd.Series):
            if index is not None and not given.index.equals(index):
                raise ValueError("before and after are Series on different indexes")
            index = given.index
    x1, x2 = _scores("before", before), _scores("after", after)
    if len(x1) != len(x2):
        raise ValueError(f"before has {len(x1)} scores but after has {len(x2)}")
    if index is None:
        index = pd.RangeIndex(len(x1))
    return _Pairs(x1, x2, index, np.isnan(x1) | np.isnan(x2))


def _series(values: Any, na: Any, index: Any, kind: str, labels: Sequence[str] = ()) -> Any:
    import pandas as pd

    if kind == "float":
        array = _floats(values, na)
    elif kind == "bool":
        array = _bools((values, na), na)
    else:
        array = _labels(values, na, labels)
    return pd.Series(array, index=index, copy=False)


def reliable_change(
    before: Any,
    after: Any,
    *,
    sd: float,
    reliability: float,
    criterion: float = 1.96,
) -> ReliableChangeResult:
    """The Jacobson-Truax reliable change index of any score, from the caller's SD and
    reliability (Jacobson NS, Truax P. J Consult Clin Psychol 1991;59(1):12-19).

    SE = sd * sqrt(1 - reliability) (the standard error of measurement), S_diff = sqrt(2) * SE
    (the standard error of the difference of two scores), RCI = (after - before) / S_diff; the
    change is reliable when |RCI| > criterion (1.96: p < .05, two-tailed). `sd` is the SD of
    the reference sample (Jacobson and Truax: of the pretreatment or normal population),
    `reliability` its test-retest reliability (or internal consistency). `before` and `after`
    are two numbers, or two columns (pandas Series on one index, arrays or lists), for which
    the result holds Series (a missing score gives a missing RCI).

    >>> r = reliable_change(20, 15, sd=7.6, reliability=0.95)
    >>> round(r.s_diff, 4), round(r.rci, 3), r.reliable
    (2.4033, -2.08, True)
    """
    sd = _positive("sd", sd)
    r = _reliability(reliability)
    criterion = _positive("criterion", criterion)
    se = sd * math.sqrt(1 - r)
    s_diff = math.sqrt(2) * se
    pairs = _pairs(before, after)
    if pairs.index is None:
        rci = (pairs.x2 - pairs.x1) / s_diff
        return ReliableChangeResult(
            pairs.x1,
            pairs.x2,
            sd,
            r,
            criterion,
            se,
            s_diff,
            pairs.x2 - pairs.x1,
            rci,
            abs(rci) > criterion + _EPS,
        )
    import numpy as np

    x1, x2, index, na = pairs
    with np.errstate(invalid="ignore"):
        rci = (x2 - x1) / s_diff
        reliable = np.abs(rci) > criterion + _EPS
    return ReliableChangeResult(
        _series(x1, np.isnan(x1), index, "float"),
        _series(x2, np.isnan(x2), index, "float"),
        sd,
        r,
        criterion,
        se,
        s_diff,
        _series(x2 - x1, na, index, "float"),
        _series(rci, na, index, "float"),
        _series(reliable, na, index, "bool"),
    )


def clinical_significance(
    *,
    functional: tuple[float, float],
    clinical: tuple[float, float],
    before: Any = None,
    after: Any = None,
    reliability: float | None = None,
    sd: float | None = None,
    criterion: float = 1.96,
    direction: Direction = "higher_is_worse",
) -> ClinicalSignificanceResult:
    """Jacobson-Truax clinically significant change from the caller's norms (Jacobson NS,
    Truax P. J Consult Clin Psychol 1991;59(1):12-19).

    `functional` and `clinical` are (mean, SD) of the functional (normal) and clinical
    (dysfunctional) populations. Cut-offs, written for a scale where higher is worse (mirrored
    with `direction="higher_is_better"`): a = M_clin - 2 SD_clin, b = M_func + 2 SD_func,
    c = (SD_clin * M_func + SD_func * M_clin) / (SD_clin + SD_func). Given `before`, `after`
    (two numbers or two columns) and `reliability`, each pair is classified with c and the
    reliable change index (S_diff from `sd`, by default the clinical SD: Jacobson and Truax's
    SD of the pretreatment group): recovered, improved, unchanged or deteriorated.

    >>> cs = clinical_significance(functional=(6, 4), clinical=(20, 7.6))
    >>> round(cs.a, 2), cs.b, round(cs.c, 4)
    (4.8, 14.0, 10.8276)
    """
    if direction not in ("higher_is_worse", "higher_is_better"):
        raise ValueError(
            f"direction must be 'higher_is_worse' or 'higher_is_better' (got {direction!r})"
        )
    (fm, fsd), (cm, csd) = _norms("functional", functional), _norms("clinical", clinical)
    worse = 1 if direction == "higher_is_worse" else -1
    if worse * (cm - fm) <= 0:
        side = "above" if worse > 0 else "below"
        raise ValueError(
            f"the clinical mean ({number(cm)}) must lie {side} the functional mean "
            f"({number(fm)}) where {direction.replace('_', ' ')}"
        )
    a = cm - worse * 2 * csd
    b = fm + worse * 2 * fsd
    c = (csd * fm + fsd * cm) / (csd + fsd)
    result = ClinicalSignificanceResult(direction, (fm, fsd), (cm, csd), a, b, c)
    if before is None and after is None:
        return result
    if before is None or after is None or reliability is None:
        raise ValueError("classifying change needs before, after and reliability")
    index_sd = csd if sd is None else _positive("sd", sd)
    rc = reliable_change(before, after, sd=index_sd, reliability=reliability, criterion=criterion)
    rules = _free_rules(direction, rc.s_diff, rc.criterion, c)
    pairs = _pairs(before, after)
    if pairs.index is None:
        reliable = _reliable(rules, pairs.x1, pairs.x2)[1]
        return result._replace(
            before=pairs.x1,
            after=pairs.x2,
            s_diff=rc.s_diff,
            rci=rc.rci,
            reliable=rc.reliable,
            crossed_c=_crossed(rules, pairs.x1, pairs.x2),
            classification=_significance(rules, pairs.x1, pairs.x2, reliable),
            sd=index_sd,
            reliability=rc.reliability,
            criterion=rc.criterion,
        )
    x1, x2, index, na = pairs
    o = _vector_outcomes(rules, x1, x2)
    with _nan_quiet():
        crossed = ~_functional(rules, c, x1) & _functional(rules, c, x2)
    return result._replace(
        before=rc.before,
        after=rc.after,
        s_diff=rc.s_diff,
        rci=rc.rci,
        reliable=rc.reliable,
        crossed_c=_series(crossed, na, index, "bool"),
        classification=_series(o.significance, na, index, "category", SIGNIFICANCE),
        sd=index_sd,
        reliability=rc.reliability,
        criterion=rc.criterion,
    )


def _nan_quiet() -> Any:
    """numpy's context that silences comparisons with NaN (missing scores)."""
    import numpy as np

    return np.errstate(invalid="ignore")


# --- longitudinal DataFrames ---------------------------------------------------------------------
#
# One sort of the usable rows by (client, date, input position), then numpy on the sorted arrays:
# group starts and ends stand in for groupby, a shifted array for the previous administration,
# `reduceat` for the best score. No Python loop runs per client or per row.

_REASONS = (
    "",
    "client missing",
    "date missing or not an ISO 8601 date",
    "marked invalid",
    "score missing",
    "score is not a number",
    "score outside {range} (scale '{scale}')",
    "score is not a whole number (scale '{scale}' scores whole numbers)",
    "duplicate: a later row has the same client and date",
)
_DUPLICATE = len(_REASONS) - 1


def _reasons(rules: Rules) -> list[str]:
    """The exclusion reasons, in code order, worded for this scale."""
    span = f"{number(rules.low)}-{number(rules.high)}"
    return [r.format(range=span, scale=rules.scale) for r in _REASONS[1:]]


class _Sorted(NamedTuple):
    """The usable administrations sorted by client and date, and why the others were excluded."""

    reason: Any  # int8 per input row: 0 used, else an index into _REASONS
    codes: Any  # int64 client code per input row (-1: missing)
    clients: Any  # the client labels, by code
    order: Any  # input positions of the used rows, sorted by (client, date, position)
    scores: Any  # float64, sorted
    dates: Any  # datetime64, sorted
    values: Any  # float64 per input row (NaN: not a number)
    starts: Any  # first sorted position of each client
    ends: Any  # last sorted position of each client
    group: Any  # the client's group number, per sorted position


def _sorted_rows(
    df: pd.DataFrame,
    rules: Rules,
    *,
    client: str,
    date: str,
    score: str,
    valid: str | pd.Series | None,
) -> _Sorted:
    import numpy as np
    import pandas as pd

    for name in (client, date, score, *([valid] if isinstance(valid, str) else [])):
        if name not in df.columns:
            raise KeyError(f"no column '{name}' (columns: {', '.join(map(str, df.columns))})")
    n = len(df)
    try:
        codes, clients = pd.factorize(df[client], sort=True)
    except TypeError:  # labels of mixed types cannot be sorted: first appearance instead
        codes, clients = pd.factorize(df[client], sort=False)
    codes = np.asarray(codes, dtype=np.int64)

    dates = datetimes(df[date]).to_numpy()

    raw = df[score]
    missing = raw.isna().to_numpy(dtype=bool)
    if pd.api.types.is_bool_dtype(raw):
        values = np.full(n, np.nan)
    else:
        values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        if raw.dtype == object:
            # a boolean is not a score, even among numbers (to_numpy may give a read-only view)
            values = values.copy()
            booleans = np.fromiter(
                (type(v).__name__ in ("bool", "bool_") for v in raw), dtype=bool, count=n
            )
            values[booleans] = np.nan

    whole = getattr(raw.dtype, "kind", "O") in "iu"  # plain integers: never NaN or fractional
    none = np.zeros(n, dtype=bool)
    reason = np.zeros(n, dtype=np.int8)
    checks: list[Any] = [
        codes < 0,
        np.isnat(dates),
        ~_valid_mask(df, valid) if valid is not None else none,
        missing,
        none if whole else np.isnan(values),
        (values < rules.low - _EPS) | (values > rules.high + _EPS),
        none,
    ]
    if rules.integral and not whole:
        with np.errstate(invalid="ignore"):
            checks[-1] = np.isfinite(values) & (values != np.round(values))
    for code, failed in enumerate(checks, start=1):  # the first failing check gives the reason
        if failed is not none and failed.any():
            reason[(reason == 0) & failed] = code

    used = np.flatnonzero(reason == 0)
    if len(used) == n:  # every row usable: no copies of the whole columns
        order = _client_date_order(codes, dates, len(clients))
    else:
        order = used[_client_date_order(codes[used], dates[used], len(clients))]
    # duplicate client and date: the last row in input order stands (a later entry corrects
    # an earlier one); the stable sorts put it last among its equals
    sorted_codes, sorted_dates = codes[order], dates[order]
    same = (sorted_codes[:-1] == sorted_codes[1:]) & (sorted_dates[:-1] == sorted_dates[1:])
    if same.any():
        reason[order[:-1][same]] = _DUPLICATE
        keep = np.append(~same, True)
        order, sorted_codes, sorted_dates = order[keep], sorted_codes[keep], sorted_dates[keep]

    start = np.ones(len(order), dtype=bool)
    start[1:] = sorted_codes[1:] != sorted_codes[:-1]
    starts = np.flatnonzero(start)
    ends = np.append(starts[1:], len(order))[: len(starts)] - 1
    return _Sorted(
        reason,
        codes,
        clients,
        order,
        values[order],
        sorted_dates,
        values,
        starts,
        ends,
        np.cumsum(start) - 1,
    )


def datetimes(when: pd.Series) -> pd.Series:
    """Dates as change is read: datetimes, or ISO 8601 text of a whole calendar date (and a
    time, if any), on one UTC timeline (naive); anything else is NaT."""
    import numpy as np
    import pandas as pd

    # text must be ISO 8601: a guess per string would read 12/02 as December in one row and
    # 13/01 as January in the next, reordering a client's administrations; mixed UTC offsets
    # (daylight saving) and time zones are brought to UTC
    if pd.api.types.is_datetime64_any_dtype(when):
        pass  # datetimes as they are (time zones brought to UTC below)
    elif pd.api.types.infer_dtype(when, skipna=True) == "string":
        text, when = when, pd.to_datetime(when, errors="coerce", format="ISO8601", utc=True)
        # a year or a month alone ("2024", "2024-02") reads as its first day at midnight:
        # only such readings are checked against their text
        at = np.flatnonzero((when.dt.day == 1) & (when == when.dt.floor("D")))
        if len(at):
            cells = text.iloc[at].to_numpy(dtype=object)
            alone = np.zeros(len(when), dtype=bool)
            alone[at[[not _is_date(cell) for cell in cells]]] = True
            when = when.mask(alone)
    else:  # numbers, mixed types: each distinct value judged once
        codes, distinct = pd.factorize(when)
        read = pd.Series([v if _is_date(v) else None for v in distinct], dtype=object)
        parsed = pd.to_datetime(read, errors="coerce", format="ISO8601", utc=True)
        when = pd.Series(parsed.array.take(codes, allow_fill=True), index=when.index)
    if isinstance(when.dtype, pd.ArrowDtype) and getattr(when.dtype.pyarrow_dtype, "tz", None):
        when = pd.to_datetime(when, utc=True)  # an Arrow timestamp with a time zone: as below
    if isinstance(when.dtype, pd.DatetimeTZDtype):
        when = when.dt.tz_convert("UTC").dt.tz_localize(None)
    return when


def _is_date(value: Any) -> bool:
    """A datetime, or text that starts with a whole calendar date. A number is no date (2024
    would read as 1 January 2024, and 20240105 as a day), nor is a year or a month alone
    ("2024", "2024-02"), which ISO 8601 allows but which would be taken for its first day."""
    import datetime as dt

    import numpy as np

    if isinstance(value, str):
        return _WHOLE_DATE.match(value) is not None
    if isinstance(value, np.datetime64):  # a day or finer: not a month ("2024-02") or a year
        return np.datetime_data(value.dtype)[0] in ("D", "h", "m", "s", "ms", "us", "ns")
    return isinstance(value, dt.date)


_WHOLE_DATE = re.compile(r"\s*(?:\d{4}-\d{1,2}-\d{1,2}|\d{8})(?![\d-])")


def _client_date_order(codes: Any, dates: Any, clients: int) -> Any:
    """The positions that sort rows by client, then date, then position."""
    import numpy as np
    import pandas as pd

    n = len(codes)
    if n == 0:
        return np.arange(0)
    day, days = pd.factorize(dates, sort=True)
    if clients * len(days) < 2**32:
        # (client, date) in 32 bits: two stable passes over 16-bit digits (numpy sorts 16-bit
        # keys by radix), stable, so equal keys keep their input order
        key = codes.astype(np.uint32) * np.uint32(len(days)) + day.astype(np.uint32)
        order = np.argsort((key & 0xFFFF).astype(np.uint16), kind="stable")
        return order[np.argsort((key[order] >> 16).astype(np.uint16), kind="stable")]
    if clients * len(days) * n < 2**63:  # exact in Python ints
        # one quicksort on a unique key is several times faster than two stable sorts
        key = (codes * len(days) + day) * n + np.arange(n)
        return np.argsort(key)
    order = np.argsort(dates, kind="stable")
    return order[np.argsort(codes[order], kind="stable")]


def _valid_mask(df: pd.DataFrame, valid: str | pd.Series | None) -> Any:
    import numpy as np
    import pandas as pd

    if valid is None:
        return np.ones(len(df), dtype=bool)
    if isinstance(valid, str):
        flags = df[valid]
    elif not isinstance(valid, pd.Series):
        raise TypeError(
            "valid must be a column name or a boolean Series on the frame's index "
            f"(got {type(valid).__name__})"
        )
    elif valid.index.equals(df.index):
        flags = valid
    else:  # a Series lines up on the index; a row it has no label for is a mistake, not False
        absent = df.index[~df.index.isin(valid.index)].tolist()
        twice = valid.index[valid.index.duplicated()].tolist()
        if absent or twice:
            problem = (
                f"has no label for {len(absent)} of the frame's rows (first: {absent[0]!r})"
                if absent
                else f"has the label {twice[0]!r} twice"
            )
            raise ValueError(
                f"valid {problem}: it is read by the frame's index; pass a Series on that "
                "index, or the name of a column"
            )
        flags = valid.reindex(df.index)
    # a missing validity counts as invalid: an administration is used only when known good
    return flags.astype("boolean").fillna(False).to_numpy(dtype=bool)


class _Outcomes(NamedTuple):
    """The outcomes of many (before, after) pairs: values with a mask of unavailable ones."""

    difference: Any
    percent: Any
    rci: Any  # float64, NaN where there is no index
    reliable: Any  # int8 codes into RELIABLE, -1 unavailable
    significance: Any  # int8 codes into SIGNIFICANCE, -1 unavailable
    response: tuple[Any, Any]  # (values, unavailable)
    remission: tuple[Any, Any]
    case_before: tuple[Any, Any]
    case_after: tuple[Any, Any]
    recovery: tuple[Any, Any]
    reliable_recovery: tuple[Any, Any]


def _vector_outcomes(rules: Rules, x1: Any, x2: Any) -> _Outcomes:
    """`_change` over arrays, with the same comparisons, so both paths agree row by row."""
    import numpy as np

    n = len(x1)
    none = np.ones(n, dtype=bool)
    absent = (np.zeros(n, dtype=bool), none)
    rci, reliable = _vector_reliable(rules, x1, x2)

    significance = np.full(n, -1, dtype=np.int8)
    if rules.cutoff is not None and (rules.s_diff is not None or rules.threshold is not None):
        crossed = ~_functional(rules, rules.cutoff, x1) & _functional(rules, rules.cutoff, x2)
        improved = np.where(crossed, 0, 1)
        significance = np.select([reliable == 0, reliable == 1], [improved, 3], 2).astype(np.int8)

    response = absent
    if rules.response is not None:
        with np.errstate(invalid="ignore"):
            met = _responded(rules, x1, x2)
        response = (met, ~(x1 > 0))
    case_before = _vector_within(rules.caseness, x1)
    case_after = _vector_within(rules.caseness, x2)
    remission = _vector_within(rules.remission, x2)
    recovery = absent
    reliable_recovery = absent
    if rules.caseness is not None:
        recovered = case_before[0] & ~case_after[0]
        recovery = (recovered, np.zeros(n, dtype=bool))
        if rules.s_diff is not None or rules.threshold is not None:
            reliable_recovery = (recovered & (reliable == 0), np.zeros(n, dtype=bool))
        # as in `_change`: judged for cases only
        not_case = ~case_before[0]
        response, remission, recovery, reliable_recovery = (
            (values & ~not_case, unavailable | not_case)
            for values, unavailable in (response, remission, recovery, reliable_recovery)
        )
    return _Outcomes(
        x2 - x1,
        _vector_percent(x1, x2),
        rci,
        reliable,
        significance,
        response,
        remission,
        case_before,
        case_after,
        recovery,
        reliable_recovery,
    )


def _vector_reliable(rules: Rules, x1: Any, x2: Any) -> tuple[Any, Any]:
    """RCI (NaN without the index) and reliable-change codes into RELIABLE (-1: unavailable)."""
    import numpy as np

    n = len(x1)
    parts = _reliable_parts(rules, x1, x2)
    if parts is None:
        return np.full(n, np.nan), np.full(n, -1, dtype=np.int8)
    rci, improved, deteriorated = parts
    codes = np.where(improved, 0, np.where(deteriorated, 1, 2)).astype(np.int8)
    return (np.full(n, np.nan) if rci is None else rci), codes


def _vector_percent(x1: Any, x2: Any) -> Any:
    import numpy as np

    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x1 != 0, (x2 - x1) / x1 * 100, np.nan)


def _vector_within(bounds: tuple[float | None, float | None] | None, x: Any) -> tuple[Any, Any]:
    import numpy as np

    n = len(x)
    if bounds is None:
        return np.zeros(n, dtype=bool), np.ones(n, dtype=bool)
    return np.broadcast_to(_inside(bounds, x), (n,)).copy(), np.zeros(n, dtype=bool)


def _floats(values: Any, na: Any) -> Any:
    import numpy as np

    from .arrays import OutColumn
    from .pandas_io import to_pandas

    # values under the mask are never read; NaN from arithmetic is missing too
    return to_pandas(OutColumn("float", values, na | np.isnan(values), "Float64"))


def _ints(values: Any, na: Any) -> Any:
    import numpy as np

    from .arrays import OutColumn
    from .pandas_io import to_pandas

    return to_pandas(OutColumn("int", np.where(na, 0, values), na, "Int64"))


def _bools(pair: tuple[Any, Any], na: Any) -> Any:
    import numpy as np

    from .arrays import OutColumn
    from .pandas_io import to_pandas

    values, unavailable = pair
    na = na | unavailable
    return to_pandas(OutColumn("bool", np.where(na, False, values), na))


def _labels(codes: Any, na: Any, labels: Sequence[str]) -> Any:
    from .arrays import OutColumn
    from .pandas_io import to_pandas

    return to_pandas(OutColumn("category", codes, na, categories=tuple(labels), ordered=False))


def _scatter(n: int, positions: Any, values: Any, fill: Any) -> Any:
    """An array of length n with `values` at `positions` and `fill` elsewhere."""
    import numpy as np

    out = np.full(n, fill, dtype=np.asarray(values).dtype)
    out[positions] = values
    return out


# --- non-linear recovery: the best so far and sudden gains, on the sorted rows -----------------
#
# Sudden gains (Tang TZ, DeRubeis RJ. Sudden gains and critical sessions in cognitive-behavioral
# therapy for depression. J Consult Clin Psychol 1999;67(6):894-904): a gain from administration
# N to N+1 is sudden when (1) it is large in absolute terms, (2) it is at least 25% of the score
# at N, and (3) the mean of N-2, N-1, N is higher than the mean of N+1, N+2, N+3 by more than
# the critical t (df 4: 2.776) times the pooled SD of the two sets. Where fewer than three
# administrations exist on a side, at least two are needed and the critical value follows the
# degrees of freedom (Lutz W et al. Psychother Res 2013;23(1):14-24; as the R package
# suddengains, Wiedemann et al. PLoS ONE 2020;15(3):e0230276). A sudden loss mirrors a gain.

SUDDEN_SHARE = 0.25
"""Criterion 2 of Tang & DeRubeis (1999): the gain is at least 25% of the pregain score."""

T_CRITICAL = {2: 4.302653, 3: 3.182446, 4: 2.776445}
"""Two-tailed 5% critical values of Student's t by degrees of freedom (n_pre + n_post - 2)."""

# t² / dof by the number of administrations compared (n_pre + n_post = dof + 2: 4, 5 or 6)
_T_SQUARED_OVER_DOF = (math.nan,) * 4 + tuple(T_CRITICAL[d] ** 2 / d for d in (2, 3, 4))


class _Sudden(NamedTuple):
    gain: Any  # bool per sorted position: the change into this administration is a sudden gain
    gain_na: Any
    loss: Any
    loss_na: Any


def _stable(rules: Rules, rows: _Sorted, candidates: Any) -> tuple[Any, Any, Any]:
    """Criterion 3 at the candidate positions: (judged, a stable gain, a stable loss), each a
    boolean per sorted position (False away from the candidates)."""
    import numpy as np

    scores, group, starts, ends = rows.scores, rows.group, rows.starts, rows.ends
    m = len(scores)
    judged = np.zeros(m, dtype=bool)
    stable_gain = np.zeros(m, dtype=bool)
    stable_loss = np.zeros(m, dtype=bool)
    if len(candidates):
        # each client's administrations are contiguous, so the (up to) three on each side are
        # a run: sums and sums of squares come from two running totals, no per-client loop
        owner = group[candidates]
        left = candidates - starts[owner]  # administrations before: N-2 .. N
        np.minimum(left, 3, out=left)
        right = ends[owner] - candidates + 1  # this one and after: N+1 .. N+3
        np.minimum(right, 3, out=right)
        both = (left >= 2) & (right >= 2)
        judged[candidates] = both
        at, left, right = candidates[both], left[both], right[both]
        total = np.concatenate(([0.0], np.cumsum(scores)))
        squares = np.concatenate(([0.0], np.cumsum(scores * scores)))
        s1, q1 = total[at] - total[at - left], squares[at] - squares[at - left]
        s2, q2 = total[at + right] - total[at], squares[at + right] - squares[at]
        m1, m2 = s1 / left, s2 / right
        # (n - 1) * sample variance = sum of squares - n * mean^2 (never below 0); the test
        # mean difference > t * pooled SD, squared: difference² > t² * spread / dof
        spread = np.maximum(q1 - s1 * m1, 0) + np.maximum(q2 - s2 * m2, 0)
        bound = np.asarray(_T_SQUARED_OVER_DOF)[left + right] * spread
        apart = rules.worse * (m1 - m2)  # positive: better after
        far = apart * apart > bound + _EPS
        stable_gain[at] = (apart > _EPS) & far
        stable_loss[at] = (apart < -_EPS) & far
    return judged, stable_gain, stable_loss


def _sudden(
    rules: Rules,
    rows: _Sorted,
    previous: Any,
    gain_points: float | None,
    reliable: Any = None,
) -> _Sudden | None:
    """Sudden gains and losses into each sorted administration (None: no criterion 1).

    `previous` is the client's previous score at each position (NaN at a baseline), `reliable`
    the reliable-change codes from it when already computed. Criteria 1 and 2 are judged
    everywhere; criterion 3, which reads three administrations on each side,
    only where the first two hold (a few rows in a hundred), by index arithmetic.
    """
    import numpy as np

    if not rules.worse or (gain_points is None and rules.reliable_points is None):
        return None
    scores = rows.scores
    m = len(scores)
    first = np.isnan(previous)  # a baseline: no interval ends here
    improvement = _improvement(rules, previous, scores)  # positive: towards health
    with np.errstate(invalid="ignore"):
        if gain_points is None and reliable is not None:  # codes into RELIABLE, given
            big_gain, big_loss = reliable == 0, reliable == 1
        elif gain_points is None:  # a reliable change, by the definition's rule
            parts = _reliable_parts(rules, previous, scores)
            assert parts is not None
            big_gain, big_loss = parts[1], parts[2]
        else:
            big_gain = improvement >= gain_points - _EPS
            big_loss = -improvement >= gain_points - _EPS
        # criterion 2 measures from the healthy end of the scale (0 on the BDI and the PHQ-9)
        end = rules.low if rules.worse > 0 else rules.high
        room = rules.worse * (previous - end) if math.isfinite(end) else np.full(m, np.nan)
        share_gain = improvement >= SUDDEN_SHARE * room - _EPS
        share_loss = -improvement >= SUDDEN_SHARE * room - _EPS
    known_room = ~np.isnan(room)
    open_gain = big_gain & (share_gain | ~known_room)
    open_loss = big_loss & (share_loss | ~known_room)
    candidates = np.flatnonzero((open_gain | open_loss) & ~first)
    judged, stable_gain, stable_loss = _stable(rules, rows, candidates)
    known_room = ~np.isnan(room)

    def three_valued(big: Any, share: Any, stable: Any) -> tuple[Any, Any]:
        # False once a judged criterion fails; undetermined when none fails and one cannot be
        # judged (fewer than two administrations on a side, or no scale end for criterion 2)
        holds = big & known_room & share & judged & stable
        fails = ~big | (known_room & ~share) | (judged & ~stable)
        return holds & ~first, first | ~(holds | fails)

    gain, gain_na = three_valued(big_gain, share_gain, stable_gain)
    loss, loss_na = three_valued(big_loss, share_loss, stable_loss)
    return _Sudden(gain, gain_na, loss, loss_na)


def _running_best(rules: Rules, scores: Any, group: Any) -> Any:
    """The best score of each client up to and including each sorted position."""
    import numpy as np
    import pandas as pd

    m = len(scores)
    if not rules.worse or m == 0:
        return np.full(m, np.nan)
    y = rules.worse * scores  # the best is the lowest of y
    if np.array_equal(y, np.round(y)) and m * (np.ptp(y) + 1) < 2**52:
        # whole numbers: lower each client's scores below every earlier client's, so one
        # running minimum over the whole array restarts at each client (exact in float64)
        span = np.ptp(y) + 1
        offset = group * span
        return rules.worse * (np.minimum.accumulate(y - offset) + offset)
    return rules.worse * pd.Series(y).groupby(group).cummin().to_numpy()


def change_frame(
    df: pd.DataFrame,
    instrument: Instrument | str,
    *,
    client: str = "client",
    date: str = "date",
    score: str = "score",
    valid: str | pd.Series | None = None,
    scale: str = "total",
    override: Mapping[str, Any] | None = None,
    gain_points: float | None = None,
) -> pd.DataFrame:
    """Change from baseline, from the previous and from the best earlier administration, one
    row per input row, with sudden gains and losses.

    `df` holds one administration of one instrument per row: the client, the date and the
    scale score (`score_frame`'s output joined to the input works: `score="total"`,
    `valid="valid"`); for several instruments, call once per instrument. Rows may come in any
    order. The result has the input's index, every row in input order, and only new columns,
    so `df.join(change_frame(df, "phq9"))` lines them up.

    Dates are datetimes or ISO 8601 text of a whole calendar date, a time optional (offsets
    and time zones are put on one UTC timeline); a number, a year or a month alone ("2024",
    "2024-02") and other text, such as 13/01/2024, are excluded with that reason rather than
    guessed.
    A row is excluded from change, with the reason in `excluded`, when its client, date or score
    is missing, `valid` (a boolean column's name, or a Series read by the frame's index, with a
    label for every row; a missing value counts as invalid) is false,
    or its score is outside the scale's range (or fractional on a whole-number scale). When a
    client has several usable rows at the same date (the same timestamp), the last one in input
    order stands and the earlier ones are excluded as duplicates. Among
    the rest, a client's first administration by date is the baseline; the baseline row itself
    carries no change. Columns: `administration` (1, 2, ... per client), `excluded`,
    `days_since_baseline`, `baseline`, `change_from_baseline`, `percent_change_from_baseline`,
    `rci_from_baseline`, `reliable_from_baseline`, `previous`, `change_from_previous`,
    `rci_from_previous`, `reliable_from_previous`, `previous_best` (the best earlier score:
    lowest where higher is worse), `change_from_previous_best`, `sudden_gain` and
    `sudden_loss` (the change from the previous administration meets Tang & DeRubeis' three
    criteria; missing where it cannot be judged: fewer than two administrations on a side, see
    docs/change.md) and `case`. Criterion 1 (the size of the gain) is a reliable change by the
    definition's rule, or a gain of at least `gain_points`. `override` gives the caller's
    change parameters (see `scale_rules`). Outcomes the definition lacks parameters for are
    missing, and listed in `.attrs["unavailable"]` with the reason; `.attrs["overrides"]` lists
    the caller's parameters.
    """
    import numpy as np
    import pandas as pd

    rules = scale_rules(instrument, scale, override=override)
    if gain_points is not None:
        gain_points = _positive("gain_points", gain_points)
    rows = _sorted_rows(df, rules, client=client, date=date, score=score, valid=valid)
    n, m = len(df), len(rows.order)
    scores, group, starts = rows.scores, rows.group, rows.starts
    first = np.zeros(m, dtype=bool)
    first[starts] = True
    previous = np.empty(m)
    previous[1:] = scores[:-1]
    previous[first] = np.nan
    best = _running_best(rules, scores, group)
    previous_best = np.empty(m)
    previous_best[1:] = best[:-1]
    previous_best[first] = np.nan
    base_dates = rows.dates[starts][group]
    # from the previous administration, on the sorted rows: sudden gains read it too
    rci_step, reliable_step = _vector_reliable(rules, previous, scores)
    sudden = _sudden(rules, rows, previous, gain_points, reliable_step)

    # the sorted quantities go back to input order once each; the rest is computed there
    def put(values: Any, fill: Any = np.nan) -> Any:
        return _scatter(n, rows.order, values, fill)

    used = put(np.ones(m, dtype=bool), False)
    x = rows.values if m == n else np.where(used, rows.values, np.nan)
    baseline = put(scores[starts][group])
    before = put(previous)
    carried = put(~first, False)  # a used row after its client's baseline
    not_base = ~carried  # excluded rows and baselines carry no change
    days = put((rows.dates - base_dates) / np.timedelta64(1, "D"))
    prior_best = put(previous_best)
    rci_base, reliable_base = _vector_reliable(rules, baseline, x)
    rci_prev = put(rci_step) if rules.s_diff is not None else np.full(n, np.nan)
    reliable_prev = put(reliable_step, -1)
    case, no_case = _vector_within(rules.caseness, x)
    reliable_na = rules.reliable_points is None
    unavailable = [u.to_dict() for u in rules.missing]
    if sudden is None:
        gain = loss = (np.zeros(n, dtype=bool), np.ones(n, dtype=bool))
        why = (
            "no direction: the definition gives no change block"
            if not rules.worse
            else f"needs a gain size: no change.{rules.scale}.reliable_change in "
            f"{rules.instrument}; pass gain_points="
        )
        unavailable += [{"outcome": name, "reason": why} for name in ("sudden_gain", "sudden_loss")]
    else:
        gain = (put(sudden.gain, False), ~put(~sudden.gain_na, False))
        loss = (put(sudden.loss, False), ~put(~sudden.loss_na, False))
    if not rules.worse:
        unavailable.append({"outcome": "previous_best", "reason": "no direction: no change block"})
    columns: dict[str, Any] = {
        "administration": _ints(put(np.arange(m) - starts[group] + 1, 0), ~used),
        "excluded": _labels(rows.reason.astype(np.int64) - 1, ~(rows.reason > 0), _reasons(rules)),
        "days_since_baseline": _floats(days, ~used),
        "baseline": _floats(baseline, ~used),
        "change_from_baseline": _floats(x - baseline, not_base),
        "percent_change_from_baseline": _floats(_vector_percent(baseline, x), not_base),
        "rci_from_baseline": _floats(rci_base, not_base),
        "reliable_from_baseline": _labels(reliable_base, not_base | reliable_na, RELIABLE),
        "previous": _floats(before, ~used),
        "change_from_previous": _floats(x - before, not_base),
        "rci_from_previous": _floats(rci_prev, not_base),
        "reliable_from_previous": _labels(reliable_prev, not_base | reliable_na, RELIABLE),
        "previous_best": _floats(prior_best, not_base),
        "change_from_previous_best": _floats(x - prior_best, not_base),
        "sudden_gain": _bools(gain, not_base),
        "sudden_loss": _bools(loss, not_base),
        "case": _bools((case, no_case), ~used),
    }
    # the arrays are new and owned here: no copy
    out = pd.DataFrame(columns, index=df.index, copy=False)
    out.attrs["unavailable"] = unavailable
    out.attrs["overrides"] = [o.to_dict() for o in rules.overrides]
    return out


class _Clients(NamedTuple):
    """Baseline-to-latest outcomes of every client with an administration, in client order."""

    rules: Rules
    rows: _Sorted
    present: Any  # client code of each group
    count: Any  # administrations used, per group
    x1: Any
    x2: Any
    outcomes: _Outcomes


def _clients(
    df: pd.DataFrame,
    instrument: Instrument | str,
    *,
    client: str,
    date: str,
    score: str,
    valid: str | pd.Series | None,
    scale: str,
    override: Mapping[str, Any] | None,
) -> _Clients:
    rules = scale_rules(instrument, scale, override=override)
    rows = _sorted_rows(df, rules, client=client, date=date, score=score, valid=valid)
    starts, ends = rows.starts, rows.ends
    x1, x2 = rows.scores[starts], rows.scores[ends]
    return _Clients(
        rules,
        rows,
        rows.codes[rows.order][starts],
        ends - starts + 1,
        x1,
        x2,
        _vector_outcomes(rules, x1, x2),
    )


def _first_reliable_improvement(
    rules: Rules, rows: _Sorted, present: Any, k: int
) -> tuple[Any, Any]:
    """Per client: the first administration reliably better than baseline (0: none) and the
    days to it (NaN: none)."""
    import numpy as np

    scores, dates, starts, group = rows.scores, rows.dates, rows.starts, rows.group
    baseline = scores[starts][group]
    parts = _reliable_parts(rules, baseline, scores)
    first_at = np.full(k, 0, dtype=np.int64)
    first_days = np.full(k, np.nan)
    if parts is not None:
        hits = np.flatnonzero(parts[1])
        if len(hits):
            owner = group[hits]
            keep = np.append(True, owner[1:] != owner[:-1])
            hits, owner = hits[keep], owner[keep]
            first_at[present[owner]] = hits - starts[owner] + 1
            first_days[present[owner]] = (dates[hits] - dates[starts[owner]]) / np.timedelta64(
                1, "D"
            )
    return first_at, first_days


def client_summary(
    df: pd.DataFrame,
    instrument: Instrument | str,
    *,
    client: str = "client",
    date: str = "date",
    score: str = "score",
    valid: str | pd.Series | None = None,
    scale: str = "total",
    override: Mapping[str, Any] | None = None,
    gain_points: float | None = None,
) -> pd.DataFrame:
    """One row per client: first (baseline) and latest administration and the change between.

    Rows are read as in `change_frame` (same exclusions, same duplicate rule); clients are the
    index, sorted. Columns: `n_administrations` (used) and `n_excluded` (counts), `baseline`,
    `baseline_date`, `latest`, `latest_date`, `best` (lowest where higher is worse, highest
    where higher is better), `days_in_treatment`, and for clients with at least two
    administrations, baseline to latest: `change`, `percent_change`, `rci`, `reliable`,
    `clinical_significance`, `response`, `remission`, `recovery` and `reliable_recovery`;
    `case_baseline` and `case_latest` for every client with an administration. Recovery,
    reliable recovery, response and remission are judged for clients at caseness at baseline
    only (missing for the others), so the mean of a column is the rate among those it applies
    to. The course: `first_reliable_improvement` (the first administration reliably better
    than baseline), `days_to_reliable_improvement`, and `sudden_gains` and `sudden_losses`
    (counts, as `change_frame` finds them). A client with one administration has no change;
    one whose every row was excluded has only counts. Outcomes the definition lacks
    parameters for are missing, listed in `.attrs["unavailable"]`.
    """
    import numpy as np
    import pandas as pd

    got = _clients(
        df,
        instrument,
        client=client,
        date=date,
        score=score,
        valid=valid,
        scale=scale,
        override=override,
    )
    if gain_points is not None:
        gain_points = _positive("gain_points", gain_points)
    rules, rows, present, count, o = got.rules, got.rows, got.present, got.count, got.outcomes
    k = len(rows.clients)
    scores, dates, starts, ends, group = rows.scores, rows.dates, rows.starts, rows.ends, rows.group
    if len(starts) and rules.worse:
        best = (np.minimum if rules.worse > 0 else np.maximum).reduceat(scores, starts)
    else:
        best = np.full(len(starts), np.nan)
    days = (dates[ends] - dates[starts]) / np.timedelta64(1, "D")

    def put(values: Any, fill: Any = np.nan) -> Any:
        return _scatter(k, present, values, fill)

    seen = put(np.ones(len(starts), dtype=bool), False)
    single = ~put(count >= 2, False)  # no change without a second administration
    excluded = rows.codes[(rows.reason > 0) & (rows.codes >= 0)]

    def flag(pair: tuple[Any, Any], na: Any = single) -> Any:
        return _bools((put(pair[0], False), put(pair[1], True)), na)

    start_dates = np.full(k, np.datetime64("NaT"), dtype=dates.dtype)
    start_dates[present] = dates[starts]
    end_dates = np.full(k, np.datetime64("NaT"), dtype=dates.dtype)
    end_dates[present] = dates[ends]
    no_index = rules.reliable_points is None

    first_at, first_days = _first_reliable_improvement(rules, rows, present, k)
    previous = np.empty(len(scores))
    previous[1:] = scores[:-1]
    previous[starts] = np.nan
    sudden = _sudden(rules, rows, previous, gain_points)
    if sudden is None:
        gains = losses = np.zeros(k, dtype=np.int64)
    else:
        gains = np.bincount(present[group[sudden.gain]], minlength=k)
        losses = np.bincount(present[group[sudden.loss]], minlength=k)
    columns: dict[str, Any] = {
        "n_administrations": put(count, 0).astype(np.int64),
        "n_excluded": np.bincount(excluded, minlength=k).astype(np.int64),
        "baseline": _floats(put(got.x1), ~seen),
        "baseline_date": start_dates,
        "latest": _floats(put(got.x2), ~seen),
        "latest_date": end_dates,
        "best": _floats(put(best), ~seen | (rules.worse == 0)),
        "days_in_treatment": _floats(put(days), ~seen),
        "change": _floats(put(o.difference), single),
        "percent_change": _floats(put(o.percent), single),
        "rci": _floats(put(o.rci), single),
        "reliable": _labels(put(o.reliable, -1), single | no_index, RELIABLE),
        "clinical_significance": _labels(put(o.significance, -1), single, SIGNIFICANCE),
        "response": flag(o.response),
        "remission": flag(o.remission),
        "case_baseline": flag(o.case_before, ~seen),  # caseness needs one administration
        "case_latest": flag(o.case_after, ~seen),
        "recovery": flag(o.recovery),
        "reliable_recovery": flag(o.reliable_recovery),
        "first_reliable_improvement": _ints(first_at, (first_at == 0) | single | no_index),
        "days_to_reliable_improvement": _floats(first_days, (first_at == 0) | single | no_index),
        "sudden_gains": _ints(gains, single | (sudden is None)),
        "sudden_losses": _ints(losses, single | (sudden is None)),
    }
    out = pd.DataFrame(columns, index=pd.Index(rows.clients, name=client), copy=False)
    out.attrs["unavailable"] = [u.to_dict() for u in rules.missing]
    if rules.worse == 0:
        out.attrs["unavailable"].append(
            {"outcome": "best", "reason": "no direction: the definition gives no change block"}
        )
    out.attrs["overrides"] = [o.to_dict() for o in rules.overrides]
    return out


# --- group outcomes: the table a service reports --------------------------------------------------
#
# NHS Talking Therapies (NHS Digital, Psychological Therapies: reports on the use of IAPT
# services, "Outcomes"): a referral that finished a course of treatment has a first and a last
# score; recovery rate = recovered / (finished - not at caseness at the start); reliable
# improvement rate = reliably improved / finished; reliable recovery among those at caseness at
# the start; reliable deterioration among all who finished. Response and remission are judged
# for baseline cases (as `measure_change` judges them). Here a client "finished" when they have a
# baseline and a later usable administration; the last is the end of treatment.

GROUP_OUTCOMES = (
    "reliable_improvement",
    "reliable_deterioration",
    "recovery",
    "reliable_recovery",
    "response",
    "remission",
)

POPULATIONS = {
    "changed": "clients with a baseline and a later administration",
    "cases": "of those, clients at caseness at baseline",
    "responders": "of those, clients at caseness at baseline with a baseline above 0",
}


def wilson_interval(count: Any, total: Any, confidence: float = 0.95) -> tuple[Any, Any]:
    """The Wilson score interval of a proportion count/total (Wilson EB. Probable inference, the
    law of succession, and statistical inference. J Am Stat Assoc 1927;22(158):209-212):
    (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n), z the standard normal quantile at
    1 - (1 - confidence)/2. Numbers or numpy arrays; NaN where total is 0.

    >>> [round(x, 4) for x in wilson_interval(81, 263)]   # Newcombe 1998, Table II
    [0.2553, 0.3662]
    """
    from statistics import NormalDist

    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, exclusive (got {confidence!r})")
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    if isinstance(count, numbers.Real) and isinstance(total, numbers.Real):
        k, t = float(count), float(total)
        if t <= 0:
            return math.nan, math.nan
        share = k / t
        middle = share + z * z / (2 * t)
        half = z * math.sqrt(share * (1 - share) / t + z * z / (4 * t * t))
        shrink = 1 + z * z / t
        return max(0.0, (middle - half) / shrink), min(1.0, (middle + half) / shrink)
    import numpy as np

    n: Any = np.asarray(total, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        p: Any = np.asarray(count, dtype=np.float64) / n
        centre = p + z * z / (2 * n)
        spread = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        scale = 1 + z * z / n
        low = np.clip((centre - spread) / scale, 0, 1)
        high = np.clip((centre + spread) / scale, 0, 1)
    return np.where(n > 0, low, np.nan), np.where(n > 0, high, np.nan)


def group_outcomes(
    df: pd.DataFrame,
    instrument: Instrument | str,
    *,
    client: str = "client",
    date: str = "date",
    score: str = "score",
    valid: str | pd.Series | None = None,
    scale: str = "total",
    override: Mapping[str, Any] | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Counts and rates of the outcomes a service reports, each with its denominator and a
    Wilson score interval, for one instrument (call once per instrument and `pd.concat`).

    Rows are read as in `change_frame`; each client's first usable administration is the
    baseline and the last the end. One row per outcome (the index): `reliable_improvement` and
    `reliable_deterioration` among clients with a baseline and a later administration,
    `recovery` and `reliable_recovery` among those at caseness at baseline (NHS Talking
    Therapies), `response` and `remission` among those at caseness at baseline (response also
    needs a baseline above 0). Columns: `count`, `denominator`, `rate` (count / denominator),
    `ci_low` and `ci_high` (Wilson, `confidence`), `population` (who the denominator counts)
    and `unavailable` (why an outcome the definition has no parameters for is missing; empty
    otherwise). `.attrs` holds the instrument, scale, clients and clients with change.
    """
    import numpy as np
    import pandas as pd

    got = _clients(
        df,
        instrument,
        client=client,
        date=date,
        score=score,
        valid=valid,
        scale=scale,
        override=override,
    )
    rules, o = got.rules, got.outcomes
    changed = got.count >= 2
    case = o.case_before[0] & ~o.case_before[1] & changed
    judged = {
        "reliable_improvement": (o.reliable == 0, o.reliable < 0, "changed", "reliable_change"),
        "reliable_deterioration": (o.reliable == 1, o.reliable < 0, "changed", "reliable_change"),
        "recovery": (*o.recovery, "cases", "recovery"),
        "reliable_recovery": (*o.reliable_recovery, "cases", "reliable_recovery"),
        "response": (*o.response, "responders", "response"),
        "remission": (*o.remission, "cases", "remission"),
    }
    reasons = {u.outcome: u.reason for u in rules.missing}
    counts = np.zeros(len(GROUP_OUTCOMES), dtype=np.int64)
    totals = np.zeros(len(GROUP_OUTCOMES), dtype=np.int64)
    missing = np.zeros(len(GROUP_OUTCOMES), dtype=bool)
    why: list[str] = []
    populations: list[str] = []
    for i, name in enumerate(GROUP_OUTCOMES):
        values, unavailable, population, rule = judged[name]
        populations.append(POPULATIONS[population])
        among = changed & ~unavailable
        if rule in reasons or (population != "changed" and rules.caseness is None):
            missing[i] = True
            why.append(reasons.get(rule, reasons.get("caseness", "")))
            continue
        why.append("")
        if population == "cases":
            among = among & case
        counts[i] = np.count_nonzero(values & among)
        totals[i] = np.count_nonzero(among)
    low, high = wilson_interval(counts, totals, confidence)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = counts / totals
    empty = missing | (totals == 0)
    out = pd.DataFrame(
        {
            "count": _ints(counts, missing),
            "denominator": _ints(totals, missing),
            "rate": _floats(rate, empty),
            "ci_low": _floats(low, empty),
            "ci_high": _floats(high, empty),
            "population": pd.array(populations, dtype=object),
            "unavailable": pd.array(why, dtype=object),
        },
        index=pd.Index(GROUP_OUTCOMES, name="outcome"),
    )
    out.attrs.update(
        instrument=rules.instrument,
        scale=rules.scale,
        clients=len(got.count),
        clients_with_change=int(np.count_nonzero(changed)),
        confidence=confidence,
        overrides=[o.to_dict() for o in rules.overrides],
    )
    return out


__all__ = [
    "GROUP_OUTCOMES",
    "OUTCOMES",
    "RELIABLE",
    "SIGNIFICANCE",
    "ChangeResult",
    "ClinicalSignificanceResult",
    "Override",
    "PairedChangeResult",
    "ReliableChangeResult",
    "Rules",
    "Unavailable",
    "change",
    "change_frame",
    "client_summary",
    "clinical_significance",
    "datetimes",
    "group_outcomes",
    "paired_change",
    "reliable_change",
    "scale_rules",
    "wilson_interval",
]
