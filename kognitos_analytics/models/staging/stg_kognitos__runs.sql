-- One row per run, as loaded, with whether its state is terminal.
select
    workspace_id,
    automation_id,
    run_id,
    state,
    state in ('completed', 'failed', 'stopped') as is_terminal,
    create_time,
    update_time,
    state_update_time,
    reason,
    error_id,
    error_description,
    exception_id,
    exception_description,
    invocation_source,
    stage,
    stage_version,
    trigger_id,
    user_id
from {{ source('kognitos', 'runs') }}
