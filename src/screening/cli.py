"""`screening` on the command line: score, validate, list, show, schema.

Exit codes: 0 success; 1 a definition is invalid (validate), or an invalid response with
--fail-on-invalid (score); 2 usage or I/O errors.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from ._version import __version__
from .definition import Instrument
from .errors import DefinitionError, Issue
from .linting import definition_files, lint_file
from .loading import UnknownInstrumentError, list_instruments, load_instrument
from .scoring import plan_for, score_plan

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="screening",
        description="Score mental-health screening instruments. A screening score is not a "
        "diagnosis.",
    )
    parser.add_argument("--version", action="version", version=f"screening {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("score", help="score responses from a JSON, CSV, Parquet or JSON Lines file")
    p.add_argument("instrument", help="a built-in id or a definition file")
    p.add_argument(
        "input",
        help="JSON: one response object (item id -> value), "
        "{'responses': {...}, 'context': {...}}, or a list of either; or a table: "
        ".csv, .parquet, .jsonl (one row per administration, streamed in chunks)",
    )
    p.add_argument(
        "-o", "--output", help="a table's scores: .csv, .parquet or .jsonl (CSV to stdout)"
    )
    p.add_argument("--input-format", choices=["json", "csv", "parquet", "jsonl"])
    p.add_argument("--output-format", choices=["csv", "parquet", "jsonl"])
    p.add_argument(
        "--context",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a context variable, e.g. sex=female (repeatable); for a table, VALUE may name "
        "a column",
    )
    p.add_argument("--prefix", help="item columns are PREFIX<n>: PHQ_ finds PHQ_1 or PHQ_01")
    p.add_argument("--pattern", help="item columns by a format string, e.g. 'PHQ_{n:0>2}'")
    p.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="ITEM=COLUMN",
        help="the column of one item (repeatable)",
    )
    p.add_argument("--chunk-rows", type=int, default=100_000, help="rows per chunk")
    p.add_argument("--no-progress", action="store_true", help="no progress line")
    p.add_argument(
        "--fail-on-invalid", action="store_true", help="exit 1 when any response is invalid"
    )
    p.add_argument("--indent", type=int, default=2)

    p = sub.add_parser("validate", help="check definition files and run their golden cases")
    p.add_argument("paths", nargs="+", help="definition files or folders")
    p.add_argument("--format", choices=["text", "json", "github"], default="text")
    p.add_argument("--strict", action="store_true", help="warnings fail too")

    sub.add_parser("list", help="list the built-in instruments")

    p = sub.add_parser("show", help="describe an instrument")
    p.add_argument("instrument", help="a built-in id or a definition file")

    sub.add_parser("schema", help="print the JSON Schema of the definition format")

    p = sub.add_parser("export", help="an instrument as a FHIR Questionnaire or REDCap dictionary")
    p.add_argument("instrument", help="a built-in id or a definition file")
    p.add_argument("--format", choices=["fhir-questionnaire", "redcap"], required=True)
    p.add_argument("-o", "--output", help="a file to write (standard output when absent)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = {
        "score": _score,
        "validate": _validate,
        "list": _list,
        "show": _show,
        "schema": _schema,
        "export": _export,
    }[args.command]
    try:
        return handler(args, sys.stdout)
    except (UnknownInstrumentError, DefinitionError, OSError, ValueError) as exc:
        sys.stderr.write(f"screening: error: {exc}\n")
        return EXIT_USAGE


def _load(ref: str) -> Instrument:
    return load_instrument(ref)


def _parse_pairs(pairs: list[str], option: str, form: str) -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ValueError(f"{option} takes {form} (got {pair!r})")
        out[name] = value
    return out


def _parse_context(pairs: list[str]) -> dict[str, str]:
    return _parse_pairs(pairs, "--context", "NAME=VALUE")


def _score(args: argparse.Namespace, out: TextIO) -> int:
    fmt = args.input_format or ("json" if args.input.lower().endswith(".json") else None)
    if fmt != "json":
        return _score_table(args, out)
    plan = plan_for(_load(args.instrument))
    context = _parse_context(args.context)
    data = json.loads(Path(args.input).read_text(encoding="utf-8"))
    records = data if isinstance(data, list) else [data]
    results = []
    for record in records:
        if isinstance(record, dict) and record.get("resourceType") == "QuestionnaireResponse":
            from .fhir import score_questionnaire_response

            # what can be read is scored, so a risk flag survives an unreadable answer
            ctx_any: dict[str, Any] = dict(context)
            result = score_questionnaire_response(
                plan.instrument, record, on_error="invalid", **ctx_any
            )
            results.append(result.to_dict())
            continue
        responses, ctx = _record(record, context)
        # the plan directly: a context variable may have any name, "on_error" included
        results.append(score_plan(plan, responses, ctx, "invalid").to_dict())
    payload: Any = results if isinstance(data, list) else results[0]
    out.write(json.dumps(payload, indent=args.indent or None, ensure_ascii=False) + "\n")
    invalid = any(not r["valid"] for r in results)
    return EXIT_INVALID if invalid and args.fail_on_invalid else EXIT_OK


def _score_table(args: argparse.Namespace, out: TextIO) -> int:
    from .files import score_file

    if args.chunk_rows < 1:
        raise ValueError("--chunk-rows must be at least 1")
    columns: Any = _parse_pairs(args.map, "--map", "ITEM=COLUMN") or args.pattern
    show = sys.stderr.isatty() and not args.no_progress and not os.environ.get("CI")
    summary = score_file(
        _load(args.instrument),
        args.input,
        args.output,
        input_format=args.input_format,
        output_format=args.output_format,
        columns=columns,
        prefix=args.prefix,
        context=_parse_context(args.context),
        chunk_rows=args.chunk_rows,
        stdout=out,
        progress=sys.stderr if show else None,
    )
    sys.stderr.write(summary.format() + "\n")
    return EXIT_INVALID if summary.invalid and args.fail_on_invalid else EXIT_OK


def _record(record: Any, context: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    if not isinstance(record, dict):
        raise ValueError(f"each response must be a JSON object (got {type(record).__name__})")
    if "responses" in record and isinstance(record["responses"], dict):
        extra = set(record) - {"responses", "context"}
        if extra:
            raise ValueError(f"unexpected keys {sorted(extra)} beside responses/context")
        given = record.get("context", {})
        if not isinstance(given, dict):
            raise ValueError(f"context must be a JSON object (got {type(given).__name__})")
        return record["responses"], {**given, **context}
    return record, dict(context)


def _validate(args: argparse.Namespace, out: TextIO) -> int:
    files = list(definition_files(args.paths))
    missing = [str(f) for f in files if not f.exists()]
    if missing:
        raise OSError(f"no such file: {', '.join(missing)}")
    issues: list[Issue] = []
    for path in files:
        issues.extend(lint_file(path))
    failing = [i for i in issues if i.severity == "error" or args.strict]
    if args.format == "json":
        out.write(
            json.dumps(
                {"files": [str(f) for f in files], "issues": [i.to_dict() for i in issues]},
                indent=2,
            )
            + "\n"
        )
    else:
        for issue in issues:
            out.write((_github(issue) if args.format == "github" else issue.format()) + "\n")
        if args.format == "text":
            errors = sum(1 for i in issues if i.severity == "error")
            warnings = len(issues) - errors
            verdict = "invalid" if failing else "valid"
            sys.stderr.write(
                f"{len(files)} file(s) checked, {errors} error(s), "
                f"{warnings} warning(s): {verdict}\n"
            )
    return EXIT_INVALID if failing else EXIT_OK


def _github_property(value: str) -> str:
    return (
        value.replace("%", "%25")
        .replace("\r", "%0D")
        .replace("\n", "%0A")
        .replace(":", "%3A")
        .replace(",", "%2C")
    )


def _github(issue: Issue) -> str:
    kind = "error" if issue.severity == "error" else "warning"
    where = [f"file={_github_property(issue.file)}"] if issue.file else []
    if issue.line is not None:
        where.append(f"line={issue.line}")
    if issue.col is not None:
        where.append(f"col={issue.col}")
    message = issue.message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return f"::{kind} {','.join(where)},title={_github_property(issue.code)}::{message}"


def _list(args: argparse.Namespace, out: TextIO) -> int:
    for instrument_id in list_instruments():
        inst = load_instrument(instrument_id)
        out.write(f"{inst.id:<16} {inst.name} [{inst.license.status}]\n")
    return EXIT_OK


def _show(args: argparse.Namespace, out: TextIO) -> int:
    inst = _load(args.instrument)
    lines = [
        f"{inst.name} ({inst.id}, definition {inst.definition_version})",
        f"measures: {inst.construct_}" + (f", {inst.timeframe}" if inst.timeframe else ""),
        f"licence: {inst.license.status}, {inst.license.holder}",
        f"  {inst.license.notice}",
        "items:",
    ]
    for item in inst.items:
        values = ", ".join(f"{o.value}={o.label}" for o in inst.item_options(item))
        flags = " (reverse-scored)" if item.reverse else ""
        lines.append(f"  {item.id}: {item.text or item.label}{flags} [{values}]")
    for name, scale in inst.scales.items():
        lines.append(f"scale {name}: {scale.label or ''} (items {', '.join(scale.items)})")
        for band in scale.bands:
            lines.append(f"  {band.min}-{band.max}: {band.label}")
    for flag in inst.flags:
        lines.append(f"flag {flag.id} ({flag.severity}): {flag.message}")
    for name, cls in inst.classifications.items():
        labels = [r.label for r in cls.rules] + [cls.otherwise]
        lines.append(f"classification {name}: {' / '.join(labels)}")
    lines.append("sources:")
    lines.extend(f"  [{key}] {inst.citation(key)}" for key in inst.sources)
    lines.append("A screening score is not a diagnosis.")
    out.write("\n".join(lines) + "\n")
    return EXIT_OK


def _export(args: argparse.Namespace, out: TextIO) -> int:
    inst = _load(args.instrument)
    if args.format == "redcap":
        from .redcap import to_redcap_csv

        text = to_redcap_csv(inst)
    else:
        from .fhir import to_questionnaire

        text = json.dumps(to_questionnaire(inst), indent=2, ensure_ascii=False) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8", newline="")
    else:
        out.write(text)
    return EXIT_OK


def _schema(args: argparse.Namespace, out: TextIO) -> int:
    out.write(json.dumps(instrument_schema(), indent=2) + "\n")
    return EXIT_OK


def instrument_schema() -> dict[str, Any]:
    """The JSON Schema of the definition format, generated from the models."""
    schema = Instrument.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "screening instrument definition"
    return schema


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
