"""Pagination: page sizes, opaque tokens bound to their request, every item exactly once."""

from __future__ import annotations

import base64

import httpx
import pytest
from simulator_support import Api, assert_token_refused, collect, node_kind, ns_of, short_id


def _big_run(api: Api) -> tuple[str, str, str]:
    """A finished run with more than 1000 events."""
    for workspace_id in api.workspace_ids:
        for automation_id in api.automation_ids(workspace_id):
            for run in api.world.runs(workspace_id, automation_id):
                run_id = short_id(run["name"])
                events = api.world.run_events(workspace_id, automation_id, run_id)
                if "completed" in run["state"] and len(events) > 1000:
                    return workspace_id, automation_id, run_id
    raise AssertionError("the world has no finished run with more than 1000 events")


@pytest.mark.parametrize("page_size", [1, 3, 7, 40, 1000])
def test_runs_paginate_each_run_exactly_once_when_nothing_is_inserted(client: httpx.Client, api: Api,
                                                                      page_size: int) -> None:
    workspace_id, automation_id = api.showcase()
    runs, requests = collect(client, f"{api.automation(workspace_id, automation_id)}/runs", "runs",
                             page_size=page_size)
    truth = api.world.runs(workspace_id, automation_id)
    assert runs == truth
    assert requests == max(1, -(-len(truth) // page_size))
    created = [ns_of(run["create_time"]) for run in runs]
    assert len({run["name"] for run in runs}) == len(runs)
    assert created == sorted(created, reverse=True), "newest first"


@pytest.mark.parametrize(("resource", "items_key", "default", "count"), [
    ("runs", "runs", 10, 40),
    ("automations", "automations", 10, None),
])
def test_default_page_size_when_page_size_is_unset_or_zero(client: httpx.Client, api: Api, resource: str,
                                                            items_key: str, default: int, count: int | None) -> None:
    workspace_id, automation_id = api.showcase()
    path = f"{api.automation(workspace_id, automation_id)}/runs" if resource == "runs" else (
        f"{api.workspace(workspace_id)}/automations")
    total = count or len(api.world.automations(workspace_id, show_deleted=True))
    for params in ({}, {"page_size": 0}):
        body = client.get(path, params={**params, "show_deleted": "true"} if resource == "automations" else params)
        assert len(body.json()[items_key]) == min(default, total)
        assert ("next_page_token" in body.json()) == (total > default)


def test_events_default_to_100_and_coerce_large_page_sizes_to_1000(client: httpx.Client, api: Api) -> None:
    workspace_id, automation_id, run_id = _big_run(api)
    path = f"{api.run(workspace_id, automation_id, run_id)}/events"
    assert len(client.get(path).json()["run_events"]) == 100
    assert len(client.get(path, params={"page_size": 5000}).json()["run_events"]) == 1000
    runs_path = f"{api.automation(workspace_id, automation_id)}/runs"
    assert len(client.get(runs_path, params={"page_size": 2_000_000}).json()["runs"]) == len(
        api.world.runs(workspace_id, automation_id))


def test_a_run_with_more_than_1000_events_pages_in_order(client: httpx.Client, api: Api) -> None:
    workspace_id, automation_id, run_id = _big_run(api)
    truth = api.world.run_events(workspace_id, automation_id, run_id)
    path = f"{api.run(workspace_id, automation_id, run_id)}/events"
    for page_size in (1000, 333):
        events, requests = collect(client, path, "run_events", page_size=page_size)
        assert events == truth
        assert requests == -(-len(truth) // page_size)


def test_filtered_events_page_over_matching_events_only(client: httpx.Client, api: Api) -> None:
    workspace_id, automation_id, run_id = _big_run(api)
    truth = [event for event in api.world.run_events(workspace_id, automation_id, run_id)
             if node_kind(event) == "Assignment"]
    events, _ = collect(client, f"{api.run(workspace_id, automation_id, run_id)}/events", "run_events",
                        page_size=7, filter='node_kind = "Assignment"')
    assert events == truth and events


@pytest.mark.parametrize("page_size", [-1, -1000])
def test_negative_page_size_is_invalid_argument(client: httpx.Client, api: Api, page_size: int) -> None:
    workspace_id, automation_id = api.showcase()
    run_id = api.run_ids(workspace_id, automation_id)[0]
    for path in (f"{api.automation(workspace_id, automation_id)}/runs", f"{api.workspace(workspace_id)}/automations",
                 f"{api.run(workspace_id, automation_id, run_id)}/events"):
        response = client.get(path, params={"page_size": page_size})
        assert response.status_code == 400
        assert response.json()["code"] == 3 and "page_size" in response.json()["message"]


def test_page_size_that_is_not_an_int32_is_invalid_argument(client: httpx.Client, api: Api) -> None:
    workspace_id, automation_id = api.showcase()
    for value in ("ten", "1.5", str(2**31)):
        response = client.get(f"{api.automation(workspace_id, automation_id)}/runs", params={"page_size": value})
        assert response.status_code == 400, value


def test_page_tokens_are_opaque(client: httpx.Client, api: Api) -> None:
    workspace_id, automation_id = api.showcase()
    path = f"{api.automation(workspace_id, automation_id)}/runs"
    first = client.get(path, params={"page_size": 2}).json()["next_page_token"]
    second = client.get(path, params={"page_size": 2, "page_token": first}).json()["next_page_token"]
    decoded = [base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)) for token in (first, second)]
    assert not any(raw.isascii() and raw.decode().isprintable() for raw in decoded), "binary, not readable text"
    assert sum(a != b for a, b in zip(*decoded, strict=True)) > 8, "consecutive offsets look unrelated"


@pytest.mark.parametrize("change", ["page_size", "filter", "automation", "garbage", "truncated"])
def test_reusing_a_list_runs_token_with_other_parameters_is_invalid_argument(
        client: httpx.Client, api: Api, change: str) -> None:
    workspace_id, automation_id = api.showcase()
    path = f"{api.automation(workspace_id, automation_id)}/runs"
    params = {"page_size": 3, "filter": 'create_time >= "2020-01-01T00:00:00Z"'}
    token = client.get(path, params=params).json()["next_page_token"]
    other_automation = next(a for a in api.automation_ids(workspace_id) if a != automation_id)
    changed = {
        "page_size": (path, {**params, "page_size": 4, "page_token": token}),
        "filter": (path, {**params, "filter": 'create_time >= "2020-01-01T00:00:01Z"', "page_token": token}),
        "automation": (f"{api.automation(workspace_id, other_automation)}/runs", {**params, "page_token": token}),
        "garbage": (path, {**params, "page_token": "not-a-token"}),
        "truncated": (path, {**params, "page_token": token[:-2]}),
    }[change]
    assert_token_refused(client, changed, path, params, token)


def test_automation_tokens_are_bound_to_show_deleted(client: httpx.Client, api: Api) -> None:
    path = f"{api.workspace(api.workspace_ids[0])}/automations"
    token = client.get(path, params={"page_size": 1}).json()["next_page_token"]
    assert client.get(path, params={"page_size": 1, "page_token": token, "show_deleted": "true"}).status_code == 400
    assert client.get(path, params={"page_size": 1, "page_token": token}).status_code == 200


def test_event_tokens_are_bound_to_their_run_and_filter(client: httpx.Client, api: Api) -> None:
    workspace_id, automation_id, run_id = _big_run(api)
    path = f"{api.run(workspace_id, automation_id, run_id)}/events"
    token = client.get(path, params={"page_size": 5}).json()["next_page_token"]
    other_run = next(r for r in api.run_ids(workspace_id, automation_id) if r != run_id)
    other_path = f"{api.run(workspace_id, automation_id, other_run)}/events"
    assert client.get(other_path, params={"page_size": 5, "page_token": token}).status_code == 400
    assert client.get(path, params={"page_size": 5, "page_token": token,
                                    "filter": 'node_kind = "FunctionCall"'}).status_code == 400


def test_workspaces_and_organizations_paginate(client: httpx.Client, api: Api) -> None:
    workspaces, requests = collect(client, f"/organizations/{api.org}/workspaces", "workspaces", page_size=1)
    assert workspaces == api.world.workspaces() and requests == len(workspaces)
    mine, _ = collect(client, f"/me/organizations/{api.org}/workspaces", "user_workspaces", page_size=1)
    assert mine == workspaces
    organizations, _ = collect(client, "/me/organizations", "user_organizations", page_size=1)
    assert organizations == [api.world.organization()]


def test_camel_case_query_parameters_are_accepted(client: httpx.Client, api: Api) -> None:
    workspace_id, automation_id = api.showcase()
    body = client.get(f"{api.automation(workspace_id, automation_id)}/runs", params={"pageSize": 2}).json()
    assert len(body["runs"]) == 2
