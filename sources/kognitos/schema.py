"""The analysts' interface, declared once: each table's name, key, write disposition and column types.

Types are declared up front so the schema never depends on what the first page happened to hold, and
pages are handed to dlt as Arrow tables built from the same declaration: dlt then writes them straight
to parquet instead of normalising row by row, and JSON columns can hold any JSON value (a bare string
or number included), which dlt's row normaliser would split into variant columns.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson
import pyarrow as pa
from dlt.common.schema.typing import TColumnSchema, TWriteDispositionConfig

from .records import Row

TERMINAL_RUN_STATES = frozenset({"completed", "failed"})
"""States a run never leaves (kognitos-api.md §5.1). `stopped` can be continued, so it stays open."""

_ARROW_TYPES: dict[str, pa.DataType] = {
    "text": pa.string(),
    "json": pa.string(),  # JSON text; the `json` hint makes the destination type it as JSON
    "timestamp": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
    "bigint": pa.int64(),
    "bool": pa.bool_(),
}


def _json_default(value: Any) -> str:
    """Exact decimals (v1Number) become JSON strings holding every digit; floats would round them."""
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


INSERT_ONLY: TWriteDispositionConfig = {"disposition": "merge", "strategy": "insert-only"}
UNIQUE_PER_LOAD: TWriteDispositionConfig = {"disposition": "merge", "strategy": "delete-insert", "deduplicated": True}
"""Merge without dlt's deduplication of the staged rows, for tables a load never emits a row of twice (why:
docs/design.md, "DuckDB's memory while loading"). Rows keep unique keys (an output name is a key of its execution's
`outputs` map), so one emission means one row per key; a copy job run again after a kill would stage them twice,
which `pipelines/interrupted.py` prevents."""


@dataclass(frozen=True)
class TableSpec:
    """One destination table: what dlt needs as hints, and how to turn rows into an Arrow page."""

    name: str
    key: tuple[str, ...]
    write_disposition: TWriteDispositionConfig
    types: dict[str, str]
    _arrow: pa.Schema = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        fields = [pa.field(name, _ARROW_TYPES[kind], nullable=name not in self.key)
                  for name, kind in self.types.items()]
        object.__setattr__(self, "_arrow", pa.schema(fields))
        if "json" in self.types.values():
            logging.getLogger("dlt").addFilter(self.quiet_json_hint_warning)

    @property
    def columns(self) -> dict[str, TColumnSchema]:
        return {name: {"name": name, "data_type": kind, "nullable": name not in self.key}  # type: ignore[typeddict-item]
                for name, kind in self.types.items()}

    def quiet_json_hint_warning(self, record: logging.LogRecord) -> bool:
        """dlt warns that our `json` hints override the Arrow `string` type of JSON columns: that is the intent."""
        message = record.getMessage()
        return not (f"In resource: {self.name}," in message and "when merging arrow schema" in message)

    def hints(self) -> dict[str, Any]:
        """Keyword arguments for `dlt.resource` / `dlt.transformer`."""
        return {"name": self.name, "primary_key": self.key, "write_disposition": self.write_disposition,
                "columns": self.columns}

    def page(self, rows: Iterable[Row]) -> pa.Table:
        """Rows (from records.py) as an Arrow table of this table's declared types; JSON columns serialised."""
        json_columns = [name for name, kind in self.types.items() if kind == "json"]
        rows = list(rows)
        for row in rows:
            for name in json_columns:
                value = row.get(name)
                if value is not None:
                    row[name] = orjson.dumps(value, default=_json_default).decode()
        return pa.Table.from_pylist(rows, schema=self._arrow)


def _table(table: str, key: tuple[str, ...], write_disposition: TWriteDispositionConfig, /, **types: str) -> TableSpec:
    return TableSpec(table, key, write_disposition, types)


WORKSPACES = _table(
    "workspaces", ("workspace_id",), "merge",
    workspace_id="text", organization_id="text", name="text", title="text",
    create_time="timestamp", update_time="timestamp",
    creator_display_name="text", creator_email="text", workspace_icon="text", workspace_icon_color="text",
    extra_fields="json",
)

AUTOMATIONS = _table(
    "automations", ("workspace_id", "automation_id"), "merge",
    automation_id="text", workspace_id="text", organization_id="text", name="text", display_name="text",
    description="text", english_code="text", code="text", version="text", latest_published_version="text",
    activation_state="text", create_time="timestamp", update_time="timestamp", publish_time="timestamp",
    delete_time="timestamp", purge_time="timestamp", author_id="text", update_user_id="text",
    publish_user_id="text", input_specs="json", default_inputs="json", marked_outputs="json",
    connections="json", extra_fields="json",
)

# Each load emits a run at most once: the run tracker drops a run listed twice (open_runs.RunTracker.accept).
RUNS = _table(
    "runs", ("workspace_id", "automation_id", "run_id"), UNIQUE_PER_LOAD,
    run_id="text", automation_id="text", workspace_id="text", organization_id="text", name="text",
    create_time="timestamp", update_time="timestamp", state="text", state_update_time="timestamp",
    reason="text", error_id="text", error_description="text", exception_id="text",
    exception_description="text", location_start_byte="bigint", location_end_byte="bigint",
    outputs="json", user_inputs="json", inputs="json", state_details="json",
    stage="text", stage_version="text", invocation_source="text", trigger_id="text", user_id="text",
    previous_run="text", extra_fields="json",
)

# Events never change once emitted, so they are only ever inserted (docs/design.md, "`run_events` are merged").
RUN_EVENTS = _table(
    "run_events", ("workspace_id", "automation_id", "run_id", "event_index"), INSERT_ONLY,
    run_id="text", automation_id="text", workspace_id="text", organization_id="text", event_index="bigint",
    event_type="text", journal_type="text", event_time="timestamp", execution_id="text", node_id="text",
    node_kind="text", run_state="text", stop_reason="text", error_id="text", error_description="text",
    payload="json",
)

# Each load emits an execution's outputs at most once (resources.execution_outputs).
EXECUTION_OUTPUTS = _table(
    "execution_outputs", ("workspace_id", "execution_id", "output_name"), UNIQUE_PER_LOAD,
    execution_id="text", run_id="text", automation_id="text", workspace_id="text", organization_id="text",
    output_name="text", value="json", value_type="text",
)

DAILY_RUN_AGGREGATES = _table(
    "daily_run_aggregates", ("workspace_id", "time_zone", "automation_id", "date"), "merge",
    workspace_id="text", organization_id="text", time_zone="text", automation_id="text", date="date",
    total_runs="bigint",
)

AUTOMATION_RUN_AGGREGATES = _table(
    "automation_run_aggregates", ("workspace_id", "automation_id", "snapshot_date"), "merge",
    workspace_id="text", organization_id="text", automation_id="text", snapshot_date="date",
    snapshot_time="timestamp", total_runs="bigint", completed_runs="bigint",
)

# Each load emits an exception at most once: the tracker drops one listed twice (open_exceptions.ExceptionTracker).
EXCEPTIONS = _table(
    "exceptions", ("workspace_id", "exception_id"), UNIQUE_PER_LOAD,
    exception_id="text", workspace_id="text", organization_id="text", automation_id="text", run_id="text",
    execution_id="text", name="text", state="text", message="text", description="text", exception_group="text",
    assignee="text", resolver="text", resolved_by_agent="bool", resolution_guide_entry="text", stage="text",
    location_start_byte="bigint", location_end_byte="bigint", create_time="timestamp", update_time="timestamp",
    extra="json", extra_fields="json",
)
