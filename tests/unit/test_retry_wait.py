"""client.retry_wait: how long a failed request waits before its next attempt."""

from __future__ import annotations

import pytest

from kognitos_elt.kognitos.client import retry_wait


@pytest.mark.parametrize(("attempt", "low"), [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0)])
def test_backoff_doubles_with_each_failed_attempt_plus_at_most_the_initial_wait_of_jitter(
    attempt: int, low: float
) -> None:
    waits = [retry_wait(attempt, None, initial=0.5, maximum=60.0) for _ in range(200)]
    assert all(low <= wait <= low + 0.5 for wait in waits)
    assert len(set(waits)) > 1, "no jitter: clients retrying together would stay in step"


def test_backoff_never_waits_longer_than_the_maximum() -> None:
    assert retry_wait(30, None, initial=0.5, maximum=60.0) == 60.0


def test_the_server_s_retry_after_wins_over_backoff_but_not_over_the_maximum() -> None:
    assert retry_wait(5, 0.25, initial=0.5, maximum=60.0) == 0.25
    assert retry_wait(1, 3600.0, initial=0.5, maximum=60.0) == 60.0
