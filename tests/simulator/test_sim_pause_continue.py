"""Pause Run and Continue Run change the run's state, events and update_time, and persist."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from simulator_support import Api, ClientFactory, SimulatorFactory, journal_variant, short_id, state_of

from kognitos_simulator import RunningSimulator


def _run_in(api: Api, state: str) -> tuple[str, str, str]:
    workspace_id, automation_id = api.showcase()
    for run in api.world.runs(workspace_id, automation_id):
        if state_of(run) == state:
            return workspace_id, automation_id, short_id(run["name"])
    raise AssertionError(f"no {state} run")


@pytest.fixture
def private(make_simulator: SimulatorFactory) -> tuple[RunningSimulator, ClientFactory, Api, httpx.Client]:
    sim, make_client = make_simulator()
    return sim, make_client, Api(sim), make_client()


def test_pause_then_continue_an_executing_run(private: tuple[RunningSimulator, ClientFactory, Api, httpx.Client]
                                              ) -> None:
    sim, _, api, client = private
    workspace_id, automation_id, run_id = _run_in(api, "executing")
    path = api.run(workspace_id, automation_id, run_id)
    events_before = api.world.run_events(workspace_id, automation_id, run_id)
    run_before = api.world.run(workspace_id, automation_id, run_id)
    sim.world.advance(timedelta(seconds=1))

    paused = client.post(f"{path}:pause", json={"reason": "Vendor data needs review"})
    assert paused.status_code == 200, paused.text
    run = paused.json()
    assert run["state"]["stopping"] == {"reason": "Vendor data needs review"}
    assert run["update_time"] == run["state"]["update_time"] > run_before["update_time"]
    assert client.get(path).json() == run, "the pause persists"
    events = api.world.run_events(workspace_id, automation_id, run_id)
    assert events[: len(events_before)] == events_before
    assert events[-1]["run_update"]["run"]["state"]["stopping"]["reason"] == "Vendor data needs review"

    sim.world.advance(timedelta(minutes=1))
    stopped = client.get(path).json()
    assert stopped["state"]["stopped"] == {"reason": "Vendor data needs review"}
    events = api.world.run_events(workspace_id, automation_id, run_id)
    assert {"user_stopped": {}} in [event["execution_journal"]["stopped"] for event in events
                                    if journal_variant(event) == "stopped"]

    sim.world.advance(timedelta(hours=2))
    continued = client.post(f"{path}:continue", json={})
    assert continued.status_code == 200, continued.text
    assert state_of(continued.json()) == "pending"
    assert continued.json()["update_time"] > stopped["update_time"]
    sim.world.advance(timedelta(days=1))
    finished = client.get(path).json()
    assert state_of(finished) == "completed"
    final_events = api.world.run_events(workspace_id, automation_id, run_id)
    assert final_events[: len(events)] == events
    states = [state_of(event["run_update"]["run"]) for event in final_events if "run_update" in event]
    assert states[-5:] == ["stopping", "stopped", "pending", "executing", "completed"]


def test_pause_a_pending_run_and_continue_it_while_still_stopping(
        private: tuple[RunningSimulator, ClientFactory, Api, httpx.Client]) -> None:
    sim, _, api, client = private
    workspace_id, automation_id, run_id = _run_in(api, "pending")
    path = api.run(workspace_id, automation_id, run_id)
    assert state_of(client.post(f"{path}:pause", json={"reason": "hold"}).json()) == "stopping"
    continued = client.post(f"{path}:continue", content=b"")
    assert continued.status_code == 200 and state_of(continued.json()) == "pending"
    sim.world.advance(timedelta(days=1))
    assert state_of(client.get(path).json()) == "completed"


def test_awaiting_guidance_runs_can_be_paused(private: tuple[RunningSimulator, ClientFactory, Api, httpx.Client]
                                              ) -> None:
    _, _, api, client = private
    workspace_id, automation_id, run_id = _run_in(api, "awaiting_guidance")
    response = client.post(f"{api.run(workspace_id, automation_id, run_id)}:pause", json={"reason": "later"})
    assert state_of(response.json()) == "stopping"


@pytest.mark.parametrize(("state", "action"), [("completed", "pause"), ("failed", "pause"), ("stopping", "pause"),
                                               ("executing", "continue"), ("completed", "continue")])
def test_pause_and_continue_need_a_suitable_state(client: httpx.Client, api: Api, state: str, action: str) -> None:
    """Rejected requests change nothing, so these run against the shared simulator."""
    workspace_id, automation_id, run_id = _run_in(api, state)
    before = api.world.run(workspace_id, automation_id, run_id)
    response = client.post(f"{api.run(workspace_id, automation_id, run_id)}:{action}",
                           json={"reason": "x"} if action == "pause" else {})
    assert response.status_code == 400
    assert response.json()["code"] == 9, "FAILED_PRECONDITION"
    assert response.json()["details"][0]["@type"] == "type.googleapis.com/google.rpc.PreconditionFailure"
    assert api.world.run(workspace_id, automation_id, run_id) == before


@pytest.mark.parametrize(("action", "body"), [
    ("pause", b""), ("pause", b"{}"), ("pause", b'{"reason": ""}'), ("pause", b'{"reason": 3}'),
    ("pause", b'{"reason": "x", "force": true}'), ("pause", b"not json"), ("pause", b"[]"),
    ("continue", b'{"reason": "x"}'),
])
def test_malformed_bodies_are_invalid_argument(client: httpx.Client, api: Api, action: str, body: bytes) -> None:
    workspace_id, automation_id, run_id = _run_in(api, "executing" if action == "pause" else "stopped")
    response = client.post(f"{api.run(workspace_id, automation_id, run_id)}:{action}", content=body,
                           headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["code"] == 3, response.text


def test_pause_of_an_unknown_run_is_not_found(client: httpx.Client, api: Api) -> None:
    workspace_id, automation_id = api.showcase()
    response = client.post(f"{api.run(workspace_id, automation_id, 'V1StGXR8_Z5jdHi6B-myT')}:pause",
                           json={"reason": "x"})
    assert response.status_code == 404 and "V1StGXR8_Z5jdHi6B-myT" in response.json()["message"]


def test_completed_counts_follow_continued_runs(private: tuple[RunningSimulator, ClientFactory, Api, httpx.Client]
                                                ) -> None:
    sim, _, api, client = private
    workspace_id, automation_id, run_id = _run_in(api, "stopped")
    aggregates = f"{api.workspace(workspace_id)}:automationRunAggregates"
    name = api.automation(workspace_id, automation_id)[1:]

    def completed() -> int:
        entries = client.get(aggregates).json()["automation_run_aggregates"]
        return int(next(entry for entry in entries if entry["automation_id"] == name)["stats"]["completed_runs"])

    before = completed()
    client.post(f"{api.run(workspace_id, automation_id, run_id)}:continue", json={})
    sim.world.advance(timedelta(minutes=30))
    assert state_of(api.world.run(workspace_id, automation_id, run_id)) == "completed"
    assert completed() >= before + 1
