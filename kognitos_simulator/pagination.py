"""AIP-158 pagination: page sizes and opaque page tokens bound to the request that issued them.

A token carries a position (an offset into a list, or a cursor into a run's event stream), masked so it
is not readable, plus a digest of everything else the request said (parent resource, filter, page
size, ...) and a MAC. Reusing a token with other parameters or under another parent is
INVALID_ARGUMENT, as the reference says ("all other parameters must match").
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence

from kognitos_simulator.errors import invalid_argument

MAX_PAGE_SIZE = 1000
_VERSION = 1
_INT32_MAX = 2**31 - 1


def effective_page_size(requested: int, default: int) -> int:
    """The page size the server uses: 0 means the endpoint default; above 1000 is coerced to 1000."""
    if requested < 0:
        raise invalid_argument("page_size", f"page_size must not be negative, got {requested}")
    if requested > _INT32_MAX:
        raise invalid_argument("page_size", f"page_size {requested} does not fit in an int32")
    if requested == 0:
        return default
    return min(requested, MAX_PAGE_SIZE)


class PageTokens:
    """Issues and checks page tokens; `secret` makes tokens of one world useless in another."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _digest(self, *parts: bytes) -> bytes:
        return hashlib.blake2b(b"\x00".join(parts), key=self._secret, digest_size=8).digest()

    def issue(self, binding: str, position: int) -> str:
        bound = self._digest(b"binding", binding.encode())
        mask = int.from_bytes(self._digest(b"mask", bound), "big")
        body = bytes([_VERSION]) + (position ^ mask).to_bytes(8, "big") + bound
        return base64.urlsafe_b64encode(body + self._digest(b"mac", body)).decode().rstrip("=")

    def position(self, token: str, binding: str) -> int:
        """The position a token resumes at (0 for an empty token); raises INVALID_ARGUMENT otherwise."""
        if not token:
            return 0
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raw = b""
        body, mac = raw[:-8], raw[-8:]
        if len(raw) != 25 or raw[0] != _VERSION or not hmac.compare_digest(mac, self._digest(b"mac", body)):
            raise invalid_argument("page_token", "the page token is malformed or was not issued by this server")
        bound = body[9:]
        if not hmac.compare_digest(bound, self._digest(b"binding", binding.encode())):
            raise invalid_argument(
                "page_token",
                "the page token was issued for a different request; when paginating, every other "
                "parameter (parent, filter, page_size, ...) must match the call that returned the token",
            )
        mask = int.from_bytes(self._digest(b"mask", bound), "big")
        return int.from_bytes(body[1:9], "big") ^ mask


def take_descending(ranges: Sequence[tuple[int, int]], offset: int, size: int) -> list[int]:
    """Indices `offset .. offset+size` of the concatenated ranges read from the highest index down.

    `ranges` are ascending, disjoint [low, high) index ranges into a sorted array; reading them from
    the top gives newest-first order.
    """
    picked: list[int] = []
    for low, high in reversed(ranges):
        length = high - low
        if offset >= length:
            offset -= length
            continue
        top = high - 1 - offset
        bottom = max(low, top - (size - len(picked)) + 1)
        picked.extend(range(top, bottom - 1, -1))
        offset = 0
        if len(picked) == size:
            break
    return picked
