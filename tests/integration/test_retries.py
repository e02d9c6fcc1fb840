"""What the client does on the wire, read from the simulator's request log: waits, retries and rates."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from kognitos_elt.kognitos import AuthError, NotFoundError
from kognitos_simulator import RunningSimulator

from .conftest import Loader


def test_a_429_is_retried_after_at_least_the_seconds_its_retry_after_asks(
    simulator: RunningSimulator, load: Loader, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNTIME__REQUEST_MAX_RETRY_DELAY", "10")  # the tests' default caps waits at 50 ms
    simulator.faults.retry_after_seconds = 1
    simulator.faults.path_contains = ":automationRunAggregates"
    simulator.faults.inject("rate_limit", 2)

    load()

    calls = [entry for entry in simulator.requests.entries if entry.path.endswith(":automationRunAggregates")]
    limited = [index for index, entry in enumerate(calls) if entry.status == 429]
    assert len(limited) == 2
    for index in limited:
        retry = next(entry for entry in calls[index + 1:] if entry.path == calls[index].path)
        assert retry.received - calls[index].received >= 1.0


@pytest.mark.parametrize(
    ("options", "kind", "path_end"),
    [
        pytest.param({"access_token": "wrong-token"}, AuthError, "/workspaces", id="401"),
        pytest.param({"workspace_ids": ["no-such-workspace"]}, NotFoundError, "/no-such-workspace", id="404"),
    ],
)
def test_a_4xx_is_not_retried(
    simulator: RunningSimulator, load: Loader, options: dict[str, object], kind: type[Exception], path_end: str
) -> None:
    with pytest.raises(kind):
        load(**options)

    assert [entry.status for entry in simulator.requests.entries if entry.path.endswith(path_end)] in ([401], [404])


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
    spans = [later - earlier for earlier, later in zip(times, times[119:], strict=False)]
    assert min(spans) >= 119 / 40 * 0.95, "any 120 requests in a row span 119 intervals of the limit"
