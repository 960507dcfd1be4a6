"""Definition files → validated `Instrument`s; the built-ins and instrument packs by id."""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import sys
import types
from collections.abc import Iterable
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, NamedTuple, Union, get_args, get_origin

from pydantic import BaseModel, Discriminator, Tag, ValidationError
from pydantic_core import ErrorDetails

from . import prechecked
from ._version import __version__
from .checks import check_instrument
from .codes import DefinitionCode
from .definition import (
    FORMAT_KEYS,
    FORMAT_VALUES,
    FORMAT_VERSION,
    FORMAT_VERSION_PATTERN,
    ID_PATTERN,
    Band,
    BandTable,
    Case,
    Classification,
    ClassificationRule,
    Codes,
    Coding,
    ContextVariable,
    Expectation,
    Instrument,
    Item,
    License,
    Option,
    Scale,
    ScaleExpectation,
    SourceEntry,
    format_version_key,
    key_arrived,
)
from .errors import DefinitionError, Issue, format_path, make_issue

if TYPE_CHECKING:  # the YAML reader (ruamel.yaml) is imported when a file is parsed
    from .yamlsafe import ParsedYaml

InstrumentRef = "Instrument | str | os.PathLike[str]"


class UnknownInstrumentError(LookupError):
    """No instrument has that id: neither a built-in nor one of an instrument pack."""


class InstrumentPackError(ValueError):
    """An instrument pack that cannot be used: two definitions for one id (naming both
    places), an entry point that does not give a folder, a file not named after its id."""


PACK_ENTRY_POINT = "screening.instruments"
"""The entry point group through which an installed package offers a folder of definitions."""

SEARCH_PATH_ENV = "SCREENING_PATH"
"""The environment variable listing folders of definitions (separated like PATH)."""

SourceKind = Literal["built-in", "folder", "search path", "entry point"]


class InstrumentSource(NamedTuple):
    """Where an instrument addressable by id comes from.

    `kind` is `"built-in"` (shipped with screening), `"folder"` (`register_folder`),
    `"search path"` (a folder of `SCREENING_PATH`) or `"entry point"` (an installed package's
    `screening.instruments` entry point); `path` is the definition file and `origin` says the
    rest in words (the folder, or the entry point and its distribution).
    """

    id: str
    kind: SourceKind
    path: Path
    origin: str

    def describe(self) -> str:
        """`built-in`, or the kind with its origin: `entry point 'bdi' of licensed-pack 1.0`."""
        return self.kind if self.kind == "built-in" else f"{self.kind} {self.origin}"

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "kind": self.kind, "path": str(self.path), "origin": self.origin}


def builtin_dir() -> Path:
    """Where the built-in definitions live: inside the wheel, or the source checkout."""
    # the package's own folder, as importlib.resources would give it for an installed wheel,
    # without importing importlib.resources on the first score
    packaged = Path(__file__).with_name("instruments")
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "instruments"


def list_instruments() -> list[str]:
    """The ids of every instrument addressable by id, sorted: the built-ins, and those of any
    instrument pack (`register_folder`, `SCREENING_PATH`, the `screening.instruments` entry
    point). `instrument_sources()` says where each comes from. Raises `InstrumentPackError`
    when two places define one id."""
    return [source.id for source in instrument_sources()]


def instrument_sources() -> list[InstrumentSource]:
    """Every instrument addressable by id with where it comes from, sorted by id.

    Raises `InstrumentPackError` naming both places when two define one id: which definition
    an id means is never a guess.
    """
    index = _index()
    if index.clashes:
        raise InstrumentPackError(_clash_message(next(iter(index.clashes.values()))))
    return [index.found[key] for key in sorted(index.found)]


