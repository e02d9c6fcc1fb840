"""RequestPacer: requests from many threads share one evenly spaced budget."""

from __future__ import annotations

import threading

import pytest

from kognitos_elt.kognitos.pacing import RequestPacer


class FakeClock:
    """Time that only moves when someone sleeps, so the test measures spacing, not the machine."""

    def __init__(self) -> None:
        self.now = 100.0
        self.lock = threading.Lock()
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.slept.append(seconds)


def test_ten_requests_at_four_per_second_are_spaced_a_quarter_second_apart() -> None:
    clock = FakeClock()
    pacer = RequestPacer(4, clock=clock, sleep=clock.sleep)

    threads = [threading.Thread(target=pacer.wait) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(clock.slept) == pytest.approx([0.25 * i for i in range(1, 10)])


def test_a_rate_that_is_not_positive_is_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        RequestPacer(0)
