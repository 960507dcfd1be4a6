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

import math
import numbers
from collections.abc import Sequence
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
# tolerance far below any score's resolution, so a change exactly at a threshold meets it.
_EPS = 1e-9


class Unavailable(NamedTuple):
    """An outcome that could not be judged, and why."""

    outcome: str
    reason: str

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

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        out = self._asdict()
        out["unavailable"] = [u.to_dict() for u in self.unavailable]
        return out


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

    @property
    def reliable_points(self) -> float | None:
        """The smallest change that counts as reliable (for the index: criterion * S_diff)."""
        if self.s_diff is not None:
            return self.criterion * self.s_diff
        return self.threshold


def scale_rules(instrument: Instrument | str, scale: str = "total") -> Rules:
    """The change rules of one scale of an instrument (`ValueError` for an unknown scale)."""
    inst = load_instrument(instrument)
    if scale not in inst.scales:
        raise ValueError(
            f"{inst.id} has no scale '{scale}' (scales: {', '.join(inst.scales)}); pass scale=..."
        )
    bounds = scale_range(inst, inst.scales[scale])
    low, high = bounds if bounds is not None else (-math.inf, math.inf)
    where = f"change.{scale}"
    given = scale in inst.change
    # no block: every rule absent, and the placeholder's direction is never read (worse = 0)
    spec = inst.change[scale] if given else ChangeSpec(direction="higher_is_worse")
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
    if spec.response is None:
        lacks("response", "response")
    if spec.remission is None:
        lacks("remission", "remission")
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
        remission=_bounds(spec.remission),
        response=spec.response.relative_reduction if spec.response is not None else None,
        missing=tuple(missing),
    )


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
) -> ChangeResult:
    """Change on `scale` from `before` to `after`, judged by the definition's change rules.

    `before` and `after` are `ScoreResult`s of this instrument or scale scores. An invalid
    result, an unscored scale or a score outside the scale's range raises `ValueError`.

    >>> change("phq9", 15, 9).reliable   # NHS Talking Therapies: a drop of 6 is reliable
    'improved'
    """
    rules = scale_rules(instrument, scale)
    x1 = _read(before, rules, "before")
    x2 = _read(after, rules, "after")
    return _change(rules, x1, x2)


