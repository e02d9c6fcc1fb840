"""RFC 3339 keys, datetimes and filter literals at nanosecond precision (kognitos_elt.kognitos.timestamps)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kognitos_elt.kognitos.timestamps import (
    format_filter_timestamp,
    parse_optional_timestamp,
    parse_timestamp,
    timestamp_key,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
KEY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z")
# Instants whose local time stays within years 1..9999 under any offset.
SECONDS = st.integers(
    int((datetime(2, 1, 1, tzinfo=UTC) - EPOCH).total_seconds()),
    int((datetime(9998, 12, 31, tzinfo=UTC) - EPOCH).total_seconds()),
)
NANOS = st.integers(0, 999_999_999)
OFFSET_MINUTES = st.integers(-(23 * 60 + 59), 23 * 60 + 59)
PRECISION = st.integers(0, 9)


def rfc3339(seconds: int, nanos: int, offset_minutes: int, precision: int, *, zulu: bool = False) -> str:
    """The test's own formatter: the instant in local time at `offset_minutes`, `precision` digits."""
    local = EPOCH + timedelta(seconds=seconds, minutes=offset_minutes)
    text = local.replace(tzinfo=None).isoformat(timespec="seconds")
    if precision:
        text += "." + f"{nanos:09d}"[:precision]
    if offset_minutes == 0 and zulu:
        return text + "Z"
    sign = "-" if offset_minutes < 0 else "+"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return f"{text}{sign}{hours:02d}:{minutes:02d}"


def truncate(nanos: int, precision: int) -> int:
    step: int = 10 ** (9 - precision)
    return nanos // step * step


@pytest.mark.parametrize(
    ("value", "key"),
    [
        pytest.param("2024-01-01T00:00:00Z", "2024-01-01T00:00:00.000000000Z", id="no-fraction"),
        pytest.param("2024-01-01T00:00:00.1Z", "2024-01-01T00:00:00.100000000Z", id="one-digit"),
        pytest.param("2024-01-01T00:00:00.123456Z", "2024-01-01T00:00:00.123456000Z", id="micros"),
        pytest.param("2024-01-01T00:00:00.123456789Z", "2024-01-01T00:00:00.123456789Z", id="nanos"),
        pytest.param("2024-01-01t00:00:00.5z", "2024-01-01T00:00:00.500000000Z", id="lowercase-t-z"),
        pytest.param("2024-01-01T01:30:00+01:30", "2024-01-01T00:00:00.000000000Z", id="positive-offset"),
        pytest.param("2023-12-31T19:00:00.000000001-05:00", "2024-01-01T00:00:00.000000001Z",
                     id="negative-offset-crosses-year"),
        pytest.param("2024-01-01T00:00:00-00:00", "2024-01-01T00:00:00.000000000Z", id="unknown-local-offset"),
        pytest.param("2024-02-29T23:59:59.999999999+14:00", "2024-02-29T09:59:59.999999999Z", id="leap-day"),
        pytest.param("0999-01-01T00:30:00+01:00", "0998-12-31T23:30:00.000000000Z", id="year-below-1000-padded"),
    ],
)
def test_timestamp_key_when_valid(value: str, key: str) -> None:
    assert timestamp_key(value) == key


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("", id="empty"),
        pytest.param("2024-01-01", id="date-only"),
        pytest.param("2024-01-01T00:00:00", id="no-offset"),
        pytest.param("2024-01-01 00:00:00Z", id="space-separator"),
        pytest.param("2024-01-01T00:00Z", id="no-seconds"),
        pytest.param("2024-01-01T00:00:00.Z", id="empty-fraction"),
        pytest.param("2024-01-01T00:00:00.1234567891Z", id="ten-digits"),
        pytest.param("2024-01-01T00:00:00+0100", id="offset-without-colon"),
        pytest.param("2024-01-01T00:00:00+01", id="offset-hours-only"),
        pytest.param("2024-01-01T00:00:00+24:00", id="offset-24h"),
        pytest.param("2024-01-01T00:00:00+01:60", id="offset-60min"),
        pytest.param("2024-13-01T00:00:00Z", id="month-13"),
        pytest.param("2023-02-29T00:00:00Z", id="not-a-leap-year"),
        pytest.param("2024-01-01T24:00:00Z", id="hour-24"),
        pytest.param("2016-12-31T23:59:60Z", id="leap-second"),
        pytest.param("0000-01-01T00:00:00Z", id="year-zero"),
        pytest.param("9999-12-31T23:59:59-00:01", id="overflows-after-year-9999"),
        pytest.param("0001-01-01T00:00:00+00:01", id="underflows-before-year-1"),
        pytest.param("2024-01-01T00:00:00Z\n", id="trailing-newline"),
        pytest.param(" 2024-01-01T00:00:00Z", id="leading-space"),
        pytest.param("٢٠٢٤-01-01T00:00:00Z", id="non-ascii-digits"),
        pytest.param("+2024-01-01T00:00:00Z", id="signed-year"),
    ],
)
def test_timestamp_key_raises_when_malformed(value: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(value))):
        timestamp_key(value)


