"""The DataFrame scorer: same answers as the single-response scorer, every row kept."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import screening
from screening import blocks
from screening.cases import case_responses, compare
from screening.results import ScoreResult

from . import backends
from .backends import BACKENDS, assert_same

BUILTINS = screening.list_instruments()


def _same(a: Any, b: Any) -> bool:
    a = None if a is pd.NA or (isinstance(a, float) and math.isnan(a)) else a
    b = None if b is pd.NA or (isinstance(b, float) and math.isnan(b)) else b
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and abs(a - b) < 1e-9
    return bool(a == b)


def assert_rows_match(
    inst: screening.Instrument, df: pd.DataFrame, context: dict[str, Any] | None = None
) -> None:
    """Each row of score_frame equals score() on that row."""
    out = screening.score_frame(inst, df, context=context, allow_missing_columns=True)
    assert list(out.index) == list(df.index)
    for position in range(len(df)):
        responses = {c: df[c].iloc[position] for c in df.columns}
        ctx = {}
        for name, value in (context or {}).items():
            cell = value.iloc[position] if isinstance(value, pd.Series) else value
            if cell is not None and not (isinstance(cell, float) and math.isnan(cell)):
                ctx[name] = cell
        expected = screening.score(inst, responses, on_error="invalid", **ctx)
        row = out.iloc[position]
        where = f"{inst.id} row {position}: {responses} {ctx}"
        assert bool(row["valid"]) == expected.valid, where
        assert row["reason"] == "; ".join(expected.reasons), where
        for name, scale in expected.scales.items():
            assert _same(row[name], scale.score), (where, name)
            if f"{name}_band" in out:
                assert _same(row[f"{name}_band"], scale.band), (where, name)
            for table, label in scale.bands.items():
                assert _same(row[f"{name}_band_{table}"], label), (where, name, table)
            assert row[f"{name}_answered"] == scale.answered, (where, name)
            assert row[f"{name}_missing"] == scale.missing, (where, name)
            assert bool(row[f"{name}_prorated"]) == scale.prorated, (where, name)
            if f"{name}_unrounded" in out:
                assert _same(row[f"{name}_unrounded"], scale.unrounded), (where, name)
        for flag in inst.flags:
            assert flag_state(row[f"flag_{flag.id}"]) == expected_flag(expected, flag.id), (
                where,
                flag.id,
            )
        for name in inst.classifications:
            assert _same(row[name], expected.classifications[name]), (where, name)


def flag_state(cell: Any) -> bool | None:
    """A flag cell: True raised, False clear, None undetermined (NA)."""
    return None if cell is pd.NA else bool(cell)


def expected_flag(result: ScoreResult, flag_id: str) -> bool | None:
    if flag_id in result.flag_ids:
        return True
    return None if flag_id in result.undetermined_flag_ids else False


CELL_KINDS = ("valid", "valid", "valid", "valid", "missing", "out_of_range", "fraction", "text")


@st.composite
def frames(draw: st.DrawFn) -> tuple[str, pd.DataFrame, dict[str, Any]]:
    instrument_id = draw(st.sampled_from(BUILTINS))
    inst = screening.load_instrument(instrument_id)
    n = draw(st.integers(min_value=1, max_value=12))
    data: dict[str, Any] = {}
    for item in inst.items:
        values = [o.value for o in inst.item_options(item)]
        column_kind = draw(st.sampled_from(["int", "float", "object"]))
        allowed = {"int": ("valid", "out_of_range"), "float": CELL_KINDS[:-1]}.get(
            column_kind, CELL_KINDS
        )
        cells: list[Any] = []
        for _ in range(n):
            kind = draw(st.sampled_from(allowed))
            if kind == "valid":
                cells.append(draw(st.sampled_from(values)))
            elif kind == "missing":
                cells.append(None if column_kind == "object" else np.nan)
            elif kind == "out_of_range":
                cells.append(
                    draw(st.sampled_from([max(values) + 1, min(values) - 1, 99, -128, 300]))
                )
            elif kind == "fraction":
                cells.append(values[0] + 0.5)
            else:
                cells.append(draw(st.sampled_from([str(values[0]), True, "x"])))
        dtype = {"int": "int64", "float": "float64"}.get(column_kind, object)
        data[item.id] = pd.Series(cells, dtype=dtype)
    context: dict[str, Any] = {}
    for name, var in inst.context.items():
        options = [*(var.values or []), None, "other"]
        context[name] = pd.Series([draw(st.sampled_from(options)) for _ in range(n)], dtype=object)
    df = pd.DataFrame(data)
    df.index = pd.Index([f"r{i}" for i in range(n)])
    for value in context.values():
        value.index = df.index
    return instrument_id, df, context


@pytest.mark.parametrize("backend", sorted(BACKENDS))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames())
def test_every_row_equals_the_single_response_scorer(
    backend: str, drawn: tuple[str, pd.DataFrame, dict[str, Any]]
) -> None:
    instrument_id, df, context = drawn
    inst = screening.load_instrument(instrument_id)
    view = backends.VIEWS[backend](df) if backend in backends.VIEWS else df
    expected = backends.row(inst, view, context)
    got = BACKENDS[backend](inst, df, context)
    assert len(got) == len(df)
    for position, (want, have) in enumerate(zip(expected, got, strict=True)):
        where = f"{backend}: {instrument_id} row {position}: {df.iloc[position].to_dict()}"
        assert_same(want, have, where)
    if backend == "pandas":  # and the columns themselves, dtypes and all
        assert_rows_match(inst, df, context)


@pytest.mark.parametrize("backend", sorted(BACKENDS))
@pytest.mark.parametrize("instrument_id", BUILTINS)
def test_golden_cases_through_every_backend(backend: str, instrument_id: str) -> None:
    inst = screening.load_instrument(instrument_id)
    item_ids = {i.id for i in inst.items}
    failures = []
    for index, case in enumerate(inst.cases):
        responses = case_responses(inst, case)
        if not set(responses) <= item_ids:
            continue  # unknown items: a DataFrame's other columns are not items
        context = dict(case.context)
        if set(context) - set(inst.context):
            continue
        if not responses and backend in ("polars", "arrow"):
            continue  # a table of no columns has no rows there: nothing answered cannot be said
        df = pd.DataFrame(
            {k: pd.Series([v], dtype=object) for k, v in responses.items()},
            index=pd.RangeIndex(1),
        )
        ctx: dict[str, Any] = {k: pd.Series([v], dtype=object) for k, v in context.items()}
        if case.coding is not None:
            ctx["coding"] = case.coding  # one name for every row
        (result,) = BACKENDS[backend](inst, df, ctx)
        failures += [f.message for f in compare(index, case, result)]
    assert failures == []


def phq9_frame(rows: list[list[Any]], columns: list[str] | None = None) -> pd.DataFrame:
    names = columns or [f"phq9_{n}" for n in range(1, 10)]
    return pd.DataFrame(rows, columns=names)


def _buffers(frame: pd.DataFrame) -> list[tuple[str, Any]]:
    """Each column's numpy buffers (values, mask, codes), by column."""
    out = []
    for name in frame.columns:
        array = frame[name].array
        for attr in ("_data", "_mask", "_ndarray"):
            held = getattr(array, attr, None)
            if isinstance(held, np.ndarray):
                out.append((name, held))
    return out


