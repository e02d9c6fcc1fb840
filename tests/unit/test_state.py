"""state.py: the saved entries under their names, the earlier names read and moved, and what each accessor keeps."""

from __future__ import annotations

from datetime import date
from typing import Any

from kognitos_elt.kognitos.open_runs import RunTracker
from kognitos_elt.kognitos.state import (
    DAILY_SERIES_LOADED_UNTIL,
    OPEN_RUN_EVENT_COUNTS,
    RUN_TRACKERS,
    DailySeriesLoadedUntil,
    OpenRunEventCounts,
    RunTrackers,
    node_kinds_of_loaded_events,
)

TRACKER = {"cursor": "2025-01-01T00:00:00.000000000Z", "at_cursor": ["r1"], "count": 3,
           "open": {"r1": ["2025-01-01T00:00:00.000000000Z", 3, "2025-01-01T00:00:01.000000000Z"]}}


def test_a_resource_reading_an_entry_saved_under_its_earlier_name_moves_it_to_the_new_name() -> None:
    runs: dict[str, Any] = {"automations_v1": {"w/a": TRACKER}}

    tracker = RunTrackers.of_resource(runs).get("w", "a")

    assert (tracker.cursor, tracker.count, list(tracker.open)) == (TRACKER["cursor"], 3, ["r1"])
    assert runs == {RUN_TRACKERS: {"w/a": TRACKER}}


def test_reading_saved_state_from_outside_the_resource_accepts_either_name_and_changes_nothing() -> None:
    earlier = {"resources": {"runs": {"automations_v1": {"w/a": TRACKER}},
                             "run_events": {"open_runs_v1": {"w/a/r1": 5}},
                             "daily_run_aggregates": {"series_loaded_until_v1": {"w/UTC/*": "2025-01-02"}}}}
    renamed = {"resources": {"runs": {RUN_TRACKERS: {"w/a": TRACKER}},
                             "run_events": {OPEN_RUN_EVENT_COUNTS: {"w/a/r1": 5}},
                             "daily_run_aggregates": {DAILY_SERIES_LOADED_UNTIL: {"w/UTC/*": "2025-01-02"}}}}

    for state in (earlier, renamed):
        before = repr(state)
        assert RunTrackers.saved_in(state).get("w", "a").count == 3
        assert OpenRunEventCounts.saved_in(state).loaded("w", "a", "r1") == 5
        assert DailySeriesLoadedUntil.saved_in(state).get("w", "UTC", "*") == date(2025, 1, 2)
        assert repr(state) == before
    assert (len(RunTrackers.saved_in({})), len(OpenRunEventCounts.saved_in({}))) == (0, 0)
    assert DailySeriesLoadedUntil.saved_in({}).latest() is None


def test_saving_a_tracker_closes_its_load() -> None:
    runs: dict[str, Any] = {}
    trackers = RunTrackers.of_resource(runs)
    tracker = RunTracker()
    assert tracker.accept("r1", "2025-01-01T00:00:00.000000000Z", "2025-01-01T00:00:00.000000000Z", "executing")

    trackers.save("w", "a", tracker)

    saved = RunTrackers.of_resource(runs).get("w", "a")
    assert (saved.cursor, saved.count, saved.open["r1"].ordinal) == ("2025-01-01T00:00:00.000000000Z", 1, 1)


def test_event_counts_are_kept_for_open_runs_only() -> None:
    events: dict[str, Any] = {}
    counts = OpenRunEventCounts.of_resource(events)

    counts.record("w", "a", "open", 7, finished=False)
    counts.record("w", "a", "done", 9, finished=False)
    counts.record("w", "a", "done", 12, finished=True)

    assert (counts.loaded("w", "a", "open"), counts.loaded("w", "a", "done"), len(counts)) == (7, 0, 1)
    assert events == {OPEN_RUN_EVENT_COUNTS: {"w/a/open": 7}}


def test_the_node_kinds_of_loaded_events_are_those_of_the_first_load() -> None:
    events: dict[str, Any] = {"node_kinds_v1": ["FunctionCall"]}

    assert node_kinds_of_loaded_events(events, ()) == ("FunctionCall",)
    assert node_kinds_of_loaded_events({}, ("If",)) == ("If",)


def test_daily_series_remember_the_last_day_of_each_series() -> None:
    series = DailySeriesLoadedUntil.of_resource({})

    series.record("w", "UTC", "*", date(2025, 1, 2))
    series.record("w", "Asia/Kolkata", "*", date(2025, 1, 3))

    assert series.get("w", "UTC", "*") == date(2025, 1, 2) and series.get("w", "UTC", "a") is None
    assert (len(series), series.latest()) == (2, date(2025, 1, 3))
