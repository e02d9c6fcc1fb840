"""Governor (pacing.py): one hold and one pace for every request of a load, decided on a fake clock.

The loads here are simulated, not timed: requests go in simulated time against the simulator's own token bucket
(kognitos_simulator.ratelimit.RateLimiter on the same fake clock), so every figure is counted and the same on any
machine.
"""

from __future__ import annotations

import heapq
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from kognitos_elt.kognitos.pacing import MIN_PACE, Governor
from kognitos_simulator.ratelimit import RateLimiter

TOKEN = "token"


class FakeClock:
    """Time that only moves when the test says so; `sleep` records and advances."""

    def __init__(self) -> None:
        self.now = 100.0
        self.lock = threading.Lock()
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.slept.append(seconds)


@dataclass
class Outcome:
    seconds: float
    answered: int
    refused: int
    paces: list[tuple[float, float | None]] = field(default_factory=list)
    """The governor's pace after every answer, with the time."""


def simulated_load(governor: Governor, clock: FakeClock, *, requests: int, workers: int = 8,
                   limiter: RateLimiter | None = None, latency: float | Callable[[float], float] = 0.002,
                   fault_share: float = 0.0,
                   max_retry_wait: float = 60.0, seed: int = 0) -> Outcome:
    """`workers` threads' worth of requests, each sent when the governor says, until `requests` were answered.

    Each request is decided when it arrives (the limiter's bucket, or a random 429 with `Retry-After: 1` for
    `fault_share` of them, as the simulator's `rate_limit` fault) and answered `latency` later (a function: of the
    time it was sent); a refused request goes again after min(Retry-After, max_retry_wait), as the client retries it.
    """
    rng = random.Random(seed)
    start = clock.now
    events: list[tuple[float, int, str, int, float]] = []
    order = 0

    def schedule(at: float, kind: str, worker: int, sent_at: float = 0.0) -> None:
        nonlocal order
        order += 1
        heapq.heappush(events, (at, order, kind, worker, sent_at))

    outcome = Outcome(0.0, 0, 0)
    verdicts: dict[int, float | None] = {}
    for worker in range(workers):
        schedule(clock.now, "reserve", worker)
    while outcome.answered < requests:
        at, _, kind, worker, sent_at = heapq.heappop(events)
        clock.now = at
        if kind == "reserve":
            schedule(governor.reserve(at), "go", worker)
        elif kind == "go":
            if not governor.go(at):  # a hold began while it waited for its slot
                schedule(at, "reserve", worker)
                continue
            faulted = rng.random() < fault_share
            verdicts[worker] = 1.0 if faulted else limiter.take(TOKEN) if limiter else None
            schedule(at + (latency(at - start) if callable(latency) else latency), "answer", worker, at)
        else:
            retry_after = verdicts[worker]
            if retry_after is None:
                governor.answered(sent_at)
                outcome.answered += 1
                schedule(at, "reserve", worker)
            else:
                wait = min(retry_after, max_retry_wait)
                governor.refused(sent_at, at, wait)
                outcome.refused += 1
                schedule(at + wait, "reserve", worker)
            outcome.paces.append((at - start, governor.pace))
    outcome.seconds = clock.now - start
    return outcome


