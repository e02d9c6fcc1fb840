"""API errors as the service returns them: an `rpcStatus` body and the grpc-gateway HTTP status.

`ApiError` is raised anywhere in the simulator (world, parameter parsing, filters) and turned into
a response in one place (app.py). Details use the standard `google.rpc` messages, as grpc services do.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from typing import Any

TYPE_PREFIX = "type.googleapis.com/google.rpc."


class Code(IntEnum):
    """gRPC canonical status codes."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


# grpc-gateway's runtime.HTTPStatusFromCode (kognitos-api.md §1.7).
HTTP_STATUS: dict[Code, int] = {
    Code.OK: 200,
    Code.CANCELLED: 499,
    Code.UNKNOWN: 500,
    Code.INVALID_ARGUMENT: 400,
    Code.DEADLINE_EXCEEDED: 504,
    Code.NOT_FOUND: 404,
    Code.ALREADY_EXISTS: 409,
    Code.PERMISSION_DENIED: 403,
    Code.RESOURCE_EXHAUSTED: 429,
    Code.FAILED_PRECONDITION: 400,
    Code.ABORTED: 409,
    Code.OUT_OF_RANGE: 400,
    Code.UNIMPLEMENTED: 501,
    Code.INTERNAL: 500,
    Code.UNAVAILABLE: 503,
    Code.DATA_LOSS: 500,
    Code.UNAUTHENTICATED: 401,
}


class ApiError(Exception):
    """A failed call: gRPC code, human message and `google.rpc` details (each with an `@type`)."""

    def __init__(self, code: Code, message: str, details: Sequence[dict[str, Any]] = ()) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = list(details)

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[self.code]

    def body(self) -> dict[str, Any]:
        """The `rpcStatus` JSON object."""
        return {"code": int(self.code), "message": self.message, "details": self.details}


def detail(type_name: str, **fields: Any) -> dict[str, Any]:
    """A `protobufAny` detail of type google.rpc.<type_name>."""
    return {"@type": TYPE_PREFIX + type_name, **fields}


def invalid_argument(field: str, description: str) -> ApiError:
    return ApiError(
        Code.INVALID_ARGUMENT,
        f"invalid {field}: {description}",
        [detail("BadRequest", field_violations=[{"field": field, "description": description}])],
    )


def not_found(resource_type: str, resource_id: str, resource_name: str) -> ApiError:
    return ApiError(
        Code.NOT_FOUND,
        f"{resource_type} {resource_id} not found",
        [detail("ResourceInfo", resource_type=resource_type, resource_name=resource_name)],
    )


def failed_precondition(subject: str, description: str) -> ApiError:
    return ApiError(
        Code.FAILED_PRECONDITION,
        description,
        [detail("PreconditionFailure", violations=[{"type": "STATE", "subject": subject,
                                                     "description": description}])],
    )
