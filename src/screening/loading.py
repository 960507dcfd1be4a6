"""Definition files → validated `Instrument`s, and the registry of built-ins."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .checks import check_instrument
from .definition import Instrument
from .errors import DefinitionError, Issue, format_path
from .yamlsafe import ParsedYaml, parse_yaml

InstrumentRef = "Instrument | str | os.PathLike[str]"


class UnknownInstrumentError(LookupError):
    """No built-in instrument has that id."""


def builtin_dir() -> Path:
    """Where the built-in definitions live: inside the wheel, or the source checkout."""
    packaged = resources.files("screening") / "instruments"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "instruments"


def list_instruments() -> list[str]:
    """The ids of the built-in instruments, sorted."""
    return sorted(p.stem for p in builtin_dir().glob("*.yaml"))


_BUILTINS: dict[str, Instrument] = {}
_FILES: dict[tuple[str, int, int], Instrument] = {}


def load_instrument(
    ref: Instrument | str | os.PathLike[str], *, overlay: str | os.PathLike[str] | None = None
) -> Instrument:
    """A built-in by id (`"phq9"`), any definition file by path, or an `Instrument` as is.

    `overlay` names a YAML file of item wording from the user's own licensed copy
    (`instrument: ID` and `items: {item_id: wording}`), applied on top of the definition.
    Raises `DefinitionError` listing every problem with its file position.
    """
    if isinstance(ref, Instrument):
        inst = ref
    elif isinstance(ref, str) and looks_like_id(ref):
        inst = _builtin(ref)
    else:
        inst = _from_path(Path(ref))
    if overlay is not None:
        inst = apply_overlay(inst, Path(overlay))
    return inst


def looks_like_id(ref: str) -> bool:
    """Whether a reference names a built-in (no path separator, no YAML extension)."""
    return not ref.endswith((".yaml", ".yml")) and "/" not in ref and os.sep not in ref


def _builtin(instrument_id: str) -> Instrument:
    cached = _BUILTINS.get(instrument_id)
    if cached is not None:
        return cached
    path = builtin_dir() / f"{instrument_id}.yaml"
    if not path.is_file():
        known = ", ".join(list_instruments())
        raise UnknownInstrumentError(
            f"no built-in instrument '{instrument_id}' (built-ins: {known}); "
            "pass a path to load a definition file"
        )
    inst = _BUILTINS[instrument_id] = _from_path(path)
    return inst


def _from_path(path: Path) -> Instrument:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    cached = _FILES.get(key)
    if cached is None:
        cached = _FILES[key] = parse_instrument(path.read_bytes(), str(path))
    return cached


def parse_instrument(text: str | bytes, file: str | None = None) -> Instrument:
    """Parse and check a definition; raises `DefinitionError` with every problem found."""
    inst, issues = check_text(text, file)
    if inst is None or any(i.severity == "error" for i in issues):
        raise DefinitionError(issues, file)
    return inst


def check_text(text: str | bytes, file: str | None = None) -> tuple[Instrument | None, list[Issue]]:
    """Every problem of a definition (errors and warnings), and the instrument if it has none."""
    inst, issues, _ = check_parsed(text, file)
    return inst, issues


def check_parsed(
    text: str | bytes, file: str | None = None
) -> tuple[Instrument | None, list[Issue], ParsedYaml]:
    """`check_text`, also returning the parsed document to locate further issues in."""
    parsed = parse_yaml(text, file)
    inst, issues = _check(parsed, file)
    return inst, issues, parsed


def _check(parsed: ParsedYaml, file: str | None) -> tuple[Instrument | None, list[Issue]]:
    if parsed.issues:
        return None, parsed.issues
    if not isinstance(parsed.data, dict):
        return None, [
            Issue(
                "not_a_mapping", "a definition is a mapping of keys", (), file=file, line=1, col=1
            )
        ]
    try:
        inst = Instrument.model_validate(parsed.data)
    except ValidationError as exc:
        structural = pydantic_issues(exc, parsed, file)
        # Unknown keys (typos, mostly) can be set aside so the semantic checks still run and
        # every problem is reported at once; the definition stays rejected.
        if all(i.code == "unknown_key" for i in structural):
            data = _without(parsed.data, [tuple(e["loc"]) for e in exc.errors()], parsed)
            try:
                stripped = Instrument.model_validate(data)
            except ValidationError:
                return None, _sorted(structural)
            semantic = [locate(i, parsed, file) for i in check_instrument(stripped)]
            return None, _sorted(structural + semantic)
        return None, _sorted(structural)
    issues = [locate(i, parsed, file) for i in check_instrument(inst)]
    return inst, _sorted(issues)


def _without(data: Any, locs: list[tuple[Any, ...]], parsed: ParsedYaml) -> Any:
    """A deep copy of the data with the keys at these validation locations removed."""
    copied = json.loads(json.dumps(data))
    for loc in locs:
        path = parsed.data_path(loc[:-1])
        node = copied
        for part in path:
            node = node[part]
        if isinstance(node, dict):
            node.pop(loc[-1], None)
    return copied


def _sorted(issues: Iterable[Issue]) -> list[Issue]:
    return sorted(issues, key=lambda i: (i.line or 0, i.col or 0, i.code))


def locate(issue: Issue, parsed: ParsedYaml, file: str | None) -> Issue:
    position = parsed.position(issue.path)
    line, col = position if position is not None else (None, None)
    return issue._replace(file=file, line=line, col=col)


def pydantic_issues(exc: ValidationError, parsed: ParsedYaml, file: str | None) -> list[Issue]:
    """Pydantic's errors in our words, each at its position in the file."""
    out: dict[tuple[Any, ...], Issue] = {}
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        path = parsed.data_path(loc)
        kind = err["type"]
        where = format_path(path) or "top level"
        if kind == "missing":
            code, message = "missing_key", f"{where}: missing required key '{loc[-1]}'"
        elif kind == "extra_forbidden":
            code, message = "unknown_key", f"{where}: unknown key '{loc[-1]}'"
        else:
            code = "invalid_value"
            text = err["msg"].removeprefix("Value error, ")
            message = f"{where}: {text} (got {_short(err.get('input'))})"
        issue = locate(Issue(code, message, path), parsed, file)
        key = (path, code)
        if key in out and code == "invalid_value":
            # a union reports once per member; keep one line that names them all
            previous = out[key]
            out[key] = previous._replace(message=f"{previous.message}; or {err['msg']}")
        else:
            out[key] = issue
    return list(out.values())


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def content_hash(inst: Instrument) -> str:
    """SHA-256 of the definition's scoring content (item wording excluded, so overlays keep it)."""
    data = inst.model_dump(mode="json", by_alias=True, exclude_none=True)
    for item in data["items"]:
        item.pop("text", None)
    blob = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return "sha256:" + hashlib.sha256(blob).hexdigest()


