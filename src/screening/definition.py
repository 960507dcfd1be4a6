"""The instrument format: frozen pydantic models of a YAML definition.

These models check form (types, required keys, unknown keys). Cross-references and the rules
that need the whole definition (bands covering the range, names that resolve, ...) live in
`checks.py`, so that every problem is reported at once with its position.
"""

from __future__ import annotations

import math
import numbers
import re
from decimal import Decimal
from fractions import Fraction
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    Tag,
    field_validator,
    model_validator,
)

__all__ = [
    "COMPARISONS",
    "FORMAT_KEYS",
    "FORMAT_VALUES",
    "FORMAT_VERSION",
    "FORMAT_VERSION_PATTERN",
    "ID_PATTERN",
    "KEY_ARRIVED",
    "LOINC_ANSWER_PATTERN",
    "LOINC_PATTERN",
    "MAX_VALUE",
    "AllCondition",
    "AnyCondition",
    "Band",
    "BandTable",
    "Case",
    "ChangeSpec",
    "Classification",
    "ClassificationRule",
    "ClinicalSignificance",
    "Codes",
    "Coding",
    "Condition",
    "ContextCondition",
    "ContextRef",
    "ContextValue",
    "ContextVariable",
    "CountCondition",
    "CountSpec",
    "Expectation",
    "Flag",
    "Id",
    "Instrument",
    "Item",
    "ItemCondition",
    "License",
    "LicenseStatus",
    "MissingRule",
    "Model",
    "Norms",
    "NotCondition",
    "Number",
    "Operand",
    "Option",
    "Range",
    "ReliableChange",
    "Response",
    "Scale",
    "ScaleCondition",
    "ScaleExpectation",
    "Severity",
    "SourceEntry",
    "SourceRef",
    "Sources",
    "format_version_key",
    "is_identifier",
    "key_arrived",
    "source_keys",
]

FORMAT_VERSION_PATTERN = r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$"
ID_PATTERN = r"^[a-z][a-z0-9_]*$"
LOINC_PATTERN = r"^\d{1,8}-\d$"
LOINC_ANSWER_PATTERN = r"^LA\d{1,8}-\d$"

Number = StrictInt | StrictFloat
Id = Annotated[str, Field(pattern=ID_PATTERN, max_length=64)]
SourceRef = Annotated[str, Field(min_length=1, max_length=64)]
Sources = SourceRef | list[SourceRef]
Severity = Literal["critical", "warning", "info"]
Respondent = Literal["self", "clinician", "parent", "teacher", "informant"]
NonAnswer = Literal["declined", "dont_know", "not_applicable"]
LicenseStatus = Literal[
    "public-domain", "permissive", "non-commercial", "permission-required", "unknown"
]


class Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        strict=True,
        populate_by_name=True,
        validate_default=False,
        allow_inf_nan=False,  # `.nan` or `.inf` is never a threshold, norm or operand
        defer_build=True,  # validators are built on first use, not on `import screening`
    )


# --- the condition language -------------------------------------------------------------------

COMPARISONS = ("eq", "ne", "gt", "gte", "lt", "lte", "in")


class _Comparison(Model):
    """Exactly one of eq, ne, gt, gte, lt, lte, in."""

    eq: Number | None = None
    ne: Number | None = None
    gt: Number | None = None
    gte: Number | None = None
    lt: Number | None = None
    lte: Number | None = None
    in_: list[Number] | None = Field(default=None, alias="in", min_length=1)

    @model_validator(mode="after")
    def _one_operator(self) -> _Comparison:
        given = [op for op in COMPARISONS if self.operand_of(op) is not None]
        if len(given) != 1:
            raise ValueError(
                f"needs exactly one comparison of {', '.join(COMPARISONS)}; found {len(given)}"
            )
        return self

    def operand_of(self, op: str) -> Any:
        return getattr(self, "in_" if op == "in" else op)

    @property
    def op(self) -> str:
        return next(op for op in COMPARISONS if self.operand_of(op) is not None)

    @property
    def operand(self) -> Any:
        return self.operand_of(self.op)


class ScoreTest(_Comparison):
    """A comparison of an item's score, for a scale that counts its items meeting it."""


class ItemCondition(_Comparison):
    """Compares an item's score (after reverse scoring) with a number."""

    item: str


class ContextRef(Model):
    """A number context variable's value as the operand of a scale comparison: the cut-point
    chosen per call (`{scale: total, gte: {context: cut_point}}`)."""

    context: str


Operand = Number | ContextRef


class ScaleCondition(_Comparison):
    """Compares a scale's final score with a number, or with a number context variable."""

    scale: str
    eq: Operand | None = None  # type: ignore[assignment]  # widens the base's Number
    ne: Operand | None = None  # type: ignore[assignment]  # widens the base's Number
    gt: Operand | None = None  # type: ignore[assignment]  # widens the base's Number
    gte: Operand | None = None  # type: ignore[assignment]  # widens the base's Number
    lt: Operand | None = None  # type: ignore[assignment]  # widens the base's Number
    lte: Operand | None = None  # type: ignore[assignment]  # widens the base's Number