@settings(max_examples=300)
@given(seconds=SECONDS, nanos=NANOS, offset=OFFSET_MINUTES, precision=PRECISION, zulu=st.booleans())
def test_timestamp_key_when_any_offset_and_precision(
    seconds: int, nanos: int, offset: int, precision: int, zulu: bool
) -> None:
    key = timestamp_key(rfc3339(seconds, nanos, offset, precision, zulu=zulu))
    utc = (EPOCH + timedelta(seconds=seconds)).replace(tzinfo=None).isoformat(timespec="seconds")
    assert key == f"{utc}.{truncate(nanos, precision):09d}Z"
    assert timestamp_key(key) == key


@settings(max_examples=300)
@given(
    a=st.tuples(SECONDS, NANOS, OFFSET_MINUTES, PRECISION),
    b=st.tuples(SECONDS, NANOS, OFFSET_MINUTES, PRECISION),
    near=st.booleans(),
)
def test_timestamp_key_orders_like_instants(
    a: tuple[int, int, int, int], b: tuple[int, int, int, int], near: bool
) -> None:
    if near:  # make same-second and same-instant pairs common, which random instants almost never are
        b = (a[0], b[1], b[2], b[3])
    instant_a = (a[0], truncate(a[1], a[3]))
    instant_b = (b[0], truncate(b[1], b[3]))
    key_a, key_b = timestamp_key(rfc3339(*a)), timestamp_key(rfc3339(*b))
    assert (key_a < key_b) == (instant_a < instant_b)
    assert (key_a == key_b) == (instant_a == instant_b)
    if instant_a <= instant_b:  # truncating to microseconds may tie instants, never reorder them
        assert parse_timestamp(key_a) <= parse_timestamp(key_b)


@settings(max_examples=200)
@given(seconds=SECONDS, nanos=NANOS, offsets=st.tuples(OFFSET_MINUTES, OFFSET_MINUTES))
def test_timestamp_key_equal_when_same_instant_in_two_offsets(
    seconds: int, nanos: int, offsets: tuple[int, int]
) -> None:
    first, second = (timestamp_key(rfc3339(seconds, nanos, offset, 9)) for offset in offsets)
    assert first == second


@settings(max_examples=300)
@given(st.text(alphabet=st.sampled_from("0123456789-:.TZtz+ \n"), max_size=40) | st.text(max_size=40))
def test_timestamp_key_raises_only_value_error(value: str) -> None:
    try:
        key = timestamp_key(value)
    except ValueError:
        return
    assert KEY.fullmatch(key)


@settings(max_examples=300)
@given(seconds=SECONDS, nanos=NANOS, offset=OFFSET_MINUTES, precision=PRECISION, zulu=st.booleans())
def test_parse_timestamp_when_any_form_is_the_instant_truncated_to_microseconds(
    seconds: int, nanos: int, offset: int, precision: int, zulu: bool
) -> None:
    """The `Z` fast path (fromisoformat) and the general parser give the same instant."""
    parsed = parse_timestamp(rfc3339(seconds, nanos, offset, precision, zulu=zulu))
    assert parsed == EPOCH + timedelta(seconds=seconds, microseconds=truncate(nanos, precision) // 1000)
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("2024-01-01T00:00:00Z", datetime(2024, 1, 1, tzinfo=UTC), id="whole-seconds"),
        pytest.param("2024-01-01T00:00:00.123456789Z", datetime(2024, 1, 1, 0, 0, 0, 123456, tzinfo=UTC),
                     id="nanos-truncated"),
        pytest.param("2024-12-31T23:59:59.999999999Z", datetime(2024, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
                     id="truncation-never-rolls-into-next-year"),
        pytest.param("2024-01-01T05:30:00+05:30", datetime(2024, 1, 1, tzinfo=UTC), id="offset-to-utc"),
    ],
)
def test_parse_timestamp_when_valid(value: str, expected: datetime) -> None:
    parsed = parse_timestamp(value)
    assert parsed == expected
    assert parsed.tzinfo is UTC


def test_parse_optional_timestamp_when_none_or_value() -> None:
    assert parse_optional_timestamp(None) is None
    assert parse_optional_timestamp("2024-01-01T00:00:00Z") == datetime(2024, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_optional_timestamp("")


def test_format_filter_timestamp_when_key() -> None:
    assert format_filter_timestamp("2024-01-01T00:00:00.123456789Z") == "2024-01-01T00:00:00.123456789Z"


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("2024-01-01T00:00:00Z", id="short-fraction"),
        pytest.param("2024-01-01T01:00:00.000000000+01:00", id="offset"),
        pytest.param("2024-01-01t00:00:00.000000000z", id="lowercase"),
        pytest.param("yesterday", id="garbage"),
    ],
)
def test_format_filter_timestamp_raises_when_not_a_key(value: str) -> None:
    with pytest.raises(ValueError):
        format_filter_timestamp(value)