@pytest.mark.parametrize("block", [blocks.BLOCK, 9])
@pytest.mark.parametrize("dtype", ["int8", "int64", "Int8", "float64", "object"])
@pytest.mark.parametrize("instrument_id", BUILTINS)
def test_output_columns_share_no_memory(instrument_id: str, dtype: Any, block: int) -> None:
    """The engine wraps its arrays without copying them: each output column's buffers are its
    own, never another column's or the input's (writing to one cell changes one cell), also
    where the rows are scored in blocks (the columns then lie side by side in one buffer)."""
    inst = screening.load_instrument(instrument_id)
    ids = [item.id for item in inst.items]
    rng = np.random.default_rng(7)
    df = pd.DataFrame(rng.integers(0, 2, size=(40, len(ids))), columns=ids).astype(dtype)
    if dtype in ("float64", "object"):
        df.iloc[::7, 0] = None  # missing answers: the prorating and reason paths
    with mock.patch.object(blocks, "BLOCK", block), mock.patch.object(blocks, "AT_ONCE", block):
        out = screening.score_frame(inst, df, allow_missing_columns=True)
    held = _buffers(out)
    inputs = [df[c].to_numpy() for c in ids]
    for at, (name, buffer) in enumerate(held):
        for other, theirs in held[at + 1 :]:
            assert name == other or not np.shares_memory(buffer, theirs), (name, other)
        assert not any(np.shares_memory(buffer, cells) for cells in inputs), name


