"""Running the simulator in-process: uvicorn on 127.0.0.1 in a background thread (tests, demos)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn

from kognitos_simulator.app import SimulatorApp, create_app
from kognitos_simulator.faults import Faults
from kognitos_simulator.ratelimit import RateLimiter
from kognitos_simulator.requestlog import RequestLog
from kognitos_simulator.settings import SimulatorSettings
from kognitos_simulator.world import World

_STARTUP_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class RunningSimulator:
    """A live simulator: where it listens, how to authenticate, and its world, faults, request log and rate
    limiter (`rate_limiter.rate` / `.burst` change the token buckets at runtime)."""

    base_url: str  # e.g. http://127.0.0.1:54321 (without /api/v1)
    token: str
    world: World
    faults: Faults
    requests: RequestLog
    app: SimulatorApp
    rate_limiter: RateLimiter


@contextmanager
def running_simulator(settings: SimulatorSettings, port: int = 0) -> Iterator[RunningSimulator]:
    """Serve a new World built from `settings` until the block exits (port 0: any free port)."""
    world = World(settings)
    app = create_app(world, settings.faults, RequestLog())
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                            lifespan="off", timeout_graceful_shutdown=2, date_header=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="kognitos-simulator", daemon=True)
    thread.start()
    deadline = time.monotonic() + _STARTUP_TIMEOUT_SECONDS
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"the simulator could not start on 127.0.0.1:{port} (is the port in use?)")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError("the simulator did not start within 10 seconds")
        time.sleep(0.005)
    bound_port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield RunningSimulator(f"http://127.0.0.1:{bound_port}", settings.token, world, app.faults,
                               app.request_log, app, app.rate_limiter)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
