"""Defaults of the Kognitos source: one place for every tunable constant."""

from __future__ import annotations

DEFAULT_BASE_URL = "https://app.us-1.kognitos.com"
API_PREFIX = "/api/v1"
SOURCE_NAME = "kognitos"
CONFIG_SECTION = "kognitos"

# The API caps every page at 1000 items (kognitos-api.md §3.2, §3.8); asking for the cap minimises requests.
MAX_PAGE_SIZE = 1000

# HTTP client. Rate limits are not published (kognitos-api.md §1.8), so retries are generous but bounded.
REQUEST_TIMEOUT_SECONDS = 30.0
CONNECT_TIMEOUT_SECONDS = 10.0
MAX_ATTEMPTS = 6
MAX_RETRY_WAIT_SECONDS = 60.0
INITIAL_RETRY_WAIT_SECONDS = 0.5
DEFAULT_MAX_CONCURRENT_REQUESTS = 8
USER_AGENT = "kognitos-elt/0.1 (+dlt)"

# Rows per Arrow page handed to dlt: why this size, docs/design.md ("The data path, measured").
ROWS_PER_PAGE = 5_000

RUN_PAGES_READ_AHEAD = 4
"""Listing pages of an automation's runs read ahead on a worker (`runs`), at most one automation per worker."""

DEFAULT_UNCHANGED_AUTOMATIONS_LISTED_EVERY_HOURS = 6.0
"""An automation whose run total did not change is listed anyway after this long, in case the counter lags."""

DEFAULT_TIME_ZONES = ("UTC",)

# Runs named in one List Exceptions `run = "a" OR run = "b" ...` filter: ~50 characters each, so a request's URL stays
# well under the 8 KiB many servers and proxies accept.
EXCEPTION_RUNS_PER_REQUEST = 50

# Daily aggregates: a first load without start_date covers this many days back; later loads re-query
# the last few days (today and yesterday by default), whose counts may still grow.
DEFAULT_DAILY_HISTORY_DAYS = 365
DEFAULT_DAILY_LOOKBACK_DAYS = 2
WORKSPACE_WIDE = "*"
"""`automation_id` of daily aggregate rows that count the whole workspace (no NULL in a key)."""

OUTPUT_TYPES_INFERRED = "inferred"
OUTPUT_TYPES_DECLARED = "declared"
OUTPUT_TYPES = (OUTPUT_TYPES_INFERRED, OUTPUT_TYPES_DECLARED)
"""Where execution_outputs' `value_type` comes from (SourceConfig.execution_output_types)."""
