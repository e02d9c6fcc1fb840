"""Exceptions with actionable messages: what failed, where, and what to do about it.

```
KognitosError
├── ConfigError              a configuration value is missing or invalid (names the key, never a secret)
└── ApiError                 the API answered with an error (.status, .grpc_code, .api_message, .method, .url)
    ├── AuthError            401/403: the token is missing, wrong, or lacks a permission
    ├── NotFoundError        404: a configured organization/workspace/automation id does not exist
    ├── InvalidRequestError  400: the request was rejected; echoes the request that caused it
    └── RetryableError       429/5xx/transport/malformed body, raised only after retries are exhausted
        ├── RateLimitedError     429
        ├── ServerError          5xx
        └── TransportError       timeout, dropped connection, truncated or malformed body
```
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .settings import CONFIG_SECTION


def config_key(key: str) -> str:
    """How the user spells a config key, in TOML and as an environment variable."""
    return f"sources.{CONFIG_SECTION}.{key} (env SOURCES__{CONFIG_SECTION.upper()}__{key.upper()})"


class KognitosError(Exception):
    """Base class of every error this source raises on purpose."""


class ConfigError(KognitosError, ValueError):
    """A configuration value is missing or invalid; raised before any request is made."""

    def __init__(self, key: str, problem: str, fix: str) -> None:
        self.key = key
        self.problem = problem
        self.fix = fix
        super().__init__(f"Invalid configuration {config_key(key)}: {problem}. {fix}")


class ApiError(KognitosError):
    """The Kognitos API answered a request with an error status."""

    action = "See the message above; retrying will not help."

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
        super().__init__(self.message())

    def summary(self) -> str:
        """What failed, without the advice: for a log line about one attempt."""
        status = f"HTTP {self.status}" if self.status is not None else "no response"
        said = f": {self.api_message}" if self.api_message else ""
        return f"{self.method} {self.url} failed with {status}{said}."

    def message(self) -> str:
        extra = f" {self.detail}" if self.detail else ""
        return f"{self.summary()}{extra} {self.action}"


class AuthError(ApiError):
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


class RetryableError(ApiError):
    """A failure worth retrying; raised to the caller only once retries are exhausted."""

    retry_after: float | None = None
    attempts: int = 1

    def message(self) -> str:
        return (
            f"{self.summary()} Gave up after {self.attempts} attempt(s). The service is unavailable or "
            "rate limiting; nothing was committed, so run the load again later."
        )


class RateLimitedError(RetryableError):
    pass


class ServerError(RetryableError):
    pass


class TransportError(RetryableError):
    pass


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
        error = RateLimitedError(**kwargs)
        error.retry_after = retry_after
    elif status >= 500:
        error = ServerError(**kwargs)
        error.retry_after = retry_after
    elif status == 400:
        error = InvalidRequestError(**kwargs)
    else:
        error = ApiError(**kwargs)
    return error
