"""Process memory and garbage collection during a load: what CPython, Arrow and glibc do by default costs a
backfill CPU and its peak memory (docs/performance.md, "Second round: the backfill's CPU and peak memory")."""

from __future__ import annotations

import ctypes
import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import pyarrow as pa

LOAD_GC_GENERATION0_THRESHOLD = 10_000
"""Container allocations between young-generation garbage collections while loading (CPython's default is 700)."""


@contextmanager
def rarer_garbage_collection() -> Iterator[None]:
    """Collect cyclic garbage less often during the load, and put the process's thresholds back after it.

    httpx leaves objects in reference cycles with every request, so at CPython's default threshold a load runs
    thousands of collections, each tracing the pages and rows it holds (docs/performance.md, "Second round").
    """
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], LOAD_GC_GENERATION0_THRESHOLD), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


def release_free_memory() -> None:
    """Hand back to the OS what Arrow's pool and glibc's per-thread arenas keep of freed memory for reuse.

    After the extract nothing reuses it, and DuckDB's load step, the process's peak, comes on top of it
    (docs/performance.md, "Second round").
    """
    pa.default_memory_pool().release_unused()
    if sys.platform.startswith("linux"):
        with suppress(OSError, AttributeError):  # not glibc (musl has no malloc_trim): nothing to trim
            ctypes.CDLL("libc.so.6").malloc_trim(0)
