"""Every endpoint answers with the reference's shapes, and the data has every documented variant."""

from __future__ import annotations

import base64
import re
from collections import Counter
from typing import Any

import httpx
import pyarrow as pa
from simulator_support import (
    JOURNAL_VARIANTS,
    Api,
    SimulatorFactory,
    collect,
    journal_variant,
    short_id,
    state_of,
)

from kognitos_simulator import RunningSimulator

NANO_ID = re.compile(r"[A-Za-z0-9_-]{21}")
RUN_STATES = {"pending", "executing", "stopping", "stopped", "awaiting_guidance", "completed", "failed"}
VALUE_KINDS = {"null_value", "bool_value", "number", "text", "date", "timeofday", "datetime", "time_zone", "duration",
               "list", "dictionary", "file", "table", "set"}


def _values(node: Any) -> list[dict[str, Any]]:
    """Every commonV1Value nested in `node` (recognised by holding exactly one value member)."""
    found = []
    if isinstance(node, dict):
        if len(node) == 1 and next(iter(node)) in VALUE_KINDS:
            found.append(node)
        for child in node.values():
            found.extend(_values(child))
    elif isinstance(node, list):
        for child in node:
            found.extend(_values(child))
    return found


def test_discovery_endpoints_when_listing_organizations_workspaces_and_automations(
        client: httpx.Client, api: Api) -> None:
    organizations = client.get("/me/organizations").json()
    assert organizations == {"user_organizations": [api.world.organization()]}
    assert client.get(f"/organizations/{api.org}").json() == api.world.organization()
    workspaces = client.get(f"/organizations/{api.org}/workspaces").json()
    assert workspaces == {"workspaces": api.world.workspaces()}
    assert client.get(f"/me/organizations/{api.org}/workspaces").json() == {"user_workspaces": api.world.workspaces()}
    workspace_id = api.workspace_ids[0]
    assert client.get(api.workspace(workspace_id)).json() == api.world.workspace(workspace_id)
    automations = client.get(f"{api.workspace(workspace_id)}/automations").json()["automations"]
    assert automations == api.world.automations(workspace_id)
    assert all(NANO_ID.fullmatch(short_id(a["name"])) for a in automations)
    detail = client.get(api.automation(workspace_id, short_id(automations[0]["name"]))).json()
    assert detail["code_mapping"]["entries"], "Get Automation carries the code mapping"
    assert "code_mapping" not in automations[0], "List Automations does not"


def test_extra_organizations_are_listed_and_paged_with_their_own_ids_and_no_workspaces(
        make_simulator: SimulatorFactory) -> None:
    sim, make_client = make_simulator(extra_organizations=4)
    client, own = make_client(), sim.world.organization_id

    listed, requests = collect(client, "/me/organizations", "user_organizations", page_size=2)
    ids = [short_id(org["name"]) for org in listed]
    assert (listed, requests) == (sim.world.organizations(), 3) and ids[0] == own
    assert len(set(ids)) == len({org["title"] for org in listed}) == 5, "each has its own id and title"
    for extra in ids[1:]:
        assert client.get(f"/organizations/{extra}").json() == sim.world.organization(extra)
        # proto3 JSON leaves an empty list out
        assert client.get(f"/organizations/{extra}/workspaces").json() == {}
        assert client.get(f"/me/organizations/{extra}/workspaces").json() == {}
        workspace = client.get(f"/organizations/{extra}/workspaces/{Api(sim).workspace_ids[0]}")
        assert (workspace.status_code, workspace.json()["code"]) == (404, 5)
    assert client.get(f"/me/organizations/{own}/workspaces").json() == {"user_workspaces": sim.world.workspaces()}
    unknown = client.get("/organizations/nosuchorganization/workspaces")
    assert (unknown.status_code, unknown.json()["code"]) == (404, 5)


def test_deleted_automations_when_show_deleted_is_set(client: httpx.Client, api: Api) -> None:
    workspace_id = api.workspace_ids[0]
    default = client.get(f"{api.workspace(workspace_id)}/automations", params={"page_size": 100}).json()
    everything = client.get(f"{api.workspace(workspace_id)}/automations",
                            params={"page_size": 100, "show_deleted": "true"}).json()
    deleted = [a for a in everything["automations"] if "delete_time" in a]
    assert deleted and not any("delete_time" in a for a in default["automations"])
    assert len(everything["automations"]) == len(default["automations"]) + len(deleted)
    updates = [a["update_time"] for a in everything["automations"]]
    assert updates == sorted(updates, reverse=True), "always ordered by update_time desc"
    # A deleted automation is still readable, runs included.
    deleted_id = short_id(deleted[0]["name"])
    assert client.get(api.automation(workspace_id, deleted_id)).json()["delete_time"] == deleted[0]["delete_time"]
    assert client.get(f"{api.automation(workspace_id, deleted_id)}/runs").json()["runs"]


def test_run_shapes_when_listing_and_getting_runs(client: httpx.Client, api: Api) -> None:
    workspace_id, automation_id = api.showcase()
    runs = collect(client, f"{api.automation(workspace_id, automation_id)}/runs", "runs", page_size=1000)[0]
    assert runs == api.world.runs(workspace_id, automation_id)
    assert all("executable_steps" not in run for run in runs)
    run = client.get(api.run(workspace_id, automation_id, short_id(runs[-1]["name"]))).json()
    assert run["executable_steps"]["executables"][-1]["phase_type"] == "AUTOMATION_PHASE_TYPE_MAIN"
    assert run == api.world.run(workspace_id, automation_id, short_id(runs[-1]["name"]))


