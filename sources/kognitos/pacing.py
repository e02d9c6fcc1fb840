"""The load's governor: one pace and one hold for every thread that shares a client.

A service that rate-limits answers 429 (or 503 with `Retry-After`) once a client sends faster than it admits. When
each worker backs off alone, the others keep sending into the limit; here every request of the load asks the
governor for its turn:

- **Hold.** A refusal that says when to come back (`Retry-After`, capped at `request_max_retry_delay`) holds back
  every request until then, not only the refused one, unless the governor has just met it with a measured cut
  (below): then the pace is already under what the service admits, the refused request waits its `Retry-After`
  alone and the others go on at the new pace. A token bucket refills while they do; holding them all would waste
  the whole wait (with `Retry-After: 1` and a bucket that refills in 0.2 s, 0.8 s of the service's capacity a
  refusal). Refusals that keep coming turn dense and halve the pace, and that cut holds everyone again.
- **Pace.** Requests are spaced evenly at a pace shared by all threads. The load starts unpaced (only
  `max_concurrent_requests` bounds it) or at `max_requests_per_second` when set, and is never faster than that.
- **Finding the service's pace.** A refusal of a request sent after the last cut (one cut per round trip) cuts the
  pace. If the service had been admitting requests for a while since the load last resumed, the cut is measured: the
  new pace is just under the rate it admitted over the last seconds of that stretch (`MEASURED_SECONDS`), a burst it
  allowed included (`ADMITTED_SHARE`), but no lower than `RECENT_SHARE` of the rate of its last `RECENT_ADMITTED`
  admissions (if this machine sent slowly most of those seconds and fast only at the end, the seconds say more
  about this machine than about the service). If refusals came at once (dense, or again before sending had lasted
  as long as the hold it had just sat out), that rate means little (a burst hides the limit), so the pace halves.
- **Growing.** While answers are clean and requests wait for their turn, the pace grows: it closes `APPROACH` of
  its gap to the pace it was cut from a second (unpaced, as far above the rate last admitted as the cut went under
  it: refused while unpaced, the load knows only that the service's rate is under what it sent), then passes it
  slowly, faster the longer answers stay clean (the limit may have been raised). A load that sends slower than its
  pace (this machine is the bottleneck) does not grow it: a pace far above what is sent would let a burst through
  when this machine speeds up again.
- **Sparse errors are not a limit.** A 503 without `Retry-After` is a plain retry (the service failed, it did not
  ask us to slow down). An unpaced load takes only dense refusals as a rate limit (`DENSE_REFUSALS` of the last
  `RECENT_ANSWERS` answers): one 429 among hundreds of answers is a fault, not a limit. A paced load cuts on a
  sparse refusal only after `MIN_SPAN_SECONDS` of sending, and then only to just under what was admitted: random
  faults cannot push the pace below what the service keeps answering. The pace never goes under `MIN_PACE`.

Hand-written: the HTTP libraries' rate limiters (e.g. a fixed token bucket) pace at a rate one configures; this
one has to find the rate. The decisions are in `reserve`, `go`, `answered` and `refused`, which take the time as an
argument, so tests drive them on a fake clock; `admit` is `reserve` and `go` with sleeping, for the client's threads.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

MIN_PACE = 1.0
"""Requests per second below which no cut goes."""
ADMITTED_SHARE = 0.95
"""A cut after a clean stretch sets the pace to this share of what the service admitted over it."""
HALVING = 0.5
"""A cut on refusals that came at once (no clean stretch to measure) multiplies the pace by this."""
RECENT_SHARE = 0.7
"""A measured cut sets the pace to at least this share of the rate of the last RECENT_ADMITTED admissions (that rate
includes a burst the service allowed: for 80/s with bursts of 16, up to 96/s)."""
RECENT_ADMITTED = 32
MIN_SPAN_SECONDS = 2.0
"""Sending time since the load last resumed after which what the service admitted is a measure of its rate."""
MEASURED_SECONDS = 5.0
"""The rate admitted is measured over the last this many seconds before the refusal (less if the stretch was
shorter): earlier, this machine may have been the bottleneck, or the pace lower."""
MIN_HOLD_SECONDS = 0.5
"""A load refused again sooner than the hold it just sat out lasted halves its pace, if that hold was this long."""
RECENT_ANSWERS = 16
DENSE_REFUSALS = 4
"""Refusals among the last RECENT_ANSWERS answers that an unpaced load takes as a rate limit."""
APPROACH = 0.2
"""Below the pace it was cut from, the pace closes this share of the gap per second (at least MIN_GROWTH)."""
GROWTH_ACCELERATION = 0.001
"""Past that pace, it grows by this share of itself per second for every second since it passed it (at least
MIN_GROWTH requests/s per second): slowly near the rate the service was refusing at, faster further on."""
MIN_GROWTH = 0.1


@dataclass(frozen=True)
class GovernorReport:
    """What the governor did over a load, for its summary and log."""

    pace: float | None
    """Requests per second at the end; None if the load never needed a pace."""
    refusals: int
    """Answers 429, and 503 with Retry-After."""
    held_seconds: float
    """Wall seconds during which every request was held back by a Retry-After."""
    cuts: int

    def line(self) -> str:
        pace = f"settled at {self.pace:.1f} requests/s" if self.pace is not None else "never needed a pace"
        return (f"The service refused {self.refusals} request(s) (429, or 503 with Retry-After); the load held every "
                f"request back for {self.held_seconds:.1f} s in all and {pace}.")


@dataclass
class _Stretch:
    """Requests sent from `start` (when sending resumed) to `end` (None: still going), and when those admitted in its
    last MEASURED_SECONDS were sent."""

    start: float
    held: float = 0.0
    """How long the hold before it lasted (0: it began with the load, or after a cut)."""
    end: float | None = None
    sent: int = 0
    admitted: deque[float] = field(default_factory=deque)

    def admit(self, sent_at: float) -> None:
        self.admitted.append(sent_at)
        while self.admitted[0] < sent_at - MEASURED_SECONDS:
            self.admitted.popleft()

    def admitted_rate(self, now: float, seconds: float = MEASURED_SECONDS) -> float:
        """Requests per second admitted over its last `seconds` (or all of it, if shorter)."""
        end = self.end if self.end is not None else now
        since = max(self.start, end - seconds)
        return sum(1 for sent_at in self.admitted if sent_at >= since) / max(end - since, 1e-3)

    def recent_rate(self, now: float) -> float:
        """Requests per second admitted among its last RECENT_ADMITTED, from the first of them sent to its end."""
        end = self.end if self.end is not None else now
        last = list(self.admitted)[-RECENT_ADMITTED:]
        return len(last) / max(end - last[0], 1e-3) if last else 0.0


class Governor:
    """One pace and one hold for every request of a load, thread-safe (module docstring)."""

    def __init__(self, max_rate: float | None = None, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if max_rate is not None and max_rate <= 0:
            raise ValueError(f"max_rate must be positive, got {max_rate}")
        self._max_rate = max_rate
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        now = clock()
        self._pace = max_rate
        self._ceiling = 0.0
        """The pace at the last cut (unpaced: as far above the rate last admitted as the cut went under it), which the
        pace approaches quickly, then passes slowly."""
        self._above_since = now
        self._next_slot = now
        self._grown_at = now
        self._hold_until = now
        self._stretch: _Stretch | None = None
        """Requests since sending last resumed (the first request, the end of a hold, a cut)."""
        self._previous = _Stretch(now)
        """The stretch a hold ended: what a refusal of a request sent in it is weighed against."""
        self._last_cut = float("-inf")
        self._measured_cut = False
        """Whether the last cut was measured: refusals since wait alone (module docstring, "Hold")."""
        self._recent: deque[bool] = deque(maxlen=RECENT_ANSWERS)
        self._refusals = 0
        self._held_seconds = 0.0
        self._cuts = 0

    @property
    def pace(self) -> float | None:
        with self._lock:
            return self._pace

    def admit(self) -> float:
        """Block until this request may go (after any hold, at its slot of the pace); the time it goes."""
        while True:
            slot = self.reserve(self._clock())
            now = self._clock()
            if slot > now:
                self._sleep(slot - now)
            now = self._clock()
            if self.go(now):
                return now

    def go(self, now: float) -> bool:
        """Whether a request whose slot came may go now: not if a hold began while it waited (it reserves again)."""
        with self._lock:
            if self._hold_until > now:
                return False
            if self._stretch is None:
                self._stretch = _Stretch(now)
            self._stretch.sent += 1
            return True

    def reserve(self, now: float) -> float:
        """The time the next request may go: after any hold and at its slot of the pace (taken now)."""
        with self._lock:
            self._grow(now)
            slot = max(now, self._hold_until)
            if self._pace is not None:
                slot = max(slot, self._next_slot)
                self._next_slot = slot + 1.0 / self._pace
            return slot

    def answered(self, sent_at: float) -> None:
        """A request sent at `sent_at` was answered (anything but a refusal)."""
        with self._lock:
            self._recent.append(True)
            stretch = self._stretch_of(sent_at)
            if stretch is not None:
                stretch.admit(sent_at)

    def refused(self, sent_at: float, now: float, retry_after: float | None) -> None:
        """A request sent at `sent_at` was refused at `now`; `retry_after` is the wait asked for (already capped)."""
        with self._lock:
            self._refusals += 1
            self._recent.append(False)
            if sent_at >= self._last_cut:
                self._cut(sent_at, now)
            if retry_after is not None and not self._measured_cut and now + retry_after > self._hold_until:
                self._held_seconds += now + retry_after - max(self._hold_until, now)
                self._hold_until = now + retry_after
                self._resume(now, self._hold_until)

    def report(self) -> GovernorReport:
        with self._lock:
            return GovernorReport(self._pace, self._refusals, self._held_seconds, self._cuts)

    def _stretch_of(self, sent_at: float) -> _Stretch | None:
        if self._stretch is not None and sent_at >= self._stretch.start:
            return self._stretch
        return self._previous if sent_at >= self._previous.start else None

    def _resume(self, now: float, at: float) -> None:
        """Sending resumes `at` (a hold's end, or now after a cut): the stretch so far ends now."""
        if self._stretch is not None and self._stretch.start > now:  # not begun yet: a longer hold moves it
            if at > self._stretch.start:  # a cut during the hold does not: nothing is sent before it ends
                self._stretch.held += at - self._stretch.start
                self._stretch.start = at
        else:
            if self._stretch is not None:
                self._stretch.end = now
                self._previous = self._stretch
            self._stretch = _Stretch(at, held=at - now)
        self._grown_at = max(self._grown_at, at)

    def _cut(self, sent_at: float, now: float) -> None:
        stretch = self._stretch_of(sent_at) or _Stretch(now)
        span = (stretch.end if stretch.end is not None else now) - stretch.start
        dense = self._recent.count(False) >= DENSE_REFUSALS
        measured = span >= MIN_SPAN_SECONDS and bool(stretch.admitted)
        at_once = MIN_HOLD_SECONDS <= stretch.held > span  # refused again sooner than a real hold lasted
        if not (dense or at_once or (measured and self._pace is not None)):
            return  # a sparse refusal: a fault, or too soon to tell
        self._measured_cut = measured
        recent = stretch.recent_rate(now)
        if measured:
            pace = max(ADMITTED_SHARE * stretch.admitted_rate(now), RECENT_SHARE * recent)
        else:
            pace = HALVING * (self._pace if self._pace is not None else stretch.sent / max(span, 1e-3))
        self._ceiling = self._pace if self._pace is not None else recent / RECENT_SHARE
        self._pace = max(MIN_PACE, pace if self._max_rate is None else min(pace, self._max_rate))
        self._cuts += 1
        self._last_cut = now
        self._next_slot = max(self._next_slot, now)
        self._recent.clear()
        self._resume(now, now)

    def _grow(self, now: float) -> None:
        elapsed = now - self._grown_at
        if self._pace is None or elapsed <= 0:
            return
        self._grown_at = now
        if self._next_slot < now:  # this request does not wait for the pace: the load sends slower than it
            return
        if self._pace < self._ceiling:
            pace = self._pace + max(MIN_GROWTH, APPROACH * (self._ceiling - self._pace)) * elapsed
            self._above_since = now
        else:
            since = min(now - self._above_since, 3600.0)
            pace = self._pace + max(MIN_GROWTH, GROWTH_ACCELERATION * self._pace * since) * elapsed
        self._pace = pace if self._max_rate is None else min(pace, self._max_rate)
