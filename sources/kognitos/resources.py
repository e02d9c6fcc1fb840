"""One module-level function per table: dlt wiring only (state, API pages in, Arrow pages out).

The logic lives in pure modules: records.py maps API objects to rows (and numbers a run's events),
open_runs.py decides what is new and what to refresh, params.py builds each request's query parameters,
days.py picks the days a daily series re-queries, state.py keeps what loads hand on, schema.py types the
pages. Transformers get their parent's Arrow pages and read back only the columns they need.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import dlt
import pyarrow as pa
import pyarrow.compute as pc

from . import paths, schema
from .client import KognitosClient
from .config import SourceConfig
from .days import fill_missing_days, series_window
from .errors import ConfigError, NotFoundError
from .open_exceptions import ExceptionTracker, ListingOrder
from .open_runs import RefreshPlan, RequestCosts, RunTracker
from .organization import organization_id
from .params import (
    automations_params,
    daily_run_aggregates_params,
    exceptions_of_runs_params,
    list_params,
    new_exceptions_params,
    runs_params,
    unresolved_exceptions_params,
)
from .records import (
    Row,
    automation_aggregate_rows,
    automation_row,
    daily_aggregate_rows,
    daily_counts,
    exception_automation_id,
    exception_row,
    exception_version,
    execution_output_rows,
    journal_output_rows,
    new_event_rows,
    run_row,
    run_version,
    workspace_row,
)
from .settings import (
    EXCEPTION_RUNS_PER_REQUEST,
    OUTPUT_TYPES_DECLARED,
    OUTPUT_TYPES_INFERRED,
    ROWS_PER_PAGE,
    RUN_PAGES_READ_AHEAD,
    WORKSPACE_WIDE,
)
from .state import (
    DailySeriesLoadedUntil,
    ExceptionTrackers,
    OpenRunEventCounts,
    RunTrackers,
    events_loaded_before,
    node_kinds_of_loaded_events,
    output_types_of_loaded_outputs,
)
from .timestamps import timestamp_key

logger = logging.getLogger(__name__)


def workspaces(load: Load) -> Iterator[pa.Table]:
    """The configured workspaces, or every workspace the token can see in the organization, in one page.

    One page whatever their number, so that each child sees every workspace at once: `automations` can then tell
    a configured automation id that exists nowhere from one in a workspace of a later page. The organization is
    resolved here, the first request of a load (organization.py), and its rows carry it to every other table.
    """
    client, config = load.client, load.config
    org = organization_id(client, config)
    if config.workspace_ids:
        rows = []
        for ws in config.workspace_ids:
            try:
                rows.append(workspace_row(client.get(paths.workspace(org, ws)), org))
            except NotFoundError as error:
                raise error.about(f"Workspace {ws!r} (from workspace_ids) was not found") from error
        yield schema.WORKSPACES.page(rows)
        return
    try:
        listed = client.pages(paths.user_workspaces(org), "user_workspaces", list_params(config.page_size))
        yield schema.WORKSPACES.page(workspace_row(ws, org) for page in listed for ws in page)
    except NotFoundError as error:
        origin = "from organization_id" if config.organization_id else "the only one the token can see"
        raise error.about(f"Organization {org!r} ({origin}) was not found") from error


def automations(workspaces_page: pa.Table, load: Load) -> Iterator[pa.Table]:
    """Automations of each workspace, deleted ones included (with `delete_time`) so old runs still join."""
    client, config = load.client, load.config
    workspaces = _rows(workspaces_page, "organization_id", "workspace_id")
    found: set[str] = set()
    batches = (rows for ws in workspaces for rows in _automation_rows(ws, client, config))
    for page in _pages(schema.AUTOMATIONS, batches):
        found.update(page["automation_id"].to_pylist())
        yield page
    if missing := sorted(set(config.automation_ids or ()) - found):
        raise ConfigError(
            "automation_ids",
            f"{missing} were not found in workspaces {sorted(ws['workspace_id'] for ws in workspaces)}",
            "Check the ids (the last segment of an automation's name) and that the token can see their workspace.",
        )


def _automation_rows(ws: Row, client: KognitosClient, config: SourceConfig) -> Iterator[list[Row]]:
    org, ws_id = ws["organization_id"], ws["workspace_id"]
    wanted = set(config.automation_ids or ())
    for page in client.pages(paths.automations(org, ws_id), "automations", automations_params(config.page_size)):
        rows = [automation_row(a, org, ws_id) for a in page]
        if wanted:
            rows = [row for row in rows if row["automation_id"] in wanted]
        if rows:
            yield rows


def runs(automations_page: pa.Table, load: Load) -> Iterator[pa.Table]:
    """New runs, and open runs whose state moved, of each automation, with a cursor per automation.

    `load.costs` times the run requests of the whole load, so each automation's refresh plan weighs what was observed.
    An automation with no open run (every one, in a backfill) needs no prices to plan: its first pages are read on the
    client's workers while the automations before it are processed, so the listings are not one long chain. One whose
    run total (`load.run_totals`) has not changed since it was last listed expects no new run (open_runs.py says
    when), so its plan may be not to list it at all.
    """
    client, config, costs = load.client, load.config, load.costs
    trackers = RunTrackers.of_resource(dlt.current.resource_state())
    relist_after = timedelta(hours=config.list_unchanged_automations_every_hours)

    def listings() -> Iterator[RunListing]:
        for automation in _rows(automations_page, "organization_id", "workspace_id", "automation_id", "delete_time"):
            key = automation["workspace_id"], automation["automation_id"]
            tracker, total = trackers.get(*key), load.run_totals.get(key)
            listing = RunListing(automation, tracker, total, tracker.total_unchanged(total, client.now(), relist_after))
            if not tracker.open:
                listing.start(client, config, tracker.new_runs_plan(config.start_key,
                                                                    new_runs_expected=not listing.total_unchanged))
            yield listing

    def rows() -> Iterator[list[Row]]:
        ahead = config.max_concurrent_requests
        for listing in client.concurrently(RunListing.read_ahead, listings(), ahead=ahead):
            for batch in _automation_runs(listing, client, config, costs):
                client.stats.add("runs_listed", len(batch))
                yield batch
            if listing.plan is not None and not listing.plan.lists:
                client.stats.add("automations_not_listed")
            client.stats.add("runs_new", listing.tracker.new_count)
            client.stats.add("runs_updated", listing.tracker.updated_count)
            trackers.save(listing.automation["workspace_id"], listing.automation["automation_id"], listing.tracker)

    yield from _pages(schema.RUNS, rows())


@dataclass
class RunListing:
    """One automation's run listing: its plan, and the pages read ahead (with the seconds each took) on a worker."""
    automation: Row
    tracker: RunTracker
    total: int | None
    """The automation's run total this load (None: not known), read before it is listed."""
    total_unchanged: bool
    """The total is what it was before the last listing, a recent one: no new run is expected."""
    plan: RefreshPlan | None = None
    pages: Iterator[list[dict[str, Any]]] | None = None
    read: list[tuple[list[dict[str, Any]], float]] = field(default_factory=list)
    missing: NotFoundError | None = None

    def start(self, client: KognitosClient, config: SourceConfig, plan: RefreshPlan) -> RefreshPlan:
        """List by `plan`, if it lists (no request is sent until a page is read)."""
        org, ws, auto = (self.automation[key] for key in ("organization_id", "workspace_id", "automation_id"))
        self.plan = plan
        if plan.lists:
            self.tracker.listing(self.total, client.now())
            self.pages = client.pages(paths.runs(org, ws, auto), "runs", runs_params(config.page_size, plan.list_from))
        return plan

    def read_ahead(self) -> RunListing:
        """On a worker: the first RUN_PAGES_READ_AHEAD pages of a started listing (its memory is bounded by them)."""
        try:
            while self.pages is not None and len(self.read) < RUN_PAGES_READ_AHEAD and (page := _timed(self.pages)):
                self.read.append(page)
        except NotFoundError as missing:  # raised when the listing is processed, in order
            self.missing = missing
        return self

    def timed_pages(self) -> Iterator[tuple[list[dict[str, Any]], float]]:
        """Every page with the seconds its request took: those read ahead, then the rest as they are read (none when
        the plan does not list)."""
        yield from self.read
        if self.missing is not None:
            raise self.missing
        while self.pages is not None and (page := _timed(self.pages)):
            yield page


