"""The report's "Human in the loop" sections: how many completed runs never needed a person, the exceptions waiting
for one now, and how fast and by whom the window's exceptions were resolved (run_facts.needed_guidance,
exception_facts)."""

from __future__ import annotations

from datetime import date
from typing import Any

import plotly.graph_objects as go

from .sections import AGE_BUCKETS, Query, Section, age_label, on_local_dates, styled, unique

UNGROUPED = "(ungrouped)"
UNASSIGNED = "(unassigned)"
AGE_COLORS = ("#a5d6a7", "#fff176", "#ffb74d", "#e57373")
"""One per AGE_BUCKETS: the longer an exception has waited, the warmer."""
RESOLVERS = (("by an agent", "#6a1b9a"), ("by a person", "#ef6c00"))
"""The resolved-by chart's series, in the order of the resolutions table's columns after `resolved`."""


def human_loop_sections(query: Query, zone: str, dates: list[date]) -> list[Section]:
    """The group's sections for the window's `dates` (local dates in `zone`); the pending queue is all of it now."""
    in_window = (zone, dates[0], dates[-1])
    straight = query(
        "SELECT automation_display_name, workspace_title, count(*) FILTER (WHERE state = 'completed'), "
        "count(*) FILTER (WHERE state = 'completed' AND NOT needed_guidance) FROM {models}.run_facts "
        f"WHERE {on_local_dates('create_time')} GROUP BY workspace_id, automation_id, automation_display_name, "
        "workspace_title ORDER BY 3 DESC, 1, 2", *in_window)
    pending = query(
        f"SELECT coalesce(exception_group, '{UNGROUPED}'), coalesce(assignee, '{UNASSIGNED}'), waiting_seconds "
        "FROM {models}.exception_facts WHERE state = 'pending'")
    resolved = {day: values for day, *values in query(
        "SELECT cast(resolved_time at time zone %s as date), count(*), count(*) FILTER (WHERE resolved_by = 'agent'), "
        "count(*) FILTER (WHERE resolved_by = 'person'), "
        "percentile_cont(0.5) WITHIN GROUP (ORDER BY time_to_resolve_seconds), "
        "percentile_cont(0.95) WITHIN GROUP (ORDER BY time_to_resolve_seconds) FROM {models}.exception_facts "
        f"WHERE {on_local_dates('resolved_time')} GROUP BY 1", zone, *in_window)}
    resolutions = [(day, *resolved.get(day, (0, 0, 0, None, None))) for day in dates]
    return [_straight_through(straight),
            _pending_by(pending, 0, "pending-by-group", "exception group"),
            _pending_by(pending, 1, "pending-by-assignee", "assignee"),
            *_resolutions(resolutions)]


def _straight_through(rows: list[tuple[Any, ...]]) -> Section:
    table = [(automation, workspace, completed, straight, straight / completed if completed else None)
             for automation, workspace, completed, straight in rows]
    figure = go.Figure(go.Bar(x=[None if row[4] is None else 100 * row[4] for row in table],
                              y=unique([f"{automation} ({workspace})" for automation, workspace, *_ in table]),
                              orientation="h", marker_color="#00838f", customdata=[[row[3], row[2]] for row in table],
                              hovertemplate="%{y}: %{x:.1f}% of %{customdata[1]} completed runs"
                                            " (%{customdata[0]} without a human)<extra></extra>"))
    figure.update_layout(xaxis_title="straight-through rate, %", xaxis_range=[0, 100], yaxis_autorange="reversed")
    return Section("straight-through", "Straight-through rate per automation", "Of the completed runs created in "
                   "the window, the share that never needed guidance (no exception raised, never awaiting guidance). "
                   "An automation with runs in the window but none completed has no rate: a blank cell, no bar.",
                   styled(figure), ("automation", "workspace", "completed", "straight through",
                                    "straight-through rate"), table)


def _pending_by(rows: list[tuple[Any, ...]], column: int, key: str, dimension: str) -> Section:
    """The exceptions pending now, one line per value of `column` (most pending first), split by age."""
    counts: dict[str, list[int]] = {}
    for row in rows:
        counts.setdefault(row[column], [0] * len(AGE_BUCKETS))[
            [label for _, label in AGE_BUCKETS].index(age_label(row[2]))] += 1
    table = [(name, *ages, sum(ages))
             for name, ages in sorted(counts.items(), key=lambda item: (-sum(item[1]), item[0]))]
    names = [row[0] for row in table]
    figure = go.Figure([go.Bar(name=label, x=[row[index] for row in table], y=names, orientation="h",
                               marker_color=color)
                        for index, ((_, label), color) in enumerate(zip(AGE_BUCKETS, AGE_COLORS, strict=True),
                                                                    start=1)])
    figure.update_layout(barmode="stack", xaxis_title="exceptions pending, by how long they have waited",
                         yaxis_autorange="reversed")
    unnamed = UNGROUPED if column == 0 else UNASSIGNED
    return Section(key, f"Pending exceptions by {dimension}", f"Exceptions pending at the last load (all of them, "
                   f"whenever raised) per {dimension}, {unnamed} when it has none, split by how long they have waited.",
                   styled(figure), (dimension, *(label for _, label in AGE_BUCKETS), "pending"), table)


def _resolutions(rows: list[tuple[Any, ...]]) -> list[Section]:
    """Time to resolve and who resolved, per local date of resolution: one table for both charts."""
    days = [row[0] for row in rows]
    speed = go.Figure([go.Bar(name=label, x=days, y=[row[index] for row in rows], customdata=[[row[1]] for row in rows],
                              hovertemplate="%{x}: %{y:,.0f} s (" + label + " of %{customdata[0]} resolved)"
                                            "<extra></extra>")
                       for label, index in (("median", 4), ("95th percentile", 5))])
    # Log scale: an agent resolves in seconds, a person in hours or days.
    speed.update_layout(barmode="group", yaxis_title="seconds from raised to resolved (log scale)", yaxis_type="log",
                        hovermode="x unified")
    who = go.Figure([go.Bar(name=label, x=days, y=[row[index] for row in rows], marker_color=color)
                     for index, (label, color) in enumerate(RESOLVERS, start=2)])
    who.update_layout(barmode="stack", yaxis_title="exceptions resolved", hovermode="x unified")
    columns = ("date", "resolved", "by an agent", "by a person", "median s", "p95 s")
    return [
        Section("time-to-resolve", "Time to resolve", "Per local date of resolution in the window: the exceptions "
                "resolved, and the median and 95th percentile of the seconds from raised to resolved.",
                styled(speed), columns, rows),
        Section("resolved-by", "Resolved by an agent or a person", "Per local date of resolution in the window: "
                "exceptions an agent resolved (through a guide entry) and those a person resolved.", styled(who),
                columns, rows),
    ]
