"""Helpers for end-to-end loads: simulator -> kognitos_source -> dlt -> DuckDB in the test's folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

from kognitos_elt.destination import duckdb_destination
from kognitos_elt.kognitos import resources
from kognitos_elt.kognitos.open_runs import RefreshCosts, RequestCosts
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


class RecordedCosts(RequestCosts):
    """RequestCosts at fixed prices that also records what the load tells it."""

    def __init__(self, fixed: RefreshCosts | None) -> None:
        super().__init__(fixed=fixed)
        self.pages: list[tuple[float, int]] = []
        self.get_runs: list[tuple[float, int]] = []
        self.estimated_after: list[tuple[int, int]] = []
        """At each estimate, the listing pages and the batches of Get Runs timed so far."""

    def estimate(self, seconds_per_request: float | None = None, concurrency: int = 1) -> RefreshCosts:
        self.estimated_after.append((len(self.pages), len(self.get_runs)))
        return super().estimate(seconds_per_request, concurrency)

    def add_page(self, seconds: float, runs: int) -> None:
        self.pages.append((seconds, runs))
        super().add_page(seconds, runs)

    def add_get_runs(self, seconds: float, count: int) -> None:
        self.get_runs.append((seconds, count))
        super().add_get_runs(seconds, count)


class CostsOfEachLoad:
    """Stands for RequestCosts in the source: each load's, recorded, at `prices` when they are set."""

    def __init__(self) -> None:
        self.prices: RefreshCosts | None = None
        self.made: list[RecordedCosts] = []

    def __call__(self) -> RecordedCosts:
        self.made.append(RecordedCosts(self.prices))
        return self.made[-1]


@pytest.fixture
def costs(monkeypatch: pytest.MonkeyPatch) -> CostsOfEachLoad:
    """Each load's `resources.Load` (built once by `kognitos_source`) gets its costs from the factory."""
    factory, load = CostsOfEachLoad(), resources.Load
    monkeypatch.setattr(resources, "Load", lambda client, config: load(client, config, costs=factory()))
    return factory
