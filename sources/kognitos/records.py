"""One pure function per table: an API object in, a row out. The unit-test surface of the source.

Renames, all deliberate: `*_id` columns hold the short id (last segment of the resource name) while `name`
keeps the full resource name; the run's state oneof becomes `state` (its key) plus typed detail columns;
`commonV1Value` maps are decoded to plain JSON (values.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, NamedTuple

from . import values
from .open_exceptions import digest
from .timestamps import parse_optional_timestamp, timestamp_key
from .values import inferred_value_type, value_type_name

logger = logging.getLogger(__name__)

Row = dict[str, Any]

_ID_COLUMNS = {
    "organizations": "organization_id",
    "workspaces": "workspace_id",
    "automations": "automation_id",
    "runs": "run_id",
}


def decode_or_keep(value: Mapping[str, Any] | None) -> Any:
    """values.decode_value, but a malformed value is kept as sent (with a warning) instead of failing the load."""
    try:
        return values.decode_value(value)
    except ValueError as error:
        logger.warning("Kept a value as the API sent it, it could not be decoded: %s", error)
        return dict(value) if value else None


def decode_map_or_keep(value_map: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """values.decode_value_map with the same fallback, value by value."""
    if value_map is None:
        return None
    return {name: decode_or_keep(value) for name, value in value_map.items()}


def short_id(name: str) -> str:
    """The id used in paths: the last segment of a resource name (kognitos-api.md §1.4)."""
    return name.rsplit("/", 1)[-1]


def ids_from_name(name: str) -> dict[str, str]:
    """`organizations/o/workspaces/w/...` -> {"organization_id": "o", "workspace_id": "w", ...}."""
    parts = name.split("/")
    return {_ID_COLUMNS[kind]: value for kind, value in zip(parts[::2], parts[1::2], strict=False)
            if kind in _ID_COLUMNS}


def _int(value: Any) -> int | None:
    """int64 fields arrive as JSON strings (kognitos-api.md §1.3)."""
    return int(value) if value not in (None, "") else None


# Fields the reference documents (kognitos-api.md §2.3, §5.1, §5.9); any other field the API starts sending
# is kept in `extra_fields` rather than dropped.
_WORKSPACE_FIELDS = frozenset({"name", "title", "workspace_icon", "workspace_icon_color", "create_time",
                               "update_time", "creator_display_name", "creator_email"})
_AUTOMATION_FIELDS = frozenset({
    "name", "display_name", "english_code", "code", "artifacts", "create_time", "version", "connections",
    "update_time", "update_user_id", "delete_time", "purge_time", "input_specs", "description",
    "latest_published_version", "author_id", "code_mapping", "restore_time", "restore_version", "restore_user_id",
    "publish_time", "publish_user_id", "activation_state", "default_inputs", "marked_outputs",
})
_RUN_FIELDS = frozenset({"name", "executable_steps", "create_time", "state", "update_time", "previous_run", "stage",
                         "stage_version", "invocation_details", "user_inputs"})
_EXCEPTION_FIELDS = frozenset({"name", "run", "location", "message", "create_time", "update_time", "state",
                               "automation", "description", "group", "resolution_guide_entry", "stage",
                               "execution_id", "extra", "assignee", "resolver"})  # v1Exception


def _extra_fields(api_object: Mapping[str, Any], documented: frozenset[str]) -> dict[str, Any] | None:
    return {key: value for key, value in api_object.items() if key not in documented} or None


def workspace_row(workspace: Mapping[str, Any], organization_id: str) -> Row:
    name = workspace["name"]
    return {
        "workspace_id": short_id(name),
        "organization_id": ids_from_name(name).get("organization_id", organization_id),
        "name": name,
        "title": workspace.get("title"),
        "create_time": parse_optional_timestamp(workspace.get("create_time")),
        "update_time": parse_optional_timestamp(workspace.get("update_time")),
        "creator_display_name": workspace.get("creator_display_name"),
        "creator_email": workspace.get("creator_email"),
        "workspace_icon": workspace.get("workspace_icon"),
        "workspace_icon_color": workspace.get("workspace_icon_color"),
        "extra_fields": _extra_fields(workspace, _WORKSPACE_FIELDS),
    }


def automation_row(automation: Mapping[str, Any], organization_id: str, workspace_id: str) -> Row:
    """The context ids win over the name: S1 documents `name` as just `automations/{id}`."""
    name = automation["name"]
    return {
        "automation_id": short_id(name),
        "workspace_id": workspace_id,
        "organization_id": organization_id,
        "name": name,
        "display_name": automation.get("display_name"),
        "description": automation.get("description"),
        "english_code": automation.get("english_code"),
        "code": automation.get("code"),
        "version": automation.get("version"),
        "latest_published_version": automation.get("latest_published_version"),
        "activation_state": automation.get("activation_state"),
        "create_time": parse_optional_timestamp(automation.get("create_time")),
        "update_time": parse_optional_timestamp(automation.get("update_time")),
        "publish_time": parse_optional_timestamp(automation.get("publish_time")),
        "delete_time": parse_optional_timestamp(automation.get("delete_time")),
        "purge_time": parse_optional_timestamp(automation.get("purge_time")),
        "author_id": automation.get("author_id"),
        "update_user_id": automation.get("update_user_id"),
        "publish_user_id": automation.get("publish_user_id"),
        "input_specs": automation.get("input_specs"),
        "default_inputs": decode_map_or_keep(automation.get("default_inputs")),
        "marked_outputs": automation.get("marked_outputs"),
        "connections": automation.get("connections"),
        "extra_fields": _extra_fields(automation, _AUTOMATION_FIELDS),
    }


def run_state(run: Mapping[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """The state's oneof key and its details; `pending`/`executing` are `{}`, so presence is what counts."""
    state = run.get("state") or {}
    for key, details in state.items():
        if key != "update_time":
            return key, details if isinstance(details, dict) else {"value": details}
    return None, {}


