"""What the report must show, worked out from the simulator's world: never from the models or the report's code.

Each function returns the rows of one of the page's tables as values (dates, counts, seconds, datetimes), in the
order the page documents; test_report.py compares them with the page's tables and the charts' data.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from kognitos_simulator import World

from ..analytics.exception_truth import EXCEPTION_FACTS, exception_facts, needed_guidance
from ..analytics.truth import OPEN, TERMINAL, RunKey, all_runs, percentile, seconds
from ..integration.truth import describe, instant, short, state_key

DAY_COLUMNS = ("completed", "failed", "stopped", "awaiting_guidance", "open")
"""The runs-per-day chart's series, in the order it stacks them (open: pending, executing or stopping)."""
NODE_JOURNALS = frozenset({"node_started", "node_executed", "patched_node_started", "patched_node_executed"})
AGE_BUCKETS = ((timedelta(hours=1), "under 1 hour"), (timedelta(days=1), "1 to 24 hours"),
               (timedelta(days=7), "1 to 7 days"), (None, "over 7 days"))
Row = TypeVar("Row")


@dataclass(frozen=True)
class Run:
    """A run as the report sees it, read from the world (deleted automations' runs included)."""

    key: RunKey
    workspace: str
    """The workspace's title."""
    automation: str
    """The automation's display name."""
    run_id: str
    state: str
    created: datetime
    state_time: datetime
    description: str | None
    """The state's description: a failed run's error, the exception a run awaiting guidance waits on."""

    @property
    def ended(self) -> bool:
        return self.state in TERMINAL

    @property
    def duration(self) -> float:
        return seconds(self.created, self.state_time)


@dataclass(frozen=True)
class StepExecution:
    """A node's end paired with its start: named `book.function` when it called one, else by its node kind."""

    step: str | None
    executed: datetime
    milliseconds: float


def world_runs(world: World) -> list[Run]:
    titles = {short(workspace["name"]): workspace["title"] for workspace in world.workspaces()}
    names = {(ws, short(automation["name"])): automation["display_name"]
             for ws in titles for automation in world.automations(ws, show_deleted=True)}
    runs = []
    for (ws, auto, run_id), run in all_runs(world).items():
        state = state_key(run)
        runs.append(Run((ws, auto, run_id), titles[ws], names[(ws, auto)], run_id, state, instant(run["create_time"]),
                        instant(run["state"]["update_time"]), run["state"][state].get("description")))
    return runs


def step_executions(world: World) -> list[StepExecution]:
    """In each execution the n-th end of a node pairs with its n-th start (patched re-executions apart); an end
    without a start has no duration and is not a step execution."""
    executions = []
    for key in all_runs(world):
        starts: dict[tuple[Any, ...], list[datetime]] = defaultdict(list)
        ends: dict[tuple[Any, ...], list[tuple[datetime, dict[str, Any]]]] = defaultdict(list)
        for event in world.run_events(*key):
            journal_type = describe(event)[1]
            if journal_type not in NODE_JOURNALS:
                continue
            journal = event["execution_journal"]
            entry = journal[journal_type]
            node = (journal["execution_id"], entry.get("node_id"), journal_type.startswith("patched_"))
            moment = instant(journal["event_time"])
            if journal_type.endswith("_started"):
                starts[node].append(moment)
            else:
                ends[node].append((moment, entry))
        for node, ended in ends.items():
            for (moment, entry), started in zip(ended, starts[node], strict=False):
                called = (entry.get("book_function_call") or {}).get("book_function") or {}
                book, function = called.get("book_name"), called.get("function_name")
                step = f"{book}.{function}" if book is not None and function is not None else entry.get("node_kind")
                executions.append(StepExecution(step, moment, seconds(started, moment) * 1000))
    return executions


def ranked(rows: Iterable[Row], key: Callable[[Row], Hashable], limit: int | None = None) -> list[Row]:
    """Rows in the page's order; two rows with the same key have no defined order, so this world must have none."""
    ordered = sorted(rows, key=key)  # type: ignore[arg-type]
    keys = [key(row) for row in ordered]
    assert len(set(keys)) == len(keys), f"rows tie on their order, the page may show them either way: {keys}"
    return ordered[:limit]


