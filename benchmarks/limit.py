"""The limit: fetch exactly the pages a kognitos-elt full backfill fetches, parse them, throw them away.

Same URLs (page_size 1000, deleted automations listed with their runs, both aggregates and the exceptions per
workspace; the outputs of every completed execution read from its `completed` journal entry, as kognitos-elt reads
them by default, with no request), the same bound on requests in flight, the same HTTP stack (one `httpx.Client`,
worker threads) and the same parser (orjson). Nothing else: no rows, no schema, no files. Work is a LIFO queue of
requests drained by `concurrency` threads, so the bound is always saturated while anything is left to fetch: no
loader that respects the bound can finish sooner.
"""

from __future__ import annotations

import email.utils
import queue
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

import httpx
import orjson

PAGE_SIZE = 1000
DAILY_HISTORY_DAYS = 365
"""kognitos-elt's first load of a daily series reaches a year back (settings.DEFAULT_DAILY_HISTORY_DAYS)."""
TIME_ZONE = "UTC"

Json = dict[str, Any]
Params = dict[str, str | int]
Task = Callable[[], None]


class Limit:
    """One backfill's worth of requests, `concurrency` at a time; `requests` and `items` count what came back."""

    def __init__(self, base_url: str, token: str, organization_id: str, concurrency: int = 8) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/") + "/api/v1",
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
            timeout=httpx.Timeout(60.0),
        )
        self._organization_id = organization_id
        self._concurrency = concurrency
        self._queue: queue.LifoQueue[Task | None] = queue.LifoQueue()
        self._lock = threading.Lock()
        self._errors: list[BaseException] = []
        self.requests = 0
        self.items: Counter[str] = Counter()

    def run(self) -> None:
        """Fetch everything; raises the first error any request met."""
        self._submit(partial(self._list, f"/me/organizations/{self._organization_id}/workspaces", {},
                             "user_workspaces", self._on_workspaces))
        workers = [threading.Thread(target=self._work, daemon=True) for _ in range(self._concurrency)]
        for worker in workers:
            worker.start()
        self._queue.join()
        for _ in workers:
            self._queue.put(None)
        for worker in workers:
            worker.join()
        self._http.close()
        if self._errors:
            raise self._errors[0]

    def _submit(self, task: Task) -> None:
        self._queue.put(task)

    def _work(self) -> None:
        while True:
            task = self._queue.get()
            try:
                if task is None:
                    return
                if not self._errors:  # after a failure, drain the queue without requests
                    task()
            except Exception as error:
                self._errors.append(error)
            finally:
                self._queue.task_done()

    def _get(self, path: str, params: Params) -> tuple[Json, httpx.Response]:
        response = self._http.get(path, params=params)
        with self._lock:
            self.requests += 1
        response.raise_for_status()
        return orjson.loads(response.content), response

    def _count(self, kind: str, amount: int) -> None:
        with self._lock:
            self.items[kind] += amount

    def _list(self, path: str, params: Params, key: str, on_items: Callable[[list[Json], httpx.Response], None],
              page_size: int = PAGE_SIZE) -> None:
        """One page of a list endpoint; the next page (it needs this page's token) goes back on the queue."""
        body, response = self._get(path, {"page_size": page_size, **params})
        items: list[Json] = body.get(key) or []
        self._count(key, len(items))
        if token := body.get("next_page_token"):
            self._submit(partial(self._list, path, {**params, "page_token": token}, key, on_items, page_size))
        on_items(items, response)

    def _on_workspaces(self, workspaces: list[Json], response: httpx.Response) -> None:
        today = server_today(response)
        for workspace in workspaces:
            path = "/" + workspace["name"]
            self._submit(partial(self._list, f"{path}/automations", {"show_deleted": "true"}, "automations",
                                 self._on_automations))
            self._submit(partial(self._single, f"{path}:automationRunAggregates", {}, "automation_run_aggregates"))
            self._submit(partial(self._single, f"{path}:dailyRunAggregates", _daily_params(today),
                                 "daily_run_aggregates"))
            self._submit(partial(self._list, f"{path}/exceptions", {}, "exceptions", _ignore))

    def _on_automations(self, automations: list[Json], _: httpx.Response) -> None:
        for automation in automations:  # deleted ones included, as kognitos-elt lists their runs too
            self._submit(partial(self._list, "/" + automation["name"] + "/runs", {}, "runs", self._on_runs))

    def _on_runs(self, runs: list[Json], _: httpx.Response) -> None:
        for run in runs:
            self._submit(partial(self._list, f"/{run['name']}/events", {}, "run_events", self._on_events))

    def _on_events(self, events: list[Json], _: httpx.Response) -> None:
        for event in events:
            journal = event.get("execution_journal") or {}
            if "completed" in journal:
                self._count("outputs", len((journal["completed"] or {}).get("outputs") or {}))

    def _single(self, path: str, params: Params, key: str) -> None:
        body, _ = self._get(path, params)
        self._count(key, len(body.get(key) or ()))


def _ignore(_items: list[Json], _response: httpx.Response) -> None:
    """Pages whose items lead to no further request (exceptions)."""


def server_today(response: httpx.Response) -> date:
    """The service's UTC date from its `Date` header, as kognitos-elt's client takes "today" (else this clock's)."""
    header = response.headers.get("Date")
    moment = email.utils.parsedate_to_datetime(header) if header else datetime.now(UTC)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC).date()


def _daily_params(today: date) -> Params:
    """kognitos-elt's first daily series request: a year back to today, one extra day on each side."""
    start, end = today - timedelta(days=DAILY_HISTORY_DAYS + 1), today + timedelta(days=1)
    return {"time_zone": TIME_ZONE,
            "start_date.year": start.year, "start_date.month": start.month, "start_date.day": start.day,
            "end_date.year": end.year, "end_date.month": end.month, "end_date.day": end.day}


def fetch_all(base_url: str, token: str, organization_id: str, concurrency: int = 8) -> dict[str, Any]:
    """Run the limit once: requests made and items seen per list key (runs, run_events, ...)."""
    limit = Limit(base_url, token, organization_id, concurrency)
    limit.run()
    return {"requests": limit.requests, "items": dict(limit.items)}
