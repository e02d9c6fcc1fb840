"""A run's whole life, decided up front: which states it passes through and when, and its executions.

A `RunPlan` is a time-ordered list of blocks (state changes, executions, execution endings), a pure
function of (seed, automation, run key). What a client sees at instant t is the part of the plan at
or before t, so a run changes state and gains events as the clock advances, and the events visible
at t are always a prefix of those visible later. Pause and Continue rewrite the plan's future from the
instant they happen (`paused`, `continued`); the past is never rewritten.

Run kinds and their shapes (state updates in brackets, executions as exec):
  completed   [pending] [executing] (exec PRE) exec MAIN -> completed [completed]
  failed      ... exec MAIN -> failed(error) [failed]
  wait_*      ... exec MAIN -> stopped(waiting_on_timer | waiting_on_book) ... exec MAIN -> completed [completed]
  guidance*   ... exec MAIN -> stopped(program_stopped) [awaiting_guidance] ... [executing]
              exec MAIN (node_patched, patched_node_*) -> completed [completed]; *_stuck waits for weeks
  user_stopped* ... exec MAIN (interrupted) [stopping] -> stopped(user_stopped) [stopped] ... days or weeks
              ... [pending] [executing] exec MAIN -> completed [completed]
  big         a completed run whose loop runs hundreds of times (more than 1000 events)
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, replace

from kognitos_simulator import catalog, timestamps
from kognitos_simulator.arrivals import INSERTED, SHOWCASE_MIN_RUNS
from kognitos_simulator.catalog import Node, Program
from kognitos_simulator.entities import Automation, User
from kognitos_simulator.ids import nanoid
from kognitos_simulator.seeds import derive_seed
from kognitos_simulator.values import Json

RUN_STATES = ("pending", "executing", "stopping", "stopped", "awaiting_guidance", "completed", "failed")
PAUSABLE = frozenset({"pending", "executing", "awaiting_guidance"})
CONTINUABLE = frozenset({"stopping", "stopped"})

SECOND = timestamps.NS_PER_SECOND
MINUTE = timestamps.NS_PER_MINUTE
DAY = timestamps.NS_PER_DAY

BIG_PROBABILITY = 0.002
BIG_EVENTS = (1100, 1700)
# Kinds of plain runs and their weights; each is a method of _Life.
_KIND_WEIGHTS = {
    "completed": 70.0, "failed": 9.0, "wait_timer": 4.0, "wait_book": 5.0, "quick_guidance": 6.0,
    "guidance_stuck": 1.5, "user_stopped": 3.0,
}
_KINDS = tuple(_KIND_WEIGHTS)
_KIND_CUMULATIVE_WEIGHTS = tuple(itertools.accumulate(_KIND_WEIGHTS.values()))
_GUIDANCE_KINDS = frozenset({"quick_guidance", "guidance_stuck", "guidance_stuck_long"})
_SOURCES = ("MANUAL", "TRIGGER", "SCHEDULE", "")
_SOURCE_CUMULATIVE_WEIGHTS = tuple(itertools.accumulate((20, 45, 33, 2)))


@dataclass(frozen=True, slots=True)
class StateChange:
    """The run enters `state` (a v1RunState key) with this payload at `time_ns`."""

    time_ns: int
    state: str
    detail: Json


@dataclass(frozen=True, slots=True)
class Execution:
    """An execution's journal from `started` up to (not including) its final entry.

    Its node events are spread over [start_ns, start_ns + span_ns]. It runs the program from top-level
    node `first_node` to the end, or up to `stop_node` (which starts, and executes with `stop_error`
    when one is given). A `patch` is applied to `first_node` first (guidance). An execution interrupted
    by a pause has `cut_ns`: nothing after that instant happened.
    """

    ordinal: int
    program: Program
    start_ns: int
    span_ns: int
    iterations: int
    seed: int
    first_node: int = 0
    stop_node: int | None = None
    stop_error: Json | None = None
    patch: Json | None = None
    branch_taken: bool = True
    cut_ns: int | None = None


@dataclass(frozen=True, slots=True)
class ExecutionEnd:
    """The final journal entry of an execution: `variant` is completed, failed or stopped."""

    ordinal: int
    time_ns: int
    variant: str
    detail: Json


Block = StateChange | Execution | ExecutionEnd


@dataclass(frozen=True, slots=True)
class RunPlan:
    automation: Automation
    key: int
    run_id: str
    create_ns: int
    precision: int
    seed: int
    stage: str
    stage_version: str
    invocation: Json | None
    inputs: Json
    user_inputs: Json
    outputs: Json
    previous_run: str | None
    blocks: tuple[Block, ...]

    @property
    def name(self) -> str:
        return f"{self.automation.name}/runs/{self.run_id}"

    def state_at(self, at_ns: int) -> StateChange:
        """The state the run is in at `at_ns` (the run must exist then)."""
        current = None
        for block in self.blocks:
            if isinstance(block, StateChange):
                if block.time_ns > at_ns:
                    break
                current = block
        if current is None:
            raise ValueError(f"run {self.run_id} does not exist at {timestamps.render(at_ns)}")
        return current

    def completed_at(self) -> int | None:
        """When the run reaches the completed state, if it ever does."""
        last = self.blocks[-1]
        return last.time_ns if isinstance(last, StateChange) and last.state == "completed" else None


class _Life:
    """Writes one run's blocks while moving a clock forward (instants truncated to the run's precision).

    Each run kind is a method; `with_pre`, `user_inputs` and `outputs` are the run's facts they need.
    """

    def __init__(self, rng: random.Random, clock: int, precision: int, blocks: list[Block], automation: Automation,
                 normal_events: float, *, with_pre: bool = False, user_inputs: Json | None = None,
                 outputs: Json | None = None) -> None:
        self.rng = rng
        self.clock = clock
        self.precision = precision
        self.blocks = blocks
        self.automation = automation
        self.normal_events = normal_events
        self.with_pre = with_pre
        self.user_inputs = user_inputs or {}
        self.outputs = outputs or {}
        self.executions = 1 + max((b.ordinal for b in blocks if isinstance(b, Execution)), default=-1)

    # Moving the clock and writing blocks.

    def now(self) -> int:
        return timestamps.floor(self.clock, self.precision)

    def wait(self, ns: float) -> None:
        self.clock += max(0, int(ns))

    def wait_seconds(self, low: float, high: float) -> None:
        self.wait(self.rng.uniform(low, high) * SECOND)

    def queue(self) -> None:
        """Time spent pending before an executor picks the run up."""
        self.wait(min(90.0, max(0.05, math.exp(self.rng.gauss(0.4, 1.0)))) * SECOND)

    def gap(self) -> None:
        self.wait_seconds(0.005, 0.2)

    def state(self, state: str, detail: Json | None = None) -> None:
        self.blocks.append(StateChange(self.now(), state, detail or {}))

    def execute(self, program: Program, events: int, iterations: int, *, span_ns: int | None = None,
                cut_after_ns: int | None = None, first_node: int = 0, stop_node: int | None = None,
                stop_error: Json | None = None, patch: Json | None = None, branch_taken: bool = True) -> int:
        """Add an execution; the clock moves to its end (or to its cut). Returns its ordinal."""
        ordinal = self.executions
        self.executions += 1
        start = self.now()
        span = span_ns if span_ns is not None else int(events * math.exp(self.rng.gauss(-0.7, 0.6)) * SECOND)
        cut = None if cut_after_ns is None else timestamps.floor(start + cut_after_ns, self.precision)
        self.blocks.append(Execution(ordinal, program, start, span, iterations, self.rng.getrandbits(63),
                                     first_node, stop_node, stop_error, patch, branch_taken, cut))
        self.clock = start + span if cut is None else cut
        return ordinal

    def end(self, ordinal: int, variant: str, detail: Json) -> None:
        self.blocks.append(ExecutionEnd(ordinal, self.now(), variant, detail))

    # Pieces of a life.

    def events(self, big: bool = False) -> int:
        """How many events an execution should produce (a draw around the target mean)."""
        if big:
            return self.rng.randint(*BIG_EVENTS)
        return max(1, round(self.rng.gauss(self.normal_events, self.normal_events * 0.4)))

    def start(self) -> None:
        """pending -> executing, and the PRE phase for triggered runs."""
        self.queue()
        self.state("executing")
        self.gap()
        if self.with_pre and self.automation.pre is not None:
            ordinal = self.execute(self.automation.pre, 4, 0)
            self.gap()
            self.end(ordinal, "completed", {"outputs": self.user_inputs} if self.user_inputs else {})
            self.gap()

    def finish(self, events: int, first_node: int = 0, patch: Json | None = None, span_ns: int | None = None) -> None:
        """Run MAIN to completion and complete the run."""
        program = self.automation.main
        ordinal = self.execute(program, events, _iterations(program, events), span_ns=span_ns, first_node=first_node,
                               patch=patch, branch_taken=self.rng.random() < 0.4)
        completed = {"outputs": self.outputs} if self.outputs else {}
        self.gap()
        self.end(ordinal, "completed", completed)
        self.gap()
        self.state("completed", completed)

    def stop_node(self) -> tuple[int, Node]:
        """A top-level node calling a book: where runs wait, fail or need guidance."""
        index = self.rng.choice(self.automation.main.book_nodes)
        return index, self.automation.main.nodes[index]

    def error(self, node: Node, error_id: str, description: str) -> Json:
        """A v1ExecutionError raised at `node`."""
        book = node.statement.book
        return {
            "id": error_id,
            "description": description,
            "context": {"code_location": node.location, "node_id": node.node_id},
            "extra": {"book": book.book_name} if book else {},
            "code": self.automation.main.code,
        }

    def patch(self, node: Node) -> Json:
        """A guidance resolution: new code for the node, sometimes patched inputs or connections."""
        statement, theme = node.statement, self.automation.theme
        target = statement.writes[0] if statement.writes else "result"
        patch: Json = {"code_patch": f"{target} = {statement.code.split('=', 1)[-1].strip()}  # resolved"}
        if statement.reads and self.rng.random() < 0.7:
            variable = statement.reads[0]
            patch["inputs_patch"] = {variable: catalog.SAMPLERS[theme.variables[variable]](self.rng)}
        if statement.book and self.rng.random() < 0.3:
            alias = statement.book.connection_alias
            endpoint = next((connection.endpoint for connection in theme.connections if connection.alias == alias),
                            "lambda://kognitos/books/1.0.0")
            patch["connections"] = {alias: {"connection_id": f"{alias}-{nanoid(self.rng, 6)}", "endpoint": endpoint}}
        return patch

    def stopped_by_user(self, stop_after_ns: int, stopping_ns: int, stopped_ns: int) -> None:
        """Run MAIN until a user pauses it, stay stopping then stopped, then continue and complete."""
        reason = self.rng.choice(catalog.PAUSE_REASONS)
        events = self.events()
        program = self.automation.main
        ordinal = self.execute(program, events, _iterations(program, events), span_ns=2 * stop_after_ns,
                               cut_after_ns=stop_after_ns)
        self.state("stopping", {"reason": reason})
        self.wait(stopping_ns)
        self.end(ordinal, "stopped", {"user_stopped": {}})
        self.gap()
        self.state("stopped", {"reason": reason})
        self.wait(stopped_ns)
        self.state("pending")
        self.queue()
        self.state("executing")
        self.gap()
        self.finish(self.events())

    def waiting(self, timer: bool) -> None:
        """MAIN stops to wait for a timer or an async book, then a new execution resumes it."""
        self.start()
        index, _ = self.stop_node()
        events = self.events()
        ordinal = self.execute(self.automation.main, events // 2, 0, stop_node=index)
        self.gap()
        if timer:
            seconds = self.rng.choice((60, 300, 900, 3600))
            self.end(ordinal, "stopped", {"waiting_on_timer": {"duration": f"{seconds}s"}})
            self.wait(seconds * SECOND)
        else:
            self.end(ordinal, "stopped", {"waiting_on_book": {}})
            self.wait_seconds(20, 7200)
        self.finish(events, first_node=index)

    def guidance(self, resolve_days: tuple[float, float]) -> None:
        """MAIN raises an exception, the run awaits guidance, and a patched execution completes it."""
        self.start()
        index, node = self.stop_node()
        description = self.rng.choice(self.automation.theme.guidance)
        exception_id = nanoid(self.rng)
        events = self.events()
        ordinal = self.execute(self.automation.main, events // 2, 0, stop_node=index,
                               stop_error=self.error(node, "err_needs_guidance", description))
        self.gap()
        reason = f"{self.rng.choice(catalog.PROGRAM_STOP_REASONS)} (exception {exception_id})"
        self.end(ordinal, "stopped", {"program_stopped": {"reason": reason}})
        self.gap()
        self.state("awaiting_guidance", {"exception": exception_id, "description": description,
                                         "location": node.location})
        self.wait(self.rng.uniform(*resolve_days) * DAY)
        self.state("executing")
        self.gap()
        self.finish(events, first_node=index, patch=self.patch(node))

    # The kinds (see the module docstring).

    def completed(self) -> None:
        self.start()
        self.finish(self.events())

    def big(self) -> None:
        self.start()
        self.finish(self.events(big=True))

    def pending_now(self) -> None:
        self.wait_seconds(120, 300)  # a long queue: still pending at the start instant
        self.completed()

    def executing_now(self) -> None:
        self.start()
        self.finish(self.events(big=True), span_ns=int(self.rng.uniform(80, 120) * MINUTE))

    def stopping_now(self) -> None:
        # Created 3 minutes before the start instant: paused 38 s before it, stopping for 5-10 minutes.
        self.wait_seconds(1, 3)
        self.state("executing")
        self.stopped_by_user(140 * SECOND, int(self.rng.uniform(5, 10) * MINUTE), 9 * DAY)

    def user_stopped(self, stopped_days: tuple[float, float] = (1, 20)) -> None:
        self.start()
        self.stopped_by_user(int(self.rng.uniform(2, 40) * SECOND), int(self.rng.uniform(2, 30) * SECOND),
                             int(self.rng.uniform(*stopped_days) * DAY))

    def user_stopped_long(self) -> None:
        self.user_stopped(stopped_days=(30, 40))

    def failed(self) -> None:
        self.start()
        index, node = self.stop_node()
        failure = self.rng.choice(self.automation.theme.failures)
        error = self.error(node, failure.error_id, failure.description)
        events = self.events()
        ordinal = self.execute(self.automation.main, events, _iterations(self.automation.main, events),
                               stop_node=index, stop_error=error)
        self.gap()
        self.end(ordinal, "failed", {"error": error})
        self.gap()
        self.state("failed", {"id": failure.error_id, "description": failure.description, "location": node.location})

    def wait_timer(self) -> None:
        self.waiting(timer=True)

    def wait_book(self) -> None:
        self.waiting(timer=False)

    def quick_guidance(self) -> None:
        self.guidance((0.005, 0.3))

    def guidance_stuck(self) -> None:
        self.guidance((7, 42))

    def guidance_stuck_long(self) -> None:
        self.guidance((35, 42))


def _iterations(program: Program, events: int) -> int:
    """Loop iterations that bring an execution of `program` close to `events` events in total."""
    loop = next((node for node in program.nodes if node.kind == "ForLoop"), None)
    if loop is None:
        return 0
    fixed = 2 * len(program.nodes) + 5
    return max(0, round((events - fixed) / (2 * len(loop.body))))


class PlanFactory:
    """Builds the base plan of any run and applies pause/continue overrides to plans."""

    def __init__(self, seed: int, events_per_run: int, users: tuple[User, ...]) -> None:
        self._seed = seed
        self._users = users
        # Plain runs aim a little lower so that big runs keep the overall mean at events_per_run.
        self._normal_events = max(1.0, events_per_run - BIG_PROBABILITY * sum(BIG_EVENTS) / 2)

    def base(self, automation: Automation, key: int, create_ns: int, precision: int,
             run_id_of: Callable[[int], str], *, with_values: bool = True) -> RunPlan:
        """The plan of a run as nobody paused or continued it.

        Values (inputs, outputs) come from their own random stream, so `with_values=False` gives the
        same timeline cheaply (for counting completed runs).
        """
        seed = derive_seed(self._seed, "run", automation.id, key)
        rng = random.Random(seed)
        kind = self._kind(automation, key, rng)
        draft = automation.published_version is None or rng.random() < 0.08
        invocation = self._invocation(rng, draft)
        source = invocation["invocation_source"] if invocation else None
        with_pre = source == "INVOCATION_SOURCE_TRIGGER" and automation.pre is not None
        previous = key - rng.randint(1, min(key, 20)) if 0 < key < INSERTED and rng.random() < 0.03 else None
        theme = automation.theme
        inputs: Json = {}
        outputs: Json = {}
        if with_values:
            values_rng = random.Random(seed ^ 0x5DEECE66D)
            inputs = {name: catalog.pooled(theme.variables[name], values_rng) for name, _ in theme.inputs}
            outputs = {name: catalog.pooled(theme.variables[name], values_rng) for name in theme.outputs}
        user_inputs = inputs if with_pre or source == "INVOCATION_SOURCE_MANUAL" else {}
        life = _Life(rng, create_ns, precision, [], automation, self._normal_events, with_pre=with_pre,
                     user_inputs=user_inputs, outputs=outputs)
        life.state("pending")
        getattr(life, kind)()
        return RunPlan(
            automation, key, run_id_of(key) if with_values else "", create_ns, precision, seed,
            "AUTOMATION_STAGE_DRAFT" if draft else "AUTOMATION_STAGE_PUBLISHED",
            automation.version if draft else automation.published_version or automation.version,
            invocation, inputs, user_inputs, outputs,
            f"{automation.name}/runs/{run_id_of(previous)}" if previous is not None else None,
            tuple(life.blocks),
        )

    def awaits_guidance(self, automation: Automation, key: int) -> bool:
        """Whether the run's base plan awaits guidance (its kind, without building the plan)."""
        rng = random.Random(derive_seed(self._seed, "run", automation.id, key))
        return self._kind(automation, key, rng) in _GUIDANCE_KINDS

    def _kind(self, automation: Automation, key: int, rng: random.Random) -> str:
        runs = automation.history_runs
        if automation.showcase and runs >= SHOWCASE_MIN_RUNS and key < runs:
            showcase = {0: "big", 1: "guidance_stuck_long", 2: "user_stopped_long", 3: "wait_timer",
                        4: "wait_book", 5: "failed", 6: "quick_guidance", runs - 3: "executing_now",
                        runs - 2: "stopping_now", runs - 1: "pending_now"}
            if key in showcase:
                return showcase[key]
        has_loop = any(node.kind == "ForLoop" for node in automation.main.nodes)
        if has_loop and rng.random() < BIG_PROBABILITY:
            return "big"
        return rng.choices(_KINDS, cum_weights=_KIND_CUMULATIVE_WEIGHTS)[0]

    def _invocation(self, rng: random.Random, draft: bool) -> Json | None:
        if draft:
            return {"user_id": rng.choice(self._users).id, "invocation_source": "INVOCATION_SOURCE_MANUAL"}
        source = rng.choices(_SOURCES, cum_weights=_SOURCE_CUMULATIVE_WEIGHTS)[0]
        if source == "MANUAL":
            return {"user_id": rng.choice(self._users).id, "invocation_source": "INVOCATION_SOURCE_MANUAL"}
        if source == "TRIGGER":
            return {"trigger_id": f"trg_{rng.getrandbits(40):010x}", "invocation_source": "INVOCATION_SOURCE_TRIGGER"}
        if source == "SCHEDULE":
            return {"trigger_id": f"sch_{rng.getrandbits(40):010x}", "invocation_source": "INVOCATION_SOURCE_SCHEDULE"}
        return None

    def paused(self, plan: RunPlan, at_ns: int, reason: str, index: int) -> RunPlan:
        """The plan after a user pauses the run at `at_ns`: stopping, then stopped, until continued."""
        at = timestamps.floor(at_ns, plan.precision)
        blocks = _truncate(plan.blocks, at)
        life = _Life(random.Random(derive_seed(plan.seed, "pause", index)), at, plan.precision, blocks,
                     plan.automation, self._normal_events)
        running = _running(blocks)
        life.state("stopping", {"reason": reason})
        if running is not None:
            life.wait_seconds(0.5, 3)
            life.end(running, "stopped", {"user_stopped": {}})
        life.wait_seconds(1, 10)
        life.state("stopped", {"reason": reason})
        return replace(plan, blocks=tuple(life.blocks))

    def continued(self, plan: RunPlan, at_ns: int, index: int) -> RunPlan:
        """The plan after a user continues a stopping/stopped run at `at_ns`: pending, then runs to completion."""
        at = timestamps.floor(at_ns, plan.precision)
        life = _Life(random.Random(derive_seed(plan.seed, "continue", index)), at, plan.precision,
                     _truncate(plan.blocks, at), plan.automation, self._normal_events, outputs=plan.outputs)
        life.state("pending")
        life.queue()
        life.state("executing")
        life.gap()
        life.finish(life.events())
        return replace(plan, blocks=tuple(life.blocks))


def _truncate(blocks: tuple[Block, ...], at: int) -> list[Block]:
    """The blocks that happened at or before `at`; an execution still running then is cut there."""
    kept: list[Block] = []
    for block in blocks:
        if isinstance(block, Execution):
            if block.start_ns > at:
                break
            if block.start_ns + block.span_ns > at and (block.cut_ns is None or block.cut_ns > at):
                block = replace(block, cut_ns=at)
        elif block.time_ns > at:
            break
        kept.append(block)
    return kept


def _running(blocks: list[Block]) -> int | None:
    """The ordinal of an execution that has started but not ended, if any."""
    ended = {block.ordinal for block in blocks if isinstance(block, ExecutionEnd)}
    started = [block.ordinal for block in blocks if isinstance(block, Execution)]
    return started[-1] if started and started[-1] not in ended else None

