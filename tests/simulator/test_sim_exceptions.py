"""The Exceptions endpoints: List and Get Exception, paging, filters, and counts by group and automation.

Every answer is schema-validated against the exceptions OpenAPI subset (conftest); expected values come from
`world.exceptions(workspace_id)`, the ground truth as the simulated clock stands.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import httpx
import pytest
from simulator_support import Api, SimulatorFactory, assert_token_refused, collect, ns_of, short_id

from kognitos_simulator import Faults

STATES = ("EXCEPTION_STATE_PENDING", "EXCEPTION_STATE_RESOLVED", "EXCEPTION_STATE_ARCHIVED")


def _busiest(api: Api) -> str:
    """The workspace with the most exceptions now."""
    return max(api.workspace_ids, key=lambda workspace_id: len(api.world.exceptions(workspace_id)))


def test_list_exceptions_answers_every_exception_newest_first(client: httpx.Client, api: Api) -> None:
    for workspace_id in api.workspace_ids:
        truth = api.world.exceptions(workspace_id)
        body = client.get(api.exceptions(workspace_id)).json()
        assert body["exceptions"] == truth and body["total_size"] == len(truth) and "next_page_token" not in body
        created = [ns_of(exception["create_time"]) for exception in truth]
        assert created == sorted(created, reverse=True), "newest first"
        for exception in truth:
            assert exception["name"] == f"{api.workspace(workspace_id)[1:]}/exceptions/{short_id(exception['name'])}"
            assert exception["run"].startswith(exception["automation"] + "/runs/")
            assert ns_of(exception["update_time"]) >= ns_of(exception["create_time"])
            assert exception["state"] in STATES


def test_get_exception_answers_the_exception_and_404_for_unknown_ids(client: httpx.Client, api: Api) -> None:
    workspace_id = _busiest(api)
    for exception in api.world.exceptions(workspace_id):
        exception_id = short_id(exception["name"])
        assert client.get(f"{api.exceptions(workspace_id)}/{exception_id}").json() == exception
    response = client.get(f"{api.exceptions(workspace_id)}/no-such-exception")
    assert response.status_code == 404 and response.json()["code"] == 5
    other = next(w for w in api.workspace_ids if w != workspace_id)
    exception_id = short_id(api.world.exceptions(workspace_id)[0]["name"])
    assert client.get(f"{api.exceptions(other)}/{exception_id}").status_code == 404, "exceptions live in a workspace"


@pytest.mark.parametrize("page_size", [1, 3, 1000])
def test_exceptions_paginate_each_exception_exactly_once(client: httpx.Client, api: Api, page_size: int) -> None:
    workspace_id = _busiest(api)
    truth = api.world.exceptions(workspace_id)
    exceptions, requests = collect(client, api.exceptions(workspace_id), "exceptions", page_size=page_size)
    assert exceptions == truth
    assert requests == max(1, -(-len(truth) // page_size))


def test_page_size_defaults_to_50_and_is_coerced_to_1000(make_simulator: SimulatorFactory) -> None:
    sim, make_client = make_simulator()
    api, client = Api(sim), make_client()
    workspace_id = api.workspace_ids[0]
    while len(api.world.exceptions(workspace_id)) <= 50:
        sim.world.advance(timedelta(days=10))
    truth = api.world.exceptions(workspace_id)
    for params in ({}, {"page_size": 0}):
        body = client.get(api.exceptions(workspace_id), params=params).json()
        assert body["exceptions"] == truth[:50] and "next_page_token" in body and body["total_size"] == len(truth)
    body = client.get(api.exceptions(workspace_id), params={"page_size": 5000}).json()
    assert body["exceptions"] == truth[:1000]


def test_new_exceptions_shift_later_pages(make_simulator: SimulatorFactory) -> None:
    """Page tokens are offsets into the newest-first list: exceptions raised between two pages push the ones a
    client has seen onto the next page (duplicates, never losses)."""
    sim, make_client = make_simulator()
    api, client = Api(sim), make_client()
    workspace_id = _busiest(api)
    path = api.exceptions(workspace_id)
    before = api.world.exceptions(workspace_id)
    first = client.get(path, params={"page_size": 3}).json()
    assert first["exceptions"] == before[:3]
    while len(api.world.exceptions(workspace_id)) == len(before):
        sim.world.advance(timedelta(hours=6))
    after = api.world.exceptions(workspace_id)
    new = len(after) - len(before)
    second = client.get(path, params={"page_size": 3, "page_token": first["next_page_token"]}).json()
    assert second["exceptions"] == after[3:6] and second["total_size"] == len(after)
    seen = {exception["name"] for exception in first["exceptions"]}
    repeated = [exception for exception in second["exceptions"] if exception["name"] in seen]
    assert len(repeated) == min(new, 3), "the newest exceptions push already-seen ones onto the next page"


@pytest.mark.parametrize("change", ["page_size", "filter", "skip", "workspace", "garbage"])
def test_reusing_a_token_with_other_parameters_is_invalid_argument(client: httpx.Client, api: Api,
                                                                   change: str) -> None:
    workspace_id = _busiest(api)
    path = api.exceptions(workspace_id)
    params: dict[str, Any] = {"page_size": 2, "filter": 'create_time >= "2020-01-01T00:00:00Z"'}
    token = client.get(path, params=params).json()["next_page_token"]
    other = next(w for w in api.workspace_ids if w != workspace_id)
    changed = {
        "page_size": (path, {**params, "page_size": 3, "page_token": token}),
        "filter": (path, {**params, "filter": "state = RESOLVED", "page_token": token}),
        "skip": (path, {**params, "skip": 1, "page_token": token}),
        "workspace": (api.exceptions(other), {**params, "page_token": token}),
        "garbage": (path, {**params, "page_token": "not-a-token"}),
    }[change]
    assert_token_refused(client, changed, path, params, token)


def test_skip_counts_from_the_start_or_from_the_token(client: httpx.Client, api: Api) -> None:
    workspace_id = _busiest(api)
    path = api.exceptions(workspace_id)
    truth = api.world.exceptions(workspace_id)
    first = client.get(path, params={"page_size": 2, "skip": 3}).json()
    assert first["exceptions"] == truth[3:5] and first["total_size"] == len(truth)
    second = client.get(path, params={"page_size": 2, "skip": 3, "page_token": first["next_page_token"]}).json()
    assert second["exceptions"] == truth[8:10], "AIP-158: skip counts again from the token's position"
    beyond = client.get(path, params={"skip": len(truth)}).json()
    assert beyond == {"total_size": len(truth)}
    for bad in ({"skip": -1}, {"page_size": -1}, {"skip": "many"}):
        response = client.get(path, params=bad)
        assert response.status_code == 400 and response.json()["code"] == 3, bad


def _listed(client: httpx.Client, path: str, filter_text: str) -> list[dict[str, Any]]:
    response = client.get(path, params={"page_size": 1000, "filter": filter_text})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body.get("total_size", 0) == len(body.get("exceptions", []))
    return body.get("exceptions", [])  # type: ignore[no-any-return]


def _group(exception: dict[str, Any]) -> str:
    return short_id(exception["group"]) if "group" in exception else ""


def test_filters_on_each_field_bare_and_quoted(client: httpx.Client, api: Api) -> None:
    workspace_id = _busiest(api)
    path, truth = api.exceptions(workspace_id), api.world.exceptions(workspace_id)
    sample = truth[len(truth) // 2]
    automation_id, run_id, group = short_id(sample["automation"]), short_id(sample["run"]), _group(sample)
    state = sample["state"].removeprefix("EXCEPTION_STATE_")
    cases: list[tuple[list[str], Any]] = [
        ([f"state = {state}", f'state = "{state}"', f"state = EXCEPTION_STATE_{state}"],
         lambda e: e["state"] == sample["state"]),
        ([f"state != {state}", f'NOT state = "{state}"'], lambda e: e["state"] != sample["state"]),
        ([f"automation = {automation_id}", f'automation = "{automation_id}"'],
         lambda e: e["automation"] == sample["automation"]),
        ([f"run = {run_id}", f'run = "{run_id}"'], lambda e: e["run"] == sample["run"]),
        ([f'group = "{group}"'] + ([f"group = {group}"] if group else []), lambda e: _group(e) == group),
        (['group = ""'], lambda e: "group" not in e),
        (['group != ""'], lambda e: "group" in e),
        ([f'create_time = "{sample["create_time"]}"'], lambda e: e["create_time"] == sample["create_time"]),
        ([f'create_time < "{sample["create_time"]}"'],
         lambda e: ns_of(e["create_time"]) < ns_of(sample["create_time"])),
        ([f'create_time >= "{sample["create_time"]}"'],
         lambda e: ns_of(e["create_time"]) >= ns_of(sample["create_time"])),
    ]
    for filters, wanted in cases:
        expected = [exception for exception in truth if wanted(exception)]
        for filter_text in filters:
            assert _listed(client, path, filter_text) == expected, filter_text
    assert _listed(client, path, "state = PENDING") == [e for e in truth if e["state"] == STATES[0]]


def test_filters_combine_with_and_or_not(client: httpx.Client, api: Api) -> None:
    workspace_id = _busiest(api)
    path, truth = api.exceptions(workspace_id), api.world.exceptions(workspace_id)
    runs = [short_id(exception["run"]) for exception in truth[:2]]
    middle = truth[len(truth) // 2]["create_time"]
    cases: list[tuple[str, Any]] = [
        ("state = PENDING OR state = ARCHIVED", lambda e: e["state"] != "EXCEPTION_STATE_RESOLVED"),
        (f'state = RESOLVED AND create_time >= "{middle}"',
         lambda e: e["state"] == "EXCEPTION_STATE_RESOLVED" and ns_of(e["create_time"]) >= ns_of(middle)),
        (f'(state = PENDING OR state = ARCHIVED) AND NOT create_time > "{middle}"',
         lambda e: e["state"] != "EXCEPTION_STATE_RESOLVED" and ns_of(e["create_time"]) <= ns_of(middle)),
        (f"run = {runs[0]} OR run = {runs[1]}", lambda e: short_id(e["run"]) in runs),
        (f'run = "{runs[0]} OR {runs[1]}"', lambda e: short_id(e["run"]) in runs),
        ('group = "missing_values" OR group = "user_system_error"',
         lambda e: _group(e) in ("missing_values", "user_system_error")),
        ('state = RESOLVED AND group = ""', lambda e: e["state"] == "EXCEPTION_STATE_RESOLVED" and "group" not in e),
    ]
    for filter_text, wanted in cases:
        expected = [exception for exception in truth if wanted(exception)]
        assert _listed(client, path, filter_text) == expected, filter_text
    assert any(_listed(client, path, text) for text, _ in cases), "the cases select something"


def test_unknown_ids_and_full_names_match_nothing(client: httpx.Client, api: Api) -> None:
    workspace_id = _busiest(api)
    path, sample = api.exceptions(workspace_id), api.world.exceptions(workspace_id)[0]
    for filter_text in ("automation = nobody", f'automation = "{sample["automation"]}"', f'run = "{sample["run"]}"',
                        'group = "no_such_group"'):
        assert _listed(client, path, filter_text) == [], filter_text


@pytest.mark.parametrize("bad", [
    "state = pending", "state = DONE", "state < PENDING", "title = x", "PENDING", "state = PENDING AND",
    "(state = PENDING", 'create_time > "yesterday"', "create_time > 2025-01-01", "state : PENDING",
    "automation > abc",
])
def test_bad_filters_are_invalid_argument_naming_the_filter(client: httpx.Client, api: Api, bad: str) -> None:
    for path in (api.exceptions(api.workspace_ids[0]), f"{api.exceptions(api.workspace_ids[0])}:countByGroup",
                 f"{api.exceptions(api.workspace_ids[0])}:countByAutomation"):
        response = client.get(path, params={"filter": bad})
        assert response.status_code == 400, (path, bad)
        body = response.json()
        assert body["code"] == 3 and body["message"].startswith("invalid filter: ")
        assert body["details"][0]["field_violations"][0]["field"] == "filter"


@pytest.mark.parametrize("filter_text", ["", "state = RESOLVED", 'group != ""'])
def test_counts_by_group_and_automation_equal_the_counts_of_the_list(client: httpx.Client, api: Api,
                                                                     filter_text: str) -> None:
    for workspace_id in api.workspace_ids:
        listed = _listed(client, api.exceptions(workspace_id), filter_text)
        groups = {group["name"]: group for group in api.world.exception_groups(workspace_id)}
        by_group = Counter(exception.get("group", "") for exception in listed)
        by_automation = Counter(exception["automation"] for exception in listed)
        for suffix, items_key, counted in (("countByGroup", "group_counts", by_group),
                                           ("countByAutomation", "automation_counts", by_automation)):
            body = client.get(f"{api.exceptions(workspace_id)}:{suffix}", params={"filter": filter_text}).json()
            entries = body.get(items_key, [])
            assert body.get("total_size", 0) == len(counted) == len(entries)
            assert body.get("total_exception_count", 0) == len(listed)
            counts = [entry["count"] for entry in entries]
            assert counts == sorted(counts, reverse=True), "largest first"
            if suffix == "countByGroup":
                assert {entry["group"].get("name", ""): entry["count"] for entry in entries} == counted
                assert all(entry["group"] == groups[entry["group"]["name"]] for entry in entries
                           if "name" in entry["group"])
            else:
                assert {entry["automation"]: entry["count"] for entry in entries} == counted


def test_counts_paginate(client: httpx.Client, api: Api) -> None:
    workspace_id = _busiest(api)
    path = f"{api.exceptions(workspace_id)}:countByAutomation"
    whole = client.get(path).json()["automation_counts"]
    paged, requests = collect(client, path, "automation_counts", page_size=1)
    assert paged == whole and requests == len(whole) > 1
    token = client.get(path, params={"page_size": 1}).json()["next_page_token"]
    response = client.get(path, params={"page_size": 1, "page_token": token, "filter": "state = PENDING"})
    assert response.status_code == 400 and "page_token" in response.json()["message"]


def test_the_clock_moving_while_paginating_shifts_pages_without_losses(make_simulator: SimulatorFactory) -> None:
    sim, make_client = make_simulator(faults=Faults(advance_clock_while_paginating_exceptions=86_400))
    api = Api(sim)
    workspace_id = _busiest(api)
    start = sim.world.now
    before = {exception["name"] for exception in api.world.exceptions(workspace_id)}
    listed, requests = collect(make_client(), api.exceptions(workspace_id), "exceptions", page_size=2)
    names = [exception["name"] for exception in listed]
    assert sim.world.now - start == timedelta(days=requests - 1), "one day per request with a page token"
    assert before <= set(names), "no exception present at the start is lost"
    raised = {exception["name"] for exception in api.world.exceptions(workspace_id)} - before
    assert raised and len(names) > len(set(names)), "exceptions raised meanwhile push seen ones onto the next page"
