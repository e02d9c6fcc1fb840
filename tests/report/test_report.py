"""The HTML report of a simulator load, opened in a real browser (Debian's Chromium driven by Playwright): every
card's text, every chart's data and every table equal what the simulator's world says (truth.py), for the default
window, for `--days 7` and for `--days 7` in another time zone. One load and one page load per report serve the
whole module."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import psycopg2
import pytest
from playwright.sync_api import Browser, sync_playwright

from kognitos_analytics.report import TOP_ROWS
from kognitos_elt.cli import main
from kognitos_elt.kognitos import ExitCode
from kognitos_simulator import RunningSimulator, Scale, SimulatorSettings, World, running_simulator

from ..conftest import TEST_SCALE, isolate
from .truth import AGE_BUCKETS, DAY_COLUMNS, ReportTruth

CHROMIUM = Path("/usr/bin/chromium")
REQUIRE_BROWSER = bool(os.environ.get("KOGNITOS_REQUIRE_BROWSER"))
"""Read when the tests are collected (`isolated_dlt` clears KOGNITOS* variables): CI sets it, and installs Chromium."""
GROUPS = {"Runs": ("runs-per-day", "success-per-automation", "duration-per-automation", "slowest-steps",
                   "failure-reasons", "open-backlog"),
          "Human in the loop": ("straight-through", "pending-by-group", "pending-by-assignee", "time-to-resolve",
                                "resolved-by")}
"""Each heading of the page and its sections (each a chart and its table), in the page's order."""
CHARTS = tuple(chart for charts in GROUPS.values() for chart in charts)
SEED = 41
"""A world whose exceptions are pending (ungrouped and unassigned ones among them, of several ages), archived, and
resolved by an agent and by a person in every report's window, some on a date Kolkata and UTC disagree on; the
shared fixture's seed 11 has no ungrouped, unassigned or archived one. Two tests below check it holds."""
ZONES = ("UTC", "Asia/Kolkata")  # Kolkata is UTC+05:30: its days start at no whole hour of UTC's
DEFAULT_DAYS = 30  # the documented default of --days
REPORTS = {"default": (), "days-7": ("--days", "7"), "days-7-kolkata": ("--days", "7", "--time-zone", "Asia/Kolkata")}
"""Each report the module makes: its arguments to `kognitos-elt report`."""
WINDOWS = {"default": ("UTC", DEFAULT_DAYS), "days-7": ("UTC", 7), "days-7-kolkata": ("Asia/Kolkata", 7)}
"""Each report's (zone, days), as the command's documentation says its arguments mean."""
READ_PAGE = """() => {
    const list = value => value == null ? null
        : Array.from(value, item => ArrayBuffer.isView(item) || Array.isArray(item) ? Array.from(item) : item);
    const all = selector => [...document.querySelectorAll(selector)];
    return {
        cards: Object.fromEntries(all('[data-headline]').map(card => [card.dataset.headline,
            {value: card.dataset.value, text: card.textContent}])),
        charts: Object.fromEntries(all('.js-plotly-plot').map(chart => [chart.id.replace(/^chart-/, ''),
            chart.data.map(trace => ({name: trace.name ?? null, x: list(trace.x), y: list(trace.y),
                                      customdata: list(trace.customdata)}))])),
        // Drawn: one SVG group per trace of the chart's data, and bars (paths) in them.
        drawn: all('.js-plotly-plot').filter(chart => chart.querySelectorAll('.main-svg g.trace').length
            === chart.data.length && chart.querySelectorAll('.main-svg g.point path').length > 0)
            .map(chart => chart.id.replace(/^chart-/, '')),
        tables: Object.fromEntries(all('table[data-table]').map(table => [table.dataset.table,
            {columns: [...table.querySelectorAll('thead th')].map(cell => cell.textContent),
             rows: [...table.querySelectorAll('tbody tr')].map(row => [...row.querySelectorAll('td')]
                 .map(cell => cell.textContent))}])),
        subtitle: document.querySelector('header p').textContent,
        outline: all('main > h2.group, main > section').map(part => part.tagName === 'H2' ? part.textContent : part.id),
    };
}"""


