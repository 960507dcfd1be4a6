"""FHIR R4 QuestionnaireResponse in: matched to a definition's items, answers decoded to option
values, nothing guessed (see `screening.fhir`)."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

from .codes import FhirCode
from .definition import (
    LOINC_PATTERN,
    Instrument,
    Item,
)
from .errors import Issue, PathPart, ResponseError, format_path
from .fhir_common import (
    _WEIGHT_URLS,
    ANSWER_SYSTEM,
    LOINC,
    SCALE_LINK_PREFIX,
    _answer_coding,
    _instrument,
    _loinc,
)
from .results import FlagResult, ScoreResult
from .scoring import OnError, check_on_error, plan_for, score

__all__ = [
    "read_questionnaire_response",
    "score_questionnaire_response",
]

# --- QuestionnaireResponse in -----------------------------------------------------------------


class _Target(NamedTuple):
    """What an answer to one item may be."""

    item: Item
    by_coding: Mapping[tuple[str, str], int]
    """(system, code) → option value."""
    by_score: Mapping[int, int]
    """score (an itemWeight) → option value."""
    scores: Mapping[int, int]
    """option value → score."""
    yes_no: bool


class _Read(NamedTuple):
    responses: dict[str, int]
    issues: list[Issue]
    bad_items: set[str]
    flag_only: dict[str, tuple[int, ...]]
    """Item id → the readable answers of an item that is not scored (its answers conflict, or
    sit in a malformed structure): each of them still counts toward risk flags."""


class _Given(NamedTuple):
    """One answer to an item, as read."""

    value: int | None
    """The option value; None when the answer cannot be read (an issue says why)."""
    place: str
    """Where it is: `linkId 'phq9_9' (item[8].answer[0])`."""
    path: tuple[PathPart, ...]
    misplaced: bool
    """In a malformed structure (reported there): it counts only toward risk flags."""


class _Reader:
    """Matches QuestionnaireResponse items to a definition's items and reads their answers."""

    def __init__(self, inst: Instrument, link_ids: Mapping[str, str | None] | None) -> None:
        self.inst = inst
        self.targets = {item.id: _target(inst, item) for item in inst.items}
        self.by_loinc: dict[str, str | None] = {}
        for item in inst.items:
            code = _loinc(item.codes)
            if code is not None:  # a code two items share matches neither
                self.by_loinc[code] = None if code in self.by_loinc else item.id
        self.scale_loinc = {_loinc(s.codes) for s in inst.scales.values()} - {None}
        self.link_ids = dict(link_ids or {})
        for link_id, item_id in self.link_ids.items():
            if item_id is not None and item_id not in self.targets:
                raise ValueError(
                    f"link_ids maps '{link_id}' to '{item_id}', which is not an item of "
                    f"{inst.id} (items: {', '.join(self.targets)})"
                )
        self.given: dict[str, list[_Given]] = {}
        self.issues: list[Issue] = []
        self.bad: set[str] = set()

    def read(self, resource: Any) -> _Read:
        if not isinstance(resource, Mapping) or (
            resource.get("resourceType") != "QuestionnaireResponse"
        ):
            got = resource.get("resourceType") if isinstance(resource, Mapping) else resource
            self._issue(
                FhirCode.NOT_A_QUESTIONNAIRE_RESPONSE,
                f"expected a FHIR QuestionnaireResponse (got {_short(got)})",
                (),
            )
            return _Read({}, self.issues, self.bad, {})
        if resource.get("status") == "entered-in-error":
            self._issue(
                FhirCode.ENTERED_IN_ERROR,
                "the QuestionnaireResponse has status entered-in-error: it must not be scored",
                ("status",),
            )
        for node, path, misplaced in _walk(resource, self._issue):
            self._node(node, path, misplaced)
        return self._settle()

    def _issue(
        self,
        code: str,
        message: str,
        path: tuple[PathPart, ...],
        item: str | None = None,
        value: Any = None,
    ) -> None:
        self.issues.append(Issue(code, message, path, item=item, value=value))
        if item is not None:
            self.bad.add(item)

    def _node(self, node: Mapping[str, Any], path: tuple[PathPart, ...], misplaced: bool) -> None:
        link_id = node["linkId"]
        where = f"linkId '{link_id}' ({format_path(path)})"
        item_id = self._match(link_id, node)
        raw = node.get("answer")
        answers, listed = _entries(raw)
        if not listed:
            self._issue(
                FhirCode.INVALID_ANSWER,
                f"{where}: answer must be a list (got {_kind(raw)})"
                + (
                    "; the item is not scored, its answer counts only toward risk flags"
                    if item_id is not None and answers
                    else ""
                ),
                (*path, "answer"),
                item_id,
            )
        if item_id is None:
            if answers and not self._ignored(link_id, node):
                self._issue(
                    FhirCode.UNMATCHED_LINK_ID,
                    f"{where} matches no item of {self.inst.id}: its linkId is not an item id "
                    "or an item's LOINC code; pass link_ids={linkId: item id} (or None to "
                    "ignore it)",
                    path,
                    value=link_id,
                )
            return
        target = self.targets[item_id]
        for a, answer in enumerate(answers):
            at = (*path, "answer", a) if listed else (*path, "answer")
            value = self._answer(target, answer, where, at)
            place = f"linkId '{link_id}' ({format_path(at)})"
            given = _Given(value, place, at, misplaced or not listed)
            self.given.setdefault(item_id, []).append(given)

    def _settle(self) -> _Read:
        """Each item's answer: the same answer given twice counts once; different answers, or
        an answer in a malformed structure, leave the item unscored, their answers counting
        toward risk flags only."""
        responses: dict[str, int] = {}
        flag_only: dict[str, tuple[int, ...]] = {}
        for item_id, given in self.given.items():
            values = tuple(dict.fromkeys(g.value for g in given if g.value is not None))
            if len(values) > 1:
                self._conflict(item_id, given, values)
            if len(values) == 1 and item_id not in self.bad and not any(g.misplaced for g in given):
                responses[item_id] = values[0]
                continue
            self.bad.add(item_id)
            if values:
                flag_only[item_id] = values
        return _Read(responses, self.issues, self.bad, flag_only)

    def _conflict(self, item_id: str, given: list[_Given], values: tuple[int, ...]) -> None:
        labels = {o.value: o.label for o in self.inst.item_options(self.targets[item_id].item)}
        readable = [(g.value, g) for g in given if g.value is not None]
        shown = [f"{v} ({labels[v]}) at {g.place}" for v, g in readable[:_SHOWN]]
        if len(readable) > _SHOWN:
            shown.append(f"{len(readable) - _SHOWN} more")
        second = next(g for v, g in readable if v != values[0])
        self._issue(
            FhirCode.CONFLICTING_ANSWERS,
            f"item '{item_id}' has conflicting answers: {', '.join(shown)}; it is not scored, "
            "and each answer counts toward risk flags",
            second.path,
            item_id,
            values,
        )

    def _match(self, link_id: str, node: Mapping[str, Any]) -> str | None:
        if link_id in self.link_ids:
            return self.link_ids[link_id]
        if link_id in self.targets:
            return link_id
        for code in _candidate_codes(link_id, node):
            item_id = self.by_loinc.get(code)
            if item_id is not None:
                return item_id
        return None

    def _ignored(self, link_id: str, node: Mapping[str, Any]) -> bool:
        """Mapped to None by the caller, or a score the form calculated (recomputed here)."""
        if link_id in self.link_ids:
            return True
        if (
            link_id.startswith(SCALE_LINK_PREFIX)
            and link_id[len(SCALE_LINK_PREFIX) :] in self.inst.scales
        ):
            return True
        return any(code in self.scale_loinc for code in _candidate_codes(link_id, node))

    def _answer(
        self, target: _Target, answer: Any, where: str, path: tuple[PathPart, ...]
    ) -> int | None:
        """The option value an answer gives, or None after reporting why it cannot be read."""
        item_id = target.item.id
        if not isinstance(answer, Mapping):
            self._issue(
                FhirCode.INVALID_ANSWER,
                f"{where}: an answer must be an object (got {_short(answer)})",
                path,
                item_id,
            )
            return None
        kinds = [k for k in answer if isinstance(k, str) and k.startswith("value")]
        if len(kinds) != 1:
            self._issue(
                FhirCode.INVALID_ANSWER,
                f"{where}: an answer needs exactly one value[x] (got {len(kinds)})",
                path,
                item_id,
            )
            return None
        kind = kinds[0]
        value, problem = _decode(self.inst, target, kind, answer[kind])
        if problem is not None:
            code, message = problem
            self._issue(code, f"{where}: {message}", (*path, kind), item_id, answer[kind])
        return value


