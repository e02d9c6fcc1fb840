"""Daily and per-automation run aggregates: equal to the simulator's truth in every zone, day by day."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from kognitos_elt.kognitos import ConfigError
from kognitos_simulator import RunningSimulator

from .conftest import Loader, Query
from .truth import short, truth_days

ZONES = ["UTC", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"]
def loaded_days(query: Query, zone: str, automation_id: str = "*") -> dict[tuple[str, date], int]:
    rows = query("SELECT workspace_id, date, total_runs FROM kognitos.daily_run_aggregates "
                 f"WHERE time_zone = '{zone}' AND automation_id = '{automation_id}'")
    loaded = {(ws, day): total for ws, day, total in rows}
    assert len(loaded) == len(rows), "a day was loaded twice"
    return loaded


def test_daily_totals_equal_truth_day_by_day_in_every_zone(simulator: RunningSimulator, load: Loader,
                                                          query: Query) -> None:
    load(time_zones=ZONES)

    for zone in ZONES:
        truth = truth_days(simulator.world, zone)
        assert sum(truth.values()) > 0
        assert loaded_days(query, zone) == truth, zone


def test_second_load_updates_today_and_yesterday_without_duplicates(
    simulator: RunningSimulator, load: Loader, query: Query
) -> None:
    load(time_zones=ZONES)
    simulator.world.advance(timedelta(hours=20))

    load(time_zones=ZONES)

    for zone in ZONES:
        truth = truth_days(simulator.world, zone)
        loaded = loaded_days(query, zone)
        assert {key: loaded[key] for key in truth} == truth, zone


def test_per_automation_series_equal_the_truth_and_sum_to_the_workspace_series(
    simulator: RunningSimulator, load: Loader, query: Query
) -> None:
    load(time_zones=["Asia/Kolkata"], daily_aggregates_per_automation=True)

    automations = query("SELECT DISTINCT workspace_id, automation_id FROM kognitos.daily_run_aggregates "
                        "WHERE automation_id <> '*'")
    assert automations
    for ws, auto in automations:
        truth = {key: total for key, total in truth_days(simulator.world, "Asia/Kolkata", (auto,)).items()
                 if key[0] == ws}
        assert loaded_days(query, "Asia/Kolkata", auto) == truth, auto
    rows = query("SELECT workspace_id, date, sum(total_runs) FROM kognitos.daily_run_aggregates "
                 "WHERE automation_id <> '*' GROUP BY ALL")
    assert {(ws, day): total for ws, day, total in rows} == loaded_days(query, "Asia/Kolkata")


def test_invalid_zone_fails_before_any_request_and_loads_nothing(
    simulator: RunningSimulator, load: Loader, database: Path
) -> None:
    simulator.requests.clear()

    with pytest.raises(ConfigError, match="Europe/Pariss"):
        load(time_zones=["UTC", "Europe/Pariss"])

    assert simulator.requests.entries == []
    assert not database.exists()


def test_automation_totals_are_integers_with_short_ids_and_the_latest_snapshot_of_the_day_wins(
    simulator: RunningSimulator, load: Loader, query: Query
) -> None:
    def totals() -> dict[tuple[str, str], tuple[int, int]]:
        return {(ws, short(entry["automation_id"])): (int(entry["stats"]["total_runs"]),
                                                     int(entry["stats"]["completed_runs"]))
                for ws in (short(w["name"]) for w in simulator.world.workspaces())
                for entry in simulator.world.automation_run_aggregates(ws)}

    load()
    morning, day = totals(), simulator.world.now.date()
    simulator.world.advance(timedelta(hours=8))
    assert simulator.world.now.date() == day and totals() != morning, "runs moved on within the same day"

    load()

    rows = query("SELECT workspace_id, automation_id, total_runs, completed_runs, snapshot_date FROM "
                 "kognitos.automation_run_aggregates")
    assert {(ws, auto): (total, done) for ws, auto, total, done, _ in rows} == totals()
    assert len(rows) == len(totals()) and {row[-1] for row in rows} == {day}


def test_start_date_bounds_a_first_load_of_runs_and_of_the_daily_series(
    simulator: RunningSimulator, load: Loader, query: Query
) -> None:
    world = simulator.world
    start = world.now.date() - timedelta(days=5)

    load(start_date=start.isoformat())

    every_run = {(short(w["name"]), short(a["name"]), short(run["name"])): run["create_time"]
                 for w in world.workspaces() for a in world.automations(short(w["name"]), show_deleted=True)
                 for run in world.runs(short(w["name"]), short(a["name"]))}
    expected = {key for key, created in every_run.items() if date.fromisoformat(created[:10]) >= start}
    assert 0 < len(expected) < len(every_run)
    assert set(query("SELECT workspace_id, automation_id, run_id FROM kognitos.runs")) == expected
    days = sorted({day for _, day in loaded_days(query, "UTC")})
    assert days[0] == start and days[-1] == world.now.date()


def test_a_longer_lookback_requeries_those_days_and_no_more(
    simulator: RunningSimulator, load: Loader
) -> None:
    load()
    simulator.requests.clear()

    load(daily_aggregates_lookback_days=5)

    (request,) = [e for e in simulator.requests.entries if e.path.endswith(":dailyRunAggregates")][:1]
    asked = (date(int(request.query["start_date.year"]), int(request.query["start_date.month"]),
                  int(request.query["start_date.day"])),
             date(int(request.query["end_date.year"]), int(request.query["end_date.month"]),
                  int(request.query["end_date.day"])))
    today = simulator.world.now.date()
    # Five days back to today, and one more day on each side (the API does not say whether its range is inclusive).
    assert asked == (today - timedelta(days=5), today + timedelta(days=1))