@dataclass(frozen=True)
class Page:
    """What the browser shows of one report."""

    errors: list[str]
    content: dict[str, Any]
    source: str

    def chart(self, key: str) -> list[dict[str, Any]]:
        return self.content["charts"][key]  # type: ignore[no-any-return]

    def table(self, key: str) -> dict[str, Any]:
        return self.content["tables"][key]  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Load:
    """The module's simulator load and the reports made from it."""

    world: World
    as_of: datetime
    folder: Path
    """Where `kognitos-elt` ran: its DuckDB file, its dlt_data and the reports."""
    reports: dict[str, Path]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        if REQUIRE_BROWSER:
            pytest.fail(f"{CHROMIUM} is missing: .ci/run should have installed Debian's chromium package")
        pytest.skip(f"no browser at {CHROMIUM}: `apt-get install chromium` to run the report's browser tests")
    with sync_playwright() as playwright:
        # Playwright's own browser download cannot work here; Debian's Chromium can.
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield launched
        launched.close()


def configure(patch: pytest.MonkeyPatch, simulator: RunningSimulator) -> None:
    """The source configured as a cron job would, counting days in ZONES, and `run` building the models."""
    patch.setenv("SOURCES__KOGNITOS__ACCESS_TOKEN", simulator.token)
    patch.setenv("SOURCES__KOGNITOS__ORGANIZATION_ID", simulator.world.organization_id)
    patch.setenv("SOURCES__KOGNITOS__BASE_URL", simulator.base_url)
    patch.setenv("SOURCES__KOGNITOS__TIME_ZONES", json.dumps(ZONES))
    patch.delenv("ANALYTICS__BUILD_AFTER_LOAD", raising=False)


@pytest.fixture(scope="module")
def load(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Load]:
    """One load of the tests' world into DuckDB, with its models, and every report of REPORTS. (Module-scoped: set
    up before each test's `isolated_dlt`, so it isolates itself the same way.)"""
    folder = tmp_path_factory.mktemp("report")
    with running_simulator(SimulatorSettings(seed=SEED, scale=TEST_SCALE)) as simulator, \
            pytest.MonkeyPatch.context() as patch:
        isolate(patch, folder)
        configure(patch, simulator)
        assert main(["run", "--progress", "none"]) == ExitCode.OK
        with duckdb.connect(str(folder / "kognitos_elt.duckdb"), read_only=True) as connection:
            ((as_of,),) = connection.sql("SELECT as_of FROM kognitos_analytics.service_clock").fetchall()
        reports = {name: folder / f"report-{name}.html" for name in REPORTS}
        for name, arguments in REPORTS.items():
            assert main(["report", "--output", str(reports[name]), *arguments]) == ExitCode.OK
        yield Load(simulator.world, service_clock(simulator.world, as_of), folder, reports)


def read_page(browser: Browser, report: Path) -> Page:
    """The page as Chromium shows it: console errors, each card, each chart's data, each table; a screenshot beside
    the report (in pytest's tmp) for a person to look at."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(report.as_uri())
    page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {len(CHARTS)}")
    content = page.evaluate(READ_PAGE)
    page.screenshot(path=str(report.with_suffix(".png")), full_page=True)
    page.close()
    return Page(errors, content, report.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def pages(load: Load, browser: Browser) -> dict[str, Page]:
    return {name: read_page(browser, path) for name, path in load.reports.items()}


def service_clock(world: World, as_of: datetime) -> datetime:
    """The models' clock, the end of every window and age: the service's `Date` header (whole seconds) plus the time
    since this machine read it, which only its bounds are known of here."""
    assert world.now <= as_of < world.now + timedelta(seconds=10)
    return as_of


def truth_of(world: World, as_of: datetime, report: str) -> ReportTruth:
    zone, days = WINDOWS[report]
    return ReportTruth(world, as_of, zone, days, TOP_ROWS)


# How the page writes values: the presentation its README and tables promise, written here from that promise.

DURATION_UNITS = ((120, 1, "s"), (7200, 60, "min"), (172800, 3600, "h"), (None, 86400, "days"))
"""Seconds below 2 minutes, minutes below 2 hours, hours below 2 days, else days; one decimal."""


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    _, per, unit = next(entry for entry in DURATION_UNITS if entry[0] is None or seconds < entry[0])
    return f"{seconds / per:.1f} {unit}"


def percent_text(rate: float | None) -> str:
    return "n/a" if rate is None else f"{100 * rate:.1f}%"


def number_text(value: float) -> str:
    """A table's number: three decimals below 1, one from 1 on, thousands separated."""
    return f"{value:,.3f}" if value < 1 else f"{value:,.1f}"


