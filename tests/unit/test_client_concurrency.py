"""KognitosClient.concurrently: one bounded pool for every resource, results in order, flat memory."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator

import pytest

from kognitos_elt.kognitos import KognitosClient
from kognitos_elt.kognitos.client import LOOKAHEAD_PER_WORKER

WORKERS = 3


@pytest.fixture
def client() -> Iterator[KognitosClient]:
    # No request is made: only the worker pool is used.
    with KognitosClient("http://127.0.0.1:9", "token", max_connections=WORKERS) as client:
        yield client


class Tracker:
    """Counts items started, and the threads that ran them, under a lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.started = 0
        self.threads: set[int] = set()

    def fetch(self, item: int) -> int:
        with self.lock:
            self.started += 1
            self.threads.add(threading.get_ident())
        time.sleep(random.uniform(0, 0.003))
        return item * 10


def test_concurrently_returns_results_in_item_order(client: KognitosClient) -> None:
    tracker = Tracker()

    assert list(client.concurrently(tracker.fetch, range(50))) == [item * 10 for item in range(50)]


def test_concurrently_never_runs_more_than_its_window_ahead_of_the_reader(client: KognitosClient) -> None:
    tracker = Tracker()
    ahead = []
    for consumed, _ in enumerate(client.concurrently(tracker.fetch, range(100)), start=1):
        time.sleep(0.002)  # a slow reader: the pool must wait for it instead of running on
        with tracker.lock:
            ahead.append(tracker.started - consumed)

    assert max(ahead) <= LOOKAHEAD_PER_WORKER * WORKERS
    assert tracker.started == 100


def test_concurrently_shares_one_pool_across_generators(client: KognitosClient) -> None:
    """dlt advances one transformer generator per parent page: they must not each bring their own threads."""
    tracker = Tracker()
    generators = [client.concurrently(tracker.fetch, range(start, start + 20)) for start in range(0, 100, 20)]
    for results in zip(*generators, strict=True):
        assert len(results) == len(generators)

    assert len(tracker.threads) <= WORKERS


def test_concurrently_cancels_work_not_started_when_the_reader_stops(client: KognitosClient) -> None:
    tracker = Tracker()
    results = client.concurrently(tracker.fetch, range(1000))
    assert next(results) == 0
    results.close()
    time.sleep(0.05)
    with tracker.lock:
        started_after_close = tracker.started
    time.sleep(0.05)

    assert started_after_close <= LOOKAHEAD_PER_WORKER * WORKERS + 1
    assert tracker.started == started_after_close
