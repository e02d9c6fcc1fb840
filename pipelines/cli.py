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

from dlt.common.configuration.exceptions import ConfigFieldMissingException
from dlt.common.destination.exceptions import UnknownDestinationModule

from kognitos_analytics import DEFAULT_REPORT_DAYS, DEFAULT_REPORT_FILE

from . import __version__
from .demo import run_demo
from .destination import (
    DEFAULT_DATASET_NAME,
    DEFAULT_PIPELINE_NAME,
    duckdb_destination,
    make_pipeline,
    opened_read_only,
)
from .extras import require
from .kognitos import ExitCode, KognitosError
from .kognitos.errors import config_key, find_in_chain
from .progress import LIVE_PROGRESS
from .session import build_models, run_load
from .status import status_lines

# Errors of libraries beneath us that a user fixes by configuration; ours carry their exit code (KognitosError).
FOREIGN_EXIT_CODES: tuple[tuple[type[BaseException], ExitCode], ...] = (
    (ConfigFieldMissingException, ExitCode.CONFIG),
    (UnknownDestinationModule, ExitCode.CONFIG),
    (KeyboardInterrupt, ExitCode.INTERRUPTED),
)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `kognitos-elt`; returns the process exit code (see README, "Exit codes")."""
    parser = _parser()
    args, rest = parser.parse_known_args(argv)
    if args.command == "simulator":
        try:
            require("The simulator", "simulator")
        except KognitosError as error:
            return _report_failure(error, verbose=False)
        from kognitos_simulator.cli import main as simulator_main

        return simulator_main(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    # Our loggers say one line per table at INFO (each request at DEBUG with -v); others only warn. In a
    # terminal the summary says the same, so INFO lines are for logs (cron), where stderr is not a TTY.
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ours = logging.DEBUG if args.verbose else logging.WARNING if sys.stderr.isatty() else logging.INFO
    for name in ("kognitos_elt", "kognitos_analytics"):
        logging.getLogger(name).setLevel(ours)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        if args.command == "demo":
            run_demo(dataset_name=args.dataset_name, pipelines_dir=args.pipelines_dir, progress=_progress(args))
        elif args.command == "status":
            print("\n".join(status_lines(args.pipeline_name, args.pipelines_dir)))
        elif args.command == "report":
            print(f"Report written: {_report(args)}")
        elif args.command == "models":
            outcome = build_models(destination=_destination(args), dataset_name=args.dataset_name,
                                   pipeline_name=args.pipeline_name, pipelines_dir=args.pipelines_dir)
            print("\n".join([outcome.line(), *outcome.dbt_summary]))
        else:
            _run(args)
        return ExitCode.OK
    except BaseException as error:  # noqa: BLE001 - every failure becomes one paragraph and an exit code
        return _report_failure(error, args.verbose)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kognitos-elt", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
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
    report.add_argument("--days", type=int, default=DEFAULT_REPORT_DAYS,
                        help=f"days covered, ending at the last load (default {DEFAULT_REPORT_DAYS})")
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


def _run(args: argparse.Namespace) -> None:
    summary = run_load(
        destination=_destination(args), dataset_name=args.dataset_name, pipeline_name=args.pipeline_name,
        pipelines_dir=args.pipelines_dir, resources=_split(args.resources), refresh=args.refresh,
        progress=_progress(args), models=args.models,
    )
    print("\n".join(summary.lines()))
    if summary.models_failure:
        raise summary.models_failure


def _report(args: argparse.Namespace) -> Path:
    """Read the models where `run` loads and write the HTML report."""
    require("kognitos-elt report", "report")
    from kognitos_analytics.report import read_report, write_report

    pipeline = opened_read_only(make_pipeline(destination=_destination(args), dataset_name=args.dataset_name,
                                              pipeline_name=args.pipeline_name, pipelines_dir=args.pipelines_dir))
    return write_report(read_report(pipeline, zone=args.time_zone, days=args.days), Path(args.output))


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()] if value else []


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGTERM (a cron timeout) stops like Ctrl-C: state is only committed with the data it describes."""
    raise KeyboardInterrupt(f"signal {signum}")


def _report_failure(error: BaseException, verbose: bool) -> int:
    """One paragraph on stderr and the exit code: our errors carry theirs; a few of dlt's are configuration."""
    cause = find_in_chain(error, (KognitosError, *(kind for kind, _ in FOREIGN_EXIT_CODES))) or error
    if isinstance(cause, KognitosError):
        code = cause.exit_code
    else:
        code = next((code for kind, code in FOREIGN_EXIT_CODES if isinstance(cause, kind)), ExitCode.UNEXPECTED)
    if isinstance(cause, ConfigFieldMissingException):
        missing = ", ".join(f"{config_key(name)}" for name in cause.traces)
        message = (f"Missing configuration: {missing}. Set it in .dlt/config.toml (the token in .dlt/secrets.toml) "
                   "under [sources.kognitos], or as the environment variable.")
    elif isinstance(cause, KeyboardInterrupt):
        message = ("Interrupted. Nothing partial was committed: the next `kognitos-elt run` finishes what "
                   "was extracted and resumes from the last committed state.")
    elif code == ExitCode.UNEXPECTED and not isinstance(cause, KognitosError):
        message = (f"Unexpected error: {type(cause).__name__}: {cause}. Run again with --verbose for the "
                   "traceback; state was not advanced past data that was not loaded.")
    else:
        message = str(cause)
    if verbose:
        traceback.print_exception(error)
    print(f"kognitos-elt: {message}", file=sys.stderr)
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