def either_rounding(text: Callable[[Any], str], value: float | None) -> set[str]:
    """The texts the page may show for a number: one a hair's breadth from a rounding boundary (the warehouse sums
    in another order than this test) may round either way."""
    return {text(None)} if value is None else {text(value * (1 - 1e-12)), text(value * (1 + 1e-12))}


def shown_as(value: Any, zone: ZoneInfo) -> set[str]:
    """The texts a table may show for a value of the truth."""
    if value is None:
        return {""}
    if isinstance(value, bool):
        return {"yes" if value else ""}
    if isinstance(value, int):
        return {f"{value:,}"}
    if isinstance(value, float):
        return either_rounding(number_text, value)
    if isinstance(value, timedelta):
        return either_rounding(duration_text, value.total_seconds())
    if isinstance(value, datetime):  # in the report's zone, like its days
        return {value.astimezone(zone).strftime("%Y-%m-%d %H:%M")}
    if isinstance(value, date):
        return {value.isoformat()}
    return {str(value)}


def assert_table(page: Page, key: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]], zone: ZoneInfo) -> None:
    """The section's table: these columns, and one line per truth row, each cell as the page writes its value."""
    table = page.table(key)
    assert tuple(table["columns"]) == columns
    if not rows:
        assert table["rows"] == [["none"]]
        return
    expected = [[shown_as(value, zone) for value in row] for row in rows]
    wrong = [(index, shown, [sorted(texts) for texts in want]) for index, (shown, want)
             in enumerate(zip(table["rows"], expected, strict=False))
             if len(shown) != len(want) or any(cell not in texts for cell, texts in zip(shown, want, strict=False))]
    assert len(table["rows"]) == len(expected) and not wrong, f"{key}: rows differ (index, shown, expected): {wrong}"


def numbered(labels: list[str]) -> list[str]:
    """Chart categories as the page makes them distinct: the second of a repeated label gets ` #2`, and so on."""
    return [label if labels[:index].count(label) == 0 else f"{label} #{labels[:index].count(label) + 1}"
            for index, label in enumerate(labels)]


def approx(values: Any) -> Any:
    """Numbers to a nanosecond of their truth; a list's None (no value: no bar) stays None."""
    if isinstance(values, list):
        return [None if value is None else approx(value) for value in values]
    return pytest.approx(values, rel=1e-9, abs=1e-6)


# One check per section: its chart's data and its table equal the truth.

AUTOMATION_COLUMNS = ("automation", "workspace", "runs", "completed", "ended", "success rate", "median s", "p95 s")


def check_runs_per_day(page: Page, truth: ReportTruth) -> None:
    rows = truth.runs_per_day()
    assert [(trace["name"], trace["x"], trace["y"]) for trace in page.chart("runs-per-day")] == [
        (state.replace("_", " "), [row[0].isoformat() for row in rows], [row[index] for row in rows])
        for index, state in enumerate(DAY_COLUMNS, start=1)]
    assert_table(page, "runs-per-day", ("date", *DAY_COLUMNS), rows, truth.zone)


def check_success_per_automation(page: Page, truth: ReportTruth) -> None:
    rows = truth.per_automation()
    (trace,) = page.chart("success-per-automation")
    assert trace["y"] == numbered([f"{automation} ({workspace})" for automation, workspace, *_ in rows])
    assert trace["x"] == approx([None if row[5] is None else 100 * row[5] for row in rows])
    assert trace["customdata"] == [[row[2], row[4]] for row in rows]  # runs, ended: shown on hover
    assert_table(page, "success-per-automation", AUTOMATION_COLUMNS, rows, truth.zone)


def check_duration_per_automation(page: Page, truth: ReportTruth) -> None:
    rows = truth.per_automation()
    names = numbered([f"{automation} ({workspace})" for automation, workspace, *_ in rows])
    median, p95 = page.chart("duration-per-automation")
    assert (median["name"], median["y"], p95["name"], p95["y"]) == ("median", names, "95th percentile", names)
    assert median["x"] == approx([row[6] for row in rows])
    assert p95["x"] == approx([row[7] for row in rows])
    assert_table(page, "duration-per-automation", AUTOMATION_COLUMNS, rows, truth.zone)


