"""The `kognitos-elt` command as cron and analysts use it: exit codes, summary, one-paragraph errors."""

from __future__ import annotations

import fcntl
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from kognitos_elt.cli import main
from kognitos_elt.demo import duckdb_shell
from kognitos_elt.kognitos import ExitCode
from kognitos_simulator import SCALES, RunningSimulator, SimulatorSettings, World

from ..analytics.truth import all_runs
from ..integration.truth import short, state_key, truth_events, truth_runs


def test_run_loads_the_default_duckdb_file_and_prints_a_summary(
    configured: RunningSimulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["run"]) == ExitCode.OK

    out = capsys.readouterr().out
    runs, events = len(truth_runs(configured.world)), len(truth_events(configured.world))
    assert f"runs {runs}," in out and f"run_events {events}," in out
    exceptions = sum(len(configured.world.exceptions(short(ws["name"]))) for ws in configured.world.workspaces())
    assert exceptions > 0
    assert (f"Runs new: {runs}, runs updated: 0, exceptions new: {exceptions}, exceptions updated: 0, "
            f"API requests: {len(configured.requests.entries)}.") in out
    with duckdb.connect(str(tmp_path / "kognitos_elt.duckdb"), read_only=True) as connection:
        (loaded,) = connection.execute("SELECT count(*) FROM kognitos.runs").fetchall()[0]
    assert loaded == runs


