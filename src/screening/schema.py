"""The JSON Schema of the definition format, generated from the models.

Pydantic writes a numeric bound it cannot attach to a single type (`le=1000` on
`StrictInt | StrictFloat`) under its own name (`le`), a keyword JSON Schema does not have and
so ignores. Here each such bound becomes the keyword that enforces it (`maximum`), so that an
editor refuses what the loader refuses. Field docstrings arrive as `description`s, read from
the models' source here rather than when the models are built (which would cost every
`import screening` some 50 ms).
"""

from __future__ import annotations

import ast
import inspect
import itertools
from typing import Any

from pydantic import BaseModel

from . import definition
from .definition import Instrument

__all__ = [
    "DIALECT",
    "instrument_schema",
]

DIALECT = "https://json-schema.org/draft/2020-12/schema"

_BOUNDS = {
    "gt": "exclusiveMinimum",
    "ge": "minimum",
    "lt": "exclusiveMaximum",
    "le": "maximum",
    "multiple_of": "multipleOf",
}
"""Pydantic's names of the numeric bounds → the JSON Schema keywords."""

_SUBSCHEMA = frozenset(
    (
        "additionalProperties",
        "contains",
        "else",
        "if",
        "items",
        "not",
        "propertyNames",
        "then",
        "unevaluatedItems",
        "unevaluatedProperties",
    )
)
_SUBSCHEMA_LISTS = frozenset(("allOf", "anyOf", "oneOf", "prefixItems"))
_SUBSCHEMA_MAPS = frozenset(("$defs", "dependentSchemas", "patternProperties", "properties"))


def instrument_schema() -> dict[str, Any]:
    """The JSON Schema of the definition format."""
    schema: dict[str, Any] = _real_bounds(Instrument.model_json_schema(by_alias=True))
    _describe(schema, "Instrument")
    for name, sub in schema.get("$defs", {}).items():
        _describe(sub, name)
    schema["$schema"] = DIALECT
    schema["title"] = "screening instrument definition"
    return schema


def _real_bounds(schema: Any) -> Any:
    """The schema with every bound under the JSON Schema keyword that enforces it, its
    subschemas likewise; the names of properties are left alone (`gt` is a condition's key)."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _BOUNDS:
            out[_BOUNDS[key]] = value
        elif key in _SUBSCHEMA:
            out[key] = _real_bounds(value)
        elif key in _SUBSCHEMA_LISTS:
            out[key] = [_real_bounds(v) for v in value]
        elif key in _SUBSCHEMA_MAPS:
            out[key] = {name: _real_bounds(v) for name, v in value.items()}
        else:
            out[key] = value
    return out


def _field_docstrings() -> dict[str, dict[str, str]]:
    """Model name → field name → the docstring written under the field in definition.py."""
    tree = ast.parse(inspect.getsource(definition))
    out: dict[str, dict[str, str]] = {}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        fields: dict[str, str] = {}
        body = node.body
        for first, second in itertools.pairwise(body):
            if (
                isinstance(first, ast.AnnAssign)
                and isinstance(first.target, ast.Name)
                and isinstance(second, ast.Expr)
                and isinstance(second.value, ast.Constant)
                and isinstance(second.value.value, str)
            ):
                fields[first.target.id] = inspect.cleandoc(second.value.value)
        out[node.name] = fields
    return out


def _describe(schema: dict[str, Any], model_name: str) -> None:
    """Each property of a model's schema described by its field's docstring (inherited ones
    included), keyed as the YAML spells it (its alias)."""
    model = getattr(definition, model_name, None)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return
    docs = _field_docstrings()
    written: dict[str, str] = {}
    for klass in reversed(model.__mro__):  # a subclass's docstring wins
        written.update(docs.get(klass.__name__, {}))
    properties = schema.get("properties", {})
    for field, text in written.items():
        info = model.model_fields.get(field)
        key = (info.alias or field) if info is not None else field
        if key in properties:
            properties[key]["description"] = text
