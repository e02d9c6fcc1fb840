"""Run aggregates: all-time counts per automation, and runs per local day in an IANA zone."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from simulator_support import Api, SimulatorFactory, short_id, state_of

from kognitos_simulator import Scale


def _expected_days(api: Api, workspace_id: str, zone: str, automation_ids: list[str] | None = None) -> Counter[str]:
    """Runs per local date, bucketing each run's create_time on its own (not via day boundaries)."""
    counts: Counter[str] = Counter()
    for automation_id in automation_ids or api.automation_ids(workspace_id, show_deleted=True):
        for run in api.world.runs(workspace_id, automation_id):
            created = datetime.fromisoformat(run["create_time"][:19] + "+00:00")
            counts[created.astimezone(ZoneInfo(zone)).date().isoformat()] += 1
    return counts


def _daily(client: httpx.Client, api: Api, workspace_id: str, zone: str, start: date, end: date,
           filter_text: str | None = None) -> httpx.Response:
    params: dict[str, str | int] = {"time_zone": zone, "start_date.year": start.year, "start_date.month": start.month,
                                    "start_date.day": start.day, "end_date.year": end.year,
                                    "end_date.month": end.month, "end_date.day": end.day}
    if filter_text:
        params["filter"] = filter_text
    return client.get(f"{api.workspace(workspace_id)}:dailyRunAggregates", params=params)


def test_automation_run_aggregates_count_every_run_and_completed_ones(client: httpx.Client, api: Api) -> None:
    for workspace_id in api.workspace_ids:
        body = client.get(f"{api.workspace(workspace_id)}:automationRunAggregates").json()
        entries = {entry["automation_id"]: entry["stats"] for entry in body["automation_run_aggregates"]}
        automations = api.world.automations(workspace_id, show_deleted=True)
        assert set(entries) == {automation["name"] for automation in automations}, "full names, deleted included"
        for automation in automations:
            runs = api.world.runs(workspace_id, short_id(automation["name"]))
            completed = sum(state_of(run) == "completed" for run in runs)
            assert entries[automation["name"]] == {"total_runs": str(len(runs)), "completed_runs": str(completed)}


def _run_counts(api: Api, workspace_id: str) -> dict[str, dict[str, str]]:
    """Each automation's stats as its counters would say now: total and completed runs, zeros omitted."""
    counts = {}
    for automation in api.world.automations(workspace_id, show_deleted=True):
        runs = api.world.runs(workspace_id, short_id(automation["name"]))
        stats = {"total_runs": len(runs), "completed_runs": sum(state_of(run) == "completed" for run in runs)}
        counts[automation["name"]] = {name: str(count) for name, count in stats.items() if count}
    return counts


def test_lagging_run_counts_count_what_had_happened_that_long_ago(make_simulator: SimulatorFactory) -> None:
    lag = timedelta(hours=6)
    sim, make_client = make_simulator(run_counts_lag_seconds=lag.total_seconds())
    api, client = Api(sim), make_client()
    then = {workspace_id: _run_counts(api, workspace_id) for workspace_id in api.workspace_ids}
    sim.world.advance(lag)
    assert then != {workspace_id: _run_counts(api, workspace_id) for workspace_id in api.workspace_ids}, \
        "runs should arrive and complete within the lag"
    for workspace_id in api.workspace_ids:
        body = client.get(f"{api.workspace(workspace_id)}:automationRunAggregates").json()
        assert {entry["automation_id"]: entry["stats"] for entry in body["automation_run_aggregates"]} \
            == then[workspace_id]


# The default start instant is 2025-11-14T15:30Z with 30 days of history: New York's DST ended on
# 2025-11-02 and Europe's on 2025-10-26; Kolkata is UTC+05:30 all year.
@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata", "America/New_York", "Europe/London", "Australia/Lord_Howe"])
def test_daily_aggregates_bucket_by_local_date_across_dst(client: httpx.Client, api: Api, zone: str) -> None:
    workspace_id = api.workspace_ids[0]
    start, end = date(2025, 10, 1), date(2025, 11, 30)
    rows = _daily(client, api, workspace_id, zone, start, end).json()["daily_run_aggregates"]
    expected = _expected_days(api, workspace_id, zone)
    assert {row["date"]: row["stats"]["total_runs"] for row in rows} == {
        day: count for day, count in expected.items() if start.isoformat() <= day <= end.isoformat()}
    assert [row["date"] for row in rows] == sorted(row["date"] for row in rows)
    assert all(row["stats"]["total_runs"] > 0 for row in rows), "days without runs are omitted"


