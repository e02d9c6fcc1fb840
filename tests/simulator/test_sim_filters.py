"""The AIP-160 filters: List Runs' create_time at nanosecond precision, node_kind, and every rejection."""

from __future__ import annotations

import operator
from collections.abc import Callable
from datetime import timedelta, timezone

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from simulator_support import EPOCH, Api, ns_of

from kognitos_simulator import filters
from kognitos_simulator.errors import ApiError


def stamp_of(ns: int, digits: int = 9, offset_minutes: int = 0) -> str:
    """RFC 3339 text of `ns` (truncated to `digits` fractional digits) in a UTC offset."""
    zone = timezone(timedelta(minutes=offset_minutes))
    moment = (EPOCH + timedelta(seconds=ns // 10**9)).astimezone(zone)
    fraction = f".{ns % 10**9:09d}"[: digits + 1] if digits else ""
    suffix = "Z" if offset_minutes == 0 else moment.strftime("%z")[:3] + ":" + moment.strftime("%z")[3:]
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + fraction + suffix


def test_ns_of_agrees_with_stamp_of() -> None:
    value = 1_760_000_000_123_456_789
    for digits in range(10):
        for offset in (0, 330, -300):
            expected = value - value % 10 ** (9 - digits)
            assert ns_of(stamp_of(value, digits, offset)) == expected


def _runs(client: httpx.Client, path: str, filter_text: str) -> list[str]:
    response = client.get(path, params={"page_size": 1000, "filter": filter_text})
    assert response.status_code == 200, response.text
    return [run["name"] for run in response.json().get("runs", [])]


@pytest.fixture
def runs_path(api: Api) -> tuple[str, list[tuple[str, int]]]:
    """The showcase automation's runs path and every run as (name, create ns), newest first."""
    workspace_id, automation_id = api.showcase()
    runs = [(run["name"], ns_of(run["create_time"])) for run in api.world.runs(workspace_id, automation_id)]
    return f"{api.automation(workspace_id, automation_id)}/runs", runs


COMPARISONS: dict[str, Callable[[int, int], bool]] = {
    "=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}


@pytest.mark.parametrize("op", list(COMPARISONS))
def test_each_operator_compares_at_nanosecond_precision(client: httpx.Client,
                                                        runs_path: tuple[str, list[tuple[str, int]]], op: str) -> None:
    path, runs = runs_path
    nanosecond_run = next(ns for _, ns in runs if ns % 1000)  # a run created at nanosecond precision
    for literal in (nanosecond_run - 1, nanosecond_run, nanosecond_run + 1):
        expected = [name for name, ns in runs if COMPARISONS[op](ns, literal)]
        assert _runs(client, path, f'create_time {op} "{stamp_of(literal)}"') == expected


@pytest.mark.parametrize("digits", range(10))
@pytest.mark.parametrize("offset_minutes", [0, 330, -240])
def test_timestamp_literals_with_any_precision_and_offset(client: httpx.Client,
                                                          runs_path: tuple[str, list[tuple[str, int]]],
                                                          digits: int, offset_minutes: int) -> None:
    path, runs = runs_path
    middle = runs[len(runs) // 2][1]
    literal = stamp_of(middle, digits, offset_minutes)
    expected = [name for name, ns in runs if ns >= ns_of(literal)]
    assert _runs(client, path, f'create_time >= "{literal}"') == expected


def test_ties_match_an_equality_filter_together(client: httpx.Client, runs_path: tuple[str, list[tuple[str, int]]]
                                                ) -> None:
    path, runs = runs_path
    created = [ns for _, ns in runs]
    tied = next(ns for ns in created if created.count(ns) > 1)
    assert len(_runs(client, path, f'create_time = "{stamp_of(tied)}"')) == created.count(tied)


def test_boolean_combinations(client: httpx.Client, runs_path: tuple[str, list[tuple[str, int]]]) -> None:
    path, runs = runs_path
    created = sorted({ns for _, ns in runs})
    a, b, c = (stamp_of(created[len(created) * k // 4]) for k in (1, 2, 3))
    a_ns, b_ns, c_ns = (ns_of(x) for x in (a, b, c))
    cases: dict[str, Callable[[int], bool]] = {
        f'create_time >= "{a}" AND create_time < "{c}"': lambda t: a_ns <= t < c_ns,
        f'create_time < "{a}" OR create_time >= "{c}"': lambda t: t < a_ns or t >= c_ns,
        f'NOT create_time < "{b}"': lambda t: t >= b_ns,
        f'-create_time < "{b}"': lambda t: t >= b_ns,
        f'-(create_time < "{a}" OR create_time > "{c}")': lambda t: a_ns <= t <= c_ns,
        f'(create_time >= "{a}" AND create_time <= "{b}") OR create_time >= "{c}"':
            lambda t: a_ns <= t <= b_ns or t >= c_ns,
        # AIP-160 precedence: OR binds tighter than AND.
        f'create_time >= "{b}" AND create_time < "{a}" OR create_time >= "{c}"':
            lambda t: t >= b_ns and (t < a_ns or t >= c_ns),
        # A sequence of restrictions is an AND.
        f'create_time >= "{a}" create_time < "{b}"': lambda t: a_ns <= t < b_ns,
        f'NOT (create_time >= "{a}" AND NOT create_time >= "{b}")': lambda t: not (a_ns <= t < b_ns),
    }
    for filter_text, keep in cases.items():
        assert _runs(client, path, filter_text) == [name for name, ns in runs if keep(ns)], filter_text


def test_an_empty_result_is_an_empty_object(client: httpx.Client, runs_path: tuple[str, list[tuple[str, int]]]
                                            ) -> None:
    response = client.get(runs_path[0], params={"filter": 'create_time < "1999-01-01T00:00:00Z"'})
    assert response.json() == {}


@pytest.mark.parametrize(("filter_text", "message"), [
    ('update_time >= "2024-01-01T00:00:00Z"', 'unsupported field "update_time"'),
    ('state = "completed"', 'unsupported field "state"'),
    ('create_time >= "2024-13-01T00:00:00Z"', "bad create_time value"),
    ('create_time >= "2024-01-01"', "not an RFC 3339 timestamp"),
    ('create_time >= "2024-01-01T00:00:00"', "not an RFC 3339 timestamp"),
    ('create_time >= "2024-01-01T00:00:00.1234567890Z"', "not an RFC 3339 timestamp"),
    ('create_time >= "2024-02-30T00:00:00Z"', "not a valid date"),
    ('create_time >= "yesterday"', "not an RFC 3339 timestamp"),
    ("create_time >= 2024", "must be quoted"),
    ('create_time : "2024-01-01T00:00:00Z"', 'operator ":" is not supported'),
    ('(create_time >= "2024-01-01T00:00:00Z"', "unbalanced parentheses"),
    ('create_time >= "2024-01-01T00:00:00Z")', "unexpected ')'"),
    ('create_time >= "2024-01-01T00:00:00Z" AND', "ended"),
    ('create_time >= "2024-01-01T00:00:00Z" and create_time < "2025-01-01T00:00:00Z"', "bare value 'and'"),
    ('create_time >=', "ended"),
    ('create_time >= "2024-01-01T00:00:00Z', "unterminated string"),
    ("()", "empty parentheses"),
    ('- create_time >= "2024-01-01T00:00:00Z"', "followed directly"),
    ('timestamp(create_time) > "2024-01-01T00:00:00Z"', "functions are not supported"),
    ('create_time ! "2024-01-01T00:00:00Z"', "unexpected character"),
])
def test_bad_filters_are_invalid_argument_with_a_reason(client: httpx.Client,
                                                        runs_path: tuple[str, list[tuple[str, int]]],
                                                        filter_text: str, message: str) -> None:
    response = client.get(runs_path[0], params={"filter": filter_text})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == 3 and message in body["message"], body["message"]
    assert body["details"][0]["@type"] == "type.googleapis.com/google.rpc.BadRequest"
    assert body["details"][0]["field_violations"][0]["field"] == "filter"


def test_node_kind_filter_returns_only_matching_journal_events(client: httpx.Client, api: Api) -> None:
    workspace_id, automation_id = api.showcase()
    run_id = next(run_id for run_id in reversed(api.run_ids(workspace_id, automation_id))
                  if 20 < len(api.world.run_events(workspace_id, automation_id, run_id)) < 100)
    path = f"{api.run(workspace_id, automation_id, run_id)}/events"
    for kind in ("FunctionCall", "Assignment", "ForLoop", "NoSuchKind"):
        events = client.get(path, params={"filter": f'node_kind = "{kind}"', "page_size": 1000}).json().get(
            "run_events", [])
        assert all("execution_journal" in event for event in events)
        kinds = {next(value["node_kind"] for value in event["execution_journal"].values()
                      if isinstance(value, dict) and "node_kind" in value) for event in events}
        assert kinds == ({kind} if kind != "NoSuchKind" else set())
    for bad in ('node_type = "FunctionCall"', "node_kind = FunctionCall", 'node_kind > "A"'):
        assert client.get(path, params={"filter": bad}).status_code == 400, bad


# The filter compiler against a brute-force evaluation, on random expressions (no HTTP).

_INSTANTS = [1_700_000_000_000_000_000 + delta for delta in (-2, -1, 0, 1, 2, 10**9, 10**9 + 1)]
_LITERALS = st.sampled_from(_INSTANTS)
_OPS = st.sampled_from(list(COMPARISONS))


def _leaf(op: str, literal: int) -> tuple[str, Callable[[int], bool]]:
    return f'create_time {op} "{stamp_of(literal)}"', lambda t: COMPARISONS[op](t, literal)


_expressions = st.recursive(
    st.builds(_leaf, _OPS, _LITERALS),
    lambda inner: st.one_of(
        st.builds(lambda a, b: (f"({a[0]} AND {b[0]})", lambda t: a[1](t) and b[1](t)), inner, inner),
        st.builds(lambda a, b: (f"({a[0]} OR {b[0]})", lambda t: a[1](t) or b[1](t)), inner, inner),
        st.builds(lambda a: (f"NOT ({a[0]})", lambda t: not a[1](t)), inner),
        st.builds(lambda a: (f"-({a[0]})", lambda t: not a[1](t)), inner),
    ),
    max_leaves=8,
)


@settings(max_examples=80, deadline=None)
@given(_expressions)
def test_run_filter_matches_brute_force_evaluation(expression: tuple[str, Callable[[int], bool]]) -> None:
    text, keep = expression
    matching = filters.run_filter(text)
    assert matching is not None
    for instant in _INSTANTS + [_INSTANTS[0] - 10**12, _INSTANTS[-1] + 10**12]:
        assert (instant in matching) == keep(instant), (text, instant)


def test_daily_aggregate_filter_accepts_only_equalities_joined_by_or() -> None:
    assert filters.automation_id_filter('automation_id = "a" OR (automation_id = "b" OR automation_id = "c")') == {
        "a", "b", "c"}
    for bad in ('automation_id = "a" AND automation_id = "b"', 'automation_id != "a"', 'NOT automation_id = "a"',
                'workspace_id = "a"'):
        with pytest.raises(ApiError):
            filters.automation_id_filter(bad)



# The exceptions' filter against a brute-force evaluation: every field, bare and quoted values, any structure.

_EXCEPTION_FACTS = [
    filters.ExceptionFacts(state, automation, run, group, instant)
    for state, automation, run, group, instant in zip(
        ["PENDING", "RESOLVED", "ARCHIVED", "PENDING", "RESOLVED", "ARCHIVED", "RESOLVED"],
        ["a1", "a2", "a1", "a2", "a1", "a2", "a1"],
        ["r1", "r2", "r3", "r1", "r2", "r3", "r4"],
        ["missing_values", "", "internal_error", "", "user_system_error", "missing_values", ""],
        _INSTANTS, strict=True)
]


def _equality_leaf(field: str, op: str, value: str, form: str) -> tuple[str, Callable[[filters.ExceptionFacts], bool]]:
    literal = {"bare": value, "quoted": f'"{value}"', "prefixed": f"EXCEPTION_STATE_{value}"}[form]
    return f"{field} {op} {literal}", lambda facts: (getattr(facts, field) == value) == (op == "=")


def _time_leaf(op: str, literal: int) -> tuple[str, Callable[[filters.ExceptionFacts], bool]]:
    return f'create_time {op} "{stamp_of(literal)}"', lambda facts: COMPARISONS[op](facts.create_ns, literal)


_EQ = st.sampled_from(["=", "!="])
_exception_leaves = st.one_of(
    st.builds(_equality_leaf, st.just("state"), _EQ, st.sampled_from(["PENDING", "RESOLVED", "ARCHIVED"]),
              st.sampled_from(["bare", "quoted", "prefixed"])),
    st.builds(_equality_leaf, st.just("automation"), _EQ, st.sampled_from(["a1", "a2", "a3"]),
              st.sampled_from(["bare", "quoted"])),
    st.builds(_equality_leaf, st.just("run"), _EQ, st.sampled_from(["r1", "r2", "r4", "r9"]),
              st.sampled_from(["bare", "quoted"])),
    st.builds(_equality_leaf, st.just("group"), _EQ, st.sampled_from(["missing_values", "internal_error"]),
              st.sampled_from(["bare", "quoted"])),
    st.builds(_equality_leaf, st.just("group"), _EQ, st.just(""), st.just("quoted")),
    st.builds(_time_leaf, _OPS, _LITERALS),
)
_exception_expressions = st.recursive(
    _exception_leaves,
    lambda inner: st.one_of(
        st.builds(lambda a, b: (f"({a[0]} AND {b[0]})", lambda f: a[1](f) and b[1](f)), inner, inner),
        st.builds(lambda a, b: (f"({a[0]} OR {b[0]})", lambda f: a[1](f) or b[1](f)), inner, inner),
        st.builds(lambda a: (f"NOT ({a[0]})", lambda f: not a[1](f)), inner),
    ),
    max_leaves=6,
)


@settings(max_examples=80, deadline=None)
@given(_exception_expressions)
def test_exception_filter_matches_brute_force_evaluation(
        expression: tuple[str, Callable[[filters.ExceptionFacts], bool]]) -> None:
    text, keep = expression
    matches = filters.exception_filter(text)
    assert matches is not None
    for facts in _EXCEPTION_FACTS:
        assert matches(facts) == keep(facts), (text, facts)
