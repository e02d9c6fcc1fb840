"""API paths, relative to `<base_url>/api/v1` (kognitos-api.md §2-3). Ids are short ids."""

from __future__ import annotations


def user_organizations() -> str:
    return "/me/organizations"


def user_workspaces(org: str) -> str:
    return f"/me/organizations/{org}/workspaces"


def workspace(org: str, ws: str) -> str:
    return f"/organizations/{org}/workspaces/{ws}"


def automations(org: str, ws: str) -> str:
    return f"{workspace(org, ws)}/automations"


def runs(org: str, ws: str, automation: str) -> str:
    return f"{automations(org, ws)}/{automation}/runs"


def run(org: str, ws: str, automation: str, run_id: str) -> str:
    return f"{runs(org, ws, automation)}/{run_id}"


def run_events(org: str, ws: str, automation: str, run_id: str) -> str:
    return f"{run(org, ws, automation, run_id)}/events"


def execution_outputs(org: str, ws: str, execution_id: str) -> str:
    return f"{workspace(org, ws)}/executions/{execution_id}/outputs"


def daily_run_aggregates(org: str, ws: str) -> str:
    return f"{workspace(org, ws)}:dailyRunAggregates"


def automation_run_aggregates(org: str, ws: str) -> str:
    return f"{workspace(org, ws)}:automationRunAggregates"


def exceptions(org: str, ws: str) -> str:
    return f"{workspace(org, ws)}/exceptions"
