"""Properties over every built-in, on responses hypothesis generates from the definitions."""

from __future__ import annotations

import json
from itertools import pairwise
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import screening
from screening.steps import scale_range

BUILTINS = screening.list_instruments()


@st.composite
def valid_responses(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A built-in id and a complete, valid response to it (skip logic respected)."""
    instrument_id = draw(st.sampled_from(BUILTINS))
    inst = screening.load_instrument(instrument_id)
    responses: dict[str, Any] = {}
    for item in inst.items:
        scored = inst.item_scores(item)  # a non-answer that scores nothing is no answer here
        values = [o.value for o in inst.item_options(item) if o.value in scored]
        responses[item.id] = draw(st.sampled_from(values))
    # drop answers to items the skip logic skips, earlier items first; a skipped item's
    # comparisons are false, and it scores what the source gives a skipped item, if anything
    plan = screening.scoring.plan_for(inst)
    kept: dict[str, Any] = {}
    scores: dict[str, int] = {}
    skipped: set[str] = set()
    for item_plan in plan.items:
        env = screening.rules.Env(scores, skipped, {}, context_for(instrument_id))
        if item_plan.ask_if is not None and item_plan.ask_if(env) is False:
            skipped.add(item_plan.id)
            if item_plan.if_skipped is not None:
                scores[item_plan.id] = item_plan.if_skipped
            continue
        kept[item_plan.id] = responses[item_plan.id]
        scores[item_plan.id] = item_plan.scores[responses[item_plan.id]]
    return instrument_id, kept


def context_for(instrument_id: str) -> dict[str, Any]:
    inst = screening.load_instrument(instrument_id)
    return {name: (var.values or [0])[0] for name, var in inst.context.items()}


@settings(max_examples=300, deadline=None)
@given(valid_responses())
def test_valid_responses_score_within_range_and_never_raise(
    drawn: tuple[str, dict[str, Any]],
) -> None:
    instrument_id, responses = drawn
    inst = screening.load_instrument(instrument_id)
    r = screening.score(instrument_id, responses, **context_for(instrument_id))
    assert r.issues == ()
    for name, scale in inst.scales.items():
        result = r.scales[name]
        assert result.valid, result.reason
        bounds = scale_range(inst, scale)
        assert bounds is not None
        lo, hi = bounds
        value = result.score
        assert value is not None
        assert lo <= value
        assert value <= hi
        if scale.bands:
            assert result.band is not None


@settings(max_examples=300, deadline=None)
@given(valid_responses(), st.data())
def test_raising_an_item_score_never_lowers_a_sum(
    drawn: tuple[str, dict[str, Any]], data: st.DataObject
) -> None:
    instrument_id, responses = drawn
    plan = screening.scoring.plan_for(instrument_id)
    ctx = context_for(instrument_id)
    candidates = [p for p in plan.items if p.id in responses and p.ask_if is None]
    item = data.draw(st.sampled_from(candidates))
    current = item.scores[responses[item.id]]
    higher = [v for v, s in item.scores.items() if s > current]
    if not higher:
        return
    before = screening.score(instrument_id, responses, on_error="invalid", **ctx)
    raised = {**responses, item.id: data.draw(st.sampled_from(higher))}
    after = screening.score(instrument_id, raised, on_error="invalid", **ctx)
    inst = screening.load_instrument(instrument_id)
    for name, result in before.scales.items():
        old, new = result.score, after.scales[name].score
        if not all(_rising(t.values) for t in inst.scales[name].lookups):
            continue  # a table of something else than a rising score (PROMIS' standard errors)
        if old is not None and new is not None:
            assert new >= old


def _rising(table: dict[int, int | float]) -> bool:
    converted = [table[k] for k in sorted(table)]
    return all(a <= b for a, b in pairwise(converted))


@settings(max_examples=200, deadline=None)
@given(valid_responses())
def test_result_json_round_trips(drawn: tuple[str, dict[str, Any]]) -> None:
    instrument_id, responses = drawn
    r = screening.score(instrument_id, responses, **context_for(instrument_id))
    data = r.to_dict()
    assert json.loads(json.dumps(data, allow_nan=False)) == data


@settings(max_examples=200, deadline=None)
@given(valid_responses(), st.data())
def test_risk_flags_survive_a_bad_item(
    drawn: tuple[str, dict[str, Any]], data: st.DataObject
) -> None:
    """Spoiling one item never removes a flag raised by items it does not feed."""
    instrument_id, responses = drawn
    inst = screening.load_instrument(instrument_id)
    ctx = context_for(instrument_id)
    clean = screening.score(instrument_id, responses, **ctx)
    victim = data.draw(st.sampled_from(sorted(responses)))
    # a fraction is never an answer (99 may be one: days in a year)
    spoiled = screening.score(instrument_id, {**responses, victim: 2.5}, on_error="invalid", **ctx)
    assert spoiled.valid is False
    for flag in clean.flags:
        if victim not in flag.items and not _flag_reads(inst, flag.id, victim):
            assert flag.id in spoiled.flag_ids


def _flag_reads(inst: screening.Instrument, flag_id: str, item_id: str) -> bool:
    flag = next(f for f in inst.flags if f.id == flag_id)
    reads = set(screening.rules.referenced(flag.when))
    if ("item", item_id) in reads:
        return True
    return any(kind == "scale" and item_id in inst.scales[name].items for kind, name in reads)
