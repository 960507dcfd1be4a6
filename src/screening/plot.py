"""One client's scores over time, drawn for a clinician's eye (optional extra: `screening[plot]`).

Matplotlib is imported only when a plot is drawn, and no pyplot state is touched: the figure is
built directly, so it renders under any backend (Agg included) and never opens a window.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from ._extras import missing_extra
from .change import _read, scale_rules
from .definition import Instrument
from .loading import load_instrument
from .scoring import _is_missing

if TYPE_CHECKING:
    from matplotlib.axes import Axes

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
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Plot one client's scores on `scale` over time and return the Axes.

    Shaded: the scale's bands, and the band of no reliable change around the first score
    (baseline +/- the reliable-change points of the definition, where it gives them); a dashed
    line marks caseness. `dates` are dates, datetimes or ISO strings; a missing score (None or
    NaN) is skipped. `flags` marks dates with a flag: a date, or a (date, label) pair. Without
    `ax`, a new figure is made: save it with `ax.figure.savefig("client.png")`.
    """
    try:
        from matplotlib import colormaps
        from matplotlib import dates as _mdates
        from matplotlib.figure import Figure
    except ModuleNotFoundError as exc:
        raise missing_extra(exc, "plot", "plot_trajectory") from exc

    mdates: Any = _mdates  # matplotlib.dates carries no type hints

    inst = load_instrument(instrument)
    rules = scale_rules(inst, scale)
    if len(dates) != len(scores):
        raise ValueError(f"{len(dates)} dates but {len(scores)} scores; give one date per score")
    points = _points(dates, scores, rules)
    if ax is None:
        ax = Figure(figsize=(8, 4.5), layout="constrained").add_subplot()
    definition = inst.scales[scale]
    name = inst.abbreviation or inst.id

    bands = definition.bands
    palette = colormaps["YlOrRd"]
    for index, band in enumerate(bands):
        # shade from light (healthy) to dark; whole-number scores sit mid-band
        severity = index if rules.worse >= 0 else len(bands) - 1 - index
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
        ax.axhspan(
            base - points_needed,
            base + points_needed,
            facecolor="0.5",
            alpha=0.18,
            hatch="//",
            edgecolor="0.4",
            linewidth=0,
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
    for flag in flags:
        when, label = (flag[0], flag[1]) if isinstance(flag, tuple) else (flag, "flag")
        moment = mdates.date2num(_as_datetime(when))
        ax.axvline(moment, color="crimson", linestyle=":", linewidth=1.2)
        ax.annotate(
            f"▼ {label}",
            xy=(moment, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(0, 2),
            textcoords="offset points",
            color="crimson",
            fontsize=8,
            ha="center",
            va="bottom",
        )

    if math.isfinite(rules.low) and math.isfinite(rules.high):
        ax.set_ylim(rules.low - 0.5, rules.high + 0.5)
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_ylabel(definition.label or f"{name} {scale}")
    direction = {1: "higher is worse", -1: "higher is better"}.get(rules.worse)
    heading = title or f"{name} over time" + (f" ({direction})" if direction else "")
    ax.set_title(heading, pad=16)  # room above the axes for the flag labels
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper right", fontsize=8, framealpha=0.9)
    return ax


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
