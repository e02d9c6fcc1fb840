"""Each contender in a fresh interpreter: `python -m benchmarks.contenders NAME --base-url URL ...`.

The parent (run.py) times the whole process, interpreter start-up and imports included, as a cron user pays
them: each contender imports what it needs where it needs it, does its work and prints `RESULT <json>` with its
own request count (the simulator's request log lives in its process), what its HTTP library sent and got back
(`Wire`: requests by endpoint, 429 answers) and its CPU time since it started.
"""

from __future__ import annotations

import argparse
import os
import re
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson

RESULT_PREFIX = "RESULT "
KOGNITOS_ELT_DUCKDB = "kognitos_elt.duckdb"
PEER_DUCKDB = "peer.duckdb"

Result = dict[str, Any]

ENDPOINTS: tuple[tuple[str, re.Pattern[str]], ...] = tuple((name, re.compile(pattern)) for name, pattern in (
    ("List Organizations", r"/me/organizations$"),
    ("List Workspaces", r"/workspaces$"),
    ("List Automations", r"/automations$"),
    ("List Runs", r"/runs$"),
    ("Get Run", r"/runs/[^/]+$"),
    ("List Run Events", r"/events$"),
    ("Get Execution Outputs", r"/outputs$"),
    ("Daily Run Aggregates", r":dailyRunAggregates$"),
    ("Automation Run Aggregates", r":automationRunAggregates$"),
))


def endpoint(path: str) -> str:
    """The API method a request path calls (the names of the reference), "other" for anything else."""
    return next((name for name, pattern in ENDPOINTS if pattern.search(path)), "other")


class Wire:
    """Instrumentation, not configuration: every request a contender's HTTP library sends, by endpoint, and its 429s."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_endpoint: Counter[str] = Counter()
        self.refused = 0

    def saw(self, path: str, status: int) -> None:
        with self._lock:
            self.by_endpoint[endpoint(path)] += 1
            self.refused += status == 429

    def result(self) -> Result:
        return {"by_endpoint": dict(self.by_endpoint), "refused": self.refused}

    def watch_httpx(self) -> None:
        import httpx

        send = httpx.Client.send

        def watched_send(client: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
            response = send(client, request, **kwargs)
            self.saw(request.url.path, response.status_code)
            return response

        httpx.Client.send = watched_send  # type: ignore[method-assign]

    def watch_requests(self) -> None:
        import requests.adapters

        send = requests.adapters.HTTPAdapter.send

        def watched_send(adapter: requests.adapters.HTTPAdapter, request: Any, *args: Any, **kwargs: Any) -> Any:
            response = send(adapter, request, *args, **kwargs)
            self.saw(request.path_url.split("?", 1)[0], response.status_code)
            return response

        requests.adapters.HTTPAdapter.send = watched_send  # type: ignore[method-assign]


def _source_options(args: argparse.Namespace) -> dict[str, Any]:
    return {"access_token": args.token, "base_url": args.base_url, "organization_id": args.organization_id,
            "max_concurrent_requests": args.concurrency}


def _kognitos_elt(args: argparse.Namespace) -> Result:
    """A full backfill without the models (the `models` contender times them), or, run again in the same directory
    as the no-op, the incremental load after it as `kognitos-elt run` does it (models checked, none rebuilt)."""
    from kognitos_elt.destination import duckdb_destination
    from kognitos_elt.session import run_load

    summary = run_load(destination=duckdb_destination("kognitos", str(Path.cwd() / KOGNITOS_ELT_DUCKDB)),
                       source_options=_source_options(args), models=None if args.name == "noop" else False)
    return {"requests": summary.stats.get("requests", 0), "runs": summary.rows.get("runs", 0),
            "events": summary.rows.get("run_events", 0), "rows": summary.rows, "notes": summary.notes}


def _models(args: argparse.Namespace) -> Result:
    """The analytics models on the backfill's DuckDB file: built as `kognitos-elt run` builds them after a load,
    then each one read in full into Arrow, as a report or a notebook reads it."""
    import time

    import dlt
    import duckdb

    from kognitos_analytics.builder import analytics_schema, loaded_scope, refresh_after_load
    from kognitos_elt.destination import DEFAULT_PIPELINE_NAME, duckdb_destination

    path = str(Path.cwd() / KOGNITOS_ELT_DUCKDB)
    pipeline = dlt.pipeline(DEFAULT_PIPELINE_NAME, destination=duckdb_destination("kognitos", path),
                            dataset_name="kognitos")
    outcome = refresh_after_load(pipeline, scope=loaded_scope(), events_loaded=True)
    rows, seconds = {}, {"build": outcome.seconds}
    with duckdb.connect(path, read_only=True) as connection:
        for model in outcome.results:
            started = time.perf_counter()
            table = connection.sql(f"SELECT * FROM {analytics_schema('kognitos')}.{model}").arrow().read_all()
            rows[model] = table.num_rows
            seconds[model] = time.perf_counter() - started
    return {"requests": 0, "runs": 0, "events": 0, "rows": rows, "seconds": seconds}


def _limit(args: argparse.Namespace) -> Result:
    from benchmarks.limit import fetch_all

    fetched = fetch_all(args.base_url, args.token, args.organization_id, args.concurrency)
    items: dict[str, int] = fetched["items"]
    return {"requests": fetched["requests"], "runs": items.get("runs", 0), "events": items.get("run_events", 0),
            "rows": items}


def _peer(args: argparse.Namespace) -> Result:
    from benchmarks.peer import load

    rows = load(args.base_url, args.token, args.organization_id, str(Path.cwd() / PEER_DUCKDB), args.today,
                args.concurrency)
    return {"runs": rows.get("runs", 0), "events": rows.get("run_events", 0), "rows": rows}


CONTENDERS: dict[str, Callable[[argparse.Namespace], Result]] = {
    "kognitos-elt": _kognitos_elt,
    "noop": _kognitos_elt,
    "models": _models,
    "limit": _limit,
    "peer": _peer,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.contenders")
    parser.add_argument("name", choices=sorted(CONTENDERS))
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--organization-id", required=True)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--today", type=date.fromisoformat, default=datetime.now(UTC).date(),
                        help="the service's date: the end of the peer's daily aggregates")
    args = parser.parse_args(argv)
    wire = Wire()
    if args.name == "peer":
        wire.watch_requests()
    elif args.name != "models":
        wire.watch_httpx()
    result = CONTENDERS[args.name](args) | wire.result()
    result.setdefault("requests", sum(wire.by_endpoint.values()))
    used = os.times()  # the whole process so far: start-up and imports are part of what a load costs
    result["cpu_seconds"] = used.user + used.system
    print(RESULT_PREFIX + orjson.dumps(result).decode(), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
