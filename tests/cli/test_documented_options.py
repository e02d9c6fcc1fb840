"""What README says of the command, each checked as a user would see it: dlt's `log` and `tqdm` progress displays,
`--pipeline-name`, exit 130 on Ctrl-C, exit 4 on a 403, the token read from `.dlt/secrets.toml`."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from kognitos_elt.cli import main
from kognitos_elt.kognitos import ExitCode
from kognitos_simulator import RunningSimulator

from ..integration.truth import truth_events, truth_runs


def test_progress_log_prints_dlt_s_step_counters_with_every_table_s_rows(
    configured: RunningSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--progress", "log"]) == ExitCode.OK

    out = capsys.readouterr().out
    normalize = out[out.rindex("Normalize kognitos in "):].split("\n\n", 1)[0]  # the step's last block
    assert re.search(rf"^runs: {len(truth_runs(configured.world))} ", normalize, re.MULTILINE), normalize
    assert re.search(rf"^run_events: {len(truth_events(configured.world))} ", normalize, re.MULTILINE), normalize
    assert re.search(r"^Jobs: (\d+)/\1 \(100\.0%\)", out[out.rindex("Load kognitos in "):], re.MULTILINE)


def test_progress_tqdm_draws_dlt_s_bars_with_every_resource_s_rows(
    configured: RunningSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--progress", "tqdm"]) == ExitCode.OK

    drawn = capsys.readouterr().err.replace("\r", "\n")
    assert f"runs: {len(truth_runs(configured.world))}it " in drawn
    assert f"run_events: {len(truth_events(configured.world))}it " in drawn
    assert "Extract kognitos: Resources: 100%" in drawn


def test_pipeline_name_keeps_its_own_state_and_status_reads_it(
    configured: RunningSimulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["run", "--pipeline-name", "nightly"]) == ExitCode.OK
    capsys.readouterr()

    assert main(["status", "--pipeline-name", "nightly"]) == ExitCode.OK
    nightly = capsys.readouterr().out
    assert main(["status"]) == ExitCode.OK
    default = capsys.readouterr().out

    runs = len(truth_runs(configured.world))
    assert re.search(rf"^\s+runs\s+{runs:,}$", nightly, re.MULTILINE), nightly
    assert "Nothing loaded yet by pipeline 'kognitos_elt'" in default
    assert (tmp_path / "dlt_data" / "pipelines" / "nightly").is_dir()
    assert not (tmp_path / "dlt_data" / "pipelines" / "kognitos_elt").exists()


def wait_then_interrupt(simulator: RunningSimulator, process: subprocess.Popen[bytes]) -> None:
    """Ctrl-C once the load is mid-extract: a request of its is held by the simulator."""
    deadline = time.monotonic() + 120
    while not simulator.faults.waiting():
        assert process.poll() is None and time.monotonic() < deadline, "the load never started"
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)


def test_ctrl_c_stops_the_load_with_exit_130_and_the_next_run_loads_everything(
    configured: RunningSimulator, tmp_path: Path
) -> None:
    # A terminal's Ctrl-C reaches a program whose SIGINT is at its default. A test suite started in the background
    # (`make test &`) runs with SIGINT ignored, which its children inherit: the load would honour that and finish.
    ignored = signal.signal(signal.SIGINT, signal.default_int_handler)  # exec resets a handled signal to default
    try:
        with configured.faults.held():  # the load stays mid-extract, its requests held, until it is interrupted
            process = subprocess.Popen([sys.executable, "-m", "kognitos_elt", "run"], cwd=tmp_path,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            wait_then_interrupt(configured, process)
    finally:
        signal.signal(signal.SIGINT, ignored)
    _, stderr = process.communicate(timeout=120)

    assert process.returncode == 130 == ExitCode.INTERRUPTED
    assert b"kognitos-elt: Interrupted. Nothing partial was committed" in stderr and b"Traceback" not in stderr
    assert main(["run"]) == ExitCode.OK
    with duckdb.connect(str(tmp_path / "kognitos_elt.duckdb"), read_only=True) as connection:
        assert connection.execute("SELECT count(*) FROM kognitos.runs").fetchall() == [
            (len(truth_runs(configured.world)),)]


def test_a_403_exits_4_after_one_request(
    configured: RunningSimulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The service answers 403 to any path outside /api/v1: a base_url with a path of its own."""
    monkeypatch.setenv("SOURCES__KOGNITOS__BASE_URL", f"{configured.base_url}/not-the-api")

    assert main(["run"]) == ExitCode.AUTH == 4

    err = capsys.readouterr().err
    assert "403" in err and "Traceback" not in err and configured.token not in err
    assert [entry.status for entry in configured.requests.entries] == [403]


def test_the_token_is_read_from_dlt_secrets_toml(simulator: RunningSimulator, tmp_path: Path) -> None:
    """In a process of its own, as a user runs it: dlt finds `.dlt/` in the folder it starts in."""
    settings = tmp_path / ".dlt"
    settings.mkdir()
    (settings / "secrets.toml").write_text(f'[sources.kognitos]\naccess_token = "{simulator.token}"\n')
    (settings / "config.toml").write_text(f'[sources.kognitos]\nbase_url = "{simulator.base_url}"\n'
                                          f'organization_id = "{simulator.world.organization_id}"\n')

    done = subprocess.run([sys.executable, "-m", "kognitos_elt", "run"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, check=False)

    assert done.returncode == ExitCode.OK, done.stderr
    assert f"Runs new: {len(truth_runs(simulator.world))}," in done.stdout
    assert simulator.token not in done.stdout + done.stderr
    assert simulator.requests.entries and all(entry.status == 200 for entry in simulator.requests.entries)
