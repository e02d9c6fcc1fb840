"""AIP-160 filter builders (kognitos_elt.kognitos.filters)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kognitos_elt.kognitos.filters import automation_id_in, created_at_or_after, exception_runs_in, quote


def unquote(literal: str) -> str:
    """The test's own reader for one AIP-160 double-quoted literal; fails on anything unescaped."""
    assert literal[0] == literal[-1] == '"' and len(literal) >= 2
    chars, body, index = [], literal[1:-1], 0
    while index < len(body):
        char = body[index]
        assert char != '"', f"unescaped quote in {literal!r}"
        if char == "\\":
            index += 1
            assert body[index] in '\\"', f"unknown escape in {literal!r}"
            char = body[index]
        chars.append(char)
        index += 1
    return "".join(chars)


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        pytest.param("", '""', id="empty"),
        pytest.param("FunctionCall", '"FunctionCall"', id="plain"),
        pytest.param('say "hi"', r'"say \"hi\""', id="double-quotes"),
        pytest.param("C:\\dir", r'"C:\\dir"', id="backslash"),
        pytest.param('\\"', r'"\\\""', id="backslash-then-quote"),
        pytest.param("a OR b = 'c'", "\"a OR b = 'c'\"", id="operators-and-single-quotes-inert"),
    ],
)
def test_quote_when_value(value: str, literal: str) -> None:
    assert quote(value) == literal


@settings(max_examples=300)
@given(st.text())
def test_quote_parses_back(value: str) -> None:
    assert unquote(quote(value)) == value


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        pytest.param("2024-01-01T00:00:00.123456789Z", 'create_time >= "2024-01-01T00:00:00.123456789Z"',
                     id="key-unchanged"),
        pytest.param("2024-01-01T00:00:00Z", 'create_time >= "2024-01-01T00:00:00.000000000Z"', id="padded"),
        pytest.param("2024-01-01T02:00:00.5+02:00", 'create_time >= "2024-01-01T00:00:00.500000000Z"',
                     id="offset-to-utc"),
    ],
)
def test_created_at_or_after_when_timestamp(timestamp: str, expected: str) -> None:
    assert created_at_or_after(timestamp) == expected


def test_created_at_or_after_raises_when_not_rfc3339() -> None:
    with pytest.raises(ValueError, match="RFC 3339"):
        created_at_or_after('2024-01-01" OR create_time >= "1970-01-01T00:00:00Z')


@pytest.mark.parametrize(
    ("automation_ids", "expected"),
    [
        pytest.param([], None, id="empty-means-whole-workspace"),
        pytest.param(["789"], 'automation_id = "789"', id="one"),
        pytest.param(["789", "790"], 'automation_id = "789" OR automation_id = "790"', id="documented-example"),
        pytest.param(["V1StGXR8_Z5jdHi6B-myT", "789", "V1StGXR8_Z5jdHi6B-myT"],
                     'automation_id = "V1StGXR8_Z5jdHi6B-myT" OR automation_id = "789"', id="order-kept-deduplicated"),
    ],
)
def test_automation_id_in_when_ids(automation_ids: Sequence[str], expected: str | None) -> None:
    assert automation_id_in(automation_ids) == expected


def test_exception_runs_in_quotes_each_run_so_no_id_can_change_the_expression() -> None:
    assert exception_runs_in(["r1", 'r" OR state = RESOLVED', "r1"]) == (
        'run = "r1" OR run = "r\\" OR state = RESOLVED"')
    assert exception_runs_in([]) is None


@pytest.mark.parametrize("builder", [automation_id_in, exception_runs_in])
def test_builders_raise_when_given_a_bare_string(builder: Callable[[Sequence[str]], str | None]) -> None:
    with pytest.raises(TypeError, match="single string"):
        builder("FunctionCall")
