"""The rate limit: a token bucket per bearer token, answering 429 RESOURCE_EXHAUSTED with Retry-After beyond it.

The bucket's arithmetic is tested exactly on a fake clock; over real HTTP the tests count answers (never exact
timings) with bounds a stalled, busy machine cannot break. Every response goes through the fixtures' OpenAPI
validation (conftest.py), 429 bodies included.
"""

from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from simulator_support import SimulatorFactory

from kognitos_simulator import Faults, RateLimiter, SimulatorSettings
from kognitos_simulator.cli import _settings_from_json, _settings_to_json, build_parser, settings_from_args

RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# The bucket, on a fake clock.

def test_a_bucket_starts_full_then_refills_at_the_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=2.0, burst=5, clock=clock)
    assert [limiter.take("t") for _ in range(5)] == [None] * 5
    assert limiter.take("t") == 1  # half a second to the next token, rounded up
    clock.now += 0.5
    assert limiter.take("t") is None and limiter.take("t") == 1
    clock.now += 10  # a long quiet spell refills to the burst, not beyond
    assert [limiter.take("t") for _ in range(6)] == [None] * 5 + [1]


def test_refused_requests_take_no_token() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=0.25, burst=1, clock=clock)
    start = clock.now
    assert limiter.take("t") is None
    waits = []
    for step in range(40):  # 40 refusals over 3.9 s: each says how long is left, none moves the token away
        clock.now = start + step * 0.1
        waits.append(limiter.take("t"))
    assert waits[0] == 4 and waits[-1] == 1 and waits == sorted(waits, reverse=True)  # type: ignore[type-var]
    clock.now = start + 4 + 1e-6
    assert limiter.take("t") is None
    assert limiter.tokens("t") == pytest.approx(0, abs=1e-6)


@pytest.mark.parametrize(("rate", "elapsed", "retry_after"), [
    (0.3, 0.0, 4),  # 3.33 s -> 4
    (0.3, 3.0, 1),  # 0.33 s -> at least 1
    (100.0, 0.0, 1),
    (1 / 3600, 0.0, 3600),  # longer than any client's retry cap
    (1 / 3600, 1800.5, 1800),
])
def test_retry_after_is_the_whole_seconds_until_a_token(rate: float, elapsed: float, retry_after: int) -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=rate, burst=1, clock=clock)
    assert limiter.take("t") is None
    clock.now += elapsed
    assert limiter.take("t") == retry_after


def test_each_token_has_its_own_bucket() -> None:
    limiter = RateLimiter(rate=1.0, burst=2, clock=FakeClock())
    assert [limiter.take("a"), limiter.take("a"), limiter.take("a")] == [None, None, 1]
    assert [limiter.take("b"), limiter.take("b"), limiter.take("b")] == [None, None, 1]
    limiter.reset()
    assert limiter.take("a") is None


def test_the_default_burst_is_one_seconds_worth_and_off_means_everything_passes() -> None:
    assert RateLimiter(rate=2.5).capacity == 3 and RateLimiter(rate=0.2).capacity == 1
    off = RateLimiter()
    assert all(off.take("t") is None for _ in range(1000))


def test_changes_at_runtime_apply_to_existing_buckets() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=1.0, burst=10, clock=clock)
    assert limiter.take("t") is None
    limiter.burst = 2  # the bucket holds 9 tokens: clamped to the new size on its next use
    assert [limiter.take("t") for _ in range(3)] == [None, None, 1]
    limiter.rate = 0.1
    assert limiter.take("t") == 10


@pytest.mark.parametrize(("rate", "burst"), [(0.0, None), (-1.0, None), (math.nan, None), (math.inf, None),
                                             (1.0, 0)])
def test_impossible_limits_are_rejected(rate: float, burst: int | None) -> None:
    with pytest.raises(ValueError, match="rate limit|burst"):
        RateLimiter(rate, burst)
    with pytest.raises(ValueError, match="rate limit|burst"):
        SimulatorSettings(rate_limit=rate, burst=burst)
    with pytest.raises(ValueError):
        RateLimiter().rate = rate if burst is None else -rate


def test_retry_after_seconds_must_be_whole_and_not_negative() -> None:
    for bad in (-1, 1.5):
        with pytest.raises(ValueError, match="retry_after_seconds"):
            Faults(retry_after_seconds=bad)  # type: ignore[arg-type]


