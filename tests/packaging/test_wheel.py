"""The wheel and sdist as users get them: built from this checkout, checked by twine, installed ALONE (no extras)
into a fresh venv, and run there against the simulator over real HTTP (issue #24).

The base install is the loader: `run` loads every table exactly and says once how to get the models; every
command of an extra exits 2 with the exact pip command. One fresh venv serves every base-install test.
"""

from __future__ import annotations

import email
import json
import re
import tomllib
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from kognitos_simulator import RunningSimulator

from ..integration.truth import truth_runs
from .conftest import Artifacts
from .environments import REPO, REPO_BIN, Venv, clean_env, create_venv, run, simulator_env, size_mb
from .warehouse import assert_warehouse_equals_truth, venv_query

pytestmark = pytest.mark.slow

DISTRIBUTION = "kognitos-elt"
PACKAGES = {"kognitos_elt", "kognitos_simulator", "kognitos_analytics"}
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]

FULL_INSTALL_MB = 569
"""A venv with the models, the report and the simulator: `pip install "kognitos-elt[analytics,report,simulator]"`
measures 571 MB here, counted as `size_mb` counts."""
BASE_INSTALL_CEILING_MB = 0.6 * FULL_INSTALL_MB
"""Where the base install is (318 MB, 56%) plus a margin: a dependency of an extra slipping into the base crosses it
(plotly alone adds 64 MB, the duckdb shell 60, dbt with its dependencies about 100)."""

NOT_IN_BASE = {"dbt-core", "dbt-duckdb", "dbt-postgres", "dbt-adapters", "plotly", "uvicorn", "httptools", "dagster",
               "dagster-dlt", "dagster-webserver", "duckdb-cli", "pytest", "pytest-timeout", "hypothesis", "ruff",
               "mypy", "playwright", "build", "twine"}
"""What a data engineer's loader environment must not get unasked (pyproject.toml, the base install)."""


def installed_files(artifacts: Artifacts) -> list[PurePosixPath]:
    """Every file the wheel installs into site-packages, from its RECORD (scripts and dist-info left out)."""
    with zipfile.ZipFile(artifacts.wheel) as wheel:
        record = next(name for name in wheel.namelist() if name.endswith(".dist-info/RECORD"))
        lines = wheel.read(record).decode().splitlines()
    paths = [PurePosixPath(line.rsplit(",", 2)[0]) for line in lines if line]
    return [path for path in paths if ".." not in path.parts and not path.parts[0].endswith(".dist-info")]


def wheel_requirements(artifacts: Artifacts) -> list[Requirement]:
    with zipfile.ZipFile(artifacts.wheel) as wheel:
        metadata = next(name for name in wheel.namelist() if name.endswith(".dist-info/METADATA"))
        message = email.message_from_bytes(wheel.read(metadata))
    assert message["Name"] == DISTRIBUTION and message["Version"] == VERSION
    return [Requirement(line) for line in message.get_all("Requires-Dist") or []]


def tracked(*paths: str) -> list[str]:
    """The repo's committed files under `paths` (a clean clone holds exactly these, as CI's does)."""
    return run(["git", "-C", REPO, "ls-files", "--", *paths], cwd=REPO).stdout.split()


