"""Tables are declared once (sources/kognitos/tables.py); whatever lists them by hand must list exactly those."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from kognitos_analytics import PROJECT_DIR
from kognitos_analytics.builder import SOURCE_TABLES, tables_read_by_models
from kognitos_elt.kognitos import kognitos_source
from kognitos_elt.kognitos.tables import TABLES
from kognitos_elt.selection import resource_parents

README = Path(__file__).parents[2] / "README.md"
DECLARED = {table.name: table for table in TABLES}


def test_every_table_is_declared_once_after_its_parent() -> None:
    assert len(DECLARED) == len(TABLES)
    for position, table in enumerate(TABLES):
        assert table.parent is None or table.parent in TABLES[:position], table.name


def test_the_source_loads_exactly_the_declared_tables_with_their_parents() -> None:
    source = kognitos_source(access_token="not-a-token", organization_id="o")
    assert resource_parents(source) == {name: table.parent.name if table.parent else None
                                        for name, table in DECLARED.items()}
    assert {name: resource.compute_table_schema()["columns"].keys() for name, resource in source.resources.items()} \
        == {name: table.spec.types.keys() for name, table in DECLARED.items()}


def test_the_readme_lists_every_table_with_its_key() -> None:
    section = README.read_text().split("## What gets loaded", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \|[^|]*\| `([^`]*)` \|", section, flags=re.MULTILINE)
    assert rows == [(table.name, ", ".join(table.spec.key)) for table in TABLES]


def test_the_dbt_sources_list_every_table() -> None:
    sources = yaml.safe_load((PROJECT_DIR / "models" / "sources.yml").read_text())["sources"]
    (kognitos,) = [source for source in sources if source["name"] == "kognitos"]
    assert sorted(table["name"] for table in kognitos["tables"]) == sorted(DECLARED)


def test_the_models_read_only_declared_tables_and_the_builder_waits_for_each() -> None:
    read = tables_read_by_models()
    assert read and read <= DECLARED.keys(), read - DECLARED.keys()
    assert set(SOURCE_TABLES) == read
