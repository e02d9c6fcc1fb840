-- Why runs fail: failed runs per automation and error description, with when each was first and last seen.
select
    workspace_id,
    automation_id,
    min(workspace_title) as workspace_title,
    min(automation_display_name) as automation_display_name,
    coalesce(error_description, '(no description)') as error_description,
    min(error_id) as error_id,
    count(*) as failures,
    min(end_time) as first_seen,
    max(end_time) as last_seen
from {{ ref('run_facts') }}
where state = 'failed'
group by workspace_id, automation_id, coalesce(error_description, '(no description)')
