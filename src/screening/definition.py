"""The instrument format: frozen pydantic models of a YAML definition.

These models check form (types, required keys, unknown keys). Cross-references and the rules
that need the whole definition (bands covering the range, names that resolve, ...) live in
`checks.py`, so that every problem is reported at once with its position.
"""

from __future__ import annotations

import re
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
    Tag,
    field_validator,
    model_validator,
)

__all__ = [
    "COMPARISONS",
    "FORMAT_KEYS",
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
    "Case",
    "ChangeSpec",
    "Classification",
    "ClassificationRule",
    "ClinicalSignificance",
    "Codes",
    "Condition",
    "ContextCondition",
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


class ItemCondition(_Comparison):
    """Compares an item's score (after reverse scoring) with a number."""

    item: str


class ScaleCondition(_Comparison):
    """Compares a scale's final score with a number."""

    scale: str


class ContextCondition(Model):
    """Compares a context variable (e.g. sex) with one or more of its declared values."""

    context: str
    eq: str | None = None
    ne: str | None = None
    in_: list[str] | None = Field(default=None, alias="in", min_length=1)

    @model_validator(mode="after")
    def _one_operator(self) -> ContextCondition:
        given = [v for v in (self.eq, self.ne, self.in_) if v is not None]
        if len(given) != 1:
            raise ValueError(f"needs exactly one of eq, ne, in; found {len(given)}")
        return self


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


class Item(Model):
    id: Id
    label: str = Field(min_length=1, max_length=80)
    """A short neutral label, always present."""
    text: str | None = None
    """Published wording, only where the licence permits redistribution."""
    options: Annotated[str, Field(min_length=1)] | list[Option]
    """The name of an option set, or the item's own options."""
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
    source: Sources | None = None


class Band(Model):
    min: StrictInt
    max: StrictInt
    label: str = Field(min_length=1)
    note: str | None = None


class Scale(Model):
    label: str | None = None
    items: list[str] = Field(min_length=1)
    method: Literal["sum"] = "sum"
    multiplier: Number = Field(default=1, le=1000)
    """Applied after summing and proration (DASS-21 x2, WHO-5 percentage x4)."""
    missing: MissingRule = MissingRule()
    bands: list[Band] = Field(default_factory=list)
    role: Literal["primary", "secondary"] = "primary"
    """A secondary scale (a sub-score) does not decide the result's validity."""
    source: Sources
    codes: Codes | None = None


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


class ContextVariable(Model):
    values: list[str] = Field(min_length=1)
    required: StrictBool = True
    description: str | None = None


class ScaleExpectation(Model):
    score: Number | None = None
    band: str | None = None
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


class ReliableChange(Model):
    """Reliable change: the Jacobson-Truax index from reliability and SD, or a fixed threshold
    a programme publishes (NHS Talking Therapies: PHQ-9 6 points)."""

    reliability: StrictFloat | None = Field(default=None, gt=0, lt=1)
    sd: Number | None = Field(default=None, gt=0)
    """The standard deviation the index is computed with (of the reference sample)."""
    threshold: Number | None = Field(default=None, gt=0)
    """A change of at least this many points is reliable."""
    criterion: StrictFloat = Field(default=1.96, gt=0)
    """|RCI| above this is reliable (1.96: 95%)."""
    source: Sources

    @model_validator(mode="after")
    def _one_method(self) -> ReliableChange:
        index = self.reliability is not None and self.sd is not None
        partial = (self.reliability is None) != (self.sd is None)
        if partial or index == (self.threshold is not None):
            raise ValueError("needs either reliability and sd (Jacobson-Truax) or a threshold")
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
    description: str | None = None
    codes: Codes | None = None
    license: License
    sources: dict[str, str | SourceEntry] = Field(min_length=1)
    context: dict[str, ContextVariable] = Field(default_factory=dict)
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

    @field_validator("format_version")
    @classmethod
    def _known_format(cls, value: str) -> str:
        if value in FORMAT_KEYS:
            return value
        if format_version_key(value) > format_version_key(FORMAT_VERSION):
            raise ValueError(f"format {value} is newer than this library reads ({FORMAT_VERSION})")
        raise ValueError(f"there is no format {value} (the formats: {', '.join(FORMAT_KEYS)})")

    def item_by_id(self, item_id: str) -> Item | None:
        """The item with this id (the first, should ids repeat), found in constant time."""
        if self._by_id is None:
            by_id: dict[str, Item] = {}
            for item in self.items:
                by_id.setdefault(item.id, item)
            self._by_id = by_id
        return self._by_id.get(item_id)

    def item_options(self, item: Item) -> list[Option]:
        """The options of an item, resolving a named option set."""
        if isinstance(item.options, str):
            return self.option_sets.get(item.options, [])
        return item.options

    def item_scores(self, item: Item) -> dict[int, int]:
        """Option value → score, reverse scoring applied: (lowest + highest) - value."""
        values = [o.value for o in self.item_options(item)]
        if not values:
            return {}
        lo, hi = min(values), max(values)
        return {v: (lo + hi - v if item.reverse else v) for v in values}

    def citation(self, key: str) -> str:
        entry = self.sources.get(key)
        if entry is None:
            return key
        return entry if isinstance(entry, str) else entry.citation


def source_keys(sources: Sources | None) -> list[str]:
    if sources is None:
        return []
    return [sources] if isinstance(sources, str) else list(sources)


def is_identifier(name: str) -> bool:
    return re.fullmatch(ID_PATTERN, name) is not None


for _model in (AnyCondition, AllCondition, NotCondition):
    _model.model_rebuild()


# --- format versions --------------------------------------------------------------------------

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
}  # fmt: skip
"""The format's history: the keys each version added, by model (a subclass inherits its base's).
A new key goes under a new version (a new minor version: files of the earlier ones still read),
and the newest version is the one this library reads up to. A file stating an earlier version
may not use the key (`key_needs_newer_format`). A test checks that every key of every model is
here exactly once."""

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
