"""errors.py: each HTTP status maps to the right exception, and every message says what to do."""

from __future__ import annotations

import pytest

from kognitos_elt.kognitos.errors import (
    ApiError,
    AuthError,
    InvalidRequestError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    error_for_status,
)

URL = "https://app.us-1.kognitos.com/api/v1/organizations/o1/workspaces/w1/automations/a1/runs?filter=x"


@pytest.mark.parametrize(
    ("status", "code", "kind", "hint"),
    [
        pytest.param(401, 16, AuthError, "SOURCES__KOGNITOS__ACCESS_TOKEN", id="401-token"),
        pytest.param(403, 7, AuthError, "permission", id="403-permission"),
        pytest.param(404, 5, NotFoundError, "ids you configured", id="404-which-id"),
        pytest.param(400, 3, InvalidRequestError, "rejected", id="400-echoes-request"),
        pytest.param(429, 8, RateLimitedError, "run the load again later", id="429-retryable"),
        pytest.param(503, 14, ServerError, "run the load again later", id="503-retryable"),
        pytest.param(409, 10, ApiError, "retrying will not help", id="409-other"),
    ],
)
def test_status_maps_to_an_error_whose_message_names_the_fix(
    status: int, code: int, kind: type[ApiError], hint: str
) -> None:
    error = error_for_status(method="GET", url=URL, status=status,
                             body={"code": code, "message": "server says no", "details": []}, retry_after=None)

    assert type(error) is kind
    assert error.grpc_code == code and error.status == status
    message = str(error)
    assert "server says no" in message and URL in message and hint in message


def test_a_body_that_is_not_rpc_status_still_gives_a_message() -> None:
    error = error_for_status(method="GET", url=URL, status=502, body=None, retry_after=2.0)

    assert isinstance(error, ServerError) and error.retry_after == 2.0
    assert "HTTP 502" in str(error)


def test_an_error_said_about_a_subject_starts_with_it_and_leaves_the_raised_one_as_it_was() -> None:
    error = error_for_status(method="GET", url=URL, status=404, body={"code": 5, "message": "no such workspace"},
                             retry_after=None)
    raised = str(error)

    said = error.about("Workspace 'w1' (from workspace_ids) was not found")

    assert type(said) is NotFoundError and str(error) == raised
    assert str(said) == f"Workspace 'w1' (from workspace_ids) was not found. {raised}"
