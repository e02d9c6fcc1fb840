"""A faithful simulator of the Kognitos REST API (v1), for tests, demos and benchmarks.

    with running_simulator(SimulatorSettings(seed=1, scale=SCALES["tiny"])) as sim:
        httpx.get(f"{sim.base_url}/api/v1/me/organizations", headers={"Authorization": f"Bearer {sim.token}"})
        sim.world.advance(timedelta(hours=1))   # new runs arrive, running ones move on

See kognitos_simulator/README.md for what it serves and every choice made where the reference is silent.
"""

from __future__ import annotations

from kognitos_simulator.app import SimulatorApp, create_app
from kognitos_simulator.errors import ApiError, Code
from kognitos_simulator.faults import FAULT_KINDS, FaultKind, Faults
from kognitos_simulator.ratelimit import RateLimiter
from kognitos_simulator.requestlog import LoggedRequest, RequestLog
from kognitos_simulator.server import RunningSimulator, running_simulator
from kognitos_simulator.settings import DEFAULT_START, SCALES, Scale, SimulatorSettings
from kognitos_simulator.world import World

__all__ = [
    "DEFAULT_START",
    "FAULT_KINDS",
    "SCALES",
    "ApiError",
    "Code",
    "FaultKind",
    "Faults",
    "LoggedRequest",
    "RateLimiter",
    "RequestLog",
    "RunningSimulator",
    "Scale",
    "SimulatorApp",
    "SimulatorSettings",
    "World",
    "create_app",
    "running_simulator",
]
