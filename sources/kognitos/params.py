"""The query parameters of each request the source sends (kognitos-api.md §1.5, §3); filters.py writes the filters.

Every list request asks for `page_size` items (the API's cap, 1000, unless configured lower to test paging); the
client sends the same parameters with every page of a listing, adding only the page token.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta

from .filters import NOT_RESOLVED, automation_id_in, created_at_or_after, exception_runs_in
from .settings import WORKSPACE_WIDE

Params = Mapping[str, str | int | bool]


def list_params(page_size: int) -> Params:
    """Workspaces and run events: every item, `page_size` at a time.

    Run events are not filtered by node kind here even when `node_kinds` is set: the API's `node_kind` filter keeps
    only node events, and execution outputs are found through `completed` entries, which have no node.
    """
    return {"page_size": page_size}


def automations_params(page_size: int) -> Params:
    """Automations, deleted ones included: their runs still load and join."""
    return {"page_size": page_size, "show_deleted": "true"}


def runs_params(page_size: int, created_from: str | None) -> Params:
    """Runs created at or after `created_from` (a timestamp key; None: every run), newest first as the API sends."""
    if created_from is None:
        return {"page_size": page_size}
    return {"page_size": page_size, "filter": created_at_or_after(created_from)}


def new_exceptions_params(page_size: int, created_from: str | None) -> Params:
    """Exceptions created at or after `created_from` (None: every exception): the same filter as runs'."""
    return runs_params(page_size, created_from)


def unresolved_exceptions_params(page_size: int) -> Params:
    """Every exception not resolved (pending, archived, or a state the reference does not name yet)."""
    return {"page_size": page_size, "filter": NOT_RESOLVED}


def exceptions_of_runs_params(page_size: int, run_ids: Sequence[str]) -> Params:
    """Every exception of these runs: what became of tracked exceptions the unresolved listing no longer returns."""
    return {"page_size": page_size, "filter": exception_runs_in(run_ids) or ""}


def daily_run_aggregates_params(zone: str, start: date, end: date, automation_id: str) -> Params:
    """`:dailyRunAggregates` over [start, end] in `zone`, for one automation or the whole workspace (WORKSPACE_WIDE).

    Whether the API's start and end dates are inclusive is undocumented (kognitos-api.md §7): this asks for one day
    more on each side, and the caller keeps [start, end], which is right under either reading.
    """
    params: dict[str, str | int | bool] = {"time_zone": zone, **_date("start_date", start - timedelta(days=1)),
                                           **_date("end_date", end + timedelta(days=1))}
    if automation_id != WORKSPACE_WIDE:
        params["filter"] = automation_id_in([automation_id]) or ""
    return params


def _date(name: str, day: date) -> dict[str, str | int | bool]:
    """A google.type.Date as the flattened query parameters the API takes (`start_date.year`, ...)."""
    return {f"{name}.year": day.year, f"{name}.month": day.month, f"{name}.day": day.day}