class RunVersion(NamedTuple):
    """What the run tracker needs of an API run to tell whether it is new or changed (open_runs.RunTracker.accept)."""

    run_id: str
    create_key: str
    update_key: str
    state: str | None


def run_version(run: Mapping[str, Any]) -> RunVersion:
    """The run's id, state, and creation and last-change instants as timestamp keys (timestamps.py); a run sent
    without `update_time` last changed when its state did, or else when it was created."""
    update = run.get("update_time") or (run.get("state") or {}).get("update_time") or run["create_time"]
    return RunVersion(short_id(run["name"]), timestamp_key(run["create_time"]), timestamp_key(update),
                      run_state(run)[0])


def run_row(run: Mapping[str, Any], organization_id: str, workspace_id: str, automation_id: str) -> Row:
    name = run["name"]
    state, details = run_state(run)
    location = details.get("location") or {}
    invocation = run.get("invocation_details") or {}
    known_details = {"reason", "id", "description", "exception", "location", "outputs"}
    return {
        "run_id": short_id(name),
        "automation_id": automation_id,
        "workspace_id": workspace_id,
        "organization_id": organization_id,
        "name": name,
        "create_time": parse_optional_timestamp(run.get("create_time")),
        "update_time": parse_optional_timestamp(run.get("update_time")),
        "state": state,
        "state_update_time": parse_optional_timestamp((run.get("state") or {}).get("update_time")),
        "reason": details.get("reason"),
        "error_id": details.get("id") if state == "failed" else None,
        "error_description": details.get("description") if state == "failed" else None,
        "exception_id": details.get("exception"),
        "exception_description": details.get("description") if state == "awaiting_guidance" else None,
        "location_start_byte": _int(location.get("start_byte")),
        "location_end_byte": _int(location.get("end_byte")),
        "outputs": decode_map_or_keep(details.get("outputs")),
        "user_inputs": decode_map_or_keep(run.get("user_inputs")),
        "inputs": decode_map_or_keep((run.get("executable_steps") or {}).get("inputs")),
        # Unknown states and unknown detail fields are kept rather than dropped (forward compatibility).
        "state_details": {k: v for k, v in details.items() if k not in known_details} or None,
        "stage": run.get("stage"),
        "stage_version": run.get("stage_version"),
        "invocation_source": invocation.get("invocation_source"),
        "trigger_id": invocation.get("trigger_id"),
        "user_id": invocation.get("user_id"),
        "previous_run": run.get("previous_run"),
        "extra_fields": _extra_fields(run, _RUN_FIELDS),
    }