def _timed(pages: Iterator[list[dict[str, Any]]]) -> tuple[list[dict[str, Any]], float] | None:
    started = time.perf_counter()
    page = next(pages, None)
    return None if page is None else (page, time.perf_counter() - started)


def _refresh_plan(listing: RunListing, client: KognitosClient, config: SourceConfig, costs: RequestCosts
                  ) -> RefreshPlan:
    """How to list and refresh an automation's open runs at the prices observed so far."""
    tracker, automation_id = listing.tracker, listing.automation["automation_id"]
    prices = costs.estimate(client.stats.mean_request_seconds(), config.max_concurrent_requests)
    plan = tracker.plan(config.start_key, config.page_size, prices, new_runs_expected=not listing.total_unchanged)
    logger.debug(
        "Automation %s: %d open runs, %d loaded; at %.2f ms a page, %.1f us a listed run and %.2f ms a Get Run, "
        "%s, re-list %d runs and Get Run %d (%.3f s estimated; a Get Run each %.3f s)", automation_id,
        len(tracker.open), tracker.count, prices.seconds_per_request * 1e3, prices.seconds_per_run * 1e6,
        prices.seconds_per_get_run * 1e3, "list" if plan.lists else "no new run expected, no listing",
        plan.relisted_runs, len(plan.get_run_ids), plan.seconds, plan.all_get_seconds)
    return plan