def register_folder(folder: str | os.PathLike[str]) -> list[str]:
    """Make the definitions in a folder (`<id>.yaml`, not its subfolders) addressable by id:
    `score("bdi2", ...)`, `screening score bdi2 ...` in this process. Returns their ids.

    A definition is read and checked when it is first used, and must be named after its id.
    Registering a folder twice changes nothing. Raises `NotADirectoryError` for anything but a
    folder, and `InstrumentPackError` (registering nothing) when one of its ids is already
    defined elsewhere, naming both places. `SCREENING_PATH` lists folders the same way for
    every process; an installed package offers one through the `screening.instruments` entry
    point.
    """
    path = Path(folder)
    if not path.is_dir():
        raise NotADirectoryError(f"register_folder: {path} is not a folder")
    resolved = path.resolve()
    if resolved in _FOLDERS:
        return sorted(_scan(resolved))
    ids = sorted(_scan(resolved))
    before = _index()
    fresh = _build_index((*_FOLDERS, resolved))
    new = [c for key, c in fresh.clashes.items() if key not in before.clashes]
    if new:
        raise InstrumentPackError(_clash_message(new[0]))
    _FOLDERS.append(resolved)
    return ids


class _Index(NamedTuple):
    key: tuple[Any, ...]
    found: dict[str, InstrumentSource]
    clashes: dict[str, list[InstrumentSource]]
    missing: tuple[str, ...]  # SCREENING_PATH folders that do not exist


_FOLDERS: list[Path] = []
_INDEX: list[_Index] = []  # the last index built, rebuilt when what it was built from changes


def _index() -> _Index:
    key = _index_key(tuple(_FOLDERS))
    if _INDEX and _INDEX[0].key == key:
        return _INDEX[0]
    index = _build_index(tuple(_FOLDERS))
    _INDEX[:] = [index]
    return index


def _index_key(folders: tuple[Path, ...]) -> tuple[Any, ...]:
    # the entry points an interpreter finds depend on sys.path
    return (folders, os.environ.get(SEARCH_PATH_ENV, ""), tuple(sys.path))


def _build_index(folders: tuple[Path, ...]) -> _Index:
    places: list[tuple[SourceKind, Path, str]] = [("built-in", builtin_dir().resolve(), "")]
    places += [("folder", f, f"{f} (register_folder)") for f in folders]
    missing: list[str] = []
    for entry in os.environ.get(SEARCH_PATH_ENV, "").split(os.pathsep):
        if not entry:
            continue
        folder = Path(entry).expanduser()
        if folder.is_dir():
            places.append(("search path", folder.resolve(), f"{folder} ({SEARCH_PATH_ENV})"))
        else:
            missing.append(entry)
    places += _entry_point_folders()
    found: dict[str, InstrumentSource] = {}
    clashes: dict[str, list[InstrumentSource]] = {}
    seen: set[Path] = set()
    for kind, folder, origin in places:
        if folder in seen:  # one folder reached two ways is one place
            continue
        seen.add(folder)
        for instrument_id, path in sorted(_scan(folder).items()):
            source = InstrumentSource(instrument_id, kind, path, origin)
            first = found.setdefault(instrument_id, source)
            if first is not source:
                clashes.setdefault(instrument_id, [first]).append(source)
    return _Index(_index_key(folders), found, clashes, tuple(missing))


def _scan(folder: Path) -> dict[str, Path]:
    """The definition files of a folder by id (`<id>.yaml` or `<id>.yml`); two files for one
    id are a clash."""
    out: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix not in (".yaml", ".yml") or re.fullmatch(ID_PATTERN, path.stem) is None:
            continue  # not a definition addressable by id (an overlay, a README, ...)
        if path.stem in out:
            raise InstrumentPackError(
                f"instrument id '{path.stem}' is defined twice in {folder}: "
                f"{out[path.stem].name} and {path.name}"
            )
        out[path.stem] = path
    return out


def _entry_point_folders() -> list[tuple[SourceKind, Path, str]]:
    """The folder each `screening.instruments` entry point gives: a package (its folder) or a
    path (`my_pack:DEFINITIONS`)."""
    out: list[tuple[SourceKind, Path, str]] = []
    found = sorted(entry_points(group=PACK_ENTRY_POINT), key=lambda ep: (ep.name, ep.value))
    for ep in found:
        dist = ep.dist
        origin = f"'{ep.name}' = {ep.value}" + (
            f" of {dist.metadata['Name']} {dist.version}" if dist is not None else ""
        )
        try:
            target = ep.load()
        except Exception as exc:  # a broken pack is named, never skipped
            raise InstrumentPackError(
                f"the {PACK_ENTRY_POINT} entry point {origin} cannot be loaded: {exc}"
            ) from exc
        if isinstance(target, types.ModuleType):
            from importlib import resources

            folder: Any = resources.files(target)
        elif isinstance(target, str | os.PathLike):
            folder = Path(target)
        else:
            folder = target
        path = Path(str(folder))
        if not path.is_dir():
            raise InstrumentPackError(
                f"the {PACK_ENTRY_POINT} entry point {origin} gives {folder!r}, not a folder "
                "of definitions (it names a package, or a path: module:ATTRIBUTE)"
            )
        out.append(("entry point", path.resolve(), origin))
    return out


