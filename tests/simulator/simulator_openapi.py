"""Validation of response bodies against Kognitos' OpenAPI reference (the 200 schema, or rpcStatus).

The reference is two documents, subsets of the same published one: the runs endpoints and the exceptions
endpoints; each operation is validated against the components of its own document.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import orjson
import yaml
from jsonschema import FormatChecker
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from rfc3339_validator import validate_rfc3339

REPOSITORY = Path(__file__).resolve().parents[2]
DOCUMENTS = ("kognitos-openapi-runs.yaml", "kognitos-openapi-exceptions.yaml")
REFERENCES = tuple(REPOSITORY / "kognitos_simulator" / "reference" / name for name in DOCUMENTS)
TEAM_REFERENCES = tuple(REPOSITORY.parent / "shared" / "reference" / name for name in DOCUMENTS)
"""The team's copies, beside the repository where the team works; a user's clone has none."""


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

    def __init__(self, *paths: Path) -> None:
        self._checker = _format_checker()
        self._operations: list[tuple[str, re.Pattern[str], str]] = []
        self._validators: dict[str, OAS30Validator] = {}
        # Items of list responses (runs, run_events, ...) are validated one by one and remembered: tests
        # fetch the same runs and events many times, and validating them again would only cost time.
        self._item_validators: dict[tuple[str, str], OAS30Validator] = {}
        self._valid_items: set[bytes] = set()
        for path in paths:
            self._load(yaml.safe_load(path.read_text()))

    def _load(self, document: dict[str, Any]) -> None:
        components = document["components"]
        strict_components = {**components, "schemas": _strict(components["schemas"])}

        def validator(schema: dict[str, Any]) -> OAS30Validator:
            return OAS30Validator({**schema, "components": strict_components}, format_checker=self._checker)

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
