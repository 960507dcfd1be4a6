"""The trajectory plot: renders to PNG under the Agg backend, with bands, the reliable-change band
around baseline, caseness and flags."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from screening.plot import plot_trajectory

# the plot builds its Figure without pyplot, so any backend renders it; Agg, as in CI
matplotlib.use("Agg")

PNG = b"\x89PNG\r\n\x1a\n"


def save(ax: Axes, path: Path) -> bytes:
    figure = ax.get_figure()
    assert isinstance(figure, Figure)
    figure.savefig(path, dpi=100)
    return path.read_bytes()


def legend_labels(ax: Axes) -> list[str]:
    return ax.get_legend_handles_labels()[1]


def test_phq9_trajectory_renders_to_png(tmp_path: Path) -> None:
    ax = plot_trajectory(
        "phq9",
        ["2024-01-01", "2024-01-15", "2024-02-01", "2024-02-20", "2024-03-10"],
        [18, 15, None, 11, 8],
        flags=["2024-01-15", ("2024-02-20", "item 9")],
    )
    data = save(ax, tmp_path / "client.png")
    assert data.startswith(PNG)
    assert len(data) > 20_000  # a drawn chart, not an empty canvas
    # five PHQ-9 bands and the band of no reliable change (baseline 18 +/- 6)
    assert len(ax.patches) == 6
    reliable = ax.patches[-1].get_path().get_extents(ax.patches[-1].get_patch_transform())
    assert (reliable.y0, reliable.y1) == pytest.approx((12, 24))
    labels = legend_labels(ax)
    assert "no reliable change from baseline (± 6)" in labels
    assert "caseness (≥ 10)" in labels
    flag_texts = [t.get_text() for t in ax.texts if t.get_text().startswith("▼")]
    assert flag_texts == ["▼ flag", "▼ item 9"]
    score_line = next(line for line in ax.get_lines() if line.get_label() == "PHQ-9 total")
    assert np.asarray(score_line.get_ydata()).tolist() == [
        18,
        15,
        11,
        8,
    ]  # the missing score is skipped


def test_higher_is_better_without_bands(tmp_path: Path) -> None:
    ax = plot_trajectory(
        "who5",
        [dt.date(2024, 1, 1), np.datetime64("2024-02-01"), dt.datetime(2024, 3, 1, 9, 30)],
        [32, 44, 60],
        scale="percentage",
    )
    assert save(ax, tmp_path / "who5.png").startswith(PNG)
    assert "higher is better" in ax.get_title()
    assert "no reliable change from baseline (± 10)" in legend_labels(ax)


def test_draws_on_a_given_axes_and_without_change_parameters(tmp_path: Path) -> None:
    figure = Figure()
    given = figure.add_subplot()
    ax = plot_trajectory("k10", ["2024-01-01", "2024-02-01"], [30, 22], ax=given, title="K10")
    assert ax is given
    assert ax.get_title() == "K10"
    assert not any("reliable" in label for label in legend_labels(ax))
    assert save(ax, tmp_path / "k10.png").startswith(PNG)


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="2 dates but 1 scores"):
        plot_trajectory("phq9", ["2024-01-01", "2024-02-01"], [10])
    with pytest.raises(TypeError, match="a date must be"):
        plot_trajectory("phq9", [20240101], [10])
    with pytest.raises(ValueError, match="has no scale 'total'"):
        plot_trajectory("who5", ["2024-01-01"], [40])


def test_missing_scores_from_score_frame_are_skipped_and_bad_ones_refused() -> None:
    import pandas as pd

    ax = plot_trajectory(
        "phq9",
        ["2024-01-01", "2024-02-01", "2024-03-01"],
        list(pd.array([15, None, 9], dtype="Int16")),  # <NA> as score_frame gives it
    )
    assert len(np.asarray(ax.lines[-1].get_xdata())) == 2
    with pytest.raises(ValueError, match="has no date"):
        plot_trajectory("phq9", [pd.NaT, "2024-02-01"], [15, 9])
    with pytest.raises(ValueError, match="score 1"):
        plot_trajectory("phq9", ["2024-01-01", "2024-02-01"], [15, 90])


def test_of_two_scores_on_one_date_the_later_row_is_the_baseline() -> None:
    ax = plot_trajectory("phq9", ["2024-01-01", "2024-01-01", "2024-02-01"], [12, 20, 14])
    assert np.asarray(ax.lines[-1].get_ydata()).tolist() == [20, 14]
