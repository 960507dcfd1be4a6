"""Built-in definitions shipped pre-parsed: each built-in's YAML as plain JSON data, keyed by
the SHA-256 of the YAML file's bytes.

Parsing YAML is most of the cost of the first score in a fresh process (ruamel.yaml, pure
Python). A built-in whose file still has the bytes its entry was made from is read from the
entry instead: the same data, validated by the same models. Any other file (edited, or an entry
missing or stale) is parsed and checked as every definition is; an entry never stands for bytes
it was not made from. The entries are written by `python docs/generate.py`, which also reports
them stale (`--check`), and were checked when written: every built-in passes every check in the
test suite.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

__all__ = ["FOLDER", "entry", "read"]

FOLDER = Path(__file__).with_name("prechecked")
"""One `<id>.json` per built-in: `{"sha256": <hex digest of the YAML>, "data": <parsed>}`."""

_MAX_BYTES = 1 << 20  # a built-in is a few kilobytes; anything larger is read the usual way


def read(path: Path) -> dict[str, Any] | None:
    """The parsed data of the built-in definition file `path`, when its entry was made from
    exactly these bytes; else None (parse the file)."""
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
    data = stored.get("data")
    return data if isinstance(data, dict) else None


def entry(blob: bytes, data: Any) -> str | None:
    """The entry for a definition file's bytes and their parsed data, or None when JSON cannot
    hold the data exactly (a key that is not text, say): such a file is always parsed."""
    text = json.dumps(
        {"sha256": hashlib.sha256(blob).hexdigest(), "data": data},
        ensure_ascii=False,
        separators=(",", ":"),
        allow_nan=False,
    )
    return text + "\n" if json.loads(text)["data"] == data else None
