-- Each automation at a glance: recent volume and success, speed, backlog, and the API's own all-time totals.
-- Windows end at the last load (service_clock), durations are over runs created in the last 30 days, times to
-- resolve over exceptions resolved in the last 30 days.
with facts as (
    select
        run_facts.*,
        run_facts.create_time > clock.as_of - interval '7 days' as in_last_7_days,
        run_facts.create_time > clock.as_of - interval '30 days' as in_last_30_days
    from {{ ref('run_facts') }} as run_facts
    cross join {{ ref('service_clock') }} as clock
),

per_automation as (
    select
        workspace_id,
        automation_id,
        count(*) as runs_loaded,
        count(*) filter (where state = 'completed') as completed_runs_loaded,
        count(*) filter (where in_last_7_days) as runs_last_7_days,
        {{ kognitos_ratio("count(*) filter (where in_last_7_days and state = 'completed')",
                          "count(*) filter (where in_last_7_days and is_terminal)") }} as success_rate_last_7_days,
        count(*) filter (where in_last_30_days) as runs_last_30_days,
        {{ kognitos_ratio("count(*) filter (where in_last_30_days and state = 'completed')",
                          "count(*) filter (where in_last_30_days and is_terminal)") }} as success_rate_last_30_days,
        percentile_cont(0.5) within group (order by case when in_last_30_days then duration_seconds end)
            as median_duration_seconds,
        percentile_cont(0.95) within group (order by case when in_last_30_days then duration_seconds end)
            as p95_duration_seconds,
        max(create_time) as last_run_time,
        count(*) filter (where not is_terminal) as open_runs,
        count(*) filter (where state = 'awaiting_guidance') as awaiting_guidance_now,
        {{ kognitos_ratio("count(*) filter (where in_last_30_days and state = 'completed' and not needed_guidance)",
                          "count(*) filter (where in_last_30_days and state = 'completed')") }}
            as straight_through_rate_last_30_days
    from facts
    group by workspace_id, automation_id
),

exceptions_per_automation as (
    select
        exceptions.workspace_id,
        exceptions.automation_id,
        count(*) filter (where exceptions.state = 'pending') as exceptions_pending,
        percentile_cont(0.5) within group (order by case
            when exceptions.resolved_time > clock.as_of - interval '30 days' then exceptions.time_to_resolve_seconds
        end) as median_time_to_resolve_seconds
    from {{ ref('exception_facts') }} as exceptions
    cross join {{ ref('service_clock') }} as clock
    group by exceptions.workspace_id, exceptions.automation_id
),

api_totals as (
    select
        workspace_id,
        automation_id,
        total_runs,
        completed_runs,
        snapshot_time,
        row_number() over (partition by workspace_id, automation_id order by snapshot_time desc) as newest_first
    from {{ ref('stg_kognitos__automation_run_aggregates') }}
)

select
    automations.workspace_id,
    automations.automation_id,
    workspaces.title as workspace_title,
    automations.display_name as automation_display_name,
    automations.delete_time is not null as is_deleted,
    coalesce(per_automation.runs_last_7_days, 0) as runs_last_7_days,
    per_automation.success_rate_last_7_days,
    coalesce(per_automation.runs_last_30_days, 0) as runs_last_30_days,
    per_automation.success_rate_last_30_days,
    per_automation.median_duration_seconds,
    per_automation.p95_duration_seconds,
    per_automation.last_run_time,
    coalesce(per_automation.open_runs, 0) as open_runs,
    coalesce(per_automation.awaiting_guidance_now, 0) as awaiting_guidance_now,
    per_automation.straight_through_rate_last_30_days,
    coalesce(exceptions_per_automation.exceptions_pending, 0) as exceptions_pending,
    exceptions_per_automation.median_time_to_resolve_seconds as median_time_to_resolve_seconds_last_30_days,
    coalesce(per_automation.runs_loaded, 0) as runs_loaded,
    coalesce(per_automation.completed_runs_loaded, 0) as completed_runs_loaded,
    api_totals.total_runs as api_total_runs,
    api_totals.completed_runs as api_completed_runs,
    api_totals.snapshot_time as api_totals_time
from {{ ref('stg_kognitos__automations') }} as automations
left join {{ ref('stg_kognitos__workspaces') }} as workspaces
    on automations.workspace_id = workspaces.workspace_id
left join per_automation
    on automations.workspace_id = per_automation.workspace_id
    and automations.automation_id = per_automation.automation_id
left join exceptions_per_automation
    on automations.workspace_id = exceptions_per_automation.workspace_id
    and automations.automation_id = exceptions_per_automation.automation_id
left join api_totals
    on automations.workspace_id = api_totals.workspace_id
    and automations.automation_id = api_totals.automation_id
    and api_totals.newest_first = 1
