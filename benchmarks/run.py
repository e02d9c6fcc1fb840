"""`python -m benchmarks.run --scale small [--latency-ms 20 0] [--no-field]`: kognitos-elt, the limit and the peer.

For every setting (the field, a rate-limited service with uneven latency; then each fixed latency), each contender
gets a fresh simulator process (same seed and frozen clock, so the
same data and cold caches for everyone; only its all-time aggregates are worked out before timing, see
`_warm_up`) and runs in a fresh interpreter with its own dlt directory and
DuckDB file. The parent times each contender as a whole process, from spawning it until it has reported its
result and exited (interpreter start-up and imports included, as a cron user pays them), samples the RSS of the
contender's process tree every 50 ms, and prints one table per setting, with each contender's 429 answers and
kognitos-elt's requests by endpoint:

    kognitos-elt       a full backfill into a fresh DuckDB file (runs, events, outputs, aggregates)
    models             the analytics models built on that file (dbt), then each read in full
    incremental no-op  a second kognitos-elt load with nothing new (same directory, same file), models checked
                       (built untimed before it when the models contender does not run)
    limit              the same pages, the same requests in flight, parsed and thrown away (limit.py)
    peer               dlt's rest_api source over the same endpoints (peer.py)

Against a rate-limited service the limit and the models do not run: the floor stands for the limit, each
contender's successful requests divided by the service's rate (no client can be faster).

Results also go to benchmarks/results/<scale>-<time>.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import queue
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any

import httpx
import orjson
import psutil

from benchmarks.contenders import RESULT_PREFIX
from benchmarks.limit import server_today

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
SCALE_NAMES = ("tiny", "small", "medium", "large")
"""The simulator's named scales; `tiny` is the smoke test's."""
DEFAULT_LATENCIES_MS = (20.0, 0.0)
SAMPLE_INTERVAL_SECONDS = 0.05
SIMULATOR_START_TIMEOUT_SECONDS = 120.0
TOKEN = "benchmark-token"

CONTENDERS: tuple[tuple[str, str], ...] = (
    ("kognitos-elt", "kognitos-elt"),
    ("models", "analytics models"),
    ("noop", "incremental no-op"),
    ("limit", "limit"),
    ("peer", "peer (rest_api)"),
)
CONTENDER_NAMES = tuple(name for name, _ in CONTENDERS)
COLUMNS = ("contender", "wall s", "requests", "429s", "runs", "events", "rows", "rows/s", "peak RSS MB", "CPU s",
           "sim CPU s")
"""rows = runs + events, the tables every contender loads (or fetches); CPU s is the contender's own, whole process."""


@dataclass
class Measurement:
    """One contender's run: what the parent measured and what the contender reported."""

    contender: str
    label: str
    wall_seconds: float
    requests: int
    runs: int
    events: int
    peak_rss_bytes: int
    cpu_seconds: float
    simulator_cpu_seconds: float
    load_average: float
    """The machine's 1-minute load average when the contender was spawned: other work skews the timings."""
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    """Timings the contender took itself: the models' build and each model's full read."""
    refused: int = 0
    """Requests answered 429."""
    by_endpoint: dict[str, int] = field(default_factory=dict)
    """Requests sent (429s included) by API method."""
    notes: list[str] = field(default_factory=list)
    """What kognitos-elt's summary said beside the counts (e.g. the pace it settled at)."""

    @property
    def row_count(self) -> int:
        return self.runs + self.events

    @property
    def rows_per_second(self) -> float:
        return self.row_count / self.wall_seconds if self.wall_seconds > 0 else 0.0


@dataclass(frozen=True)
class Setting:
    """What the simulator does to every request: a fixed latency, a lognormal one on top, a rate limit."""

    latency_ms: float = 0.0
    median_ms: float = 0.0
    p99_ms: float = 0.0
    rate_limit: float | None = None
    burst: int | None = None

    @property
    def name(self) -> str:
        if self.rate_limit is None and not self.median_ms:
            return f"{self.latency_ms:g}ms"
        return "field"

    def describe(self) -> str:
        parts = [f"{_number(self.latency_ms)} ms latency per request"] if self.latency_ms or not self.median_ms else []
        if self.median_ms:
            parts.append(f"lognormal latency (median {self.median_ms:g} ms, p99 {self.p99_ms:g} ms)")
        if self.rate_limit is not None:
            parts.append(f"rate limit {self.rate_limit:g} requests/s, burst {self.burst}, 429 with Retry-After")
        return ", ".join(parts)

    def simulator_arguments(self) -> list[str]:
        arguments = ["--latency-ms", str(self.latency_ms)]
        if self.median_ms:
            arguments += ["--latency-median-ms", str(self.median_ms), "--latency-p99-ms", str(self.p99_ms)]
        if self.rate_limit is not None:
            arguments += ["--rate-limit", str(self.rate_limit)]
            arguments += ["--burst", str(self.burst)] if self.burst is not None else []
        return arguments


