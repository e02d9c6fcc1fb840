"""The HTML report of a simulator load, opened in a real browser (Debian's Chromium driven by Playwright)."""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import psycopg2
import pytest
from playwright.sync_api import Browser, sync_playwright

from kognitos_analytics.report import DAY_STATES
from kognitos_elt.cli import main
from kognitos_elt.kognitos import ExitCode
from kognitos_simulator import RunningSimulator, Scale, SimulatorSettings, running_simulator

from ..analytics.truth import OPEN, TERMINAL, all_runs, percentile
from ..integration.truth import instant, state_key

CHROMIUM = Path("/usr/bin/chromium")
REQUIRE_BROWSER = bool(os.environ.get("KOGNITOS_REQUIRE_BROWSER"))
"""Read when the tests are collected (`isolated_dlt` clears KOGNITOS* variables): CI sets it, and installs Chromium."""
"""Screenshots of the rendered report, kept for a person to look at (git-ignored)."""
CHARTS = ("runs-per-day", "success-per-automation", "duration-per-automation", "slowest-steps", "failure-reasons",
          "open-backlog")
DAYS = 30


@pytest.fixture
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


@pytest.fixture
def configured(simulator: RunningSimulator, monkeypatch: pytest.MonkeyPatch) -> RunningSimulator:
    """The source configured as a cron job would, and `run` building the models (its default)."""
    monkeypatch.setenv("SOURCES__KOGNITOS__ACCESS_TOKEN", simulator.token)
    monkeypatch.setenv("SOURCES__KOGNITOS__ORGANIZATION_ID", simulator.world.organization_id)
    monkeypatch.setenv("SOURCES__KOGNITOS__BASE_URL", simulator.base_url)
    monkeypatch.delenv("ANALYTICS__BUILD_AFTER_LOAD")
    return simulator


def expected_headline(simulator: RunningSimulator, as_of: datetime) -> dict[str, float]:
    """The page's five numbers, from the simulator's truth: 30 UTC days ending on the last load's date."""
    end = as_of.astimezone(ZoneInfo("UTC")).date()
    runs = all_runs(simulator.world).values()
    recent = [run for run in runs if end - timedelta(days=DAYS - 1) <= instant(run["create_time"]).date() <= end]
    states = Counter(state_key(run) for run in recent)
    ended = [run for run in recent if state_key(run) in TERMINAL]
    durations = [(instant(run["state"]["update_time"]) - instant(run["create_time"])).total_seconds() for run in ended]
    return {"runs": len(recent), "success_rate": states["completed"] / len(ended),
            "median_duration_seconds": percentile(durations, 0.5) or 0.0,
            "open_runs": sum(state_key(run) not in TERMINAL for run in runs),
            "awaiting_guidance": sum(state_key(run) == "awaiting_guidance" for run in runs)}


def expected_runs_per_day(simulator: RunningSimulator, as_of: datetime) -> dict[str, dict[str, int]]:
    """The runs-per-day chart's data: state -> {date -> runs created that UTC day now in that state}."""
    end = as_of.astimezone(ZoneInfo("UTC")).date()
    days = [(end - timedelta(days=offset)).isoformat() for offset in range(DAYS)]
    chart = {state: dict.fromkeys(days, 0) for state in DAY_STATES}
    for run in all_runs(simulator.world).values():
        day, state = instant(run["create_time"]).date().isoformat(), state_key(run)
        if day in chart["completed"]:
            chart["open" if state in OPEN else state][day] += 1
    return chart


