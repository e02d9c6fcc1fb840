"""Break the product on purpose, one mutant at a time, and check that the tests which claim to cover it fail.

    .venv/bin/python scripts/mutants.py                       # every mutant (`make mutants`; not in `make test`/CI)
    .venv/bin/python scripts/mutants.py '*.sql' open_runs*    # those whose name or file matches a pattern
    .venv/bin/python scripts/mutants.py --list

Each mutant replaces one exact text of one file (found by name wherever it lives in the tree, so the models may move
between folders) in a temporary COPY of the working tree (tracked and untracked-but-not-ignored files: uncommitted
tests count), then runs the pytest node ids it names there. A mutant is killed when those tests fail (pytest exit
1); it survives when they pass; any other pytest outcome (no test collected, usage error) is an error, never a kill.
First the named tests run once on the unmutated copy and must pass, or no kill would mean anything.

The copy must be what the tests import: the editable install maps `kognitos_elt` (and the other packages) to the
ORIGINAL tree through a finder that comes after PYTHONPATH, so the copy's packages go on PYTHONPATH: its root
(kognitos_analytics, kognitos_simulator) and a folder holding `kognitos_elt` laid out as installed (pipelines/*.py
with sources/kognitos/ as its subpackage `kognitos`, linked). `check_imports` verifies that before anything runs.
Exit status: 0 when every mutant was killed, 1 when one survived or errored, 2 when a mutant no longer applies.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTANT_TIMEOUT_SECONDS = 1800
"""One mutant's tests: a dbt build and a load or two each, on 2 busy cores; a hung run is an error, not a kill."""
PACKAGES = ("kognitos_elt", "kognitos_elt.kognitos", "kognitos_analytics", "kognitos_simulator")


@dataclass(frozen=True)
class Mutant:
    """One semantic change the named tests must notice."""

    name: str
    file: str
    """A file name, or the end of its path (`pipelines/memory.py`): exactly one file of the tree must match."""
    old: str
    """Exact text, present exactly once in that file."""
    new: str
    tests: tuple[str, ...]
    """pytest node ids, relative to the tree's root, that must fail with the mutant applied."""


MODELS_TEST = "tests/analytics/test_models.py"


def model_test(model: str) -> str:
    """The exact comparison of one model with the simulator's truth, on DuckDB (PostgreSQL runs the same SQL)."""
    return f"{MODELS_TEST}::test_each_model_equals_the_truth[duckdb-{model}]"


