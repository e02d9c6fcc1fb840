"""commonV1Value / v1Number decoding (kognitos_elt.kognitos.values)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kognitos_elt.kognitos.values import decode_number, decode_value, decode_value_map, value_type_name

UINT32 = 0xFFFFFFFF
MAX_MANTISSA = 2**96 - 1


def encode_number(number: Decimal, *, as_strings: bool = False) -> dict[str, Any]:
    """The test's own v1Number encoder (kognitos-api.md §5.3), zero fields omitted like proto3 JSON."""
    sign, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)
    mantissa = int("".join(map(str, digits)))
    words = {
        "lo": mantissa & UINT32,
        "mid": (mantissa >> 32) & UINT32,
        "hi": mantissa >> 64,
        "flags": (-exponent << 16) | (0x80000000 if sign else 0),
    }
    return {name: str(word) if as_strings else word for name, word in words.items() if word}


def make_decimal(mantissa: int, scale: int, negative: bool) -> Decimal:
    return Decimal((int(negative), tuple(map(int, str(mantissa))), -scale))


# --- v1Number ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("number", "expected"),
    [
        pytest.param({"lo": 12345, "flags": 131072}, Decimal("123.45"), id="reference-123.45"),
        pytest.param({"lo": 1, "flags": 2147680256}, Decimal("-0.001"), id="reference-minus-0.001"),
        pytest.param({"lo": 42}, Decimal(42), id="observed-wire-form-lo-only"),
        pytest.param({}, Decimal(0), id="all-fields-missing-is-zero"),
        pytest.param({"lo": 1234550, "flags": 131072}, Decimal("12345.50"), id="trailing-zero-kept"),
        pytest.param({"lo": 7, "flags": 0x80000000}, Decimal(-7), id="negative-integer"),
        pytest.param({"mid": 1}, Decimal(2**32), id="mid-only"),
        pytest.param({"hi": 1}, Decimal(2**64), id="hi-only"),
        pytest.param({"lo": UINT32, "mid": UINT32, "hi": UINT32}, Decimal(MAX_MANTISSA), id="max-96-bit"),
        pytest.param(
            {"lo": UINT32, "mid": UINT32, "hi": UINT32, "flags": (28 << 16) | 0x80000000},
            Decimal("-7.9228162514264337593543950335"),
            id="max-96-bit-scale-28-negative-all-29-digits",
        ),
        pytest.param({"lo": 1, "flags": 28 << 16}, Decimal("1E-28"), id="smallest-scale-28"),
        pytest.param({"lo": "12345", "flags": "131072"}, Decimal("123.45"), id="numeric-strings"),
        pytest.param({"lo": "-1"}, Decimal(UINT32), id="negative-string-read-as-int32-word"),
        pytest.param({"lo": -1, "mid": -1, "hi": -1}, Decimal(MAX_MANTISSA), id="int32-words"),
        pytest.param({"lo": 1, "flags": -2147287040}, Decimal("-0.001"), id="int32-flags"),
    ],
)
def test_decode_number_when_valid(number: dict[str, Any], expected: Decimal) -> None:
    decoded = decode_number(number)
    assert decoded == expected
    assert decoded.as_tuple() == expected.as_tuple()


