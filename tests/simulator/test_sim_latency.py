"""Uneven latency: a lognormal delay per request, given its median and 99th percentile, seeded.

The drawn delays are compared (the request log keeps each one), never wall times, except as a lower bound:
an answer never comes sooner than its drawn delay.
"""

from __future__ import annotations

import random
import statistics
import time

import pytest
from simulator_support import SimulatorFactory

from kognitos_simulator import Faults
from kognitos_simulator.faults import lognormal_delay


def quantile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def test_the_sampler_has_the_median_and_p99_it_is_given() -> None:
    rng = random.Random(1)
    delays = [lognormal_delay(rng, 0.05, 0.4) for _ in range(20_000)]
    assert statistics.median(delays) == pytest.approx(0.05, rel=0.03)
    assert quantile(delays, 0.99) == pytest.approx(0.4, rel=0.1)
    assert min(delays) > 0


def test_the_sampler_is_reproducible_and_degenerate_cases_are_constant() -> None:
    assert ([lognormal_delay(random.Random(5), 0.01, 0.1) for _ in range(3)]
            == [lognormal_delay(random.Random(5), 0.01, 0.1) for _ in range(3)])
    rng = random.Random(2)
    assert {lognormal_delay(rng, 0.02, 0.0) for _ in range(50)} == {0.02}  # no p99: no spread
    assert {lognormal_delay(rng, 0.02, 0.02) for _ in range(50)} == {0.02}
    assert lognormal_delay(rng, 0.0, 0.0) == 0.0


def test_requests_get_the_distribution_over_http(make_simulator: SimulatorFactory) -> None:
    median, p99 = 0.003, 0.015
    sim, make_client = make_simulator(faults=Faults(latency_median_seconds=median, latency_p99_seconds=p99, seed=3))
    client = make_client()
    waited = []
    for _ in range(400):
        started = time.perf_counter()
        assert client.get("/me/organizations").status_code == 200
        waited.append(time.perf_counter() - started)
    delays = [entry.delay for entry in sim.requests.entries]
    assert len(delays) == 400 and len(set(delays)) == 400
    # Loose bounds for 400 draws (about 4.5 standard errors for the median, 3 for the p99).
    assert statistics.median(delays) == pytest.approx(median, rel=0.2)
    assert p99 / 1.6 <= quantile(delays, 0.99) <= p99 * 1.6
    assert all(wall >= delay for wall, delay in zip(waited, delays, strict=True))


def test_the_same_seed_and_request_order_give_the_same_delays(make_simulator: SimulatorFactory) -> None:
    def delays(seed: int) -> list[float]:
        sim, make_client = make_simulator(
            faults=Faults(latency_median_seconds=0.001, latency_p99_seconds=0.005, seed=seed))
        client = make_client()
        for _ in range(30):
            client.get("/me/organizations")
        return [entry.delay for entry in sim.requests.entries]

    first = delays(4)
    assert delays(4) == first
    assert delays(5) != first


def test_reset_restarts_the_sequence_and_latency_adds_to_the_fixed_latency(make_simulator: SimulatorFactory
                                                                            ) -> None:
    sim, make_client = make_simulator()
    client = make_client()
    drawn = []
    for fixed in (0.0, 0.002):
        sim.faults.reset()
        sim.faults.latency_median_seconds, sim.faults.latency_p99_seconds = 0.001, 0.004
        sim.faults.latency_seconds = fixed
        sim.requests.clear()
        for _ in range(10):
            client.get("/me/organizations")
        drawn.append([entry.delay - fixed for entry in sim.requests.entries])
    assert drawn[0] == pytest.approx(drawn[1], abs=1e-12)


def test_latency_does_not_change_which_faults_are_drawn(make_simulator: SimulatorFactory) -> None:
    sequences = []
    for median in (0.0, 0.001):
        _, make_client = make_simulator(faults=Faults(unavailable_rate=0.3, seed=11, latency_median_seconds=median))
        client = make_client()
        sequences.append([client.get("/me/organizations").status_code for _ in range(30)])
    assert sequences[0] == sequences[1] and 503 in sequences[0]


def test_faulted_and_slow_requests_record_their_delay(make_simulator: SimulatorFactory) -> None:
    sim, make_client = make_simulator(faults=Faults(latency_seconds=0.01, slow_seconds=0.05))
    client = make_client()
    sim.faults.inject("slow")
    client.get("/me/organizations")
    sim.faults.inject("unavailable")
    client.get("/me/organizations")
    assert [entry.delay for entry in sim.requests.entries] == pytest.approx([0.06, 0.01])


@pytest.mark.parametrize(("median", "p99", "message"), [
    (0.05, 0.01, "below"), (0.0, 0.1, "needs latency_median_seconds"), (-0.01, 0.0, ">= 0"),
])
def test_impossible_distributions_are_rejected(median: float, p99: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Faults(latency_median_seconds=median, latency_p99_seconds=p99)
