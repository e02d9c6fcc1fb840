"""`organization_id` left unset: the only organization the token sees is loaded, and said so; several are refused.

Every expected id and title comes from the simulator's world (`world.organizations()`), never from the product.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pytest

from kognitos_elt.cli import main
from kognitos_elt.destination import duckdb_destination
from kognitos_elt.kognitos import ConfigError, ExitCode
from kognitos_elt.session import LoadSummary, run_load
from kognitos_simulator import RunningSimulator, SimulatorSettings, World, running_simulator

from ..conftest import TEST_SCALE
from .truth import loaded_events, loaded_runs, short, truth_days, truth_events, truth_runs

ORGANIZATION_LOGGER = "kognitos_elt.kognitos.organization"
TABLES_WITH_ORGANIZATION = ("workspaces", "automations", "runs", "run_events", "execution_outputs",
                            "daily_run_aggregates", "automation_run_aggregates")
EXTRA_ORGANIZATIONS = 4
PAGE_SIZE = 2
"""Five organizations two to a page: the lookup has to follow page tokens to list them all."""


@pytest.fixture
def several() -> Iterator[RunningSimulator]:
    """A service whose token sees its world's organization and EXTRA_ORGANIZATIONS more (without workspaces)."""
    with running_simulator(SimulatorSettings(seed=11, scale=TEST_SCALE,
                                             extra_organizations=EXTRA_ORGANIZATIONS)) as running:
        yield running


def _load(sim: RunningSimulator, database: Path, pipeline_name: str, **options: Any) -> LoadSummary:
    source_options = {"access_token": sim.token, "base_url": sim.base_url, **options}
    return run_load(destination=duckdb_destination("kognitos", str(database)), pipeline_name=pipeline_name,
                    source_options=source_options)


def _query(database: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(database), read_only=True) as connection:
        return connection.sql(sql).fetchall()


def _organization_ids(database: Path) -> set[str]:
    """Every organization_id any table holds."""
    return {org for table in TABLES_WITH_ORGANIZATION
            for (org,) in _query(database, f"SELECT DISTINCT organization_id FROM kognitos.{table}")}


def _tables(database: Path) -> dict[str, int]:
    """Rows of every table of the database (none if the file was never created)."""
    if not database.exists():
        return {}
    with duckdb.connect(str(database), read_only=True) as connection:
        names = connection.sql("SELECT table_schema || '.' || table_name FROM information_schema.tables").fetchall()
        return {name: connection.sql(f"SELECT count(*) FROM {name}").fetchall()[0][0] for (name,) in names}


def _source_state(pipeline_name: str) -> dict[str, Any] | None:
    """The source's state as the pipeline keeps it locally, None when no pipeline was ever saved."""
    try:
        pipeline = dlt.attach(pipeline_name)
    except Exception:  # noqa: BLE001 - dlt raises its own error for a pipeline that was never saved
        return None
    return dict(pipeline.state.get("sources", {}).get("kognitos", {}))


def _ids_and_titles(world: World) -> list[tuple[str, str]]:
    return [(short(org["name"]), org["title"]) for org in world.organizations()]


