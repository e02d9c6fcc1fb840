"""kognitos_source: Kognitos workspaces, automations, runs, run events, outputs and aggregates as a dlt source.

Configure it the dlt way (`.dlt/config.toml`, `.dlt/secrets.toml` or env vars under `sources.kognitos`):

    from sources.kognitos import kognitos_source
    pipeline = dlt.pipeline("kognitos", destination="duckdb", dataset_name="kognitos")
    pipeline.run(kognitos_source())
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from typing import Any

import dlt
from dlt.common.typing import TSecretStrValue
from dlt.sources import DltResource

from . import resources, schema, settings
from .client import KognitosClient
from .config import SourceConfig, build_config
from .errors import (
    ApiError,
    AuthError,
    ConfigError,
    ConnectionSetupError,
    InvalidRequestError,
    KognitosError,
    NotFoundError,
    RetryableError,
)
from .stats import LoadStats

__all__ = [
    "ApiError",
    "AuthError",
    "ConfigError",
    "ConnectionSetupError",
    "InvalidRequestError",
    "KognitosClient",
    "KognitosError",
    "LoadStats",
    "NotFoundError",
    "RetryableError",
    "SourceConfig",
    "kognitos_source",
]


@dlt.source(name="kognitos", section=settings.CONFIG_SECTION, max_table_nesting=0)
def kognitos_source(
    access_token: TSecretStrValue = dlt.secrets.value,
    organization_id: str = dlt.config.value,
    base_url: str = settings.DEFAULT_BASE_URL,
    workspace_ids: Sequence[str] | None = None,
    automation_ids: Sequence[str] | None = None,
    time_zones: Sequence[str] = settings.DEFAULT_TIME_ZONES,
    start_date: str | None = None,
    max_concurrent_requests: int = settings.DEFAULT_MAX_CONCURRENT_REQUESTS,
    allow_insecure_http: bool = False,
    page_size: int = settings.MAX_PAGE_SIZE,
    node_kinds: Sequence[str] | None = None,
    daily_aggregates_per_automation: bool = False,
    daily_aggregates_lookback_days: int = settings.DEFAULT_DAILY_LOOKBACK_DAYS,
    max_requests_per_second: float | None = None,
    stats: LoadStats | None = None,
    cleanup: ExitStack | None = None,
) -> list[DltResource]:
    """Load Kognitos workspaces, automations and runs, incrementally.

    Building the source opens nothing: its HTTP client connects, and starts its worker threads, on the first
    request. Pass `cleanup` to have them closed when the load ends (`kognitos-elt run` and the Dagster asset do):

        with ExitStack() as cleanup:
            pipeline.run(kognitos_source(cleanup=cleanup))

    For big backfills set `[extract] next_item_mode = "fifo"`: dlt then finishes one page's children before the
    next page, which keeps memory flat (`kognitos-elt run` does it for its loads).

    Args:
        access_token: Kognitos personal access token (secret).
        organization_id: The organization to load (last segment of `organizations/<id>`).
        base_url: API host, default `https://app.us-1.kognitos.com` (with or without `/api/v1`).
        workspace_ids: Workspaces to load; default every workspace the token can see.
        automation_ids: Automations to load; default every automation of those workspaces.
        time_zones: IANA zones for the daily aggregates; default `["UTC"]`.
        start_date: Earliest run creation date (or RFC 3339 time) loaded by a first load; default all.
        max_concurrent_requests: Requests in flight at once across the source; default 8.
        allow_insecure_http: Allow sending the token over plain HTTP to a non-loopback host.
        page_size: Items per API page, 1..1000; default 1000 (fewest requests). Lower only to test paging.
        node_kinds: Load node events only of these kinds (e.g. ["FunctionCall"]); events without a node are kept.
            Changing it later is refused until the events are reloaded with --refresh.
        daily_aggregates_per_automation: Also load a daily series per automation (one request each).
        daily_aggregates_lookback_days: Days re-queried by later loads (2 = today and yesterday).
        max_requests_per_second: Client-side rate limit across all requests of a load; default none.
        stats: Counters (requests, runs new and updated) for a caller's summary; not configuration.
        cleanup: Where to register the closing of the source's HTTP client and threads; not configuration.
    """
    config = build_config(
        access_token=access_token, base_url=base_url, organization_id=organization_id,
        workspace_ids=workspace_ids, automation_ids=automation_ids, time_zones=time_zones,
        start_date=start_date, max_concurrent_requests=max_concurrent_requests,
        allow_insecure_http=allow_insecure_http, page_size=page_size, node_kinds=node_kinds,
        daily_aggregates_per_automation=daily_aggregates_per_automation,
        daily_aggregates_lookback_days=daily_aggregates_lookback_days,
        max_requests_per_second=max_requests_per_second,
    )
    stats = stats or LoadStats()
    client = KognitosClient(config.base_url, config.access_token, max_connections=config.max_concurrent_requests,
                            stats=stats, max_requests_per_second=config.max_requests_per_second,
                            **_retry_settings())
    if cleanup is not None:
        cleanup.callback(client.close)
    workspaces = dlt.resource(resources.workspaces, **schema.WORKSPACES.hints())(client, config)
    automations = dlt.transformer(
        resources.automations, data_from=workspaces, **schema.AUTOMATIONS.hints())(client, config)
    runs = dlt.transformer(resources.runs, data_from=automations, **schema.RUNS.hints())(client, config)
    run_events = dlt.transformer(resources.run_events, data_from=runs, **schema.RUN_EVENTS.hints())(client, config)
    execution_outputs = dlt.transformer(
        resources.execution_outputs, data_from=run_events, **schema.EXECUTION_OUTPUTS.hints())(client)
    daily_run_aggregates = dlt.transformer(
        resources.daily_run_aggregates, data_from=workspaces, **schema.DAILY_RUN_AGGREGATES.hints())(client, config)
    automation_run_aggregates = dlt.transformer(
        resources.automation_run_aggregates, data_from=workspaces, **schema.AUTOMATION_RUN_AGGREGATES.hints()
    )(client, config)
    return [workspaces, automations, runs, run_events, execution_outputs, daily_run_aggregates,
            automation_run_aggregates]


def _retry_settings() -> dict[str, float]:
    """Timeouts and retry caps from dlt's own runtime settings (`[runtime] request_*`), where the user set them."""
    names = {"timeout": "request_timeout", "max_attempts": "request_max_attempts",
             "initial_retry_wait": "request_backoff_factor", "max_retry_wait": "request_max_retry_delay"}
    found: dict[str, Any] = {arg: dlt.config.get(f"runtime.{key}") for arg, key in names.items()}
    return {arg: float(value) for arg, value in found.items() if value is not None}
