"""`screening` on the command line: score, validate, list, show, schema, export, report.

Exit codes: 0 success; 1 a definition is invalid (validate), or an invalid response with
--fail-on-invalid (score); 2 usage or I/O errors.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from ._version import __version__
from .definition import Instrument
from .display import describe_instrument, instrument_text
from .errors import DefinitionError, Issue
from .fhir_common import CANONICAL_BASE
from .jsonio import loads_unique
from .linting import definition_files, lint_file
from .loading import (
    InstrumentSource,
    UnknownInstrumentError,
    instrument_sources,
    load_instrument,
    looks_like_id,
)
from .outputs import same_file, write_atomic
from .report import add_arguments as _report_arguments
from .schema import instrument_schema
from .scoring import plan_for, score_plan

__all__ = [
    "build_parser",
    "main",
]

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
        epilog="Instruments are named by id: the built-ins, and those of instrument packs "
        "(folders listed in SCREENING_PATH, packages with a screening.instruments entry point); "
        "`screening list` shows them. Exit codes: 0 done; 1 an invalid response with "
        "--fail-on-invalid, or an invalid definition (validate); 2 usage, I/O or input errors.",
    )
    parser.add_argument("--version", action="version", version=f"screening {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("score", help="score responses from a JSON, CSV, Parquet or JSON Lines file")
    p.add_argument(
        "instrument",
        help="an instrument id or a definition file; for a table, several separated by commas "
        "(phq9,gad7), each with its own --prefix/--pattern/--map",
    )
    p.add_argument(
        "input",
        help="JSON: one response object (item id -> value), "
        "{'responses': {...}, 'context': {...}}, a list of either, or a FHIR "
        "QuestionnaireResponse; or a table: .csv, .parquet, .jsonl (one row per administration, "
        "streamed in chunks)",
    )
    p.add_argument(
        "-o",
        "--output",
        help="where to write: a table's scores as .csv, .parquet or .jsonl, or the JSON results "
        "(standard output when absent); written to a temporary file and renamed when complete, "
        "never over the input",
    )
    p.add_argument(
        "--input-format",
        choices=["json", "csv", "parquet", "jsonl"],
        help="the input's format when its extension does not say it (.json, .csv, .parquet, "
        ".jsonl)",
    )
    p.add_argument(
        "--output-format",
        choices=["csv", "parquet", "jsonl"],
        help="a table's output format when the extension of --output does not say it (CSV on "
        "standard output otherwise)",
    )
    p.add_argument(
        "--keep-items",
        action="store_true",
        help="a table: write the item columns too, as read (a CSV's text, verbatim), in their "
        "place among the other columns; without it the output has every column but the items",
    )
    p.add_argument(
        "--context",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a context variable, e.g. sex=female (repeatable); for a table, VALUE may name "
        "a column",
    )
    p.add_argument(
        "--prefix",
        action="append",
        default=[],
        metavar="[INSTRUMENT=]PREFIX",
        help="item columns are PREFIX<n>: PHQ_ finds PHQ_1 or PHQ_01 (both present is an "
        "error); with several instruments, one each: --prefix phq9=PHQ_ --prefix gad7=GAD_",
    )
    p.add_argument(
        "--pattern",
        action="append",
        default=[],
        metavar="[INSTRUMENT=]FORMAT",
        help="item columns by a format string, e.g. 'PHQ_{n:0>2}'; with several instruments, "
        "one each: --pattern phq9=PHQ_{n}",
    )
    p.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="[INSTRUMENT:]ITEM=COLUMN",
        help="the column of one item (repeatable); an item id names its instrument, or prefix "
        "it with the instrument: phq9:phq9_1=Q1",
    )
    p.add_argument(
        "--link-id",
        action="append",
        default=[],
        metavar="LINKID=ITEM",
        help="FHIR QuestionnaireResponse input: the item a linkId answers (repeatable), e.g. "
        "--link-id PHQ.1=phq9_1; scale.<name> for a score the form states (compared, never "
        "used); LINKID= (nothing after =) ignores that linkId",
    )
    p.add_argument(
        "--canonical-base",
        metavar="URL",
        help="FHIR input: the base of this library's canonical URLs the responses use for "
        "answers without LOINC codes (default " + CANONICAL_BASE + ")",
    )
    p.add_argument(
        "--allow-missing-columns",
        action="store_true",
        help="score an item without a column as missing in every row (flags reading it are "
        "then undetermined); without it, a scored item without a column is an error",
    )
    p.add_argument(
        "--na-values",
        action="append",
        default=[],
        metavar="TOKEN",
        help="a cell text that means 'missing' in item columns, e.g. NA (repeatable); only an "
        "empty cell does otherwise, and other columns are always kept verbatim",
    )
    p.add_argument(
        "--add-prefix",
        action="store_true",
        help="prefix each score column with its instrument id (phq9_total); always so with "
        "several instruments",
    )
    p.add_argument(
        "--chunk-rows",
        type=int,
        metavar="N",
        help="rows per chunk of a table: memory is bounded by the chunk (default 100000)",
    )
    p.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress line on standard error (none is written when it is not a terminal, "
        "or when CI is set)",
    )
    p.add_argument(
        "--fail-on-invalid", action="store_true", help="exit 1 when any response is invalid"
    )
    p.add_argument(
        "--indent",
        type=int,
        default=2,
        metavar="N",
        help="JSON results: spaces of indent (0: one line; default 2)",
    )

    p = sub.add_parser("validate", help="check definition files and run their golden cases")
    p.add_argument("paths", nargs="+", help="definition files, or folders of them (recursively)")
    p.add_argument(
        "--format",
        choices=["text", "json", "github"],
        default="text",
        help="text: file:line:col lines (default); json: one document; github: workflow "
        "annotations",
    )
    p.add_argument("--strict", action="store_true", help="warnings fail too")

    p = sub.add_parser(
        "list", help="list the instruments addressable by id: built-ins and instrument packs"
    )
    p.add_argument(
        "--format",
        choices=["text", "json"],
        default="text",
        help="text: a table with a header (default); json: a list of objects, each with where "
        "the instrument comes from",
    )

    p = sub.add_parser("show", help="describe an instrument")
    p.add_argument("instrument", help="an instrument id or a definition file")
    p.add_argument(
        "--format",
        choices=["text", "json"],
        default="text",
        help="text: for reading (default); json: items with their options and scores, scales "
        "with range and bands, flags, classifications, licence, sources and content hash",
    )

    sub.add_parser("schema", help="print the JSON Schema of the definition format")

    p = sub.add_parser("export", help="an instrument as a FHIR Questionnaire or REDCap dictionary")
    p.add_argument("instrument", help="an instrument id or a definition file")
    p.add_argument(
        "--format",
        choices=["fhir-questionnaire", "redcap"],
        required=True,
        help="fhir-questionnaire: a FHIR R4 Questionnaire (JSON) whose scores LHC-Forms "
        "computes; redcap: a REDCap data dictionary (CSV)",
    )
    p.add_argument("-o", "--output", help="a file to write (standard output when absent)")
    p.add_argument(
        "--canonical-base",
        metavar="URL",
        help="fhir-questionnaire: the base of the Questionnaire's url and of this library's "
        "code systems (default " + CANONICAL_BASE + ")",
    )

    p = sub.add_parser(
        "report",
        help="one self-contained HTML page per client: trajectories, outcomes, risk flags "
        "and provenance",
    )
    _report_arguments(p)
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
        "report": _report,
    }[args.command]
    try:
        with _terminated_as_interrupted():
            return handler(args, sys.stdout)
    except (UnknownInstrumentError, DefinitionError, OSError, ValueError) as exc:
        sys.stderr.write(f"screening: error: {_one_line(exc)}\n")
        return EXIT_USAGE
    except ImportError as exc:  # an optional dependency that is not installed
        sys.stderr.write(f"screening: error: {_one_line(exc)}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("screening: interrupted; no output was left behind\n")
        return 130
    except _Terminated:
        sys.stderr.write("screening: terminated; no output was left behind\n")
        return 143


class _Terminated(BaseException):
    """SIGTERM, raised where the command is, so that its output is cleaned up as on Ctrl-C."""


@contextlib.contextmanager
def _terminated_as_interrupted() -> Iterator[None]:
    def terminate(signum: int, frame: Any) -> None:
        raise _Terminated

    if threading.current_thread() is not threading.main_thread():
        yield  # a handler can only be set from the main thread
        return
    before = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, DefinitionError):
        return str(exc)  # one issue a line, each with file:line:col
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    return " ".join(str(exc).split())


def _load(ref: str) -> Instrument:
    return load_instrument(ref)


def _parse_pairs(pairs: list[str], option: str, form: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ValueError(f"{option} takes {form} (got {pair!r})")
        if name in out:
            raise ValueError(f"{option} gives {name!r} twice ({out[name]!r} and {value!r})")
        out[name] = value
    return out


def _parse_context(pairs: list[str]) -> dict[str, str]:
    return _parse_pairs(pairs, "--context", "NAME=VALUE")


def _instrument_refs(arg: str) -> list[str]:
    """One instrument, or several separated by commas (an existing file is one)."""
    if Path(arg).is_file() or "," not in arg:
        return [arg]
    refs = [part.strip() for part in arg.split(",")]
    if any(not ref for ref in refs):
        raise ValueError(f"instrument list {arg!r} has an empty entry")
    return refs


def _per_instrument(values: list[str], ids: list[str], option: str) -> dict[str, str]:
    """`--prefix PHQ_` (one instrument) or `--prefix phq9=PHQ_` (each of several)."""
    out: dict[str, str] = {}
    for value in values:
        name, sep, rest = value.partition("=")
        if sep and name in ids:
            key, given = name, rest
        elif len(ids) == 1 and not sep:
            key, given = ids[0], value
        elif len(ids) == 1:
            raise ValueError(
                f"{option} {value!r}: {name!r} is not the instrument scored ({ids[0]}); "
                f"write {option} {ids[0]}=VALUE"
            )
        else:
            raise ValueError(
                f"{option} {value!r} is one spec for several instruments ({', '.join(ids)}); "
                f"give one each: {option} {ids[0]}=VALUE"
            )
        if key in out:
            raise ValueError(f"{option} is given twice for {key}")
        out[key] = given
    return out


def _item_map(pairs: list[str], insts: list[Instrument]) -> dict[str, dict[str, str]]:
    """`--map ITEM=COLUMN` by instrument: an item id names its instrument unless it is an
    item of several, which then needs `INSTRUMENT:ITEM=COLUMN`."""
    owners: dict[str, list[str]] = {}
    for inst in insts:
        for item in inst.items:
            owners.setdefault(item.id, []).append(inst.id)
    out: dict[str, dict[str, str]] = {}
    for pair in pairs:
        target, sep, column = pair.partition("=")
        if not sep or not target:
            raise ValueError(f"--map takes [INSTRUMENT:]ITEM=COLUMN (got {pair!r})")
        instrument, colon, item_id = target.rpartition(":")
        if colon:
            if instrument not in {i.id for i in insts}:
                raise ValueError(f"--map {pair!r}: {instrument!r} is not an instrument scored")
        else:
            found = owners.get(item_id, [])
            if len(found) != 1:
                where = "several instruments" if found else "no instrument scored"
                raise ValueError(
                    f"--map {pair!r}: {item_id!r} is an item of {where}; "
                    "write INSTRUMENT:ITEM=COLUMN"
                )
            instrument = found[0]
        mapping = out.setdefault(instrument, {})
        if item_id in mapping:
            raise ValueError(f"--map gives item {item_id!r} twice")
        mapping[item_id] = column
    return out


def _fhir_only(args: argparse.Namespace) -> list[str]:
    """The FHIR-input options given."""
    given = {"--link-id": args.link_id, "--canonical-base": args.canonical_base}
    return [name for name, value in given.items() if value]


def _link_ids(pairs: list[str]) -> dict[str, str | None]:
    """`--link-id LINKID=ITEM` (the last = splits: a linkId may hold one, an item id never);
    `LINKID=` ignores the linkId."""
    out: dict[str, str | None] = {}
    for pair in pairs:
        link_id, sep, item_id = pair.rpartition("=")
        if not sep or not link_id:
            raise ValueError(f"--link-id takes LINKID=ITEM, or LINKID= to ignore it (got {pair!r})")
        if link_id in out:
            raise ValueError(f"--link-id gives linkId {link_id!r} twice")
        out[link_id] = item_id or None
    return out


def _is_fhir(record: Any) -> bool:
    return isinstance(record, dict) and record.get("resourceType") == "QuestionnaireResponse"


def _score(args: argparse.Namespace, out: TextIO) -> int:
    fmt = args.input_format or ("json" if args.input.lower().endswith(".json") else None)
    refs = _instrument_refs(args.instrument)
    if args.output is not None and same_file(Path(args.input), Path(args.output)):
        raise ValueError(f"output {args.output} is the input file; write the scores elsewhere")
    if args.output is not None:
        for ref in refs:
            _not_the_definition(ref, Path(args.output))
    fhir_only = _fhir_only(args)
    if fmt != "json":
        if fhir_only:
            raise ValueError(
                f"{', '.join(fhir_only)} applies to a FHIR QuestionnaireResponse (JSON input), "
                "not to a table"
            )
        return _score_table(args, refs, out)
    if len(refs) > 1:
        raise ValueError("JSON input is scored by one instrument at a time")
    table_only = {
        "--prefix": args.prefix,
        "--pattern": args.pattern,
        "--map": args.map,
        "--na-values": args.na_values,
        "--keep-items": args.keep_items,
        "--output-format": args.output_format,  # a JSON result is JSON, whatever the file's name
        "--add-prefix": args.add_prefix,
        "--allow-missing-columns": args.allow_missing_columns,
        "--chunk-rows": args.chunk_rows is not None,
    }
    given = [name for name, value in table_only.items() if value]
    if given:  # a JSON response names its items; the option would be silently ignored
        raise ValueError(
            f"{', '.join(given)} applies to tables only, not to JSON input"
            + (
                "; for a FHIR QuestionnaireResponse, give the item a linkId answers with "
                "--link-id LINKID=ITEM"
                if "--map" in given
                else ""
            )
        )
    link_ids = _link_ids(args.link_id)
    plan = plan_for(_load(refs[0]))
    context = _parse_context(args.context)
    data = loads_unique(_read_input(Path(args.input)))
    records = data if isinstance(data, list) else [data]
    if fhir_only and not all(_is_fhir(r) for r in records):
        raise ValueError(
            f"{', '.join(fhir_only)} applies to a FHIR QuestionnaireResponse only; "
            f"{args.input} holds other responses"
        )
    results = []
    for record in records:
        if _is_fhir(record):
            from .fhir import score_questionnaire_response

            # what can be read is scored, so a risk flag survives an unreadable answer
            ctx_any: dict[str, Any] = dict(context)
            result = score_questionnaire_response(
                plan.instrument,
                record,
                link_ids=link_ids,
                canonical_base=args.canonical_base,
                on_error="invalid",
                **ctx_any,
            )
            results.append(result.to_dict())
            continue
        responses, ctx = _record(record, context)
        # the plan directly: a context variable may have any name, "on_error" included
        results.append(score_plan(plan, responses, ctx, "invalid").to_dict())
    payload: Any = results if isinstance(data, list) else results[0]
    text = json.dumps(payload, indent=args.indent or None, ensure_ascii=False) + "\n"
    if args.output is not None:
        write_atomic(Path(args.output), text)
    else:
        out.write(text)
    invalid = any(not r["valid"] for r in results)
    return EXIT_INVALID if invalid and args.fail_on_invalid else EXIT_OK


def _read_input(path: Path) -> str:
    if path.exists() and not path.is_file():
        raise ValueError(f"input {path} is not a regular file")
    return path.read_text(encoding="utf-8-sig")


def _score_table(args: argparse.Namespace, refs: list[str], out: TextIO) -> int:
    try:
        from .columns import CLI
        from .files import score_file
    except ModuleNotFoundError as exc:
        raise ImportError(
            f"scoring a table needs {exc.name or 'numpy and pandas'}, which is not installed; "
            "install the extra: pip install 'screening[frames]'"
        ) from None
    chunk_rows = _CHUNK_ROWS if args.chunk_rows is None else args.chunk_rows
    if chunk_rows < 1:
        raise ValueError("--chunk-rows must be at least 1")
    insts = _instruments_listed(refs)
    columns, prefixes = _column_specs(args, insts)
    show = sys.stderr.isatty() and not args.no_progress and not os.environ.get("CI")
    summary = score_file(
        insts if len(insts) > 1 else insts[0],
        args.input,
        args.output,
        input_format=args.input_format,
        output_format=args.output_format,
        columns=columns or None,
        prefix=prefixes or None,
        context=_parse_context(args.context),
        na_values=args.na_values,
        allow_missing_columns=args.allow_missing_columns,
        add_prefix=True if args.add_prefix else None,
        chunk_rows=chunk_rows,
        stdout=out,
        progress=sys.stderr if show else None,
        options=CLI,
        keep_items=args.keep_items,
    )
    sys.stderr.write(summary.format() + "\n")
    return EXIT_INVALID if summary.invalid and args.fail_on_invalid else EXIT_OK


_CHUNK_ROWS = 100_000
"""`--chunk-rows` when not given (only a table is read in chunks)."""


def _instruments_listed(refs: list[str]) -> list[Instrument]:
    insts = [_load(ref) for ref in refs]
    ids = [inst.id for inst in insts]
    if len(set(ids)) < len(ids):
        raise ValueError(f"an instrument is listed twice ({', '.join(ids)})")
    return insts


def _column_specs(
    args: argparse.Namespace, insts: list[Instrument]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Each instrument's `--pattern` or `--map` columns, and `--prefix`."""
    ids = [inst.id for inst in insts]
    prefixes = _per_instrument(args.prefix, ids, "--prefix")
    patterns = _per_instrument(args.pattern, ids, "--pattern")
    maps = _item_map(args.map, insts)
    columns: dict[str, Any] = {}
    for instrument in ids:
        if instrument in patterns and instrument in maps:
            raise ValueError(f"{instrument}: give --pattern or --map, not both")
        if instrument in patterns or instrument in maps:
            columns[instrument] = patterns.get(instrument) or maps.get(instrument)
    return columns, prefixes


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
        both = sorted(set(given) & set(context))
        if both:
            raise ValueError(
                f"context {', '.join(both)} is given both in the file and by --context; "
                "which one holds is ambiguous"
            )
        return record["responses"], {**given, **context}
    return record, dict(context)


