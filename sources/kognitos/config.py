"""Every option of `kognitos_source`, declared once (SourceConfig), and the checks each runs before any request."""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit

import dlt
from dlt.common.configuration import configspec, known_sections, resolve_configuration
from dlt.common.configuration.resolve import inject_section
from dlt.common.configuration.specs import BaseConfiguration, ConfigSectionContext
from dlt.common.typing import TSecretStrValue

from . import settings
from .days import validate_time_zones
from .errors import ConfigError
from .timestamps import parse_timestamp, timestamp_key


@configspec
class SourceConfig(BaseConfiguration):
    """The options of `kognitos_source`: name, type, default and meaning of each, in one place.

    dlt resolves each one from the keyword argument, else the environment variable `SOURCES__KOGNITOS__<NAME>`,
    else `[sources.kognitos]` in `.dlt/secrets.toml` or `.dlt/config.toml` (`resolve_source_config`); then
    `on_resolved` checks every value and normalises it (lists to tuples, `base_url` without `/api/v1`). A new option
    is a field here, a row in the README's table and a line in `.dlt/config.toml` (tests/unit/test_documented_options).
    """

    access_token: TSecretStrValue = dlt.secrets.value
    """Kognitos personal access token (secret)."""
    organization_id: str | None = None
    """The organization to load (last segment of `organizations/<id>`); default the only organization the token can
    see (organization.py), which a load looks up when it starts."""
    base_url: str = settings.DEFAULT_BASE_URL
    """API host, default `https://app.us-1.kognitos.com` (with or without `/api/v1`)."""
    workspace_ids: Sequence[str] | None = None
    """Workspaces to load; default every workspace the token can see."""
    automation_ids: Sequence[str] | None = None
    """Automations to load (their runs, events and exceptions); default every automation of those workspaces."""
    time_zones: Sequence[str] = settings.DEFAULT_TIME_ZONES
    """IANA zones for the daily aggregates; default `["UTC"]`."""
    start_date: str | None = None
    """Earliest run (and exception) creation date (or RFC 3339 time) loaded by a first load; default all."""
    max_concurrent_requests: int = settings.DEFAULT_MAX_CONCURRENT_REQUESTS
    """Requests in flight at once across the source; default 8."""
    allow_insecure_http: bool = False
    """Allow sending the token over plain HTTP to a non-loopback host."""
    page_size: int = settings.MAX_PAGE_SIZE
    """Items per API page, 1..1000; default 1000 (fewest requests). Lower only to test paging."""
    node_kinds: Sequence[str] | None = None
    """Load node events only of these kinds (e.g. ["FunctionCall"]); events without a node are kept. Changing it
    later is refused until the events are reloaded with --refresh."""
    daily_aggregates_per_automation: bool = False
    """Also load a daily series per automation (one request each)."""
    daily_aggregates_lookback_days: int = settings.DEFAULT_DAILY_LOOKBACK_DAYS
    """Days re-queried by later loads (2 = today and yesterday)."""
    list_unchanged_automations_every_hours: float = settings.DEFAULT_UNCHANGED_AUTOMATIONS_LISTED_EVERY_HOURS
    """While an automation's all-time run total (automation_run_aggregates) equals the total before its last listing,
    no new run is expected for this many hours after that listing (in case the service's counter lags), and the
    automation is listed only if that refreshes its open runs fastest; default 6. 0 lists every automation on every
    load."""
    max_requests_per_second: float | None = None
    """A ceiling on the pace of all requests of a load together; default none: the load finds a rate-limited
    service's pace by itself (pacing.py)."""
    execution_output_types: str | None = None
    """Where execution_outputs' `value_type` comes from: "inferred" from each value, read from the `completed` journal
    entries the load already has, no request; "declared": the declared types, one Get Execution Outputs request per
    execution. Default: what the loaded outputs have ("inferred" on a first load; "declared" for pipelines that
    loaded outputs before the choice existed). A value other than the loaded outputs' is refused until --refresh."""

    def on_resolved(self) -> None:
        """Check every value, raising `ConfigError` naming the key, the bad value and the fix, and normalise it."""
        if not self.access_token or not str(self.access_token).strip():
            raise ConfigError(
                "access_token", "no personal access token is set",
                "Create one in Kognitos (API Keys) and put it in .dlt/secrets.toml under [sources.kognitos] or "
                "in the environment variable.",
            )
        try:
            zones = validate_time_zones(_as_tuple(self.time_zones) or settings.DEFAULT_TIME_ZONES)
        except ValueError as error:
            raise ConfigError("time_zones", str(error),
                              "Use IANA names such as \"UTC\" or \"Europe/Paris\".") from error
        if self.max_concurrent_requests < 1:
            raise ConfigError(
                "max_concurrent_requests", f"{self.max_concurrent_requests!r} is not a positive integer",
                "Use a number from 1 (sequential) upwards; 8 is the default.",
            )
        if self.daily_aggregates_lookback_days < 1:
            raise ConfigError(
                "daily_aggregates_lookback_days", f"{self.daily_aggregates_lookback_days!r} is less than 1",
                "Use 2 (today and yesterday, the default) or more to re-check days whose counts may still grow.",
            )
        if not 0 <= self.list_unchanged_automations_every_hours < math.inf:
            raise ConfigError(
                "list_unchanged_automations_every_hours",
                f"{self.list_unchanged_automations_every_hours!r} is not a number of hours from 0 up",
                "Use e.g. 6 (the default: an automation whose run total did not change is listed at least every 6 "
                "hours), or 0 to list every automation on every load.",
            )
        if self.max_requests_per_second is not None and not self.max_requests_per_second > 0:
            raise ConfigError(
                "max_requests_per_second", f"{self.max_requests_per_second!r} is not a positive number",
                "Remove it (no client-side limit, the default) or use e.g. 5.",
            )
        if self.execution_output_types is not None and self.execution_output_types not in settings.OUTPUT_TYPES:
            raise ConfigError(
                "execution_output_types", f"{self.execution_output_types!r} is not one of {settings.OUTPUT_TYPES}",
                f"Use {settings.OUTPUT_TYPES_INFERRED!r} (types from the values, no request) or "
                f"{settings.OUTPUT_TYPES_DECLARED!r} (declared types, one request per execution), or remove it.",
            )
        if not 1 <= self.page_size <= settings.MAX_PAGE_SIZE:
            raise ConfigError(
                "page_size", f"{self.page_size!r} is outside 1..{settings.MAX_PAGE_SIZE}",
                f"Leave it at the default {settings.MAX_PAGE_SIZE} (fewest requests) unless testing paging.",
            )
        base_url = _checked_base_url(self.base_url or settings.DEFAULT_BASE_URL, self.allow_insecure_http)
        if (start := self.start_time) is not None and start > datetime.now(UTC):
            raise ConfigError(
                "start_date", f"{self.start_date!r} is in the future, so nothing would ever be loaded",
                "Use a date in the past, or remove it to load all history.",
            )
        self.access_token = str(self.access_token).strip()
        self.organization_id = str(self.organization_id or "").strip() or None
        self.base_url = base_url
        self.workspace_ids = _as_tuple(self.workspace_ids)
        self.automation_ids = _as_tuple(self.automation_ids)
        self.time_zones = zones
        self.node_kinds = _as_tuple(self.node_kinds)
        self.daily_aggregates_per_automation = bool(self.daily_aggregates_per_automation)

    @property
    def start_key(self) -> str | None:
        """`start_date` as a timestamp key (timestamps.py): the lower bound of a first load's runs."""
        return _start_key(self.start_date)

    @property
    def start_time(self) -> datetime | None:
        """`start_date` as an aware instant (the first load of a daily series starts on its local date)."""
        key = self.start_key
        return parse_timestamp(key) if key is not None else None


