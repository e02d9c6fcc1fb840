"""An analyst's DuckDB session open on the file beside cron's loads (README, "Reading beside the loads").

DuckDB lets no process write a file that another has open, even read-only; several read-only sessions can share it.
The holder here is a real second process, as `duckdb -readonly kognitos_elt.duckdb` would be.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from kognitos_elt import session
from kognitos_elt.cli import main
from kognitos_elt.kognitos import ExitCode
from kognitos_simulator import RunningSimulator

from ..integration.truth import loaded_events, loaded_runs, truth_events, truth_runs

HOLD = ("import sys, duckdb; c = duckdb.connect(sys.argv[1], read_only=True); print('open', flush=True); "
        "sys.stdin.read()")


@contextmanager
def analyst_session(database: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process with the file open read-only until the block ends (its stdin closes)."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(database)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        yield holder
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)


def _tables_equal_truth(database: Path, simulator: RunningSimulator) -> None:
    with duckdb.connect(str(database), read_only=True) as connection:
        def query(sql: str) -> list[tuple[object, ...]]:
            return connection.execute(sql).fetchall()

        assert loaded_runs(query) == truth_runs(simulator.world)
        assert loaded_events(query) == truth_events(simulator.world)


def test_a_load_beside_an_open_session_exits_3_saying_who_holds_the_file_and_the_next_one_loads_everything(
    configured: RunningSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    database = tmp_path / "kognitos_elt.duckdb"
    monkeypatch.setenv("DESTINATION__DUCKDB__LOCK_WAIT_SECONDS", "1")
    monkeypatch.setenv("ANALYTICS__BUILD_AFTER_LOAD", "true")  # the report reads the models
    assert main(["run"]) == ExitCode.OK
    monkeypatch.setenv("ANALYTICS__BUILD_AFTER_LOAD", "false")
    configured.world.advance(timedelta(hours=6))  # new runs, and open runs that moved on
    capsys.readouterr()

    with analyst_session(database) as holder:
        assert main(["run"]) == ExitCode.LOCKED
        err = capsys.readouterr().err
        assert f"The DuckDB file {database} is open in another process (PID {holder.pid}," in err
        assert "kognitos-elt status" in err and "PostgreSQL" in err and "Traceback" not in err
        # Commands that only read open the file read-only, beside the analyst's session.
        assert main(["status"]) == ExitCode.OK
        assert "Rows per table:" in capsys.readouterr().out
        assert main(["report", "--output", str(tmp_path / "report.html")]) == ExitCode.OK
        assert (tmp_path / "report.html").stat().st_size > 0

    assert main(["run"]) == ExitCode.OK
    _tables_equal_truth(database, configured)


def test_a_session_opened_when_the_load_ends_exits_3_with_the_load_committed_and_the_models_not_built(
    configured: RunningSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An analyst opens the file in the moment between the load's commit and the models' build (the runner asks
    `build_after_load` in that moment): the run waits for it, then ends like any run the file kept out (exit 3, not
    the models' 7), saying that the load is in."""
    database = tmp_path / "kognitos_elt.duckdb"
    monkeypatch.setenv("DESTINATION__DUCKDB__LOCK_WAIT_SECONDS", "1")
    with ExitStack() as sessions:
        holders = []

        def analyst_opens_the_file() -> bool:
            holders.append(sessions.enter_context(analyst_session(database)))
            return True

        monkeypatch.setattr(session, "build_after_load", analyst_opens_the_file)
        assert main(["run"]) == ExitCode.LOCKED

        err = capsys.readouterr().err
        assert f"The load is committed, but the analytics models were not built: the DuckDB file {database} is " \
               f"open in another process (PID {holders[0].pid}," in err
        assert "Traceback" not in err
    _tables_equal_truth(database, configured)


def test_a_session_that_closes_within_the_wait_lets_the_load_run(
    configured: RunningSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    database = tmp_path / "kognitos_elt.duckdb"
    monkeypatch.setenv("DESTINATION__DUCKDB__LOCK_WAIT_SECONDS", "30")
    assert main(["run"]) == ExitCode.OK
    configured.world.advance(timedelta(hours=6))

    holder = subprocess.Popen([sys.executable, "-c", HOLD.replace("sys.stdin.read()", "import time; time.sleep(2)"),
                               str(database)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "open"

    assert main(["run"]) == ExitCode.OK
    holder.wait(timeout=30)
    _tables_equal_truth(database, configured)
