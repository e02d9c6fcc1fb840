"""What the client does on the wire, read from the simulator's request log: waits, retries and rates."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from kognitos_elt.kognitos import AuthError, NotFoundError, client
from kognitos_simulator import RunningSimulator

from .conftest import Loader


def test_a_429_is_retried_after_exactly_the_seconds_its_retry_after_asks(
    simulator: RunningSimulator, load: Loader, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNTIME__REQUEST_MAX_RETRY_DELAY", "10")  # the tests' default caps waits at 50 ms
    simulator.faults.retry_after_seconds = 1
    simulator.faults.path_contains = ":automationRunAggregates"
    simulator.faults.inject("rate_limit", 2)
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    # The client's own clock only (the simulator and dlt share the time module).
    monkeypatch.setattr(client, "time", SimpleNamespace(sleep=sleep, monotonic=time.monotonic))

    load()

    calls = [entry for entry in simulator.requests.entries if entry.path.endswith(":automationRunAggregates")]
    assert [entry.status for entry in calls].count(429) == 2
    assert waits == [simulator.faults.retry_after_seconds] * 2, "each 429 waited what it asked, and nothing else"
    for index, entry in enumerate(calls):
        if entry.status == 429:
            retry = next(later for later in calls[index + 1:] if later.path == entry.path)
            assert retry.received - entry.received >= 1.0


@pytest.mark.parametrize(
    ("options", "kind", "path", "status"),
    [
        pytest.param({"access_token": "wrong-token"}, AuthError, "/me/organizations/{org}/workspaces", 401, id="401"),
        pytest.param({"workspace_ids": ["no-such-workspace"]}, NotFoundError,
                     "/organizations/{org}/workspaces/no-such-workspace", 404, id="404"),
    ],
)
def test_a_4xx_is_not_retried(
    simulator: RunningSimulator, load: Loader, options: dict[str, object], kind: type[Exception], path: str,
    status: int
) -> None:
    with pytest.raises(kind):
        load(**options)

    expected = "/api/v1" + path.format(org=simulator.world.organization_id)
    assert [(entry.path, entry.status) for entry in simulator.requests.entries] == [(expected, status)]


def test_max_requests_per_second_holds_over_a_real_load(
    simulator: RunningSimulator, load: Loader, monkeypatch: pytest.MonkeyPatch
) -> None:
    # When each request leaves, seen in the client's own thread as it hands the request to httpx: the simulator
    # shares this process and its GIL, so its arrival times can bunch up requests that left evenly spaced.
    sent: list[float] = []
    send = httpx.Client.send

    def timed_send(client: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        sent.append(time.monotonic())
        return send(client, request, **kwargs)

    monkeypatch.setattr(httpx.Client, "send", timed_send)

    load(max_requests_per_second=40, execution_output_types="declared")  # a request per execution: a longer load

    times = sorted(sent)
    assert len(times) == len(simulator.requests.entries) > 200, "a load long enough to measure a rate"
    assert (len(times) - 1) / (times[-1] - times[0]) <= 40 * 1.02
    # Each request waits for its own slot: a thread that wakes late (a busy machine: up to a few hundred ms) sends
    # its request after the next ones, which shortens the windows it starts. 15% allows for that and still fails a
    # load paced at 47 requests/s or faster.
    spans = [later - earlier for earlier, later in zip(times, times[119:], strict=False)]
    assert min(spans) >= 119 / 40 * 0.85, "any 120 requests in a row span 119 intervals of the limit"
