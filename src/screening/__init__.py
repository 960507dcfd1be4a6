"""Score standardized mental-health screening instruments from declarative, cited definitions.

A screening score is not a diagnosis.
"""

from typing import Any

from ._extras import register_accessor_when_pandas_loads
from ._version import __version__
from .cases import CaseFailure, run_cases
from .change import ChangeResult, PairedChangeResult, paired_change
from .change import change as measure_change
from .definition import Instrument
from .errors import DefinitionError, Issue, ResponseError
from .loading import UnknownInstrumentError, list_instruments, load_instrument, parse_instrument
from .results import FlagResult, Provenance, ScaleResult, ScoreResult
from .scoring import score

_LAZY = {
    "score_frame": "frames",
    "issues_frame": "frames",
    "output_schema": "frames",
    "arrow_schema": "frames",
    "change_frame": "change",
    "client_summary": "change",
    "plot_trajectory": "plot",
}


def __getattr__(name: str) -> Any:
    # the DataFrame API imports pandas (and the plot matplotlib): only when it is asked for,
    # so that scoring one response stays light
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'screening' has no attribute {name!r}")


register_accessor_when_pandas_loads()  # df.screening, whether pandas comes first or later

__all__ = [
    "CaseFailure",
    "ChangeResult",
    "DefinitionError",
    "FlagResult",
    "Instrument",
    "Issue",
    "PairedChangeResult",
    "Provenance",
    "ResponseError",
    "ScaleResult",
    "ScoreResult",
    "UnknownInstrumentError",
    "__version__",
    "arrow_schema",
    "change_frame",
    "client_summary",
    "issues_frame",
    "list_instruments",
    "load_instrument",
    "measure_change",
    "output_schema",
    "paired_change",
    "parse_instrument",
    "plot_trajectory",
    "run_cases",
    "score",
    "score_frame",
]
