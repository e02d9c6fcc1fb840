"""The guidance center: the exception a run raises each time it stops to await guidance, and its life.

One exception per awaiting_guidance episode of a run; its id is the run state's `awaiting_guidance.exception`.
Its life is decided up front from the run's plan, a pure function of the seed like the run's own, so what a
client sees at instant t is the exception's changes at or before t:

  created     the instant the run enters awaiting_guidance (its execution stopped a moment before): PENDING,
              in a group (or none), sometimes assigned at once (the group's default assignee)
  described   5 s to 3 min later: `description` appears and `update_time` moves
  assigned    minutes later if nobody was; long waits are sometimes reassigned
  archived    some waits of 3 days or more (every wait of 30 days or more): ARCHIVED after 1-4 days
  reopened    ARCHIVED -> PENDING days later (8-12 days into a wait of 30 days or more), or shortly before the
              run resumes (RESOLVED only follows PENDING)
  resolved    when the run leaves awaiting_guidance: RESOLVED (terminal) by a person (`users/...`), or, for
              waits under a day, sometimes by an agent through a guide entry (`agents/...`,
              `resolution_guide_entry`)
  abandoned   a run paused while it awaits guidance: ARCHIVED at the pause (if pending), and it stays archived

Decisions come from the run's plan as generated (before any pause), so a pause never rewrites what a client
could already see.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from kognitos_simulator import timestamps
from kognitos_simulator.entities import Automation, User, Workspace
from kognitos_simulator.ids import nanoid
from kognitos_simulator.plans import DAY, SECOND, Execution, ExecutionEnd, RunPlan, StateChange
from kognitos_simulator.seeds import rng_for
from kognitos_simulator.values import Json

PENDING = "EXCEPTION_STATE_PENDING"
RESOLVED = "EXCEPTION_STATE_RESOLVED"
ARCHIVED = "EXCEPTION_STATE_ARCHIVED"
STATES = (PENDING, RESOLVED, ARCHIVED)
AGENT = "agents/astral"  # the resolution agent's id observed in the product (kognitos-api.md §4.5)
UNGROUPED = ""
HOUR = 3600 * SECOND
ARCHIVE_AFTER_WAITS_OF = 3 * DAY
ALWAYS_ARCHIVED_WAITS_OF = 30 * DAY
AGENT_WAITS_UNDER = DAY


@dataclass(frozen=True)
class Group:
    """A static exception group (v1ExceptionGroup); `weight` is how often new exceptions fall in it."""

    short_name: str
    title: str
    description: str
    suggested_action: str
    weight: float
    has_default_assignee: bool


GROUPS = (
    Group("missing_values", "Missing values", "A value the automation needs is missing or unreadable.",
          "Provide the missing value, or fix the document and retry.", 45, True),
    Group("user_system_error", "User system errors", "A system the automation talks to refused or failed.",
          "Check the connection and the account in the external system.", 25, False),
    Group("internal_error", "Internal errors", "Something went wrong inside Kognitos.",
          "Retry the run; contact support if it happens again.", 10, True),
)
_UNGROUPED_WEIGHT = 20
_GROUP_CHOICES = (*(group.short_name for group in GROUPS), UNGROUPED)
_GROUP_WEIGHTS = (*(group.weight for group in GROUPS), _UNGROUPED_WEIGHT)
_HINTS = {
    "missing_values": "The automation could not find a value it needs; supply it so the run can go on.",
    "user_system_error": "An external system did not accept the request; check it, then let the run go on.",
    "internal_error": "The platform hit an internal problem at this step; retrying usually helps.",
    UNGROUPED: "The automation needs a decision from a person before it can go on.",
}


@dataclass(frozen=True, slots=True)
class Change:
    """What changes about an exception at `time_ns` (field -> new value)."""

    time_ns: int
    fields: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class ExceptionLife:
    """One exception: what never changes (`fixed`, as JSON) and its changes in time order (the first creates it)."""

    exception_id: str
    automation_id: str
    run_id: str
    group: str  # short name, UNGROUPED for none
    create_ns: int
    fixed: Json
    changes: tuple[Change, ...]

    def fields_at(self, at_ns: int) -> tuple[dict[str, str], int]:
        """The changing fields at `at_ns` and the instant of the latest change (the exception must exist then)."""
        fields: dict[str, str] = {}
        updated = self.create_ns
        for change in self.changes:
            if change.time_ns > at_ns:
                break
            fields.update(change.fields)
            updated = change.time_ns
        return fields, updated

    def state_at(self, at_ns: int) -> str:
        return self.fields_at(at_ns)[0]["state"]

    def render(self, at_ns: int) -> Json:
        """v1Exception at `at_ns` (proto3 JSON: empty fields omitted), keys in the schema's order."""
        fields, updated = self.fields_at(at_ns)
        fixed = self.fixed
        body: Json = {key: fixed[key] for key in ("name", "run", "location", "message", "create_time")}
        body["update_time"] = timestamps.render(updated)
        body["state"] = fields["state"]
        body["automation"] = fixed["automation"]
        for key in ("description", "group", "resolution_guide_entry", "stage", "execution_id", "extra", "assignee",
                    "resolver"):
            value = fields.get(key) or fixed.get(key)
            if value:
                body[key] = dict(value) if isinstance(value, dict) else value
        return body

    def history(self, until_ns: int) -> list[Json]:
        """The exception after each of its changes at or before `until_ns`, oldest first."""
        instants = sorted({change.time_ns for change in self.changes if change.time_ns <= until_ns})
        return [self.render(instant) for instant in instants]


