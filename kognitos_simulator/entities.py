"""The static part of a world: the organization, its workspaces and their automations.

These are generated once from the seed and never change (the simulator does not create, edit or
delete automations). Each automation also records the window in which its runs arrive: deleted and
deactivated automations stop receiving runs at their deletion or deactivation time.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from kognitos_simulator import catalog, timestamps, values
from kognitos_simulator.catalog import Program, Theme
from kognitos_simulator.ids import lower_id, nanoid
from kognitos_simulator.seeds import rng_for
from kognitos_simulator.settings import SimulatorSettings
from kognitos_simulator.timestamps import NS_PER_DAY, NS_PER_MILLISECOND, render
from kognitos_simulator.values import Json


@dataclass(frozen=True)
class User:
    id: str
    display_name: str
    email: str


@dataclass(frozen=True)
class Automation:
    """One automation and how its runs behave (see arrivals.py and plans.py)."""

    id: str
    name: str  # organizations/{o}/workspaces/{w}/automations/{a}
    workspace_id: str
    ordinal: int  # position in its workspace (deleted ones last); packed into execution ids
    theme: Theme
    main: Program
    pre: Program | None  # the PRE phase that triggered runs go through, if the theme has one
    display_name: str
    create_ns: int
    update_ns: int
    version: str
    published_version: str | None
    publish_ns: int | None
    activation_state: str | None
    author: User
    publisher: User
    delete_ns: int | None
    history_runs: int  # runs created during the history window
    runs_until_ns: int | None  # no runs are created at or after this instant
    showcase: bool  # carries the guaranteed examples of every run state (plans.py)

    @property
    def deleted(self) -> bool:
        return self.delete_ns is not None

    def connections_json(self) -> Json:
        """Book connections (map<string, v1BookConnection>) of the automation's code."""
        return {alias: {"connection_id": f"{alias}-{self.id[:6].lower()}", "endpoint": endpoint}
                for alias, endpoint in self.theme.connections}

    def to_json(self, *, with_code_mapping: bool = False) -> Json:
        """v1Automation as List Automations (and, with the code mapping, Get Automation) return it."""
        theme = self.theme
        body: Json = {
            "name": self.name,
            "display_name": self.display_name,
            "english_code": theme.english_code,
            "code": self.main.code,
            "create_time": render(self.create_ns),
            "version": self.version,
            "connections": self.connections_json(),
            "update_time": render(self.update_ns),
            "update_user_id": self.publisher.id,
            "input_specs": [{"name": spec.name, "type": values.optional_type(catalog.TYPES[theme.variables[spec.name]])
                             if spec.optional else catalog.TYPES[theme.variables[spec.name]]}
                            for spec in theme.inputs],
            "description": theme.description,
            "author_id": self.author.id,
        }
        if self.delete_ns is not None:
            body["delete_time"] = render(self.delete_ns)
            body["purge_time"] = render(self.delete_ns + 30 * NS_PER_DAY)
        if self.published_version is not None and self.publish_ns is not None:
            body["latest_published_version"] = self.published_version
            body["publish_time"] = render(self.publish_ns)
            body["publish_user_id"] = self.publisher.id
        if self.activation_state is not None:
            body["activation_state"] = self.activation_state
        defaults = {spec.name: catalog.SAMPLERS[theme.variables[spec.name]](random.Random(spec.name))
                    for spec in theme.inputs if spec.optional}
        if defaults:
            body["default_inputs"] = defaults
        body["marked_outputs"] = list(theme.outputs)
        if with_code_mapping:
            body["code_mapping"] = {"entries": self._code_mapping()}
        return body

    def _code_mapping(self) -> list[Json]:
        english_lines = self.theme.english_code.split("\n")
        entries, offset = [], 0
        for index, node in enumerate(self.main.nodes[: len(english_lines)]):
            length = len(english_lines[index].encode())
            entries.append({"spy_location": node.location,
                            "english_location": catalog.location(offset, offset + length)})
            offset += length + 1
        return entries


