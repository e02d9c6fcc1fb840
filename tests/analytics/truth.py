"""What each analytics model must hold, computed from the simulator's world (not from the loaded tables)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
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


def run_facts(world: World, as_of: datetime) -> dict[RunKey, tuple[Any, ...]]:
    """key -> (state, is_terminal, create_time, end_time, duration_seconds, awaiting_guidance_seconds,
    error_description, exception_description)."""
    facts = {}
    for key, run in all_runs(world).items():
        state = state_key(run)
        created, state_time = instant(run["create_time"]), instant(run["state"]["update_time"])
        terminal = state in TERMINAL
        details = run["state"][state]
        facts[key] = (
            state, terminal, created, state_time if terminal else None,
            seconds(created, state_time) if terminal else None,
            awaiting_guidance_seconds(world, key, as_of),
            details.get("description") if state == "failed" else None,
            details.get("description") if state == "awaiting_guidance" else None,
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


def daily_runs(world: World, zones: tuple[str, ...]) -> dict[tuple[str, str, str, Any], tuple[Any, ...]]:
    """(workspace, automation, zone, local date) -> (runs, completed, failed, stopped, awaiting_guidance, open,
    success_rate, median and p95 duration), over the runs created that local day."""
    groups: dict[tuple[str, str, str, Any], list[dict[str, Any]]] = defaultdict(list)
    for (ws, auto, _), run in all_runs(world).items():
        for zone in zones:
            day = instant(run["create_time"]).astimezone(ZoneInfo(zone)).date()
            groups[(ws, auto, zone, day)].append(run)
    truth = {}
    for key, runs in groups.items():
        states = [state_key(run) for run in runs]
        terminal = [run for run, state in zip(runs, states, strict=True) if state in TERMINAL]
        durations = [seconds(instant(run["create_time"]), instant(run["state"]["update_time"])) for run in terminal]
        truth[key] = (
            len(runs), states.count("completed"), states.count("failed"), states.count("stopped"),
            states.count("awaiting_guidance"), sum(state in OPEN for state in states),
            states.count("completed") / len(terminal) if terminal else None,
            percentile(durations, 0.5), percentile(durations, 0.95),
        )
    return truth


def open_runs(world: World, as_of: datetime) -> dict[RunKey, tuple[Any, ...]]:
    """key -> (state, waits_for_human, age_seconds) of every run not completed, failed or stopped."""
    return {key: (state_key(run), state_key(run) == "awaiting_guidance",
                  seconds(instant(run["create_time"]), as_of))
            for key, run in all_runs(world).items() if state_key(run) not in TERMINAL}


def node_timings(world: World) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    """(workspace, automation, run, execution, node, is_patched, occurrence) -> (node_kind, function_name,
    duration_ms): the n-th end of a node in an execution paired with its n-th start."""
    starts: dict[tuple[Any, ...], list[datetime]] = defaultdict(list)
    ends: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for key in all_runs(world):
        for event in world.run_events(*key):
            kind, journal_type = describe(event)
            if kind != "execution_journal" or journal_type is None or "node_" not in journal_type:
                continue
            journal = event["execution_journal"]
            entry = journal[journal_type]
            node = (*key, journal["execution_id"], entry.get("node_id"), journal_type.startswith("patched_"))
            if journal_type.endswith("node_started"):
                starts[node].append(instant(journal["event_time"]))
            elif journal_type.endswith("node_executed"):
                ends[node].append({**entry, "event_time": instant(journal["event_time"])})
    truth = {}
    for node, executions in ends.items():
        for occurrence, entry in enumerate(executions, start=1):
            function = ((entry.get("book_function_call") or {}).get("book_function") or {}).get("function_name")
            started = starts[node][occurrence - 1] if occurrence <= len(starts[node]) else None
            duration = seconds(started, entry["event_time"]) * 1000 if started else None
            truth[(*node, occurrence)] = (entry.get("node_kind"), function, duration)
    return truth
