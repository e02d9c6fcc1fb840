"""Fixtures of the packaging tests: the sdist and wheel built once from this checkout."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from .environments import REPO, REPO_BIN, clean_env, run


@dataclass(frozen=True)
class Artifacts:
    sdist: Path
    wheel: Path


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Artifacts:
    """`python -m build` of the working tree: the sdist, then the wheel built from that sdist (as PyPI users get
    it), so a file missing from the sdist is missing from the wheel too."""
    out = tmp_path_factory.mktemp("dist")
    run([REPO_BIN / "python", "-m", "build", "--installer", "uv", "--outdir", out, REPO], cwd=out, env=clean_env(),
        timeout=600)
    sdists, wheels = sorted(out.glob("*.tar.gz")), sorted(out.glob("*.whl"))
    assert len(sdists) == 1 and len(wheels) == 1, sorted(out.iterdir())
    return Artifacts(sdists[0], wheels[0])
