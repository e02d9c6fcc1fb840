"""Exceptions: loaded exactly after a backfill and as the clock moves them through their states, at a no-op cost
that does not grow with the exceptions, and exactly when pages shift while the load pages through them."""

from __future__ import annotations

import math
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import dlt
import psycopg2
import pytest

from kognitos_elt.destination import duckdb_destination
from kognitos_elt.kognitos import ExitCode, InvalidRequestError, params
from kognitos_elt.session import LoadSummary, run_load
from kognitos_simulator import RunningSimulator, SimulatorSettings, World, running_simulator
from kognitos_simulator.settings import Scale

from .conftest import Query
from .truth import EXCEPTION_COLUMNS, loaded_exceptions, query_exceptions, truth_exceptions

SETTINGS = SimulatorSettings(seed=11, scale=Scale(workspaces=2, automations_per_workspace=3, runs_per_automation=150,
                                                  events_per_run=8, days_of_history=20))
"""A world with every kind of exception: ~75 at the start, pending, archived and resolved, by people and an agent."""
ONLY_EXCEPTIONS = ["workspaces", "exceptions"]
STATE = 3  # position of `state` in EXCEPTION_COLUMNS
DESCRIPTION = 5


@pytest.fixture
def simulator() -> Iterator[RunningSimulator]:
    with running_simulator(SETTINGS) as running:
        yield running


def options(simulator: RunningSimulator, **more: Any) -> dict[str, Any]:
    return {"access_token": simulator.token, "base_url": simulator.base_url,
            "organization_id": simulator.world.organization_id, **more}


@pytest.fixture
def load_exceptions(simulator: RunningSimulator, database: Path) -> Callable[..., LoadSummary]:
    """A load of the workspaces and their exceptions only (the rest is not needed here, and takes time)."""

    def _load(**more: Any) -> LoadSummary:
        return run_load(destination=duckdb_destination("kognitos", str(database)), resources=ONLY_EXCEPTIONS,
                        source_options=options(simulator, **more))

    return _load


def transitions(before: dict[Any, tuple[Any, ...]], after: dict[Any, tuple[Any, ...]]) -> Counter[str]:
    """What happened between two truths: states moved (`pending->resolved`, ...), descriptions written, new ones."""
    seen: Counter[str] = Counter()
    for key, row in after.items():
        if key not in before:
            seen["new"] += 1
            continue
        if before[key][STATE] != row[STATE]:
            seen[f"{before[key][STATE]}->{row[STATE]}"] += 1
        if before[key][DESCRIPTION] is None and row[DESCRIPTION] is not None:
            seen["described"] += 1
    return seen


def next_creation_after(now: datetime) -> datetime:
    """When the next exception is created after `now`: read from a second world of the same settings (worlds are
    a pure function of their settings), so the live one can be stopped just after it, before its description."""
    oracle = World(SETTINGS)
    oracle.advance(now - oracle.now)
    known = truth_exceptions(oracle).keys()
    for _ in range(24 * 30):  # bounded: an hour at a time, 30 days at most
        oracle.advance(timedelta(hours=1))
        if fresh := [row for key, row in truth_exceptions(oracle).items() if key not in known]:
            return min(row[14] for row in fresh)  # create_time
    raise AssertionError("no exception was created in 30 simulated days")


def test_a_full_load_includes_exceptions_equal_to_the_truth(simulator: RunningSimulator, database: Path,
                                                            query: Query) -> None:
    summary = run_load(destination=duckdb_destination("kognitos", str(database)), source_options=options(simulator))

    truth = truth_exceptions(simulator.world)
    assert query_exceptions(query) == truth
    states = Counter(row[STATE] for row in truth.values())
    assert states["pending"] and states["archived"] and states["resolved"], states
    assert {row[9] for row in truth.values()} == {True, False, None}, "resolved by agents and people, and not yet"
    assert summary.stats["exceptions_new"] == len(truth)
    # Every run waiting for a person now names an exception loaded as pending or archived.
    waiting = query("SELECT r.exception_id, e.state FROM kognitos.runs r LEFT JOIN kognitos.exceptions e "
                    "ON e.workspace_id = r.workspace_id AND e.exception_id = r.exception_id "
                    "WHERE r.state = 'awaiting_guidance'")
    assert waiting and all(state in ("pending", "archived") for _, state in waiting), waiting


