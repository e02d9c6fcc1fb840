"""`python -m kognitos_simulator`: serve a simulated Kognitos API until Ctrl-C.

With --workers N > 1, uvicorn runs N processes, each building the same world from the settings
(passed through the KOGNITOS_SIMULATOR_SETTINGS environment variable); they share nothing, so use it
for read-only benchmarks with a fixed clock, not for pause/continue or inserted runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from datetime import datetime
from typing import Any

import uvicorn

from kognitos_simulator.app import SimulatorApp, create_app
from kognitos_simulator.faults import FAULT_KINDS, Faults
from kognitos_simulator.ratelimit import default_burst
from kognitos_simulator.requestlog import RequestLog
from kognitos_simulator.settings import DEFAULT_START, SCALES, Scale, SimulatorSettings
from kognitos_simulator.world import World

SETTINGS_ENVIRONMENT_VARIABLE = "KOGNITOS_SIMULATOR_SETTINGS"
# The CLI keeps only recent requests: a long benchmark would otherwise grow the log without bound.
REQUEST_LOG_ENTRIES = 10_000
_SCALE_FIELDS = [spec.name for spec in dataclasses.fields(Scale)]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kognitos-simulator", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--seed", type=int, default=0, help="same seed, same data")
    parser.add_argument("--scale", choices=sorted(SCALES), default="demo", help="named world size")
    for name in _SCALE_FIELDS:
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, dest=name, help=f"override Scale.{name}")
    parser.add_argument("--token", default="sim-token", help="the bearer token clients must send")
    parser.add_argument("--extra-token", action="append", default=[], dest="extra_tokens", metavar="TOKEN",
                        help="another bearer token the service accepts (repeatable; each has its own rate limit)")
    parser.add_argument("--start", type=datetime.fromisoformat,
                        help=f"simulated start instant, ISO 8601 with offset (default {DEFAULT_START.isoformat()})")
    parser.add_argument("--follow-wall-clock", action="store_true",
                        help="let simulated time pass with real time (new runs keep arriving)")
    parser.add_argument("--extra-organizations", type=int, default=0,
                        help="more organizations the token can see, without workspaces")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (read-only use)")
    parser.add_argument("--run-counts-lag", type=float, default=0.0, metavar="SECONDS", dest="run_counts_lag_seconds",
                        help="how long after a run is created or completed the automation run aggregates count it")
    limit = parser.add_argument_group("rate limit (off by default)")
    limit.add_argument("--rate-limit", type=float, metavar="RPS",
                       help="requests per second per bearer token (token bucket); beyond it 429 + Retry-After")
    limit.add_argument("--burst", type=int, metavar="N",
                       help="bucket size: requests admitted at once (default: one second's worth, at least 1)")
    faults = parser.add_argument_group("faults (all off by default)")
    faults.add_argument("--latency-ms", type=float, default=0.0, help="added to every request")
    faults.add_argument("--latency-median-ms", type=float, default=0.0,
                        help="lognormal latency on every request (added to --latency-ms): its median")
    faults.add_argument("--latency-p99-ms", type=float, default=0.0,
                        help="the lognormal latency's 99th percentile (default: the median, no spread)")
    for kind in FAULT_KINDS:
        faults.add_argument(f"--{kind.replace('_', '-')}-rate", type=float, default=0.0, dest=f"{kind}_rate",
                            help=f"probability of a {kind.replace('_', ' ')} fault per request")
    faults.add_argument("--retry-after-seconds", type=int, default=1, help="Retry-After of rate_limit faults")
    faults.add_argument("--no-retry-after", action="store_false", dest="rate_limit_retry_after",
                        help="429s (faults and the rate limit) carry no Retry-After header nor RetryInfo detail")
    faults.add_argument("--slow-seconds", type=float, default=2.0)
    faults.add_argument("--insert-runs-while-paginating", type=int, default=0,
                        help="runs created on each List Runs request that carries a page_token")
    faults.add_argument("--advance-clock-while-paginating-exceptions", type=float, default=0.0, metavar="SECONDS",
                        help="seconds the simulated clock moves on each List Exceptions request that carries a "
                             "page_token")
    return parser


def settings_from_args(args: argparse.Namespace) -> SimulatorSettings:
    overrides = {name: getattr(args, name) for name in _SCALE_FIELDS if getattr(args, name) is not None}
    faults = Faults(
        latency_seconds=args.latency_ms / 1000, latency_median_seconds=args.latency_median_ms / 1000,
        latency_p99_seconds=args.latency_p99_ms / 1000, retry_after_seconds=args.retry_after_seconds,
        rate_limit_retry_after=args.rate_limit_retry_after, slow_seconds=args.slow_seconds,
        insert_runs_while_paginating=args.insert_runs_while_paginating,
        advance_clock_while_paginating_exceptions=args.advance_clock_while_paginating_exceptions,
        **{f"{kind}_rate": getattr(args, f"{kind}_rate") for kind in FAULT_KINDS},
    )
    return SimulatorSettings(seed=args.seed, scale=dataclasses.replace(SCALES[args.scale], **overrides),
                             token=args.token, start=args.start, follow_wall_clock=args.follow_wall_clock,
                             faults=faults, extra_organizations=args.extra_organizations,
                             extra_tokens=tuple(args.extra_tokens), rate_limit=args.rate_limit, burst=args.burst,
                             run_counts_lag_seconds=args.run_counts_lag_seconds)


def _settings_to_json(settings: SimulatorSettings) -> str:
    faults = {spec.name: getattr(settings.faults, spec.name)
              for spec in dataclasses.fields(Faults) if spec.init and spec.name != "every_nth"}
    return json.dumps({"seed": settings.seed, "scale": dataclasses.asdict(settings.scale), "token": settings.token,
                       "start": settings.start_instant.isoformat(), "follow_wall_clock": settings.follow_wall_clock,
                       "faults": faults, "extra_organizations": settings.extra_organizations,
                       "extra_tokens": list(settings.extra_tokens), "rate_limit": settings.rate_limit,
                       "burst": settings.burst, "run_counts_lag_seconds": settings.run_counts_lag_seconds})


def _settings_from_json(text: str) -> SimulatorSettings:
    data: dict[str, Any] = json.loads(text)
    return SimulatorSettings(seed=data["seed"], scale=Scale(**data["scale"]), token=data["token"],
                             start=datetime.fromisoformat(data["start"]), follow_wall_clock=data["follow_wall_clock"],
                             faults=Faults(**data["faults"]), extra_organizations=data["extra_organizations"],
                             extra_tokens=tuple(data["extra_tokens"]), rate_limit=data["rate_limit"],
                             burst=data["burst"], run_counts_lag_seconds=data["run_counts_lag_seconds"])


def app_from_environment() -> SimulatorApp:
    """uvicorn factory for worker processes: the world described by KOGNITOS_SIMULATOR_SETTINGS."""
    settings = _settings_from_json(os.environ[SETTINGS_ENVIRONMENT_VARIABLE])
    return create_app(World(settings), settings.faults, RequestLog(REQUEST_LOG_ENTRIES))


def _rate_limit_line(settings: SimulatorSettings, workers: int) -> str:
    if settings.rate_limit is None:
        return ""
    burst = settings.burst if settings.burst is not None else default_burst(settings.rate_limit)
    per_worker = f" in each of the {workers} workers (they share nothing)" if workers > 1 else ""
    return f"  rate limit:      {settings.rate_limit:g} requests/s per token, burst {burst}{per_worker}\n"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = settings_from_args(args)
    except ValueError as error:
        print(f"kognitos-simulator: {error}", file=sys.stderr)
        return 2
    world = World(settings)
    scale, extras = settings.scale, settings.extra_organizations
    print(f"Kognitos API simulator: http://{args.host}:{args.port}/api/v1\n"
          f"  organization id: {world.organization_id}"
          f"{f'  (the token sees {extras} more, without workspaces)' if extras else ''}\n"
          f"  token:           {settings.token}  (send 'Authorization: Bearer {settings.token}')\n"
          f"  world:           seed {settings.seed}, {scale.workspaces} workspaces x "
          f"{scale.automations_per_workspace} automations x {scale.runs_per_automation} runs "
          f"= {scale.total_runs:,} runs, clock at {world.now.isoformat()}\n"
          f"{_rate_limit_line(settings, args.workers)}"
          "Press Ctrl-C to stop.", flush=True)
    if args.workers > 1:
        os.environ[SETTINGS_ENVIRONMENT_VARIABLE] = _settings_to_json(settings)
        uvicorn.run("kognitos_simulator.cli:app_from_environment", factory=True, host=args.host, port=args.port,
                    workers=args.workers, log_level="warning", access_log=False, date_header=False)
    else:
        app = create_app(world, settings.faults, RequestLog(REQUEST_LOG_ENTRIES))
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False, date_header=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
