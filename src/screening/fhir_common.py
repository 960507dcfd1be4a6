"""FHIR R4 vocabulary and helpers shared by reading and writing: code systems, extension
URLs, references and dateTimes."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, NamedTuple

from .definition import (
    Instrument,
    Item,
    Option,
)
from .loading import load_instrument
from .results import ScoreResult

Json = dict[str, Any]

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
CANONICAL_BASE = "https://github.com/screening/screening"
"""The default base of this library's canonical URLs (its code systems and Questionnaires). The
writers and readers take `canonical_base=` to put them under an address the deployment controls;
a response coded under one base is read with the same base."""
CODE_SYSTEM_BASE = f"{CANONICAL_BASE}/CodeSystem"
SCORE_SYSTEM = f"{CODE_SYSTEM_BASE}/score"
"""This library's code system for a scale without a LOINC code: code `<instrument>.<scale>`."""
ANSWER_SYSTEM = f"{CODE_SYSTEM_BASE}/answer"
"""This library's code system for an option without a LOINC answer code:
code `<instrument>.<item>.<value>`."""
QUESTIONNAIRE_BASE = f"{CANONICAL_BASE}/Questionnaire"
ITEM_WEIGHT = "http://hl7.org/fhir/StructureDefinition/itemWeight"
ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
CALCULATED_EXPRESSION = (
    "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression"
)
DESIGN_NOTE = "http://hl7.org/fhir/StructureDefinition/designNote"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
DATA_ABSENT_REASON = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
SCALE_LINK_PREFIX = "scale."
"""linkId prefix of the calculated score items of an exported Questionnaire (`scale.total`)."""


_WEIGHT_URLS = (ITEM_WEIGHT, ORDINAL_VALUE)
_SURVEY = {"coding": [{"system": OBSERVATION_CATEGORY, "code": "survey", "display": "Survey"}]}
_NOT_A_DIAGNOSIS = (
    "A screening result is not a diagnosis: it supports, and never replaces, clinical judgement. "
    "A raised risk flag needs a clinician's assessment."
)
# FHIR R4 dateTime (a time needs a time zone); partial dates are allowed.
_DATETIME = re.compile(
    r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)"
    r"(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])"
    r"(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?"
    r"(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?"
)

Reference = str | Mapping[str, Any]
DateTimeLike = datetime | date | str

_CANONICAL = re.compile(r"https?://[^\s/?#|]+(/[^\s/?#|]+)*")


class Canon(NamedTuple):
    """This library's canonical URLs under one base."""

    base: str

    @property
    def score_system(self) -> str:
        return f"{self.base}/CodeSystem/score"

    @property
    def answer_system(self) -> str:
        return f"{self.base}/CodeSystem/answer"

    def questionnaire(self, instrument_id: str) -> str:
        return f"{self.base}/Questionnaire/{instrument_id}"


DEFAULT_CANON = Canon(CANONICAL_BASE)


def _canon(base: str | None) -> Canon:
    """The canonical URLs under `base` (default `CANONICAL_BASE`): an absolute http(s) URL with
    no trailing slash, query, fragment or version."""
    if base is None:
        return DEFAULT_CANON
    if not isinstance(base, str) or not _CANONICAL.fullmatch(base):
        raise ValueError(
            "canonical_base must be an absolute http(s) URL without a trailing slash, query, "
            f"fragment or '|' (e.g. https://fhir.example.org/screening; got {base!r})"
        )
    return Canon(base)


# --- shared helpers ---------------------------------------------------------------------------


def _instrument(instrument: Instrument | str) -> Instrument:
    return load_instrument(instrument)


def _loinc(codes: Any) -> str | None:
    return codes.loinc if codes is not None else None


def _answer_coding(
    inst: Instrument, item: Item, option: Option, canon: Canon = DEFAULT_CANON
) -> Json:
    if option.code is not None:
        return {"system": LOINC, "code": option.code, "display": option.label}
    code = f"{inst.id}.{item.id}.{option.value}"
    return {"system": canon.answer_system, "code": code, "display": option.label}


def _weights(extensions: Any) -> list[float] | None:
    """The distinct weights the itemWeight / ordinalValue extensions in a list give (of an
    answer's coding, or of a Questionnaire's answerOption); None when one of them has no finite
    number."""
    found: list[float] = []
    for ext in extensions if isinstance(extensions, list) else []:
        if not isinstance(ext, Mapping) or ext.get("url") not in _WEIGHT_URLS:
            continue
        value = ext.get("valueDecimal", ext.get("valueInteger"))
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        if not math.isfinite(value):
            return None
        if value not in found:
            found.append(value)
    return found


def _reference(value: Reference, what: str) -> Json:
    if isinstance(value, str):
        if not value:
            raise ValueError(f"{what}: a reference must not be empty")
        return {"reference": value}
    if value.get("resourceType") is not None:
        resource_id = value.get("id")
        if not isinstance(resource_id, str) or not resource_id:
            raise ValueError(f"{what}: the {value['resourceType']} has no id to refer to")
        return {"reference": f"{value['resourceType']}/{resource_id}"}
    if not any(k in value for k in ("reference", "identifier", "display")):
        raise ValueError(f"{what}: a Reference needs reference, identifier or display")
    return dict(value)


def _datetime(value: DateTimeLike, what: str) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{what}: a FHIR dateTime with a time needs a time zone")
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if not isinstance(value, str) or not _DATETIME.fullmatch(value):
        raise ValueError(
            f"{what}: {value!r} is not a FHIR dateTime (YYYY, YYYY-MM, YYYY-MM-DD or "
            "YYYY-MM-DDThh:mm:ss+zz:zz)"
        )
    return value


def _check_result(inst: Instrument, result: ScoreResult) -> None:
    if any(issue.code == "entered_in_error" for issue in result.issues):
        raise ValueError(
            "the QuestionnaireResponse was entered in error: nothing of it may be exported"
        )
    if result.instrument != inst.id:
        raise ValueError(f"the result is for '{result.instrument}', not '{inst.id}'")
    unknown = [name for name in result.scales if name not in inst.scales]
    if unknown:
        raise ValueError(f"the result has scale(s) {', '.join(unknown)} unknown to '{inst.id}'")