def test_a_configured_rate_spaces_requests_from_many_threads_evenly() -> None:
    clock = FakeClock()
    governor = Governor(4, clock=clock, sleep=clock.sleep)

    threads = [threading.Thread(target=governor.admit) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(clock.slept) == pytest.approx([0.25 * i for i in range(1, 10)])


def test_a_rate_that_is_not_positive_is_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        Governor(0)


def test_a_retry_after_holds_back_every_request_until_then() -> None:
    clock = FakeClock()
    governor = Governor(clock=clock)
    sent = [governor.reserve(clock.now) for _ in range(3)]
    assert all(governor.go(at) for at in sent) and sent == [clock.now] * 3, "unpaced: all go at once"

    governor.refused(sent[0], clock.now + 0.01, retry_after=2.0)

    assert not governor.go(clock.now + 1.0), "a request whose slot came during the hold waits"
    assert [governor.reserve(clock.now + 0.5) for _ in range(5)] == [pytest.approx(clock.now + 2.01)] * 5
    assert governor.report().held_seconds == pytest.approx(2.0)


def test_a_load_against_a_token_bucket_finds_its_pace_with_few_refusals() -> None:
    """80 requests/s, bursts of 16, Retry-After 1 (the benchmark's rate-limited service): no rate configured."""
    clock = FakeClock()
    limiter = RateLimiter(80, 16, clock=clock)
    governor = Governor(clock=clock)

    outcome = simulated_load(governor, clock, requests=4000, limiter=limiter)

    floor = outcome.answered / 80
    assert outcome.seconds <= 1.1 * floor, f"{outcome.seconds:.1f} s against a floor of {floor:.1f} s"
    assert outcome.refused <= 0.05 * (outcome.answered + outcome.refused)
    report = governor.report()
    assert report.refusals == outcome.refused and report.pace is not None and 60 <= report.pace <= 90


@pytest.mark.parametrize(("rate", "burst", "latency"), [(20, 5, 0.03), (200, 50, 0.002), (80, 16, 0.1)])
def test_other_limits_and_latencies_are_found_as_well(rate: float, burst: int, latency: float) -> None:
    clock = FakeClock()
    governor = Governor(clock=clock)

    outcome = simulated_load(governor, clock, requests=40 * rate, limiter=RateLimiter(rate, burst, clock=clock),
                             latency=latency)

    assert outcome.seconds <= 1.25 * outcome.answered / rate
    assert outcome.refused <= 0.05 * (outcome.answered + outcome.refused)


def test_a_short_load_pays_a_handful_of_refusals_to_find_its_pace() -> None:
    """The integration test's load (tests/integration/test_governor.py): 285 requests against 40/s, bursts of 8.
    Finding the pace costs a fixed handful of refusals, a larger share of a short load than of a backfill."""
    clock = FakeClock()
    governor = Governor(clock=clock)

    outcome = simulated_load(governor, clock, requests=285, limiter=RateLimiter(40, 8, clock=clock), latency=0.005)

    assert 8 <= outcome.refused <= 0.10 * (outcome.answered + outcome.refused)
    assert governor.pace is not None and 30 <= governor.pace <= 50


def test_a_load_whose_machine_was_the_bottleneck_finds_the_service_pace_as_soon_as_it_speeds_up() -> None:
    """For 30 s each request takes 150 ms of this machine (about 53/s), then 2 ms: the service admits 80/s."""
    clock = FakeClock()
    governor = Governor(clock=clock)

    outcome = simulated_load(governor, clock, requests=6000, limiter=RateLimiter(80, 16, clock=clock),
                             latency=lambda elapsed: 0.15 if elapsed < 30 else 0.002)

    assert min(at for at, pace in outcome.paces if at > 30 and (pace or 0) >= 72) < 30 + 5
    slow = 30 * 8 / 0.15
    assert outcome.seconds <= 30 + 1.1 * (6000 - slow) / 80


def test_a_load_that_is_its_own_bottleneck_at_times_does_not_lose_the_service_pace() -> None:
    """8 s in every 20 this machine is slow (150 ms a request: 53/s with 8 workers), then 30 ms; the service admits
    80/s. While slow, the load sends slower than its pace, which must neither grow far above what is sent (a burst
    into the limit when the machine speeds up) nor be cut to what got through while slow."""
    clock = FakeClock()
    governor = Governor(clock=clock)

    outcome = simulated_load(governor, clock, requests=6000, limiter=RateLimiter(80, 16, clock=clock),
                             latency=lambda elapsed: 0.15 if elapsed % 20 < 8 else 0.03)

    best = 6000 / ((8 * 8 / 0.15 + 12 * 80) / 20)  # at the machine's pace while slow, the service's otherwise
    assert outcome.seconds <= 1.08 * best, f"{outcome.seconds:.1f} s against {best:.1f} s at best"
    assert outcome.refused <= 0.05 * (outcome.answered + outcome.refused)


def test_sparse_random_refusals_do_not_slow_an_unpaced_load() -> None:
    """The fault tests' service: 1.25% of requests refused at random, Retry-After capped at 50 ms (tests/conftest)."""
    clock = FakeClock()
    governor = Governor(clock=clock)

    outcome = simulated_load(governor, clock, requests=6000, fault_share=0.0125, max_retry_wait=0.05)

    assert outcome.refused > 40, "the faults should really have hit the load"
    assert governor.pace is None, "random refusals are not a rate limit"
    unhindered = (6000 + outcome.refused) / 8 * 0.002
    assert outcome.seconds <= unhindered + governor.report().held_seconds + 0.05, "only the holds cost time"


def test_random_refusals_against_a_configured_rate_keep_the_pace_near_it() -> None:
    clock = FakeClock()
    governor = Governor(200, clock=clock)

    outcome = simulated_load(governor, clock, requests=6000, fault_share=0.02, max_retry_wait=0.05)

    assert outcome.refused > 60
    assert min(pace for _, pace in outcome.paces if pace is not None) >= 0.8 * 200


def test_refusals_of_requests_sent_before_a_cut_do_not_cut_again() -> None:
    """Requests in flight when the pace was cut were sent at the old pace: their refusals say nothing new."""
    clock = FakeClock()
    governor = Governor(100, clock=clock)
    t = clock.now
    early = [governor.reserve(t) for _ in range(20)]
    for at in early:
        assert governor.go(at)
    for at in early[:15]:
        governor.answered(at)
    later = early[-1] + 0.001
    for at in early[15:]:  # five refusals among twenty answers: dense, so the pace is cut once
        governor.refused(at, later, retry_after=None)

    assert governor.pace == pytest.approx(50)
    assert governor.report().cuts == 1


def test_the_pace_never_exceeds_the_configured_rate_nor_falls_below_its_floor() -> None:
    clock = FakeClock()
    governor = Governor(10, clock=clock)
    governor.reserve(clock.now + 1000)  # long clean stretches: growth is capped at the configured rate
    assert governor.pace == 10

    paces = []
    for step in range(40):  # refused again and again at once, each time after a one-second hold
        at = clock.now + 1000 + 2 * step
        slot = governor.reserve(at)
        assert governor.go(slot)
        governor.refused(slot, slot + 0.001, retry_after=1.0)
        paces.append(governor.pace)

    assert paces[:2] == [10, 5], "a first refusal alone is no limit; refused again right after its hold is"
    assert min(paces) == MIN_PACE


def test_the_report_says_the_pace_the_refusals_and_the_seconds_held() -> None:
    clock = FakeClock()
    limiter = RateLimiter(50, 10, clock=clock)
    governor = Governor(clock=clock)
    outcome = simulated_load(governor, clock, requests=1000, limiter=limiter)

    report = governor.report()
    line = report.line()
    assert f"refused {outcome.refused} request(s)" in line
    assert f"settled at {report.pace:.1f} requests/s" in line and f"{report.held_seconds:.1f} s" in line
    # Each refusal asked for one second; holds asked for together overlap, so they add up to less.
    assert 1.0 <= report.held_seconds < report.refusals * 1.0


def send_evenly(governor: Governor, start: float, rate: float, seconds: float) -> float:
    """Requests sent at `rate` from `start` for `seconds`, each answered at once; the time the last one went."""
    at = start
    for step in range(int(rate * seconds)):
        at = governor.reserve(start + step / rate)
        assert governor.go(at)
        governor.answered(at)
    return at


def test_a_refusal_met_by_a_measured_cut_holds_back_only_the_refused_request() -> None:
    """The pace is cut under what the service admitted, so the others go on at it; refusals that keep coming hold
    every request again."""
    clock = FakeClock()
    governor = Governor(200, clock=clock)
    last = send_evenly(governor, clock.now, 100, 3)

    governor.refused(last, last + 0.01, retry_after=1.0)

    assert governor.pace is not None and 80 <= governor.pace < 100
    assert governor.reserve(last + 0.1) < last + 0.2, "not held for the refused request's second"
    assert governor.report().held_seconds == 0
    at = last + 0.2
    for _ in range(4):  # dense: the limit is lower than the cut allowed for
        at = governor.reserve(at)
        assert governor.go(at)
        governor.refused(at, at + 0.01, retry_after=1.0)
    assert governor.reserve(at + 0.1) >= at + 1.0
    assert governor.report().held_seconds == pytest.approx(1.0), "held once, by the cut of the fourth"


def test_the_pace_does_not_grow_while_the_load_sends_slower_than_it() -> None:
    clock = FakeClock()
    governor = Governor(200, clock=clock)
    last = send_evenly(governor, clock.now, 100, 3)
    governor.refused(last, last + 0.01, retry_after=1.0)
    cut = governor.pace
    assert cut is not None

    last = send_evenly(governor, last + 0.1, cut / 2, 60)  # this machine is the bottleneck for a minute
    assert governor.pace == cut
    send_evenly(governor, last + 0.1, 2 * cut, 10)  # requests wait for their turn: the pace grows
    assert governor.pace is not None and governor.pace > cut + 1


def test_a_cut_after_slow_sending_then_a_burst_follows_the_burst_not_the_slow_seconds() -> None:
    """An unpaced load sent 5 requests/s for 5 s (listing, say), then 100/s until the service refused, densely: the
    service admitted 100/s at the end, so a pace of what got through over the 5 s (about 14/s) would say more
    about this machine than about the service."""
    clock = FakeClock()
    governor = Governor(clock=clock)
    last = send_evenly(governor, clock.now, 5, 5)
    last = send_evenly(governor, last + 0.01, 100, 0.5)

    for _ in range(4):
        governor.refused(last, last + 0.01, retry_after=1.0)

    assert governor.pace is not None and 50 <= governor.pace < 100
    send_evenly(governor, last + 1.0, 200, 5)  # requests wait for their turn: back over 100/s within seconds
    assert governor.pace > 100


def test_a_cut_during_a_hold_measures_the_next_stretch_from_the_end_of_the_hold() -> None:
    """Three sparse refusals of an unpaced load hold every request for a second; the fourth, dense, cuts the pace while
    the hold lasts. Nothing is sent during the hold, so the rate admitted after it is measured from its end."""
    clock = FakeClock()
    governor = Governor(clock=clock)
    last = send_evenly(governor, clock.now, 80, 3)
    for _ in range(4):
        governor.refused(last, last + 0.01, retry_after=1.0)
    pace = governor.pace
    assert pace is not None

    last = send_evenly(governor, last + 1.01, pace, 3)  # at the pace, from the end of the hold
    governor.refused(last, last + 0.01, retry_after=1.0)

    assert governor.pace is not None and governor.pace >= 0.9 * pace, "the hold's second is not taken for a slow one"
