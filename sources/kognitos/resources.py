"""One module-level function per table: dlt wiring only (state, pages in, rows out).

The logic lives in pure modules: records.py maps API objects to rows, open_runs.py decides what is new
and what to refresh, filters.py builds the AIP-160 filters.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import dlt

from . import paths
from .client import KognitosClient
from .config import SourceConfig
from .errors import NotFoundError
from .filters import created_at_or_after
from .open_runs import RunTracker
from .records import Row, automation_row, run_row, run_state, short_id, workspace_row
from .stats import LoadStats
from .timestamps import timestamp_key

logger = logging.getLogger(__name__)

RUNS_STATE_KEY = "automations_v1"


def workspaces(client: KognitosClient, config: SourceConfig) -> Iterator[list[Row]]:
    """The configured workspaces, or every workspace the token can see in the organization."""
    org = config.organization_id
    if config.workspace_ids:
        rows = []
        for ws in config.workspace_ids:
            try:
                rows.append(workspace_row(client.get(paths.workspace(org, ws)), org))
            except NotFoundError as error:
                error.args = (f"Workspace {ws!r} (from workspace_ids) was not found. {error}",)
                raise
        yield rows
        return
    try:
        for page in client.pages(paths.user_workspaces(org), "user_workspaces", {"page_size": config.page_size}):
            yield [workspace_row(ws, org) for ws in page]
    except NotFoundError as error:
        error.args = (f"Organization {org!r} (from organization_id) was not found. {error}",)
        raise


def automations(workspace_rows: list[Row], client: KognitosClient, config: SourceConfig) -> Iterator[list[Row]]:
    """Automations of each workspace, deleted ones included (with `delete_time`) so old runs still join."""
    wanted = set(config.automation_ids)
    for ws in workspace_rows:
        org, ws_id = ws["organization_id"], ws["workspace_id"]
        params = {"page_size": config.page_size, "show_deleted": "true"}
        for page in client.pages(paths.automations(org, ws_id), "automations", params):
            rows = [automation_row(a, org, ws_id) for a in page]
            if wanted:
                rows = [row for row in rows if row["automation_id"] in wanted]
            if rows:
                yield rows


def runs(
    automation_rows: list[Row], client: KognitosClient, config: SourceConfig, stats: LoadStats
) -> Iterator[list[Row]]:
    """New runs, and open runs whose state moved, of each automation, with a cursor per automation."""
    state: dict[str, Any] = dlt.current.resource_state().setdefault(RUNS_STATE_KEY, {})
    for automation in automation_rows:
        if automation["delete_time"] is not None:
            continue  # runs of deleted automations cannot be listed any more; loaded ones stay.
        key = f"{automation['workspace_id']}/{automation['automation_id']}"
        tracker = RunTracker.from_state(state.get(key))
        yield from _automation_runs(automation, tracker, client, config)
        stats.add("runs_new", tracker.new_count)
        stats.add("runs_updated", tracker.updated_count)
        state[key] = tracker.to_state()


def _automation_runs(
    automation: Row, tracker: RunTracker, client: KognitosClient, config: SourceConfig
) -> Iterator[list[Row]]:
    org, ws, auto = automation["organization_id"], automation["workspace_id"], automation["automation_id"]
    plan = tracker.plan(config.start_key, config.page_size)
    params: dict[str, str | int | bool] = {"page_size": config.page_size}
    if plan.list_from is not None:
        params["filter"] = created_at_or_after(plan.list_from)

    def accepted(api_runs: list[dict[str, Any]]) -> list[Row]:
        return [run_row(run, org, ws, auto) for run in api_runs if _accept(tracker, run)]

    for page in client.pages(paths.runs(org, ws, auto), "runs", params):
        if rows := accepted(page):
            yield rows
    for run_id in (*plan.get_run_ids, *tracker.unseen_open(plan)):
        try:
            run = client.get(paths.run(org, ws, auto, run_id))
        except NotFoundError:
            logger.info("Run %s of automation %s no longer exists; it stays as last loaded", run_id, auto)
            tracker.forget(run_id)
            continue
        if rows := accepted([run]):
            yield rows


def _accept(tracker: RunTracker, run: dict[str, Any]) -> bool:
    update = run.get("update_time") or (run.get("state") or {}).get("update_time") or run["create_time"]
    return tracker.accept(short_id(run["name"]), timestamp_key(run["create_time"]), timestamp_key(update),
                          run_state(run)[0])