def resolve_source_config(options: Mapping[str, Any]) -> SourceConfig:
    """The options given by keyword, every other one from dlt config, checked (SourceConfig.on_resolved).

    dlt's own resolution, in the source's config section, so `.dlt/*.toml`, environment variables and pipeline-named
    sections work as for any dlt source.
    """
    if unknown := sorted(set(options) - set(SourceConfig.get_resolvable_fields())):
        raise TypeError(f"kognitos_source() got unknown option(s) {unknown}: the options are SourceConfig's fields")
    sections = (known_sections.SOURCES, settings.CONFIG_SECTION, settings.SOURCE_NAME)
    with inject_section(ConfigSectionContext(sections=sections)):
        return resolve_configuration(SourceConfig(), explicit_value=dict(options))


def _as_tuple(values: Sequence[str] | str | None) -> tuple[str, ...]:
    """Accept a list, or one comma-separated string as env vars and CLI flags give them."""
    if values is None:
        return ()
    items = values.split(",") if isinstance(values, str) else values
    return tuple(dict.fromkeys(str(item).strip() for item in items if str(item).strip()))


def _checked_base_url(base_url: str, allow_insecure_http: bool) -> str:
    """An http(s) URL with a host; `/api/v1` may be given or not. Plain HTTP only to loopback unless opted in."""
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            "base_url", f"{base_url!r} is not an http(s) URL with a host",
            f"Use e.g. {settings.DEFAULT_BASE_URL!r}.",
        )
    if parts.scheme == "http" and not _is_loopback(parts.hostname) and not allow_insecure_http:
        raise ConfigError(
            "base_url", f"{base_url!r} would send the access token unencrypted over plain HTTP",
            "Use https://, or set sources.kognitos.allow_insecure_http = true if you really mean it.",
        )
    path = parts.path.rstrip("/")
    if path.endswith(settings.API_PREFIX):
        path = path[: -len(settings.API_PREFIX)]
    return f"{parts.scheme}://{parts.netloc}{path}"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _start_key(start_date: str | date | datetime | None) -> str | None:
    """`start_date` as a timestamp key: a date means its midnight UTC; a time must be RFC 3339."""
    if start_date is None or start_date == "":
        return None
    try:
        if isinstance(start_date, datetime):
            moment = start_date if start_date.tzinfo else start_date.replace(tzinfo=UTC)
            return timestamp_key(moment.astimezone(UTC).isoformat())
        if isinstance(start_date, date) or len(str(start_date).strip()) == 10:
            day = start_date if isinstance(start_date, date) else date.fromisoformat(str(start_date).strip())
            return timestamp_key(f"{day.isoformat()}T00:00:00Z")
        return timestamp_key(str(start_date).strip())
    except ValueError as error:
        raise ConfigError(
            "start_date", f"{start_date!r} is not a date or an RFC 3339 timestamp",
            "Use e.g. \"2025-01-31\" or \"2025-01-31T00:00:00Z\".",
        ) from error
