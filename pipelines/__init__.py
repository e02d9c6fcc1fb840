"""kognitos-elt: load Kognitos runs, events and aggregates into DuckDB or any dlt destination.

The installed package; in the repository this folder is `pipelines/` and the source beside it `sources/kognitos/`
(installed as `kognitos_elt.kognitos`: docs/design.md, "One installed name"). For a pipeline of your own:

    from kognitos_elt import finish_interrupted_loads, kognitos_source   # the dlt source and its crash-safe resume
    from kognitos_elt import run_load                                    # the whole load `kognitos-elt run` does
"""

from importlib import import_module
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .kognitos import finish_interrupted_loads, kognitos_source
    from .session import LoadSummary, run_load

__version__ = version("kognitos-elt")
"""Declared once, in pyproject.toml."""

_PUBLIC = {"kognitos_source": ".kognitos", "finish_interrupted_loads": ".kognitos", "run_load": ".session",
           "LoadSummary": ".session"}
"""Imported when first used, so that importing one part (the analytics builder, the simulator's CLI) stays light and
free of import cycles."""

__all__ = ["LoadSummary", "__version__", "finish_interrupted_loads", "kognitos_source", "run_load"]


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(import_module(_PUBLIC[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