def _clash_message(sources: list[InstrumentSource]) -> str:
    first, *others = sources
    places = "; ".join(f"{s.describe()}: {s.path}" for s in (first, *others))
    return (
        f"instrument id '{first.id}' is defined in {len(sources)} places ({places}); "
        "rename or remove all but one: which one an id means is never a guess"
    )


_BUILTINS: dict[str, Instrument] = {}
_BUILTIN_HASHES: dict[str, str] = {}
"""`content_hash` of the built-ins read from their entries, as the entries record it."""
_FILES: dict[tuple[str, int, int], Instrument] = {}


def load_instrument(
    ref: Instrument | str | os.PathLike[str], *, overlay: str | os.PathLike[str] | None = None
) -> Instrument:
    """A built-in or an instrument pack's definition by id (`"phq9"`), any definition file by
    path, or an `Instrument` as is.

    `overlay` names a YAML file of item wording from the user's own licensed copy
    (`instrument: ID` and `items: {item_id: wording}`), applied on top of the definition.
    Raises `DefinitionError` listing every problem with its file position,
    `UnknownInstrumentError` for an id no built-in or pack has, and `InstrumentPackError` for
    an id two places define.
    """
    if isinstance(ref, Instrument):
        inst = ref
    elif isinstance(ref, str) and looks_like_id(ref):
        inst = _by_id(ref)
    else:
        inst = _from_path(Path(ref))
    if overlay is not None:
        inst = apply_overlay(inst, Path(overlay))
    return inst


def looks_like_id(ref: str) -> bool:
    """Whether a reference names an instrument by id (no path separator, no YAML extension)."""
    return not ref.endswith((".yaml", ".yml")) and "/" not in ref and os.sep not in ref


def _by_id(instrument_id: str) -> Instrument:
    index = _index()
    if instrument_id in index.clashes:
        raise InstrumentPackError(_clash_message(index.clashes[instrument_id]))
    source = index.found.get(instrument_id)
    if source is None:
        raise UnknownInstrumentError(_unknown_message(instrument_id, index))
    if source.kind == "built-in":
        cached = _BUILTINS.get(instrument_id)
        if cached is None:
            cached = _BUILTINS[instrument_id] = _builtin(source.path)
        return cached
    inst = _from_path(source.path)  # re-read when the file changes
    if inst.id != instrument_id:
        raise InstrumentPackError(
            f"{source.path} ({source.describe()}) defines '{inst.id}', but a definition "
            f"addressed by id is named after it: rename the file {inst.id}{source.path.suffix}"
        )
    return inst


def _builtin(path: Path) -> Instrument:
    """A built-in from its pre-checked entry when the file is unchanged (no YAML parse and no
    validators built: the first score in a fresh process), else parsed and checked from the
    file."""
    found = prechecked.read(path)
    if found is None:
        return _from_path(path)
    _BUILTIN_HASHES[found.instrument.id] = found.content_hash
    return found.instrument


def is_builtin(inst: Instrument) -> bool:
    """Whether this is the shipped definition of a built-in, as loaded by id."""
    return _BUILTINS.get(inst.id) is inst


def _unknown_message(instrument_id: str, index: _Index) -> str:
    builtins = sorted(k for k, s in index.found.items() if s.kind == "built-in")
    packs = sorted(k for k, s in index.found.items() if s.kind != "built-in")
    packed = f", nor one of an instrument pack (packs: {', '.join(packs)})" if packs else ""
    missing = "".join(f"; {SEARCH_PATH_ENV} folder {m} does not exist" for m in index.missing)
    return (
        f"no built-in instrument '{instrument_id}' (built-ins: {', '.join(builtins)}){packed}"
        f"{missing}; pass a path to load a definition file, or add its folder: "
        f"screening.register_folder(FOLDER) or {SEARCH_PATH_ENV}"
    )