MODEL_MUTANTS = [
    # The three of issue #25 on the models, which survived the suite of the time.
    Mutant("automation_health_7_day_window_is_8_days", "automation_health.sql",
           "interval '7 days'", "interval '8 days'", (model_test("automation_health"),)),
    Mutant("failure_reasons_first_seen_is_the_last", "failure_reasons.sql",
           "min(end_time) as first_seen", "max(end_time) as first_seen", (model_test("failure_reasons"),)),
    Mutant("automation_health_open_runs_counts_terminal_runs", "automation_health.sql",
           "count(*) filter (where not is_terminal) as open_runs", "count(*) filter (where is_terminal) as open_runs",
           (model_test("automation_health"),)),
    # Our own.
    Mutant("run_facts_stopped_is_not_terminal", "stg_kognitos__runs.sql",
           "state in ('completed', 'failed', 'stopped') as is_terminal",
           "state in ('completed', 'failed') as is_terminal",
           (model_test("run_facts"),)),
    Mutant("run_facts_an_ongoing_wait_lasts_nothing", "int_run_guidance_waits.sql",
           "coalesce(next_change_time, clock.as_of)", "coalesce(next_change_time, event_time)",
           (model_test("run_facts"),)),
    Mutant("run_facts_trigger_and_user_swapped", "run_facts.sql",
           "    runs.trigger_id,\n    runs.user_id\n",
           "    runs.user_id as trigger_id,\n    runs.trigger_id as user_id\n",
           (model_test("run_facts"),)),
    Mutant("run_facts_workspace_title_is_the_automations_name", "run_facts.sql",
           "workspaces.title as workspace_title", "automations.display_name as workspace_title",
           (model_test("run_facts"),)),
    Mutant("daily_runs_counts_utc_days_in_every_zone", "daily_runs.sql",
           "{{ kognitos_local_date('facts.create_time', 'zones.time_zone') }}",
           "{{ kognitos_local_date('facts.create_time', \"'UTC'\") }}", (model_test("daily_runs"),)),
    Mutant("daily_runs_open_forgets_stopping", "daily_runs.sql",
           "state in ('pending', 'executing', 'stopping')", "state in ('pending', 'executing')",
           (model_test("daily_runs"),)),
    Mutant("daily_runs_p95_not_interpolated", "daily_runs.sql",
           "percentile_cont(0.95)", "percentile_disc(0.95)", (model_test("daily_runs"),)),
    Mutant("node_timings_occurrences_numbered_backwards", "node_timings.sql",
           "            order by event_index\n", "            order by event_index desc\n",
           (model_test("node_timings"),)),
    Mutant("node_timings_patched_nodes_pair_with_the_unpatched_start", "node_timings.sql",
           "case when executed.is_patched then 'patched_node_started' else 'node_started' end", "'node_started'",
           (model_test("node_timings"),)),
    Mutant("node_timings_error_description_is_its_id", "node_timings.sql",
           "    executed.error_description,\n", "    executed.error_id as error_description,\n",
           (model_test("node_timings"),)),
    Mutant("open_runs_in_state_since_creation", "open_runs.sql",
           "kognitos_seconds_between('facts.state_update_time', 'clock.as_of')",
           "kognitos_seconds_between('facts.create_time', 'clock.as_of')", (model_test("open_runs"),)),
    Mutant("open_runs_include_stopped_runs", "open_runs.sql",
           "where not facts.is_terminal", "where facts.state not in ('completed', 'failed')",
           (model_test("open_runs"),)),
    Mutant("failure_reasons_count_stopped_runs", "failure_reasons.sql",
           "where state = 'failed'", "where state in ('failed', 'stopped')", (model_test("failure_reasons"),)),
    Mutant("automation_health_30_day_stats_over_all_runs", "automation_health.sql",
           "percentile_cont(0.5) within group (order by case when in_last_30_days then duration_seconds end)",
           "percentile_cont(0.5) within group (order by duration_seconds)", (model_test("automation_health"),)),
    Mutant("automation_health_deleted_automations_not_flagged", "automation_health.sql",
           "automations.delete_time is not null as is_deleted", "false as is_deleted",
           (model_test("automation_health"),)),
    Mutant("automation_health_oldest_api_totals", "automation_health.sql",
           "order by snapshot_time desc", "order by snapshot_time asc",
           (f"{MODELS_TEST}::test_a_load_that_changes_nothing_runs_no_dbt_and_new_events_update_only_node_timings",)),
    Mutant("service_clock_is_the_oldest_time", "service_clock.sql", "select greatest(", "select least(",
           (model_test("open_runs"),)),
    Mutant("reconciliation_compares_workspace_totals_of_some_automations", "daily_runs_match_api_aggregates.sql",
           "{{ 'true' if var('kognitos_all_automations') else 'false' }}", "true",
           (f"{MODELS_TEST}::test_with_automation_ids_only_the_per_automation_series_are_compared",)),
    Mutant("fingerprint_ignores_the_model_files", "kognitos_analytics/builder.py",
           'if path.suffix in (".sql", ".yml"):', 'if path.suffix in (".yml",):',
           (f"{MODELS_TEST}::test_the_models_are_rebuilt_when_what_they_are_built_from_changes",)),
    Mutant("fingerprint_ignores_the_loaded_columns", "kognitos_analytics/builder.py",
           ', pipeline.default_schema.version_hash]', ']',
           (f"{MODELS_TEST}::test_the_models_are_rebuilt_when_what_they_are_built_from_changes",)),
    Mutant("build_after_load_setting_ignored", "kognitos_analytics/builder.py",
           "return dlt.config.get(BUILD_AFTER_LOAD_KEY, bool) is not False", "return True",
           (f"{MODELS_TEST}::test_build_after_load_in_config_toml",)),
    Mutant("exception_run_relationship_fails_despite_start_date", "marts.yml",
           "severity: \"{{ 'error' if var('kognitos_all_history') else 'warn' }}\"", "severity: error",
           ("tests/analytics/test_exception_models.py::"
            "test_with_a_start_date_an_exception_of_an_older_run_warns_and_the_load_succeeds",)),
    Mutant("start_date_not_passed_to_the_models", "kognitos_analytics/builder.py",
           '"kognitos_all_history": not option("start_date")', '"kognitos_all_history": True',
           ("tests/analytics/test_exception_models.py::"
            "test_with_a_start_date_an_exception_of_an_older_run_warns_and_the_load_succeeds",)),
]

