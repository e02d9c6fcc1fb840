"""Deterministic randomness: every generated thing draws from a generator seeded by its identity.

Seeding by identity (world seed + what is being generated + which one) instead of sharing one stream
keeps each piece independent of the order in which clients happen to ask for things.
"""

from __future__ import annotations

import hashlib
import random


def derive_seed(*parts: object) -> int:
    """A 64-bit seed that depends on every part (parts are rendered with repr)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def rng_for(*parts: object) -> random.Random:
    """A generator whose stream is a pure function of `parts`."""
    return random.Random(derive_seed(*parts))