def apply_overlay(inst: Instrument, path: Path) -> Instrument:
    """Item wording from the user's licensed copy, laid over a definition."""
    parsed = parse_yaml(path.read_bytes(), str(path))
    issues = list(parsed.issues)
    wording: dict[str, Any] = {}
    data = parsed.data if isinstance(parsed.data, dict) else {}
    if not issues:
        if set(data) - {"instrument", "items"}:
            extra = sorted(set(data) - {"instrument", "items"})
            issues.append(
                Issue(
                    "unknown_key",
                    f"unknown key(s) {', '.join(extra)}; an overlay has instrument and items",
                    (extra[0],),
                )
            )
        if data.get("instrument") != inst.id:
            issues.append(
                Issue(
                    "overlay_instrument",
                    f"overlay is for '{data.get('instrument')}', not '{inst.id}'",
                    ("instrument",),
                )
            )
        given = data.get("items")
        known = {i.id for i in inst.items}
        if isinstance(given, dict):
            wording = given
        else:
            issues.append(Issue("overlay_items", "items must map item ids to wording", ("items",)))
        for item_id, text in wording.items():
            if item_id not in known:
                issues.append(
                    Issue(
                        "unknown_item",
                        f"overlay names unknown item '{item_id}'",
                        ("items", item_id),
                    )
                )
            elif not isinstance(text, str) or not text.strip():
                issues.append(
                    Issue(
                        "overlay_items", f"wording of '{item_id}' must be text", ("items", item_id)
                    )
                )
    if issues:
        located = [i if i.line is not None else locate(i, parsed, str(path)) for i in issues]
        raise DefinitionError(located, str(path))
    items = [
        item.model_copy(update={"text": wording[item.id]}) if item.id in wording else item
        for item in inst.items
    ]
    return inst.model_copy(update={"items": items})