PYTHON_MUTANTS = [
    # The fourth of issue #25.
    Mutant("release_free_memory_does_nothing", "pipelines/memory.py",
           "    pa.default_memory_pool().release_unused()\n", "    return\n",
           ("tests/integration/test_load_steps.py::"
            "test_free_memory_is_handed_back_between_extract_and_load_with_the_load_settings_in_force",)),
]


EVENTS_TEST = "tests/integration/test_events.py::test_events_of_every_run_equal_truth_in_count_and_order"
UNCHANGED_TEST = ("tests/integration/test_unchanged_automations.py::"
                  "test_a_load_lists_only_the_automations_whose_run_total_changed_and_fetches_the_others_open_runs")
STUCK_COUNTER_TEST = ("tests/integration/test_unchanged_automations.py::"
                      "test_a_counter_that_never_moves_delays_new_runs_no_longer_than_the_forced_listing")
REFRESH_TEST = ("tests/integration/test_refresh_plan.py::"
                "test_a_load_over_a_slow_link_relists_where_one_over_a_fast_link_fetches_and_each_requests_its_plan_exactly")
CLI_TESTS = "tests/cli/test_documented_options.py"
CRASH_TESTS = "tests/cli/test_crash_recovery.py"
LOAD_STEPS_TESTS = "tests/integration/test_load_steps.py"

