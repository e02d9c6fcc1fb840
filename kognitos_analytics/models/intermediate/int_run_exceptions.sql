-- One row per run that raised at least one exception (one per awaiting_guidance episode): how many.
select
    workspace_id,
    automation_id,
    run_id,
    count(*) as exceptions
from {{ ref('stg_kognitos__exceptions') }}
group by workspace_id, automation_id, run_id
