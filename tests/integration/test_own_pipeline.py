"""The README's "Use the source in your own pipeline" example, verbatim, against the simulator: killed where dlt
committed the events job but had not yet recorded it, the example run again finishes that load without loading an
event twice (its `finish_interrupted_loads`), loads what is new, and its hint renames the runs table."""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import dlt
import duckdb

from kognitos_simulator import RunningSimulator

from ..packaging.test_wheel import readme_python_examples
from .truth import loaded_events, loaded_runs, truth_events, truth_runs

REPO = Path(__file__).parents[2]
KILLED_AT = "committed/run_events.parquet#1"
"""The events job's copy into the destination committed, nothing on disk says so: dlt would run it again."""
KILLED_RUN = f"""
import sys
sys.path.insert(0, {str(REPO)!r})
from tests.cli.kill_at import LoadStepEvents
LoadStepEvents(sys.argv[1], None).install()
exec(compile(sys.argv[2], "README.md", "exec"), {{}})
"""


def test_the_readme_s_own_pipeline_finishes_a_killed_load_without_doubling_a_row_then_loads_what_is_new(
    configured: RunningSimulator, tmp_path: Path
) -> None:
    _, own_pipeline = readme_python_examples()
    killed = subprocess.run([sys.executable, "-c", KILLED_RUN, KILLED_AT, own_pipeline], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300, check=False)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert dlt.attach("kognitos").has_pending_data
    configured.world.advance(timedelta(hours=2))

    exec(compile(own_pipeline, "README.md", "exec"), {})  # noqa: S102 - the README's own example, verbatim

    def query(sql: str) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(tmp_path / "kognitos.duckdb"), read_only=True) as connection:
            return connection.sql(sql.replace("kognitos.runs", "kognitos_raw.kognitos_runs")
                                  .replace("kognitos.", "kognitos_raw.")).fetchall()

    assert loaded_runs(query) == truth_runs(configured.world), "the killed load's runs and then the new ones"
    assert loaded_events(query) == truth_events(configured.world)  # each event once
    tables = {name for (name,) in query("SELECT table_name FROM information_schema.tables "
                                        "WHERE table_schema = 'kognitos_raw' AND table_name NOT LIKE '_dlt%'")}
    assert tables == {"workspaces", "automations", "kognitos_runs", "run_events"}
    assert not dlt.attach("kognitos").has_pending_data