def test_an_unset_organization_id_loads_the_only_organization_exactly_as_when_it_is_set(
    simulator: RunningSimulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    world = simulator.world
    ((org_id, title),) = _ids_and_titles(world)
    configured, unset = tmp_path / "configured.duckdb", tmp_path / "unset.duckdb"
    caplog.set_level(logging.INFO, logger=ORGANIZATION_LOGGER)

    with_id = _load(simulator, configured, "with_id", organization_id=org_id)
    assert not [record for record in caplog.records if record.name == ORGANIZATION_LOGGER]
    without_id = _load(simulator, unset, "without_id")

    said = [record.getMessage() for record in caplog.records if record.name == ORGANIZATION_LOGGER]
    assert len(said) == 1 and org_id in said[0] and title in said[0] and "only organization" in said[0]
    assert [record.levelno for record in caplog.records if record.name == ORGANIZATION_LOGGER] == [logging.INFO]
    for database in (configured, unset):
        assert loaded_runs(lambda sql, db=database: _query(db, sql)) == truth_runs(world)
        assert loaded_events(lambda sql, db=database: _query(db, sql)) == truth_events(world)
        days = _query(database, "SELECT workspace_id, date, total_runs FROM kognitos.daily_run_aggregates "
                                "WHERE time_zone = 'UTC' AND automation_id = '*'")
        assert {(ws, day): total for ws, day, total in days} == truth_days(world, "UTC")
        assert _organization_ids(database) == {org_id}
    assert without_id.rows == with_id.rows
    assert [note for note in without_id.notes if "organization" in note] == said
    assert not [note for note in with_id.notes if "organization" in note]
    assert _tables(unset) == _tables(configured)
    # The lookup is one request more, and the only one.
    assert without_id.stats["requests"] == with_id.stats["requests"] + 1
    assert [entry.path for entry in simulator.requests.entries].count("/api/v1/me/organizations") == 1


def test_an_unset_organization_id_is_refused_listing_every_organization_when_the_token_sees_several(
    several: RunningSimulator, tmp_path: Path
) -> None:
    organizations = _ids_and_titles(several.world)
    assert len(organizations) == 1 + EXTRA_ORGANIZATIONS
    database = tmp_path / "warehouse.duckdb"

    with pytest.raises(ConfigError) as refused:
        _load(several, database, "several", page_size=PAGE_SIZE)

    message = str(refused.value)
    assert refused.value.key == "organization_id"
    for org_id, title in organizations:
        assert f"{org_id} ({title})" in message
    assert "SOURCES__KOGNITOS__ORGANIZATION_ID" in message and "sources.kognitos.organization_id" in message
    assert not any(table.startswith("kognitos.") for table in _tables(database)), "no table was created"
    assert not _source_state("several"), "no state was saved"
    # Nothing but the listing of organizations was asked, every page of it.
    paths = [entry.path for entry in several.requests.entries]
    assert paths == ["/api/v1/me/organizations"] * -(-len(organizations) // PAGE_SIZE)


def test_a_refused_load_changes_nothing_that_an_earlier_load_left(several: RunningSimulator, tmp_path: Path) -> None:
    database = tmp_path / "warehouse.duckdb"
    org_id = several.world.organization_id
    _load(several, database, "kept", organization_id=org_id)
    tables, state = _tables(database), _source_state("kept")
    assert tables["kognitos.runs"] == len(truth_runs(several.world)) and state
    assert _organization_ids(database) == {org_id}

    with pytest.raises(ConfigError):
        _load(several, database, "kept")

    assert _tables(database) == tables
    assert _source_state("kept") == state


def _configure(monkeypatch: pytest.MonkeyPatch, sim: RunningSimulator) -> None:
    """The source configured through env vars as a cron job would, without SOURCES__KOGNITOS__ORGANIZATION_ID
    (tests/conftest.py's `isolated_dlt` clears every SOURCES__ variable first)."""
    monkeypatch.setenv("SOURCES__KOGNITOS__ACCESS_TOKEN", sim.token)
    monkeypatch.setenv("SOURCES__KOGNITOS__BASE_URL", sim.base_url)


def test_the_command_exits_2_listing_the_organizations_when_the_token_sees_several(
    several: RunningSimulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _configure(monkeypatch, several)

    assert main(["run"]) == ExitCode.CONFIG

    err = capsys.readouterr().err
    assert err.startswith("kognitos-elt: Invalid configuration sources.kognitos.organization_id")
    for org_id, title in _ids_and_titles(several.world):
        assert f"{org_id} ({title})" in err
    assert "SOURCES__KOGNITOS__ORGANIZATION_ID" in err and "Traceback" not in err
    assert "Missing configuration" not in err


def test_the_command_loads_the_only_organization_when_organization_id_is_unset(
    simulator: RunningSimulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    _configure(monkeypatch, simulator)

    assert main(["run"]) == ExitCode.OK

    out = capsys.readouterr().out
    assert f"runs {len(truth_runs(simulator.world))}," in out
    ((org_id, title),) = _ids_and_titles(simulator.world)
    # said once, in the summary a terminal shows (the log line is for cron)
    assert out.count(f"organization_id not set: using organizations/{org_id} ({title!r})") == 1
    assert _organization_ids(tmp_path / "kognitos_elt.duckdb") == {simulator.world.organization_id}
