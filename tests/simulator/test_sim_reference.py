"""The repository's copy of Kognitos' OpenAPI subset is the team's reference, unchanged."""

from __future__ import annotations

import pytest
import yaml
from simulator_openapi import REFERENCE, TEAM_REFERENCE


def test_the_contract_in_the_repository_is_the_teams_reference() -> None:
    if not TEAM_REFERENCE.is_file():
        pytest.skip(f"no team reference at {TEAM_REFERENCE}: only the team's checkout has ../shared beside it")
    assert yaml.safe_load(REFERENCE.read_text()) == yaml.safe_load(TEAM_REFERENCE.read_text()), (
        f"{REFERENCE} drifted from {TEAM_REFERENCE}: copy the reference over it")


def test_the_contract_keeps_its_license_notice() -> None:
    assert "MIT license, Copyright Kognitos" in REFERENCE.read_text().splitlines()[0]
