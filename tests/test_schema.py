"""The JSON Schema enforces every bound it advertises, and carries the fields' docstrings.

Every bound the schema declares is found by walking it, and tried on a built-in definition (or a
test definition, for parts no built-in has): a value just inside passes, a value just outside
fails there, and the loader refuses that value too.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple, get_args

import jsonschema
import pytest
from pydantic import BaseModel

import screening
from screening.definition import Instrument
from screening.loading import check_text
from screening.schema import instrument_schema
from screening.yamlsafe import parse_yaml

from .conftest import DEFINITIONS, ROOT

SCHEMA = json.loads((ROOT / "docs" / "instrument.schema.json").read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
BUILTIN_FILES = sorted((ROOT / "instruments").glob("*.yaml"))
# parts of the format no built-in uses: count conditions, norms, ...
EXTRA_FILES = [
    DEFINITIONS / "features.yaml",
    DEFINITIONS / "good.yaml",
    DEFINITIONS / "scores.yaml",
    DEFINITIONS / "normed.yaml",
    DEFINITIONS / "derived.yaml",
    DEFINITIONS / "decimal.yaml",
    DEFINITIONS / "marks.yaml",
]
CHANGE = (DEFINITIONS / "good.yaml").read_text(encoding="utf-8") + (
    "change:\n"
    "  total:\n"
    "    direction: higher_is_worse\n"
    "    reliable_change: {reliability: 0.84, sd: 5, source: src}\n"
    "    clinical_significance:\n"
    "      clinical: {mean: 4, sd: 1.5}\n"
    "      functional: {mean: 1, sd: 1}\n"
    "      cutoff: c\n"
    "      source: src\n"
    "    response: {relative_reduction: 0.5, source: src}\n"
)

BOUNDS = frozenset(
    (
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minLength",
        "maxLength",
        "pattern",
        "minItems",
        "maxItems",
        "minProperties",
        "maxProperties",
    )
)
ANNOTATIONS = frozenset(("$schema", "$defs", "title", "description", "default", "examples"))

PATTERN_SAMPLES: dict[str, tuple[list[str], list[str]]] = {
    # pattern: (just inside, just outside)
    # (not "a\n": Python's `$` matches before a final newline, so `jsonschema` lets it pass)
    r"^[a-z][a-z0-9_]*$": (["a", "a_9", "phq9_1"], ["", "A", "9a", "_a", "a-b", "a b"]),
    r"^\d{1,8}-\d$": (["1-0", "44249-1", "12345678-9"], ["123456789-1", "44249", "1-10", "a1-1"]),
    r"^LA\d{1,8}-\d$": (["LA1-0", "LA6568-5"], ["6568-5", "LA123456789-1", "la6568-5"]),
    r"^\d+\.\d+\.\d+$": (["1.0.0", "10.20.30"], ["1.0", "1.0.0.0", "v1.0.0", "1.0.x"]),
    r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$": (["1.0"], ["1", "1.0.0", "01.0", "1.01", "1.x", "v1.0"]),
}


def _data(path: Path) -> Any:
    parsed = parse_yaml(path.read_bytes(), str(path))
    assert parsed.issues == []
    return parsed.data


def _documents() -> dict[str, tuple[Any, screening.Instrument]]:
    """The definitions to mutate: data, and the instrument it loads as."""
    out = {p.name: (_data(p), screening.load_instrument(p)) for p in BUILTIN_FILES + EXTRA_FILES}
    parsed = parse_yaml(CHANGE, "change.yaml")
    out["change.yaml"] = (parsed.data, screening.parse_instrument(CHANGE, "change.yaml"))
    return out


_LOADED = _documents()
DOCUMENTS = {name: data for name, (data, _) in _LOADED.items()}
INSTRUMENTS = {name: inst for name, (_, inst) in _LOADED.items()}


# --- walking the schema -----------------------------------------------------------------------


def _keyword_nodes(node: Any, where: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema object in the schema, with its pointer; property names are not keywords."""
    if not isinstance(node, dict):
        return
    yield where, node
    for key, value in node.items():
        if key in ("properties", "$defs", "patternProperties", "dependentSchemas"):
            for name, sub in value.items():
                yield from _keyword_nodes(sub, f"{where}/{key}/{name}")
        elif key in ("anyOf", "allOf", "oneOf", "prefixItems"):
            for i, sub in enumerate(value):
                yield from _keyword_nodes(sub, f"{where}/{key}/{i}")
        elif isinstance(value, dict) and key not in ("default", "examples", "const"):
            yield from _keyword_nodes(value, f"{where}/{key}")


class Bound(NamedTuple):
    model: str  # the $defs entry holding the property ("Instrument" for the top level)
    prop: str  # the property (a YAML key)
    route: tuple[str, ...]  # from the property's schema to the bound's: anyOf, items, ...
    keyword: str
    limit: Any
    node: dict[str, Any]

    def __str__(self) -> str:
        return f"{self.model}.{self.prop}{''.join('/' + r for r in self.route)} {self.keyword}"


