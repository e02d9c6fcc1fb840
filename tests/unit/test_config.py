"""config.py: each option resolved the dlt way, every bad value refused before any request, naming the key and the fix,
never the token."""

from __future__ import annotations

import gc
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dlt
import pytest
from dlt.common.configuration.container import Container
from dlt.common.configuration.exceptions import ConfigFieldMissingException
from dlt.common.configuration.specs.pluggable_run_context import PluggableRunContext

from kognitos_elt.dlt_settings import EXTRACT_ORDER_SETTING, LOAD_WORKERS_SETTING, load_defaults, unless_configured
from kognitos_elt.kognitos import SourceConfig, kognitos_source
from kognitos_elt.kognitos.config import resolve_source_config
from kognitos_elt.kognitos.errors import ConfigError
from kognitos_elt.memory import LOAD_GC_GENERATION0_THRESHOLD, rarer_garbage_collection

TOKEN = "kgn_pat_secret_value_123"


def config(**overrides: Any) -> SourceConfig:
    return resolve_source_config({"access_token": TOKEN, "organization_id": "o1", **overrides})


@pytest.mark.parametrize(
    ("overrides", "key", "words"),
    [
        pytest.param({"access_token": ""}, "access_token", "no personal access token", id="missing-token"),
        pytest.param({"time_zones": ["UTC", "Mars/Olympus"]}, "time_zones", "Mars/Olympus", id="bad-zone"),
        pytest.param({"start_date": "last tuesday"}, "start_date", "not a date", id="malformed-start"),
        pytest.param({"start_date": "2999-02-01"}, "start_date", "in the future", id="future-start"),
        pytest.param({"base_url": "app.kognitos.com"}, "base_url", "not an http(s) URL", id="no-scheme"),
        pytest.param({"base_url": "http://app.example.com"}, "base_url", "unencrypted", id="plain-http-remote"),
        pytest.param({"max_concurrent_requests": 0}, "max_concurrent_requests", "positive", id="zero-concurrency"),
        pytest.param({"page_size": 1001}, "page_size", "outside", id="page-size-cap"),
        pytest.param({"list_unchanged_automations_every_hours": -1}, "list_unchanged_automations_every_hours",
                     "from 0 up", id="negative-listing-interval"),
        pytest.param({"list_unchanged_automations_every_hours": math.inf}, "list_unchanged_automations_every_hours",
                     "from 0 up", id="never-listing-again"),
    ],
)
def test_bad_values_are_refused_with_the_key_and_never_the_token(
    overrides: dict[str, Any], key: str, words: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        config(**overrides)

    message = str(raised.value)
    assert raised.value.key == key
    assert f"sources.kognitos.{key}" in message and f"SOURCES__KOGNITOS__{key.upper()}" in message
    assert words in message
    assert TOKEN not in message


def test_good_values_are_normalised() -> None:
    built = config(base_url="https://app.us-1.kognitos.com/api/v1/", workspace_ids="w1, w2,w1",
                   start_date="2025-01-31", time_zones=["Asia/Kolkata"])

    assert built.base_url == "https://app.us-1.kognitos.com"
    assert built.workspace_ids == ("w1", "w2")
    assert built.start_key == "2025-01-31T00:00:00.000000000Z"
    assert built.time_zones == ("Asia/Kolkata",)
    assert TOKEN not in repr(built)


@pytest.mark.parametrize("unset", [None, "", "  "])
def test_organization_id_is_optional_and_blank_means_unset(unset: str | None) -> None:
    """Unset, the load looks up the only organization the token sees (organization.py); building opens nothing."""
    assert config(organization_id=unset).organization_id is None
    assert resolve_source_config({"access_token": TOKEN}).organization_id is None
    assert config(organization_id=" o1 ").organization_id == "o1"
    kognitos_source(access_token=TOKEN, base_url="http://127.0.0.1:9")  # nothing listens there: nothing is asked


def test_plain_http_is_allowed_to_loopback_or_when_opted_in() -> None:
    assert config(base_url="http://127.0.0.1:8080").base_url == "http://127.0.0.1:8080"
    assert config(base_url="http://localhost:1").base_url == "http://localhost:1"
    assert config(base_url="http://k.example.com", allow_insecure_http=True).base_url == "http://k.example.com"


@pytest.fixture
def config_toml(tmp_path: Path) -> Iterator[Path]:
    """A `.dlt/config.toml` in the working directory, read by dlt for this test only."""
    path = tmp_path / ".dlt" / "config.toml"
    path.parent.mkdir()
    path.touch()
    yield path
    path.unlink()
    Container()[PluggableRunContext].reload_providers()


def test_options_come_from_keywords_else_dlt_config_and_environment(
    config_toml: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_toml.write_text('[sources.kognitos]\norganization_id = "from-toml"\ntime_zones = ["Asia/Kolkata"]\n'
                           "page_size = 20\n")
    Container()[PluggableRunContext].reload_providers()
    monkeypatch.setenv("SOURCES__KOGNITOS__ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("SOURCES__KOGNITOS__PAGE_SIZE", "50")
    monkeypatch.setenv("SOURCES__KOGNITOS__WORKSPACE_IDS", '["w1", "w2"]')

    resolved = resolve_source_config({"base_url": "http://localhost:1"})
    explicit = resolve_source_config({"page_size": 7, "organization_id": "given"})

    assert (resolved.access_token, resolved.organization_id, resolved.time_zones) == (TOKEN, "from-toml",
                                                                                       ("Asia/Kolkata",))
    assert (resolved.page_size, resolved.workspace_ids, resolved.base_url) == (50, ("w1", "w2"), "http://localhost:1")
    assert (explicit.page_size, explicit.organization_id) == (7, "given")


def test_a_bad_value_from_the_environment_fails_building_the_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCES__KOGNITOS__PAGE_SIZE", "0")

    with pytest.raises(ConfigError) as raised:
        kognitos_source(access_token=TOKEN, organization_id="o1")
    assert raised.value.key == "page_size"

    kognitos_source(access_token=TOKEN, organization_id="o1", page_size=5)  # a keyword wins over the environment


def test_a_missing_required_option_or_an_unknown_one_fails_building_the_source() -> None:
    with pytest.raises(ConfigFieldMissingException) as missing:
        kognitos_source()
    assert list(missing.value.traces) == ["access_token"]

    with pytest.raises(TypeError, match=r"\['organisation_id'\]"):
        kognitos_source(access_token=TOKEN, organisation_id="o1")


@pytest.mark.parametrize(("configured", "during"), [(None, "fifo"), ("round_robin", "round_robin")])
def test_a_load_extracts_depth_first_unless_configured_and_building_a_source_changes_no_setting(
    configured: str | None, during: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Depth-first keeps one page of each table in memory; a user's own `[extract] next_item_mode` wins."""
    if configured:
        monkeypatch.setenv("EXTRACT__NEXT_ITEM_MODE", configured)

    kognitos_source(access_token="token", organization_id="org", base_url="http://127.0.0.1:9")
    assert dlt.config.get(EXTRACT_ORDER_SETTING) == configured

    pipeline = dlt.pipeline("defaults_test", pipelines_dir=str(tmp_path), destination="postgres")
    with unless_configured(load_defaults(pipeline)):
        assert dlt.config.get(EXTRACT_ORDER_SETTING) == during
    assert dlt.config.get(EXTRACT_ORDER_SETTING) == configured


@pytest.mark.parametrize(("destination", "configured", "during"),
                         [("duckdb", None, 1), ("duckdb", "4", 4), ("postgres", None, None)])
def test_duckdb_loads_run_their_jobs_one_at_a_time_unless_configured(
    destination: str, configured: str | None, during: int | None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """DuckDB parallelises each job itself, and jobs at once cost memory; a warehouse keeps dlt's parallel jobs."""
    if configured:
        monkeypatch.setenv("LOAD__WORKERS", configured)
    pipeline = dlt.pipeline("defaults_test", pipelines_dir=str(tmp_path), destination=destination)
    with unless_configured(load_defaults(pipeline)):
        assert dlt.config.get(LOAD_WORKERS_SETTING, int) == during
    assert dlt.config.get(LOAD_WORKERS_SETTING, int) == (int(configured) if configured else None)


@pytest.mark.parametrize("young", [700, 50_000])
def test_a_load_collects_garbage_less_often_and_puts_the_process_thresholds_back(young: int) -> None:
    """Raised for the load only, never lowered: the process (a Dagster worker, say) keeps its own setting."""
    before = gc.get_threshold()
    gc.set_threshold(young, 11, 12)
    try:
        with rarer_garbage_collection():
            assert gc.get_threshold() == (max(young, LOAD_GC_GENERATION0_THRESHOLD), 11, 12)
        assert gc.get_threshold() == (young, 11, 12)
    finally:
        gc.set_threshold(*before)