@pytest.mark.parametrize(
    ("number", "message"),
    [
        pytest.param({"lo": 1, "flags": 29 << 16}, "scale 29", id="scale-29"),
        pytest.param({"lo": 1, "flags": 1}, "bits other than", id="reserved-flag-bits"),
        pytest.param({"lo": 2**32}, "32 bits", id="lo-too-wide"),
        pytest.param({"hi": -(2**31) - 1}, "32 bits", id="hi-below-int32"),
        pytest.param({"lo": "12.5"}, "numeric string", id="fractional-string"),
        pytest.param({"lo": 1.5}, "numeric string", id="float"),
        pytest.param({"lo": True}, "numeric string", id="bool"),
        pytest.param({"lo": "١٢"}, "numeric string", id="non-ascii-digits"),
    ],
)
def test_decode_number_raises_when_malformed(number: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decode_number(number)


@settings(max_examples=300)
@given(
    mantissa=st.integers(0, MAX_MANTISSA),
    scale=st.integers(0, 28),
    negative=st.booleans(),
    as_strings=st.booleans(),
)
def test_decode_number_round_trips_when_encoded(mantissa: int, scale: int, negative: bool, as_strings: bool) -> None:
    number = make_decimal(mantissa, scale, negative)
    decoded = decode_value({"number": encode_number(number, as_strings=as_strings)})
    assert decoded.as_tuple() == number.as_tuple()


# --- commonV1Value kinds ----------------------------------------------------------------------

@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(None, None, id="none"),
        pytest.param({}, None, id="empty-object"),
        pytest.param({"null_value": None}, None, id="null-json-null"),
        pytest.param({"null_value": "NULL_VALUE"}, None, id="null-enum-name"),
        pytest.param({"bool_value": False}, False, id="bool"),
        pytest.param({"text": "Globex LLC"}, "Globex LLC", id="text"),
        pytest.param({"text": ""}, "", id="empty-text"),
        pytest.param({"text": None}, None, id="known-kind-with-null-payload"),
        pytest.param({"number": {"lo": 1234550, "flags": 131072}}, Decimal("12345.50"), id="number"),
        pytest.param({"date": {"year": 2025, "month": 7, "day": 1}}, "2025-07-01", id="date"),
        pytest.param({"date": {"month": 5, "day": 1}}, "0000-05-01", id="date-without-year"),
        pytest.param({"date": {"year": 2025, "month": 12}}, "2025-12-00", id="date-without-day"),
        pytest.param({"date": {"year": "2025", "month": "7", "day": "1"}}, "2025-07-01", id="date-strings"),
        pytest.param({"timeofday": {}}, "00:00:00", id="midnight"),
        pytest.param({"timeofday": {"hours": 13, "minutes": 5, "seconds": 9}}, "13:05:09", id="time"),
        pytest.param({"timeofday": {"hours": 24}}, "24:00:00", id="closing-time-24"),
        pytest.param({"timeofday": {"seconds": 1, "nanos": 5}}, "00:00:01.000000005", id="time-nanos"),
        pytest.param({"time_zone": {"id": "America/New_York", "version": "2019a"}}, "America/New_York",
                     id="time-zone"),
        pytest.param({"duration": "-3600.5s"}, "-3600.5s", id="duration-as-given"),
        pytest.param({"list": {}}, [], id="empty-list"),
        pytest.param({"list": {"items": [{"text": "urgent"}, {"number": {"lo": 2}}, {}]}},
                     ["urgent", Decimal(2), None], id="list"),
        pytest.param({"list": {"items": [{"list": {"items": [{"bool_value": True}]}}]}}, [[True]],
                     id="nested-list"),
        pytest.param({"set": {"items": [{"text": "b"}, {"text": "a"}]}}, ["b", "a"], id="set-keeps-order"),
        pytest.param({"file": {"remote": "s3://bucket/a.pdf"}}, {"remote": "s3://bucket/a.pdf"}, id="file-remote"),
        pytest.param({"file": {"inline": {"file_name": "a.txt", "content": "aGk="}}},
                     {"file_name": "a.txt", "content_base64": "aGk="}, id="file-inline"),
        pytest.param({"file": {}}, {}, id="file-empty"),
        pytest.param({"future_kind": {"x": [1]}}, {"future_kind": {"x": [1]}}, id="unknown-kind-kept"),
        pytest.param({"text": "a", "bool_value": True}, {"text": "a", "bool_value": True},
                     id="several-keys-kept"),
    ],
)
def test_decode_value_when_kind(value: dict[str, Any] | None, expected: Any) -> None:
    assert decode_value(value) == expected