def _bounds(schema: dict[str, Any]) -> list[Bound]:
    out: list[Bound] = []

    def visit(node: dict[str, Any], model: str, prop: str, route: tuple[str, ...]) -> None:
        out.extend(Bound(model, prop, route, k, node[k], node) for k in sorted(BOUNDS & set(node)))
        for sub in node.get("anyOf", []) + node.get("oneOf", []):
            visit(sub, model, prop, (*route, "anyOf"))
        for key in ("items", "additionalProperties"):
            if isinstance(node.get(key), dict):
                visit(node[key], model, prop, (*route, key))

    for model, definition in [("Instrument", schema), *schema["$defs"].items()]:
        for prop, sub in definition.get("properties", {}).items():
            visit(sub, model, prop, ())
    return out


ALL_BOUNDS = _bounds(SCHEMA)


def test_every_bound_sits_on_a_property() -> None:
    # the walk below finds every bound the schema declares
    declared = sum(len(BOUNDS & set(node)) for _, node in _keyword_nodes(SCHEMA))
    assert len(ALL_BOUNDS) == declared


def test_every_keyword_is_one_json_schema_has() -> None:
    # pydantic writes a bound it cannot attach to one type (`le` on int | float) under its own
    # name, which JSON Schema ignores: `multiplier: 5000` passed
    known = set(jsonschema.Draft202012Validator.VALIDATORS) | ANNOTATIONS
    unknown = {f"{where}: {k}" for where, node in _keyword_nodes(SCHEMA) for k in node}
    unknown = {u for u in unknown if u.rsplit(": ", 1)[1] not in known}
    assert unknown == set()


def test_the_multiplier_bound_is_enforced() -> None:
    data = copy.deepcopy(DOCUMENTS["dass21.yaml"])
    scale = next(iter(data["scales"].values()))
    scale["multiplier"] = 5000
    (error,) = VALIDATOR.iter_errors(data)
    assert error.validator == "maximum"
    scale["multiplier"] = 1000
    assert VALIDATOR.is_valid(data)


# --- the values to try ------------------------------------------------------------------------


def _types(node: dict[str, Any]) -> set[str]:
    if "type" in node:
        return {node["type"]}
    return {sub["type"] for sub in node.get("anyOf", []) if "type" in sub}


def _numbers(bound: Bound) -> tuple[list[Any], list[Any]]:
    types = _types(bound.node)
    steps = [1] if types == {"integer"} else [0.001, *([1] if "integer" in types else [])]
    m = bound.limit
    if bound.keyword == "minimum":
        return [m], [m - s for s in steps]
    if bound.keyword == "maximum":
        return [m], [m + s for s in steps]
    if bound.keyword == "exclusiveMinimum":
        return [m + s for s in steps], [m, float(m)]
    return [m - s for s in steps], [m, float(m)]  # exclusiveMaximum


def _strings(bound: Bound) -> tuple[list[Any], list[Any]]:
    if bound.keyword == "pattern":
        assert bound.limit in PATTERN_SAMPLES, f"add samples for the pattern of {bound}"
        return PATTERN_SAMPLES[bound.limit]
    pattern = bound.node.get("pattern")
    filler = PATTERN_SAMPLES[pattern][0][0][0] if pattern else "a"
    n = bound.limit
    if bound.keyword == "minLength":
        return [filler * n], ([filler * (n - 1)] if n > 0 else [])
    return [filler * n], [filler * (n + 1)]  # maxLength


def _containers(bound: Bound, sample: Any) -> tuple[list[Any], list[Any]]:
    n = bound.limit
    if sample is None:  # no definition has one: made of the simplest element the schema takes
        element = {"integer": 1, "number": 1, "string": "a"}
        kind = min((element[t] for t in _types(bound.node.get("items", {}))), key=repr)
        sample = [kind]
    if isinstance(sample, dict):
        entries = list(sample.items()) * n
        inside = [dict(entries[:n])] if len(dict(entries[:n])) == n else []
        if bound.keyword == "minProperties":
            return inside, ([dict(entries[: n - 1])] if n > 0 else [])
        return inside, []  # maxProperties: no distinct keys to add
    if bound.keyword == "minItems":
        return [sample[:1] * n], ([sample[:1] * (n - 1)] if n > 0 else [])
    return [sample[:1] * n], [sample[:1] * (n + 1)]  # maxItems


def _values(bound: Bound, sample: Any) -> tuple[list[Any], list[Any]]:
    """Values just inside and just outside the bound."""
    if bound.keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return _numbers(bound)
    if bound.keyword in ("minLength", "maxLength", "pattern"):
        return _strings(bound)
    return _containers(bound, sample)


def _wrap(route: tuple[str, ...], value: Any) -> Any:
    """The property's value that puts `value` where the bound applies."""
    for step in reversed(route):
        if step == "items":
            value = [value]
        elif step == "additionalProperties":
            value = {"key": value}
    return value


def _unwrap(route: tuple[str, ...], value: Any) -> Any:
    """What stands where the bound applies in a property's present value; None if nothing."""
    for step in route:
        if step == "items":
            value = value[0] if isinstance(value, list) and value else None
        elif step == "additionalProperties":
            value = next(iter(value.values()), None) if isinstance(value, dict) else None
    return value


