"""`commonV1Value` and `v1ValueType` JSON, encoded the way the service sends them.

Proto3 JSON rules apply inside values: the one set member of a oneof is always present (so
`{"bool_value": false}` and `{"number": {}}` for zero), while zero scalars inside messages are omitted
(`{"date": {"year": 2025}}`). Numbers are exact 96-bit decimals (`v1Number`, kognitos-api.md §5.3).
Tables use the observed form `{"table": {"inline": {"data": <base64 Arrow IPC stream>}}}`.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from kognitos_simulator import timestamps

Json = dict[str, Any]

MAX_SCALE = 28
_MANTISSA_LIMIT = 1 << 96
_MASK32 = 0xFFFFFFFF
SIGN_BIT = 0x80000000


def _nonzero(**fields: Any) -> Json:
    return {name: value for name, value in fields.items() if value}


def number_fields(value: Decimal | int | str) -> Json:
    """lo/mid/hi/flags of an exact decimal; zero fields omitted (0 is `{}`)."""
    sign, digits, exponent = Decimal(value).as_tuple()
    if not isinstance(exponent, int):
        raise ValueError(f"{value} is not a finite number")
    mantissa = int("".join(map(str, digits)) or "0")
    scale = -exponent
    if scale < 0:
        mantissa, scale = mantissa * 10**exponent, 0
    if scale > MAX_SCALE or mantissa >= _MANTISSA_LIMIT:
        raise ValueError(f"{value} does not fit a 96-bit mantissa with at most {MAX_SCALE} decimals")
    flags = (scale << 16) | (SIGN_BIT if sign and mantissa else 0)
    return _nonzero(lo=mantissa & _MASK32, mid=(mantissa >> 32) & _MASK32, hi=mantissa >> 64, flags=flags)


def number(value: Decimal | int | str) -> Json:
    return {"number": number_fields(value)}


def text(value: str) -> Json:
    return {"text": value}


def boolean(value: bool) -> Json:
    return {"bool_value": value}


def null() -> Json:
    # The schema types null_value as a string; protobuf's NullValue enum renders as its name.
    return {"null_value": "NULL_VALUE"}


def date_fields(year: int, month: int, day: int) -> Json:
    return _nonzero(year=year, month=month, day=day)


def date(year: int, month: int, day: int) -> Json:
    return {"date": date_fields(year, month, day)}


def time_of_day(hours: int, minutes: int, seconds: int = 0, nanos: int = 0) -> Json:
    return {"timeofday": _nonzero(hours=hours, minutes=minutes, seconds=seconds, nanos=nanos)}


def duration_text(ns: int) -> str:
    """protobuf Duration JSON: seconds with 0, 3, 6 or 9 fractional digits, e.g. "300s", "-1.500s"."""
    sign = "-" if ns < 0 else ""
    seconds, fraction = divmod(abs(ns), timestamps.NS_PER_SECOND)
    if fraction == 0:
        return f"{sign}{seconds}s"
    digits = f"{fraction:09d}"
    for width in (3, 6):
        if digits[width:] == "0" * (9 - width):
            digits = digits[:width]
            break
    return f"{sign}{seconds}.{digits}s"


def duration(ns: int) -> Json:
    return {"duration": duration_text(ns)}


def time_zone(zone_id: str, version: str = "") -> Json:
    return {"time_zone": _nonzero(id=zone_id, version=version)}


def date_time(
    year: int, month: int, day: int, hours: int, minutes: int, seconds: int = 0, nanos: int = 0,
    *, utc_offset_seconds: int | None = None, zone_id: str | None = None,
) -> Json:
    """A civil date-time with either a UTC offset or an IANA zone (or neither: local time)."""
    fields = _nonzero(year=year, month=month, day=day, hours=hours, minutes=minutes, seconds=seconds,
                      nanos=nanos)
    if utc_offset_seconds is not None:
        fields["utc_offset"] = duration_text(utc_offset_seconds * timestamps.NS_PER_SECOND)
    if zone_id is not None:
        fields["time_zone"] = {"id": zone_id}
    return {"datetime": fields}


def list_of(items: Iterable[Json]) -> Json:
    return {"list": _nonzero(items=list(items))}


def dictionary(entries: Iterable[tuple[Json, Json]]) -> Json:
    """Insertion-ordered entries; keys must be hashable values (text, number, date, ...)."""
    return {"dictionary": _nonzero(entries=[{"key": key, "value": value} for key, value in entries])}


def set_of(items: Iterable[Json]) -> Json:
    return {"set": _nonzero(items=list(items))}


def remote_file(resource: str) -> Json:
    return {"file": {"remote": resource}}


def inline_file(file_name: str, content: bytes) -> Json:
    return {"file": {"inline": _nonzero(file_name=file_name, content=base64.b64encode(content).decode())}}


def inline_table(arrow_ipc: bytes) -> Json:
    return {"table": {"inline": {"data": base64.b64encode(arrow_ipc).decode()}}}



def arrow_table(column_names: tuple[str, ...], rows: tuple[tuple[Any, ...], ...]) -> bytes:
    """An Arrow IPC stream holding `rows`."""
    import pyarrow as pa  # imported lazily: only tables need it

    columns = {name: [row[index] for row in rows] for index, name in enumerate(column_names)}
    table = pa.table(columns)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


# v1ValueType descriptors.

def scalar_type(name: str) -> Json:
    """name: TEXT, NUMBER, BOOLEAN, DATETIME, DATE, TIME or FILE."""
    return {"scalar_type": f"VALUE_SCALAR_TYPE_{name}"}


def list_type(inner: Json) -> Json:
    return {"list_type": {"inner": inner}}


def optional_type(inner: Json) -> Json:
    return {"optional_type": {"inner": inner}}


def dictionary_type(is_a: str, fields: Sequence[tuple[str, Json]]) -> Json:
    return {"dictionary_type": {"is_a": is_a, "fields": [{"key": key, "value": value} for key, value in fields]}}


def table_type(is_a: str, columns: Sequence[tuple[str, Json]]) -> Json:
    return {"table_type": {"is_a": is_a, "columns": [{"key": key, "value": value} for key, value in columns]}}


def any_type() -> Json:
    return {"any_type": {}}
