"""The client report: one self-contained HTML page per client (`screening report`).

For each instrument: the trajectory (bands, the caseness line, the band of no reliable change
around baseline, raised and undetermined risk flags marked at their administration), the
outcomes from baseline to the latest administration, and a table of every administration with
its score, band, change, flags and, for an administration not counted, the reason. Then the
provenance (each definition's version and content hash, the library's version) and the notice
that a screening score is not a diagnosis.

The page needs nothing from a network: the plot is inline SVG drawn by matplotlib (text as
paths, so no font is fetched), the style is inline, and there is no script; a
Content-Security-Policy forbids loading anything. Needs the `frames` and `plot` extras.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import html
import io
import math
import re
from collections.abc import Hashable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TextIO

from ._extras import missing_extra
from ._version import __version__
from .change import Rules, change_frame, client_summary, datetimes, scale_rules
from .definition import Instrument
from .loading import load_instrument
from .scoring import plan_for
from .text import number

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "NOTICE",
    "add_arguments",
    "client_report",
    "client_reports",
    "run",
]

NOTICE = (
    "A screening score is not a diagnosis. Bands and flag messages follow the wording of each "
    "instrument's cited source; they support, and never replace, clinical judgement. A raised "
    "risk flag needs a clinician's assessment, and an undetermined flag (a risk question left "
    "unanswered or unreadable) is not a negative screen: it needs asking."
)

_CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d1d1f;
       max-width: 1080px; margin: 1.5rem auto; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; } h2 { font-size: 1.2rem; margin-top: 2rem;
  border-bottom: 1px solid #ccc; padding-bottom: .2rem; }
.notice { border-left: 4px solid #b00020; background: #fff4f4; padding: .6rem .9rem; }
.meta { color: #555; margin-top: 0; }
figure { margin: 1rem 0; } figure svg { max-width: 100%; height: auto; display: block; }
figcaption { color: #555; font-size: .85rem; }
table { border-collapse: collapse; margin: .6rem 0; font-size: .9rem; }
th, td { border-bottom: 1px solid #ddd; padding: .25rem .6rem; text-align: left;
         vertical-align: top; }
th { background: #f4f4f6; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
td:first-child { white-space: nowrap; }
.flag { color: #b00020; font-weight: 600; } .undetermined { color: #555; font-style: italic; }
.excluded { color: #777; } .why { color: #555; font-size: .85rem; }
@media print { body { margin: 0; max-width: none; } h2 { break-after: avoid; }
  figure, table { break-inside: avoid; } }
"""