ContextValue = StrictStr | StrictInt | StrictFloat
"""A context value: text (`female`) or a number (`12`, `31`)."""


class ContextCondition(Model):
    """Compares a context variable with one or more of its values: text or numbers by `eq`,
    `ne` and `in`; numbers also by `gt`, `gte`, `lt`, `lte` (`age >= 12`)."""

    context: str
    eq: ContextValue | None = None
    ne: ContextValue | None = None
    gt: Number | None = None
    gte: Number | None = None
    lt: Number | None = None
    lte: Number | None = None
    in_: list[ContextValue] | None = Field(default=None, alias="in", min_length=1)

    @model_validator(mode="after")
    def _one_operator(self) -> ContextCondition:
        given = [op for op in COMPARISONS if self.operand_of(op) is not None]
        if len(given) != 1:
            raise ValueError(f"needs exactly one of {', '.join(COMPARISONS)}; found {len(given)}")
        return self

    def operand_of(self, op: str) -> Any:
        return getattr(self, "in_" if op == "in" else op)

    @property
    def op(self) -> str:
        return next(op for op in COMPARISONS if self.operand_of(op) is not None)

    @property
    def operand(self) -> Any:
        return self.operand_of(self.op)


class CountSpec(_Comparison):
    """The items to count and the comparison each must meet."""

    items: list[str] = Field(min_length=1)


class CountCondition(_Comparison):
    """How many of `count.items` meet `count`'s comparison, compared with a number."""

    count: CountSpec


class AnyCondition(Model):
    any: list[Condition] = Field(min_length=1)


class AllCondition(Model):
    all: list[Condition] = Field(min_length=1)


class NotCondition(Model):
    not_: Condition = Field(alias="not")


_CONDITION_KEYS = ("item", "scale", "context", "count", "any", "all", "not")


def _condition_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        kinds = [k for k in _CONDITION_KEYS if k in value]
        return f"{kinds[0]} condition" if len(kinds) == 1 else None
    if isinstance(value, BaseModel):
        for kind, cls in _CONDITION_CLASSES.items():
            if isinstance(value, cls):
                return f"{kind} condition"
    return None


Condition = Annotated[
    Annotated[ItemCondition, Tag("item condition")]
    | Annotated[ScaleCondition, Tag("scale condition")]
    | Annotated[ContextCondition, Tag("context condition")]
    | Annotated[CountCondition, Tag("count condition")]
    | Annotated[AnyCondition, Tag("any condition")]
    | Annotated[AllCondition, Tag("all condition")]
    | Annotated[NotCondition, Tag("not condition")],
    Discriminator(
        _condition_kind,
        custom_error_type="condition_kind",
        custom_error_message="a condition needs exactly one of item, scale, context, count, "
        "any, all, not",
    ),
]

_CONDITION_CLASSES: dict[str, type[BaseModel]] = {
    "item": ItemCondition,
    "scale": ScaleCondition,
    "context": ContextCondition,
    "count": CountCondition,
    "any": AnyCondition,
    "all": AllCondition,
    "not": NotCondition,
}


# --- the definition ---------------------------------------------------------------------------


class Codes(Model):
    loinc: Annotated[str, Field(pattern=LOINC_PATTERN)] | None = None


class SourceEntry(Model):
    citation: str = Field(min_length=1)
    url: str | None = None


class License(Model):
    status: LicenseStatus
    holder: str = Field(min_length=1)
    notice: str = Field(min_length=1)
    url: str | None = None
    redistribute_text: StrictBool
    """Whether item wording may be shipped in this file."""


MAX_VALUE = 1_000_000
"""Option values are small whole numbers; the bound keeps every score path within int64."""


class Option(Model):
    value: StrictInt = Field(ge=-MAX_VALUE, le=MAX_VALUE)
    label: str = Field(min_length=1)
    code: Annotated[str, Field(pattern=LOINC_ANSWER_PATTERN)] | None = None
    score: StrictInt | None = Field(default=None, ge=-MAX_VALUE, le=MAX_VALUE)
    """The score this answer counts where it differs from the recorded value (format 1.1):
    several answers sharing one score (SBQ-R 3a and 3b both score 3), or an answer counted as
    a point (an ASRS shaded box). Conditions on the item compare scores."""
    non_answer: NonAnswer | None = None
    """This answer is a non-answer of this kind (format 1.1): recorded and reported as such;
    without a `score` it scores nothing (the item counts as missing), with one it counts that
    score where the source says so (ASQ: a refusal is considered positive)."""


MAX_DECIMALS = 4
"""The most decimal places a numeric answer may have (REDCap validates up to four)."""


class NumberScore(Model):
    """A range of numeric answers and the score it counts (CRAFFT-style recoding); its bounds
    are decimals where the answer is (`decimals`)."""

    min: StrictInt | StrictFloat
    max: StrictInt | StrictFloat
    score: StrictInt


