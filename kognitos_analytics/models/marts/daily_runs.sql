-- Runs per automation and local day of their creation, in every zone of `kognitos_time_zones()`, by current state.
with zones as (
    {{ kognitos_time_zones() }}
)

select
    facts.workspace_id,
    facts.automation_id,
    zones.time_zone,
    {{ kognitos_local_date('facts.create_time', 'zones.time_zone') }} as date,
    count(*) as runs,
    count(*) filter (where facts.state = 'completed') as completed,
    count(*) filter (where facts.state = 'completed' and not facts.needed_guidance) as straight_through,
    count(*) filter (where facts.state = 'failed') as failed,
    count(*) filter (where facts.state = 'stopped') as stopped,
    count(*) filter (where facts.state = 'awaiting_guidance') as awaiting_guidance,
    count(*) filter (where facts.state in ('pending', 'executing', 'stopping')) as open,
    {{ kognitos_ratio("count(*) filter (where facts.state = 'completed')", "count(*) filter (where facts.is_terminal)") }}
        as success_rate,
    percentile_cont(0.5) within group (order by facts.duration_seconds) as median_duration_seconds,
    percentile_cont(0.95) within group (order by facts.duration_seconds) as p95_duration_seconds
from {{ ref('run_facts') }} as facts
cross join zones
group by 1, 2, 3, 4
