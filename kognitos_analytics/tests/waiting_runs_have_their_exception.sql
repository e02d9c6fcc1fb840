-- Every run waiting for a human now has its state's exception among the loaded ones, pending or archived: not
-- missing, not of another run. One resolved after the run was loaded passes: the run moved on between the load's
-- listing of runs and its listing of exceptions.
select
    runs.workspace_id,
    runs.automation_id,
    runs.run_id,
    runs.exception_id,
    exceptions.state as exception_state
from {{ ref('run_facts') }} as runs
left join {{ ref('exception_facts') }} as exceptions
    on runs.workspace_id = exceptions.workspace_id
    and runs.exception_id = exceptions.exception_id
    and runs.automation_id = exceptions.automation_id
    and runs.run_id = exceptions.run_id
where runs.state = 'awaiting_guidance'
    and (
        exceptions.exception_id is null
        or not (
            exceptions.state in ('pending', 'archived')
            or (exceptions.state = 'resolved' and exceptions.resolved_time > runs.update_time)
        )
    )
