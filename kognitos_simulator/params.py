"""Query parameters as grpc-gateway reads them.

Both spellings of a field are accepted (proto name `page_size` and JSON name `pageSize`, kognitos-api.md
§1.3); when a parameter is repeated the last value wins; unknown parameters are ignored. Values that
do not parse are INVALID_ARGUMENT, naming the parameter.
"""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import parse_qsl

from kognitos_simulator.errors import invalid_argument

_CAMEL_HUMP = re.compile(r"(?<=[a-z0-9])([A-Z])")
_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")
_INT = re.compile(r"[+-]?[0-9]+", re.ASCII)


def _snake(name: str) -> str:
    return _CAMEL_HUMP.sub(lambda match: "_" + match.group(1).lower(), name)


class Query:
    """The query string of one request."""

    def __init__(self, raw: bytes) -> None:
        self.pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True, encoding="utf-8")
        self._values = {_snake(name): value for name, value in self.pairs}

    def as_dict(self) -> dict[str, str]:
        """Parameters as sent (last value of each), for the request log."""
        return dict(self.pairs)

    def text(self, name: str) -> str:
        return self._values.get(name, "")

    def int32(self, name: str) -> int:
        raw = self._values.get(name, "")
        if raw == "":
            return 0
        if not _INT.fullmatch(raw) or not -(2**31) <= int(raw) < 2**31:
            raise invalid_argument(name, f'"{raw}" is not a 32-bit integer')
        return int(raw)

    def boolean(self, name: str) -> bool:
        raw = self._values.get(name, "")
        if raw in _TRUE:
            return True
        if raw in _FALSE or raw == "":
            return False
        raise invalid_argument(name, f'"{raw}" is not a boolean (use true or false)')

    def date(self, name: str) -> date | None:
        """A google.type.Date sent as `name.year`, `name.month`, `name.day`; None when all are unset/0.

        Partial dates (a zero year, month or day next to non-zero ones) are rejected: a day bucket
        needs a full date.
        """
        parts = [self.int32(f"{name}.{part}") for part in ("year", "month", "day")]
        if not any(parts):
            return None
        year, month, day = parts
        try:
            if 0 in parts:
                raise ValueError("year, month and day must all be set")
            return date(year, month, day)
        except ValueError as error:
            text = f"{year:04d}-{month:02d}-{day:02d}"
            raise invalid_argument(name, f"{text} is not a full, valid date: {error}") from None
