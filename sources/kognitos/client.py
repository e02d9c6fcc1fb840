"""KognitosClient: one keep-alive httpx client with auth, retries and pagination; knows nothing of dlt."""

from __future__ import annotations

import email.utils
import logging
import random
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, TypeVar

import httpx
import orjson

from . import settings
from .errors import (
    ApiError,
    ConnectionSetupError,
    RetryableError,
    TransportError,
    config_key,
    error_chain,
    error_for_status,
)
from .pacing import Governor
from .params import Params
from .stats import LoadStats

logger = logging.getLogger(__name__)

JsonObject = dict[str, Any]
LOOKAHEAD_PER_WORKER = 8
"""`concurrently` starts at most this many items per worker ahead of its reader. Results come in order, so one slow
answer holds up every later one: with uneven latency (a p99 ten times the median) a window of 2 per worker kept
only 3-4 of 8 requests in flight and the load under a rate limit it could reach (docs/performance.md)."""
In = TypeVar("In")
Out = TypeVar("Out")


class KognitosClient:
    """Talks to the Kognitos REST API (or the simulator) on behalf of the resources.

    Every call retries 429, 5xx, timeouts, dropped connections and malformed bodies with exponential
    backoff and jitter, honouring `Retry-After`; other 4xx fail at once with an `ApiError` whose message
    says what to fix. The client is thread-safe, so event fetching can share it across workers, and every
    request goes through one `Governor` (pacing.py): a refusal slows the whole load, not one thread.
    """

    def __init__(
        self,
        base_url: str,
        access_token: str,
        *,
        timeout: float = settings.REQUEST_TIMEOUT_SECONDS,
        max_attempts: float = settings.MAX_ATTEMPTS,
        max_retry_wait: float = settings.MAX_RETRY_WAIT_SECONDS,
        initial_retry_wait: float = settings.INITIAL_RETRY_WAIT_SECONDS,
        max_connections: int = settings.DEFAULT_MAX_CONCURRENT_REQUESTS,
        stats: LoadStats | None = None,
        max_requests_per_second: float | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/") + settings.API_PREFIX,
            headers={
                "Authorization": f"Bearer {access_token}",
                "Accept": "application/json",
                "User-Agent": settings.USER_AGENT,
            },
            timeout=httpx.Timeout(timeout, connect=settings.CONNECT_TIMEOUT_SECONDS),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        )
        self._max_attempts = int(max_attempts)
        self._initial_retry_wait = initial_retry_wait
        self._max_retry_wait = max_retry_wait
        self.stats = stats or LoadStats()
        # Bounds requests in flight across every thread that shares this client; retry waits happen outside.
        self._in_flight = threading.BoundedSemaphore(max_connections)
        # One pool for every resource: dlt runs a transformer generator per parent page, and a pool per generator
        # meant up to 20 x 8 threads contending for the GIL and the semaphore above.
        self._workers = ThreadPoolExecutor(max_workers=max_connections, thread_name_prefix="kognitos-elt")
        self._lookahead = LOOKAHEAD_PER_WORKER * max_connections
        self._server_clock: tuple[datetime, float] | None = None
        self._last_date_header = ""
        self._governor = Governor(max_requests_per_second)
        self._cap_logged = threading.Event()
        self._closed = False

    def __enter__(self) -> KognitosClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the workers and the connections; say what the governor did if the service ever refused a request."""
        self._workers.shutdown(cancel_futures=True)
        self._http.close()
        report = self._governor.report()
        if report.refusals and not self._closed:
            logger.info(report.line())
            self.stats.note(report.line())
        self._closed = True

    def concurrently(self, fetch: Callable[[In], Out], items: Iterable[In], *, ahead: int | None = None
                     ) -> Generator[Out, None, None]:
        """`fetch` over `items` on the client's worker threads, results in order, `ahead` items (by default
        LOOKAHEAD_PER_WORKER per worker) ahead of the reader.

        Unlike `Executor.map`, which submits everything at once, this keeps memory flat however many items
        there are: finished results wait for the reader only within the window. Work not yet started is
        cancelled when the reader stops early (an error, a closed generator).
        """
        window: deque[Future[Out]] = deque()
        try:
            for item in items:
                window.append(self._workers.submit(fetch, item))
                if len(window) >= (ahead or self._lookahead):
                    yield window.popleft().result()
            while window:
                yield window.popleft().result()
        finally:
            for future in window:
                future.cancel()

    def get(self, path: str, params: Params | None = None) -> JsonObject:
        """GET one JSON object, with retries."""
        return self._call("GET", path, params=params)

    def post(self, path: str, body: Mapping[str, Any]) -> JsonObject:
        """POST a JSON body and return the JSON answer, with retries."""
        return self._call("POST", path, body=body)

    def pages(self, path: str, items_key: str, params: Params | None = None) -> Iterator[list[JsonObject]]:
        """Yield every page of a list endpoint as a list of items, following `next_page_token`.

        The same params go with every page (the API requires it, kognitos-api.md §1.5); only the token
        changes. A server that hands out the same token twice would loop forever, so that raises.
        """
        query: dict[str, str | int | bool] = dict(params or {})
        seen_tokens: set[str] = set()
        while True:
            page = self.get(path, query)
            yield page.get(items_key) or []
            token = page.get("next_page_token")
            if not token:
                return
            if token in seen_tokens:
                raise ApiError(
                    method="GET",
                    url=self._describe(path, query),
                    status=200,
                    detail="The API returned a page token it had already returned, so paging would never end.",
                )
            seen_tokens.add(token)
            query["page_token"] = token

    def _call(
        self, method: str, path: str, *, params: Params | None = None, body: Mapping[str, Any] | None = None
    ) -> JsonObject:
        """The retry loop, written out rather than tenacity's: its per-call bookkeeping cost more than this short loop
        (docs/performance.md, "Second round")."""
        attempt = 1
        while True:
            try:
                return self._attempt(method, path, params, body)
            except RetryableError as error:
                if attempt >= self._max_attempts:
                    raise error.gave_up(attempt) from error
                wait = retry_wait(attempt, error.retry_after, self._initial_retry_wait, self._max_retry_wait)
                logger.warning("Attempt %d failed: %s Retrying in %.1fs.", attempt, error.summary(), wait)
            time.sleep(wait)
            attempt += 1

    def _attempt(
        self, method: str, path: str, params: Params | None, body: Mapping[str, Any] | None
    ) -> JsonObject:
        self.stats.add("requests")
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s %s", method, self._describe(path, params))
        try:
            with self._in_flight:
                sent_at = self._governor.admit()  # once a request may go: a slot taken earlier could burst
                response = self._http.request(
                    method, path, params=params, content=orjson.dumps(body) if body is not None else None,
                    headers={"Content-Type": "application/json"} if body is not None else None,
                )
        except httpx.TransportError as exc:
            raise transport_failure(exc, method, self._describe(path, params), self._http.timeout) from exc
        self.stats.time_request(response.elapsed.total_seconds())
        try:
            payload = self._payload(method, response)
        except RetryableError as error:
            if error.status == 429 or (error.status == 503 and error.retry_after is not None):
                self._refused(error, sent_at)
            raise
        self._governor.answered(sent_at)
        return payload

    def _refused(self, error: RetryableError, sent_at: float) -> None:
        """A 429, or a 503 that says when to come back: the governor holds and slows every request of the load."""
        self.stats.add("requests_refused")
        wait = None if error.retry_after is None else min(error.retry_after, self._max_retry_wait)
        self._governor.refused(sent_at, time.monotonic(), wait)
        if (wait is not None and wait == error.retry_after) or self._cap_logged.is_set():
            return
        self._cap_logged.set()
        if error.retry_after is None:
            logger.warning("The service answered HTTP %d without Retry-After: refused requests back off exponentially "
                           "(from [runtime] request_backoff_factor, %g s, to request_max_retry_delay, %g s) and the "
                           "load slows down (said once per load).",
                           error.status, self._initial_retry_wait, self._max_retry_wait)
        else:
            logger.warning("The service answered HTTP %d asking to retry after %g s, more than [runtime] "
                           "request_max_retry_delay: the load waits %g s instead (said once per load).",
                           error.status, error.retry_after, self._max_retry_wait)

    def _payload(self, method: str, response: httpx.Response) -> JsonObject:
        """The JSON object of a response, or the error it stands for (the URL is only rendered for errors)."""
        try:
            payload = orjson.loads(response.content) if response.content else {}
        except orjson.JSONDecodeError:
            payload = None
        if response.is_success and isinstance(payload, dict):
            self._note_server_time(response.headers.get("Date"))
            return payload
        url = str(response.request.url)
        if response.is_success:
            raise TransportError(method=method, url=url, status=response.status_code,
                                 reason="the response body was not a JSON object (cut off or garbled)",
                                 advice=RetryableError.action)
        raise error_for_status(
            method=method, url=url, status=response.status_code,
            body=payload if isinstance(payload, dict) else None,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )

    def now(self) -> datetime:
        """The service's current time, from its last `Date` header, else this machine's clock.

        "Today" for daily aggregates is the service's today: a client whose clock is off (or a simulator
        whose clock is simulated) still asks for the right days.
        """
        if self._server_clock is None:
            return datetime.now(UTC)
        server_time, seen_at = self._server_clock
        return server_time + timedelta(seconds=time.monotonic() - seen_at)

    def _note_server_time(self, date_header: str | None) -> None:
        if not date_header or (self._server_clock and date_header == self._last_date_header):
            return
        self._last_date_header = date_header
        try:
            server_time = email.utils.parsedate_to_datetime(date_header)
        except (TypeError, ValueError):
            return
        if server_time.tzinfo is None:
            server_time = server_time.replace(tzinfo=UTC)
        self._server_clock = (server_time.astimezone(UTC), time.monotonic())

    def _describe(self, path: str, params: Params | None) -> str:
        """The request as a user can read it in an error: URL with its query, and no credentials."""
        return str(self._http.build_request("GET", path, params=params).url)


def retry_wait(attempt: int, retry_after: float | None, initial: float, maximum: float) -> float:
    """Seconds before the next attempt: what the server asked for (Retry-After), else exponential backoff
    (`initial` doubled per failed attempt) plus up to `initial` of jitter; never more than `maximum`."""
    if retry_after is not None:
        return min(retry_after, maximum)
    return min(initial * 2 ** (attempt - 1) + random.uniform(0, initial), maximum)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a `Retry-After` header given in seconds or as an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def transport_failure(exc: httpx.TransportError, method: str, url: str, timeout: httpx.Timeout) -> ApiError:
    """What went wrong below HTTP, said so that a person knows what to check; retryable unless it cannot fix itself."""
    target = exc.request.url
    host = f"{target.host}:{target.port or (443 if target.scheme == 'https' else 80)}"
    cause = next((error for error in error_chain(exc) if isinstance(error, OSError)), None)
    request = {"method": method, "url": url, "status": None}
    base_url = config_key("base_url")
    if isinstance(cause, ssl.SSLCertVerificationError):
        return ConnectionSetupError(
            reason=f"the TLS certificate of {host} is not trusted ({cause.verify_message})",
            advice=f"Retrying will not help. Check that {base_url} names the Kognitos host; behind a proxy that "
                   "re-signs TLS, point SSL_CERT_FILE at its CA bundle.", **request)
    if isinstance(cause, socket.gaierror) and cause.errno != socket.EAI_AGAIN:
        return ConnectionSetupError(
            reason=f"could not resolve host {target.host}",
            advice=f"No such host name: check {base_url} (retrying will not help).", **request)
    if isinstance(cause, socket.gaierror):
        reason = f"could not resolve host {target.host} (temporary DNS failure)"
        advice = f"Check this machine's DNS and network, and {base_url}."
    elif isinstance(cause, ConnectionRefusedError):
        reason = f"connection refused by {host}"
        advice = f"Nothing accepts connections there: check {base_url} (host and port) and that the service is up."
    elif isinstance(exc, httpx.TimeoutException):
        connecting = isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout)
        seconds = timeout.connect if connecting else timeout.read
        reason = f"timed out after {seconds:g} s {'connecting to' if connecting else 'waiting for'} {host}"
        advice = ("The service or the network is slow or unreachable; if this persists, check the network, or raise "
                  "[runtime] request_timeout (env RUNTIME__REQUEST_TIMEOUT).")
    else:
        reason = f"the connection to {host} failed ({type(exc).__name__}: {exc or 'no detail'})"
        advice = "The connection dropped or the network failed; nothing was committed, so run the load again later."
    return TransportError(reason=reason, advice=advice, **request)
