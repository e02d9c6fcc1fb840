"""What the source keeps in dlt state between loads: the key names, their layout, and the only code that reads them.

resources.py writes through the accessors below while loading; `kognitos-elt status` and the progress estimate read
through them too, so no other module knows a key or a dict layout. Each key is named for what it holds and lives in
the state of the resource that owns it (dlt keeps resource state under `sources.<source>.resources.<resource>`).

Pipelines whose state was written under the earlier names (`automations_v1`, ...) keep working: readers fall back
to the earlier name, and a load moves the entry to its new name, so the first load after an upgrade continues from
the saved cursors.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, ClassVar, Self

from .open_exceptions import ExceptionTracker
from .open_runs import RunTracker
from .settings import OUTPUT_TYPES_DECLARED, OUTPUT_TYPES_INFERRED

RUN_TRACKERS = "run_trackers_by_automation"
"""In `runs`: each automation's RunTracker (cursor, open runs, count), by `workspace_id/automation_id`."""
OPEN_RUN_EVENT_COUNTS = "event_counts_of_open_runs"
"""In `run_events`: how many events of each run still open were loaded, by `workspace_id/automation_id/run_id`."""
EVENT_NODE_KINDS = "node_kinds_of_loaded_events"
"""In `run_events`: the `node_kinds` filter under which the loaded events were numbered."""
DAILY_SERIES_LOADED_UNTIL = "daily_series_loaded_until"
"""In `daily_run_aggregates`: the last day loaded (ISO date) of each series, by `workspace_id/time_zone/automation`."""
EXCEPTION_TRACKERS = "exception_trackers_by_workspace"
"""In `exceptions`: each workspace's ExceptionTracker (cursor, exceptions not resolved), by `workspace_id`."""
OUTPUT_VALUE_TYPES = "value_types_of_loaded_outputs"
"""In `execution_outputs`: where the loaded outputs' `value_type` came from, "inferred" or "declared"."""

FORMER_NAMES = {
    RUN_TRACKERS: "automations_v1",
    OPEN_RUN_EVENT_COUNTS: "open_runs_v1",
    EVENT_NODE_KINDS: "node_kinds_v1",
    DAILY_SERIES_LOADED_UNTIL: "series_loaded_until_v1",
}
"""The names these entries had before they were named for what they hold."""


def _entry(resource_state: dict[str, Any], key: str, default: Any) -> Any:
    """The entry to read and update while loading, moved from its former name if the state predates it."""
    former = FORMER_NAMES.get(key)
    if key not in resource_state and former in resource_state:
        resource_state[key] = resource_state.pop(former)
    return resource_state.setdefault(key, default)


def _saved(source_state: Mapping[str, Any], resource: str, key: str) -> Any:
    """A resource's entry as saved, under either name, read without changing the state."""
    saved = source_state.get("resources", {}).get(resource, {})
    return saved.get(key, saved.get(FORMER_NAMES.get(key, key)))


class SavedMap:
    """An entry of one resource's state that maps keys to saved values; subclasses say which, and what it means."""

    RESOURCE: ClassVar[str]
    KEY: ClassVar[str]

    def __init__(self, saved: dict[str, Any]) -> None:
        self._saved = saved

    @classmethod
    def of_resource(cls, resource_state: dict[str, Any]) -> Self:
        """For the resource that owns the entry, while it loads: read and updated in place."""
        return cls(_entry(resource_state, cls.KEY, {}))

    @classmethod
    def saved_in(cls, source_state: Mapping[str, Any]) -> Self:
        """For anyone else (status, the progress estimate): the entry as the last load saved it."""
        return cls(dict(_saved(source_state, cls.RESOURCE, cls.KEY) or {}))

    def __len__(self) -> int:
        return len(self._saved)

    def status_lines(self) -> list[str]:
        """What `kognitos-elt status` says of the entry."""
        raise NotImplementedError


class RunTrackers(SavedMap):
    """The `runs` resource's state: a RunTracker per automation (open_runs.py)."""

    RESOURCE, KEY = "runs", RUN_TRACKERS

    def get(self, workspace_id: str, automation_id: str) -> RunTracker:
        return RunTracker.from_state(self._saved.get(f"{workspace_id}/{automation_id}"))

    def save(self, workspace_id: str, automation_id: str, tracker: RunTracker) -> None:
        """Close the tracker's load (RunTracker.to_state) and keep the result for the next load."""
        self._saved[f"{workspace_id}/{automation_id}"] = tracker.to_state()

    def all(self) -> list[RunTracker]:
        return [RunTracker.from_state(saved) for saved in self._saved.values()]

    def status_lines(self) -> list[str]:
        trackers = self.all()
        newest = max((tracker.cursor for tracker in trackers if tracker.cursor), default="never")
        return [f"Runs: {len(trackers)} automation cursor(s), newest run created {newest}",
                f"Open runs refreshed on every load: {sum(len(tracker.open) for tracker in trackers)}"]


