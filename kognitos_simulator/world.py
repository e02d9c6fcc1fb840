"""The World: the simulated organization's data, its clock, and the ground truth tests compare against.

Everything is derived on demand from the settings: run create times per automation (arrivals.py), a
run's life (plans.py) and its JSON and events (render.py). The only mutable state is the clock, runs
inserted at runtime and the pause/continue overrides, all small. Caches are bounded, so a world of
100,000 runs and 2,000,000 events serves in constant memory.

Ground-truth methods return fresh JSON (safe to modify); serving methods (`list_runs`, `events_page`)
are what the HTTP app calls. Every method takes the world lock, so the server thread and a test
thread can use one world at once.
"""

from __future__ import annotations

import bisect
import functools
import threading
import time
import zoneinfo
from collections import Counter, OrderedDict
from collections.abc import Callable, Hashable, Sequence
from datetime import date, datetime, timedelta
from typing import Any, Generic, TypeVar

import orjson

from kognitos_simulator import timestamps
from kognitos_simulator.arrivals import KEY_LIMIT, RunIndex
from kognitos_simulator.entities import (
    Automation,
    Organization,
    Workspace,
    build_extra_organizations,
    build_organization,
)
from kognitos_simulator.errors import failed_precondition, invalid_argument, not_found
from kognitos_simulator.filters import ExceptionFacts, IntervalSet
from kognitos_simulator.guidance import ExceptionLife, GuidanceCenter, episodes
from kognitos_simulator.ids import NanoIdCodec, UuidCodec
from kognitos_simulator.pagination import take_descending
from kognitos_simulator.plans import CONTINUABLE, PAUSABLE, PlanFactory, RunPlan
from kognitos_simulator.render import EXECUTION_ID_LIMIT, Event, Renderer, split_execution_key
from kognitos_simulator.seeds import derive_seed
from kognitos_simulator.settings import SimulatorSettings
from kognitos_simulator.values import Json

MAX_DAILY_RANGE_DAYS = 3660
DEFAULT_DAILY_RANGE_DAYS = 30

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _Lru(Generic[K, V]):
    """A small least-recently-used cache (callers hold the world lock)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K, build: Callable[[], V]) -> V:
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        value = self._items[key] = build()
        if len(self._items) > self._size:
            self._items.popitem(last=False)
        return value


class _ExceptionIndex:
    """The exceptions of one workspace's runs scanned so far, oldest first, whether raised yet or not.

    A run appears at the end of its automation's visible prefix (the clock only moves forward and inserted runs
    are created at `now`), so `cursors` (runs scanned per automation) is all it takes to add only new runs.
    """

    def __init__(self) -> None:
        self.lives: list[ExceptionLife] = []
        self.by_id: dict[str, ExceptionLife] = {}
        self.cursors: dict[str, int] = {}

    def add(self, life: ExceptionLife) -> None:
        bisect.insort(self.lives, life, key=lambda item: (item.create_ns, item.exception_id))
        self.by_id[life.exception_id] = life

    def raised(self, now: int) -> list[ExceptionLife]:
        """Those raised at or before `now`, newest first (ties by id, descending): List Exceptions' order."""
        return self.lives[: bisect.bisect_right(self.lives, now, key=lambda item: item.create_ns)][::-1]


def _copy(value: Any) -> Any:
    """A deep copy of JSON data (ground truth must not alias cached structures)."""
    return orjson.loads(orjson.dumps(value))


@functools.lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def parse_time_zone(name: str) -> zoneinfo.ZoneInfo:
    """The IANA zone called `name`, or INVALID_ARGUMENT."""
    if not name:
        raise invalid_argument("time_zone", "time_zone is required (an IANA time zone such as America/New_York)")
    if name not in _zone_names():
        raise invalid_argument("time_zone", f'"{name}" is not an IANA time zone such as America/New_York')
    return zoneinfo.ZoneInfo(name)