SOURCE_MUTANTS: list[Mutant] = [
    # The source's and the loader's.
    Mutant("refresh_costs_never_see_a_listing_page", "sources/kognitos/resources.py",
           "            costs.add_page(seconds + time.perf_counter() - started, len(page))\n", "            pass\n",
           (REFRESH_TEST,)),
    Mutant("refresh_costs_never_see_a_get_run", "sources/kognitos/resources.py",
           "    costs.add_get_runs(time.perf_counter() - started, len(run_ids))\n", "    pass\n", (REFRESH_TEST,)),
    Mutant("refresh_plan_ignores_the_costs_it_observed", "sources/kognitos/resources.py",
           "prices = costs.estimate(", "prices = RequestCosts().estimate(", (REFRESH_TEST,)),
    Mutant("refresh_plan_of_open_runs_made_before_the_prices_are_seen", "sources/kognitos/resources.py",
           "            if not tracker.open:\n                listing.start(",
           "            if tracker.open:\n                listing.start(client, config, _refresh_plan(listing, client, "
           "config, costs))\n            else:\n                listing.start(",
           (REFRESH_TEST,)),
    Mutant("runs_listed_one_automation_at_a_time", "sources/kognitos/resources.py",
           "ahead = config.max_concurrent_requests", "ahead = 1",
           ("tests/integration/test_runs.py::test_a_backfill_lists_the_runs_of_every_automation_at_once",)),
    Mutant("unchanged_automations_skipped_whatever_their_total", "sources/kognitos/open_runs.py",
           "total is not None and total == self.listed_total", "total is not None", (UNCHANGED_TEST,)),
    Mutant("unchanged_automations_never_listed_again", "sources/kognitos/open_runs.py",
           "abs(now - self.listed_at) < relist_after", "abs(now - self.listed_at) >= timedelta(0)",
           (STUCK_COUNTER_TEST,)),
    Mutant("unchanged_automations_listed_all_the_same", "sources/kognitos/open_runs.py",
           "        elif not new_runs_expected:\n", "        elif False:\n", (UNCHANGED_TEST,)),
    Mutant("unchanged_automations_planned_as_if_new_runs_came", "sources/kognitos/resources.py",
           "prices, new_runs_expected=not listing.total_unchanged)", "prices)", (UNCHANGED_TEST, REFRESH_TEST)),
    Mutant("refresh_plan_prices_the_first_page_as_free_with_no_new_run_expected", "sources/kognitos/open_runs.py",
           "first_page = 0.0 if new_runs_expected else costs.seconds_per_request", "first_page = 0.0",
           ("tests/unit/test_open_runs.py::test_with_no_new_run_expected_the_first_page_is_priced_and_open_runs_may_"
            "be_fetched_without_a_listing",)),
    Mutant("unchanged_automations_count_as_listed_when_they_are_not", "sources/kognitos/resources.py",
           "        if plan.lists:\n            self.tracker.listing(self.total, client.now())\n",
           "        self.tracker.listing(self.total, client.now())\n        if plan.lists:\n", (STUCK_COUNTER_TEST,)),
    Mutant("models_kept_out_of_the_file_reported_as_a_load_that_changed_nothing", "pipelines/session.py",
           "        return ModelsBusyError(*conflict)\n", "        raise error\n",
           ("tests/cli/test_busy_duckdb.py::"
            "test_a_session_opened_when_the_load_ends_exits_3_with_the_load_committed_and_the_models_not_built",)),
    Mutant("refresh_plan_prices_no_page_beyond_the_first", "sources/kognitos/open_runs.py",
           "extra_pages = max(math.ceil(relisted_runs / page_size) - 1, 0)", "extra_pages = 0", (REFRESH_TEST,)),
    Mutant("refresh_plan_also_fetches_the_oldest_run_it_relists", "sources/kognitos/open_runs.py",
           "run.create_key < lower)", "run.create_key <= lower)", (REFRESH_TEST,)),
    Mutant("event_node_id_and_node_kind_swapped", "sources/kognitos/records.py",
           'node_id=body.get("node_id"),\n        node_kind=body.get("node_kind"),',
           'node_id=body.get("node_kind"),\n        node_kind=body.get("node_id"),', (EVENTS_TEST,)),
    Mutant("event_stop_reason_lost", "sources/kognitos/records.py",
           'stop_reason=next(iter(body), None) if variant == "stopped" else None',
           'stop_reason=None', (EVENTS_TEST,)),
    Mutant("event_failed_run_update_without_its_error_id", "sources/kognitos/records.py",
           'error_id=details.get("id") if failed else None,', "error_id=None,", (EVENTS_TEST,)),
    Mutant("event_book_function_output_not_decoded", "sources/kognitos/records.py",
           '"output": decode_or_keep(value.get("output"))}', '"output": value.get("output")}', (EVENTS_TEST,)),
    Mutant("event_index_off_by_one", "sources/kognitos/records.py",
           "event_row(event, run, loaded + len(rows))", "event_row(event, run, loaded + len(rows) + 1)",
           (EVENTS_TEST,)),
    Mutant("node_kinds_filter_inverted", "sources/kognitos/records.py",
           "is None or kind in node_kinds]", "is None or kind not in node_kinds]",
           ("tests/integration/test_events.py::"
            "test_node_kinds_keeps_those_node_events_and_every_event_without_a_node_and_loses_no_output",)),
    Mutant("release_free_memory_trims_no_malloc_arena", "pipelines/memory.py",
           'ctypes.CDLL("libc.so.6").malloc_trim(0)', 'ctypes.CDLL("libc.so.6")',
           ("tests/integration/test_load_steps.py::"
            "test_free_memory_is_handed_back_between_extract_and_load_with_the_load_settings_in_force",)),
    Mutant("retry_after_ignored", "sources/kognitos/client.py",
           "        return min(retry_after, maximum)\n", "        pass\n",
           ("tests/integration/test_retries.py::test_a_429_is_retried_after_exactly_the_seconds_its_retry_after_asks",)),
    Mutant("governor_never_slows_the_load", "sources/kognitos/pacing.py",
           "            if sent_at >= self._last_cut:\n                self._cut(sent_at, now)\n", "",
           ("tests/integration/test_governor.py::test_a_rate_limited_load_finds_the_pace_by_itself_with_few_429s_and_exact_data",)),
    Mutant("load_step_opens_duckdb_for_every_job", "pipelines/session.py",
           "    with one_duckdb_connection(pipeline):\n        info = pipeline.run()", "    info = pipeline.run()",
           (f"{LOAD_STEPS_TESTS}::test_the_load_step_opens_the_duckdb_file_once_and_lets_it_go_when_it_ends",)),
    Mutant("load_step_keeps_the_duckdb_file_open", "pipelines/destination.py",
           "        pipeline.destination = own\n        connection.close()\n", "        pipeline.destination = own\n",
           (f"{LOAD_STEPS_TESTS}::test_the_load_step_opens_the_duckdb_file_once_and_lets_it_go_when_it_ends",)),
    Mutant("ctrl_c_is_an_unexpected_error", "pipelines/cli.py",
           "(KeyboardInterrupt, ExitCode.INTERRUPTED)", "(KeyboardInterrupt, ExitCode.UNEXPECTED)",
           (f"{CLI_TESTS}::test_ctrl_c_stops_the_load_with_exit_130_and_the_next_run_loads_everything",)),
    Mutant("a_403_is_not_an_auth_error", "sources/kognitos/errors.py",
           "if status in (401, 403):", "if status == 401:", (f"{CLI_TESTS}::test_a_403_exits_4_after_one_request",)),
    Mutant("progress_option_ignored", "pipelines/cli.py",
           "return args.progress or (LIVE_PROGRESS", "return (LIVE_PROGRESS",
           (f"{CLI_TESTS}::test_progress_log_prints_dlt_s_step_counters_with_every_table_s_rows",
            f"{CLI_TESTS}::test_progress_tqdm_draws_dlt_s_bars_with_every_resource_s_rows")),
    # A killed load's resume: each must double or lose rows at some representative kill point.
    Mutant("resume_reloads_no_uncertain_table", "sources/kognitos/interrupted.py",
           "            reload_uncertain_tables(pipeline, packages, load_id)\n", "            pass\n",
           (f"{CRASH_TESTS}::test_a_load_killed_at_any_event_of_its_load_step_is_made_whole_by_the_next_run"
            "[representative]",)),
    Mutant("resume_keeps_an_appended_table_s_rows_of_the_killed_load", "sources/kognitos/interrupted.py",
           "                _delete_rows_of_load(client, table, load_id)\n", "                pass\n",
           (f"{CRASH_TESTS}::test_a_load_killed_at_any_event_of_its_load_step_is_made_whole_by_the_next_run"
            "[representative]",)),
    Mutant("status_reads_dlt_s_default_duckdb_file", "pipelines/status.py",
           "        pipeline.destination = duckdb_destination(pipeline.dataset_name)\n", "        pass\n",
           (f"{CLI_TESTS}::test_pipeline_name_keeps_its_own_state_and_status_reads_it",)),
]