class NumberAnswer(Model):
    """An item answered with a number within bounds (CRAFFT 2.1 Part A: days in the past
    12 months, 0-365), instead of a choice of options; with `decimals`, a decimal number of
    at most that many places (hours of sleep, 6.5; a visual-analogue mark, 7.3 cm)."""

    min: StrictInt | StrictFloat = Field(ge=-MAX_VALUE, le=MAX_VALUE)
    max: StrictInt | StrictFloat = Field(ge=-MAX_VALUE, le=MAX_VALUE)
    decimals: StrictInt = Field(0, ge=0, le=MAX_DECIMALS)
    """Decimal places an answer may have (0: whole numbers)."""
    unit: str | None = None
    """What the number counts (`days`)."""
    scores: list[NumberScore] = Field(default_factory=list)
    """Cited ranges recoding the answer to a score, covering min-max; none: the score is the
    number itself (a decimal one only in scales of such answers given to `decimals`)."""
    source: Sources | None = None
    """Required with `scores`."""

    @property
    def step(self) -> int:
        """Units per whole number: an answer is read as a whole count of 1/step (10 for one
        decimal place), so every path compares whole numbers."""
        return int(10**self.decimals)

    def units(self, bound: float) -> int | None:
        """A bound as a whole count of units, or None where it is finer than `decimals`."""
        return to_units(bound, self.step)

    @property
    def allowed(self) -> str:
        """The answers it takes, as messages list them: `the whole numbers 0-365`."""
        if self.decimals:
            places = "place" if self.decimals == 1 else "places"
            return (
                f"the numbers from {self.min} to {self.max} with at most {self.decimals} "
                f"decimal {places}"
            )
        return f"the whole numbers {self.min}-{self.max}"

    @property
    def words(self) -> str:
        """The answers it takes, for pages: `a whole number from 0 to 365 (days)`."""
        unit = f" ({self.unit})" if self.unit else ""
        if self.decimals:
            places = "place" if self.decimals == 1 else "places"
            return (
                f"a number from {self.min} to {self.max} with at most {self.decimals} decimal "
                f"{places}{unit}"
            )
        return f"a whole number from {self.min} to {self.max}{unit}"

    def label(self, units: int) -> str:
        """An answer written out from its units (`6.5`)."""
        if not self.decimals:
            return str(units)
        return f"{units / self.step:.{self.decimals}f}"


def to_units(value: Any, step: int) -> int | None:
    """A number as a whole count of 1/step, or None where it is not one (or not a number).
    An int, Fraction or Decimal is counted exactly; a binary float by `round(x * step)`,
    accepted only where dividing back gives x. Those float operations run the same on arrays
    (`np.rint`, a product and a quotient, all correctly rounded IEEE), so a value at a range's
    edge reads alike on every path."""
    if type(value) is float:  # the common case, with no abstract-class checks
        x = value
    elif isinstance(value, numbers.Integral):  # a Python or numpy integer
        return int(value) * step
    elif isinstance(value, numbers.Rational | Decimal):  # exact: 6.9 as a Decimal is 69/10
        try:
            exact = Fraction(value) * step
        except (TypeError, ValueError, OverflowError):  # a Decimal NaN or infinity
            return None
        return exact.numerator if exact.denominator == 1 else None
    else:
        try:
            x = float(value)
        except (TypeError, ValueError, OverflowError):
            return None
    scaled = x * step
    if not math.isfinite(scaled):
        return None
    units = round(scaled)
    return units if float(units) / step == x else None


MAX_NUMBER_SPAN = 10_000
"""The widest range of a numeric answer (each whole number in it is an accepted answer)."""


def number_span(number: NumberAnswer) -> tuple[int, int] | None:
    """A numeric answer's bounds in units, or None where they are finer than its decimals or
    span more than `MAX_NUMBER_SPAN` units (both refused by the checks)."""
    low, high = number.units(number.min), number.units(number.max)
    if low is None or high is None or not 0 <= high - low <= MAX_NUMBER_SPAN:
        return None
    return low, high


class Item(Model):
    id: Id
    label: str = Field(min_length=1, max_length=80)
    """A short neutral label, always present."""
    text: str | None = None
    """Published wording, only where the licence permits redistribution."""
    options: Annotated[str, Field(min_length=1)] | list[Option] | None = None
    """The name of an option set, or the item's own options (one of `options` and `number`)."""
    number: NumberAnswer | None = None
    """A whole-number answer within bounds, instead of options (format 1.1)."""
    reverse: StrictBool = False
    """Scored as (lowest + highest option value) - value."""
    ask_if: Condition | None = None
    """Skip logic: the item is asked only when this holds; a skipped item is not missing."""
    if_skipped: StrictInt | None = None
    """The score a skipped item takes where the source gives one (K10: 1); else it is left out."""
    answered_when_skipped: Literal["error", "score"] = "error"
    """An answer to a skipped item: an error (the skip is logical), or scored as given (the
    skip only shortens an interview, as in the AUDIT; a self-report form asks every item)."""
    accept_when_skipped: list[StrictInt] = Field(default_factory=list)
    """Answers that agree with the skip (a "No" recorded for a follow-up that was not asked):
    accepted, and the item stays skipped. Any other answer to a skipped item is an error."""
    codes: Codes | None = None


