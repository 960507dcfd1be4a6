"""JSON read strictly: a key repeated in one object is refused, never resolved last-wins."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["DuplicateKeyError", "loads_unique"]


class DuplicateKeyError(ValueError):
    """A JSON object names one key twice: which value holds would be a guess."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKeyError(
                f"key {key!r} appears twice in one object ({_short(out[key])} and "
                f"{_short(value)}); which one holds is ambiguous"
            )
        out[key] = value
    return out


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 20 else text[:17] + "..."


def loads_unique(text: str | bytes) -> Any:
    """JSON text → data; a repeated key raises `DuplicateKeyError` (a `ValueError`)."""
    return json.loads(text, object_pairs_hook=_unique_keys)
