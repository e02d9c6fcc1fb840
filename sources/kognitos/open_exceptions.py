"""Which exceptions of one workspace are new, which are not resolved yet, and how to re-read those cheaply.

An exception is created PENDING, then RESOLVED (terminal) or ARCHIVED, and an archived one can go back to PENDING
(the reference's `v1ExceptionState`); its `description` may arrive after it is created. List Exceptions filters on
`create_time`, `state` and `run` (AIP-160, AND/OR/NOT). So, per workspace, we keep in dlt resource state:

- `cursor`: the newest `create_time` loaded (nanosecond key, timestamps.py) and `at_cursor`, the ids loaded at exactly
  that instant, so ties at the cursor are neither lost nor loaded twice (as for runs, open_runs.py);
- `unresolved`: each exception last seen in a state other than RESOLVED (pending, archived, or a state the reference
  does not name yet): its run's id and a digest of the object as loaded.

Each load then sends, per workspace (resources.exceptions):

1. `create_time >= cursor` (on a first load, every exception, or those from `start_date`): the new ones.
2. `state != RESOLVED` (the reference's own example): every exception not resolved; those whose digest changed
   (state, description, assignee, ... any field) are loaded again. On a no-op load, 1 and 2 are one page each.
3. `run = "a" OR run = "b" ...`: the runs of the tracked exceptions 2 did not return (resolved since: RESOLVED
   leaves that listing), 50 runs a request, so re-reading a resolved exception costs a share of one request, not a
   Get Exception each.

Where the reference is silent, the readings chosen:

- The listing's order. Page tokens are offsets in the simulator (the harsher reading), so an exception created while
  paging shifts later pages by one: listing 1 then returns an exception twice (dropped by id), never skips one, as
  its set only grows (`create_time` never changes). What it may miss is an exception created after its page went by:
  under newest-first order (the simulator's, and the runs endpoint's) that one is newer than all it read, and under
  oldest-first it comes on a later page; either way the next load's `create_time >= cursor` finds it. Under any other
  order it could be older than the newest read, so a listing not sent in one of those two orders does not move the
  cursor (the next load reads that window again; merging makes the repeats harmless) and says so in the log.
- Listing 2's set shrinks while paging (an exception resolved meanwhile leaves it), so it may skip one: every tracked
  exception it did not return is re-read by 3, whatever the reason. Listings 2 and 3 load only tracked exceptions:
  a new one they return is left to the next load's listing 1, as it could move the cursor past one created while
  paging that a shifted page skipped.
- An exception that 3 cannot find either was deleted (the reference does not say exceptions can be): it stays as
  last loaded and is no longer tracked.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson

RESOLVED = "resolved"
"""The only terminal state (`EXCEPTION_STATE_RESOLVED`): every other state is re-read on each load."""


def digest(api_exception: Mapping[str, Any]) -> str:
    """A short fingerprint of an exception as the API sent it: any change of any field changes it.

    Not `update_time`: whether every change (a description filled in, a new assignee) moves it is not documented.
    """
    return hashlib.blake2b(orjson.dumps(api_exception, option=orjson.OPT_SORT_KEYS), digest_size=8).hexdigest()


class Tracked(NamedTuple):
    """An exception last seen not resolved (kept in state as a JSON list in this order)."""

    run_id: str
    digest: str


class ListingOrder:
    """Whether one listing came newest first or oldest first (by `create_time` key), the two orders under which a
    cursor at the newest exception read loses nothing created while paging (module docstring)."""

    def __init__(self) -> None:
        self._previous: str | None = None
        self._rises = self._falls = False

    def add(self, create_key: str) -> None:
        if self._previous is not None:
            self._rises |= create_key > self._previous
            self._falls |= create_key < self._previous
        self._previous = create_key

    @property
    def monotonic(self) -> bool:
        return not (self._rises and self._falls)


@dataclass
class ExceptionTracker:
    """The incremental state of one workspace's exceptions, for one load.

    `cursor`/`at_cursor` stay fixed during the load (the new cursor is gathered aside and takes over in
    `to_state`), like open_runs.RunTracker's.
    """

    cursor: str | None = None
    at_cursor: set[str] = field(default_factory=set)
    unresolved: dict[str, Tracked] = field(default_factory=dict)
    new_count: int = 0
    """Exceptions this load loads for the first time."""
    updated_count: int = 0
    """Exceptions loaded before whose changes this load loads."""
    _seen: set[str] = field(default_factory=set)
    _newest: str | None = None
    _at_newest: set[str] = field(default_factory=set)

    @classmethod
    def from_state(cls, saved: Mapping[str, Any] | None) -> ExceptionTracker:
        if not saved:
            return cls()
        return cls(cursor=saved.get("cursor"), at_cursor=set(saved.get("at_cursor", ())),
                   unresolved={exception_id: Tracked(*tracked)
                               for exception_id, tracked in saved.get("unresolved", {}).items()})

    def accept(self, exception_id: str, create_key: str, run_id: str, state: str | None, version: str) -> bool:
        """Record an exception the API returned; True if its row must be loaded (new, or tracked and changed).

        Each exception is loaded at most once per load (the table's merge relies on it, schema.UNIQUE_PER_LOAD): if
        it changed between two listings of this load, the version loaded is what is kept, so the next load sees
        the change.
        """
        is_new = self.cursor is None or create_key > self.cursor or (
            create_key == self.cursor and exception_id not in self.at_cursor)
        if exception_id in self._seen or not (is_new or exception_id in self.unresolved):
            return False  # seen this load, or loaded before as resolved (terminal)
        if not is_new and self.unresolved[exception_id].digest == version:
            self._seen.add(exception_id)
            return False
        self._seen.add(exception_id)
        if is_new:
            self.new_count += 1
            if self._newest is None or create_key > self._newest:
                self._newest, self._at_newest = create_key, {exception_id}
            elif create_key == self._newest:
                self._at_newest.add(exception_id)
        else:
            self.updated_count += 1
        if state == RESOLVED:
            self.unresolved.pop(exception_id, None)
        else:
            self.unresolved[exception_id] = Tracked(run_id, version)
        return True

    def unseen(self) -> dict[str, Tracked]:
        """Tracked exceptions this load has not read yet: resolved since, or skipped by a page that shifted."""
        return {exception_id: tracked for exception_id, tracked in self.unresolved.items()
                if exception_id not in self._seen}

    def forget(self, exception_id: str) -> None:
        """The exception is gone (not listed under its own run): stop tracking it."""
        self.unresolved.pop(exception_id, None)

    def to_state(self, *, advance: bool = True) -> dict[str, Any]:
        """Close the load: move the cursor to the newest exception read (unless `advance` is False: the listing's
        order could not vouch for it) and serialise for dlt."""
        if advance and self._newest is not None:
            if self.cursor is None or self._newest > self.cursor:
                self.cursor, self.at_cursor = self._newest, self._at_newest
            elif self._newest == self.cursor:
                self.at_cursor |= self._at_newest
        return {"cursor": self.cursor, "at_cursor": sorted(self.at_cursor),
                "unresolved": {exception_id: list(tracked) for exception_id, tracked in self.unresolved.items()}}
