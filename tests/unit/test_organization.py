"""organization.py: with organization_id unset, the one organization listed is used; several or none are refused
naming the key, every organization listed and how to set it."""

from __future__ import annotations

import pytest

from kognitos_elt.kognitos.errors import ConfigError
from kognitos_elt.kognitos.organization import only_organization

ACME = {"name": "organizations/o1a2b3c4d5", "title": "Acme Corp", "owner_email": "jane@acme.example"}
GLOBEX = {"name": "organizations/g9h8", "title": "Globex (sandbox)"}


def test_the_only_organization_listed_is_used() -> None:
    assert only_organization([ACME]) == ("o1a2b3c4d5", "Acme Corp")
    assert only_organization(iter([{"title": "no name, so no id"}, ACME])) == ("o1a2b3c4d5", "Acme Corp")


def test_several_are_refused_listing_each_id_and_title_and_how_to_choose() -> None:
    with pytest.raises(ConfigError) as refused:
        only_organization([ACME, GLOBEX, {"name": "organizations/untitled"}])

    message = str(refused.value)
    assert refused.value.key == "organization_id"
    assert "can see 3 organizations: o1a2b3c4d5 (Acme Corp), g9h8 (Globex (sandbox)), untitled." in message
    assert 'organization_id = "o1a2b3c4d5"' in message and "SOURCES__KOGNITOS__ORGANIZATION_ID=o1a2b3c4d5" in message
    assert message.startswith("Invalid configuration sources.kognitos.organization_id")


def test_none_is_refused_saying_so() -> None:
    with pytest.raises(ConfigError) as refused:
        only_organization([])

    assert refused.value.key == "organization_id"
    assert "can see no organization" in str(refused.value)
    assert "SOURCES__KOGNITOS__ORGANIZATION_ID" in str(refused.value)