def check_slowest_steps(page: Page, truth: ReportTruth) -> None:
    rows = truth.slowest_steps()
    median, p95 = page.chart("slowest-steps")
    for trace, name, index in ((median, "median", 2), (p95, "95th percentile", 3)):
        assert (trace["name"], trace["y"]) == (name, [row[0] for row in rows])
        assert trace["x"] == approx([row[index] for row in rows])
        assert trace["customdata"] == [[row[1]] for row in rows]  # executions, shown on hover
    assert_table(page, "slowest-steps", ("step", "executions", "median ms", "p95 ms"), rows, truth.zone)


def check_failure_reasons(page: Page, truth: ReportTruth) -> None:
    rows = truth.failure_reasons()
    (trace,) = page.chart("failure-reasons")
    assert trace["y"] == numbered([f"{error} ({automation}, {workspace})" for automation, workspace, error, *_ in rows])
    assert trace["x"] == [row[3] for row in rows]
    assert_table(page, "failure-reasons", ("automation", "workspace", "error", "failures", "last seen"), rows,
                 truth.zone)


def check_open_backlog(page: Page, truth: ReportTruth) -> None:
    rows = truth.backlog()
    states = sorted({row[2] for row in rows})
    labels = [label for _, label in AGE_BUCKETS]
    assert [(trace["name"], trace["x"], trace["y"]) for trace in page.chart("open-backlog")] == [
        (state.replace("_", " "), labels,
         [sum(row[2] == state and truth.age_bucket(row[5]) == label for row in rows) for label in labels])
        for state in states]
    assert_table(page, "open-backlog", ("automation", "run", "state", "waits for a human", "created", "age",
                                        "exception"), rows, truth.zone)


def check_straight_through(page: Page, truth: ReportTruth) -> None:
    rows = truth.straight_through()
    (trace,) = page.chart("straight-through")
    assert trace["y"] == numbered([f"{automation} ({workspace})" for automation, workspace, *_ in rows])
    assert trace["x"] == approx([None if row[4] is None else 100 * row[4] for row in rows])
    assert trace["customdata"] == [[row[3], row[2]] for row in rows]  # straight through, completed: shown on hover
    assert_table(page, "straight-through", ("automation", "workspace", "completed", "straight through",
                                            "straight-through rate"), rows, truth.zone)


def pending_check(key: str, fact: str, dimension: str, unnamed: str) -> Callable[[Page, ReportTruth], None]:
    """The pending exceptions per value of `fact` (`unnamed` for none), one stacked series per age bucket."""
    def check(page: Page, truth: ReportTruth) -> None:
        rows = truth.pending_by(fact, unnamed)
        labels = [label for _, label in AGE_BUCKETS]
        assert [(trace["name"], trace["y"], trace["x"]) for trace in page.chart(key)] == [
            (label, [row[0] for row in rows], [row[index] for row in rows]) for index, label in enumerate(labels, 1)]
        assert_table(page, key, (dimension, *labels, "pending"), rows, truth.zone)
    return check


RESOLUTION_COLUMNS = ("date", "resolved", "by an agent", "by a person", "median s", "p95 s")


def check_time_to_resolve(page: Page, truth: ReportTruth) -> None:
    rows = truth.resolutions()
    days = [row[0].isoformat() for row in rows]
    median, p95 = page.chart("time-to-resolve")
    for trace, name, index in ((median, "median", 4), (p95, "95th percentile", 5)):
        assert (trace["name"], trace["x"]) == (name, days)
        assert trace["y"] == approx([row[index] for row in rows])
        assert trace["customdata"] == [[row[1]] for row in rows]  # resolved, shown on hover
    assert_table(page, "time-to-resolve", RESOLUTION_COLUMNS, rows, truth.zone)


def check_resolved_by(page: Page, truth: ReportTruth) -> None:
    rows = truth.resolutions()
    days = [row[0].isoformat() for row in rows]
    assert [(trace["name"], trace["x"], trace["y"]) for trace in page.chart("resolved-by")] == [
        ("by an agent", days, [row[2] for row in rows]), ("by a person", days, [row[3] for row in rows])]
    assert_table(page, "resolved-by", RESOLUTION_COLUMNS, rows, truth.zone)


