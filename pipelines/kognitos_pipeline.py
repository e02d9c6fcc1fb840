"""The `kognitos-elt` command: run (the cron/analyst load), models, report, status, demo, simulator."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import duckdb
from dlt.common.configuration.exceptions import ConfigFieldMissingException
from dlt.common.destination.exceptions import UnknownDestinationModule

from sources.kognitos import (
    ApiError,
    AuthError,
    ConfigError,
    ConnectionSetupError,
    InvalidRequestError,
    NotFoundError,
    RetryableError,
)
from sources.kognitos.errors import config_key

from .loading import (
    DEFAULT_DATASET_NAME,
    DEFAULT_PIPELINE_NAME,
    DuckDBMemoryError,
    DuckDBPathError,
    LoadSummary,
    PipelineLockedError,
    ResourceSelectionError,
    build_models,
    duckdb_destination,
    find_in_chain,
    kognitos_pipeline,
    run_load,
)
from .models import ModelsError, analytics_schema
from .progress import LIVE_PROGRESS
from .report import DEFAULT_DAYS, DEFAULT_REPORT_FILE, read_report, write_report
from .status import status_lines

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_CONFIG = 2
EXIT_LOCKED = 3
EXIT_AUTH = 4
EXIT_API = 5
EXIT_UNAVAILABLE = 6
EXIT_MODELS = 7
EXIT_INTERRUPTED = 130

# Most specific first: the first class an error is an instance of decides the exit code.
EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = (
    (ConfigError, EXIT_CONFIG),
    (ConnectionSetupError, EXIT_CONFIG),
    (ConfigFieldMissingException, EXIT_CONFIG),
    (UnknownDestinationModule, EXIT_CONFIG),
    (DuckDBPathError, EXIT_CONFIG),
    (DuckDBMemoryError, EXIT_CONFIG),
    (ResourceSelectionError, EXIT_CONFIG),
    (PipelineLockedError, EXIT_LOCKED),
    (AuthError, EXIT_AUTH),
    (NotFoundError, EXIT_API),
    (InvalidRequestError, EXIT_API),
    (RetryableError, EXIT_UNAVAILABLE),
    (ApiError, EXIT_API),
    (ModelsError, EXIT_MODELS),
    (KeyboardInterrupt, EXIT_INTERRUPTED),
)

DEMO_QUERIES = (
    (
        "How each automation is doing (last 30 days before the last load)",
        "SELECT automation_display_name AS automation, runs_last_30_days AS runs, "
        "round(100 * success_rate_last_30_days, 1) AS success_pct, round(median_duration_seconds, 1) AS median_s, "
        "open_runs, awaiting_guidance_now AS awaiting FROM {analytics}.automation_health "
        "ORDER BY runs_last_30_days DESC LIMIT 5",
    ),
    (
        "Why runs fail",
        "SELECT workspace_title AS workspace, automation_display_name AS automation, error_description, failures, "
        "last_seen "
        "FROM {analytics}.failure_reasons ORDER BY failures DESC LIMIT 5",
    ),
    (
        "Runs waiting for a human",
        "SELECT automation_display_name AS automation, round(in_state_seconds / 3600, 1) AS waiting_hours, "
        "exception_description FROM {analytics}.open_runs WHERE waits_for_human ORDER BY in_state_seconds DESC LIMIT 5",
    ),
    (
        "Slowest steps",
        "SELECT coalesce(book_name || '.' || function_name, node_kind) AS step, count(*) AS executions, "
        "round(median(duration_ms)) AS median_ms FROM {analytics}.node_timings GROUP BY ALL "
        "ORDER BY median_ms DESC LIMIT 5",
    ),
)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `kognitos-elt`; returns the process exit code (see README, "Exit codes")."""
    parser = _parser()
    args, rest = parser.parse_known_args(argv)
    if args.command == "simulator":
        from kognitos_simulator.cli import main as simulator_main

        return simulator_main(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    # Our loggers say one line per table at INFO (each request at DEBUG with -v); others only warn. In a
    # terminal the summary says the same, so INFO lines are for logs (cron), where stderr is not a TTY.
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ours = logging.DEBUG if args.verbose else logging.WARNING if sys.stderr.isatty() else logging.INFO
    for name in ("sources", "pipelines"):
        logging.getLogger(name).setLevel(ours)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        if args.command == "demo":
            return _demo(args)
        if args.command == "status":
            print("\n".join(status_lines(args.pipeline_name, args.pipelines_dir)))
            return EXIT_OK
        if args.command == "report":
            path = _report(args.pipeline_name, args.pipelines_dir, _destination(args), args.dataset_name,
                           Path(args.output), zone=args.time_zone, days=args.days)
            print(f"Report written: {path}")
            return EXIT_OK
        if args.command == "models":
            outcome = build_models(destination=_destination(args), dataset_name=args.dataset_name,
                                   pipeline_name=args.pipeline_name, pipelines_dir=args.pipelines_dir)
            print("\n".join([outcome.line(), *outcome.dbt_summary]))
            return EXIT_OK
        return _run(args)
    except BaseException as error:  # noqa: BLE001 - every failure becomes one paragraph and an exit code
        return _report_failure(error, args.verbose)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kognitos-elt", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="load Kognitos into DuckDB (or any dlt destination), incrementally")
    demo = commands.add_parser("demo", help="start the bundled API simulator and load it into kognitos_demo.duckdb")
    models = commands.add_parser("models", help="build and test the analytics models where `run` loads")
    report = commands.add_parser("report", help="write the analytics models as one offline HTML page")
    status = commands.add_parser("status", help="when each table last loaded, row counts, cursors and open runs")
    for command in (run, demo, models, report, status):
        command.add_argument("--pipelines-dir", help="where dlt keeps pipeline state (default: dlt's)")
        command.add_argument("-v", "--verbose", action="store_true", help="debug logs and tracebacks")
    for command in (run, models, report, status):
        command.add_argument("--pipeline-name", default=DEFAULT_PIPELINE_NAME)
    for command in (run, models, report):
        command.add_argument("--destination", default="duckdb", help="any dlt destination name (default duckdb)")
    for command in (run, demo, models, report):
        command.add_argument("--dataset-name", default=DEFAULT_DATASET_NAME)
    for command in (run, demo):
        command.add_argument("--progress",
                             choices=(LIVE_PROGRESS, "log", "tqdm", "enlighten", "alive_progress", "none"),
                             help=f"progress display; default {LIVE_PROGRESS!r} (one updating line) in a terminal, "
                                  "none under cron; the others are dlt's")
    report.add_argument("--output", default=DEFAULT_REPORT_FILE, help=f"the HTML file (default {DEFAULT_REPORT_FILE})")
    report.add_argument("--time-zone", help="the zone of the report's days (default UTC, or the models' first zone)")
    report.add_argument("--days", type=int, default=DEFAULT_DAYS,
                        help=f"days covered, ending at the last load (default {DEFAULT_DAYS})")
    run.add_argument("--resources", help="comma-separated resources to load (default: all)")
    run.add_argument("--refresh", action="store_true", help="drop loaded tables and state, load from scratch")
    run.add_argument("--no-models", dest="models", action="store_false", default=None,
                     help="do not build the analytics models after this load (see [analytics] build_after_load)")
    commands.add_parser("simulator", help="serve the Kognitos API simulator (see `simulator --help`)",
                        add_help=False)
    return parser


def _progress(args: argparse.Namespace) -> str | None:
    if args.progress == "none":
        return None
    return args.progress or (LIVE_PROGRESS if sys.stderr.isatty() else None)


def _destination(args: argparse.Namespace) -> Any:
    """DuckDB (the default) at its configured or default path; any other dlt destination by its name."""
    return duckdb_destination(args.dataset_name) if args.destination == "duckdb" else args.destination


def _run(args: argparse.Namespace) -> int:
    summary = run_load(
        destination=_destination(args), dataset_name=args.dataset_name, pipeline_name=args.pipeline_name,
        pipelines_dir=args.pipelines_dir, resources=_split(args.resources), refresh=args.refresh,
        progress=_progress(args), models=args.models,
    )
    print("\n".join(summary.lines()))
    if summary.models_failure:
        raise summary.models_failure
    return EXIT_OK


def _demo(args: argparse.Namespace) -> int:
    from kognitos_simulator import SCALES, SimulatorSettings, running_simulator

    database = Path("kognitos_demo.duckdb").resolve()
    print("Starting the Kognitos API simulator (no account needed)...")
    with running_simulator(SimulatorSettings(scale=SCALES["demo"])) as simulator:
        summary = run_load(
            destination=duckdb_destination(args.dataset_name, str(database)), dataset_name=args.dataset_name,
            pipeline_name="kognitos_demo", pipelines_dir=args.pipelines_dir, refresh=True,
            progress=_progress(args), models=True,
            source_options={"access_token": simulator.token, "base_url": simulator.base_url,
                            "organization_id": simulator.world.organization_id},
        )
    print("\n".join(summary.lines()))
    _print_examples(summary, database, args.dataset_name)
    report = _report("kognitos_demo", args.pipelines_dir, duckdb_destination(args.dataset_name, str(database)),
                     args.dataset_name, Path(DEFAULT_REPORT_FILE))
    print(f"\nThe report, one page that opens offline: {report}")
    return EXIT_OK


def _report(pipeline_name: str, pipelines_dir: str | None, destination: Any, dataset_name: str, output: Path,
            zone: str | None = None, days: int = DEFAULT_DAYS) -> Path:
    """Read the models where `run` loads and write the HTML report."""
    pipeline = kognitos_pipeline(destination=destination, dataset_name=dataset_name, pipeline_name=pipeline_name,
                                 pipelines_dir=pipelines_dir)
    return write_report(read_report(pipeline, zone=zone, days=days), output)


def _print_examples(summary: LoadSummary, database: Path, dataset_name: str) -> None:
    print(f"\nTry it: {duckdb_shell()} -readonly {database}")
    with duckdb.connect(str(database), read_only=True) as connection:
        for title, sql in DEMO_QUERIES:
            sql = sql.format(analytics=analytics_schema(dataset_name))
            print(f"\n-- {title}\n{sql};")
            for row in connection.sql(sql).fetchall():
                print("   " + " | ".join(str(value) for value in row))


def duckdb_shell() -> str:
    """DuckDB's shell as installed with this project (the duckdb-cli package), beside this interpreter."""
    beside = Path(sys.executable).with_name("duckdb")
    return str(beside) if beside.exists() else "duckdb"


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()] if value else []


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGTERM (a cron timeout) stops like Ctrl-C: state is only committed with the data it describes."""
    raise KeyboardInterrupt(f"signal {signum}")


def _report_failure(error: BaseException, verbose: bool) -> int:
    cause = find_in_chain(error, tuple(kind for kind, _ in EXIT_CODES)) or error
    code = next((code for kind, code in EXIT_CODES if isinstance(cause, kind)), EXIT_UNEXPECTED)
    if isinstance(cause, ConfigFieldMissingException):
        missing = ", ".join(f"{config_key(name)}" for name in cause.traces)
        message = (f"Missing configuration: {missing}. Set it in .dlt/config.toml (the token in .dlt/secrets.toml) "
                   "under [sources.kognitos], or as the environment variable.")
    elif isinstance(cause, KeyboardInterrupt):
        message = ("Interrupted. Nothing partial was committed: the next `kognitos-elt run` finishes what "
                   "was extracted and resumes from the last committed state.")
    elif code == EXIT_UNEXPECTED:
        message = (f"Unexpected error: {type(cause).__name__}: {cause}. Run again with --verbose for the "
                   "traceback; state was not advanced past data that was not loaded.")
    else:
        message = str(cause)
    if verbose:
        traceback.print_exception(error)
    print(f"kognitos-elt: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
