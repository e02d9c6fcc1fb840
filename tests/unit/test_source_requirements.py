"""What `dlt init` installs for the source (sources/kognitos/requirements.txt) is what the package requires."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]


def test_the_source_requirements_are_the_packages_with_the_same_ranges() -> None:
    package = {req.name: req for req in map(Requirement, tomllib.loads(
        (REPO / "pyproject.toml").read_text())["project"]["dependencies"])}
    source = [Requirement(line) for line in (REPO / "sources/kognitos/requirements.txt").read_text().splitlines()
              if line.strip()]

    assert {req.name for req in source} == set(package), "the base install is the source and what the loader adds"
    for req in source:
        assert req.specifier == package[req.name].specifier, req.name
