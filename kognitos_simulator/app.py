"""The HTTP face of the simulator: an ASGI app serving the Kognitos REST API (v1) from a `World`.

One request goes: fault decision -> rate limit (a token bucket per bearer token, ratelimit.py) -> latency
-> routing (colon custom methods included) -> bearer auth -> parameter and filter validation -> the world
-> JSON. Errors are `rpcStatus` bodies with
grpc-gateway's HTTP statuses: an unknown path under /api/v1 is 404, a known path with the wrong method
501 (as grpc-gateway answers), anything outside /api/v1 403 (as observed, kognitos-api.md §1.1).

JSON follows proto3 rules: empty lists and zero values are omitted, so an empty page is `{}` and the
last page has no `next_page_token`. The `Date` header carries the simulated clock (run the app with
uvicorn's own date header off, as server.py and cli.py do).
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import operator
import re
import time
from collections import Counter
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import orjson

from kognitos_simulator.errors import ApiError, Code, detail, invalid_argument, not_found
from kognitos_simulator.faults import FaultKind, Faults
from kognitos_simulator.filters import (
    automation_id_filter,
    automation_state_filter,
    exception_filter,
    node_kind_filter,
    run_filter,
    title_filter,
)
from kognitos_simulator.pagination import PageTokens, effective_page_size
from kognitos_simulator.params import Query
from kognitos_simulator.ratelimit import RateLimiter
from kognitos_simulator.requestlog import NO_RESPONSE, LoggedRequest, RequestLog
from kognitos_simulator.seeds import derive_seed
from kognitos_simulator.transport import Headers, Send, drop_connection, respond, respond_truncated
from kognitos_simulator.values import Json
from kognitos_simulator.world import World

_log = logging.getLogger(__name__)
API_PREFIX = "/api/v1/"
_JSON_HEADERS: Headers = [(b"content-type", b"application/json")]
_WORKSPACE_ORDER_FIELDS = ("title", "create_time", "update_time")


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    params: dict[str, str]
    query: Query
    body: bytes


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    headers: Headers = field(default_factory=list)

    @staticmethod
    def json(value: Json) -> Reply:
        return Reply(200, orjson.dumps(value))

    @staticmethod
    def error(error: ApiError, headers: Headers | None = None) -> Reply:
        return Reply(error.http_status, orjson.dumps(error.body()), headers or [])


Handler = Callable[["SimulatorApp", Request], Reply]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler


def _compile(template: str) -> re.Pattern[str]:
    """/a/{x}:verb -> a regex; path parameters never span '/' or ':' (custom methods)."""
    parts = re.split(r"\{(\w+)\}", template)
    regex = "".join(re.escape(part) if index % 2 == 0 else f"(?P<{part}>[^/:]+)" for index, part in enumerate(parts))
    return re.compile(regex)


_FAULT_ERRORS: dict[FaultKind, tuple[Code, str]] = {
    "rate_limit": (Code.RESOURCE_EXHAUSTED, "rate limit exceeded: too many requests"),
    "internal_error": (Code.INTERNAL, "internal error"),
    "unavailable": (Code.UNAVAILABLE, "the service is temporarily unavailable"),
    "deadline_exceeded": (Code.DEADLINE_EXCEEDED, "upstream request timeout"),
}


def _page_body(items_key: str, items: list[Json], next_token: str | None) -> Json:
    body: Json = {items_key: items} if items else {}
    if next_token:
        body["next_page_token"] = next_token
    return body


class SimulatorApp:
    """ASGI application; `faults`, `rate_limiter` and `request_log` are live objects tests may inspect and change."""

    def __init__(self, world: World, faults: Faults | None = None, request_log: RequestLog | None = None,
                 rate_limiter: RateLimiter | None = None) -> None:
        settings = world.settings
        self.world = world
        self.faults = faults if faults is not None else settings.faults
        self.request_log = request_log if request_log is not None else RequestLog()
        self.rate_limiter = rate_limiter if rate_limiter is not None else RateLimiter(settings.rate_limit,
                                                                                        settings.burst)
        self._tokens = PageTokens(derive_seed(settings.seed, "page-tokens").to_bytes(8, "big"))
        self._bearers = frozenset((settings.token, *settings.extra_tokens))

    async def __call__(self, scope: MutableMapping[str, Any], receive: Callable[[], Any], send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        await self.faults.pass_the_door()
        received = time.monotonic()
        method, path = scope["method"], scope["path"]
        query = Query(scope.get("query_string", b""))
        authorization = dict(scope.get("headers", [])).get(b"authorization", b"").decode("latin-1")
        fault = self.faults.draw(path)
        # Requests a fault answers never reach the service, so they take no token from the bucket.
        answered_by_fault = fault == "drop_connection" or fault in _FAULT_ERRORS
        wait = None if answered_by_fault else self.rate_limiter.take(_credential(authorization))
        delay = self.faults.delay(fault)
        if delay > 0:
            await asyncio.sleep(delay)
        if fault == "drop_connection":
            self.request_log.record(LoggedRequest(method, path, query.as_dict(), NO_RESPONSE, received, delay))
            await drop_connection(send)
            return
        if fault in _FAULT_ERRORS:
            reply = self._fault_reply(fault)
        elif wait is not None:
            reply = self._rate_limited(wait)
        else:
            body = await _read_body(receive) if method == "POST" else b""
            reply = self._dispatch(method, path, query, authorization, body)
        self.request_log.record(LoggedRequest(method, path, query.as_dict(), reply.status, received, delay))
        # The service's clock is the simulated one: clients that read `Date` (e.g. for "today") see world.now.
        date = email.utils.format_datetime(self.world.now, usegmt=True).encode()
        response_headers = [*_JSON_HEADERS, (b"date", date), *reply.headers]
        if fault == "truncated_body" and reply.status == 200:
            await respond_truncated(send, reply.status, reply.body, response_headers)
        else:
            await respond(send, reply.status, reply.body, response_headers)

    @staticmethod
    async def _lifespan(receive: Callable[[], Any], send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _fault_reply(self, fault: FaultKind) -> Reply:
        code, message = _FAULT_ERRORS[fault]
        if fault != "rate_limit":
            return Reply.error(ApiError(code, message))
        return self._rate_limited(self.faults.retry_after_seconds)

    def _rate_limited(self, seconds: int) -> Reply:
        """429 RESOURCE_EXHAUSTED saying to retry after `seconds` (Retry-After and RetryInfo), unless
        `faults.rate_limit_retry_after` is off: then the answer says nothing about when to retry."""
        code, message = _FAULT_ERRORS["rate_limit"]
        if not self.faults.rate_limit_retry_after:
            return Reply.error(ApiError(code, message))
        error = ApiError(code, f"{message}; retry after {seconds} s", [detail("RetryInfo", retry_delay=f"{seconds}s")])
        return Reply.error(error, [(b"retry-after", str(seconds).encode())])

    def _dispatch(self, method: str, path: str, query: Query, authorization: str, body: bytes) -> Reply:
        if not path.startswith(API_PREFIX):
            return Reply.error(ApiError(Code.PERMISSION_DENIED, "missing authentication token (not an API path)"))
        route, params, wrong_method = None, {}, False
        for candidate in ROUTES:
            match = candidate.pattern.fullmatch(path)
            if match is None:
                continue
            if candidate.method != method:
                wrong_method = True
                continue
            route, params = candidate, match.groupdict()
            break
        if route is None:
            if wrong_method:
                return Reply.error(ApiError(Code.UNIMPLEMENTED, "Method Not Allowed"))
            return Reply.error(ApiError(Code.NOT_FOUND, "Not Found"))
        try:
            self._authenticate(authorization)
            if (organization := params.get("organization_id")) is not None:
                if not self.world.has_organization(organization):
                    raise not_found("organization", organization, f"organizations/{organization}")
                if organization != self.world.organization_id and "workspace_id" in params:
                    # An extra organization (SimulatorSettings.extra_organizations) has no workspaces.
                    workspace = params["workspace_id"]
                    raise not_found("workspace", workspace, f"organizations/{organization}/workspaces/{workspace}")
            return route.handler(self, Request(method, path, params, query, body))
        except ApiError as error:
            return Reply.error(error, [(b"www-authenticate", b"Bearer")] if error.code == Code.UNAUTHENTICATED else [])
        except Exception:  # a simulator bug: answer like the service would, and say where in the log
            _log.exception("unexpected error serving %s %s", method, path)
            return Reply.error(ApiError(Code.INTERNAL, "internal error"))

    def _authenticate(self, authorization: str) -> None:
        scheme, _, credentials = authorization.strip().partition(" ")
        if not authorization:
            raise ApiError(Code.UNAUTHENTICATED,
                           "missing bearer token: send 'Authorization: Bearer <personal access token>'")
        if scheme.lower() != "bearer" or credentials.strip() not in self._bearers:
            raise ApiError(Code.UNAUTHENTICATED, "invalid or expired personal access token")

    # Pagination over small, fully known lists (organizations, workspaces, automations).

    def _page(self, request: Request, items_key: str, items: list[Json], binding: str, default_size: int) -> Reply:
        requested = request.query.int32("page_size")
        size = effective_page_size(requested, default_size)
        bound = f"{binding}|{requested}"
        offset = self._tokens.position(request.query.text("page_token"), bound)
        page = items[offset : offset + size]
        more = offset + size < len(items)
        return Reply.json(_page_body(items_key, page, self._tokens.issue(bound, offset + size) if more else None))

    # Handlers.

    def list_organizations(self, request: Request) -> Reply:
        filter_text = request.query.text("filter")
        matches = title_filter(filter_text)
        organizations = [org for org in self.world.organizations() if matches is None or matches(org["title"])]
        return self._page(request, "user_organizations", organizations, f"orgs|{filter_text}", 50)

    def get_organization(self, request: Request) -> Reply:
        return Reply.json(self.world.organization(request.params["organization_id"]))

    def _workspaces(self, request: Request, items_key: str, ordered: bool) -> Reply:
        query = request.query
        filter_text = query.text("filter")
        matches = title_filter(filter_text)
        organization = request.params["organization_id"]
        own = self.world.workspaces() if organization == self.world.organization_id else []  # extras have none
        workspaces = [ws for ws in own if matches is None or matches(ws["title"])]
        order_by = query.text("order_by") if ordered else ""
        for name, descending in reversed(_order_by(order_by)):
            workspaces.sort(key=operator.itemgetter(name), reverse=descending)
        binding = f"{items_key}|{organization}|{filter_text}|{order_by}"
        return self._page(request, items_key, workspaces, binding, 50)

    def list_workspaces(self, request: Request) -> Reply:
        return self._workspaces(request, "workspaces", ordered=True)

    def list_user_workspaces(self, request: Request) -> Reply:
        return self._workspaces(request, "user_workspaces", ordered=False)

    def get_workspace(self, request: Request) -> Reply:
        return Reply.json(self.world.workspace(request.params["workspace_id"]))

    def list_automations(self, request: Request) -> Reply:
        query, workspace_id = request.query, request.params["workspace_id"]
        show_deleted = query.boolean("show_deleted")
        filter_text = query.text("filter")
        matches = automation_state_filter(filter_text)
        automations = [a for a in self.world.automations(workspace_id, show_deleted)
                       if matches is None or matches("latest_published_version" in a)]
        binding = f"automations|{workspace_id}|{filter_text}|{show_deleted}"
        return self._page(request, "automations", automations, binding, 10)

    def get_automation(self, request: Request) -> Reply:
        return Reply.json(self.world.automation(request.params["workspace_id"], request.params["automation_id"]))

    def _check_runs_readable(self, workspace_id: str, automation_id: str) -> None:
        """NOT_FOUND for a deleted automation's runs, where the settings choose that reading of the service."""
        if (not self.world.settings.deleted_automation_runs_found
                and self.world.automation(workspace_id, automation_id).get("delete_time")):
            raise not_found("automation", automation_id, f"workspaces/{workspace_id}/automations/{automation_id}")

    def list_runs(self, request: Request) -> Reply:
        query, params = request.query, request.params
        workspace_id, automation_id = params["workspace_id"], params["automation_id"]
        self._check_runs_readable(workspace_id, automation_id)
        requested = query.int32("page_size")
        size = effective_page_size(requested, 10)
        filter_text = query.text("filter")
        matching = run_filter(filter_text)
        token = query.text("page_token")
        binding = f"runs|{workspace_id}|{automation_id}|{filter_text}|{requested}"
        offset = self._tokens.position(token, binding)
        inserts = self.faults.insert_runs_while_paginating
        if token and inserts > 0 and self.world.accepts_runs(workspace_id, automation_id):
            self.world.insert_runs(workspace_id, automation_id, inserts)
        runs, more = self.world.list_runs(workspace_id, automation_id, matching, offset, size)
        next_token = self._tokens.issue(binding, offset + len(runs)) if more else None
        return Reply.json(_page_body("runs", runs, next_token))

    def get_run(self, request: Request) -> Reply:
        params = request.params
        self._check_runs_readable(params["workspace_id"], params["automation_id"])
        return Reply.json(self.world.run(params["workspace_id"], params["automation_id"], params["run_id"]))

    def pause_run(self, request: Request) -> Reply:
        body = _json_body(request.body, allowed=("reason",))
        reason = body.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise invalid_argument("reason", "reason is required: say why the run is paused")
        params = request.params
        return Reply.json(self.world.pause_run(params["workspace_id"], params["automation_id"], params["run_id"],
                                               reason))

    def continue_run(self, request: Request) -> Reply:
        _json_body(request.body, allowed=())
        params = request.params
        return Reply.json(self.world.continue_run(params["workspace_id"], params["automation_id"],
                                                  params["run_id"]))

    def list_run_events(self, request: Request) -> Reply:
        query, params = request.query, request.params
        requested = query.int32("page_size")
        size = effective_page_size(requested, 100)
        filter_text = query.text("filter")
        matches = node_kind_filter(filter_text)
        run = f"{params['workspace_id']}|{params['automation_id']}|{params['run_id']}"
        binding = f"events|{run}|{filter_text}|{requested}"
        position = self._tokens.position(query.text("page_token"), binding)
        events, next_position = self.world.events_page(params["workspace_id"], params["automation_id"],
                                                       params["run_id"], matches, position, size)
        parts = [b'{"run_events":[' + b",".join(events) + b"]"] if events else [b"{"]
        if next_position is not None:
            token = orjson.dumps(self._tokens.issue(binding, next_position))
            parts.append((b',"next_page_token":' if events else b'"next_page_token":') + token)
        return Reply(200, b"".join(parts) + b"}")

    def automation_run_aggregates(self, request: Request) -> Reply:
        entries = self.world.automation_run_aggregates(request.params["workspace_id"])
        return Reply.json({"automation_run_aggregates": entries} if entries else {})

    def daily_run_aggregates(self, request: Request) -> Reply:
        query = request.query
        start, end = query.date("start_date"), query.date("end_date")
        automation_ids = automation_id_filter(query.text("filter"))
        rows = self.world.daily_run_aggregates(request.params["workspace_id"], query.text("time_zone"), start, end,
                                               sorted(automation_ids or ()))
        return Reply.json({"daily_run_aggregates": rows} if rows else {})

    def execution_outputs(self, request: Request) -> Reply:
        params = request.params
        return Reply.json(self.world.execution_outputs(params["workspace_id"], params["execution_id"]))

    def list_exceptions(self, request: Request) -> Reply:
        query, workspace_id = request.query, request.params["workspace_id"]
        requested = query.int32("page_size")
        size = effective_page_size(requested, 50)
        skip = query.int32("skip")
        if skip < 0:
            raise invalid_argument("skip", f"skip must not be negative, got {skip}")
        filter_text = query.text("filter")
        matches = exception_filter(filter_text)
        binding = f"exceptions|{workspace_id}|{filter_text}|{requested}|{skip}"
        token = query.text("page_token")
        # AIP-158: skip counts from the token's position, on every request that sends it.
        offset = self._tokens.position(token, binding) + skip
        if token and self.faults.advance_clock_while_paginating_exceptions > 0:
            self.world.advance(timedelta(seconds=self.faults.advance_clock_while_paginating_exceptions))
        page, total = self.world.exceptions_page(workspace_id, matches, offset, size)
        more = offset + size < total
        body = _page_body("exceptions", page, self._tokens.issue(binding, offset + size) if more else None)
        if total:
            body["total_size"] = total
        return Reply.json(body)

    def get_exception(self, request: Request) -> Reply:
        params = request.params
        return Reply.json(self.world.exception(params["workspace_id"], params["exception_id"]))

    def _exception_counts(self, request: Request, items_key: str,
                          entries_of: Callable[[Counter[str], Counter[str]], list[Json]]) -> Reply:
        """countByGroup / countByAutomation: counts of the filtered exceptions, most first, paged like a list."""
        query, workspace_id = request.query, request.params["workspace_id"]
        requested = query.int32("page_size")
        size = effective_page_size(requested, 50)
        filter_text = query.text("filter")
        by_group, by_automation = self.world.exception_counts(workspace_id, exception_filter(filter_text))
        entries = entries_of(by_group, by_automation)
        binding = f"{items_key}|{workspace_id}|{filter_text}|{requested}"
        offset = self._tokens.position(query.text("page_token"), binding)
        more = offset + size < len(entries)
        body = _page_body(items_key, entries[offset : offset + size],
                          self._tokens.issue(binding, offset + size) if more else None)
        if entries:
            body["total_size"] = len(entries)
            body["total_exception_count"] = by_group.total()
        return Reply.json(body)

    def count_exceptions_by_group(self, request: Request) -> Reply:
        workspace_id = request.params["workspace_id"]
        groups = {group["name"]: group for group in self.world.exception_groups(workspace_id)}

        def entries(by_group: Counter[str], _: Counter[str]) -> list[Json]:
            return [{"group": groups[name] if name else _UNGROUPED, "count": count}
                    for name, count in _most_first(by_group)]

        return self._exception_counts(request, "group_counts", entries)

    def count_exceptions_by_automation(self, request: Request) -> Reply:
        def entries(_: Counter[str], by_automation: Counter[str]) -> list[Json]:
            return [{"automation": name, "count": count} for name, count in _most_first(by_automation)]

        return self._exception_counts(request, "automation_counts", entries)


