"""The trajectory plot: renders to PNG under the Agg backend, with bands, the reliable-change band
around baseline, caseness and flags."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

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


# --- what a new user found: legend over data, overlapping labels, a re-tinting hatch, Jupyter ----


def rendered(ax: Axes) -> tuple[Figure, np.ndarray]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure = ax.get_figure()
    assert isinstance(figure, Figure)
    canvas: Any = FigureCanvasAgg(figure)  # the Agg canvas carries no type hints
    canvas.draw()
    return figure, np.asarray(canvas.buffer_rgba())


def test_the_legend_sits_beside_the_axes_not_over_the_data() -> None:
    ax = plot_trajectory("phq9", ["2024-01-01", "2024-02-01", "2024-03-01"], [25, 26, 27])
    rendered(ax)
    legend = ax.get_legend()
    assert legend is not None
    assert not legend.get_window_extent().overlaps(ax.get_window_extent())
    figure = ax.get_figure()
    assert isinstance(figure, Figure)
    # and inside the figure (constrained layout made room for it)
    assert figure.bbox.contains(*legend.get_window_extent().p1)


def test_flag_labels_never_overlap() -> None:
    days = [f"2024-01-{d:02d}" for d in range(1, 11)]
    flags = [(day, "suicidal ideation") for day in days[1:6]]
    ax = plot_trajectory(
        "phq9",
        days,
        [20, 19, 18, 17, 16, 15, 14, 13, 12, 11],
        flags=flags,
        undetermined=[(days[3], "suicidal ideation"), days[7]],
    )
    rendered(ax)
    labels = [t for t in ax.texts if t.get_text()[:1] in "▼?"]
    assert len(labels) == 7  # five raised, two undetermined (one on a day also raised)
    boxes = [t.get_window_extent() for t in labels]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not a.overlaps(b)
    # stacked labels stay above the axes and below the title
    top = ax.get_window_extent().y1
    assert all(box.y0 >= top for box in boxes)
    assert ax.title.get_window_extent().y0 >= max(box.y1 for box in boxes) - 1


def test_flags_of_one_date_share_a_label() -> None:
    ax = plot_trajectory(
        "phq9",
        ["2024-01-01", "2024-02-01"],
        [15, 9],
        flags=[("2024-02-01", "item 9"), ("2024-02-01", "other"), ("2024-02-01", "item 9")],
        undetermined=["2024-01-01"],
    )
    texts = sorted(t.get_text() for t in ax.texts if t.get_text()[:1] in "▼?")
    assert texts == ["? undetermined", "▼ item 9, other"]
    labels = legend_labels(ax)
    assert "▼ risk flag raised" in labels
    assert "? flag undetermined" in labels


def test_the_reliable_change_band_leaves_the_band_colours_alone() -> None:
    # baseline 18 +/- 6: the outline spans 12-24; the moderate band (10-14) lies partly inside
    ax = plot_trajectory("phq9", ["2024-01-01", "2024-03-01"], [18, 18])
    reliable = ax.patches[-1]
    assert reliable.get_hatch() is None
    face: Any = reliable.get_facecolor()
    assert face[3] == 0  # no fill
    _, pixels = rendered(ax)
    height = pixels.shape[0]
    x_mid = (ax.get_xlim()[0] + ax.get_xlim()[1]) / 2

    def colour(y: float) -> tuple[int, ...]:
        px, py = ax.transData.transform((x_mid, y))
        return tuple(int(c) for c in pixels[height - round(py), round(px)][:3])

    assert colour(13) == colour(11)  # moderate: inside and outside the band of no change
    assert colour(16) == colour(19)  # moderately severe
    assert colour(11) != colour(16)  # and the bands still differ


def test_in_a_jupyter_kernel_the_plot_is_made_through_pyplot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from matplotlib import pyplot

    import screening.plot

    assert screening.plot._in_kernel() is False  # pytest is no kernel
    before = set(pyplot.get_fignums())
    plot_trajectory("phq9", ["2024-01-01", "2024-02-01"], [15, 9])
    assert set(pyplot.get_fignums()) == before  # a script's figure stays out of pyplot
    monkeypatch.setattr(screening.plot, "_in_kernel", lambda: True)
    ax = plot_trajectory("phq9", ["2024-01-01", "2024-02-01"], [15, 9])
    try:
        assert set(pyplot.get_fignums()) - before  # the notebook's backend shows it
    finally:
        figure = ax.get_figure()
        assert isinstance(figure, Figure)
        pyplot.close(figure)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_real_notebook_kernel_displays_the_plot_without_ax() -> None:
    manager = pytest.importorskip("jupyter_client.manager", reason="jupyter_client absent")
    pytest.importorskip("ipykernel", reason="ipykernel absent")
    km, kc = manager.start_new_kernel(kernel_name="python3")
    try:
        code = (
            "import screening\n"
            "ax = screening.plot_trajectory('phq9', ['2024-01-01', '2024-02-01'], [15, 9])"
        )
        msg_id = kc.execute(code)
        shown: list[str] = []
        while True:
            msg = kc.get_iopub_msg(timeout=60)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] in ("display_data", "execute_result"):
                shown += list(msg["content"]["data"])
            if msg["msg_type"] == "error":
                pytest.fail("\n".join(msg["content"]["traceback"]))
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        assert "image/png" in shown
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
