"""The repository's copies of Kognitos' OpenAPI subsets are the team's reference, unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from simulator_openapi import REFERENCES, TEAM_REFERENCES


@pytest.mark.parametrize(("reference", "team_reference"), list(zip(REFERENCES, TEAM_REFERENCES, strict=True)),
                         ids=[path.stem for path in REFERENCES])
def test_the_contract_in_the_repository_is_the_teams_reference(reference: Path, team_reference: Path) -> None:
    if not team_reference.is_file():
        pytest.skip(f"no team reference at {team_reference}: only the team's checkout has ../shared beside it")
    assert yaml.safe_load(reference.read_text()) == yaml.safe_load(team_reference.read_text()), (
        f"{reference} drifted from {team_reference}: copy the reference over it")


@pytest.mark.parametrize("reference", REFERENCES, ids=[path.stem for path in REFERENCES])
def test_the_contract_keeps_its_license_notice(reference: Path) -> None:
    assert "MIT license, Copyright Kognitos" in reference.read_text().splitlines()[0]
