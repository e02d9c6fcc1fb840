"""Shared fixtures: every test gets its own dlt working directory, DuckDB file and simulator world."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest
from hypothesis import settings

from kognitos_analytics.builder import analytics_schema
from kognitos_simulator import RunningSimulator, Scale, SimulatorSettings, running_simulator

settings.register_profile("kognitos", deadline=None)
"""Property tests have no per-example deadline: timing is for the benchmarks, the machines here are noisy (a slow
example would fail a run at random)."""
settings.load_profile("kognitos")

POSTGRES_DSN = os.environ.get("KOGNITOS_TEST_POSTGRES")
REQUIRE_POSTGRES = bool(os.environ.get("KOGNITOS_REQUIRE_POSTGRES"))
"""Read when the tests are collected: `isolated_dlt` clears every KOGNITOS* variable before each test runs."""

TEST_SCALE = Scale(workspaces=2, automations_per_workspace=2, runs_per_automation=30, events_per_run=8,
                   days_of_history=20, deleted_automations_per_workspace=1)


@pytest.fixture(autouse=True)
def isolated_dlt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """dlt keeps pipelines under DLT_DATA_DIR (as root it otherwise uses a shared system folder)."""
    isolate(monkeypatch, tmp_path)
    yield tmp_path


def isolate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`isolated_dlt`'s settings, for fixtures of a wider scope too (they run before it)."""
    for name in list(os.environ):
        if name.startswith(("SOURCES__", "DESTINATION__", "ANALYTICS__", "KOGNITOS")):
            monkeypatch.delenv(name)
    # A dbt build costs ~3 s: loads skip the analytics models except in the tests of the models (tests/analytics).
    monkeypatch.setenv("ANALYTICS__BUILD_AFTER_LOAD", "false")
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt_data"))
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    # Retries stay on, but wait milliseconds instead of seconds (dlt's runtime settings, read by the source).
    monkeypatch.setenv("RUNTIME__REQUEST_BACKOFF_FACTOR", "0.01")
    monkeypatch.setenv("RUNTIME__REQUEST_MAX_RETRY_DELAY", "0.05")
    # Fault tests fail one request in four to ten: ten attempts make "every attempt failed" vanishingly rare.
    monkeypatch.setenv("RUNTIME__REQUEST_MAX_ATTEMPTS", "10")
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def simulator() -> Iterator[RunningSimulator]:
    """A fresh simulated Kognitos service with a small, deterministic world."""
    with running_simulator(SimulatorSettings(seed=11, scale=TEST_SCALE)) as running:
        yield running


@pytest.fixture
def postgres_dsn() -> str:
    """A real PostgreSQL server: CI starts one (.ci/postgres.sh) and requires it; elsewhere its tests skip."""
    return require_postgres()


def require_postgres() -> str:
    """`postgres_dsn`, for fixtures of a wider scope too."""
    if not POSTGRES_DSN:
        if REQUIRE_POSTGRES:
            pytest.fail("KOGNITOS_TEST_POSTGRES is not set: .ci/postgres.sh should have started PostgreSQL")
        pytest.skip("no PostgreSQL: run .ci/postgres.sh and export KOGNITOS_TEST_POSTGRES=<the DSN it prints>")
    return POSTGRES_DSN


@pytest.fixture
def configured(simulator: RunningSimulator, monkeypatch: pytest.MonkeyPatch) -> RunningSimulator:
    """Configure the source through env vars, the way a cron job would."""
    monkeypatch.setenv("SOURCES__KOGNITOS__ACCESS_TOKEN", simulator.token)
    monkeypatch.setenv("SOURCES__KOGNITOS__ORGANIZATION_ID", simulator.world.organization_id)
    monkeypatch.setenv("SOURCES__KOGNITOS__BASE_URL", simulator.base_url)
    return simulator


@pytest.fixture
def postgres_role(postgres_dsn: str) -> Iterator[tuple[str, str]]:
    """A PostgreSQL role of the test's own (`role_of_its_own`)."""
    with role_of_its_own(postgres_dsn) as role:
        yield role


@contextmanager
def role_of_its_own(postgres_dsn: str) -> Iterator[tuple[str, str]]:
    """A PostgreSQL role of the test's own, with a password found nowhere else, and a dataset for it: (its DSN, the
    dataset), its schemas and the role dropped at the end. (dbt masks the password's value in everything it prints:
    a password that is also a word of its output, like CI's `kognitos`, would mask the models' names.)"""
    name, password = f"kognitos_role_{uuid.uuid4().hex[:8]}", f"pw-{uuid.uuid4().hex}"
    with psycopg2.connect(postgres_dsn) as connection, connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {name} LOGIN PASSWORD '{password}'")
        cursor.execute(f"GRANT CREATE ON DATABASE {connection.info.dbname} TO {name}")
    parts = urlsplit(postgres_dsn)
    try:
        yield urlunsplit(parts._replace(netloc=f"{name}:{password}@{parts.hostname}:{parts.port or 5432}")), name
    finally:
        with psycopg2.connect(postgres_dsn) as connection, connection.cursor() as cursor:
            for schema in (name, f"{name}_staging", analytics_schema(name)):
                cursor.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            cursor.execute(f"REVOKE ALL ON DATABASE {connection.info.dbname} FROM {name}")
            cursor.execute(f"DROP ROLE {name}")