EXCEPTION_STATE_PREFIX = "EXCEPTION_STATE_"


def exception_state(exception: Mapping[str, Any]) -> str | None:
    """`EXCEPTION_STATE_PENDING` -> `pending`: the short, lower-cased form, as runs' states are; a state the
    reference does not name yet is kept the same way (`EXCEPTION_STATE_SNOOZED` -> `snoozed`), never refused."""
    state = exception.get("state")
    return str(state).removeprefix(EXCEPTION_STATE_PREFIX).lower() if state else None


class ExceptionVersion(NamedTuple):
    """What the exception tracker needs of an API exception (open_exceptions.ExceptionTracker.accept)."""

    exception_id: str
    create_key: str
    run_id: str
    state: str | None
    digest: str


def exception_version(exception: Mapping[str, Any]) -> ExceptionVersion:
    return ExceptionVersion(short_id(exception["name"]), timestamp_key(exception["create_time"]),
                            short_id(exception.get("run") or ""), exception_state(exception), digest(exception))


def exception_automation_id(exception: Mapping[str, Any]) -> str | None:
    """The automation's short id, from the run's name when the API leaves `automation` out."""
    if automation := exception.get("automation"):
        return short_id(automation)
    return ids_from_name(exception.get("run") or "").get("automation_id")


def _blank_is_null(value: Any) -> Any:
    """proto3 JSON sends an unset string as "" or not at all: both are NULL."""
    return value if value not in (None, "") else None


def exception_row(exception: Mapping[str, Any], organization_id: str, workspace_id: str) -> Row:
    """One exception (v1Exception). The run and automation are full names: their short ids go in `run_id` and
    `automation_id` (the automation from the run's name when the API leaves it out); `exception_group` is the group's
    short name (`missing_values`), NULL when ungrouped (""); `assignee` and `resolver` stay as sent (`users/...`,
    `agents/...`), and `resolved_by_agent` says which kind resolved it."""
    name = exception["name"]
    run = exception.get("run") or ""
    location = exception.get("location") or {}
    resolver = _blank_is_null(exception.get("resolver"))
    return {
        "exception_id": short_id(name),
        "workspace_id": workspace_id,
        "organization_id": organization_id,
        "automation_id": exception_automation_id(exception),
        "run_id": short_id(run) if run else None,
        "execution_id": _blank_is_null(exception.get("execution_id")),
        "name": name,
        "state": exception_state(exception),
        "message": exception.get("message"),
        "description": _blank_is_null(exception.get("description")),
        "exception_group": short_id(group) if (group := _blank_is_null(exception.get("group"))) else None,
        "assignee": _blank_is_null(exception.get("assignee")),
        "resolver": resolver,
        "resolved_by_agent": resolver.startswith("agents/") if resolver else None,
        "resolution_guide_entry": _blank_is_null(exception.get("resolution_guide_entry")),
        "stage": _blank_is_null(exception.get("stage")),
        "location_start_byte": _int(location.get("start_byte")),
        "location_end_byte": _int(location.get("end_byte")),
        "create_time": parse_optional_timestamp(exception.get("create_time")),
        "update_time": parse_optional_timestamp(exception.get("update_time")),
        "extra": exception.get("extra") or None,
        "extra_fields": _extra_fields(exception, _EXCEPTION_FIELDS),
    }


