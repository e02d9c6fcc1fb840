-- daily_runs, summed over a workspace's automations (or per automation, for the per-automation series), equals the
-- API's own daily_run_aggregates for each zone and day. Only days that had ended at the last load are compared
-- (today's runs keep arriving between listing runs and asking for counts), and only days after the first loaded
-- run's (a `start_date` can cut that day in two). Workspace totals need every automation loaded.
with api as (
    select workspace_id, time_zone, automation_id, date, total_runs
    from {{ ref('stg_kognitos__daily_run_aggregates') }}
),

ours_per_workspace as (
    select workspace_id, time_zone, date, sum(runs) as runs
    from {{ ref('daily_runs') }}
    group by workspace_id, time_zone, date
),

first_runs as (
    select workspace_id, min(create_time) as first_create_time
    from {{ ref('stg_kognitos__runs') }}
    group by workspace_id
)

select
    api.workspace_id,
    api.time_zone,
    api.automation_id,
    api.date,
    api.total_runs as api_runs,
    coalesce(case when api.automation_id = '*' then workspace_runs.runs else automation_runs.runs end, 0)
        as our_runs
from api
inner join ({{ kognitos_time_zones() }}) as zones
    on api.time_zone = zones.time_zone
inner join first_runs
    on api.workspace_id = first_runs.workspace_id
cross join {{ ref('service_clock') }} as clock
left join ours_per_workspace as workspace_runs
    on api.workspace_id = workspace_runs.workspace_id
    and api.time_zone = workspace_runs.time_zone
    and api.date = workspace_runs.date
left join {{ ref('daily_runs') }} as automation_runs
    on api.workspace_id = automation_runs.workspace_id
    and api.automation_id = automation_runs.automation_id
    and api.time_zone = automation_runs.time_zone
    and api.date = automation_runs.date
where api.date < {{ kognitos_local_date('clock.as_of', 'api.time_zone') }}
    and api.date > {{ kognitos_local_date('first_runs.first_create_time', 'api.time_zone') }}
    and (api.automation_id <> '*' or {{ 'true' if var('kognitos_all_automations') else 'false' }})
    and api.total_runs <> coalesce(
        case when api.automation_id = '*' then workspace_runs.runs else automation_runs.runs end, 0
    )
