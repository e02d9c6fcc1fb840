"""open_exceptions.py and the exception's row (records.exception_row): what a load reloads, and how it maps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kognitos_elt.kognitos.open_exceptions import ExceptionTracker, ListingOrder, digest
from kognitos_elt.kognitos.records import exception_row, exception_version

WS = "organizations/o1/workspaces/w9"
RUN = f"{WS}/automations/a1/runs/r1"


def api_exception(exception_id: str, create_time: str, state: str = "EXCEPTION_STATE_PENDING", **more: Any
                  ) -> dict[str, Any]:
    return {"name": f"{WS}/exceptions/{exception_id}", "run": RUN, "location": {"start_byte": "3", "end_byte": "9"},
            "message": "needs a value", "create_time": create_time, "update_time": create_time, "state": state,
            **more}


def accept(tracker: ExceptionTracker, exception: dict[str, Any]) -> bool:
    return tracker.accept(*exception_version(exception))


def test_a_first_load_takes_every_exception_once_and_tracks_only_the_unresolved() -> None:
    tracker = ExceptionTracker()
    pending = api_exception("e2", "2025-01-02T00:00:00Z")
    resolved = api_exception("e1", "2025-01-01T00:00:00Z", "EXCEPTION_STATE_RESOLVED")

    assert [accept(tracker, e) for e in (pending, resolved, pending)] == [True, True, False]
    saved = tracker.to_state()

    assert saved["cursor"] == exception_version(pending).create_key and saved["at_cursor"] == ["e2"]
    assert saved["unresolved"] == {"e2": ["r1", digest(pending)]}
    assert tracker.new_count == 2 and tracker.updated_count == 0


def test_a_later_load_reloads_only_what_changed_and_stops_tracking_resolved_ones() -> None:
    first = ExceptionTracker()
    e2, e3 = api_exception("e2", "2025-01-02T00:00:00Z"), api_exception("e3", "2025-01-02T00:00:00Z")
    accept(first, e2)
    accept(first, e3)
    tracker = ExceptionTracker.from_state(first.to_state())
    tie = api_exception("e4", "2025-01-02T00:00:00Z", "EXCEPTION_STATE_ARCHIVED")  # at the cursor, not loaded

    assert accept(tracker, e2) is False  # listed again at the cursor, unchanged
    assert accept(tracker, tie) is True
    assert accept(tracker, {**e3, "description": "A value is missing."}) is True
    assert tracker.unseen() == {}
    assert accept(tracker, {**e2, "state": "EXCEPTION_STATE_RESOLVED"}) is False, "once per load"
    saved = tracker.to_state()

    assert (tracker.new_count, tracker.updated_count) == (1, 1)
    assert sorted(saved["unresolved"]) == ["e2", "e3", "e4"] and saved["at_cursor"] == ["e2", "e3", "e4"]
    resolved = ExceptionTracker.from_state(saved)
    assert accept(resolved, {**e3, "state": "EXCEPTION_STATE_RESOLVED"}) is True
    assert sorted(resolved.unseen()) == ["e2", "e4"]
    resolved.forget("e4")
    assert sorted(resolved.to_state()["unresolved"]) == ["e2"]


def test_an_exception_loaded_resolved_is_never_reloaded() -> None:
    first = ExceptionTracker()
    e1 = api_exception("e1", "2025-01-01T00:00:00Z", "EXCEPTION_STATE_RESOLVED")
    accept(first, e1)
    accept(first, api_exception("e2", "2025-01-03T00:00:00Z"))
    tracker = ExceptionTracker.from_state(first.to_state())

    assert accept(tracker, {**e1, "description": "late"}) is False


def test_the_cursor_stays_when_the_listing_order_cannot_vouch_for_it() -> None:
    tracker = ExceptionTracker(cursor="2025-01-01T00:00:00.000000000Z")
    accept(tracker, api_exception("e9", "2025-02-01T00:00:00Z", "EXCEPTION_STATE_RESOLVED"))

    assert tracker.to_state(advance=False)["cursor"] == "2025-01-01T00:00:00.000000000Z"


def test_listing_order_accepts_either_direction_with_ties_but_not_a_mix() -> None:
    def monotonic(*keys: str) -> bool:
        order = ListingOrder()
        for key in keys:
            order.add(key)
        return order.monotonic

    assert monotonic("3", "2", "2", "1") and monotonic("1", "1", "2") and monotonic()
    assert not monotonic("3", "1", "2")


def test_the_row_keeps_future_states_and_groups_as_short_lower_case_names_and_blank_fields_as_null() -> None:
    exception = api_exception(
        "e1", "2025-01-01T00:00:00.123456789Z", "EXCEPTION_STATE_SNOOZED", description="",
        group=f"{WS}/exceptionGroups/missing_values", assignee="users/u1", resolver="agents/astral",
        stage="AUTOMATION_STAGE_PUBLISHED", execution_id="x1", extra={"k": "v"}, sla_seconds="60")

    row = exception_row(exception, "o1", "w9")

    assert row | {"create_time": None, "update_time": None} == {
        "exception_id": "e1", "workspace_id": "w9", "organization_id": "o1", "automation_id": "a1", "run_id": "r1",
        "execution_id": "x1", "name": f"{WS}/exceptions/e1", "state": "snoozed", "message": "needs a value",
        "description": None, "exception_group": "missing_values", "assignee": "users/u1",
        "resolver": "agents/astral", "resolved_by_agent": True, "resolution_guide_entry": None,
        "stage": "AUTOMATION_STAGE_PUBLISHED", "location_start_byte": 3, "location_end_byte": 9,
        "create_time": None, "update_time": None, "extra": {"k": "v"}, "extra_fields": {"sla_seconds": "60"}}
    assert row["create_time"] == datetime(2025, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)
    assert exception_row({**exception, "group": "", "resolver": "users/u2"}, "o1", "w9")["exception_group"] is None
    assert exception_row({**exception, "resolver": "users/u2"}, "o1", "w9")["resolved_by_agent"] is False
    assert exception_row({**exception, "automation": f"{WS}/automations/a7"}, "o1", "w9")["automation_id"] == "a7"