_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def client_reports(
    df: pd.DataFrame,
    instrument: Instrument | str | Sequence[Instrument | str],
    *,
    client: str = "client",
    date: str = "date",
    columns: Any = None,
    prefix: Any = None,
    context: Mapping[str, Any] | None = None,
    clients: Sequence[Hashable] | None = None,
    override: Mapping[str, Mapping[str, Any]] | None = None,
    allow_missing_columns: bool = False,
) -> dict[Hashable, str]:
    """One HTML page per client, by client: every client of `df`, or those in `clients`.

    `df` holds one administration per row (a client column, a date column and the item
    columns of each instrument); items are found as `score_frame` finds them (`columns=`,
    `prefix=`, one spec per instrument for several). Each instrument is scored, then its scales
    with change parameters (else its first scale) are reported as `change_frame` reads them.
    `override` maps an instrument id to the caller's change parameters for it (see
    `scale_rules`). A client in `clients` with no row is a `KeyError`.
    """
    try:
        import numpy as np
        import pandas as pd

        from .frames import score_frame
    except ModuleNotFoundError as exc:
        raise missing_extra(exc, "frames", "A client report") from exc
    refs = [instrument] if isinstance(instrument, str | Instrument) else list(instrument)
    insts = [load_instrument(ref) for ref in refs]
    for name in (client, date):
        if name not in df.columns:
            raise KeyError(f"no column '{name}' (columns: {', '.join(map(str, df.columns))})")
    unlabelled = df.index[df[client].isna().to_numpy()]
    if len(unlabelled):  # a row of no client would be in no page, without a word
        raise ValueError(
            f"{len(unlabelled)} row(s) have no {client} (the first: index {unlabelled[0]!r}); "
            "each page is a client's: label or drop them"
        )
    override = dict(override or {})
    unknown = set(override) - {inst.id for inst in insts}
    if unknown:
        raise ValueError(f"override names an instrument not reported: {', '.join(unknown)}")
    scored = score_frame(
        insts,
        df,
        columns=columns,
        prefix=prefix,
        context=context,
        add_prefix=True,
        allow_missing_columns=allow_missing_columns,
    )
    data = scored.assign(
        __client=df[client].to_numpy(),
        __date=df[date].to_numpy(),
        __when=datetimes(df[date]).to_numpy(),
    )
    sections = [
        _Section.build(inst, scale, data, override.get(inst.id))
        for inst in insts
        for scale in _scales(inst)
    ]
    labels = data["__client"]
    rows = pd.Series(np.arange(len(data))).groupby(labels.to_numpy(), sort=False).indices
    wanted: list[Any] = list(rows) if clients is None else list(clients)
    missing = [c for c in wanted if c not in rows]
    if missing:
        raise KeyError(f"no rows for client {', '.join(map(repr, missing))}")
    with contextlib.suppress(TypeError):  # labels of mixed types: as given
        wanted = sorted(wanted)
    pages: dict[Hashable, str] = {}
    for label in wanted:
        pages[label] = _page(label, [s.part(label, rows[label]) for s in sections], insts, override)
    return pages


def client_report(
    df: pd.DataFrame,
    instrument: Instrument | str | Sequence[Instrument | str],
    client_id: Hashable,
    **options: Any,
) -> str:
    """The HTML page of one client (`client_reports` for the options)."""
    return client_reports(df, instrument, clients=[client_id], **options)[client_id]


def _scales(inst: Instrument) -> list[str]:
    """The scales a report follows: those with change parameters, else the first."""
    return [s for s in inst.scales if s in inst.change] or list(inst.scales)[:1]


