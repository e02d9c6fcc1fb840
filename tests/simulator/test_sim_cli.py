"""The command line: settings from arguments, and a real server that starts, answers and stops on Ctrl-C."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime

import httpx
import pytest
from simulator_openapi import OpenApiResponses

from kognitos_simulator import SCALES
from kognitos_simulator.cli import build_parser, main, settings_from_args


def test_arguments_become_settings() -> None:
    args = build_parser().parse_args(["--scale", "small", "--seed", "5", "--runs-per-automation", "12",
                                      "--start", "2025-06-01T00:00:00+00:00", "--latency-ms", "25",
                                      "--rate-limit-rate", "0.1", "--insert-runs-while-paginating", "1",
                                      "--extra-organizations", "3", "--advance-clock-while-paginating-exceptions",
                                      "3600"])
    settings = settings_from_args(args)
    assert settings.seed == 5
    assert settings.scale.runs_per_automation == 12
    assert settings.scale.workspaces == SCALES["small"].workspaces
    assert settings.start == datetime(2025, 6, 1, tzinfo=UTC)
    assert settings.faults.latency_seconds == 0.025 and settings.faults.rate_limit_rate == 0.1
    assert settings.faults.insert_runs_while_paginating == 1
    assert settings.faults.advance_clock_while_paginating_exceptions == 3600
    assert settings.extra_organizations == 3


def test_an_unknown_scale_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--scale", "enormous"])
    assert exit_info.value.code == 2


def test_the_server_answers_and_stops_on_ctrl_c(openapi: OpenApiResponses) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "kognitos_simulator", "--scale", "tiny", "--port", str(port),
                                "--token", "cli-token"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        banner = [process.stdout.readline() for _ in range(5)] if process.stdout else []
        assert f"http://127.0.0.1:{port}/api/v1" in banner[0]
        organization = banner[1].split(":", 1)[1].strip()
        for _ in range(100):
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/api/v1/me/organizations",
                                     headers={"Authorization": "Bearer cli-token"})
                break
            except httpx.ConnectError:
                time.sleep(0.05)
        assert response.status_code == 200
        openapi.validate("GET", "/api/v1/me/organizations", 200, response.json())
        assert response.json()["user_organizations"][0]["name"] == f"organizations/{organization}"
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
