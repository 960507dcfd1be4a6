"""One client's scores over time, drawn for a clinician's eye (optional extra: `screening[plot]`).

Matplotlib is imported only when a plot is drawn. Outside a notebook no pyplot state is touched:
the figure is built directly, so it renders under any backend (Agg included) and never opens a
window. In a Jupyter kernel, a plot drawn without `ax=` is made through pyplot, so the
notebook's backend shows it as it shows any other plot.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from ._extras import missing_extra
from .change import _read, scale_rules
from .definition import Instrument
from .loading import load_instrument
from .scoring import _is_missing

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.text import Annotation

__all__ = [
    "DateLike",
    "Flag",
    "plot_trajectory",
]

DateLike = date | datetime | str
Flag = DateLike | tuple[DateLike, str]


def plot_trajectory(
    instrument: Instrument | str,
    dates: Sequence[Any],
    scores: Sequence[float | None],
    *,
    scale: str = "total",
    flags: Iterable[Flag] = (),
    undetermined: Iterable[Flag] = (),
    ax: Axes | None = None,
    title: str | None = None,
    override: Mapping[str, Any] | None = None,
) -> Axes:
    """Plot one client's scores on `scale` over time and return the Axes.

    Shaded: the scale's bands. Outlined (never filled, so the bands keep their colours): the
    band of no reliable change around the first score (baseline +/- the reliable-change points
    of the definition, or of `override`); a dashed line marks caseness. `dates` are dates,
    datetimes or ISO strings; a missing score (None or NaN) is skipped. `flags` marks dates with
    a raised risk flag and `undetermined` dates where a flag could not be decided (an unanswered
    risk item): a date, or a (date, label) pair; flags of one date share a label, and labels of
    dates close together are stacked so none covers another. The legend sits beside the axes,
    off the data. Without `ax`, a new figure is made (shown by a notebook as any plot is): save
    it with `ax.figure.savefig("client.png")`.
    """
    try:
        from matplotlib import dates as _mdates
        from matplotlib.figure import Figure
    except ModuleNotFoundError as exc:
        raise missing_extra(exc, "plot", "plot_trajectory") from exc

    mdates: Any = _mdates  # matplotlib.dates carries no type hints

    inst = load_instrument(instrument)
    rules = scale_rules(inst, scale, override=override)
    if len(dates) != len(scores):
        raise ValueError(f"{len(dates)} dates but {len(scores)} scores; give one date per score")
    points = _points(dates, scores, rules)
    if ax is None:
        ax = _new_figure(Figure).add_subplot()
    definition = inst.scales[scale]
    name = inst.abbreviation or inst.id

    _bands(ax, definition.bands, rules.worse)
    if rules.caseness is not None:
        lo, hi = rules.caseness
        bound = lo if lo is not None else hi
        assert bound is not None
        ax.axhline(
            bound,
            color="0.2",
            linestyle="--",
            linewidth=1,
            label=f"caseness ({'≥' if lo is not None else '≤'} {bound:g})",
        )
    points_needed = rules.reliable_points
    if points and points_needed is not None:
        base = points[0][1]
        # an outline, not a fill or a hatch: a tint over the bands would read as another band
        ax.axhspan(
            base - points_needed,
            base + points_needed,
            facecolor="none",
            edgecolor="tab:blue",
            linestyle=(0, (5, 3)),
            linewidth=1.2,
            label=f"no reliable change from baseline (± {points_needed:.3g})",
        )
    if points:
        when_points: Any = [p[0] for p in points]  # matplotlib converts datetimes itself
        ax.plot(
            when_points,
            [p[1] for p in points],
            marker="o",
            color="black",
            linewidth=1.5,
            label=f"{name} {scale}",
        )
    labels = _flags(ax, flags, undetermined)

    if math.isfinite(rules.low) and math.isfinite(rules.high):
        ax.set_ylim(rules.low - 0.5, rules.high + 0.5)
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_ylabel(definition.label or f"{name} {scale}")
    direction = {1: "higher is worse", -1: "higher is better"}.get(rules.worse)
    heading = title or f"{name} over time" + (f" ({direction})" if direction else "")
    if ax.get_legend_handles_labels()[0]:
        # beside the axes, never over the data
        ax.legend(
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            borderaxespad=0.0,
            fontsize=8,
            framealpha=0.9,
        )
    levels = _stack(ax, labels)
    ax.set_title(heading, pad=16 + 11 * levels)  # room above the axes for the flag labels
    return ax


def _flags(ax: Axes, flags: Iterable[Flag], undetermined: Iterable[Flag]) -> list[Annotation]:
    """A vertical line and a label above the axes per date with a raised or undetermined flag."""
    from matplotlib import dates as _mdates

    mdates: Any = _mdates  # matplotlib.dates carries no type hints
    marks = sorted(_marks(flags, "flag") + _marks(undetermined, "undetermined", undecided=True))
    labels: list[Annotation] = []
    for moment, undecided, label in marks:
        x = mdates.date2num(moment)
        color = "0.35" if undecided else "crimson"
        ax.axvline(x, color=color, linestyle=(0, (1, 2)) if undecided else ":", linewidth=1.2)
        labels.append(
            ax.annotate(
                f"{'?' if undecided else '▼'} {label}",
                xy=(x, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(0, 2),
                textcoords="offset points",
                color=color,
                fontsize=8,
                ha="center",
                va="bottom",
            )
        )
    if any(undecided for _, undecided, _ in marks):
        ax.plot([], [], color="0.35", linestyle=(0, (1, 2)), label="? flag undetermined")
    if any(not undecided for _, undecided, _ in marks):
        ax.plot([], [], color="crimson", linestyle=":", label="▼ risk flag raised")
    return labels


def _bands(ax: Axes, bands: Sequence[Any], worse: int) -> None:
    """The scale's bands, shaded from light (healthy) to dark, each labelled at the left."""
    from matplotlib import colormaps

    palette = colormaps["YlOrRd"]
    for index, band in enumerate(bands):
        # whole-number scores sit mid-band
        severity = index if worse >= 0 else len(bands) - 1 - index
        ax.axhspan(
            band.min - 0.5,
            band.max + 0.5,
            color=palette(0.1 + 0.6 * severity / max(len(bands) - 1, 1)),
            alpha=0.45,
            linewidth=0,
        )
        ax.text(
            0.005,
            (band.min + band.max) / 2,
            band.label,
            transform=ax.get_yaxis_transform(),
            fontsize=8,
            va="center",
            color="0.25",
        )


