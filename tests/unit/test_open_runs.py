"""RunTracker: new vs already loaded at the cursor, open runs refreshed, and the cheapest refresh plan."""

from __future__ import annotations

import pytest

from sources.kognitos.open_runs import OpenRun, RunTracker


def key(second: int, nanos: int = 0) -> str:
    return f"2025-01-01T00:00:{second:02d}.{nanos:09d}Z"


def first_load(*runs: tuple[str, str, str]) -> dict[str, object]:
    """runs: (id, create key, state), newest first as the API lists them; update key = create key."""
    tracker = RunTracker.from_state(None)
    for run_id, create, state in runs:
        assert tracker.accept(run_id, create, create, state)
    return tracker.to_state()


def test_ties_at_the_cursor_are_not_reloaded_but_a_late_tie_is_when_listing_again() -> None:
    saved = first_load(("b", key(5), "completed"), ("a", key(5), "completed"), ("z", key(1), "completed"))
    assert saved["cursor"] == key(5) and saved["at_cursor"] == ["a", "b"]
    tracker = RunTracker.from_state(saved)

    assert tracker.plan(None, 1000).list_from == key(5)
    assert not tracker.accept("b", key(5), key(5), "completed")
    assert not tracker.accept("a", key(5), key(5), "completed")
    assert tracker.accept("c", key(5), key(5), "completed")
    assert tracker.accept("d", key(5, 1), key(5, 1), "completed")
    assert tracker.new_count == 2
    assert tracker.to_state()["at_cursor"] == ["d"]


def test_open_run_is_reloaded_only_when_its_update_time_moves_and_forgotten_once_terminal() -> None:
    tracker = RunTracker.from_state(first_load(("open", key(3), "executing"), ("done", key(2), "completed")))
    plan = tracker.plan(None, 1000)
    assert plan.list_from == key(3) and plan.get_run_ids == ()

    assert not tracker.accept("open", key(3), key(3), "executing")
    assert tracker.updated_count == 0
    tracker = RunTracker.from_state(tracker.to_state())
    assert tracker.accept("open", key(3), key(9), "completed")
    assert tracker.updated_count == 1
    assert tracker.to_state()["open"] == {}


def test_a_run_listed_twice_in_one_load_is_loaded_once() -> None:
    tracker = RunTracker.from_state(None)
    assert tracker.accept("r1", key(4), key(4), "completed")
    assert not tracker.accept("r1", key(4), key(4), "completed")
    assert tracker.new_count == 1


@pytest.mark.parametrize(
    ("runs_since_oldest_open", "open_runs", "expect_relist"),
    [
        pytest.param(50_000, 3, False, id="few-old-open-runs-get-run-each"),
        pytest.param(900, 40, True, id="many-recent-open-runs-relist-one-page"),
        pytest.param(5_000, 3, False, id="relisting-5-pages-costs-more-than-3-get-runs"),
    ],
)
def test_plan_picks_whichever_refresh_costs_fewer_requests(
    runs_since_oldest_open: int, open_runs: int, expect_relist: bool
) -> None:
    tracker = RunTracker(cursor=key(59), count=runs_since_oldest_open + 1000)
    for i in range(open_runs):
        tracker.open[f"o{i}"] = OpenRun(key(10, i), 1000 + i, key(10, i))

    plan = tracker.plan(None, 1000)

    if expect_relist:
        assert plan.list_from == key(10, 0) and plan.get_run_ids == ()
    else:
        assert plan.list_from == key(59) and len(plan.get_run_ids) == open_runs


def test_plan_mixes_relisting_recent_open_runs_with_get_run_for_an_old_one() -> None:
    tracker = RunTracker(cursor=key(59), count=100_000)
    tracker.open["old"] = OpenRun(key(1), 10, key(1))
    for i in range(20):
        tracker.open[f"new{i}"] = OpenRun(key(50, i), 99_900 + i, key(50, i))

    plan = tracker.plan(None, 1000)

    assert plan.list_from == key(50, 0)
    assert plan.get_run_ids == ("old",)


def test_open_runs_missing_from_the_relisting_are_fetched_one_by_one() -> None:
    tracker = RunTracker(cursor=key(59), count=10)
    for i in range(5):
        tracker.open[f"o{i}"] = OpenRun(key(50, i), 5 + i, key(50, i))
    plan = tracker.plan(None, 1000)
    for i in range(4):
        tracker.accept(f"o{i}", key(50, i), key(50, i), "executing")

    assert tracker.unseen_open(plan) == ["o4"]
