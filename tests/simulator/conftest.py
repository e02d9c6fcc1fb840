"""Fixtures for the simulator's tests: live simulators and HTTP clients whose every response is validated.

Every response a test receives through `client` / `make_client` is validated against Kognitos'
official OpenAPI document (../shared/reference/kognitos-openapi-runs.yaml beside the repository):
the 200 schema of the operation, or `rpcStatus` for errors, with formats checked (date-time, int64
strings, base64). The schemas are tightened to forbid undeclared keys (a typo or a camelCase key
would otherwise pass); the only key allowed beyond the document is the observed `table.inline.data`,
which the published schema also accepts, so a body valid here is valid against the published schema.
Each simulator checks at teardown that every response it sent went through that validation, so no
test can bypass it.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import yaml
from jsonschema import FormatChecker
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from rfc3339_validator import validate_rfc3339

from kognitos_simulator import RunningSimulator, SimulatorSettings, running_simulator
from kognitos_simulator.requestlog import NO_RESPONSE
from simulator_support import Api, ClientFactory, SimulatorFactory

REPOSITORY = Path(__file__).resolve().parents[2]
REFERENCE = REPOSITORY.parent / "shared" / "reference" / "kognitos-openapi-runs.yaml"
SEED = 7


def _format_checker() -> FormatChecker:
    checker = copy.deepcopy(oas30_format_checker)
    checker.checks("date-time")(lambda value: not isinstance(value, str) or bool(validate_rfc3339(value)))
    # int64 values travel as JSON strings: they must hold a decimal integer.
    int64 = checker.checkers["int64"][0]
    checker.checks("int64")(lambda value: bool(re.fullmatch(r"-?[0-9]+", value)) if isinstance(value, str)
                            else int64(value))
    return checker


def _strict(schemas: dict[str, Any]) -> dict[str, Any]:
    """A copy of the component schemas where objects may hold only their declared properties."""
    strict = copy.deepcopy(schemas)
    for name, schema in strict.items():
        if schema.get("type") == "object" and "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
        if name == "v1Table":  # observed in real responses: {"table": {"inline": {"data": <Arrow IPC>}}}
            schema["properties"]["data"] = {"type": "string", "format": "byte"}
    return strict


class OpenApiResponses:
    """Validates response bodies against the operation's schema in the reference document."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise FileNotFoundError(f"the OpenAPI reference is missing: expected {path} (../shared beside the repo)")
        document = yaml.safe_load(path.read_text())
        components = document["components"]
        strict_components = {**components, "schemas": _strict(components["schemas"])}
        checker = _format_checker()
        self._operations: list[tuple[str, re.Pattern[str], str]] = []
        self._validators: dict[str, OAS30Validator] = {}
        # Items of list responses (runs, run_events, ...) are validated one by one and remembered: tests
        # fetch the same runs and events many times, and validating them again would only cost time.
        self._item_validators: dict[tuple[str, str], OAS30Validator] = {}
        self._valid_items: set[bytes] = set()

        def validator(schema: dict[str, Any]) -> OAS30Validator:
            return OAS30Validator({**schema, "components": strict_components}, format_checker=checker)

        for template, operations in document["paths"].items():
            regex = re.compile(re.sub(r"\\\{\w+\\\}", "[^/:]+", re.escape(template)))
            for method, operation in operations.items():
                name = operation["operationId"]
                self._operations.append((method.upper(), regex, name))
                for status in ("200", "default"):
                    schema = operation["responses"][status]["content"]["application/json"]["schema"]
                    self._validators[f"{name} {status}"] = validator(schema)
                response = components["schemas"][schema_name(operation)]
                for key, field in response.get("properties", {}).items():
                    if field.get("type") == "array":
                        self._item_validators[(name, key)] = validator(field["items"])

    def operation(self, method: str, path: str) -> str | None:
        return next((name for verb, regex, name in self._operations if verb == method and regex.fullmatch(path)),
                    None)

    def validate(self, method: str, path: str, status: int, body: Any) -> None:
        operation = self.operation(method, path)
        if operation is None:  # not an API operation (unknown path, wrong method): still an rpcStatus
            operation = "GetOrganization"
            assert status != 200, f"200 for {method} {path}, which is not in the reference"
        where = f"{method} {path} -> {status}"
        lists = {key: value for key, value in body.items() if (operation, key) in self._item_validators
                 and isinstance(value, list)} if status == 200 and isinstance(body, dict) else {}
        _check(self._validators[f"{operation} {'200' if status == 200 else 'default'}"],
               {**body, **{key: [] for key in lists}} if lists else body, where)
        for key, items in lists.items():
            for index, item in enumerate(items):
                encoded = orjson.dumps(item)
                if encoded not in self._valid_items:
                    _check(self._item_validators[(operation, key)], item, f"{where} {key}[{index}]")
                    self._valid_items.add(encoded)


def schema_name(operation: dict[str, Any]) -> str:
    """The component name of an operation's 200 response schema."""
    reference: str = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    return reference.rsplit("/", 1)[1]


def _check(validator: OAS30Validator, instance: Any, where: str) -> None:
    errors = sorted(validator.iter_errors(instance), key=lambda error: list(error.absolute_path))
    assert not errors, (
        f"{where}: {len(errors)} schema violation(s), first at {list(errors[0].absolute_path)}: {errors[0].message}"
    )


@pytest.fixture(scope="session")
def openapi() -> OpenApiResponses:
    return OpenApiResponses(REFERENCE)


class _Validation:
    """Counts responses that reached validation, per simulator."""

    def __init__(self, openapi: OpenApiResponses) -> None:
        self.openapi = openapi
        self.seen = 0

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


def _check_everything_validated(sim: RunningSimulator, validation: _Validation) -> None:
    answered = sum(1 for entry in sim.requests.entries if entry.status != NO_RESPONSE)
    assert answered == validation.seen, (
        f"the simulator answered {answered} requests but only {validation.seen} were schema-validated: "
        "use the `client`/`make_client` fixtures for every request"
    )


@contextmanager
def _validated_simulator(openapi: OpenApiResponses, settings: SimulatorSettings
                         ) -> Iterator[tuple[RunningSimulator, ClientFactory]]:
    validation = _Validation(openapi)
    clients: list[httpx.Client] = []
    with running_simulator(settings) as sim:
        try:
            yield sim, _client_factory(sim, validation, clients)
        finally:
            for client in clients:
                client.close()
        _check_everything_validated(sim, validation)


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
