"""FHIR R4: a QuestionnaireResponse in; Observations, a RiskAssessment, a Bundle and a
Questionnaire out.

Everything is plain JSON-ready dicts: no FHIR library is needed at run time (the tests validate
every resource against the `fhir.resources` R4B models, and evaluate every exported
Questionnaire's calculatedExpressions with fhirpath.js, the engine behind LHC-Forms).

Reading a QuestionnaireResponse matches each answered item to an item of the definition, by the
caller's mapping (linkId → item id), by linkId = item id, or by LOINC code (a linkId such as
`/44250-9` or `44250-9`, a `code` on the item, or the code of the Questionnaire's item when the
caller passes the Questionnaire the response answers), and each answer to an option: a
`valueCoding` by the option's LOINC answer code (or this library's own answer code), else by the
score in its `itemWeight` / `ordinalValue` extension or, for a code alone, on the Questionnaire's
answerOption of that code; a `valueInteger` or integral `valueDecimal` as the option value
(refused where a number could be an option's value or another option's score, as on the EPDS's
reverse-scored items); a `valueBoolean` only for a yes/no item (options exactly 0 and 1). The
same answer given twice counts once. Nothing is guessed: anything else (different answers to
one item, an `item` or `answer` that is not a list, ...) is a `ResponseError` whose issues name
the linkId and its place in the resource. A score or classification the form states
(`/44261-6`, `/93374-7`) is compared with the result, and a difference is a warning on it; so
is a status other than completed.

The library's canonical URLs (its code systems for scales and answers without LOINC codes, and
its Questionnaires' urls) are under `CANONICAL_BASE` unless a writer or reader is given
`canonical_base=`.
"""

from .fhir_common import (
    ANSWER_SYSTEM,
    CALCULATED_EXPRESSION,
    CANONICAL_BASE,
    CODE_SYSTEM_BASE,
    DATA_ABSENT_REASON,
    DESIGN_NOTE,
    ITEM_WEIGHT,
    LOINC,
    OBSERVATION_CATEGORY,
    ORDINAL_VALUE,
    QUESTIONNAIRE_BASE,
    SCALE_LINK_PREFIX,
    SCORE_SYSTEM,
    UCUM,
    DateTimeLike,
    Json,
    Reference,
)
from .fhir_read import read_questionnaire_response, score_questionnaire_response
from .fhir_write import (
    result_bundle,
    to_bundle,
    to_observations,
    to_questionnaire,
    to_risk_assessment,
)

__all__ = [
    "ANSWER_SYSTEM",
    "CALCULATED_EXPRESSION",
    "CANONICAL_BASE",
    "CODE_SYSTEM_BASE",
    "DATA_ABSENT_REASON",
    "DESIGN_NOTE",
    "ITEM_WEIGHT",
    "LOINC",
    "OBSERVATION_CATEGORY",
    "ORDINAL_VALUE",
    "QUESTIONNAIRE_BASE",
    "SCALE_LINK_PREFIX",
    "SCORE_SYSTEM",
    "UCUM",
    "DateTimeLike",
    "Json",
    "Reference",
    "read_questionnaire_response",
    "result_bundle",
    "score_questionnaire_response",
    "to_bundle",
    "to_observations",
    "to_questionnaire",
    "to_risk_assessment",
]
