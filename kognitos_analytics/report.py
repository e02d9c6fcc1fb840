"""`kognitos-elt report`: the analytics models as one self-contained HTML file that opens offline.

The numbers come from the models (builder.py) through dlt's SQL client, so any destination the models
build on works; the page inlines plotly.js once (no CDN, no server) and shows every chart's numbers in a table.
Windows end at the service's time of the last load (`service_clock`), not at this machine's clock.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from string import Template
from typing import Any
from zoneinfo import ZoneInfo

import dlt
import plotly.graph_objects as go
from dlt.destinations.exceptions import DatabaseUndefinedRelation
from plotly.offline import get_plotlyjs

from . import DEFAULT_REPORT_DAYS
from .builder import ModelsError, analytics_schema
from .human_loop import human_loop_sections
from .sections import AGE_BUCKETS, STATE_COLORS, Section, age_label, on_local_dates, styled, unique

DAY_STATES = ("completed", "failed", "stopped", "awaiting_guidance", "open")
"""The columns of daily_runs that split a day's runs by state, in the order the chart stacks them."""
TOP_ROWS = 15
TEMPLATE = Template((Path(__file__).with_name("report.html")).read_text())


class ReportError(ModelsError):
    """The report cannot be made from what the destination holds (exit code 7, like the models)."""


@dataclass(frozen=True)
class Window:
    """The report's days: `days` local dates in `zone` ending on the date of the last load there."""

    as_of: datetime
    zone: str
    days: int

    @property
    def end(self) -> date:
        return self.as_of.astimezone(ZoneInfo(self.zone)).date()

    @property
    def start(self) -> date:
        return self.end - timedelta(days=self.days - 1)

    def dates(self) -> list[date]:
        return [self.start + timedelta(days=offset) for offset in range(self.days)]


@dataclass
class Report:
    """Everything the page shows, read from the models."""

    window: Window
    dataset: str
    headline: dict[str, Any]
    groups: dict[str, list[Section]]
    """The page's sections under each group's heading, in the page's order."""


def read_report(pipeline: dlt.Pipeline, *, zone: str | None = None, days: int = DEFAULT_REPORT_DAYS) -> Report:
    """Query the models in the pipeline's destination for the report's window."""
    if days < 1:
        raise ReportError(f"--days {days} is less than 1: use the number of days the report covers, e.g. 30.")
    schema = analytics_schema(pipeline.dataset_name)
    with pipeline.sql_client() as client:
        def query(sql: str, *params: Any) -> list[tuple[Any, ...]]:
            rows = client.execute_sql(sql.replace("{models}", schema), *params) or []
            return [tuple(_plain(value) for value in row) for row in rows]

        try:
            ((as_of,),) = query("SELECT as_of FROM {models}.service_clock")
            zones = sorted(zone for (zone,) in query("SELECT DISTINCT time_zone FROM {models}.daily_runs"))
        except DatabaseUndefinedRelation as missing:
            raise ReportError(
                f"The analytics models are not in {schema!r}: run `kognitos-elt run` (or `kognitos-elt models`) "
                "with the same --pipeline-name, --destination and --dataset-name first."
            ) from missing
        if as_of is None or not zones:
            raise ReportError(f"The models in {schema!r} hold no runs yet: load some with `kognitos-elt run`.")
        zone = zone or ("UTC" if "UTC" in zones else zones[0])
        if zone not in zones:
            raise ReportError(
                f"--time-zone {zone!r} is not among the zones the models count days in ({', '.join(zones)}): add it "
                "to sources.kognitos.time_zones, run `kognitos-elt run`, then make the report again."
            )
        window = Window(as_of, zone, days)
        in_window = (zone, window.start, window.end)
        local_date = on_local_dates("create_time")
        daily = {day: counts for day, *counts in query(
            "SELECT date, " + ", ".join(f"sum({state})" for state in DAY_STATES) + " FROM {models}.daily_runs "
            "WHERE time_zone = %s AND date BETWEEN %s AND %s GROUP BY date", *in_window)}
        ((median_duration,),) = query("SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_seconds) "
                                      f"FROM {{models}}.run_facts WHERE {local_date}", *in_window)
        ((open_runs, awaiting),) = query(
            "SELECT count(*), count(*) FILTER (WHERE waits_for_human) FROM {models}.open_runs")
        automations = query(
            "SELECT workspace_title, automation_display_name, count(*), count(*) FILTER (WHERE state = 'completed'), "
            "count(*) FILTER (WHERE is_terminal), percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_seconds), "
            "percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_seconds) "
            f"FROM {{models}}.run_facts WHERE {local_date} "
            "GROUP BY workspace_id, automation_id, workspace_title, automation_display_name ORDER BY 3 DESC, 2",
            *in_window)
        steps = query(
            "SELECT coalesce(book_name || '.' || function_name, node_kind) AS step, count(*), "
            "percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms), "
            "percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) FROM {models}.node_timings "
            "WHERE cast(executed_time at time zone %s as date) BETWEEN %s AND %s AND duration_ms IS NOT NULL "
            f"GROUP BY 1 ORDER BY 3 DESC, 1 LIMIT {TOP_ROWS}", *in_window)
        failures = query(
            "SELECT automation_display_name, workspace_title, coalesce(error_description, '(no description)'), "
            f"count(*), max(end_time) FROM {{models}}.run_facts WHERE state = 'failed' AND {local_date} "
            f"GROUP BY workspace_id, automation_id, 1, 2, 3 ORDER BY 4 DESC, 3 LIMIT {TOP_ROWS}", *in_window)
        backlog = query(
            "SELECT automation_display_name, run_id, state, waits_for_human, create_time, age_seconds, "
            "exception_description FROM {models}.open_runs ORDER BY age_seconds DESC, run_id")
        human_loop = human_loop_sections(query, zone, window.dates())
    failures, backlog = _local(failures, zone), _local(backlog, zone)
    per_day = [(day, *daily.get(day, [0] * len(DAY_STATES))) for day in window.dates()]
    totals = [sum(row[index] for row in per_day) for index in range(1, len(DAY_STATES) + 1)]
    runs = sum(totals)
    terminal = sum(totals[:3])
    headline = {"runs": runs, "success_rate": totals[0] / terminal if terminal else None,
                "median_duration_seconds": median_duration, "open_runs": open_runs, "awaiting_guidance": awaiting}
    runs_sections = [_runs_per_day(per_day), *_per_automation(automations), _slowest_steps(steps),
                     _failure_reasons(failures), _backlog(backlog)]
    return Report(window, pipeline.dataset_name, headline, {"Runs": runs_sections, "Human in the loop": human_loop})