class World:
    """The simulated Kognitos organization at the simulated instant `now`."""

    def __init__(self, settings: SimulatorSettings) -> None:
        self.settings = settings
        self._lock = threading.RLock()
        self._start_ns = timestamps.from_datetime(settings.start_instant)
        self._offset_ns = 0
        self._wall_start = time.monotonic_ns()
        self._organization: Organization = build_organization(settings)
        self.organization_id = self._organization.id
        self._extra_organizations = {org.id: org for org in build_extra_organizations(settings)}
        self._workspaces = {workspace.id: workspace for workspace in self._organization.workspaces}
        self._indexes = {
            automation.id: RunIndex(settings.seed, automation, settings.scale, self._start_ns)
            for workspace in self._organization.workspaces for automation in workspace.automations
        }
        self._run_ids = {automation_id: NanoIdCodec(derive_seed(settings.seed, "run-ids", automation_id), KEY_LIMIT)
                         for automation_id in self._indexes}
        execution_ids = {ws_id: UuidCodec(derive_seed(settings.seed, "execution-ids", ws_id), EXECUTION_ID_LIMIT)
                         for ws_id in self._workspaces}
        self._execution_ids = execution_ids
        self._plans = PlanFactory(settings.seed, settings.scale.events_per_run, self._organization.users)
        self._renderer = Renderer(self.organization_id, execution_ids)
        self._overrides: dict[tuple[str, int], list[tuple[str, int, str]]] = {}
        self._plan_cache: _Lru[tuple[str, int, int], RunPlan] = _Lru(10_000)
        self._event_cache: _Lru[tuple[str, int, int], list[Event]] = _Lru(256)
        self._guidance = GuidanceCenter(settings.seed, self._organization.users, self._organization.workspaces)
        self._completions: dict[str, dict[int, int | None]] = {}
        self._run_exceptions: dict[str, dict[int, tuple[ExceptionLife, ...]]] = {}
        self._exception_indexes: dict[str, _ExceptionIndex] = {}

    # The clock.

    @property
    def now_ns(self) -> int:
        """The simulated instant in nanoseconds since the epoch."""
        now = self._start_ns + self._offset_ns
        if self.settings.follow_wall_clock:
            now += time.monotonic_ns() - self._wall_start
        return now

    @property
    def now(self) -> datetime:
        """The simulated instant (tz-aware UTC, microsecond precision)."""
        return timestamps.to_datetime(self.now_ns)

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward: new runs appear, running ones change state and gain events."""
        if delta < timedelta(0):
            raise ValueError("the simulated clock only moves forward")
        with self._lock:
            self._offset_ns += timestamps.from_timedelta(delta)

    # Lookups (NOT_FOUND for anything unknown).

    def _workspace(self, workspace_id: str) -> Workspace:
        workspace = self._workspaces.get(workspace_id)
        if workspace is None:
            raise not_found("workspace", workspace_id, f"{self._organization.name}/workspaces/{workspace_id}")
        return workspace

    def _automation(self, workspace_id: str, automation_id: str) -> Automation:
        workspace = self._workspace(workspace_id)
        for automation in workspace.automations:
            if automation.id == automation_id:
                return automation
        raise not_found("automation", automation_id, f"{workspace.name}/automations/{automation_id}")

    def _run_key(self, automation: Automation, run_id: str, now: int) -> int:
        key = self._run_ids[automation.id].decode(run_id)
        created = None if key is None else self._indexes[automation.id].create_ns(key)
        if key is None or created is None or created > now:
            raise not_found("run", run_id, f"{automation.name}/runs/{run_id}")
        return key

    def _plan(self, automation: Automation, key: int, *, with_values: bool = True, planned: bool = False) -> RunPlan:
        """The run's plan with its pauses and continues applied (`planned`: as generated, without them)."""
        overrides = [] if planned else self._overrides.get((automation.id, key), [])

        def build() -> RunPlan:
            index = self._indexes[automation.id]
            created = index.create_ns(key)
            assert created is not None, "plans exist only for generated runs"
            plan = self._plans.base(automation, key, created, index.precision(key),
                                    self._run_ids[automation.id].encode, with_values=with_values)
            for number, (action, at_ns, reason) in enumerate(overrides):
                if action == "pause":
                    plan = self._plans.paused(plan, at_ns, reason, number)
                else:
                    plan = self._plans.continued(plan, at_ns, number)
            return plan

        if not with_values or planned:
            return build()
        return self._plan_cache.get((automation.id, key, len(overrides)), build)

    def _events(self, plan: RunPlan) -> list[Event]:
        overrides = len(self._overrides.get((plan.automation.id, plan.key), []))
        return self._event_cache.get((plan.automation.id, plan.key, overrides), lambda: self._renderer.events(plan))

    def _completed_ns(self, automation: Automation, key: int) -> int | None:
        """When the run completes (None: never), computed once per run (again after a pause or continue)."""
        completions = self._completions.setdefault(automation.id, {})
        if key not in completions:
            completions[key] = self._plan(automation, key, with_values=False).completed_at()
        return completions[key]

    def _exceptions_of(self, automation: Automation, key: int) -> tuple[ExceptionLife, ...]:
        """The run's exceptions over its whole life, computed once per run (again after a pause or continue).

        Only runs planned to await guidance can raise one (a pause or continue never adds guidance), so the
        others need no plan.
        """
        known = self._run_exceptions.setdefault(automation.id, {})
        if key not in known:
            exceptions: tuple[ExceptionLife, ...] = ()
            if self._plans.awaits_guidance(automation, key):
                plan = self._plan(automation, key, with_values=False)

                def planned_end(exception_id: str) -> int | None:
                    planned = self._plan(automation, key, with_values=False, planned=True)
                    return next(e.end_ns for e in episodes(planned) if e.exception_id == exception_id)

                exceptions = self._guidance.lives(plan, self._run_ids[automation.id].encode(key),
                                                  lambda ordinal: self._renderer.execution_id(plan, ordinal),
                                                  planned_end)
            known[key] = exceptions
        return known[key]

    def _exception_index(self, workspace_id: str, now: int) -> _ExceptionIndex:
        """The workspace's exception index, with every run that exists at `now` scanned."""
        index = self._exception_indexes.setdefault(workspace_id, _ExceptionIndex())
        for automation in self._workspace(workspace_id).automations:
            runs = self._indexes[automation.id]
            visible = runs.visible(now)
            for key in runs.keys[index.cursors.get(automation.id, 0) : visible]:
                for life in self._exceptions_of(automation, key):
                    index.add(life)
            index.cursors[automation.id] = visible
        return index

    def _facts(self, life: ExceptionLife, now: int) -> ExceptionFacts:
        return ExceptionFacts(life.state_at(now).removeprefix("EXCEPTION_STATE_"), life.automation_id, life.run_id,
                              life.group, life.create_ns)

    def _matching(self, workspace_id: str, matches: Callable[[ExceptionFacts], bool] | None, now: int
                  ) -> list[ExceptionLife]:
        raised = self._exception_index(workspace_id, now).raised(now)
        return raised if matches is None else [life for life in raised if matches(self._facts(life, now))]

    @staticmethod
    def _visible(events: list[Event], now: int) -> int:
        return bisect.bisect_right(events, now, key=lambda event: event.time_ns)

    # Ground truth: what the service holds right now, as the API renders it.

    def organization(self, organization_id: str | None = None) -> Json:
        """The world's organization, or the extra one with that id (`SimulatorSettings.extra_organizations`)."""
        if organization_id is None or organization_id == self.organization_id:
            return self._organization.to_json()
        extra = self._extra_organizations.get(organization_id)
        if extra is None:
            raise not_found("organization", organization_id, f"organizations/{organization_id}")
        return extra.to_json()

    def organizations(self) -> list[Json]:
        """Every organization the token can see, as CurrentUserOrganizations lists them: the world's own first,
        then the extra ones (which have no workspaces)."""
        return [self._organization.to_json(), *(org.to_json() for org in self._extra_organizations.values())]

    def has_organization(self, organization_id: str) -> bool:
        return organization_id == self.organization_id or organization_id in self._extra_organizations

    def workspaces(self) -> list[Json]:
        """Every workspace, newest first (the default order of List Workspaces)."""
        ordered = sorted(self._organization.workspaces, key=lambda ws: (ws.create_ns, ws.id), reverse=True)
        return [workspace.to_json() for workspace in ordered]

    def workspace(self, workspace_id: str) -> Json:
        return self._workspace(workspace_id).to_json()

    def automations(self, workspace_id: str, show_deleted: bool = False) -> list[Json]:
        """The workspace's automations, most recently updated first (deleted ones only on request)."""
        workspace = self._workspace(workspace_id)
        chosen = [a for a in workspace.automations if show_deleted or not a.deleted]
        chosen.sort(key=lambda a: (a.update_ns, a.id), reverse=True)
        return [automation.to_json() for automation in chosen]

    def automation(self, workspace_id: str, automation_id: str) -> Json:
        """Get Automation (deleted automations are still readable, with delete_time)."""
        return self._automation(workspace_id, automation_id).to_json(with_code_mapping=True)

    def runs(self, workspace_id: str, automation_id: str) -> list[Json]:
        """Every run that exists now, newest first (List Runs' order), without executable_steps."""
        with self._lock:
            runs, _ = self.list_runs(workspace_id, automation_id, None, 0, KEY_LIMIT)
            return _copy(runs)  # type: ignore[no-any-return]

    def run(self, workspace_id: str, automation_id: str, run_id: str) -> Json:
        """Get Run: the run now, with executable_steps."""
        with self._lock:
            now = self.now_ns
            automation = self._automation(workspace_id, automation_id)
            plan = self._plan(automation, self._run_key(automation, run_id, now))
            return _copy(self._renderer.run(plan, now, full=True))  # type: ignore[no-any-return]

    def run_events(self, workspace_id: str, automation_id: str, run_id: str) -> list[Json]:
        """Every event of the run visible now, in order."""
        with self._lock:
            events, _ = self.events_page(workspace_id, automation_id, run_id, None, 0, KEY_LIMIT)
            return [orjson.loads(event) for event in events]

    def execution_outputs(self, workspace_id: str, execution_id: str) -> Json:
        """Get Execution Outputs: typed outputs of a completed execution, `{}` before it completes."""
        with self._lock:
            now = self.now_ns
            workspace = self._workspace(workspace_id)
            missing = not_found("execution", execution_id, f"{workspace.name}/executions/{execution_id}")
            decoded = self._execution_ids[workspace_id].decode(execution_id)
            if decoded is None:
                raise missing
            ordinal, key, execution = split_execution_key(decoded)
            if ordinal >= len(workspace.automations):
                raise missing
            automation = workspace.automations[ordinal]
            created = self._indexes[automation.id].create_ns(key)
            if created is None or created > now:
                raise missing
            outputs = self._renderer.execution_outputs(self._plan(automation, key), execution, now)
            if outputs is None:
                raise missing
            return _copy(outputs)  # type: ignore[no-any-return]

    def exceptions(self, workspace_id: str) -> list[Json]:
        """Every exception that exists now, as List Exceptions renders them, in its order (newest first)."""
        with self._lock:
            page, _ = self.exceptions_page(workspace_id, None, 0, KEY_LIMIT)
            return _copy(page)  # type: ignore[no-any-return]

    def exception(self, workspace_id: str, exception_id: str) -> Json:
        """Get Exception: the exception now."""
        with self._lock:
            now = self.now_ns
            return _copy(self._exception_life(workspace_id, exception_id, now).render(now))  # type: ignore[no-any-return]

    def exception_history(self, workspace_id: str, exception_id: str) -> list[Json]:
        """The exception as it was after each of its changes until now, oldest first (the last is Get Exception's)."""
        with self._lock:
            now = self.now_ns
            return _copy(self._exception_life(workspace_id, exception_id, now).history(now))  # type: ignore[no-any-return]

    def exception_groups(self, workspace_id: str) -> list[Json]:
        """The static exception groups of the workspace (v1ExceptionGroup), as countByGroup describes them."""
        self._workspace(workspace_id)
        return self._guidance.groups(workspace_id)

    def _exception_life(self, workspace_id: str, exception_id: str, now: int) -> ExceptionLife:
        life = self._exception_index(workspace_id, now).by_id.get(exception_id)
        if life is None or life.create_ns > now:
            workspace = self._workspace(workspace_id)
            raise not_found("exception", exception_id, f"{workspace.name}/exceptions/{exception_id}")
        return life

    def automation_run_aggregates(self, workspace_id: str) -> list[Json]:
        """Per automation (deleted ones included): all-time total and completed run counts, as strings, counting
        what had happened `run_counts_lag_seconds` ago."""
        with self._lock:
            counted_until = self.now_ns - round(self.settings.run_counts_lag_seconds * 1e9)
            entries = []
            for automation in sorted(self._workspace(workspace_id).automations, key=lambda a: a.id):
                index = self._indexes[automation.id]
                visible = index.visible(counted_until)
                completed = 0
                for key in index.keys[:visible]:
                    done = self._completed_ns(automation, key)
                    completed += done is not None and done <= counted_until
                stats = {}
                if visible:
                    stats["total_runs"] = str(visible)
                if completed:
                    stats["completed_runs"] = str(completed)
                entries.append({"automation_id": automation.name, "stats": stats})
            return entries

    def daily_run_aggregates(self, workspace_id: str, time_zone: str, start: date | None, end: date | None,
                             automation_ids: Sequence[str] = ()) -> list[Json]:
        """Runs created per local date in the zone, over [start, end] inclusive; zero days omitted.

        No end means today (in the zone); no start means 29 days before the end (30 days in all).
        `automation_ids` are short ids; unknown ones match nothing.
        """
        zone = parse_time_zone(time_zone)
        with self._lock:
            now = self.now_ns
            workspace = self._workspace(workspace_id)
            last = end or timestamps.to_datetime(now).astimezone(zone).date()
            first = start or last - timedelta(days=DEFAULT_DAILY_RANGE_DAYS - 1)
            if first > last:
                raise invalid_argument("start_date", f"start_date {first} is after end_date {last}")
            days = (last - first).days + 1
            if days > MAX_DAILY_RANGE_DAYS:
                raise invalid_argument("end_date", f"the date range may span at most {MAX_DAILY_RANGE_DAYS} days")
            boundaries = [
                timestamps.from_datetime(datetime.combine(first + timedelta(days=offset), datetime.min.time(), zone))
                for offset in range(days + 1)
            ]
            counts = [0] * days
            wanted = set(automation_ids)
            for automation in workspace.automations:
                if wanted and automation.id not in wanted:
                    continue
                index = self._indexes[automation.id]
                visible = index.visible(now)
                cuts = [bisect.bisect_left(index.times, boundary, 0, visible) for boundary in boundaries]
                for offset in range(days):
                    counts[offset] += cuts[offset + 1] - cuts[offset]
            return [{"date": (first + timedelta(days=offset)).isoformat(), "stats": {"total_runs": count}}
                    for offset, count in enumerate(counts) if count]

    # Serving: pages as the HTTP app needs them.

    def list_runs(self, workspace_id: str, automation_id: str, matching: IntervalSet | None, offset: int,
                  size: int) -> tuple[list[Json], bool]:
        """A page of runs (newest first, ties in a fixed order) and whether more match."""
        with self._lock:
            now = self.now_ns
            automation = self._automation(workspace_id, automation_id)
            index = self._indexes[automation.id]
            visible = index.visible(now)
            ranges = [(0, visible)] if matching is None else index.ranges(matching.intervals, visible)
            positions = take_descending(ranges, offset, size)
            runs = [self._renderer.run(self._plan(automation, index.keys[position]), now) for position in positions]
            total = sum(high - low for low, high in ranges)
            return runs, offset + len(positions) < total

    def exceptions_page(self, workspace_id: str, matches: Callable[[ExceptionFacts], bool] | None, offset: int,
                        size: int) -> tuple[list[Json], int]:
        """A page of the exceptions that exist now and match (newest first), and how many match in all."""
        with self._lock:
            now = self.now_ns
            matching = self._matching(workspace_id, matches, now)
            return [life.render(now) for life in matching[offset : offset + size]], len(matching)

    def exception_counts(self, workspace_id: str, matches: Callable[[ExceptionFacts], bool] | None
                         ) -> tuple[Counter[str], Counter[str]]:
        """How many exceptions that exist now and match are in each group and each automation (full names; the
        ungrouped under "")."""
        with self._lock:
            now = self.now_ns
            workspace = self._workspace(workspace_id)
            matching = self._matching(workspace_id, matches, now)
            return (Counter(self._guidance.group_name(workspace_id, life.group) for life in matching),
                    Counter(f"{workspace.name}/automations/{life.automation_id}" for life in matching))

    def events_page(self, workspace_id: str, automation_id: str, run_id: str, node_kind: Callable[[str], bool] | None,
                    position: int, size: int) -> tuple[list[bytes], int | None]:
        """Encoded events from stream position `position` and the position the next page starts at."""
        with self._lock:
            now = self.now_ns
            automation = self._automation(workspace_id, automation_id)
            plan = self._plan(automation, self._run_key(automation, run_id, now))
            events = self._events(plan)
            visible = self._visible(events, now)
            picked: list[bytes] = []
            cursor = position
            while cursor < visible:
                event = events[cursor]
                if node_kind is None or (event.node_kind is not None and node_kind(event.node_kind)):
                    if len(picked) == size:
                        return picked, cursor
                    picked.append(event.body)
                cursor += 1
            return picked, None

    # Changes clients (and tests) make.

    def pause_run(self, workspace_id: str, automation_id: str, run_id: str, reason: str) -> Json:
        """Pause Run: the run becomes stopping (then stopped) with the reason; returns it as Get Run does."""
        return self._override(workspace_id, automation_id, run_id, "pause", reason)

    def continue_run(self, workspace_id: str, automation_id: str, run_id: str) -> Json:
        """Continue Run: a stopping or stopped run becomes pending and then runs to completion."""
        return self._override(workspace_id, automation_id, run_id, "continue", "")

    def _override(self, workspace_id: str, automation_id: str, run_id: str, action: str, reason: str) -> Json:
        with self._lock:
            now = self.now_ns
            automation = self._automation(workspace_id, automation_id)
            key = self._run_key(automation, run_id, now)
            state = self._plan(automation, key).state_at(now).state
            allowed = PAUSABLE if action == "pause" else CONTINUABLE
            if state not in allowed:
                raise failed_precondition(
                    f"{automation.name}/runs/{run_id}",
                    f"cannot {action} run {run_id}: it is {state}; only {', '.join(sorted(allowed))} runs can be "
                    f"{'paused' if action == 'pause' else 'continued'}",
                )
            self._overrides.setdefault((automation.id, key), []).append((action, now, reason))
            self._completions.get(automation.id, {}).pop(key, None)
            self._run_exceptions.get(automation.id, {}).pop(key, None)
            self._exception_indexes.pop(automation.workspace_id, None)  # rebuilt (from the cached runs) when asked
            return _copy(self._renderer.run(self._plan(automation, key), now, full=True))  # type: ignore[no-any-return]

    def insert_runs(self, workspace_id: str, automation_id: str, count: int = 1) -> list[str]:
        """Create `count` new runs now (create_time = now); returns their ids."""
        with self._lock:
            now = self.now_ns
            automation = self._automation(workspace_id, automation_id)
            if automation.runs_until_ns is not None and automation.runs_until_ns <= now:
                raise failed_precondition(automation.name, f"automation {automation_id} no longer receives runs")
            index = self._indexes[automation.id]
            index.ensure(now)
            return [self._run_ids[automation.id].encode(index.insert(now)) for _ in range(count)]

    def accepts_runs(self, workspace_id: str, automation_id: str) -> bool:
        """Whether new runs can still arrive (not deleted, not deactivated)."""
        automation = self._automation(workspace_id, automation_id)
        return automation.runs_until_ns is None or automation.runs_until_ns > self.now_ns