def _validate(args: argparse.Namespace, out: TextIO) -> int:
    files = list(definition_files(args.paths))
    missing = [str(f) for f in files if not f.exists()]
    if missing:
        raise OSError(f"no such file: {', '.join(missing)}")
    empty = [str(p) for p in args.paths if Path(p).is_dir() and not any(definition_files([p]))]
    if empty:  # a mistyped or emptied folder must not pass a CI job as "valid"
        raise ValueError(f"no definition file (.yaml or .yml) in {', '.join(empty)}")
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
    rows = []
    for source in instrument_sources():
        inst = load_instrument(source.id)
        rows.append((source, inst))
    if args.format == "json":
        listed = [
            {
                "id": inst.id,
                "name": inst.name,
                "construct": inst.construct_,
                "definition_version": inst.definition_version,
                "license": inst.license.status,
                "source": source.to_dict(),
            }
            for source, inst in rows
        ]
        out.write(json.dumps(listed, indent=2, ensure_ascii=False) + "\n")
        return EXIT_OK
    header = ("id", "licence", "source", "name")
    cells = [(inst.id, inst.license.status, source.kind, inst.name) for source, inst in rows]
    widths = [max(len(row[i]) for row in [header, *cells]) for i in range(3)]
    for row in [header, *cells]:
        lead = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
        out.write(f"{lead}  {row[3]}\n")
    return EXIT_OK


