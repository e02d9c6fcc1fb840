"""The simulator's pure pieces: value encoding, timestamps, ids, page sizes and fault decisions."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kognitos_simulator import Faults, timestamps, values
from kognitos_simulator.errors import ApiError
from kognitos_simulator.filters import IntervalSet
from kognitos_simulator.ids import NanoIdCodec, UuidCodec, nanoid
from kognitos_simulator.pagination import PageTokens, effective_page_size, take_descending


def _decode(fields: dict[str, int]) -> Decimal:
    """v1Number -> Decimal, as kognitos-api.md §5.3 defines it (independent of the encoder)."""
    mantissa = (fields.get("hi", 0) << 64) | (fields.get("mid", 0) << 32) | fields.get("lo", 0)
    flags = fields.get("flags", 0)
    value = Decimal(f"{mantissa}e-{(flags >> 16) & 0xFF}")  # exact: no context rounding
    return value.copy_negate() if flags & 0x80000000 else value  # copy_negate: no rounding either


@pytest.mark.parametrize(("value", "fields"), [
    ("123.45", {"lo": 12345, "flags": 131072}),
    ("-0.001", {"lo": 1, "flags": 2147680256}),
    ("0", {}),
    ("42", {"lo": 42}),
    ("1E+3", {"lo": 1000}),
    ("79228162514264337593543950335", {"lo": 4294967295, "mid": 4294967295, "hi": 4294967295}),
    ("0.0000000000000000000000000001", {"lo": 1, "flags": 28 << 16}),
])
def test_numbers_encode_as_96_bit_decimals(value: str, fields: dict[str, int]) -> None:
    assert values.number_fields(value) == fields


@given(st.builds(lambda mantissa, scale: Decimal(f"{mantissa}e-{scale}"),
                 st.integers(-(2**96) + 1, 2**96 - 1), st.integers(0, 28)))
def test_numbers_round_trip(value: Decimal) -> None:
    assert _decode(values.number_fields(value)) == value


@pytest.mark.parametrize("value", ["1E+29", "0.00000000000000000000000000001", "NaN"])
def test_numbers_that_do_not_fit_are_rejected(value: str) -> None:
    with pytest.raises(ValueError):
        values.number_fields(value)


@pytest.mark.parametrize(("ns", "text"), [(300 * 10**9, "300s"), (-1_500_000_000, "-1.500s"), (1, "0.000000001s"),
                                          (2_000_001_000, "2.000001s")])
def test_durations_use_protobuf_json(ns: int, text: str) -> None:
    assert values.duration_text(ns) == text


@pytest.mark.parametrize(("ns", "text"), [
    (1_749_633_302_000_000_000, "2025-06-11T09:15:02Z"),
    (1_749_633_302_481_000_000, "2025-06-11T09:15:02.481Z"),
    (1_749_633_302_481_200_000, "2025-06-11T09:15:02.481200Z"),
    (1_749_633_302_481_200_001, "2025-06-11T09:15:02.481200001Z"),
])
def test_timestamps_render_with_the_fewest_of_0_3_6_or_9_digits(ns: int, text: str) -> None:
    assert timestamps.render(ns) == text
    assert timestamps.parse(text) == ns


@given(st.integers(min_value=-62_135_596_800 * 10**9, max_value=253_402_300_799 * 10**9))
def test_timestamps_round_trip(ns: int) -> None:
    assert timestamps.parse(timestamps.render(ns)) == ns


def test_timestamp_offsets_shift_the_instant() -> None:
    assert timestamps.parse("2025-01-01T05:30:00+05:30") == timestamps.parse("2025-01-01T00:00:00Z")
    assert timestamps.parse("2024-12-31T19:00:00.5-05:00") == timestamps.parse("2025-01-01T00:00:00.500Z")
    for bad in ("2025-01-01T00:00:00+24:00", "2025-01-01t00:00:00Z", "２０２５-01-01T00:00:00Z"):
        with pytest.raises(ValueError):
            timestamps.parse(bad)


@given(st.integers(min_value=0, max_value=(1 << 41) - 1))
def test_run_ids_decode_to_their_key(key: int) -> None:
    codec = NanoIdCodec(key=99, limit=1 << 41)
    text = codec.encode(key)
    assert len(text) == 21 and codec.decode(text) == key
    assert NanoIdCodec(key=100, limit=1 << 41).decode(text) != key


@given(st.integers(min_value=0, max_value=(1 << 61) - 1))
def test_execution_ids_are_uuid4_and_decode(value: int) -> None:
    codec = UuidCodec(key=5, limit=1 << 61)
    text = codec.encode(value)
    assert text[14] == "4" and text[19] in "89ab"
    assert codec.decode(text) == value


def test_made_up_ids_do_not_decode() -> None:
    import random

    codec = NanoIdCodec(key=1, limit=1 << 41)
    rng = random.Random(0)
    assert all(codec.decode(nanoid(rng)) is None for _ in range(1000))
    assert codec.decode("short") is None and codec.decode("!" * 21) is None
    assert UuidCodec(key=1, limit=1 << 61).decode("not-a-uuid") is None


def test_interval_sets_combine() -> None:
    a, b = IntervalSet.of(0, 10), IntervalSet.of(5, 20)
    assert a.intersect(b) == IntervalSet.of(5, 10)
    assert a.union(b) == IntervalSet.of(0, 20)
    assert 4 in a and 10 not in a and 10 in a.complement()
    assert a.complement().complement() == a


def test_page_sizes() -> None:
    assert effective_page_size(0, 10) == 10
    assert effective_page_size(5, 10) == 5
    assert effective_page_size(5000, 10) == 1000
    with pytest.raises(ApiError):
        effective_page_size(-1, 10)


def test_page_tokens_round_trip_only_for_their_binding() -> None:
    tokens = PageTokens(b"secret")
    token = tokens.issue("runs|a", 42)
    assert tokens.position(token, "runs|a") == 42
    assert tokens.position("", "runs|a") == 0
    for binding, forged in (("runs|b", token), ("runs|a", token[:-1] + ("A" if token[-1] != "A" else "B"))):
        with pytest.raises(ApiError):
            tokens.position(forged, binding)
    with pytest.raises(ApiError):
        PageTokens(b"other").position(token, "runs|a")


def test_descending_selection_reads_ranges_from_the_top() -> None:
    ranges = [(0, 3), (5, 8)]
    assert take_descending(ranges, 0, 4) == [7, 6, 5, 2]
    assert take_descending(ranges, 2, 3) == [5, 2, 1]
    assert take_descending(ranges, 6, 5) == []


def test_fault_modes_take_precedence_in_order() -> None:
    faults = Faults(unavailable_rate=1.0, every_nth={"rate_limit": 2})
    faults.inject("drop_connection")
    assert [faults.draw("/x") for _ in range(4)] == ["drop_connection", "rate_limit", "unavailable", "rate_limit"]
    faults.path_contains = "/runs"
    assert faults.draw("/me/organizations") is None
