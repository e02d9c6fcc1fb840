"""Injected faults: every kind is produced on demand, deterministically, without touching the world."""

from __future__ import annotations

import contextlib
import threading
import time

import httpx
import pytest
from simulator_support import Api, SimulatorFactory, collect, short_id

from kognitos_simulator import Faults, RunningSimulator
from kognitos_simulator.requestlog import NO_RESPONSE


@pytest.fixture
def private(make_simulator: SimulatorFactory) -> tuple[RunningSimulator, Api, httpx.Client]:
    sim, make_client = make_simulator()
    return sim, Api(sim), make_client()


@pytest.mark.parametrize(("kind", "status", "code"), [
    ("rate_limit", 429, 8), ("internal_error", 500, 13), ("unavailable", 503, 14), ("deadline_exceeded", 504, 4),
])
def test_error_faults_answer_with_the_grpc_gateway_status(private: tuple[RunningSimulator, Api, httpx.Client],
                                                          kind: str, status: int, code: int) -> None:
    sim, _, client = private
    sim.faults.retry_after_seconds = 7
    sim.faults.inject(kind, count=2)  # type: ignore[arg-type]
    for _ in range(2):
        response = client.get("/me/organizations")
        assert response.status_code == status and response.json()["code"] == code
    assert client.get("/me/organizations").status_code == 200
    if kind == "rate_limit":
        assert response.headers["retry-after"] == "7"
        assert response.json()["details"] == [
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retry_delay": "7s"}]


def test_held_requests_wait_at_the_door_until_it_opens(private: tuple[RunningSimulator, Api, httpx.Client]
                                                       ) -> None:
    sim, _, client = private
    answers: list[int] = []
    with sim.faults.held():
        asking = threading.Thread(target=lambda: answers.append(client.get("/me/organizations").status_code))
        asking.start()
        deadline = time.monotonic() + 30
        while sim.faults.waiting() == 0:
            assert time.monotonic() < deadline, "the request never reached the door"
            time.sleep(0.01)
        asking.join(timeout=0.3)
        assert asking.is_alive() and answers == [] and sim.requests.entries == []
    asking.join(timeout=30)

    assert answers == [200] and sim.faults.waiting() == 0
    assert client.get("/me/organizations").status_code == 200


def test_dropped_connections_send_nothing(private: tuple[RunningSimulator, Api, httpx.Client]) -> None:
    sim, _, client = private
    sim.faults.inject("drop_connection")
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        client.get("/me/organizations")
    assert sim.requests.entries[-1].status == NO_RESPONSE
    assert client.get("/me/organizations").status_code == 200


def test_truncated_bodies_stop_mid_json(private: tuple[RunningSimulator, Api, httpx.Client]) -> None:
    sim, api, client = private
    workspace_id, automation_id = api.showcase()
    sim.faults.inject("truncated_body")
    with pytest.raises(httpx.RemoteProtocolError, match="received [0-9]+ bytes, expected [0-9]+"):
        client.get(f"{api.automation(workspace_id, automation_id)}/runs")
    assert sim.requests.entries[-1].status == 200
    assert client.get(f"{api.automation(workspace_id, automation_id)}/runs").status_code == 200


def test_slow_responses_and_latency_delay_the_answer(private: tuple[RunningSimulator, Api, httpx.Client]) -> None:
    sim, _, client = private
    sim.faults.slow_seconds = 0.3
    sim.faults.inject("slow")
    started = time.perf_counter()
    assert client.get("/me/organizations").status_code == 200
    assert time.perf_counter() - started >= 0.3
    sim.faults.latency_seconds = 0.15
    started = time.perf_counter()
    client.get("/me/organizations")
    client.get("/me/organizations")
    assert time.perf_counter() - started >= 0.3


def test_every_nth_request_fails_deterministically(private: tuple[RunningSimulator, Api, httpx.Client]) -> None:
    sim, _, client = private
    sim.faults.every_nth["internal_error"] = 3
    statuses = [client.get("/me/organizations").status_code for _ in range(7)]
    assert statuses == [200, 200, 500, 200, 200, 500, 200]


def test_rates_draw_the_same_sequence_for_the_same_seed(make_simulator: SimulatorFactory) -> None:
    sequences = []
    for _ in range(2):
        sim, make_client = make_simulator(faults=Faults(unavailable_rate=0.3, rate_limit_rate=0.2, seed=11))
        client = make_client()
        sequences.append([client.get("/me/organizations").status_code for _ in range(30)])
    assert sequences[0] == sequences[1]
    assert set(sequences[0]) == {200, 429, 503}


def test_path_contains_limits_faults_to_matching_requests(private: tuple[RunningSimulator, Api, httpx.Client]
                                                          ) -> None:
    sim, api, client = private
    workspace_id, automation_id = api.showcase()
    sim.faults.path_contains = "/runs"
    sim.faults.unavailable_rate = 1.0
    assert client.get("/me/organizations").status_code == 200
    assert client.get(f"{api.automation(workspace_id, automation_id)}/runs").status_code == 503
    sim.faults.reset()
    assert sim.faults == Faults()
    assert client.get(f"{api.automation(workspace_id, automation_id)}/runs").status_code == 200


def test_runs_inserted_while_paginating_shift_pages_without_losses(make_simulator: SimulatorFactory) -> None:
    sim, make_client = make_simulator(faults=Faults(insert_runs_while_paginating=2))
    api = Api(sim)
    workspace_id, automation_id = api.showcase()
    before = {run["name"] for run in api.world.runs(workspace_id, automation_id)}
    listed, requests = collect(make_client(), f"{api.automation(workspace_id, automation_id)}/runs", "runs",
                               page_size=5)
    names = [run["name"] for run in listed]
    assert before <= set(names), "no run present at the start is lost"
    assert len(names) > len(set(names)), "inserted runs push earlier ones onto the next page again"
    inserted = {run["name"] for run in api.world.runs(workspace_id, automation_id)} - before
    assert len(inserted) == 2 * (requests - 1)
    assert all(run["create_time"] == api.world.runs(workspace_id, automation_id)[0]["create_time"]
               for run in api.world.runs(workspace_id, automation_id) if run["name"] in inserted)


def test_faults_never_change_the_world(private: tuple[RunningSimulator, Api, httpx.Client]) -> None:
    sim, api, client = private
    workspace_id, automation_id = api.showcase()
    run_id = short_id(next(run["name"] for run in api.world.runs(workspace_id, automation_id)
                           if "executing" in run["state"]))
    before = api.world.run(workspace_id, automation_id, run_id)
    for kind in ("internal_error", "unavailable", "rate_limit", "drop_connection"):
        sim.faults.inject(kind)  # type: ignore[arg-type]
        # A dropped connection reads as a protocol error or a reset (ReadError), depending on timing.
        with contextlib.suppress(httpx.TransportError):
            client.post(f"{api.run(workspace_id, automation_id, run_id)}:pause", json={"reason": "x"})
    assert api.world.run(workspace_id, automation_id, run_id) == before


def test_faults_can_be_given_at_start(make_simulator: SimulatorFactory) -> None:
    sim, make_client = make_simulator(faults=Faults(internal_error_rate=1.0))
    assert make_client().get("/me/organizations").status_code == 500
    assert isinstance(sim.faults, Faults) and sim.faults.internal_error_rate == 1.0


def test_unknown_fault_kinds_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        Faults().inject("earthquake")  # type: ignore[arg-type]

