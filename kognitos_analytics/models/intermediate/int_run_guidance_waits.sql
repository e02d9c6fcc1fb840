-- One row per run whose timeline shows awaiting_guidance: how often and how long it waited for a human.
-- A wait lasts until the run's next state change, or until the last load (service_clock) while it still waits.
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
    from {{ ref('stg_kognitos__run_events') }}
    where event_type = 'run_update'
)

select
    workspace_id,
    automation_id,
    run_id,
    count(*) as waits,
    sum({{ kognitos_seconds_between('event_time', 'coalesce(next_change_time, clock.as_of)') }})
        as awaiting_guidance_seconds
from state_changes
cross join {{ ref('service_clock') }} as clock
where run_state = 'awaiting_guidance'
group by workspace_id, automation_id, run_id