@dataclass(frozen=True)
class Workspace:
    id: str
    name: str
    ordinal: int
    title: str
    icon: str
    color: str
    create_ns: int
    update_ns: int
    creator: User
    automations: tuple[Automation, ...]  # live ones first, then deleted ones

    def to_json(self) -> Json:
        return {
            "name": self.name,
            "title": self.title,
            "workspace_icon": self.icon,
            "workspace_icon_color": self.color,
            "create_time": render(self.create_ns),
            "update_time": render(self.update_ns),
            "creator_display_name": self.creator.display_name,
            "creator_email": self.creator.email,
        }


@dataclass(frozen=True)
class Organization:
    id: str
    name: str
    title: str
    create_ns: int
    update_ns: int
    owner: User
    users: tuple[User, ...]
    workspaces: tuple[Workspace, ...]

    def to_json(self) -> Json:
        return {
            "name": self.name,
            "title": self.title,
            "create_time": render(self.create_ns),
            "update_time": render(self.update_ns),
            "owner_display_name": self.owner.display_name,
            "owner_email": self.owner.email,
        }


_ORGANIZATION_TITLES = ("Acme Corp", "Globex Holdings", "Initech Group", "Umbrella Industries")
_EXTRA_ORGANIZATION_TITLES = ("Northwind Traders", "Contoso Sandbox", "Fabrikam Labs", "Tailspin Toys")


def _past(rng: random.Random, before_ns: int, min_days: float, max_days: float) -> int:
    """An instant between min_days and max_days before `before_ns`, at millisecond precision."""
    return timestamps.floor(before_ns - int(rng.uniform(min_days, max_days) * NS_PER_DAY), NS_PER_MILLISECOND)


def build_organization(settings: SimulatorSettings) -> Organization:
    """The organization with every workspace and automation, a pure function of the settings."""
    scale, start_ns = settings.scale, timestamps.from_datetime(settings.start_instant)
    rng = rng_for(settings.seed, "organization")
    org_id = lower_id(rng)
    domain = "acme.example"
    users = tuple(User(nanoid(rng), person.display_name, f"{person.email_handle}@{domain}")
                  for person in catalog.PEOPLE)
    history_ns = scale.days_of_history * NS_PER_DAY
    workspaces = []
    for ordinal in range(scale.workspaces):
        ws_rng = rng_for(settings.seed, "workspace", ordinal)
        ws_id = lower_id(ws_rng)
        ws_name = f"organizations/{org_id}/workspaces/{ws_id}"
        base_title = catalog.WORKSPACE_TITLES[ordinal % len(catalog.WORKSPACE_TITLES)]
        suffix = ordinal // len(catalog.WORKSPACE_TITLES)
        create_ns = _past(ws_rng, start_ns - history_ns, 30, 400)
        automations = tuple(
            _build_automation(settings, ws_name, ws_id, ordinal, index, users, start_ns)
            for index in range(scale.automations_per_workspace + scale.deleted_automations_per_workspace)
        )
        workspaces.append(Workspace(
            ws_id, ws_name, ordinal, f"{base_title} {suffix + 1}" if suffix else base_title,
            ws_rng.choice(catalog.ICONS), ws_rng.choice(catalog.COLORS), create_ns,
            _past(ws_rng, start_ns, 1, 20), ws_rng.choice(users), automations,
        ))
    return Organization(org_id, f"organizations/{org_id}", rng.choice(_ORGANIZATION_TITLES),
                        _past(rng, start_ns - history_ns, 400, 900), _past(rng, start_ns, 1, 60), users[0], users,
                        tuple(workspaces))