# --- where each model stands in the definitions ------------------------------------------------


def _holders(inst: BaseModel) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """Each model object in a definition, by model name, with its path in the data."""
    stack: list[tuple[Any, tuple[Any, ...]]] = [(inst, ())]
    while stack:
        obj, path = stack.pop()
        if isinstance(obj, BaseModel):
            yield type(obj).__name__, path
            for name, info in type(obj).model_fields.items():
                if name in obj.model_fields_set:
                    stack.append((getattr(obj, name), (*path, info.alias or name)))
        elif isinstance(obj, list):
            stack.extend((v, (*path, i)) for i, v in enumerate(obj))
        elif isinstance(obj, dict):
            stack.extend((v, (*path, k)) for k, v in obj.items())


HOLDERS: dict[str, list[tuple[str, tuple[Any, ...]]]] = {}
for _name, _inst in INSTRUMENTS.items():
    for _model, _path in _holders(_inst):
        HOLDERS.setdefault(_model, []).append((_name, _path))


def _at(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


def _place(bound: Bound) -> tuple[str, tuple[Any, ...], Any]:
    """A document and path holding the bound's model, preferring one where the property is
    present (its value is the sample a list or mapping is made from)."""
    places = HOLDERS.get(bound.model, [])
    assert places, f"no definition has a {bound.model}; add one to EXTRA_FILES"
    # a list for an item count, a mapping for a key count (a property may take either)
    kind = {"minItems": list, "maxItems": list, "minProperties": dict, "maxProperties": dict}
    for name, path in places:
        holder = _at(DOCUMENTS[name], path)
        sample = _unwrap(bound.route, holder.get(bound.prop))
        if isinstance(sample, kind.get(bound.keyword, list | dict)) and sample:
            return name, path, sample
    name, path = places[0]
    return name, path, None


def _errors_at(errors: Any, prefix: tuple[Any, ...]) -> bool:
    """Whether an error, or an error in why a union failed, is at or under `prefix`."""
    for error in errors:
        if tuple(error.absolute_path)[: len(prefix)] == prefix or _errors_at(error.context, prefix):
            return True
    return False


@pytest.mark.parametrize("bound", ALL_BOUNDS, ids=str)
def test_each_bound_passes_just_inside_and_fails_just_outside(bound: Bound) -> None:
    name, path, sample = _place(bound)
    inside, outside = _values(bound, sample)
    if bound.keyword in ("minLength", "maxLength", "minimum", "maximum", "pattern"):
        assert inside
    if bound.keyword != "maxProperties":
        assert outside or bound.limit == 0, f"nothing is just outside {bound}"
    key = (*path, bound.prop)
    for value, fits in [(v, True) for v in inside] + [(v, False) for v in outside]:
        data = copy.deepcopy(DOCUMENTS[name])
        _at(data, path)[bound.prop] = _wrap(bound.route, value)
        errors = list(VALIDATOR.iter_errors(data))
        if fits:
            assert errors == [], f"{bound}: {value!r} is inside, yet {errors[0].message}"
            continue
        assert _errors_at(errors, key), f"{bound}: {value!r} is outside, yet passes"
        # the loader refuses it too, there: the schema advertises no bound it does not hold
        _, issues = check_text(json.dumps(data), name)  # JSON is YAML 1.2
        refused = [i for i in issues if i.severity == "error" and i.path[: len(key)] == key]
        assert refused, f"{bound}: the loader accepts {value!r}"


def test_every_bounded_model_is_tried() -> None:
    assert {b.model for b in ALL_BOUNDS} <= set(HOLDERS)


@pytest.mark.parametrize("name", list(DOCUMENTS))
def test_definitions_fit_the_schema(name: str) -> None:
    assert [e.message for e in VALIDATOR.iter_errors(DOCUMENTS[name])] == []


# --- descriptions -----------------------------------------------------------------------------


def _models() -> set[type[BaseModel]]:
    seen: set[type[BaseModel]] = set()
    todo: list[Any] = [Instrument]
    while todo:
        tp = todo.pop()
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if tp not in seen:
                seen.add(tp)
                todo.extend(info.annotation for info in tp.model_fields.values())
        else:
            todo.extend(get_args(tp))
    return seen


def test_field_docstrings_are_the_schema_descriptions() -> None:
    from screening.schema import _field_docstrings

    docs = _field_docstrings()
    for model in _models():
        definition = SCHEMA if model is Instrument else SCHEMA["$defs"][model.__name__]
        written: dict[str, str] = {}
        for klass in reversed(model.__mro__):  # a subclass's docstring wins
            written.update(docs.get(klass.__name__, {}))
        for name, info in model.model_fields.items():
            prop = definition["properties"][info.alias or name]
            assert prop.get("description") == written.get(name), f"{model.__name__}.{name}"
    multiplier = SCHEMA["$defs"]["Scale"]["properties"]["multiplier"]
    assert multiplier["description"].startswith("Applied after summing and proration")
    assert "MAJOR.MINOR" in SCHEMA["properties"]["format_version"]["description"]


def test_the_schema_is_generated() -> None:
    assert instrument_schema() == SCHEMA
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
