"""Fixtures for the simulator's tests: live simulators and HTTP clients whose every response is validated.

Every response a test receives through `client` / `make_client` is validated against Kognitos'
official OpenAPI document (the repository's copies of its runs and exceptions subsets, in
kognitos_simulator/reference/): the 200 schema of the operation, or `rpcStatus` for errors, with formats
checked (date-time, int64 strings, base64). The schemas are tightened to forbid undeclared keys (a typo
or a camelCase key would otherwise pass); the only key allowed beyond the document is the observed `table.inline.data`,
which the published schema also accepts, so a body valid here is valid against the published schema.
Each simulator checks at teardown that every response it sent went through that validation, so no
test can bypass it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import httpx
import pytest
from simulator_openapi import REFERENCES, OpenApiResponses
from simulator_support import Api, ClientFactory, SimulatorFactory

from kognitos_simulator import RunningSimulator, SimulatorSettings, running_simulator
from kognitos_simulator.requestlog import NO_RESPONSE, LoggedRequest, RequestLog

SEED = 7


@pytest.fixture(scope="session")
def openapi() -> OpenApiResponses:
    return OpenApiResponses(*REFERENCES)


class _Validation:
    """Counts responses that reached validation, per simulator."""

    def __init__(self, openapi: OpenApiResponses) -> None:
        self.openapi = openapi
        self.seen = 0
        self.answered = 0

    def count_answers(self, log: RequestLog) -> None:
        """Count every answered request as the server logs it (tests may clear the log itself)."""
        record = log.record

        def counting(entry: LoggedRequest) -> None:
            self.answered += entry.status != NO_RESPONSE
            record(entry)

        log.record = counting  # type: ignore[method-assign]

    def hook(self, response: httpx.Response) -> None:
        self.seen += 1
        response.read()
        assert response.headers["content-type"] == "application/json"
        self.openapi.validate(response.request.method, response.request.url.path, response.status_code,
                              response.json())


def _client_factory(sim: RunningSimulator, validation: _Validation, clients: list[httpx.Client]) -> ClientFactory:
    def make(token: str | None = sim.token, **options: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        client = httpx.Client(base_url=f"{sim.base_url}/api/v1", headers=headers, timeout=30,
                              event_hooks={"response": [validation.hook]}, **options)
        clients.append(client)
        return client

    return make


def _check_everything_validated(validation: _Validation) -> None:
    assert validation.answered == validation.seen, (
        f"the simulator answered {validation.answered} requests but only {validation.seen} were schema-validated: "
        "use the `client`/`make_client` fixtures for every request"
    )


@contextmanager
def _validated_simulator(openapi: OpenApiResponses, settings: SimulatorSettings
                         ) -> Iterator[tuple[RunningSimulator, ClientFactory]]:
    validation = _Validation(openapi)
    clients: list[httpx.Client] = []
    with running_simulator(settings) as sim:
        validation.count_answers(sim.requests)
        try:
            yield sim, _client_factory(sim, validation, clients)
        finally:
            for client in clients:
                client.close()
        _check_everything_validated(validation)


@pytest.fixture(scope="session")
def shared(openapi: OpenApiResponses) -> Iterator[tuple[RunningSimulator, ClientFactory]]:
    """One read-only simulator for the whole session (tests must not change its world or faults)."""
    with _validated_simulator(openapi, SimulatorSettings(seed=SEED)) as pair:
        yield pair


@pytest.fixture
def sim(shared: tuple[RunningSimulator, ClientFactory]) -> RunningSimulator:
    return shared[0]


@pytest.fixture
def client(shared: tuple[RunningSimulator, ClientFactory]) -> httpx.Client:
    """An authenticated client of the shared simulator, based at /api/v1."""
    return shared[1]()


@pytest.fixture
def make_simulator(openapi: OpenApiResponses) -> Iterator[SimulatorFactory]:
    """Start a private simulator (for tests that move the clock, pause runs or inject faults)."""
    managers: list[AbstractContextManager[tuple[RunningSimulator, ClientFactory]]] = []

    def make(**settings: Any) -> tuple[RunningSimulator, ClientFactory]:
        manager = _validated_simulator(openapi, SimulatorSettings(**{"seed": SEED, **settings}))
        managers.append(manager)
        return manager.__enter__()

    yield make
    for manager in reversed(managers):
        manager.__exit__(None, None, None)


@pytest.fixture
def api(sim: RunningSimulator) -> Api:
    return Api(sim)
