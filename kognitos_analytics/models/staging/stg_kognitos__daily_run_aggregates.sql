-- The API's own run counts per workspace (automation_id '*') or automation, time zone and local day.
select
    workspace_id,
    time_zone,
    automation_id,
    date,
    total_runs
from {{ source('kognitos', 'daily_run_aggregates') }}
