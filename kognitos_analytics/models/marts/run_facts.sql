-- One row per run: its state, when it ended, how long it took, and whether and how long it waited for a human.
select
    runs.workspace_id,
    runs.automation_id,
    runs.run_id,
    workspaces.title as workspace_title,
    automations.display_name as automation_display_name,
    runs.state,
    runs.is_terminal,
    runs.create_time,
    case when runs.is_terminal then runs.state_update_time end as end_time,
    case when runs.is_terminal
        then {{ kognitos_seconds_between('runs.create_time', 'runs.state_update_time') }}
    end as duration_seconds,
    coalesce(waits.awaiting_guidance_seconds, 0) as awaiting_guidance_seconds,
    -- A human was asked at least once: an exception was raised, or the timeline or the state says it waited.
    exceptions.run_id is not null or waits.run_id is not null or runs.state = 'awaiting_guidance'
        as needed_guidance,
    runs.state_update_time,
    runs.update_time,
    runs.reason,
    runs.error_id,
    runs.error_description,
    runs.exception_id,
    runs.exception_description,
    runs.invocation_source,
    runs.stage,
    runs.stage_version,
    runs.trigger_id,
    runs.user_id
from {{ ref('stg_kognitos__runs') }} as runs
left join {{ ref('stg_kognitos__automations') }} as automations
    on runs.workspace_id = automations.workspace_id and runs.automation_id = automations.automation_id
left join {{ ref('stg_kognitos__workspaces') }} as workspaces
    on runs.workspace_id = workspaces.workspace_id
left join {{ ref('int_run_guidance_waits') }} as waits
    on runs.workspace_id = waits.workspace_id
    and runs.automation_id = waits.automation_id
    and runs.run_id = waits.run_id
left join {{ ref('int_run_exceptions') }} as exceptions
    on runs.workspace_id = exceptions.workspace_id
    and runs.automation_id = exceptions.automation_id
    and runs.run_id = exceptions.run_id