def _new_figure(figure: Any) -> Any:
    """A figure for a plot drawn without `ax`: through pyplot in a Jupyter kernel (so the
    notebook shows it), else detached from pyplot."""
    size: dict[str, Any] = {"figsize": (9, 4.5), "layout": "constrained"}
    if _in_kernel():
        from matplotlib import pyplot

        return pyplot.figure(**size)
    return figure(**size)


def _in_kernel() -> bool:
    """Whether this runs in a Jupyter kernel (IPython already imported, with a kernel)."""
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    return shell is not None and hasattr(shell, "kernel")


def _marks(
    flags: Iterable[Flag], default: str, *, undecided: bool = False
) -> list[tuple[datetime, bool, str]]:
    """(moment, undecided, label) per moment, the labels of one moment joined."""
    out: dict[datetime, list[str]] = {}
    for flag in flags:
        when, label = (flag[0], flag[1]) if isinstance(flag, tuple) else (flag, default)
        names = out.setdefault(_as_datetime(when), [])
        if label not in names:
            names.append(label)
    return [(moment, undecided, ", ".join(names)) for moment, names in out.items()]


def _stack(ax: Axes, labels: list[Annotation]) -> int:
    """Raise flag labels that would overlap a label to their left by a line each; the number
    of lines used beyond the first."""
    if len(labels) < 2:
        return 0
    figure: Any = ax.get_figure()
    figure.draw_without_rendering()  # lays the figure out, so label extents are final
    placed: list[list[Any]] = []  # per level, the extents placed on it
    for text in labels:  # in date order
        extent = text.get_window_extent()
        level = 0
        while level < len(placed) and any(
            extent.x0 < other.x1 + 2 and other.x0 < extent.x1 + 2 for other in placed[level]
        ):
            level += 1
        if level == len(placed):
            placed.append([])
        placed[level].append(extent)
        text.set_position((0, 2 + 11 * level))
    return len(placed) - 1


def _points(
    dates: Sequence[Any], scores: Sequence[Any], rules: Any
) -> list[tuple[datetime, float]]:
    """The plotted points, read as change_frame reads them: missing scores are skipped, every
    other score is checked against the scale, and of two scores on one date the later row is
    kept."""
    latest: dict[datetime, float] = {}
    for position, (when, value) in enumerate(zip(dates, scores, strict=True)):
        if _is_missing(value):
            continue
        moment = _as_datetime(when)
        if type(moment).__name__ == "NaTType":
            raise ValueError(f"score {position} ({value}) has no date")
        latest[moment] = _read(value, rules, f"score {position}")
    return sorted(latest.items())


def _as_datetime(value: Any) -> datetime:
    """A date, datetime (pandas Timestamps included), ISO string or numpy datetime64."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:  # one timeline: UTC, as change_frame reads dates
            return value.astimezone(UTC).replace(tzinfo=None)
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        return _as_datetime(datetime.fromisoformat(value))
    if type(value).__name__ == "datetime64":  # numpy, without importing it
        return _as_datetime(value.astype("datetime64[us]").item())
    raise TypeError(f"a date must be a date, datetime or ISO string (got {value!r})")
