"""`kognitos-elt demo`: the bundled simulator loaded into kognitos_demo.duckdb, the models' answers, the report."""

from __future__ import annotations

import sys
from pathlib import Path

from kognitos_analytics import DEFAULT_REPORT_FILE

from .destination import duckdb_destination, make_pipeline, opened_read_only
from .extras import require
from .session import run_load

DEMO_DATABASE = "kognitos_demo.duckdb"
DEMO_PIPELINE = "kognitos_demo"
DEMO_EXTRAS = ("analytics", "report", "simulator")


def run_demo(*, dataset_name: str, pipelines_dir: str | None, progress: str | None) -> None:
    """Load the simulator's demo organization from scratch, print what the models answer, write the report."""
    require("The demo (simulator, models and report)", *DEMO_EXTRAS)
    from kognitos_analytics.answers import answer_lines
    from kognitos_analytics.report import read_report, write_report
    from kognitos_simulator import SCALES, SimulatorSettings, running_simulator

    database = Path(DEMO_DATABASE).resolve()
    print("Starting the Kognitos API simulator (no account needed)...")
    with running_simulator(SimulatorSettings(scale=SCALES["demo"])) as simulator:
        summary = run_load(
            destination=duckdb_destination(dataset_name, str(database)), dataset_name=dataset_name,
            pipeline_name=DEMO_PIPELINE, pipelines_dir=pipelines_dir, refresh=True, progress=progress, models=True,
            source_options={"access_token": simulator.token, "base_url": simulator.base_url,
                            "organization_id": simulator.world.organization_id},
        )
    print("\n".join(summary.lines()))
    if summary.models_failure:
        raise summary.models_failure
    print("\n".join(["", f"Try it: {duckdb_shell()} -readonly {database}", *answer_lines(database, dataset_name)]))
    pipeline = opened_read_only(make_pipeline(destination=duckdb_destination(dataset_name, str(database)),
                                              dataset_name=dataset_name, pipeline_name=DEMO_PIPELINE,
                                              pipelines_dir=pipelines_dir))
    report = write_report(read_report(pipeline), Path(DEFAULT_REPORT_FILE))
    print(f"\nThe report, one page that opens offline: {report}")


def duckdb_shell() -> str:
    """DuckDB's shell as installed with the `analytics` extra (the duckdb-cli package), beside this interpreter."""
    beside = Path(sys.executable).with_name("duckdb")
    return str(beside) if beside.exists() else "duckdb"
