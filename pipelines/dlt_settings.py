"""dlt settings kognitos-elt's loads use unless the user configured them, applied for one load at a time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dlt

EXTRACT_ORDER_SETTING = "extract.next_item_mode"
LOAD_WORKERS_SETTING = "load.workers"


def load_defaults(pipeline: dlt.Pipeline) -> dict[str, Any]:
    """The settings for a load of `pipeline` (docs/design.md, "One worker pool per client, depth-first extraction"
    and "DuckDB's memory while loading"):

    - depth-first extraction (`fifo`), which holds one page per table where dlt's `round_robin` holds up to 20;
    - into DuckDB, load jobs one at a time: DuckDB spreads each job over its threads, and four jobs at once took as
      long and more memory.
    """
    defaults: dict[str, Any] = {EXTRACT_ORDER_SETTING: "fifo"}
    if isinstance(pipeline.destination, dlt.destinations.duckdb):
        defaults[LOAD_WORKERS_SETTING] = 1
    return defaults


@contextmanager
def unless_configured(settings: dict[str, Any]) -> Iterator[None]:
    """Apply dlt settings for one load where the user set nothing; they are process-wide (a Dagster process runs
    other pipelines too), so they are put back when the load ends. Building a source changes no setting."""
    chosen = {key: value for key, value in settings.items() if dlt.config.get(key) is None}
    for key, value in chosen.items():
        dlt.config[key] = value
    try:
        yield
    finally:
        for key in chosen:
            dlt.config[key] = None