class ExceptionTrackers(SavedMap):
    """The `exceptions` resource's state: an ExceptionTracker per workspace (open_exceptions.py)."""

    RESOURCE, KEY = "exceptions", EXCEPTION_TRACKERS

    def get(self, workspace_id: str) -> ExceptionTracker:
        return ExceptionTracker.from_state(self._saved.get(workspace_id))

    def save(self, workspace_id: str, tracker: ExceptionTracker, *, advance: bool) -> None:
        """Close the tracker's load (ExceptionTracker.to_state) and keep the result for the next load."""
        self._saved[workspace_id] = tracker.to_state(advance=advance)

    def all(self) -> list[ExceptionTracker]:
        return [ExceptionTracker.from_state(saved) for saved in self._saved.values()]

    def status_lines(self) -> list[str]:
        trackers = self.all()
        newest = max((tracker.cursor for tracker in trackers if tracker.cursor), default="never")
        return [f"Exceptions: {len(trackers)} workspace cursor(s), newest exception created {newest}; not resolved "
                f"(re-read on every load): {sum(len(tracker.unresolved) for tracker in trackers)}"]


class OpenRunEventCounts(SavedMap):
    """The `run_events` resource's count of events loaded per run still open: later loads add only what follows."""

    RESOURCE, KEY = "run_events", OPEN_RUN_EVENT_COUNTS

    def loaded(self, workspace_id: str, automation_id: str, run_id: str) -> int:
        """Events of the run loaded so far (0 for a run not seen open before)."""
        return int(self._saved.get(f"{workspace_id}/{automation_id}/{run_id}", 0))

    def record(self, workspace_id: str, automation_id: str, run_id: str, total: int, finished: bool) -> None:
        """The run's events now loaded; a finished run gets no more events, so it is no longer counted."""
        key = f"{workspace_id}/{automation_id}/{run_id}"
        if finished:
            self._saved.pop(key, None)
        else:
            self._saved[key] = total

    def status_lines(self) -> list[str]:
        return [f"Run events still being appended for {len(self)} open run(s)"]


def node_kinds_of_loaded_events(resource_state: dict[str, Any], node_kinds: tuple[str, ...]) -> tuple[str, ...]:
    """The `node_kinds` the loaded events were numbered under; `node_kinds` itself on a first load."""
    return tuple(_entry(resource_state, EVENT_NODE_KINDS, list(node_kinds)))


def events_loaded_before(run_events_state: Mapping[str, Any]) -> bool:
    """Whether an earlier load loaded events (read before this load records its own)."""
    return EVENT_NODE_KINDS in run_events_state or FORMER_NAMES[EVENT_NODE_KINDS] in run_events_state


def output_types_of_loaded_outputs(source_state: dict[str, Any], configured: str | None, *,
                                   events_before: bool) -> str:
    """Where the loaded outputs' types came from; on a first load, `configured` (default inferred). A pipeline that
    loaded events before this entry existed loaded declared types: Get Execution Outputs was then the only way."""
    outputs_state = source_state.setdefault("resources", {}).setdefault("execution_outputs", {})
    first = OUTPUT_TYPES_DECLARED if events_before else configured or OUTPUT_TYPES_INFERRED
    return str(_entry(outputs_state, OUTPUT_VALUE_TYPES, first))


class DailySeriesLoadedUntil(SavedMap):
    """The `daily_run_aggregates` resource's last day loaded per series (workspace, zone, automation or `*`)."""

    RESOURCE, KEY = "daily_run_aggregates", DAILY_SERIES_LOADED_UNTIL

    def get(self, workspace_id: str, zone: str, automation_id: str) -> date | None:
        saved = self._saved.get(f"{workspace_id}/{zone}/{automation_id}")
        return date.fromisoformat(saved) if saved else None

    def record(self, workspace_id: str, zone: str, automation_id: str, day: date) -> None:
        self._saved[f"{workspace_id}/{zone}/{automation_id}"] = day.isoformat()

    def latest(self) -> date | None:
        """The latest day any series was loaded up to."""
        return max(map(date.fromisoformat, self._saved.values()), default=None)

    def status_lines(self) -> list[str]:
        return [f"Daily aggregate series: {len(self)}, loaded up to {self.latest() or 'never'}"]
