"""`kognitos-elt status`: what the pipeline has loaded and what it is tracking, read from dlt's own state."""

from __future__ import annotations

from typing import Any

import dlt
from dlt.pipeline.exceptions import CannotRestorePipelineException

from sources.kognitos.resources import DAILY_STATE_KEY, EVENTS_STATE_KEY, RUNS_STATE_KEY


class NoPipelineError(RuntimeError):
    """The pipeline has never run in this pipelines directory."""


def status_lines(pipeline_name: str, pipelines_dir: str | None = None) -> list[str]:
    """A readable report: last successful load, rows per table, cursors and open runs being tracked."""
    try:
        options: dict[str, Any] = {"pipelines_dir": pipelines_dir} if pipelines_dir else {}
        pipeline = dlt.attach(pipeline_name, **options)
    except CannotRestorePipelineException:
        raise NoPipelineError(
            f"No pipeline {pipeline_name!r} has run here yet (pipelines dir: {pipelines_dir or 'dlt default'}). "
            "Run `kognitos-elt run` first, or pass the --pipeline-name / --pipelines-dir it used."
        ) from None
    destination = pipeline.destination.destination_name if pipeline.destination else "no destination"
    lines = [f"Pipeline {pipeline_name!r}: dataset {pipeline.dataset_name!r} on {destination}"]
    with pipeline.sql_client() as client:
        loads = client.execute_sql(f"SELECT max(inserted_at) FROM {client.make_qualified_table_name('_dlt_loads')} "
                                   "WHERE status = 0")
        lines.append(f"Last successful load: {loads[0][0] if loads and loads[0][0] else 'never'}")
        lines.append("Rows per table:")
        for table in sorted(pipeline.default_schema.data_table_names()):
            count = client.execute_sql(f"SELECT count(*) FROM {client.make_qualified_table_name(table)}") or [[0]]
            lines.append(f"  {table:<28} {count[0][0]:>12,}")
    lines.extend(_tracking_lines(pipeline.state.get("sources", {}).get("kognitos", {}).get("resources", {})))
    return lines


def _tracking_lines(resources: dict[str, Any]) -> list[str]:
    automations = resources.get("runs", {}).get(RUNS_STATE_KEY, {})
    cursors = [state["cursor"] for state in automations.values() if state.get("cursor")]
    open_runs = sum(len(state.get("open", {})) for state in automations.values())
    events_open = len(resources.get("run_events", {}).get(EVENTS_STATE_KEY, {}))
    series = resources.get("daily_run_aggregates", {}).get(DAILY_STATE_KEY, {})
    return [
        f"Runs: {len(automations)} automation cursor(s), newest run created {max(cursors) if cursors else 'never'}",
        f"Open runs refreshed on every load: {open_runs} (events still being appended for {events_open})",
        f"Daily aggregate series: {len(series)}, loaded up to {max(series.values()) if series else 'never'}",
    ]
