-- One row per exception: where it was raised, its state now, who was asked and who resolved it, and how long it took
-- (resolved ones) or has waited so far (the others, at the last load).
-- RESOLVED is terminal, so a resolved exception's update_time is when it was resolved (the reference has no
-- resolve time of its own; docs/design.md, "Exceptions in the models").
select
    exceptions.workspace_id,
    exceptions.exception_id,
    exceptions.automation_id,
    exceptions.run_id,
    exceptions.execution_id,
    workspaces.title as workspace_title,
    automations.display_name as automation_display_name,
    exceptions.state,
    exceptions.exception_group,
    exceptions.assignee,
    exceptions.resolver,
    case
        when exceptions.resolver like 'agents/%' then 'agent'
        when exceptions.resolver like 'users/%' then 'person'
    end as resolved_by,
    exceptions.resolution_guide_entry,
    exceptions.message,
    exceptions.description,
    exceptions.stage,
    exceptions.create_time,
    exceptions.update_time,
    case when exceptions.state = 'resolved' then exceptions.update_time end as resolved_time,
    case when exceptions.state = 'resolved'
        then {{ kognitos_seconds_between('exceptions.create_time', 'exceptions.update_time') }}
    end as time_to_resolve_seconds,
    case when exceptions.state <> 'resolved'
        then {{ kognitos_seconds_between('exceptions.create_time', 'clock.as_of') }}
    end as waiting_seconds
from {{ ref('stg_kognitos__exceptions') }} as exceptions
cross join {{ ref('service_clock') }} as clock
left join {{ ref('stg_kognitos__automations') }} as automations
    on exceptions.workspace_id = automations.workspace_id and exceptions.automation_id = automations.automation_id
left join {{ ref('stg_kognitos__workspaces') }} as workspaces
    on exceptions.workspace_id = workspaces.workspace_id
