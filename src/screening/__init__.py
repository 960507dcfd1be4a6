"""Score standardized mental-health screening instruments from declarative, cited definitions.

A screening score is not a diagnosis.
"""

from ._version import __version__
from .cases import CaseFailure, run_cases
from .definition import Instrument
from .errors import DefinitionError, Issue, ResponseError
from .loading import UnknownInstrumentError, list_instruments, load_instrument, parse_instrument
from .results import FlagResult, Provenance, ScaleResult, ScoreResult
from .scoring import score

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
    "list_instruments",
    "load_instrument",
    "parse_instrument",
    "run_cases",
    "score",
]