def write_report(report: Report, path: Path) -> Path:
    """The page as one file: plotly.js inlined once, each chart a div with its data, each table beside it."""
    path.write_text(render(report), encoding="utf-8")
    return path.resolve()


def render(report: Report) -> str:
    window = report.window
    cards = "".join(
        f'<div class="card"><div class="value" data-headline="{key}" data-value="{report.headline[key]}">'
        f'{html.escape(text)}</div><div class="label">{label}</div></div>'
        for key, label, text in (
            ("runs", "runs", f"{report.headline['runs']:,}"),
            ("success_rate", "success rate (completed / ended)", _percent(report.headline["success_rate"])),
            ("median_duration_seconds", "median duration", _duration(report.headline["median_duration_seconds"])),
            ("open_runs", "open runs now", f"{report.headline['open_runs']:,}"),
            ("awaiting_guidance", "waiting for a human now", f"{report.headline['awaiting_guidance']:,}"),
        )
    )
    sections = "".join(f'<h2 class="group">{html.escape(group)}</h2>' + "".join(map(_section_html, members))
                       for group, members in report.groups.items())
    return TEMPLATE.substitute(
        title=f"Kognitos runs: {window.start} to {window.end}",
        subtitle=html.escape(f"Dataset {report.dataset}; {window.days} days and times in {window.zone}, ending at the "
                             f"last load ({window.as_of.astimezone(UTC):%Y-%m-%d %H:%M} UTC, the service's clock)."),
        plotly=get_plotlyjs(), cards=cards, sections=sections,
    )


def _section_html(section: Section) -> str:
    chart = section.figure.to_html(full_html=False, include_plotlyjs=False, div_id=f"chart-{section.key}",
                                   config={"displaylogo": False, "responsive": True})
    head = "".join(f"<th>{html.escape(column)}</th>" for column in section.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(value))}</td>" for value in row) + "</tr>"
                   for row in section.rows) or f'<tr><td colspan="{len(section.columns)}">none</td></tr>'
    return (f'<section id="{section.key}"><h2>{html.escape(section.title)}</h2><p>{html.escape(section.note)}</p>'
            f'{chart}<details><summary>The numbers</summary><table data-table="{section.key}"><thead><tr>{head}'
            f"</tr></thead><tbody>{body}</tbody></table></details></section>")


def _runs_per_day(per_day: list[tuple[Any, ...]]) -> Section:
    figure = go.Figure([go.Bar(name=state.replace("_", " "), x=[row[0] for row in per_day],
                               y=[row[index] for row in per_day], marker_color=STATE_COLORS[state])
                        for index, state in enumerate(DAY_STATES, start=1)])
    figure.update_layout(barmode="stack", yaxis_title="runs created", hovermode="x unified")
    return Section("runs-per-day", "Runs per day, by state now", "Each day's runs (by local creation date), "
                   "split by the state they are in now; open means pending, executing or stopping.",
                   styled(figure), ("date", *DAY_STATES), per_day)


