"""Every option of kognitos_source is documented where it is declared, in the README table and .dlt/config.toml."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

from kognitos_elt.kognitos import SourceConfig

ROOT = Path(__file__).resolve().parents[2]
OPTIONS = list(SourceConfig.get_resolvable_fields())


def field_docstrings() -> dict[str, str]:
    """The docstring under each field of SourceConfig, read from its source."""
    (cls,) = ast.parse(inspect.getsource(SourceConfig)).body
    assert isinstance(cls, ast.ClassDef)
    return {field.target.id: doc.value.value for field, doc in zip(cls.body, cls.body[1:], strict=False)
            if isinstance(field, ast.AnnAssign) and isinstance(field.target, ast.Name)
            and isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant)}


def test_the_options_are_the_ones_the_readme_lists() -> None:
    readme = (ROOT / "README.md").read_text()
    assert re.findall(r"^\| `(\w+)` \| `SOURCES__KOGNITOS__", readme, re.MULTILINE) == OPTIONS


@pytest.mark.parametrize("option", OPTIONS)
def test_option_is_documented_everywhere(option: str) -> None:
    readme = (ROOT / "README.md").read_text()
    config = (ROOT / ".dlt" / "config.toml").read_text() + (ROOT / ".dlt" / "example.secrets.toml").read_text()

    assert field_docstrings().get(option, "").strip(), "docstring under the SourceConfig field"
    assert f"| `{option}` | `SOURCES__KOGNITOS__{option.upper()}` |" in readme, "README options table"
    assert re.search(rf"^#?\s*{option} = ", config, re.MULTILINE), ".dlt/config.toml"