@pytest.mark.parametrize(
    ("datetime_value", "expected"),
    [
        pytest.param({"year": 2025, "month": 6, "day": 11, "hours": 9}, "2025-06-11T09:00:00", id="local-naive"),
        pytest.param({"year": 2025, "month": 6, "day": 11, "hours": 9, "utc_offset": "-14400s"},
                     "2025-06-11T09:00:00-04:00", id="offset-negative"),
        pytest.param({"year": 2025, "month": 6, "day": 11, "utc_offset": "0s"},
                     "2025-06-11T00:00:00+00:00", id="offset-zero"),
        pytest.param({"year": 2025, "month": 6, "day": 11, "utc_offset": "19800s"},
                     "2025-06-11T00:00:00+05:30", id="offset-half-hour"),
        pytest.param({"year": 2025, "month": 6, "day": 11, "utc_offset": "-1800s"},
                     "2025-06-11T00:00:00-00:30", id="offset-minus-half-hour"),
        pytest.param({"year": 2025, "month": 6, "day": 11, "utc_offset": "3600.5s"},
                     "2025-06-11T00:00:00+01:00:00.5", id="offset-fractional-seconds"),
        pytest.param({"year": 2025, "month": 6, "day": 11, "nanos": 1, "utc_offset": "3661s"},
                     "2025-06-11T00:00:00.000000001+01:01:01", id="offset-seconds-and-nanos"),
        pytest.param({"year": 2025, "month": 6, "day": 11, "hours": 9, "time_zone": {"id": "America/New_York"}},
                     "2025-06-11T09:00:00-04:00[America/New_York]", id="zone-summer"),
        pytest.param({"year": 2025, "month": 1, "day": 11, "hours": 9, "time_zone": {"id": "America/New_York"}},
                     "2025-01-11T09:00:00-05:00[America/New_York]", id="zone-winter"),
        pytest.param({"year": 2024, "month": 11, "day": 3, "hours": 1, "minutes": 30,
                      "time_zone": {"id": "America/New_York"}},
                     "2024-11-03T01:30:00-04:00[America/New_York]", id="zone-ambiguous-takes-earlier"),
        pytest.param({"year": 2025, "month": 6, "day": 11, "time_zone": {"id": "Asia/Kolkata"}},
                     "2025-06-11T00:00:00+05:30[Asia/Kolkata]", id="zone-half-hour"),
        pytest.param({"year": 2025, "month": 6, "day": 11, "time_zone": {"id": "Mars/Olympus"}},
                     "2025-06-11T00:00:00[Mars/Olympus]", id="zone-unknown-no-offset"),
        pytest.param({"month": 6, "day": 11, "time_zone": {"id": "UTC"}},
                     "0000-06-11T00:00:00[UTC]", id="zone-without-year-no-offset"),
        pytest.param({"year": 2025, "month": 6, "day": 11, "time_zone": {}}, "2025-06-11T00:00:00",
                     id="zone-without-id-is-local"),
    ],
)
def test_decode_value_when_datetime(datetime_value: dict[str, Any], expected: str) -> None:
    assert decode_value({"datetime": datetime_value}) == expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param({"datetime": {"year": 2025, "month": 6, "day": 1, "utc_offset": "-4:00"}},
                     id="offset-not-duration"),
        pytest.param({"datetime": {"year": 2025, "month": 6, "day": 1, "utc_offset": -14400}}, id="offset-number"),
        pytest.param({"date": {"year": 2025, "month": 13, "day": 1}}, id="month-13"),
        pytest.param({"date": {"year": -1}}, id="negative-year"),
        pytest.param({"timeofday": {"minutes": 60}}, id="minute-60"),
        pytest.param({"timeofday": {"nanos": 1_000_000_000}}, id="nanos-overflow"),
        pytest.param({"bool_value": "true"}, id="bool-as-string"),
        pytest.param({"text": 5}, id="text-as-number"),
        pytest.param({"list": {"items": [{"number": {"flags": 30 << 16}}]}}, id="bad-number-inside-list"),
    ],
)
def test_decode_value_raises_when_known_kind_is_malformed(value: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        decode_value(value)


def test_decode_value_map_names_the_path_when_malformed() -> None:
    bad = {"number": {"flags": 30 << 16}}
    outputs = {"ok": {"text": "x"}, "totals": {"list": {"items": [{"dictionary": {"entries": [
        {"key": {"text": "net"}, "value": bad}]}}]}}}
    with pytest.raises(ValueError, match=r"^'totals': list: dictionary: number: v1Number scale 30 is above 28$"):
        decode_value_map(outputs)


def entry(key: dict[str, Any] | None, value: dict[str, Any]) -> dict[str, Any]:
    return {"value": value} if key is None else {"key": key, "value": value}


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        pytest.param([], {}, id="empty"),
        pytest.param(
            [entry({"text": "currency"}, {"text": "EUR"}),
             entry({"text": "due"}, {"date": {"year": 2025, "month": 7, "day": 1}})],
            {"currency": "EUR", "due": "2025-07-01"},
            id="reference-example",
        ),
        pytest.param([entry({"number": {"lo": 15, "flags": 1 << 16}}, {"text": "x"})], {"1.5": "x"},
                     id="number-key-str-form"),
        pytest.param([entry({"bool_value": True}, {"text": "yes"})], {"True": "yes"}, id="bool-key-str-form"),
        pytest.param(
            [entry({"text": "inner"}, {"dictionary": {"entries": [entry({"text": "k"}, {"number": {"lo": 1}})]}})],
            {"inner": {"k": Decimal(1)}},
            id="nested-dictionary",
        ),
        pytest.param(
            [entry({"text": "1"}, {"text": "text key"}), entry({"number": {"lo": 1}}, {"text": "number key"})],
            [{"key": "1", "value": "text key"}, {"key": Decimal(1), "value": "number key"}],
            id="colliding-str-forms-become-pairs",
        ),
        pytest.param(
            [entry({"date": {"year": 2025, "month": 1, "day": 2}}, {"text": "a"})],
            {"2025-01-02": "a"},
            id="date-key",
        ),
        pytest.param(
            [entry({"future": 1}, {"text": "a"})],
            [{"key": {"future": 1}, "value": "a"}],
            id="unknown-key-kind-becomes-pairs",
        ),
        pytest.param([entry(None, {"text": "a"})], [{"key": None, "value": "a"}], id="missing-key-becomes-pairs"),
    ],
)
def test_decode_value_when_dictionary(entries: list[dict[str, Any]], expected: Any) -> None:
    assert decode_value({"dictionary": {"entries": entries}}) == expected


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        pytest.param({"remote": "https://x/t.feather"}, {"remote": "https://x/t.feather"}, id="remote"),
        pytest.param({"inline": {"data": "QVJST1cx"}}, {"table_inline_arrow_base64": "QVJST1cx"},
                     id="observed-arrow-ipc"),
        pytest.param({"inline": {}}, {"columns": {}}, id="inline-without-columns"),
        pytest.param(
            {"inline": {"columns": [
                {"name": "id", "values": [{"number_value": 1.0}, {"null_value": "NULL_VALUE"}]},
                {"name": "when", "values": [{"date_value": {"year": 2025, "month": 1, "day": 2}},
                                            {"time_value": {"hours": 7}}]},
                {"name": "misc", "values": [{"list_value": {"values": [{"text_value": "a"}, {"boolean_value": True}]}},
                                            {"sensitive_value": {"value": {"text_value": "s"}}}]},
                {"name": "empty", "values": [{}, {"datetime_value": "2025-01-02T03:04:05Z"}]},
            ]}},
            {"columns": {
                "id": [1.0, None],
                "when": ["2025-01-02", "07:00:00"],
                "misc": [["a", True], {"sensitive_value": {"value": {"text_value": "s"}}}],
                "empty": [None, "2025-01-02T03:04:05Z"],
            }},
            id="documented-columns",
        ),
        pytest.param({"future": 1}, {"future": 1}, id="unknown-shape-kept"),
    ],
)
def test_decode_value_when_table(table: dict[str, Any], expected: dict[str, Any]) -> None:
    assert decode_value({"table": table}) == expected


