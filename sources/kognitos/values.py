"""Decode Kognitos `commonV1Value` payloads (run inputs/outputs, node I/O) into plain Python values.

The API wraps every runtime value in a oneof (kognitos-api.md §5.3). Loading that wrapper as-is
would give every output column a nested, kind-dependent shape; decoding it gives plain values:

==============  ==================================================================================
oneof key       decoded to
==============  ==================================================================================
null_value      None
bool_value      bool
number          `decimal.Decimal`, exact (v1Number: 96-bit mantissa, scale 0..28, sign bit)
text            str
date            "YYYY-MM-DD"; zero parts of partial dates stay zero ("0000-05-01", "2025-00-00")
timeofday       "HH:MM:SS" or "HH:MM:SS.nnnnnnnnn"
datetime        ISO 8601: "...T09:00:00-04:00" with `utc_offset`; with a `time_zone` the RFC 9557
                form "...T09:00:00-04:00[America/New_York]" (earlier offset when ambiguous; no
                offset if the zone or year is unknown); neither: naive local "...T09:00:00"
time_zone       the IANA id, e.g. "America/New_York" (the tzdb `version` is dropped)
duration        the string as given, e.g. "3600s"
list, set       list (a set keeps the order the API sent)
dictionary      dict keyed by `str(key)` when every key is a str, bool or Decimal and no two keys
                share a str form; otherwise a list of {"key": ..., "value": ...} (nothing lost)
file            {"remote": url} or {"file_name": ..., "content_base64": ...}
table           {"remote": url}, {"table_inline_arrow_base64": data} (what real runs send) and/or
                {"columns": {name: [cells]}} (the documented `v1Table` form)
==============  ==================================================================================

Anything else (an unknown or future key, or several keys at once) is returned unchanged, so new
API kinds load as JSON instead of failing. A known kind with a malformed payload (a v1Number
scale of 29, a month of 13, ...) raises `ValueError`: a silently wrong value is worse.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_SCALE_MASK = 0x00FF0000
_SIGN_BIT = 0x80000000
_MAX_SCALE = 28
_UINT32_RANGE = range(-(2**31), 2**32)
# protobuf Duration JSON form, e.g. "-14400s", "3600.5s" (kognitos-api.md §1.3)
_DURATION = re.compile(r"([+-]?)([0-9]+)(?:\.([0-9]{1,9}))?s", re.ASCII)


def decode_value(value: Mapping[str, Any] | None) -> Any:
    """One `commonV1Value` as a plain value; see the module docstring for each kind."""
    if not value:
        return None
    if len(value) != 1:
        return dict(value)
    ((kind, raw),) = value.items()
    decoder = _DECODERS.get(kind)
    if decoder is None:
        return {kind: raw}
    if raw is None:
        return None
    try:
        return decoder(raw)
    except ValueError as exc:
        raise ValueError(f"{kind}: {exc}") from None


def decode_value_map(values: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A `map<string, commonV1Value>` (outputs, inputs) decoded value by value; absent stays None."""
    if values is None:
        return None
    decoded = {}
    for name, value in values.items():
        try:
            decoded[name] = decode_value(value)
        except ValueError as exc:
            raise ValueError(f"{name!r}: {exc}") from None
    return decoded


def decode_number(number: Mapping[str, Any]) -> Decimal:
    """A `v1Number` as an exact Decimal: (hi*2^64 + mid*2^32 + lo) / 10^scale, negated if signed.

    Fields may be missing (proto3 omits zeros) and may be JSON numbers or numeric strings (int64 in
    proto JSON). A negative word is read as a signed 32-bit value (.NET `decimal.GetBits` layout).
    The Decimal is parsed from its digits, never computed in a context, so all 29 digits survive.
    """
    lo, mid, hi, flags = (_uint32(number, name) for name in ("lo", "mid", "hi", "flags"))
    if flags & ~(_SCALE_MASK | _SIGN_BIT):
        raise ValueError(f"v1Number flags {flags:#010x} set bits other than 16-23 (scale) and 31 (sign)")
    scale = (flags & _SCALE_MASK) >> 16
    if scale > _MAX_SCALE:
        raise ValueError(f"v1Number scale {scale} is above {_MAX_SCALE}")
    mantissa = (hi << 64) | (mid << 32) | lo
    return Decimal(f"{'-' if flags & _SIGN_BIT else ''}{mantissa}E-{scale}")  # exact: no context applies