CHECKS: dict[str, Callable[[Page, ReportTruth], None]] = {
    "runs-per-day": check_runs_per_day, "success-per-automation": check_success_per_automation,
    "duration-per-automation": check_duration_per_automation, "slowest-steps": check_slowest_steps,
    "failure-reasons": check_failure_reasons, "open-backlog": check_open_backlog,
    "straight-through": check_straight_through,
    "pending-by-group": pending_check("pending-by-group", "exception_group", "exception group", "(ungrouped)"),
    "pending-by-assignee": pending_check("pending-by-assignee", "assignee", "assignee", "(unassigned)"),
    "time-to-resolve": check_time_to_resolve, "resolved-by": check_resolved_by,
}


def check_cards(page: Page, truth: ReportTruth) -> None:
    """Each card's number (its data-value) and, exactly, the text a person reads."""
    expected = truth.headline()
    cards = page.content["cards"]
    assert list(cards) == list(expected)
    values = {key: None if card["value"] == "None" else float(card["value"]) for key, card in cards.items()}
    assert values == approx(expected)
    wanted = {"runs": {f"{expected['runs']:,}"},
              "success_rate": either_rounding(percent_text, expected["success_rate"]),
              "median_duration_seconds": either_rounding(duration_text, expected["median_duration_seconds"]),
              "open_runs": {f"{expected['open_runs']:,}"},
              "awaiting_guidance": {f"{expected['awaiting_guidance']:,}"}}
    wrong = {key: (card["text"], sorted(wanted[key])) for key, card in cards.items() if card["text"] not in wanted[key]}
    assert not wrong, f"cards whose text differs (shown, expected): {wrong}"


def check_page(page: Page) -> None:
    """Opens offline (nothing fetched), no console error, every chart drawn, each under its group's heading."""
    assert "<script src=" not in page.source
    assert page.errors == []
    assert sorted(page.content["drawn"]) == sorted(CHARTS)
    assert page.content["outline"] == [part for group, charts in GROUPS.items() for part in (group, *charts)]


@pytest.mark.parametrize("report", REPORTS)
def test_the_report_opens_offline_without_error_and_draws_every_chart(pages: dict[str, Page], report: str) -> None:
    check_page(pages[report])


@pytest.mark.parametrize("report", REPORTS)
def test_the_cards_show_the_truth(load: Load, pages: dict[str, Page], report: str) -> None:
    check_cards(pages[report], truth_of(load.world, load.as_of, report))


@pytest.mark.parametrize("chart", CHARTS)
@pytest.mark.parametrize("report", REPORTS)
def test_each_chart_and_its_table_show_the_truth(load: Load, pages: dict[str, Page], report: str,
                                                 chart: str) -> None:
    CHECKS[chart](pages[report], truth_of(load.world, load.as_of, report))


@pytest.mark.parametrize("report", REPORTS)
def test_the_world_has_every_kind_of_exception_the_report_shows(load: Load, report: str) -> None:
    """Else a section's check could pass with a category the page mishandles missing from the world."""
    truth = truth_of(load.world, load.as_of, report)
    assert {exception["state"] for exception in truth.exceptions} == {"pending", "resolved", "archived"}
    groups, assignees = truth.pending_by("exception_group", "(ungrouped)"), truth.pending_by("assignee", "(unassigned)")
    assert "(ungrouped)" in [row[0] for row in groups] and len(groups) > 1
    assert "(unassigned)" in [row[0] for row in assignees] and len(assignees) > 1
    assert sum(any(row[index] for row in groups) for index in range(1, len(AGE_BUCKETS) + 1)) > 1  # several ages
    resolved = truth.resolutions()
    assert sum(row[2] for row in resolved) > 0 and sum(row[3] for row in resolved) > 0  # by an agent, by a person
    assert sum(row[1] > 1 for row in resolved) > 0  # a day whose median and p95 differ
    rates = [row[4] for row in truth.straight_through()]
    assert None not in rates and min(rates) < 1  # no automation without a completed run: that case is not shown


