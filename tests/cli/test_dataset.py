"""dlt's own way to read a load back: `dlt.attach("kognitos_elt").dataset()` (needs a sqlglot dlt 1.31 can drive)."""

from __future__ import annotations

import dlt

from kognitos_elt.cli import main
from kognitos_elt.kognitos import ExitCode
from kognitos_simulator import RunningSimulator

from ..integration.truth import truth_events, truth_runs


def test_the_dataset_of_the_attached_pipeline_holds_every_run_and_event(configured: RunningSimulator) -> None:
    assert main(["run"]) == ExitCode.OK

    dataset = dlt.attach("kognitos_elt").dataset()

    assert dataset["runs"].arrow().num_rows == len(truth_runs(configured.world))
    assert dataset["run_events"].arrow().num_rows == len(truth_events(configured.world))
    counts = dict(dataset.row_counts(table_names=["runs", "run_events"]).fetchall())
    assert counts == {"runs": len(truth_runs(configured.world)), "run_events": len(truth_events(configured.world))}