def build_extra_organizations(settings: SimulatorSettings) -> tuple[Organization, ...]:
    """`settings.extra_organizations` more organizations the token can see, each with its own id, title and owner,
    and no workspaces (a pure function of the settings, like the world's own)."""
    start_ns = timestamps.from_datetime(settings.start_instant)
    extras = []
    for ordinal in range(settings.extra_organizations):
        rng = rng_for(settings.seed, "extra-organization", ordinal)
        org_id = lower_id(rng)
        base_title = _EXTRA_ORGANIZATION_TITLES[ordinal % len(_EXTRA_ORGANIZATION_TITLES)]
        suffix = ordinal // len(_EXTRA_ORGANIZATION_TITLES)
        title = f"{base_title} {suffix + 1}" if suffix else base_title
        person = rng.choice(catalog.PEOPLE)
        domain = base_title.split()[0].lower() + ".example"
        owner = User(nanoid(rng), person.display_name, f"{person.email_handle}@{domain}")
        create_ns = _past(rng, start_ns, 100, 900)
        extras.append(Organization(org_id, f"organizations/{org_id}", title, create_ns,
                                   max(create_ns, _past(rng, start_ns, 1, 60)), owner, (owner,), ()))
    return tuple(extras)


def _themes_for(workspace_ordinal: int) -> list[Theme]:
    """The theme order of a workspace; the first (showcase) automation always has a loop."""
    shift = (workspace_ordinal * 3) % len(catalog.THEMES)
    themes = list(catalog.THEMES[shift:] + catalog.THEMES[:shift])
    first_loop = next(i for i, theme in enumerate(themes) if any(s.kind == "ForLoop" for s in theme.main))
    themes.insert(0, themes.pop(first_loop))
    return themes


def _build_automation(settings: SimulatorSettings, ws_name: str, ws_id: str, ws_ordinal: int, ordinal: int,
                      users: tuple[User, ...], start_ns: int) -> Automation:
    scale = settings.scale
    rng = rng_for(settings.seed, "automation", ws_ordinal, ordinal)
    themes = _themes_for(ws_ordinal)
    theme = themes[ordinal % len(themes)]
    repeat = ordinal // len(themes)
    display_name = f"{theme.display_name} ({repeat + 1})" if repeat else theme.display_name
    automation_id = nanoid(rng)
    history_start = start_ns - scale.days_of_history * NS_PER_DAY
    live = ordinal < scale.automations_per_workspace
    draft_only = live and scale.automations_per_workspace >= 3 and ordinal == scale.automations_per_workspace - 1
    deactivated = live and scale.automations_per_workspace >= 4 and ordinal == 1
    create_ns = _past(rng, history_start, 5, 200)
    minor = rng.randint(0, 9)
    major = rng.randint(1, 4)
    published_version = None if draft_only else f"{major}.{minor}"
    version = f"{major}.{minor + 1}" if draft_only or rng.random() < 0.3 else f"{major}.{minor}"
    publish_ns = None if draft_only else _past(rng, history_start, 1, 5)
    delete_ns = None if live else _past(rng, start_ns, 3, max(3.5, min(20, scale.days_of_history - 1)))
    runs_until = delete_ns
    activation = None if draft_only else "AUTOMATION_ACTIVATION_STATE_ACTIVE"
    if deactivated:
        activation = "AUTOMATION_ACTIVATION_STATE_DEACTIVATED"
        runs_until = _past(rng, start_ns, 2, 6)
    update_ns = delete_ns or max(create_ns, _past(rng, start_ns, 0.5, 25))
    name = f"{ws_name}/automations/{automation_id}"
    return Automation(
        id=automation_id, name=name, workspace_id=ws_id, ordinal=ordinal, theme=theme,
        main=catalog.build_program("main", theme.main),
        pre=catalog.build_program("pre", theme.pre) if theme.pre else None,
        display_name=display_name, create_ns=create_ns, update_ns=update_ns, version=version,
        published_version=published_version, publish_ns=publish_ns, activation_state=activation,
        author=rng.choice(users), publisher=rng.choice(users), delete_ns=delete_ns,
        history_runs=scale.runs_per_automation if live else max(1, scale.runs_per_automation // 10),
        runs_until_ns=runs_until, showcase=ordinal == 0,
    )

