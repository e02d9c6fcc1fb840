"""The request log records what clients asked, so tests can count requests."""

from __future__ import annotations

from simulator_support import Api, SimulatorFactory


def test_requests_are_logged_with_method_path_query_and_status(make_simulator: SimulatorFactory) -> None:
    sim, make_client = make_simulator()
    api = Api(sim)
    client = make_client()
    workspace_id, automation_id = api.showcase()
    runs_path = f"{api.automation(workspace_id, automation_id)}/runs"
    client.get(runs_path, params={"page_size": 3, "filter": 'create_time >= "2025-01-01T00:00:00Z"'})
    client.get(runs_path, params={"page_size": -1})
    client.post(f"{api.run(workspace_id, automation_id, api.run_ids(workspace_id, automation_id)[-1])}:pause",
                json={"reason": "x"})
    entries = sim.requests.entries
    assert [(entry.method, entry.status) for entry in entries] == [("GET", 200), ("GET", 400), ("POST", 400)]
    assert entries[0].path == f"/api/v1{runs_path}"
    assert entries[0].query == {"page_size": "3", "filter": 'create_time >= "2025-01-01T00:00:00Z"'}
    assert sim.requests.count() == 3
    assert sim.requests.count(path_contains="/runs") == 3
    assert sim.requests.count(path_contains="/runs", method="get") == 2
    assert sim.requests.count(method="POST") == 1
    sim.requests.clear()
    assert sim.requests.count() == 0 and sim.requests.entries == []