class _Section(NamedTuple):
    """One instrument scale over every client: scores, change and outcomes, computed once."""

    inst: Instrument
    scale: str
    data: pd.DataFrame
    rules: Rules
    frame: pd.DataFrame
    summary: pd.DataFrame
    override: Mapping[str, Any] | None

    @classmethod
    def build(
        cls,
        inst: Instrument,
        scale: str,
        data: pd.DataFrame,
        override: Mapping[str, Any] | None,
    ) -> _Section:
        keys: dict[str, Any] = {
            "client": "__client",
            "date": "__when",
            "score": f"{inst.id}_{scale}",
            "valid": f"{inst.id}_valid",
            "scale": scale,
            "override": override,
        }
        frame = change_frame(data, inst, **keys)
        summary = client_summary(data, inst, **keys)
        rules = scale_rules(inst, scale, override=override)
        return cls(inst, scale, data, rules, frame, summary, override)

    def part(self, label: Hashable, rows: Any) -> str:
        """This scale's section of one client's page."""
        data, frame = self.data.iloc[rows], self.frame.iloc[rows]
        order = sorted(range(len(rows)), key=lambda i: (_sort_key(data["__when"].iloc[i]), i))
        data, frame = data.iloc[order], frame.iloc[order]
        name = self.inst.abbreviation or self.inst.id
        heading = name if len(_scales(self.inst)) == 1 else f"{name} {self.scale}"
        where: Any = label
        summary = self.summary.loc[where] if label in self.summary.index else None
        raised, undecided = self._flags(data)
        return "\n".join(
            [
                f"<section><h2>{_e(heading)}: {_e(self.inst.name)}</h2>",
                self._figure(label, data, frame, raised, undecided),
                self._outcomes(summary),
                self._table(data, frame, raised, undecided),
                "</section>",
            ]
        )

    def _flags(self, data: pd.DataFrame) -> tuple[list[list[str]], list[list[str]]]:
        """Per row, the flags raised and the flags undetermined (by id, in words)."""
        raised: list[list[str]] = [[] for _ in range(len(data))]
        undecided: list[list[str]] = [[] for _ in range(len(data))]
        for flag in self.inst.flags:
            column = data[f"{self.inst.id}_flag_{flag.id}"]
            for i, value in enumerate(column.tolist()):
                if value is True:
                    raised[i].append(_words(flag.id))
                elif value is not False:  # <NA>: undetermined
                    undecided[i].append(_words(flag.id))
        return raised, undecided

    def _figure(
        self,
        label: Hashable,
        data: pd.DataFrame,
        frame: pd.DataFrame,
        raised: list[list[str]],
        undecided: list[list[str]],
    ) -> str:
        try:
            import matplotlib
            from matplotlib.figure import Figure
        except ModuleNotFoundError as exc:
            raise missing_extra(exc, "plot", "A client report") from exc
        from .plot import plot_trajectory

        used = frame["administration"].notna().to_numpy()
        whens = data["__when"].tolist()
        dates = [w for w, u in zip(whens, used, strict=True) if u]
        scores = [
            float(v)
            for v, u in zip(data[f"{self.inst.id}_{self.scale}"].tolist(), used, strict=True)
            if u
        ]
        dated = [not _missing(w) for w in whens]
        flags = [(w, f) for w, fs, ok in zip(whens, raised, dated, strict=True) if ok for f in fs]
        unknown = [
            (w, f) for w, fs, ok in zip(whens, undecided, dated, strict=True) if ok for f in fs
        ]
        figure = Figure(figsize=(9, 4.2), layout="constrained")
        ax = figure.add_subplot()
        plot_trajectory(
            self.inst,
            dates,
            scores,
            scale=self.scale,
            flags=flags,
            undetermined=unknown,
            ax=ax,
            override=self.override,
        )
        if not dates:
            ax.text(
                0.5,
                0.5,
                "no administration counted",
                transform=ax.transAxes,
                ha="center",
                color="0.3",
            )
        buffer = io.StringIO()
        salt = hashlib.sha256(f"{label!r}/{self.inst.id}/{self.scale}".encode()).hexdigest()[:12]
        with matplotlib.rc_context({"svg.hashsalt": salt, "svg.fonttype": "path"}):
            figure.savefig(buffer, format="svg", metadata={"Date": None})
        svg = buffer.getvalue()
        svg = svg[svg.index("<svg") :]
        text = (
            f"{self.inst.abbreviation or self.inst.id} {self.scale} over time, "
            f"{len(dates)} administrations counted"
        )
        svg = svg.replace("<svg ", f'<svg role="img" aria-label="{_e(text)}" ', 1)
        caption = self._caption()
        return f"<figure>{svg}<figcaption>{_e(caption)}</figcaption></figure>"

    def _caption(self) -> str:
        rules = self.rules
        parts = ["Shaded: the instrument's bands."]
        if rules.caseness is not None:
            lo, hi = rules.caseness
            parts.append(
                f"Dashed line: caseness ({'≥ ' + number(lo) if lo is not None else '≤ '}"
                f"{number(hi) if lo is None and hi is not None else ''})."
            )
        points = rules.reliable_points
        if points is not None:
            how = (
                f"a change of at least {number(points)} points"
                if rules.s_diff is None
                else f"|RCI| above {rules.criterion:g} (± {points:.3g} points)"
            )
            parts.append(f"Blue outline: no reliable change from baseline ({how}).")
        parts.append("▼ a risk flag raised; ? a flag undetermined (a risk question unanswered).")
        return " ".join(parts)

    def _outcomes(self, summary: pd.Series | None) -> str:
        if summary is None:
            return "<p>No administration of this instrument.</p>"
        if int(summary["n_administrations"]) == 0:
            return (
                f"<p>No administration counted ({int(summary['n_excluded'])} not counted: "
                "see the table).</p>"
            )
        reasons = {u["outcome"]: u["reason"] for u in self.summary.attrs["unavailable"]}
        rows: list[tuple[str, str, str]] = []

        def add(label: str, value: Any, outcome: str = "") -> None:
            if not _missing(value):
                rows.append((label, _show(value), ""))
            elif outcome and outcome in reasons:
                rows.append((label, "not judged", reasons[outcome]))

        when = summary["baseline_date"]
        add("baseline", _dated(summary["baseline"], when))
        add("latest", _dated(summary["latest"], summary["latest_date"]))
        add("change from baseline", _signed(summary["change"]))
        add("reliable change index", _fixed(summary["rci"]))
        add("reliable change", summary["reliable"], "reliable_change")
        add(
            "clinically significant change",
            summary["clinical_significance"],
            "clinical_significance",
        )
        add("case at baseline", summary["case_baseline"], "caseness")
        add("case at latest", summary["case_latest"], "caseness")
        for outcome in ("recovery", "reliable_recovery", "response", "remission"):
            value = summary[outcome]
            if _missing(value) and not _missing(summary["change"]) and outcome not in reasons:
                rows.append((_words(outcome), "not judged", "not a case at baseline"))
            else:
                add(_words(outcome), value, outcome)
        first = summary["first_reliable_improvement"]
        if not _missing(first):
            days = summary["days_to_reliable_improvement"]
            rows.append(
                ("first reliable improvement", f"administration {first}, day {number(days)}", "")
            )
        add("sudden gains", summary["sudden_gains"])
        add("sudden losses", summary["sudden_losses"])
        if int(summary["n_administrations"]) < 2:
            rows.append(("change", "not judged", "one administration counted"))
        body = "".join(
            f"<tr><th>{_e(a)}</th><td>{_e(b)}</td><td class='why'>{_e(c)}</td></tr>"
            for a, b, c in rows
        )
        counted = int(summary["n_administrations"])
        excluded = int(summary["n_excluded"])
        head = f"<p class='meta'>{counted} administrations counted"
        head += f", {excluded} not counted (see the table)" if excluded else ""
        return f"{head}.</p><table><caption>Outcomes, baseline to latest</caption>{body}</table>"

    def _table(
        self,
        data: pd.DataFrame,
        frame: pd.DataFrame,
        raised: list[list[str]],
        undecided: list[list[str]],
    ) -> str:
        score = f"{self.inst.id}_{self.scale}"
        band = f"{score}_band"
        head = (
            "<tr><th>date</th><th>#</th><th>score</th><th>band</th><th>change from baseline</th>"
            "<th>reliable change</th><th>case</th><th>sudden gain</th><th>risk flags</th>"
            "<th>note</th></tr>"
        )
        rows = []
        for i in range(len(data)):
            row, change = data.iloc[i], frame.iloc[i]
            counted = not _missing(change["administration"])
            note = ""
            if not counted:
                why = change["excluded"]
                reason = row[f"{self.inst.id}_reason"]
                note = "not counted: " + (
                    str(reason) if isinstance(reason, str) and reason else str(why)
                )
            marks = [f"<span class='flag'>▼ {_e(f)}</span>" for f in raised[i]] + [
                f"<span class='undetermined'>? {_e(f)} (undetermined)</span>" for f in undecided[i]
            ]
            cells = [
                _e(_day(row["__when"], row["__date"])),
                _e(_show(change["administration"])),
                _e(_show(row[score])),
                _e(_show(row[band]) if band in data.columns else ""),
                _e(_signed(change["change_from_baseline"])),
                _e(_show(change["reliable_from_baseline"])),
                _e(_show(change["case"])),
                _e(_show(change["sudden_gain"])),
                "<br>".join(marks),
                _e(note),
            ]
            kind = "" if counted else " class='excluded'"
            numeric = {1, 2, 4}
            tds = "".join(
                f"<td class='num'>{c}</td>" if j in numeric else f"<td>{c}</td>"
                for j, c in enumerate(cells)
            )
            rows.append(f"<tr{kind}>{tds}</tr>")
        return "<table><caption>Administrations</caption>" + head + "".join(rows) + "</table>"