def check_in_browser(browser: Browser, report: Path, simulator: RunningSimulator, as_of: datetime,
                     screenshot: str) -> None:
    """No console error, every chart drawn, the headline and the runs-per-day chart equal to the truth."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(report.as_uri())
    page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {len(CHARTS)}")
    # Drawn: one SVG group per trace of the chart's data, and bars (paths) in them.
    drawn = page.evaluate("[...document.querySelectorAll('.js-plotly-plot')].filter(chart => "
                          "chart.querySelectorAll('.main-svg g.trace').length === chart.data.length "
                          "&& chart.querySelectorAll('.main-svg g.point path').length > 0).map(chart => chart.id)")
    headline = page.evaluate("Object.fromEntries([...document.querySelectorAll('[data-headline]')]"
                             ".map(card => [card.dataset.headline, Number(card.dataset.value)]))")
    shown = page.evaluate("Object.fromEntries([...document.querySelectorAll('[data-headline]')]"
                          ".map(card => [card.dataset.headline, card.innerText]))")
    traces: list[dict[str, Any]] = page.evaluate(
        "document.getElementById('chart-runs-per-day').data.map(trace => ({name: trace.name, x: trace.x, y: trace.y}))")
    page.screenshot(path=str(report.parent / screenshot), full_page=True)  # beside the report, in pytest's tmp
    page.close()

    assert errors == []
    assert sorted(drawn) == sorted(f"chart-{chart}" for chart in CHARTS)
    expected = expected_headline(simulator, as_of)
    assert headline.keys() == expected.keys()
    assert all(headline[key] == pytest.approx(value, abs=1e-6) for key, value in expected.items()), headline
    # What a person reads, not only the numbers behind it.
    assert shown["runs"] == f"{expected['runs']:,}" and shown["open_runs"] == f"{expected['open_runs']:,}"
    assert shown["success_rate"] == f"{100 * expected['success_rate']:.1f}%"
    per_day = {trace["name"].replace(" ", "_"): {str(day)[:10]: count for day, count in
                                                   zip(trace["x"], trace["y"], strict=True)} for trace in traces}
    assert per_day == expected_runs_per_day(simulator, as_of)


def test_the_report_of_a_duckdb_load_renders_and_tells_the_truth(
    configured: RunningSimulator, browser: Browser, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "report.html"
    assert main(["run", "--progress", "none"]) == ExitCode.OK
    assert main(["report", "--output", str(output)]) == ExitCode.OK

    assert f"Report written: {output}" in capsys.readouterr().out
    assert "<script src=" not in output.read_text()  # nothing to fetch: it opens offline
    with duckdb.connect(str(tmp_path / "kognitos_elt.duckdb"), read_only=True) as connection:
        ((as_of,),) = connection.sql("SELECT as_of FROM kognitos_analytics.service_clock").fetchall()
    check_in_browser(browser, output, configured, as_of, "report-duckdb.png")


def test_a_time_zone_the_models_do_not_count_in_exits_7_and_says_which_they_do(
    configured: RunningSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--progress", "none"]) == ExitCode.OK

    assert main(["report", "--time-zone", "Europe/Paris"]) == ExitCode.MODELS

    error = capsys.readouterr().err
    assert "--time-zone 'Europe/Paris' is not among the zones the models count days in (UTC)" in error
    assert "sources.kognitos.time_zones" in error


def test_the_report_of_a_postgres_load_renders_and_tells_the_truth(
    configured: RunningSimulator, browser: Browser, postgres_dsn: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dataset = f"kognitos_report_{uuid.uuid4().hex[:8]}"
    output = tmp_path / "report.html"
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", postgres_dsn)
    try:
        assert main(["run", "--destination", "postgres", "--dataset-name", dataset,
                     "--progress", "none"]) == ExitCode.OK
        assert main(["report", "--destination", "postgres", "--dataset-name", dataset,
                     "--output", str(output)]) == ExitCode.OK
        with psycopg2.connect(postgres_dsn) as connection, connection.cursor() as cursor:
            cursor.execute(f"SELECT as_of FROM {dataset}_analytics.service_clock")
            ((as_of,),) = cursor.fetchall()
    finally:
        with psycopg2.connect(postgres_dsn) as connection, connection.cursor() as cursor:
            for schema in (dataset, f"{dataset}_staging", f"{dataset}_analytics"):
                cursor.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    check_in_browser(browser, output, configured, as_of, "report-postgres.png")


def test_an_organization_without_runs_is_told_why_there_are_no_models_and_no_report(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = SimulatorSettings(seed=3, scale=Scale(workspaces=1, automations_per_workspace=1, runs_per_automation=0,
                                                  deleted_automations_per_workspace=0))
    with running_simulator(empty) as simulator:
        monkeypatch.setenv("SOURCES__KOGNITOS__ACCESS_TOKEN", simulator.token)
        monkeypatch.setenv("SOURCES__KOGNITOS__ORGANIZATION_ID", simulator.world.organization_id)
        monkeypatch.setenv("SOURCES__KOGNITOS__BASE_URL", simulator.base_url)
        monkeypatch.delenv("ANALYTICS__BUILD_AFTER_LOAD")
        assert main(["run", "--progress", "none"]) == ExitCode.OK

    assert main(["report"]) == ExitCode.MODELS

    captured = capsys.readouterr()
    # dlt creates a table with its first row: with no run there is no runs table to build the models on.
    assert "Analytics models: not built yet: they need the table(s) runs, run_events, not loaded so far." in (
        captured.out)
    assert "The analytics models are not in 'kognitos_analytics': run `kognitos-elt run`" in captured.err