FIELD = Setting(median_ms=30, p99_ms=300, rate_limit=80, burst=16)
"""The realistic setting: the rate-limited service of issue #26 (80 requests/s, bursts of 16), uneven latency."""
NOT_AGAINST_A_RATE_LIMIT = ("limit", "models")
"""The limit does not retry (the floor stands for it there); the models make no request."""


@dataclass
class Case:
    """One (scale, setting) pair: its measurements, in CONTENDERS order."""

    scale: str
    setting: Setting
    measurements: list[Measurement]

    @property
    def latency_ms(self) -> float:
        return self.setting.latency_ms

    def by_name(self, name: str) -> Measurement | None:
        return next((m for m in self.measurements if m.contender == name), None)

    def floor_seconds(self, measurement: Measurement) -> float | None:
        """The rate-limited service's floor for what a contender asked: its successful requests at the limit's rate."""
        if self.setting.rate_limit is None:
            return None
        return (measurement.requests - measurement.refused) / self.setting.rate_limit

    def ratios(self) -> dict[str, float]:
        """Wall-time ratios (and peak memory alongside): kognitos-elt / limit, peer / kognitos-elt; against a rate
        limit, each full load / its floor."""
        ours, limit, peer = self.by_name("kognitos-elt"), self.by_name("limit"), self.by_name("peer")
        ratios: dict[str, float] = {}
        for load in (ours, peer):
            if load and (floor := self.floor_seconds(load)):
                ratios[f"{load.label} / its floor"] = load.wall_seconds / floor
        if ours and limit and limit.wall_seconds > 0:
            ratios["kognitos-elt / limit"] = ours.wall_seconds / limit.wall_seconds
        if ours and peer and ours.wall_seconds > 0:
            ratios["peer / kognitos-elt"] = peer.wall_seconds / ours.wall_seconds
            if ours.peak_rss_bytes:
                ratios["peer / kognitos-elt peak RSS"] = peer.peak_rss_bytes / ours.peak_rss_bytes
        return ratios

    def disagreements(self) -> list[str]:
        """Full loads that saw other run or event counts than kognitos-elt (they must all match)."""
        ours = self.by_name("kognitos-elt")
        if ours is None:
            return []
        return [f"{m.label} saw {m.runs} runs and {m.events} events, kognitos-elt {ours.runs} and {ours.events}"
                for m in self.measurements
                if m.contender in ("limit", "peer") and (m.runs, m.events) != (ours.runs, ours.events)]


