"""Exceptions with actionable messages: what failed, where, and what to do about it.

```
KognitosError                .exit_code: the exit status a runner ends with (ExitCode)
├── ConfigError              a configuration value is missing or invalid (names the key, never a secret)
├── UnrepeatableJobError     interrupted.py: a killed load's job cannot be repeated without doubling rows
└── ApiError                 the API answered with an error (.status, .grpc_code, .api_message, .method, .url)
    ├── AuthError            401/403: the token is missing, wrong, or lacks a permission
    ├── NotFoundError        404: a configured organization/workspace/automation id does not exist
    ├── InvalidRequestError  400: the request was rejected; echoes the request that caused it
    ├── ConnectionSetupError no connection, and trying again will not help: unknown host, untrusted TLS certificate
    └── RetryableError       429/5xx/transport/malformed body, raised only after retries are exhausted
        ├── RateLimitedError     429
        ├── ServerError          5xx
        └── TransportError       refused, timed out, dropped connection, truncated or malformed body
```

Each error's message is built from what it was constructed with; the error that ends a load after retries is a
copy of the last attempt's, raised from it, so the chain keeps every cause down to the socket's.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from enum import IntEnum
from typing import Any, ClassVar, Self

from .settings import CONFIG_SECTION


def error_chain(error: BaseException) -> Iterator[BaseException]:
    """An error and the errors behind it, as Python chains them and as dlt wraps them (in `.exception`)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = getattr(current, "exception", None) or current.__cause__ or current.__context__


def find_in_chain(error: BaseException, kinds: tuple[type[BaseException], ...]) -> BaseException | None:
    """The first exception of one of `kinds` in an error's chain: dlt wraps source errors in its own."""
    return next((cause for cause in error_chain(error) if isinstance(cause, kinds)), None)


def config_key(key: str) -> str:
    """How the user spells a config key, in TOML and as an environment variable."""
    return f"sources.{CONFIG_SECTION}.{key} (env {env_var(key)})"


def env_var(key: str) -> str:
    """The environment variable that sets a config key."""
    return f"SOURCES__{CONFIG_SECTION.upper()}__{key.upper()}"


class ExitCode(IntEnum):
    """The exit status a command-line runner gives each kind of failure (`kognitos-elt`'s, README "Exit codes")."""

    OK = 0
    UNEXPECTED = 1
    CONFIG = 2
    LOCKED = 3
    AUTH = 4
    API = 5
    UNAVAILABLE = 6
    MODELS = 7
    INTERRUPTED = 130


class KognitosError(Exception):
    """Base class of every error kognitos-elt raises on purpose; its message says what to do, and `exit_code` is the
    exit status a runner should end with, so a new error cannot reach the user as "unexpected"."""

    exit_code: ClassVar[ExitCode] = ExitCode.UNEXPECTED


class ConfigError(KognitosError, ValueError):
    """A configuration value is missing or invalid: checked before any request, except what only the API can tell
    (an organization, workspace or automation that does not exist; which organization to load when
    `organization_id` is unset and the token sees several, or none), which fails once it was looked up."""

    exit_code = ExitCode.CONFIG

    def __init__(self, key: str, problem: str, fix: str) -> None:
        self.key = key
        self.problem = problem
        self.fix = fix
        super().__init__(f"Invalid configuration {config_key(key)}: {problem}. {fix}")