def value_type_name(value_type: Mapping[str, Any] | None) -> str | None:
    """A `v1ValueType` as a short readable name, e.g. "list<optional<number>>" or "table:invoice".

    Meant for a `type` column next to decoded values; an unknown kind reads as its key name.
    """
    if not value_type:
        return None
    if len(value_type) != 1:
        return "|".join(value_type)
    ((kind, raw),) = value_type.items()
    body: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    if kind == "scalar_type":
        return str(raw).removeprefix("VALUE_SCALAR_TYPE_").lower()
    if kind in ("optional_type", "list_type", "sensitive_type"):
        return f"{kind.removesuffix('_type')}<{_inner_name(body.get('inner'))}>"
    if kind == "union_type":
        return f"union<{', '.join(_inner_name(inner) for inner in body.get('inners', []))}>"
    if kind == "generic_dictionary_type":
        return f"dictionary<{_inner_name(body.get('key_type'))}, {_inner_name(body.get('value_type'))}>"
    if kind in ("dictionary_type", "table_type", "opaque_type", "enum_type"):
        name = kind.removesuffix("_type")
        return f"{name}:{body['is_a']}" if body.get("is_a") else name
    if kind == "any_type":
        return "any"
    return kind


_KIND_TYPES = {"bool_value": "boolean", "number": "number", "text": "text", "date": "date", "timeofday": "time",
               "datetime": "datetime", "file": "file", "table": "table", "dictionary": "dictionary",
               "time_zone": "time_zone", "duration": "duration"}
"""The type a value's own kind says, named as `value_type_name` names declared types. The kinds that map to a
scalar `v1ValueType` (text, number, boolean, date, datetime, time, file) are exact; tables and dictionaries lose
the name a declared type carries (`table:invoice` reads `table`); `time_zone` and `duration` have no declared
scalar type (the service declares them `any`)."""


def inferred_value_type(value: Mapping[str, Any] | None) -> str | None:
    """A `commonV1Value`'s type as far as the value itself says it, in `value_type_name`'s names: `list<...>` and
    `set<...>` from their items (`any` when they differ, `unspecified` when none says). A null value, or
    an unknown kind, says nothing: None. What a value cannot tell (optional, sensitive, union, enum, opaque types,
    and a table's or dictionary's declared name) only Get Execution Outputs declares."""
    if not value or len(value) != 1:
        return None
    ((kind, raw),) = value.items()
    if kind in ("list", "set"):
        return f"{kind}<{_items_type((raw or {}).get('items', []))}>"
    return _KIND_TYPES.get(kind)


def _items_type(items: list[Mapping[str, Any]]) -> str:
    kinds = {inferred_value_type(item) for item in items} - {None}  # a null item says nothing of the others
    if len(kinds) == 1:
        return kinds.pop()  # type: ignore[return-value]
    return "any" if kinds else "unspecified"


def _inner_name(value_type: Mapping[str, Any] | None) -> str:
    return value_type_name(value_type) or "unspecified"


def _uint32(fields: Mapping[str, Any], name: str) -> int:
    number = _integer(fields, name)
    if number not in _UINT32_RANGE:
        raise ValueError(f"v1Number.{name} {number} does not fit in 32 bits")
    return number & 0xFFFFFFFF


def _integer(fields: Mapping[str, Any], name: str) -> int:
    """An integer field that proto3 JSON may omit (0), send as a number, or send as a string."""
    raw = fields.get(name, 0)
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and re.fullmatch(r"[+-]?[0-9]+", raw, re.ASCII):
        return int(raw)
    raise ValueError(f"{name}: expected an integer or a numeric string, got {raw!r}")


def _bounded(fields: Mapping[str, Any], name: str, low: int, high: int) -> int:
    number = _integer(fields, name)
    if not low <= number <= high:
        raise ValueError(f"{name} {number} is outside {low}..{high}")
    return number


def _typed(kind: type) -> Callable[[Any], Any]:
    def check(raw: Any) -> Any:
        if not isinstance(raw, kind):
            raise ValueError(f"expected a {kind.__name__}, got {raw!r}")
        return raw

    return check


def _date(raw: Mapping[str, Any]) -> str:
    year, month, day = _bounded(raw, "year", 0, 9999), _bounded(raw, "month", 0, 12), _bounded(raw, "day", 0, 31)
    return f"{year:04d}-{month:02d}-{day:02d}"


def _time(raw: Mapping[str, Any]) -> str:
    # google.type.TimeOfDay allows 24:00:00 (closing time) and a leap second 60.
    text = f"{_bounded(raw, 'hours', 0, 24):02d}:{_bounded(raw, 'minutes', 0, 59):02d}"
    text += f":{_bounded(raw, 'seconds', 0, 60):02d}"
    nanos = _bounded(raw, "nanos", 0, 999_999_999)
    return f"{text}.{nanos:09d}" if nanos else text