def test_a_wrong_token_exits_4_with_the_config_key_and_never_the_token(
    configured: RunningSimulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SOURCES__KOGNITOS__ACCESS_TOKEN", "kgn_pat_wrong_secret_0042")

    assert main(["run"]) == ExitCode.AUTH

    captured = capsys.readouterr()
    assert "SOURCES__KOGNITOS__ACCESS_TOKEN" in captured.err
    assert "Traceback" not in captured.err
    assert "kgn_pat_wrong_secret_0042" not in captured.err + captured.out


def test_a_missing_token_exits_2_naming_the_key(
    configured: RunningSimulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """organization_id may be left unset (tests/integration/test_organization.py); the token may not."""
    monkeypatch.delenv("SOURCES__KOGNITOS__ACCESS_TOKEN")

    assert main(["run"]) == ExitCode.CONFIG

    err = capsys.readouterr().err
    assert "Missing configuration: sources.kognitos.access_token" in err and "organization_id" not in err


def test_a_load_out_of_duckdb_memory_exits_2_naming_the_setting_to_raise(
    configured: RunningSimulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DESTINATION__DUCKDB__MEMORY_LIMIT", "1MB")

    assert main(["run"]) == ExitCode.CONFIG

    err = capsys.readouterr().err
    assert "DESTINATION__DUCKDB__MEMORY_LIMIT" in err
    assert "Traceback" not in err


def test_a_duckdb_file_named_like_the_dataset_is_refused_before_loading(
    configured: RunningSimulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(tmp_path / "kognitos.duckdb"))

    assert main(["run"]) == ExitCode.CONFIG

    assert "named like the dataset" in capsys.readouterr().err
    assert not (tmp_path / "kognitos.duckdb").exists()


def test_a_second_run_while_one_holds_the_lock_exits_3_at_once(
    configured: RunningSimulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    lock_path = tmp_path / "dlt_data" / "pipelines" / "kognitos_elt.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        configured.requests.clear()

        assert main(["run"]) == ExitCode.LOCKED

    assert "Another kognitos-elt load" in capsys.readouterr().err
    assert configured.requests.entries == []
    assert main(["run"]) == ExitCode.OK, "once the holder is gone the lock is taken over"


def test_status_reports_rows_cursors_and_open_runs_after_a_load(
    configured: RunningSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status"]) == ExitCode.OK
    assert "Nothing loaded yet by pipeline 'kognitos_elt'" in capsys.readouterr().out
    assert main(["run"]) == ExitCode.OK
    capsys.readouterr()

    assert main(["status"]) == ExitCode.OK

    out = capsys.readouterr().out
    runs = sum(len(configured.world.runs(w["name"].rsplit("/", 1)[-1], a["name"].rsplit("/", 1)[-1]))
               for w in configured.world.workspaces()
               for a in configured.world.automations(w["name"].rsplit("/", 1)[-1], show_deleted=True))
    assert re.search(rf"^\s+runs\s+{runs:,}$", out, re.MULTILINE)
    assert "Open runs refreshed on every load:" in out and "automation cursor(s)" in out
    assert "Analytics models: not built yet" in out  # these tests load without them


def test_a_child_resource_without_its_parent_is_refused_before_any_request(
    configured: RunningSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    configured.requests.clear()

    assert main(["run", "--resources", "workspaces,automations,run_events"]) == ExitCode.CONFIG

    assert "without their parent resource(s) ['runs']" in capsys.readouterr().err
    assert configured.requests.entries == []


def test_a_child_without_its_parents_is_told_every_missing_ancestor_at_once(
    configured: RunningSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--resources", "runs,run_events"]) == ExitCode.CONFIG

    assert "without their parent resource(s) ['automations', 'workspaces']" in capsys.readouterr().err
    assert configured.requests.entries == []


def test_status_after_a_run_that_loaded_nothing_says_so_and_how_to_start(
    configured: RunningSimulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCES__KOGNITOS__ACCESS_TOKEN", "wrong-token")
    assert main(["run"]) == ExitCode.AUTH
    capsys.readouterr()

    assert main(["status"]) == ExitCode.OK

    out = capsys.readouterr().out
    assert "Nothing loaded yet by pipeline 'kognitos_elt'" in out and "kognitos-elt run" in out


def test_a_run_from_another_folder_says_where_the_pinned_duckdb_file_is(
    configured: RunningSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run"]) == ExitCode.OK
    first = capsys.readouterr().out
    assert f"duckdb:///{tmp_path / 'kognitos_elt.duckdb'}" in first and "not in this folder" not in first
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    assert main(["run"]) == ExitCode.OK

    out = capsys.readouterr().out
    assert f"duckdb:///{tmp_path / 'kognitos_elt.duckdb'}" in out
    assert f"The DuckDB file is in {tmp_path}, not in this folder" in out
    assert not (elsewhere / "kognitos_elt.duckdb").exists()


def test_the_duckdb_shell_the_demo_points_at_opens_the_load(
    configured: RunningSimulator, tmp_path: Path
) -> None:
    assert main(["run"]) == ExitCode.OK
    assert Path(duckdb_shell()).is_absolute(), "the project's environment has no duckdb shell (duckdb-cli)"

    shell = subprocess.run([duckdb_shell(), "-readonly", "-csv", "-noheader", str(tmp_path / "kognitos_elt.duckdb"),
                            "-c", "SELECT count(*) FROM kognitos.runs"], capture_output=True, text=True, check=True)

    assert int(shell.stdout) == len(truth_runs(configured.world))


def test_live_progress_ends_each_step_with_runs_out_of_those_expected_events_and_requests(
    configured: RunningSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--progress", "live"]) == ExitCode.OK

    # Each step's line is redrawn in place ("\r", then the text, then "clear to end of line") and ends with "\n".
    lines = [line.split("\r")[-1].removesuffix("\x1b[K") for line in capsys.readouterr().err.split("\n")]
    extract = [line for line in lines if line.startswith("Extract: ")][-1]
    runs, events = len(truth_runs(configured.world)), len(truth_events(configured.world))
    requests = len(configured.requests.entries)
    assert extract.startswith(f"Extract: runs {runs:,} of ~{runs:,} (100%) · events {events:,} · "
                              f"requests {requests:,} · "), extract
    assert any(re.fullmatch(r"Load: jobs (\d+)/\1 · \d+:\d\d elapsed", line) for line in lines), lines


def test_without_a_terminal_the_load_prints_no_progress(
    configured: RunningSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run"]) == ExitCode.OK

    err = capsys.readouterr().err
    assert "Extract:" not in err and "\r" not in err


def test_an_unknown_destination_exits_2_saying_so(
    configured: RunningSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--destination", "nosuchdest"]) == ExitCode.CONFIG

    assert "Destination 'nosuchdest'" in capsys.readouterr().err


def test_an_unknown_workspace_exits_5_naming_it(
    configured: RunningSimulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCES__KOGNITOS__WORKSPACE_IDS", '["no-such-workspace"]')

    assert main(["run"]) == ExitCode.API

    assert "Workspace 'no-such-workspace' (from workspace_ids) was not found" in capsys.readouterr().err


def test_a_service_that_stays_unavailable_exits_6_after_its_attempts(
    configured: RunningSimulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNTIME__REQUEST_MAX_ATTEMPTS", "3")
    configured.faults.unavailable_rate = 1.0

    assert main(["run"]) == ExitCode.UNAVAILABLE

    assert "HTTP 503" in capsys.readouterr().err and len(configured.requests.entries) == 3


def test_a_file_that_is_not_a_duckdb_database_is_an_unexpected_error_exit_1(
    configured: RunningSimulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "kognitos_elt.duckdb").write_text("not a database")

    assert main(["run"]) == ExitCode.UNEXPECTED

    err = capsys.readouterr().err
    assert "Unexpected error" in err and "not a valid DuckDB database file" in err and "--verbose" in err


def test_of_two_processes_racing_for_one_pipeline_the_second_exits_3_at_once_and_the_first_finishes(
    configured: RunningSimulator, tmp_path: Path
) -> None:
    command = [sys.executable, "-m", "kognitos_elt", "run"]
    with configured.faults.held():  # the first load stays mid-load, holding the lock, until the second is done
        first = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while not configured.faults.waiting():  # its first request comes after the lock is taken
            assert first.poll() is None and time.monotonic() < deadline, "the first load never started"
            time.sleep(0.01)

        second = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)

        assert second.returncode == ExitCode.LOCKED and "Another kognitos-elt load" in second.stderr
        assert first.poll() is None, "the first load was still running when the second gave up"
        assert configured.requests.entries == [], "the second process sent no request"
    assert first.wait(timeout=120) == ExitCode.OK
    with duckdb.connect(str(tmp_path / "kognitos_elt.duckdb"), read_only=True) as connection:
        (runs,) = connection.execute("SELECT count(*) FROM kognitos.runs").fetchone()  # type: ignore[misc]
    assert runs == len(truth_runs(configured.world))


def test_refresh_reloads_everything_even_rows_an_incremental_load_would_never_fetch_again(
    configured: RunningSimulator, tmp_path: Path
) -> None:
    assert main(["run"]) == ExitCode.OK
    with duckdb.connect(str(tmp_path / "kognitos_elt.duckdb")) as connection:
        connection.execute("DELETE FROM kognitos.runs WHERE run_id IN (SELECT run_id FROM kognitos.runs LIMIT 5)")
    configured.requests.clear()

    assert main(["run", "--refresh"]) == ExitCode.OK

    with duckdb.connect(str(tmp_path / "kognitos_elt.duckdb"), read_only=True) as connection:
        runs = connection.execute("SELECT workspace_id, automation_id, run_id FROM kognitos.runs").fetchall()
    assert len(runs) == len(set(runs)) == len(truth_runs(configured.world))
    listings = [e for e in configured.requests.entries if e.path.endswith("/runs")]
    assert all("filter" not in e.query for e in listings), "a refreshed load lists every run from the start"


def test_demo_loads_the_simulator_and_answers_from_the_models(capsys: pytest.CaptureFixture[str],
                                                              tmp_path: Path) -> None:
    assert main(["demo"]) == ExitCode.OK

    out = capsys.readouterr().out
    database = tmp_path / "kognitos_demo.duckdb"
    assert f"Try it: {duckdb_shell()} -readonly {database}" in out
    assert "Analytics models: built in kognitos_analytics" in out
    assert out.rstrip().endswith(f"The report, one page that opens offline: {tmp_path / 'kognitos_report.html'}")
    assert (tmp_path / "kognitos_report.html").stat().st_size > 1_000_000  # plotly.js inlined
    world = World(SimulatorSettings(scale=SCALES["demo"]))  # the demo's own world, rebuilt from its settings
    runs = all_runs(world)
    waiting = [run["state"]["awaiting_guidance"]["description"] for run in runs.values()
               if state_key(run) == "awaiting_guidance"]
    failures = Counter((*key[:2], run["state"]["failed"]["description"]) for key, run in runs.items()
                       if state_key(run) == "failed")
    section = out.split("-- Runs waiting for a human", 1)[1].split("\n-- ", 1)[0]
    assert 0 < len(waiting) <= 5 and all(f"| {description}" in section for description in waiting)
    top_failure = out.split("-- Why runs fail", 1)[1].split("\n")[2]
    assert top_failure.split(" | ")[3] == str(max(failures.values()))


def test_run_builds_the_models_once_and_models_exits_7_when_their_tests_fail(
    configured: RunningSimulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.delenv("ANALYTICS__BUILD_AFTER_LOAD")  # the default: `run` builds the models

    assert main(["run"]) == ExitCode.OK
    first = capsys.readouterr().out
    assert main(["run", "--no-models"]) == ExitCode.OK
    skipped = capsys.readouterr().out
    assert main(["run"]) == ExitCode.OK
    unchanged = capsys.readouterr().out
    assert main(["models"]) == ExitCode.OK
    tested = capsys.readouterr().out
    assert main(["status"]) == ExitCode.OK
    status = capsys.readouterr().out
    with duckdb.connect(str(tmp_path / "kognitos_elt.duckdb")) as connection:  # a past day loses a run
        connection.execute("DELETE FROM kognitos.runs WHERE run_id = (SELECT min(run_id) FROM kognitos.runs "
                           "WHERE create_time < TIMESTAMPTZ '2025-11-10 00:00:00+00')")
    assert main(["models"]) == ExitCode.MODELS
    failed = capsys.readouterr()

    assert re.search(r"Analytics models: built in kognitos_analytics in \d+\.\ds\.", first)
    assert "Analytics models" not in skipped
    assert "Analytics models: current in kognitos_analytics (nothing to rebuild)." in unchanged
    assert "Analytics models: built and tested in kognitos_analytics" in tested and "ERROR=0" in tested
    assert re.search(r"^Analytics models: last built \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, in kognitos_analytics$",
                     status, re.MULTILINE)
    assert "daily_runs_match_api_aggregates" in failed.err and "the load itself is committed" in failed.err
    assert "Traceback" not in failed.err
