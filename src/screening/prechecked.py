"""Built-in definitions shipped pre-checked: each built-in's validated model as plain JSON,
keyed by the SHA-256 of the YAML file's bytes.

The first score in a fresh process would otherwise parse the YAML (ruamel.yaml, pure Python),
then build pydantic's validators for the whole format and run them: most of a CLI call's time.
A built-in whose file still has the bytes its entry was made from is constructed from the
entry instead, model by model, without validating again: the entry was written from the
definition that parsing, validating and every check gave (`python docs/generate.py`, which
also reports stale entries with `--check`), and was read back and compared with it, types and
all, before it was written. Any other file (edited, or an entry missing or stale) is parsed and
checked as every definition is; an entry never stands for bytes it was not made from.

An entry names only the format's own models (`definition`), by class name; it holds data,
never code, and nothing in it is evaluated.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any, NamedTuple

from . import definition
from .definition import Instrument, Model

__all__ = ["FOLDER", "Entry", "entry", "read"]

FOLDER = Path(__file__).with_name("prechecked")
"""One `<id>.json` per built-in: `{"sha256": <hex digest of the YAML>, "content_hash": ...,
"model": <the Instrument, encoded>}`."""

_MAX_BYTES = 1 << 20  # a built-in is a few kilobytes; anything larger is read the usual way

# how the encoding tags what JSON cannot say alone: a model (class name, the fields it was
# given, every field's value), a mapping (its pairs, so a key need not be text) and a tuple
_MODEL, _GIVEN, _FIELDS, _MAPPING, _TUPLE = "$model", "$given", "$fields", "$mapping", "$tuple"

_MODELS: dict[str, type[Model]] = {
    cls.__name__: cls
    for cls in vars(definition).values()
    if isinstance(cls, type) and issubclass(cls, Model) and cls.__module__ == definition.__name__
}
"""The format's models by class name: the only classes an entry can name."""


class Entry(NamedTuple):
    instrument: Instrument
    content_hash: str
    """`loading.content_hash` of the definition, as worked out when the entry was written."""


class _Unfit(Exception):
    """The entry does not hold a definition in the encoding this module writes."""


def read(path: Path) -> Entry | None:
    """The built-in definition file `path` constructed from its entry, when the entry was made
    from exactly these bytes; else None (parse and check the file)."""
    try:
        status = os.stat(path)
        if not stat.S_ISREG(status.st_mode) or status.st_size > _MAX_BYTES:
            return None
        blob = path.read_bytes()
        stored = json.loads((FOLDER / f"{path.stem}.json").read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(stored, dict) or stored.get("sha256") != hashlib.sha256(blob).hexdigest():
        return None
    digest = stored.get("content_hash")
    try:
        inst = _decode(stored.get("model"))
    except (_Unfit, TypeError, RecursionError):  # a tag or key of the wrong kind, say
        return None
    if not isinstance(inst, Instrument) or not isinstance(digest, str):
        return None
    return Entry(inst, digest)


def entry(blob: bytes, inst: Instrument, content_hash: str) -> str | None:
    """The entry for a definition file's bytes and the definition they give (parsed, validated
    and checked), or None when the encoding cannot give back exactly that definition: such a
    file is always parsed."""
    try:
        encoded = _encode(inst)
    except _Unfit:
        return None
    text = json.dumps(
        {
            "sha256": hashlib.sha256(blob).hexdigest(),
            "content_hash": content_hash,
            "model": encoded,
        },
        ensure_ascii=False,
        separators=(",", ":"),
        allow_nan=False,
    )
    try:
        back = _decode(json.loads(text)["model"])
    except _Unfit:
        return None
    return text + "\n" if same(back, inst) else None


def same(a: Any, b: Any) -> bool:
    """Whether two definitions (or parts) are equal value by value, with the same types all the
    way down (1 and 1.0 differ, and so do a list and a tuple) and the same fields given."""
    if type(a) is not type(b):
        return False
    if isinstance(a, Model):
        # private attributes are caches filled on first use, not part of the definition
        return a.model_fields_set == b.model_fields_set and same(a.__dict__, b.__dict__)
    if isinstance(a, dict):
        return list(a) == list(b) and all(
            same(k, j) and same(a[k], b[j]) for k, j in zip(a, b, strict=True)
        )
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Model):
        if _MODELS.get(type(value).__name__) is not type(value):
            raise _Unfit(type(value).__name__)
        return {
            _MODEL: type(value).__name__,
            _GIVEN: sorted(value.model_fields_set),
            _FIELDS: {name: _encode(v) for name, v in value.__dict__.items()},
        }
    if isinstance(value, dict):
        return {_MAPPING: [[_encode(k), _encode(v)] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {_TUPLE: [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    raise _Unfit(type(value).__name__)


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if _MAPPING in value:
        pairs = value[_MAPPING]
        if len(value) != 1 or not isinstance(pairs, list):
            raise _Unfit(_MAPPING)
        out = {}
        for pair in pairs:
            if not isinstance(pair, list) or len(pair) != 2:
                raise _Unfit(_MAPPING)
            out[_decode(pair[0])] = _decode(pair[1])
        return out
    if _TUPLE in value:
        if len(value) != 1 or not isinstance(value[_TUPLE], list):
            raise _Unfit(_TUPLE)
        return tuple(_decode(v) for v in value[_TUPLE])
    cls = _MODELS.get(value.get(_MODEL))  # type: ignore[arg-type]
    fields, given = value.get(_FIELDS), value.get(_GIVEN)
    if cls is None or len(value) != 3 or not isinstance(fields, dict):
        raise _Unfit(_MODEL)
    if not isinstance(given, list) or not all(isinstance(name, str) for name in given):
        raise _Unfit(_MODEL)
    if set(fields) != set(cls.model_fields) or not set(given) <= set(fields):
        raise _Unfit(_MODEL)
    return cls.model_construct(
        _fields_set=set(given), **{name: _decode(v) for name, v in fields.items()}
    )
