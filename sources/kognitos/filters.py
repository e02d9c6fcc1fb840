"""AIP-160 `filter` expressions for the endpoints that accept one (kognitos-api.md §1.6, §3.2, §3.6, §3.8; List
Exceptions in the reference's exceptions document).

Builders return the bare expression; the HTTP client URL-encodes it. Values are always quoted, so
an id or kind can never change the expression's structure.
"""

from __future__ import annotations

from collections.abc import Sequence

from .timestamps import format_filter_timestamp, timestamp_key


def quote(value: str) -> str:
    """`value` as an AIP-160 double-quoted string literal, backslash and double quote escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def created_at_or_after(timestamp: str) -> str:
    """ListRuns: runs created at or after `timestamp` (any RFC 3339), at nanosecond precision.

    `>=` rather than `>`: the caller de-duplicates by run id, and a run sharing the cursor's
    instant must not be lost (kognitos-api.md §6, item 2).
    """
    return f"create_time >= {quote(format_filter_timestamp(timestamp_key(timestamp)))}"


NOT_RESOLVED = "state != RESOLVED"
"""ListExceptions: every exception not resolved, the reference's own example (a state it does not name yet
included)."""


def exception_runs_in(run_ids: Sequence[str]) -> str | None:
    """ListExceptions: the exceptions of these runs (short ids), `run = "a" OR run = "b"` as the reference shows."""
    return _any_equal("run", run_ids)


def automation_id_in(automation_ids: Sequence[str]) -> str | None:
    """QueryDailyRunAggregates: only these automations; None (whole workspace) if empty.

    This is the documented form (`=` joined by `OR`, no parentheses: the endpoint supports
    only `=` and `OR`).
    """
    return _any_equal("automation_id", automation_ids)


def _any_equal(field: str, values: Sequence[str]) -> str | None:
    if isinstance(values, str):
        raise TypeError(f"{field}: expected a sequence of strings, got the single string {values!r}")
    unique = dict.fromkeys(values)
    return " OR ".join(f"{field} = {quote(value)}" for value in unique) or None
