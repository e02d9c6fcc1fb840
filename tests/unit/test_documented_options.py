"""Every option of kognitos_source is documented in its docstring, the README table and .dlt/config.toml."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from sources.kognitos import kognitos_source

ROOT = Path(__file__).resolve().parents[2]
NOT_CONFIGURATION = {"stats", "cleanup"}
OPTIONS = [name for name in inspect.signature(kognitos_source).parameters if name not in NOT_CONFIGURATION]


@pytest.mark.parametrize("option", OPTIONS)
def test_option_is_documented_everywhere(option: str) -> None:
    readme = (ROOT / "README.md").read_text()
    config = (ROOT / ".dlt" / "config.toml").read_text() + (ROOT / ".dlt" / "example.secrets.toml").read_text()

    assert re.search(rf"^\s+{option}: \S", kognitos_source.__doc__ or "", re.MULTILINE), "docstring Args"
    assert f"| `{option}` | `SOURCES__KOGNITOS__{option.upper()}` |" in readme, "README options table"
    assert re.search(rf"^#?\s*{option} = ", config, re.MULTILINE), ".dlt/config.toml"
