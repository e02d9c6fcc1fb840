"""Fixtures for the command line: configuration through env vars, as a cron job gives it."""

from __future__ import annotations

import pytest

from kognitos_simulator import RunningSimulator


@pytest.fixture
def configured(simulator: RunningSimulator, monkeypatch: pytest.MonkeyPatch) -> RunningSimulator:
    """Configure the source through env vars, the way a cron job would."""
    monkeypatch.setenv("SOURCES__KOGNITOS__ACCESS_TOKEN", simulator.token)
    monkeypatch.setenv("SOURCES__KOGNITOS__ORGANIZATION_ID", simulator.world.organization_id)
    monkeypatch.setenv("SOURCES__KOGNITOS__BASE_URL", simulator.base_url)
    return simulator
