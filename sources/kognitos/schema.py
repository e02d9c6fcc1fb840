"""Table names, primary keys, column type hints and run-state facts: the analysts' interface, declared once.

Hints are declared up front so the schema never depends on what the first page happened to hold.
"""

from __future__ import annotations

from typing import Any

from dlt.common.schema.typing import TColumnSchema

TERMINAL_RUN_STATES = frozenset({"completed", "failed"})
"""States a run never leaves (kognitos-api.md §5.1). `stopped` can be continued, so it stays open."""

RUN_STATES = ("pending", "executing", "stopping", "stopped", "awaiting_guidance", "completed", "failed")


def _columns(**types: str) -> dict[str, TColumnSchema]:
    """Column hints from `name=data_type` pairs; timestamps are `timestamp with time zone` (dlt's default)."""
    columns: dict[str, Any] = {}
    for name, data_type in types.items():
        column: dict[str, Any] = {"name": name, "data_type": data_type, "nullable": True}
        columns[name] = column
    return columns


WORKSPACES = "workspaces"
WORKSPACES_KEY = ("workspace_id",)
WORKSPACES_COLUMNS = _columns(
    workspace_id="text", organization_id="text", name="text", title="text",
    create_time="timestamp", update_time="timestamp",
    creator_display_name="text", creator_email="text", workspace_icon="text", workspace_icon_color="text",
)

AUTOMATIONS = "automations"
AUTOMATIONS_KEY = ("workspace_id", "automation_id")
AUTOMATIONS_COLUMNS = _columns(
    automation_id="text", workspace_id="text", organization_id="text", name="text", display_name="text",
    description="text", english_code="text", code="text", version="text", latest_published_version="text",
    activation_state="text", create_time="timestamp", update_time="timestamp", publish_time="timestamp",
    delete_time="timestamp", purge_time="timestamp", author_id="text", update_user_id="text",
    publish_user_id="text", input_specs="json", default_inputs="json", marked_outputs="json",
    connections="json",
)

RUNS = "runs"
RUNS_KEY = ("workspace_id", "automation_id", "run_id")
RUNS_COLUMNS = _columns(
    run_id="text", automation_id="text", workspace_id="text", organization_id="text", name="text",
    create_time="timestamp", update_time="timestamp", state="text", state_update_time="timestamp",
    reason="text", error_id="text", error_description="text", exception_id="text",
    exception_description="text", location_start_byte="bigint", location_end_byte="bigint",
    outputs="json", user_inputs="json", inputs="json", state_details="json",
    stage="text", stage_version="text", invocation_source="text", trigger_id="text", user_id="text",
    previous_run="text",
)

RUN_EVENTS = "run_events"
RUN_EVENTS_KEY = ("workspace_id", "automation_id", "run_id", "event_index")
RUN_EVENTS_COLUMNS = _columns(
    run_id="text", automation_id="text", workspace_id="text", organization_id="text", event_index="bigint",
    event_type="text", journal_type="text", event_time="timestamp", execution_id="text", node_id="text",
    node_kind="text", run_state="text", stop_reason="text", error_id="text", error_description="text",
    payload="json",
)

EXECUTION_OUTPUTS = "execution_outputs"
EXECUTION_OUTPUTS_KEY = ("workspace_id", "execution_id", "output_name")
EXECUTION_OUTPUTS_COLUMNS = _columns(
    execution_id="text", run_id="text", automation_id="text", workspace_id="text", organization_id="text",
    output_name="text", value="json", value_type="text",
)

DAILY_RUN_AGGREGATES = "daily_run_aggregates"
DAILY_RUN_AGGREGATES_KEY = ("workspace_id", "time_zone", "automation_id", "date")
DAILY_RUN_AGGREGATES_COLUMNS = _columns(
    workspace_id="text", organization_id="text", time_zone="text", automation_id="text", date="date",
    total_runs="bigint",
)

AUTOMATION_RUN_AGGREGATES = "automation_run_aggregates"
AUTOMATION_RUN_AGGREGATES_KEY = ("workspace_id", "automation_id", "snapshot_date")
AUTOMATION_RUN_AGGREGATES_COLUMNS = _columns(
    workspace_id="text", organization_id="text", automation_id="text", snapshot_date="date",
    snapshot_time="timestamp", total_runs="bigint", completed_runs="bigint",
)
