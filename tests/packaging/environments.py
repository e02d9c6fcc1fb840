"""Fresh virtual environments and clean child processes: the product as a user installs and runs it, not this
checkout. Each child gets a copy of this environment without the repo's venv, PYTHONPATH or any configuration of
the loader, so only what was installed into the fresh venv can be imported."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from kognitos_simulator import RunningSimulator

REPO = Path(__file__).resolve().parents[2]
REPO_BIN = Path(sys.executable).parent
"""The repo venv's scripts (`dlt`, `python -m build`): the tools that make the artifacts, never what is tested."""

CONFIG_PREFIXES = ("SOURCES__", "DESTINATION__", "ANALYTICS__", "KOGNITOS", "DLT_", "RUNTIME__", "EXTRACT__")
"""Configuration of the loader and dlt, which a child never inherits: each test passes what it means."""


@dataclass(frozen=True)
class Venv:
    root: Path

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    def script(self, name: str) -> Path:
        return self.root / "bin" / name


def clean_env(venv: Venv | None = None, **extra: str) -> dict[str, str]:
    """This process's environment minus the repo's venv, PYTHONPATH and every loader setting, plus `extra`."""
    env = {name: value for name, value in os.environ.items()
           if name not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")
           and not name.startswith(CONFIG_PREFIXES)}
    path = [entry for entry in env.get("PATH", os.defpath).split(os.pathsep) if Path(entry) != REPO_BIN]
    if venv is not None:
        path.insert(0, str(venv.root / "bin"))
        env["VIRTUAL_ENV"] = str(venv.root)
    env["PATH"] = os.pathsep.join(path)
    env["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    return {**env, **extra}


def simulator_env(simulator: RunningSimulator, venv: Venv, data_dir: Path) -> dict[str, str]:
    """The source configured through env vars (as a cron job gives it) and dlt's working folder in `data_dir`."""
    return clean_env(venv, SOURCES__KOGNITOS__ACCESS_TOKEN=simulator.token,
                     SOURCES__KOGNITOS__ORGANIZATION_ID=simulator.world.organization_id,
                     SOURCES__KOGNITOS__BASE_URL=simulator.base_url, DLT_DATA_DIR=str(data_dir))


def run(command: list[str | Path], *, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300,
        check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run a child to the end; with `check`, a non-zero exit fails the test showing its output."""
    result = subprocess.run([str(part) for part in command], cwd=cwd, env=env if env is not None else clean_env(),
                            input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"{command} exited {result.returncode}\n--- stdout\n{result.stdout}\n"
                             f"--- stderr\n{result.stderr}")
    return result


def base_interpreter() -> Path:
    """The interpreter this venv was made from: a fresh venv must not be a venv of the repo's venv."""
    return Path(getattr(sys, "_base_executable", sys.executable))


def create_venv(root: Path, *pip_args: str | Path) -> Venv:
    """A new venv at `root` with `pip install <pip_args>` and nothing else (run from its parent folder). uv installs
    them: it resolves the same metadata (the wheel's requirements, requirements.txt) as pip, in a tenth of the time."""
    run([base_interpreter(), "-m", "venv", root], cwd=root.parent)
    venv = Venv(root)
    run([REPO_BIN / "uv", "pip", "install", "--quiet", "--compile-bytecode", "--python", venv.python, *pip_args],
        cwd=root.parent, env=clean_env(venv), timeout=600)  # compiled as pip does: the sizes compare with pip's
    return venv


def size_mb(root: Path) -> float:
    """Disk use of a folder as `du -s` counts it (allocated blocks, each hard-linked file once), in MiB."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for folder, _, files in os.walk(root):
        for name in files:
            stat = os.lstat(os.path.join(folder, name))
            if (stat.st_dev, stat.st_ino) not in seen:
                seen.add((stat.st_dev, stat.st_ino))
                total += stat.st_blocks * 512
    return total / 2**20
