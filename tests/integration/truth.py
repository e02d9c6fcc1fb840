"""The simulator's truth and the warehouse's content, in the same shapes, for exact comparisons."""

from __future__ import annotations

from datetime import datetime
from typing import Any

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
    """Every run the simulator holds now, of live automations: key -> (state, update_time)."""
    truth = {}
    for workspace in world.workspaces():
        ws = workspace["name"].rsplit("/", 1)[-1]
        for automation in world.automations(ws):
            auto = automation["name"].rsplit("/", 1)[-1]
            for run in world.runs(ws, auto):
                truth[(ws, auto, run["name"].rsplit("/", 1)[-1])] = (state_key(run), instant(run["update_time"]))
    return truth


def loaded_runs(query: Query) -> dict[tuple[str, str, str], tuple[str, datetime]]:
    rows = query("SELECT workspace_id, automation_id, run_id, state, update_time FROM kognitos.runs")
    loaded = {(ws, auto, run): (state, updated) for ws, auto, run, state, updated in rows}
    assert len(loaded) == len(rows), "a run was loaded twice"
    return loaded