def test_index_order_and_every_row_are_kept() -> None:
    df = phq9_frame([[3, 2, 1, 2, 1, 2, 1, 2, 1], [0] * 9, [None] * 9])
    df.index = pd.Index([30, 10, 20], name="visit")
    out = screening.score_frame("phq9", df)
    assert list(out.index) == [30, 10, 20]
    assert out.index.name == "visit"
    assert out["total"].tolist() == [15, 0, pd.NA]
    assert out["total_band"].tolist()[:2] == ["moderately severe", "minimal"]
    # an unanswered item 9 leaves the risk flag undetermined (NA), never False
    assert out["flag_suicidal_ideation"].tolist() == [True, False, pd.NA]
    assert out["valid"].tolist() == [True, True, False]
    assert out["reason"].tolist() == ["", "", "total: 9 of 9 items missing (at most 2 allowed)"]


def test_nullable_dtypes_and_ordered_bands() -> None:
    out = screening.score_frame("phq9", phq9_frame([[3, 2, 1, 2, 1, 2, 1, 2, 1], [1] * 9]))
    assert str(out["total"].dtype) == "Int16"
    assert str(out["flag_suicidal_ideation"].dtype) == "boolean"
    assert out["total_band"].cat.ordered
    assert out[out["total_band"] >= "moderate"].index.tolist() == [0]
    who5 = screening.score_frame("who5", pd.DataFrame({f"who5_{n}": [5, 2] for n in range(1, 6)}))
    assert who5["percentage"].tolist() == [100, 40]


def test_missing_items_are_never_scored_as_zero() -> None:
    # BioPsyKit scores one empty item as the sum of the other eight, and an empty row as 0
    out = screening.score_frame("phq9", phq9_frame([[2] * 8 + [None], [None] * 9]))
    assert out["total"].tolist() == [18, pd.NA]  # 16 x 9/8 = 18, prorated as the source says
    assert out["total_prorated"].tolist() == [True, False]
    assert out["total_unrounded"].tolist()[0] == pytest.approx(18.0)


def test_bad_cells_invalidate_their_row_only_and_flags_survive() -> None:
    df = phq9_frame([[1, 1, 7, 1, 1, 1, 1, 1, 2], [1] * 9, [1, 1, 2.5, 1, 1, 1, 1, 1, 0]])
    out = screening.score_frame("phq9", df)
    assert out["valid"].tolist() == [False, True, False]
    assert out["total"].tolist() == [pd.NA, 9, pd.NA]
    assert out["flag_suicidal_ideation"].tolist() == [True, True, False]
    assert out["reason"][0] == "item 'phq9_3' must be one of 0, 1, 2, 3 (got 7.0)"


def test_a_rows_reasons_split_back_from_the_reason_column() -> None:
    # the column joins reasons by "; ": a described condition (ASQ's skip) must not contain it
    row = {"asq_1": 0, "asq_2": 0, "asq_3": 0, "asq_4": 0, "asq_5": 1}
    want = screening.score("asq", row, on_error="invalid").reasons
    assert want == (
        "item 'asq_5' is asked only when any of (asq_1 = 1, asq_2 = 1, asq_3 = 1, asq_4 = 1), "
        "which does not hold, but it was answered (got 1)",
    )
    out = screening.score_frame("asq", pd.DataFrame([row]), allow_missing_columns=True)
    assert tuple(out["reason"][0].split("; ")) == want


def test_text_and_booleans_are_not_numbers() -> None:
    df = phq9_frame([["2", 1, 1, 1, 1, 1, 1, 1, 0], [True, 1, 1, 1, 1, 1, 1, 1, 0]])
    df = df.astype({"phq9_1": object})
    out = screening.score_frame("phq9", df)
    assert out["valid"].tolist() == [False, False]
    assert "got the text '2'" in out["reason"][0]
    assert "got True, a boolean" in out["reason"][1]
    bools = phq9_frame([[True] * 9])
    assert screening.score_frame("phq9", bools)["valid"].tolist() == [False]


