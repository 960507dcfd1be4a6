"""Safe YAML 1.2 → plain data, with a side table of source positions.

The node tree is composed once by ruamel.yaml and walked here: scalars are typed by the YAML 1.2
core schema (`No` stays a string, whatever a `%YAML` directive says), any tag outside it is
refused, anchors and aliases are refused before anything is expanded, duplicate keys are reported
where they stand. Nothing is constructed from a tag, so nothing is executed.

The cost is bounded before it is spent: only a regular file is opened, its size is checked
before it is read and no more than `MAX_BYTES` + 1 bytes are read, a character YAML does not
allow is found before parsing, and composing stops at the node past `MAX_NODES` nodes or
`MAX_DEPTH` levels. Every refusal names its line and column.
"""

from __future__ import annotations

import io
import os
import re
import stat
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.tag import Tag

from .codes import DefinitionCode
from .errors import Issue, PathPart, make_issue

MAX_BYTES = 100_000
"""About five times the largest built-in definition (20 KB)."""
MAX_NODES = 10_000
"""Keys, values, lists and mappings; the largest built-in definition has about 1,500."""
MAX_DEPTH = 50
MAX_DIGITS = 100
"""A number with more digits is refused: no definition needs one, and Python refuses to read
integers of more than 4,300 digits."""

_CORE = "tag:yaml.org,2002:"
_STR, _NULL, _BOOL, _INT, _FLOAT = (f"{_CORE}{t}" for t in ("str", "null", "bool", "int", "float"))
_SEQ, _MAP = f"{_CORE}seq", f"{_CORE}map"
_PLAIN = "tag:screening,2026:plain"
"""Given by the resolver to every untagged plain scalar, which the walker then types."""

# The YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution).
_NULLS = frozenset(("", "~", "null", "Null", "NULL"))
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_DECIMAL = re.compile(r"[-+]?[0-9]+")
_OCTAL = re.compile(r"0o[0-7]+")
_HEX = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT_FORM = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_INFINITY = re.compile(r"[-+]?\.(?:inf|Inf|INF)")
_NAN = re.compile(r"\.(?:nan|NaN|NAN)")

# What the YAML reader refuses (ruamel's Reader.NON_PRINTABLE), found here first for its position.
_NOT_PRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
_LINE_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")

Path = tuple[PathPart, ...]
Positions = dict[Path, tuple[int, int]]


class ParsedYaml:
    """The data of a YAML document and where each value stands (1-based line, column).

    `positions` holds where each value starts; `key_positions` where the key of each mapping
    entry starts (the same path).
    """

    def __init__(
        self,
        data: Any,
        positions: Positions,
        issues: list[Issue],
        key_positions: Positions | None = None,
    ) -> None:
        self.data = data
        self.positions = positions
        self.issues = issues
        self.key_positions: Positions = key_positions or {}

    def position(self, path: Path) -> tuple[int, int] | None:
        """The position of the deepest part of `path` that exists in the document."""
        for end in range(len(path), -1, -1):
            found = self.positions.get(path[:end])
            if found is not None:
                return found
        return None

    def key_position(self, path: Path) -> tuple[int, int] | None:
        """Where the key of the mapping entry at `path` stands; else as `position`."""
        return self.key_positions.get(path) or self.position(path)

    def data_path(self, loc: tuple[Any, ...]) -> Path:
        """A validation error's location mapped onto the document, skipping union tags."""
        cursor, path = self.data, []
        for part in loc:
            in_dict = isinstance(cursor, dict) and part in cursor
            in_list = isinstance(cursor, list) and isinstance(part, int) and part < len(cursor)
            if in_dict or in_list:
                cursor = cursor[part]
                path.append(part)
            # anything else is a union member's tag or a missing key: skipped
        return tuple(path)


def _refused(
    code: DefinitionCode, file: str | None, line: int = 1, col: int = 1, **ctx: Any
) -> ParsedYaml:
    """A document refused whole: no data, one issue at its position."""
    issue = make_issue(code, **ctx)._replace(file=file, line=line, col=col)
    return ParsedYaml(None, {}, [issue])


def read_yaml(path: str | os.PathLike[str]) -> ParsedYaml:
    """Read and parse a YAML file; raises `OSError` only when it cannot be opened or read.

    Only a regular file is opened (a FIFO, device or directory is refused from its status, so
    nothing blocks or streams without end), its size is checked before reading, and at most
    `MAX_BYTES` + 1 bytes are read.
    """
    file = str(path)
    before = os.stat(path)
    if not stat.S_ISREG(before.st_mode):
        return _not_a_file(before.st_mode, file)
    if before.st_size > MAX_BYTES:
        return _too_large(before.st_size, file)
    # Non-blocking, so a file swapped for a FIFO since the check cannot block the open either.
    nonblocking = getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, os.O_RDONLY | nonblocking | getattr(os, "O_NOCTTY", 0))
    with open(fd, "rb", closefd=True) as stream:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            return _not_a_file(mode, file)
        if nonblocking:
            os.set_blocking(fd, True)
        data = stream.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:  # it grew since, or its size is not known in advance
        return _too_large(f"more than {MAX_BYTES}", file)
    return parse_yaml(data, file)


