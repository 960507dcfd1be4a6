"""Issue codes as data: every code the library reports, what it means, and its message template.

Codes are string enums, so they compare equal to the strings they always were
(`issue.code == "invalid_value"`). A message is its template filled from the issue's context
(`Issue.ctx`), so the same problem always reads the same, whichever path found it, and invalid
rows can be grouped by code and context without parsing text. The code table in
docs/format.md is generated from `MEANINGS`; a test requires a marked bad definition file for
every definition code.

One string may name problems of different kinds (`invalid_value` in a definition is a value of
the wrong form; in a response, an answer that is not an option): each kind has its own enum.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from enum import StrEnum
from typing import Any

__all__ = [
    "MEANINGS",
    "TEMPLATES",
    "UNDETERMINED_REASON",
    "DefinitionCode",
    "FhirCode",
    "ResponseCode",
    "RowCode",
    "render",
]


class DefinitionCode(StrEnum):
    """A problem in a definition file (reported by `screening validate` at file:line:col)."""

    YAML_SYNTAX = "yaml_syntax"
    YAML_TAG = "yaml_tag"
    YAML_VALUE = "yaml_value"
    YAML_ANCHOR = "yaml_anchor"
    YAML_MERGE = "yaml_merge"
    YAML_KEY = "yaml_key"
    YAML_DEPTH = "yaml_depth"
    YAML_NODES = "yaml_nodes"
    DUPLICATE_KEY = "duplicate_key"
    FILE_TOO_LARGE = "file_too_large"
    NOT_A_FILE = "not_a_file"
    IO_ERROR = "io_error"
    ENCODING = "encoding"
    EMPTY = "empty"
    NOT_A_MAPPING = "not_a_mapping"
    FORMAT_TOO_NEW = "format_too_new"
    KEY_NEEDS_NEWER_FORMAT = "key_needs_newer_format"
    UNKNOWN_KEY = "unknown_key"
    MISSING_KEY = "missing_key"
    INVALID_VALUE = "invalid_value"
    UNKNOWN_SOURCE = "unknown_source"
    UNUSED_SOURCE = "unused_source"
    TOO_FEW_OPTIONS = "too_few_options"
    DUPLICATE_OPTION = "duplicate_option"
    UNUSED_OPTION_SET = "unused_option_set"
    DUPLICATE_ID = "duplicate_id"
    UNKNOWN_OPTION_SET = "unknown_option_set"
    SCORE_WITH_REVERSE = "score_with_reverse"
    SKIP_RULE_WITHOUT_ASK_IF = "skip_rule_without_ask_if"
    IF_SKIPPED_WITHOUT_ASK_IF = "if_skipped_without_ask_if"
    ASK_IF_ORDER = "ask_if_order"
    ASK_IF_SCALE = "ask_if_scale"
    TEXT_NOT_REDISTRIBUTABLE = "text_not_redistributable"
    NOTHING_SCORED = "nothing_scored"
    INVALID_NAME = "invalid_name"
    UNKNOWN_ITEM = "unknown_item"
    DUPLICATE_ITEM = "duplicate_item"
    MAX_MISSING_TOO_LARGE = "max_missing_too_large"
    MISSING_WITHOUT_PRORATION = "missing_without_proration"
    UNCITED_RULE = "uncited_rule"
    INVALID_MULTIPLIER = "invalid_multiplier"
    LOOKUP_ON_FRACTIONAL_SCALE = "lookup_on_fractional_scale"
    LOOKUP_RANGE = "lookup_range"
    LOOKUP_WHEN = "lookup_when"
    SCALE_PARTS = "scale_parts"
    DECIMAL_SCORE = "decimal_score"
    BANDS_ON_FRACTIONAL_SCALE = "bands_on_fractional_scale"
    BAND_PRECISION = "band_precision"
    BAND_ORDER = "band_order"
    BANDS_NOT_CONTIGUOUS = "bands_not_contiguous"
    BANDS_RANGE = "bands_range"
    DUPLICATE_BAND = "duplicate_band"
    BAND_TABLE_WHEN = "band_table_when"
    UNKNOWN_SCALE = "unknown_scale"
    UNKNOWN_CONTEXT = "unknown_context"
    UNKNOWN_CONTEXT_VALUE = "unknown_context_value"
    CONTEXT_COMPARISON = "context_comparison"
    CONDITION_NEVER_HOLDS = "condition_never_holds"
    UNCITED_DEFAULT = "uncited_default"
    CODING_DEFAULT = "coding_default"
    CODING_VALUES = "coding_values"
    CASE_RESPONSES = "case_responses"
    UNKNOWN_BAND = "unknown_band"
    UNKNOWN_BAND_TABLE = "unknown_band_table"
    UNKNOWN_CODING = "unknown_coding"
    UNKNOWN_FLAG = "unknown_flag"
    UNKNOWN_CLASSIFICATION = "unknown_classification"
    UNKNOWN_LABEL = "unknown_label"
    CASE_FAILED = "case_failed"
    ID_FILENAME = "id_filename"
    OVERLAY_INSTRUMENT = "overlay_instrument"
    OVERLAY_ITEMS = "overlay_items"


class ResponseCode(StrEnum):
    """A problem in one response (a `ResponseError`, or an invalid row with its reason)."""

    INVALID_RESPONSES = "invalid_responses"
    UNKNOWN_ITEM = "unknown_item"
    INVALID_TYPE = "invalid_type"
    INVALID_VALUE = "invalid_value"
    SKIPPED_ITEM_ANSWERED = "skipped_item_answered"
    UNKNOWN_CONTEXT = "unknown_context"
    CONTEXT_MISSING = "context_missing"
    CONTEXT_INVALID = "context_invalid"


class RowCode(StrEnum):
    """Why a row of a table is invalid beyond its response issues (`issues_frame`, summaries)."""

    SCALE_UNSCORED = "scale_unscored"
    CLASSIFICATION_UNDETERMINED = "classification_undetermined"


class FhirCode(StrEnum):
    """A problem reading a FHIR QuestionnaireResponse (with the linkId and its path)."""

    NOT_A_QUESTIONNAIRE_RESPONSE = "not_a_questionnaire_response"
    ENTERED_IN_ERROR = "entered_in_error"
    INVALID_QUESTIONNAIRE_RESPONSE = "invalid_questionnaire_response"
    UNMATCHED_LINK_ID = "unmatched_link_id"
    INVALID_ANSWER = "invalid_answer"
    CONFLICTING_ANSWERS = "conflicting_answers"
    CONFLICTING_ANSWER = "conflicting_answer"
    UNKNOWN_ANSWER_CODE = "unknown_answer_code"
    UNKNOWN_ANSWER_WEIGHT = "unknown_answer_weight"
    BOOLEAN_NOT_ALLOWED = "boolean_not_allowed"
    NOT_INTEGRAL = "not_integral"
    INVALID_VALUE = "invalid_value"
    UNSUPPORTED_ANSWER_TYPE = "unsupported_answer_type"
    CODE_WITHOUT_SYSTEM = "code_without_system"
    SHARED_WEIGHT = "shared_weight"
    INCOMPLETE_RESPONSE = "incomplete_response"
    FORM_SCORE_DIFFERS = "form_score_differs"
    FORM_CLASSIFICATION_DIFFERS = "form_classification_differs"


Code = DefinitionCode | ResponseCode | RowCode | FhirCode


class _ByKind(Mapping[Code, str]):
    """Text per code, told apart by kind. `DefinitionCode.INVALID_VALUE` and
    `ResponseCode.INVALID_VALUE` are equal strings, so one key of a plain dict (a later entry
    silently replaces an earlier one); here each kind keeps its own. A plain string is no code
    of any kind: it finds nothing."""

    def __init__(
        self,
        *tables: Mapping[DefinitionCode, str]
        | Mapping[ResponseCode, str]
        | Mapping[RowCode, str]
        | Mapping[FhirCode, str],
    ) -> None:
        self._text: dict[tuple[type, str], str] = {}
        self._codes: list[Code] = []
        for table in tables:
            for code, text in table.items():
                key = (type(code), code.value)
                if key in self._text:
                    raise ValueError(f"{code!r} is given twice")
                self._text[key] = text
                self._codes.append(code)

    def __getitem__(self, code: Code) -> str:
        return self._text[(type(code), str(code))]

    def __contains__(self, code: object) -> bool:
        return (type(code), str(code)) in self._text

    def __iter__(self) -> Iterator[Code]:
        return iter(self._codes)

    def __len__(self) -> int:
        return len(self._codes)


# One dict per kind, as codes of different kinds may be equal strings (`invalid_value`).
_DEFINITION_MEANINGS: dict[DefinitionCode, str] = {
    DefinitionCode.YAML_SYNTAX: "not YAML, or a character YAML does not allow (NUL, other "
    "control characters)",
    DefinitionCode.YAML_TAG: "a tag outside the YAML 1.2 core schema (`!!python/object`, "
    "`!custom`, `!!set`)",
    DefinitionCode.YAML_VALUE: "a core tag on a value not of its form (`!!int abc`), or a "
    "number of more than 100 digits",
    DefinitionCode.YAML_ANCHOR: "an anchor or alias (`&name`, `*name`) on a value or a key",
    DefinitionCode.YAML_MERGE: "a merge key (`<<`)",
    DefinitionCode.YAML_KEY: "a key that is not text (`1:`, `true:`, `null:`)",
    DefinitionCode.YAML_DEPTH: "nesting deeper than 50 levels",
    DefinitionCode.YAML_NODES: "more than 10,000 nodes",
    DefinitionCode.DUPLICATE_KEY: "a key given twice in one mapping",
    DefinitionCode.FILE_TOO_LARGE: "a file over 100 KB",
    DefinitionCode.NOT_A_FILE: "a folder, FIFO, device or socket where a file belongs",
    DefinitionCode.IO_ERROR: "the file cannot be read",
    DefinitionCode.ENCODING: "bytes that are not UTF-8",
    DefinitionCode.EMPTY: "an empty file",
    DefinitionCode.NOT_A_MAPPING: "a top level that is not a mapping of keys",
    DefinitionCode.FORMAT_TOO_NEW: "written in a format newer than this library reads (the only "
    "issue reported: the file's other keys are not this library's to judge)",
    DefinitionCode.KEY_NEEDS_NEWER_FORMAT: "a key that arrived in a later format than the file "
    "states",
    DefinitionCode.UNKNOWN_KEY: "a key the format does not have (a typo, mostly)",
    DefinitionCode.MISSING_KEY: "a required key is absent",
    DefinitionCode.INVALID_VALUE: "a value of the wrong type or form (two comparison operators, "
    "`.nan` or `.inf`, an `if_skipped` that is no score of the item, an `accept_when_skipped` "
    "value that is no option, a missing-data `fill` with proration or a mean)",
    DefinitionCode.UNKNOWN_SOURCE: "a cited key not listed under `sources`",
    DefinitionCode.UNUSED_SOURCE: "*warning*: a source no rule cites",
    DefinitionCode.TOO_FEW_OPTIONS: "an option list with fewer than two options",
    DefinitionCode.DUPLICATE_OPTION: "an option value or label listed twice",
    DefinitionCode.UNUSED_OPTION_SET: "*warning*: an option set no item uses",
    DefinitionCode.DUPLICATE_ID: "an item id or flag id used twice",
    DefinitionCode.UNKNOWN_OPTION_SET: "an item names an option set that is not defined",
    DefinitionCode.SKIP_RULE_WITHOUT_ASK_IF: "`answered_when_skipped` or `accept_when_skipped` "
    "without `ask_if` (or `accept_when_skipped` beside `answered_when_skipped: score`)",
    DefinitionCode.IF_SKIPPED_WITHOUT_ASK_IF: "`if_skipped` without `ask_if`",
    DefinitionCode.ASK_IF_ORDER: "skip logic looking at a later item",
    DefinitionCode.ASK_IF_SCALE: "skip logic looking at a scale",
    DefinitionCode.TEXT_NOT_REDISTRIBUTABLE: "wording where the licence does not permit it",
    DefinitionCode.NOTHING_SCORED: "no scale and no classification",
    DefinitionCode.INVALID_NAME: "a scale or classification name outside the id pattern",
    DefinitionCode.UNKNOWN_ITEM: "a scale, condition or wording overlay naming an undefined item",
    DefinitionCode.DUPLICATE_ITEM: "a scale listing an item twice",
    DefinitionCode.MAX_MISSING_TOO_LARGE: "`max_missing` not below the scale's item count",
    DefinitionCode.MISSING_WITHOUT_PRORATION: "missing items allowed without `prorate: true` "
    "(or a `fill`, or a mean)",
    DefinitionCode.UNCITED_RULE: "a missing-data rule without its source",
    DefinitionCode.INVALID_MULTIPLIER: "a multiplier that is not positive",
    DefinitionCode.BANDS_ON_FRACTIONAL_SCALE: "bands on a scale that can score fractions of "
    "no stated precision (no `decimals`)",
    DefinitionCode.BAND_PRECISION: "a band edge finer than the scale's precision (its `decimals`, "
    "or whole numbers)",
    DefinitionCode.SCORE_WITH_REVERSE: "an item that is reverse-scored and whose options also "
    "state scores",
    DefinitionCode.LOOKUP_ON_FRACTIONAL_SCALE: "a conversion table on a scale whose score before "
    "it can be a fraction (a mean, a fractional multiplier, unrounded proration)",
    DefinitionCode.LOOKUP_RANGE: "a conversion table that does not list exactly the scores the "
    "scale reaches",
    DefinitionCode.SCALE_PARTS: "a scale that lists neither items nor scales (or both), a scale "
    "over scales with a step of an item scale (a missing-data rule, a count, a table, "
    "decimals, a multiplier, a mean), or one listing a scale not defined before it, twice, or "
    "scoring fractions",
    DefinitionCode.DECIMAL_SCORE: "a decimal answer scored as itself (no `scores` ranges) where "
    "a decimal cannot go: a scale holding it without `decimals`, beside other items, with a "
    "count, a table or a fill, or prorating half up (it would round twice); a condition reading "
    "it; an `if_skipped` on it",
    DefinitionCode.LOOKUP_WHEN: "of several conversion tables, one whose `when` reads an item or "
    "a scale (a table is chosen by context only), or one that never applies (an earlier table "
    "without `when` applies everywhere)",
    DefinitionCode.BAND_ORDER: "a band whose `min` is above its `max`",
    DefinitionCode.BANDS_NOT_CONTIGUOUS: "a gap or an overlap between bands",
    DefinitionCode.BANDS_RANGE: "bands that do not cover exactly the scale's reachable range",
    DefinitionCode.DUPLICATE_BAND: "a band label listed twice",
    DefinitionCode.BAND_TABLE_WHEN: "a band table whose `when` reads an item or a scale (a table "
    "is chosen by context only)",
    DefinitionCode.UNKNOWN_SCALE: "a condition, change block or case naming an undefined scale",
    DefinitionCode.UNKNOWN_CONTEXT: "a condition naming an undeclared context variable",
    DefinitionCode.UNKNOWN_CONTEXT_VALUE: "a condition comparing a context variable with a "
    "value it does not take",
    DefinitionCode.CONTEXT_COMPARISON: "a context comparison of the wrong kind: a text variable "
    "compared with a number or by order (`gte`), a number variable with text, a cut-point "
    "operand (`{context: ...}`) naming a text variable",
    DefinitionCode.CONDITION_NEVER_HOLDS: "an item comparison no score of the item meets",
    DefinitionCode.UNCITED_DEFAULT: "a context variable's default without its source",
    DefinitionCode.CODING_DEFAULT: "codings without exactly one default, or a default that "
    "does not record the option values as listed",
    DefinitionCode.CODING_VALUES: "a coding's `values` that do not fit: a name that is no "
    "option set or item (or an item answered with a number), a list not one per option, a "
    "number twice, `values` beside `records: score`; a coding's non-answer listed twice or "
    "recording an answer",
    DefinitionCode.CASE_RESPONSES: "a golden case's list of responses not one per item",
    DefinitionCode.UNKNOWN_BAND: "a golden case expecting a band the scale does not have",
    DefinitionCode.UNKNOWN_BAND_TABLE: "a golden case expecting a band table the scale does not "
    "have",
    DefinitionCode.UNKNOWN_CODING: "a golden case in a coding the instrument does not have",
    DefinitionCode.UNKNOWN_FLAG: "a golden case expecting an undefined flag",
    DefinitionCode.UNKNOWN_CLASSIFICATION: "a golden case expecting an undefined classification",
    DefinitionCode.UNKNOWN_LABEL: "a golden case expecting a label its classification never gives",
    DefinitionCode.CASE_FAILED: "a golden case whose result differs from its expectation",
    DefinitionCode.ID_FILENAME: "*warning*: the id differs from the file name",
    DefinitionCode.OVERLAY_INSTRUMENT: "a wording overlay for another instrument",
    DefinitionCode.OVERLAY_ITEMS: "a wording overlay whose items are not item ids → wording",
}

_RESPONSE_MEANINGS: dict[ResponseCode, str] = {
    ResponseCode.INVALID_RESPONSES: "the responses are not a mapping of item ids to values",
    ResponseCode.UNKNOWN_ITEM: "a response names an item the instrument does not have",
    ResponseCode.INVALID_TYPE: "an answer that is not a whole number (text, a boolean, a date)",
    ResponseCode.INVALID_VALUE: "an answer that is not one of the item's options",
    ResponseCode.SKIPPED_ITEM_ANSWERED: "an answer to a question skip logic skipped that does "
    "not agree with the skip",
    ResponseCode.UNKNOWN_CONTEXT: "a context variable the instrument does not declare",
    ResponseCode.CONTEXT_MISSING: "a required context variable is missing",
    ResponseCode.CONTEXT_INVALID: "a context value the variable does not take (a value not "
    "listed, text for a number, a number out of its bounds)",
}

_ROW_MEANINGS: dict[RowCode, str] = {
    RowCode.SCALE_UNSCORED: "a primary scale could not be scored (too many items missing)",
    RowCode.CLASSIFICATION_UNDETERMINED: "a classification a missing answer could change",
}

_FHIR_MEANINGS: dict[FhirCode, str] = {
    FhirCode.NOT_A_QUESTIONNAIRE_RESPONSE: "the resource is not a QuestionnaireResponse",
    FhirCode.ENTERED_IN_ERROR: "the response has status entered-in-error: it must not be scored",
    FhirCode.INVALID_QUESTIONNAIRE_RESPONSE: "malformed structure: an `item` that is not a list "
    "of objects, an item without a linkId",
    FhirCode.UNMATCHED_LINK_ID: "an answered linkId that matches no item",
    FhirCode.INVALID_ANSWER: "an answer without exactly one `value[x]`, or of the wrong shape",
    FhirCode.CONFLICTING_ANSWERS: "one item answered more than once with different answers",
    FhirCode.CONFLICTING_ANSWER: "a coding whose weight contradicts its code",
    FhirCode.UNKNOWN_ANSWER_CODE: "an answer code that is no option of the item",
    FhirCode.UNKNOWN_ANSWER_WEIGHT: "a weight that is no score of the item",
    FhirCode.BOOLEAN_NOT_ALLOWED: "a boolean for an item that is not yes/no",
    FhirCode.NOT_INTEGRAL: "a `valueDecimal` that is not a whole number",
    FhirCode.INVALID_VALUE: "a number that is not one of the item's options",
    FhirCode.UNSUPPORTED_ANSWER_TYPE: "a `value[x]` type that cannot answer the item: a number "
    "for a choice item whose options score otherwise than their values (EPDS, reverse-scored "
    "items: the number could be the box or the score), a code for a decimal answer, a string",
    FhirCode.CODE_WITHOUT_SYSTEM: "an answer code without a system: read, with a warning, when it "
    "is exactly one option's code; otherwise refused, saying the system is missing",
    FhirCode.SHARED_WEIGHT: "an answer given by its weight alone where several answers share "
    "that weight (SBQ-R 3a and 3b): read, with a warning, as the first of them; they score alike",
    FhirCode.INCOMPLETE_RESPONSE: "a status other than completed or amended (in-progress, stopped, "
    "none): a warning, an error with `require_completed`",
    FhirCode.FORM_SCORE_DIFFERS: "a score the form states (e.g. the PHQ-9 total /44261-6) differs "
    "from screening's, or cannot be compared (a warning; screening's is the result)",
    FhirCode.FORM_CLASSIFICATION_DIFFERS: "a classification the form states (e.g. the C-SSRS risk "
    "level /93374-7) differs from screening's, or cannot be compared (a warning)",
}

MEANINGS: Mapping[Code, str] = _ByKind(
    _DEFINITION_MEANINGS, _RESPONSE_MEANINGS, _ROW_MEANINGS, _FHIR_MEANINGS
)

_DEFINITION_TEMPLATES: dict[DefinitionCode, str] = {
    # A definition's ctx holds names, numbers and keys; `detail` only where the text is another
    # library's (ruamel's parse errors, pydantic's) or the code covers several forms of one fault.
    DefinitionCode.YAML_SYNTAX: "{detail}",
    DefinitionCode.YAML_TAG: "tag '{tag}' is not allowed",
    DefinitionCode.YAML_VALUE: "{detail}",
    DefinitionCode.YAML_ANCHOR: "anchors and aliases are not allowed (found '&{anchor}'); "
    "write the value out",
    DefinitionCode.YAML_MERGE: "merge keys (<<) are not allowed; write the keys out",
    DefinitionCode.YAML_KEY: "keys must be text (got {key!r}); quote it",
    DefinitionCode.YAML_DEPTH: "nesting deeper than {limit} levels",
    DefinitionCode.YAML_NODES: "more than {limit} nodes (each key, value, list and mapping "
    "counts); a definition needs far fewer",
    DefinitionCode.DUPLICATE_KEY: "duplicate key '{key}' (first at line {first_line})",
    DefinitionCode.FILE_TOO_LARGE: "file is {size} bytes; the limit is {limit} bytes",
    DefinitionCode.NOT_A_FILE: "not a regular file ({kind}); a definition is a YAML file",
    DefinitionCode.IO_ERROR: "cannot read: {reason}",
    DefinitionCode.ENCODING: "not UTF-8: {reason} (byte {byte})",
    DefinitionCode.EMPTY: "the file is empty",
    DefinitionCode.NOT_A_MAPPING: "a definition is a mapping of keys",
    DefinitionCode.FORMAT_TOO_NEW: "this definition is written in format {stated}; screening "
    "{version} reads format up to {supported}: upgrade screening",
    DefinitionCode.KEY_NEEDS_NEWER_FORMAT: "{where}: '{key}' needs format {needs} (the file says "
    "{stated})",
    DefinitionCode.UNKNOWN_KEY: "{where}: unknown key '{key}'{hint}",
    DefinitionCode.MISSING_KEY: "{where}: missing required key '{key}'",
    DefinitionCode.INVALID_VALUE: "{where}: {detail} (got {got})",
    DefinitionCode.UNKNOWN_SOURCE: "source '{key}' is not listed under sources (known: {known})",
    DefinitionCode.UNUSED_SOURCE: "source '{key}' is cited by no rule",
    DefinitionCode.TOO_FEW_OPTIONS: "needs at least two options",
    DefinitionCode.DUPLICATE_OPTION: "option {field} {given!r} is listed twice",
    DefinitionCode.UNUSED_OPTION_SET: "option set '{name}' is used by no item",
    DefinitionCode.DUPLICATE_ID: "{kind} id '{id}' is used twice",
    DefinitionCode.UNKNOWN_OPTION_SET: "item '{item_id}' uses option set '{name}', which is not "
    "defined (defined: {defined})",
    DefinitionCode.SKIP_RULE_WITHOUT_ASK_IF: "item '{item_id}' {rule} when skipped but {why}",
    DefinitionCode.IF_SKIPPED_WITHOUT_ASK_IF: "item '{item_id}' gives a score for when it is "
    "skipped but has no ask_if",
    DefinitionCode.ASK_IF_ORDER: "skip logic may only look at earlier items; '{item_id}' does not "
    "come before '{asker}'",
    DefinitionCode.ASK_IF_SCALE: "skip logic may not depend on a scale",
    DefinitionCode.TEXT_NOT_REDISTRIBUTABLE: "item '{item_id}' carries wording, but the licence "
    "does not permit redistributing it (license.redistribute_text is false); use a short label "
    "and supply wording in an overlay file",
    DefinitionCode.NOTHING_SCORED: "a definition needs at least one scale or classification",
    DefinitionCode.INVALID_NAME: "{kind} name '{name}' must be lower-case letters, digits and _",
    DefinitionCode.UNKNOWN_ITEM: "{owner} {verb} item '{item_id}', which is not defined",
    DefinitionCode.DUPLICATE_ITEM: "scale '{scale}' lists item '{item_id}' twice",
    DefinitionCode.MAX_MISSING_TOO_LARGE: "scale '{scale}' allows {max_missing} missing item(s) "
    "of {count}; it must be fewer than the item count",
    DefinitionCode.MISSING_WITHOUT_PRORATION: "scale '{scale}' allows missing items without "
    "prorating, which scores a missing item as 0; set prorate: true as the source prescribes",
    DefinitionCode.UNCITED_RULE: "scale '{scale}': the missing-data rule must cite its source",
    DefinitionCode.INVALID_MULTIPLIER: "scale '{scale}': multiplier must be positive",
    DefinitionCode.BANDS_ON_FRACTIONAL_SCALE: "scale '{scale}' can score fractions (a mean, "
    "unrounded proration or a fractional multiplier); bands need whole-number scores or the "
    "scale's `decimals`",
    DefinitionCode.BAND_PRECISION: "scale '{scale}': band '{band}' {side} {given} is finer than "
    "the scale's scores ({precision})",
    DefinitionCode.SCORE_WITH_REVERSE: "item '{item_id}' is reverse-scored and its options "
    "state scores; state the reversed scores instead",
    DefinitionCode.LOOKUP_ON_FRACTIONAL_SCALE: "scale '{scale}': a conversion table reads whole "
    "numbers, but the score before it can be a fraction (a mean, unrounded proration or a "
    "fractional multiplier)",
    DefinitionCode.LOOKUP_RANGE: "scale '{scale}': the conversion table must list every score "
    "from {lowest} to {highest}; {problem}",
    DefinitionCode.LOOKUP_WHEN: "scale '{scale}': conversion table {table} {problem}",
    DefinitionCode.SCALE_PARTS: "scale '{scale}' {problem}",
    DefinitionCode.DECIMAL_SCORE: "{where}: {problem}",
    DefinitionCode.BAND_ORDER: "scale '{scale}': band '{band}' has min {min} above max {max}",
    DefinitionCode.BANDS_NOT_CONTIGUOUS: "scale '{scale}': band '{band}' starts at {start}, which "
    "{relation} band '{previous}' (ends at {previous_end}); it must start at {expected}",
    DefinitionCode.BANDS_RANGE: "scale '{scale}': bands {side} at {given} but the {extreme} "
    "possible score is {reachable}",
    DefinitionCode.DUPLICATE_BAND: "scale '{scale}': band '{band}' is listed twice",
    DefinitionCode.BAND_TABLE_WHEN: "scale '{scale}': band table '{table}' is chosen by context "
    "only; its condition reads {kind} '{name}'",
    DefinitionCode.UNKNOWN_SCALE: "{owner} {verb} scale '{scale}', which is not defined "
    "(defined: {defined})",
    DefinitionCode.UNKNOWN_CONTEXT: "condition names context variable '{variable}', which is not "
    "declared under context",
    DefinitionCode.UNKNOWN_CONTEXT_VALUE: "context '{variable}' takes {allowed} (got '{got}')",
    DefinitionCode.CONTEXT_COMPARISON: "context '{variable}' is {kind}; {problem}",
    DefinitionCode.CONDITION_NEVER_HOLDS: "item '{item_id}' scores {scores}; '{condition}' never "
    "holds",
    DefinitionCode.UNCITED_DEFAULT: "context '{variable}': the default {default!r} must cite its "
    "source",
    DefinitionCode.CODING_DEFAULT: "codings: {problem}",
    DefinitionCode.CODING_VALUES: "coding '{coding}': {problem}",
    DefinitionCode.CASE_RESPONSES: "case '{case}': a list of responses needs one entry per item "
    "({expected}, got {got})",
    DefinitionCode.UNKNOWN_BAND: "case '{case}' expects band '{band}', which scale '{scale}' does "
    "not have",
    DefinitionCode.UNKNOWN_BAND_TABLE: "case '{case}' expects band table '{table}', which scale "
    "'{scale}' does not have (its tables: {defined})",
    DefinitionCode.UNKNOWN_CODING: "case '{case}' is recorded in coding '{coding}', which is not "
    "defined (codings: {defined})",
    DefinitionCode.UNKNOWN_FLAG: "case '{case}' expects unknown flag '{flag}'",
    DefinitionCode.UNKNOWN_CLASSIFICATION: "case '{case}' expects unknown classification "
    "'{classification}'",
    DefinitionCode.UNKNOWN_LABEL: "case '{case}' expects '{label}', which classification "
    "'{classification}' never gives",
    DefinitionCode.CASE_FAILED: "case '{case}': {field} expected {expected!r}, got {actual!r}",
    DefinitionCode.ID_FILENAME: "id '{id}' differs from the file name '{stem}'",
    DefinitionCode.OVERLAY_INSTRUMENT: "overlay is for '{given}', not '{instrument}'",
    DefinitionCode.OVERLAY_ITEMS: "{subject} must be {expected}",
}

_RESPONSE_TEMPLATES: dict[ResponseCode, str] = {
    ResponseCode.INVALID_RESPONSES: "responses must map item ids to values (got {got})",
    ResponseCode.UNKNOWN_ITEM: "unknown item '{item}' for {instrument} (items: {first} … "
    "{last}){hint}",
    ResponseCode.INVALID_TYPE: "item '{item}' must be {kind}, one of {allowed} (got {got})",
    ResponseCode.INVALID_VALUE: "item '{item}' must be one of {allowed} (got {got})",
    ResponseCode.SKIPPED_ITEM_ANSWERED: "item '{item}' is asked only when {condition}, which "
    "does not hold, but it was answered (got {got})",
    ResponseCode.UNKNOWN_CONTEXT: "{instrument} takes no context '{item}' (declared: {declared})",
    ResponseCode.CONTEXT_MISSING: "{instrument} needs context '{item}' ({expected}), "
    "e.g. score(..., {item}={example!r})",
    ResponseCode.CONTEXT_INVALID: "context '{item}' must be {expected} (got {got})",
}

_ROW_TEMPLATES: dict[RowCode, str] = {
    RowCode.SCALE_UNSCORED: "{scale}: {reason}",
    RowCode.CLASSIFICATION_UNDETERMINED: "{classification}: undetermined, an answer or context "
    "it needs is missing or invalid",
}

TEMPLATES: Mapping[Code, str] = _ByKind(_DEFINITION_TEMPLATES, _RESPONSE_TEMPLATES, _ROW_TEMPLATES)


UNDETERMINED_REASON = "{classification}: undetermined, an answer or context it needs is missing"
"""The reason of a result whose classification is undetermined (and no answer is bad)."""


def render(code: Code, ctx: Mapping[str, Any]) -> str:
    """The message of an issue: its code's template filled from its context, or, for a code
    whose messages are written where they arise, the context's `message`."""
    template = TEMPLATES.get(code)
    if template is None:
        return str(ctx["message"])
    return template.format(**ctx)
