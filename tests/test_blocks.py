"""A long input is scored block by block (`blocks.py`): the output, the reasons and the issues
are the same for every block size, on generated definitions and frames and on the built-ins
through every backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

import screening
from screening import blocks

from .test_parity_custom import Drawn, custom_frames

DEFINITIONS = Path(__file__).parent / "definitions"


def _both(inst: Any, df: Any, block: int, **kw: Any) -> tuple[Any, Any]:
    with mock.patch.object(blocks, "BLOCK", block), mock.patch.object(blocks, "AT_ONCE", block):
        return (
            screening.score_frame(inst, df, **kw),
            screening.issues_frame(inst, df, **kw),
        )


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(custom_frames(), st.integers(min_value=1, max_value=3))
def test_any_block_size_gives_the_same_frames_on_custom_definitions(
    drawn: Drawn, block: int
) -> None:
    note(f"frame:\n{drawn.frame.to_string()}")
    kw = {"context": drawn.context, "allow_missing_columns": True}
    whole, whole_issues = _both(drawn.instrument, drawn.frame, 10_000, **kw)
    parts, parts_issues = _both(drawn.instrument, drawn.frame, block, **kw)
    pd.testing.assert_frame_equal(parts, whole)
    pd.testing.assert_frame_equal(parts_issues, whole_issues)


def _survey(inst: screening.Instrument, n: int, seed: int) -> pd.DataFrame:
    """Answers with 3% blanks, 1% codes past the options, 0.5% fractions."""
    rng = np.random.default_rng(seed)
    data = {}
    for item in inst.items:
        values = np.array([o.value for o in inst.item_options(item)], dtype=float)
        column = rng.choice(values, size=n)
        column[rng.random(n) < 0.01] = 97
        column[rng.random(n) < 0.005] = 1.5
        column[rng.random(n) < 0.03] = np.nan
        data[item.id] = column
    return pd.DataFrame(data, index=pd.RangeIndex(1000, 1000 + n))


@pytest.mark.parametrize("instrument", ["phq9", "dass21", "gad7", "pcl5", "audit", "epds"])
def test_blocks_of_a_survey_give_the_whole_input_scored_at_once(instrument: str) -> None:
    inst = screening.load_instrument(instrument)
    df = _survey(inst, 2000, seed=len(instrument))
    whole, whole_issues = _both(inst, df, 10_000)
    assert 100 < (~whole["valid"]).sum() < 1900  # both kinds of row
    assert whole_issues["row"].nunique() > 100
    for block in (7, 256, 1999):
        parts, parts_issues = _both(inst, df, block)
        pd.testing.assert_frame_equal(parts, whole)
        pd.testing.assert_frame_equal(parts_issues, whole_issues)


@pytest.mark.parametrize("kind", ["polars", "arrow"])
def test_blocks_through_polars_and_arrow(kind: str) -> None:
    inst = screening.load_instrument("phq9")
    df = _survey(inst, 500, seed=3).reset_index(drop=True)
    if kind == "polars":
        pl = pytest.importorskip("polars")
        table: Any = pl.from_pandas(df)
    else:
        pa = pytest.importorskip("pyarrow")
        table = pa.Table.from_pandas(df, preserve_index=False)
    whole, whole_issues = _both(inst, table, 10_000)
    parts, parts_issues = _both(inst, table, 33)
    assert parts.equals(whole)
    # (a Polars object column compares by identity: its cells are compared as values)
    assert _plain(parts_issues) == _plain(whole_issues)
    assert len(whole_issues) > 20


def _plain(table: Any) -> dict[str, list[Any]]:
    if hasattr(table, "to_pydict"):  # pyarrow
        return dict(table.to_pydict())
    return dict(table.to_dict(as_series=False))


def test_a_block_needing_a_wider_score_type_widens_the_whole_column() -> None:
    """A prorated sum not rounded is a float in the blocks that have one, a whole number in
    the others: the whole column keeps every value."""
    inst = screening.load_instrument(DEFINITIONS / "features.yaml")
    rows = 40
    df = pd.DataFrame({f"features_{i}": [1.0] * rows for i in range(1, 7)})
    df["features_6"] = 2.0  # options 0, 2, 4
    df.loc[20:, "features_4"] = np.nan  # the second block's rows: one of four items missing
    whole, _ = _both(inst, df, 10_000)
    parts, _ = _both(inst, df, 20)
    pd.testing.assert_frame_equal(parts, whole)
    # 1 + 1 + 2 (item 5 reversed) + 2; without item 4: 5 x 4 / 3
    assert whole["total"].tolist() == [6.0] * 20 + [pytest.approx(20 / 3)] * 20
    assert whole["total_prorated"].tolist() == [False] * 20 + [True] * 20


@pytest.mark.parametrize("length", [9, 11, 0])
@pytest.mark.parametrize("block", [3, 10_000])
def test_a_context_array_of_another_length_is_refused_in_blocks_and_whole(
    length: int, block: int
) -> None:
    """A numpy array as context must hold one value per row: cut into blocks, a longer one
    would otherwise lose its tail without a word."""
    df = pd.DataFrame({f"epds_{i}": [0] * 10 for i in range(1, 11)})
    sexes = np.array(["female"] * length, dtype=object) if length else np.array("female")
    with pytest.raises(ValueError, match="one value per row"):
        _both("epds", df, block, context={"sex": sexes})
    fits = _both("epds", df, block, context={"sex": np.array(["female"] * 10, dtype=object)})
    assert fits[0]["valid"].all()


def test_a_float_column_of_negative_zeros_is_kept_in_blocks() -> None:
    """An output array that is all zeros is not written; -0.0 is not a zero bit pattern."""

    def block(values: Any) -> dict[str, Any]:
        return {"x": screening.arrays.OutColumn("float", values, np.zeros(2, bool), "Float64")}

    whole = blocks._Whole(block(np.zeros(2)), 6)  # the first block: all zeros, not written
    whole.put(block(np.full(2, -0.0)), 2, 4)
    whole.put(block(np.zeros(2)), 4, 6)
    values = whole.columns()["x"].values
    assert np.signbit(values).tolist() == [False, False, True, True, False, False]
