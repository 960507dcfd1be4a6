"""Every way to score a table of responses, behind one signature, so that one test body runs
through every backend: `@pytest.mark.parametrize("backend", BACKENDS)`.

A backend takes an instrument, a DataFrame of item columns (object, int or float) and the context
per row, and returns one `ScoreResult` per row, read back from its own output. A new dataframe
backend (Polars, Arrow) is one function here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pandas as pd

import screening
from screening.errors import Issue
from screening.results import FlagResult, ScaleResult, ScoreResult

Backend = Callable[[screening.Instrument, pd.DataFrame, dict[str, Any]], list[ScoreResult]]


def _cell(value: Any) -> Any:
    missing = value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))
    return None if missing else value


def _flag(value: Any) -> bool | None:
    """A flag cell: True raised, False clear, None undetermined (NA, None or NaN)."""
    return None if _cell(value) is None else bool(value)


def _context_at(context: dict[str, Any], position: int) -> dict[str, Any]:
    out = {}
    for name, value in context.items():
        cell = _cell(value.iloc[position] if isinstance(value, pd.Series) else value)
        if cell is not None:
            out[name] = cell
    return out


def row(inst: screening.Instrument, df: pd.DataFrame, context: dict[str, Any]) -> list[ScoreResult]:
    """The single-response scorer, row by row."""
    return [
        screening.score(
            inst,
            {c: df[c].iloc[position] for c in df.columns},
            on_error="invalid",
            **_context_at(context, position),
        )
        for position in range(len(df))
    ]


def pandas(
    inst: screening.Instrument, df: pd.DataFrame, context: dict[str, Any]
) -> list[ScoreResult]:
    """`score_frame` and `issues_frame`, each row read back as a result."""
    out = screening.score_frame(inst, df, context=context, allow_missing_columns=True)
    issues = screening.issues_frame(inst, df, context=context, allow_missing_columns=True)
    return _read_back(inst, out, issues, list(df.index))


def _objects(values: list[Any]) -> list[Any]:
    return [_cell(v) for v in values]


def polars(
    inst: screening.Instrument, df: pd.DataFrame, context: dict[str, Any]
) -> list[ScoreResult]:
    """A Polars DataFrame in, Polars out (read back through pandas for comparison); mixed
    columns travel as Polars objects, so every backend sees the same cells."""
    import polars as pl

    data = {}
    for name in df.columns:
        column = df[name]
        if column.dtype == object:
            data[name] = pl.Series(name, _objects(column.tolist()), dtype=pl.Object)
        else:
            data[name] = pl.Series(name, column.to_numpy())
    frame = pl.DataFrame(data)
    ctx = {
        k: pl.Series(k, _objects(v.tolist()), dtype=_polars_type(v))
        if isinstance(v, pd.Series)
        else v
        for k, v in context.items()
    }
    out = screening.score_frame(inst, frame, context=ctx, allow_missing_columns=True)
    issues = screening.issues_frame(inst, frame, context=ctx, allow_missing_columns=True)
    assert isinstance(out, pl.DataFrame)
    return _read_back(inst, out.to_pandas(), _positions(issues.to_pandas(), df), list(df.index))


def _context_kind(column: pd.Series) -> str:
    """How a context column travels: text, whole numbers, numbers, or mixed objects."""
    kinds = _kinds(column)
    if kinds <= {str}:
        return "text"
    if kinds <= {int}:
        return "int"
    if kinds <= {int, float}:
        return "float"
    return "object"


def _polars_type(column: pd.Series) -> Any:
    import polars as pl

    types = {"text": pl.String, "int": pl.Int64, "float": pl.Float64, "object": pl.Object}
    return types[_context_kind(column)]


def _arrow_context(column: pd.Series) -> Any:
    """A context column as an Arrow array: one type, so a mixed column travels as text."""
    import pyarrow as pa

    kind = _context_kind(column)
    cells = _objects(column.tolist())
    if kind == "object":
        cells = [None if c is None else str(c) for c in cells]
    return pa.array(cells, type={"int": pa.int64(), "float": pa.float64()}.get(kind, pa.string()))


def _kinds(column: pd.Series) -> set[type]:
    return {type(v) for v in column if _cell(v) is not None}


def arrow_view(df: pd.DataFrame) -> pd.DataFrame:
    """The cells an Arrow table can hold: a column of mixed types becomes text (a column of
    numbers, or of text, stays as it is)."""
    view = df.copy()
    for name in df.columns:
        column = df[name]
        if column.dtype == object:
            kinds = _kinds(column)
            if kinds <= {int} or kinds == {str}:
                continue
            cast: Callable[[Any], Any] = float if kinds <= {int, float} else str
            view[name] = pd.Series(
                [None if _cell(v) is None else cast(v) for v in column],
                index=df.index,
                dtype=object,
            )
    return view


def arrow(
    inst: screening.Instrument, df: pd.DataFrame, context: dict[str, Any]
) -> list[ScoreResult]:
    """A pyarrow Table in, a Table out (read back through pandas for comparison)."""
    import pyarrow as pa

    view = arrow_view(df)
    data = {}
    for name in view.columns:
        column = view[name]
        if column.dtype == object:
            kinds = _kinds(column)
            kind = (
                pa.int64()
                if kinds <= {int}
                else pa.float64()
                if kinds <= {int, float}
                else pa.string()
            )
            data[name] = pa.array(_objects(column.tolist()), type=kind)
        else:
            data[name] = pa.array(column.to_numpy())
    table = pa.table(data)
    ctx = {k: _arrow_context(v) if isinstance(v, pd.Series) else v for k, v in context.items()}
    out = screening.score_frame(inst, table, context=ctx, allow_missing_columns=True)
    issues = screening.issues_frame(inst, table, context=ctx, allow_missing_columns=True)
    assert isinstance(out, pa.Table)
    return _read_back(inst, out.to_pandas(), _positions(issues.to_pandas(), df), list(df.index))


def _positions(issues: pd.DataFrame, df: pd.DataFrame) -> pd.DataFrame:
    """Issues named by row position, renamed by the input's labels."""
    issues = issues.copy()
    issues["row"] = [df.index[int(p)] for p in issues["row"]]
    return issues


