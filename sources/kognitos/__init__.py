"""kognitos_source: Kognitos workspaces, automations, runs, run events, outputs, aggregates and exceptions as a dlt
source.

Configure it the dlt way (`.dlt/config.toml`, `.dlt/secrets.toml` or env vars under `sources.kognitos`):

    from kognitos_elt import kognitos_source, finish_interrupted_loads   # or `from kognitos import ...` after dlt init
    pipeline = dlt.pipeline("kognitos", destination="duckdb", dataset_name="kognitos")
    finish_interrupted_loads(pipeline)
    pipeline.run(kognitos_source())

This folder is self-contained (dlt and the libraries in requirements.txt, relative imports only): `dlt init kognitos`
copies it into a project as `kognitos/`, and the kognitos-elt wheel installs it as `kognitos_elt.kognitos`.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

import dlt
from dlt.sources import DltResource

from . import resources, settings, tables
from .client import KognitosClient
from .config import SourceConfig, resolve_source_config
from .errors import (
    ApiError,
    AuthError,
    ConfigError,
    ConnectionSetupError,
    ExitCode,
    InvalidRequestError,
    KognitosError,
    NotFoundError,
    RetryableError,
)
from .interrupted import UnrepeatableJobError, finish_interrupted_loads
from .stats import LoadStats

__all__ = [
    "ApiError",
    "AuthError",
    "ConfigError",
    "ConnectionSetupError",
    "ExitCode",
    "InvalidRequestError",
    "KognitosClient",
    "KognitosError",
    "LoadStats",
    "NotFoundError",
    "RetryableError",
    "SourceConfig",
    "UnrepeatableJobError",
    "finish_interrupted_loads",
    "kognitos_source",
]


@dlt.source(name=settings.SOURCE_NAME, section=settings.CONFIG_SECTION, max_table_nesting=0)
def kognitos_source(
    *, stats: LoadStats | None = None, cleanup: ExitStack | None = None, **options: Any
) -> list[DltResource]:
    """Load Kognitos workspaces, automations, runs and exceptions, incrementally: the tables of tables.py.

    The options (`access_token`, `organization_id`, `base_url`, ...) are the fields of `SourceConfig` (config.py),
    where each is declared and documented once. Pass any of them by keyword; the others come from dlt config
    (`[sources.kognitos]` in `.dlt/config.toml` / `.dlt/secrets.toml`, or `SOURCES__KOGNITOS__<NAME>`). Every value
    is checked here, before any request: a bad one raises `ConfigError` naming the key and the fix. Left unset,
    `organization_id` is the only organization the token can see, looked up by the load's first request (a token
    that sees several, or none, fails the load with a `ConfigError` listing them).

    Building the source opens nothing: its HTTP client connects, and starts its worker threads, on the first
    request. Pass `cleanup` to have them closed when the load ends (`kognitos-elt run` and the Dagster asset do):

        with ExitStack() as cleanup:
            pipeline.run(kognitos_source(cleanup=cleanup))

    For big backfills set `[extract] next_item_mode = "fifo"`: dlt then finishes one page's children before the
    next page, which keeps memory flat (`kognitos-elt run` does it for its loads).

    Args:
        stats: Counters (requests, runs new and updated) for a caller's summary; not configuration.
        cleanup: Where to register the closing of the source's HTTP client and threads; not configuration.
        **options: Source options by name (SourceConfig's fields).
    """
    config = resolve_source_config(options)
    stats = stats or LoadStats()
    client = KognitosClient(config.base_url, config.access_token, max_connections=config.max_concurrent_requests,
                            stats=stats, max_requests_per_second=config.max_requests_per_second,
                            **_retry_settings())
    if cleanup is not None:
        cleanup.callback(client.close)
    load = resources.Load(client, config)
    built: dict[str, DltResource] = {}
    for table in tables.TABLES:
        if table.parent is None:
            built[table.name] = dlt.resource(table.read, **table.spec.hints())(load)
        else:
            built[table.name] = dlt.transformer(table.read, data_from=built[table.parent.name],
                                                **table.spec.hints())(load)
    return list(built.values())


def _retry_settings() -> dict[str, float]:
    """Timeouts and retry caps from dlt's own runtime settings (`[runtime] request_*`), where the user set them."""
    names = {"timeout": "request_timeout", "max_attempts": "request_max_attempts",
             "initial_retry_wait": "request_backoff_factor", "max_retry_wait": "request_max_retry_delay"}
    found: dict[str, Any] = {arg: dlt.config.get(f"runtime.{key}") for arg, key in names.items()}
    return {arg: float(value) for arg, value in found.items() if value is not None}