def _per_automation(rows: list[tuple[Any, ...]]) -> list[Section]:
    names = unique([f"{automation} ({workspace})" for workspace, automation, *_ in rows])
    rates = [completed / terminal if terminal else None for _, _, _, completed, terminal, _, _ in rows]
    success = go.Figure(go.Bar(x=[None if rate is None else 100 * rate for rate in rates], y=names,
                               orientation="h", marker_color=STATE_COLORS["completed"],
                               customdata=[[row[2], row[4]] for row in rows],
                               hovertemplate="%{y}: %{x:.1f}% of %{customdata[1]} ended runs"
                                             " (%{customdata[0]} runs)<extra></extra>"))
    success.update_layout(xaxis_title="success rate, %", xaxis_range=[0, 100], yaxis_autorange="reversed")
    duration = go.Figure([go.Bar(name=label, x=[row[index] for row in rows], y=names, orientation="h")
                          for label, index in (("median", 5), ("95th percentile", 6))])
    # Log scale: a run that waited days for a human sits beside runs of seconds.
    duration.update_layout(barmode="group", xaxis_title="seconds from creation to end (log scale)",
                           xaxis_type="log", yaxis_autorange="reversed")
    table = [(automation, workspace, runs, completed, terminal, rate, median, p95)
             for (workspace, automation, runs, completed, terminal, median, p95), rate in zip(rows, rates, strict=True)]
    columns = ("automation", "workspace", "runs", "completed", "ended", "success rate", "median s", "p95 s")
    return [
        Section("success-per-automation", "Success rate per automation", "Completed runs out of those that "
                "ended (completed, failed or stopped), among runs created in the window.", styled(success),
                columns, table),
        Section("duration-per-automation", "Run duration per automation", "Seconds from a run's creation to its "
                "end, for runs created in the window that ended.", styled(duration), columns, table),
    ]


def _slowest_steps(rows: list[tuple[Any, ...]]) -> Section:
    figure = go.Figure([go.Bar(name=label, x=[row[index] for row in rows], y=[row[0] for row in rows],
                               orientation="h", customdata=[[row[1]] for row in rows],
                               hovertemplate="%{y}: %{x:,.0f} ms (" + label + ", %{customdata[0]} executions)"
                                             "<extra></extra>")
                        for label, index in (("median", 2), ("95th percentile", 3))])
    figure.update_layout(barmode="group", xaxis_title="milliseconds", yaxis_autorange="reversed")
    return Section("slowest-steps", "Slowest steps", f"The {TOP_ROWS} steps (book functions, or the node kind "
                   "where none is called) with the longest median time, executed in the window.",
                   styled(figure), ("step", "executions", "median ms", "p95 ms"), rows)


def _failure_reasons(rows: list[tuple[Any, ...]]) -> Section:
    figure = go.Figure(go.Bar(x=[row[3] for row in rows], y=unique([f"{row[2]} ({row[0]}, {row[1]})" for row in rows]),
                              orientation="h", marker_color=STATE_COLORS["failed"],
                              hovertemplate="%{y}: %{x} failures<extra></extra>"))
    figure.update_layout(xaxis_title="failed runs", yaxis_autorange="reversed")
    return Section("failure-reasons", "Top failure reasons", f"The {TOP_ROWS} most frequent errors of runs created "
                   "in the window that failed.", styled(figure),
                   ("automation", "workspace", "error", "failures", "last seen"), rows)


def _backlog(rows: list[tuple[Any, ...]]) -> Section:
    states = sorted({row[2] for row in rows})
    counts = {(state, label): 0 for state in states for _, label in AGE_BUCKETS}
    for row in rows:
        counts[(row[2], age_label(row[5]))] += 1
    figure = go.Figure([go.Bar(name=state.replace("_", " "), x=[label for _, label in AGE_BUCKETS],
                               y=[counts[(state, label)] for _, label in AGE_BUCKETS],
                               marker_color=STATE_COLORS.get(state)) for state in states])
    figure.update_layout(barmode="stack", xaxis_title="age at the last load", yaxis_title="open runs")
    table = [(automation, run_id, state, "yes" if waits else "", created, _duration(age), exception or "")
             for automation, run_id, state, waits, created, age, exception in rows]
    return Section("open-backlog", "Open-run backlog", "Runs not completed, failed or stopped at the last load, "
                   "by how long ago they were created (all of them, whatever their creation date).",
                   styled(figure), ("automation", "run", "state", "waits for a human", "created", "age",
                                     "exception"), table)


def _local(rows: list[tuple[Any, ...]], zone: str) -> list[tuple[Any, ...]]:
    """Times as the report's zone reads them, like its days (the destination answers in its session's zone)."""
    return [tuple(value.astimezone(ZoneInfo(zone)) if isinstance(value, datetime) else value for value in row)
            for row in rows]


def _plain(value: Any) -> Any:
    """PostgreSQL's sums are Decimals: the page and the tests want plain numbers."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.3f}" if value < 1 else f"{value:,.1f}"
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def _percent(rate: float | None) -> str:
    return "n/a" if rate is None else f"{100 * rate:.1f}%"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h" if seconds < 172800 else f"{seconds / 86400:.1f} days"