def _automation_runs(
    listing: RunListing, client: KognitosClient, config: SourceConfig, costs: RequestCosts
) -> Iterator[list[Row]]:
    automation, tracker = listing.automation, listing.tracker
    org, ws, auto = automation["organization_id"], automation["workspace_id"], automation["automation_id"]
    # With open runs, planned at its turn: at the prices the automations before it showed.
    plan = listing.plan or listing.start(client, config, _refresh_plan(listing, client, config, costs))

    def accepted(api_runs: list[dict[str, Any]]) -> list[Row]:
        return [run_row(run, org, ws, auto) for run in api_runs if tracker.accept(*run_version(run))]

    def get_run(run_id: str) -> dict[str, Any] | None:
        try:
            return client.get(paths.run(org, ws, auto, run_id))
        except NotFoundError:
            return None

    try:
        for page, seconds in listing.timed_pages():
            started = time.perf_counter()
            rows = accepted(page)
            costs.add_page(seconds + time.perf_counter() - started, len(page))
            if rows:
                yield rows
    except NotFoundError:
        if automation["delete_time"] is None:
            raise
        # Whether the service still lists a deleted automation's runs is not documented: if it does not, what was
        # loaded stays as it was (and its open runs are not refreshed any more).
        logger.warning("Automation %s of workspace %s was deleted and the service no longer lists its runs; the "
                       "runs loaded before stay as they were.", auto, ws)
        return
    if not (run_ids := (*plan.get_run_ids, *tracker.unseen_open(plan))):
        return
    # Fetched together, several in flight, and accepted in order before anything is yielded: the batch is timed whole.
    started = time.perf_counter()
    found = []
    for run_id, run in zip(run_ids, client.concurrently(get_run, run_ids), strict=True):
        if run is None:
            logger.info("Run %s of automation %s no longer exists; it stays as last loaded", run_id, auto)
            tracker.forget(run_id)
        else:
            found.append(run)
    rows = accepted(found)
    costs.add_get_runs(time.perf_counter() - started, len(run_ids))
    if rows:
        yield rows


class JournalOutputs:
    """What each execution's `completed` journal entry says of its outputs, handed from `run_events`, which reads
    the entries, to `execution_outputs`, which takes each execution's as its page arrives: the same values as Get
    Execution Outputs, without a request. Kept only while `execution_outputs` is selected, so nothing piles up."""

    def __init__(self, *, value_types: str = OUTPUT_TYPES_INFERRED, keeping: bool = False) -> None:
        self._waiting: dict[tuple[str, str], Mapping[str, Any]] = {}
        self.value_types = value_types
        """Where this load's output types come from: the loaded outputs' (`run_events` decides, before its pages)."""
        self.keeping = keeping

    def keep(self, workspace_id: str, outputs: Mapping[str, Mapping[str, Any]]) -> None:
        if self.keeping:
            self._waiting.update({(workspace_id, execution): values for execution, values in outputs.items()})

    def take(self, workspace_id: str, execution_id: str) -> Mapping[str, Any]:
        return self._waiting.pop((workspace_id, execution_id), {})


