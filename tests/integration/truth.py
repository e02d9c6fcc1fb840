"""The simulator's truth and the warehouse's content, in the same shapes, for exact comparisons."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from kognitos_simulator import World

from .conftest import Query


def instant(value: str) -> datetime:
    """An RFC 3339 string as the warehouse stores it: a tz-aware datetime truncated to microseconds.

    Written here on purpose rather than borrowed from the source, so the test checks the source's parsing.
    """
    head, _, tail = value.replace("z", "Z").partition(".")
    if tail:
        digits = "".join(ch for ch in tail if ch.isdigit())
        zone = tail[len(digits):]
        value = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def state_key(run: dict[str, Any]) -> str:
    return next(key for key in run["state"] if key != "update_time")


def truth_runs(world: World) -> dict[tuple[str, str, str], tuple[str, datetime]]:
    """Every run the simulator holds now, deleted automations' included: key -> (state, update_time)."""
    truth = {}
    for workspace in world.workspaces():
        ws = workspace["name"].rsplit("/", 1)[-1]
        for automation in world.automations(ws, show_deleted=True):
            auto = automation["name"].rsplit("/", 1)[-1]
            for run in world.runs(ws, auto):
                truth[(ws, auto, run["name"].rsplit("/", 1)[-1])] = (state_key(run), instant(run["update_time"]))
    return truth


def loaded_runs(query: Query) -> dict[tuple[str, str, str], tuple[str, datetime]]:
    rows = query("SELECT workspace_id, automation_id, run_id, state, update_time FROM kognitos.runs")
    loaded = {(ws, auto, run): (state, updated) for ws, auto, run, state, updated in rows}
    assert len(loaded) == len(rows), "a run was loaded twice"
    return loaded


def short(name: str) -> str:
    return name.rsplit("/", 1)[-1]


JOURNAL_VARIANTS = ("started", "completed", "stopped", "failed", "node_started", "node_executed", "node_skipped",
                    "node_patched", "patched_node_started", "patched_node_executed")
"""The oneof of `v1ExecutionJournal` as the API document lists it: an entry's one key among these is its kind, every
other key is common to all kinds (ids, time, the started entry's metadata)."""

VALUE_MAPS = ("inputs", "outputs", "inputs_patch")
"""The fields of the journal variants the API document types `map<string, commonV1Value>` (node I/O, execution
outputs, a patch's inputs); `book_function_call` holds `inputs` (a map) and `output` (one value)."""


def describe(event: dict[str, Any]) -> tuple[str, str | None]:
    """(event_type, journal_type) of an API event, worked out independently of the source's records.py."""
    if "run_update" in event:
        return "run_update", None
    journal = event["execution_journal"]
    return "execution_journal", next(key for key in journal if key in JOURNAL_VARIANTS)


class Event(NamedTuple):
    """A `run_events` row beside its key, as README ("What gets loaded") describes each column."""

    event_type: str
    journal_type: str | None
    node_kind: str | None
    event_time: datetime
    node_id: str | None
    execution_id: str | None
    payload: Any
    run_state: str | None
    stop_reason: str | None
    error_id: str | None
    error_description: str | None


def rendered(event: dict[str, Any]) -> Event:
    """An API event as its `run_events` row, rendered from the API document's shapes (not through records.py)."""
    event_type, journal_type = describe(event)
    if journal_type is None:
        run = event["run_update"]["run"]
        state = state_key(run)
        failure = run["state"][state] if state == "failed" else {}
        return Event(event_type, None, None, instant(run["state"]["update_time"]), None, None, None, state, None,
                     failure.get("id"), failure.get("description"))
    journal = event["execution_journal"]
    body = journal[journal_type]
    # v1ExecutionFailed.error is one v1ExecutionError; v1NodeExecuted.error a list of them: the first counts.
    errors = body.get("error")
    error = (errors[0] if errors else {}) if isinstance(errors, list) else errors or {}
    return Event(event_type, journal_type, body.get("node_kind"), instant(journal["event_time"]), body.get("node_id"),
                 journal["execution_id"], decoded_body(body), None,
                 next(iter(body)) if journal_type == "stopped" else None, error.get("id"), error.get("description"))


