"""Which column holds each item: one spec per instrument, and every ambiguity refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pandas as pd
import pytest

import screening
from screening.columns import ColumnError, Spec, item_columns, specs
from screening.files import score_file

PHQ = [f"PHQ_{n}" for n in range(1, 10)]
GAD = [f"GAD_{n}" for n in range(1, 8)]


def two_instruments() -> pd.DataFrame:
    """PHQ-9 all 3 (total 27) and GAD-7 all 0 (total 0) in one table."""
    return pd.DataFrame([[3] * 9 + [0] * 7], columns=PHQ + GAD)


def test_one_prefix_for_several_instruments_is_refused() -> None:
    # it once scored GAD-7 from the PHQ columns: all-0 GAD answers gave gad7_total 21, "severe"
    with pytest.raises(ColumnError, match=r"one prefix \('PHQ_'\) for several instruments"):
        screening.score_frame(["phq9", "gad7"], two_instruments(), prefix="PHQ_")


def test_one_format_or_item_mapping_for_several_instruments_is_refused() -> None:
    df = two_instruments()
    with pytest.raises(ColumnError, match="one column format"):
        screening.score_frame(["phq9", "gad7"], df, columns="PHQ_{n}")
    mapping = {f"phq9_{n}": f"PHQ_{n}" for n in range(1, 10)}
    with pytest.raises(ColumnError, match="'phq9_1' is not one of phq9, gad7"):
        screening.score_frame(["phq9", "gad7"], df, columns=mapping)


def test_each_instrument_has_its_own_spec() -> None:
    df = two_instruments()
    out = screening.score_frame(["phq9", "gad7"], df, prefix={"phq9": "PHQ_", "gad7": "GAD_"})
    assert out["phq9_total"].tolist() == [27]
    assert out["gad7_total"].tolist() == [0]
    assert out["gad7_total_band"].tolist() == ["minimal"]
    mixed = screening.score_frame(
        ["phq9", "gad7"], df, prefix={"phq9": "PHQ_"}, columns={"gad7": "GAD_{n}"}
    )
    assert mixed["gad7_total"].tolist() == [0]
    one = screening.score_frame("gad7", df, prefix={"gad7": "GAD_"})
    assert one["total"].tolist() == [0]


def test_a_spec_for_an_instrument_not_scored_is_refused() -> None:
    with pytest.raises(ColumnError, match="'gad2', which is not among the instruments scored"):
        screening.score_frame(["phq9", "gad7"], two_instruments(), prefix={"gad2": "GAD_"})


def test_columns_and_prefix_for_one_instrument_is_refused() -> None:
    with pytest.raises(ColumnError, match="give columns= or prefix=, not both"):
        screening.score_frame("phq9", two_instruments(), columns="PHQ_{n}", prefix="PHQ_")


def test_an_instrument_listed_twice_is_refused() -> None:
    with pytest.raises(ColumnError, match="listed twice"):
        screening.score_frame(["phq9", "phq9"], two_instruments(), prefix={"phq9": "PHQ_"})


def test_a_prefix_matching_two_columns_is_refused_naming_both() -> None:
    df = pd.DataFrame([[1] * 10], columns=[*PHQ, "PHQ_09"])
    with pytest.raises(ColumnError, match=r"'PHQ_9' or 'PHQ_09'"):
        screening.score_frame("phq9", df, prefix="PHQ_")


def test_a_duplicated_column_name_is_refused() -> None:
    df = pd.DataFrame([[1] * 10], columns=[*PHQ, "PHQ_9"])
    with pytest.raises(
        ColumnError, match=r"'PHQ_9' .* appears 2 times in the data \(columns 9 and 10\)"
    ):
        screening.score_frame("phq9", df, prefix="PHQ_")


def test_a_header_pandas_renamed_is_refused_on_every_path(tmp_path: Path) -> None:
    # a file whose header repeats PHQ_9: pandas names the second PHQ_9.1, and the first would
    # be scored without a word, whichever holds the item
    source = tmp_path / "twice.csv"
    source.write_text(",".join([*PHQ, "PHQ_9"]) + "\n" + ",".join(["1"] * 9 + ["3"]) + "\n")
    df = pd.read_csv(source)
    assert list(df.columns)[-2:] == ["PHQ_9", "PHQ_9.1"]
    message = r"columns 'PHQ_9' and 'PHQ_9.1' may both hold item 'phq9_9' of phq9"
    with pytest.raises(ColumnError, match=message):
        screening.score_frame("phq9", df, prefix="PHQ_")
    # named by the caller, the column is the caller's choice
    mapping = {f"phq9_{n}": f"PHQ_{n}" for n in range(1, 10)}
    assert screening.score_frame("phq9", df, columns=mapping)["total"].tolist() == [9]
    # a file's header as written was checked for a name given twice: there, Q1.1 is a column
    # of its own (a sub-question), beside the Q1 a pattern finds
    legit = tmp_path / "sub.csv"
    legit.write_text("Q1,Q2,Q1.1,Q1.2\n2,3,yes,no\n")
    out = tmp_path / "out.csv"
    score_file("phq2", legit, out, columns="Q{n}")
    assert pd.read_csv(out)["total"].tolist() == [5]
    # a column that only looks like one (PHQ_90.1 repeats PHQ_90, no item) is no twin
    df = pd.DataFrame([[1] * 10], columns=[*PHQ, "PHQ_90.1"])
    assert screening.score_frame("phq9", df, prefix="PHQ_")["total"].tolist() == [9]


def test_one_column_for_two_items_is_refused() -> None:
    mapping = {f"phq9_{n}": f"PHQ_{n}" for n in range(1, 10)} | {"phq9_2": "PHQ_1"}
    with pytest.raises(ColumnError, match="'PHQ_1' is given for both 'phq9_1' and 'phq9_2'"):
        screening.score_frame("phq9", two_instruments(), columns=mapping)


def test_a_mapping_to_an_absent_column_or_unknown_item_is_refused() -> None:
    mapping = {f"phq9_{n}": f"PHQ_{n}" for n in range(1, 10)}
    with pytest.raises(ColumnError, match=r"column 'Q9', given for item 'phq9_9'.* is not in"):
        screening.score_frame("phq9", two_instruments(), columns={**mapping, "phq9_9": "Q9"})
    with pytest.raises(ColumnError, match="'phq9_11', which is not an item of phq9"):
        screening.score_frame("phq9", two_instruments(), columns={**mapping, "phq9_11": "X"})


def test_a_bad_format_string_is_a_clear_error() -> None:
    with pytest.raises(ColumnError, match="cannot be filled"):
        screening.score_frame("phq9", two_instruments(), columns="PHQ_{number}")


def test_two_instruments_sharing_output_names_need_a_prefix() -> None:
    df = two_instruments()
    with pytest.raises(ColumnError, match=r"output column 'total'.*add_prefix=True"):
        screening.score_frame(
            ["phq9", "gad7"], df, prefix={"phq9": "PHQ_", "gad7": "GAD_"}, add_prefix=False
        )
    with pytest.raises(TypeError, match="add_prefix"):
        screening.score_frame("phq9", df, prefix="PHQ_", add_prefix=cast(Any, "yes"))


def test_context_is_shared_by_name_across_instruments() -> None:
    df = pd.DataFrame([[3] * 9 + [1, 1, 1]], columns=[*PHQ, "audit_c_1", "audit_c_2", "audit_c_3"])
    out = screening.score_frame(
        ["phq9", "audit_c"], df, prefix={"phq9": "PHQ_"}, context={"sex": "female"}
    )
    assert out["audit_c_screen"].tolist() == ["positive"]
    with pytest.raises(ValueError, match="no instrument scored takes context 'age'"):
        screening.score_frame(["phq9", "audit_c"], df, prefix={"phq9": "PHQ_"}, context={"age": 3})


def test_the_column_rules_without_a_dataframe() -> None:
    """The rules work on names alone (the file reader has only a header)."""
    ids = [f"phq9_{n}" for n in range(1, 10)]
    found = item_columns(
        "phq9", ids, ["id", *[f"PHQ_{n:02d}" for n in range(1, 10)]], Spec(None, "PHQ_")
    )
    assert found["phq9_9"] == "PHQ_09"
    assert item_columns("phq9", ids, [1, "phq9_1"]) == {"phq9_1": "phq9_1"}
    per = specs({"phq9": ids, "gad7": ["gad7_1"]}, columns={"gad7": "G{n}"}, prefix={"phq9": "P"})
    assert per == {"phq9": Spec(None, "P"), "gad7": Spec("G{n}", None)}


def test_issues_of_several_instruments_in_one_table() -> None:
    df = two_instruments()
    df.loc[0, "GAD_3"] = 9
    issues = screening.issues_frame(["phq9", "gad7"], df, prefix={"phq9": "PHQ_", "gad7": "GAD_"})
    assert issues["instrument"].tolist() == ["gad7"]
    assert issues["item"].tolist() == ["gad7_3"]
    assert issues["column"].tolist() == ["GAD_3"]
    assert issues["code"].tolist() == ["invalid_value"]
