"""Helpers shared by the simulator tests (paths, run states, following pages)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from kognitos_simulator import RunningSimulator

# make_client(token=..., **httpx options) -> a validating client based at /api/v1
ClientFactory = Callable[..., httpx.Client]
# make_simulator(**SimulatorSettings fields) -> a private simulator and its client factory
SimulatorFactory = Callable[..., tuple[RunningSimulator, ClientFactory]]


class Api:
    """Paths of one organization's resources, so tests read like the API."""

    def __init__(self, sim: RunningSimulator) -> None:
        self.world = sim.world
        self.org = sim.world.organization_id
        self.workspace_ids = [ws["name"].rsplit("/", 1)[1] for ws in sim.world.workspaces()]

    def workspace(self, workspace_id: str) -> str:
        return f"/organizations/{self.org}/workspaces/{workspace_id}"

    def automation(self, workspace_id: str, automation_id: str) -> str:
        return f"{self.workspace(workspace_id)}/automations/{automation_id}"

    def run(self, workspace_id: str, automation_id: str, run_id: str) -> str:
        return f"{self.automation(workspace_id, automation_id)}/runs/{run_id}"

    def exceptions(self, workspace_id: str) -> str:
        return f"{self.workspace(workspace_id)}/exceptions"

    def automation_ids(self, workspace_id: str, show_deleted: bool = False) -> list[str]:
        return [a["name"].rsplit("/", 1)[1] for a in self.world.automations(workspace_id, show_deleted)]

    def showcase(self) -> tuple[str, str]:
        """(workspace id, automation id) of an automation with pending, executing and stopping runs now."""
        workspace_id = self.workspace_ids[0]
        for automation_id in self.automation_ids(workspace_id):
            states = {state_of(run) for run in self.world.runs(workspace_id, automation_id)}
            if {"pending", "executing", "stopping"} <= states:
                return workspace_id, automation_id
        raise AssertionError("no automation has in-flight runs at the start instant")

    def run_ids(self, workspace_id: str, automation_id: str) -> list[str]:
        return [short_id(run["name"]) for run in self.world.runs(workspace_id, automation_id)]


JOURNAL_VARIANTS = frozenset({"started", "completed", "stopped", "failed", "node_started", "node_executed",
                              "node_skipped", "node_patched", "patched_node_started", "patched_node_executed"})


def journal_variant(event: dict[str, Any]) -> str | None:
    """The variant of an execution-journal event (node_started, completed, ...), None for run updates."""
    journal = event.get("execution_journal")
    return None if journal is None else next(key for key in journal if key in JOURNAL_VARIANTS)


def node_kind(event: dict[str, Any]) -> str | None:
    """The node_kind of a journal event about a node, else None."""
    variant = journal_variant(event)
    return None if variant is None else event["execution_journal"][variant].get("node_kind")


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ns_of(stamp: str) -> int:
    """Nanoseconds of an RFC 3339 string, computed independently of the simulator."""
    match = re.fullmatch(r"(.{19})(?:\.([0-9]+))?(Z|[+-][0-9]{2}:[0-9]{2})", stamp)
    assert match is not None, stamp
    head, fraction, zone = match.groups()
    moment = datetime.fromisoformat(head + ("+00:00" if zone == "Z" else zone))
    return (moment - EPOCH) // timedelta(seconds=1) * 10**9 + int((fraction or "").ljust(9, "0"))


def state_of(run: dict[str, Any]) -> str:
    """The v1RunState key of a run."""
    keys = [key for key in run["state"] if key != "update_time"]
    assert len(keys) == 1, f"a run state has exactly one member, got {keys}"
    return keys[0]


def short_id(name: str) -> str:
    return name.rsplit("/", 1)[1]


def assert_token_refused(client: httpx.Client, refused: tuple[str, dict[str, Any]], path: str,
                          params: dict[str, Any], token: str) -> None:
    """The request `refused` (path, params) is INVALID_ARGUMENT on page_token, and `token` still works with the
    `params` it was issued for."""
    response = client.get(refused[0], params=refused[1])
    assert response.status_code == 400
    assert response.json()["code"] == 3 and "page_token" in response.json()["message"]
    assert client.get(path, params={**params, "page_token": token}).status_code == 200


def collect(client: httpx.Client, path: str, items_key: str, **params: Any) -> tuple[list[dict[str, Any]], int]:
    """Every item of a paginated list (following next_page_token), and the number of requests made."""
    items: list[dict[str, Any]] = []
    token, requests = None, 0
    while True:
        response = client.get(path, params={**params, **({"page_token": token} if token else {})})
        requests += 1
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body.get(items_key, []))
        token = body.get("next_page_token")
        if not token:
            return items, requests