_SHOWN = 6
"""How many places a conflicting_answers message lists."""
_FLAGS_ONLY = "; the items in it are not scored, their answers count only toward risk flags"


def _target(inst: Instrument, item: Item) -> _Target:
    options = inst.item_options(item)
    scores = inst.item_scores(item)
    by_coding: dict[tuple[str, str], int] = {}
    for option in options:
        by_coding[(ANSWER_SYSTEM, f"{inst.id}.{item.id}.{option.value}")] = option.value
        if option.code is not None:
            by_coding[(LOINC, option.code)] = option.value
    by_score = {s: v for v, s in scores.items()}
    yes_no = sorted(scores) == [0, 1]
    return _Target(item, by_coding, by_score, scores, yes_no)


def _candidate_codes(link_id: str, node: Mapping[str, Any]) -> Iterator[str]:
    """LOINC codes a QuestionnaireResponse item names: `/44250-9` (the last segment of a
    LOINC-generated linkId), `44250-9`, or a LOINC coding in a (non-standard) `code`."""
    last = link_id.rsplit("/", 1)[-1]
    if re.fullmatch(LOINC_PATTERN, last):
        yield last
    codes = node.get("code")
    if isinstance(codes, list):
        for coding in codes:
            if isinstance(coding, Mapping) and coding.get("system") == LOINC:
                code = coding.get("code")
                if isinstance(code, str):
                    yield code


