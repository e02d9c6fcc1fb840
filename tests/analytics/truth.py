"""What each analytics model must hold, computed from the simulator's world (not from the loaded tables)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from kognitos_simulator import World

from ..integration.truth import describe, instant, short, state_key

TERMINAL = frozenset({"completed", "failed", "stopped"})
OPEN = frozenset({"pending", "executing", "stopping"})
RunKey = tuple[str, str, str]


def all_runs(world: World) -> dict[RunKey, dict[str, Any]]:
    """Every run of every automation (deleted ones included), by (workspace, automation, run)."""
    runs = {}
    for workspace in world.workspaces():
        ws = short(workspace["name"])
        for automation in world.automations(ws, show_deleted=True):
            auto = short(automation["name"])
            runs.update({(ws, auto, short(run["name"])): run for run in world.runs(ws, auto)})
    return runs


def seconds(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds()


def awaiting_guidance_seconds(world: World, key: RunKey, as_of: datetime) -> float:
    """Each awaiting_guidance state change lasts until the run's next one, or until `as_of`."""
    changes = []
    for event in world.run_events(*key):
        if "run_update" in event:
            run = event["run_update"]["run"]
            changes.append((state_key(run), instant(run["state"].get("update_time") or run["update_time"])))
    ends = [moment for _, moment in changes[1:]] + [as_of]
    return sum(seconds(moment, end) for (state, moment), end in zip(changes, ends, strict=True)
               if state == "awaiting_guidance")


def names(world: World) -> tuple[dict[str, str], dict[tuple[str, str], dict[str, Any]]]:
    """Workspace titles by id, and every automation (deleted ones included) by (workspace, automation)."""
    titles, automations = {}, {}
    for workspace in world.workspaces():
        ws = short(workspace["name"])
        titles[ws] = workspace["title"]
        automations.update({(ws, short(automation["name"])): automation
                            for automation in world.automations(ws, show_deleted=True)})
    return titles, automations


def state_detail(run: dict[str, Any], state: str, field: str) -> Any:
    """A field of the run's state detail (kognitos-api.md §5.1) when the run is in `state`, else None."""
    return run["state"][state].get(field) if state in run["state"] else None


RUN_FACTS = ("workspace_title", "automation_display_name", "state", "is_terminal", "create_time", "end_time",
             "duration_seconds", "awaiting_guidance_seconds", "state_update_time", "update_time", "reason", "error_id",
             "error_description", "exception_id", "exception_description", "invocation_source", "stage",
             "stage_version", "trigger_id", "user_id")


def run_facts(world: World, as_of: datetime) -> dict[RunKey, tuple[Any, ...]]:
    """key -> the RUN_FACTS columns of every run."""
    titles, automations = names(world)
    facts = {}
    for key, run in all_runs(world).items():
        state = state_key(run)
        created, state_time = instant(run["create_time"]), instant(run["state"]["update_time"])
        terminal = state in TERMINAL
        invocation = run.get("invocation_details") or {}
        facts[key] = (
            titles[key[0]], automations[key[:2]]["display_name"], state, terminal, created,
            state_time if terminal else None, seconds(created, state_time) if terminal else None,
            awaiting_guidance_seconds(world, key, as_of), state_time, instant(run["update_time"]),
            state_detail(run, "stopping", "reason") or state_detail(run, "stopped", "reason"),
            state_detail(run, "failed", "id"), state_detail(run, "failed", "description"),
            state_detail(run, "awaiting_guidance", "exception"), state_detail(run, "awaiting_guidance", "description"),
            invocation.get("invocation_source"), run.get("stage"), run.get("stage_version"),
            invocation.get("trigger_id"), invocation.get("user_id"),
        )
    return facts