def _datetime(raw: Mapping[str, Any]) -> str:
    local = f"{_date(raw)}T{_time(raw)}"
    if "utc_offset" in raw:
        return local + _offset(raw["utc_offset"])
    zone_id = (raw.get("time_zone") or {}).get("id")
    if not zone_id:
        return local
    return f"{local}{_zone_offset(raw, zone_id)}[{zone_id}]"


def _offset(duration: Any) -> str:
    """A Duration offset as ISO text: '-14400s' -> '-04:00', '3600.5s' -> '+01:00:00.5'."""
    match = _DURATION.fullmatch(duration) if isinstance(duration, str) else None
    if match is None:
        raise ValueError(f"utc_offset {duration!r} is not a protobuf Duration such as '-14400s'")
    sign, seconds, fraction = match.group(1) or "+", int(match.group(2)), (match.group(3) or "").rstrip("0")
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{'-' if sign == '-' else '+'}{hours:02d}:{minutes:02d}"
    if secs or fraction:
        text += f":{secs:02d}"
    return f"{text}.{fraction}" if fraction else text


def _zone_offset(raw: Mapping[str, Any], zone_id: str) -> str:
    """The zone's UTC offset at that civil time, or "" when it cannot be known (year 0, unknown zone)."""
    try:
        zone = ZoneInfo(zone_id)
        moment = datetime(
            _integer(raw, "year"), _integer(raw, "month"), _integer(raw, "day"),
            _integer(raw, "hours"), _integer(raw, "minutes"), _integer(raw, "seconds"), tzinfo=zone,
        )
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return ""
    offset = moment.utcoffset() or timedelta(0)
    return _offset(f"{int(offset.total_seconds())}s")


def _time_zone(raw: Mapping[str, Any]) -> str:
    return str(raw.get("id", ""))


def _items(raw: Mapping[str, Any]) -> list[Any]:
    return [decode_value(item) for item in raw.get("items", [])]


def _dictionary(raw: Mapping[str, Any]) -> dict[str, Any] | list[dict[str, Any]]:
    pairs = [(decode_value(entry.get("key")), decode_value(entry.get("value"))) for entry in raw.get("entries", [])]
    keys = [str(key) for key, _ in pairs if isinstance(key, str | bool | Decimal)]
    if len(keys) == len(pairs) and len(set(keys)) == len(keys):
        return {key: value for key, (_, value) in zip(keys, pairs, strict=True)}
    return [{"key": key, "value": value} for key, value in pairs]


def _file(raw: Mapping[str, Any]) -> dict[str, Any]:
    if "remote" in raw:
        return {"remote": raw["remote"]}
    inline = raw.get("inline")
    if isinstance(inline, Mapping):
        return {"file_name": inline.get("file_name"), "content_base64": inline.get("content")}
    return dict(raw)


def _table(raw: Mapping[str, Any]) -> dict[str, Any]:
    if "remote" in raw:
        return {"remote": raw["remote"]}
    inline = raw.get("inline")
    if not isinstance(inline, Mapping):
        return dict(raw)
    table: dict[str, Any] = {}
    # Real runs send base64 Arrow IPC in `inline.data`, which S1's v1Table lacks (kognitos-api.md §5.3).
    if "data" in inline:
        table["table_inline_arrow_base64"] = inline["data"]
    if "columns" in inline or not table:
        table["columns"] = _columns(inline.get("columns", []))
    return table


def _columns(columns: list[Mapping[str, Any]]) -> dict[str, list[Any]]:
    decoded: dict[str, list[Any]] = {}
    for column in columns:
        name = str(column.get("name", ""))
        if name in decoded:
            raise ValueError(f"table has two columns named {name!r}")
        decoded[name] = [_cell(cell) for cell in column.get("values", [])]
    return decoded


def _cell(cell: Mapping[str, Any]) -> Any:
    """A `bdkV1Value` table cell: scalars and lists decoded, richer kinds kept as {kind: raw}."""
    if not cell:
        return None
    if len(cell) != 1:
        return dict(cell)
    ((kind, raw),) = cell.items()
    if kind == "null_value" or raw is None:
        return None
    if kind in ("text_value", "number_value", "boolean_value", "datetime_value"):
        return raw
    if kind == "date_value":
        return _date(raw)
    if kind == "time_value":
        return _time(raw)
    if kind == "list_value":
        return [_cell(item) for item in raw.get("values", [])]
    return {kind: raw}


_DECODERS: dict[str, Callable[[Any], Any]] = {
    "null_value": lambda raw: None,
    "bool_value": _typed(bool),
    "number": decode_number,
    "text": _typed(str),
    "date": _date,
    "timeofday": _time,
    "datetime": _datetime,
    "time_zone": _time_zone,
    "duration": _typed(str),
    "list": _items,
    "set": _items,
    "dictionary": _dictionary,
    "file": _file,
    "table": _table,
}
