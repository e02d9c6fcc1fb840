"""Local calendar days for the daily run aggregates: zone validation, refresh windows, zero-filling.

`:dailyRunAggregates` buckets runs into dates of a caller-chosen IANA zone (kognitos-api.md §3.6).
"Today" therefore depends on the zone, including half-hour and 45-minute offsets and DST, so every
day here is computed with pendulum from an aware instant, never from the host's clock or zone.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from functools import cache
from zoneinfo import available_timezones

import pendulum

from .settings import DEFAULT_DAILY_HISTORY_DAYS

_ZONE_LIST_URL = "https://en.wikipedia.org/wiki/List_of_tz_database_time_zones"


def validate_time_zones(zones: Sequence[str]) -> tuple[str, ...]:
    """The zones, de-duplicated in order, if every one is an IANA name; ValueError naming the first that is not.

    Names are matched exactly as tzdata spells them ("UTC", not "utc"), and fixed offsets such as
    "+05:30" are rejected: the API wants an IANA id, and a typo must fail before any request.
    """
    if isinstance(zones, str):
        raise ValueError(f"time_zones: expected a list of names, got the single string {zones!r}; write [{zones!r}]")
    names = _zone_names()
    for zone in zones:
        if not isinstance(zone, str) or zone not in names:
            raise ValueError(_bad_zone_message(zone))
    return tuple(dict.fromkeys(zones))


def today_in_zone(zone: str, now: datetime) -> date:
    """The calendar date in `zone` at the aware instant `now`."""
    if now.utcoffset() is None:
        raise ValueError(f"now must be timezone-aware, got the naive datetime {now.isoformat()}")
    validate_time_zones((zone,))
    return pendulum.instance(now).in_timezone(zone).date()


def refresh_window(zone: str, now: datetime, lookback_days: int, first_day: date | None) -> tuple[date, date]:
    """The inclusive [start, end] days to (re)load for `zone`: from `first_day`, else the last `lookback_days`.

    `end` is today in `zone`; today's count is still growing, which is why callers keep a lookback
    of at least 2 (today and yesterday). A `first_day` after today gives start > end, an empty
    window (`days_between` returns []), rather than an error: a start date that is already today
    in UTC can still be tomorrow in a zone west of it.
    """
    if lookback_days < 1:
        raise ValueError(f"lookback_days must be at least 1 (1 = today only), got {lookback_days}")
    end = today_in_zone(zone, now)
    start = first_day if first_day is not None else end - timedelta(days=lookback_days - 1)
    return start, end


def series_window(
    zone: str, now: datetime, lookback_days: int, loaded_until: date | None, first_load_from: datetime | None
) -> tuple[date, date] | None:
    """The inclusive [start, end] days one daily series re-queries now, or None while there is no day to ask for.

    A first load (nothing `loaded_until`) covers `first_load_from` (`start_date`), else DEFAULT_DAILY_HISTORY_DAYS,
    up to today in `zone`. Later loads re-query the last `lookback_days`, or back to the last day loaded if the
    pipeline has not run for longer than that, so no day is skipped. None when `start_date` is after today in
    `zone` (`now` is the service's clock, which may be behind the host's).
    """
    if loaded_until is None:
        first_day = (today_in_zone(zone, first_load_from) if first_load_from is not None
                     else today_in_zone(zone, now) - timedelta(days=DEFAULT_DAILY_HISTORY_DAYS))
        start, end = refresh_window(zone, now, lookback_days, first_day)
    else:
        start, end = refresh_window(zone, now, lookback_days, None)
        start = min(start, loaded_until)
    return (start, end) if start <= end else None


def days_between(start: date, end: date) -> list[date]:
    """Every day from `start` to `end`, both included; [] when start > end."""
    return [start + timedelta(days=offset) for offset in range((end - start).days + 1)]


def fill_missing_days(counts: Mapping[date, int], start: date, end: date) -> list[tuple[date, int]]:
    """(day, count) for every day of [start, end], 0 where the API sent no row.

    Whether the API emits zero-run days is undocumented (kognitos-api.md §7), so absent days are
    filled to make "no runs" a row instead of a gap. A count outside the window means the request
    and the response disagree, so it raises instead of being dropped.
    """
    outside = sorted(day for day in counts if not start <= day <= end)
    if outside:
        listed = ", ".join(day.isoformat() for day in outside)
        raise ValueError(f"counts for {listed} fall outside the requested days {start}..{end}")
    return [(day, counts.get(day, 0)) for day in days_between(start, end)]


@cache
def _zone_names() -> frozenset[str]:
    # ZoneInfo() alone would also load "localtime" (the host's zone) and "posix/..." or "right/..."
    # copies, none of which is an IANA name the API knows.
    return frozenset(available_timezones() - {"localtime"})


def _bad_zone_message(zone: object) -> str:
    hint = ""
    if isinstance(zone, str) and zone:
        by_lower = {name.lower(): name for name in _zone_names()}
        close = difflib.get_close_matches(zone.lower(), by_lower, n=1)
        if close:
            hint = f" (did you mean {by_lower[close[0]]!r}?)"
    return (
        f"time_zones: {zone!r} is not an IANA time zone name{hint}; see {_ZONE_LIST_URL} "
        "and fix sources.kognitos.time_zones"
    )