REPORT = "kognitos_analytics/report.py"
HUMAN_LOOP = "kognitos_analytics/human_loop.py"
SECTIONS = "kognitos_analytics/sections.py"
REPORT_TESTS = "tests/report/test_report.py::"


def chart_test(case: str) -> str:
    """The exact comparison of one chart and its table with the truth, for one window (`default-runs-per-day`)."""
    return f"{REPORT_TESTS}test_each_chart_and_its_table_show_the_truth[{case}]"


REPORT_MUTANTS = [
    # The report (tests/report): each chart's data and table, each card's text, the window and --days.
    Mutant("report_window_one_day_longer", REPORT, "return self.end - timedelta(days=self.days - 1)",
           "return self.end - timedelta(days=self.days)",
           (chart_test("default-runs-per-day"),
            REPORT_TESTS + "test_the_cards_show_the_truth[days-7]")),
    Mutant("report_slowest_steps_window_starts_a_day_early", REPORT,
           'f"GROUP BY 1 ORDER BY 3 DESC, 1 LIMIT {TOP_ROWS}", *in_window)',
           'f"GROUP BY 1 ORDER BY 3 DESC, 1 LIMIT {TOP_ROWS}", zone, window.start - timedelta(days=1), window.end)',
           (chart_test("days-7-slowest-steps"),)),
    Mutant("report_days_ignored", REPORT, "window = Window(as_of, zone, days)",
           "window = Window(as_of, zone, DEFAULT_REPORT_DAYS)",
           (chart_test("days-7-runs-per-day"),
            REPORT_TESTS + "test_the_cards_show_the_truth[days-7]")),
    Mutant("report_cli_days_ignored", "pipelines/cli.py", "days=args.days)", "days=DEFAULT_REPORT_DAYS)",
           (chart_test("days-7-runs-per-day"),)),
    Mutant("report_automation_table_median_and_p95_swapped", REPORT,
           "table = [(automation, workspace, runs, completed, terminal, rate, median, p95)",
           "table = [(automation, workspace, runs, completed, terminal, rate, p95, median)",
           (chart_test("default-duration-per-automation"),)),
    Mutant("report_slowest_steps_headers_swapped", REPORT, '("step", "executions", "median ms", "p95 ms")',
           '("step", "executions", "p95 ms", "median ms")',
           (chart_test("default-slowest-steps"),)),
    Mutant("report_success_rate_card_rounded_to_whole_percent", REPORT, 'f"{100 * rate:.1f}%"',
           'f"{100 * rate:.0f}%"', (REPORT_TESTS + "test_the_cards_show_the_truth[default]",)),
    Mutant("report_durations_in_seconds_rounded_to_whole_seconds", REPORT, 'return f"{seconds:.1f} s"',
           'return f"{seconds:.0f} s"', (REPORT_TESTS + "test_the_cards_show_the_truth[default]",)),
    Mutant("report_awaiting_card_shows_open_runs", REPORT, "f\"{report.headline['awaiting_guidance']:,}\"",
           "f\"{report.headline['open_runs']:,}\"", (REPORT_TESTS + "test_the_cards_show_the_truth[default]",)),
    Mutant("report_failure_last_seen_is_the_first", REPORT, "count(*), max(end_time) FROM",
           "count(*), min(end_time) FROM",
           (chart_test("default-failure-reasons"),)),
    Mutant("report_success_rate_over_all_runs", REPORT, '"count(*) FILTER (WHERE is_terminal), percentile_cont(0.5)',
           '"count(*), percentile_cont(0.5)',
           (chart_test("default-success-per-automation"),)),
    Mutant("report_automation_p95_is_p90", REPORT,
           "percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_seconds)",
           "percentile_cont(0.9) WITHIN GROUP (ORDER BY duration_seconds)",
           (chart_test("default-duration-per-automation"),)),
    Mutant("report_step_named_by_function_only", REPORT, "coalesce(book_name || '.' || function_name, node_kind)",
           "coalesce(function_name, node_kind)",
           (chart_test("default-slowest-steps"),)),
    Mutant("report_backlog_first_bucket_one_minute", SECTIONS, 'AGE_BUCKETS = ((3600, "under 1 hour")',
           'AGE_BUCKETS = ((60, "under 1 hour")',
           (chart_test("default-open-backlog"),)),
    Mutant("report_times_in_the_destination_zone", REPORT,
           "    failures, backlog = _local(failures, zone), _local(backlog, zone)\n", "",
           (chart_test("days-7-kolkata-failure-reasons"),
            chart_test("days-7-kolkata-open-backlog"))),
    # The "Human in the loop" group (issue #28).
    Mutant("report_straight_through_counts_guided_runs", HUMAN_LOOP,
           "count(*) FILTER (WHERE state = 'completed' AND NOT needed_guidance)",
           "count(*) FILTER (WHERE state = 'completed')",
           (chart_test("default-straight-through"),)),
    Mutant("report_straight_through_window_starts_a_day_late", HUMAN_LOOP,
           '"workspace_title ORDER BY 3 DESC, 1, 2", *in_window)',
           '"workspace_title ORDER BY 3 DESC, 1, 2", zone, dates[1], dates[-1])',
           (chart_test("days-7-straight-through"),)),
    Mutant("report_pending_drops_ungrouped_exceptions", HUMAN_LOOP,
           "exception_facts WHERE state = 'pending'\"",
           "exception_facts WHERE state = 'pending' AND exception_group IS NOT NULL\"",
           (chart_test("default-pending-by-group"),)),
    Mutant("report_pending_includes_archived_exceptions", HUMAN_LOOP,
           "exception_facts WHERE state = 'pending'\"", "exception_facts WHERE state <> 'resolved'\"",
           (chart_test("default-pending-by-assignee"),)),
    Mutant("report_time_to_resolve_p95_is_p90", HUMAN_LOOP,
           "percentile_cont(0.95) WITHIN GROUP (ORDER BY time_to_resolve_seconds)",
           "percentile_cont(0.9) WITHIN GROUP (ORDER BY time_to_resolve_seconds)",
           (chart_test("default-time-to-resolve"),)),
    Mutant("report_resolution_days_counted_in_utc", HUMAN_LOOP, "GROUP BY 1\", zone, *in_window)}",
           "GROUP BY 1\", 'UTC', *in_window)}",
           (chart_test("days-7-kolkata-time-to-resolve"),)),
    Mutant("report_agent_and_person_swapped", HUMAN_LOOP,
           'RESOLVERS = (("by an agent", "#6a1b9a"), ("by a person", "#ef6c00"))',
           'RESOLVERS = (("by a person", "#ef6c00"), ("by an agent", "#6a1b9a"))',
           (chart_test("default-resolved-by"),)),
]