# Over HTTP.

def test_the_bucket_admits_the_burst_at_once(make_simulator: SimulatorFactory) -> None:
    sim, make_client = make_simulator(rate_limit=1.0, burst=10)
    client = make_client()
    with ThreadPoolExecutor(max_workers=15) as pool:
        statuses = list(pool.map(lambda _: client.get("/me/organizations").status_code, range(15)))
    received = [entry.received for entry in sim.requests.entries]
    # However slowly the 15 arrive, at most one more token per second of their spread.
    assert 10 <= statuses.count(200) <= 10 + math.floor(max(received) - min(received)) + 1
    assert statuses.count(200) + statuses.count(429) == 15


def test_the_bucket_admits_the_burst_then_about_the_rate(make_simulator: SimulatorFactory) -> None:
    rate, burst = 5.0, 10
    sim, make_client = make_simulator(rate_limit=rate, burst=burst)
    client = make_client()
    statuses = []
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        statuses.append(client.get("/me/organizations").status_code)
        time.sleep(0.01)  # far denser than one token per 0.2 s, without loading the machine
    entries = sim.requests.entries
    assert statuses[:burst] == [200] * burst
    assert set(statuses) == {200, 429} and len(entries) == len(statuses)
    assert [entry.status for entry in entries] == statuses, "429s are in the request log like other answers"
    span = entries[-1].received - entries[0].received
    expected = burst + rate * span
    # Above: never more than the bucket allows. Below: a token or two may be left unspent at the end, and a
    # stall of over 2 s would let the full bucket waste some (hence 3).
    assert expected - 3 <= statuses.count(200) <= expected + 1, (statuses.count(200), span)


def test_a_429_says_when_to_retry(make_simulator: SimulatorFactory) -> None:
    sim, make_client = make_simulator(rate_limit=0.01, burst=2)
    client = make_client()
    assert [client.get("/me/organizations").status_code for _ in range(2)] == [200, 200]
    response = client.get("/me/organizations")
    assert response.status_code == 429
    seconds = int(response.headers["retry-after"])
    assert 99 <= seconds <= 100  # a token every 100 s, one just spent
    assert response.json() == {"code": 8, "message": f"rate limit exceeded: too many requests; retry after {seconds} s",
                               "details": [{"@type": RETRY_INFO, "retry_delay": f"{seconds}s"}]}
    sim.rate_limiter.rate = 2.0  # changed at runtime: half a second to the next token, said as 1
    response = client.get("/me/organizations")
    assert response.status_code == 429 and response.headers["retry-after"] == "1"


def test_refused_requests_do_not_delay_the_next_token(make_simulator: SimulatorFactory) -> None:
    sim, make_client = make_simulator(rate_limit=2.0, burst=1)
    client = make_client()
    assert client.get("/me/organizations").status_code == 200
    admitted = time.monotonic()  # after the server took the token
    refused = 0
    while time.monotonic() < admitted + 0.45:
        assert client.get("/me/organizations").status_code == 429
        refused += 1
    # The next token comes 0.5 s after the admitted request, however many were refused meanwhile (if they took
    # tokens, or even just held the bucket at zero, it would come at 0.95 s or later).
    time.sleep(max(0.0, admitted + 0.75 - time.monotonic()))
    assert client.get("/me/organizations").status_code == 200
    assert refused > 0


def test_faulted_requests_take_no_token(make_simulator: SimulatorFactory) -> None:
    sim, make_client = make_simulator(rate_limit=0.01, burst=1)
    client = make_client()
    sim.faults.inject("internal_error", count=3)
    statuses = [client.get("/me/organizations").status_code for _ in range(5)]
    assert statuses == [500, 500, 500, 200, 429]


