"""Plans as the API shows them: v1Run JSON at an instant, and the full v1RunEvent stream of a run.

A run's events are expanded once per plan (node by node, with times spread over each execution) and
kept pre-encoded, so pages of a 1,500-event run are slices of a list, and the events visible at t are
the prefix with event time <= t.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import orjson

from kognitos_simulator import catalog, timestamps, values
from kognitos_simulator.catalog import Node, Program
from kognitos_simulator.entities import Automation
from kognitos_simulator.ids import UuidCodec
from kognitos_simulator.plans import Execution, ExecutionEnd, RunPlan, StateChange
from kognitos_simulator.timestamps import render
from kognitos_simulator.values import Json

EXECUTION_ID_LIMIT = 1 << 61


@dataclass(frozen=True, slots=True)
class Event:
    """One encoded v1RunEvent; `node_kind` is set for journal entries about a node."""

    time_ns: int
    node_kind: str | None
    body: bytes


def execution_key(automation: Automation, run_key: int, ordinal: int) -> int:
    """The integer an execution id encodes: automation ordinal (12 bits), run key (41), execution (8)."""
    return (automation.ordinal << 49) | (run_key << 8) | ordinal


def split_execution_key(value: int) -> tuple[int, int, int]:
    return value >> 49, (value >> 8) & ((1 << 41) - 1), value & 0xFF


class Renderer:
    """Turns plans into API JSON for one organization."""

    def __init__(self, organization_id: str, execution_ids: dict[str, UuidCodec]) -> None:
        self._organization_id = organization_id
        self._execution_ids = execution_ids  # per workspace id

    def execution_id(self, plan: RunPlan, ordinal: int) -> str:
        codec = self._execution_ids[plan.automation.workspace_id]
        return codec.encode(execution_key(plan.automation, plan.key, ordinal))

    def run(self, plan: RunPlan, at_ns: int, *, full: bool = False) -> Json:
        """v1Run at `at_ns` as List Runs returns it; `full` adds executable_steps (Get Run)."""
        return self._run(plan, plan.state_at(at_ns), full=full, snapshot=False)

    def _run(self, plan: RunPlan, state: StateChange, *, full: bool, snapshot: bool) -> Json:
        body: Json = {"name": plan.name}
        if full:
            body["executable_steps"] = self._executable_steps(plan)
        changed = render(state.time_ns)
        body["create_time"] = render(plan.create_ns)
        body["update_time"] = changed
        body["state"] = {state.state: state.detail, "update_time": changed}
        if plan.previous_run and not snapshot:
            body["previous_run"] = plan.previous_run
        body["stage"] = plan.stage
        body["stage_version"] = plan.stage_version
        if not snapshot:
            if plan.invocation is not None:
                body["invocation_details"] = plan.invocation
            if plan.user_inputs:
                body["user_inputs"] = plan.user_inputs
        return body

    @staticmethod
    def _executable_steps(plan: RunPlan) -> Json:
        automation = plan.automation
        connections = automation.connections_json()
        phases = {block.program.phase_id for block in plan.blocks if isinstance(block, Execution)}
        programs = [automation.pre] if "pre" in phases and automation.pre is not None else []
        programs.append(automation.main)
        steps: Json = {"inputs": plan.inputs} if plan.inputs else {}
        steps["executables"] = [
            {"code": program.code,
             "book_connections": {alias: connections[alias] for alias in _aliases(program) if alias in connections},
             "phase_type": program.phase_type}
            for program in programs
        ]
        return steps

    def events(self, plan: RunPlan) -> list[Event]:
        """Every event the plan will ever produce, in order (times never decrease)."""
        events: list[Event] = []
        for block in plan.blocks:
            if isinstance(block, StateChange):
                snapshot = self._run(plan, block, full=False, snapshot=True)
                events.append(Event(block.time_ns, None, orjson.dumps({"run_update": {"run": snapshot}})))
            elif isinstance(block, ExecutionEnd):
                execution_id = self.execution_id(plan, block.ordinal)
                events.append(self.journal(plan, execution_id, block.time_ns, block.variant, block.detail))
            else:
                events.extend(_ExecutionExpander(self, plan, block).events())
        return events

    def journal(self, plan: RunPlan, execution_id: str, time_ns: int, variant: str, payload: Json,
                extra: Json | None = None, node_kind: str | None = None) -> Event:
        entry: Json = {
            "execution_id": execution_id,
            "run_id": plan.run_id,
            "event_time": render(time_ns),
            variant: payload,
        }
        if extra:
            entry.update(extra)
        return Event(time_ns, node_kind, orjson.dumps({"execution_journal": entry}))

    def started_extra(self, plan: RunPlan, program: Program) -> Json:
        """Fields only the `started` entry carries (as in the reference's example)."""
        automation = plan.automation
        extra: Json = {
            "automation_id": automation.id,
            "automation_phase_id": program.phase_id,
            "code_hash": program.code_hash,
            "stage": plan.stage,
            "workspace_id": automation.workspace_id,
            "organization_id": self._organization_id,
        }
        # Pass-through metadata of the orchestrator: the tenant's zone, and the trigger (null if none).
        trigger = plan.invocation.get("trigger_id") if plan.invocation else None
        extra["extra_metadata"] = {
            "tenant_time_zone": values.time_zone("Europe/Berlin", "2025b"),
            "trigger_id": values.text(trigger) if trigger else values.null(),
        }
        return extra

    def execution_outputs(self, plan: RunPlan, ordinal: int, at_ns: int) -> Json | None:
        """v1GetExecutionOutputsResponse of an execution, or None if it has not started by `at_ns`."""
        started = next((block for block in plan.blocks
                        if isinstance(block, Execution) and block.ordinal == ordinal), None)
        if started is None or started.start_ns > at_ns:
            return None
        end = next((block for block in plan.blocks if isinstance(block, ExecutionEnd) and block.ordinal == ordinal
                    and block.variant == "completed" and block.time_ns <= at_ns), None)
        outputs: Json = end.detail.get("outputs", {}) if end is not None else {}
        variables = plan.automation.theme.variables
        typed = {name: {"value": value, "type": catalog.TYPES[variables[name]]} for name, value in outputs.items()}
        return {"outputs": typed} if typed else {}


def _aliases(program: Program) -> list[str]:
    found: list[str] = []
    pending = list(program.nodes)
    while pending:
        node = pending.pop(0)
        book = node.statement.book
        if book is not None and book.connection_alias not in found:
            found.append(book.connection_alias)
        pending.extend(node.body)
    return found


class _ExecutionExpander:
    """Expands one Execution block into its journal entries (started, node_*), spaced over its span.

    Entries are assembled from pre-encoded pieces (the envelope of the execution, each node's fixed
    payloads, pooled values): a big run has more than a thousand of them.
    """

    def __init__(self, renderer: Renderer, plan: RunPlan, execution: Execution) -> None:
        self._renderer = renderer
        self._plan = plan
        self._execution = execution
        self._rng = random.Random(execution.seed)
        self._variables = plan.automation.theme.variables
        self._values: Json = dict(plan.outputs)
        self._steps: list[tuple[bytes, bytes, str]] = []
        self._fixed: dict[tuple[str, str], bytes] = {}

    def _value(self, name: str) -> Json | orjson.Fragment:
        if name not in self._values:
            self._values[name] = catalog.pooled(self._variables.get(name, "text_po"), self._rng)
        return self._values[name]  # type: ignore[no-any-return]

    def _step(self, variant: str, payload: bytes, node_kind: str) -> None:
        self._steps.append((variant.encode(), payload, node_kind))

    def _basic(self, node: Node) -> bytes:
        """The payload of node_started and node_skipped (the same for every visit of the node)."""
        key = ("basic", node.node_id)
        if key not in self._fixed:
            self._fixed[key] = orjson.dumps({"code_location": node.location, "node_id": node.node_id,
                                             "node_kind": node.kind})
        return self._fixed[key]

    def _executed(self, node: Node, error: Json | None = None) -> Json:
        statement = node.statement
        inputs = {name: self._value(name) for name in statement.reads}
        for name in statement.writes:
            if name not in self._plan.outputs:
                self._values.pop(name, None)  # a write produces a fresh value
        outputs = {name: self._value(name) for name in statement.writes}
        payload: Json = {"code_location": node.location}
        if inputs:
            payload["inputs"] = inputs
        if outputs:
            payload["outputs"] = outputs
        if error is not None:
            payload["error"] = [error]
        payload["node_id"] = node.node_id
        if statement.book is not None and error is None:
            book = statement.book
            call: Json = {"book_function": {"connection_spy_identifier": book.connection_alias,
                                            "book_name": book.book_name, "function_name": book.function_name,
                                            "code_location": node.location}}
            if inputs:
                call["inputs"] = inputs
            if outputs:
                call["output"] = next(iter(outputs.values()))
            payload["book_function_call"] = call
        payload["node_kind"] = node.kind
        return payload

    def _run_node(self, node: Node) -> None:
        execution = self._execution
        self._step("node_started", self._basic(node), node.kind)
        if node.kind == "ForLoop":
            for _ in range(execution.iterations):
                for name in node.statement.writes:
                    self._values.pop(name, None)  # the loop variable takes the next item
                for child in node.body:
                    self._run_node(child)
        elif node.body:
            for child in node.body:
                if execution.branch_taken:
                    self._run_node(child)
                else:
                    self._step("node_skipped", self._basic(child), child.kind)
        self._step("node_executed", orjson.dumps(self._executed(node)), node.kind)

    def _patched(self, node: Node) -> None:
        patch = self._execution.patch or {}
        self._step("node_patched", orjson.dumps({"code_location": node.location, **patch, "node_id": node.node_id,
                                                 "node_kind": node.kind}), node.kind)
        patch_location = catalog.location(0, len(patch.get("code_patch", "").encode()))
        located = {"patch_location": patch_location, "node_location": node.location}
        self._step("patched_node_started",
                   orjson.dumps({**located, "node_id": node.node_id, "node_kind": node.kind}), node.kind)
        executed = self._executed(node)
        executed.pop("code_location")
        self._step("patched_node_executed", orjson.dumps({**located, **executed}), node.kind)

    def events(self) -> list[Event]:
        execution, plan = self._execution, self._plan
        nodes = execution.program.nodes
        first = execution.first_node
        if execution.patch is not None:
            self._patched(nodes[first])
            first += 1
        last = execution.stop_node if execution.stop_node is not None else len(nodes)
        for node in nodes[first:last]:
            self._run_node(node)
        if execution.stop_node is not None:
            stop = nodes[execution.stop_node]
            self._step("node_started", self._basic(stop), stop.kind)
            if execution.stop_error is not None:
                self._step("node_executed", orjson.dumps(self._executed(stop, execution.stop_error)), stop.kind)
        renderer = self._renderer
        execution_id = renderer.execution_id(plan, execution.ordinal)
        events = [renderer.journal(plan, execution_id, execution.start_ns, "started", {},
                                   renderer.started_extra(plan, execution.program))]
        # Every entry is {"execution_journal":{"execution_id":..,"run_id":..,"event_time":..,<variant>:<payload>}}.
        head = orjson.dumps({"execution_journal": {"execution_id": execution_id, "run_id": plan.run_id,
                                                   "event_time": ""}})[:-3]
        cut, start, span, precision = execution.cut_ns, execution.start_ns, execution.span_ns, plan.precision
        slots = len(self._steps) + 1
        for index, (variant, payload, node_kind) in enumerate(self._steps, start=1):
            time_ns = timestamps.floor(start + int((index + self._rng.random()) * span / slots), precision)
            if cut is not None and time_ns > cut:
                break
            body = b"".join((head, timestamps.render(time_ns).encode(), b'","', variant, b'":', payload, b"}}"))
            events.append(Event(time_ns, node_kind, body))
        return events