@dataclass(frozen=True)
class Simulator:
    """A simulator process: where it listens and what to send."""

    base_url: str
    token: str
    organization_id: str
    today: date
    """The service's date (its `Date` header), which the peer's daily aggregates ask up to."""
    process: psutil.Process


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def simulator(scale: str, setting: Setting, seed: int, workers: int, log_path: Path) -> Iterator[Simulator]:
    """The simulator in its own process (its CPU never shares the contender's GIL), until the block exits."""
    port = _free_port()
    command = [sys.executable, "-m", "kognitos_simulator", "--port", str(port), "--scale", scale, "--seed", str(seed),
               "--token", TOKEN, *setting.simulator_arguments(), "--workers", str(workers)]
    with open(log_path, "ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base_url = f"http://127.0.0.1:{port}"
        organization_id, today = _wait_until_serving(process, base_url, log_path)
        _warm_up(base_url, organization_id)
        yield Simulator(base_url, TOKEN, organization_id, today, psutil.Process(process.pid))
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_serving(process: subprocess.Popen[bytes], base_url: str, log_path: Path) -> tuple[str, date]:
    """Poll until the simulator answers; its organization id (the first the token sees) and its date."""
    deadline = time.monotonic() + SIMULATOR_START_TIMEOUT_SECONDS
    headers = {"Authorization": f"Bearer {TOKEN}"}
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the simulator exited with {process.returncode}; see {log_path}")
        try:
            response = httpx.get(f"{base_url}/api/v1/me/organizations", headers=headers, timeout=2)
        except httpx.TransportError:
            time.sleep(0.1)
            continue
        response.raise_for_status()
        name: str = response.json()["user_organizations"][0]["name"]
        return name.rsplit("/", 1)[-1], server_today(response)
    raise RuntimeError(f"the simulator did not answer within {SIMULATOR_START_TIMEOUT_SECONDS:.0f} s; see {log_path}")


def _warm_up(base_url: str, organization_id: str) -> None:
    """Have the simulator work out each workspace's all-time aggregates before anyone is timed.

    A fresh simulator computes them from every run's plan on first demand (about 13 s of its CPU at medium),
    which the real service answers from precomputed counters: untimed, it would dominate the no-op's figure.
    With several `--simulator-workers`, only the worker that answers is warmed.
    """
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=f"{base_url}/api/v1", headers=headers, timeout=600) as client:
        workspaces = client.get(f"/me/organizations/{organization_id}/workspaces", params={"page_size": 1000})
        for workspace in workspaces.raise_for_status().json()["user_workspaces"]:
            client.get(f"/{workspace['name']}:automationRunAggregates").raise_for_status()


def _tree_rss(process: psutil.Process) -> int:
    """RSS of a process and all its descendants (processes that end meanwhile count as zero)."""
    total = 0
    for member in (process, *_children(process)):
        with suppress(psutil.Error):
            total += member.memory_info().rss
    return total


def _tree_cpu(process: psutil.Process) -> float:
    """User + system CPU seconds of a process tree (the simulator's workers included)."""
    total = 0.0
    for member in (process, *_children(process)):
        with suppress(psutil.Error):
            times = member.cpu_times()
            total += times.user + times.system
    return total


def _children(process: psutil.Process) -> list[psutil.Process]:
    try:
        return process.children(recursive=True)
    except psutil.Error:
        return []


def _contender_environment(dlt_dir: Path) -> dict[str, str]:
    """A clean environment: no kognitos-elt config leaks in from the caller's shell, dlt state under `dlt_dir`."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("SOURCES__", "DESTINATION__", "KOGNITOS", "EXTRACT__", "NORMALIZE__", "LOAD__",
                                   "ANALYTICS__"))}
    env["DLT_DATA_DIR"] = str(dlt_dir)
    env["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    return env


def _read_lines(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def measure(contender: str, label: str, sim: Simulator, workdir: Path, concurrency: int,
            timeout_seconds: float) -> Measurement:
    """Run one contender in a fresh interpreter in `workdir`; wall time from spawn to exit, peak tree RSS."""
    workdir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "benchmarks.contenders", contender, "--base-url", sim.base_url,
               "--token", sim.token, "--organization-id", sim.organization_id, "--concurrency", str(concurrency),
               "--today", sim.today.isoformat()]
    stderr_path = workdir / f"{contender}.stderr.log"
    env = _contender_environment(workdir / "dlt_data")
    simulator_cpu_before = _tree_cpu(sim.process)
    load_average = os.getloadavg()[0]
    with open(stderr_path, "w") as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True)
    try:
        result, peak = _drive(label, process, stderr_path, timeout_seconds)
        wall = time.perf_counter() - started
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
    return Measurement(contender=contender, label=label, wall_seconds=wall, requests=result["requests"],
                       runs=result["runs"], events=result["events"], peak_rss_bytes=peak,
                       cpu_seconds=result["cpu_seconds"],
                       simulator_cpu_seconds=_tree_cpu(sim.process) - simulator_cpu_before,
                       load_average=load_average, rows=result["rows"], seconds=result.get("seconds", {}),
                       refused=result.get("refused", 0), by_endpoint=result.get("by_endpoint", {}),
                       notes=result.get("notes", []))


def _drive(label: str, process: subprocess.Popen[str], stderr_path: Path,
           timeout_seconds: float) -> tuple[dict[str, Any], int]:
    """Sample the process tree's RSS until the contender has printed its result and exited; the result and the peak."""
    assert process.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True).start()
    tree = psutil.Process(process.pid)
    peak = 0
    result: dict[str, Any] | None = None
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        peak = max(peak, _tree_rss(tree))
        try:
            line = lines.get(timeout=SAMPLE_INTERVAL_SECONDS)
        except queue.Empty:
            continue
        if line is not None:
            if line.startswith(RESULT_PREFIX):
                result = orjson.loads(line[len(RESULT_PREFIX):])
            continue
        # The output closed: the contender is exiting.
        returncode = process.wait(timeout=max(deadline - time.monotonic(), 0))
        if result is None or returncode != 0:
            tail = stderr_path.read_text()[-4000:]
            raise RuntimeError(f"{label} exited with {returncode} (result reported: {result is not None}):\n{tail}")
        return result, peak
    raise TimeoutError(f"{label} did not finish within {timeout_seconds:.0f} s")