def _entries(value: Any) -> tuple[list[Any], bool]:
    """The entries of a list element (`item`, `answer`) and whether it is a list. An object where
    the list belongs (e.g. `answer[0].item` given as one item) is read as a list of one, so that
    its answers still count toward risk flags; anything else has no entries."""
    if value is None:
        return [], True
    if isinstance(value, list):
        return value, True
    return ([value] if isinstance(value, Mapping) else []), False


def _kind(value: Any) -> str:
    return "an object" if isinstance(value, Mapping) else _short(value)


def _walk(
    resource: Mapping[str, Any], report: Callable[[str, str, tuple[PathPart, ...]], None]
) -> Iterator[tuple[Mapping[str, Any], tuple[PathPart, ...], bool]]:
    """Every item with a linkId, nested in groups and under answers, in document order, and
    whether it sits in a malformed structure (no recursion, so a deeply nested resource cannot
    exhaust the stack).

    R4 makes `item` (of the resource, an item or an answer) and `answer` lists of objects, and
    requires a linkId. Each departure is reported with its path; an object where a list belongs,
    or an item without a linkId, is still walked, and the items in it come out `misplaced`: not
    scored, their answers counting toward risk flags only (the walk never guesses a score, and
    never loses a risk answer)."""
    stack: list[tuple[Mapping[str, Any], tuple[PathPart, ...], bool]] = [(resource, (), False)]
    while stack:
        node, path, misplaced = stack.pop()
        lists: list[tuple[tuple[PathPart, ...], Any, bool]] = [
            ((*path, "item"), node.get("item"), misplaced)
        ]
        if path:  # an item: items may nest under its answers too
            answers, listed = _entries(node.get("answer"))  # reported by the reader
            for a, answer in enumerate(answers):
                if isinstance(answer, Mapping) and "item" in answer:
                    at = (*path, "answer", a) if listed else (*path, "answer")
                    lists.append(((*at, "item"), answer["item"], misplaced or not listed))
        children: list[tuple[Any, tuple[PathPart, ...], bool]] = []
        for where, value, inherited in lists:
            entries, listed = _entries(value)
            if not listed:
                report(
                    FhirCode.INVALID_QUESTIONNAIRE_RESPONSE,
                    f"{format_path(where)} must be a list (got {_kind(value)})"
                    + (_FLAGS_ONLY if entries else ""),
                    where,
                )
            children.extend(
                (child, (*where, i) if listed else where, inherited or not listed)
                for i, child in enumerate(entries)
            )
        for child, child_path, inherited in reversed(children):
            if not isinstance(child, Mapping):
                report(
                    FhirCode.INVALID_QUESTIONNAIRE_RESPONSE,
                    f"{format_path(child_path)}: an item must be an object (got {_short(child)})",
                    child_path,
                )
                continue
            linked = isinstance(child.get("linkId"), str)
            if not linked:  # still walked, for the items nested in it
                nested = "item" in child or "answer" in child
                report(
                    FhirCode.INVALID_QUESTIONNAIRE_RESPONSE,
                    f"{format_path(child_path)}: an item needs a linkId (a string)"
                    + (_FLAGS_ONLY if nested else ""),
                    child_path,
                )
            stack.append((child, child_path, inherited or not linked))
        if path and isinstance(node.get("linkId"), str):
            yield node, path, misplaced


