"""The JSON Schema of the definition format, generated from the models.

Pydantic writes a numeric bound it cannot attach to a single type (`le=1000` on
`StrictInt | StrictFloat`) under its own name (`le`), a keyword JSON Schema does not have and
so ignores. Here each such bound becomes the keyword that enforces it (`maximum`), so that an
editor refuses what the loader refuses. Field docstrings arrive as `description`s
(`use_attribute_docstrings` on the models).
"""

from __future__ import annotations

from typing import Any

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
