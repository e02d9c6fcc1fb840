"""records.py: API objects from the reference (kognitos-api.md §8) become the documented rows."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from kognitos_elt.kognitos.records import (
    automation_row,
    event_row,
    execution_output_rows,
    ids_from_name,
    new_event_rows,
    run_row,
    run_version,
    short_id,
    workspace_row,
)

RUN_NAME = "organizations/o1/workspaces/w9/automations/V1StGXR8_Z5jdHi6B-myT/runs/r_01HZX3K9Q2"


def run_with_state(state: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": RUN_NAME,
        "create_time": "2025-06-11T09:15:02.481Z",
        "update_time": "2025-06-11T09:16:40.102123456Z",
        "state": {**state, "update_time": "2025-06-11T09:16:40.102Z"},
        "stage": "AUTOMATION_STAGE_PUBLISHED",
        "stage_version": "2.0",
        "invocation_details": {"trigger_id": "trg_1", "invocation_source": "INVOCATION_SOURCE_TRIGGER"},
        "user_inputs": {"po_number": {"text": "PO-1187"}},
    }


def test_ids_come_from_the_resource_name() -> None:
    assert short_id(RUN_NAME) == "r_01HZX3K9Q2"
    assert ids_from_name(RUN_NAME) == {"organization_id": "o1", "workspace_id": "w9",
                                       "automation_id": "V1StGXR8_Z5jdHi6B-myT", "run_id": "r_01HZX3K9Q2"}


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        pytest.param({"pending": {}}, {"state": "pending"}, id="pending-empty-object"),
        pytest.param({"executing": {}}, {"state": "executing"}, id="executing-empty-object"),
        pytest.param({"stopping": {"reason": "review"}}, {"state": "stopping", "reason": "review"}, id="stopping"),
        pytest.param({"stopped": {"reason": "review"}}, {"state": "stopped", "reason": "review"}, id="stopped"),
        pytest.param(
            {"awaiting_guidance": {"exception": "exc_4Jf9", "description": "no total",
                                   "location": {"start_byte": "0", "end_byte": "52"}}},
            {"state": "awaiting_guidance", "exception_id": "exc_4Jf9", "exception_description": "no total",
             "location_start_byte": 0, "location_end_byte": 52, "error_id": None},
            id="awaiting-guidance",
        ),
        pytest.param(
            {"failed": {"id": "err_book_timeout", "description": "timed out",
                        "location": {"start_byte": "8", "end_byte": "52"}}},
            {"state": "failed", "error_id": "err_book_timeout", "error_description": "timed out",
             "location_start_byte": 8, "exception_description": None},
            id="failed",
        ),
        pytest.param(
            {"completed": {"outputs": {"total": {"number": {"lo": 1234550, "flags": 131072}}}}},
            {"state": "completed", "outputs": {"total": Decimal("12345.50")}},
            id="completed-outputs-decoded",
        ),
        pytest.param(
            {"archived": {"by": "someone"}}, {"state": "archived", "state_details": {"by": "someone"}},
            id="unknown-future-state-kept",
        ),
    ],
)
def test_run_state_becomes_its_key_and_typed_detail_columns(state: dict[str, Any], expected: dict[str, Any]) -> None:
    row = run_row(run_with_state(state), "o1", "w9", "V1StGXR8_Z5jdHi6B-myT")

    assert {column: row[column] for column in expected} == expected
    assert row["run_id"] == "r_01HZX3K9Q2" and row["name"] == RUN_NAME
    assert row["update_time"] == datetime(2025, 6, 11, 9, 16, 40, 102123, tzinfo=UTC)
    assert row["user_inputs"] == {"po_number": "PO-1187"}
    assert row["invocation_source"] == "INVOCATION_SOURCE_TRIGGER"


def test_missing_optional_fields_give_nulls_not_errors() -> None:
    row = run_row({"name": RUN_NAME, "create_time": "2025-06-11T09:15:02Z", "stage": "AUTOMATION_STAGE_DRAFT",
                   "stage_version": "1.0"}, "o1", "w9", "a1")

    assert row["state"] is None and row["update_time"] is None and row["outputs"] is None


def test_workspace_and_automation_rows_keep_full_names_and_short_ids() -> None:
    workspace = workspace_row({"name": "organizations/o1/workspaces/w9", "title": "Finance",
                               "create_time": "2025-02-01T14:00:00Z"}, "o1")
    automation = automation_row({"name": "automations/A1", "display_name": "Invoices",
                                 "default_inputs": {"n": {"number": {"lo": 5}}}, "delete_time": None}, "o1", "w9")

    assert (workspace["workspace_id"], workspace["organization_id"], workspace["title"]) == ("w9", "o1", "Finance")
    assert workspace["create_time"] == datetime(2025, 2, 1, 14, tzinfo=UTC)
    assert (automation["automation_id"], automation["workspace_id"]) == ("A1", "w9")
    assert automation["default_inputs"] == {"n": Decimal(5)}


RUN = {"run_id": "r1", "automation_id": "a1", "workspace_id": "w9", "organization_id": "o1"}


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        pytest.param(
            {"run_update": {"run": {"name": RUN_NAME, "state": {"pending": {}, "update_time": "2025-06-11T09:15:02Z"},
                                    "stage": "AUTOMATION_STAGE_PUBLISHED", "stage_version": "2.0"}}},
            {"event_type": "run_update", "run_state": "pending", "journal_type": None,
             "event_time": datetime(2025, 6, 11, 9, 15, 2, tzinfo=UTC)},
            id="run-update-snapshot",
        ),
        pytest.param(
            {"execution_journal": {"execution_id": "ex1", "run_id": "r1", "event_time": "2025-06-11T09:15:03.010Z",
                                   "started": {}, "automation_id": "a1"}},
            {"event_type": "execution_journal", "journal_type": "started", "execution_id": "ex1", "payload": None},
            id="journal-started",
        ),
        pytest.param(
            {"execution_journal": {"execution_id": "ex1", "event_time": "2025-06-11T09:16:39.877Z", "node_executed": {
                "inputs": {"f": {"text": "x"}}, "outputs": {"total": {"number": {"lo": 1234550, "flags": 131072}}},
                "node_id": "n_2", "node_kind": "FunctionCall",
                "book_function_call": {"book_function": {"book_name": "idp"}, "output": {"number": {"lo": 7}}}}}},
            {"journal_type": "node_executed", "node_id": "n_2", "node_kind": "FunctionCall",
             "payload": {"inputs": {"f": "x"}, "outputs": {"total": Decimal("12345.50")}, "node_id": "n_2",
                         "node_kind": "FunctionCall",
                         "book_function_call": {"book_function": {"book_name": "idp"}, "inputs": None,
                                                "output": Decimal(7)}}},
            id="node-executed-decoded",
        ),
        pytest.param(
            {"execution_journal": {"execution_id": "ex7", "event_time": "2025-06-11T10:41:30Z",
                                   "stopped": {"waiting_on_timer": {"duration": "300s"}}}},
            {"journal_type": "stopped", "stop_reason": "waiting_on_timer"},
            id="journal-stopped-reason",
        ),
        pytest.param(
            {"execution_journal": {"execution_id": "ex8", "event_time": "2025-06-11T10:05:09Z",
                                   "failed": {"error": {"id": "err_book_timeout", "description": "timed out"}}}},
            {"journal_type": "failed", "error_id": "err_book_timeout", "error_description": "timed out"},
            id="journal-failed-error",
        ),
        pytest.param(
            {"execution_journal": {"execution_id": "ex9", "event_time": "2025-06-11T10:05:09Z",
                                   "teleported": {"to": "mars"}}},
            {"journal_type": "teleported", "payload": {"to": "mars"}},
            id="unknown-journal-variant-kept",
        ),
        pytest.param(
            {"agent_message": {"text": "hi"}},
            {"event_type": "agent_message", "payload": {"agent_message": {"text": "hi"}}},
            id="unknown-event-kind-kept",
        ),
    ],
)
def test_event_row_maps_every_event_shape(event: dict[str, Any], expected: dict[str, Any]) -> None:
    row = event_row(event, RUN, 41)

    assert {column: row[column] for column in expected} == expected
    assert (row["run_id"], row["event_index"], row["workspace_id"]) == ("r1", 41, "w9")


def test_execution_outputs_become_one_row_per_output_with_a_readable_type() -> None:
    rows = execution_output_rows({"outputs": {
        "invoice_total": {"value": {"number": {"lo": 1234550, "flags": 131072}},
                          "type": {"scalar_type": "VALUE_SCALAR_TYPE_NUMBER"}},
        "tags": {"value": {"list": {"items": [{"text": "urgent"}]}},
                 "type": {"list_type": {"inner": {"scalar_type": "VALUE_SCALAR_TYPE_TEXT"}}}},
    }}, RUN, "ex1")

    assert [(r["output_name"], r["value"], r["value_type"], r["execution_id"]) for r in rows] == [
        ("invoice_total", Decimal("12345.50"), "number", "ex1"), ("tags", ["urgent"], "list<text>", "ex1")]


def test_fields_the_api_starts_sending_are_kept_in_extra_fields() -> None:
    run = {**run_with_state({"completed": {}}), "priority": "high", "labels": ["eu"]}

    row = run_row(run, "o1", "w9", "a1")

    assert row["extra_fields"] == {"priority": "high", "labels": ["eu"]}
    assert run_row(run_with_state({"completed": {}}), "o1", "w9", "a1")["extra_fields"] is None


def test_a_malformed_value_is_kept_as_sent_with_a_warning_and_the_others_decoded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    malformed = {"number": {"lo": "12.5"}}
    run = run_with_state({"completed": {"outputs": {"bad": malformed, "good": {"text": "fine"}}}})

    with caplog.at_level("WARNING", logger="kognitos_elt.kognitos.records"):
        row = run_row(run, "o1", "w9", "a1")

    assert row["outputs"] == {"bad": malformed, "good": "fine"}
    assert [record.getMessage() for record in caplog.records if "Kept a value as the API sent it" in
            record.getMessage()] and "numeric string" in caplog.text


@pytest.mark.parametrize(
    ("changes", "update_key"),
    [
        pytest.param({}, "2025-06-11T09:16:40.102123456Z", id="update-time"),
        pytest.param({"update_time": None}, "2025-06-11T09:16:40.102000000Z", id="the-state-update-time"),
        pytest.param({"update_time": None, "state": {"pending": {}}}, "2025-06-11T09:15:02.481000000Z",
                     id="else-the-create-time"),
    ],
)
def test_run_version_is_what_the_tracker_compares(changes: dict[str, Any], update_key: str) -> None:
    run = {**run_with_state({"executing": {}}), **changes}

    assert run_version(run) == ("r_01HZX3K9Q2", "2025-06-11T09:15:02.481000000Z", update_key,
                                "executing" if "state" not in changes else "pending")


def node_event(kind: str) -> dict[str, Any]:
    return {"execution_journal": {"execution_id": "ex1", "node_started": {"node_id": f"n_{kind}", "node_kind": kind}}}


STREAM = [[{"run_update": {"run": {}}}, node_event("If")], [node_event("FunctionCall"), node_event("If")],
          [{"execution_journal": {"execution_id": "ex1", "completed": {}}}]]


@pytest.mark.parametrize(
    ("kinds", "loaded", "indexed", "total"),
    [
        pytest.param(frozenset(), 0, [(0, None), (1, "If"), (2, "FunctionCall"), (3, "If"), (4, None)], 5,
                     id="every-event"),
        pytest.param(frozenset(), 3, [(3, "If"), (4, None)], 5, id="after-those-loaded"),
        pytest.param(frozenset({"FunctionCall"}), 0, [(0, None), (1, "FunctionCall"), (2, None)], 3,
                     id="kinds-numbered-without-gaps"),
        pytest.param(frozenset({"FunctionCall"}), 3, [], 3, id="nothing-new"),
    ],
)
def test_new_event_rows_number_the_kept_stream_across_pages(
    kinds: frozenset[str], loaded: int, indexed: list[tuple[int, str | None]], total: int
) -> None:
    rows, counted, _ = new_event_rows(iter(STREAM), RUN, kinds, loaded)

    assert [(row["event_index"], row["node_kind"]) for row in rows] == indexed
    assert counted == total