def test_later_loads_follow_the_clock_exactly(simulator: RunningSimulator, load_exceptions: Callable[..., LoadSummary],
                                              query: Query) -> None:
    """Steps chosen to see every move: an exception caught before its description, then resolved, archived and
    reopened ones over days; after each step the table equals the truth and the summary counts the changes."""
    world = simulator.world
    load_exceptions()
    assert query_exceptions(query) == (before := truth_exceptions(world))
    world.advance(next_creation_after(world.now) - world.now + timedelta(seconds=1))
    seen: Counter[str] = Counter()
    for step in (timedelta(0), timedelta(minutes=5), timedelta(hours=6), timedelta(days=3), timedelta(days=10),
                 timedelta(days=12)):
        world.advance(step)
        after = truth_exceptions(world)
        moved = transitions(before, after)
        summary = load_exceptions()
        assert query_exceptions(query) == after, f"after {step}"
        assert summary.stats.get("exceptions_new", 0) == moved["new"]
        assert summary.stats.get("exceptions_updated", 0) == sum(1 for key in before.keys() & after.keys()
                                                                 if before[key] != after[key])
        seen += moved
        before = after
    assert {"pending->resolved", "pending->archived", "archived->pending", "described", "new"} <= seen.keys(), seen


def test_a_no_op_load_costs_two_requests_per_workspace_whatever_the_number_of_exceptions(
    simulator: RunningSimulator, load_exceptions: Callable[..., LoadSummary]
) -> None:
    load_exceptions()
    simulator.world.advance(timedelta(days=10))  # more exceptions pending, and some resolved
    load_exceptions()
    unresolved = [row for row in truth_exceptions(simulator.world).values() if row[STATE] != "resolved"]
    workspaces = len(simulator.world.workspaces())
    simulator.requests.clear()

    summary = load_exceptions()

    assert summary.rows.get("exceptions", 0) == 0
    requests = [entry for entry in simulator.requests.entries if "/exceptions" in entry.path]
    # One page of new exceptions (none) and one of those not resolved, per workspace; nothing per exception.
    assert len(requests) == 2 * workspaces, requests
    assert len(unresolved) > 2 * workspaces, "a request per exception would cost more"
    assert Counter(entry.query.get("filter", "").split(" ")[0] for entry in requests) == {
        "create_time": workspaces, "state": workspaces}


def test_resolved_exceptions_are_read_by_their_runs_not_one_request_each(
    simulator: RunningSimulator, load_exceptions: Callable[..., LoadSummary], query: Query
) -> None:
    load_exceptions()
    before = truth_exceptions(simulator.world)
    simulator.world.advance(timedelta(days=10))
    after = truth_exceptions(simulator.world)
    resolved_runs = Counter(ws for (ws, exception), row in after.items()
                            if exception in {e for _, e in before} and before[(ws, exception)][STATE] != "resolved"
                            and row[STATE] == "resolved")
    assert resolved_runs, "ten days should resolve some exceptions"
    simulator.requests.clear()

    load_exceptions(page_size=1000)

    assert query_exceptions(query) == after
    requests = [entry for entry in simulator.requests.entries if "/exceptions" in entry.path]
    assert not [entry for entry in requests if "/exceptions/" in entry.path], "no Get Exception"
    by_run = [entry for entry in requests if entry.query.get("filter", "").startswith("run = ")]
    assert len(by_run) == sum(math.ceil(count / 50) for count in resolved_runs.values())