@dataclass(frozen=True)
class Load:
    """What the resources of one load share, built once by `kognitos_source` and handed to each (tables.py)."""

    client: KognitosClient
    config: SourceConfig
    costs: RequestCosts = field(default_factory=RequestCosts)
    """The run requests' observed prices, for each automation's refresh plan (`runs`)."""
    journal: JournalOutputs = field(default_factory=JournalOutputs)
    """Outputs handed from `run_events` to `execution_outputs`."""
    run_totals: dict[tuple[str, str], int] = field(default_factory=dict)
    """Each automation's all-time run total by (workspace, automation), from `automation_run_aggregates`, which dlt
    extracts before `runs`; an automation missing here (that resource not selected, say) is listed."""


def run_events(runs_page: pa.Table, load: Load) -> Iterator[pa.Table]:
    """The events of each new or changed run, numbered by position; only events not loaded before.

    Runs are fetched concurrently (bounded by the client). For runs still open, resource state keeps how
    many events were loaded, so a later load adds the new ones without renumbering or duplicating.
    """
    client, config, journal = load.client, load.config, load.journal
    state = dlt.current.resource_state()
    journal.value_types = output_types_of_loaded_outputs(dlt.current.source_state(), config.execution_output_types,
                                                         events_before=events_loaded_before(state))
    _check_output_types_unchanged(journal.value_types, config.execution_output_types)
    journal.keeping = "execution_outputs" in dlt.current.source().selected_resources
    node_kinds = tuple(config.node_kinds or ())
    _check_node_kinds_unchanged(node_kinds_of_loaded_events(state, node_kinds), node_kinds)
    loaded = OpenRunEventCounts.of_resource(state)
    params = list_params(config.page_size)
    kinds = frozenset(node_kinds)

    def fetch(run: Row) -> tuple[Row, Any]:
        path = paths.run_events(run["organization_id"], run["workspace_id"], run["automation_id"], run["run_id"])
        skip = loaded.loaded(run["workspace_id"], run["automation_id"], run["run_id"])
        return run, new_event_rows(client.pages(path, "run_events", params), run, kinds, skip)

    def rows() -> Iterator[list[Row]]:
        run_rows = _rows(runs_page, "organization_id", "workspace_id", "automation_id", "run_id", "state")
        for run, new in client.concurrently(fetch, run_rows):
            client.stats.add("events", len(new.rows))
            client.stats.add("runs_with_events")
            journal.keep(run["workspace_id"], new.outputs)
            yield new.rows
            loaded.record(run["workspace_id"], run["automation_id"], run["run_id"], new.total,
                          finished=run["state"] in schema.TERMINAL_RUN_STATES)

    yield from _pages(schema.RUN_EVENTS, rows())


def execution_outputs(events_page: pa.Table, load: Load) -> Iterator[pa.Table]:
    """Outputs of each execution whose `completed` journal entry was just loaded, once per execution: from that
    entry, typed by the values (no request), or with their declared types, one Get Execution Outputs each.

    An execution belongs to one run, and a run's new events all arrive in one page (`_pages` never splits a
    run), so dropping repeats within the page is enough for a load to emit each execution's outputs once, as
    the table's merge relies on (schema.UNIQUE_PER_LOAD), in memory that does not grow with the load.
    """
    client, journal = load.client, load.journal
    completed_events = events_page.filter(pc.fill_null(pc.equal(events_page["journal_type"], "completed"), False))
    completed = {(row["workspace_id"], row["execution_id"]): row
                 for row in _rows(completed_events, "organization_id", "workspace_id", "automation_id", "run_id",
                                  "execution_id") if row["execution_id"]}
    from_journal = {key: journal.take(*key) for key in completed}  # taken either way: nothing is left waiting
    if journal.value_types != OUTPUT_TYPES_DECLARED:
        yield from _pages(schema.EXECUTION_OUTPUTS, (journal_output_rows(from_journal[key], event, key[1])
                                                     for key, event in completed.items()))
        return

    def fetch(event: Row) -> list[Row]:
        path = paths.execution_outputs(event["organization_id"], event["workspace_id"], event["execution_id"])
        return execution_output_rows(client.get(path), event, event["execution_id"])

    yield from _pages(schema.EXECUTION_OUTPUTS, client.concurrently(fetch, completed.values()))


