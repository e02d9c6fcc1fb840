"""Arrow pages: whole batches only, since execution outputs rely on a run's events sharing one page."""

from __future__ import annotations

from kognitos_elt.kognitos import resources, schema
from kognitos_elt.kognitos.settings import ROWS_PER_PAGE


def _batch(run_id: str, events: int) -> list[dict[str, object]]:
    return [{"run_id": run_id, "automation_id": "a", "workspace_id": "w", "organization_id": "o",
             "event_index": index} for index in range(events)]


def test_a_run_s_events_are_never_split_across_pages() -> None:
    sizes = {"r1": ROWS_PER_PAGE - 1, "r2": 3, "r3": ROWS_PER_PAGE + 7, "r4": 1}
    batches = [_batch(run_id, size) for run_id, size in sizes.items()]

    pages = list(resources._pages(schema.RUN_EVENTS, batches))

    runs_per_page = [sorted(set(page["run_id"].to_pylist())) for page in pages]
    assert runs_per_page == [["r1", "r2"], ["r3"], ["r4"]]
    assert [page.num_rows for page in pages] == [ROWS_PER_PAGE + 2, ROWS_PER_PAGE + 7, 1]
