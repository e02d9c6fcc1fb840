-- One row per event of a run's timeline (state changes and execution journal entries), as loaded.
select
    workspace_id,
    automation_id,
    run_id,
    event_index,
    event_type,
    journal_type,
    event_time,
    execution_id,
    node_id,
    node_kind,
    run_state,
    stop_reason,
    error_id,
    error_description,
    payload
from {{ source('kognitos', 'run_events') }}