def _decode(
    inst: Instrument, target: _Target, kind: str, raw: Any
) -> tuple[int | None, tuple[str, str] | None]:
    """An answer's option value, or (code, message) saying why it cannot be read."""
    item = target.item
    allowed = ", ".join(str(v) for v in target.scores)
    if kind == "valueCoding":
        return _decode_coding(inst, target, raw)
    if kind == "valueBoolean":
        if not isinstance(raw, bool):
            return None, (
                FhirCode.INVALID_ANSWER,
                f"valueBoolean must be true or false (got {_short(raw)})",
            )
        if not target.yes_no:
            return None, (
                FhirCode.BOOLEAN_NOT_ALLOWED,
                f"a boolean answers only a yes/no item (options 0 and 1); item '{item.id}' takes "
                f"one of {allowed} (got {str(raw).lower()})",
            )
        return int(raw), None
    if kind in ("valueInteger", "valueDecimal"):
        number = _whole(raw, kind == "valueDecimal")
        if number is None:
            numeric = isinstance(raw, int | float) and not isinstance(raw, bool)
            return None, (
                FhirCode.NOT_INTEGRAL
                if numeric and kind == "valueDecimal"
                else FhirCode.INVALID_ANSWER,
                f"{kind} must be a whole number, one of {allowed} (got {_short(raw)})",
            )
        if number not in target.scores:
            return None, (
                FhirCode.INVALID_VALUE,
                f"item '{item.id}' must be one of {allowed} (got {kind} {number})",
            )
        return number, None
    return None, (
        FhirCode.UNSUPPORTED_ANSWER_TYPE,
        f"{kind} cannot answer item '{item.id}'; use valueCoding, valueInteger, valueDecimal "
        "or (for a yes/no item) valueBoolean",
    )


def _whole(raw: Any, decimal: bool) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if decimal and isinstance(raw, float) and math.isfinite(raw) and raw.is_integer():
        return int(raw)
    return None


