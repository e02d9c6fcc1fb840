"""The questions `kognitos-elt demo` answers from the models, as SQL an analyst can paste into DuckDB's shell."""

from __future__ import annotations

from pathlib import Path

import duckdb

from .builder import analytics_schema

QUESTIONS = (
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


def answer_lines(database: Path, dataset_name: str) -> list[str]:
    """Each question, its SQL and its answer's rows, read from the DuckDB file read-only."""
    lines = []
    with duckdb.connect(str(database), read_only=True) as connection:
        for title, sql in QUESTIONS:
            sql = sql.format(analytics=analytics_schema(dataset_name))
            lines.extend(["", f"-- {title}", f"{sql};"])
            lines.extend("   " + " | ".join(str(value) for value in row) for row in connection.sql(sql).fetchall())
    return lines
