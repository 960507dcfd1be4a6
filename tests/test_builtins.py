"""Every built-in definition: valid, conventional, licensed, and right on its golden cases."""

from __future__ import annotations

import re
from itertools import pairwise

import pytest

import screening
from screening.definition import Scale
from screening.linting import lint_file
from screening.loading import builtin_dir
from screening.steps import steps_of

BUILTINS = screening.list_instruments()


@pytest.mark.parametrize("instrument_id", BUILTINS)
def test_golden_cases_pass(instrument_id: str) -> None:
    inst = screening.load_instrument(instrument_id)
    assert len(inst.cases) >= 5, "every built-in carries golden cases from its source"
    assert [f.message for f in screening.run_cases(inst)] == []


@pytest.mark.parametrize("instrument_id", BUILTINS)
def test_definition_has_no_problem_or_warning(instrument_id: str) -> None:
    assert [i.format() for i in lint_file(builtin_dir() / f"{instrument_id}.yaml")] == []


@pytest.mark.parametrize("instrument_id", BUILTINS)
def test_conventions(instrument_id: str) -> None:
    path = builtin_dir() / f"{instrument_id}.yaml"
    first = path.read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=../docs/instrument.schema.json"
    inst = screening.load_instrument(instrument_id)
    assert inst.id == instrument_id
    pattern = re.compile(rf"^{instrument_id}_(\d+)[a-z]?$")
    positions = []
    for item in inst.items:
        found = pattern.match(item.id)
        assert found, f"item id {item.id} is not {instrument_id}_<n>"
        positions.append(int(found.group(1)))
    assert positions == sorted(positions)
    assert positions[0] == 1


@pytest.mark.parametrize("instrument_id", BUILTINS)
def test_wording_only_where_the_licence_permits(instrument_id: str) -> None:
    inst = screening.load_instrument(instrument_id)
    if not inst.license.redistribute_text:
        assert all(item.text is None for item in inst.items)


def _fractional_scores(inst: screening.Instrument, scale: Scale) -> list[float]:
    """The scores a mean or a scale with decimals reaches with every item answered, every
    whole sum between the items' extremes taken as reachable (empty for other scales)."""
    if scale.method != "mean" and scale.decimals is None:
        return []
    steps = steps_of(inst, scale)
    assert steps is not None
    n = len(scale.items)
    low, high = sum(steps.sum.lows), sum(steps.sum.highs)
    return sorted({steps.finish(steps.exact(raw, n, 0)) for raw in range(low, high + 1)})


@pytest.mark.parametrize("instrument_id", BUILTINS)
def test_golden_cases_cover_every_band_on_both_sides(instrument_id: str) -> None:
    """Every cut of every band table, the default bands and each alternative table, has a golden
    case on both sides: for the default bands a case expecting the band, for a table a case
    expecting that table's label."""
    inst = screening.load_instrument(instrument_id)
    for name, scale in inst.scales.items():
        tables = [("bands", scale.bands, None)] + [
            (f"band_tables.{t}", table.bands, t) for t, table in scale.band_tables.items()
        ]
        for where, bands, table in tables:
            if not bands:
                continue
            seen = {
                expected.score
                for case in inst.cases
                if (expected := case.expect.scales.get(name)) is not None
                and expected.score is not None
                and (table is None or expected.bands.get(table) is not None)
            }
            step = scale.multiplier
            reachable = _fractional_scores(inst, scale)
            for below, above in pairwise(bands):
                # the last reachable score below the cut and the first at or above it
                if reachable:
                    last_below = max(r for r in reachable if r <= below.max)
                    first_above = min(r for r in reachable if r >= above.min)
                else:
                    last_below = below.max - (below.max % step if isinstance(step, int) else 0)
                    first_above = above.min + (-above.min % step if isinstance(step, int) else 0)
                assert {last_below, first_above} <= seen, (
                    f"{instrument_id}.{name} {where}: no golden case at {last_below} and "
                    f"{first_above} (cut between '{below.label}' and '{above.label}')"
                )