def test_pages_that_shift_while_paging_lose_and_duplicate_nothing(
    simulator: RunningSimulator, load_exceptions: Callable[..., LoadSummary], query: Query
) -> None:
    """Newest first with offset page tokens: the clock moves six hours before every page after the first, so new
    exceptions push the ones not read yet onto later pages, and resolved ones leave the list of those not resolved."""
    world = simulator.world
    before = truth_exceptions(world)
    simulator.faults.advance_clock_while_paginating_exceptions = 6 * 3600

    load_exceptions(page_size=3)  # a backfill: new exceptions shift its pages

    during = truth_exceptions(world)
    assert transitions(before, during)["new"] > 5, "exceptions should arrive while the load pages"
    loaded = query_exceptions(query)  # asserts no exception was loaded twice
    assert before.keys() <= loaded.keys() <= during.keys()
    load_exceptions(page_size=3)  # and resolved ones leave the list of those not resolved while it is paged
    assert transitions(during, truth_exceptions(world))["pending->resolved"]
    simulator.faults.advance_clock_while_paginating_exceptions = 0
    load_exceptions(page_size=3)
    assert query_exceptions(query) == truth_exceptions(world)


def test_automation_ids_load_only_their_exceptions(
    simulator: RunningSimulator, load_exceptions: Callable[..., LoadSummary], query: Query
) -> None:
    truth = truth_exceptions(simulator.world)
    chosen = Counter(row[0] for row in truth.values()).most_common(1)[0][0]

    load_exceptions(automation_ids=[chosen])

    assert query_exceptions(query) == {key: row for key, row in truth.items() if row[0] == chosen}


def test_postgres_holds_the_exceptions_after_a_backfill_and_a_move(simulator: RunningSimulator,
                                                                    postgres_dsn: str) -> None:
    dataset = f"kognitos_test_{uuid.uuid4().hex[:8]}"
    destination = dlt.destinations.postgres(credentials=postgres_dsn)
    run_load(destination=destination, dataset_name=dataset, resources=ONLY_EXCEPTIONS,
             source_options=options(simulator))
    before = truth_exceptions(simulator.world)
    simulator.world.advance(timedelta(days=10))
    after = truth_exceptions(simulator.world)
    assert transitions(before, after)["pending->resolved"]

    run_load(destination=destination, dataset_name=dataset, resources=ONLY_EXCEPTIONS,
             source_options=options(simulator))

    with psycopg2.connect(postgres_dsn) as connection, connection.cursor() as cursor:
        cursor.execute(f"SELECT workspace_id, exception_id, {EXCEPTION_COLUMNS} FROM {dataset}.exceptions")
        rows = cursor.fetchall()
        cursor.execute("SELECT column_name, data_type FROM information_schema.columns "
                       "WHERE table_schema = %s AND table_name = 'exceptions'", (dataset,))
        types = dict(cursor.fetchall())
        cursor.execute(f"DROP SCHEMA {dataset} CASCADE")
        cursor.execute(f"DROP SCHEMA IF EXISTS {dataset}_staging CASCADE")
    assert loaded_exceptions(rows) == after
    assert types["create_time"] == "timestamp with time zone"
    assert types["resolved_by_agent"] == "boolean"
    assert types["extra"] == "jsonb"



def test_a_filter_the_service_refuses_stops_the_load_saying_so_and_commits_nothing(
    simulator: RunningSimulator, load_exceptions: Callable[..., LoadSummary], query: Query,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    load_exceptions()
    loaded = query_exceptions(query)
    simulator.world.advance(timedelta(days=10))
    not_resolved = params.NOT_RESOLVED
    monkeypatch.setattr(params, "NOT_RESOLVED", "state = SNOOZED")  # a state the service does not know

    with pytest.raises(InvalidRequestError, match="SNOOZED") as refused:
        load_exceptions()

    assert "/exceptions" in str(refused.value) and refused.value.exit_code == ExitCode.API
    assert query_exceptions(query) == loaded, "nothing of the refused load is committed"
    monkeypatch.setattr(params, "NOT_RESOLVED", not_resolved)  # not undo(): it would undo isolated_dlt's too
    load_exceptions()
    assert query_exceptions(query) == truth_exceptions(simulator.world)