@dataclass(frozen=True, slots=True)
class Episode:
    """One awaiting_guidance stay of a run, from `create_ns`, raised by execution `ordinal`; it ends at `end_ns`
    when the run resumes (`resolved`) or is paused (not `resolved`), or never (`end_ns` None)."""

    exception_id: str
    ordinal: int
    create_ns: int
    message: str
    location: Json
    error: Json
    end_ns: int | None
    resolved: bool


def episodes(plan: RunPlan) -> Iterator[Episode]:
    """The awaiting_guidance episodes of a plan, in order."""
    blocks = plan.blocks
    for index, block in enumerate(blocks):
        if not (isinstance(block, StateChange) and block.state == "awaiting_guidance"):
            continue
        stop = next(b for b in reversed(blocks[:index]) if isinstance(b, ExecutionEnd))
        execution = next(b for b in blocks if isinstance(b, Execution) and b.ordinal == stop.ordinal)
        after = next((b for b in blocks[index + 1:] if isinstance(b, StateChange)), None)
        detail = block.detail
        yield Episode(detail["exception"], stop.ordinal, block.time_ns, detail["description"], detail["location"],
                      execution.stop_error or {}, None if after is None else after.time_ns,
                      after is not None and after.state == "executing")


class GuidanceCenter:
    """Builds the exceptions of runs for one organization (groups' default assignees, guide entries, users)."""

    def __init__(self, seed: int, users: tuple[User, ...], workspaces: tuple[Workspace, ...]) -> None:
        self._seed = seed
        self._users = tuple(f"users/{user.id}" for user in users)
        self._default_assignees: dict[str, dict[str, str]] = {}
        self._workspace_names = {workspace.id: workspace.name for workspace in workspaces}
        for workspace in workspaces:
            rng = rng_for(seed, "exception-groups", workspace.id)
            self._default_assignees[workspace.id] = {
                group.short_name: rng.choice(self._users) for group in GROUPS if group.has_default_assignee}

    def groups(self, workspace_id: str) -> list[Json]:
        """The workspace's static groups as v1ExceptionGroup, in the order of GROUPS."""
        defaults = self._default_assignees[workspace_id]
        result = []
        for group in GROUPS:
            body: Json = {"name": self.group_name(workspace_id, group.short_name), "title": group.title,
                          "description": group.description, "suggested_action": group.suggested_action}
            if group.short_name in defaults:
                body["default_assignee"] = defaults[group.short_name]
            result.append(body)
        return result

    def group_name(self, workspace_id: str, short_name: str) -> str:
        return f"{self._workspace_names[workspace_id]}/exceptionGroups/{short_name}" if short_name else ""

    def _guide_entries(self, automation: Automation) -> tuple[str, ...]:
        rng = rng_for(self._seed, "guide-entries", automation.id)
        return tuple(f"{automation.name}/guideEntries/{nanoid(rng)}" for _ in range(3))

    def lives(self, plan: RunPlan, run_id: str, execution_id: Callable[[int], str],
              planned_end: Callable[[str], int | None]) -> tuple[ExceptionLife, ...]:
        """The exceptions of a run's plan. `planned_end(exception_id)` is when the run would have resumed had
        nobody paused it (asked only for episodes a pause ended)."""
        return tuple(self._life(plan, run_id, episode, execution_id(episode.ordinal),
                                episode.end_ns if episode.resolved else planned_end(episode.exception_id))
                     for episode in episodes(plan))

    def _life(self, plan: RunPlan, run_id: str, episode: Episode, execution_id: str,
              resume_ns: int | None) -> ExceptionLife:
        automation = plan.automation
        rng = rng_for(self._seed, "exception", automation.id, plan.key, episode.exception_id)
        created = episode.create_ns
        wait = None if resume_ns is None else resume_ns - created

        def at(offset_ns: float) -> int:
            return timestamps.floor(created + int(offset_ns), plan.precision)

        group = rng.choices(_GROUP_CHOICES, weights=_GROUP_WEIGHTS)[0]
        assignee = self._default_assignees[automation.workspace_id].get(group, "")
        opening = [("state", PENDING)] + ([("assignee", assignee)] if assignee else [])
        changes = [Change(created, tuple(opening)),
                   Change(at(rng.uniform(5, 180) * SECOND), (("description", f"{episode.message} {_HINTS[group]}"),))]
        if not assignee and rng.random() < 0.6:
            moment = at(rng.uniform(60, 7200) * SECOND)
            if resume_ns is None or moment < resume_ns:
                assignee = rng.choice(self._users)
                changes.append(Change(moment, (("assignee", assignee),)))
        if assignee and (wait is None or wait > 2 * DAY) and rng.random() < 0.3:
            assignee = rng.choice([user for user in self._users if user != assignee])
            changes.append(Change(at(rng.uniform(1, 2) * DAY), (("assignee", assignee),)))
        if wait is not None and wait >= ARCHIVE_AFTER_WAITS_OF and (
                wait >= ALWAYS_ARCHIVED_WAITS_OF or rng.random() < 0.6):
            archived = rng.uniform(1 * DAY, min(4 * DAY, wait - 2 * DAY))
            if wait >= ALWAYS_ARCHIVED_WAITS_OF:
                reopened = rng.uniform(8 * DAY, 12 * DAY)
            else:
                reopened = wait - rng.uniform(10 * 60 * SECOND, 12 * HOUR)  # shortly before the run resumes
                if rng.random() < 0.5:
                    reopened = rng.uniform(archived + HOUR, reopened)  # or long before
            changes += [Change(at(archived), (("state", ARCHIVED),)), Change(at(reopened), (("state", PENDING),))]
        if resume_ns is not None:
            resolution: tuple[tuple[str, str], ...]
            if wait is not None and wait < AGENT_WAITS_UNDER and rng.random() < 0.4:
                resolution = (("resolver", AGENT), ("resolution_guide_entry", rng.choice(self._guide_entries(
                    automation))))
            else:
                person = assignee if assignee and rng.random() < 0.85 else rng.choice(self._users)
                resolution = (("resolver", person),)
            changes.append(Change(resume_ns, (("state", RESOLVED), *resolution)))
        changes.sort(key=lambda change: change.time_ns)
        if not episode.resolved and episode.end_ns is not None:
            changes = _abandoned(changes, episode.end_ns)
        return ExceptionLife(episode.exception_id, automation.id, run_id, group, created,
                             self._fixed(plan, run_id, episode, execution_id, group), tuple(changes))

    def _fixed(self, plan: RunPlan, run_id: str, episode: Episode, execution_id: str, group: str) -> Json:
        automation = plan.automation
        workspace_name = self._workspace_names[automation.workspace_id]
        context = episode.error.get("context", {})
        extra = {"node_id": context["node_id"]} if "node_id" in context else {}
        extra.update(episode.error.get("extra", {}))
        return {
            "name": f"{workspace_name}/exceptions/{episode.exception_id}",
            "run": f"{automation.name}/runs/{run_id}",
            "location": episode.location,
            "message": episode.message,
            "create_time": timestamps.render(episode.create_ns),
            "automation": automation.name,
            "group": self.group_name(automation.workspace_id, group),
            "stage": plan.stage,
            "execution_id": execution_id,
            "extra": extra,
        }


def _abandoned(changes: list[Change], paused_ns: int) -> list[Change]:
    """The changes of an exception whose run was paused at `paused_ns`: what happened until then (and the
    description, which the exception service writes whatever the run does), then ARCHIVED if it was pending."""
    kept = [change for change in changes
            if change.time_ns <= paused_ns or any(field == "description" for field, _ in change.fields)]
    state = PENDING
    for change in kept:
        if change.time_ns <= paused_ns:
            state = dict(change.fields).get("state", state)
    if state == PENDING:
        kept.append(Change(paused_ns, (("state", ARCHIVED),)))
    kept.sort(key=lambda change: change.time_ns)
    return kept
