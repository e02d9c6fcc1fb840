"""RunTracker: new vs already loaded at the cursor, open runs refreshed, and the fastest refresh plan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kognitos_elt.kognitos.open_runs import (
    PRIOR_SECONDS_PER_REQUEST,
    PRIOR_SECONDS_PER_RUN,
    OpenRun,
    RefreshCosts,
    RequestCosts,
    RunTracker,
    refresh_seconds,
)

SLOW = RefreshCosts(seconds_per_request=0.020, seconds_per_run=50e-6, seconds_per_get_run=0.020)
"""20 ms a request, Get Runs one after the other: a Get Run costs as much as listing 400 runs."""
FAST = RefreshCosts(seconds_per_request=0.0005, seconds_per_run=50e-6, seconds_per_get_run=0.0005)
"""No latency: a Get Run costs as much as listing 10 runs."""


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

    assert tracker.plan(None, 1000, SLOW).list_from == key(5)
    assert not tracker.accept("b", key(5), key(5), "completed")
    assert not tracker.accept("a", key(5), key(5), "completed")
    assert tracker.accept("c", key(5), key(5), "completed")
    assert tracker.accept("d", key(5, 1), key(5, 1), "completed")
    assert tracker.new_count == 2
    assert tracker.to_state()["at_cursor"] == ["d"]


def test_open_run_is_reloaded_only_when_its_update_time_moves_and_forgotten_once_terminal() -> None:
    tracker = RunTracker.from_state(first_load(("open", key(3), "executing"), ("done", key(2), "completed")))
    plan = tracker.plan(None, 1000, SLOW)
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
    ("runs_since_oldest_open", "open_runs", "costs", "expect_relist"),
    [
        pytest.param(50_000, 3, SLOW, False, id="few-old-open-runs-get-run-each"),
        pytest.param(900, 40, SLOW, True, id="slow-requests-many-recent-open-runs-relist-one-page"),
        pytest.param(900, 40, FAST, False, id="fast-requests-40-get-runs-beat-relisting-900-runs"),
        pytest.param(900, 200, FAST, True, id="fast-requests-200-get-runs-cost-more-than-900-runs"),
        pytest.param(5_000, 3, SLOW, False, id="relisting-5-pages-costs-more-than-3-get-runs"),
    ],
)
def test_plan_picks_whichever_refresh_takes_less_time(
    runs_since_oldest_open: int, open_runs: int, costs: RefreshCosts, expect_relist: bool
) -> None:
    tracker = RunTracker(cursor=key(59), count=runs_since_oldest_open + 1000)
    for i in range(open_runs):
        tracker.open[f"o{i}"] = OpenRun(key(10, i), 1000 + i, key(10, i))

    plan = tracker.plan(None, 1000, costs)

    if expect_relist:
        assert plan.list_from == key(10, 0) and plan.get_run_ids == ()
        assert plan.relisted_runs == runs_since_oldest_open + 1 and plan.seconds < plan.all_get_seconds
    else:
        assert plan.list_from == key(59) and len(plan.get_run_ids) == open_runs
        assert plan.relisted_runs == 0 and plan.seconds == plan.all_get_seconds


def test_refresh_seconds_counts_pages_beyond_the_first_runs_listed_and_get_runs() -> None:
    costs = RefreshCosts(seconds_per_request=0.01, seconds_per_run=0.001, seconds_per_get_run=0.002)
    assert refresh_seconds(0, 0, 1000, costs) == 0
    assert refresh_seconds(1000, 0, 1000, costs) == pytest.approx(1.0)  # the first page goes out anyway
    assert refresh_seconds(1001, 0, 1000, costs) == pytest.approx(0.01 + 1.001)
    assert refresh_seconds(0, 3, 1000, costs) == pytest.approx(3 * 0.002)
    assert refresh_seconds(2500, 2, 1000, costs) == pytest.approx(2 * 0.01 + 2.5 + 2 * 0.002)


def test_get_runs_in_flight_together_make_relisting_the_dearer_choice_even_at_20_ms() -> None:
    tracker = RunTracker(cursor=key(59), count=1900)
    for i in range(10):
        tracker.open[f"o{i}"] = OpenRun(key(10, i), 1000 + i, key(10, i))
    concurrent = RefreshCosts(seconds_per_request=0.020, seconds_per_run=50e-6, seconds_per_get_run=0.0026)

    assert tracker.plan(None, 1000, SLOW).get_run_ids == ()  # 10 x 20 ms against 901 runs x 50 us
    assert len(tracker.plan(None, 1000, concurrent).get_run_ids) == 10  # 10 x 2.6 ms


def test_request_costs_fit_the_time_per_page_and_per_run_and_time_get_runs_per_batch() -> None:
    costs = RequestCosts()
    prior = costs.estimate()
    assert (prior.seconds_per_request, prior.seconds_per_run) == (PRIOR_SECONDS_PER_REQUEST, PRIOR_SECONDS_PER_RUN)
    before_any = costs.estimate(0.024, concurrency=8)
    assert before_any == RefreshCosts(0.024, PRIOR_SECONDS_PER_RUN, 0.003 + PRIOR_SECONDS_PER_RUN)

    costs.add_page(0.004 + 10 * 20e-6, 10)
    costs.add_page(0.004 + 10 * 20e-6, 10)
    alike = costs.estimate(0.03)  # pages that do not vary cannot tell the two prices apart: the prior per run
    assert alike.seconds_per_run == PRIOR_SECONDS_PER_RUN
    assert alike.seconds_per_request == pytest.approx(0.0042 - 10 * PRIOR_SECONDS_PER_RUN)

    for runs in (1, 1000, 0, 1, 400):
        costs.add_page(0.004 + runs * 20e-6, runs)
    costs.add_get_runs(0.010, 4)
    costs.add_get_runs(0.002, 1)
    fitted = costs.estimate(0.03, concurrency=8)
    assert fitted.seconds_per_request == pytest.approx(0.004)
    assert fitted.seconds_per_run == pytest.approx(20e-6)
    assert fitted.seconds_per_get_run == pytest.approx(0.012 / 5)


def test_request_costs_never_go_negative_on_noisy_observations() -> None:
    costs = RequestCosts()
    costs.add_page(0.050, 1)  # a slow small page (a pause) and a fast big one: the fitted slope would be negative
    costs.add_page(0.010, 1000)
    fitted = costs.estimate()
    # The slope clipped to 0, a page is worth the mean page; Get Runs, untimed yet, a page shared by one in flight.
    assert fitted == RefreshCosts(pytest.approx(0.030), 0.0, pytest.approx(0.030))  # type: ignore[arg-type]


def test_fixed_prices_are_the_estimate_whatever_the_load_observes() -> None:
    costs = RequestCosts(fixed=SLOW)
    costs.add_page(0.001, 10)
    costs.add_page(0.002, 900)
    costs.add_get_runs(0.5, 2)

    assert costs.estimate(0.5, concurrency=8) == SLOW


def test_plan_mixes_relisting_recent_open_runs_with_get_run_for_an_old_one() -> None:
    tracker = RunTracker(cursor=key(59), count=100_000)
    tracker.open["old"] = OpenRun(key(1), 10, key(1))
    for i in range(20):
        tracker.open[f"new{i}"] = OpenRun(key(50, i), 99_900 + i, key(50, i))

    plan = tracker.plan(None, 1000, SLOW)

    assert plan.list_from == key(50, 0)
    assert plan.get_run_ids == ("old",)


def test_open_runs_missing_from_the_relisting_are_fetched_one_by_one() -> None:
    tracker = RunTracker(cursor=key(59), count=10)
    for i in range(5):
        tracker.open[f"o{i}"] = OpenRun(key(50, i), 5 + i, key(50, i))
    plan = tracker.plan(None, 1000, SLOW)
    for i in range(4):
        tracker.accept(f"o{i}", key(50, i), key(50, i), "executing")

    assert tracker.unseen_open(plan) == ["o4"]


LISTED_AT = datetime(2025, 11, 14, 12, 0, tzinfo=UTC)
SIX_HOURS = timedelta(hours=6)


def listed(total: int | None, *open_runs: str) -> RunTracker:
    """An automation listed at LISTED_AT when the service counted `total` runs, with these runs left open."""
    tracker = RunTracker(cursor=key(59), count=10)
    tracker.listing(total, LISTED_AT)
    for i, run_id in enumerate(open_runs):
        tracker.open[run_id] = OpenRun(key(50, i), 5 + i, key(50, i))
    return RunTracker.from_state(tracker.to_state())


@pytest.mark.parametrize(
    ("tracker", "total", "since_listed", "unchanged"),
    [
        pytest.param(listed(12), 12, timedelta(minutes=5), True, id="same-total"),
        pytest.param(listed(12, "o1"), 12, timedelta(minutes=5), True, id="same-total-with-an-open-run"),
        pytest.param(listed(12), 12, SIX_HOURS - timedelta(seconds=1), True, id="just-before-the-full-listing"),
        pytest.param(listed(12), 12, SIX_HOURS, False, id="full-listing-due"),
        pytest.param(listed(12), 13, timedelta(minutes=5), False, id="a-run-more"),
        pytest.param(listed(12), 11, timedelta(minutes=5), False, id="a-run-fewer"),
        pytest.param(listed(12), None, timedelta(minutes=5), False, id="total-unknown-now"),
        pytest.param(listed(None), 12, timedelta(minutes=5), False, id="total-unknown-when-listed"),
        pytest.param(listed(12), 12, -timedelta(seconds=1), True, id="service-clock-a-second-behind"),
        pytest.param(listed(12), 12, -SIX_HOURS, False, id="service-clock-went-back-hours"),
        pytest.param(RunTracker(), 0, timedelta(0), False, id="never-listed"),
    ],
)
def test_no_new_run_is_expected_only_while_the_total_and_a_recent_listing_say_so(
    tracker: RunTracker, total: int | None, since_listed: timedelta, unchanged: bool
) -> None:
    assert tracker.total_unchanged(total, LISTED_AT + since_listed, SIX_HOURS) is unchanged


def test_a_new_run_is_always_expected_when_the_full_listing_interval_is_zero() -> None:
    assert not listed(12).total_unchanged(12, LISTED_AT, timedelta(0))


def test_with_no_new_run_expected_an_automation_without_open_runs_is_not_listed() -> None:
    assert not listed(12).new_runs_plan(None, new_runs_expected=False).lists
    assert listed(12).new_runs_plan(None).lists


def test_with_no_new_run_expected_the_first_page_is_priced_and_open_runs_may_be_fetched_without_a_listing() -> None:
    tracker = listed(12, "at_cursor")
    tracker.open["at_cursor"] = OpenRun(key(59), 10, key(59))  # the newest run: the cursor's own page lists it

    listing_anyway = tracker.plan(None, 1000, SLOW)
    assert listing_anyway.lists and listing_anyway.list_from == key(59) and listing_anyway.get_run_ids == ()

    nothing_new = tracker.plan(None, 1000, SLOW, new_runs_expected=False)  # a page costs as much as a Get Run
    assert not nothing_new.lists and nothing_new.get_run_ids == ("at_cursor",)
    assert nothing_new.seconds == nothing_new.all_get_seconds == pytest.approx(SLOW.seconds_per_get_run)


def test_with_no_new_run_expected_relisting_many_recent_open_runs_still_lists() -> None:
    tracker = listed(12)
    tracker.count = 40
    for i in range(40):
        tracker.open[f"o{i}"] = OpenRun(key(10, i), 1 + i, key(10, i))  # every run loaded is open

    plan = tracker.plan(None, 1000, SLOW, new_runs_expected=False)  # 40 Get Runs against one page of 40 runs

    assert plan.lists and plan.list_from == key(10, 0) and plan.get_run_ids == ()
    assert plan.seconds == pytest.approx(SLOW.seconds_per_request + 40 * SLOW.seconds_per_run)
