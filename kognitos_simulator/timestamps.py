"""Instants as integer nanoseconds since the Unix epoch, and their RFC 3339 text forms.

The world keeps every instant as an int so comparisons (filters, ordering, ties) are exact at
nanosecond precision; datetime (microseconds) and float (about 0.2 µs today) would both lose it.
Rendering follows protobuf's JSON mapping for google.protobuf.Timestamp: UTC with "Z" and 0, 3, 6 or
9 fractional digits, the fewest that represent the value exactly.
"""

from __future__ import annotations

import calendar
import functools
import re
import time
from datetime import UTC, datetime, timedelta

NS_PER_SECOND = 1_000_000_000
NS_PER_MILLISECOND = 1_000_000
NS_PER_MICROSECOND = 1_000
NS_PER_MINUTE = 60 * NS_PER_SECOND
NS_PER_HOUR = 60 * NS_PER_MINUTE
NS_PER_DAY = 24 * NS_PER_HOUR

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:Z|([+-])(\d{2}):(\d{2}))",
    re.ASCII,
)


@functools.lru_cache(maxsize=65_536)
def _whole_seconds(seconds: int) -> str:
    parts = time.gmtime(seconds)
    return (
        f"{parts.tm_year:04d}-{parts.tm_mon:02d}-{parts.tm_mday:02d}"
        f"T{parts.tm_hour:02d}:{parts.tm_min:02d}:{parts.tm_sec:02d}"
    )


def render(ns: int) -> str:
    """RFC 3339 text of an instant, protobuf style (e.g. 2025-06-11T09:15:02.481Z)."""
    seconds, fraction = divmod(ns, NS_PER_SECOND)
    text = _whole_seconds(seconds)
    if fraction == 0:
        return text + "Z"
    if fraction % NS_PER_MILLISECOND == 0:
        return f"{text}.{fraction // NS_PER_MILLISECOND:03d}Z"
    if fraction % NS_PER_MICROSECOND == 0:
        return f"{text}.{fraction // NS_PER_MICROSECOND:06d}Z"
    return f"{text}.{fraction:09d}Z"


def parse(text: str) -> int:
    """Nanoseconds of an RFC 3339 timestamp ("T" and "Z" upper case, 0-9 fractional digits).

    Raises ValueError saying what is wrong.
    """
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise ValueError(f'"{text}" is not an RFC 3339 timestamp such as "2024-01-01T00:00:00Z"')
    year, month, day, hour, minute, second = (int(group) for group in match.groups()[:6])
    fraction, sign, offset_hours, offset_minutes = match.groups()[6:]
    try:
        datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError as error:
        raise ValueError(f'"{text}" is not a valid date and time: {error}') from None
    offset = 0
    if sign is not None:
        if int(offset_hours) > 23 or int(offset_minutes) > 59:
            raise ValueError(f'"{text}" has an invalid UTC offset')
        offset = (int(offset_hours) * 3600 + int(offset_minutes) * 60) * (1 if sign == "+" else -1)
    seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)) - offset
    return seconds * NS_PER_SECOND + int((fraction or "").ljust(9, "0"))


def from_datetime(moment: datetime) -> int:
    """Nanoseconds of a tz-aware datetime."""
    if moment.utcoffset() is None:
        raise ValueError("naive datetimes are ambiguous; pass a timezone-aware datetime")
    return (moment - _EPOCH) // timedelta(microseconds=1) * NS_PER_MICROSECOND


def to_datetime(ns: int) -> datetime:
    """A tz-aware UTC datetime (nanoseconds below a microsecond are dropped)."""
    return _EPOCH + timedelta(microseconds=ns // NS_PER_MICROSECOND)


def from_timedelta(delta: timedelta) -> int:
    return delta // timedelta(microseconds=1) * NS_PER_MICROSECOND


def floor(ns: int, unit: int) -> int:
    """`ns` truncated to a multiple of `unit` (a precision: 1, 1e3, 1e6 or 1e9 ns)."""
    return ns - ns % unit
