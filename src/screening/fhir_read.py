"""FHIR R4 QuestionnaireResponse in: matched to a definition's items, answers decoded to option
values, nothing guessed (see `screening.fhir`)."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from typing import Any, Literal, NamedTuple

from .codes import FhirCode
from .definition import (
    LOINC_PATTERN,
    Instrument,
    Item,
    to_units,
)
from .errors import Issue, PathPart, ResponseError, Severity, format_path
from .fhir_common import (
    LOINC,
    SCALE_LINK_PREFIX,
    Canon,
    _answer_coding,
    _canon,
    _instrument,
    _loinc,
    _weights,
)
from .results import FlagResult, ScoreResult
from .scoring import CODING, OnError, check_on_error, plan_for, score
from .text import number

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
    by_bare_code: Mapping[str, tuple[int, ...]]
    """A code alone (LOINC or this library's) → the option values it names."""
    by_score: Mapping[int, int]
    """score (an itemWeight) → option value."""
    scores: Mapping[int, int]
    """option value → score."""
    yes_no: bool
    values: frozenset[int] = frozenset()
    """Every value an answer may record (a non-answer that scores nothing included)."""


class _Problem(NamedTuple):
    """Why an answer cannot be read (an error), or what to note about how it was read (a
    warning: the answer is read)."""

    code: FhirCode
    message: str
    severity: Severity = "error"


class _Stated(NamedTuple):
    """A score or classification the form states (its own calculation): compared with the
    result, never used in place of it."""

    kind: Literal["scale", "classification"]
    name: str
    answers: tuple[Any, ...]
    where: str
    """`linkId '/44261-6' (item[10])`."""
    path: tuple[PathPart, ...]


class _Read(NamedTuple):
    responses: dict[str, int | float]
    issues: list[Issue]
    bad_items: set[str]
    flag_only: dict[str, tuple[int | float, ...]]
    """Item id → the readable answers of an item that is not scored (its answers conflict, or
    sit in a malformed structure): each of them still counts toward risk flags."""
    stated: list[_Stated]


class _Given(NamedTuple):
    """One answer to an item, as read."""

    value: int | None
    """The option value; None when the answer cannot be read (an issue says why)."""
    place: str
    """Where it is: `linkId 'phq9_9' (item[8].answer[0])`."""
    path: tuple[PathPart, ...]
    misplaced: bool
    """In a malformed structure (reported there): it counts only toward risk flags."""


class _Match(NamedTuple):
    """What a QuestionnaireResponse item is: an item of the definition, a score or
    classification the form calculated, or something the caller said to ignore."""

    kind: Literal["item", "scale", "classification", "ignore"]
    name: str = ""


_IGNORE = _Match("ignore")


class _FormItem(NamedTuple):
    """One item of the Questionnaire a response answers, as far as reading needs it."""

    codes: tuple[str, ...]
    """Its LOINC codes."""
    weights: Mapping[tuple[str | None, str], tuple[float, ...]]
    """(system, code) of each answerOption's valueCoding → the weights its itemWeight /
    ordinalValue extensions give (on the answerOption, or on its valueCoding)."""


_COMPLETE = ("completed", "amended")
"""R4 statuses of a response whose answers are final (amended: changed after completion)."""
_STATUSES = ("in-progress", "completed", "amended", "entered-in-error", "stopped")


class _Reader:
    """Matches QuestionnaireResponse items to a definition's items and reads their answers."""

    def __init__(
        self,
        inst: Instrument,
        link_ids: Mapping[str, str | None] | None,
        form: Mapping[str, _FormItem] | None = None,
        canon: Canon | None = None,
        require_completed: bool = False,
    ) -> None:
        self.inst = inst
        self.canon = canon or _canon(None)
        self.targets = {item.id: _target(inst, item, self.canon) for item in inst.items}
        self.form = form or {}
        self.require_completed = require_completed
        coded: list[tuple[str | None, _Match]] = [
            (_loinc(item.codes), _Match("item", item.id)) for item in inst.items
        ]
        coded += [(_loinc(s.codes), _Match("scale", n)) for n, s in inst.scales.items()]
        coded += [
            (_loinc(c.codes), _Match("classification", n)) for n, c in inst.classifications.items()
        ]
        self.by_loinc: dict[str, _Match | None] = {}
        for code, match in coded:
            if code is not None:  # a code two parts share matches neither
                self.by_loinc[code] = None if code in self.by_loinc else match
        self.link_ids = {k: _mapped(inst, k, v) for k, v in (link_ids or {}).items()}
        self.given: dict[str, list[_Given]] = {}
        self.issues: list[Issue] = []
        self.bad: set[str] = set()
        self.stated: list[_Stated] = []

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
            return _Read({}, self.issues, self.bad, {}, [])
        self._status(resource.get("status"))
        for node, path, misplaced in _walk(resource, self._issue):
            self._node(node, path, misplaced)
        return self._settle()

    def _status(self, status: Any) -> None:
        if status == "entered-in-error":
            self._issue(
                FhirCode.ENTERED_IN_ERROR,
                "the QuestionnaireResponse has status entered-in-error: it must not be scored",
                ("status",),
            )
            return
        if status in _COMPLETE:
            return
        if status in _STATUSES:
            what = f"has status {status}: its answers may be incomplete or not final"
        elif status is None:
            what = "has no status (R4 requires one), so it may be incomplete"
        else:
            what = f"has status {_short(status)}, which is no R4 status ({', '.join(_STATUSES)})"
        self._issue(
            FhirCode.INCOMPLETE_RESPONSE,
            f"the QuestionnaireResponse {what}; "
            + (
                "refused: require_completed is set"
                if self.require_completed
                else "scored as given (require_completed=True refuses it)"
            ),
            ("status",),
            value=status,
            severity="error" if self.require_completed else "warning",
        )

    def _issue(
        self,
        code: str,
        message: str,
        path: tuple[PathPart, ...],
        item: str | None = None,
        value: Any = None,
        *,
        severity: Severity = "error",
    ) -> None:
        self.issues.append(Issue(code, message, path, severity, item=item, value=value))
        if item is not None and severity == "error":
            self.bad.add(item)

    def _node(self, node: Mapping[str, Any], path: tuple[PathPart, ...], misplaced: bool) -> None:
        link_id = node["linkId"]
        where = f"linkId '{link_id}' ({format_path(path)})"
        match = self._match(link_id, node)
        item_id = match.name if match is not None and match.kind == "item" else None
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
        if match is None:
            if answers:
                self._issue(
                    FhirCode.UNMATCHED_LINK_ID,
                    f"{where} matches no item of {self.inst.id}: its linkId is not an item id, "
                    "a scale's linkId or a LOINC code of an item, scale or classification; map "
                    f"it to an item, or ignore it: link_ids={{'{link_id}': ITEM or None}} (on "
                    f"the command line --link-id '{link_id}=ITEM', or '{link_id}=' to ignore it)",
                    path,
                    value=link_id,
                )
            return
        if match.kind in ("scale", "classification"):
            if answers:
                self.stated.append(_Stated(match.kind, match.name, tuple(answers), where, path))
            return
        if item_id is None:  # ignored by the caller
            return
        target = self.targets[item_id]
        form_item = self.form.get(link_id)
        for a, answer in enumerate(answers):
            at = (*path, "answer", a) if listed else (*path, "answer")
            value = self._answer(target, form_item, answer, where, at)
            place = f"linkId '{link_id}' ({format_path(at)})"
            given = _Given(value, place, at, misplaced or not listed)
            self.given.setdefault(item_id, []).append(given)

    def _settle(self) -> _Read:
        """Each item's answer: the same answer given twice counts once; different answers, or
        an answer in a malformed structure, leave the item unscored, their answers counting
        toward risk flags only."""
        responses: dict[str, int | float] = {}
        flag_only: dict[str, tuple[int | float, ...]] = {}
        for item_id, given in self.given.items():
            values = tuple(dict.fromkeys(g.value for g in given if g.value is not None))
            if len(values) > 1:
                self._conflict(item_id, given, values)
            if len(values) == 1 and item_id not in self.bad and not any(g.misplaced for g in given):
                responses[item_id] = self._recorded(item_id, values[0])
                continue
            self.bad.add(item_id)
            if values:
                flag_only[item_id] = tuple(self._recorded(item_id, v) for v in values)
        return _Read(responses, self.issues, self.bad, flag_only, self.stated)

    def _recorded(self, item_id: str, value: int) -> int | float:
        """An answer as the scorer reads it: a decimal answer's units written back as the
        number (65 units of 0.1 → 6.5, which reads back as 65)."""
        number = self.targets[item_id].item.number
        return value if number is None or not number.decimals else value / number.step

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

    def _match(self, link_id: str, node: Mapping[str, Any]) -> _Match | None:
        if link_id in self.link_ids:
            return self.link_ids[link_id]
        if link_id in self.targets:
            return _Match("item", link_id)
        if link_id.startswith(SCALE_LINK_PREFIX):
            name = link_id[len(SCALE_LINK_PREFIX) :]
            if name in self.inst.scales:
                return _Match("scale", name)
        form_item = self.form.get(link_id)
        for code in _candidate_codes(link_id, node, form_item.codes if form_item else ()):
            match = self.by_loinc.get(code)
            if match is not None:
                return match
        return None

    def _answer(
        self,
        target: _Target,
        form_item: _FormItem | None,
        answer: Any,
        where: str,
        path: tuple[PathPart, ...],
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
        value, problem = _decode(
            self.inst, target, kind, answer[kind], form_item=form_item, canon=self.canon
        )
        if problem is not None:
            code, message, severity = problem
            where_ = (*path, kind)
            self._issue(
                code, f"{where}: {message}", where_, item_id, answer[kind], severity=severity
            )
        return value


def _mapped(inst: Instrument, link_id: Any, to: Any) -> _Match:
    """What the caller maps a linkId to: an item id, `scale.<name>` (a score the form states),
    or None (ignore it)."""
    if not isinstance(link_id, str):
        raise ValueError(f"link_ids: a linkId is a string (got {_short(link_id)})")
    if to is None:
        return _IGNORE
    if isinstance(to, str) and inst.item_by_id(to) is not None:
        return _Match("item", to)
    scale = to[len(SCALE_LINK_PREFIX) :] if isinstance(to, str) else None
    if isinstance(to, str) and to.startswith(SCALE_LINK_PREFIX) and scale in inst.scales:
        return _Match("scale", to[len(SCALE_LINK_PREFIX) :])
    scales = ", ".join(f"{SCALE_LINK_PREFIX}{n}" for n in inst.scales)
    raise ValueError(
        f"link_ids maps '{link_id}' to {_short(to)}, which is not an item of {inst.id} "
        f"(items: {', '.join(i.id for i in inst.items)}) or a scale ({scales or 'none'})"
    )


def _form(questionnaire: Any, response: Any) -> dict[str, _FormItem]:
    """The items of the Questionnaire a response answers, by linkId. A Questionnaire that is
    malformed where reading needs it, or that the response does not answer, is refused: the
    weights of another form would be a guess."""
    if not isinstance(questionnaire, Mapping) or questionnaire.get("resourceType") != (
        "Questionnaire"
    ):
        got = (
            questionnaire.get("resourceType")
            if isinstance(questionnaire, Mapping)
            else questionnaire
        )
        raise ValueError(f"questionnaire must be a FHIR Questionnaire (got {_short(got)})")
    _check_answers(questionnaire, response)
    items: dict[str, _FormItem] = {}
    stack: list[Any] = [questionnaire]
    while stack:
        node = stack.pop()
        children = node.get("item") if isinstance(node, Mapping) else None
        if not isinstance(children, list):
            continue
        stack.extend(reversed(children))
        for child in children:
            link_id = child.get("linkId") if isinstance(child, Mapping) else None
            if not isinstance(link_id, str):
                continue
            if link_id in items:
                raise ValueError(f"questionnaire: linkId '{link_id}' is used twice (que-2)")
            items[link_id] = _form_item(link_id, child)
    return items


def _check_answers(questionnaire: Mapping[str, Any], response: Any) -> None:
    """ValueError when the response names another Questionnaire (by url or `Questionnaire/id`,
    and version when both give one)."""
    named = response.get("questionnaire") if isinstance(response, Mapping) else None
    if not isinstance(named, str):
        return
    url, _, version = named.partition("|")
    known = {questionnaire.get("url"), f"Questionnaire/{questionnaire.get('id')}"}
    given_version = questionnaire.get("version")
    if url not in known or (version and given_version and version != given_version):
        shown = questionnaire.get("url") or f"Questionnaire/{questionnaire.get('id')}"
        if given_version:
            shown += f"|{given_version}"
        raise ValueError(
            f"the QuestionnaireResponse answers {named}, not the questionnaire given ({shown})"
        )


def _form_item(link_id: str, node: Mapping[str, Any]) -> _FormItem:
    listed = node.get("code")
    codes = tuple(
        c["code"]
        for c in (listed if isinstance(listed, list) else [])
        if isinstance(c, Mapping) and c.get("system") == LOINC and isinstance(c.get("code"), str)
    )
    weights: dict[tuple[str | None, str], tuple[float, ...]] = {}
    options = node.get("answerOption")
    for option in options if isinstance(options, list) else []:
        coding = option.get("valueCoding") if isinstance(option, Mapping) else None
        if not isinstance(coding, Mapping) or not isinstance(coding.get("code"), str):
            continue
        system = coding.get("system")
        on_option, on_coding = _weights(option.get("extension")), _weights(coding.get("extension"))
        if on_option is None or on_coding is None:
            raise ValueError(
                f"questionnaire: linkId '{link_id}': an itemWeight/ordinalValue extension of "
                f"answer {coding['code']} has no number"
            )
        key = (system if isinstance(system, str) else None, coding["code"])
        weights[key] = tuple(dict.fromkeys([*weights.get(key, ()), *on_option, *on_coding]))
    return _FormItem(codes, weights)


_SHOWN = 6
"""How many places a conflicting_answers message lists."""
_FLAGS_ONLY = "; the items in it are not scored, their answers count only toward risk flags"


def _target(inst: Instrument, item: Item, canon: Canon) -> _Target:
    options = inst.item_options(item)
    scores = inst.item_scores(item)
    by_coding: dict[tuple[str, str], int] = {}
    by_bare_code: dict[str, tuple[int, ...]] = {}
    for option in options:
        ours = f"{inst.id}.{item.id}.{option.value}"
        by_coding[(canon.answer_system, ours)] = option.value
        by_bare_code[ours] = (option.value,)
        if option.code is not None:
            by_coding[(LOINC, option.code)] = option.value
            by_bare_code[option.code] = (*by_bare_code.get(option.code, ()), option.value)
    by_score: dict[int, int] = {}
    for v, s in scores.items():  # answers sharing a score: any of them scores the same
        by_score.setdefault(s, v)
    yes_no = sorted(scores) == [0, 1]
    values = frozenset(o.value for o in options)
    return _Target(item, by_coding, by_bare_code, by_score, scores, yes_no, values)


def _candidate_codes(
    link_id: str, node: Mapping[str, Any], form_codes: tuple[str, ...] = ()
) -> Iterator[str]:
    """LOINC codes a QuestionnaireResponse item names: `/44250-9` (the last segment of a
    LOINC-generated linkId), `44250-9`, a LOINC coding in a (non-standard) `code`, or the
    LOINC code of the Questionnaire's item of that linkId."""
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
    yield from form_codes


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
    inst: Instrument,
    target: _Target,
    kind: str,
    raw: Any,
    *,
    form_item: _FormItem | None = None,
    canon: Canon | None = None,
) -> tuple[int | None, _Problem | None]:
    """An answer's option value, or a problem saying why it cannot be read (with a value: a
    warning about how it was read)."""
    item = target.item
    if target.item.number is not None:
        allowed = target.item.number.allowed
    else:
        allowed = ", ".join(str(o.value) for o in inst.item_options(target.item))
    step = item.number.step if item.number is not None else 1
    if kind == "valueCoding" and step != 1:  # codes would name its units (69 for 6.9)
        return None, _Problem(
            FhirCode.UNSUPPORTED_ANSWER_TYPE,
            f"valueCoding cannot answer item '{item.id}', a decimal number; use valueDecimal",
        )
    if kind == "valueCoding":
        return _decode_coding(inst, target, raw, form_item, canon or _canon(None))
    if kind == "valueBoolean":
        if not isinstance(raw, bool):
            return None, _Problem(
                FhirCode.INVALID_ANSWER,
                f"valueBoolean must be true or false (got {_short(raw)})",
            )
        if not target.yes_no:
            return None, _Problem(
                FhirCode.BOOLEAN_NOT_ALLOWED,
                f"a boolean answers only a yes/no item (options 0 and 1); item '{item.id}' takes "
                f"one of {allowed} (got {str(raw).lower()})",
            )
        return int(raw), None
    if kind in ("valueInteger", "valueDecimal"):
        return _decode_number(target, kind, raw, allowed)
    return None, _Problem(
        FhirCode.UNSUPPORTED_ANSWER_TYPE,
        f"{kind} cannot answer item '{item.id}'; use valueCoding, valueInteger, valueDecimal "
        "or (for a yes/no item) valueBoolean",
    )


def _decode_number(
    target: _Target, kind: str, raw: Any, allowed: str
) -> tuple[int | None, _Problem | None]:
    """A valueInteger's or valueDecimal's option value (a decimal answer: its units)."""
    item = target.item
    decimal = kind == "valueDecimal"
    if item.number is not None and item.number.step != 1:
        units = _units(raw, item.number.step, decimal)
        if units is None or units not in target.values:
            typed = _plain(raw) and (decimal or isinstance(raw, int))
            return None, _Problem(
                FhirCode.INVALID_VALUE if typed else FhirCode.INVALID_ANSWER,
                f"item '{item.id}' must be one of {allowed} (got {kind} {_short(raw)})",
            )
        return units, None
    if item.number is None and _scored_otherwise(target):
        # a number could be the option's value (its box) or its score: an app that stores
        # scores would send 0 for an EPDS item whose box 3 scores 0, read as box 0 (score 3)
        return None, _Problem(
            FhirCode.UNSUPPORTED_ANSWER_TYPE,
            f"{kind} cannot answer item '{item.id}': its options score otherwise than their "
            f"values ({_otherwise(target)}), so a number could be either; use valueCoding (an "
            "option's code, or its score as the coding's itemWeight or ordinalValue)",
        )
    whole = _whole(raw, decimal)
    if whole is None:
        return None, _Problem(
            FhirCode.NOT_INTEGRAL if _plain(raw) and decimal else FhirCode.INVALID_ANSWER,
            f"{kind} must be a whole number, one of {allowed} (got {_short(raw)})",
        )
    if whole not in target.values:
        return None, _Problem(
            FhirCode.INVALID_VALUE,
            f"item '{item.id}' must be one of {allowed} (got {kind} {whole})",
        )
    return whole, None


def _scored_otherwise(target: _Target) -> bool:
    """Whether a number could be an option's value or another option's score: an option whose
    value is some option's score, and which scores otherwise (EPDS item 3: box 0 scores 3, and
    box 3 scores 0). ASQ's "declined" (9, scoring 1 as a yes) is no such option: no option
    scores 9."""
    return bool(_otherwise_options(target))


def _otherwise_options(target: _Target) -> list[tuple[int, float]]:
    scores = set(target.scores.values())
    return sorted((v, s) for v, s in target.scores.items() if v != s and v in scores)


def _otherwise(target: _Target) -> str:
    """The options that make a number ambiguous, as "value scores score"."""
    return ", ".join(
        f"{value} scores {number(score)}" for value, score in _otherwise_options(target)
    )


def _plain(raw: Any) -> bool:
    """A JSON number (a Decimal where the caller parsed floats as Decimal)."""
    return isinstance(raw, int | float | Decimal) and not isinstance(raw, bool)


def _units(raw: Any, step: int, decimal: bool) -> int | None:
    """A decimal answer as a whole count of units (`to_units`), or None: a valueInteger
    must be an integer."""
    if not _plain(raw) or (not decimal and not isinstance(raw, int)):
        return None
    return to_units(raw, step)


def _whole(raw: Any, decimal: bool) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if decimal and isinstance(raw, float | Decimal):  # 2.0, or Decimal("2.0") parsed exactly
        return to_units(raw, 1)
    return None


class _Weight(NamedTuple):
    """The weight an answer's coding has, and who gives it."""

    value: float
    by: str
    """`its coding carries` or `the Questionnaire gives it`."""


def _decode_coding(
    inst: Instrument,
    target: _Target,
    coding: Any,
    form_item: _FormItem | None,
    canon: Canon,
) -> tuple[int | None, _Problem | None]:
    """A valueCoding's option value: by its code (an option's LOINC answer code or this
    library's), else by its weight (an itemWeight / ordinalValue on the coding, or on the
    Questionnaire's answerOption of that code). A code of the item's own code systems that is no
    option is refused, unless the Questionnaire the response answers gives it a weight; a code
    without a system is read only when it is exactly one option's code (with a warning)."""
    malformed = _malformed_coding(coding)
    if malformed is not None:
        return None, _Problem(FhirCode.INVALID_ANSWER, malformed)
    system, code = coding.get("system"), coding.get("code")
    weight, problem = _weight_of(coding, form_item)
    if problem is not None:
        return None, problem
    item_id = target.item.id
    shown = f"{system}|{code}" if system else f"{code} (no system)"
    if system is None and isinstance(code, str):
        return _decode_bare(inst, target, code, weight, form_item is not None)
    by_code = target.by_coding.get((system, code)) if isinstance(code, str) else None
    if (
        by_code is None
        and system in (LOINC, canon.answer_system)
        and (weight is None or weight.by != _BY_FORM)
    ):
        # a code from the item's own code systems that is no option: another answer list or a
        # mis-mapped item; a weight on the coding is not taken on trust
        return None, _Problem(
            FhirCode.UNKNOWN_ANSWER_CODE,
            f"answer code {shown} is not an option of item '{item_id}' "
            f"({_options_text(inst, target.item, canon)})" + _in_form(form_item, system, code),
        )
    if by_code is not None:
        if weight is not None and target.scores[by_code] != weight.value:
            return None, _Problem(
                FhirCode.CONFLICTING_ANSWER,
                f"answer code {shown} scores {target.scores[by_code]} on item '{item_id}' but "
                f"{weight.by} the weight {weight.value:g}",
            )
        return by_code, None
    if weight is not None:
        return _by_weight(target, weight)
    return None, _Problem(
        FhirCode.UNKNOWN_ANSWER_CODE,
        f"answer code {shown} is not an option of item '{item_id}' "
        f"({_options_text(inst, target.item, canon)}) and carries no itemWeight"
        + (", nor does the Questionnaire give it one" if form_item is not None else ""),
    )


def _in_form(form_item: _FormItem | None, system: Any, code: Any) -> str:
    if form_item is None:
        return ""
    if (system, code) in form_item.weights:
        return ", and the Questionnaire's answerOption of that code carries no weight"
    return " nor an answerOption of the Questionnaire's item"


_BY_CODING = "its coding carries"
_BY_FORM = "the Questionnaire gives it"


def _weight_of(
    coding: Mapping[str, Any], form_item: _FormItem | None
) -> tuple[_Weight | None, _Problem | None]:
    """The weight of a coding: on it, or on the Questionnaire's answerOption of its code; both
    must agree."""
    weights = _weights(coding.get("extension"))
    if weights is None:
        return None, _Problem(
            FhirCode.INVALID_ANSWER, "an itemWeight/ordinalValue extension has no number"
        )
    if len(weights) > 1:
        shown = ", ".join(f"{w:g}" for w in weights)
        return None, _Problem(
            FhirCode.CONFLICTING_ANSWER, f"the coding carries different weights ({shown})"
        )
    code = coding.get("code")
    system = coding.get("system")
    form = form_item.weights.get((system, code), ()) if form_item and isinstance(code, str) else ()
    if len(form) > 1:
        shown = ", ".join(f"{w:g}" for w in form)
        return None, _Problem(
            FhirCode.CONFLICTING_ANSWER,
            f"the Questionnaire gives answer {code} different weights ({shown})",
        )
    if weights and form and weights[0] != form[0]:
        return None, _Problem(
            FhirCode.CONFLICTING_ANSWER,
            f"answer {code} carries the weight {weights[0]:g} but the Questionnaire gives it "
            f"{form[0]:g}",
        )
    if form:  # the form's word, which the coding's (if any) agrees with
        return _Weight(form[0], _BY_FORM), None
    if weights:
        return _Weight(weights[0], _BY_CODING), None
    return None, None


def _by_weight(target: _Target, weight: _Weight) -> tuple[int | None, _Problem | None]:
    value = target.by_score.get(int(weight.value)) if float(weight.value).is_integer() else None
    if value is None:
        scores = ", ".join(str(s) for s in sorted(target.by_score))
        return None, _Problem(
            FhirCode.UNKNOWN_ANSWER_WEIGHT,
            f"the weight {weight.value:g} is no score of item '{target.item.id}' ({scores})",
        )
    sharing = [v for v, s in target.scores.items() if s == target.scores[value]]
    if len(sharing) > 1:  # the answer is one of these; each scores the same
        return value, _Problem(
            FhirCode.SHARED_WEIGHT,
            f"answer to item '{target.item.id}' given by its weight {weight.value:g} alone, "
            f"which answers {', '.join(map(str, sharing))} share: read as {value} (they score "
            "alike); send the answer's code to record which",
            "warning",
        )
    return value, None


def _decode_bare(
    inst: Instrument, target: _Target, code: str, weight: _Weight | None, with_form: bool
) -> tuple[int | None, _Problem | None]:
    """A code without a system: read when it is exactly one option's code (noted), else by its
    weight; otherwise refused, saying the system is missing."""
    item_id = target.item.id
    named = target.by_bare_code.get(code, ())
    if weight is not None and named and weight.value not in {target.scores[v] for v in named}:
        scoring = ", ".join(str(target.scores[v]) for v in named)
        return None, _Problem(
            FhirCode.CONFLICTING_ANSWER,
            f"answer code {code} (no system) names an answer scoring {scoring} on item "
            f"'{item_id}' but {weight.by} the weight {weight.value:g}",
        )
    if len(named) == 1:
        option = next(o for o in inst.item_options(target.item) if o.value == named[0])
        system = LOINC if option.code == code else "this library's answer system"
        return named[0], _Problem(
            FhirCode.CODE_WITHOUT_SYSTEM,
            f"answer code {code} has no system; read as {system} {code} ({option.label}), the "
            f"only option of item '{item_id}' with that code",
            "warning",
        )
    if weight is not None:
        return _by_weight(target, weight)
    why = "names several options of" if named else "is no option's code on"
    return None, _Problem(
        FhirCode.CODE_WITHOUT_SYSTEM,
        f"answer code {code} has no system (valueCoding.system is missing) and {why} item "
        f"'{item_id}' ({_options_text(inst, target.item, None)}); give the system "
        f"(http://loinc.org for a LOINC answer code) or an itemWeight"
        + (", or an answerOption of the Questionnaire with a weight" if with_form else ""),
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


def _options_text(inst: Instrument, item: Item, canon: Canon | None) -> str:
    return "; ".join(
        f"{_answer_coding(inst, item, o, canon or _canon(None))['code']} = {o.value} {o.label}"
        for o in inst.item_options(item)
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _reader(
    inst: Instrument,
    response: Any,
    *,
    link_ids: Mapping[str, str | None] | None,
    questionnaire: Mapping[str, Any] | None,
    require_completed: bool,
    canonical_base: str | None,
) -> _Reader:
    if not isinstance(require_completed, bool):
        raise ValueError(f"require_completed must be True or False (got {require_completed!r})")
    form = _form(questionnaire, response) if questionnaire is not None else None
    return _Reader(inst, link_ids, form, _canon(canonical_base), require_completed)


def read_questionnaire_response(
    instrument: Instrument | str,
    questionnaire_response: Mapping[str, Any],
    *,
    link_ids: Mapping[str, str | None] | None = None,
    questionnaire: Mapping[str, Any] | None = None,
    require_completed: bool = False,
    canonical_base: str | None = None,
) -> dict[str, int | float]:
    """The responses `score()` takes (item id → option value, or a decimal answer) from a FHIR R4
    QuestionnaireResponse (a JSON dict).

    Items are matched by `link_ids` (linkId → item id; `scale.<name>` for a score the form
    states; None ignores that linkId), then by linkId = item id, then by LOINC code (`/44250-9`,
    `44250-9`, a LOINC `code` on the item, or the code of the `questionnaire`'s item of that
    linkId); group items and answers' nested items are walked. An answer's coding is read by
    its code (an option's LOINC answer code, or this library's under `canonical_base`), else by
    its weight: an itemWeight / ordinalValue on the coding, or on the answerOption of that code
    in `questionnaire` (the Questionnaire the response answers, whose answers EHRs send as codes
    alone). A code of the item's own code systems that is no option is refused unless that
    Questionnaire weighs it. A valueInteger or valueDecimal is read as the option value, and
    refused for an item where a number could be an option's value or another option's score
    (EPDS item 3: box 0 scores 3, box 3 scores 0). A code without a system is read
    when it is exactly one option's code. Scores and classifications the form calculated
    (`scale.total`, or a scale's or classification's LOINC code such as the PHQ-9 total
    `/44261-6` or the C-SSRS risk level `/93374-7`) are not answers:
    `score_questionnaire_response` compares them with its result.
    An unanswered item is missing; an item answered more than once with the same answer (the
    same option, however coded) counts once. Anything that cannot be read (an unmatched
    answered linkId, an unknown answer code, different answers to one item, a boolean for a
    non-yes/no item, an `item` or `answer` that is not a list, ...) raises `ResponseError`, every
    problem at once, each naming the linkId or the place in the resource; so does a status other
    than completed or amended with `require_completed=True` (without it, that is a warning,
    which only `score_questionnaire_response` returns). Context variables stay a `score()`
    argument. A `questionnaire` the response does not answer (its `questionnaire` names
    another url or version) is a ValueError.
    """
    inst = _instrument(instrument)
    reader = _reader(
        inst,
        questionnaire_response,
        link_ids=link_ids,
        questionnaire=questionnaire,
        require_completed=require_completed,
        canonical_base=canonical_base,
    )
    read = reader.read(questionnaire_response)
    errors = [i for i in read.issues if i.severity == "error"]
    if errors:
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
    questionnaire: Mapping[str, Any] | None = None,
    require_completed: bool = False,
    canonical_base: str | None = None,
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

    Notes are issues with severity "warning": they never make a result invalid. A score or
    classification the form states (e.g. a PHQ-9 total /44261-6 of 12) is compared with the
    result and noted when it differs (`form_score_differs`, `form_classification_differs`:
    "the form states 12; screening scores 11"), or when it cannot be compared; the result of
    record is screening's. A status other than completed or amended is noted
    (`incomplete_response`; an error with `require_completed=True`), and so is a code without a
    system that was read as the one option it names (`code_without_system`).
    """
    check_on_error(on_error)
    if CODING in context:
        # The reader turns each answer into the definition's own option; scoring it again in
        # another coding would read those options as that coding's values: a wrong score.
        raise ValueError(
            f"{CODING}= does not apply to a QuestionnaireResponse: its answers are read by their "
            "codes and weights into the definition's own options"
        )
    inst = _instrument(instrument)
    reader = _reader(
        inst,
        questionnaire_response,
        link_ids=link_ids,
        questionnaire=questionnaire,
        require_completed=require_completed,
        canonical_base=canonical_base,
    )
    read = reader.read(questionnaire_response)
    responses: dict[str, Any] = dict(read.responses)
    responses.update(dict.fromkeys(read.bad_items, _UNREADABLE))
    result = score(inst, responses, on_error="invalid", **context)
    if read.issues:
        result = _with_read_issues(result, read)
    if read.flag_only:
        result = _with_flags_of_each_answer(inst, result, responses, read.flag_only, context)
    notes = [note for stated in read.stated for note in _compare(inst, result, stated)]
    if notes:
        result = result._replace(issues=(*result.issues, *notes))
    if on_error == "raise" and any(i.severity == "error" for i in result.issues):
        raise ResponseError(result.issues, result)
    return result


def _with_read_issues(result: ScoreResult, read: _Read) -> ScoreResult:
    """The result with the reading issues in place of the scorer's complaints about the
    placeholders that stood for unreadable answers; only errors make it invalid."""
    errors = [i for i in read.issues if i.severity == "error"]
    dropped = {i.message for i in result.issues if i.item in read.bad_items}
    kept = [i for i in result.issues if i.item not in read.bad_items]
    reasons = [i.message for i in errors]
    reasons += [r for r in result.reasons if r not in dropped]
    return result._replace(
        valid=result.valid and not errors, issues=(*read.issues, *kept), reasons=tuple(reasons)
    )


# --- what the form states, compared -----------------------------------------------------------


def _compare(inst: Instrument, result: ScoreResult, stated: _Stated) -> list[Issue]:
    """Warnings where a score or classification the form states differs from the result, or
    cannot be read to compare."""
    notes: list[Issue] = []
    seen: list[Any] = []
    for a, answer in enumerate(stated.answers):
        path = (*stated.path, "answer", a)
        value: float | str | None
        if stated.kind == "scale":
            value, shown = _stated_number(answer)
            note = _scale_note(inst, result, stated.name, value, shown)
            code = FhirCode.FORM_SCORE_DIFFERS
        else:
            value, shown = _stated_label(answer)
            note = _classification_note(inst, result, stated.name, value, shown)
            code = FhirCode.FORM_CLASSIFICATION_DIFFERS
        if (value, shown) in seen:
            continue
        seen.append((value, shown))
        if note is not None:
            ctx = {"name": stated.name, "stated": shown, "message": f"{stated.where}: {note}"}
            notes.append(Issue(code, ctx["message"], path, "warning", value=value, ctx=ctx))
    return notes


def _stated_number(answer: Any) -> tuple[float | None, str]:
    """The number a stated score gives (valueInteger, valueDecimal or valueQuantity.value), or
    None and what it is."""
    if not isinstance(answer, Mapping):
        return None, _short(answer)
    kinds = [k for k in answer if isinstance(k, str) and k.startswith("value")]
    if len(kinds) != 1:
        return None, f"{len(kinds)} value[x]"
    raw = answer[kinds[0]]
    if kinds[0] == "valueQuantity" and isinstance(raw, Mapping):
        raw = raw.get("value")
    elif kinds[0] not in ("valueInteger", "valueDecimal"):
        return None, f"{kinds[0]} {_short(raw)}"
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        return None, f"{kinds[0]} {_short(raw)}"
    return float(raw), f"{raw:g}"


def _stated_label(answer: Any) -> tuple[str | None, str]:
    """The label a stated classification gives (a valueCoding's display, else its code; a
    valueString), or None and what it is."""
    if not isinstance(answer, Mapping):
        return None, _short(answer)
    coding = answer.get("valueCoding")
    if isinstance(coding, Mapping):
        display, code = coding.get("display"), coding.get("code")
        label = display if isinstance(display, str) else code if isinstance(code, str) else None
        if label is None:
            return None, _short(coding)
        return label, f"'{label}'" + (f" ({code})" if isinstance(code, str) else "")
    text = answer.get("valueString")
    if isinstance(text, str):
        return text, f"'{text}'"
    return None, _short(answer)


def _scale_note(
    inst: Instrument, result: ScoreResult, name: str, value: float | None, shown: str
) -> str | None:
    scaled = result.scales[name]
    head = f"the form states the {inst.id} {name} score as {shown}"
    if value is None:
        return f"{head}, which is not a number: not compared"
    if scaled.score is None:
        return (
            f"{head}; screening did not score it ({scaled.reason}): the form's figure is not used"
        )
    if math.isclose(value, scaled.score, rel_tol=0, abs_tol=1e-9):
        return None
    how = ""
    if scaled.prorated:
        total = scaled.answered + scaled.missing
        how = (
            f", prorated from {scaled.answered} of {total} items answered (unrounded "
            f"{scaled.unrounded:g}) as the instrument's missing-data rule says"
        )
    return (
        f"{head}; screening scores {scaled.score:g}{how}. The form's figure is not used: check "
        "how the form calculates it"
    )


def _classification_note(
    inst: Instrument, result: ScoreResult, name: str, value: str | None, shown: str
) -> str | None:
    cls = inst.classifications[name]
    head = f"the form states {cls.label or name} as {shown}"
    if value is None:
        return f"{head}, which is no label: not compared"
    ours = result.classifications.get(name)
    if ours is None:
        return f"{head}; screening's is undetermined (an answer it needs is missing or invalid)"
    if _level(value) == _level(ours):
        return None
    return f"{head}; screening classifies it as '{ours}'. The form's label is not used"


def _level(label: str) -> str:
    """A label compared without case, spacing or a trailing "risk" (the form's "Low" and the
    definition's "low risk" agree)."""
    words = label.casefold().split()
    if words and words[-1] == "risk":
        words.pop()
    return " ".join(words)


_MAX_READINGS = 64
"""How many combinations of the flag-only answers are scored before falling back to one item
at a time."""


def _with_flags_of_each_answer(
    inst: Instrument,
    result: ScoreResult,
    responses: Mapping[str, Any],
    flag_only: Mapping[str, tuple[int | float, ...]],
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
    readings: list[dict[str, int | float]]
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