def run_case(scale: str, setting: Setting | float, *, seed: int = 0, concurrency: int = 8, simulator_workers: int = 1,
             workdir: Path, contenders: Sequence[str] = CONTENDER_NAMES,
             timeout_seconds: float = 6 * 3600, progress: IO[str] | None = None,
             on_measurement: Callable[[Case], None] | None = None) -> Case:
    """Every contender once at one scale and setting (a bare number: that fixed latency), each against a fresh
    simulator with the same seed.

    `on_measurement` gets the case so far after each contender (a long run can save what it has).
    """
    labels = dict(CONTENDERS)
    setting = setting if isinstance(setting, Setting) else Setting(latency_ms=setting)
    case = Case(scale, setting, [])
    workdir.mkdir(parents=True, exist_ok=True)
    if setting.rate_limit is not None:
        contenders = [name for name in contenders if name not in NOT_AGAINST_A_RATE_LIMIT]
    for contender in contenders:
        # The models and the no-op follow kognitos-elt's backfill: same dlt directory and DuckDB file.
        directory = workdir / ("kognitos-elt" if contender in ("models", "noop") else contender)
        with simulator(scale, setting, seed, simulator_workers, workdir / "simulator.log") as sim:
            if contender == "noop" and "models" not in contenders:
                # A cron user's no-op finds the models built: without this it would build them all from scratch.
                measure("models", labels["models"], sim, directory, concurrency, timeout_seconds)
            if progress:
                print(f"  {labels[contender]} ...", end="", file=progress, flush=True)
            measurement = measure(contender, labels[contender], sim, directory, concurrency, timeout_seconds)
            if progress:
                print(f" {measurement.wall_seconds:.1f} s, {measurement.requests:,} requests, "
                      f"{measurement.row_count:,} rows, peak {measurement.peak_rss_bytes / 2**20:,.0f} MB",
                      file=progress, flush=True)
        case.measurements.append(measurement)
        if on_measurement:
            on_measurement(case)
    return case