def all_mutants() -> list[Mutant]:
    return [*MODEL_MUTANTS, *PYTHON_MUTANTS, *SOURCE_MUTANTS, *REPORT_MUTANTS]


def project_files() -> list[str]:
    """The working tree's files as git sees them (tracked, and new ones not ignored): no .venv, data or caches."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode()
    # a tracked file deleted in the working tree is not copied
    return [name for name in filter(None, listed.split("\0")) if (ROOT / name).is_file()]


def copy_tree(target: Path, names: list[str]) -> None:
    for name in names:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target / name)


def import_path(tree: Path, links: Path) -> str:
    """PYTHONPATH that imports every package from `tree`: `kognitos_elt` is pipelines/ with sources/kognitos/ inside,
    as pyproject.toml installs it, laid out in `links` as links to the tree's files."""
    package = links / "kognitos_elt"
    package.mkdir(parents=True)
    for module in (tree / "pipelines").glob("*.py"):
        (package / module.name).symlink_to(module)
    (package / "kognitos").symlink_to(tree / "sources" / "kognitos")
    return os.pathsep.join([str(links), str(tree)])


def check_imports(tree: Path, environment: dict[str, str]) -> None:
    """Every package the tests use is imported from the copy, not from the editable install's original tree."""
    code = "import importlib; print('\\n'.join(importlib.import_module(name).__file__ for name in {!r}))"
    files = subprocess.run([sys.executable, "-c", code.format(PACKAGES)], cwd=tree, env=environment,
                           capture_output=True, text=True, check=True).stdout.split()
    outside = [file for file in files if not Path(file).is_relative_to(tree.parent)]
    if outside or len(files) != len(PACKAGES):
        sys.exit(f"The copy's tests would import the original tree: {outside or files}")