class MissingRule(Model):
    max_missing: StrictInt = Field(default=0, ge=0)
    prorate: StrictBool = False
    """Scale the sum of the answered items up to the full item count."""
    rounding: Literal["half_up", "none"] = "half_up"
    """How a prorated sum is rounded, before any multiplier."""
    fill: StrictInt | None = None
    """The score a missing item counts, where the source says so instead of prorating (format
    1.1; PSC-17: a blank item scores 0)."""
    source: Sources | None = None


class Band(Model):
    min: Number
    max: Number
    """Whole numbers, or decimals at the scale's `decimals` precision (format 1.1)."""
    label: str = Field(min_length=1)
    note: str | None = None


class BandTable(Model):
    """An alternative band table of a scale, cited (K10: the AIHW METEOR grouping beside the
    ABS one), applying everywhere or where its condition on context holds (EPDS-3A: men)."""

    label: str | None = None
    """A display name (`AIHW METEOR 634146`)."""
    when: Condition | None = None
    """Where the table applies: a condition on context variables only. Elsewhere its label is
    null; where no `bands` are given, the scale's band is the first applying table's."""
    bands: list[Band] = Field(min_length=1)
    source: Sources


class LookupRow(Model):
    score: StrictInt
    converted: Number


class Lookup(Model):
    """A published table converting a scale's whole-number score to another score (SWEMWBS:
    raw 7-35 to the metric score), every reachable score listed."""

    label: str | None = None
    """What the converted score is (`metric score`)."""
    when: Condition | None = None
    """Where this table applies, by context only (norms by sex and age): of a list of tables,
    the first that applies converts the score; none: the scale is unscored."""
    table: list[LookupRow] = Field(min_length=1)
    """Each score and its converted score, as the source prints them."""
    source: Sources

    @property
    def values(self) -> dict[int, int | float]:
        """Score → converted score (the first row of a score listed twice)."""
        out: dict[int, int | float] = {}
        for row in self.table:
            out.setdefault(row.score, row.converted)
        return out


class Scale(Model):
    label: str | None = None
    items: list[str] = Field(default_factory=list)
    """The items it scores (a scale lists items or, format 1.1, `scales`)."""
    scales: list[str] | None = Field(default=None, min_length=1)
    """A scale over scales listed before it (format 1.1): their sum (`method: sum`) or highest
    score (`method: max`), scored only where every one of them is (a total of subscales each
    prorated by its own rule)."""
    method: Literal["sum", "mean", "max"] = "sum"
    """`sum`, or `mean` (format 1.1): the mean of the counted items' scores (Brief Resilience
    Scale); a missing item is left out of the mean; `max` (format 1.1): the highest of the
    `scales` listed."""
    multiplier: Number = Field(default=1, le=1000)
    """Applied after summing and proration (DASS-21 x2, WHO-5 percentage x4)."""
    count: ScoreTest | None = None
    """The scale counts its items whose score meets this comparison (format 1.1): a derived
    count (the number of PHQ-15 symptoms bothering a lot, `{gte: 2}`), each counted item
    scoring 1, with the missing-data rule as for a sum."""
    decimals: StrictInt | None = Field(default=None, ge=0, le=6)
    """The final score rounded half up to this many decimal places (format 1.1); bands are
    then written at that precision (BRS: 1.00-2.99)."""
    lookup: Lookup | Annotated[list[Lookup], Field(min_length=1)] | None = None
    """A published conversion table applied to the whole-number score (format 1.1): SWEMWBS
    raw to metric score; or a list of tables, each with the context it applies in (`when`),
    tried in order (T-scores normed by sex and age)."""
    missing: MissingRule = MissingRule.model_construct()  # its defaults; no validator built
    bands: list[Band] = Field(default_factory=list)
    """The default band table: the scale's `band`."""
    band_tables: dict[str, BandTable] = Field(default_factory=dict)
    """Alternative band tables by name, each reported (`ScaleResult.bands`, the DataFrame
    column `<scale>_band_<name>`); without `bands`, the first that applies gives the band."""
    role: Literal["primary", "secondary"] = "primary"
    """A secondary scale (a sub-score) does not decide the result's validity."""
    requires: str | None = None
    """A secondary scale scored only when this scale, listed before it, is (format 1.1): the
    sub-scores of a form that is invalid as a whole are not reported (PSC-17: four or more
    blank items make the questionnaire invalid)."""
    source: Sources
    codes: Codes | None = None

    @property
    def lookups(self) -> list[Lookup]:
        """The conversion tables, in order (one, several chosen by context, or none)."""
        if self.lookup is None:
            return []
        return self.lookup if isinstance(self.lookup, list) else [self.lookup]

    def lookup_paths(self) -> list[tuple[tuple[str | int, ...], Lookup]]:
        """Each conversion table with its key path under the scale (`lookup` or `lookup.N`)."""
        if isinstance(self.lookup, list):
            return [(("lookup", index), table) for index, table in enumerate(self.lookup)]
        return [(("lookup",), self.lookup)] if self.lookup is not None else []


class Flag(Model):
    id: Id
    severity: Severity
    when: Condition
    message: str = Field(min_length=1)
    source: Sources


class ClassificationRule(Model):
    label: str = Field(min_length=1)
    when: Condition
    note: str | None = None


