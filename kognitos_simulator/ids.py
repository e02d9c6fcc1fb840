"""Realistic-looking ids that the simulator can decode again without a lookup table.

Run ids look like nano ids and execution ids like UUIDv4s, but both are a keyed Feistel permutation of
small integers (which run, which execution), so a 100,000-run world needs no id -> run dictionary and a
made-up id decodes to garbage that fails the range check (a 404), never to someone else's run.
"""

from __future__ import annotations

import base64
import random
import uuid

# The nanoid URL alphabet (64 symbols: 6 bits each).
NANOID_ALPHABET = "useandom-26T198340PX75pxJACKVERYMINDBUSHWOLF_GQZbfghjklqvwyzrict"
_NANOID_INDEX = {char: index for index, char in enumerate(NANOID_ALPHABET)}
_BASE64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_TO_NANOID = str.maketrans(_BASE64_ALPHABET, NANOID_ALPHABET)
_LOWER_ALPHANUMERIC = "0123456789abcdefghijklmnopqrstuvwxyz"
_MASK64 = (1 << 64) - 1


def nanoid(rng: random.Random, size: int = 21) -> str:
    """A random nano id (21 URL-safe characters by default), as Kognitos uses for automations."""
    return "".join(NANOID_ALPHABET[rng.getrandbits(6)] for _ in range(size))


def lower_id(rng: random.Random, size: int = 20) -> str:
    """A random lowercase alphanumeric id, as used here for organizations and workspaces."""
    return "".join(rng.choice(_LOWER_ALPHANUMERIC) for _ in range(size))


def mix64(value: int) -> int:
    """splitmix64's finaliser: a cheap, well-spread 64-bit hash."""
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK64
    return value ^ (value >> 31)


class _Feistel:
    """A keyed permutation of `bits`-bit integers (4 balanced rounds)."""

    def __init__(self, key: int, bits: int) -> None:
        if bits % 2:
            raise ValueError("Feistel block size must be even")
        self._half = bits // 2
        self._mask = (1 << self._half) - 1
        self._keys = [mix64((key + round_index * 0x9E3779B97F4A7C15) & _MASK64) for round_index in range(4)]

    def encrypt(self, value: int) -> int:
        left, right = value >> self._half, value & self._mask
        for key in self._keys:
            left, right = right, left ^ (mix64(right ^ key) & self._mask)
        return (left << self._half) | right

    def decrypt(self, value: int) -> int:
        left, right = value >> self._half, value & self._mask
        for key in reversed(self._keys):
            left, right = right ^ (mix64(left ^ key) & self._mask), left
        return (left << self._half) | right


class NanoIdCodec:
    """Encodes integers below `limit` as 21-character nano ids and back."""

    def __init__(self, key: int, limit: int) -> None:
        self._cipher = _Feistel(key, 126)
        self._limit = limit

    def encode(self, value: int) -> str:
        if not 0 <= value < self._limit:
            raise ValueError(f"value {value} out of range")
        # 126 bits = 21 base64 digits; base64 (translated) is much faster than a Python loop.
        block = (self._cipher.encrypt(value) << 2).to_bytes(16, "big")
        return base64.b64encode(block).decode()[:21].translate(_TO_NANOID)

    def decode(self, text: str) -> int | None:
        """The integer behind `text`, or None when it is not one of our ids."""
        if len(text) != 21:
            return None
        number = 0
        for char in text:
            index = _NANOID_INDEX.get(char)
            if index is None:
                return None
            number = (number << 6) | index
        value = self._cipher.decrypt(number)
        return value if value < self._limit else None


class UuidCodec:
    """Encodes integers below `limit` as version-4 UUID strings and back (122 free bits)."""

    def __init__(self, key: int, limit: int) -> None:
        self._cipher = _Feistel(key, 122)
        self._limit = limit

    def encode(self, value: int) -> str:
        if not 0 <= value < self._limit:
            raise ValueError(f"value {value} out of range")
        bits = self._cipher.encrypt(value)
        # Spread the 122 bits around the version nibble (4) and the variant bits (10).
        number = ((bits >> 74) << 80) | (4 << 76) | (((bits >> 62) & 0xFFF) << 64) | (2 << 62) | (
            bits & ((1 << 62) - 1)
        )
        return str(uuid.UUID(int=number))

    def decode(self, text: str) -> int | None:
        try:
            parsed = uuid.UUID(text)
        except ValueError:
            return None
        if parsed.version != 4 or str(parsed) != text:
            return None
        number = parsed.int
        bits = ((number >> 80) << 74) | (((number >> 64) & 0xFFF) << 62) | (number & ((1 << 62) - 1))
        value = self._cipher.decrypt(bits)
        return value if value < self._limit else None
