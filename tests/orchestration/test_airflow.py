"""The Airflow DAG of docs/orchestration.md, run as a user runs it: Airflow and the kognitos-elt wheel installed from
the package registry into a fresh venv, the doc's ```python block as the DAG file, the dlt configuration where the
doc puts it (`.dlt/config.toml` in the DAGs folder, the Variable `dlt_secrets_toml`, the Variable
`kognitos_workspace_ids`), then `airflow db migrate` and `airflow dags test` twice against the simulator. The DAG
loads PostgreSQL, as the doc's does: Airflow runs the workspaces' task groups in parallel, which DuckDB's single
writer does not allow. Each test gets a database of its own, so the doc's fixed dataset `kognitos` is safe."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg2
import pytest

from kognitos_simulator import RunningSimulator

from ..integration.conftest import Query
from ..integration.truth import short, truth_runs
from ..packaging.conftest import Artifacts, artifacts  # noqa: F401  (the session's wheel, as a fixture here)
from ..packaging.environments import REPO, Venv, clean_env, create_venv, run
from ..packaging.warehouse import assert_warehouse_equals_truth

AIRFLOW = "apache-airflow==3.3.2"
"""The release this test installs (the newest when written; a fresh venv took ~1 minute to install it). Airflow's
constraints files live outside the package registry, so pip resolves it alone; bump the pin on purpose."""

DAG_TIMEOUT = 300
"""A failing task waits out the DAG's retries (1, 2 and 4 minutes): the run is cut off, and the test fails, before."""


def doc_dag() -> str:
    """The ```python block of the Airflow section of docs/orchestration.md, verbatim."""
    text = (REPO / "docs" / "orchestration.md").read_text()
    section = text[text.index("\n## Airflow\n"):]
    end = section.find("\n## ", 1)
    blocks = re.findall(r"```python\n(.*?)```", section if end < 0 else section[:end], re.DOTALL)
    assert len(blocks) == 1, "the Airflow section should hold exactly one ```python block: the DAG file"
    return str(blocks[0])


@pytest.fixture
def postgres_database(postgres_dsn: str) -> Iterator[str]:
    """A new, empty database on the test server; its DSN. Dropped afterwards."""
    name = f"kognitos_airflow_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(postgres_dsn)
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {name}")
        yield urlsplit(postgres_dsn)._replace(path=f"/{name}").geturl()
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        admin.close()


def postgres_query(dsn: str) -> Query:
    def query(sql: str) -> list[tuple[Any, ...]]:
        with psycopg2.connect(dsn) as connection, connection.cursor() as cursor:
            cursor.execute(sql)
            rows: list[tuple[Any, ...]] = cursor.fetchall()
        connection.close()
        return rows

    return query


def toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string of printable ASCII is a TOML basic string


class Airflow:
    """One AIRFLOW_HOME (SQLite metadata, the DAGs folder inside it) driven through the venv's `airflow` CLI."""

    def __init__(self, venv: Venv, home: Path) -> None:
        self.venv, self.home = venv, home
        (home / "tmp").mkdir(parents=True)
        self.env = clean_env(venv, AIRFLOW_HOME=str(home), AIRFLOW__CORE__LOAD_EXAMPLES="False",
                             TMPDIR=str(home / "tmp"))

    @property
    def dags(self) -> Path:
        return self.home / "dags"

    def __call__(self, *args: str, timeout: float = 300) -> str:
        result = run([self.venv.script("airflow"), *args], cwd=self.home, env=self.env, timeout=timeout)
        return result.stdout + result.stderr


EVENTS_PATH = re.compile(r"/workspaces/([^/]+)/automations/([^/]+)/runs/([^/]+)/events$")


def runs_whose_events_were_read(simulator: RunningSimulator) -> set[tuple[str, str, str]]:
    return {(found[1], found[2], found[3]) for entry in simulator.requests.entries
            if (found := EVENTS_PATH.search(entry.path))}


def timed(times: dict[str, float], step: str, action: Any) -> Any:
    start = time.monotonic()
    try:
        return action()
    finally:
        times[step] = round(time.monotonic() - start, 1)


@pytest.mark.exhaustive  # minutes of installing Airflow alone: `make test-all`, not `make test`
@pytest.mark.timeout(1200)
def test_the_docs_airflow_dag_loads_every_workspace_and_then_loads_incrementally(
    artifacts: Artifacts,  # noqa: F811
    simulator: RunningSimulator, postgres_database: str, tmp_path: Path
) -> None:
    world = simulator.world
    workspace_ids = sorted(short(w["name"]) for w in world.workspaces())
    assert len(workspace_ids) == 2
    times: dict[str, float] = {}

    venv = timed(times, "pip install", lambda: create_venv(
        tmp_path / "venv", AIRFLOW, f"kognitos-elt[postgres] @ {artifacts.wheel.as_uri()}"))
    airflow = Airflow(venv, tmp_path / "airflow")
    airflow.dags.joinpath(".dlt").mkdir(parents=True)
    airflow.dags.joinpath("kognitos_elt_dag.py").write_text(doc_dag())
    airflow.dags.joinpath(".dlt", "config.toml").write_text(
        f"[sources.kognitos]\nbase_url = {toml_string(simulator.base_url)}\n"
        f"organization_id = {toml_string(world.organization_id)}\n")
    secrets = (f"[sources.kognitos]\naccess_token = {toml_string(simulator.token)}\n\n"
               f"[destination.postgres]\ncredentials = {toml_string(postgres_database)}\n")

    timed(times, "airflow db migrate", lambda: airflow("db", "migrate"))
    airflow("variables", "set", "dlt_secrets_toml", secrets)
    airflow("variables", "set", "kognitos_workspace_ids", json.dumps(workspace_ids))
    assert "No data found" in airflow("dags", "list-import-errors")

    first = timed(times, "airflow dags test (first)", lambda: airflow("dags", "test", "kognitos_elt",
                                                                      timeout=DAG_TIMEOUT))
    assert re.search(r"DagRun Finished: dag_id=kognitos_elt, .*state=success", first), first[-5000:]

    query = postgres_query(postgres_database)
    assert_warehouse_equals_truth(query, world)
    # One pipeline per workspace, with its state in the destination (the helper wipes the local folder).
    pipelines = {name for (name,) in query("SELECT DISTINCT pipeline_name FROM kognitos._dlt_pipeline_state")}
    assert pipelines == {f"kognitos_{workspace_id}" for workspace_id in workspace_ids}

    # The next run starts from fresh local folders again: it restores each pipeline's cursors and open runs from
    # PostgreSQL and loads only the runs that are new or whose state moved.
    before = truth_runs(world)
    simulator.requests.clear()
    # Three hours, as tests/integration/test_events.py: still the same UTC day, so the aggregates' first-load window
    # matches, and long enough for the runs executing at the first load to finish (an executing run's new events
    # are loaded once its update_time moves).
    world.advance(timedelta(hours=3))
    second = timed(times, "airflow dags test (second)", lambda: airflow("dags", "test", "kognitos_elt",
                                                                        timeout=DAG_TIMEOUT))
    assert re.search(r"DagRun Finished: dag_id=kognitos_elt, .*state=success", second), second[-5000:]
    print("Airflow timings (s):", times)

    assert_warehouse_equals_truth(query, world)
    moved = {key for key, value in truth_runs(world).items() if before.get(key) != value}
    assert 0 < len(moved) < len(before)
    assert runs_whose_events_were_read(simulator) == moved
