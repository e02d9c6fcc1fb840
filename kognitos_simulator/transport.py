"""Low-level response sending, including the two ways a response can break on the wire.

Dropping a connection without a response and cutting a body short both need the connection itself,
which ASGI does not expose; uvicorn's `send` is a method of its request cycle, which holds the
asyncio transport, so these helpers require uvicorn (the simulator always runs under it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]


async def respond(send: Send, status: int, body: bytes, headers: Headers) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})


def _transport(send: Send) -> asyncio.Transport:
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if not isinstance(transport, asyncio.Transport):
        raise RuntimeError("connection faults need uvicorn's HTTP protocol (h11 or httptools)")
    return transport


async def _close(send: Send) -> None:
    _transport(send).abort()
    # Let the server notice the lost connection, so it neither logs an error nor answers with a 500.
    for _ in range(3):
        await asyncio.sleep(0)


async def drop_connection(send: Send) -> None:
    """Close the connection without sending anything."""
    await _close(send)


async def respond_truncated(send: Send, status: int, body: bytes, headers: Headers) -> None:
    """Promise the whole body in Content-Length, send about half of it, then close the connection."""
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body[: max(1, len(body) // 2)], "more_body": True})
    await _close(send)