def percentile(values: list[float], fraction: float) -> float | None:
    """The SQL standard's percentile_cont: linear interpolation between the closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


DAILY_RUNS = ("runs", "completed", "failed", "stopped", "awaiting_guidance", "open", "success_rate",
              "median_duration_seconds", "p95_duration_seconds")


def daily_runs(world: World, zones: tuple[str, ...]) -> dict[tuple[str, str, str, Any], tuple[Any, ...]]:
    """(workspace, automation, zone, local date) -> the DAILY_RUNS columns, over the runs created that local day."""
    groups: dict[tuple[str, str, str, Any], list[dict[str, Any]]] = defaultdict(list)
    for (ws, auto, _), run in all_runs(world).items():
        for zone in zones:
            day = instant(run["create_time"]).astimezone(ZoneInfo(zone)).date()
            groups[(ws, auto, zone, day)].append(run)
    truth = {}
    for key, runs in groups.items():
        states = [state_key(run) for run in runs]
        truth[key] = (
            len(runs), states.count("completed"), states.count("failed"), states.count("stopped"),
            states.count("awaiting_guidance"), sum(state in OPEN for state in states), *outcomes(runs),
        )
    return truth


def duration(run: dict[str, Any]) -> float:
    return seconds(instant(run["create_time"]), instant(run["state"]["update_time"]))


def outcomes(runs: list[dict[str, Any]]) -> tuple[float | None, float | None, float | None]:
    """(success rate, median and p95 duration) of the terminal ones among `runs`."""
    terminal = [run for run in runs if state_key(run) in TERMINAL]
    durations = [duration(run) for run in terminal]
    completed = sum(state_key(run) == "completed" for run in terminal)
    return (completed / len(terminal) if terminal else None, percentile(durations, 0.5),
            percentile(durations, 0.95))


OPEN_RUNS = ("workspace_title", "automation_display_name", "state", "waits_for_human", "create_time", "state_since",
             "age_seconds", "in_state_seconds", "awaiting_guidance_seconds", "exception_id", "exception_description")


def open_runs(world: World, as_of: datetime) -> dict[RunKey, tuple[Any, ...]]:
    """key -> the OPEN_RUNS columns of every run not completed, failed or stopped, aged at `as_of`."""
    titles, automations = names(world)
    truth = {}
    for key, run in all_runs(world).items():
        state = state_key(run)
        if state in TERMINAL:
            continue
        created, since = instant(run["create_time"]), instant(run["state"]["update_time"])
        truth[key] = (titles[key[0]], automations[key[:2]]["display_name"], state, state == "awaiting_guidance",
                      created, since, seconds(created, as_of), seconds(since, as_of),
                      awaiting_guidance_seconds(world, key, as_of), state_detail(run, "awaiting_guidance", "exception"),
                      state_detail(run, "awaiting_guidance", "description"))
    return truth


NODE_TIMINGS = ("node_kind", "connection", "book_name", "function_name", "started_time", "executed_time",
                "duration_ms", "error_id", "error_description", "event_index")


def node_timings(world: World) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    """(workspace, automation, run, execution, node, is_patched, occurrence) -> the NODE_TIMINGS columns: the n-th
    end of a node in an execution paired with its n-th start; the error is the first of the entry's errors."""
    starts: dict[tuple[Any, ...], list[datetime]] = defaultdict(list)
    ends: dict[tuple[Any, ...], list[tuple[int, datetime, dict[str, Any]]]] = defaultdict(list)
    for key in all_runs(world):
        for index, event in enumerate(world.run_events(*key)):
            kind, journal_type = describe(event)
            if kind != "execution_journal" or journal_type is None or "node_" not in journal_type:
                continue
            journal = event["execution_journal"]
            entry = journal[journal_type]
            node = (*key, journal["execution_id"], entry.get("node_id"), journal_type.startswith("patched_"))
            if journal_type.endswith("node_started"):
                starts[node].append(instant(journal["event_time"]))
            elif journal_type.endswith("node_executed"):
                ends[node].append((index, instant(journal["event_time"]), entry))
    truth = {}
    for node, executions in ends.items():
        for occurrence, (index, executed, entry) in enumerate(executions, start=1):
            function = (entry.get("book_function_call") or {}).get("book_function") or {}
            started = starts[node][occurrence - 1] if occurrence <= len(starts[node]) else None
            error = (entry.get("error") or [{}])[0]
            truth[(*node, occurrence)] = (
                entry.get("node_kind"), function.get("connection_spy_identifier"), function.get("book_name"),
                function.get("function_name"), started, executed,
                seconds(started, executed) * 1000 if started else None, error.get("id"), error.get("description"),
                index,
            )
    return truth


FAILURE_REASONS = ("workspace_title", "automation_display_name", "error_id", "failures", "first_seen", "last_seen")
NO_DESCRIPTION = "(no description)"


def failure_reasons(world: World) -> dict[tuple[str, str, str], tuple[Any, ...]]:
    """(workspace, automation, error description) -> the FAILURE_REASONS columns, over the failed runs; the error id
    is the least of the group's (one description can come with several ids)."""
    titles, automations = names(world)
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for key, run in all_runs(world).items():
        if state_key(run) == "failed":
            groups[(*key[:2], run["state"]["failed"].get("description") or NO_DESCRIPTION)].append(run)
    truth = {}
    for key, runs in groups.items():
        ids = [run["state"]["failed"]["id"] for run in runs if run["state"]["failed"].get("id")]
        ended = [instant(run["state"]["update_time"]) for run in runs]
        truth[key] = (titles[key[0]], automations[key[:2]]["display_name"], min(ids, default=None), len(runs),
                      min(ended), max(ended))
    return truth


AUTOMATION_HEALTH = ("workspace_title", "automation_display_name", "is_deleted", "runs_last_7_days",
                     "success_rate_last_7_days", "runs_last_30_days", "success_rate_last_30_days",
                     "median_duration_seconds", "p95_duration_seconds", "last_run_time", "open_runs",
                     "awaiting_guidance_now", "runs_loaded", "completed_runs_loaded", "api_total_runs",
                     "api_completed_runs")
"""Every documented column but `api_totals_time`, the service's clock at the load's request: see the test."""


def automation_health(world: World, as_of: datetime) -> dict[tuple[str, str], tuple[Any, ...]]:
    """(workspace, automation) -> the AUTOMATION_HEALTH columns of every automation, deleted ones included; "the last
    N days" are the runs created after `as_of` - N days. The API's totals are its newest (proto3 omits a zero)."""
    titles, automations = names(world)
    runs_of: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for key, run in all_runs(world).items():
        runs_of[key[:2]].append(run)
    api = {(ws, short(entry["automation_id"])): entry["stats"]
           for ws in titles for entry in world.automation_run_aggregates(ws)}
    truth = {}
    for key, automation in automations.items():
        runs = runs_of[key]
        week, month = (
            [run for run in runs if instant(run["create_time"]) > as_of - timedelta(days=days)] for days in (7, 30))
        states = [state_key(run) for run in runs]
        rate_week = outcomes(week)[0]
        rate_month, median, p95 = outcomes(month)
        truth[key] = (
            titles[key[0]], automation["display_name"], automation.get("delete_time") is not None, len(week),
            rate_week, len(month), rate_month, median, p95,
            max((instant(run["create_time"]) for run in runs), default=None),
            sum(state not in TERMINAL for state in states), states.count("awaiting_guidance"), len(runs),
            states.count("completed"), int(api[key].get("total_runs", 0)), int(api[key].get("completed_runs", 0)),
        )
    return truth
