"""Results and instruments as readable text and as HTML tables (for notebooks and the CLI).

`result_repr` / `instrument_repr` give one line (`repr`), `result_text` / `instrument_text`
several (`str`, `print`, `screening show`), `result_html` / `instrument_html` a table that a
notebook shows (`_repr_html_`). `describe_instrument` is the JSON-ready form behind
`screening show --format json`. Every rendering says what the result says and nothing more:
validity and the reasons, each scale's score and band and how it was reached, flags raised and
flags undetermined (each stated, "none" included, so an absent flag is never silent),
classifications (undetermined ones as such) and provenance.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import TYPE_CHECKING, Any

from .text import at_places

if TYPE_CHECKING:
    from .definition import Instrument, Scale
    from .results import FlagResult, ScaleResult, ScoreResult

__all__ = [
    "describe_instrument",
    "instrument_html",
    "instrument_repr",
    "instrument_text",
    "result_html",
    "result_repr",
    "result_text",
]

NOT_A_DIAGNOSIS = "A screening score is not a diagnosis."
UNDETERMINED = "undetermined"


# --- results --------------------------------------------------------------------------------


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _score(scale: ScaleResult) -> str:
    return _number(scale.score) if scale.score is not None else "unscored"


def _band(scale: ScaleResult) -> str:
    """The band, then any alternative band table's label (`table: label`)."""
    others: Mapping[str, str | None] = getattr(scale, "bands", None) or {}
    extra = [f"{name}: {label or '-'}" for name, label in others.items()]
    return "; ".join([scale.band or "-", *extra])


def _prorated(scale: ScaleResult) -> str:
    if not scale.prorated:
        return "no"
    return "yes" if scale.unrounded is None else f"yes (unrounded {_number(scale.unrounded)})"


def _classification(label: str | None) -> str:
    return UNDETERMINED if label is None else label


def _warnings(result: ScoreResult) -> list[str]:
    return [i.message for i in result.issues if i.severity == "warning"]


def _provenance(result: ScoreResult) -> str:
    p = result.provenance
    digest = p.definition_hash.removeprefix("sha256:")[:12]
    coding = "" if p.coding is None else f", read in the {p.coding} coding"
    return (
        f"{p.instrument} definition {p.definition_version} (sha256:{digest}){coding}, "
        f"screening {p.library_version}"
    )


def result_repr(result: ScoreResult) -> str:
    """One line: `<ScoreResult phq9 valid: total 15 (moderately severe), phq2 5 (positive);
    flags: suicidal_ideation; undetermined: none>`."""
    scales = ", ".join(
        f"{name} {_score(s)}" + (f" ({s.band})" if s.band is not None else "")
        for name, s in result.scales.items()
    )
    parts = [scales] if scales else []
    parts += [f"{name}: {_classification(v)}" for name, v in result.classifications.items()]
    parts.append(f"flags: {', '.join(f.id for f in result.flags) or 'none'}")
    parts.append(f"undetermined: {', '.join(f.id for f in result.undetermined_flags) or 'none'}")
    state = "valid" if result.valid else "INVALID"
    return f"<ScoreResult {result.instrument} {state}: {'; '.join(parts)}>"