def test_the_windows_disagree_on_a_resolution_date(load: Load) -> None:
    """So the time-to-resolve check would notice days counted in UTC rather than the report's zone."""
    utc, kolkata = (truth_of(load.world, load.as_of, report).resolutions() for report in ("days-7", "days-7-kolkata"))
    assert [row[:2] for row in utc if row[1]] != [row[:2] for row in kolkata if row[1]]


@pytest.mark.parametrize("report", REPORTS)
def test_the_title_names_the_window_and_the_service_clock(load: Load, pages: dict[str, Page], report: str) -> None:
    truth = truth_of(load.world, load.as_of, report)
    zone, days = WINDOWS[report]
    assert f"Kognitos runs: {truth.dates[0]} to {truth.end}</title>" in pages[report].source
    assert pages[report].content["subtitle"].endswith(f"; {days} days and times in {zone}, ending at the last load "
                                                      f"({truth.as_of:%Y-%m-%d %H:%M} UTC, the service's clock).")


@pytest.fixture
def configured(monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningSimulator]:
    """The module's world (SEED), served afresh."""
    with running_simulator(SimulatorSettings(seed=SEED, scale=TEST_SCALE)) as simulator:
        configure(monkeypatch, simulator)
        yield simulator


def test_the_report_of_a_postgres_load_shows_the_same_truth(
    configured: RunningSimulator, browser: Browser, postgres_dsn: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dataset = f"kognitos_report_{uuid.uuid4().hex[:8]}"
    output = tmp_path / "report.html"
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", postgres_dsn)
    try:
        assert main(["run", "--destination", "postgres", "--dataset-name", dataset,
                     "--progress", "none"]) == ExitCode.OK
        assert main(["report", "--destination", "postgres", "--dataset-name", dataset, "--days", "7",
                     "--output", str(output)]) == ExitCode.OK
        with psycopg2.connect(postgres_dsn) as connection, connection.cursor() as cursor:
            cursor.execute(f"SELECT as_of FROM {dataset}_analytics.service_clock")
            ((as_of,),) = cursor.fetchall()
    finally:
        with psycopg2.connect(postgres_dsn) as connection, connection.cursor() as cursor:
            for schema in (dataset, f"{dataset}_staging", f"{dataset}_analytics"):
                cursor.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    page = read_page(browser, output)
    truth = truth_of(configured.world, service_clock(configured.world, as_of), "days-7")
    check_page(page)
    check_cards(page, truth)
    for check in CHECKS.values():
        check(page, truth)


@pytest.fixture
def in_the_load(load: Load, monkeypatch: pytest.MonkeyPatch) -> Load:
    """A test's `kognitos-elt` sees the module's load."""
    monkeypatch.setenv("DLT_DATA_DIR", str(load.folder / "dlt_data"))
    monkeypatch.chdir(load.folder)
    return load


def test_a_time_zone_the_models_do_not_count_in_exits_7_and_says_which_they_do(
    in_the_load: Load, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--time-zone", "Europe/Paris"]) == ExitCode.MODELS

    error = capsys.readouterr().err
    assert "--time-zone 'Europe/Paris' is not among the zones the models count days in (Asia/Kolkata, UTC)" in error
    assert "sources.kognitos.time_zones" in error


def test_days_below_1_exit_7_and_say_what_days_means(in_the_load: Load, capsys: pytest.CaptureFixture[str]) -> None:
    output = in_the_load.folder / "no-report.html"

    assert main(["report", "--days", "0", "--output", str(output)]) == ExitCode.MODELS

    assert "--days 0 is less than 1: use the number of days the report covers, e.g. 30." in capsys.readouterr().err
    assert not output.exists()


def test_an_organization_without_runs_is_told_why_there_are_no_models_and_no_report(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = SimulatorSettings(seed=3, scale=Scale(workspaces=1, automations_per_workspace=1, runs_per_automation=0,
                                                  deleted_automations_per_workspace=0))
    with running_simulator(empty) as simulator:
        configure(monkeypatch, simulator)
        assert main(["run", "--progress", "none"]) == ExitCode.OK

    assert main(["report"]) == ExitCode.MODELS

    captured = capsys.readouterr()
    # dlt creates a table with its first row: with no run there is no runs table to build the models on.
    assert "Analytics models: not built yet: they need the table(s) runs, run_events, not loaded so far." in (
        captured.out)
    assert "The analytics models are not in 'kognitos_analytics': run `kognitos-elt run`" in captured.err
