"""Score standardized mental-health screening instruments from declarative, cited definitions.

A screening score is not a diagnosis.
"""

from typing import TYPE_CHECKING, Any

from ._extras import register_accessor_when_pandas_loads
from ._version import __version__
from .cases import CaseFailure, run_cases
from .definition import Instrument
from .errors import DefinitionError, Issue, ResponseError
from .loading import (
    InstrumentPackError,
    InstrumentSource,
    UnknownInstrumentError,
    instrument_sources,
    list_instruments,
    load_instrument,
    parse_instrument,
    register_folder,
)
from .results import FlagResult, Provenance, ScaleResult, ScoreResult
from .scoring import score

if TYPE_CHECKING:  # imported on first use below: scoring one response needs none of them
    from .change import (
        ChangeResult,
        ClinicalSignificanceResult,
        PairedChangeResult,
        ReliableChangeResult,
        change_frame,
        client_summary,
        clinical_significance,
        group_outcomes,
        paired_change,
        reliable_change,
    )
    from .change import change as measure_change
    from .frames import arrow_schema, issues_frame, output_schema, score_frame
    from .plot import plot_trajectory
    from .report import client_report, client_reports

_LAZY = {
    "ChangeResult": "change",
    "ClinicalSignificanceResult": "change",
    "PairedChangeResult": "change",
    "ReliableChangeResult": "change",
    "clinical_significance": "change",
    "paired_change": "change",
    "reliable_change": "change",
    "score_frame": "frames",
    "issues_frame": "frames",
    "output_schema": "frames",
    "arrow_schema": "frames",
    "change_frame": "change",
    "client_summary": "change",
    "group_outcomes": "change",
    "plot_trajectory": "plot",
    "client_report": "report",
    "client_reports": "report",
}


def __getattr__(name: str) -> Any:
    # the DataFrame API imports pandas (and the plot matplotlib), and change measures are a
    # module of their own: only when asked for, so that scoring one response stays light
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    if name == "measure_change":
        from .change import change

        return change
    if name == "change":  # the module, as `screening.change` read before it was lazy
        from importlib import import_module

        return import_module(".change", __name__)
    raise AttributeError(f"module 'screening' has no attribute {name!r}")


register_accessor_when_pandas_loads()  # df.screening, whether pandas comes first or later

__all__ = [
    "CaseFailure",
    "ChangeResult",
    "ClinicalSignificanceResult",
    "DefinitionError",
    "FlagResult",
    "Instrument",
    "InstrumentPackError",
    "InstrumentSource",
    "Issue",
    "PairedChangeResult",
    "Provenance",
    "ReliableChangeResult",
    "ResponseError",
    "ScaleResult",
    "ScoreResult",
    "UnknownInstrumentError",
    "__version__",
    "arrow_schema",
    "change_frame",
    "client_report",
    "client_reports",
    "client_summary",
    "clinical_significance",
    "group_outcomes",
    "instrument_sources",
    "issues_frame",
    "list_instruments",
    "load_instrument",
    "measure_change",
    "output_schema",
    "paired_change",
    "parse_instrument",
    "plot_trajectory",
    "register_folder",
    "reliable_change",
    "run_cases",
    "score",
    "score_frame",
]