def test_runs_near_midnight_land_on_the_local_day(make_simulator: SimulatorFactory) -> None:
    """Runs created at chosen instants around New York's DST change and Kolkata's half-hour offset."""
    sim, make_client = make_simulator(scale=Scale(workspaces=1, automations_per_workspace=1, runs_per_automation=0,
                                                  deleted_automations_per_workspace=0),
                                      start=datetime(2025, 11, 2, 3, 30, tzinfo=UTC))
    api = Api(sim)
    workspace_id = api.workspace_ids[0]
    automation_id = api.automation_ids(workspace_id)[0]
    instants = [datetime(2025, 11, 2, 3, 30, tzinfo=UTC),  # 23:30 EDT Nov 1 | 09:00 IST Nov 2
                datetime(2025, 11, 2, 6, 30, tzinfo=UTC),  # 01:30 EST Nov 2 (the second 01:30) | 12:00 IST
                datetime(2025, 11, 2, 18, 29, 59, 999999, tzinfo=UTC),  # 13:29 EST | 23:59:59.999999 IST Nov 2
                datetime(2025, 11, 2, 18, 30, tzinfo=UTC),  # 13:30 EST | 00:00 IST Nov 3
                datetime(2025, 11, 3, 4, 59, 59, tzinfo=UTC),  # 23:59:59 EST Nov 2 | 10:29:59 IST Nov 3
                datetime(2025, 11, 3, 5, 0, tzinfo=UTC)]  # 00:00 EST Nov 3
    for instant in instants:
        sim.world.advance(instant - sim.world.now)
        sim.world.insert_runs(workspace_id, automation_id)
    client = make_client()
    expected = {"America/New_York": {"2025-11-01": 1, "2025-11-02": 4, "2025-11-03": 1},
                "Asia/Kolkata": {"2025-11-02": 3, "2025-11-03": 3},
                "UTC": {"2025-11-02": 4, "2025-11-03": 2}}
    for zone, days in expected.items():
        rows = _daily(client, api, workspace_id, zone, date(2025, 10, 31), date(2025, 11, 5)).json()
        assert {row["date"]: row["stats"]["total_runs"] for row in rows["daily_run_aggregates"]} == days, zone


def test_start_and_end_dates_are_inclusive(client: httpx.Client, api: Api) -> None:
    workspace_id = api.workspace_ids[0]
    expected = _expected_days(api, workspace_id, "UTC")
    day = max(expected)
    rows = _daily(client, api, workspace_id, "UTC", date.fromisoformat(day), date.fromisoformat(day)).json()
    assert rows == {"daily_run_aggregates": [{"date": day, "stats": {"total_runs": expected[day]}}]}


def test_missing_dates_mean_the_30_days_up_to_today(client: httpx.Client, api: Api) -> None:
    workspace_id = api.workspace_ids[0]
    rows = client.get(f"{api.workspace(workspace_id)}:dailyRunAggregates",
                      params={"time_zone": "Asia/Kolkata"}).json()["daily_run_aggregates"]
    today = api.world.now.astimezone(ZoneInfo("Asia/Kolkata")).date()
    first = (today - timedelta(days=29)).isoformat()
    expected = _expected_days(api, workspace_id, "Asia/Kolkata")
    assert {row["date"]: row["stats"]["total_runs"] for row in rows} == {
        day: count for day, count in expected.items() if first <= day <= today.isoformat()}


def test_automation_id_filter_takes_short_ids_joined_by_or(client: httpx.Client, api: Api) -> None:
    workspace_id = api.workspace_ids[0]
    chosen = api.automation_ids(workspace_id)[:2]
    start, end = date(2025, 9, 1), date(2025, 12, 31)
    filter_text = " OR ".join(f'automation_id = "{automation_id}"' for automation_id in chosen)
    rows = _daily(client, api, workspace_id, "UTC", start, end, filter_text).json()["daily_run_aggregates"]
    assert {row["date"]: row["stats"]["total_runs"] for row in rows} == dict(
        _expected_days(api, workspace_id, "UTC", chosen))
    full_name = f'automation_id = "{api.automation(workspace_id, chosen[0])[1:]}"'
    assert _daily(client, api, workspace_id, "UTC", start, end, full_name).json() == {}, "full names match nothing"


@pytest.mark.parametrize(("params", "field"), [
    ({}, "time_zone"),
    ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
    ({"time_zone": "america/new_york"}, "time_zone"),
    ({"time_zone": "UTC", "start_date.year": 2025, "start_date.month": 2, "start_date.day": 30}, "start_date"),
    ({"time_zone": "UTC", "start_date.year": 2025, "start_date.month": 2}, "start_date"),
    ({"time_zone": "UTC", "end_date.year": "x"}, "end_date.year"),
    ({"time_zone": "UTC", "start_date.year": 2025, "start_date.month": 3, "start_date.day": 2,
      "end_date.year": 2025, "end_date.month": 3, "end_date.day": 1}, "start_date"),
    ({"time_zone": "UTC", "filter": 'automation_id = "a" AND automation_id = "b"'}, "filter"),
    ({"time_zone": "UTC", "filter": 'automation_id != "a"'}, "filter"),
    ({"time_zone": "UTC", "filter": 'create_time > "2025-01-01T00:00:00Z"'}, "filter"),
])
def test_bad_daily_aggregate_requests_are_invalid_argument(client: httpx.Client, api: Api,
                                                           params: dict[str, object], field: str) -> None:
    response = client.get(f"{api.workspace(api.workspace_ids[0])}:dailyRunAggregates", params=params)
    assert response.status_code == 400
    assert response.json()["code"] == 3
    assert response.json()["details"][0]["field_violations"][0]["field"] == field