def _check_output_types_unchanged(saved: str, configured: str | None) -> None:
    """Rows already loaded keep their types: a different source of types would mix two kinds in one column."""
    if configured is not None and configured != saved:
        raise ConfigError(
            "execution_output_types", f"it is {configured!r}, but the outputs loaded so far have {saved} types",
            f"Put {saved!r} back (or remove the setting: the loaded outputs' choice is kept), or reload the outputs "
            "from scratch with `kognitos-elt run --refresh`.",
        )


def _check_node_kinds_unchanged(saved: tuple[str, ...], node_kinds: tuple[str, ...]) -> None:
    """`event_index` numbers positions in the (filtered) stream, so a new filter would renumber events."""
    if node_kinds != saved:
        raise ConfigError(
            "node_kinds", f"it changed from {list(saved)!r} to {list(node_kinds)!r} since the last load, and "
            "event_index numbers positions in the filtered event stream, so old and new events would not line up",
            "Put the previous value back, or reload the events from scratch with `kognitos-elt run --refresh`.",
        )


def daily_run_aggregates(workspaces_page: pa.Table, load: Load) -> Iterator[pa.Table]:
    """Runs per local day for each workspace and zone (and automation, if asked), zero days included.

    The first load of a series covers `start_date` (or settings.DEFAULT_DAILY_HISTORY_DAYS) to today in
    the zone; later loads re-query the lookback window, or back to the last day loaded if the pipeline
    has not run for longer than that, and merge: growing days are updated and no day is skipped.
    """
    client, config = load.client, load.config
    loaded_until = DailySeriesLoadedUntil.of_resource(dlt.current.resource_state())
    now = client.now()

    def rows() -> Iterator[list[Row]]:
        for ws in _rows(workspaces_page, "organization_id", "workspace_id"):
            series = [WORKSPACE_WIDE]
            if config.daily_aggregates_per_automation:
                # Deleted automations included: their runs still count in the workspace-wide series.
                series += [row["automation_id"] for page in _automation_rows(ws, client, config) for row in page]
            for zone in config.time_zones:
                for automation_id in series:
                    window = series_window(zone, now, config.daily_aggregates_lookback_days,
                                           loaded_until.get(ws["workspace_id"], zone, automation_id), config.start_time)
                    if window is not None:
                        yield _daily_series(client, ws, zone, automation_id, *window)
                        loaded_until.record(ws["workspace_id"], zone, automation_id, window[1])

    yield from _pages(schema.DAILY_RUN_AGGREGATES, rows())


def _daily_series(client: KognitosClient, ws: Row, zone: str, automation_id: str, start: date, end: date) -> list[Row]:
    """One `:dailyRunAggregates` call: every day of [start, end], zero where the API sent no day."""
    params = daily_run_aggregates_params(zone, start, end, automation_id)
    counts = daily_counts(client.get(paths.daily_run_aggregates(ws["organization_id"], ws["workspace_id"]), params))
    in_window = {day: total for day, total in counts.items() if start <= day <= end}
    return daily_aggregate_rows(fill_missing_days(in_window, start, end), ws, zone, automation_id)


def automation_run_aggregates(workspaces_page: pa.Table, load: Load) -> Iterator[pa.Table]:
    """Each automation's all-time totals, one snapshot per UTC day (the latest of the day wins).

    They arrive before the first run is listed, so they also tell the progress display how many runs this load
    should find (each automation's total minus the runs already loaded: the run tracker's count), and `runs` which
    automations have no new run (`load.run_totals`).
    """
    client, config = load.client, load.config
    wanted = set(config.automation_ids or ())
    trackers = RunTrackers.saved_in(dlt.current.source_state())
    for ws in _rows(workspaces_page, "organization_id", "workspace_id"):
        response = client.get(paths.automation_run_aggregates(ws["organization_id"], ws["workspace_id"]))
        rows = [row for row in automation_aggregate_rows(response, ws, client.now())
                if not wanted or row["automation_id"] in wanted]
        for row in rows:
            loaded = trackers.get(row["workspace_id"], row["automation_id"]).count
            client.stats.add("runs_expected", max(row["total_runs"] - loaded, 0))
            load.run_totals[row["workspace_id"], row["automation_id"]] = row["total_runs"]
        yield schema.AUTOMATION_RUN_AGGREGATES.page(rows)


