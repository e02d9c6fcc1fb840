"""The simulator's truth and the warehouse's content, in the same shapes, for exact comparisons."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from kognitos_simulator import World

from .conftest import Query


def instant(value: str) -> datetime:
    """An RFC 3339 string as the warehouse stores it: a tz-aware datetime truncated to microseconds.

    Written here on purpose rather than borrowed from the source, so the test checks the source's parsing.
    """
    head, _, tail = value.replace("z", "Z").partition(".")
    if tail:
        digits = "".join(ch for ch in tail if ch.isdigit())
        zone = tail[len(digits):]
        value = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def state_key(run: dict[str, Any]) -> str:
    return next(key for key in run["state"] if key != "update_time")


def truth_runs(world: World) -> dict[tuple[str, str, str], tuple[str, datetime]]:
    """Every run the simulator holds now, deleted automations' included: key -> (state, update_time)."""
    truth = {}
    for workspace in world.workspaces():
        ws = workspace["name"].rsplit("/", 1)[-1]
        for automation in world.automations(ws, show_deleted=True):
            auto = automation["name"].rsplit("/", 1)[-1]
            for run in world.runs(ws, auto):
                truth[(ws, auto, run["name"].rsplit("/", 1)[-1])] = (state_key(run), instant(run["update_time"]))
    return truth


def loaded_runs(query: Query) -> dict[tuple[str, str, str], tuple[str, datetime]]:
    rows = query("SELECT workspace_id, automation_id, run_id, state, update_time FROM kognitos.runs")
    loaded = {(ws, auto, run): (state, updated) for ws, auto, run, state, updated in rows}
    assert len(loaded) == len(rows), "a run was loaded twice"
    return loaded


JOURNAL_COMMON = {"execution_id", "run_id", "event_time", "automation_id", "automation_phase_id", "code_hash",
                  "stage", "workspace_id", "organization_id", "extra_metadata"}


def short(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def describe(event: dict[str, Any]) -> tuple[str, str | None]:
    """(event_type, journal_type) of an API event, worked out independently of the source's records.py."""
    if "run_update" in event:
        return "run_update", None
    journal = event["execution_journal"]
    return "execution_journal", next(key for key in journal if key not in JOURNAL_COMMON)


def live_runs(world: World) -> list[tuple[str, str, str]]:
    return [(short(w["name"]), short(a["name"]), short(r["name"]))
            for w in world.workspaces() for a in world.automations(short(w["name"]), show_deleted=True)
            for r in world.runs(short(w["name"]), short(a["name"]))]


def truth_events(world: World) -> dict[tuple[str, str, str, int], tuple[str, str | None]]:
    return {(ws, auto, run, index): describe(event) for ws, auto, run in live_runs(world)
            for index, event in enumerate(world.run_events(ws, auto, run))}


def loaded_events(query: Query) -> dict[tuple[str, str, str, int], tuple[str, str | None]]:
    rows = query("SELECT workspace_id, automation_id, run_id, event_index, event_type, journal_type "
                 "FROM kognitos.run_events")
    loaded = {(ws, auto, run, index): (kind, journal) for ws, auto, run, index, kind, journal in rows}
    assert len(loaded) == len(rows), "an event was loaded twice"
    return loaded


HISTORY_DAYS = 365  # the documented default of a first load without start_date


def truth_days(world: World, zone: str, automation_ids: tuple[str, ...] = ()) -> dict[tuple[str, date], int]:
    """(workspace, day) -> runs created that local day, zeros included, over the first load's window."""
    end = world.now.astimezone(ZoneInfo(zone)).date()
    start = end - timedelta(days=HISTORY_DAYS)
    truth = {}
    for workspace in world.workspaces():
        ws = short(workspace["name"])
        counts = {date.fromisoformat(entry["date"]): entry["stats"]["total_runs"]
                  for entry in world.daily_run_aggregates(ws, zone, start, end, automation_ids)}
        for offset in range((end - start).days + 1):
            day = start + timedelta(days=offset)
            truth[(ws, day)] = counts.get(day, 0)
    return truth


def truth_outputs(world: World) -> set[tuple[str, str, str]]:
    """(workspace, execution, output name) of every completed execution's outputs."""
    expected = set()
    for ws, auto, run in live_runs(world):
        for event in world.run_events(ws, auto, run):
            journal = event.get("execution_journal") or {}
            if "completed" in journal:
                outputs = world.execution_outputs(ws, journal["execution_id"])["outputs"]
                expected |= {(ws, journal["execution_id"], name) for name in outputs}
    return expected


EXCEPTION_COLUMNS = ("automation_id, run_id, execution_id, state, message, description, exception_group, assignee, "
                     "resolver, resolved_by_agent, resolution_guide_entry, stage, location_start_byte, "
                     "location_end_byte, create_time, update_time, extra, extra_fields")
"""The `exceptions` columns compared with the truth, after the key (`workspace_id, exception_id`)."""


def exception_truth(exception: dict[str, Any]) -> tuple[Any, ...]:
    """An API exception as the README says it loads (EXCEPTION_COLUMNS), worked out here, not by records.py."""
    resolver = exception.get("resolver")
    location = exception["location"]
    return (short(exception["automation"]), short(exception["run"]), exception.get("execution_id"),
            exception["state"].split("EXCEPTION_STATE_")[1].lower(), exception["message"],
            exception.get("description"), short(exception["group"]) if exception.get("group") else None,
            exception.get("assignee"), resolver, resolver.split("/")[0] == "agents" if resolver else None,
            exception.get("resolution_guide_entry"), exception.get("stage"),
            int(location["start_byte"]) if "start_byte" in location else None,
            int(location["end_byte"]) if "end_byte" in location else None,
            instant(exception["create_time"]), instant(exception["update_time"]), exception.get("extra"), None)


def truth_exceptions(world: World) -> dict[tuple[str, str], tuple[Any, ...]]:
    """Every exception the simulator holds now: (workspace, exception) -> its columns."""
    return {(short(w["name"]), short(e["name"])): exception_truth(e)
            for w in world.workspaces() for e in world.exceptions(short(w["name"]))}


def loaded_exceptions(rows: list[tuple[Any, ...]]) -> dict[tuple[str, str], tuple[Any, ...]]:
    """Rows of `SELECT workspace_id, exception_id, <EXCEPTION_COLUMNS>` from any destination (JSON as text or
    as parsed by the driver) in the truth's shape."""
    loaded = {(row[0], row[1]): (*row[2:-2], *(json.loads(v) if isinstance(v, str) else v for v in row[-2:]))
              for row in rows}
    assert len(loaded) == len(rows), "an exception was loaded twice"
    return loaded


def query_exceptions(query: Query) -> dict[tuple[str, str], tuple[Any, ...]]:
    return loaded_exceptions(query(f"SELECT workspace_id, exception_id, {EXCEPTION_COLUMNS} FROM kognitos.exceptions"))