_JOURNAL_COMMON = frozenset({
    "execution_id", "run_id", "event_time", "automation_id", "automation_phase_id", "code_hash", "stage",
    "workspace_id", "organization_id", "extra_metadata",
})
_VALUE_MAPS = frozenset({"inputs", "outputs", "inputs_patch"})


def _decoded_payload(body: Mapping[str, Any]) -> dict[str, Any]:
    """A journal entry's variant body with its commonV1Value maps decoded, the rest kept as sent."""
    payload: dict[str, Any] = {}
    for key, value in body.items():
        if key in _VALUE_MAPS:
            payload[key] = decode_map_or_keep(value)
        elif key == "book_function_call" and isinstance(value, Mapping):
            payload[key] = {**value, "inputs": decode_map_or_keep(value.get("inputs")),
                            "output": decode_or_keep(value.get("output"))}
        else:
            payload[key] = value
    return payload


def node_kind(event: Mapping[str, Any]) -> str | None:
    """The kind of the node a journal event is about; None for events without a node (run updates, an
    execution's start and end)."""
    journal = event.get("execution_journal")
    if not isinstance(journal, Mapping):
        return None
    body = next((value for key, value in journal.items() if key not in _JOURNAL_COMMON), None)
    return body.get("node_kind") if isinstance(body, Mapping) else None


class NewEvents(NamedTuple):
    rows: list[Row]
    """The rows of the events after the first `loaded`."""
    total: int
    """How many events the run's stream holds."""
    outputs: dict[str, Mapping[str, Any]]
    """The outputs (`commonV1Value`s by name) of each execution whose `completed` entry is among the new events."""


def new_event_rows(
    pages: Iterable[Sequence[Mapping[str, Any]]], run: Row, node_kinds: frozenset[str], loaded: int
) -> NewEvents:
    """The new events of a run, as rows, and what their `completed` entries say of the executions' outputs.

    The stream is what `node_kinds` keeps: node events of those kinds and every event without a node (all events
    if it is empty). `event_index` numbers positions in that stream, so a filtered load numbers without gaps.
    """
    rows: list[Row] = []
    outputs: dict[str, Mapping[str, Any]] = {}
    total = 0
    for page in pages:
        kept = [event for event in page if not node_kinds or (kind := node_kind(event)) is None or kind in node_kinds]
        for event in kept[max(0, loaded - total):]:
            rows.append(event_row(event, run, loaded + len(rows)))  # positions run on from the loaded ones
            journal = event.get("execution_journal") or {}
            if "completed" in journal and journal.get("execution_id"):
                outputs[journal["execution_id"]] = (journal["completed"] or {}).get("outputs") or {}
        total += len(kept)
    return NewEvents(rows, total, outputs)


def event_row(event: Mapping[str, Any], run: Row, event_index: int) -> Row:
    """One run event (kognitos-api.md §3.8, §5.2). Events have no id: the key is the run + `event_index`,
    the 0-based position in the run's append-only stream."""
    if "run_update" in event:
        snapshot = (event["run_update"] or {}).get("run") or {}
        state, details = run_state(snapshot)
        failed = state == "failed"
        return _event_row(
            run, event_index, "run_update", run_state=state,
            event_time=parse_optional_timestamp((snapshot.get("state") or {}).get("update_time")
                                                or snapshot.get("update_time")),
            error_id=details.get("id") if failed else None,
            error_description=details.get("description") if failed else None,
        )
    if "execution_journal" not in event:
        # A future event kind: keep it whole rather than drop it.
        return _event_row(run, event_index, next(iter(event), None), payload=dict(event))
    journal = event["execution_journal"] or {}
    variant = next((key for key in journal if key not in _JOURNAL_COMMON), None)
    body = journal.get(variant) if variant else None
    body = body if isinstance(body, Mapping) else {}
    error = body.get("error")
    first_error = (error if isinstance(error, Mapping) else error[0] if isinstance(error, list) and error
                   else None) or {}
    return _event_row(
        run, event_index, "execution_journal", journal_type=variant, execution_id=journal.get("execution_id"),
        event_time=parse_optional_timestamp(journal.get("event_time")), node_id=body.get("node_id"),
        node_kind=body.get("node_kind"), stop_reason=next(iter(body), None) if variant == "stopped" else None,
        error_id=first_error.get("id"), error_description=first_error.get("description"),
        payload=_decoded_payload(body) or None,
    )


