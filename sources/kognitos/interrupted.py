"""Finishing a load that a kill interrupted, without loading any row twice.

dlt cannot make a load job's commit and the record that it committed atomic: it writes a marker into the
package right after the commit (dlt-hub/dlt#3767), and a process killed in between leaves the job in
`started_jobs/` with no marker. dlt's resume then runs the job again, and its rows arrive a second time:
- in the staging dataset, for merged tables. dlt's merge deduplicates staged rows for plain delete-insert
  tables, but not for `insert-only` ones (run_events) nor for those that skip it to keep DuckDB's memory low
  (`schema.UNIQUE_PER_LOAD`), so the rows would reach the tables twice;
- in the table itself, for appended ones: dlt's own state table doubles its row, and on PostgreSQL, whose
  state table has a unique row id, the retry fails for good and the package can never finish.

Before dlt resumes, every table with such an uncertain job is therefore loaded again from scratch: the package's
rows are removed (a merged table's staging table is emptied; an appended table loses the rows of this load id)
and all the table's files go back to `new_jobs/`. The steps are ordered so that a kill between any two of them
leaves an uncertain job behind, and the next run starts over.
"""

from __future__ import annotations

import logging

import dlt
from dlt.common.schema.typing import C_DLT_LOAD_ID
from dlt.common.storages.load_package import PackageStorage, ParsedLoadJobFileName
from dlt.destinations.job_client_impl import SqlJobClientBase, SqlJobClientWithStagingDataset

from .errors import KognitosError

logger = logging.getLogger(__name__)

FOLLOWUP_FORMATS = frozenset({"sql", "reference"})
"""Jobs that do not copy a file into a table: merge statements (idempotent: delete-insert and insert-only merges
give the same table when run twice on the same staged rows) and staging-destination references."""


class UnrepeatableJobError(KognitosError):
    """A job that may have committed cannot be undone, so running it again could load its rows twice."""


def finish_interrupted_loads(pipeline: dlt.Pipeline) -> int:
    """Load the packages an interrupted run left, reloading what may be loaded already; returns how many."""
    if not pipeline.has_pending_data:
        return 0
    pending = len(pipeline.list_normalized_load_packages()) + len(pipeline.list_extracted_load_packages())
    if pipeline.staging is None:  # with a staging destination (a bucket) the copies are `reference` jobs
        packages = pipeline._get_load_storage().normalized_packages  # noqa: SLF001 - dlt has no public handle
        for load_id in pipeline.list_normalized_load_packages():
            reload_uncertain_tables(pipeline, packages, load_id)
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


def reload_uncertain_tables(pipeline: dlt.Pipeline, packages: PackageStorage, load_id: str) -> list[str]:
    """Remove what the package may have loaded into each uncertain table and send all its copy jobs back."""
    uncertain = sorted(uncertain_tables(packages, load_id))
    if not uncertain:
        return []
    with pipeline.destination_client(packages.schema_name(load_id)) as client:
        if not isinstance(client, SqlJobClientBase):
            return []  # e.g. the filesystem destination: a job run again rewrites its own file
        logger.warning("Load %s was killed while copying into %s: loading %s again so that no row is loaded "
                       "twice.", load_id, ", ".join(uncertain), "it" if len(uncertain) == 1 else "them")
        staging = client if isinstance(client, SqlJobClientWithStagingDataset) else None
        staged = [table for table in uncertain if staging and staging.should_load_data_to_staging_dataset(table)]
        if staging and staged:
            with staging.with_staging_dataset():
                staging.sql_client.truncate_tables(*staged)
        for table in uncertain:
            if table not in staged:
                _delete_rows_of_load(client, table, load_id)
    for table in uncertain:
        _requeue_copy_jobs(packages, load_id, table)
    return uncertain


def _delete_rows_of_load(client: SqlJobClientBase, table: str, load_id: str) -> None:
    if C_DLT_LOAD_ID not in client.schema.get_table_columns(table):
        raise UnrepeatableJobError(
            f"Load {load_id} was killed while appending to {table!r}, which has no {C_DLT_LOAD_ID} column to tell "
            "its rows apart: running the job again could load them twice. Check the table, then run "
            "`dlt pipeline <name> drop-pending-packages` and load again."
        )
    sql = client.sql_client
    sql.execute_sql(f"DELETE FROM {sql.make_qualified_table_name(table)} "
                    f"WHERE {sql.escape_column_name(C_DLT_LOAD_ID)} = %s", load_id)


def _requeue_copy_jobs(packages: PackageStorage, load_id: str, table: str) -> None:
    """Send a table's copy jobs back to `new_jobs/`, the uncertain ones last.

    Markers go first, so every started job becomes uncertain; completed jobs move next; started jobs last. Until
    the last move an uncertain job remains, so a kill anywhere here makes the next run reload the table again.
    """
    jobs = [(state, job) for state, job in packages.list_job_with_states_for_table(load_id, table)
            if job.file_format not in FOLLOWUP_FORMATS and state in ("started_jobs", "completed_jobs")]
    for state, job in jobs:
        if state == "started_jobs":
            packages.clear_pending_transition(load_id, job.file_name())
    for state, job in sorted(jobs, key=lambda state_job: state_job[0] == "started_jobs"):
        packages.storage.atomic_rename(packages.get_job_file_path(load_id, state, job.file_name()),
                                       packages.get_job_file_path(load_id, "new_jobs", job.file_name()))
