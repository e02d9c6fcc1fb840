"""The peer: the same endpoints loaded with dlt's declarative `rest_api` source, what a user would write instead.

Configured fairly: page_size 1000 on every list, the cursor paginator on `next_page_token`, the
parent/child chain workspaces -> automations -> runs -> events through resolved path placeholders,
`parallelized: True` on the events (the only fan-out), dlt's extract pool as wide as kognitos-elt's
request bound, and nested values kept as JSON columns (max_table_nesting=0, as kognitos-elt does) rather
than exploded into child tables. No incremental loading: every load is a full one.

Not loaded: execution outputs. `rest_api` cannot request a child only for some parent records (the
completed executions among the events) without listing the events twice, so the peer makes about one
request per completed execution fewer than kognitos-elt; compare rows/s, and read its request count.
"""

from __future__ import annotations

import os
from datetime import date, timedelta
from typing import Any

import dlt
from dlt.sources.rest_api import rest_api_source
from dlt.sources.rest_api.typing import RESTAPIConfig

PAGE_SIZE = 1000
DAILY_HISTORY_DAYS = 365
PIPELINE_NAME = "kognitos_rest_api"
DATASET_NAME = "kognitos_rest_api"


def peer_config(base_url: str, token: str, organization_id: str, today: date) -> RESTAPIConfig:
    """The `rest_api` configuration: resource names of the API (`organizations/o/workspaces/w`) are the paths."""
    start, end = today - timedelta(days=DAILY_HISTORY_DAYS + 1), today + timedelta(days=1)
    listing: dict[str, Any] = {"page_size": PAGE_SIZE}
    return {
        "client": {
            "base_url": base_url.rstrip("/") + "/api/v1/",
            "auth": {"type": "bearer", "token": token},
            "paginator": {"type": "cursor", "cursor_path": "next_page_token", "cursor_param": "page_token"},
        },
        "resource_defaults": {"write_disposition": "append"},
        "resources": [
            {"name": "workspaces", "endpoint": {
                "path": f"me/organizations/{organization_id}/workspaces", "params": listing,
                "data_selector": "user_workspaces"}},
            {"name": "automations", "endpoint": {
                "path": "{resources.workspaces.name}/automations", "params": {**listing, "show_deleted": "true"},
                "data_selector": "automations"}},
            {"name": "runs", "endpoint": {
                "path": "{resources.automations.name}/runs", "params": listing, "data_selector": "runs"}},
            {"name": "run_events", "parallelized": True, "include_from_parent": ["name"], "endpoint": {
                "path": "{resources.runs.name}/events", "params": listing, "data_selector": "run_events"}},
            {"name": "automation_run_aggregates", "endpoint": {
                "path": "{resources.workspaces.name}:automationRunAggregates", "paginator": "single_page",
                "data_selector": "automation_run_aggregates"}},
            {"name": "daily_run_aggregates", "endpoint": {
                "path": "{resources.workspaces.name}:dailyRunAggregates", "paginator": "single_page",
                "data_selector": "daily_run_aggregates",
                "params": {"time_zone": "UTC", "start_date.year": start.year, "start_date.month": start.month,
                           "start_date.day": start.day, "end_date.year": end.year, "end_date.month": end.month,
                           "end_date.day": end.day}}},
        ],
    }


def load(base_url: str, token: str, organization_id: str, duckdb_path: str, today: date,
         concurrency: int = 8) -> dict[str, int]:
    """One full load into a DuckDB file; rows written per table (dlt's own tables left out)."""
    # dlt runs parallelized transformers in its extract pool (5 threads by default): as wide as the source's bound.
    os.environ["EXTRACT__WORKERS"] = str(concurrency)
    source = rest_api_source(peer_config(base_url, token, organization_id, today), name="kognitos_rest_api",
                             max_table_nesting=0)
    pipeline = dlt.pipeline(pipeline_name=PIPELINE_NAME, dataset_name=DATASET_NAME,
                            destination=dlt.destinations.duckdb(credentials=duckdb_path))
    pipeline.run(source)
    trace = pipeline.last_trace
    normalize: Any = trace.last_normalize_info if trace else None
    counts: dict[str, int] = normalize.row_counts if normalize else {}
    return {table: rows for table, rows in counts.items() if not table.startswith("_dlt")}
