"""Every table the source loads, declared once: its spec, its parent, the state it keeps, the function that reads it.

From TABLES come the source's wiring (`kognitos_source`), what `kognitos-elt status` says each table tracks, the
models builder's list of tables the models read and the crash-recovery test's tables; tests/unit/test_tables.py fails
when the README's table or the dbt `sources.yml` do not list exactly these. How to add one: docs/adding-a-resource.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pyarrow as pa

from . import resources, schema
from .schema import TableSpec
from .state import DailySeriesLoadedUntil, ExceptionTrackers, OpenRunEventCounts, RunTrackers, SavedMap


@dataclass(frozen=True)
class Table:
    """One loaded table and the dlt resource that loads it (named like the table)."""

    spec: TableSpec
    read: Callable[..., Iterator[pa.Table]]
    """resources.py's function: `read(load)` for a table without a parent, else `read(parent_page, load)`, where
    `parent_page` is an Arrow page of the parent's rows and `load` the load's shared `resources.Load`."""
    parent: Table | None = None
    """The table whose rows it reads from (a dlt transformer of it): selecting it needs the parent too."""
    state: type[SavedMap] | None = None
    """What it keeps between loads (state.py), which `kognitos-elt status` reports."""

    @property
    def name(self) -> str:
        return self.spec.name


WORKSPACES = Table(schema.WORKSPACES, resources.workspaces)
AUTOMATIONS = Table(schema.AUTOMATIONS, resources.automations, WORKSPACES)
RUNS = Table(schema.RUNS, resources.runs, AUTOMATIONS, RunTrackers)
RUN_EVENTS = Table(schema.RUN_EVENTS, resources.run_events, RUNS, OpenRunEventCounts)
EXECUTION_OUTPUTS = Table(schema.EXECUTION_OUTPUTS, resources.execution_outputs, RUN_EVENTS)
DAILY_RUN_AGGREGATES = Table(schema.DAILY_RUN_AGGREGATES, resources.daily_run_aggregates, WORKSPACES,
                             DailySeriesLoadedUntil)
AUTOMATION_RUN_AGGREGATES = Table(schema.AUTOMATION_RUN_AGGREGATES, resources.automation_run_aggregates, WORKSPACES)
EXCEPTIONS = Table(schema.EXCEPTIONS, resources.exceptions, WORKSPACES, ExceptionTrackers)

TABLES: tuple[Table, ...] = (WORKSPACES, AUTOMATIONS, RUNS, RUN_EVENTS, EXECUTION_OUTPUTS, DAILY_RUN_AGGREGATES,
                             AUTOMATION_RUN_AGGREGATES, EXCEPTIONS)
"""Every table, each after its parent (the order the source builds, and dlt extracts, them in)."""
