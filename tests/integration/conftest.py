"""Helpers for end-to-end loads: simulator -> kognitos_source -> dlt -> DuckDB in the test's folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

from kognitos_elt.destination import duckdb_destination
from kognitos_elt.session import LoadSummary, run_load
from kognitos_simulator import RunningSimulator

Loader = Callable[..., LoadSummary]
Query = Callable[[str], list[tuple[Any, ...]]]


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "warehouse.duckdb"


@pytest.fixture
def load(simulator: RunningSimulator, database: Path) -> Loader:
    """Run one `kognitos-elt run`-equivalent load against the simulator; options go to kognitos_source."""

    def _load(**source_options: Any) -> LoadSummary:
        options = {"access_token": simulator.token, "base_url": simulator.base_url,
                   "organization_id": simulator.world.organization_id, **source_options}
        return run_load(destination=duckdb_destination("kognitos", str(database)), source_options=options)

    return _load


@pytest.fixture
def query(database: Path) -> Query:
    def _query(sql: str) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(database), read_only=True) as connection:
            return connection.sql(sql).fetchall()

    return _query