def test_decode_value_raises_when_table_repeats_a_column_name() -> None:
    columns = [{"name": "a", "values": []}, {"name": "a", "values": []}]
    with pytest.raises(ValueError, match="two columns named 'a'"):
        decode_value({"table": {"inline": {"columns": columns}}})


def test_decode_value_map_when_absent_empty_or_present() -> None:
    assert decode_value_map(None) is None
    assert decode_value_map({}) == {}
    outputs = {"invoice_total": {"number": {"lo": 1234550, "flags": 131072}}, "vendor": {"text": "Globex LLC"}}
    assert decode_value_map(outputs) == {"invoice_total": Decimal("12345.50"), "vendor": "Globex LLC"}


# --- property: nested values decode to what was encoded --------------------------------------

def _leaf() -> st.SearchStrategy[tuple[Any, Any]]:
    numbers = st.builds(make_decimal, st.integers(0, MAX_MANTISSA), st.integers(0, 28), st.booleans())
    return st.one_of(
        st.text().map(lambda text: ({"text": text}, text)),
        st.booleans().map(lambda flag: ({"bool_value": flag}, flag)),
        st.just(({"null_value": None}, None)),
        numbers.map(lambda number: ({"number": encode_number(number)}, number)),
    )


def _lists(children: st.SearchStrategy[tuple[Any, Any]]) -> st.SearchStrategy[tuple[Any, Any]]:
    return st.lists(children, max_size=4).map(
        lambda pairs: ({"list": {"items": [encoded for encoded, _ in pairs]}}, [plain for _, plain in pairs])
    )


