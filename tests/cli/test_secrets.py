"""The access token never leaks: not in output or logs at debug level, not in dlt's files, not in the data."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from dlt.common import logger as dlt_logger

from kognitos_elt.cli import main
from kognitos_elt.kognitos import ExitCode
from kognitos_simulator import RunningSimulator, Scale, SimulatorSettings, running_simulator

TOKEN = "kgn_pat_Sup3rSecretTokenValue_9f8e7d"


@pytest.fixture
def secret_simulator() -> Iterator[RunningSimulator]:
    settings = SimulatorSettings(seed=3, token=TOKEN, scale=Scale(workspaces=1, runs_per_automation=10))
    with running_simulator(settings) as sim:
        yield sim


@pytest.fixture
def dlt_debug_logging() -> Iterator[None]:
    """dlt's logger, made at the first load of a process, writes to the stderr of that moment (pytest's capture,
    closed after this test): let the next test's load make its own."""
    yield
    dlt_log = logging.getLogger("dlt")
    for handler in list(dlt_log.handlers):
        dlt_log.removeHandler(handler)
    dlt_log.propagate = True
    dlt_logger.LOGGER = None


@pytest.mark.usefixtures("dlt_debug_logging")
def test_a_debug_load_leaves_the_token_nowhere(
    secret_simulator: RunningSimulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("SOURCES__KOGNITOS__ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("SOURCES__KOGNITOS__ORGANIZATION_ID", secret_simulator.world.organization_id)
    monkeypatch.setenv("SOURCES__KOGNITOS__BASE_URL", secret_simulator.base_url)
    monkeypatch.setenv("RUNTIME__LOG_LEVEL", "DEBUG")
    caplog.set_level(logging.DEBUG)

    assert main(["run", "--verbose"]) == ExitCode.OK
    secret_simulator.faults.inject("unavailable", 50)  # a failing load too: errors and tracebacks
    assert main(["run", "--verbose"]) == ExitCode.UNAVAILABLE

    captured = capsys.readouterr()
    assert caplog.records, "debug logging should have produced records"
    assert TOKEN not in captured.out + captured.err + caplog.text
    files = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert any(path.suffix == ".duckdb" for path in files)
    leaking = [path for path in files if TOKEN.encode() in path.read_bytes()]
    assert leaking == []
