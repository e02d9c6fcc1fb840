"""A flaky service (every fault kind at 10%) still gives the exact truth; a dead one fails cleanly."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from kognitos_elt.kognitos import RetryableError
from kognitos_simulator import FAULT_KINDS, RunningSimulator

from .conftest import Loader, Query
from .truth import loaded_events, loaded_runs, truth_events, truth_runs


@pytest.mark.slow
def test_full_and_incremental_loads_equal_the_truth_with_ten_percent_faults_of_every_kind(
    simulator: RunningSimulator, load: Loader, query: Query
) -> None:
    for kind in FAULT_KINDS:  # one request in ten fails, spread over every kind
        setattr(simulator.faults, f"{kind}_rate", 0.10 / len(FAULT_KINDS))
    simulator.faults.slow_seconds = 0.05
    simulator.faults.insert_runs_while_paginating = 1

    load(page_size=50)
    simulator.world.advance(timedelta(hours=4))
    load(page_size=50)
    simulator.faults.reset()
    load(page_size=50)  # picks up the runs inserted during the last paginations

    assert loaded_runs(query) == truth_runs(simulator.world)
    assert loaded_events(query) == truth_events(simulator.world)
    faulted = [entry for entry in simulator.requests.entries if entry.status != 200]
    assert len(faulted) > 20, "the faults should really have hit the load"


def test_a_service_that_keeps_failing_gives_up_naming_the_endpoint_and_commits_nothing(
    simulator: RunningSimulator, load: Loader, query: Query, database: Path
) -> None:
    load()
    before = loaded_runs(query)
    simulator.world.advance(timedelta(hours=4))
    simulator.faults.path_contains = "/runs"
    simulator.faults.every_nth = {"unavailable": 1}

    with pytest.raises(RetryableError) as raised:
        load()

    message = str(raised.value)
    assert "/runs" in message and "HTTP 503" in message and "attempt" in message
    assert loaded_runs(query) == before, "nothing of the failed load may be committed"
    simulator.faults.reset()
    load()
    assert loaded_runs(query) == truth_runs(simulator.world), "state was not advanced past unloaded data"