def _from_path(path: Path) -> Instrument:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    cached = _FILES.get(key)
    if cached is None:
        inst, issues, _ = check_file(path)
        if inst is None or any(i.severity == "error" for i in issues):
            raise DefinitionError(issues, str(path))
        cached = _FILES[key] = inst
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
    from .yamlsafe import parse_yaml

    parsed = parse_yaml(text, file)
    inst, issues = _check(parsed, file)
    return inst, issues, parsed


def check_file(path: Path) -> tuple[Instrument | None, list[Issue], ParsedYaml]:
    """`check_parsed` for a file, read safely (`yamlsafe.read_yaml`): only a regular file, its
    size checked before reading. Raises `OSError` when it cannot be opened or read."""
    from .yamlsafe import read_yaml

    parsed = read_yaml(path)
    inst, issues = _check(parsed, str(path))
    return inst, issues, parsed


def _check(parsed: ParsedYaml, file: str | None) -> tuple[Instrument | None, list[Issue]]:
    if parsed.issues:
        return None, parsed.issues
    if not isinstance(parsed.data, dict):
        line, col = parsed.position(()) or (1, 1)
        issue = make_issue(DefinitionCode.NOT_A_MAPPING, got=type(parsed.data).__name__)
        return None, [issue._replace(file=file, line=line, col=col)]
    stated, version_issue = _stated_format(parsed, file)
    if version_issue is not None and version_issue.code == DefinitionCode.FORMAT_TOO_NEW:
        return None, [version_issue]  # its keys are not this library's to judge
    versioned = [] if version_issue is None else [version_issue]
    if stated is not None:
        versioned.extend(_newer_keys(parsed, stated, file))
    try:
        inst = Instrument.model_validate(parsed.data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        structural = pydantic_issues(exc, parsed, file)
        if version_issue is not None:  # said once, in our words
            structural = [i for i in structural if i.path != version_issue.path]
        structural += versioned
        # Unknown keys (typos, mostly) and wrong values of descriptive keys are set aside, so
        # the semantic checks still run on the rest and every problem is reported at once; the
        # definition stays rejected. When a part the checks depend on fails, they do not run.
        data = _set_aside(parsed.data, errors)
        if data is None:
            return None, _sorted(structural)
        try:
            stripped = Instrument.model_validate(data)
        except ValidationError:
            return None, _sorted(structural)
        semantic = [locate(i, parsed, file) for i in check_instrument(stripped)]
        return None, _sorted(structural + semantic)
    issues = [locate(i, parsed, file) for i in check_instrument(inst)]
    return inst, _sorted(versioned + issues)


def _stated_format(parsed: ParsedYaml, file: str | None) -> tuple[str | None, Issue | None]:
    """The format version a definition states, when this library reads it; else the issue: a
    version not of the form, or `format_too_new`. A missing or unknown version is left to the
    models (`missing_key`, `invalid_value`)."""
    path = ("format_version",)
    if path[0] not in parsed.data:
        return None, None
    value = parsed.data[path[0]]
    if not isinstance(value, str) or re.fullmatch(FORMAT_VERSION_PATTERN, value) is None:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        why = "; a YAML number loses the form (1.10 reads as 1.1)" if number else ""
        issue = make_issue(
            DefinitionCode.INVALID_VALUE,
            path,
            where=format_path(path),
            detail=f'a version is quoted text, "MAJOR.MINOR" (e.g. "{FORMAT_VERSION}"){why}',
            got=_short(value),
        )
        return None, locate(issue, parsed, file)
    if format_version_key(value) > format_version_key(FORMAT_VERSION):
        issue = make_issue(
            DefinitionCode.FORMAT_TOO_NEW,
            path,
            stated=value,
            version=__version__,
            supported=FORMAT_VERSION,
        )
        return None, locate(issue, parsed, file)
    return (value if value in FORMAT_KEYS else None), None


def _newer_keys(parsed: ParsedYaml, stated: str, file: str | None) -> list[Issue]:
    """Each key the definition uses that a format later than the one it states added
    (`key_needs_newer_format`), at the key. The data is walked beside the types that may hold
    it, so a key counts as newer only when every model that has it added it later."""
    said = format_version_key(stated)
    if all(format_version_key(v) <= said for v in FORMAT_KEYS):
        return []  # no key is newer than the file's format: nothing to walk
    out: list[Issue] = []
    stack: list[tuple[Any, list[Any], tuple[Any, ...]]] = [(parsed.data, [Instrument], ())]
    while stack:
        value, types_, path = stack.pop()
        members: list[Any] = []
        for tp in types_:
            members.extend(m for m, _ in _members(tp, value=value) if m not in members)
        if isinstance(value, dict):
            entries: Iterable[tuple[Any, Any]] = value.items()
        elif isinstance(value, list):
            entries = enumerate(value)
        else:
            continue
        models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
        for part, child in entries:
            here = (*path, part)
            arrived = [key_arrived(m, part) for m in models] if isinstance(value, dict) else []
            known = [v for v in arrived if v is not None]
            needs = min(known, key=format_version_key) if known else None
            key = part
            if (needs is None or format_version_key(needs) <= said) and isinstance(child, str):
                valued = [FORMAT_VALUES.get((m, part, child)) for m in models]
                needs = min((v for v in valued if v), key=format_version_key, default=None)
                key = f"{part}: {child}"
            if needs is not None and format_version_key(needs) > said:
                issue = make_issue(
                    DefinitionCode.KEY_NEEDS_NEWER_FORMAT,
                    here,
                    where=format_path(here),
                    key=key,
                    needs=needs,
                    stated=stated,
                )
                line, col = parsed.key_position(here) or (None, None)
                out.append(issue._replace(file=file, line=line, col=col))
            children = [c for m in members for c in _children(m, part)]
            stack.append((child, children, here))
    return out


# Optional keys whose value no semantic check reads, so that leaving one out (its default) can
# only hide a problem, never raise one. A wrong value there is set aside and the checks run on
# the rest. Anything named or cited elsewhere (sources, option sets, scales, skip logic, ...)
# is not here: leaving it out would report what refers to it as unknown.
_DESCRIPTIVE: dict[type[BaseModel], frozenset[str]] = {
    Instrument: frozenset(("abbreviation", "timeframe", "respondent", "description", "codes")),
    Item: frozenset(("text", "codes")),
    Option: frozenset(("code",)),
    Codes: frozenset(("loinc",)),
    License: frozenset(("url",)),
    SourceEntry: frozenset(("url",)),
    Scale: frozenset(("label", "codes")),
    Band: frozenset(("note",)),
    Classification: frozenset(("label", "codes")),
    ClassificationRule: frozenset(("note",)),
    ContextVariable: frozenset(("description",)),
    Case: frozenset(("context",)),
    BandTable: frozenset(("label",)),
    Coding: frozenset(("description",)),
    Expectation: frozenset(("scales", "flags", "classifications", "errors")),
    ScaleExpectation: frozenset(("score", "band", "prorated", "answered", "missing", "valid")),
}


def _set_aside(data: Any, errors: list[ErrorDetails]) -> Any:
    """A copy of the data without its unknown keys and failing descriptive values; None when
    any other part fails."""
    removals: list[tuple[Any, ...]] = []
    for err in errors:
        steps = _steps(tuple(err["loc"]), data)
        if err["type"] == "extra_forbidden" and steps:
            removals.append(tuple(part for part, _ in steps))
            continue
        found = None
        for end in range(len(steps), 0, -1):
            part, containers = steps[end - 1]
            models = [m for m in containers if _field_name(m, part) is not None]
            if models and all(_field_name(m, part) in _DESCRIPTIVE.get(m, ()) for m in models):
                found = tuple(p for p, _ in steps[:end])
                break
        if found is None:
            return None
        removals.append(found)
    copied = json.loads(json.dumps(data))
    for path in removals:
        node = copied
        for part in path[:-1]:
            node = node[part] if isinstance(node, dict | list) else None
        if isinstance(node, dict):
            node.pop(path[-1], None)
    return copied


def _steps(loc: tuple[Any, ...], data: Any) -> list[tuple[Any, list[type[BaseModel]]]]:
    """Each part of a validation location that is in the data (union tags skipped), with the
    models that may hold it."""
    types_: list[Any] = [Instrument]
    cursor = data
    out: list[tuple[Any, list[type[BaseModel]]]] = []
    for part in loc:
        in_dict = isinstance(cursor, dict) and part in cursor
        in_list = isinstance(cursor, list) and isinstance(part, int) and part < len(cursor)
        members = [m for t in types_ for m in _members(t)]
        if not (in_dict or in_list):
            # a union member's tag: keep that member
            chosen = [t for t, tags in members if part in tags]
            if chosen:
                types_ = chosen
            continue
        cursor = cursor[part]
        models = [m for m, _ in members if isinstance(m, type) and issubclass(m, BaseModel)]
        out.append((part, models))
        types_ = [c for m, _ in members for c in _children(m, part)]
    return out


_ANY = object()


def _members(
    tp: Any, tags: frozenset[str] = frozenset(), *, value: Any = _ANY
) -> list[tuple[Any, frozenset[str]]]:
    """The types a (possibly annotated, optional or union) type admits, with the tags by which
    a validation location names each. Given a `value`, a discriminated union admits only the
    member its discriminator picks for it (when it picks one)."""
    origin = get_origin(tp)
    if origin is Annotated:
        inner, *meta = get_args(tp)
        names = {m.tag for m in meta if isinstance(m, Tag)}
        found = _members(inner, tags | names, value=value)
        for m in meta:
            if isinstance(m, Discriminator) and callable(m.discriminator) and value is not _ANY:
                tag = m.discriminator(value)
                found = found if tag is None else [(t, g) for t, g in found if tag in g]
        return found
    if origin is Union or origin is types.UnionType:
        return [m for arg in get_args(tp) for m in _members(arg, tags, value=value)]
    if tp is type(None):
        return []
    return [(tp, tags | {_type_name(tp)})]


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is None:
        return str(getattr(tp, "__name__", tp))
    return f"{_type_name(origin)}[{', '.join(_type_name(a) for a in get_args(tp))}]"


def _children(tp: Any, part: Any) -> list[Any]:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        if not tp.__pydantic_complete__:
            # built on first use: a condition within a condition names `Condition`, defined
            # after it, so its field's type is known once the model is built
            tp.model_rebuild()
        name = _field_name(tp, part)
        return [] if name is None else [tp.model_fields[name].annotation]
    origin = get_origin(tp)
    if origin is list and isinstance(part, int):
        return [get_args(tp)[0]]
    if origin is dict and isinstance(part, str):
        return [get_args(tp)[1]]
    return []


def _field_name(model: type[BaseModel], key: Any) -> str | None:
    """The field a YAML key names (its alias, or its name)."""
    for name, info in model.model_fields.items():
        if key == (info.alias or name):
            return name
    return None


def _keys(models: Iterable[type[BaseModel]]) -> set[str]:
    return {info.alias or name for m in models for name, info in m.model_fields.items()}


def _sorted(issues: Iterable[Issue]) -> list[Issue]:
    return sorted(issues, key=lambda i: (i.line or 0, i.col or 0, i.code))


def locate(issue: Issue, parsed: ParsedYaml, file: str | None) -> Issue:
    position = parsed.position(issue.path)
    line, col = position if position is not None else (None, None)
    return issue._replace(file=file, line=line, col=col)


def pydantic_issues(exc: ValidationError, parsed: ParsedYaml, file: str | None) -> list[Issue]:
    """Pydantic's errors in our words, each at its position in the file: a missing key at its
    mapping, an unknown key at the key itself."""
    out: dict[tuple[Any, ...], Issue] = {}
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        path = parsed.data_path(loc)
        kind = err["type"]
        where = format_path(path) or "top level"
        text = err["msg"].removeprefix("Value error, ")
        if kind == "missing":
            issue = make_issue(DefinitionCode.MISSING_KEY, path, where=where, key=loc[-1])
        elif kind == "extra_forbidden":
            hint = _did_you_mean(loc, parsed.data)
            issue = make_issue(
                DefinitionCode.UNKNOWN_KEY, path, where=where, key=loc[-1], hint=hint
            )
        else:
            got = _short(err.get("input"))
            issue = make_issue(
                DefinitionCode.INVALID_VALUE, path, where=where, detail=text, got=got
            )
        code = issue.code
        if code == DefinitionCode.UNKNOWN_KEY:
            line, col = parsed.key_position(path) or (None, None)
            issue = issue._replace(file=file, line=line, col=col)
        else:
            issue = locate(issue, parsed, file)
        # every missing key of a mapping is its own issue; a union's member errors are one
        key = (path, code) if code == DefinitionCode.INVALID_VALUE else (path, code, loc[-1])
        if key in out and code == DefinitionCode.INVALID_VALUE:
            # a union reports once per member; keep one line that names them all
            previous = out[key]
            assert previous.ctx is not None
            ctx = {**previous.ctx, "detail": f"{previous.ctx['detail']}; or {text}"}
            again = make_issue(DefinitionCode.INVALID_VALUE, previous.path, **ctx)
            out[key] = previous._replace(message=again.message, ctx=again.ctx)
        elif key not in out:
            out[key] = issue
    return list(out.values())


def _did_you_mean(loc: tuple[Any, ...], data: Any) -> str:
    """`; did you mean 'label'?` naming the closest key the mapping may have, if any is close."""
    steps = _steps(loc, data)
    if not steps:
        return ""
    key, models = steps[-1]
    holder = data
    for part, _ in steps[:-1]:
        holder = holder[part]
    allowed = sorted(k for k in _keys(models) if not (isinstance(holder, dict) and k in holder))
    close = difflib.get_close_matches(str(key), allowed, n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def content_hash(inst: Instrument) -> str:
    """SHA-256 of the definition's scoring content (item wording excluded, so overlays keep it)."""
    if is_builtin(inst) and inst.id in _BUILTIN_HASHES:
        return _BUILTIN_HASHES[inst.id]  # worked out when its entry was written (no serializer)
    data = inst.model_dump(mode="json", by_alias=True, exclude_none=True)
    del data["format_version"]  # the form it is written in, not what it scores
    for item in data["items"]:
        item.pop("text", None)
    blob = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return "sha256:" + hashlib.sha256(blob).hexdigest()


def apply_overlay(inst: Instrument, path: Path) -> Instrument:
    """Item wording from the user's licensed copy, laid over a definition."""
    from .yamlsafe import read_yaml

    parsed = read_yaml(path)
    issues = list(parsed.issues)
    wording: dict[str, Any] = {}
    data = parsed.data if isinstance(parsed.data, dict) else {}
    if not issues:
        for extra in sorted(set(data) - {"instrument", "items"}):
            issues.append(
                make_issue(
                    DefinitionCode.UNKNOWN_KEY,
                    (extra,),
                    where=extra,
                    key=extra,
                    hint="; an overlay has instrument and items",
                )
            )
        if data.get("instrument") != inst.id:
            issues.append(
                make_issue(
                    DefinitionCode.OVERLAY_INSTRUMENT,
                    ("instrument",),
                    given=data.get("instrument"),
                    instrument=inst.id,
                )
            )
        given = data.get("items")
        known = {i.id for i in inst.items}
        if isinstance(given, dict):
            wording = given
        else:
            issues.append(
                make_issue(
                    DefinitionCode.OVERLAY_ITEMS,
                    ("items",),
                    subject="items",
                    expected="a mapping of item ids to wording",
                )
            )
        for item_id, text in wording.items():
            if item_id not in known:
                issues.append(
                    make_issue(
                        DefinitionCode.UNKNOWN_ITEM,
                        ("items", item_id),
                        owner="overlay",
                        verb="names unknown",
                        item_id=item_id,
                    )
                )
            elif not isinstance(text, str) or not text.strip():
                issues.append(
                    make_issue(
                        DefinitionCode.OVERLAY_ITEMS,
                        ("items", item_id),
                        subject=f"wording of '{item_id}'",
                        expected="text",
                        item_id=item_id,
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
