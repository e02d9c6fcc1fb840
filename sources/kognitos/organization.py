"""Which organization a load reads: `organization_id` as configured, else the only one the token can see.

Asked of the API only when a load first needs it (the `workspaces` resource, the root every other table hangs
from), so building the source still opens no connection; the workspace rows then carry the id to every child.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from . import paths
from .client import KognitosClient
from .config import SourceConfig
from .errors import ConfigError, env_var
from .params import list_params
from .records import short_id

logger = logging.getLogger(__name__)


def organization_id(client: KognitosClient, config: SourceConfig) -> str:
    """The configured `organization_id`, else the only organization the token can see (one listing, paged)."""
    if config.organization_id:
        return config.organization_id
    listed = (org for page in client.pages(paths.user_organizations(), "user_organizations",
                                           list_params(config.page_size)) for org in page)
    chosen, title = only_organization(listed)
    said = (f"organization_id not set: using organizations/{chosen} ({title!r}), the only organization this token "
            "can see")
    logger.info("%s", said)
    client.stats.note(said)
    return chosen


def only_organization(listed: Iterable[Mapping[str, Any]]) -> tuple[str, str]:
    """(id, title) of the one organization listed; `ConfigError` naming every one when there are several, or none."""
    organizations = [(short_id(str(org["name"])), str(org.get("title") or "")) for org in listed if org.get("name")]
    if len(organizations) == 1:
        return organizations[0]
    if not organizations:
        raise ConfigError(
            "organization_id",
            "it is not set, and this access token can see no organization (GET /api/v1/me/organizations listed none)",
            "Check that the token belongs to a user of the organization to load, or set organization_id to its id "
            "(the last segment of organizations/<id>) in .dlt/config.toml under [sources.kognitos] or as the "
            "environment variable.",
        )
    names = ", ".join(f"{org_id} ({title})" if title else org_id for org_id, title in organizations)
    example = organizations[0][0]
    raise ConfigError(
        "organization_id",
        f"it is not set, and this access token can see {len(organizations)} organizations: {names}",
        f"Set it to the id of the one to load, e.g. organization_id = \"{example}\" under [sources.kognitos] in "
        f".dlt/config.toml, or {env_var('organization_id')}={example} in the environment.",
    )
