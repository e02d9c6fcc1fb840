"""A long-lived process (a Dagster daemon, a notebook) runs load after load: none leaves threads or sockets open."""

from __future__ import annotations

import os
import threading
import time
from datetime import timedelta

from kognitos_elt.kognitos import kognitos_source
from kognitos_simulator import RunningSimulator

from .conftest import Loader


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def settles_at(expected: tuple[int, int], seconds: float = 5.0) -> tuple[int, int]:
    """Threads and file descriptors now, once they match `expected` or `seconds` passed: the simulator serving
    this process closes its side of a connection a moment after the client closed its own."""
    deadline = time.monotonic() + seconds
    while (now := (threading.active_count(), open_descriptors())) != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return now


def test_building_a_source_opens_nothing(simulator: RunningSimulator) -> None:
    before = (threading.active_count(), open_descriptors())

    sources = [kognitos_source(access_token=simulator.token, base_url=simulator.base_url,
                               organization_id=simulator.world.organization_id) for _ in range(20)]

    assert len(sources) == 20 and (threading.active_count(), open_descriptors()) == before


def test_many_loads_in_one_process_leave_threads_and_descriptors_where_they_were(
    simulator: RunningSimulator, load: Loader
) -> None:
    load()  # the first load of a process imports, and opens what dlt and DuckDB keep for the process
    time.sleep(0.5)  # for the simulator to close its side of the load's connections
    baseline = (threading.active_count(), open_descriptors())

    for _ in range(5):
        simulator.world.advance(timedelta(hours=3))
        summary = load()
        assert summary.stats["requests"] > 10
        assert settles_at(baseline) == baseline
