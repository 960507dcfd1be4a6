"""Optional dependencies: an error that names the extra to install, and the pandas accessor
registered whenever pandas is imported, before or after screening."""

from __future__ import annotations

import contextlib
import importlib
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType

EXTRAS = {
    "frames": "numpy and pandas: score_frame, issues_frame, tables on the command line",
    "parquet": "pyarrow: Parquet files and arrow_schema",
    "plot": "matplotlib: plot_trajectory",
    "polars": "polars: score_frame and issues_frame on Polars DataFrames and LazyFrames",
}


def missing_extra(exc: ModuleNotFoundError, extra: str, feature: str) -> ModuleNotFoundError:
    """The error to raise when `feature` needs an optional dependency that is not installed."""
    return ModuleNotFoundError(
        f"{feature} needs {exc.name or 'an optional dependency'}, which is not installed; "
        f"install the extra: pip install 'screening[{extra}]'",
        name=exc.name,
    )


class _AfterPandas:  # a meta path finder by protocol: importlib.abc costs ~15 ms to import
    """Registers `df.screening` once pandas has been imported, without importing it first:
    scoring one response stays light, and the accessor works whatever the import order."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "pandas":
            return None
        sys.meta_path.remove(self)  # once; the real finders locate pandas itself
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        loader = spec.loader
        execute = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            execute(module)
            _register()  # pandas is complete

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def _register() -> None:
    with contextlib.suppress(ImportError):  # numpy or pandas unusable: no df.screening
        importlib.import_module("screening.frames")


def register_accessor_when_pandas_loads() -> None:
    """`df.screening` now if pandas is loaded, else as soon as it is."""
    if sys.modules.get("pandas") is not None:
        _register()
    elif not any(isinstance(f, _AfterPandas) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterPandas())