def _decode_coding(
    inst: Instrument, target: _Target, coding: Any
) -> tuple[int | None, tuple[str, str] | None]:
    malformed = _malformed_coding(coding)
    if malformed is not None:
        return None, (FhirCode.INVALID_ANSWER, malformed)
    system, code = coding.get("system"), coding.get("code")
    weights = _weights(coding)
    if weights is None:
        return None, (FhirCode.INVALID_ANSWER, "an itemWeight/ordinalValue extension has no number")
    if len(weights) > 1:
        shown = ", ".join(f"{w:g}" for w in weights)
        return None, (
            FhirCode.CONFLICTING_ANSWER,
            f"the coding carries different weights ({shown})",
        )
    weight = weights[0] if weights else None
    shown = f"{system}|{code}" if system else f"{code} (no system)"
    by_code = (
        target.by_coding.get((system, code))
        if isinstance(system, str) and isinstance(code, str)
        else None
    )
    if by_code is None and system is None and weight is not None and isinstance(code, str):
        # no system, so the code alone decides nothing; but a weight that contradicts the
        # answer the code names is a conflict, not an answer
        named = {target.scores[v] for (_, c), v in target.by_coding.items() if c == code}
        if named and weight not in named:
            return None, (
                FhirCode.CONFLICTING_ANSWER,
                f"answer code {shown} names an answer scoring {', '.join(map(str, named))} "
                f"on item '{target.item.id}' but its coding carries the weight {weight:g}",
            )
    if by_code is None and system in (LOINC, ANSWER_SYSTEM):
        # a code from the item's own code systems that is no option: another answer list or a
        # mis-mapped item; its weight is not taken on trust
        return None, (
            FhirCode.UNKNOWN_ANSWER_CODE,
            f"answer code {shown} is not an option of item '{target.item.id}' "
            f"({_options_text(inst, target.item)})",
        )
    if by_code is not None:
        if weight is not None and target.scores[by_code] != weight:
            return None, (
                FhirCode.CONFLICTING_ANSWER,
                f"answer code {shown} scores {target.scores[by_code]} on item "
                f"'{target.item.id}' but its coding carries the weight {weight:g}",
            )
        return by_code, None
    if weight is not None:
        value = target.by_score.get(int(weight)) if float(weight).is_integer() else None
        if value is None:
            scores = ", ".join(str(s) for s in sorted(target.by_score))
            return None, (
                FhirCode.UNKNOWN_ANSWER_WEIGHT,
                f"the weight {weight:g} is no score of item '{target.item.id}' ({scores})",
            )
        return value, None
    return None, (
        FhirCode.UNKNOWN_ANSWER_CODE,
        f"answer code {shown} is not an option of item '{target.item.id}' "
        f"({_options_text(inst, target.item)}) and carries no itemWeight",
    )


def _malformed_coding(coding: Any) -> str | None:
    """What makes a valueCoding's JSON shape wrong, if anything."""
    if not isinstance(coding, Mapping):
        return f"valueCoding must be an object (got {_short(coding)})"
    for key in ("system", "code"):
        if key in coding and not isinstance(coding[key], str):
            return f"valueCoding.{key} must be a string (got {_short(coding[key])})"
    extensions = coding.get("extension")
    if extensions is not None and not (
        isinstance(extensions, list) and all(isinstance(e, Mapping) for e in extensions)
    ):
        return f"valueCoding.extension must be a list of objects (got {_short(extensions)})"
    return None


def _weights(coding: Mapping[str, Any]) -> list[float] | None:
    """The distinct weights the itemWeight / ordinalValue extensions give a coding; None when
    one of them has no finite number."""
    found: list[float] = []
    extensions = coding.get("extension")
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