def test_every_run_state_and_detail_when_the_world_starts(sim: RunningSimulator, api: Api) -> None:
    details: dict[str, dict[str, Any]] = {}
    for workspace_id in api.workspace_ids:
        for automation_id in api.automation_ids(workspace_id, show_deleted=True):
            for run in api.world.runs(workspace_id, automation_id):
                details.setdefault(state_of(run), run["state"][state_of(run)])
    assert set(details) == RUN_STATES
    assert details["pending"] == {} and details["executing"] == {}
    assert details["stopping"]["reason"] and details["stopped"]["reason"]
    assert set(details["awaiting_guidance"]) == {"exception", "description", "location"}
    assert set(details["failed"]) == {"id", "description", "location"}
    assert "outputs" in details["completed"]


def test_event_variants_and_values_when_reading_every_events_stream(client: httpx.Client, api: Api) -> None:
    variants: Counter[str] = Counter()
    stop_reasons: set[str] = set()
    values: list[dict[str, Any]] = []
    executions: set[int] = set()
    for workspace_id in api.workspace_ids:
        for automation_id in api.automation_ids(workspace_id):
            for run_id in api.run_ids(workspace_id, automation_id):
                events = api.world.run_events(workspace_id, automation_id, run_id)
                executions.add(len({e["execution_journal"]["execution_id"] for e in events
                                    if "execution_journal" in e}))
                for event in events:
                    variant = journal_variant(event)
                    if variant is not None:
                        variants[variant] += 1
                        if variant == "stopped":
                            stop_reasons.update(event["execution_journal"]["stopped"])
                    values.extend(_values(event))
    assert set(variants) == JOURNAL_VARIANTS
    assert stop_reasons == {"user_stopped", "waiting_on_book", "waiting_on_timer", "program_stopped"}
    assert max(executions) >= 3, "some runs have several executions"
    assert {next(iter(value)) for value in values} == VALUE_KINDS
    numbers = [value["number"] for value in values if "number" in value]
    assert any(n.get("flags", 0) & 0x80000000 for n in numbers), "negative decimals"
    assert any((n.get("flags", 0) >> 16) & 0xFF == 28 for n in numbers), "28-digit scales"
    assert any("hi" in n for n in numbers) and {} in numbers, "96-bit mantissas and zero"
    table = next(value["table"]["inline"]["data"] for value in values if "inline" in value.get("table", {}))
    assert pa.ipc.open_stream(base64.b64decode(table)).read_all().num_rows > 0


def test_timestamps_and_ties_when_listing_runs(api: Api) -> None:
    digits: set[int] = set()
    ties = 0
    for workspace_id in api.workspace_ids:
        for automation_id in api.automation_ids(workspace_id):
            created = [run["create_time"] for run in api.world.runs(workspace_id, automation_id)]
            ties += len(created) - len(set(created))
            digits.update(len(match.group(1)) if (match := re.search(r"\.(\d+)Z$", stamp)) else 0
                          for stamp in created)
    assert digits == {0, 3, 6, 9}
    assert ties > 0


def test_aggregates_and_outputs_when_querying_a_workspace(client: httpx.Client, api: Api) -> None:
    workspace_id, automation_id = api.showcase()
    aggregates = client.get(f"{api.workspace(workspace_id)}:automationRunAggregates").json()
    assert aggregates == {"automation_run_aggregates": api.world.automation_run_aggregates(workspace_id)}
    daily = client.get(f"{api.workspace(workspace_id)}:dailyRunAggregates", params={"time_zone": "UTC"}).json()
    assert daily["daily_run_aggregates"]
    run_id = api.run_ids(workspace_id, automation_id)[-1]
    events = api.world.run_events(workspace_id, automation_id, run_id)
    completed = [e["execution_journal"] for e in events
                 if "completed" in e.get("execution_journal", {}) and e["execution_journal"]["completed"]]
    execution_id = completed[-1]["execution_id"]
    outputs = client.get(f"{api.workspace(workspace_id)}/executions/{execution_id}/outputs").json()
    assert outputs == api.world.execution_outputs(workspace_id, execution_id)
    assert {name: output["value"] for name, output in outputs["outputs"].items()} == completed[-1]["completed"][
        "outputs"]
    assert all("type" in output for output in outputs["outputs"].values())


def test_every_completed_journal_entry_holds_the_values_its_outputs_endpoint_declares(
    client: httpx.Client, api: Api
) -> None:
    """kognitos-elt reads outputs from the journal by default: the two must agree for every execution."""
    workspace_id, automation_id = api.showcase()
    compared = 0
    for run_id in api.run_ids(workspace_id, automation_id):
        events, _ = collect(client, f"{api.run(workspace_id, automation_id, run_id)}/events", "run_events",
                            page_size=1000)
        for journal in (event["execution_journal"] for event in events if "execution_journal" in event):
            if "completed" not in journal:
                continue
            path = f"{api.workspace(workspace_id)}/executions/{journal['execution_id']}/outputs"
            declared = client.get(path).json().get("outputs", {})
            assert {name: output["value"] for name, output in declared.items()} == (
                journal["completed"] or {}).get("outputs", {})
            compared += 1
    assert compared > 10