class Classification(Model):
    label: str | None = None
    risk: StrictBool = False
    """A risk level (the C-SSRS triage): exported as a FHIR RiskAssessment prediction."""
    codes: Codes | None = None
    rules: list[ClassificationRule] = Field(min_length=1)
    otherwise: str = Field(min_length=1)
    """The label when no rule holds (every rule definitely false)."""
    source: Sources


class CodedNonAnswer(Model):
    """A number a coding records for a non-answer to any item with options."""

    value: StrictInt = Field(ge=-MAX_VALUE, le=MAX_VALUE)
    kind: NonAnswer


class Coding(Model):
    """One published way of recording the answers (EPDS: box positions or item scores; K10:
    1-5 or the US 0-4), chosen per call (`score(..., coding="us")`)."""

    label: str = Field(min_length=1)
    description: str | None = None
    default: StrictBool = False
    """The coding a response is read in unless the caller chooses another: exactly one, and it
    records the option values as listed (the instrument's own values)."""
    records: Literal["value", "score"] = "value"
    """`value`: a response records each item's option value (recoded by `values` where given);
    `score`: it records each item's score, reverse scoring already applied."""
    values: dict[str, list[StrictInt]] = Field(default_factory=dict)
    """By option set name (or item id, for an item with its own options): the number recorded
    for each option, in the order the options are listed."""
    non_answers: list[CodedNonAnswer] = Field(default_factory=list)
    """Numbers this coding records for a non-answer to any item with options (format 1.1;
    NHANES: 7 refused, 9 don't know): each read as its kind, counting as missing."""
    source: Sources


class ContextVariable(Model):
    """Something about the respondent or the administration that the rules need, passed with
    the response (`sex`, `age`, a cut-point chosen per call)."""

    kind: Literal["text", "number"] = Field(default="text", alias="type")
    """`text` (the default) takes one of `values`; `number` takes a number, one of `values`
    when they are given, within `min` and `max` when they are given."""
    values: list[ContextValue] | None = Field(default=None, min_length=1)
    """The values it takes: required for text, optional for a number."""
    min: Number | None = None
    """The lowest number it takes (a number variable only)."""
    max: Number | None = None
    """The highest number it takes (a number variable only)."""
    required: StrictBool = True
    """Whether a response without it is an error (a variable with a default is never
    missing)."""
    default: ContextValue | None = None
    """The value taken when none is given, as its cited source says (`source` required)."""
    source: Sources | None = None
    """The source of the default (and of the values)."""
    description: str | None = None


class ScaleExpectation(Model):
    score: Number | None = None
    band: str | None = None
    bands: dict[str, str | None] = Field(default_factory=dict)
    """The label of each band table named (null: it does not apply, or the scale is unscored);
    only the tables written are compared."""
    prorated: StrictBool | None = None
    answered: StrictInt | None = None
    missing: StrictInt | None = None
    valid: StrictBool | None = None


class Expectation(Model):
    valid: StrictBool
    scales: dict[str, ScaleExpectation] = Field(default_factory=dict)
    flags: list[str] = Field(default_factory=list)
    """Exactly the flags raised."""
    undetermined_flags: list[str] = Field(default_factory=list)
    """Exactly the flags left undetermined by a missing answer (checked when given)."""
    classifications: dict[str, str | None] = Field(default_factory=dict)
    errors: list[str] = Field(default_factory=list)
    """Exactly the response-error codes expected (the result is then invalid)."""


_DEFAULT_CRITERION = 1.96  # |RCI| > 1.96: p < .05, two-tailed


class ReliableChange(Model):
    """Reliable change: the Jacobson-Truax index from reliability and SD, or a fixed threshold
    a programme publishes (NHS Talking Therapies: PHQ-9 6 points)."""

    reliability: StrictFloat | None = Field(default=None, gt=0, lt=1)
    sd: Number | None = Field(default=None, gt=0)
    """The standard deviation the index is computed with (of the reference sample)."""
    threshold: Number | None = Field(default=None, gt=0)
    """A change of at least this many points is reliable."""
    criterion: StrictFloat = Field(default=_DEFAULT_CRITERION, gt=0)
    """|RCI| above this is reliable (1.96: 95%)."""
    source: Sources

    @model_validator(mode="after")
    def _one_method(self) -> ReliableChange:
        index = self.reliability is not None and self.sd is not None
        partial = (self.reliability is None) != (self.sd is None)
        if partial or index == (self.threshold is not None):
            raise ValueError("needs either reliability and sd (Jacobson-Truax) or a threshold")
        if self.threshold is not None and self.criterion != _DEFAULT_CRITERION:
            # a threshold is in points: a criterion for the index would be ignored unsaid
            raise ValueError("criterion applies to the index (reliability and sd), not a threshold")
        return self


class Norms(Model):
    mean: Number
    sd: Number = Field(gt=0)