def _event_row(
    run: Row, event_index: int, event_type: str | None, *, journal_type: str | None = None,
    event_time: datetime | None = None, execution_id: str | None = None, node_id: str | None = None,
    node_kind: str | None = None, run_state: str | None = None, stop_reason: str | None = None,
    error_id: str | None = None, error_description: str | None = None, payload: Any = None,
) -> Row:
    """Every event kind's row has the same columns; built in one go, it costs less than a template updated per kind."""
    return {
        "run_id": run["run_id"], "automation_id": run["automation_id"], "workspace_id": run["workspace_id"],
        "organization_id": run["organization_id"], "event_index": event_index, "event_type": event_type,
        "journal_type": journal_type, "event_time": event_time, "execution_id": execution_id, "node_id": node_id,
        "node_kind": node_kind, "run_state": run_state, "stop_reason": stop_reason, "error_id": error_id,
        "error_description": error_description, "payload": payload,
    }


def execution_output_rows(outputs: Mapping[str, Any], run: Row, execution_id: str) -> list[Row]:
    """One row per `set_output` of an execution, with its declared type (Get Execution Outputs, §3.7)."""
    return [_output_row(run, execution_id, name, (output or {}).get("value"),
                        value_type_name((output or {}).get("type")))
            for name, output in (outputs.get("outputs") or {}).items()]


def journal_output_rows(outputs: Mapping[str, Any], run: Row, execution_id: str) -> list[Row]:
    """One row per `set_output` of an execution, from its `completed` journal entry: the same values as Get
    Execution Outputs, typed by what each value says of itself (values.inferred_value_type)."""
    return [_output_row(run, execution_id, name, value, inferred_value_type(value)) for name, value in outputs.items()]


def _output_row(run: Row, execution_id: str, name: str, value: Mapping[str, Any] | None, value_type: str | None
                ) -> Row:
    return {"execution_id": execution_id, "run_id": run["run_id"], "automation_id": run["automation_id"],
            "workspace_id": run["workspace_id"], "organization_id": run["organization_id"], "output_name": name,
            "value": decode_or_keep(value), "value_type": value_type}


def daily_aggregate_rows(
    days: list[tuple[date, int]], workspace: Row, time_zone: str, automation_id: str
) -> list[Row]:
    return [
        {"workspace_id": workspace["workspace_id"], "organization_id": workspace["organization_id"],
         "time_zone": time_zone, "automation_id": automation_id, "date": day, "total_runs": total}
        for day, total in days
    ]


def daily_counts(response: Mapping[str, Any]) -> dict[date, int]:
    """`daily_run_aggregates[]` as {date: total_runs}; int32 counts arrive as JSON numbers (§3.6)."""
    return {
        date.fromisoformat(entry["date"]): int((entry.get("stats") or {}).get("total_runs") or 0)
        for entry in response.get("daily_run_aggregates") or []
    }


def automation_aggregate_rows(response: Mapping[str, Any], workspace: Row, snapshot_time: datetime) -> list[Row]:
    """`automation_id` arrives as a full resource name and the counts as int64 strings (§3.5)."""
    return [
        {"workspace_id": workspace["workspace_id"], "organization_id": workspace["organization_id"],
         "automation_id": short_id(entry["automation_id"]), "snapshot_date": snapshot_time.date(),
         "snapshot_time": snapshot_time, "total_runs": _int((entry.get("stats") or {}).get("total_runs")) or 0,
         "completed_runs": _int((entry.get("stats") or {}).get("completed_runs")) or 0}
        for entry in response.get("automation_run_aggregates") or []
    ]
