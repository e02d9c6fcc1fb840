"""Exceptions over time: the documented state machine, driven by the simulated clock, in step with the runs.

An exception is raised the instant its run enters awaiting_guidance, gains its description a little later, is
resolved when the run moves on, and in long waits is archived and reopened. The future is read from a second
World with the same seed (worlds are pure functions of their settings and of what happened), so a test can move
the served clock to the very nanosecond of a change.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from conftest import SEED
from simulator_support import Api, SimulatorFactory, ns_of, short_id, state_of

from kognitos_simulator import SimulatorSettings, World, timestamps

PENDING, RESOLVED, ARCHIVED = "EXCEPTION_STATE_PENDING", "EXCEPTION_STATE_RESOLVED", "EXCEPTION_STATE_ARCHIVED"
ALLOWED = {(PENDING, RESOLVED), (PENDING, ARCHIVED), (ARCHIVED, PENDING)}
HORIZON = timedelta(days=45)
SHORT_GROUPS = {"missing_values", "user_system_error", "internal_error"}


def _every_exception_and_history(world: World) -> list[list[dict[str, Any]]]:
    """The history of every exception of every workspace, as of the world's now."""
    histories = []
    for workspace in world.workspaces():
        workspace_id = short_id(workspace["name"])
        for exception in world.exceptions(workspace_id):
            histories.append(world.exception_history(workspace_id, short_id(exception["name"])))
    return histories


@pytest.fixture(scope="module")
def future() -> list[list[dict[str, Any]]]:
    """Every exception's history over HORIZON after the start instant."""
    world = World(SimulatorSettings(seed=SEED))
    world.advance(HORIZON)
    return _every_exception_and_history(world)


def test_every_history_follows_the_documented_state_machine(future: list[list[dict[str, Any]]]) -> None:
    for history in future:
        first = history[0]
        assert first["state"] == PENDING and first["update_time"] == first["create_time"]
        assert "description" not in first, "a new exception has no description yet"
        assert "resolver" not in first and "resolution_guide_entry" not in first
        updates = [ns_of(snapshot["update_time"]) for snapshot in history]
        assert updates == sorted(set(updates)), "every change moves update_time forward"
        for before, after in zip(history, history[1:], strict=False):
            assert before["state"] != RESOLVED, "RESOLVED is terminal"
            assert before["state"] == after["state"] or (before["state"], after["state"]) in ALLOWED
            assert {key: after[key] for key in ("name", "run", "create_time", "message", "location")} == {
                key: before[key] for key in ("name", "run", "create_time", "message", "location")}
            assert before.get("group") == after.get("group")
        described = next(snapshot for snapshot in history if "description" in snapshot)
        assert 0 < ns_of(described["update_time"]) - ns_of(first["create_time"]) <= 180 * 10**9
        assert all("description" in snapshot for snapshot in history[history.index(described):])
        for snapshot in history:
            assert ("resolver" in snapshot) == (snapshot["state"] == RESOLVED)
            if "resolution_guide_entry" in snapshot:
                assert snapshot["resolver"].startswith("agents/")
                assert snapshot["resolution_guide_entry"].startswith(snapshot["automation"] + "/guideEntries/")
            elif "resolver" in snapshot:
                assert snapshot["resolver"].startswith("users/")
            if "group" in snapshot:
                workspace = snapshot["name"].split("/exceptions/")[0]
                assert snapshot["group"].removeprefix(workspace + "/exceptionGroups/") in SHORT_GROUPS
            assert snapshot.get("assignee", "users/").startswith("users/")


def test_the_world_shows_every_kind_of_life(future: list[list[dict[str, Any]]]) -> None:
    """Preconditions of the other tests (and of a connector's): each transition, resolver and group occurs."""
    transitions = {(before["state"], after["state"]) for history in future
                   for before, after in zip(history, history[1:], strict=False)}
    assert transitions >= ALLOWED
    resolvers = {history[-1].get("resolver", "").split("/")[0] for history in future}
    assert {"users", "agents"} <= resolvers
    groups = {history[0].get("group", "").rsplit("/", 1)[-1] for history in future}
    assert groups == SHORT_GROUPS | {""}
    assert any("assignee" in history[-1] for history in future) and any(
        "assignee" not in history[-1] for history in future)
    reassigned = [history for history in future
                  if len({snapshot["assignee"] for snapshot in history if "assignee" in snapshot}) > 1]
    assert reassigned