class ClinicalSignificance(Model):
    """Jacobson-Truax cut-offs: a (2 SD beyond the clinical mean), b (2 SD from the
    functional mean), c (between both); or a fixed cut-off the source gives."""

    clinical: Norms | None = None
    functional: Norms | None = None
    cutoff: Literal["a", "b", "c"] | None = None
    threshold: Number | None = None
    source: Sources

    @model_validator(mode="after")
    def _one_method(self) -> ClinicalSignificance:
        if (self.cutoff is None) == (self.threshold is None):
            raise ValueError("needs either cutoff (a, b or c, with norms) or threshold")
        needs = {"a": ("clinical",), "b": ("functional",), "c": ("clinical", "functional")}
        for name in needs.get(self.cutoff or "", ()):
            if getattr(self, name) is None:
                raise ValueError(f"cutoff {self.cutoff} needs {name} norms (mean and sd)")
        return self


class Range(Model):
    """A score range, inclusive: `min` and/or `max`."""

    min: Number | None = None
    max: Number | None = None
    source: Sources

    @model_validator(mode="after")
    def _some_bound(self) -> Range:
        if self.min is None and self.max is None:
            raise ValueError("needs min, max or both")
        return self


class Response(Model):
    relative_reduction: StrictFloat = Field(gt=0, le=1)
    """Response when the score falls by at least this share of the baseline (0.5 = 50%)."""
    source: Sources


class ChangeSpec(Model):
    """How change on one scale is judged across administrations."""

    direction: Literal["higher_is_worse", "higher_is_better"]
    """Required: a default would silently invert every outcome of a higher-is-better scale."""
    reliable_change: ReliableChange | None = None
    clinical_significance: ClinicalSignificance | None = None
    caseness: Range | None = None
    """The scores that count as a clinical case."""
    response: Response | None = None
    remission: Range | None = None
    """The scores that count as remission."""


class Case(Model):
    """A golden case: a response and what its cited source says it must score."""

    name: str = Field(min_length=1)
    source: Sources
    responses: dict[str, Any] | list[Any]
    """By item id, or a list in item order (null for a missing item)."""
    context: dict[str, Any] = Field(default_factory=dict)
    coding: str | None = None
    """The coding its responses are recorded in (the default coding when not given)."""
    expect: Expectation