def decoded_body(body: dict[str, Any]) -> dict[str, Any] | None:
    """A journal variant's body with its values decoded, the rest as sent; an empty body (`started`) is NULL."""
    payload = {key: decoded_map(value) if key in VALUE_MAPS else value for key, value in body.items()}
    if call := body.get("book_function_call"):
        payload["book_function_call"] = {**call, "inputs": decoded_map(call.get("inputs")),
                                         "output": decoded(call.get("output"))}
    return payload or None


def decoded_map(values: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if values is None else {name: decoded(value) for name, value in values.items()}


def decoded(value: dict[str, Any] | None) -> Any:
    """A `commonV1Value` as plain JSON, as README ("What gets loaded") says: numbers as strings of the exact decimal,
    dates and times ISO, tables as {"table_inline_arrow_base64": ...}. Only the forms the simulator sends."""
    if value is None:
        return None
    ((kind, raw),) = value.items()
    if kind == "number":
        return exact_decimal(raw)
    if kind == "date":
        return f"{raw.get('year', 0):04d}-{raw.get('month', 0):02d}-{raw.get('day', 0):02d}"
    if kind == "timeofday":
        return time_of_day(raw)
    if kind == "datetime":
        civil = (raw["year"], raw["month"], raw["day"], raw.get("hours", 0), raw.get("minutes", 0),
                 raw.get("seconds", 0))
        if "utc_offset" in raw:
            offset = timezone(timedelta(seconds=int(raw["utc_offset"].removesuffix("s"))))
            return datetime(*civil, tzinfo=offset).isoformat()
        zone_id = raw["time_zone"]["id"]
        return f"{datetime(*civil, tzinfo=ZoneInfo(zone_id)).isoformat()}[{zone_id}]"
    if kind in ("list", "set"):
        return [decoded(item) for item in raw.get("items", [])]
    if kind == "dictionary":
        return {decoded(entry["key"]): decoded(entry["value"]) for entry in raw.get("entries", [])}
    if kind == "file":
        inline = raw.get("inline")
        return {"remote": raw["remote"]} if inline is None else {"file_name": inline["file_name"],
                                                                 "content_base64": inline["content"]}
    if kind == "table":
        return {"table_inline_arrow_base64": raw["inline"]["data"]}
    if kind == "time_zone":
        return raw["id"]
    return None if kind == "null_value" else raw  # text, bool_value and duration as sent


def exact_decimal(number: dict[str, Any]) -> str:
    """A v1Number (96-bit mantissa in lo/mid/hi, scale in bits 16-23 and sign in bit 31 of flags) as decimal text."""
    flags = number.get("flags", 0)
    mantissa = number.get("lo", 0) + (number.get("mid", 0) << 32) + (number.get("hi", 0) << 64)
    scale = (flags >> 16) & 0xFF
    digits = str(mantissa).rjust(scale + 1, "0")
    text = f"{digits[:-scale]}.{digits[-scale:]}" if scale else digits
    return f"-{text}" if flags & 0x80000000 else text


def time_of_day(raw: dict[str, Any]) -> str:
    text = f"{raw.get('hours', 0):02d}:{raw.get('minutes', 0):02d}:{raw.get('seconds', 0):02d}"
    return f"{text}.{raw['nanos']:09d}" if raw.get("nanos") else text


def live_runs(world: World) -> list[tuple[str, str, str]]:
    return [(short(w["name"]), short(a["name"]), short(r["name"]))
            for w in world.workspaces() for a in world.automations(short(w["name"]), show_deleted=True)
            for r in world.runs(short(w["name"]), short(a["name"]))]


EventKey = tuple[str, str, str, int]


def truth_events(world: World, node_kinds: tuple[str, ...] = ()) -> dict[EventKey, Event]:
    """Every run's events, numbered in its stream; with `node_kinds`, node events of other kinds are left out (and
    not numbered) while events without a node stay (README, `run_events`)."""
    truth = {}
    for ws, auto, run in live_runs(world):
        events = [rendered(event) for event in world.run_events(ws, auto, run)]
        kept = [event for event in events if not node_kinds or event.node_kind in (None, *node_kinds)]
        truth.update({(ws, auto, run, index): event for index, event in enumerate(kept)})
    return truth


EVENT_COLUMNS = ", ".join(Event._fields)


def loaded_events(query: Query) -> dict[EventKey, Event]:
    rows = query(f"SELECT workspace_id, automation_id, run_id, event_index, {EVENT_COLUMNS} FROM kognitos.run_events")
    payload = Event._fields.index("payload")
    loaded = {}
    for ws, auto, run, index, *columns in rows:
        if isinstance(columns[payload], str):  # DuckDB's JSON as text (PostgreSQL's jsonb arrives decoded)
            columns[payload] = json.loads(columns[payload])
        loaded[(ws, auto, run, index)] = Event._make(columns)
    assert len(loaded) == len(rows), "an event was loaded twice"
    return loaded


HISTORY_DAYS = 365  # the documented default of a first load without start_date


def truth_days(world: World, zone: str, automation_ids: tuple[str, ...] = ()) -> dict[tuple[str, date], int]:
    """(workspace, day) -> runs created that local day, zeros included, over the first load's window."""
    end = world.now.astimezone(ZoneInfo(zone)).date()
    start = end - timedelta(days=HISTORY_DAYS)
    truth = {}
    for workspace in world.workspaces():
        ws = short(workspace["name"])
        counts = {date.fromisoformat(entry["date"]): entry["stats"]["total_runs"]
                  for entry in world.daily_run_aggregates(ws, zone, start, end, automation_ids)}
        for offset in range((end - start).days + 1):
            day = start + timedelta(days=offset)
            truth[(ws, day)] = counts.get(day, 0)
    return truth


def truth_outputs(world: World) -> set[tuple[str, str, str]]:
    """(workspace, execution, output name) of every completed execution's outputs."""
    return set(truth_output_values(world))


def truth_output_values(world: World) -> dict[tuple[str, str, str], Any]:
    """(workspace, execution, output name) -> the value Get Execution Outputs gives, decoded, of every completed
    execution."""
    expected = {}
    for ws, auto, run in live_runs(world):
        for event in world.run_events(ws, auto, run):
            journal = event.get("execution_journal") or {}
            if "completed" in journal:
                outputs = world.execution_outputs(ws, journal["execution_id"])["outputs"]
                expected.update({(ws, journal["execution_id"], name): decoded(output["value"])
                                 for name, output in outputs.items()})
    return expected


EXCEPTION_COLUMNS = ("automation_id, run_id, execution_id, state, message, description, exception_group, assignee, "
                     "resolver, resolved_by_agent, resolution_guide_entry, stage, location_start_byte, "
                     "location_end_byte, create_time, update_time, extra, extra_fields")
"""The `exceptions` columns compared with the truth, after the key (`workspace_id, exception_id`)."""


def exception_truth(exception: dict[str, Any]) -> tuple[Any, ...]:
    """An API exception as the README says it loads (EXCEPTION_COLUMNS), worked out here, not by records.py."""
    resolver = exception.get("resolver")
    location = exception["location"]
    return (short(exception["automation"]), short(exception["run"]), exception.get("execution_id"),
            exception["state"].split("EXCEPTION_STATE_")[1].lower(), exception["message"],
            exception.get("description"), short(exception["group"]) if exception.get("group") else None,
            exception.get("assignee"), resolver, resolver.split("/")[0] == "agents" if resolver else None,
            exception.get("resolution_guide_entry"), exception.get("stage"),
            int(location["start_byte"]) if "start_byte" in location else None,
            int(location["end_byte"]) if "end_byte" in location else None,
            instant(exception["create_time"]), instant(exception["update_time"]), exception.get("extra"), None)


def truth_exceptions(world: World) -> dict[tuple[str, str], tuple[Any, ...]]:
    """Every exception the simulator holds now: (workspace, exception) -> its columns."""
    return {(short(w["name"]), short(e["name"])): exception_truth(e)
            for w in world.workspaces() for e in world.exceptions(short(w["name"]))}


def loaded_exceptions(rows: list[tuple[Any, ...]]) -> dict[tuple[str, str], tuple[Any, ...]]:
    """Rows of `SELECT workspace_id, exception_id, <EXCEPTION_COLUMNS>` from any destination (JSON as text or
    as parsed by the driver) in the truth's shape."""
    loaded = {(row[0], row[1]): (*row[2:-2], *(json.loads(v) if isinstance(v, str) else v for v in row[-2:]))
              for row in rows}
    assert len(loaded) == len(rows), "an exception was loaded twice"
    return loaded


def query_exceptions(query: Query) -> dict[tuple[str, str], tuple[Any, ...]]:
    return loaded_exceptions(query(f"SELECT workspace_id, exception_id, {EXCEPTION_COLUMNS} FROM kognitos.exceptions"))
