"""The analytics models (the dbt project in this folder), built in the destination a load wrote to.

dbt runs in its own process: its imports and memory stay out of the loader's, and one invocation costs ~3 s, so
`kognitos-elt run` invokes it only when the models would change: the models are views (current by themselves
as rows arrive) and a fingerprint of what they are built from is kept beside them in `build_info`.
The dbt profile is written here from the dlt destination's own credentials (dlt's dbt runner writes one that
loads DuckDB's `httpfs` extension, which DuckDB downloads at run time); secrets reach dbt only through
`DBT_ENV_SECRET_*` variables, which dbt scrubs from its logs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import dlt
from dlt.destinations.exceptions import DatabaseUndefinedRelation

from kognitos_analytics import PROJECT_DIR
from kognitos_elt.extras import EXTRAS, absent, install_command, require
from kognitos_elt.kognitos import ExitCode, KognitosError
from kognitos_elt.kognitos.tables import TABLES

logger = logging.getLogger(__name__)

PROFILE_NAME = "kognitos_analytics"
"""The profile the project names in dbt_project.yml."""
ANALYTICS_SCHEMA_SUFFIX = "_analytics"
"""dbt puts the models in `<target schema>_<custom schema>`: the project's custom schema is `analytics`."""
BUILD_INFO_TABLE = "build_info"


def tables_read_by_models() -> set[str]:
    """The tables the project's SQL (models and macros) reads through `source('kognitos', ...)`."""
    sql = "\n".join(path.read_text() for path in sorted(PROJECT_DIR.rglob("*.sql")))
    return set(re.findall(r"""source\(\s*['"]kognitos['"]\s*,\s*['"](\w+)['"]\s*\)""", sql))


SOURCE_TABLES = tuple(table.name for table in TABLES if table.name in tables_read_by_models())
"""The loaded tables the models read: without one of them the models cannot be built."""
PASSWORD_VARIABLE = "DBT_ENV_SECRET_KOGNITOS_PASSWORD"
DBT_ADAPTERS = {"duckdb": "dbt-duckdb", "postgres": "dbt-postgres"}
"""The destinations whose dbt adapter the `analytics` extra installs; others can use the project as a dbt package."""
SUPPORTED_DESTINATIONS = tuple(DBT_ADAPTERS)
BUILD_AFTER_LOAD_KEY = "analytics.build_after_load"
"""`[analytics] build_after_load = false` (env ANALYTICS__BUILD_AFTER_LOAD) stops `kognitos-elt run` building them."""
DBT_DUCKDB_SETTINGS = {"memory_limit": "512MB", "preserve_insertion_order": False}
"""DuckDB's settings while dbt builds: a memory cap (docs/design.md, "node_timings"), which
`[analytics] duckdb_memory_limit` changes."""
DUCKDB_MEMORY_LIMIT_KEY = "analytics.duckdb_memory_limit"
DBT_OUTPUT_TAIL = 25
"""dbt's last lines kept for an error message: its summary of what failed."""


class ModelsError(KognitosError):
    """dbt could not build or test the models; the load before it is committed."""

    exit_code = ExitCode.MODELS


@dataclass
class ModelsOutcome:
    """What happened to the models after a load, for the summary."""

    built: bool
    message: str
    seconds: float = 0.0
    dbt_summary: list[str] = field(default_factory=list)
    results: dict[str, str] = field(default_factory=dict)
    """Each model's and test's status in dbt's run_results.json ("success", "pass", "fail", ...), by name."""

    def line(self) -> str:
        timing = f" in {self.seconds:.1f}s" if self.built else ""
        return f"Analytics models: {self.message}{timing}."


def analytics_schema(dataset_name: str) -> str:
    return f"{dataset_name}{ANALYTICS_SCHEMA_SUFFIX}"


def refresh_after_load(pipeline: dlt.Pipeline, *, scope: dict[str, bool], events_loaded: bool) -> ModelsOutcome:
    """Build every model from scratch when they are missing or what they are built from changed; else bring the
    incremental tables up to date when the load wrote run_events (they read nothing else); else do nothing."""
    destination = pipeline.destination.destination_name if pipeline.destination else ""
    if destination not in SUPPORTED_DESTINATIONS:
        return ModelsOutcome(False, f"not built on {destination or 'no destination'} (built on "
                                    f"{' and '.join(SUPPORTED_DESTINATIONS)}; elsewhere add the dbt package, README)")
    if not_installed := absent(*EXTRAS["analytics"], DBT_ADAPTERS[destination]):
        return ModelsOutcome(False, f"not built: they need {', '.join(not_installed)}: "
                                    f"{install_command('analytics')}")
    present, built_from = _destination_facts(pipeline)
    if not_loaded := [table for table in SOURCE_TABLES if table not in present]:
        return ModelsOutcome(False, f"not built yet: they need the table(s) {', '.join(not_loaded)}, not loaded so "
                                    "far")
    variables = model_variables(pipeline, scope)
    if built_from != variables["kognitos_build_fingerprint"]:
        return run_dbt(pipeline, "run", variables, "--full-refresh")
    if events_loaded:
        outcome = run_dbt(pipeline, "run", variables, "--select", "config.materialized:incremental")
        outcome.message = f"{', '.join(sorted(outcome.results))} brought up to date with the new events"
        return outcome
    return ModelsOutcome(False, f"current in {analytics_schema(pipeline.dataset_name)} (nothing to rebuild)")