def _source_of(ref: str) -> InstrumentSource | None:
    """Where an instrument named by id comes from (None for a definition file)."""
    if not looks_like_id(ref):  # as `load_instrument` reads it
        return None
    return next((s for s in instrument_sources() if s.id == ref), None)


def _show(args: argparse.Namespace, out: TextIO) -> int:
    inst = _load(args.instrument)
    source = _source_of(args.instrument)
    if args.format == "json":
        described = describe_instrument(inst)
        file = {"kind": "file", "path": str(Path(args.instrument)), "origin": ""}
        described["source"] = file if source is None else source.to_dict()
        out.write(json.dumps(described, indent=2, ensure_ascii=False) + "\n")
        return EXIT_OK
    first, rest = instrument_text(inst).split("\n", 1)
    where = f"file {args.instrument}" if source is None else source.describe()
    out.write(f"{first}\nfrom: {where}\n{rest}\n")
    return EXIT_OK


def _export(args: argparse.Namespace, out: TextIO) -> int:
    inst = _load(args.instrument)
    if args.format == "redcap":
        if args.canonical_base is not None:
            raise ValueError("--canonical-base applies to --format fhir-questionnaire only")
        from .redcap import to_redcap_csv

        text = to_redcap_csv(inst)
    else:
        from .fhir import to_questionnaire

        questionnaire = to_questionnaire(inst, canonical_base=args.canonical_base)
        text = json.dumps(questionnaire, indent=2, ensure_ascii=False) + "\n"
    if args.output:
        target = Path(args.output)
        _not_the_definition(args.instrument, target)
        write_atomic(target, text)  # all of it or nothing, never a half-written file
    else:
        out.write(text)
    return EXIT_OK


def _not_the_definition(ref: str, target: Path) -> None:
    """Refuse an output that is the definition file an instrument is read from: a path, or
    the file of a built-in or an instrument pack's definition named by id."""
    files = [Path(ref)] if Path(ref).is_file() else []
    if not files and looks_like_id(ref):
        files = [s.path for s in instrument_sources() if s.id == ref]
    if any(same_file(file, target) for file in files):
        raise ValueError(f"--output {target} is the definition file of {ref}; choose another")


def _schema(args: argparse.Namespace, out: TextIO) -> int:
    out.write(json.dumps(instrument_schema(), indent=2) + "\n")
    return EXIT_OK


def _report(args: argparse.Namespace, out: TextIO) -> int:
    from .report import run

    insts = _instruments_listed(_instrument_refs(args.instrument))
    columns, prefixes = _column_specs(args, insts)
    return run(
        args,
        out,
        instruments=insts,
        columns=columns,
        prefixes=prefixes,
        context=_parse_context(args.context),
    )


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