class ApiError(KognitosError):
    """The Kognitos API answered a request with an error status."""

    exit_code = ExitCode.API

    action = "See the message above; retrying will not help."
    subject: str | None = None
    """What the request was for, in the user's terms (see `about`), said before the rest."""

    def __init__(
        self,
        *,
        method: str,
        url: str,
        status: int | None,
        grpc_code: int | None = None,
        api_message: str | None = None,
        detail: str | None = None,
    ) -> None:
        self.method = method
        self.url = url
        self.status = status
        self.grpc_code = grpc_code
        self.api_message = api_message
        self.detail = detail
        super().__init__(self._text())

    def about(self, subject: str) -> Self:
        """This error, said about `subject` first (e.g. the configured id not found); raise it from this one."""
        return self._copy(subject=subject)

    def _copy(self, **changes: Any) -> Self:
        """A copy with some attributes changed and its message built from them (keyword-only constructors defeat
        copy.copy); the original stays as it was raised."""
        copied = type(self).__new__(type(self))
        copied.__dict__.update(self.__dict__, **changes)
        copied.args = (copied._text(),)
        return copied

    def _text(self) -> str:
        return f"{self.subject}. {self.message()}" if self.subject else self.message()

    def summary(self) -> str:
        """What failed, without the advice: for a log line about one attempt."""
        status = f"HTTP {self.status}" if self.status is not None else "no response"
        said = f": {self.api_message}" if self.api_message else ""
        return f"{self.method} {self.url} failed with {status}{said}."

    def message(self) -> str:
        extra = f" {self.detail}" if self.detail else ""
        return f"{self.summary()}{extra} {self.action}"


class AuthError(ApiError):
    exit_code = ExitCode.AUTH
    action = (
        f"Check that the personal access token in {config_key('access_token')} is set, is not expired "
        "or revoked, and has permission for this organization and workspace."
    )


class NotFoundError(ApiError):
    action = (
        "Check the organization, workspace and automation ids you configured "
        f"({config_key('organization_id')}, workspace_ids, automation_ids): the id above does not exist "
        "or the token cannot see it."
    )


class InvalidRequestError(ApiError):
    action = "The request above was rejected by the API; if it comes from your configuration, fix it there."


class _NoUsableResponse(ApiError):
    """The request got no answer to use: `reason` says what happened, `advice` what to check."""

    def __init__(self, *, reason: str, advice: str, **kwargs: Any) -> None:
        self.reason = reason
        self.action = advice
        super().__init__(**kwargs)

    def summary(self) -> str:
        return f"{self.method} {self.url} failed: {self.reason}."


class ConnectionSetupError(_NoUsableResponse):
    """No connection could be set up, and trying again will not change that (the configured host is wrong)."""

    exit_code = ExitCode.CONFIG


class RetryableError(ApiError):
    """A failure worth retrying; raised to the caller only once retries are exhausted, as `gave_up` makes it."""

    exit_code = ExitCode.UNAVAILABLE
    action = "The service is unavailable or rate limiting; nothing was committed, so run the load again later."

    def __init__(self, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        self.attempts: int | None = None
        super().__init__(**kwargs)

    def gave_up(self, attempts: int) -> Self:
        """This failure as the error that ends the load after `attempts` attempts (raise it from this one)."""
        return self._copy(attempts=attempts)

    def message(self) -> str:
        gave_up = f" Gave up after {self.attempts} attempt(s)." if self.attempts else ""
        return f"{self.summary()}{gave_up} {self.action}"


class RateLimitedError(RetryableError):
    pass


class ServerError(RetryableError):
    pass


class TransportError(_NoUsableResponse, RetryableError):
    """Refused, timed out or dropped connections, and bodies cut off or garbled."""


def error_for_status(
    *, method: str, url: str, status: int, body: Mapping[str, Any] | None, retry_after: float | None
) -> ApiError:
    """Map an HTTP error status (and its rpcStatus body, kognitos-api.md §1.7) to an exception."""
    grpc_code = body.get("code") if body else None
    api_message = body.get("message") if body else None
    kwargs: dict[str, Any] = {
        "method": method,
        "url": url,
        "status": status,
        "grpc_code": grpc_code if isinstance(grpc_code, int) else None,
        "api_message": str(api_message) if api_message else None,
    }
    error: ApiError
    if status in (401, 403):
        error = AuthError(**kwargs)
    elif status == 404:
        error = NotFoundError(**kwargs)
    elif status == 429:
        error = RateLimitedError(retry_after=retry_after, **kwargs)
    elif status >= 500:
        error = ServerError(retry_after=retry_after, **kwargs)
    elif status == 400:
        error = InvalidRequestError(**kwargs)
    else:
        error = ApiError(**kwargs)
    return error