def _number(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def format_case(case: Case, *, seed: int, concurrency: int, simulator_workers: int) -> str:
    """The plain-text table of one case, then its ratios."""
    title = (f"scale {case.scale}, {case.setting.describe()} (seed {seed}, "
             f"{concurrency} requests in flight, simulator: {simulator_workers} worker process(es)); "
             "rows = runs + events")
    rows = [list(COLUMNS)]
    for m in case.measurements:
        rows.append([m.label, _number(m.wall_seconds, 1), _number(m.requests), _number(m.refused), _number(m.runs),
                     _number(m.events), _number(m.row_count), _number(m.rows_per_second),
                     _number(m.peak_rss_bytes / 2**20), _number(m.cpu_seconds, 1), _number(m.simulator_cpu_seconds, 1)])
    if (ours := case.by_name("kognitos-elt")) and (floor := case.floor_seconds(ours)):
        rows.append([f"floor ({ours.requests - ours.refused:,} successful / {case.setting.rate_limit:g} per s)",
                     _number(floor, 1), *[""] * (len(COLUMNS) - 2)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = [title]
    for index, row in enumerate(rows):
        cells = (cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row))
        lines.append("  ".join(cells))
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    ratios = case.ratios()
    if ratios:
        listed = "; ".join(f"{name} {value:.2f}x" for name, value in ratios.items())
        lines.append(f"ratios (wall time unless said): {listed}")
    if (models := case.by_name("models")) and (load := case.by_name("kognitos-elt")):
        reads = ", ".join(f"{name} {_number(models.rows[name])} rows {models.seconds[name]:.2f} s"
                          for name in sorted(models.rows))
        lines.append(f"analytics models: built in {models.seconds['build']:.1f} s after a {load.wall_seconds:.1f} s "
                     f"load; read in full: {reads}")
    for m in case.measurements:
        if m.contender in ("kognitos-elt", "peer") and m.by_endpoint:
            listed = ", ".join(f"{name} {_number(count)}" for name, count in
                               sorted(m.by_endpoint.items(), key=lambda item: -item[1]))
            lines.append(f"{m.label}'s requests by endpoint (429s included): {listed}")
        lines.extend(f"{m.label} said: {note}" for note in m.notes if "refused" in note)
    loads = ", ".join(f"{m.load_average:.1f}" for m in case.measurements)
    lines.append(f"machine load (1-min average) as each contender started: {loads} on {os.cpu_count()} CPUs")
    lines.extend(f"WARNING: {problem}" for problem in case.disagreements())
    return "\n".join(lines)


def write_results(cases: Sequence[Case], path: Path, **settings: Any) -> Path:
    """All cases as JSON, with the settings and the machine they ran on."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "settings": settings,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "cases": [{"scale": case.scale, "setting": dataclasses.asdict(case.setting), "name": case.setting.name,
                   "latency_ms": case.latency_ms, "ratios": case.ratios(),
                   "measurements": [dataclasses.asdict(m) | {"rows_per_second": m.rows_per_second}
                                    for m in case.measurements]}
                  for case in cases],
    }
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    return path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--scale", choices=SCALE_NAMES, default="small", help="the simulator's named scale")
    parser.add_argument("--latency-ms", type=float, nargs="*", default=list(DEFAULT_LATENCIES_MS),
                        help="simulated latency per request; one table per value")
    parser.add_argument("--no-field", action="store_false", dest="field",
                        help="leave out the field: the rate-limited service with uneven latency (measured first)")
    parser.add_argument("--field-rate-limit", type=float, default=FIELD.rate_limit, help="the field's requests/s")
    parser.add_argument("--field-burst", type=int, default=FIELD.burst, help="the field's burst")
    parser.add_argument("--field-median-ms", type=float, default=FIELD.median_ms, help="the field's median latency")
    parser.add_argument("--field-p99-ms", type=float, default=FIELD.p99_ms, help="the field's 99th percentile latency")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--concurrency", type=int, default=8, help="max_concurrent_requests of every contender")
    parser.add_argument("--simulator-workers", type=int, default=1, help="uvicorn worker processes of the simulator")
    parser.add_argument("--contenders", nargs="+", choices=CONTENDER_NAMES, default=list(CONTENDER_NAMES))
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directories (DuckDB files, logs)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if {"noop", "models"} & set(args.contenders) and "kognitos-elt" not in args.contenders:
        print("the models and the incremental no-op follow a kognitos-elt full load: add kognitos-elt",
              file=sys.stderr)
        return 2
    started = datetime.now(UTC)
    root = Path(tempfile.mkdtemp(prefix=f"kognitos-bench-{args.scale}-"))
    path = args.results_dir / f"{args.scale}-{started:%Y%m%dT%H%M%SZ}.json"
    cases: list[Case] = []
    field = Setting(median_ms=args.field_median_ms, p99_ms=args.field_p99_ms, rate_limit=args.field_rate_limit,
                    burst=args.field_burst)
    settings = [field] * args.field + [Setting(latency_ms=latency) for latency in args.latency_ms]

    def save(partial: Case) -> None:
        # After every contender, so a long run that is stopped still leaves what it measured.
        write_results([*cases, partial], path, scale=args.scale, latencies_ms=args.latency_ms, seed=args.seed,
                      field=dataclasses.asdict(field) if args.field else None, concurrency=args.concurrency,
                      simulator_workers=args.simulator_workers, started=started.isoformat())

    try:
        for setting in settings:
            print(f"scale {args.scale}, {setting.describe()}:", file=sys.stderr, flush=True)
            case = run_case(args.scale, setting, seed=args.seed, concurrency=args.concurrency,
                            simulator_workers=args.simulator_workers, workdir=root / setting.name,
                            contenders=args.contenders, progress=sys.stderr, on_measurement=save)
            cases.append(case)
            print(format_case(case, seed=args.seed, concurrency=args.concurrency,
                              simulator_workers=args.simulator_workers) + "\n", flush=True)
    finally:
        if args.keep:
            print(f"work directories kept in {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    if cases:
        print(f"results: {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
