"""The simulated clock: new runs arrive, running ones move on, events only ever get appended."""

from __future__ import annotations

import email.utils
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from simulator_support import Api, SimulatorFactory, short_id, state_of

from kognitos_simulator import SimulatorSettings, World

TERMINAL = {"completed", "failed"}


def _snapshot(api: Api, workspace_id: str, automation_id: str) -> dict[str, tuple[dict[str, Any], list[Any]]]:
    return {short_id(run["name"]): (run, api.world.run_events(workspace_id, automation_id, short_id(run["name"])))
            for run in api.world.runs(workspace_id, automation_id)}


def _assert_append_only(before: dict[str, tuple[dict[str, Any], list[Any]]],
                        after: dict[str, tuple[dict[str, Any], list[Any]]]) -> None:
    assert set(before) <= set(after), "runs never disappear"
    for run_id, (run, events) in before.items():
        later_run, later_events = after[run_id]
        assert later_events[: len(events)] == events, f"events of {run_id} were rewritten"
        assert later_run["create_time"] == run["create_time"]
        if later_run["state"] != run["state"]:
            assert later_run["update_time"] > run["update_time"], "update_time moves with every change"
            assert len(later_events) > len(events), "a state change comes with events"


def test_advancing_the_clock_reveals_new_runs(make_simulator: SimulatorFactory) -> None:
    sim, make_client = make_simulator()
    api = Api(sim)
    workspace_id, automation_id = api.showcase()
    before = {run["name"] for run in api.world.runs(workspace_id, automation_id)}
    start = sim.world.now
    sim.world.advance(timedelta(days=5))
    client = make_client()
    listed = client.get(f"{api.automation(workspace_id, automation_id)}/runs", params={"page_size": 1000}).json()
    new = [run for run in listed["runs"] if run["name"] not in before]
    assert new, "runs keep arriving after the start instant"
    assert all(datetime.fromisoformat(run["create_time"][:19] + "+00:00") >= start.replace(microsecond=0)
               for run in new)
    assert before <= {run["name"] for run in listed["runs"]}


def test_in_flight_runs_change_state_and_gain_events(make_simulator: SimulatorFactory) -> None:
    sim, _ = make_simulator()
    api = Api(sim)
    workspace_id, automation_id = api.showcase()
    before = _snapshot(api, workspace_id, automation_id)
    states = {run_id: state_of(run) for run_id, (run, _) in before.items()}
    for step in (timedelta(seconds=30), timedelta(minutes=10), timedelta(hours=3), timedelta(days=1)):
        sim.world.advance(step)
        after = _snapshot(api, workspace_id, automation_id)
        _assert_append_only(before, after)
        before = after
    moved = {run_id: state_of(before[run_id][0]) for run_id in states}
    assert {states[r] for r in states if states[r] != moved[r]} >= {"pending", "executing", "stopping"}
    assert all(moved[r] in TERMINAL | {"stopped", "awaiting_guidance"} for r in states)


def test_stuck_runs_finish_weeks_later(make_simulator: SimulatorFactory) -> None:
    sim, _ = make_simulator()
    api = Api(sim)
    stuck = {}
    for workspace_id in api.workspace_ids:
        for automation_id in api.automation_ids(workspace_id):
            for run in api.world.runs(workspace_id, automation_id):
                age = sim.world.now - datetime.fromisoformat(run["create_time"][:19] + "+00:00")
                if state_of(run) in ("awaiting_guidance", "stopped") and age > timedelta(days=14):
                    stuck[short_id(run["name"])] = (workspace_id, automation_id)
    assert stuck, "old runs are stuck at the start"
    sim.world.advance(timedelta(days=45))
    for run_id, (workspace_id, automation_id) in stuck.items():
        assert state_of(api.world.run(workspace_id, automation_id, run_id)) in TERMINAL


def test_every_run_of_the_start_instant_is_finished_two_months_later(make_simulator: SimulatorFactory) -> None:
    sim, _ = make_simulator()
    api = Api(sim)
    workspace_id, automation_id = api.showcase()
    existing = api.run_ids(workspace_id, automation_id)
    sim.world.advance(timedelta(days=60))
    assert all(state_of(api.world.run(workspace_id, automation_id, run_id)) in TERMINAL for run_id in existing)


def test_the_date_header_is_the_simulated_clock(make_simulator: SimulatorFactory) -> None:
    sim, make_client = make_simulator()
    client = make_client()
    sim.world.advance(timedelta(days=3, hours=5))
    served = email.utils.parsedate_to_datetime(client.get("/me/organizations").headers["date"])
    assert served == sim.world.now.replace(microsecond=0)


def test_the_same_seed_builds_the_same_world() -> None:
    first, second, other = (World(SimulatorSettings(seed=seed)) for seed in (3, 3, 4))
    for world in (first, second, other):
        world.advance(timedelta(days=2))
    for workspace in first.workspaces():
        workspace_id = short_id(workspace["name"])
        assert second.automations(workspace_id, show_deleted=True) == first.automations(workspace_id, True)
        for automation in first.automations(workspace_id):
            automation_id = short_id(automation["name"])
            runs = first.runs(workspace_id, automation_id)
            assert second.runs(workspace_id, automation_id) == runs
            for run in runs[:5]:
                run_id = short_id(run["name"])
                assert second.run_events(workspace_id, automation_id, run_id) == first.run_events(
                    workspace_id, automation_id, run_id)
    assert other.organization_id != first.organization_id
    assert other.workspaces() != first.workspaces()


def test_the_clock_starts_at_the_documented_instant_and_only_moves_forward() -> None:
    world = World(SimulatorSettings())
    assert world.now == datetime(2025, 11, 14, 15, 30, tzinfo=UTC)
    with pytest.raises(ValueError, match="only moves forward"):
        world.advance(timedelta(seconds=-1))
    start = datetime(2024, 2, 29, 12, 0, 0, 123456, tzinfo=UTC)
    assert World(SimulatorSettings(start=start)).now == start


def test_follow_wall_clock_moves_with_real_time() -> None:
    world = World(SimulatorSettings(follow_wall_clock=True))
    before = world.now
    time.sleep(0.05)
    world.advance(timedelta(hours=1))
    assert world.now - before >= timedelta(hours=1, milliseconds=50)