def exceptions(workspaces_page: pa.Table, load: Load) -> Iterator[pa.Table]:
    """Each workspace's new exceptions, and those not resolved yet that changed, with a cursor per workspace:
    open_exceptions.py says which requests, and which readings of the reference they rest on."""
    client, config = load.client, load.config
    trackers = ExceptionTrackers.of_resource(dlt.current.resource_state())

    def rows() -> Iterator[list[Row]]:
        for ws in _rows(workspaces_page, "organization_id", "workspace_id"):
            tracker = trackers.get(ws["workspace_id"])
            in_order = yield from _workspace_exceptions(ws, tracker, client, config)
            if not in_order:
                logger.warning("Workspace %s listed its new exceptions neither newest nor oldest first, so the "
                               "exceptions cursor stays where it was: the next load reads them again (and merges).",
                               ws["workspace_id"])
            client.stats.add("exceptions_new", tracker.new_count)
            client.stats.add("exceptions_updated", tracker.updated_count)
            trackers.save(ws["workspace_id"], tracker, advance=in_order)

    yield from _pages(schema.EXCEPTIONS, rows())


def _workspace_exceptions(
    ws: Row, tracker: ExceptionTracker, client: KognitosClient, config: SourceConfig
) -> Generator[list[Row], None, bool]:
    """The rows to load of one workspace's exceptions; returns whether the new ones came in an order that lets the
    cursor move (open_exceptions.ListingOrder)."""
    org, ws_id = ws["organization_id"], ws["workspace_id"]
    path = paths.exceptions(org, ws_id)
    wanted = set(config.automation_ids or ())

    def accepted(page: list[dict[str, Any]], only: Mapping[str, Any] | None = None) -> list[Row]:
        rows = []
        for exception in page:
            version = exception_version(exception)
            if only is not None and version.exception_id not in only:
                continue
            if (not wanted or exception_automation_id(exception) in wanted) and tracker.accept(*version):
                rows.append(exception_row(exception, org, ws_id))
        return rows

    tracked_before = dict(tracker.unresolved)
    order = ListingOrder()
    for page in client.pages(path, "exceptions", new_exceptions_params(config.page_size,
                                                                       tracker.cursor or config.start_key)):
        for exception in page:
            order.add(timestamp_key(exception["create_time"]))
        if rows := accepted(page):
            yield rows
    # Exceptions tracked before this load only from here on; why: open_exceptions.py.
    if tracked_before:
        for page in client.pages(path, "exceptions", unresolved_exceptions_params(config.page_size)):
            if rows := accepted(page, only=tracked_before):
                yield rows
    unseen = tracker.unseen()
    run_ids = sorted({tracked.run_id for tracked in unseen.values()})
    for start in range(0, len(run_ids), EXCEPTION_RUNS_PER_REQUEST):
        params = exceptions_of_runs_params(config.page_size, run_ids[start:start + EXCEPTION_RUNS_PER_REQUEST])
        for page in client.pages(path, "exceptions", params):
            if rows := accepted(page, only=unseen):
                yield rows
    for exception_id in tracker.unseen():
        logger.info("Exception %s of workspace %s is no longer listed; it stays as last loaded", exception_id, ws_id)
        tracker.forget(exception_id)
    return order.monotonic


def _rows(page: pa.Table, *columns: str) -> list[Row]:
    """The columns a child needs from its parent's Arrow page, as rows."""
    return page.select(list(columns)).to_pylist()


def _pages(table: schema.TableSpec, batches: Iterable[list[Row]]) -> Iterator[pa.Table]:
    """Batches gathered into Arrow pages of about settings.ROWS_PER_PAGE rows (dlt's cost is per page, not per
    row); a batch (one run's events, say) is never split across pages."""
    buffer: list[Row] = []
    for rows in batches:
        buffer.extend(rows)
        if len(buffer) >= ROWS_PER_PAGE:
            yield table.page(buffer)
            buffer = []
    if buffer:
        yield table.page(buffer)
