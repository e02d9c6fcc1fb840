"""What a simulated Kognitos world is made of: its size (`Scale`), seed, token, clock start and faults.

Everything the simulator serves is a pure function of a `SimulatorSettings` value plus what happened
since (clock advances, pauses, continues, inserted runs), so two worlds built from equal settings hold
the same data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from kognitos_simulator.faults import Faults
from kognitos_simulator.ratelimit import check_rate_limit

# The default simulated "now". Its 30 days of history span the end of daylight saving time in Europe
# (2025-10-26) and in the USA (2025-11-02), so daily aggregates meet a DST change by default.
DEFAULT_START = datetime(2025, 11, 14, 15, 30, tzinfo=UTC)

# Ids pack the automation ordinal in 12 bits (see ids.py), which bounds the sizes below.
MAX_WORKSPACES = 1000
MAX_AUTOMATIONS_PER_WORKSPACE = 4000
MAX_EXTRA_ORGANIZATIONS = 1000


@dataclass(frozen=True)
class Scale:
    """How big the world is.

    `runs_per_automation` runs fall in the `days_of_history` days before the start instant; runs keep
    arriving at the same average rate afterwards. `events_per_run` is the target mean number of run
    events; a plain run has at least about a dozen, so small targets are exceeded a little.
    """

    workspaces: int = 2
    automations_per_workspace: int = 3
    runs_per_automation: int = 40
    events_per_run: int = 12
    days_of_history: int = 30
    deleted_automations_per_workspace: int = 1

    def __post_init__(self) -> None:
        limits = {
            "workspaces": (1, MAX_WORKSPACES),
            "automations_per_workspace": (1, MAX_AUTOMATIONS_PER_WORKSPACE),
            "runs_per_automation": (0, 10_000_000),
            "events_per_run": (1, 100_000),
            "days_of_history": (1, 3650),
            "deleted_automations_per_workspace": (0, MAX_AUTOMATIONS_PER_WORKSPACE),
        }
        for name, (low, high) in limits.items():
            value = getattr(self, name)
            if not low <= value <= high:
                raise ValueError(f"Scale.{name} must be between {low} and {high}, got {value}")
        if self.automations_per_workspace + self.deleted_automations_per_workspace > (
            MAX_AUTOMATIONS_PER_WORKSPACE
        ):
            raise ValueError(f"at most {MAX_AUTOMATIONS_PER_WORKSPACE} automations per workspace")

    @property
    def total_runs(self) -> int:
        """Runs in live automations at the start instant (deleted automations add about 10% of one)."""
        return self.workspaces * self.automations_per_workspace * self.runs_per_automation


SCALES: dict[str, Scale] = {
    "tiny": Scale(),
    "demo": Scale(workspaces=2, automations_per_workspace=4, runs_per_automation=150, events_per_run=16,
                  days_of_history=60),
    "small": Scale(workspaces=3, automations_per_workspace=5, runs_per_automation=400, events_per_run=20,
                   days_of_history=60),
    # 100,000 runs and about 2,000,000 events.
    "medium": Scale(workspaces=5, automations_per_workspace=10, runs_per_automation=2000, events_per_run=20,
                    days_of_history=90),
    # Twice medium: the same arrival rate over twice the history.
    "large": Scale(workspaces=5, automations_per_workspace=10, runs_per_automation=4000, events_per_run=20,
                   days_of_history=180),
}


@dataclass(frozen=True)
class SimulatorSettings:
    """Everything needed to build a `World` and serve it.

    `start` is the simulated instant the clock starts at (tz-aware); None means `DEFAULT_START`.
    With `follow_wall_clock` the clock also moves with real elapsed time (for the CLI and demos).
    `faults` is the live, mutable fault configuration the server consults on every request.
    """

    seed: int = 0
    scale: Scale = Scale()
    token: str = "sim-token"
    start: datetime | None = None
    follow_wall_clock: bool = False
    faults: Faults = field(default_factory=Faults)
    deleted_automation_runs_found: bool = True
    """Whether a deleted automation's runs can still be listed and read. The reference does not say; False
    simulates the other reading: List Runs and Get Run answer NOT_FOUND for them."""
    extra_organizations: int = 0
    """More organizations the token can see besides the world's own, each with its own id and title and no
    workspaces: CurrentUserOrganizations lists them after it, GetOrganization answers them, their workspace lists
    are empty and anything under one of their workspaces is NOT_FOUND."""
    extra_tokens: tuple[str, ...] = ()
    """More bearer tokens the service accepts besides `token`, with the same access (each has its own rate-limit
    bucket)."""
    run_counts_lag_seconds: float = 0.0
    """How long after a run is created, or completed, Query Automation Run Aggregates counts it. The reference does
    not say how current its counters are; 0 (the default) counts at once, more simulates counters that lag."""
    rate_limit: float | None = None
    """Requests per second each bearer token may make (a token bucket per token, see ratelimit.py); None: no limit.
    Beyond it the answer is 429 RESOURCE_EXHAUSTED with Retry-After; the running app's `rate_limiter` changes it
    at runtime."""
    burst: int | None = None
    """The size of each token's bucket: requests admitted at once after a quiet spell. None: one second's worth
    (the rate rounded up, at least 1)."""

    def __post_init__(self) -> None:
        if self.start is not None and self.start.utcoffset() is None:
            raise ValueError("SimulatorSettings.start must be timezone-aware")
        if not self.token or not all(self.extra_tokens):
            raise ValueError("SimulatorSettings.token and extra_tokens must not be empty")
        check_rate_limit(self.rate_limit, self.burst)
        if not self.run_counts_lag_seconds >= 0:
            raise ValueError(f"SimulatorSettings.run_counts_lag_seconds must not be negative, got "
                             f"{self.run_counts_lag_seconds}")
        if not 0 <= self.extra_organizations <= MAX_EXTRA_ORGANIZATIONS:
            raise ValueError(f"SimulatorSettings.extra_organizations must be between 0 and {MAX_EXTRA_ORGANIZATIONS}, "
                             f"got {self.extra_organizations}")

    @property
    def start_instant(self) -> datetime:
        """The clock's starting instant, in UTC."""
        return (self.start or DEFAULT_START).astimezone(UTC)
