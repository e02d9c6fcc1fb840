"""Local days for daily aggregates: zones, windows, zero-filling (kognitos_elt.kognitos.days)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from kognitos_elt.kognitos.days import (
    days_between,
    fill_missing_days,
    refresh_window,
    series_window,
    today_in_zone,
    validate_time_zones,
)

NEW_YORK = "America/New_York"
LORD_HOWE = "Australia/Lord_Howe"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- validate_time_zones ----------------------------------------------------------------------

def test_validate_time_zones_when_valid_keeps_order_and_drops_duplicates() -> None:
    zones = ["UTC", "Asia/Kolkata", "Australia/Lord_Howe", "Etc/GMT+5", "US/Eastern", "UTC"]
    assert validate_time_zones(zones) == ("UTC", "Asia/Kolkata", "Australia/Lord_Howe", "Etc/GMT+5", "US/Eastern")
    assert validate_time_zones([]) == ()


@pytest.mark.parametrize(
    ("zones", "shown"),
    [
        pytest.param([""], "''", id="empty-name"),
        pytest.param(["Mars/Olympus"], "'Mars/Olympus'", id="unknown"),
        pytest.param(["+05:30"], "'+05:30'", id="fixed-offset"),
        pytest.param([" UTC"], "' UTC'", id="leading-space"),
        pytest.param(["Europe"], "'Europe'", id="tzdata-directory"),
        pytest.param(["posix/Europe/Paris"], "'posix/Europe/Paris'", id="posix-copy"),
        pytest.param(["localtime"], "'localtime'", id="host-zone-file"),
        pytest.param(["../etc/passwd"], "'../etc/passwd'", id="path-traversal"),
        pytest.param(["/etc/localtime"], "'/etc/localtime'", id="absolute-path"),
        pytest.param([5], "5", id="not-a-string"),
        pytest.param(["UTC", "Europe/Pariss", "Nowhere"], "'Europe/Pariss'", id="first-bad-one-named"),
    ],
)
def test_validate_time_zones_raises_when_not_iana(zones: list[str], shown: str) -> None:
    with pytest.raises(ValueError) as raised:
        validate_time_zones(zones)
    message = str(raised.value)
    assert message.startswith(f"time_zones: {shown} is not an IANA time zone name")
    assert "List_of_tz_database_time_zones" in message
    assert "sources.kognitos.time_zones" in message


@pytest.mark.parametrize(
    ("zone", "suggestion"),
    [
        pytest.param("Europe/Pariss", "Europe/Paris", id="typo"),
        pytest.param("utc", "UTC", id="wrong-case"),
        pytest.param("america/new_york", "America/New_York", id="wrong-case-path"),
    ],
)
def test_validate_time_zones_suggests_when_close(zone: str, suggestion: str) -> None:
    with pytest.raises(ValueError, match=f"did you mean '{suggestion}'"):
        validate_time_zones([zone])


def test_validate_time_zones_raises_when_given_a_bare_string() -> None:
    with pytest.raises(ValueError, match=r"single string 'UTC'; write \['UTC'\]"):
        validate_time_zones("UTC")


# --- today_in_zone ----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("zone", "now", "today"),
    [
        pytest.param("UTC", "2024-06-10T23:59:59.999999", date(2024, 6, 10), id="utc-last-microsecond"),
        # Asia/Kolkata is +05:30 all year: local midnight is 18:30Z.
        pytest.param("Asia/Kolkata", "2024-06-10T18:29:59", date(2024, 6, 10), id="kolkata-before-midnight"),
        pytest.param("Asia/Kolkata", "2024-06-10T18:30:00", date(2024, 6, 11), id="kolkata-at-midnight"),
        # Pacific/Kiritimati is +14: its day starts at 10:00Z the day before.
        pytest.param("Pacific/Kiritimati", "2024-06-10T09:59:59", date(2024, 6, 10), id="kiritimati-before"),
        pytest.param("Pacific/Kiritimati", "2024-06-10T10:00:00", date(2024, 6, 11), id="kiritimati-at-midnight"),
        pytest.param("Pacific/Kiritimati", "2023-12-31T10:00:00", date(2024, 1, 1), id="kiritimati-new-year-first"),
        # Pacific/Chatham is +12:45 in June (southern winter).
        pytest.param("Pacific/Chatham", "2024-06-10T11:14:59", date(2024, 6, 10), id="chatham-before"),
        pytest.param("Pacific/Chatham", "2024-06-10T11:15:00", date(2024, 6, 11), id="chatham-at-midnight"),
        # America/New_York, spring forward on 2024-03-10: that day runs 05:00Z..04:00Z (23 h).
        pytest.param(NEW_YORK, "2024-03-10T04:59:59", date(2024, 3, 9), id="ny-spring-day-not-started"),
        pytest.param(NEW_YORK, "2024-03-10T05:00:00", date(2024, 3, 10), id="ny-spring-day-starts-est"),
        pytest.param(NEW_YORK, "2024-03-10T07:00:00", date(2024, 3, 10), id="ny-spring-after-gap"),
        pytest.param(NEW_YORK, "2024-03-11T03:59:59", date(2024, 3, 10), id="ny-spring-day-last-second"),
        pytest.param(NEW_YORK, "2024-03-11T04:00:00", date(2024, 3, 11), id="ny-next-day-starts-edt"),
        # Fall back on 2024-11-03: that day runs 04:00Z..05:00Z next day (25 h), 01:30 happens twice.
        pytest.param(NEW_YORK, "2024-11-03T05:30:00", date(2024, 11, 3), id="ny-fall-first-0130"),
        pytest.param(NEW_YORK, "2024-11-03T06:30:00", date(2024, 11, 3), id="ny-fall-second-0130"),
        pytest.param(NEW_YORK, "2024-11-04T04:59:59", date(2024, 11, 3), id="ny-fall-day-last-second"),
        pytest.param(NEW_YORK, "2024-11-04T05:00:00", date(2024, 11, 4), id="ny-next-day-starts-est"),
        # Australia/Lord_Howe: +10:30 standard, +11:00 in DST (a 30-minute shift).
        pytest.param(LORD_HOWE, "2024-06-10T13:29:59", date(2024, 6, 10), id="lord-howe-winter-before"),
        pytest.param(LORD_HOWE, "2024-06-10T13:30:00", date(2024, 6, 11), id="lord-howe-winter-midnight"),
        pytest.param(LORD_HOWE, "2024-01-09T12:59:59", date(2024, 1, 9), id="lord-howe-summer-before"),
        pytest.param(LORD_HOWE, "2024-01-09T13:00:00", date(2024, 1, 10), id="lord-howe-summer-midnight"),
        # Spring forward 2024-10-06 02:00 -> 02:30: the day runs 13:30Z..13:00Z (23.5 h).
        pytest.param(LORD_HOWE, "2024-10-05T13:29:59", date(2024, 10, 5), id="lord-howe-spring-not-started"),
        pytest.param(LORD_HOWE, "2024-10-05T13:30:00", date(2024, 10, 6), id="lord-howe-spring-day-starts"),
        pytest.param(LORD_HOWE, "2024-10-06T12:59:59", date(2024, 10, 6), id="lord-howe-spring-last-second"),
        pytest.param(LORD_HOWE, "2024-10-06T13:00:00", date(2024, 10, 7), id="lord-howe-spring-next-day"),
        # Fall back 2024-04-07 02:00 -> 01:30: the day runs 13:00Z..13:30Z next day (24.5 h).
        pytest.param(LORD_HOWE, "2024-04-06T13:00:00", date(2024, 4, 7), id="lord-howe-fall-day-starts"),
        pytest.param(LORD_HOWE, "2024-04-07T13:29:59", date(2024, 4, 7), id="lord-howe-fall-last-second"),
        pytest.param(LORD_HOWE, "2024-04-07T13:30:00", date(2024, 4, 8), id="lord-howe-fall-next-day"),
    ],
)
def test_today_in_zone_when_boundary(zone: str, now: str, today: date) -> None:
    assert today_in_zone(zone, utc(now)) == today


def test_today_in_zone_ignores_the_zone_now_is_expressed_in() -> None:
    now = datetime(2024, 6, 11, 3, 29, 59, tzinfo=ZoneInfo("Asia/Tokyo"))  # 2024-06-10T18:29:59Z
    assert today_in_zone("Asia/Kolkata", now) == date(2024, 6, 10)


def test_today_in_zone_raises_when_now_is_naive() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        today_in_zone("UTC", datetime(2024, 6, 10))  # noqa: DTZ001 (the naive input is the point)


def test_today_in_zone_raises_when_zone_is_invalid() -> None:
    with pytest.raises(ValueError, match="'Mars/Olympus' is not an IANA"):
        today_in_zone("Mars/Olympus", utc("2024-06-10T00:00:00"))


# --- series_window ----------------------------------------------------------------------------

NOW = "2025-06-10T02:00:00"  # still 9 June in New York


@pytest.mark.parametrize(
    ("zone", "loaded_until", "first_load_from", "window"),
    [
        pytest.param("UTC", None, None, (date(2025, 6, 10) - timedelta(days=365), date(2025, 6, 10)),
                     id="first-load-a-year-back"),
        pytest.param(NEW_YORK, None, "2025-06-01T03:00:00", (date(2025, 5, 31), date(2025, 6, 9)),
                     id="first-load-from-start-date-as-a-local-date"),
        pytest.param(NEW_YORK, None, "2025-06-10T05:00:00", None, id="start-date-after-the-services-today"),
        pytest.param("UTC", date(2025, 6, 10), None, (date(2025, 6, 8), date(2025, 6, 10)), id="lookback"),
        pytest.param("UTC", date(2025, 6, 2), "2025-01-01T00:00:00", (date(2025, 6, 2), date(2025, 6, 10)),
                     id="back-to-the-last-day-loaded-after-a-pause"),
    ],
)
def test_series_window_when(
    zone: str, loaded_until: date | None, first_load_from: str | None, window: tuple[date, date] | None
) -> None:
    start = utc(first_load_from) if first_load_from else None
    assert series_window(zone, utc(NOW), 3, loaded_until, start) == window


# --- refresh_window ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("zone", "now", "lookback_days", "first_day", "window"),
    [
        pytest.param("UTC", "2024-06-10T12:00:00", 2, None, (date(2024, 6, 9), date(2024, 6, 10)),
                     id="default-today-and-yesterday"),
        pytest.param("UTC", "2024-06-10T12:00:00", 1, None, (date(2024, 6, 10), date(2024, 6, 10)),
                     id="today-only"),
        pytest.param("UTC", "2024-03-01T00:00:00", 3, None, (date(2024, 2, 28), date(2024, 3, 1)),
                     id="across-leap-day"),
        pytest.param("Asia/Kolkata", "2024-06-10T20:00:00", 2, None, (date(2024, 6, 10), date(2024, 6, 11)),
                     id="zone-ahead-of-utc"),
        pytest.param("America/New_York", "2024-06-10T02:00:00", 2, None, (date(2024, 6, 8), date(2024, 6, 9)),
                     id="zone-behind-utc"),
        pytest.param("America/New_York", "2024-03-11T12:00:00", 3, None, (date(2024, 3, 9), date(2024, 3, 11)),
                     id="across-dst-change"),
        pytest.param("Pacific/Kiritimati", "2023-12-31T10:00:00", 2, None, (date(2023, 12, 31), date(2024, 1, 1)),
                     id="across-new-year"),
        pytest.param("UTC", "2024-06-10T12:00:00", 2, date(2024, 1, 1), (date(2024, 1, 1), date(2024, 6, 10)),
                     id="first-load-from-first-day"),
        pytest.param("UTC", "2024-06-10T12:00:00", 2, date(2024, 6, 10), (date(2024, 6, 10), date(2024, 6, 10)),
                     id="first-day-is-today"),
        pytest.param("America/New_York", "2024-06-10T02:00:00", 2, date(2024, 6, 10),
                     (date(2024, 6, 10), date(2024, 6, 9)), id="first-day-still-tomorrow-in-zone-is-empty"),
    ],
)
def test_refresh_window_when(
    zone: str, now: str, lookback_days: int, first_day: date | None, window: tuple[date, date]
) -> None:
    assert refresh_window(zone, utc(now), lookback_days, first_day) == window


@pytest.mark.parametrize("lookback_days", [0, -1])
def test_refresh_window_raises_when_lookback_below_one(lookback_days: int) -> None:
    with pytest.raises(ValueError, match="lookback_days must be at least 1"):
        refresh_window("UTC", utc("2024-06-10T00:00:00"), lookback_days, None)


# --- days_between / fill_missing_days ---------------------------------------------------------

@pytest.mark.parametrize(
    ("start", "end", "days"),
    [
        pytest.param(date(2024, 6, 10), date(2024, 6, 10), [date(2024, 6, 10)], id="one-day"),
        pytest.param(date(2024, 2, 28), date(2024, 3, 1), [date(2024, 2, 28), date(2024, 2, 29), date(2024, 3, 1)],
                     id="leap-day-included"),
        pytest.param(date(2024, 12, 31), date(2025, 1, 1), [date(2024, 12, 31), date(2025, 1, 1)], id="new-year"),
        pytest.param(date(2024, 6, 10), date(2024, 6, 9), [], id="start-after-end-is-empty"),
    ],
)
def test_days_between_when(start: date, end: date, days: list[date]) -> None:
    assert days_between(start, end) == days


def test_fill_missing_days_when_some_days_absent() -> None:
    counts = {date(2025, 6, 9): 61, date(2025, 6, 11): 18}
    assert fill_missing_days(counts, date(2025, 6, 8), date(2025, 6, 11)) == [
        (date(2025, 6, 8), 0), (date(2025, 6, 9), 61), (date(2025, 6, 10), 0), (date(2025, 6, 11), 18),
    ]


def test_fill_missing_days_when_no_counts_or_empty_window() -> None:
    assert fill_missing_days({}, date(2025, 6, 9), date(2025, 6, 10)) == [(date(2025, 6, 9), 0), (date(2025, 6, 10), 0)]
    assert fill_missing_days({}, date(2025, 6, 10), date(2025, 6, 9)) == []


@pytest.mark.parametrize(
    "outside",
    [pytest.param(date(2025, 6, 8), id="before"), pytest.param(date(2025, 6, 12), id="after")],
)
def test_fill_missing_days_raises_when_count_outside_window(outside: date) -> None:
    counts = {date(2025, 6, 9): 1, outside: 5}
    with pytest.raises(ValueError, match=f"counts for {outside.isoformat()} fall outside"):
        fill_missing_days(counts, date(2025, 6, 9), date(2025, 6, 11))