class Instrument(Model):
    format_version: Annotated[str, Field(pattern=FORMAT_VERSION_PATTERN)]
    """The version of this format the file is written in, "MAJOR.MINOR" (quoted: a YAML number
    loses the form, 1.10 reads as 1.1). A file may use only the keys its version has."""
    id: Id
    name: str = Field(min_length=1)
    abbreviation: str | None = None
    definition_version: Annotated[str, Field(pattern=r"^\d+\.\d+\.\d+$")]
    construct_: str = Field(alias="construct", min_length=1)
    """What the instrument measures (YAML key `construct`)."""
    timeframe: str | None = None
    """The recall window the questions ask about (`over the last 2 weeks`)."""
    respondent: Respondent | None = None
    """Who answers (format 1.1): the person assessed (`self`), a `clinician` rating or
    interviewing, a `parent` or `teacher` reporting on a child, or another `informant`."""
    description: str | None = None
    codes: Codes | None = None
    license: License
    sources: dict[str, str | SourceEntry] = Field(min_length=1)
    context: dict[str, ContextVariable] = Field(default_factory=dict)
    codings: dict[str, Coding] = Field(default_factory=dict)
    """The published ways of recording the answers, by name; a response is read in the default
    one unless the caller chooses another (`coding=`)."""
    option_sets: dict[str, list[Option]] = Field(default_factory=dict)
    items: list[Item] = Field(min_length=1)
    scales: dict[str, Scale] = Field(default_factory=dict)
    flags: list[Flag] = Field(default_factory=list)
    classifications: dict[str, Classification] = Field(default_factory=dict)
    change: dict[str, ChangeSpec] = Field(default_factory=dict)
    """Change parameters by scale name."""
    cases: list[Case] = Field(default_factory=list)

    _compiled: Any = PrivateAttr(default=None)
    _by_id: dict[str, Item] | None = PrivateAttr(default=None)
    _numbers: dict[str, list[Option]] | None = PrivateAttr(default=None)

    @field_validator("format_version")
    @classmethod
    def _known_format(cls, value: str) -> str:
        if value in FORMAT_KEYS:
            return value
        if format_version_key(value) > format_version_key(FORMAT_VERSION):
            raise ValueError(f"format {value} is newer than this library reads ({FORMAT_VERSION})")
        raise ValueError(f"there is no format {value} (the formats: {', '.join(FORMAT_KEYS)})")

    def scale_items(self, name: str) -> list[str]:
        """The items a scale reads, through the scales a scale over scales lists (each once,
        in order; an unknown scale, refused by the checks, reads nothing)."""
        found: dict[str, None] = {}
        seen: set[str] = set()
        pending = [name]
        while pending:
            current = pending.pop(0)
            scale = self.scales.get(current)
            if scale is None or current in seen:
                continue
            seen.add(current)
            found.update(dict.fromkeys(scale.items))
            pending.extend(scale.scales or [])
        return list(found)

    def item_by_id(self, item_id: str) -> Item | None:
        """The item with this id (the first, should ids repeat), found in constant time."""
        if self._by_id is None:
            by_id: dict[str, Item] = {}
            for item in self.items:
                by_id.setdefault(item.id, item)
            self._by_id = by_id
        return self._by_id.get(item_id)

    def item_options(self, item: Item) -> list[Option]:
        """The options of an item, resolving a named option set; a numeric item's are the
        whole numbers within its bounds, counted in units of its decimals (6.5 hours is the
        option 65 with one decimal place: `NumberAnswer.label` writes it out)."""
        if isinstance(item.options, str):
            return self.option_sets.get(item.options, [])
        if item.options is not None:
            return item.options
        number = item.number
        span = number_span(number) if number is not None else None
        if number is None or span is None:
            return []  # no answers (checked: missing_key, invalid_value)
        if self._numbers is None:
            self._numbers = {}
        found = self._numbers.get(item.id)
        if found is None:
            scored = {}
            for r in number.scores:
                low, high = number.units(r.min), number.units(r.max)
                if low is not None and high is not None:  # else refused by the checks
                    within = range(max(low, span[0]), min(high, span[1]) + 1)
                    scored.update(dict.fromkeys(within, r.score))
            found = self._numbers[item.id] = [
                Option.model_construct(
                    value=v, label=number.label(v), code=None, score=scored.get(v), non_answer=None
                )
                for v in range(span[0], span[1] + 1)
            ]
        return found

    def item_scores(self, item: Item) -> dict[int, int]:
        """Option value → score: the option's stated `score`, else its value, reverse scoring
        applied: (lowest + highest) - value."""
        options = [
            o for o in self.item_options(item) if o.non_answer is None or o.score is not None
        ]  # a non-answer without a score scores nothing
        if not options:
            return {}
        values = [o.value for o in options if o.non_answer is None] or [o.value for o in options]
        lo, hi = min(values), max(values)
        return {
            o.value: (
                o.score if o.score is not None else (lo + hi - o.value if item.reverse else o.value)
            )
            for o in options
        }

    def non_answers(self, item: Item) -> dict[int, str]:
        """Option value → kind, for the options that are non-answers (declined, ...)."""
        return {o.value: o.non_answer for o in self.item_options(item) if o.non_answer}

    @property
    def default_coding(self) -> str | None:
        """The name of the default coding (None: the instrument has no codings)."""
        return next((name for name, c in self.codings.items() if c.default), None)

    def coded_scores(self, item: Item, coding: str | None) -> dict[int, int]:
        """Recorded value → score in a coding (the option values in the default one)."""
        scores = self.item_scores(item)
        chosen = self.codings.get(coding) if coding is not None else None
        if chosen is None:
            return scores
        if chosen.records == "score":
            return {score: score for score in sorted(set(scores.values()))}
        listed = _listed(chosen, item)
        if listed is None:
            return scores
        options = [o.value for o in self.item_options(item)]
        return {
            recorded: scores[v] for recorded, v in zip(listed, options, strict=False) if v in scores
        }

    def answer_step(self, item: Item, coding: str | None) -> int:
        """Units per whole number an item's recorded answers are read in (`coded_scores` is
        keyed by them): a decimal answer's step, but 1 where a coding records its scores."""
        number = item.number
        if number is None or not number.decimals:
            return 1
        chosen = self.codings.get(coding) if coding is not None else None
        # a coding records a recoded decimal's scores (whole numbers); a decimal scored as
        # itself records its score as the number, still in units (a coding's `values` never
        # name a number item: `coding_values`)
        if chosen is not None and chosen.records == "score" and number.scores:
            return 1
        return number.step

    def coded_non_answers(self, item: Item, coding: str | None) -> dict[int, str]:
        """Recorded value → kind of the non-answers, in a coding (a coding that records scores
        records only the non-answers that have one)."""
        kinds = self.non_answers(item)
        chosen = self.codings.get(coding) if coding is not None else None
        if chosen is None:
            return kinds
        extra = {} if item.number is not None else {n.value: n.kind for n in chosen.non_answers}
        return self.own_non_answers(item, chosen) | extra

    def own_non_answers(self, item: Item, chosen: Coding) -> dict[int, str]:
        """Recorded value → kind of the item's own non-answer options, as a coding records
        them (not the coding's `non_answers`)."""
        kinds = self.non_answers(item)
        if not kinds:
            return kinds
        scores = self.item_scores(item)
        if chosen.records == "score":  # a recorded score names the non-answer only if its own
            shared = list(scores.values())
            return {
                scores[v]: kind
                for v, kind in kinds.items()
                if v in scores and shared.count(scores[v]) == 1
            }
        listed = _listed(chosen, item)
        if listed is None:
            return kinds
        options = [o.value for o in self.item_options(item)]
        return {r: kinds[v] for r, v in zip(listed, options, strict=False) if v in kinds}

    def citation(self, key: str) -> str:
        entry = self.sources.get(key)
        if entry is None:
            return key
        return entry if isinstance(entry, str) else entry.citation

    def __repr__(self) -> str:
        """One line: id, name, version, items and scales."""
        from .display import instrument_repr

        return instrument_repr(self)

    def __str__(self) -> str:
        from .display import instrument_text

        return instrument_text(self)

    def _repr_html_(self) -> str:
        """The table a notebook shows."""
        from .display import instrument_html

        return instrument_html(self)


def source_keys(sources: Sources | None) -> list[str]:
    if sources is None:
        return []
    return [sources] if isinstance(sources, str) else list(sources)


