"""Finishing a load that a kill interrupted, without staging any row twice.

dlt cannot make a load job's commit and the record that it committed atomic: it writes a marker into the
package right after the commit (dlt-hub/dlt#3767), and a process killed in between leaves the job in
`started_jobs/` with no marker. dlt's resume then runs the job again and stages its rows a second time.
dlt's merge deduplicates staged rows for plain delete-insert tables, but not for `insert-only` ones
(run_events) nor for tables that skip it to keep DuckDB's memory low (`schema.UNIQUE_PER_LOAD`), so those
rows would reach the tables twice.

Before dlt resumes, every table with such an uncertain job is therefore staged again from scratch: its staging
table is emptied and all its files go back to `new_jobs/`. The steps are ordered so that a kill between any two
of them leaves an uncertain job behind, and the next run starts the restaging over.
"""

from __future__ import annotations

import logging

import dlt
from dlt.common.destination.client import WithStagingDataset
from dlt.common.storages.load_package import PackageStorage, ParsedLoadJobFileName

logger = logging.getLogger(__name__)

FOLLOWUP_FORMATS = frozenset({"sql", "reference"})
"""Jobs that do not copy files into the staging dataset: merge statements (idempotent: delete-insert and
insert-only merges give the same table when run twice on the same staging rows) and staging-destination
references."""


def finish_interrupted_loads(pipeline: dlt.Pipeline) -> int:
    """Load the packages an interrupted run left, restaging what may be staged already; returns how many."""
    if not pipeline.has_pending_data:
        return 0
    pending = len(pipeline.list_normalized_load_packages()) + len(pipeline.list_extracted_load_packages())
    if pipeline.staging is None:  # with a staging destination (a bucket) the copies are `reference` jobs
        packages = pipeline._get_load_storage().normalized_packages  # noqa: SLF001 - dlt has no public handle
        for load_id in pipeline.list_normalized_load_packages():
            restage_uncertain_tables(pipeline, packages, load_id)
    # dlt's run() with no data finishes the pending packages and extracts nothing.
    pipeline.run()
    return pending


def uncertain_tables(packages: PackageStorage, load_id: str) -> set[str]:
    """Tables with a copy job that started and may have committed: no marker says how it ended."""
    tables = set()
    for path in packages.list_started_jobs(load_id):
        job = ParsedLoadJobFileName.parse(path)
        marker = packages.load_pending_transition(load_id, job.file_name())
        if job.file_format not in FOLLOWUP_FORMATS and marker is None:
            tables.add(job.table_name)
    return tables


def restage_uncertain_tables(pipeline: dlt.Pipeline, packages: PackageStorage, load_id: str) -> list[str]:
    """Empty the staging table of each uncertain table and send all its copy jobs back to `new_jobs/`."""
    uncertain = uncertain_tables(packages, load_id)
    if not uncertain:
        return []
    with pipeline.destination_client(packages.schema_name(load_id)) as client:
        if not isinstance(client, WithStagingDataset):
            return []  # no staging dataset: a retried job rewrites its own output (e.g. the filesystem's file)
        staged = sorted(table for table in uncertain if client.should_load_data_to_staging_dataset(table))
        if not staged:
            return []
        logger.warning("Load %s was killed while staging %s: staging %s again so that no row is staged twice.",
                       load_id, ", ".join(staged), "it" if len(staged) == 1 else "them")
        with client.with_staging_dataset():
            client.sql_client.truncate_tables(*staged)  # type: ignore[attr-defined]
    for table in staged:
        _requeue_copy_jobs(packages, load_id, table)
    return staged


def _requeue_copy_jobs(packages: PackageStorage, load_id: str, table: str) -> None:
    """Send a table's copy jobs back to `new_jobs/`, the uncertain ones last.

    Markers go first, so every started job becomes uncertain; completed jobs move next; started jobs last. Until
    the last move an uncertain job remains, so a kill anywhere here makes the next run restage the table again.
    """
    jobs = [(state, job) for state, job in packages.list_job_with_states_for_table(load_id, table)
            if job.file_format not in FOLLOWUP_FORMATS and state in ("started_jobs", "completed_jobs")]
    for state, job in jobs:
        if state == "started_jobs":
            packages.clear_pending_transition(load_id, job.file_name())
    for state, job in sorted(jobs, key=lambda state_job: state_job[0] == "started_jobs"):
        packages.storage.atomic_rename(packages.get_job_file_path(load_id, state, job.file_name()),
                                       packages.get_job_file_path(load_id, "new_jobs", job.file_name()))
