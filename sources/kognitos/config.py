"""Validated, frozen settings built from the arguments dlt injects; every check runs before any request."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from urllib.parse import urlsplit

from . import settings
from .days import validate_time_zones
from .errors import ConfigError
from .timestamps import parse_timestamp, timestamp_key


@dataclass(frozen=True)
class SourceConfig:
    """What `kognitos_source` was asked to load. The token never appears in its repr."""

    access_token: str = field(repr=False)
    base_url: str
    organization_id: str
    workspace_ids: tuple[str, ...] = ()
    automation_ids: tuple[str, ...] = ()
    time_zones: tuple[str, ...] = settings.DEFAULT_TIME_ZONES
    start_key: str | None = None
    """`start_date` as a timestamp key (timestamps.py): the lower bound of a first load's runs."""
    max_concurrent_requests: int = settings.DEFAULT_MAX_CONCURRENT_REQUESTS
    page_size: int = settings.MAX_PAGE_SIZE
    node_kinds: tuple[str, ...] = ()
    """Only node events of these kinds (filtered here; events without a node are always kept); empty: all."""
    daily_aggregates_per_automation: bool = False
    daily_aggregates_lookback_days: int = settings.DEFAULT_DAILY_LOOKBACK_DAYS
    max_requests_per_second: float | None = None

    @property
    def start_time(self) -> datetime | None:
        """`start_date` as an aware instant (the first load of a daily series starts on its local date)."""
        return parse_timestamp(self.start_key) if self.start_key is not None else None


def build_config(
    *,
    access_token: str | None,
    base_url: str | None,
    organization_id: str | None,
    workspace_ids: Sequence[str] | str | None = None,
    automation_ids: Sequence[str] | str | None = None,
    time_zones: Sequence[str] | str | None = None,
    start_date: str | date | datetime | None = None,
    max_concurrent_requests: int = settings.DEFAULT_MAX_CONCURRENT_REQUESTS,
    allow_insecure_http: bool = False,
    page_size: int = settings.MAX_PAGE_SIZE,
    node_kinds: Sequence[str] | str | None = None,
    daily_aggregates_per_automation: bool = False,
    daily_aggregates_lookback_days: int = settings.DEFAULT_DAILY_LOOKBACK_DAYS,
    max_requests_per_second: float | None = None,
    now: datetime | None = None,
) -> SourceConfig:
    """Check every value and raise `ConfigError` naming the key, the bad value and the fix."""
    if not access_token or not str(access_token).strip():
        raise ConfigError(
            "access_token", "no personal access token is set",
            "Create one in Kognitos (API Keys) and put it in .dlt/secrets.toml under [sources.kognitos] or "
            "in the environment variable.",
        )
    if not organization_id or not str(organization_id).strip():
        raise ConfigError(
            "organization_id", "no organization id is set",
            "Set it to the last segment of your organization's name (organizations/<id>), "
            "e.g. in .dlt/config.toml under [sources.kognitos].",
        )
    try:
        zones = validate_time_zones(_as_tuple(time_zones) or settings.DEFAULT_TIME_ZONES)
    except ValueError as exc:
        raise ConfigError("time_zones", str(exc), "Use IANA names such as \"UTC\" or \"Europe/Paris\".") from None
    if max_concurrent_requests < 1:
        raise ConfigError(
            "max_concurrent_requests", f"{max_concurrent_requests!r} is not a positive integer",
            "Use a number from 1 (sequential) upwards; 8 is the default.",
        )
    if daily_aggregates_lookback_days < 1:
        raise ConfigError(
            "daily_aggregates_lookback_days", f"{daily_aggregates_lookback_days!r} is less than 1",
            "Use 2 (today and yesterday, the default) or more to re-check days whose counts may still grow.",
        )
    if max_requests_per_second is not None and not max_requests_per_second > 0:
        raise ConfigError(
            "max_requests_per_second", f"{max_requests_per_second!r} is not a positive number",
            "Remove it (no client-side limit, the default) or use e.g. 5.",
        )
    if not 1 <= page_size <= settings.MAX_PAGE_SIZE:
        raise ConfigError(
            "page_size", f"{page_size!r} is outside 1..{settings.MAX_PAGE_SIZE}",
            f"Leave it at the default {settings.MAX_PAGE_SIZE} (fewest requests) unless testing paging.",
        )
    return SourceConfig(
        access_token=str(access_token).strip(),
        base_url=_checked_base_url(base_url or settings.DEFAULT_BASE_URL, allow_insecure_http),
        organization_id=str(organization_id).strip(),
        workspace_ids=_as_tuple(workspace_ids),
        automation_ids=_as_tuple(automation_ids),
        time_zones=zones,
        start_key=_checked_start_key(start_date, now or datetime.now(UTC)),
        max_concurrent_requests=max_concurrent_requests,
        page_size=page_size,
        node_kinds=_as_tuple(node_kinds),
        daily_aggregates_per_automation=bool(daily_aggregates_per_automation),
        daily_aggregates_lookback_days=daily_aggregates_lookback_days,
        max_requests_per_second=max_requests_per_second,
    )


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


def _checked_start_key(start_date: str | date | datetime | None, now: datetime) -> str | None:
    """`start_date` as a timestamp key: a date means its midnight UTC; a time must be RFC 3339."""
    if start_date is None or start_date == "":
        return None
    try:
        if isinstance(start_date, datetime):
            moment = start_date if start_date.tzinfo else start_date.replace(tzinfo=UTC)
            key = timestamp_key(moment.astimezone(UTC).isoformat())
        elif isinstance(start_date, date) or len(str(start_date).strip()) == 10:
            day = start_date if isinstance(start_date, date) else date.fromisoformat(str(start_date).strip())
            key = timestamp_key(f"{day.isoformat()}T00:00:00Z")
        else:
            key = timestamp_key(str(start_date).strip())
    except ValueError:
        raise ConfigError(
            "start_date", f"{start_date!r} is not a date or an RFC 3339 timestamp",
            "Use e.g. \"2025-01-31\" or \"2025-01-31T00:00:00Z\".",
        ) from None
    if parse_timestamp(key) > now:
        raise ConfigError(
            "start_date", f"{start_date!r} is in the future, so nothing would ever be loaded",
            "Use a date in the past, or remove it to load all history.",
        )
    return key
