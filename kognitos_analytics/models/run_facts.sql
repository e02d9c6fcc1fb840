-- One row per run: its state, when it ended, how long it took and how long it waited for a human.
with state_changes as (
    select
        workspace_id,
        automation_id,
        run_id,
        run_state,
        event_time,
        lead(event_time) over (
            partition by workspace_id, automation_id, run_id order by event_index
        ) as next_change_time
    from {{ source('kognitos', 'run_events') }}
    where event_type = 'run_update'
),

waits as (
    -- A wait lasts until the run's next state change, or until the last load while it still waits.
    select
        workspace_id,
        automation_id,
        run_id,
        sum({{ kognitos_seconds_between('event_time', 'coalesce(next_change_time, clock.as_of)') }})
            as awaiting_guidance_seconds
    from state_changes
    cross join {{ ref('service_clock') }} as clock
    where run_state = 'awaiting_guidance'
    group by workspace_id, automation_id, run_id
),

runs as (
    select
        *,
        state in ('completed', 'failed', 'stopped') as is_terminal
    from {{ source('kognitos', 'runs') }}
)

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
from runs
left join {{ source('kognitos', 'automations') }} as automations
    on runs.workspace_id = automations.workspace_id and runs.automation_id = automations.automation_id
left join {{ source('kognitos', 'workspaces') }} as workspaces
    on runs.workspace_id = workspaces.workspace_id
left join waits
    on runs.workspace_id = waits.workspace_id
    and runs.automation_id = waits.automation_id
    and runs.run_id = waits.run_id