def test_each_bearer_token_has_its_own_bucket(make_simulator: SimulatorFactory) -> None:
    _, make_client = make_simulator(rate_limit=0.01, burst=2, extra_tokens=("second-token",))
    first, second = make_client(), make_client(token="second-token")
    assert [first.get("/me/organizations").status_code for _ in range(3)] == [200, 200, 429]
    answers = [second.get("/me/organizations") for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert first.get("/me/organizations").status_code == 429
    # A token the service does not know is charged to its own bucket too, and then refused as unknown.
    assert make_client(token="unknown").get("/me/organizations").status_code == 401


def test_a_second_token_sees_the_same_service(make_simulator: SimulatorFactory) -> None:
    _, make_client = make_simulator(extra_tokens=("second-token",))
    assert (make_client(token="second-token").get("/me/organizations").json()
            == make_client().get("/me/organizations").json())


def test_the_limit_can_be_turned_on_at_runtime(make_simulator: SimulatorFactory) -> None:
    sim, make_client = make_simulator()
    client = make_client()
    assert sim.rate_limiter.rate is None
    assert all(client.get("/me/organizations").status_code == 200 for _ in range(20))
    sim.rate_limiter.rate, sim.rate_limiter.burst = 0.01, 3
    assert [client.get("/me/organizations").status_code for _ in range(4)] == [200, 200, 200, 429]
    sim.rate_limiter.rate = None
    assert client.get("/me/organizations").status_code == 200


# 429s without Retry-After, and with one longer than any client's retry cap.

def test_429s_without_retry_after(make_simulator: SimulatorFactory) -> None:
    sim, make_client = make_simulator(rate_limit=0.01, burst=1, faults=Faults(rate_limit_retry_after=False))
    client = make_client()
    sim.faults.inject("rate_limit")
    bare = {"code": 8, "message": "rate limit exceeded: too many requests", "details": []}
    fault = client.get("/me/organizations")  # the fault
    assert fault.status_code == 429 and "retry-after" not in fault.headers and fault.json() == bare
    assert client.get("/me/organizations").status_code == 200  # the fault took no token
    limited = client.get("/me/organizations")  # the bucket
    assert limited.status_code == 429 and "retry-after" not in limited.headers and limited.json() == bare


def test_a_retry_after_longer_than_any_retry_cap(make_simulator: SimulatorFactory) -> None:
    sim, make_client = make_simulator()
    client = make_client()
    sim.faults.retry_after_seconds = 86_400
    sim.faults.every_nth["rate_limit"] = 1
    response = client.get("/me/organizations")
    assert response.status_code == 429 and response.headers["retry-after"] == "86400"
    assert response.json()["details"] == [{"@type": RETRY_INFO, "retry_delay": "86400s"}]


# The command line.

def test_rate_limit_and_latency_arguments_become_settings() -> None:
    args = build_parser().parse_args(["--rate-limit", "5", "--burst", "10", "--extra-token", "t2",
                                      "--extra-token", "t3", "--latency-median-ms", "20", "--latency-p99-ms", "200",
                                      "--no-retry-after", "--retry-after-seconds", "3600", "--run-counts-lag", "90"])
    settings = settings_from_args(args)
    assert (settings.rate_limit, settings.burst, settings.extra_tokens) == (5.0, 10, ("t2", "t3"))
    faults = settings.faults
    assert (faults.latency_median_seconds, faults.latency_p99_seconds) == (0.02, 0.2)
    assert faults.rate_limit_retry_after is False and faults.retry_after_seconds == 3600
    again = _settings_from_json(_settings_to_json(settings))  # what --workers hands each worker
    assert (again.rate_limit, again.burst, again.extra_tokens, again.faults) == (5.0, 10, ("t2", "t3"), faults)
    assert settings.run_counts_lag_seconds == again.run_counts_lag_seconds == 90.0
    defaults = settings_from_args(build_parser().parse_args([]))
    assert defaults.rate_limit is None and defaults.burst is None and defaults.faults == Faults()
    assert defaults.run_counts_lag_seconds == 0.0


def test_impossible_rate_limit_arguments_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    from kognitos_simulator.cli import main

    assert main(["--rate-limit", "0"]) == 2
    assert "rate limit" in capsys.readouterr().err
    assert main(["--latency-median-ms", "50", "--latency-p99-ms", "10"]) == 2
    assert "latency_p99_seconds" in capsys.readouterr().err


def test_limits_are_keyed_by_the_bearer_credential() -> None:
    # Scheme case and surrounding spaces do not make a new bucket (the simulator reads the token that way).
    from kognitos_simulator.app import _credential

    assert _credential("Bearer abc") == _credential("bearer  abc ") == "abc"
    assert _credential("") == _credential("Basic abc") == ""