def test_issues_frame_is_tidy_and_joins_on_the_index() -> None:
    df = phq9_frame([[1, 1, 7, 1, 1, 1, 1, 1, 2], [1] * 9, [None] * 3 + [1] * 6])
    df.index = pd.Index(["a", "b", "c"])
    issues = screening.issues_frame("phq9", df)
    assert list(issues.columns) == [
        "row",
        "instrument",
        "item",
        "column",
        "code",
        "value",
        "message",
    ]
    assert issues[["row", "code"]].values.tolist() == [
        ["a", "invalid_value"],
        ["c", "scale_unscored"],
    ]
    assert issues["item"][0] == "phq9_3"
    assert pd.isna(issues["item"][1])
    assert issues["value"][0] == 7
    joined = issues.merge(df, left_on="row", right_index=True)
    assert len(joined) == 2


def test_columns_by_mapping_format_and_prefix() -> None:
    values = [[3, 2, 1, 2, 1, 2, 1, 2, 1]]
    padded = phq9_frame(values, [f"PHQ_{n:02d}" for n in range(1, 10)])
    assert screening.score_frame("phq9", padded, prefix="PHQ_")["total"][0] == 15
    assert screening.score_frame("phq9", padded, columns="PHQ_{n:0>2}")["total"][0] == 15
    plain = phq9_frame(values, [f"q{n}" for n in range(1, 10)])
    mapping = {f"phq9_{n}": f"q{n}" for n in range(1, 10)}
    assert screening.score_frame("phq9", plain, columns=mapping)["total"][0] == 15


def test_an_absent_scored_column_is_an_error_unless_allowed() -> None:
    df = phq9_frame([[1] * 9]).drop(columns=["phq9_4"])
    with pytest.raises(ValueError, match=r"no column for scored item\(s\) phq9_4"):
        screening.score_frame("phq9", df)
    out = screening.score_frame("phq9", df, allow_missing_columns=True)
    assert out["total"][0] == 9  # 8 x 9/8
    with pytest.raises(ValueError, match="no column for any phq9 item"):
        screening.score_frame("phq9", pd.DataFrame({"x": [1]}))


def test_several_instruments_do_not_collide() -> None:
    df = pd.concat(
        [phq9_frame([[1] * 9]), pd.DataFrame({f"gad7_{n}": [2] for n in range(1, 8)})], axis=1
    )
    out = screening.score_frame(["phq9", "gad7"], df)
    assert out["phq9_total"][0] == 9
    assert out["gad7_total"][0] == 14
    assert {"phq9_valid", "gad7_valid", "phq9_reason", "gad7_reason"} <= set(out.columns)
    assert len(set(out.columns)) == len(out.columns)


def test_context_from_a_column_or_a_scalar() -> None:
    df = pd.DataFrame({"audit_c_1": [1, 1, 1], "audit_c_2": [1, 1, 1], "audit_c_3": [1, 1, 1]})
    sex = pd.Series(["female", "male", None])
    out = screening.score_frame("audit_c", df, context={"sex": sex})
    assert out["screen"].tolist()[:2] == ["positive", "negative"]
    assert out["valid"].tolist() == [True, True, False]
    assert "needs context 'sex'" in out["reason"][2]
    scalar = screening.score_frame("audit_c", df, context={"sex": "female"})
    assert scalar["screen"].tolist() == ["positive"] * 3
    with pytest.raises(ValueError, match="takes no context 'age'"):
        screening.score_frame("audit_c", df, context={"age": 40})


def test_accessor() -> None:
    df = phq9_frame([[3, 2, 1, 2, 1, 2, 1, 2, 1]])
    assert df.screening.score("phq9")["total"][0] == 15
    assert df.screening.issues("phq9").empty


def test_output_schema_matches_the_output() -> None:
    schema = screening.output_schema("phq9")
    out = screening.score_frame("phq9", phq9_frame([[1] * 9]))
    assert len(schema) == 0
    assert list(schema.columns) == list(out.columns)
    assert schema.dtypes.astype(str).tolist() == out.dtypes.astype(str).tolist()
    arrow = screening.arrow_schema(["phq9", "gad7"])
    assert "phq9_total" in arrow.names
    assert str(arrow.field("phq9_total").type) == "int16"