class ReportTruth:
    """What a report of `days` days in `zone`, made after a load of `world` whose service clock said `as_of`, must
    show."""

    def __init__(self, world: World, as_of: datetime, zone: str, days: int, top: int) -> None:
        self.world, self.as_of, self.zone, self.days, self.top = world, as_of, ZoneInfo(zone), days, top
        self.end = self.as_of.astimezone(self.zone).date()
        self.dates = [self.end - timedelta(days=offset) for offset in reversed(range(days))]

    def local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    @cached_property
    def runs(self) -> list[Run]:
        return world_runs(self.world)

    @cached_property
    def recent(self) -> list[Run]:
        """The runs created on the window's days."""
        return [run for run in self.runs if self.dates[0] <= self.local_date(run.created) <= self.end]

    def headline(self) -> dict[str, Any]:
        ended = [run for run in self.recent if run.ended]
        completed = sum(run.state == "completed" for run in ended)
        return {"runs": len(self.recent), "success_rate": completed / len(ended) if ended else None,
                "median_duration_seconds": percentile([run.duration for run in ended], 0.5),
                "open_runs": sum(not run.ended for run in self.runs),
                "awaiting_guidance": sum(run.state == "awaiting_guidance" for run in self.runs)}

    def runs_per_day(self) -> list[tuple[Any, ...]]:
        """(date, completed, failed, stopped, awaiting_guidance, open) for every day of the window, zeros too."""
        counts = {day: dict.fromkeys(DAY_COLUMNS, 0) for day in self.dates}
        for run in self.recent:
            counts[self.local_date(run.created)]["open" if run.state in OPEN else run.state] += 1
        return [(day, *counts[day].values()) for day in self.dates]

    def per_automation(self) -> list[tuple[Any, ...]]:
        """(automation, workspace, runs, completed, ended, success rate, median and p95 seconds), most runs first,
        then by name."""
        groups: dict[tuple[str, str], list[Run]] = defaultdict(list)
        for run in self.recent:
            groups[(run.automation, run.workspace)].append(run)
        rows = []
        for (automation, workspace), runs in groups.items():
            durations = [run.duration for run in runs if run.ended]
            completed = sum(run.state == "completed" for run in runs)
            rows.append((automation, workspace, len(runs), completed, len(durations),
                         completed / len(durations) if durations else None,
                         percentile(durations, 0.5), percentile(durations, 0.95)))
        return ranked(rows, key=lambda row: (-row[2], row[0]))

    def slowest_steps(self) -> list[tuple[Any, ...]]:
        """(step, executions, median and p95 milliseconds) of the steps executed on the window's days, the `top`
        with the longest median."""
        groups: dict[str | None, list[float]] = defaultdict(list)
        for execution in step_executions(self.world):
            if self.dates[0] <= self.local_date(execution.executed) <= self.end:
                groups[execution.step].append(execution.milliseconds)
        rows = [(step, len(times), percentile(times, 0.5), percentile(times, 0.95)) for step, times in groups.items()]
        return ranked(rows, key=lambda row: (-row[2], row[0]), limit=self.top)

    def failure_reasons(self) -> list[tuple[Any, ...]]:
        """(automation, workspace, error, failures, last seen) of the runs created in the window that failed, the
        `top` most frequent."""
        groups: dict[tuple[str, str, str], list[datetime]] = defaultdict(list)
        for run in self.recent:
            if run.state == "failed":
                groups[(run.automation, run.workspace, run.description or "(no description)")].append(run.state_time)
        rows = [(*group, len(ends), max(ends)) for group, ends in groups.items()]
        return ranked(rows, key=lambda row: (-row[3], row[2]), limit=self.top)

    def backlog(self) -> list[tuple[Any, ...]]:
        """(automation, run, state, waits for a human, created, age, exception) of every run not ended, whenever
        created, oldest first."""
        rows = [(run.automation, run.run_id, run.state, run.state == "awaiting_guidance", run.created,
                 self.as_of - run.created, run.description if run.state == "awaiting_guidance" else None)
                for run in self.runs if not run.ended]
        return ranked(rows, key=lambda row: (-row[5], row[1]))

    @staticmethod
    def age_bucket(age: timedelta) -> str:
        return next(label for limit, label in AGE_BUCKETS if limit is None or age < limit)

    @cached_property
    def exceptions(self) -> list[dict[str, Any]]:
        """Every exception the world holds now, as its EXCEPTION_FACTS by name."""
        return [dict(zip(EXCEPTION_FACTS, facts, strict=True))
                for facts in exception_facts(self.world, self.as_of).values()]

    def straight_through(self) -> list[tuple[Any, ...]]:
        """(automation, workspace, completed, straight through, rate) of each automation with runs created in the
        window, most completed runs first, then by name; no rate (None) without a completed run."""
        guided = needed_guidance(self.world)
        groups: dict[tuple[str, str], list[Run]] = defaultdict(list)
        for run in self.recent:
            groups[run.key[:2]].append(run)
        rows = []
        for runs in groups.values():
            completed = [run for run in runs if run.state == "completed"]
            straight = sum(not guided[run.key] for run in completed)
            rows.append((runs[0].automation, runs[0].workspace, len(completed), straight,
                         straight / len(completed) if completed else None))
        return ranked(rows, key=lambda row: (-row[2], row[0], row[1]))

    def pending_by(self, fact: str, unnamed: str) -> list[tuple[Any, ...]]:
        """(value, pending per age bucket, pending) of the exceptions pending now, per value of their `fact`
        (`unnamed` when they have none), most pending first, then by value; ages at the last load."""
        counts: dict[str, dict[str, int]] = defaultdict(lambda: {label: 0 for _, label in AGE_BUCKETS})
        for exception in self.exceptions:
            if exception["state"] == "pending":
                counts[exception[fact] or unnamed][self.age_bucket(self.as_of - exception["create_time"])] += 1
        rows = [(value, *ages.values(), sum(ages.values())) for value, ages in counts.items()]
        return ranked(rows, key=lambda row: (-row[-1], row[0]))

    def resolutions(self) -> list[tuple[Any, ...]]:
        """(date, resolved, by an agent, by a person, median and p95 seconds to resolve) for every day of the window,
        by the local date each exception was resolved on."""
        resolved: dict[date, list[dict[str, Any]]] = defaultdict(list)
        for exception in self.exceptions:
            if exception["resolved_time"] is not None:
                resolved[self.local_date(exception["resolved_time"])].append(exception)
        rows = []
        for day in self.dates:
            times = [exception["time_to_resolve_seconds"] for exception in resolved[day]]
            by = [exception["resolved_by"] for exception in resolved[day]]
            rows.append((day, len(times), by.count("agent"), by.count("person"), percentile(times, 0.5),
                         percentile(times, 0.95)))
        return rows
