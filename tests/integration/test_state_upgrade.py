"""A pipeline whose state was saved under the earlier state key names keeps loading incrementally after the upgrade."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import dlt
import pytest

from kognitos_elt.destination import DEFAULT_PIPELINE_NAME
from kognitos_elt.kognitos import ConfigError
from kognitos_elt.kognitos.records import short_id
from kognitos_elt.kognitos.state import (
    DAILY_SERIES_LOADED_UNTIL,
    EVENT_NODE_KINDS,
    OPEN_RUN_EVENT_COUNTS,
    OUTPUT_VALUE_TYPES,
    RUN_TRACKERS,
)
from kognitos_elt.status import status_lines
from kognitos_simulator import RunningSimulator

from .conftest import Loader, Query
from .truth import loaded_events, loaded_runs, truth_events, truth_runs

EARLIER_NAMES = {
    "runs": {RUN_TRACKERS: "automations_v1"},
    "run_events": {OPEN_RUN_EVENT_COUNTS: "open_runs_v1", EVENT_NODE_KINDS: "node_kinds_v1"},
    "daily_run_aggregates": {DAILY_SERIES_LOADED_UNTIL: "series_loaded_until_v1"},
}
"""Where and under which names the source saved its state before the keys were named for what they hold."""


def saved_resources() -> dict[str, Any]:
    return dlt.attach(DEFAULT_PIPELINE_NAME).state["sources"]["kognitos"]["resources"]


KEPT_SINCE = {"runs": ("listed_total", "listed_at")}
"""What each run tracker keeps that the earlier source did not: the run total and time of its last listing."""


def save_under_earlier_names() -> None:
    """Rewrite the pipeline's saved state as the earlier source left it: the same entries, without what it did not
    keep yet, under the earlier names."""
    with dlt.attach(DEFAULT_PIPELINE_NAME).managed_state() as state:
        resources = state["sources"]["kognitos"]["resources"]
        for tracker in resources["runs"][RUN_TRACKERS].values():
            for newer in KEPT_SINCE["runs"]:
                del tracker[newer]
        for resource, names in EARLIER_NAMES.items():
            for name, earlier in names.items():
                resources[resource][earlier] = resources[resource].pop(name)


def test_state_saved_under_the_earlier_names_is_read_by_status_and_continued_by_the_next_load(
    simulator: RunningSimulator, load: Loader, query: Query, database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspaces = [short_id(w["name"]) for w in simulator.world.workspaces()]
    automations = sum(len(simulator.world.automations(ws, show_deleted=True)) for ws in workspaces)
    load()
    first_events = loaded_events(query)
    before = truth_runs(simulator.world)
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(database))  # where `status` finds the warehouse
    status_before = status_lines(DEFAULT_PIPELINE_NAME)
    save_under_earlier_names()
    assert {resource: sorted(entries) for resource, entries in saved_resources().items()
            if resource in EARLIER_NAMES} == {resource: sorted(names.values())
                                              for resource, names in EARLIER_NAMES.items()}
    assert status_lines(DEFAULT_PIPELINE_NAME) == status_before
    assert f"Runs: {automations} automation cursor(s)" in "\n".join(status_before)

    simulator.world.advance(timedelta(hours=6))
    after = truth_runs(simulator.world)
    added = after.keys() - before.keys()
    changed = {key for key in before if before[key] != after[key]}
    events = truth_events(simulator.world)
    assert added and changed and len(events) > len(first_events)
    simulator.requests.clear()

    summary = load()

    # Runs: each automation listed once from its saved cursor; exactly the new and the changed runs loaded.
    listings = [e for e in simulator.requests.entries if e.path.endswith("/runs")]
    assert len(listings) == automations and all("filter" in e.query for e in listings)
    assert loaded_runs(query) == after
    assert (summary.stats["runs_new"], summary.stats["runs_updated"]) == (len(added), len(changed))
    assert summary.rows["runs"] == len(added) + len(changed)
    # Events: only those that followed the ones already loaded.
    assert loaded_events(query) == events
    assert summary.rows["run_events"] == len(events) - len(first_events)
    # Daily series: the lookback (today and yesterday) of each workspace-wide series, not a year's backfill.
    assert summary.rows["daily_run_aggregates"] == 2 * len(workspaces)
    # Every entry now has its new name; the earlier ones are gone.
    assert {resource: sorted(entries) for resource, entries in saved_resources().items()
            if resource in EARLIER_NAMES} == {resource: sorted(names) for resource, names in EARLIER_NAMES.items()}

    # The events were numbered without a node_kinds filter, and that was kept: a filter now is refused (when the events
    # of a new run load).
    simulator.world.insert_runs(workspaces[0], short_id(simulator.world.automations(workspaces[0])[0]["name"]))
    with pytest.raises(ConfigError, match="node_kinds"):
        load(node_kinds=["FunctionCall"])


def test_a_pipeline_that_loaded_outputs_before_their_types_were_kept_goes_on_declaring_them(
    simulator: RunningSimulator, load: Loader, query: Query
) -> None:
    load(execution_output_types="declared")
    with dlt.attach(DEFAULT_PIPELINE_NAME).managed_state() as state:  # as the source before the choice left it
        del state["sources"]["kognitos"]["resources"]["execution_outputs"][OUTPUT_VALUE_TYPES]
    simulator.world.advance(timedelta(hours=6))
    simulator.requests.clear()

    with pytest.raises(ConfigError, match="execution_output_types"):
        load(execution_output_types="inferred")
    load()

    assert simulator.requests.count(path_contains="/outputs") > 0, "the new outputs were declared, as the old ones"
    types = {value_type for (value_type,) in query("SELECT DISTINCT value_type FROM kognitos.execution_outputs")}
    assert "table:line items" in types and "table" not in types
