"""The simulator's truth and the warehouse's content, in the same shapes, for exact comparisons."""

from __future__ import annotations

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