NOT_A_CASE = "the baseline is not a case: response and remission are judged for cases only"


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
    if case_before is False:
        # response and remission are outcomes of a case: a PHQ-9 of 3 that stays 3 is not a
        # remission, and counting it would inflate a service's rates
        for outcome, value in (("response", response), ("remission", remission)):
            if value is not None:
                missing.append(Unavailable(outcome, NOT_A_CASE))
        response = remission = None
    recovery = None if case_before is None else case_before and not case_after
    reliable_recovery = (
        None if recovery is None or reliable is None else recovery and reliable == "improved"
    )
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
        return rci, z > rules.criterion, z < -rules.criterion
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
    neither measure at caseness at the end. Reliable improvement: at least one measure improves
    reliably and neither deteriorates reliably; reliable deterioration mirrors it. Reliable
    recovery: recovery and reliable improvement (NHS Digital, Psychological Therapies reports,
    "Outcomes"; MindStep, BMC Psychiatry 2018, Table 1). The NHS Talking Therapies Manual itself
    could not be retrieved; the "neither deteriorates" clause follows the programme's usual
    reading and is not verified against it.
    """
    case_before = _or(depression.case_before, anxiety.case_before)
    case_after = _or(depression.case_after, anxiety.case_after)
    recovery = _and(case_before, _not(case_after))
    improved = _or(_is(depression.reliable, "improved"), _is(anxiety.reliable, "improved"))
    worse = _or(_is(depression.reliable, "deteriorated"), _is(anxiety.reliable, "deteriorated"))
    reliable_improvement = _and(improved, _not(worse))
    reliable_deterioration = _and(worse, _not(improved))
    reliable_recovery = _and(recovery, reliable_improvement)
    outcomes = {
        "caseness": (case_before is None or case_after is None, "caseness"),
        "recovery": (recovery is None, "caseness"),
        "reliable_improvement": (reliable_improvement is None, "reliable_change"),
        "reliable_deterioration": (reliable_deterioration is None, "reliable_change"),
        "reliable_recovery": (reliable_recovery is None, "reliable_recovery"),
    }
    unavailable = [
        Unavailable(name, f"{measure.instrument}: {u.reason}")
        for name, (absent, needs) in outcomes.items()
        if absent
        for measure in (depression, anxiety)
        for u in measure.unavailable
        if u.outcome == needs
    ]
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

    when = df[date]
    if not pd.api.types.is_datetime64_any_dtype(when):
        # text must be ISO 8601: a guess per string would read 12/02 as December in one row
        # and 13/01 as January in the next, reordering a client's administrations; mixed UTC
        # offsets (daylight saving) and time zones are brought to UTC
        when = pd.to_datetime(when, errors="coerce", format="ISO8601", utc=True)
    if isinstance(when.dtype, pd.DatetimeTZDtype):
        when = when.dt.tz_convert("UTC").dt.tz_localize(None)
    dates = when.to_numpy()

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

    reason = np.zeros(n, dtype=np.int8)
    checks: list[Any] = [
        codes < 0,
        np.isnat(dates),
        ~_valid_mask(df, valid),
        missing,
        np.isnan(values),
        (values < rules.low - _EPS) | (values > rules.high + _EPS),
        np.zeros(n, dtype=bool),
    ]
    if rules.integral:
        with np.errstate(invalid="ignore"):
            checks[-1] = np.isfinite(values) & (values != np.round(values))
    for code, failed in enumerate(checks, start=1):  # the first failing check gives the reason
        if failed.any():
            reason[(reason == 0) & failed] = code

    used = np.flatnonzero(reason == 0)
    order = used[_client_date_order(codes[used], dates[used], len(clients))]
    # duplicate client and date: the last row in input order stands (a later entry corrects
    # an earlier one); the stable sorts put it last among its equals
    same = (codes[order][:-1] == codes[order][1:]) & (dates[order][:-1] == dates[order][1:])
    reason[order[:-1][same]] = _DUPLICATE
    order = order[np.append(~same, True)] if len(order) else order

    sorted_codes = codes[order]
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
        dates[order],
        starts,
        ends,
        np.cumsum(start) - 1,
    )


def _client_date_order(codes: Any, dates: Any, clients: int) -> Any:
    """The positions that sort rows by client, then date, then position."""
    import numpy as np
    import pandas as pd

    n = len(codes)
    if n == 0:
        return np.arange(0)
    day, days = pd.factorize(dates, sort=True)
    if clients * len(days) * n < 2**63:  # exact in Python ints
        # one quicksort on a unique key is several times faster than two stable sorts
        key = (codes * len(days) + day) * n + np.arange(n)
        return np.argsort(key)
    order = np.argsort(dates, kind="stable")
    return order[np.argsort(codes[order], kind="stable")]


def _valid_mask(df: pd.DataFrame, valid: str | pd.Series | None) -> Any:
    import numpy as np

    if valid is None:
        return np.ones(len(df), dtype=bool)
    if isinstance(valid, str):
        flags = df[valid]
    else:  # a Series lines up on the index (as is when it is the frame's own index)
        flags = valid if valid.index.equals(df.index) else valid.reindex(df.index)
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
    if rules.caseness is not None:  # as in `_change`: judged for cases only
        not_case = ~case_before[0]
        response = (response[0] & ~not_case, response[1] | not_case)
        remission = (remission[0] & ~not_case, remission[1] | not_case)
    recovery = absent
    reliable_recovery = absent
    if rules.caseness is not None:
        recovered = case_before[0] & ~case_after[0]
        recovery = (recovered, np.zeros(n, dtype=bool))
        if rules.s_diff is not None or rules.threshold is not None:
            reliable_recovery = (recovered & (reliable == 0), np.zeros(n, dtype=bool))
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


def change_frame(
    df: pd.DataFrame,
    instrument: Instrument | str,
    *,
    client: str = "client",
    date: str = "date",
    score: str = "score",
    valid: str | pd.Series | None = None,
    scale: str = "total",
) -> pd.DataFrame:
    """Change from baseline and from the previous administration, one row per input row.

    `df` holds one administration of one instrument per row: the client, the date and the
    scale score (`score_frame`'s output joined to the input works: `score="total"`,
    `valid="valid"`); for several instruments, call once per instrument. Rows may come in any
    order. The result has the input's index, every row in input order, and only new columns,
    so `df.join(change_frame(df, "phq9"))` lines them up.

    Dates are datetimes or ISO 8601 text (offsets and time zones are put on one UTC timeline);
    other text, such as 13/01/2024, is excluded with that reason rather than guessed.
    A row is excluded from change, with the reason in `excluded`, when its client, date or score
    is missing, `valid` (a boolean column name or Series; missing counts as invalid) is false,
    or its score is outside the scale's range (or fractional on a whole-number scale). When a
    client has several usable rows at the same date (the same timestamp), the last one in input
    order stands and the earlier ones are excluded as duplicates. Among
    the rest, a client's first administration by date is the baseline; the baseline row itself
    carries no change. Columns: `administration` (1, 2, ... per client), `excluded`,
    `days_since_baseline`, `baseline`, `change_from_baseline`, `percent_change_from_baseline`,
    `rci_from_baseline`, `reliable_from_baseline`, `previous`, `change_from_previous`,
    `rci_from_previous`, `reliable_from_previous` and `case`. Outcomes the definition lacks
    parameters for are missing, and listed in `.attrs["unavailable"]` with the reason.
    """
    import numpy as np
    import pandas as pd

    rules = scale_rules(instrument, scale)
    rows = _sorted_rows(df, rules, client=client, date=date, score=score, valid=valid)
    n, m = len(df), len(rows.order)
    scores, dates, group = rows.scores, rows.dates, rows.group
    first = np.zeros(m, dtype=bool)
    first[rows.starts] = True
    baseline = scores[rows.starts][group]
    previous = np.empty(m)
    previous[1:] = scores[:-1]
    previous[first] = np.nan
    rci_base, reliable_base = _vector_reliable(rules, baseline, scores)
    rci_prev, reliable_prev = _vector_reliable(rules, np.where(first, scores, previous), scores)
    case, no_case = _vector_within(rules.caseness, scores)
    days = (dates - dates[rows.starts][group]) / np.timedelta64(1, "D")

    used = np.zeros(n, dtype=bool)
    used[rows.order] = True

    def put(values: Any, fill: Any = np.nan) -> Any:
        return _scatter(n, rows.order, values, fill)

    not_base = ~put(~first, False)  # excluded rows and baselines carry no change
    reliable_na = rules.reliable_points is None
    columns: dict[str, Any] = {
        "administration": _ints(put(np.arange(m) - rows.starts[group] + 1, 0), ~used),
        "excluded": _labels(rows.reason.astype(np.int64) - 1, ~(rows.reason > 0), _reasons(rules)),
        "days_since_baseline": _floats(put(days), ~used),
        "baseline": _floats(put(baseline), ~used),
        "change_from_baseline": _floats(put(scores - baseline), not_base),
        "percent_change_from_baseline": _floats(put(_vector_percent(baseline, scores)), not_base),
        "rci_from_baseline": _floats(put(rci_base), not_base),
        "reliable_from_baseline": _labels(put(reliable_base, -1), not_base | reliable_na, RELIABLE),
        "previous": _floats(put(previous), ~used),
        "change_from_previous": _floats(put(scores - previous), not_base),
        "rci_from_previous": _floats(put(rci_prev), not_base),
        "reliable_from_previous": _labels(put(reliable_prev, -1), not_base | reliable_na, RELIABLE),
        "case": _bools((put(case, False), put(no_case, True)), ~used),
    }
    # the arrays are new and owned here: no copy
    out = pd.DataFrame(columns, index=df.index, copy=False)
    out.attrs["unavailable"] = [u.to_dict() for u in rules.missing]
    return out


def client_summary(
    df: pd.DataFrame,
    instrument: Instrument | str,
    *,
    client: str = "client",
    date: str = "date",
    score: str = "score",
    valid: str | pd.Series | None = None,
    scale: str = "total",
) -> pd.DataFrame:
    """One row per client: first (baseline) and latest administration and the change between.

    Rows are read as in `change_frame` (same exclusions, same duplicate rule); clients are the
    index, sorted. Columns: `n_administrations` (used) and `n_excluded` (counts), `baseline`,
    `baseline_date`, `latest`, `latest_date`, `best` (lowest where higher is worse, highest
    where higher is better), `days_in_treatment`, and for clients with at least two
    administrations, baseline to latest: `change`, `percent_change`, `rci`, `reliable`,
    `clinical_significance`, `response`, `remission`, `recovery` and `reliable_recovery`;
    `case_baseline` and `case_latest` for every client with an administration. A client with
    one administration has no change; one whose every row was excluded has only counts.
    Outcomes the definition lacks parameters for are missing, listed in `.attrs["unavailable"]`.
    """
    import numpy as np
    import pandas as pd

    rules = scale_rules(instrument, scale)
    rows = _sorted_rows(df, rules, client=client, date=date, score=score, valid=valid)
    k = len(rows.clients)
    scores, dates, starts, ends = rows.scores, rows.dates, rows.starts, rows.ends
    present = rows.codes[rows.order][starts]  # client code of each group
    count = ends - starts + 1
    x1, x2 = scores[starts], scores[ends]
    o = _vector_outcomes(rules, x1, x2)
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
    columns: dict[str, Any] = {
        "n_administrations": put(count, 0).astype(np.int64),
        "n_excluded": np.bincount(excluded, minlength=k).astype(np.int64),
        "baseline": _floats(put(x1), ~seen),
        "baseline_date": start_dates,
        "latest": _floats(put(x2), ~seen),
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
    }
    out = pd.DataFrame(columns, index=pd.Index(rows.clients, name=client), copy=False)
    out.attrs["unavailable"] = [u.to_dict() for u in rules.missing]
    if rules.worse == 0:
        out.attrs["unavailable"].append(
            {"outcome": "best", "reason": "no direction: the definition gives no change block"}
        )
    return out


__all__ = [
    "OUTCOMES",
    "RELIABLE",
    "SIGNIFICANCE",
    "ChangeResult",
    "PairedChangeResult",
    "Rules",
    "Unavailable",
    "change",
    "change_frame",
    "client_summary",
    "paired_change",
    "scale_rules",
]
