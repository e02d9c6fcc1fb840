-- The API's all-time run totals per automation, one snapshot per load day (snapshot_time: the service's clock).
select
    workspace_id,
    automation_id,
    snapshot_date,
    snapshot_time,
    total_runs,
    completed_runs
from {{ source('kognitos', 'automation_run_aggregates') }}
