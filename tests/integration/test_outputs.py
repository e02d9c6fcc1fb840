"""Execution outputs from the `completed` journal entries (no request per execution), typed by their values; the
declared types on request; the choice kept with the loaded rows."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from kognitos_elt.destination import duckdb_destination
from kognitos_elt.kognitos import ConfigError
from kognitos_elt.session import run_load
from kognitos_simulator import RunningSimulator, World

from .conftest import Loader, Query
from .truth import truth_output_values, truth_outputs

Outputs = dict[tuple[str, str, str], tuple[Any, str | None]]


def declared(world: World) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Every completed execution's outputs as Get Execution Outputs declares them: {value, type}."""
    found = {}
    for ws, execution, name in truth_outputs(world):
        found[(ws, execution, name)] = world.execution_outputs(ws, execution)["outputs"][name]
    return found


def type_the_value_says(output: dict[str, Any]) -> str | None:
    """The `value_type` a value tells of itself, derived from its declared type (README, execution_outputs): scalars
    and lists of them as declared, tables and dictionaries without their names, null optionals NULL, and for values
    declared `any` the kind they are."""
    declared_type, value = output.get("type") or {}, output.get("value") or {}
    ((kind, body),) = declared_type.items()
    if kind == "scalar_type":
        return str(body).removeprefix("VALUE_SCALAR_TYPE_").lower()
    if kind == "list_type" and not value.get("list", {}).get("items"):
        return "list<unspecified>"  # an empty list says nothing of its items
    if kind == "list_type":
        return f"list<{type_the_value_says({'type': body['inner'], 'value': {}})}>"
    if kind in ("table_type", "dictionary_type"):
        return kind.removesuffix("_type")
    if kind == "optional_type" and "null_value" in value:
        return None
    if kind == "any_type" and "set" in value:
        return "set<text>" if value["set"].get("items") else "set<unspecified>"
    if kind == "any_type":
        return next(iter(value))  # time_zone, duration: kinds with no scalar type of their own
    raise AssertionError(f"the simulator declares a type this test does not know: {declared_type}")


def loaded(query: Query) -> Outputs:
    rows = query("SELECT workspace_id, execution_id, output_name, value, value_type FROM kognitos.execution_outputs")
    assert len(rows) == len({row[:3] for row in rows}), "an output was loaded twice"
    return {(ws, ex, name): (json.loads(value) if value is not None else None, value_type)
            for ws, ex, name, value, value_type in rows}


def test_outputs_come_from_the_journal_typed_by_their_values_without_a_request(
    simulator: RunningSimulator, load: Loader, query: Query
) -> None:
    load()

    outputs = loaded(query)
    truth = declared(simulator.world)
    assert simulator.requests.count(path_contains="/outputs") == 0
    assert set(outputs) == set(truth) and truth
    assert {key: value_type for key, (_, value_type) in outputs.items()} == {
        key: type_the_value_says(output) for key, output in truth.items()}
    assert {key: value for key, (value, _) in outputs.items()} == truth_output_values(simulator.world)


def test_declared_types_are_fetched_on_request_with_the_same_values(
    simulator: RunningSimulator, load: Loader, query: Query, tmp_path: Path
) -> None:
    load()
    from_journal = loaded(query)
    declared_load = tmp_path / "declared.duckdb"

    run_load(destination=duckdb_destination("kognitos", str(declared_load)), pipeline_name="declared",
             source_options={"access_token": simulator.token, "base_url": simulator.base_url,
                             "organization_id": simulator.world.organization_id,
                             "execution_output_types": "declared"})

    with duckdb.connect(str(declared_load), read_only=True) as connection:
        fetched = loaded(lambda sql: connection.execute(sql).fetchall())
    truth = declared(simulator.world)
    assert simulator.requests.count(path_contains="/outputs") == len({(ws, ex) for ws, ex, _ in truth})
    assert {key: value for key, (value, _) in fetched.items()} == {key: value for key, (value, _) in
                                                                    from_journal.items()}
    assert {key: value_type for key, (_, value_type) in fetched.items()} == {
        key: _declared_name(output["type"]) for key, output in truth.items()}


def _declared_name(declared_type: dict[str, Any]) -> str:
    """The readable name of a declared type, as README says (`number`, `list<text>`, `table:line items`, ...)."""
    ((kind, body),) = declared_type.items()
    if kind == "scalar_type":
        return str(body).removeprefix("VALUE_SCALAR_TYPE_").lower()
    if kind in ("list_type", "optional_type"):
        return f"{kind.removesuffix('_type')}<{_declared_name(body['inner'])}>"
    if kind in ("table_type", "dictionary_type"):
        return f"{kind.removesuffix('_type')}:{body['is_a']}" if body.get("is_a") else kind.removesuffix("_type")
    assert kind == "any_type", declared_type
    return "any"


def test_a_different_source_of_types_is_refused_until_the_outputs_are_reloaded(
    simulator: RunningSimulator, load: Loader, query: Query, database: Path
) -> None:
    load()
    simulator.world.advance(timedelta(hours=6))
    before = query("SELECT count(*) FROM kognitos.execution_outputs UNION ALL SELECT count(*) FROM kognitos.runs")

    with pytest.raises(ConfigError, match=r"execution_output_types.*'declared'.*inferred types"):
        load(execution_output_types="declared")

    assert query("SELECT count(*) FROM kognitos.execution_outputs UNION ALL SELECT count(*) FROM kognitos.runs"
                 ) == before
    load(execution_output_types="inferred")  # the loaded outputs' own choice, said out loud, is accepted
    run_load(destination=duckdb_destination("kognitos", str(database)), refresh=True,
             source_options={"access_token": simulator.token, "base_url": simulator.base_url,
                             "organization_id": simulator.world.organization_id,
                             "execution_output_types": "declared"})
    assert {value_type for (value_type,) in query("SELECT DISTINCT value_type FROM kognitos.execution_outputs")
            } >= {"table:line items"}
