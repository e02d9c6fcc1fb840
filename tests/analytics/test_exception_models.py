"""The human-in-the-loop columns (exception_facts, run_facts.needed_guidance, daily_runs.straight_through and
automation_health's) on a real simulator load equal the simulator's truth (exception_truth.py), on DuckDB and
PostgreSQL, as the clock resolves and raises exceptions; their dbt tests pass, and fail on a broken relationship."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import dlt
import duckdb
import psycopg2
import pytest

from kognitos_analytics.builder import ModelsError, analytics_schema
from kognitos_elt.destination import duckdb_destination
from kognitos_elt.session import build_models, run_load
from kognitos_simulator import RunningSimulator, SimulatorSettings, running_simulator

from ..conftest import TEST_SCALE
from ..integration.truth import instant, short
from . import exception_truth as truth
from .test_models import ZONES, assert_same, duckdb_query, source_options
from .truth import all_runs

Query = Callable[[str], list[tuple[Any, ...]]]
SEED = 22
"""A world whose exceptions are pending, resolved by a person and by an agent, archived, grouped and not, assigned
and not (the shared fixture's seed has no archived one)."""


@pytest.fixture(autouse=True)
def models_after_load(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loads build the models here, as `kognitos-elt run` does by default."""
    monkeypatch.delenv("ANALYTICS__BUILD_AFTER_LOAD")


@pytest.fixture
def guided_simulator() -> Iterator[RunningSimulator]:
    with running_simulator(SimulatorSettings(seed=SEED, scale=TEST_SCALE)) as running:
        yield running


def rows(query: Query, sql: str, key_length: int) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    found = query(sql)
    keyed = {tuple(row[:key_length]): tuple(row[key_length:]) for row in found}
    assert len(keyed) == len(found), "a key twice"
    return keyed


def assert_human_in_the_loop_holds_the_truth(query: Query, dataset: str, simulator: RunningSimulator) -> None:
    schema, world = analytics_schema(dataset), simulator.world
    ((as_of,),) = query(f"SELECT as_of FROM {schema}.service_clock")
    assert timedelta(0) <= as_of - world.now < timedelta(seconds=5)  # the service's clock, not this machine's

    assert_same(rows(query, f"SELECT workspace_id, exception_id, {', '.join(truth.EXCEPTION_FACTS)} "
                            f"FROM {schema}.exception_facts", 2),
                truth.exception_facts(world, as_of))
    assert_same(rows(query, f"SELECT workspace_id, automation_id, run_id, needed_guidance FROM {schema}.run_facts", 3),
                {key: (needed,) for key, needed in truth.needed_guidance(world).items()})
    assert_same(rows(query, f"SELECT workspace_id, automation_id, time_zone, date, straight_through "
                            f"FROM {schema}.daily_runs", 4),
                truth.straight_through(world, ZONES))
    assert_same(rows(query, f"SELECT workspace_id, automation_id, {', '.join(truth.AUTOMATION_HEALTH)} "
                            f"FROM {schema}.automation_health", 2),
                truth.automation_health(world, as_of))


def test_duckdb_human_in_the_loop_equals_the_truth_as_the_clock_moves_and_its_dbt_tests_pass(
    guided_simulator: RunningSimulator, tmp_path: Path
) -> None:
    database = tmp_path / "warehouse.duckdb"
    query = duckdb_query(database)

    def load(models: bool = True) -> None:
        run_load(destination=duckdb_destination("kognitos", str(database)),
                 source_options=source_options(guided_simulator), models=models)

    load(models=False)  # `models` builds them next (dbt build: run, then test); the load after it builds them
    states = {exception["state"] for exception in truth.exceptions(guided_simulator.world).values()}
    assert states == {"EXCEPTION_STATE_PENDING", "EXCEPTION_STATE_RESOLVED", "EXCEPTION_STATE_ARCHIVED"}
    tested = build_models(destination=duckdb_destination("kognitos", str(database)))
    assert_human_in_the_loop_holds_the_truth(query, "kognitos", guided_simulator)
    assert {name: status for name, status in tested.results.items() if status not in ("success", "pass")} == {}
    assert [name for name in tested.results if name.startswith("related_combination_exception_facts")] != []
    assert tested.results["waiting_runs_have_their_exception"] == "pass"

    before = truth.exception_facts(guided_simulator.world, guided_simulator.world.now)
    guided_simulator.world.advance(timedelta(days=3))
    load()

    after = truth.exception_facts(guided_simulator.world, guided_simulator.world.now)
    assert after.keys() > before.keys()  # new exceptions raised
    assert any(after[key][3] != before[key][3] for key in before)  # and some resolved or archived meanwhile
    assert_human_in_the_loop_holds_the_truth(query, "kognitos", guided_simulator)


def test_the_dbt_tests_fail_when_an_exception_has_no_run_or_a_waiting_run_no_exception(
    guided_simulator: RunningSimulator, tmp_path: Path
) -> None:
    database = tmp_path / "warehouse.duckdb"
    destination = duckdb_destination("kognitos", str(database))
    run_load(destination=destination, source_options=source_options(guided_simulator), models=False)

    with duckdb.connect(str(database)) as connection:  # a resolved exception now names a run that is not loaded
        ((exception_id, run_id),) = connection.execute(
            "SELECT exception_id, run_id FROM kognitos.exceptions WHERE state = 'resolved' ORDER BY exception_id "
            "LIMIT 1").fetchall()
        connection.execute("UPDATE kognitos.exceptions SET run_id = 'not-a-run' WHERE exception_id = ?",
                           [exception_id])
    with pytest.raises(ModelsError, match="related_combination_exception_facts") as orphan:
        build_models(destination=destination)
    assert "waiting_runs_have_their_exception" not in str(orphan.value)

    with duckdb.connect(str(database)) as connection:  # its run back; a waiting run's exception goes missing
        connection.execute("UPDATE kognitos.exceptions SET run_id = ? WHERE exception_id = ?", [run_id, exception_id])
        connection.execute("DELETE FROM kognitos.exceptions WHERE exception_id = (SELECT min(exception_id) FROM "
                           "kognitos.runs WHERE state = 'awaiting_guidance')")
    with pytest.raises(ModelsError, match="waiting_runs_have_their_exception") as missing:
        build_models(destination=destination)
    assert "related_combination_exception_facts" not in str(missing.value)


def test_with_a_start_date_an_exception_of_an_older_run_warns_and_the_load_succeeds(
    guided_simulator: RunningSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`start_date` leaves older runs out, but an exception raised since may belong to one of them: the test that
    every exception's run is in run_facts then warns, instead of failing every `run` (exit 7) and `models`."""
    world = guided_simulator.world
    runs, raised = all_runs(world), defaultdict(list)
    for (ws, _), exception in truth.exceptions(world).items():
        raised[(ws, short(exception["automation"]), short(exception["run"]))].append(instant(exception["create_time"]))
    oldest = min(raised, key=lambda key: instant(runs[key]["create_time"]))
    start = instant(runs[oldest]["create_time"]) + timedelta(microseconds=1)
    assert min(raised[oldest]) > start, "an exception is raised after its run is created"
    monkeypatch.setenv("SOURCES__KOGNITOS__START_DATE", start.isoformat())  # as `kognitos-elt models` reads it
    database = tmp_path / "warehouse.duckdb"
    destination = duckdb_destination("kognitos", str(database))

    summary = run_load(destination=destination, source_options=source_options(guided_simulator))

    assert summary.models_failure is None
    with duckdb.connect(str(database), read_only=True) as connection:
        assert connection.execute("SELECT count(*) FROM kognitos.runs WHERE workspace_id = ? AND run_id = ?",
                                  [oldest[0], oldest[2]]).fetchall() == [(0,)]
        assert connection.execute("SELECT count(*) FROM kognitos.exceptions WHERE workspace_id = ? AND run_id = ?",
                                  [oldest[0], oldest[2]]).fetchall() == [(len(raised[oldest]),)]
    tested = build_models(destination=destination)
    assert [status for name, status in tested.results.items()
            if name.startswith("related_combination_exception_facts")] == ["warn"]


def test_without_the_exceptions_table_the_models_build_and_read_it_once_it_is_loaded(
    guided_simulator: RunningSimulator, tmp_path: Path
) -> None:
    """dlt creates a table with its first row: an organization whose runs never waited has no `exceptions`."""
    database = tmp_path / "warehouse.duckdb"
    query = duckdb_query(database)

    def load(*resources: str) -> None:
        run_load(destination=duckdb_destination("kognitos", str(database)),
                 source_options=source_options(guided_simulator), resources=resources)

    load("workspaces", "automations", "runs", "run_events", "daily_run_aggregates", "automation_run_aggregates")
    assert query("SELECT count(*) FROM kognitos_analytics.exception_facts") == [(0,)]
    assert_same(rows(query, "SELECT workspace_id, automation_id, run_id, needed_guidance "
                            "FROM kognitos_analytics.run_facts", 3),
                {key: (needed,) for key, needed in truth.needed_guidance(guided_simulator.world).items()})

    load()

    assert_human_in_the_loop_holds_the_truth(query, "kognitos", guided_simulator)


def test_postgres_human_in_the_loop_equals_the_truth(
    guided_simulator: RunningSimulator, postgres_role: tuple[str, str]
) -> None:
    dsn, dataset = postgres_role

    def query(sql: str) -> list[tuple[Any, ...]]:
        with psycopg2.connect(dsn) as connection, connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall()

    run_load(destination=dlt.destinations.postgres(credentials=dsn), dataset_name=dataset,
             source_options=source_options(guided_simulator))

    assert_human_in_the_loop_holds_the_truth(query, dataset, guided_simulator)
