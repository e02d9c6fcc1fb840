"""records.py: API objects from the reference (kognitos-api.md §8) become the documented rows."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from sources.kognitos.records import automation_row, ids_from_name, run_row, short_id, workspace_row

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
