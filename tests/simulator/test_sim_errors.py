"""Authentication, unknown resources and unknown routes: rpcStatus bodies with grpc-gateway statuses."""

from __future__ import annotations

import httpx
import pytest
from simulator_support import Api, ClientFactory, journal_variant

BOGUS = "V1StGXR8_Z5jdHi6B-myT"


def _operations(api: Api) -> list[tuple[str, str]]:
    """One request per operation of the reference, on real resources."""
    workspace_id, automation_id = api.showcase()
    run_id = api.run_ids(workspace_id, automation_id)[-1]
    events = api.world.run_events(workspace_id, automation_id, run_id)
    execution_id = next(event["execution_journal"]["execution_id"] for event in events if journal_variant(event))
    workspace, run = api.workspace(workspace_id), api.run(workspace_id, automation_id, run_id)
    return [
        ("GET", "/me/organizations"), ("GET", f"/organizations/{api.org}"),
        ("GET", f"/organizations/{api.org}/workspaces"), ("GET", f"/me/organizations/{api.org}/workspaces"),
        ("GET", workspace), ("GET", f"{workspace}:automationRunAggregates"),
        ("GET", f"{workspace}:dailyRunAggregates?time_zone=UTC"), ("GET", f"{workspace}/automations"),
        ("GET", api.automation(workspace_id, automation_id)),
        ("GET", f"{api.automation(workspace_id, automation_id)}/runs"),
        ("GET", run), ("POST", f"{run}:pause"), ("POST", f"{run}:continue"), ("GET", f"{run}/events"),
        ("GET", f"{workspace}/executions/{execution_id}/outputs"),
    ]


@pytest.mark.parametrize("token", [None, "wrong-token", "Basic c2ltLXRva2Vu"])
def test_every_operation_requires_the_bearer_token(shared: tuple[object, ClientFactory], api: Api,
                                                   token: str | None) -> None:
    client: httpx.Client = shared[1](token=None)
    headers = {} if token is None else {"Authorization": token if token.startswith("Basic") else f"Bearer {token}"}
    for method, path in _operations(api):
        response = client.request(method, path, headers=headers, json={"reason": "x"} if method == "POST" else None)
        assert response.status_code == 401, (method, path)
        assert response.json()["code"] == 16
        assert response.headers["www-authenticate"] == "Bearer"


def test_the_scheme_is_case_insensitive(shared: tuple[object, ClientFactory]) -> None:
    client: httpx.Client = shared[1](token=None)
    assert client.get("/me/organizations", headers={"Authorization": "bearer sim-token"}).status_code == 200


def test_unknown_organization_is_not_found_on_every_organization_path(client: httpx.Client, api: Api) -> None:
    for method, path in _operations(api):
        if api.org not in path:
            continue
        response = client.request(method, path.replace(api.org, "o1a2b3c4d5"),
                                  json={"reason": "x"} if method == "POST" else None)
        assert response.status_code == 404, path
        assert response.json()["message"] == "organization o1a2b3c4d5 not found"


@pytest.mark.parametrize("resource", ["workspace", "automation", "run", "execution", "foreign_run"])
def test_unknown_resources_are_not_found_and_named(client: httpx.Client, api: Api, resource: str) -> None:
    workspace_id, automation_id = api.showcase()
    other_automation = next(a for a in api.automation_ids(workspace_id) if a != automation_id)
    foreign_run = api.run_ids(workspace_id, other_automation)[0]
    path, missing = {
        "workspace": (f"{api.workspace('w9x8y7z6')}/automations", "w9x8y7z6"),
        "automation": (f"{api.automation(workspace_id, BOGUS)}/runs", BOGUS),
        "run": (f"{api.run(workspace_id, automation_id, BOGUS)}/events", BOGUS),
        "execution": (f"{api.workspace(workspace_id)}/executions/274f0d33-7c0b-4291-90bf-94826ca86f78/outputs",
                      "274f0d33-7c0b-4291-90bf-94826ca86f78"),
        "foreign_run": (api.run(workspace_id, automation_id, foreign_run), foreign_run),
    }[resource]
    response = client.get(path)
    assert response.status_code == 404
    body = response.json()
    kind = "run" if resource == "foreign_run" else resource
    assert body["code"] == 5 and body["message"] == f"{kind} {missing} not found"
    assert body["details"][0]["@type"] == "type.googleapis.com/google.rpc.ResourceInfo"


def test_unknown_routes_wrong_methods_and_other_paths(client: httpx.Client, api: Api) -> None:
    workspace_id, automation_id = api.showcase()
    unknown = client.get(f"{api.workspace(workspace_id)}/nothing")
    assert (unknown.status_code, unknown.json()["code"]) == (404, 5)
    wrong_method = client.delete(api.automation(workspace_id, automation_id))
    assert (wrong_method.status_code, wrong_method.json()["code"]) == (501, 12)
    colon_get = client.get(f"{api.run(workspace_id, automation_id, 'x')}:pause")
    assert colon_get.status_code == 501, "custom methods are routed by method, not taken for ids"
    base = str(client.base_url).removesuffix("/api/v1/").removesuffix("/api/v1")
    outside = client.get(f"{base}/api/me/organizations")
    assert (outside.status_code, outside.json()["code"]) == (403, 7)


def test_error_bodies_are_rpc_status(client: httpx.Client, api: Api) -> None:
    body = client.get(f"/organizations/{api.org}/workspaces", params={"order_by": "name"}).json()
    assert set(body) == {"code", "message", "details"} and body["code"] == 3