def test_the_served_exception_changes_at_the_instant_of_each_change(make_simulator: SimulatorFactory,
                                                                    future: list[list[dict[str, Any]]]) -> None:
    """Move the served clock to just before, and to, each change of an exception that is archived and reopened:
    Get Exception answers the previous state, then the new one (the clock moves in whole microseconds)."""
    sim, make_client = make_simulator()
    client, start = make_client(), sim.world.now_ns
    lives = [h for h in future if {s["state"] for s in h} == {PENDING, ARCHIVED, RESOLVED}]
    history = max(lives, key=lambda h: sum(ns_of(s["update_time"]) > start for s in h))
    path = "/" + history[0]["name"]

    def advance_to(instant: int) -> None:
        sim.world.advance(timedelta(microseconds=(instant - sim.world.now_ns) // 1000))

    checked = 0
    for previous, snapshot in zip([None, *history], history, strict=False):
        reached = -(-ns_of(snapshot["update_time"]) // 1000) * 1000  # the first whole microsecond at or after it
        if reached - 1000 < sim.world.now_ns:
            continue  # already in the past when the simulator started
        advance_to(reached - 1000)
        before = client.get(path)
        assert before.json() == previous if previous is not None else before.status_code == 404
        advance_to(reached)
        assert client.get(path).json() == snapshot
        checked += 1
    assert checked >= 2, "the exception changes at least twice after the start instant"
    listed = client.get(path.split("/exceptions/")[0] + "/exceptions",
                        params={"filter": f"run = {short_id(history[0]['run'])}"}).json()
    assert listed["exceptions"] == [history[-1]]


def _runs_and_exceptions(client: httpx.Client, api: Api, workspace_id: str
                         ) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Every run of the workspace (deleted automations included) and every exception by id, as served now."""
    runs = []
    for automation_id in api.automation_ids(workspace_id, show_deleted=True):
        body = client.get(f"{api.automation(workspace_id, automation_id)}/runs", params={"page_size": 1000}).json()
        assert "next_page_token" not in body
        runs.extend(body.get("runs", []))
    body = client.get(api.exceptions(workspace_id), params={"page_size": 1000}).json()
    assert "next_page_token" not in body
    return runs, {short_id(exception["name"]): exception for exception in body.get("exceptions", [])}


def _agree(run: dict[str, Any], exception_id: str, exception: dict[str, Any] | None) -> None:
    """A run awaits guidance for an exception exactly while that exception is pending or archived, and both say
    the same thing; before its creation the exception does not exist (None)."""
    waiting = run["state"].get("awaiting_guidance")
    if waiting is not None and waiting["exception"] == exception_id:
        assert exception is not None and exception["state"] in (PENDING, ARCHIVED)
        assert exception["run"] == run["name"]
        assert exception["message"] == waiting["description"] and exception["location"] == waiting["location"]
        assert exception["create_time"] == run["state"]["update_time"]
    elif exception is not None:
        assert exception["state"] == RESOLVED, (run["state"], exception["state"])
        assert ns_of(run["update_time"]) >= ns_of(exception["update_time"])


def test_a_waiting_run_and_its_exception_agree_at_every_moment(make_simulator: SimulatorFactory,
                                                               future: list[list[dict[str, Any]]]) -> None:
    """The run and the exception as served, a microsecond before and at every change of state of every exception
    over the horizon (creation included), and every run and exception of every workspace every 6 days."""
    sim, make_client = make_simulator()
    api, client = Api(sim), make_client()
    changes = sorted((-(-ns_of(snapshot["update_time"]) // 1000) * 1000 + offset, history[0]["run"],
                      short_id(history[0]["name"]))
                     for history in future
                     for previous, snapshot in zip([{"state": None}, *history], history, strict=False)
                     if snapshot["state"] != previous["state"] for offset in (-1000, 0))
    full_checks = list(range(sim.world.now_ns, sim.world.now_ns + 46 * timestamps.NS_PER_DAY,
                             6 * timestamps.NS_PER_DAY))
    for instant, run_name, exception_id in changes:
        while full_checks and full_checks[0] <= instant:
            next_full = full_checks.pop(0)
            if next_full >= sim.world.now_ns:
                sim.world.advance(timedelta(microseconds=(next_full - sim.world.now_ns) // 1000))
                for workspace_id in api.workspace_ids:
                    runs, exceptions = _runs_and_exceptions(client, api, workspace_id)
                    by_name = {run["name"]: run for run in runs}
                    waiting = {run["state"]["awaiting_guidance"]["exception"] for run in runs
                               if state_of(run) == "awaiting_guidance"}
                    assert waiting <= set(exceptions)
                    for found_id, exception in exceptions.items():
                        _agree(by_name[exception["run"]], found_id, exception)
        if instant < sim.world.now_ns:
            continue
        sim.world.advance(timedelta(microseconds=(instant - sim.world.now_ns) // 1000))
        response = client.get("/" + run_name.split("/automations/")[0] + f"/exceptions/{exception_id}")
        _agree(client.get("/" + run_name).json(), exception_id, response.json() if response.status_code == 200
               else None)


def test_pausing_a_waiting_run_archives_its_exception_for_good(make_simulator: SimulatorFactory) -> None:
    sim, make_client = make_simulator()
    api, client = Api(sim), make_client()
    workspace_id, run, exception = next(
        (workspace_id, run, exception)
        for workspace_id in api.workspace_ids
        for automation_id in api.automation_ids(workspace_id)
        for run in api.world.runs(workspace_id, automation_id) if state_of(run) == "awaiting_guidance"
        for exception in api.world.exceptions(workspace_id)
        if exception["run"] == run["name"] and exception["state"] == PENDING)
    exception_id = short_id(exception["name"])
    history_before = api.world.exception_history(workspace_id, exception_id)
    sim.world.advance(timedelta(seconds=1))
    paused = client.post("/" + run["name"] + ":pause", json={"reason": "Abandoned"})
    assert paused.status_code == 200, paused.text
    path = f"{api.exceptions(workspace_id)}/{exception_id}"
    archived = client.get(path).json()
    assert archived["state"] == ARCHIVED and archived["update_time"] == paused.json()["update_time"]
    assert api.world.exception_history(workspace_id, exception_id)[: len(history_before)] == history_before
    sim.world.advance(timedelta(days=1))
    assert client.post("/" + run["name"] + ":continue", json={}).status_code == 200
    sim.world.advance(HORIZON)
    assert client.get(path).json()["state"] == ARCHIVED, "the run went on without guidance"
    assert "resolver" not in client.get(path).json()