def _read_back(
    inst: screening.Instrument, out: pd.DataFrame, issues: pd.DataFrame, labels: list[Any]
) -> list[ScoreResult]:
    provenance = screening.scoring.plan_for(inst).provenance
    summary_codes = ("scale_unscored", "classification_undetermined")  # the frame's own rows
    results = []
    for position, label in enumerate(labels):
        line = out.iloc[position]
        scales = {
            name: ScaleResult(
                _cell(line[name]),
                _cell(line.get(f"{name}_band")),
                None,
                bool(line[f"{name}_prorated"]),
                _cell(line.get(f"{name}_unrounded")),
                int(line[f"{name}_answered"]),
                int(line[f"{name}_missing"]),
                0,
                _cell(line[name]) is not None,
                "",
                {t: _cell(line[f"{name}_band_{t}"]) for t in inst.scales[name].band_tables},
            )
            for name in inst.scales
        }
        states = {f.id: _flag(line[f"flag_{f.id}"]) for f in inst.flags}
        flags = tuple(
            FlagResult(f.id, f.severity, f.message, ()) for f in inst.flags if states[f.id] is True
        )
        undetermined = tuple(
            FlagResult(f.id, f.severity, f.message, ()) for f in inst.flags if states[f.id] is None
        )
        mine = issues[(issues["row"] == label) & ~issues["code"].isin(summary_codes)]
        reason = line["reason"]
        said = line.get("non_answers") or ""
        non_answers = dict(entry.split(": ") for entry in said.split("; ")) if said else {}
        results.append(
            ScoreResult(
                inst.id,
                bool(line["valid"]),
                scales,
                flags,
                {name: _cell(line[name]) for name in inst.classifications},
                tuple(reason.split("; ")) if reason else (),
                tuple(Issue(code, "") for code in mine["code"]),
                provenance,
                undetermined,
                non_answers,
            )
        )
    return results


VIEWS: dict[str, Callable[[pd.DataFrame], pd.DataFrame]] = {"arrow": arrow_view}
"""What a backend sees of a frame where it differs from the frame (the row scorer's input)."""


BACKENDS: dict[str, Backend] = {"row": row, "pandas": pandas, "polars": polars, "arrow": arrow}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and abs(a - b) < 1e-9
    return bool(a == b)


def assert_same(expected: ScoreResult, got: ScoreResult, where: str) -> None:
    """Two results agree on everything every backend reports."""
    assert got.valid == expected.valid, where
    assert got.reasons == expected.reasons, where
    assert sorted(i.code for i in got.issues) == sorted(i.code for i in expected.issues), where
    for name, scale in expected.scales.items():
        other = got.scales[name]
        for field in ("score", "band", "prorated", "unrounded", "answered", "missing"):
            assert _same(getattr(other, field), getattr(scale, field)), (where, name, field)
        assert dict(other.bands) == dict(scale.bands), (where, name, "bands")
    assert got.flag_ids == expected.flag_ids, where
    assert got.undetermined_flag_ids == expected.undetermined_flag_ids, where
    assert dict(got.classifications) == dict(expected.classifications), where
    assert dict(got.non_answers) == dict(expected.non_answers), where