@pytest.mark.parametrize("instrument_id", BUILTINS)
def test_arrow_schema_is_the_schema_of_real_output(instrument_id: str, tmp_path: Path) -> None:
    """Tables (and Parquet files) built from real output, valid and invalid rows, take it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    inst = screening.load_instrument(instrument_id)
    first = {item.id: inst.item_options(item)[0].value for item in inst.items}
    df = pd.DataFrame([first, {item.id: 99 for item in inst.items}], dtype=object)
    context = {name: (var.values or [0])[0] for name, var in inst.context.items()}
    out = screening.score_frame(instrument_id, df, context=context)
    assert out["reason"].iloc[1] != ""
    schema = screening.arrow_schema(instrument_id)
    table = pa.Table.from_pandas(out, schema=schema, preserve_index=False)
    assert table.schema.field("reason").type == pa.string()
    pq.write_table(table, tmp_path / "out.parquet")
    back = pq.read_table(tmp_path / "out.parquet", schema=schema)
    assert back.column("valid").to_pylist() == out["valid"].tolist()


def test_dask_map_partitions_equals_the_in_memory_result() -> None:
    dd = pytest.importorskip("dask.dataframe")
    import dask

    rng = np.random.default_rng(7)
    values = rng.integers(0, 4, size=(200, 9)).astype(float)
    values[rng.random(values.shape) < 0.05] = np.nan
    df = pd.DataFrame(values, columns=[f"phq9_{n}" for n in range(1, 10)])
    expected = screening.score_frame("phq9", df)
    ddf = dd.from_pandas(df, npartitions=4)
    with dask.config.set(scheduler="synchronous"):
        got = ddf.map_partitions(
            screening.score_frame, "phq9", meta=screening.output_schema("phq9")
        ).compute()
    pd.testing.assert_frame_equal(got, expected)


def test_options_far_apart_use_a_search_not_a_table_as_wide_as_their_span() -> None:
    from .conftest import DEFINITIONS

    inst = screening.load_instrument(DEFINITIONS / "wide.yaml")
    assert screening.run_cases(inst) == []
    df = pd.DataFrame({"wide_1": [1_000_000, 0, 7, 500_000], "wide_2": [0, 1_000_000, 0, 500_000]})
    assert_rows_match(inst, df)
    out = screening.score_frame(inst, df)
    assert out["total"].tolist() == [2_000_000, 0, pd.NA, 1_000_000]
    assert out["total_band"].tolist()[:2] == ["high", "low"]


def test_option_values_are_bounded() -> None:
    from .conftest import DEFINITIONS

    text = (DEFINITIONS / "wide.yaml").read_text().replace("value: 1000000,", "value: 10000000,")
    with pytest.raises(screening.DefinitionError, match="less than or equal to 1000000"):
        screening.parse_instrument(text, "wide.yaml")


def test_missing_context_in_a_series_is_missing_context_not_a_crash() -> None:
    df = pd.DataFrame({f"audit_c_{n}": [1, 1, 1] for n in (1, 2, 3)})
    for sex in (
        pd.Series(["female", pd.NA, "male"], dtype="string"),
        pd.Series(["female", pd.NA, "male"], dtype=object),
        pd.Series(["female", None, "male"], dtype=object),
    ):
        out = screening.score_frame("audit_c", df, context={"sex": sex})
        assert out["screen"].tolist()[0::2] == ["positive", "negative"]
        assert out["valid"].tolist() == [True, False, True]
        assert "needs context 'sex'" in out["reason"][1]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=60), max_size=40), st.integers(0, 5000))
def test_distinct_codes_are_numpys_unique(codes: list[int], extra: int) -> None:
    from screening.arrays import _distinct

    array = np.array(codes, dtype=np.int64)
    keys, inverse = _distinct(array, 61 + extra)  # small bounds count, large ones sort
    want_keys, want_inverse = np.unique(array, return_inverse=True)
    assert keys.tolist() == want_keys.tolist()
    assert inverse.tolist() == want_inverse.reshape(-1).tolist()


def test_object_columns_of_numbers_read_as_numbers_and_quote_their_cells() -> None:
    big = 2**70  # past what a float holds exactly: read cell by cell, quoted exactly
    cells = {
        "phq9_1": [1, None, 7, 1, big, 1.0],
        "phq9_2": [1, 1, 1, pd.NA, 1, 1],
        "phq9_3": [1, 1, 1, 1, 1, True],
    }
    df = pd.DataFrame({**cells, **{f"phq9_{n}": [1] * 6 for n in range(4, 10)}}, dtype=object)
    out = screening.score_frame("phq9", df)
    issues = screening.issues_frame("phq9", df)
    want = [
        screening.score(
            "phq9",
            {str(k): v for k, v in row.items() if v is not None and v is not pd.NA},
            on_error="invalid",
        )
        for row in df.to_dict("records")
    ]
    assert out["total"].tolist() == [w.scales["total"].score if w.valid else pd.NA for w in want]
    assert issues["message"].tolist() == [m for w in want for m in w.reasons]
    assert issues["message"].tolist() == [
        "item 'phq9_1' must be one of 0, 1, 2, 3 (got 7)",
        "item 'phq9_1' must be one of 0, 1, 2, 3 (got an integer of about 22 digits)",
        "item 'phq9_3' must be a whole number, one of 0, 1, 2, 3 (got True, a boolean)",
    ]


@pytest.mark.parametrize("arrow_type", ["int8[pyarrow]", "int64[pyarrow]", "uint8[pyarrow]"])
def test_pyarrow_backed_integer_columns_read_as_the_row_scorer_reads_them(
    arrow_type: str,
) -> None:
    rows: list[list[int | None]] = [
        [3, 2, 1, 2, 1, 2, 1, 2, 1],
        [None, 2, 2, 2, 2, 2, 1, 1, 0],  # one missing: prorated
        [7, 1, 1, 1, 1, 1, 1, 1, 1],  # out of range
        [None, None, None, 1, 1, 1, 1, 1, 1],  # too many missing
        [0, 0, 0, 0, 0, 0, 0, 0, None],  # the flag's item missing: undetermined
    ]
    pa = pytest.importorskip("pyarrow")
    dtype: Any = pd.ArrowDtype(pa.type_for_alias(arrow_type.split("[", maxsplit=1)[0]))
    df = pd.DataFrame(
        {f"phq9_{n}": pd.Series([r[n - 1] for r in rows], dtype=dtype) for n in range(1, 10)}
    )
    out = screening.score_frame("phq9", df)
    issues = screening.issues_frame("phq9", df)
    want = [
        screening.score(
            "phq9",
            {f"phq9_{n}": v for n, v in enumerate(r, start=1) if v is not None},
            on_error="invalid",
        )
        for r in rows
    ]
    assert out["total"].tolist() == [w.scales["total"].score if w.valid else pd.NA for w in want]
    assert out["total"].tolist()[:2] == [15, 14]
    assert [flag_state(c) for c in out["flag_suicidal_ideation"]] == [
        expected_flag(w, "suicidal_ideation") for w in want
    ]
    assert issues["message"].tolist() == [m for w in want for m in w.reasons]


def test_cells_past_a_float_or_unhashable_are_refused_not_fatal() -> None:
    cells = [10**400, np.timedelta64(1), 1]
    df = pd.DataFrame({f"phq9_{n}": pd.Series(cells, dtype=object) for n in range(1, 10)})
    issues = screening.issues_frame("phq9", df)
    first = issues[issues["item"] == "phq9_1"]["message"].tolist()
    assert (
        first[0] == "item 'phq9_1' must be one of 0, 1, 2, 3 (got an integer of about 401 digits)"
    )
    assert first[1].startswith("item 'phq9_1' must be a whole number, one of 0, 1, 2, 3 (got")
    assert screening.score_frame("phq9", df)["valid"].tolist() == [False, False, True]


@pytest.mark.parametrize("rows", [1, 50])  # 100 bad cells: each distinct value checked once
def test_minus_zero_and_zero_are_quoted_as_written(rows: int) -> None:
    df = pd.DataFrame({f"brs_{n}": [-0.0, 0.0] * rows for n in range(1, 7)})  # options: 1-5
    issues = screening.issues_frame("brs", df)
    got = issues[issues["item"] == "brs_1"]["message"].tolist()
    assert got == [
        m
        for r in df.to_dict("records")
        for m in screening.score(
            "brs", {str(k): v for k, v in r.items()}, on_error="invalid"
        ).reasons
        if m.startswith("item 'brs_1'")
    ]
    assert [m.endswith("(got -0.0)") for m in got] == [True, False] * rows


def test_many_bad_float_cells_give_the_row_scorers_reasons() -> None:
    # past a few bad cells a float column's distinct values are checked once each
    rng = np.random.default_rng(3)
    pool = np.array([0, 1, 2, 3, 7, 2.5, -0.0, -1, np.inf, -np.inf, 1e300, 99, np.nan, 3.0000001])
    df = pd.DataFrame(rng.choice(pool, size=(300, 9)), columns=[f"phq9_{n}" for n in range(1, 10)])
    assert_rows_match(screening.load_instrument("phq9"), df)
    issues = screening.issues_frame("phq9", df)
    bad = issues[issues["code"] == "invalid_value"]
    assert len(bad) > 64  # the path under test
    for row, message in zip(bad["row"], bad["message"], strict=True):
        responses = {c: df[c].iloc[row] for c in df.columns}
        assert message in screening.score("phq9", responses, on_error="invalid").reasons
    # Polars and Arrow gather the distinct reasons by code: the same text row by row
    import polars as pl
    import pyarrow as pa

    want = screening.score_frame("phq9", df)["reason"].tolist()
    assert screening.score_frame("phq9", pl.from_pandas(df))["reason"].to_list() == want
    table = pa.Table.from_pandas(df, preserve_index=False)
    assert screening.score_frame("phq9", table).column("reason").to_pylist() == want


@pytest.mark.parametrize("shift", [1, -1])  # the table starting above, or ending below, a score
def test_a_score_outside_its_band_table_is_a_bug_reported_not_a_band_guessed(
    shift: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from screening.arrays import _bands, array_plan

    aplan = array_plan("phq9")
    real = aplan.bands["total"]
    broken = _bands(real.lo + 1, real.codes[1:]) if shift > 0 else _bands(real.lo, real.codes[:-1])
    monkeypatch.setitem(aplan.bands, "total", broken)
    score = 0 if shift > 0 else 27  # 0 - 1 is -1: read unsigned, past the end too
    with pytest.raises(RuntimeError, match="a score lies outside its range"):
        screening.score_frame("phq9", phq9_frame([[score // 9 if score else 0] * 9]))


@settings(max_examples=200, deadline=None)
@given(
    # (-1: a score below the first band; 127 and 128: steps past int8)
    st.lists(st.integers(-1, 12) | st.sampled_from([127, 128, 300]), min_size=1, max_size=40),
    st.integers(min_value=-50, max_value=50),
    st.data(),
)
def test_band_codes_by_comparison_equal_the_table(
    codes: list[int], lo: int, data: st.DataObject
) -> None:
    """A band table with few edges is read by comparisons, one with many by a gather: both
    give the table's code for every score (codes in any order, steps of any size)."""
    from screening.arrays import _bands

    table = np.array(codes, dtype=np.int16)
    positions = np.array(
        data.draw(st.lists(st.integers(0, len(codes) - 1), max_size=64)), dtype=np.int16
    )
    got = _bands(lo, table).of(positions)
    assert got.dtype == np.int16
    assert got.tolist() == table[positions].tolist()


