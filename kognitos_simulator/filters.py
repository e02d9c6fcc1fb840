"""What each endpoint's `filter` may say, and what it means.

Every filter is parsed by aip160.py and then checked against the fields, operators and value forms
the reference documents for that endpoint; anything else is INVALID_ARGUMENT with a message that says
what was wrong. The List Runs filter compiles to a set of nanosecond intervals, so the world answers
it with binary searches over sorted create times, exactly, for any mix of AND, OR, NOT and `-`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from kognitos_simulator import aip160, timestamps
from kognitos_simulator.aip160 import And, Bare, Node, Not, Or, Restriction
from kognitos_simulator.errors import invalid_argument

# Beyond any instant a filter can name (year 1 to 9999).
_NEG_INF = -(1 << 80)
_POS_INF = 1 << 80


@dataclass(frozen=True)
class IntervalSet:
    """A union of disjoint, sorted, half-open integer intervals [low, high)."""

    intervals: tuple[tuple[int, int], ...]

    @staticmethod
    def everything() -> IntervalSet:
        return IntervalSet(((_NEG_INF, _POS_INF),))

    @staticmethod
    def of(low: int, high: int) -> IntervalSet:
        return IntervalSet(((low, high),) if low < high else ())

    def complement(self) -> IntervalSet:
        result, cursor = [], _NEG_INF
        for low, high in self.intervals:
            if cursor < low:
                result.append((cursor, low))
            cursor = high
        if cursor < _POS_INF:
            result.append((cursor, _POS_INF))
        return IntervalSet(tuple(result))

    def intersect(self, other: IntervalSet) -> IntervalSet:
        result, mine, theirs = [], list(self.intervals), list(other.intervals)
        i = j = 0
        while i < len(mine) and j < len(theirs):
            low, high = max(mine[i][0], theirs[j][0]), min(mine[i][1], theirs[j][1])
            if low < high:
                result.append((low, high))
            if mine[i][1] < theirs[j][1]:
                i += 1
            else:
                j += 1
        return IntervalSet(tuple(result))

    def union(self, other: IntervalSet) -> IntervalSet:
        return self.complement().intersect(other.complement()).complement()

    def __contains__(self, value: int) -> bool:
        return any(low <= value < high for low, high in self.intervals)


def _parse(source: str) -> Node | None:
    try:
        return aip160.parse(source)
    except aip160.FilterSyntaxError as error:
        raise invalid_argument("filter", str(error)) from None


def _restrictions(node: Node) -> Iterable[Restriction | aip160.Bare]:
    if isinstance(node, Restriction | Bare):
        yield node
    elif isinstance(node, Not):
        yield from _restrictions(node.item)
    else:
        for item in node.items:
            yield from _restrictions(item)


def _check(node: Node, operators: Mapping[str, tuple[str, ...]], value_hint: str, *,
           bare_literals: bool = False) -> None:
    """Reject unknown fields, unsupported operators, bare values and (unless `bare_literals`) unquoted literals."""
    for restriction in _restrictions(node):
        if isinstance(restriction, Bare):
            raise invalid_argument(
                "filter", f"bare value {restriction.value.text!r} is not supported; use {value_hint}"
            )
        allowed = operators.get(restriction.field)
        if allowed is None:
            supported = " and ".join(operators)
            raise invalid_argument(
                "filter", f'unsupported field "{restriction.field}"; only {supported} is supported'
            )
        if restriction.op not in allowed:
            raise invalid_argument(
                "filter",
                f'operator "{restriction.op}" is not supported for {restriction.field}; '
                f"use one of {' '.join(allowed)}",
            )
        if not restriction.value.quoted and not bare_literals:
            raise invalid_argument(
                "filter", f"{restriction.field} values must be quoted strings, e.g. {value_hint}"
            )


def _evaluate(node: Node, test: Callable[[Restriction], bool]) -> bool:
    if isinstance(node, Restriction):
        return test(node)
    if isinstance(node, Not):
        return not _evaluate(node.item, test)
    if isinstance(node, And):
        return all(_evaluate(item, test) for item in node.items)
    if isinstance(node, Or):
        return any(_evaluate(item, test) for item in node.items)
    raise AssertionError(f"unchecked node {node!r}")


_TIME_OPERATORS = ("=", "!=", "<", ">", "<=", ">=")


def run_filter(source: str) -> IntervalSet | None:
    """List Runs: `create_time` compared with quoted RFC 3339 timestamps, any boolean structure.

    Returns the set of create times (ns) that match, or None when there is no filter.
    """
    node = _parse(source)
    if node is None:
        return None
    _check(node, {"create_time": _TIME_OPERATORS}, 'create_time >= "2024-01-01T00:00:00Z"')
    return _intervals(node)


def _instant(restriction: Restriction) -> int:
    try:
        return timestamps.parse(restriction.value.text)
    except ValueError as error:
        raise invalid_argument("filter", f"bad create_time value: {error}") from None


def _intervals(node: Node) -> IntervalSet:
    if isinstance(node, Restriction):
        instant = _instant(node)
        return {
            "=": IntervalSet.of(instant, instant + 1),
            "!=": IntervalSet.of(instant, instant + 1).complement(),
            "<": IntervalSet.of(_NEG_INF, instant),
            "<=": IntervalSet.of(_NEG_INF, instant + 1),
            ">": IntervalSet.of(instant + 1, _POS_INF),
            ">=": IntervalSet.of(instant, _POS_INF),
        }[node.op]
    if isinstance(node, Not):
        return _intervals(node.item).complement()
    if isinstance(node, Bare):
        raise AssertionError("bare values are rejected by _check")
    result = _intervals(node.items[0])
    for item in node.items[1:]:
        other = _intervals(item)
        result = result.intersect(other) if isinstance(node, And) else result.union(other)
    return result


def node_kind_filter(source: str) -> Callable[[str], bool] | None:
    """List Run Events: `node_kind = "FunctionCall"` (also != and boolean combinations).

    The predicate is applied to the node_kind of execution-journal node events; other events never
    match a filter.
    """
    node = _parse(source)
    if node is None:
        return None
    _check(node, {"node_kind": ("=", "!=")}, 'node_kind = "FunctionCall"')

    def matches(kind: str) -> bool:
        return _evaluate(node, lambda r: (kind == r.value.text) == (r.op == "="))

    return matches


def automation_id_filter(source: str) -> frozenset[str] | None:
    """Query Daily Run Aggregates: `automation_id = "x"` joined by OR only, as documented."""
    node = _parse(source)
    if node is None:
        return None
    _check(node, {"automation_id": ("=",)}, 'automation_id = "V1StGXR8_Z5jdHi6B-myT"')
    ids: set[str] = set()
    pending = [node]
    while pending:
        item = pending.pop()
        if isinstance(item, Or):
            pending.extend(item.items)
        elif isinstance(item, Restriction):
            ids.add(item.value.text)
        else:
            raise invalid_argument("filter", "only = comparisons joined by OR are supported for automation_id")
    return frozenset(ids)


def title_filter(source: str) -> Callable[[str], bool] | None:
    """Organizations and workspaces: `title = "x"` (exact) or `title : "x"` (case-insensitive contains)."""
    node = _parse(source)
    if node is None:
        return None
    _check(node, {"title": ("=", ":")}, 'title = "Finance"')

    def matches(title: str) -> bool:
        def test(restriction: Restriction) -> bool:
            if restriction.op == "=":
                return title == restriction.value.text
            return restriction.value.text.casefold() in title.casefold()

        return _evaluate(node, test)

    return matches


_AUTOMATION_STATES = ("DRAFT", "PUBLISHED")


def automation_state_filter(source: str) -> Callable[[bool], bool] | None:
    """List Automations: `state = "PUBLISHED"` or `state = "DRAFT"`; the predicate takes `published`."""
    node = _parse(source)
    if node is None:
        return None
    _check(node, {"state": ("=", "!=")}, 'state = "PUBLISHED"')
    for restriction in _restrictions(node):
        value = restriction.value.text
        if value.removeprefix("AUTOMATION_STAGE_") not in _AUTOMATION_STATES:
            raise invalid_argument("filter", f'unknown automation state "{value}"; use DRAFT or PUBLISHED')

    def matches(published: bool) -> bool:
        def test(restriction: Restriction) -> bool:
            wanted = restriction.value.text.removeprefix("AUTOMATION_STAGE_") == "PUBLISHED"
            return (published == wanted) == (restriction.op == "=")

        return _evaluate(node, test)

    return matches


@dataclass(frozen=True)
class ExceptionFacts:
    """What the List Exceptions filter can see of an exception: short state (PENDING), automation and run ids,
    group short name ("" when ungrouped) and create time in ns."""

    state: str
    automation: str
    run: str
    group: str
    create_ns: int


_EXCEPTION_STATES = ("PENDING", "RESOLVED", "ARCHIVED")
_EQUALITY = ("=", "!=")
_EXCEPTION_OPERATORS = {"state": _EQUALITY, "automation": _EQUALITY, "create_time": _TIME_OPERATORS,
                        "group": _EQUALITY, "run": _EQUALITY}
_ORDER: dict[str, Callable[[int, int], bool]] = {
    "=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}


def _exception_values(restriction: Restriction) -> frozenset[str] | int:
    """The values a restriction compares with: short states, ids, group names, or an instant (create_time)."""
    field, text = restriction.field, restriction.value.text
    if field == "create_time":
        return _instant(restriction)
    if field == "state":
        state = text.removeprefix("EXCEPTION_STATE_")
        if state not in _EXCEPTION_STATES:
            raise invalid_argument("filter", f'unknown exception state "{text}"; use PENDING, RESOLVED or ARCHIVED '
                                             "(or EXCEPTION_STATE_PENDING, ...)")
        return frozenset((state,))
    if field == "run":  # documented: run = "run1_id OR run2_id" matches either run
        return frozenset(part.strip() for part in text.split(" OR "))
    return frozenset((text,))


def exception_filter(source: str) -> Callable[[ExceptionFacts], bool] | None:
    """List Exceptions and its counts: `state`, `automation`, `run`, `group` (= and !=) and `create_time` (any
    comparison), values bare or quoted, any boolean structure. Ids and group names match exactly (short forms)."""
    node = _parse(source)
    if node is None:
        return None
    _check(node, _EXCEPTION_OPERATORS, 'state = PENDING AND create_time >= "2025-01-01T00:00:00Z"',
           bare_literals=True)
    values = {restriction: _exception_values(restriction) for restriction in _restrictions(node)
              if isinstance(restriction, Restriction)}

    def matches(facts: ExceptionFacts) -> bool:
        def test(restriction: Restriction) -> bool:
            wanted = values[restriction]
            if isinstance(wanted, int):
                return _ORDER[restriction.op](facts.create_ns, wanted)
            return (getattr(facts, restriction.field) in wanted) == (restriction.op == "=")

        return _evaluate(node, test)

    return matches
