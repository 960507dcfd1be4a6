"""Score standardized mental-health screening instruments from declarative, cited definitions.

A screening score is not a diagnosis.
"""

import sys
from typing import Any

from ._version import __version__
from .cases import CaseFailure, run_cases
from .definition import Instrument
from .errors import DefinitionError, Issue, ResponseError
from .loading import UnknownInstrumentError, list_instruments, load_instrument, parse_instrument
from .results import FlagResult, Provenance, ScaleResult, ScoreResult
from .scoring import score

_FRAMES = ("score_frame", "issues_frame", "output_schema", "arrow_schema")


def __getattr__(name: str) -> Any:
    # the DataFrame API imports pandas: only when it is asked for, so that scoring one
    # response stays light
    if name in _FRAMES:
        from . import frames

        return getattr(frames, name)
    raise AttributeError(f"module 'screening' has no attribute {name!r}")


if "pandas" in sys.modules:  # pandas is loaded anyway: register the df.screening accessor now
    from . import frames as _frames  # noqa: F401

__all__ = [
    "CaseFailure",
    "DefinitionError",
    "FlagResult",
    "Instrument",
    "Issue",
    "Provenance",
    "ResponseError",
    "ScaleResult",
    "ScoreResult",
    "UnknownInstrumentError",
    "__version__",
    "arrow_schema",
    "issues_frame",
    "list_instruments",
    "load_instrument",
    "output_schema",
    "parse_instrument",
    "run_cases",
    "score",
    "score_frame",
]