def test_band_codes_whose_step_is_past_int8_are_counted_wider() -> None:
    from screening.arrays import _bands

    table = np.array([-1, -1, 127, 127], dtype=np.int16)  # one step of 128, codes within int8
    got = _bands(0, table).of(np.array([0, 1, 2, 3, 0], dtype=np.int16))
    assert got.tolist() == [-1, -1, 127, 127, -1]


@pytest.mark.parametrize("instrument_id", ["asq", "phq9"])
def test_a_duration_where_non_answers_are_read_is_a_bad_answer_not_a_crash(
    instrument_id: str,
) -> None:
    """numpy's timedelta64 registers as an integer: reading it as a non-answer (7 or 9 in
    NHANES' coding) raised TypeError; it is a bad answer with its reason, on both paths."""
    inst = screening.load_instrument(instrument_id)
    context = {"coding": "nhanes"} if instrument_id == "phq9" else {}
    cells = pd.Series([np.timedelta64(1, "D"), 1], dtype=object)
    df = pd.DataFrame({item.id: cells for item in inst.items})
    out = screening.score_frame(inst, df, context=context)
    first = inst.items[0].id
    row = screening.score(inst, {first: np.timedelta64(1, "D")}, on_error="invalid", **context)
    assert not row.valid
    assert row.reasons[0].endswith("(got a value of type timedelta64)")
    assert out["valid"].tolist() == [False, True]
    assert out["reason"][0].startswith(row.reasons[0])