def model_variables(pipeline: dlt.Pipeline, scope: dict[str, bool]) -> dict[str, Any]:
    """The dbt vars of a build (`scope`: what the source loads, `loaded_scope`), with the fingerprint of everything
    the built models depend on."""
    variables: dict[str, Any] = {"kognitos_schema": pipeline.dataset_name, **scope}
    digest = hashlib.sha256()
    for path in sorted(PROJECT_DIR.rglob("*")):
        if path.suffix in (".sql", ".yml"):
            digest.update(str(path.relative_to(PROJECT_DIR)).encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(json.dumps([variables, version("dbt-core"), pipeline.default_schema.version_hash]).encode())
    variables["kognitos_build_fingerprint"] = digest.hexdigest()
    return variables


def run_dbt(pipeline: dlt.Pipeline, command: str, variables: dict[str, Any], *options: str) -> ModelsOutcome:
    """`dbt run` or `dbt build` (run and test) in a child process; `ModelsError` with dbt's own words if it fails."""
    started = time.monotonic()
    target, secrets = dbt_profile(pipeline)
    work_dir = Path(pipeline.working_dir) / "dbt"
    with tempfile.TemporaryDirectory(prefix="kognitos-dbt-") as profiles_dir:
        profile = {PROFILE_NAME: {"target": "kognitos", "outputs": {"kognitos": target}}}
        Path(profiles_dir, "profiles.yml").write_text(json.dumps(profile))  # JSON is YAML
        arguments = [sys.executable, "-c", "from dbt.cli.main import cli; cli()", command,
                     "--project-dir", str(PROJECT_DIR), "--profiles-dir", profiles_dir,
                     "--target-path", str(work_dir / "target"), "--log-path", str(work_dir / "logs"),
                     "--vars", json.dumps(variables), "--no-use-colors", *options]
        environment = {**os.environ, **secrets, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
        logger.info("Building the analytics models: dbt %s into %s", command, analytics_schema(pipeline.dataset_name))
        finished = subprocess.run(arguments, env=environment, capture_output=True, text=True, check=False)
    lines = finished.stdout.splitlines()
    for line in lines:
        logger.debug("dbt: %s", line)
    if finished.returncode != 0:
        detail = "\n".join(lines[-DBT_OUTPUT_TAIL:] or finished.stderr.splitlines()[-DBT_OUTPUT_TAIL:])
        raise ModelsError(
            f"dbt {command} of the analytics models failed (exit {finished.returncode}); the load itself is "
            f"committed. dbt said:\n{detail}\nLogs: {work_dir / 'logs'}. Fix and run `kognitos-elt models`."
        )
    summary = [line.split("  ", 1)[-1].strip() for line in lines if "Done. PASS=" in line or "Finished running" in line]
    what = "built and tested" if command == "build" else "built"
    return ModelsOutcome(True, f"{what} in {analytics_schema(pipeline.dataset_name)}",
                         time.monotonic() - started, summary, _results(work_dir / "target" / "run_results.json"))


def _results(run_results: Path) -> dict[str, str]:
    """dbt's record of the invocation: each node's status by its name (the model's or the test's)."""
    return {result["unique_id"].split(".")[2]: result["status"]  # <type>.<package>.<name>[.<hash>]
            for result in json.loads(run_results.read_text())["results"]}


def dbt_profile(pipeline: dlt.Pipeline) -> tuple[dict[str, Any], dict[str, str]]:
    """The dbt target for the pipeline's destination, and the environment holding its secrets."""
    with pipeline.destination_client() as client:
        credentials: Any = client.config.credentials  # type: ignore[attr-defined]
    common = {"schema": pipeline.dataset_name, "threads": 2}
    if pipeline.destination.destination_name == "duckdb":
        settings = {**DBT_DUCKDB_SETTINGS, "memory_limit": dlt.config.get(DUCKDB_MEMORY_LIMIT_KEY)
                    or DBT_DUCKDB_SETTINGS["memory_limit"]}
        return {"type": "duckdb", "path": str(Path(credentials.database).resolve()), "settings": settings,
                **common}, {}
    target = {"type": "postgres", "host": credentials.host, "port": int(credentials.port or 5432),
              "user": credentials.username, "dbname": credentials.database,
              "password": "{{ env_var('" + PASSWORD_VARIABLE + "') }}", **common}
    if sslmode := (credentials.query or {}).get("sslmode"):
        target["sslmode"] = sslmode
    return target, {PASSWORD_VARIABLE: str(credentials.password or "")}


def drop_models(pipeline: dlt.Pipeline) -> None:
    """Drop the models' schema: dlt's `--refresh` drops the loaded tables, which PostgreSQL refuses under views."""
    if not pipeline.destination or pipeline.destination.destination_name not in SUPPORTED_DESTINATIONS:
        return
    with pipeline.sql_client() as client:
        schema = client.capabilities.escape_identifier(analytics_schema(pipeline.dataset_name))
        client.execute_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def status_line(pipeline: dlt.Pipeline) -> str | None:
    """For `kognitos-elt status`: when the models were last built, or that they were not; None where not built."""
    if not pipeline.destination or pipeline.destination.destination_name not in SUPPORTED_DESTINATIONS:
        return None
    schema = analytics_schema(pipeline.dataset_name)
    with pipeline.sql_client() as client:
        escape = client.capabilities.escape_identifier
        try:
            built = client.execute_sql(f"SELECT built_at FROM {escape(schema)}.{escape(BUILD_INFO_TABLE)}")
        except DatabaseUndefinedRelation:
            built = None
    if not built:
        return "Analytics models: not built yet (`kognitos-elt run` builds them after a load, or `kognitos-elt models`)"
    return f"Analytics models: last built {built[0][0]:%Y-%m-%d %H:%M:%S} UTC, in {schema}"


def _destination_facts(pipeline: dlt.Pipeline) -> tuple[set[str], str | None]:
    """The loaded tables present in the destination, and the fingerprint the models were last built from."""
    models = analytics_schema(pipeline.dataset_name)
    with pipeline.sql_client() as client:
        rows = client.execute_sql(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema IN (%s, %s)",
            pipeline.dataset_name, models,
        ) or []
        present = {name for schema, name in rows if schema == pipeline.dataset_name}
        if (models, BUILD_INFO_TABLE) not in {tuple(row) for row in rows}:
            return present, None
        escape = client.capabilities.escape_identifier
        try:
            built = client.execute_sql(f"SELECT fingerprint FROM {escape(models)}.{escape(BUILD_INFO_TABLE)}")
        except DatabaseUndefinedRelation:
            return present, None
    return present, built[0][0] if built else None


def build_and_test(pipeline: dlt.Pipeline) -> ModelsOutcome:
    """`kognitos-elt models`: build the models and run their dbt tests, or say what is missing first."""
    destination = pipeline.destination.destination_name if pipeline.destination else ""
    require("Building the analytics models", "analytics", also=(DBT_ADAPTERS.get(destination, "dbt-core"),))
    if not pipeline.default_schema_name:
        raise ModelsError(f"Nothing loaded yet by pipeline {pipeline.pipeline_name!r}: run `kognitos-elt run` "
                          "first (the same --pipeline-name, --destination and --dataset-name).")
    present, _ = _destination_facts(pipeline)
    if not_loaded := [table for table in SOURCE_TABLES if table not in present]:
        raise ModelsError(f"The models read the table(s) {', '.join(not_loaded)}, which are not in dataset "
                          f"{pipeline.dataset_name!r}: load them with `kognitos-elt run` (all resources) first.")
    return run_dbt(pipeline, "build", model_variables(pipeline, loaded_scope()))


def build_after_load() -> bool:
    """Whether `kognitos-elt run` builds the models after a load (the `[analytics] build_after_load` setting)."""
    return dlt.config.get(BUILD_AFTER_LOAD_KEY, bool) is not False


def loaded_scope(source_options: dict[str, Any] | None = None) -> dict[str, bool]:
    """The dbt vars that say what the source loads, from its options or config: `kognitos_all_automations` is false
    when it loads only some automations (workspace totals then cannot match their runs), `kognitos_all_history`
    when a `start_date` leaves older runs out (an exception raised since may belong to a run not loaded)."""
    def option(name: str) -> Any:
        return (source_options or {}).get(name) or dlt.config.get(f"sources.kognitos.{name}")

    return {"kognitos_all_automations": not option("automation_ids"), "kognitos_all_history": not option("start_date")}
