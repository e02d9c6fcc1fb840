"""`kognitos-elt status` reads the DuckDB file `run` loaded, whatever the pipeline's name."""

from __future__ import annotations

import pytest

from kognitos_elt.cli import main
from kognitos_elt.kognitos import ExitCode
from kognitos_simulator import RunningSimulator

from ..integration.truth import truth_events, truth_runs


def test_status_of_a_named_pipeline_reads_the_file_its_run_loaded(
    configured: RunningSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """dlt's attach() would look for mine.duckdb; `run --pipeline-name mine` loads kognitos_elt.duckdb."""
    assert main(["run", "--pipeline-name", "mine", "--no-models"]) == ExitCode.OK
    capsys.readouterr()

    assert main(["status", "--pipeline-name", "mine"]) == ExitCode.OK

    out = capsys.readouterr().out
    assert "Pipeline 'mine': dataset 'kognitos' on duckdb" in out
    assert f"  {'runs':<28} {len(truth_runs(configured.world)):>12,}" in out
    assert f"  {'run_events':<28} {len(truth_events(configured.world)):>12,}" in out