def locate(tree: Path, names: list[str], mutant: Mutant) -> Path:
    """The one file of the tree the mutant names; it must hold the mutant's old text exactly once."""
    matches = [tree / name for name in names if f"/{name}".endswith(f"/{mutant.file}")]
    if len(matches) != 1:
        raise LookupError(f"{mutant.name}: {len(matches)} files match {mutant.file!r}: {matches}")
    count = matches[0].read_text().count(mutant.old)
    if count != 1:
        raise LookupError(f"{mutant.name}: its old text is in {matches[0].relative_to(tree)} {count} times, not once")
    return matches[0]


def run_tests(tree: Path, environment: dict[str, str], tests: tuple[str, ...]) -> tuple[int, str]:
    """pytest's exit code on the named tests in the copy (-x: the first failure decides), and its last lines."""
    command = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests]
    try:
        finished = subprocess.run(command, cwd=tree, env=environment, capture_output=True, text=True,
                                  timeout=MUTANT_TIMEOUT_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        return -1, f"timed out after {MUTANT_TIMEOUT_SECONDS} s"
    return finished.returncode, "\n".join((finished.stdout + finished.stderr).splitlines()[-15:])


def outcome(returncode: int) -> str:
    return {0: "SURVIVED", 1: "killed"}.get(returncode, "ERROR")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("patterns", nargs="*", help="shell patterns matched against mutant names and files")
    parser.add_argument("--list", action="store_true", help="list the mutants and the tests that must catch them")
    parser.add_argument("--no-baseline", action="store_true", help="skip running the tests on the unmutated copy")
    arguments = parser.parse_args()
    mutants = [mutant for mutant in all_mutants() if not arguments.patterns
               or any(fnmatch.fnmatch(mutant.name, pattern) or fnmatch.fnmatch(mutant.file, pattern)
                      or fnmatch.fnmatch(Path(mutant.file).name, pattern) for pattern in arguments.patterns)]
    if not mutants:
        print(f"No mutant matches {' '.join(arguments.patterns)}: `--list` shows their names and files.",
              file=sys.stderr)
    if arguments.list or not mutants:
        for mutant in mutants:
            print(f"{mutant.name}  ({mutant.file})\n    {' '.join(mutant.tests)}")
        return 0 if mutants else 2

    with tempfile.TemporaryDirectory(prefix="kognitos-mutants-") as scratch:
        tree = Path(scratch) / "tree"
        names = project_files()
        copy_tree(tree, names)
        environment = {**os.environ, "PYTHONPATH": import_path(tree, Path(scratch) / "links")}
        check_imports(tree, environment)
        try:
            files = {mutant.name: locate(tree, names, mutant) for mutant in mutants}
        except LookupError as stale:
            print(f"A mutant no longer applies: {stale}", file=sys.stderr)
            return 2
        if not arguments.no_baseline:
            tests = tuple(dict.fromkeys(test for mutant in mutants for test in mutant.tests))
            returncode, tail = run_tests(tree, environment, tests)
            if returncode != 0:
                print(f"The tests fail without any mutant (pytest exit {returncode}):\n{tail}", file=sys.stderr)
                return 1
        results = []
        for mutant in mutants:
            path = files[mutant.name]
            original = path.read_text()
            path.write_text(original.replace(mutant.old, mutant.new))
            started = time.monotonic()
            try:
                returncode, tail = run_tests(tree, environment, mutant.tests)
            finally:
                path.write_text(original)
            results.append((mutant, outcome(returncode), time.monotonic() - started))
            print(f"{outcome(returncode):8} {mutant.name} ({time.monotonic() - started:.0f} s)", flush=True)
            if returncode not in (0, 1):
                print(tail, flush=True)

    print(f"\n{'mutant':60} {'file':28} result")
    for mutant, result, _ in results:
        print(f"{mutant.name:60} {Path(mutant.file).name:28} {result}")
    not_killed = [mutant.name for mutant, result, _ in results if result != "killed"]
    print(f"\n{len(results) - len(not_killed)} of {len(results)} killed" +
          (f"; not killed: {', '.join(not_killed)}" if not_killed else ""))
    return 1 if not_killed else 0


if __name__ == "__main__":
    sys.exit(main())