@settings(max_examples=150)
@given(st.recursive(_leaf(), _lists, max_leaves=12))
def test_decode_value_when_nested_random_values(pair: tuple[Any, Any]) -> None:
    encoded, plain = pair
    assert decode_value(encoded) == plain


@settings(max_examples=100)
@given(
    key=st.text(min_size=1).filter(lambda key: key not in {
        "null_value", "bool_value", "number", "text", "date", "timeofday", "datetime", "time_zone",
        "duration", "list", "dictionary", "file", "table", "set",
    }),
    raw=st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
                     max_leaves=8),
)
def test_decode_value_keeps_unknown_kinds_unchanged(key: str, raw: Any) -> None:
    assert decode_value({key: raw}) == {key: raw}


# --- v1ValueType names ----------------------------------------------------------------------

def scalar(name: str) -> dict[str, str]:
    return {"scalar_type": f"VALUE_SCALAR_TYPE_{name}"}


@pytest.mark.parametrize(
    ("value_type", "expected"),
    [
        pytest.param(None, None, id="none"),
        pytest.param({}, None, id="empty"),
        pytest.param(scalar("NUMBER"), "number", id="scalar-number"),
        pytest.param(scalar("DATETIME"), "datetime", id="scalar-datetime"),
        pytest.param(scalar("UNSPECIFIED"), "unspecified", id="scalar-unspecified"),
        pytest.param({"optional_type": {"inner": scalar("TEXT")}}, "optional<text>", id="optional"),
        pytest.param({"optional_type": {}}, "optional<unspecified>", id="optional-without-inner"),
        pytest.param({"list_type": {"inner": {"optional_type": {"inner": scalar("NUMBER")}}}},
                     "list<optional<number>>", id="nested-list-optional"),
        pytest.param({"sensitive_type": {"inner": scalar("TEXT")}}, "sensitive<text>", id="sensitive"),
        pytest.param({"union_type": {"inners": [scalar("TEXT"), scalar("NUMBER")]}}, "union<text, number>",
                     id="union"),
        pytest.param({"dictionary_type": {"fields": []}}, "dictionary", id="dictionary"),
        pytest.param({"dictionary_type": {"is_a": "invoice summary"}}, "dictionary:invoice summary",
                     id="dictionary-is-a"),
        pytest.param({"table_type": {"is_a": "line items", "columns": []}}, "table:line items", id="table-is-a"),
        pytest.param({"table_type": {}}, "table", id="table"),
        pytest.param({"opaque_type": {"is_a": "pdf"}}, "opaque:pdf", id="opaque"),
        pytest.param({"enum_type": {"is_a": "color", "members": [{"name": "red"}]}}, "enum:color", id="enum"),
        pytest.param({"any_type": {}}, "any", id="any"),
        pytest.param({"generic_dictionary_type": {"key_type": scalar("TEXT"), "value_type": scalar("NUMBER")}},
                     "dictionary<text, number>", id="generic-dictionary"),
        pytest.param({"future_type": {"x": 1}}, "future_type", id="unknown-kind"),
    ],
)
def test_value_type_name_when_kind(value_type: dict[str, Any] | None, expected: str | None) -> None:
    assert value_type_name(value_type) == expected
