"""Results: immutable plain data that serializes to JSON.

Named tuples rather than models: a clinical app scores one response in microseconds, and these
are built per call (a frozen dataclass costs about four times as much to build).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from .errors import Issue

__all__ = [
    "NO_BANDS",
    "FlagResult",
    "Provenance",
    "ScaleResult",
    "ScoreResult",
]


class Provenance(NamedTuple):
    """Which definition, at which version and content, scored a result, with which library."""

    instrument: str
    definition_version: str
    definition_hash: str
    library_version: str
    coding: str | None = None
    """The coding the answers were read in (None: the definition has no codings)."""

    def to_dict(self) -> dict[str, Any]:
        return self._asdict()


NO_BANDS: Mapping[str, str | None] = MappingProxyType({})
"""The band tables of a scale that has none."""


class ScaleResult(NamedTuple):
    """One scale of one response.

    `score` is the final score (None when the scale could not be scored; `reason` says why),
    `raw` the sum of the answered items' scores (a decimal for decimal answers), `unrounded` the
    prorated score before rounding.
    `band` is the default band table's label; `bands` maps the name of each alternative band
    table to its label (None where the table does not apply or the scale is unscored).
    """

    score: int | float | None
    band: str | None
    raw: int | float | None
    prorated: bool
    unrounded: float | None
    answered: int
    missing: int
    skipped: int
    valid: bool
    reason: str
    bands: Mapping[str, str | None] = NO_BANDS

    def to_dict(self) -> dict[str, Any]:
        out = self._asdict()
        out["bands"] = dict(self.bands)
        return out


class FlagResult(NamedTuple):
    """A flag: its id, severity, the source's message and the items that raised it (for an
    undetermined flag, the items whose missing answers leave it undecided)."""

    id: str
    severity: str
    message: str
    items: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        out = self._asdict()
        out["items"] = list(self.items)
        return out


class ScoreResult(NamedTuple):
    """The score of one response to one instrument."""

    instrument: str
    valid: bool
    scales: Mapping[str, ScaleResult]
    flags: tuple[FlagResult, ...]
    classifications: Mapping[str, str | None]
    reasons: tuple[str, ...]
    issues: tuple[Issue, ...]
    provenance: Provenance
    undetermined_flags: tuple[FlagResult, ...] = ()
    """Flags that an unanswered (or unreadable) answer could raise: neither raised nor clear."""
    non_answers: Mapping[str, str] = MappingProxyType({})
    """Item → kind (declined, dont_know, not_applicable) of each answer that is a non-answer."""

    @property
    def flag_ids(self) -> list[str]:
        return [f.id for f in self.flags]

    @property
    def undetermined_flag_ids(self) -> list[str]:
        return [f.id for f in self.undetermined_flags]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, with provenance."""
        return {
            "instrument": self.instrument,
            "valid": self.valid,
            "reasons": list(self.reasons),
            "scales": {name: s.to_dict() for name, s in self.scales.items()},
            "flags": [f.to_dict() for f in self.flags],
            "undetermined_flags": [f.to_dict() for f in self.undetermined_flags],
            "non_answers": dict(self.non_answers),
            "classifications": dict(self.classifications),
            "issues": [i.to_dict() for i in self.issues],
            "provenance": self.provenance.to_dict(),
        }

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    def __repr__(self) -> str:
        """One line: validity, each scale's score and band, flags raised and undetermined."""
        from .display import result_repr

        return result_repr(self)

    def __str__(self) -> str:
        from .display import result_text

        return result_text(self)

    def _repr_html_(self) -> str:
        """The table a notebook shows."""
        from .display import result_html

        return result_html(self)