def _page(
    label: Hashable,
    parts: list[str],
    insts: list[Instrument],
    override: Mapping[str, Mapping[str, Any]],
) -> str:
    provenance = "".join(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>".format(
            _e(inst.id),
            _e(inst.name),
            _e(inst.definition_version),
            _e(plan_for(inst).provenance.definition_hash),
            _e(", ".join(sorted(override.get(inst.id, {}))) or "definition's"),
        )
        for inst in insts
    )
    title = f"Client {label}: screening report"
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<header>
<h1>{_e(title)}</h1>
<p class="meta">Generated {generated} by screening {_e(__version__)}.</p>
<p class="notice" role="note"><strong>{_e(NOTICE.split(". ", 1)[0])}.</strong>
{_e(NOTICE.split(". ", 1)[1])}</p>
</header>
<main>
{"".join(parts)}
</main>
<footer>
<h2>Provenance</h2>
<table><tr><th>instrument</th><th>name</th><th>definition version</th><th>content hash</th>
<th>change parameters</th></tr>{provenance}</table>
<p class="meta">Scored by screening {_e(__version__)}. Change is judged as docs/change.md
describes (Jacobson and Truax 1991; NHS Talking Therapies; Tang and DeRubeis 1999).</p>
</footer>
</body>
</html>
"""


# --- formatting ----------------------------------------------------------------------------------


def _e(value: Any) -> str:
    return "" if value is None else html.escape(str(value), quote=True)


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        import pandas as pd

        return bool(pd.isna(value))
    except (TypeError, ValueError):  # a list or other non-scalar
        return False


def _show(value: Any) -> str:
    if _missing(value):
        return ""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return "yes" if value else "no"
    if isinstance(value, float | int) and not isinstance(value, bool):
        return number(value)
    if hasattr(value, "item"):  # numpy scalars
        return _show(value.item())
    return str(value)


def _signed(value: Any) -> str | None:
    if _missing(value):
        return None
    x = float(value)
    return ("+" if x > 0 else "") + number(x)


def _fixed(value: Any) -> str | None:
    return None if _missing(value) else f"{float(value):+.2f}"


def _dated(score: Any, when: Any) -> str | None:
    if _missing(score):
        return None
    return f"{_show(score)} on {_day(when, None)}"


def _day(when: Any, given: Any) -> str:
    if _missing(when):
        return f"{given} (not an ISO 8601 date)" if not _missing(given) else "no date"
    moment = when.to_pydatetime() if hasattr(when, "to_pydatetime") else when
    if moment.hour or moment.minute or moment.second:
        return str(moment.strftime("%Y-%m-%d %H:%M"))
    return str(moment.strftime("%Y-%m-%d"))


def _sort_key(when: Any) -> float:
    return math.inf if _missing(when) else float(when.value)


def _words(name: str) -> str:
    return name.replace("_", " ")


# --- `screening report` --------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `screening report`."""
    parser.add_argument(
        "instrument",
        help="a built-in id or a definition file; several separated by commas (phq9,gad7)",
    )
    parser.add_argument(
        "input", help="a table of administrations: .csv, .parquet or .jsonl, one row each"
    )
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="DIR",
        help="the folder to write one HTML page per client into (made if absent)",
    )
    parser.add_argument("--client", default="client", help="the client column (default client)")
    parser.add_argument("--date", default="date", help="the date column, ISO 8601 (default date)")
    parser.add_argument(
        "--client-id",
        action="append",
        default=[],
        metavar="ID",
        help="report only this client (repeatable); as the column holds it, as text",
    )
    parser.add_argument(
        "--input-format",
        choices=["csv", "parquet", "jsonl"],
        help="the input's format when its suffix does not say",
    )
    for option, metavar, what in (
        ("--prefix", "[INSTRUMENT=]PREFIX", "item columns are PREFIX<n>"),
        ("--pattern", "[INSTRUMENT=]FORMAT", "item columns by a format string, 'PHQ_{n:0>2}'"),
    ):
        parser.add_argument(
            option,
            action="append",
            default=[],
            metavar=metavar,
            help=f"{what}; with several instruments, one each: {option} phq9=...",
        )
    parser.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="INSTRUMENT:ITEM=COLUMN",
        help="the column of one item (repeatable)",
    )
    parser.add_argument(
        "--context",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a context variable (repeatable); VALUE may name a column",
    )
    parser.add_argument(
        "--allow-missing-columns",
        action="store_true",
        help="score an item without a column as missing (its flags undetermined)",
    )


