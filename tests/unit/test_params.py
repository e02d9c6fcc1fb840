"""params.py: the query parameters each request sends, written out as the API reads them."""

from __future__ import annotations

from datetime import date

from kognitos_elt.kognitos.params import automations_params, daily_run_aggregates_params, list_params, runs_params


def test_listings_ask_for_page_size_items_and_automations_include_deleted_ones() -> None:
    assert list_params(1000) == {"page_size": 1000}
    assert automations_params(7) == {"page_size": 7, "show_deleted": "true"}


def test_runs_are_listed_from_an_instant_at_nanosecond_precision_or_all_of_them() -> None:
    assert runs_params(1000, None) == {"page_size": 1000}
    assert runs_params(5, "2025-06-11T09:15:02.481000001Z") == {
        "page_size": 5, "filter": 'create_time >= "2025-06-11T09:15:02.481000001Z"'}


def test_daily_aggregates_ask_one_day_more_on_each_side_across_month_and_year_ends() -> None:
    assert daily_run_aggregates_params("Asia/Kolkata", date(2025, 1, 1), date(2025, 2, 28), "*") == {
        "time_zone": "Asia/Kolkata",
        "start_date.year": 2024, "start_date.month": 12, "start_date.day": 31,
        "end_date.year": 2025, "end_date.month": 3, "end_date.day": 1,
    }


def test_an_automations_daily_series_is_filtered_on_its_id() -> None:
    params = daily_run_aggregates_params("UTC", date(2025, 3, 1), date(2025, 3, 1), "V1St_Z5j")

    assert params["filter"] == 'automation_id = "V1St_Z5j"'
    assert "filter" not in daily_run_aggregates_params("UTC", date(2025, 3, 1), date(2025, 3, 1), "*")