_UNGROUPED: Json = {"title": "Ungrouped", "description": "Exceptions not assigned to any group."}
"""countByGroup's entry for exceptions without a group: a group without a name (Exception.group is empty)."""


def _most_first(counts: Counter[str]) -> list[tuple[str, int]]:
    """Counts in the order count endpoints list them: largest first, ties by name."""
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def _credential(authorization: str) -> str:
    """The bearer token a request carries (its rate-limit bucket); "" for requests without one."""
    scheme, _, credentials = authorization.strip().partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else ""


def _order_by(text: str) -> list[tuple[str, bool]]:
    """AIP-132 `order_by` for workspaces; default create_time descending."""
    if not text.strip():
        return [("create_time", True)]
    order = []
    for clause in text.split(","):
        words = clause.split()
        if not words or len(words) > 2 or words[0] not in _WORKSPACE_ORDER_FIELDS or (
            len(words) == 2 and words[1] not in ("asc", "desc")
        ):
            raise invalid_argument("order_by", f'cannot order by "{clause.strip()}"; use title, create_time or '
                                               "update_time, each optionally followed by asc or desc")
        order.append((words[0], len(words) == 2 and words[1] == "desc"))
    return order


def _json_body(raw: bytes, allowed: tuple[str, ...]) -> Json:
    """A request body as protojson reads it: empty means {}, unknown fields are errors."""
    if not raw.strip():
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise invalid_argument("body", "the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise invalid_argument("body", "the request body must be a JSON object")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise invalid_argument("body", f'unknown field "{unknown[0]}"')
    return body


async def _read_body(receive: Callable[[], Any]) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


_ORG = "/api/v1/organizations/{organization_id}"
_WS = _ORG + "/workspaces/{workspace_id}"
_RUN = _WS + "/automations/{automation_id}/runs/{run_id}"
ROUTES: tuple[Route, ...] = tuple(
    Route(method, _compile(template), handler)
    for method, template, handler in (
        ("GET", "/api/v1/me/organizations", SimulatorApp.list_organizations),
        ("GET", _ORG, SimulatorApp.get_organization),
        ("GET", _ORG + "/workspaces", SimulatorApp.list_workspaces),
        ("GET", "/api/v1/me/organizations/{organization_id}/workspaces", SimulatorApp.list_user_workspaces),
        ("GET", _WS, SimulatorApp.get_workspace),
        ("GET", _WS + ":automationRunAggregates", SimulatorApp.automation_run_aggregates),
        ("GET", _WS + ":dailyRunAggregates", SimulatorApp.daily_run_aggregates),
        ("GET", _WS + "/automations", SimulatorApp.list_automations),
        ("GET", _WS + "/automations/{automation_id}", SimulatorApp.get_automation),
        ("GET", _WS + "/automations/{automation_id}/runs", SimulatorApp.list_runs),
        ("GET", _RUN, SimulatorApp.get_run),
        ("POST", _RUN + ":pause", SimulatorApp.pause_run),
        ("POST", _RUN + ":continue", SimulatorApp.continue_run),
        ("GET", _RUN + "/events", SimulatorApp.list_run_events),
        ("GET", _WS + "/executions/{execution_id}/outputs", SimulatorApp.execution_outputs),
        ("GET", _WS + "/exceptions", SimulatorApp.list_exceptions),
        ("GET", _WS + "/exceptions:countByGroup", SimulatorApp.count_exceptions_by_group),
        ("GET", _WS + "/exceptions:countByAutomation", SimulatorApp.count_exceptions_by_automation),
        ("GET", _WS + "/exceptions/{exception_id}", SimulatorApp.get_exception),
    )
)


def create_app(world: World, faults: Faults | None = None, request_log: RequestLog | None = None,
               rate_limiter: RateLimiter | None = None) -> SimulatorApp:
    """The ASGI app serving `world` (faults default to the world's settings.faults, the rate limit to its
    settings.rate_limit and burst)."""
    return SimulatorApp(world, faults, request_log, rate_limiter)
