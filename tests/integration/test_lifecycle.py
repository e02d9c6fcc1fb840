"""A long-lived process (a Dagster daemon, a notebook) runs load after load: none leaves threads or sockets open."""

from __future__ import annotations

import os
import threading
from datetime import timedelta
from urllib.parse import urlsplit

from kognitos_elt.kognitos import kognitos_source
from kognitos_simulator import RunningSimulator

from .conftest import Loader


def open_descriptors(server_port: int | None = None) -> int:
    """This process's open descriptors, less the sockets of the in-process simulator's side of each connection
    (bound to `server_port`), which the server closes a moment after the client closed its own."""
    server_side = _socket_inodes_on(server_port) if server_port else set()  # read first: no new ones come later
    count = 0
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except FileNotFoundError:  # closed since the listing
            continue
        count += not (target.startswith("socket:[") and target[len("socket:["):-1] in server_side)
    return count


def _socket_inodes_on(port: int) -> set[str]:
    """Inodes of the TCP sockets whose local port is `port` (/proc/net/tcp*: local address, ..., inode)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as rows:
            for row in list(rows)[1:]:
                fields = row.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(fields[9])
    return inodes


def in_use(simulator: RunningSimulator) -> tuple[int, int]:
    """Threads and descriptors of this process, the simulator's server-side sockets left out."""
    return threading.active_count(), open_descriptors(urlsplit(simulator.base_url).port)


def test_building_a_source_opens_nothing(simulator: RunningSimulator) -> None:
    before = (threading.active_count(), open_descriptors())

    sources = [kognitos_source(access_token=simulator.token, base_url=simulator.base_url,
                               organization_id=simulator.world.organization_id) for _ in range(20)]

    assert len(sources) == 20 and (threading.active_count(), open_descriptors()) == before


def test_many_loads_in_one_process_leave_threads_and_descriptors_where_they_were(
    simulator: RunningSimulator, load: Loader
) -> None:
    load()  # the first load of a process imports, and opens what dlt and DuckDB keep for the process
    baseline = in_use(simulator)

    for _ in range(5):
        simulator.world.advance(timedelta(hours=3))
        summary = load()
        assert summary.stats["requests"] > 10
        assert in_use(simulator) == baseline
