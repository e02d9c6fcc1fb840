"""`kognitos-elt status`: what the pipeline has loaded and what it is tracking, read from dlt's own state."""

from __future__ import annotations

from typing import Any

import dlt
from dlt.destinations.exceptions import DatabaseUndefinedRelation
from dlt.pipeline.exceptions import CannotRestorePipelineException

from kognitos_analytics.builder import status_line as models_status_line

from .destination import duckdb_destination, opened_read_only
from .kognitos.tables import TABLES


def status_lines(pipeline_name: str, pipelines_dir: str | None = None) -> list[str]:
    """A readable report: last successful load, rows per table, cursors and open runs being tracked."""
    try:
        options: dict[str, Any] = {"pipelines_dir": pipelines_dir} if pipelines_dir else {}
        pipeline = dlt.attach(pipeline_name, **options)
    except CannotRestorePipelineException:
        return _nothing_loaded(pipeline_name, pipelines_dir)
    if isinstance(pipeline.destination, dlt.destinations.duckdb):
        # attach() restores dlt's default file, <pipeline name>.duckdb; `run` loads the configured or default one
        pipeline.destination = duckdb_destination(pipeline.dataset_name)
    pipeline = opened_read_only(pipeline)
    destination = pipeline.destination.destination_name if pipeline.destination else "no destination"
    dataset = pipeline.dataset()
    try:
        last_load = dataset.query("SELECT max(inserted_at) FROM _dlt_loads WHERE status = 0").fetchone()
        rows = dict(dataset.row_counts().fetchall())
    except DatabaseUndefinedRelation:  # the pipeline ran, but nothing reached the destination
        return _nothing_loaded(pipeline_name, pipelines_dir)
    lines = [f"Pipeline {pipeline_name!r}: dataset {pipeline.dataset_name!r} on {destination}",
             f"Last successful load: {last_load[0] if last_load and last_load[0] else 'never'}",
             "Rows per table:"]
    lines.extend(f"  {table:<28} {count:>12,}" for table, count in sorted(rows.items()))
    lines.extend(_tracking_lines(pipeline.state.get("sources", {}).get("kognitos", {})))
    if models := models_status_line(pipeline):
        lines.append(models)
    return lines


def _nothing_loaded(pipeline_name: str, pipelines_dir: str | None) -> list[str]:
    return [
        f"Nothing loaded yet by pipeline {pipeline_name!r} (pipelines dir: {pipelines_dir or 'dlt default'}).",
        "Start with `kognitos-elt run` once [sources.kognitos] is configured (README, Configuration), or try "
        "`kognitos-elt demo` on the bundled simulator. Another --pipeline-name / --pipelines-dir? Pass them here too.",
    ]


def _tracking_lines(source_state: dict[str, Any]) -> list[str]:
    """What each table keeps between loads says of itself (its `state` in the source's tables.py)."""
    return [line for table in TABLES if table.state for line in table.state.saved_in(source_state).status_lines()]