def _table_text(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    return [
        "  "
        + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in (header, *rows)
    ]


SCALE_HEADER = ("scale", "score", "band", "answered", "missing", "skipped", "prorated", "reason")


def _scale_rows(result: ScoreResult) -> list[tuple[str, ...]]:
    return [
        (
            name,
            _score(s),
            _band(s),
            str(s.answered),
            str(s.missing),
            str(s.skipped),
            _prorated(s),
            s.reason,
        )
        for name, s in result.scales.items()
    ]


def _flag_line(flag: FlagResult) -> str:
    return f"{flag.id} ({flag.severity}; items {', '.join(flag.items) or '-'}): {flag.message}"


def result_text(result: ScoreResult) -> str:
    """Several lines: validity and reasons, a table of the scales, flags raised and
    undetermined, classifications, warnings and provenance."""
    lines = [f"{result.instrument}: {'valid' if result.valid else 'INVALID'}"]
    lines += [f"  reason: {reason}" for reason in result.reasons]
    if result.scales:
        lines += _table_text(SCALE_HEADER, _scale_rows(result))
    lines.append("flags raised:" + ("" if result.flags else " none"))
    lines += [f"  {_flag_line(f)}" for f in result.flags]
    lines.append("flags undetermined:" + ("" if result.undetermined_flags else " none"))
    lines += [
        f"  {f.id} ({f.severity}): unanswered or unreadable {', '.join(f.items)}"
        for f in result.undetermined_flags
    ]
    for name, label in result.classifications.items():
        lines.append(f"{name}: {_classification(label)}")
    lines += [f"warning: {message}" for message in _warnings(result)]
    lines.append(_provenance(result))
    lines.append(NOT_A_DIAGNOSIS)
    return "\n".join(lines)


def _html_table(
    header: Sequence[str], rows: Iterable[Sequence[str]], *, caption: str | None = None
) -> str:
    head = "".join(f'<th style="text-align:left">{escape(h)}</th>' for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td style="text-align:left">{escape(c)}</td>' for c in row) + "</tr>"
        for row in rows
    )
    cap = f'<caption style="text-align:left">{escape(caption)}</caption>' if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html_list(title: str, entries: Sequence[str]) -> str:
    if not entries:
        return f"<p><strong>{escape(title)}:</strong> none</p>"
    items = "".join(f"<li>{escape(e)}</li>" for e in entries)
    return f"<p><strong>{escape(title)}:</strong></p><ul>{items}</ul>"


def result_html(result: ScoreResult) -> str:
    """An HTML block for a notebook: validity and reasons, a table of the scales, tables of the
    flags raised and undetermined, classifications, warnings and provenance."""
    state = "valid" if result.valid else "invalid"
    rows: list[tuple[str, ...]]
    parts = [
        f"<p><strong>{escape(result.instrument)}</strong>: <strong>{state}</strong></p>",
    ]
    if result.reasons:
        parts.append(_html_list("reasons", list(result.reasons)))
    if result.scales:
        parts.append(_html_table(SCALE_HEADER, _scale_rows(result)))
    if result.flags:
        rows = [(f.id, f.severity, ", ".join(f.items), f.message) for f in result.flags]
        parts.append(
            _html_table(("flag", "severity", "items", "message"), rows, caption="flags raised")
        )
    else:
        parts.append("<p><strong>flags raised:</strong> none</p>")
    if result.undetermined_flags:
        rows = [
            (f.id, f.severity, ", ".join(f.items), "unanswered or unreadable: needs asking")
            for f in result.undetermined_flags
        ]
        parts.append(
            _html_table(("flag", "severity", "items", "status"), rows, caption="flags undetermined")
        )
    else:
        parts.append("<p><strong>flags undetermined:</strong> none</p>")
    if result.classifications:
        rows = [(name, _classification(v)) for name, v in result.classifications.items()]
        parts.append(_html_table(("classification", "label"), rows))
    warnings = _warnings(result)
    if warnings:
        parts.append(_html_list("warnings", warnings))
    parts.append(f"<p><small>{escape(_provenance(result))}. {NOT_A_DIAGNOSIS}</small></p>")
    return '<div class="screening-result">' + "".join(parts) + "</div>"


# --- instruments ----------------------------------------------------------------------------


def _range(inst: Instrument, scale: Scale) -> tuple[float, float] | None:
    from .steps import scale_range  # the scale steps load on first use, not on import

    return scale_range(inst, scale)


def _range_text(bounds: tuple[float, float] | None) -> str:
    return "-" if bounds is None else f"{_number(bounds[0])}-{_number(bounds[1])}"


def _missing_text(scale: Scale) -> str:
    rule = scale.missing
    if scale.scales is not None:
        return "scored where every scale listed is"
    if rule.max_missing == 0:
        return "every item required"
    if scale.method == "mean":
        return f"up to {rule.max_missing} missing, left out of the mean"
    how = "prorated" if rule.prorate else "not prorated"
    return f"up to {rule.max_missing} missing, {how}"


def _edge(value: float, scale: Scale) -> str:
    """A band edge as the scale writes it (`3.00` at two decimals)."""
    return at_places(value, scale.decimals)


def _parts(scale: Scale) -> str:
    """What a scale scores: its items, or the scales it lists."""
    if scale.scales is not None:
        return f"scales {', '.join(scale.scales)}"
    return f"items {', '.join(scale.items)}"


def _how(scale: Scale) -> str:
    """How the score is made, beyond a (multiplied) sum of the items' scores: `mean, 2
    decimal(s); ` (empty for a sum)."""
    parts = ["mean"] if scale.method == "mean" else []
    if scale.scales is not None:
        parts.append("highest" if scale.method == "max" else "sum")
    if scale.lookups:
        what = scale.lookups[0].label or "another score"
        chosen = " chosen by context" if len(scale.lookups) > 1 or scale.lookups[0].when else ""
        parts.append(f"converted by table{chosen} to {what}")
    if scale.decimals is not None:
        parts.append(f"{scale.decimals} decimal(s)")
    return ", ".join(parts) + "; " if parts else ""


def _lookup(scale: Scale) -> Any:
    """A scale's conversion table (or, where context chooses, its tables) as plain data."""
    from .rules import describe

    tables = [
        {
            "label": t.label,
            **({"when": describe(t.when)} if t.when is not None else {}),
            "table": [[r.score, r.converted] for r in t.table],
        }
        for t in scale.lookups
    ]
    return tables if isinstance(scale.lookup, list) else (tables[0] if tables else None)


def describe_instrument(inst: Instrument) -> dict[str, Any]:
    """What an instrument is, measures, scores and flags, JSON-ready: the facts of
    `screening show`, with option sets resolved and each scale's reachable range."""
    from .loading import content_hash

    items = [
        {
            "id": item.id,
            "label": item.label,
            "text": item.text,
            "reverse": item.reverse,
            "asked_always": item.ask_if is None,
            "number": None if item.number is None else item.number.model_dump(mode="json"),
            "options": []
            if item.number is not None
            else [
                {
                    "value": o.value,
                    "label": o.label,
                    "score": inst.item_scores(item).get(o.value),
                    "non_answer": o.non_answer,
                }
                for o in inst.item_options(item)
            ],
        }
        for item in inst.items
    ]
    scales = {}
    for name, scale in inst.scales.items():
        bounds = _range(inst, scale)
        scales[name] = {
            "label": scale.label,
            "items": list(scale.items),
            **({"scales": list(scale.scales)} if scale.scales is not None else {}),
            "role": scale.role,
            "range": None if bounds is None else [bounds[0], bounds[1]],
            "missing": {
                "max_missing": scale.missing.max_missing,
                "prorate": scale.missing.prorate,
                "rounding": scale.missing.rounding,
            },
            "method": scale.method,
            "multiplier": scale.multiplier,
            "decimals": scale.decimals,
            "lookup": _lookup(scale),
            "bands": [{"min": b.min, "max": b.max, "label": b.label} for b in scale.bands],
            "band_tables": {
                table_name: {
                    "label": table.label,
                    "bands": [{"min": b.min, "max": b.max, "label": b.label} for b in table.bands],
                }
                for table_name, table in scale.band_tables.items()
            },
        }
    return {
        "id": inst.id,
        "name": inst.name,
        "abbreviation": inst.abbreviation,
        "definition_version": inst.definition_version,
        "format_version": inst.format_version,
        "definition_hash": content_hash(inst),
        "construct": inst.construct_,
        "timeframe": inst.timeframe,
        "respondent": inst.respondent,
        "license": inst.license.model_dump(mode="json"),
        "context": {
            name: {"values": list(var.values or []), "required": var.required}
            for name, var in inst.context.items()
        },
        "items": items,
        "scales": scales,
        "flags": [{"id": f.id, "severity": f.severity, "message": f.message} for f in inst.flags],
        "classifications": {
            name: {
                "label": cls.label,
                "risk": cls.risk,
                "labels": [r.label for r in cls.rules] + [cls.otherwise],
            }
            for name, cls in inst.classifications.items()
        },
        "sources": {key: inst.citation(key) for key in inst.sources},
        "golden_cases": len(inst.cases),
    }


def instrument_repr(inst: Instrument) -> str:
    """One line: `<Instrument phq9: PHQ-9: Patient Health Questionnaire-9, definition 1.0.0,
    10 items, scales total, phq2, flags suicidal_ideation>`."""
    parts = [
        inst.name,
        f"definition {inst.definition_version}",
        f"{len(inst.items)} items",
    ]
    if inst.scales:
        parts.append(f"scales {', '.join(inst.scales)}")
    if inst.flags:
        parts.append(f"flags {', '.join(f.id for f in inst.flags)}")
    if inst.classifications:
        parts.append(f"classifications {', '.join(inst.classifications)}")
    return f"<Instrument {inst.id}: {', '.join(parts)}>"


def instrument_text(inst: Instrument) -> str:
    """Several lines: what it measures, its licence, items with their options, scales with
    range, missing-data rule and bands, flags, classifications and sources (`screening show`)."""
    lines = [
        f"{inst.name} ({inst.id}, definition {inst.definition_version})",
        f"measures: {inst.construct_}" + (f", {inst.timeframe}" if inst.timeframe else ""),
        *([f"respondent: {inst.respondent}"] if inst.respondent else []),
        f"licence: {inst.license.status}, {inst.license.holder}",
        f"  {inst.license.notice}",
    ]
    for name, var in inst.context.items():
        values = ", ".join(map(str, var.values or []))
        needed = "required" if var.required else "optional"
        lines.append(f"context {name} ({needed})" + (f": {values}" if values else ""))
    lines.append("items:")
    for item in inst.items:
        if item.number is not None:
            values = item.number.words
        else:
            values = ", ".join(f"{o.value}={o.label}" for o in inst.item_options(item))
        flags = " (reverse-scored)" if item.reverse else ""
        lines.append(f"  {item.id}: {item.text or item.label}{flags} [{values}]")
    for name, scale in inst.scales.items():
        lines.append(
            f"scale {name}: {scale.label or ''} ({_parts(scale)}; {_how(scale)}"
            f"range {_range_text(_range(inst, scale))}; {_missing_text(scale)})"
        )
        for band in scale.bands:
            lines.append(f"  {_edge(band.min, scale)}-{_edge(band.max, scale)}: {band.label}")
        for table_name, table in scale.band_tables.items():
            named = f" ({table.label})" if table.label else ""
            lines.append(f"  band table {table_name}{named}")
            for band in table.bands:
                lines.append(f"    {_edge(band.min, scale)}-{_edge(band.max, scale)}: {band.label}")
    for flag in inst.flags:
        lines.append(f"flag {flag.id} ({flag.severity}): {flag.message}")
    for name, cls in inst.classifications.items():
        labels = [r.label for r in cls.rules] + [cls.otherwise]
        lines.append(f"classification {name}: {' / '.join(labels)}")
    lines.append("sources:")
    lines.extend(f"  [{key}] {inst.citation(key)}" for key in inst.sources)
    lines.append(NOT_A_DIAGNOSIS)
    return "\n".join(lines)


def instrument_html(inst: Instrument) -> str:
    """An HTML block for a notebook: a summary, then tables of the scales (range, missing-data
    rule, bands), flags, classifications and items, and the sources."""
    summary = [
        ("id", inst.id),
        ("definition", inst.definition_version),
        ("measures", inst.construct_ + (f", {inst.timeframe}" if inst.timeframe else "")),
        ("licence", f"{inst.license.status} ({inst.license.holder})"),
        ("item wording", "included" if inst.license.redistribute_text else "labels only"),
        ("items", str(len(inst.items))),
        ("golden cases", str(len(inst.cases))),
    ]
    rows: list[tuple[str, ...]]
    parts = [
        f"<p><strong>{escape(inst.name)}</strong></p>",
        _html_table(("", ""), summary),
    ]
    if inst.scales:
        rows = [
            (
                name,
                scale.label or "",
                str(len(scale.items) if scale.scales is None else len(scale.scales)),
                _range_text(_range(inst, scale)),
                _missing_text(scale),
                "; ".join(f"{b.min}-{b.max} {b.label}" for b in scale.bands),
            )
            for name, scale in inst.scales.items()
        ]
        parts.append(_html_table(("scale", "label", "items", "range", "missing", "bands"), rows))
    if inst.flags:
        rows = [(f.id, f.severity, f.message) for f in inst.flags]
        parts.append(_html_table(("flag", "severity", "message"), rows))
    if inst.classifications:
        rows = [
            (name, " / ".join([r.label for r in cls.rules] + [cls.otherwise]))
            for name, cls in inst.classifications.items()
        ]
        parts.append(_html_table(("classification", "labels"), rows))
    rows = [
        (
            item.id,
            item.text or item.label,
            (
                item.number.words
                if item.number is not None  # not each number (65=6.5 for 6.5 hours)
                else ", ".join(f"{o.value}={o.label}" for o in inst.item_options(item))
            )
            + (" (reverse-scored)" if item.reverse else ""),
        )
        for item in inst.items
    ]
    parts.append(
        _html_table(
            ("item", "wording" if inst.license.redistribute_text else "label", "options"), rows
        )
    )
    parts.append(_html_list("sources", [f"[{k}] {inst.citation(k)}" for k in inst.sources]))
    parts.append(f"<p><small>{NOT_A_DIAGNOSIS}</small></p>")
    return '<div class="screening-instrument">' + "".join(parts) + "</div>"
