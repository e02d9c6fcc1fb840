"""`dlt init kognitos duckdb --location <this repo>`: the files a dlt user gets, installed from their own
requirements.txt ALONE into a fresh venv (not this package), and the copied example pipeline run against the
simulator over real HTTP, its tables compared with the truth exactly as the wheel's are (issue #24)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from kognitos_simulator import RunningSimulator

from .environments import REPO, REPO_BIN, Venv, clean_env, create_venv, run, simulator_env, size_mb
from .warehouse import assert_warehouse_equals_truth, venv_query

pytestmark = pytest.mark.slow

SOURCE = REPO / "sources" / "kognitos"


@dataclass(frozen=True)
class Project:
    folder: Path
    venv: Venv


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """An empty folder after `dlt init` (the repo venv's dlt; "y" to any question), and a fresh venv (outside it)
    holding `pip install -r requirements.txt` and nothing else."""
    folder = tmp_path_factory.mktemp("dlt_project")
    run([REPO_BIN / "dlt", "init", "kognitos", "duckdb", "--location", REPO], cwd=folder, stdin="y\n" * 5)
    venv = create_venv(tmp_path_factory.mktemp("dlt_venv") / "venv", "-r", folder / "requirements.txt")
    return Project(folder, venv)


def test_dlt_init_copies_the_source_its_example_pipeline_and_the_requirements(project: Project) -> None:
    copied = {path.name for path in (project.folder / "kognitos").iterdir() if path.is_file()}
    modules = {path.name for path in SOURCE.glob("*.py")}

    assert copied == modules
    for name in modules:
        assert (project.folder / "kognitos" / name).read_text() == (SOURCE / name).read_text(), name
    example = (REPO / "sources" / "kognitos_pipeline.py").read_text()
    script = (project.folder / "kognitos_pipeline.py").read_text()
    assert script.replace("destination='duckdb'", 'destination="duckdb"') == example, "only the destination rewritten"
    requirements = {Requirement(line) for line in (project.folder / "requirements.txt").read_text().splitlines()
                    if line.strip() and not line.startswith("#")}
    ours = {Requirement(line) for line in (SOURCE / "requirements.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")}
    dlt = next(req for req in requirements if req.name == "dlt")
    assert "duckdb" in dlt.extras, "dlt init adds the destination's extra"
    assert {str(req) for req in requirements if req.name != "dlt"} == {str(req) for req in ours if req.name != "dlt"}


def test_the_copied_package_alone_gives_the_source_and_finish_interrupted_loads(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    script = ("import kognitos, importlib.util; from kognitos import finish_interrupted_loads, kognitos_source; "
              "print(kognitos.__file__); print(importlib.util.find_spec('kognitos_elt'))")
    result = run([project.venv.python, "-c", script], cwd=project.folder, env=clean_env(project.venv))

    where, elt = result.stdout.split()
    assert Path(where) == project.folder / "kognitos" / "__init__.py"
    assert elt == "None", "the dlt init venv must not hold this package"
    with capsys.disabled():
        print(f"\ndlt init venv (pip install -r requirements.txt): {size_mb(project.venv.root):.0f} MB")


def test_the_copied_pipeline_loads_the_simulator_exactly(project: Project, simulator: RunningSimulator) -> None:
    env = simulator_env(simulator, project.venv, project.folder / "dlt_data")

    run([project.venv.python, "kognitos_pipeline.py"], cwd=project.folder, env=env)

    databases = sorted(project.folder.glob("*.duckdb"))
    assert len(databases) == 1, databases  # dlt's default: <pipeline name>.duckdb in the working folder
    assert_warehouse_equals_truth(venv_query(project.venv, databases[0]), simulator.world)