def is_identifier(name: str) -> bool:
    return re.fullmatch(ID_PATTERN, name) is not None


# --- format versions --------------------------------------------------------------------------


def _listed(coding: Coding, item: Item) -> list[int] | None:
    """The values a coding records an item's options as (by item, else by its option set)."""
    listed = coding.values.get(item.id)
    if listed is None and isinstance(item.options, str):
        listed = coding.values.get(item.options)
    return listed


FORMAT_KEYS: dict[str, dict[type[BaseModel], tuple[str, ...]]] = {
    "1.0": {
        Instrument: (
            "format_version", "id", "name", "abbreviation", "definition_version", "construct",
            "timeframe", "description", "codes", "license", "sources", "context", "option_sets",
            "items", "scales", "flags", "classifications", "change", "cases",
        ),
        Codes: ("loinc",),
        SourceEntry: ("citation", "url"),
        License: ("status", "holder", "notice", "url", "redistribute_text"),
        ContextVariable: ("values", "required", "description"),
        Option: ("value", "label", "code"),
        Item: (
            "id", "label", "text", "options", "reverse", "ask_if", "if_skipped",
            "answered_when_skipped", "accept_when_skipped", "codes",
        ),
        Scale: (
            "label", "items", "method", "multiplier", "missing", "bands", "role", "source", "codes",
        ),
        MissingRule: ("max_missing", "prorate", "rounding", "source"),
        Band: ("min", "max", "label", "note"),
        Flag: ("id", "severity", "when", "message", "source"),
        Classification: ("label", "risk", "codes", "rules", "otherwise", "source"),
        ClassificationRule: ("label", "when", "note"),
        _Comparison: COMPARISONS,
        ItemCondition: ("item",),
        ScaleCondition: ("scale",),
        ContextCondition: ("context", "eq", "ne", "in"),
        CountSpec: ("items",),
        CountCondition: ("count",),
        AnyCondition: ("any",),
        AllCondition: ("all",),
        NotCondition: ("not",),
        ChangeSpec: (
            "direction", "reliable_change", "clinical_significance", "caseness", "response",
            "remission",
        ),
        ReliableChange: ("reliability", "sd", "threshold", "criterion", "source"),
        ClinicalSignificance: ("clinical", "functional", "cutoff", "threshold", "source"),
        Norms: ("mean", "sd"),
        Range: ("min", "max", "source"),
        Response: ("relative_reduction", "source"),
        Case: ("name", "source", "responses", "context", "expect"),
        Expectation: (
            "valid", "scales", "flags", "undetermined_flags", "classifications", "errors",
        ),
        ScaleExpectation: ("score", "band", "prorated", "answered", "missing", "valid"),
    },
    "1.1": {
        Coding: ("label", "description", "default", "records", "values", "non_answers", "source"),
        CodedNonAnswer: ("value", "kind"),
        Case: ("coding",),
        BandTable: ("label", "when", "bands", "source"),
        ScaleExpectation: ("bands",),
        ContextVariable: ("type", "min", "max", "default", "source"),
        ContextCondition: ("gt", "gte", "lt", "lte"),
        ContextRef: ("context",),
        Option: ("score", "non_answer"),
        MissingRule: ("fill",),
        Item: ("number",),
        NumberAnswer: ("min", "max", "decimals", "unit", "scores", "source"),
        NumberScore: ("min", "max", "score"),
        Scale: ("band_tables", "decimals", "lookup", "requires", "count", "scales"),
        Lookup: ("label", "when", "table", "source"),
        LookupRow: ("score", "converted"),
        Instrument: ("codings", "respondent"),
    },
}  # fmt: skip
"""The format's history: the keys each version added, by model (a subclass inherits its base's).
A new key goes under a new version (a new minor version: files of the earlier ones still read),
and the newest version is the one this library reads up to. A file stating an earlier version
may not use the key (`key_needs_newer_format`). A test checks that every key of every model is
here exactly once."""

FORMAT_VALUES: dict[tuple[type[BaseModel], str, str], str] = {
    (Scale, "method", "mean"): "1.1",
    (Scale, "method", "max"): "1.1",
}
"""Values of an older key that a later format added: (model, key, value) → that version."""

KEY_ARRIVED: dict[tuple[type[BaseModel], str], str] = {
    (model, key): version
    for version, models in FORMAT_KEYS.items()
    for model, keys in models.items()
    for key in keys
}
"""(model, YAML key) → the format version that added it; see `key_arrived`."""


def format_version_key(version: str) -> tuple[int, int]:
    """A "MAJOR.MINOR" version as numbers to compare ("1.10" is after "1.9")."""
    major, _, minor = version.partition(".")
    return int(major), int(minor)


FORMAT_VERSION = max(FORMAT_KEYS, key=format_version_key)
"""The newest format version this library reads."""


def key_arrived(model: type[BaseModel], key: str) -> str | None:
    """The format version that added `key` to `model` (or to a base it inherits it from)."""
    for cls in model.__mro__:
        if issubclass(cls, BaseModel) and (cls, key) in KEY_ARRIVED:
            return KEY_ARRIVED[cls, key]
    return None
