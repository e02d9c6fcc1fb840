"""The mutants of scripts/mutants.py still apply to the tree and name tests that exist.

A mutant whose text moved (a model split into staging and marts) stops the whole script only when someone runs it,
which is not in CI; this catches it when the move is made.
"""

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mutants_script", ROOT / "scripts" / "mutants.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def test_every_mutant_applies_once_and_names_existing_tests() -> None:
    script = load_script()
    names = script.project_files()
    problems = []
    for mutant in script.all_mutants():
        try:
            script.locate(ROOT, names, mutant)
        except LookupError as stale:
            problems.append(str(stale))
        for test in mutant.tests:
            path, _, name = test.partition("::")
            function = name.split("::")[-1].split("[")[0]
            source = ROOT / path
            if not source.is_file() or not re.search(rf"def {re.escape(function)}\(", source.read_text()):
                problems.append(f"{mutant.name}: no test {test}")
    assert problems == []