def run(
    args: argparse.Namespace,
    out: TextIO,
    *,
    instruments: Sequence[Instrument],
    columns: Mapping[str, Any],
    prefixes: Mapping[str, str],
    context: Mapping[str, str],
) -> int:
    """`screening report`: write one page per client into `args.output`; 0 on success. The
    command line reads the instruments, the column specs and the context as `screening score`
    does (a repeated `--map` or `--context` refused).

    Usage and input errors raise `ValueError` (a missing column or client included) or
    `OSError`, which the command line turns into exit code 2 with one line."""
    from .columns import CLI
    from .files import file_format, read_table
    from .frames import resolve_columns
    from .outputs import write_atomic

    insts = list(instruments)
    path = Path(args.input)
    found: dict[str, dict[str, Hashable]] = {}  # each instrument's item columns, by id

    def items_of(header: list[str]) -> set[Hashable]:
        resolved = resolve_columns(
            insts,
            header,
            columns=dict(columns) or None,  # one spec per instrument id, as `score` gives them
            prefix=dict(prefixes) or None,
            allow_missing_columns=args.allow_missing_columns,
            options=CLI,
            raw_header=file_format(path, args.input_format) == "csv",
        )
        found.update({f.plan.provenance.instrument: dict(cols) for f, cols in resolved})
        return {column for cols in found.values() for column in cols.values()}

    # read as `screening score` reads a file: each item cell on its own (one bad cell is its
    # row's problem, never its column's), a repeated header or JSON key refused
    df = read_table(path, args.input_format, items_of)
    given: dict[str, Any] = {
        name: df[value] if value in df.columns else value for name, value in context.items()
    }
    if args.client in df.columns:  # labels as text, as the column holds them; a blank one none
        labels = df[args.client].astype(str)
        df = df.assign(
            **{args.client: labels.where(df[args.client].notna() & labels.str.strip().ne(""))}
        )
    try:
        pages = client_reports(
            df,
            insts,
            client=args.client,
            date=args.date,
            columns=found,  # as resolved from the file's header
            context=given or None,
            clients=args.client_id or None,
            allow_missing_columns=args.allow_missing_columns,
        )
    except KeyError as exc:  # a missing column or client: a usage error, one line
        raise ValueError(str(exc.args[0])) from None
    folder = Path(args.output)
    folder.mkdir(parents=True, exist_ok=True)
    names: set[str] = set()
    for label, page in pages.items():
        write_atomic(folder / _file_name(label, names), page)
    out.write(f"wrote {len(pages)} client reports to {folder}\n")
    return 0


def _file_name(label: Hashable, taken: set[str]) -> str:
    """A safe file name for a client's page: the label's letters, digits, '.', '-' and '_',
    with a short hash when anything else was dropped or the name is taken."""
    text = str(label)
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", text).strip("._") or "client"
    if safe != text or safe.lower() in taken:
        safe = f"{safe[:60]}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"
    taken.add(safe.lower())
    return f"{safe}.html"
