"""Every error kognitos-elt raises on purpose carries its exit code, and the CLI ends with it and the error's words."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import kognitos_analytics
import kognitos_elt
import kognitos_elt.kognitos
from kognitos_elt.cli import main
from kognitos_elt.kognitos import ExitCode, KognitosError, UnrepeatableJobError


def _our_exception_classes() -> list[type[BaseException]]:
    found = []
    # kognitos_elt.kognitos lives in another folder (sources/kognitos/) than kognitos_elt: walked on its own
    for package in (kognitos_elt, kognitos_elt.kognitos, kognitos_analytics):
        for module_info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if module_info.name.endswith("__main__"):
                continue
            module = importlib.import_module(module_info.name)
            found.extend(kind for _, kind in inspect.getmembers(module, inspect.isclass)
                         if issubclass(kind, BaseException) and kind.__module__ == module.__name__)
    return found


def test_every_error_class_of_ours_is_a_kognitos_error_with_an_exit_code() -> None:
    classes = _our_exception_classes()

    assert len(classes) > 15, "the walk found too few exception classes to be looking at our packages"
    not_ours = [f"{kind.__module__}.{kind.__qualname__}" for kind in classes if not issubclass(kind, KognitosError)]
    assert not_ours == [], "raise a KognitosError subclass with its exit_code, so the CLI cannot call it unexpected"
    assert all(isinstance(kind.exit_code, ExitCode) for kind in classes if issubclass(kind, KognitosError))


@pytest.mark.parametrize(("kind", "code"), [
    pytest.param("kognitos_elt.locking.PipelineLockedError", ExitCode.LOCKED, id="locked"),
    pytest.param("kognitos_elt.selection.ResourceSelectionError", ExitCode.CONFIG, id="selection"),
    pytest.param("kognitos_elt.destination.DuckDBPathError", ExitCode.CONFIG, id="duckdb-path"),
    pytest.param("kognitos_elt.extras.MissingExtraError", ExitCode.CONFIG, id="missing-extra"),
    pytest.param("kognitos_analytics.builder.ModelsError", ExitCode.MODELS, id="models"),
    pytest.param("kognitos_analytics.report.ReportError", ExitCode.MODELS, id="report"),
    pytest.param("kognitos_elt.kognitos.errors.ConnectionSetupError", ExitCode.CONFIG, id="connection-setup"),
    pytest.param("kognitos_elt.kognitos.errors.TransportError", ExitCode.UNAVAILABLE, id="transport"),
    pytest.param("kognitos_elt.kognitos.errors.AuthError", ExitCode.AUTH, id="auth"),
])
def test_each_kind_of_failure_has_the_documented_exit_code(kind: str, code: ExitCode) -> None:
    module, name = kind.rsplit(".", 1)

    assert getattr(importlib.import_module(module), name).exit_code == code


def test_a_load_that_cannot_be_finished_safely_says_why_instead_of_unexpected_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    message = "Load 1 was killed while appending to 'runs', which has no _dlt_load_id column"

    def unrepeatable(pipeline: object) -> int:
        raise UnrepeatableJobError(message)

    monkeypatch.setattr("kognitos_elt.session.finish_interrupted_loads", unrepeatable)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOURCES__KOGNITOS__ACCESS_TOKEN", "t")
    monkeypatch.setenv("SOURCES__KOGNITOS__ORGANIZATION_ID", "o")

    code = main(["run", "--pipelines-dir", str(tmp_path / "pipelines"), "--progress", "none", "--no-models"])

    err = capsys.readouterr().err
    assert code == ExitCode.UNEXPECTED
    assert err == f"kognitos-elt: {message}\n"
