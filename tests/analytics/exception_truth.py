"""What the human-in-the-loop columns must hold, computed from the simulator's world (never from the loaded tables):
its exceptions (with their history of changes) and its runs' timelines."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from kognitos_simulator import World

from ..integration.truth import instant, short, state_key
from .truth import RunKey, all_runs, percentile, seconds

WINDOW = timedelta(days=30)
EXCEPTION_FACTS = ("automation_id", "run_id", "execution_id", "state", "exception_group", "assignee", "resolver",
                   "resolved_by", "create_time", "resolved_time", "time_to_resolve_seconds", "waiting_seconds")
"""The exception_facts columns compared, after its key (workspace_id, exception_id)."""
AUTOMATION_HEALTH = ("straight_through_rate_last_30_days", "exceptions_pending",
                     "median_time_to_resolve_seconds_last_30_days")


def exceptions(world: World) -> dict[tuple[str, str], dict[str, Any]]:
    """Every exception the world holds now, by (workspace, exception), with `resolved_at`: the instant of the change
    that made it RESOLVED, from its history (not its update_time, which the models read)."""
    found = {}
    for workspace in world.workspaces():
        ws = short(workspace["name"])
        for exception in world.exceptions(ws):
            exception_id = short(exception["name"])
            resolved = [change for change in world.exception_history(ws, exception_id)
                        if change["state"] == "EXCEPTION_STATE_RESOLVED"]
            found[(ws, exception_id)] = {**exception,
                                         "resolved_at": instant(resolved[0]["update_time"]) if resolved else None}
    return found


def exception_facts(world: World, as_of: datetime) -> dict[tuple[str, str], tuple[Any, ...]]:
    """(workspace, exception) -> EXCEPTION_FACTS."""
    facts = {}
    for key, exception in exceptions(world).items():
        created, resolved_at, resolver = instant(exception["create_time"]), exception["resolved_at"], \
            exception.get("resolver")
        facts[key] = (
            short(exception["automation"]), short(exception["run"]), exception.get("execution_id"),
            exception["state"].removeprefix("EXCEPTION_STATE_").lower(),
            short(exception["group"]) if exception.get("group") else None, exception.get("assignee"), resolver,
            {"agents": "agent", "users": "person"}.get(resolver.split("/")[0]) if resolver else None,
            created, resolved_at, seconds(created, resolved_at) if resolved_at else None,
            None if resolved_at else seconds(created, as_of),
        )
    return facts


def needed_guidance(world: World) -> dict[RunKey, bool]:
    """Run key -> whether the run waited for a human at least once: its timeline shows awaiting_guidance, or it
    raised an exception."""
    raised = {(ws, short(exception["automation"]), short(exception["run"]))
              for (ws, _), exception in exceptions(world).items()}
    return {key: key in raised or any(state_key(event["run_update"]["run"]) == "awaiting_guidance"
                                      for event in world.run_events(*key) if "run_update" in event)
            for key in all_runs(world)}


def straight_through(world: World, zones: tuple[str, ...]) -> dict[tuple[str, str, str, Any], tuple[int]]:
    """(workspace, automation, zone, local date of creation) -> (completed runs that never needed guidance,)."""
    guided = needed_guidance(world)
    counts: dict[tuple[str, str, str, Any], int] = defaultdict(int)
    for key, run in all_runs(world).items():
        for zone in zones:
            day = (*key[:2], zone, instant(run["create_time"]).astimezone(ZoneInfo(zone)).date())
            counts[day] += state_key(run) == "completed" and not guided[key]
    return {day: (count,) for day, count in counts.items()}


def automation_health(world: World, as_of: datetime) -> dict[tuple[str, str], tuple[Any, ...]]:
    """(workspace, automation), deleted ones included -> AUTOMATION_HEALTH: of the completed runs created in the 30
    days before `as_of`, the share that never needed guidance; exceptions pending now; the median time to resolve
    of the exceptions resolved in those 30 days."""
    guided = needed_guidance(world)
    completed: dict[tuple[str, str], list[bool]] = defaultdict(list)
    for key, run in all_runs(world).items():
        if state_key(run) == "completed" and instant(run["create_time"]) > as_of - WINDOW:
            completed[key[:2]].append(not guided[key])
    pending: dict[tuple[str, str], int] = defaultdict(int)
    resolve_times: dict[tuple[str, str], list[float]] = defaultdict(list)
    for (ws, _), exception in exceptions(world).items():
        automation = (ws, short(exception["automation"]))
        pending[automation] += exception["state"] == "EXCEPTION_STATE_PENDING"
        if (resolved_at := exception["resolved_at"]) and resolved_at > as_of - WINDOW:
            resolve_times[automation].append(seconds(instant(exception["create_time"]), resolved_at))
    automations = {(short(workspace["name"]), short(automation["name"]))
                   for workspace in world.workspaces()
                   for automation in world.automations(short(workspace["name"]), show_deleted=True)}
    return {key: (sum(completed[key]) / len(completed[key]) if completed[key] else None, pending[key],
                  percentile(resolve_times[key], 0.5))
            for key in automations}
