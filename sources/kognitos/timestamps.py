"""RFC 3339 timestamps at nanosecond precision: canonical sortable keys, datetimes and filter literals.

The API sends protobuf Timestamps as RFC 3339 strings with 0 to 9 fractional digits
(kognitos-api.md §1.3). Python datetimes stop at microseconds, so cursors and de-duplication
compare *keys* instead: UTC, always nine fractional digits, so string order is instant order.
"""

from __future__ import annotations

import re
from contextlib import suppress
from datetime import UTC, datetime, timedelta, timezone

_RFC3339 = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})[Tt]"
    r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})(?:\.(?P<fraction>[0-9]{1,9}))?"
    r"(?:(?P<utc>[Zz])|(?P<sign>[+-])(?P<offset_hours>[0-9]{2}):(?P<offset_minutes>[0-9]{2}))",
    re.ASCII,
)
_UTC_RFC3339 = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?Z", re.ASCII)
"""The form the API sends in practice: checked by this pattern, parsed by `datetime.fromisoformat` (docs/design.md)."""


def timestamp_key(value: str) -> str:
    """The canonical key "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ" for any RFC 3339 timestamp.

    Two keys compare as strings exactly as their instants compare at nanosecond precision.
    Raises ValueError for anything that is not an RFC 3339 date-time (leap seconds included).
    """
    if _UTC_RFC3339.fullmatch(value):
        # The form the API sends is a key once its fraction is padded, far cheaper than the general parser.
        with suppress(ValueError):  # an impossible date or time: _parse below says what is wrong with it
            datetime.fromisoformat(value[:19])
            return f"{value[:19]}.{value[20:-1]:0<9}Z"
    utc, nanos = _parse(value)
    # isoformat, unlike strftime("%Y") on glibc, zero-pads years before 1000.
    return f"{utc.replace(tzinfo=None).isoformat(timespec='seconds')}.{nanos:09d}Z"


def parse_timestamp(value: str) -> datetime:
    """A tz-aware UTC datetime for a `timestamp with time zone` column.

    Nanoseconds are truncated to microseconds, never rounded, so parsing keeps the keys' order
    (rounding up could move an instant into the next second, or day).
    """
    if _UTC_RFC3339.fullmatch(value):
        # Since Python 3.11 fromisoformat takes `Z` and up to 9 fractional digits, truncating to microseconds.
        with suppress(ValueError):  # an impossible date: _parse below says what is wrong with it
            return datetime.fromisoformat(value)
    utc, nanos = _parse(value)
    return utc.replace(microsecond=nanos // 1000)


def parse_optional_timestamp(value: str | None) -> datetime | None:
    """`parse_timestamp` for fields that proto3 JSON may omit."""
    return None if value is None else parse_timestamp(value)


def format_filter_timestamp(key: str) -> str:
    """The literal for an AIP-160 filter on a key: the key itself, as protobuf accepts 9 digits and `Z`.

    Only canonical keys are accepted, so a local-time string cannot slip into a filter unconverted.
    """
    if timestamp_key(key) != key:
        raise ValueError(f"{key!r} is not a canonical timestamp key; pass it through timestamp_key() first")
    return key


def _parse(value: str) -> tuple[datetime, int]:
    """The instant as a UTC datetime at whole seconds, plus its nanoseconds."""
    match = _RFC3339.fullmatch(value)
    if match is None:
        raise ValueError(
            f"{value!r} is not an RFC 3339 timestamp such as '2024-01-01T00:00:00.123456789Z' "
            "(date, 'T', time, up to 9 fractional digits, then 'Z' or an offset like '+02:00')"
        )
    part = {name: int(text) for name, text in match.groupdict().items() if text and text.isdigit()}
    offset = timedelta(0)
    if match["sign"]:
        if part["offset_hours"] > 23 or part["offset_minutes"] > 59:
            raise ValueError(f"{value!r} has an invalid UTC offset")
        offset = timedelta(hours=part["offset_hours"], minutes=part["offset_minutes"])
        offset = -offset if match["sign"] == "-" else offset
    try:
        local = datetime(
            part["year"], part["month"], part["day"], part["hour"], part["minute"], part["second"],
            tzinfo=timezone(offset),
        )
        utc = local.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"{value!r} is not a valid instant: {exc}") from None
    nanos = int((match["fraction"] or "0").ljust(9, "0"))
    return utc, nanos
