"""Safe YAML 1.2 → plain data, with a side table of source positions.

The node tree is composed once by ruamel.yaml and walked here: scalars are typed by the YAML 1.2
core schema (`No` stays a string), any tag outside it is refused, anchors and aliases are refused
before anything is expanded, duplicate keys are reported where they stand, and the file size
and nesting depth are capped. Nothing is constructed from a tag, so nothing is executed.
"""

from __future__ import annotations

import io
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import Issue, PathPart

MAX_BYTES = 1_000_000
MAX_DEPTH = 50

_CORE = "tag:yaml.org,2002:"
_SCALAR_TAGS = {f"{_CORE}{t}" for t in ("str", "int", "float", "bool", "null")}

Path = tuple[PathPart, ...]
Positions = dict[Path, tuple[int, int]]


class ParsedYaml:
    """The data of a YAML document and where each value stands (1-based line, column)."""

    def __init__(self, data: Any, positions: Positions, issues: list[Issue]) -> None:
        self.data = data
        self.positions = positions
        self.issues = issues

    def position(self, path: Path) -> tuple[int, int] | None:
        """The position of the deepest part of `path` that exists in the document."""
        for end in range(len(path), -1, -1):
            found = self.positions.get(path[:end])
            if found is not None:
                return found
        return None

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


def _yaml() -> YAML:
    yaml = YAML(typ="safe", pure=True)
    yaml.version = (1, 2)
    return yaml


def parse_yaml(text: str | bytes, file: str | None = None) -> ParsedYaml:
    """Parse a YAML document safely; problems come back as issues, never as execution."""
    size = len(text.encode() if isinstance(text, str) else text)
    if size > MAX_BYTES:
        return ParsedYaml(
            None,
            {},
            [
                Issue(
                    "file_too_large",
                    f"file is {size} bytes; the limit is {MAX_BYTES}",
                    (),
                    file=file,
                )
            ],
        )
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            return ParsedYaml(None, {}, [Issue("encoding", f"not UTF-8: {exc}", file=file)])
    yaml = _yaml()
    try:
        node = yaml.compose(io.StringIO(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
        message = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        return ParsedYaml(
            None, {}, [Issue("yaml_syntax", message or str(exc), (), file=file, line=line, col=col)]
        )
    except (YAMLError, RecursionError) as exc:
        reason = "nesting too deep" if isinstance(exc, RecursionError) else str(exc)
        return ParsedYaml(None, {}, [Issue("yaml_syntax", reason, (), file=file)])
    if node is None:
        return ParsedYaml(None, {}, [Issue("empty", "the file is empty", (), file=file)])
    walker = _Walker(yaml, file)
    data = walker.build(node, (), 0)
    return ParsedYaml(data, walker.positions, walker.issues)


class _Walker:
    def __init__(self, yaml: YAML, file: str | None) -> None:
        self.constructor = yaml.constructor
        self.file = file
        self.positions: Positions = {}
        self.issues: list[Issue] = []

    def issue(self, code: str, message: str, path: Path, node: Node) -> None:
        self.issues.append(
            Issue(
                code,
                message,
                path,
                file=self.file,
                line=node.start_mark.line + 1,
                col=node.start_mark.column + 1,
            )
        )

    def build(self, node: Node, path: Path, depth: int) -> Any:
        self.positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if getattr(node, "anchor", None) is not None:
            self.issue(
                "yaml_anchor",
                f"anchors and aliases are not allowed (found '&{node.anchor}'); "
                "write the value out",
                path,
                node,
            )
            return None
        if depth > MAX_DEPTH:
            self.issue("yaml_depth", f"nesting deeper than {MAX_DEPTH} levels", path, node)
            return None
        if isinstance(node, MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, SequenceNode):
            if node.tag != f"{_CORE}seq":
                self.issue("yaml_tag", f"tag '{node.tag}' is not allowed", path, node)
                return None
            return [self.build(child, (*path, i), depth + 1) for i, child in enumerate(node.value)]
        assert isinstance(node, ScalarNode)
        if node.tag not in _SCALAR_TAGS:
            self.issue("yaml_tag", f"tag '{node.tag}' is not allowed", path, node)
            return None
        return self.constructor.construct_object(node, deep=True)

    def _mapping(self, node: MappingNode, path: Path, depth: int) -> dict[str, Any]:
        if node.tag != f"{_CORE}map":
            self.issue("yaml_tag", f"tag '{node.tag}' is not allowed", path, node)
            return {}
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == f"{_CORE}merge":
                self.issue(
                    "yaml_merge",
                    "merge keys (<<) are not allowed; write the keys out",
                    path,
                    key_node,
                )
                continue
            if not isinstance(key_node, ScalarNode) or key_node.tag != f"{_CORE}str":
                shown = key_node.value if isinstance(key_node, ScalarNode) else "a collection"
                self.issue(
                    "yaml_key", f"keys must be text (got {shown!r}); quote it", path, key_node
                )
                continue
            key = key_node.value
            if key in out:
                first = self.positions.get((*path, key))
                where = f" (first at line {first[0]})" if first else ""
                self.issue("duplicate_key", f"duplicate key '{key}'{where}", (*path, key), key_node)
                continue
            out[key] = self.build(value_node, (*path, key), depth + 1)
        return out
