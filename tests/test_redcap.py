"""REDCap data dictionaries: the CSV parses, has REDCap's 18 columns, one radio field per item
and one calc field per scale, and its branching logic says what the skip logic says."""

from __future__ import annotations

import csv
import functools
import io
import operator
import re
from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import screening
from screening.definition import Instrument
from screening.redcap import REDCAP_COLUMNS, redcap_rows, to_redcap_csv
from screening.rules import Env

BUILTINS = screening.list_instruments()
NAME = "Variable / Field Name"
TYPE = "Field Type"
CHOICES = "Choices, Calculations, OR Slider Labels"
BRANCHING = "Branching Logic (Show field only if...)"


def parse(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.reader(io.StringIO(text))
    header, *body = list(reader)
    assert all(len(row) == len(header) for row in body)
    return header, [dict(zip(header, row, strict=True)) for row in body]


@functools.cache
def dictionary(instrument_id: str) -> list[dict[str, str]]:
    header, rows = parse(to_redcap_csv(instrument_id))
    assert tuple(header) == REDCAP_COLUMNS
    return rows


def test_the_eighteen_columns() -> None:
    assert len(REDCAP_COLUMNS) == 18
    assert REDCAP_COLUMNS[0] == "Variable / Field Name"
    assert REDCAP_COLUMNS[11] == "Branching Logic (Show field only if...)"
    assert REDCAP_COLUMNS[-1] == "Field Annotation"


@pytest.mark.parametrize("instrument_id", BUILTINS)
def test_dictionary_of_every_builtin(instrument_id: str) -> None:
    inst = screening.load_instrument(instrument_id)
    rows = dictionary(instrument_id)
    assert len(rows) == len(inst.items) + len(inst.scales)
    names = [row[NAME] for row in rows]
    assert len(set(names)) == len(names)
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", n) for n in names)
    assert {row["Form Name"] for row in rows} == {inst.id}
    items, calcs = rows[: len(inst.items)], rows[len(inst.items) :]
    for item, row in zip(inst.items, items, strict=True):
        assert row[NAME] == item.id
        if item.number is not None:  # a whole number: a text field validated as an integer
            assert row[TYPE] == "text"
            assert row["Text Validation Type OR Show Slider Number"] == "integer"
            bounds = (row["Text Validation Min"], row["Text Validation Max"])
            assert bounds == (str(item.number.min), str(item.number.max))
            continue
        assert row[TYPE] == "radio"
        choices = [part.split(", ", 1) for part in row[CHOICES].split(" | ")]
        options = inst.item_options(item)
        assert [(int(code), label) for code, label in choices] == [
            (o.value, o.label) for o in options
        ]
        expected = item.text if inst.license.redistribute_text and item.text else item.label
        assert row["Field Label"] == " ".join(expected.split())
        if item.ask_if is None:
            assert row[BRANCHING] == ""
        else:  # branching where REDCap can say it (not on context), else a note that says it
            assert row[BRANCHING] or "Ask only when" in row["Field Annotation"]
    for (name, scale), row in zip(inst.scales.items(), calcs, strict=True):
        assert row[NAME] == f"{inst.id}_{name}"
        assert row[TYPE] == "calc"
        summed = "mean(" if scale.method == "mean" else "sum("
        assert row[CHOICES].startswith(summed) or row[CHOICES].startswith(f"round({summed}")
        assert all(f"[{i}]" in row[CHOICES] for i in scale.items)
        assert (
            "sum() ignores blank fields" in row["Field Note"]
            or "mean() leaves blank fields out" in row["Field Note"]
        )
        assert "missing-data rule" in row["Field Note"]


def test_cssrs_follow_ups_have_branching_logic() -> None:
    rows = {row[NAME]: row for row in dictionary("cssrs_screener")}
    for n in (3, 4, 5):
        assert rows[f"cssrs_screener_{n}"][BRANCHING] == "[cssrs_screener_2] = '1'"
    assert rows["cssrs_screener_6a"][BRANCHING] == "[cssrs_screener_6] = '1'"
    for name in ("cssrs_screener_1", "cssrs_screener_2", "cssrs_screener_6"):
        assert rows[name][BRANCHING] == ""
    assert rows["cssrs_screener_1"]["Field Label"] == "wish to be dead (past month)"


def test_calculations() -> None:
    epds = {row[NAME]: row for row in dictionary("epds")}
    total = epds["epds_total"][CHOICES]
    assert total.startswith("sum([epds_1], [epds_2], (3-[epds_3]), [epds_4], (3-[epds_5])")
    assert "reverse-scored" in epds["epds_total"]["Field Note"]
    dass = {row[NAME]: row for row in dictionary("dass21")}
    assert dass["dass21_depression"][CHOICES].endswith(")*2")
    k10 = {row[NAME]: row for row in dictionary("k10")}
    shown = "([k10_2] = '2' or [k10_2] = '3' or [k10_2] = '4' or [k10_2] = '5')"
    assert k10["k10_3"][BRANCHING] == shown
    assert f"if({shown}, [k10_3], 1)" in k10["k10_total"][CHOICES]
    # the K10 and the AUDIT score an answer given to a skipped item; REDCap's calc does not
    skipped = "while skipped is not counted here; screening scores it as given"
    assert (
        f"count their score when skipped (an answer recorded {skipped})"
        in (k10["k10_total"]["Field Note"])
    )
    audit = {row[NAME]: row for row in dictionary("audit")}
    assert skipped in audit["audit_total"]["Field Note"]
    cssrs = {row[NAME]: row for row in dictionary("cssrs_screener")}
    assert all(skipped not in row["Field Note"] for row in cssrs.values())  # an answer: an error
    phq9 = {row[NAME]: row for row in dictionary("phq9")}
    assert phq9["phq9_1"]["Field Label"] == "Little interest or pleasure in doing things"
    assert phq9["phq9_1"]["Section Header"] == (
        "Patient Health Questionnaire-9: over the last 2 weeks"
    )
    assert "[phq9_10]" not in phq9["phq9_total"][CHOICES]
    assert "at most 2 item(s) missing, prorated" in phq9["phq9_total"]["Field Note"]


def test_record_id_for_a_new_project() -> None:
    rows = redcap_rows("phq2", record_id="record_id")
    assert rows[0][NAME] == "record_id"
    assert rows[0][TYPE] == "text"
    assert len(rows) == 1 + 2 + 1


SKIPS = """
format_version: "1.0"
id: skips
name: Skip logic shapes
definition_version: 1.0.0
construct: testing
license: {status: public-domain, holder: Nobody, notice: Free to use., redistribute_text: false}
sources:
  src: Author A. A made-up instrument for testing. J Test 2020;1:1-2.
option_sets:
  yes_no:
    - {value: 0, label: "No"}
    - {value: 1, label: "Yes"}
  freq:
    - {value: 0, label: never}
    - {value: 1, label: sometimes}
    - {value: 2, label: often}
items:
  - {id: skips_1, label: gate one, options: yes_no}
  - {id: skips_2, label: gate two (reversed), options: freq, reverse: true}
  - id: skips_3
    label: both gates
    options: yes_no
    ask_if: {all: [{item: skips_1, eq: 1}, {item: skips_2, eq: 0}]}
  - id: skips_4
    label: counted
    options: yes_no
    ask_if: {count: {items: [skips_1, skips_2], gte: 1}, gte: 2}
  - {id: skips_5, label: negated, options: yes_no, ask_if: {not: {item: skips_1, eq: 0}}}
  - id: skips_6
    label: a disjunction inside a conjunction
    options: yes_no
    ask_if:
      all:
        - {item: skips_1, eq: 1}
        - {any: [{item: skips_2, gte: 2}, {item: skips_1, eq: 0}]}
  - {id: skips_7, label: any score, options: yes_no, ask_if: {item: skips_2, gte: 0}}
  - {id: skips_8, label: "with | a pipe", options: yes_no}
scales:
  total: {items: [skips_1, skips_2, skips_3], source: src}
"""


@functools.cache
def skips() -> Instrument:
    return screening.parse_instrument(SKIPS, "skips.yaml")


def test_branching_logic_shapes() -> None:
    rows = {row[NAME]: row for row in redcap_rows(skips())}
    # skips_2 is reversed: score 0 is the answer "often" (value 2)
    assert rows["skips_3"][BRANCHING] == "([skips_1] = '1' and [skips_2] = '2')"
    assert (
        rows["skips_6"][BRANCHING] == "([skips_1] = '1' and ([skips_2] = '0' or [skips_1] = '0'))"
    )
    assert rows["skips_7"][BRANCHING] == "[skips_2] <> ''"
    for name in ("skips_4", "skips_5"):
        assert rows[name][BRANCHING] == ""
        assert rows[name]["Field Annotation"].startswith("Ask only when ")
        assert "cannot express" in rows[name]["Field Annotation"]
    assert rows["skips_8"]["Field Label"] == "with | a pipe"


def test_a_pipe_in_an_option_label_is_refused() -> None:
    text = SKIPS.replace('label: "Yes"', 'label: "Yes | sure"')
    with pytest.raises(ValueError, match=r"has a '\|' in its label"):
        redcap_rows(screening.parse_instrument(text, "pipes.yaml"))


# --- branching logic agrees with ask_if -------------------------------------------------------

_TOKEN = re.compile(r"\s*(?:(\()|(\))|(and|or)\b|\[(\w+)\] (=|<>|>=|<=|>|<) (?:'([^']*)'|(-?\d+)))")
_NUMBER_TESTS = {
    "=": operator.eq,
    "<>": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


def evaluate(logic: str, values: Mapping[str, int]) -> bool:
    """The subset of REDCap's branching logic the export writes: comparisons with and/or."""
    tokens = []
    position = 0
    while position < len(logic):
        match = _TOKEN.match(logic, position)
        assert match is not None, logic[position:]
        tokens.append(match.groups())
        position = match.end()

    def expression(i: int) -> tuple[bool, int]:
        value, i = atom(i)
        while i < len(tokens) and tokens[i][2]:
            joiner = tokens[i][2]
            right, i = atom(i + 1)
            value = (value and right) if joiner == "and" else (value or right)
        return value, i

    def atom(i: int) -> tuple[bool, int]:
        token = tokens[i]
        if token[0]:
            value, i = expression(i + 1)
            assert tokens[i][1]
            return value, i + 1
        if token[6] is not None:  # a numeric answer compared as a number; blank: false
            given = values.get(token[3])
            return given is not None and _NUMBER_TESTS[token[4]](given, int(token[6])), i + 1
        answer = str(values[token[3]]) if token[3] in values else ""
        return (answer == token[5]) if token[4] == "=" else (answer != token[5]), i + 1

    value, end = expression(0)
    assert end == len(tokens)
    return value


def instruments_with_skips() -> list[Instrument]:
    builtins = [screening.load_instrument(i) for i in BUILTINS]
    return [skips(), *(i for i in builtins if any(item.ask_if for item in i.items))]


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_branching_logic_agrees_with_ask_if(data: st.DataObject) -> None:
    inst = data.draw(st.sampled_from(instruments_with_skips()))
    plan = screening.scoring.plan_for(inst)
    values = {
        item.id: data.draw(st.sampled_from([o.value for o in inst.item_options(item)]))
        for item in inst.items
    }
    scores = {p.id: p.scores[values[p.id]] for p in plan.items if values[p.id] in p.scores}
    rows = {row[NAME]: row for row in redcap_rows(inst)}
    for item_plan in plan.items:
        logic = rows[item_plan.id][BRANCHING]
        if item_plan.ask_if is None or not logic:
            continue
        truth = item_plan.ask_if(Env(scores, set(), {}, {}))
        assert evaluate(logic, values) is truth, (item_plan.id, logic, values)


def test_evaluator_reads_blank_answers_as_not_equal() -> None:
    assert evaluate("[a] = '1'", {}) is False
    assert evaluate("[a] <> ''", {}) is False
    assert evaluate("([a] = '1' or [b] = '2')", {"b": 2}) is True