def _options_text(inst: Instrument, item: Item) -> str:
    return "; ".join(
        f"{_answer_coding(inst, item, o)['code']} = {o.value} {o.label}"
        for o in inst.item_options(item)
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def read_questionnaire_response(
    instrument: Instrument | str,
    questionnaire_response: Mapping[str, Any],
    *,
    link_ids: Mapping[str, str | None] | None = None,
) -> dict[str, int]:
    """The responses `score()` takes (item id → option value) from a FHIR R4
    QuestionnaireResponse (a JSON dict).

    Items are matched by `link_ids` (linkId → item id; None ignores that linkId), then by linkId
    = item id, then by LOINC code (`/44250-9`, `44250-9`, or a LOINC `code` on the item); group
    items and answers' nested items are walked. An item whose linkId is a scale's (`scale.total`
    or the scale's LOINC code, e.g. the PHQ-9 total `/44261-6`) is a score the form calculated:
    it is ignored, the score is recomputed. An unanswered item is missing; an item answered
    more than once with the same answer (the same option, however coded) counts once. Anything
    that cannot be read (an unmatched answered linkId, an unknown answer code, different answers
    to one item, a boolean for a non-yes/no item, an `item` or `answer` that is not a list, ...)
    raises `ResponseError`, every problem at once, each naming the linkId or the place in the
    resource. Context variables stay a `score()` argument.
    """
    inst = _instrument(instrument)
    read = _Reader(inst, link_ids).read(questionnaire_response)
    if read.issues:
        raise ResponseError(read.issues)
    return read.responses


class _Unreadable:
    """Stands for an answer that could not be read, so the scorer marks its item invalid."""

    def __repr__(self) -> str:
        return "<unreadable FHIR answer>"


_UNREADABLE = _Unreadable()


def score_questionnaire_response(
    instrument: Instrument | str,
    questionnaire_response: Mapping[str, Any],
    *,
    link_ids: Mapping[str, str | None] | None = None,
    on_error: OnError = "raise",
    **context: Any,
) -> ScoreResult:
    """Read a FHIR R4 QuestionnaireResponse (see `read_questionnaire_response`) and score it.

    Unlike reading then scoring, an answer that cannot be read does not lose the rest: the
    result is scored from the readable answers (the unreadable ones make their scales invalid,
    and leave the flags that read them undetermined), risk flags included, and carries the
    reading issues. An item with different answers (or an answer in a malformed structure) is
    not scored, but each of its answers counts toward risk flags: a flag that any of them
    raises is raised, naming the item. As with `score()`, a problem raises `ResponseError` whose
    `.result` is that result; `on_error="invalid"` returns it instead.
    """
    check_on_error(on_error)
    inst = _instrument(instrument)
    read = _Reader(inst, link_ids).read(questionnaire_response)
    responses: dict[str, Any] = dict(read.responses)
    responses.update(dict.fromkeys(read.bad_items, _UNREADABLE))
    result = score(inst, responses, on_error="invalid", **context)
    if read.issues:
        result = _with_read_issues(result, read)
    if read.flag_only:
        result = _with_flags_of_each_answer(inst, result, responses, read.flag_only, context)
    if result.issues and on_error == "raise":
        raise ResponseError(result.issues, result)
    return result


def _with_read_issues(result: ScoreResult, read: _Read) -> ScoreResult:
    """The result with the reading issues in place of the scorer's complaints about the
    placeholders that stood for unreadable answers."""
    dropped = {i.message for i in result.issues if i.item in read.bad_items}
    kept = [i for i in result.issues if i.item not in read.bad_items]
    reasons = [i.message for i in read.issues]
    reasons += [r for r in result.reasons if r not in dropped]
    return result._replace(valid=False, issues=(*read.issues, *kept), reasons=tuple(reasons))


_MAX_READINGS = 64
"""How many combinations of the flag-only answers are scored before falling back to one item
at a time."""


def _with_flags_of_each_answer(
    inst: Instrument,
    result: ScoreResult,
    responses: Mapping[str, Any],
    flag_only: Mapping[str, tuple[int, ...]],
    context: Mapping[str, Any],
) -> ScoreResult:
    """The result with every flag that some reading of the unscored items' answers raises.

    Each reading puts one answer per item in place of its placeholder and is scored; a flag any
    reading raises is raised (its items: those that raised it and the substituted items it
    reads) and is no longer undetermined. Every combination is scored when there are at most
    `_MAX_READINGS`; past that, one item at a time with the others left unreadable, so a flag
    that only several of them together could raise stays undetermined, never clear.
    """
    items = list(flag_only)
    readings: list[dict[str, int]]
    if math.prod(len(values) for values in flag_only.values()) <= _MAX_READINGS:
        readings = [
            dict(zip(items, values, strict=True))
            for values in itertools.product(*flag_only.values())
        ]
    else:
        readings = [{item: v} for item, values in flag_only.items() for v in values]
    raised = {flag.id: flag for flag in result.flags}
    reads = {flag.id: set(flag.reads) for flag in plan_for(inst).flags}
    found: dict[str, FlagResult] = {}
    for reading in readings:
        for flag in score(inst, {**responses, **reading}, on_error="invalid", **context).flags:
            if flag.id in raised:
                continue
            named = [*found[flag.id].items] if flag.id in found else []
            named += [*flag.items, *(i for i in reading if i in reads[flag.id])]
            found[flag.id] = flag._replace(items=tuple(dict.fromkeys(named)))
    if not found:
        return result
    position = {item.id: n for n, item in enumerate(inst.items)}
    found = {
        k: f._replace(items=tuple(sorted(f.items, key=position.__getitem__)))
        for k, f in found.items()
    }
    every = {**raised, **found}
    return result._replace(
        flags=tuple(every[f.id] for f in inst.flags if f.id in every),
        undetermined_flags=tuple(f for f in result.undetermined_flags if f.id not in every),
    )