def _not_a_file(mode: int, file: str) -> ParsedYaml:
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    kind = next((name for test, name in kinds if test(mode)), "a special file")
    return _refused(DefinitionCode.NOT_A_FILE, file, kind=kind)


def _too_large(size: int | str, file: str | None) -> ParsedYaml:
    """`size` is the byte count, or `more than N` when only a lower bound is known."""
    return _refused(DefinitionCode.FILE_TOO_LARGE, file, size=size, limit=MAX_BYTES)


def parse_yaml(text: str | bytes, file: str | None = None) -> ParsedYaml:
    """Parse a YAML document safely; problems come back as issues, never as execution."""
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if len(raw) > MAX_BYTES:
        return _too_large(len(raw), file)
    if isinstance(text, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            start = raw.rfind(b"\n", 0, exc.start) + 1
            col = len(raw[start : exc.start].decode("utf-8", "replace")) + 1
            return _refused(
                DefinitionCode.ENCODING, file, line, col, reason=exc.reason, byte=exc.start
            )
    bad = _NOT_PRINTABLE.search(text)
    if bad is not None:
        line, col = _position(text, bad.start())
        code = ord(bad.group())
        what = "NUL" if code == 0 else "a control character" if code < 0xA0 else "a non-character"
        if 0xD800 <= code <= 0xDFFF:
            what = "a lone surrogate"
        character = f"U+{code:04X}"
        return _refused(
            DefinitionCode.YAML_SYNTAX,
            file,
            line,
            col,
            detail=f"character {character} ({what}) is not allowed in YAML",
            character=character,
            kind=what,
        )
    yaml = _yaml()
    try:
        node = yaml.compose(io.StringIO(text))
    except _Refusal as exc:
        return _refused(exc.code, file, exc.mark.line + 1, exc.mark.column + 1, limit=exc.limit)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        message = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        return _refused(DefinitionCode.YAML_SYNTAX, file, line, col, detail=message or str(exc))
    except YAMLError as exc:  # a reader error: not expected after the check above
        index = getattr(exc, "position", None)
        line, col = _position(text, index) if isinstance(index, int) else (1, 1)
        detail = str(exc).splitlines()[0]
        return _refused(DefinitionCode.YAML_SYNTAX, file, line, col, detail=detail)
    if node is None:
        return _refused(DefinitionCode.EMPTY, file)
    walker = _Walker(file)
    data = walker.build(node, ())
    return ParsedYaml(data, walker.positions, walker.issues, walker.key_positions)


def _position(text: str, index: int) -> tuple[int, int]:
    """The 1-based line and column of a character, counting line breaks as the YAML reader does."""
    line, start = 1, 0
    for found in _LINE_BREAK.finditer(text, 0, index):
        line, start = line + 1, found.end()
    return line, index - start + 1


class _Refusal(Exception):
    """A limit crossed while composing: ends the parse at once, with the position."""

    def __init__(self, code: DefinitionCode, limit: int, mark: Any) -> None:
        super().__init__(code)
        self.code, self.limit, self.mark = code, limit, mark


class _Composer(Composer):
    """ruamel's composer, counting nodes and levels and refusing past the limits before
    it composes (and recurses) any further."""

    def __init__(self, loader: Any = None) -> None:
        super().__init__(loader)
        self.nodes = 0
        self.level = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _Refusal(
                DefinitionCode.YAML_NODES, MAX_NODES, self.parser.peek_event().start_mark
            )
        if self.level >= MAX_DEPTH + 1:
            raise _Refusal(
                DefinitionCode.YAML_DEPTH, MAX_DEPTH, self.parser.peek_event().start_mark
            )
        self.level += 1
        node = super().compose_node(parent, index)
        self.level -= 1
        return node


class _CoreResolver(VersionedResolver):
    """Leaves plain scalars to the walker's YAML 1.2 core typing, whatever the `%YAML`
    directive says; quoted and block scalars are text."""

    @property
    def processing_version(self) -> Any:
        return (1, 2)

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is ScalarNode:
            return Tag(suffix=_PLAIN if implicit[0] else _STR)
        return super().resolve(kind, value, implicit)


def _yaml() -> YAML:
    yaml = YAML(typ="safe", pure=True)
    yaml.version = (1, 2)
    yaml.Composer = _Composer
    yaml.Resolver = _CoreResolver
    return yaml


class _BadValue(ValueError):
    """A scalar not of its tag's form; the message says which form it needed."""


def _implicit_tag(value: str) -> str:
    """The core schema's tag for an untagged plain scalar."""
    if value in _NULLS:
        return _NULL
    if value in _BOOLS:
        return _BOOL
    if _DECIMAL.fullmatch(value) or _OCTAL.fullmatch(value) or _HEX.fullmatch(value):
        return _INT
    if _FLOAT_FORM.fullmatch(value) or _INFINITY.fullmatch(value) or _NAN.fullmatch(value):
        return _FLOAT
    return _STR


def _number_length(value: str) -> None:
    digits = sum(c.isdigit() for c in value)
    if digits > MAX_DIGITS:
        raise _BadValue(f"number too long ({digits} digits; at most {MAX_DIGITS})")


def _construct(tag: str, value: str) -> Any:
    """A scalar's value by the core schema; `_BadValue` when it is not of its tag's form."""
    if tag == _STR:
        return value
    if tag == _NULL:
        if value in _NULLS:
            return None
        raise _BadValue(f"{value!r} is not null (write null, ~ or nothing)")
    if tag == _BOOL:
        if value in _BOOLS:
            return _BOOLS[value]
        raise _BadValue(f"{value!r} is not a boolean (write true or false)")
    if tag == _INT:
        _number_length(value)
        if _DECIMAL.fullmatch(value):
            return int(value, 10)
        if _OCTAL.fullmatch(value):
            return int(value[2:], 8)
        if _HEX.fullmatch(value):
            return int(value[2:], 16)
        raise _BadValue(f"{_short(value)} is not an integer")
    assert tag == _FLOAT
    _number_length(value)
    if _FLOAT_FORM.fullmatch(value) or _INFINITY.fullmatch(value):
        return float(value.replace(".inf", "inf").replace(".Inf", "inf").replace(".INF", "inf"))
    if _NAN.fullmatch(value):
        return float("nan")
    raise _BadValue(f"{_short(value)} is not a number")


def _short(value: str) -> str:
    return repr(value) if len(value) <= 40 else repr(value[:37] + "...")


_SCALAR_TAGS = frozenset((_STR, _NULL, _BOOL, _INT, _FLOAT))


class _Walker:
    def __init__(self, file: str | None) -> None:
        self.file = file
        self.positions: Positions = {}
        self.key_positions: Positions = {}
        self.issues: list[Issue] = []
        self.anchored: set[int] = set()

    def issue(self, code: DefinitionCode, path: Path, node: Node, **ctx: Any) -> None:
        line, col = node.start_mark.line + 1, node.start_mark.column + 1
        issue = make_issue(code, path, **ctx)._replace(file=self.file, line=line, col=col)
        self.issues.append(issue)

    def refuse_anchor(self, node: Node, path: Path) -> bool:
        """Whether the node carries an anchor (an alias is the anchored node itself), reported
        once per anchor."""
        anchor = getattr(node, "anchor", None)
        if anchor is None:
            return False
        if id(node) not in self.anchored:
            self.anchored.add(id(node))
            self.issue(DefinitionCode.YAML_ANCHOR, path, node, anchor=anchor)
        return True

    def build(self, node: Node, path: Path) -> Any:
        self.positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if self.refuse_anchor(node, path):
            return None
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            if node.tag != _SEQ:
                self.issue(DefinitionCode.YAML_TAG, path, node, tag=str(node.tag))
                return None
            return [self.build(child, (*path, i)) for i, child in enumerate(node.value)]
        assert isinstance(node, ScalarNode)
        tag = self.scalar_tag(node)
        if tag not in _SCALAR_TAGS:
            self.issue(DefinitionCode.YAML_TAG, path, node, tag=tag)
            return None
        try:
            return _construct(tag, node.value)
        except _BadValue as exc:
            form = tag.removeprefix(_CORE)
            self.issue(DefinitionCode.YAML_VALUE, path, node, detail=str(exc), form=form)
            return None

    @staticmethod
    def scalar_tag(node: ScalarNode) -> str:
        tag = str(node.tag)
        if tag != _PLAIN:
            return tag
        return _implicit_tag(node.value) if node.style is None else _STR

    def _mapping(self, node: MappingNode, path: Path) -> dict[str, Any]:
        if node.tag != _MAP:
            self.issue(DefinitionCode.YAML_TAG, path, node, tag=str(node.tag))
            return {}
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if self.refuse_anchor(key_node, path):
                continue
            if _is_merge_key(key_node):
                self.issue(DefinitionCode.YAML_MERGE, path, key_node)
                continue
            if not isinstance(key_node, ScalarNode) or self.scalar_tag(key_node) != _STR:
                shown = key_node.value if isinstance(key_node, ScalarNode) else "a collection"
                self.issue(DefinitionCode.YAML_KEY, path, key_node, key=shown)
                continue
            key = key_node.value
            if key in out:
                first_line, _ = self.key_positions[(*path, key)]
                self.issue(
                    DefinitionCode.DUPLICATE_KEY,
                    (*path, key),
                    key_node,
                    key=key,
                    first_line=first_line,
                )
                continue
            self.key_positions[(*path, key)] = (
                key_node.start_mark.line + 1,
                key_node.start_mark.column + 1,
            )
            out[key] = self.build(value_node, (*path, key))
        return out


def _is_merge_key(node: Node) -> bool:
    """`<<` written plain: a YAML 1.1 merge key (quoted, it is text)."""
    return (
        isinstance(node, ScalarNode)
        and str(node.tag) == _PLAIN
        and node.value == "<<"
        and node.style is None
    )