@pytest.fixture(scope="module")
def base_venv(artifacts: Artifacts, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """A fresh venv holding `pip install <the wheel>` and nothing else."""
    return create_venv(tmp_path_factory.mktemp("base") / "venv", artifacts.wheel)


def test_sdist_and_wheel_pass_twine_check(artifacts: Artifacts, tmp_path: Path) -> None:
    result = run([REPO_BIN / "python", "-m", "twine", "check", "--strict", artifacts.sdist, artifacts.wheel],
                 cwd=tmp_path)

    assert result.stdout.count("PASSED") == 2, result.stdout


def test_the_wheel_installs_exactly_its_three_packages_with_their_data(artifacts: Artifacts) -> None:
    files = set(installed_files(artifacts))

    assert {path.parts[0] for path in files} == PACKAGES
    with zipfile.ZipFile(artifacts.wheel) as wheel:
        top_level = next(name for name in wheel.namelist() if name.endswith(".dist-info/top_level.txt"))
        assert set(wheel.read(top_level).decode().split()) == PACKAGES
    for data in ("kognitos_analytics/dbt_project.yml", "kognitos_analytics/report.html",
                 "kognitos_simulator/reference/kognitos-openapi-runs.yaml", "kognitos_elt/kognitos/requirements.txt"):
        assert PurePosixPath(data) in files, data
    assert any(path.parts[:2] == ("kognitos_analytics", "models") and path.suffix == ".sql" for path in files)
    # Every committed module and data file of the three packages, at its installed name.
    renamed = {"pipelines": "kognitos_elt", "sources/kognitos": "kognitos_elt/kognitos"}
    expected = set()
    for name in tracked("pipelines", "sources/kognitos", "kognitos_simulator", "kognitos_analytics"):
        if PurePosixPath(name).suffix in (".py", ".sql", ".yml", ".yaml", ".html", ".txt"):
            folder, _, file = name.rpartition("/")
            expected.add(PurePosixPath(renamed.get(folder, folder), file))
    assert expected - files == set()


def test_base_requirements_hold_no_extra_and_dbt_1_10_to_1_12_are_admitted(artifacts: Artifacts) -> None:
    requirements = wheel_requirements(artifacts)
    base = {canonicalize_name(req.name) for req in requirements if req.marker is None}

    assert {"dlt", "duckdb", "httpx", "pyarrow"} <= base
    assert base & NOT_IN_BASE == set()
    assert not any(name.startswith("dbt") for name in base)
    dbt = [req for req in requirements if canonicalize_name(req.name) == "dbt-core"]
    assert dbt and all(req.marker is not None and req.marker.evaluate({"extra": "analytics"}) for req in dbt)
    for req in dbt:
        for version in ("1.10.0", "1.11.0", "1.12.0"):
            assert req.specifier.contains(version), (str(req), version)


def test_the_fresh_venv_imports_the_installed_packages_not_the_checkout(base_venv: Venv) -> None:
    script = ("import importlib.util, json; "
              f"print(json.dumps({{n: importlib.util.find_spec(n) and importlib.util.find_spec(n).origin "
              f"for n in {sorted([*PACKAGES, 'sources', 'pipelines', 'benchmarks', 'tests', 'src'])}}}))")
    origins = json.loads(run([base_venv.python, "-c", script], cwd=base_venv.root.parent,
                             env=clean_env(base_venv)).stdout)

    site = run([base_venv.python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
               cwd=base_venv.root.parent, env=clean_env(base_venv)).stdout.strip()
    assert {name for name, origin in origins.items() if origin} == PACKAGES
    assert all(Path(origins[name]).is_relative_to(site) for name in PACKAGES), origins


def test_version_is_the_pyprojects(base_venv: Venv, tmp_path: Path) -> None:
    result = run([base_venv.script("kognitos-elt"), "--version"], cwd=tmp_path, env=clean_env(base_venv))

    assert result.stdout.strip() == f"kognitos-elt {VERSION}"


@pytest.fixture(scope="module")
def base_size_mb(base_venv: Venv) -> float:
    return size_mb(base_venv.root)


def test_the_base_install_size_is_printed_and_far_below_the_full_one(
    base_size_mb: float, record_property: Callable[[str, object], None], capsys: pytest.CaptureFixture[str]
) -> None:
    record_property("base_venv_mb", round(base_size_mb))
    with capsys.disabled():
        print(f"\nbase install (pip install kognitos-elt, fresh venv): {base_size_mb:.0f} MB; "
              f"with [analytics,report,simulator]: {FULL_INSTALL_MB} MB")

    assert base_size_mb < BASE_INSTALL_CEILING_MB


def test_run_from_the_base_install_loads_the_truth_and_names_the_analytics_extra_once(
    base_venv: Venv, simulator: RunningSimulator, tmp_path: Path
) -> None:
    env = simulator_env(simulator, base_venv, tmp_path / "dlt_data")

    result = run([base_venv.script("kognitos-elt"), "run"], cwd=tmp_path, env=env)

    output = result.stdout + result.stderr
    assert output.count('pip install "kognitos-elt[analytics]"') == 1, output
    assert 'pip install "kognitos-elt[analytics]"' in result.stdout, "in the summary"
    assert_warehouse_equals_truth(venv_query(base_venv, tmp_path / "kognitos_elt.duckdb"), simulator.world)
    status = run([base_venv.script("kognitos-elt"), "status"], cwd=tmp_path, env=env)
    assert "runs" in status.stdout

    # The README's Python examples, verbatim, in the same folder: reading the load back, then a pipeline of one's own.
    read_back, own_pipeline = readme_python_examples()
    counts = run([base_venv.python, "-c", read_back], cwd=tmp_path, env=env).stdout
    assert f"('runs', {len(truth_runs(simulator.world))})" in counts, counts
    run([base_venv.python, "-c", own_pipeline], cwd=tmp_path, env=env)
    renamed = venv_query(base_venv, tmp_path / "kognitos.duckdb")("SELECT count(*) FROM kognitos_raw.kognitos_runs")
    assert renamed == [(len(truth_runs(simulator.world)),)]


def readme_python_examples() -> list[str]:
    """The README's ```python blocks, in order: dlt's read-back of a load, and the source in one's own pipeline."""
    blocks = re.findall(r"^```python\n(.*?)^```", (REPO / "README.md").read_text(), flags=re.MULTILINE | re.DOTALL)
    assert len(blocks) == 2, "a new Python example in the README: run it here too"
    return blocks


@pytest.mark.parametrize(("command", "extras"), [
    ("models", "analytics"), ("report", "report"), ("simulator", "simulator"), ("demo", "analytics,report,simulator"),
])
def test_a_command_of_an_extra_exits_2_with_the_exact_pip_command(base_venv: Venv, tmp_path: Path, command: str,
                                                                  extras: str) -> None:
    result = run([base_venv.script("kognitos-elt"), command], cwd=tmp_path, check=False,
                 env=clean_env(base_venv, DLT_DATA_DIR=str(tmp_path / "dlt_data")))

    assert result.returncode == 2, result
    assert f'pip install "kognitos-elt[{extras}]"' in result.stderr
