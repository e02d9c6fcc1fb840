-- One row per exception raised when a run stopped to await guidance, as loaded.
select
    workspace_id,
    exception_id,
    automation_id,
    run_id,
    execution_id,
    state,
    message,
    description,
    exception_group,
    assignee,
    resolver,
    resolved_by_agent,
    resolution_guide_entry,
    stage,
    create_time,
    update_time
from {{ source('kognitos', 'exceptions') }}
